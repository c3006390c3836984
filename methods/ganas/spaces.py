"""Space adapters: how the generator's decoder spells a cell of each search space as decisions.

The generator is the same network for every space; an adapter only says which decisions it takes in
which order (`kinds`, `step_kind`), which choices are allowed given the earlier ones (`masks`), and how
a finished decision sequence becomes a `CellGraph` for `space.from_graph` (and back, for the
maximum-likelihood ablation, which needs the decisions that spell a truth-set cell).

Decisions follow the paper's node-by-node order: the operation of a node, then its incoming edges
(on NB101 both in one joint decision per node by default; see `Nb101NodeSpace`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import numpy as np

from methods.ganas.config import NB101_DECODER_NAMES
from suite.benchmarks.base import A, CellGraph, SearchSpace
from suite.errors import InvalidArchitecture, NasreproError


class CellSpace(Protocol):
    # read-only: the adapters hold them as fields or compute them as properties
    @property
    def graph_ops(self) -> tuple[str, ...]: ...  # the space's node vocabulary (CellGraph.op_names)
    @property
    def kinds(self) -> tuple[int, ...]: ...  # number of choices of each kind of decision (one output head per kind)
    @property
    def step_kind(self) -> tuple[int, ...]: ...  # the kind of each decision, in decoding order

    def masks(self, step: int, prefix: np.ndarray) -> np.ndarray:
        """Allowed choices [B, kinds[step_kind[step]]] given the decisions prefix [B, step]."""
        ...

    def to_graph(self, actions: np.ndarray) -> CellGraph:
        """The cell a complete decision sequence spells (which `from_graph` may still reject)."""
        ...

    def to_actions(self, graph: CellGraph) -> np.ndarray:
        """One decision sequence that spells `graph` (the benchmark's own graph of a cell)."""
        ...


def _all_allowed(prefix: np.ndarray, width: int) -> np.ndarray:
    return np.ones((prefix.shape[0], width), dtype=bool)


@dataclass
class Nb201Space:
    """NB201: one operation on each of the 6 edges of a fixed DAG (nodes 1..6 of the edge->node graph)."""

    template: CellGraph  # the benchmark's graph of some cell: fixed adjacency and vocabulary
    n_ops: int

    @classmethod
    def build(cls, benchmark: SearchSpace[Any]) -> Nb201Space:
        from suite.benchmarks import nb201_space

        template = benchmark.graph((0,) * nb201_space.N_EDGES)
        return cls(template, len(nb201_space.OPS))

    @property
    def graph_ops(self) -> tuple[str, ...]:
        return self.template.op_names

    @property
    def kinds(self) -> tuple[int, ...]:
        return (self.n_ops,)

    @property
    def step_kind(self) -> tuple[int, ...]:
        return (0,) * (len(self.template.ops) - 2)

    def masks(self, step: int, prefix: np.ndarray) -> np.ndarray:
        return _all_allowed(prefix, self.n_ops)

    def to_graph(self, actions: np.ndarray) -> CellGraph:
        # graph op index = 2 + NB201 op index (0 and 1 are input and output)
        ops = np.concatenate([[0], np.asarray(actions, dtype=np.int64) + 2, [1]])
        return CellGraph(self.template.adjacency, ops, self.template.op_names)

    def to_actions(self, graph: CellGraph) -> np.ndarray:
        return np.asarray(graph.ops[1:-1], dtype=np.int64) - 2


_OP, _EDGE = 0, 1  # NB101 decision kinds
_INPUT = 0  # NB301 decision kinds: an input node, then (kind 1) its operation


_FIRST_OP = 2  # NB101 graph vocabulary: input, output, then the operations


@dataclass
class _Nb101Decoder:
    """What both NB101 decoders share: the 7-node DAG they spell, in the benchmark's graph vocabulary."""

    graph_ops: tuple[str, ...]
    n_ops: int
    n_nodes: int
    max_edges: int

    @classmethod
    def build(cls, benchmark: SearchSpace[Any]) -> Self:
        from suite.benchmarks import nb101_space

        return cls(nb101_space.GRAPH_OPS, len(nb101_space.OPS), nb101_space.MAX_VERTICES, nb101_space.MAX_EDGES)

    def _graph(self, adj: np.ndarray, ops: np.ndarray) -> CellGraph:
        """The cell of `adj` whose interior node v has operation index `ops[v]` (entries 0 and -1 unread)."""
        labels = ops + _FIRST_OP
        labels[0], labels[-1] = self.graph_ops.index("input"), self.graph_ops.index("output")
        return CellGraph(adj, labels, self.graph_ops)


@dataclass
class Nb101EdgeSpace(_Nb101Decoder):
    """NB101, one decision per edge (version 2's decoder, kept as the variant
    `nb101_decoder="per-edge"`): for nodes 1..6 of a 7-node DAG, the operation (interior nodes), then one
    yes/no decision per incoming edge from every earlier node; node 6 is the output. 26 decisions per cell.

    Masks keep every decoded cell valid: an edge may leave only a node already reachable from the
    input (so a cell is always connected; nodes left unreachable are pruned away by the benchmark), the
    edges into interior nodes are at most 8 and all edges at most 9, and the output must take an edge
    from the last reachable node if it has none yet. A pruned cell with n < 7 nodes is spelled with its
    nodes first, the output last and the unused nodes in between (no edges, first operation).
    """

    steps: tuple[tuple[int, int, int], ...] = field(init=False)  # (kind, node, source or -1 for an op)
    _edge_step: dict[tuple[int, int], int] = field(init=False)  # (source, node) -> its decision's step

    def __post_init__(self) -> None:
        out = self.n_nodes - 1
        self.steps = tuple(
            step
            for j in range(1, self.n_nodes)
            for step in ([(_OP, j, -1)] if j < out else []) + [(_EDGE, j, i) for i in range(j)]
        )
        self._edge_step = {(i, j): t for t, (kind, j, i) in enumerate(self.steps) if kind == _EDGE}

    @property
    def kinds(self) -> tuple[int, ...]:
        return (self.n_ops, 2)

    @property
    def step_kind(self) -> tuple[int, ...]:
        return tuple(kind for kind, _, _ in self.steps)

    def _reachable(self, prefix: np.ndarray, upto: int) -> np.ndarray:
        """[B, upto] whether each node < upto is reachable from the input, from decided edges."""
        reach = np.zeros((prefix.shape[0], upto), dtype=bool)
        reach[:, 0] = True
        for v in range(1, upto):
            for i in range(v):
                reach[:, v] |= reach[:, i] & (prefix[:, self._edge_step[i, v]] == 1)
        return reach

    def masks(self, step: int, prefix: np.ndarray) -> np.ndarray:
        kind, j, i = self.steps[step]
        if kind == _OP:
            return _all_allowed(prefix, self.n_ops)
        out = self.n_nodes - 1
        decided = [t for t in range(step) if self.steps[t][0] == _EDGE]
        n_edges = prefix[:, decided].sum(1) if decided else np.zeros(len(prefix), dtype=np.int64)
        reach = self._reachable(prefix, j)
        # Edges into interior nodes stop at max_edges - 1: the output always needs one more.
        room = n_edges < (self.max_edges if j == out else self.max_edges - 1)
        mask = np.ones((len(prefix), 2), dtype=bool)
        mask[:, 1] = reach[:, i] & room
        if j == out:
            into_out = [self._edge_step[s, out] for s in range(i)]
            has_input = (prefix[:, into_out] == 1).any(1) if into_out else np.zeros(len(prefix), dtype=bool)
            last_reachable = reach[:, i] & ~reach[:, i + 1 : out].any(1)
            mask[:, 0] &= ~(last_reachable & ~has_input)
        return mask

    def to_graph(self, actions: np.ndarray) -> CellGraph:
        n = self.n_nodes
        adj = np.zeros((n, n), dtype=np.uint8)
        ops = np.zeros(n, dtype=np.int64)
        for (kind, j, i), a in zip(self.steps, actions, strict=True):
            if kind == _OP:
                ops[j] = int(a)
            else:
                adj[i, j] = int(a)
        return self._graph(adj, ops)

    def to_actions(self, graph: CellGraph) -> np.ndarray:
        ops, adj = _nb101_slots(graph, self.n_nodes)
        return np.array([ops[j] if kind == _OP else adj[i, j] for kind, j, i in self.steps], dtype=np.int64)


def _nb101_slots(graph: CellGraph, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Operation indices [n_nodes] and adjacency of a pruned NB101 cell of n <= n_nodes nodes, spelled
    with its nodes first, the output last and the unused nodes in between (no edges, first operation)."""
    n = len(graph.ops)
    slot = np.array([v if v < n - 1 else n_nodes - 1 for v in range(n)])  # output goes last
    adj = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    ops = np.zeros(n_nodes, dtype=np.int64)
    ops[slot[1 : n - 1]] = np.asarray(graph.ops[1 : n - 1], dtype=np.int64) - _FIRST_OP
    rows, cols = np.nonzero(graph.adjacency)
    adj[slot[rows], slot[cols]] = 1
    return ops, adj


@dataclass
class Nb101NodeSpace(_Nb101Decoder):
    """NB101, one decision per node (the default, `nb101_decoder="per-node"`): for each interior node
    1..5 of a 7-node DAG, its operation and the set of its incoming edges as one joint choice
    (operation x 64 + subset; bit i of the subset: an edge from node i), then the output's (node 6) set
    of incoming edges. 6 decisions per cell where the per-edge decoder takes 26: the GRU runs 6 steps,
    and a node's operation and inputs are drawn from one exact joint distribution.

    The masks allow the same cells as the per-edge decoder's: inputs only from nodes reachable from the
    input, at most 8 edges into interior nodes and 9 in all, at least one edge into the output.
    """

    _popcount: np.ndarray = field(init=False)  # edges in each subset
    _subsets: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self._subsets = np.arange(2 ** (self.n_nodes - 1))
        self._popcount = np.array([bin(s).count("1") for s in self._subsets])

    @property
    def kinds(self) -> tuple[int, ...]:
        return (self.n_ops * len(self._subsets), len(self._subsets))

    @property
    def step_kind(self) -> tuple[int, ...]:
        return (0,) * (self.n_nodes - 2) + (1,)

    def masks(self, step: int, prefix: np.ndarray) -> np.ndarray:
        j, out, width = step + 1, self.n_nodes - 1, len(self._subsets)
        chosen = prefix % width
        reachable = np.ones(len(prefix), dtype=np.int64)  # bit v: node v is reachable from the input
        for v in range(1, j):
            reachable |= (chosen[:, v - 1] != 0).astype(np.int64) << v  # its inputs are all reachable
        n_edges = self._popcount[chosen].sum(1)
        # Edges into interior nodes stop at max_edges - 1: the output always needs one more.
        room = (self.max_edges if j == out else self.max_edges - 1) - n_edges
        subsets = self._subsets[None, :]
        mask = (subsets < 2**j) & (subsets & ~reachable[:, None] == 0) & (self._popcount[None, :] <= room[:, None])
        if j == out:
            mask[:, 0] = False  # the output needs an input
            return mask
        return np.tile(mask, (1, self.n_ops))  # any operation with any allowed subset

    def to_graph(self, actions: np.ndarray) -> CellGraph:
        n, width = self.n_nodes, len(self._subsets)
        adj = np.zeros((n, n), dtype=np.uint8)
        ops = np.zeros(n, dtype=np.int64)
        bits = 1 << np.arange(n)
        for j, a in enumerate(np.asarray(actions, dtype=np.int64), start=1):
            if j < n - 1:
                ops[j] = a // width
            adj[:, j] = (a % width & bits) != 0
        return self._graph(adj, ops)

    def to_actions(self, graph: CellGraph) -> np.ndarray:
        ops, adj = _nb101_slots(graph, self.n_nodes)
        bits = 1 << np.arange(self.n_nodes)
        subsets = bits @ adj[:, 1:]
        width = len(self._subsets)
        return np.concatenate([ops[1:-1] * width + subsets[:-1], subsets[-1:]])


@dataclass
class Nb301Space:
    """NB301 (DARTS): for the normal then the reduction cell, per intermediate node k = 2..5, two
    distinct inputs a < b from the nodes before k, each followed by the operation on its edge.

    The graph is the benchmark's 22-node layout (suite/benchmarks/darts_space.py): per cell, nodes
    0-1 the cell inputs, 2..9 one node per edge (two per intermediate node, in node order), 10 the
    output; an edge-node reads a cell input directly, or both edge-nodes of an intermediate node.
    The normal cell's output feeds both inputs of the reduction cell.
    """

    graph_ops: tuple[str, ...]
    n_ops: int
    nodes: tuple[int, ...]
    n_cells: int
    benchmark: SearchSpace[Any]

    @classmethod
    def build(cls, benchmark: SearchSpace[Any]) -> Nb301Space:
        from suite.benchmarks import darts_space

        return cls(darts_space.GRAPH_OPS, len(darts_space.OPS), darts_space.NODES, len(darts_space.CELLS),
                   benchmark)

    @property
    def cell_nodes(self) -> int:
        return 2 + 2 * len(self.nodes) + 1

    @property
    def kinds(self) -> tuple[int, ...]:
        return (max(self.nodes), self.n_ops)

    @property
    def step_kind(self) -> tuple[int, ...]:
        return (_INPUT, 1, _INPUT, 1) * (len(self.nodes) * self.n_cells)

    def masks(self, step: int, prefix: np.ndarray) -> np.ndarray:
        width = self.kinds[self.step_kind[step]]
        if self.step_kind[step] != _INPUT:
            return _all_allowed(prefix, width)
        k = self.nodes[(step // 4) % len(self.nodes)]
        choices = np.arange(width)[None, :]
        if step % 4 == 0:  # first input: leave room for a larger second one
            return np.repeat(choices < k - 1, len(prefix), axis=0)
        first = prefix[:, step - 2][:, None]
        return (choices > first) & (choices < k)

    def _edge_node(self, base: int, k: int) -> int:
        return base + 2 + 2 * (k - 2)

    def to_graph(self, actions: np.ndarray) -> CellGraph:
        size = self.cell_nodes
        adj = np.zeros((self.n_cells * size, self.n_cells * size), dtype=np.uint8)
        ops = np.zeros(self.n_cells * size, dtype=np.int64)
        decisions = np.asarray(actions).reshape(self.n_cells, 2 * len(self.nodes), 2)  # (input, op) per edge
        for c in range(self.n_cells):
            base, out = c * size, c * size + size - 1
            ops[base : base + 2] = self.graph_ops.index("input")
            ops[out] = self.graph_ops.index("output")
            for e, (src, op) in enumerate(decisions[c]):
                node = base + 2 + e
                ops[node] = 2 + c * self.n_ops + int(op)  # labels: input, output, normal ops, reduce ops
                if src < 2:
                    adj[base + src, node] = 1
                else:
                    first = self._edge_node(base, int(src))
                    adj[first : first + 2, node] = 1
                adj[node, out] = 1
            if c > 0:
                adj[base - 1, base : base + 2] = 1  # the previous cell's output feeds this cell's inputs
        return CellGraph(adj, ops, self.graph_ops)

    def to_actions(self, graph: CellGraph) -> np.ndarray:
        arch = self.benchmark.from_graph(graph)  # canonical: each node's two inputs in increasing order
        return np.array([v for cell in arch for pair in cell for v in pair], dtype=np.int64)


NB101_DECODERS: dict[str, Callable[[SearchSpace[Any]], CellSpace]] = {
    "per-node": Nb101NodeSpace.build,
    "per-edge": Nb101EdgeSpace.build,
}
assert tuple(NB101_DECODERS) == NB101_DECODER_NAMES

_ADAPTERS: dict[str, Callable[[SearchSpace[Any], str], CellSpace]] = {
    "nb201": lambda benchmark, _: Nb201Space.build(benchmark),
    "nb101": lambda benchmark, nb101_decoder: NB101_DECODERS[nb101_decoder](benchmark),
    "nb301": lambda benchmark, _: Nb301Space.build(benchmark),
}


def for_benchmark(benchmark: SearchSpace[Any], nb101_decoder: str = "per-node") -> CellSpace:
    family = benchmark.name.split("-")[0]
    try:
        build = _ADAPTERS[family]
    except KeyError:
        raise NasreproError(
            f"GA-NAS has no decoder for {benchmark.name}; it decodes {', '.join(sorted(_ADAPTERS))}"
        ) from None
    return build(benchmark, nb101_decoder)


def decode(space: CellSpace, benchmark: SearchSpace[A], actions: np.ndarray) -> A | None:
    """The architecture a decision sequence spells, or None when it is outside the space."""
    try:
        return benchmark.from_graph(space.to_graph(actions))
    except InvalidArchitecture:
        return None
