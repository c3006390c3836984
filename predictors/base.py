"""The Predictor protocol: fit on evaluated cells, predict the search metric of unseen ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np

from suite.benchmarks.base import Arch, SearchSpace


class Predictor(Protocol):
    def fit(self, archs: Sequence[Arch], y: np.ndarray) -> Self: ...
    def predict(self, archs: Sequence[Arch]) -> np.ndarray: ...


class UncertainPredictor(Predictor, Protocol):
    def predict_dist(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation."""
        ...


@dataclass(frozen=True)
class PredictorEntry:
    name: str
    config_cls: type
    # (config, search space, seed sequence) -> predictor; seeded explicitly, never from global state.
    # Built from the space, never the benchmark: a predictor inside a search sees no oracle either.
    build: Callable[[Any, SearchSpace, np.random.SeedSequence], Predictor]
    description: str
    # raised when the same seed and settings would fit different predictions, so that a run using the
    # predictor gets a new id (suite/spec.py RunSpec.predictor_version) instead of a stored stale trajectory
    version: int = 1
