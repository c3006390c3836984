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
from typing import Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np

Arch = Hashable  # a cell of some space, where the code does not depend on which (the runner, the store)
# The cell type of one space: NB101 a row of its cell table (int), NB201 six operation indices
# (tuple[int, ...]), NB301 the DARTS normal and reduction cells (darts_space.DartsArch).
A = TypeVar("A", bound=Hashable)


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
class SearchSpace(Protocol[A]):
    """What a search may use. Holds no reference to an oracle, its results or any accuracy table.

    Generic in the space's cell type `A`: a method written for any space takes a `SearchSpace[A]` and
    hands back the cells it was given; code that holds spaces of several kinds says `SearchSpace[Any]`.
    """

    name: str  # the benchmark's name: a space's cost-like properties may differ between its datasets

    def sample(self, rng: np.random.Generator) -> A: ...  # uniform over valid cells
    def mutate(self, arch: A, rng: np.random.Generator) -> A: ...  # the space's standard mutation
    def neighbors(self, arch: A) -> list[A]: ...  # all one-edit neighbours
    def key(self, arch: A) -> str: ...  # canonical id (NB101: module hash)
    def graph(self, arch: A) -> CellGraph: ...
    def from_graph(self, graph: CellGraph) -> A: ...  # inverse of graph(); InvalidArchitecture if outside
    def costs(self, arch: A) -> dict[str, float]: ...  # cost-like properties only, never an accuracy
    # Optional: `cost_table()`, every cell's `costs` as one array per property, where the space is
    # enumerable; the harness then decides whether a constraint can be met exactly instead of by sampling.


class OnSpace(Generic[A]):
    """The space operators of a benchmark, delegated to its `space`, for callers that hold a Benchmark."""

    space: SearchSpace[A]

    def sample(self, rng: np.random.Generator) -> A:
        return self.space.sample(rng)

    def mutate(self, arch: A, rng: np.random.Generator) -> A:
        return self.space.mutate(arch, rng)

    def neighbors(self, arch: A) -> list[A]:
        return self.space.neighbors(arch)

    def key(self, arch: A) -> str:
        return self.space.key(arch)

    def graph(self, arch: A) -> CellGraph:
        return self.space.graph(arch)

    def from_graph(self, graph: CellGraph) -> A:
        return self.space.from_graph(graph)

    def costs(self, arch: A) -> dict[str, float]:
        return self.space.costs(arch)


@runtime_checkable
class Benchmark(Protocol[A]):
    """A space with its oracle. The runner alone holds one; methods and predictors get `space`."""

    name: str
    oracle: str  # which data answers queries, named next to every result
    search_metric: str
    final_metric: str
    has_cost: bool  # whether `query` returns training seconds
    # Optional: `final_values`, the sorted final metric of every cell, where the space is enumerable;
    # the runner uses it for the rank of the incumbent in the space.
    # Optional: `cheapest_query`, the lowest cost `query` charges over all cells, where the space is
    # enumerable; the harness refuses a budget in seconds below it before any run.

    # Read-only members, so that a benchmark may declare a narrower type (its own space class, a known optimum).
    @property
    def space(self) -> SearchSpace[A]: ...
    @property
    def optimum(self) -> float | None: ...  # best `final_metric` in the space, for regret; None where unknown
    @property
    def space_size(self) -> int | None: ...  # number of distinct cells, None where too large to count

    def sample(self, rng: np.random.Generator) -> A: ...
    def mutate(self, arch: A, rng: np.random.Generator) -> A: ...
    def neighbors(self, arch: A) -> list[A]: ...
    def key(self, arch: A) -> str: ...
    def graph(self, arch: A) -> CellGraph: ...
    def from_graph(self, graph: CellGraph) -> A: ...  # inverse of graph(); InvalidArchitecture if outside
    def costs(self, arch: A) -> dict[str, float]: ...
    def query(self, arch: A, *, epochs: int | None = None) -> Observation: ...
    def final(self, arch: A) -> dict[str, float]: ...  # the final metric and the cell's costs
    def data_files(self) -> dict[str, str]: ...  # relative path -> sha256 of the data behind the oracle
