"""The Benchmark protocol: a search space with an oracle.

A search sees only `query` (the search metric, e.g. validation accuracy, and its cost in simulated
training seconds); the report uses `final` (e.g. test accuracy). Keeping the two apart is what lets
the runner select by validation and report by test, never selecting by test.
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
class Benchmark(Protocol):
    name: str
    oracle: str  # which data answers queries, named next to every result
    search_metric: str
    final_metric: str
    optimum: float | None  # best `final_metric` in the space, for regret; None where unknown
    space_size: int | None  # number of distinct cells, None where too large to count
    has_cost: bool  # whether `query` returns training seconds
    # Optional: `final_values`, the sorted final metric of every cell, where the space is enumerable;
    # the runner uses it for the rank of the incumbent in the space.

    def sample(self, rng: np.random.Generator) -> Arch: ...
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch: ...
    def neighbors(self, arch: Arch) -> list[Arch]: ...
    def key(self, arch: Arch) -> str: ...
    def graph(self, arch: Arch) -> CellGraph: ...
    def from_graph(self, graph: CellGraph) -> Arch: ...  # inverse of graph(); InvalidArchitecture if outside
    def query(self, arch: Arch, *, epochs: int | None = None) -> Observation: ...
    def final(self, arch: Arch) -> dict[str, float]: ...
    def data_files(self) -> dict[str, str]: ...  # relative path -> sha256 of the data behind the oracle
