"""A PyTorch-Lightning MLP over the features, wrapped as a scikit-learn estimator.

Seeded and deterministic; CPU unless a GPU is present (``accelerator="auto"``).
Like the tree model it can start from the market's log-probabilities (``offset``). One training run of a
network is not a measurement (a change in the last bits moves its test score), so ``seeds`` networks can be
trained and their probabilities averaged; :meth:`LightningMLP.predict_proba_each` gives each one's.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from a1lab.matrix import take_columns
from a1lab.models.base import (
    as_frame,
    encode_labels,
    feature_columns,
    nan_tags,
    offset_logits,
    soft_targets,
)


def _quiet_lightning() -> None:
    """Lightning's GPU/tip INFO lines are noise in notebooks and CI logs."""
    for name in ("pytorch_lightning", "lightning.pytorch", "pytorch_lightning.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _network(n_in: int, hidden: tuple[int, ...], dropout: float, n_out: int) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for width in hidden:
        layers += [torch.nn.Linear(n_in, width), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
        n_in = width
    layers.append(torch.nn.Linear(n_in, n_out))
    return torch.nn.Sequential(*layers)


class MLPModule(pl.LightningModule):
    """The network plus the market offset added to its logits; cross-entropy, AdamW."""

    def __init__(self, net: torch.nn.Module, lr: float, weight_decay: float):
        super().__init__()
        self.net, self.lr, self.weight_decay = net, lr, weight_decay

    def forward(self, x, offset):
        return self.net(x) + offset

    def _loss(self, batch):
        x, offset, y = batch
        return torch.nn.functional.cross_entropy(self(x, offset), y)

    def training_step(self, batch, _):
        return self._loss(batch)

    def validation_step(self, batch, _):
        self.log("val_loss", self._loss(batch), prog_bar=False)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class BestWeights(pl.Callback):
    """Keeps a copy of the weights of the epoch with the lowest validation loss."""

    def __init__(self):
        self.state, self.loss = None, float("inf")

    def on_validation_end(self, trainer, module):
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None and float(loss) < self.loss and not trainer.sanity_checking:
            self.loss = float(loss)
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}


def _loader(data, batch_size: int, generator=None, whole_batches: bool = True):
    """Batches of ``data``, shuffled by ``generator`` when given (else in order).

    ``whole_batches`` takes each batch with one index of the tensors rather than row by row and stacked
    (half of a fit's time went there): the same batches, the same bits, as the plain DataLoader's. The
    DataLoader draws from ``generator`` as before (its base seed, then the permutation). Data-parallel runs
    keep the plain loader, whose sampler Lightning replaces with a distributed one.
    """
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    if not whole_batches:
        return DataLoader(data, batch_size=batch_size, shuffle=generator is not None, generator=generator)
    order = SequentialSampler(data) if generator is None else RandomSampler(data, generator=generator)
    return DataLoader(data, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None,
                      generator=generator)


class LightningMLP(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained with Lightning and early stopping.

    Args:
        features: input columns (default: every column of X but ``offset``).
        offset: three probability columns whose logs are added to the output logits.
        hidden: widths of the hidden layers.
        dropout, lr, weight_decay: regularisation and AdamW settings.
        max_epochs, batch_size, patience: training length and early stopping.
        seed: seeds torch, numpy and Python for an identical run.
        seeds: networks trained (seeds ``seed``, ``seed + 1``, ...), each with its own early stopping; the
            forecast is the mean of their probabilities.
        accelerator: ``"auto"`` takes a GPU when present, else the CPU.
        close: the reference's de-vigged closing probability columns, a training target beside the
            result (never an input; :func:`a1lab.models.base.soft_targets`): the loss is the cross-entropy
            with the blended target.
        close_weight: the close's share of the target (0: results only, 1: the close only).
        processes: above 1, data-parallel training on the CPU with Lightning's DDP (``ddp_spawn``, gloo):
            each process trains on its share of every epoch and the gradients are averaged. Close to, not
            equal to, one process (other batches, other order); the weights are the last epoch's (the
            best-epoch copy lives in the spawned processes).
    """

    label = "Lightning MLP"  # how tables and pages name it
    requires = ("torch", "pytorch-lightning")  # the distributions it imports (pyproject.toml dependencies)
    search_space = {
        "lr": {"low": 0.0001, "high": 0.01, "log": True},
        "weight_decay": {"low": 0.00001, "high": 0.01, "log": True},
        "dropout": {"low": 0.0, "high": 0.5},
    }  # what `tune` searches (params.yaml tune.space.<name> replaces a range)

    def __init__(self, features=None, offset=None, hidden=(64, 32), dropout=0.2, lr=1e-3, weight_decay=1e-3,
                 max_epochs=40, batch_size=256, patience=5, seed=0, seeds=1, accelerator="auto", processes=1,
                 close=None, close_weight=0.0):
        self.features = features
        self.offset = offset
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed
        self.seeds = seeds
        self.accelerator = accelerator
        self.processes = processes
        self.close = close
        self.close_weight = close_weight

    def _tensors(self, X, codes=None, dtype=torch.float32):
        X = as_frame(X, self)
        x = take_columns(X, self.features_)
        x = np.where(np.isnan(x), self.median_, x)
        x = (x - self.mean_) / self.scale_
        off = (offset_logits(X, self.offset, self.prior_, self.classes_) if self.offset
               else np.zeros((len(X), len(self.classes_))))
        out = [torch.tensor(x, dtype=dtype), torch.tensor(off, dtype=dtype)]
        if codes is not None:  # class codes, or soft targets (one probability row per match)
            out.append(torch.tensor(codes, dtype=torch.long if codes.ndim == 1 else dtype))
        return out

    def __sklearn_tags__(self):
        return nan_tags(super().__sklearn_tags__())

    @classmethod
    def get_test_params(cls) -> dict:
        """Settings small enough for the tests that every registered model goes through."""
        return {"max_epochs": 2, "hidden": (16,)}

    def fit(self, X, y, eval_set=None):
        """Fit; ``eval_set=(X_val, y_val)`` enables early stopping and best-epoch weights."""
        from torch.utils.data import TensorDataset

        _quiet_lightning()
        X = as_frame(X)
        self.classes_, codes = encode_labels(y, X)
        self.features_ = feature_columns(X, self.features, self.offset, self.close)
        self.n_features_in_ = len(self.features_)
        raw = X[self.features_].to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.median_ = np.nan_to_num(np.nanmedian(raw, axis=0))
        filled = np.where(np.isnan(raw), self.median_, raw)
        self.mean_ = filled.mean(axis=0)
        std = filled.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        self.prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(codes)
        if self.seeds < 1:
            raise ValueError(f"seeds must be 1 or more, not {self.seeds}")
        target = soft_targets(X, codes, self.classes_, self.close, self.close_weight)
        data = TensorDataset(*self._tensors(X, codes if target is None else target))
        val = None
        if eval_set is not None:
            Xv, yv = eval_set
            val = TensorDataset(*self._tensors(Xv, np.searchsorted(self.classes_, np.asarray(yv))))
        self.modules_, epochs = [], []
        for k in range(self.seeds):
            module, epoch = self._fit_one(self.seed + k, data, val)
            self.modules_.append(module)
            epochs.append(epoch)
        self.epochs_ = None if None in epochs else int(np.mean(epochs))
        return self

    def _fit_one(self, seed: int, data, val) -> tuple[MLPModule, int | None]:
        """One network from ``seed``: its best epoch's weights, in float64 for prediction."""
        pl.seed_everything(seed, workers=True, verbose=False)
        module = MLPModule(_network(len(self.features_), tuple(self.hidden), self.dropout, len(self.classes_)),
                           self.lr, self.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        train = _loader(data, self.batch_size, generator, whole_batches=self.processes == 1)
        callbacks, best = [], BestWeights()
        if val is not None:
            val = _loader(val, 4096, whole_batches=self.processes == 1)
            callbacks = [pl.callbacks.EarlyStopping("val_loss", patience=self.patience), best]
        parallel = {"accelerator": "cpu", "devices": self.processes, "strategy": "ddp_spawn"} \
            if self.processes > 1 else {"accelerator": self.accelerator, "devices": 1}
        trainer = pl.Trainer(max_epochs=self.max_epochs, **parallel,
                             deterministic=True, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
        threads, sharing = torch.get_num_threads(), torch.multiprocessing.get_sharing_strategy()
        torch.set_num_threads(1)  # with two threads a CPU run's float sums could differ from run to run
        if self.processes > 1:  # the spawned processes get the data through files, not descriptors
            torch.multiprocessing.set_sharing_strategy("file_system")
        try:
            with warnings.catch_warnings():
                for message in (".*LeafSpec.*", ".*does not have many workers.*", ".*no `val_dataloader`.*"):
                    warnings.filterwarnings("ignore", message=message)
                trainer.fit(module, train, val)
        finally:
            torch.set_num_threads(threads)
            torch.multiprocessing.set_sharing_strategy(sharing)
        if best.state is not None:
            module.load_state_dict(best.state)
        module.to("cpu").double().eval()  # predict in float64: row results independent of batch size
        return module, int(trainer.current_epoch) if self.processes == 1 else None  # not known outside the spawn

    def predict_proba_each(self, X) -> np.ndarray:
        """Each network's outcome probabilities, shape (seeds, rows, classes)."""
        check_is_fitted(self, "modules_")
        x, off = self._tensors(X, dtype=torch.float64)
        with torch.no_grad():
            return np.stack([torch.softmax(m(x, off), dim=1).numpy() for m in self.modules_])

    def predict_proba(self, X) -> np.ndarray:
        """Outcome probabilities, columns in ``classes_`` order: the mean of the networks'."""
        return self.predict_proba_each(X).mean(axis=0)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    @property
    def iterations_(self) -> int:
        """Epochs trained before early stopping (the networks' mean)."""
        return self.epochs_

    def save(self, folder: Path) -> None:
        """state_dict (tensors only) plus the wrapper's fitted arrays as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        for k, module in enumerate(self.modules_):  # model.pt, model_1.pt, ...: one file per network
            torch.save(module.net.state_dict(), folder / f"model{f'_{k}' if k else ''}.pt")
        state = {"params": {**self.get_params(), "hidden": list(self.hidden),
                            "offset": list(self.offset) if self.offset else None,
                            "features": list(self.features) if self.features is not None else None},
                 "classes": self.classes_.tolist(), "features": self.features_, "median": self.median_.tolist(),
                 "mean": self.mean_.tolist(), "scale": self.scale_.tolist(), "prior": self.prior_.tolist(),
                 "epochs": self.epochs_}
        (folder / "estimator.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, folder: Path) -> LightningMLP:
        """Rebuild from :meth:`save`; weights are read with ``weights_only=True``."""
        s = json.loads((folder / "estimator.json").read_text())
        model = cls(**s["params"])
        model.classes_, model.features_ = np.array(s["classes"]), s["features"]
        model.n_features_in_ = len(model.features_)
        for key in ("median", "mean", "scale", "prior"):
            setattr(model, f"{key}_", np.array(s[key]))
        model.epochs_ = s["epochs"]
        model.modules_ = []
        for k in range(model.seeds):
            net = _network(len(model.features_), tuple(model.hidden), model.dropout, len(model.classes_))
            net.load_state_dict(torch.load(folder / f"model{f'_{k}' if k else ''}.pt", weights_only=True))
            model.modules_.append(MLPModule(net, model.lr, model.weight_decay).double().eval())
        return model
