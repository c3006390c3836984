"""Random search: uniform samples from the space (Li & Talwalkar, 2019; Sciuto et al., 2020)."""

from __future__ import annotations

from dataclasses import dataclass

from methods.base import MethodEntry, SearchContext
from suite.benchmarks.base import Arch, Observation


@dataclass(frozen=True)
class RandomSearchConfig:
    batch_size: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


class RandomSearch:
    def __init__(self, config: RandomSearchConfig, context: SearchContext) -> None:
        self.config = config
        self.context = context

    def ask(self) -> list[Arch]:
        bench, rng = self.context.benchmark, self.context.rng
        return [bench.sample(rng) for _ in range(self.config.batch_size)]

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        """Random search learns nothing from results."""


ENTRY = MethodEntry("rs", RandomSearchConfig, RandomSearch, "random search: uniform samples of the space")
