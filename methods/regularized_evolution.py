"""Regularized (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (AAAI), Algorithm 1: tournament selection, one mutation per child, the oldest
member dies.

The tournament sample is drawn WITH replacement by default, as in the reference code: naszilla
(naszilla/naszilla, `naszilla/nas_algorithms.py`, `evolution_search`:
`sample = np.random.choice(population, tournament_size)`, numpy's default `replace=True`) and NASLib
(automl/NASLib, `naslib/optimizers/discrete/re/optimizer.py`, `RegularizedEvolution.new_epoch`:
`candidate = np.random.choice(list(self.population))` drawn `sample_size` times, parent =
`max(sample, key=accuracy)`, population a `deque(maxlen=population_size)` so the oldest dies).
`tournament="without_replacement"` is the earlier nasrepro variant (version 1): S distinct members.

Defaults: population 30 and tournament (sample) size 10, the setting of the NAS-Bench-Suite / NASLib
experiments (White et al., 2021) and the BANANAS baselines for small query budgets; the population is
seeded with `initial_random` uniform cells, as in Real et al. (there = population size).

With a run predictor (`--predictor`), each child is the best-predicted of `predictor_pool` children,
each made by the usual tournament and mutation (predictors/screening.py); without one,
`predictor_pool` is unused and the run is exactly Algorithm 1.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic

import numpy as np

from predictors.screening import Screen
from suite.api import MethodEntry, SearchContext
from suite.benchmarks.base import A, Observation


def _with_replacement(rng: np.random.Generator, population: int, size: int) -> np.ndarray:
    return rng.integers(population, size=size)


def _without_replacement(rng: np.random.Generator, population: int, size: int) -> np.ndarray:
    # A permutation prefix is a uniform sample without replacement, at a third of rng.choice's cost.
    return rng.permutation(population)[:size]


TOURNAMENTS = {"with_replacement": _with_replacement, "without_replacement": _without_replacement}


@dataclass(frozen=True)
class RegularizedEvolutionConfig:
    population_size: int = 30
    sample_size: int = 10
    initial_random: int = 30
    tournament: str = "with_replacement"
    predictor_pool: int = 20  # children screened per proposal, only when the run has a predictor

    def __post_init__(self) -> None:
        if not 1 <= self.sample_size <= self.population_size:
            raise ValueError("need 1 <= sample_size <= population_size")
        if not 1 <= self.initial_random:
            raise ValueError("initial_random must be at least 1")
        if self.predictor_pool < 1:
            raise ValueError("predictor_pool must be at least 1")
        if self.tournament not in TOURNAMENTS:
            raise ValueError(f"tournament must be one of {sorted(TOURNAMENTS)}, not {self.tournament!r}")


class RegularizedEvolution(Generic[A]):
    def __init__(self, config: RegularizedEvolutionConfig, context: SearchContext[A]) -> None:
        self.config = config
        self.context = context
        self.population: deque[tuple[A, float]] = deque()
        self.n_told = 0
        self.draw = TOURNAMENTS[config.tournament]
        self.screen = Screen(context.predictor, context.space) if context.predictor else None

    def ask(self) -> list[A]:
        if self.n_told < self.config.initial_random:
            return [self.context.space.sample(self.context.rng)]
        members = list(self.population)
        if self.screen is None or not self.screen.ready:
            return [self._child(members)]
        return self.screen.best([self._child(members) for _ in range(self.config.predictor_pool)], 1)

    def _parent(self, members: list[tuple[A, float]]) -> A:
        """The best of a tournament sample (the first drawn among equals, as Python's max)."""
        picks = self.draw(self.context.rng, len(members), self.config.sample_size)
        return max((members[i] for i in picks), key=lambda member: member[1])[0]

    def _child(self, members: list[tuple[A, float]]) -> A:
        return self.context.space.mutate(self._parent(members), self.context.rng)

    def tell(self, archs: list[A], observations: list[Observation]) -> None:
        if self.screen is not None:
            self.screen.observe(archs, observations)
        for arch, obs in zip(archs, observations, strict=True):
            self.population.append((arch, obs.value))
            self.n_told += 1
            if len(self.population) > self.config.population_size:
                self.population.popleft()  # aging: the oldest dies, whatever its value


ENTRY = MethodEntry(
    "re", RegularizedEvolutionConfig, RegularizedEvolution,
    "regularized (aging) evolution, Real et al. 2019",
    version=2,  # 2: tournament drawn with replacement (Real et al., naszilla, NASLib)
    uses_predictor=True,
)
