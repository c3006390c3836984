"""The public interface for method and predictor authors: the one module a NAS method or a run predictor,
built-in or in a package of its own, imports from nasrepro.

    from suite.api import Arch, MethodEntry, Observation, SearchContext

A METHOD is a class with `ask` and `tell` (the `Method` protocol), built from a config and a `SearchContext`,
and published as a `MethodEntry` under the entry-point group `nasrepro.methods` of its distribution:

    [project.entry-points."nasrepro.methods"]
    hillclimb = "nasrepro_hillclimb:ENTRY"          # the name `nasrepro run --method` takes

`nasrepro list` then shows it and `nasrepro run --method hillclimb` runs it beside the built-ins, which are
declared the same way in nasrepro's own pyproject.toml (examples/nasrepro-hillclimb is a complete plugin).
`nasrepro check-method NAME` checks a method against the rules below.

The ask/tell contract (the runner's loop, suite/running/runner.py):
- The runner calls `ask()`, evaluates the cells in order and calls `tell(archs, observations)` with them,
  then asks again, until the budget is spent. `ask` returns a non-empty list of cells of `context.space`.
- A cell already evaluated in this run is answered from the run's cache and not charged; it is told like
  any other. The budget counts distinct cells (and, where set, simulated training seconds).
- When the budget runs out inside a batch, `tell` receives a PREFIX of what `ask` returned (the cells that
  were evaluated, in the order asked), and the run ends: a method must accept a shorter `tell` and must not
  count on being asked again.
- An `Observation` is `(value, cost)`: the search metric (e.g. validation accuracy, higher is better) and
  the simulated training seconds (NaN where the benchmark has none). The final (test) metric is never told.
- The same config and seed must give the same proposals, bit for bit, in any process: draw only from
  `context.rng` and `context.torch_generator(...)` (never numpy's, `random`'s or torch's global state,
  never an unseeded generator), and never let an order depend on `hash()` of strings or on `id()`.
- A method sees the space only: it may not import a benchmark, the runner or the data (suite.benchmarks'
  registry and oracle modules, suite.running, suite.data), nor hold anything that leads to the oracle.
- Optionally `diagnostics() -> dict` (JSON values): what the method reports about its run, stored in the
  run's metadata.

The CONFIG is a dataclass, `@dataclass(frozen=True)`, whose fields are JSON values (int, float, str, bool,
None, and lists or dicts of them): a run stores `dataclasses.asdict(config)` in its metadata and its id,
and `config_cls(**stored)` rebuilds it for `nasrepro verify`. Every field has a default (`nasrepro run`
builds the default config; `--set NAME.FIELD=VALUE` replaces fields, converted to the default's type).
Validate in `__post_init__` and raise `ValueError` with a sentence: the CLI prints it as one line (exit 2).

The VERSION rule: `MethodEntry.version` (an int from 1) is part of every run id. Raise it whenever a change
would make the same config and seed propose other cells (a new algorithm step, another draw order, even
another float rounding), so that a store never mixes trajectories of the old and the new code; keep an old
behaviour runnable as a setting where it is worth comparing. A plugin's distribution name and version are
part of its run ids too (a new release gets new runs); `nasrepro check-method NAME --store DIR` reruns the
stored runs of the method's current version and flags changed proposals.

A RUN PREDICTOR (`--predictor NAME`, for methods with `uses_predictor=True`) implements `Predictor`
(`fit`/`predict`, optionally `predict_dist`: an `UncertainPredictor`), is built from a frozen config, the
search space (never the benchmark) and a `numpy.random.SeedSequence` (its only source of randomness), and
is published as a `PredictorEntry` under `nasrepro.predictors`. The same rules apply: frozen config with
defaults and JSON fields, same seed same predictions, no global RNG, and `PredictorEntry.version` raised
whenever the same seed and data would predict differently; `nasrepro check-predictor NAME` checks all but
the version rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self

import numpy as np

from suite.benchmarks.base import A, Arch, CellGraph, Observation, SearchSpace
from suite.constraints import Constraint
from suite.errors import InvalidArchitecture, NasreproError

__all__ = [
    "Arch", "CellGraph", "Constraint", "InvalidArchitecture", "Method", "MethodEntry", "Observation", "Predictor",
    "PredictorEntry", "SearchContext", "SearchSpace", "UncertainPredictor",
]


class Predictor(Protocol):
    """A model of the search metric fitted on the cells a search evaluated.

    `fit(archs, y)` (re)fits on all evaluated cells and their values (higher is better) and returns self;
    `predict(archs)` returns one predicted value per cell, as a float array. Fitting twice on the same data
    from the same seed predicts the same values, bit for bit."""

    def fit(self, archs: Sequence[Arch], y: np.ndarray) -> Self: ...
    def predict(self, archs: Sequence[Arch]) -> np.ndarray: ...


class UncertainPredictor(Predictor, Protocol):
    """A predictor with an uncertainty (BANANAS' Thompson sampling needs one)."""

    def predict_dist(self, archs: Sequence[Arch]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation per cell."""
        ...


@dataclass(frozen=True)
class PredictorEntry:
    """How nasrepro finds and builds a run predictor: publish one under the entry-point group
    `nasrepro.predictors`, its entry-point name equal to `name`."""

    name: str
    config_cls: type  # a frozen dataclass, every field with a default and a JSON value (see the module doc)
    # (config, search space, seed sequence) -> predictor; seeded explicitly, never from global state.
    # Built from the space, never the benchmark: a predictor inside a search sees no oracle either.
    build: Callable[[Any, SearchSpace[Any], np.random.SeedSequence], Predictor]
    description: str  # one line, shown by `nasrepro list`
    # raised when the same seed and settings would fit different predictions, so that a run using the
    # predictor gets a new id (suite/running/spec.py RunSpec.predictor_version) instead of a stored stale trajectory
    version: int = 1


@dataclass(frozen=True)
class SearchContext(Generic[A]):
    """Everything a method may use besides its config, made by the runner for one run.

    - `space`: the search space alone (`SearchSpace`: sample, mutate, neighbors, key, graph/from_graph and the
      cost-like `costs`; no accuracy). The runner holds the oracle, so a method learns a cell's accuracy
      only from what `tell` gives it (`nasrepro check-method` and tests/test_blind.py walk everything
      reachable from here and from the method).
    - `rng`: the run's numpy generator, its only source of numpy randomness. Its first draws are the same
      for every method with the same seed (common random numbers): a method whose first cells are
      `space.sample(rng)` starts from the same cells as random search.
    - `seed_sequence`: the run's `numpy.random.SeedSequence`, to derive further independent streams
      (`seed_sequence.spawn(n)` in the constructor; each call of `spawn` gives new children).
    - `torch_generator(stream)`: a seeded CPU `torch.Generator` per stream, for methods that train networks
      (pass it to every torch sampling call and initialiser; never use torch's global generator).
    - `predictor`: the run's predictor (`--predictor`), already built from the space and seeded, or None;
      only given to methods whose entry says `uses_predictor=True`.
    - `constraint` and `feasible(arch)`: the run's constraint on cost-like properties (e.g. FLOPs), or
      None; the runner keeps the incumbent feasible, a method may use `feasible` to skip infeasible cells.
    """

    space: SearchSpace[A]
    rng: np.random.Generator
    seed_sequence: np.random.SeedSequence
    predictor: Predictor | None = None
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        # A Benchmark also has the space's operators; handing one over would give the method the oracle.
        leaks = [name for name in ("query", "final", "optimum", "final_values") if hasattr(self.space, name)]
        if leaks:
            raise TypeError(f"SearchContext takes a search space, not an object with {leaks}: pass benchmark.space")

    def feasible(self, arch: A) -> bool:
        """Whether a cell satisfies the run's constraint (always, for an unconstrained run)."""
        return self.constraint is None or self.constraint.feasible(self.space, arch)

    def torch_generator(self, stream: int = 0):
        """A CPU torch.Generator seeded from this run's seed, independent of `rng` and of other streams."""
        import torch

        child = np.random.SeedSequence(self.seed_sequence.entropy, spawn_key=(*self.seed_sequence.spawn_key, 1, stream))
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(child.generate_state(1, dtype=np.uint64)[0]))
        return gen


class Method(Protocol[A]):
    """A search method: built once per run by `MethodEntry.build(config, context)`, then asked and told
    until the budget is spent (the contract is in the module doc)."""

    def ask(self) -> list[A]:
        """The next cells to evaluate: a non-empty list of cells of `context.space`."""
        ...

    def tell(self, archs: list[A], observations: list[Observation]) -> None:
        """The evaluated cells of the last `ask`, in its order, with their observations: all of them, or a
        prefix when the budget ran out during the batch (the run then ends)."""
        ...


@dataclass(frozen=True)
class MethodEntry:
    """How nasrepro finds and builds a method: publish one under the entry-point group `nasrepro.methods`,
    its entry-point name equal to `name`."""

    name: str
    config_cls: type  # a frozen dataclass, every field with a default and a JSON value (see the module doc)
    build: Callable[[Any, SearchContext[Any]], Method[Any]]  # (config, context) -> method; a class is such a callable
    description: str  # one line, shown by `nasrepro list`
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

    def make_config(self, benchmark: str, overrides: Mapping[str, Any] | None = None) -> Any:
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
