"""What every predictor shares: checked training data, target scaling, seeds, one-thread torch."""

from __future__ import annotations

import contextlib
import functools
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
    """One update of `torch.optim.Adam(fused=True).step()` on flat state: `steps` are the float32 step
    counts after this step, which the caller keeps (as torch's Adam keeps them), and `grads` the gradients.

    Where the installed torch's private kernel (`torch._fused_adam_`, what torch/optim/adam.py `_fused_adam`
    calls) exists and takes the same steps as the public optimiser (checked once per process on a probe,
    `_kernel_is_public_adam`), it is called directly, without the optimiser's per-call Python bookkeeping;
    otherwise the update goes through `torch.optim.Adam(fused=True)` itself. Either way the weights are
    those of the public optimiser, bit for bit (tests/test_ganas.py, tests/test_fused_adam.py)."""
    step = _kernel_step if _kernel_is_public_adam() else _public_step
    step(params, grads, exp_avgs, exp_avg_sqs, steps, lr=lr, betas=betas, eps=eps)


def _kernel_step(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, steps: list, *,
                 lr: float, betas: tuple[float, float], eps: float) -> None:
    import torch

    torch._fused_adam_(
        params, grads, exp_avgs, exp_avg_sqs, [], steps,
        amsgrad=False, lr=lr, beta1=betas[0], beta2=betas[1], weight_decay=0.0, eps=eps, maximize=False,
    )


def _public_step(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, steps: list, *,
                 lr: float, betas: tuple[float, float], eps: float) -> None:
    """The same update by a `torch.optim.Adam(fused=True)` holding our state: it increments the step count
    itself, so it gets a fresh count one below ours; our gradients are lent to the parameters for the call."""
    import torch

    optimizer = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True)
    lent = [p.grad for p in params]
    for p, g, m, v, s in zip(params, grads, exp_avgs, exp_avg_sqs, steps, strict=True):
        p.grad = g
        optimizer.state[p] = {"step": torch.tensor(float(s) - 1, dtype=torch.float32), "exp_avg": m,
                              "exp_avg_sq": v}
    try:
        optimizer.step()
    finally:
        for p, g in zip(params, lent, strict=True):
            p.grad = g


@functools.cache
def _kernel_is_public_adam() -> bool:
    """Whether the private kernel exists here and updates as the public optimiser does: three steps on a
    fixed probe (two parameters, counted apart), compared bit for bit. Any other torch takes the public
    path rather than a kernel whose arguments or arithmetic may have changed."""
    import torch

    def probe() -> tuple[list, list, list, list]:
        values = torch.linspace(-1.5, 2.0, 24, dtype=torch.float32)
        params = [values[:16].reshape(4, 4).clone(), values[16:].clone()]
        grads = [torch.sin(3 * p) + 0.25 for p in params]
        return params, grads, [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]

    with torch.no_grad():
        runs = []
        for step in (_kernel_step, _public_step):
            params, grads, exp_avgs, exp_avg_sqs = probe()
            try:
                for count in range(1, 4):
                    live = [0, 1] if count != 2 else [0]  # the second parameter skips a step
                    counts = [count, count if count != 3 else 2]
                    step([params[i] for i in live], [grads[i] for i in live], [exp_avgs[i] for i in live],
                         [exp_avg_sqs[i] for i in live],
                         [torch.tensor(float(counts[i]), dtype=torch.float32) for i in live],
                         lr=0.01, betas=(0.9, 0.99), eps=1e-8)
            except (AttributeError, TypeError, RuntimeError):  # no such kernel, or other arguments
                return False
            runs.append(params + exp_avgs + exp_avg_sqs)
    return all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def torch_generator(seed_sequence: np.random.SeedSequence):
    import torch

    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed_sequence.generate_state(1, dtype=np.uint64)[0]))
    return gen
