"""What every predictor shares: checked training data, target scaling, seeds, one-thread torch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Self

import numpy as np

from predictors.encodings import Encoding, make_encoding
from suite.benchmarks.base import Arch, SearchSpace
from suite.errors import NasreproError


def seed_int(seed_sequence: np.random.SeedSequence) -> int:
    """A 32-bit seed for libraries that take an integer (xgboost, scikit-learn, torch)."""
    return int(seed_sequence.generate_state(1, dtype=np.uint32)[0])


def check_training(archs: Sequence[Arch], y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or len(y) != len(archs):
        raise NasreproError(f"fit needs one target per cell: {len(archs)} cells, targets of shape {y.shape}")
    if len(y) < 2:
        raise NasreproError(f"fit needs at least 2 cells, got {len(y)}")
    if not np.isfinite(y).all():
        raise NasreproError("fit targets contain NaN or infinite values")
    return y


class TargetScaler:
    """Standardizes targets so one set of hyperparameters suits accuracies in % and in fractions."""

    def __init__(self, y: np.ndarray) -> None:
        self.mean = float(y.mean())
        std = float(y.std())
        self.std = std if std > 0 else 1.0

    def scale(self, y: np.ndarray) -> np.ndarray:
        return (y - self.mean) / self.std

    def unscale(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) * self.std + self.mean


class EncodedPredictor:
    """Base of the predictors that learn on an encoding's vectors.

    Subclasses implement `_fit(X, z)` on standardized targets and `_predict(X)` (and `_predict_dist`
    where the model has an uncertainty), all in standardized units.
    """

    def __init__(self, encoding: str, space: SearchSpace[Any]) -> None:
        self.encoding: Encoding = make_encoding(encoding, space)
        self._scaler: TargetScaler | None = None

    def fit(self, archs: Sequence[Arch], y: np.ndarray) -> Self:
        y = check_training(archs, y)
        self._scaler = TargetScaler(y)
        self._fit(self.encoding.encode(archs), self._scaler.scale(y))
        return self

    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        return self._fitted().unscale(self._predict(self.encoding.encode(archs)))

    def _fitted(self) -> TargetScaler:
        if self._scaler is None:
            raise NasreproError(f"{type(self).__name__}: predict before fit")
        return self._scaler

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class UncertainEncodedPredictor(EncodedPredictor):
    def predict_dist(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        scaler = self._fitted()
        mean, std = self._predict_dist(self.encoding.encode(archs))
        return scaler.unscale(mean), np.asarray(std, dtype=np.float64) * scaler.std

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._predict_dist(X)[0]

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def check_encoding(name: str) -> None:
    from predictors.encodings import ENCODINGS

    if name not in ENCODINGS:
        raise ValueError(f"encoding must be one of {sorted(ENCODINGS)}, not {name!r}")


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Train and predict on one thread: bit-identical results, and no oversubscription when the
    runner puts one run on each core. Restores the caller's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fused_adam_step(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, steps: list, *,
                    lr: float, betas: tuple[float, float], eps: float) -> None:
    """One update by the kernel `torch.optim.Adam(fused=True).step()` runs (torch/optim/adam.py
    `_fused_adam`), without the optimiser's per-call Python bookkeeping: `steps` are float32 scalars
    the caller counts, as torch's Adam keeps them. The kernel is private torch API, so it is called from
    here only; tests/test_ganas.py checks it against torch.optim.Adam bit for bit, so a torch whose
    kernel changes fails there."""
    import torch

    torch._fused_adam_(
        params, grads, exp_avgs, exp_avg_sqs, [], steps,
        amsgrad=False, lr=lr, beta1=betas[0], beta2=betas[1], weight_decay=0.0, eps=eps, maximize=False,
    )


def torch_generator(seed_sequence: np.random.SeedSequence):
    import torch

    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed_sequence.generate_state(1, dtype=np.uint64)[0]))
    return gen
