"""Estimators with scikit-learn's contract; predict_proba columns are the classes seen in fit (outcome
codes, :mod:`a1lab.outcomes`).

A model registers itself by living in its own module here: :func:`estimator_classes` finds it. Its class
declares what the rest of the lab needs to know as literals (:func:`declared`, read without importing torch or
xgboost): ``label`` (its name in tables), ``requires`` (the distributions it imports) and ``search_space``
(what the ``tune`` stage searches). Adding a model is that module and its ``models:`` entry in params.yaml.
"""

import functools

_ESTIMATOR_METHODS = ("fit", "predict_proba", "save", "load", "get_test_params")


def _model_modules() -> list[str]:
    import pkgutil

    return [info.name for info in pkgutil.iter_modules(__path__)]


def _is_estimator(cls: type, module: str) -> bool:
    return cls.__module__ == module and all(callable(getattr(cls, m, None)) for m in _ESTIMATOR_METHODS)


def estimator_classes() -> dict[str, type]:
    """Every model a module of ``a1lab.models`` defines that the registry can store, by class name.

    A model registers itself by living in its own module there with ``fit``, ``predict_proba``, ``save``,
    ``load`` and ``get_test_params`` (small settings the tests fit it with): nothing lists models by hand.
    This imports every model module (torch, xgboost, lightgbm); :func:`estimator_class` imports one.
    """
    import importlib
    import inspect

    found = {}
    for name in _model_modules():
        module = importlib.import_module(f"a1lab.models.{name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if _is_estimator(cls, module.__name__):
                found[cls_name] = cls
    return found


@functools.cache
def _module_tree(module: str):
    """The parsed source of ``a1lab.models.<module>`` (once per process: params checks ask for every model)."""
    import ast
    from pathlib import Path

    return ast.parse((Path(__path__[0]) / f"{module}.py").read_text())


def _defining_module(name: str):
    """The ``a1lab.models`` module defining class ``name`` and its AST node, found without importing."""
    import ast

    for module in _model_modules():
        for node in _module_tree(module).body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return f"a1lab.models.{module}", node
    return None, None


def defining_module(name: str) -> str | None:
    """The ``a1lab.models`` module that defines model class ``name`` (read from the sources), or None."""
    return _defining_module(name)[0]


def declared(name: str, attribute: str, default=None):
    """Class attribute ``attribute`` of model ``name`` as written in its class body (a literal), read from the
    source: ``default`` where the class does not set it.

    Raises:
        KeyError: as :func:`estimator_class`.
    """
    import ast

    _, node = _defining_module(name)
    if node is None:
        raise KeyError(f"no model {name!r} in a1lab.models; known: {sorted(estimator_classes())}")
    for statement in node.body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == attribute):
            return ast.literal_eval(statement.value)
    return default


def hyperparameters(entry: dict) -> dict:
    """A params.yaml ``models`` entry's hyper-parameters: the entry without ``estimator``, ``module`` and
    ``member``."""
    return {k: v for k, v in entry.items() if k not in ("estimator", "module", "member")}


def estimator_class(name: str) -> type:
    """The model class ``name`` of :func:`estimator_classes`, importing only the module that defines it.

    Raises:
        KeyError: no module of ``a1lab.models`` defines such a model (the message lists those that do).
    """
    import importlib

    module, _ = _defining_module(name)
    if module is not None:
        cls = getattr(importlib.import_module(module), name)
        if _is_estimator(cls, module):
            return cls
    raise KeyError(f"no model {name!r} in a1lab.models; known: {sorted(estimator_classes())}")


def estimator_arguments(name: str) -> list[str]:
    """The constructor arguments of model ``name``, read from its source (nothing is imported when the
    class defines ``__init__`` itself, so checking params does not load torch).

    Raises:
        KeyError: as :func:`estimator_class`.
    """
    import ast
    import inspect

    module, node = _defining_module(name)
    init = next((n for n in (node.body if node else []) if isinstance(n, ast.FunctionDef) and n.name == "__init__"),
                None)
    if init is None:  # inherited or not found: ask the class itself
        return [p for p in inspect.signature(estimator_class(name)).parameters]
    return [a.arg for a in init.args.args[1:] + init.args.kwonlyargs]
