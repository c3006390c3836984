"""Regularized (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (AAAI), Algorithm 1: tournament selection, one mutation per child, the oldest
member dies.

Defaults: population 30 and tournament (sample) size 10, the setting of the NAS-Bench-Suite / NASLib
experiments (White et al., 2021) and the BANANAS baselines for small query budgets; the population is
seeded with `initial_random` uniform cells, as in Real et al. (there = population size).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from methods.base import MethodEntry, SearchContext
from suite.benchmarks.base import Arch, Observation


@dataclass(frozen=True)
class RegularizedEvolutionConfig:
    population_size: int = 30
    sample_size: int = 10
    initial_random: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.sample_size <= self.population_size:
            raise ValueError("need 1 <= sample_size <= population_size")
        if not 1 <= self.initial_random:
            raise ValueError("initial_random must be at least 1")


class RegularizedEvolution:
    def __init__(self, config: RegularizedEvolutionConfig, context: SearchContext) -> None:
        self.config = config
        self.context = context
        self.population: deque[tuple[Arch, float]] = deque()
        self.n_told = 0

    def ask(self) -> list[Arch]:
        bench, rng = self.context.benchmark, self.context.rng
        if self.n_told < self.config.initial_random:
            return [bench.sample(rng)]
        members = list(self.population)
        # A permutation prefix is a uniform sample without replacement, at a third of rng.choice's cost.
        picks = rng.permutation(len(members))[: self.config.sample_size]
        parent = max((members[i] for i in picks), key=lambda member: member[1])[0]
        return [bench.mutate(parent, rng)]

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        for arch, obs in zip(archs, observations, strict=True):
            self.population.append((arch, obs.value))
            self.n_told += 1
            if len(self.population) > self.config.population_size:
                self.population.popleft()


ENTRY = MethodEntry(
    "re", RegularizedEvolutionConfig, RegularizedEvolution,
    "regularized (aging) evolution, Real et al. 2019",
)
