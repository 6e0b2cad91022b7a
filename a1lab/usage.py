"""The error of a command used wrongly, shared by ``a1lab`` and ``a1lab live`` (a module of its own: ``python -m
a1lab.cli`` runs the command line as ``__main__``, where a class of its own would be another class)."""


class UsageError(ValueError):
    """A command used wrongly: a flag without its partner, a value out of range, an address that is no URL
    (one line, exit 2)."""
