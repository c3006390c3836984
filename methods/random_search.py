"""Random search: uniform samples from the space (Li & Talwalkar, 2019; Sciuto et al., 2020).

With a run predictor (`--predictor`), each proposal is the best-predicted of `predictor_pool` uniform
samples (predictors/screening.py); without one, `predictor_pool` is unused and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

from predictors.screening import Screen
from suite.api import MethodEntry, SearchContext
from suite.benchmarks.base import A, Observation


@dataclass(frozen=True)
class RandomSearchConfig:
    batch_size: int = 1
    predictor_pool: int = 20  # cells screened per proposal, only when the run has a predictor

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.predictor_pool < 1:
            raise ValueError("predictor_pool must be at least 1")


class RandomSearch(Generic[A]):
    def __init__(self, config: RandomSearchConfig, context: SearchContext[A]) -> None:
        self.config = config
        self.context = context
        self.screen = Screen(context.predictor, context.space) if context.predictor else None

    def ask(self) -> list[A]:
        space, rng = self.context.space, self.context.rng
        if self.screen is None or not self.screen.ready:
            return [space.sample(rng) for _ in range(self.config.batch_size)]
        pool = [space.sample(rng) for _ in range(max(self.config.predictor_pool, self.config.batch_size))]
        return self.screen.best(pool, self.config.batch_size)

    def tell(self, archs: list[A], observations: list[Observation]) -> None:
        """Plain random search learns nothing from results; a screening predictor learns from them."""
        if self.screen is not None:
            self.screen.observe(archs, observations)


ENTRY = MethodEntry(
    "rs", RandomSearchConfig, RandomSearch, "random search: uniform samples of the space", uses_predictor=True,
    version=2,  # 2: the mlp_ensemble screening predictor trains by the batched step (not bitwise version 1's)
)
