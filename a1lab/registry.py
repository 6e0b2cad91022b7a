"""The model registry: models/<name>/<version>/ with safe files and metadata.json.

A registered model is an estimator (its own safe format: XGBoost JSON, a torch
state_dict, or JSON), an optional calibrator (JSON) and metadata: version,
data hash, params, feature list, training seasons, metrics, library versions,
a hash of the a1lab source, and (unless registered reproducibly, as ``dvc repro``
does) creation time and git commit. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.calibration import Identity, load_calibrator, save_calibrator
from a1lab.matrix import FeatureMatrix
from a1lab.models import estimator_arguments, estimator_class, estimator_classes  # noqa: F401 (the registry's API)

LIBRARIES = ("a1lab", "numpy", "pandas", "scikit-learn", "xgboost", "torch", "pytorch-lightning", "shap")


class FeatureMismatchError(ValueError):
    """The data handed to a model lacks features it was trained on (or orders them differently)."""


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's values (row order and columns included)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()


def library_versions() -> dict:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = importlib_metadata.version(lib)
        except importlib_metadata.PackageNotFoundError:
            out[lib] = None
    return out


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def source_hash() -> str:
    """SHA-256 of the a1lab package's files (paths and bytes, in path order): the code a model was made with,
    the same in every clone of a commit and unchanged by committing the pipeline's outputs."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def provenance(reproducible: bool = False) -> dict:
    """What made a registered model: library versions and :func:`source_hash`; unless ``reproducible``, also the
    creation time and git commit, which differ between two runs of the same inputs (and the commit of a clone
    is never the one its pipeline ran at), so a reproducible registration, as ``dvc repro``'s, leaves them out."""
    out = {"libraries": library_versions(), "source_hash": source_hash()}
    if not reproducible:
        out.update(created=datetime.now(UTC).isoformat(timespec="seconds"), git_commit=git_commit())
    return out


@dataclass
class RegisteredModel:
    """A loaded model: estimator, calibrator and metadata; refuses mismatched features."""

    estimator: object
    calibrator: object
    metadata: dict

    @property
    def features(self) -> list[str]:
        return list(self.metadata["features"])

    def check_features(self, frame: pd.DataFrame) -> None:
        """Raise FeatureMismatchError if the frame lacks any of the model's features."""
        missing = [f for f in self.features if f not in frame]
        if missing:
            raise FeatureMismatchError(
                f"model {self.metadata['name']} {self.metadata['version']} needs {len(self.features)} features; "
                f"the data lacks {len(missing)}: {missing[:8]}. Rebuild features with the same feature config.")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities (home, draw, away; a two-way model's draw is 0) for a feature frame's rows."""
        from a1lab.outcomes import expand

        self.check_features(frame)
        return expand(self.calibrator.transform(self.estimator.predict_proba(frame)), self.estimator.classes_)

    def proba_and_contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` and the estimator's exact SHAP values (``contributions``) of the same rows."""
        from a1lab.models.base import proba_and_contributions
        from a1lab.outcomes import expand

        self.check_features(frame)
        raw, contributions = proba_and_contributions(self.estimator, frame)
        return expand(self.calibrator.transform(raw), self.estimator.classes_), contributions


def register(estimator, name: str, root: str | Path = "models", calibrator=None, reproducible: bool = False,
             **meta) -> Path:
    """Save a fitted estimator as the next version of ``name``; return its folder.

    Keyword args go into metadata.json (e.g. features, params, training_seasons,
    metrics, data_hash). ``reproducible``: the same inputs give the same bytes (see :func:`provenance`).
    """
    base = Path(root) / name
    existing = [int(p.name[1:]) for p in base.glob("v*") if p.name[1:].isdigit()] if base.is_dir() else []
    version = f"v{max(existing, default=0) + 1}"
    folder = base / version
    estimator.save(folder)
    save_calibrator(calibrator or Identity(), folder / "calibration.json")
    features = meta.pop("features", getattr(estimator, "features_", None))
    info = {"name": name, "version": version, "estimator": type(estimator).__name__, "features": list(features or []),
            "offset": list(getattr(estimator, "offset", None) or []),  # market columns it reads beside its features
            **provenance(reproducible), **meta}
    (folder / "metadata.json").write_text(json.dumps(info, indent=2, default=_json_default) + "\n")
    return folder


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in metadata.json")


def versions(name: str, root: str | Path = "models") -> list[str]:
    """Registered versions of a model, oldest first."""
    base = Path(root) / name
    found = [p.name for p in base.glob("v*") if (p / "metadata.json").is_file()] if base.is_dir() else []
    return sorted(found, key=lambda v: int(v[1:]))


ENSEMBLE = "Ensemble"  # metadata.json's ``estimator`` of a registered ensemble


@dataclass
class RegisteredEnsemble:
    """A fitted ensemble of registered models (and the market): the same interface as :class:`RegisteredModel`.

    ``estimator`` is the first member with exact tree SHAP that the combiner needs (the live loop's reasons are
    that member's); members it does not need (``needed_members``: a weight below 1e-15, a selection's unchosen
    ones) are not evaluated. ``features`` are every member's columns, the market's quote included.
    """

    combiner: object
    members: dict
    metadata: dict
    calibrator: object = field(default_factory=Identity)

    @property
    def features(self) -> list[str]:
        return list(self.metadata["features"])

    @property
    def estimator(self):
        needed = self.combiner.needed_members()
        return next((m.estimator for name, m in self.members.items()
                     if name in needed and hasattr(getattr(m, "estimator", None), "contributions")), None)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The ensemble's probabilities (home, draw, away) from its members' on the rows of a feature frame."""
        return self._predict(frame, explain=False)[0]

    def proba_and_contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` and the exact SHAP values of ``estimator``'s member, from one pass over it."""
        return self._predict(frame, explain=True)

    def _predict(self, frame: pd.DataFrame, explain: bool) -> tuple[np.ndarray, np.ndarray | None]:
        from a1lab.outcomes import OUTCOMES, expand

        wide, contributions, explainer = {}, None, self.estimator if explain else None
        needed = self.combiner.needed_members()
        for name, member in self.members.items():
            if name not in needed:  # moves no probability by more than 1e-15: not evaluated
                p = np.zeros((len(frame), len(OUTCOMES)))
            elif explainer is not None and getattr(member, "estimator", None) is explainer:
                p, contributions = member.proba_and_contributions(frame)
            else:
                p = member.predict_proba(frame)
            p = p if p.shape[1] == len(OUTCOMES) else expand(p, member.classes_)
            wide.update({f"{name}_p_{o}": p[:, k] for k, o in enumerate(OUTCOMES)})
        return self.combiner.predict_proba(FeatureMatrix.from_columns(wide)), contributions


def register_ensemble(combiner, kind: str, root: str | Path = "models", name: str = "ensemble",
                      market: dict | None = None, reproducible: bool = False, **meta) -> Path:
    """Save a fitted ensemble (``a1lab.models.ensemble``) as the next version of ``name``: its kind, settings and
    fitted state, and the registered version of each member (their latest now); ``market`` holds the ``market``
    member's ``timing``, ``book`` and ``classes``. JSON only."""
    from a1lab.models.ensemble import ensemble_state

    members = {m: None if m == "market" else (versions(m, root) or [None])[-1] for m in combiner.members}
    if missing := [m for m, v in members.items() if m != "market" and v is None]:
        raise FileNotFoundError(f"ensemble members {missing} are not registered under {root}")
    if "market" in members and market is None:
        raise ValueError("the ensemble has a market member: give its timing, book and classes (market=...)")
    features = []
    for m, v in members.items():
        if v is not None:  # from metadata.json: loading the members would import their libraries (torch: ~3 s)
            meta_m = json.loads((Path(root) / m / v / "metadata.json").read_text())
            if "offset" not in meta_m:  # registered before the offset was recorded
                meta_m["offset"] = list(getattr(load(m, v, root).estimator, "offset", None) or [])
            features += meta_m["features"] + meta_m["offset"]
    if market is not None:
        from a1lab.columns import market_columns

        features += list(market_columns(market["book"], market["timing"]))
    base = Path(root) / name
    folder = base / f"v{max([int(v[1:]) for v in versions(name, root)], default=0) + 1}"
    folder.mkdir(parents=True)
    (folder / "ensemble.json").write_text(json.dumps({**ensemble_state(kind, combiner), "versions": members,
                                                      "market": market}, indent=2) + "\n")
    info = {"name": name, "version": folder.name, "estimator": ENSEMBLE, "kind": kind, "members": members,
            "features": list(dict.fromkeys(features)), **provenance(reproducible), **meta}
    (folder / "metadata.json").write_text(json.dumps(info, indent=2, default=_json_default) + "\n")
    return folder


def _load_ensemble(folder: Path, meta: dict, root: str | Path) -> RegisteredEnsemble:
    from a1lab.models.ensemble import ensemble_from_state
    from a1lab.models.market import MarketModel

    data = json.loads((folder / "ensemble.json").read_text())
    members = {}
    for m, v in data["versions"].items():
        if v is None:
            market = MarketModel(data["market"]["timing"], book=data["market"]["book"])
            market.classes_ = np.array(data["market"]["classes"])
            members[m] = market
        else:
            members[m] = load(m, v, root)
    return RegisteredEnsemble(ensemble_from_state(data), members, meta)


def load(name: str, version: str = "latest", root: str | Path = "models") -> RegisteredModel | RegisteredEnsemble:
    """Load a registered model (or ensemble) by name and version (or the latest)."""
    known = versions(name, root)
    if not known:
        raise FileNotFoundError(f"no registered model {name!r} under {Path(root).resolve()} (`dvc repro` trains and "
                                "registers the models of params.yaml)")
    version = known[-1] if version == "latest" else version
    if version not in known:
        raise FileNotFoundError(f"model {name!r} has no version {version!r}; versions: {known}")
    folder = Path(root) / name / version
    meta = json.loads((folder / "metadata.json").read_text())
    if meta["estimator"] == ENSEMBLE:
        return _load_ensemble(folder, meta, root)
    try:
        cls = estimator_class(meta["estimator"])
    except KeyError as err:
        raise FileNotFoundError(f"model {name!r} {version} is a {meta['estimator']}, which this a1lab does not "
                                f"define; known: {sorted(estimator_classes())}") from err
    estimator = cls.load(folder)
    return RegisteredModel(estimator, load_calibrator(folder / "calibration.json"), meta)
