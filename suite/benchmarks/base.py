"""The SearchSpace and Benchmark protocols: a search space, and the oracle that answers on it.

A method receives only the `SearchSpace`: the cells, their operators and their cost-like properties
(FLOPs, parameters, latencies, training time), nothing measured on the task. The `Benchmark` adds the
oracle, held by the runner alone: `query` (the search metric, e.g. validation accuracy, and its cost in
simulated training seconds) and `final` (e.g. test accuracy) for the report. Keeping the two apart is
what lets the runner select by validation and report by test, and keeps methods blind to the oracle by
construction rather than by convention.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

Arch = Hashable


class Observation(NamedTuple):
    """What one query returns: the search metric and its cost (simulated seconds, NaN if unknown).

    A named tuple, not a dataclass: tabular queries take microseconds and creation time counts.
    """

    value: float
    cost: float


@dataclass(frozen=True)
class CellGraph:
    """A cell as a DAG with operations on the nodes, the common input of GNNs and encodings.

    `adjacency[i, j] == 1` means an edge from node i to node j (i < j: upper triangular);
    `ops[i]` indexes `op_names`, the benchmark's whole node vocabulary (input and output included).
    """

    adjacency: np.ndarray
    ops: np.ndarray
    op_names: tuple[str, ...]


@runtime_checkable
class SearchSpace(Protocol):
    """What a search may use. Holds no reference to an oracle, its results or any accuracy table."""

    name: str  # the benchmark's name: a space's cost-like properties may differ between its datasets

    def sample(self, rng: np.random.Generator) -> Arch: ...  # uniform over valid cells
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch: ...  # the space's standard mutation
    def neighbors(self, arch: Arch) -> list[Arch]: ...  # all one-edit neighbours
    def key(self, arch: Arch) -> str: ...  # canonical id (NB101: module hash)
    def graph(self, arch: Arch) -> CellGraph: ...
    def from_graph(self, graph: CellGraph) -> Arch: ...  # inverse of graph(); InvalidArchitecture if outside
    def costs(self, arch: Arch) -> dict[str, float]: ...  # cost-like properties only, never an accuracy
    # Optional: `cost_table()`, every cell's `costs` as one array per property, where the space is
    # enumerable; the harness then decides whether a constraint can be met exactly instead of by sampling.


class OnSpace:
    """The space operators of a benchmark, delegated to its `space`, for callers that hold a Benchmark."""

    space: SearchSpace

    def sample(self, rng: np.random.Generator) -> Arch:
        return self.space.sample(rng)

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        return self.space.mutate(arch, rng)

    def neighbors(self, arch: Arch) -> list[Arch]:
        return self.space.neighbors(arch)

    def key(self, arch: Arch) -> str:
        return self.space.key(arch)

    def graph(self, arch: Arch) -> CellGraph:
        return self.space.graph(arch)

    def from_graph(self, graph: CellGraph) -> Arch:
        return self.space.from_graph(graph)

    def costs(self, arch: Arch) -> dict[str, float]:
        return self.space.costs(arch)


@runtime_checkable
class Benchmark(Protocol):
    """A space with its oracle. The runner alone holds one; methods and predictors get `space`."""

    name: str
    space: SearchSpace
    oracle: str  # which data answers queries, named next to every result
    search_metric: str
    final_metric: str
    optimum: float | None  # best `final_metric` in the space, for regret; None where unknown
    space_size: int | None  # number of distinct cells, None where too large to count
    has_cost: bool  # whether `query` returns training seconds
    # Optional: `final_values`, the sorted final metric of every cell, where the space is enumerable;
    # the runner uses it for the rank of the incumbent in the space.
    # Optional: `cheapest_query`, the lowest cost `query` charges over all cells, where the space is
    # enumerable; the harness refuses a budget in seconds below it before any run.

    def sample(self, rng: np.random.Generator) -> Arch: ...
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch: ...
    def neighbors(self, arch: Arch) -> list[Arch]: ...
    def key(self, arch: Arch) -> str: ...
    def graph(self, arch: Arch) -> CellGraph: ...
    def from_graph(self, graph: CellGraph) -> Arch: ...  # inverse of graph(); InvalidArchitecture if outside
    def costs(self, arch: Arch) -> dict[str, float]: ...
    def query(self, arch: Arch, *, epochs: int | None = None) -> Observation: ...
    def final(self, arch: Arch) -> dict[str, float]: ...  # the final metric and the cell's costs
    def data_files(self) -> dict[str, str]: ...  # relative path -> sha256 of the data behind the oracle
