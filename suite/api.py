"""The public interface for method and predictor authors: what a search method and a run predictor
implement, and the entries that register them.

A method is a class with `ask`/`tell` (the `Method` protocol) built from a frozen config dataclass and a
`SearchContext`; it is published as a `MethodEntry` under the entry-point group `nasrepro.methods`.
A run predictor implements `Predictor` (`fit`/`predict`, optionally `predict_dist`) and is published as a
`PredictorEntry` under `nasrepro.predictors`. The built-ins are declared the same way in this project's
pyproject.toml. The version rule: an entry's `version` is part of every run id; raise it whenever a change
alters what the method proposes (or the predictor predicts) for the same config and seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np

from suite.benchmarks.base import Arch, Observation, SearchSpace
from suite.constraints import Constraint
from suite.errors import NasreproError


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
    # predictor gets a new id (suite/running/spec.py RunSpec.predictor_version) instead of a stored stale trajectory
    version: int = 1



@dataclass(frozen=True)
class SearchContext:
    """Everything a method may use besides its config. No method touches global RNG state.

    `space` is the search space alone: the runner holds the oracle, so a method learns a cell's
    accuracy only from what `tell` gives it (tests/test_blind.py walks everything reachable from here).
    `rng` is the run's numpy generator; its first draws are the same for every method with the same
    seed (common random numbers), so methods that start with random cells start with the same ones.
    `seed_sequence` spawns further independent streams (e.g. for torch generators).
    """

    space: SearchSpace
    rng: np.random.Generator
    seed_sequence: np.random.SeedSequence
    predictor: Predictor | None = None
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        # A Benchmark also has the space's operators; handing one over would give the method the oracle.
        leaks = [name for name in ("query", "final", "optimum", "final_values") if hasattr(self.space, name)]
        if leaks:
            raise TypeError(f"SearchContext takes a search space, not an object with {leaks}: pass benchmark.space")

    def feasible(self, arch: Arch) -> bool:
        """Whether a cell satisfies the run's constraint (always, for an unconstrained run)."""
        return self.constraint is None or self.constraint.feasible(self.space, arch)

    def torch_generator(self, stream: int = 0):
        """A CPU torch.Generator seeded from this run's seed, independent of `rng` and of other streams."""
        import torch

        child = np.random.SeedSequence(self.seed_sequence.entropy, spawn_key=(*self.seed_sequence.spawn_key, 1, stream))
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0]))
        return gen


class Method(Protocol):
    def ask(self) -> list[Arch]:
        """The next cells to evaluate (at least one)."""
        ...

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        """Results of evaluated cells; a prefix of what `ask` returned when the budget runs out."""
        ...


@dataclass(frozen=True)
class MethodEntry:
    name: str
    config_cls: type
    build: Callable[[Any, SearchContext], Method]  # (config, context) -> method
    description: str
    # Per-benchmark defaults, for methods whose defaults differ between spaces.
    config_for: Callable[[str], Any] | None = None
    # Part of every run id: bump it when a change alters what the method proposes for the same config
    # and seed, so stores never mix trajectories of the old and the new code.
    version: int = 1
    # Whether the method uses a run predictor (`--predictor`); a run giving one to a method that would
    # ignore it is refused rather than silently run without it.
    uses_predictor: bool = False

    def default_config(self, benchmark: str) -> Any:
        return self.config_for(benchmark) if self.config_for else self.config_cls()

    def make_config(self, benchmark: str, overrides: dict[str, Any] | None = None) -> Any:
        config = self.default_config(benchmark)
        if not overrides:
            return config
        fields = {f.name: f for f in dataclasses.fields(config)}
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise NasreproError(f"method {self.name!r} has no setting {unknown}; settings: {sorted(fields)}")
        converted = {}
        for name, value in overrides.items():
            current = getattr(config, name)
            try:
                converted[name] = type(current)(value) if current is not None else value
            except (TypeError, ValueError):
                raise NasreproError(f"{self.name}.{name}: cannot read {value!r} as {type(current).__name__}") from None
        try:
            return dataclasses.replace(config, **converted)
        except ValueError as exc:  # configs validate themselves in __post_init__
            raise NasreproError(f"{self.name}: {exc}") from None
