"""Predictor-assisted proposal: a method draws a pool of cells, the predictor keeps the best-predicted.

Used by RS and RE (`predictor_pool`) when a run has `--predictor`: the predictor is refitted on every
cell evaluated so far whenever new results arrived, and screens only once `min_observations` results
exist (before that the method proposes as it would without a predictor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic

import numpy as np

from suite.api import Predictor
from suite.benchmarks.base import A, Observation, SearchSpace

MIN_OBSERVATIONS = 10


class Screen(Generic[A]):
    def __init__(self, predictor: Predictor, space: SearchSpace[A], min_observations: int = MIN_OBSERVATIONS) -> None:
        self.predictor = predictor
        self.space = space
        self.min_observations = max(2, min_observations)
        self.archs: list[A] = []
        self.values: list[float] = []
        self.seen: set[str] = set()
        self._fitted_on = 0

    def observe(self, archs: Sequence[A], observations: Sequence[Observation]) -> None:
        for arch, obs in zip(archs, observations, strict=True):
            key = self.space.key(arch)
            if key not in self.seen:
                self.seen.add(key)
                self.archs.append(arch)
                self.values.append(obs.value)

    @property
    def ready(self) -> bool:
        return len(self.archs) >= self.min_observations

    def best(self, pool: Sequence[A], k: int) -> list[A]:
        """The k cells of the pool with the highest predicted value, preferring cells not yet evaluated."""
        if self._fitted_on != len(self.archs):
            self.predictor.fit(self.archs, np.asarray(self.values))
            self._fitted_on = len(self.archs)
        unique = {self.space.key(a): a for a in pool}
        fresh = [a for key, a in unique.items() if key not in self.seen] or list(unique.values())
        predicted = np.asarray(self.predictor.predict(fresh))
        return [fresh[i] for i in np.argsort(-predicted, kind="stable")[:k]]
