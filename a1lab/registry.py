"""The model registry: models/<name>/<version>/ with safe files and metadata.json.

A registered model is an estimator (its own safe format: XGBoost JSON, a torch
state_dict, or JSON), an optional calibrator (JSON) and metadata: version,
creation time, data hash, params, feature list, training seasons, metrics,
library versions and git commit. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.calibration import Identity, load_calibrator, save_calibrator
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
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise FeatureMismatchError(
                f"model {self.metadata['name']} {self.metadata['version']} needs {len(self.features)} features; "
                f"the data lacks {len(missing)}: {missing[:8]}. Rebuild features with the same feature config.")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities (home, draw, away; a two-way model's draw is 0) for a feature frame's rows."""
        from a1lab.models import expand

        self.check_features(frame)
        return expand(self.calibrator.transform(self.estimator.predict_proba(frame)), self.estimator.classes_)


def register(estimator, name: str, root: str | Path = "models", calibrator=None, **meta) -> Path:
    """Save a fitted estimator as the next version of ``name``; return its folder.

    Keyword args go into metadata.json (e.g. features, params, training_seasons,
    metrics, data_hash).
    """
    base = Path(root) / name
    existing = [int(p.name[1:]) for p in base.glob("v*") if p.name[1:].isdigit()] if base.is_dir() else []
    version = f"v{max(existing, default=0) + 1}"
    folder = base / version
    estimator.save(folder)
    save_calibrator(calibrator or Identity(), folder / "calibration.json")
    features = meta.pop("features", getattr(estimator, "features_", None))
    info = {"name": name, "version": version, "estimator": type(estimator).__name__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"), "features": list(features or []),
            "libraries": library_versions(), "git_commit": git_commit(), **meta}
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


def load(name: str, version: str = "latest", root: str | Path = "models") -> RegisteredModel:
    """Load a registered model by name and version (or the latest)."""
    known = versions(name, root)
    if not known:
        raise FileNotFoundError(f"no registered model {name!r} under {Path(root).resolve()} (`dvc repro` trains and "
                                "registers the models of params.yaml)")
    version = known[-1] if version == "latest" else version
    if version not in known:
        raise FileNotFoundError(f"model {name!r} has no version {version!r}; versions: {known}")
    folder = Path(root) / name / version
    meta = json.loads((folder / "metadata.json").read_text())
    try:
        cls = estimator_class(meta["estimator"])
    except KeyError as err:
        raise FileNotFoundError(f"model {name!r} {version} is a {meta['estimator']}, which this a1lab does not "
                                f"define; known: {sorted(estimator_classes())}") from err
    estimator = cls.load(folder)
    return RegisteredModel(estimator, load_calibrator(folder / "calibration.json"), meta)
