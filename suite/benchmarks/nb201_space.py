"""The NAS-Bench-201 search space (Dong & Yang, 2020): cells, their operators and cost-like properties.

A cell is a 4-node DAG with one operation on each of its 6 edges; an architecture is the tuple of
the 6 operation indices in the official string order `|e10|+|e20|e21|+|e30|e31|e32|`. Every tuple is
a distinct cell of the official table (no isomorphism merging: the table has one row per tuple).

This module is what a method may import: it holds no accuracy and no way to the data file. The oracle (the
real table) is `nb201`, which builds each dataset's `Nb201Space` from the table's cost columns.
"""

from __future__ import annotations

import numpy as np

from suite.benchmarks.base import CellGraph
from suite.errors import InvalidArchitecture

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from node, to node), official order
N_EDGES = len(EDGES)
DEVICES = ("fpga", "eyeriss", "pixel3", "raspi4", "titanx_1", "2080ti_1", "gold_6226")
GRAPH_OPS = ("input", "output", *OPS)



def arch_to_str(arch: tuple[int, ...]) -> str:
    ops = [f"{OPS[op]}~{src}" for op, (src, _) in zip(arch, EDGES, strict=True)]
    return f"|{ops[0]}|+|{ops[1]}|{ops[2]}|+|{ops[3]}|{ops[4]}|{ops[5]}|"


def str_to_arch(text: str) -> tuple[int, ...]:
    try:
        tokens = [tok for node in text.strip().split("+") for tok in node.strip("|").split("|")]
        pairs = [tok.split("~") for tok in tokens]
        if len(pairs) != N_EDGES or any(int(src) != e[0] for (_, src), e in zip(pairs, EDGES, strict=True)):
            raise ValueError
        return tuple(OPS.index(op) for op, _ in pairs)
    except ValueError:
        raise InvalidArchitecture(f"not a NAS-Bench-201 cell string: {text!r}") from None


def _graph_adjacency() -> np.ndarray:
    # Operations live on edges in NB201; the usual GNN view (as in arch2vec and NASLib) turns each
    # edge into a node: 0 input, 1..6 the edges in official order, 7 output.
    adj = np.zeros((N_EDGES + 2, N_EDGES + 2), dtype=np.uint8)
    for i, (src, dst) in enumerate(EDGES):
        node = i + 1
        if src == 0:
            adj[0, node] = 1
        for j, (_, dst2) in enumerate(EDGES):
            if dst2 == src:
                adj[j + 1, node] = 1
        if dst == 3:
            adj[node, N_EDGES + 1] = 1
    return adj


ADJACENCY = _graph_adjacency()
ADJACENCY.setflags(write=False)


# FLOPs (millions) of the CIFAR-10 network: the fixed stem, reduction blocks and head, plus one term per
# 3x3 and 1x1 convolution on a cell edge (each cell edge's op is repeated in all 15 cells).
FLOPS_BASE, FLOPS_CONV3, FLOPS_CONV1 = 7.78305, 35.38944, 3.93216
TRAIN_TIME = "train_time_s"  # cost name of the recorded 200-epoch training time


class Nb201Space:
    """The NB201 cells, their operators and their cost-like properties; no accuracy, no oracle.

    `costs` is an array [cell, metric] in the order of `rows` (architecture -> row), with the metric names
    `cost_names`: FLOPs where the dataset has the formula, device latencies, training time where recorded.
    """

    def __init__(self, name: str, rows: dict[tuple[int, ...], int], cost_names: tuple[str, ...],
                 costs: np.ndarray) -> None:
        if costs.shape != (len(rows), len(cost_names)):
            raise ValueError("one row of costs per cell, one column per cost name")
        self.name = name
        self._row = rows
        self._keys = {arch: arch_to_str(arch) for arch in rows}
        self.cost_names = cost_names
        self._costs = costs
        self._costs.setflags(write=False)

    def _index(self, arch: tuple[int, ...]) -> int:
        try:
            return self._row[arch]
        except (KeyError, TypeError):
            raise invalid_arch(arch) from None

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(op) for op in rng.integers(len(OPS), size=N_EDGES))

    def mutate(self, arch: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Change the operation of one uniformly chosen edge to a different one (NB201/NASLib)."""
        self._index(arch)
        edge = int(rng.integers(N_EDGES))
        new_op = int(rng.integers(len(OPS) - 1))
        new_op += new_op >= arch[edge]
        return arch[:edge] + (new_op,) + arch[edge + 1 :]

    def neighbors(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        self._index(arch)
        return [
            arch[:edge] + (op,) + arch[edge + 1 :]
            for edge in range(N_EDGES)
            for op in range(len(OPS))
            if op != arch[edge]
        ]

    def key(self, arch: tuple[int, ...]) -> str:
        try:
            return self._keys[arch]
        except (KeyError, TypeError):
            raise invalid_arch(arch) from None

    def graph(self, arch: tuple[int, ...]) -> CellGraph:
        self._index(arch)
        ops = np.array([0, *(2 + op for op in arch), 1], dtype=np.int64)
        return CellGraph(ADJACENCY, ops, GRAPH_OPS)

    def from_graph(self, graph: CellGraph) -> tuple[int, ...]:
        if graph.op_names != GRAPH_OPS or not np.array_equal(graph.adjacency, ADJACENCY):
            raise InvalidArchitecture("not a NAS-Bench-201 cell graph (8 nodes, fixed adjacency, NB201 ops)")
        arch = tuple(int(op) - 2 for op in graph.ops[1:-1])
        self._index(arch)
        return arch

    def costs(self, arch: tuple[int, ...]) -> dict[str, float]:
        return dict(zip(self.cost_names, self._costs[self._index(arch)].tolist(), strict=True))

    def cost_table(self) -> dict[str, np.ndarray]:
        """Every cell's costs, one read-only column per cost name (15,625 rows: checked whole, not sampled)."""
        return {name: self._costs[:, j] for j, name in enumerate(self.cost_names)}


def invalid_arch(arch: object) -> InvalidArchitecture:
    return InvalidArchitecture(f"{arch!r} is not a NAS-Bench-201 cell (6 op indices 0..4)")
