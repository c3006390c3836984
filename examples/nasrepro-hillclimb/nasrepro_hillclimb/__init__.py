"""A seeded hill climber: from a random cell, ask `batch` mutations of the best cell so far; restart from
a new random cell after `patience` batches without improvement."""

from dataclasses import dataclass

from suite.api import Arch, MethodEntry, Observation, SearchContext


@dataclass(frozen=True)
class HillClimbConfig:
    batch: int = 4  # mutations of the current cell asked at once
    patience: int = 5  # batches without improvement before a restart

    def __post_init__(self) -> None:
        if self.batch < 1 or self.patience < 1:
            raise ValueError("batch and patience must be at least 1")


class HillClimb:
    def __init__(self, config: HillClimbConfig, context: SearchContext) -> None:
        self.config, self.space, self.rng = config, context.space, context.rng
        self.current: tuple[Arch, float] | None = None  # the cell climbed from, and its value
        self.stale = 0

    def ask(self) -> list[Arch]:
        if self.current is None:
            return [self.space.sample(self.rng)]  # the same first cell as random search with this seed
        return [self.space.mutate(self.current[0], self.rng) for _ in range(self.config.batch)]

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        # `archs` may be a prefix of the last ask (the budget ran out): only what was evaluated counts
        best = max(zip(archs, (o.value for o in observations), strict=True), key=lambda pair: pair[1])
        if self.current is None or best[1] > self.current[1]:
            self.current, self.stale = best, 0
            return
        self.stale += 1
        if self.stale >= self.config.patience:
            self.current, self.stale = None, 0


ENTRY = MethodEntry(
    name="hillclimb",
    config_cls=HillClimbConfig,
    build=HillClimb,
    description="hill climbing on the space's mutation, restarts after 5 flat batches",
    version=1,  # raise it whenever the same seed and settings would propose other cells
)
