"""Fixed-length vector encodings of cells, computed from `benchmark.graph(arch)` alone.

Two encodings, as compared by White et al. (2020, "A Study on Encodings for Neural Architecture
Search") and used by BANANAS (White et al., AAAI 2021):

- `adjacency`: the flattened strict upper triangle of the adjacency matrix, then a one-hot op vector
  per node, both padded to the largest cell of the space. A smaller cell keeps its last node (the
  output) in the last slot, so "the output's op / the edges into the output" are the same features
  in every cell.
- `path`: one bit per possible input->output path, labelled by the sequence of ops on its
  intermediate nodes (a path is present or not; two routes with the same labels are one path).

Both are defined per space, never from the data, so an encoding of a cell is the same in every run:
the op vocabulary is the CellGraph's `op_names`, and the path vocabulary is every op sequence of
length 0..`max_path_ops` over the ops that can sit on a path, ordered by length and then
lexicographically by op index (the first op most significant). Ops named `none`/`zero` output zeros,
so no signal flows along a path through them: such paths are not paths (naszilla's NB201 code keeps
`none` as a label; we follow the definition of a path in the BANANAS paper instead).

Truncation: BANANAS truncates the path encoding of large spaces to its shortest paths, which are also
the most frequent ones in random cells (each extra op divides a path's chance by the vocabulary size;
paths of one length are equally likely under uniform ops, so we cut between lengths, never inside
one). We keep every path of at most L ops for the largest L whose paths number at most `max_paths`
(default `DEFAULT_MAX_PATHS`); longer paths are dropped. NB201 (4 ops, paths of at most 3 ops: 85 paths)
and NB101 (3 ops, at most 5: 364 paths) are not truncated; NB301 (14 ops, the normal and reduction cell's
7 each) keeps its paths of at most 3 ops (2,955 of them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from suite.benchmarks.base import Arch, CellGraph
from suite.errors import InvalidArchitecture, NasreproError

NO_SIGNAL_OPS = frozenset({"none", "zero"})
DEFAULT_MAX_PATHS = 4096
# Cells drawn (with a fixed local generator, so the result is a property of the space) to learn a
# space's op vocabulary and topology when the benchmark does not declare them.
PROBE_CELLS = 256
PROBE_SEED = 0


class GraphSpace(Protocol):
    """What an encoding needs of a benchmark: cells and their graphs (optionally `max_nodes`)."""

    def sample(self, rng: np.random.Generator) -> Arch: ...
    def graph(self, arch: Arch) -> CellGraph: ...


@dataclass(frozen=True)
class CellSpace:
    """The shape of a space's cell graphs: op vocabulary, largest cell, longest input->output path."""

    op_names: tuple[str, ...]
    max_nodes: int
    max_path_ops: int  # most intermediate nodes on one input->output path

    @property
    def input_ops(self) -> frozenset[int]:
        return frozenset(i for i, name in enumerate(self.op_names) if name.startswith("input"))

    @property
    def output_ops(self) -> frozenset[int]:
        return frozenset(i for i, name in enumerate(self.op_names) if name.startswith("output"))

    @property
    def path_ops(self) -> tuple[int, ...]:
        """Indices into `op_names` of the ops that can label a path, in vocabulary order."""
        skip = self.input_ops | self.output_ops
        return tuple(
            i for i, name in enumerate(self.op_names) if i not in skip and name not in NO_SIGNAL_OPS
        )


def cell_space(benchmark: GraphSpace) -> CellSpace:
    """The CellSpace of a benchmark, from the graphs of a fixed probe sample of its cells.

    A fixed-topology space (NB201: every cell has the same DAG) gets its exact longest path. A space
    whose topology varies (NB101) should declare `max_nodes`; otherwise the largest probed cell is
    used (deterministic, as the probe generator is fixed), and any longer cell met later raises.
    """
    rng = np.random.default_rng(PROBE_SEED)
    graphs = [benchmark.graph(benchmark.sample(rng)) for _ in range(PROBE_CELLS)]
    op_names = graphs[0].op_names
    if any(g.op_names != op_names for g in graphs):
        raise NasreproError("cells of one space disagree on their op vocabulary (CellGraph.op_names)")
    first = graphs[0].adjacency
    if all(g.adjacency.shape == first.shape and np.array_equal(g.adjacency, first) for g in graphs):
        space = CellSpace(op_names, len(first), 0)
        return CellSpace(op_names, len(first), _longest_path_ops(graphs[0], space))
    max_nodes = getattr(benchmark, "max_nodes", None) or max(len(g.ops) for g in graphs)
    return CellSpace(op_names, int(max_nodes), int(max_nodes) - 2)


def _endpoints(graph: CellGraph, space: CellSpace) -> tuple[list[int], set[int]]:
    """Input nodes (by op name, else the sources) and output nodes (by op name, else the sinks)."""
    ops = graph.ops.tolist()
    adj = graph.adjacency
    inputs = [i for i, op in enumerate(ops) if op in space.input_ops]
    outputs = {i for i, op in enumerate(ops) if op in space.output_ops}
    if not inputs:
        inputs = [i for i in range(len(ops)) if not adj[:, i].any()]
    if not outputs:
        outputs = {i for i in range(len(ops)) if not adj[i].any()}
    return inputs, outputs


def graph_paths(graph: CellGraph, space: CellSpace) -> set[tuple[int, ...]]:
    """All input->output paths of a cell as tuples of op indices (into `op_names`) of their inner nodes."""
    inputs, outputs = _endpoints(graph, space)
    blocked = {i for i, name in enumerate(space.op_names) if name in NO_SIGNAL_OPS}
    ops = graph.ops.tolist()
    successors = [np.flatnonzero(row).tolist() for row in graph.adjacency]
    paths: set[tuple[int, ...]] = set()

    def walk(node: int, labels: tuple[int, ...]) -> None:
        for nxt in successors[node]:
            if nxt in outputs:
                paths.add(labels)
            elif ops[nxt] not in blocked and ops[nxt] not in space.input_ops:
                walk(nxt, (*labels, ops[nxt]))

    for start in inputs:
        walk(start, ())
    return paths


def _longest_path_ops(graph: CellGraph, space: CellSpace) -> int:
    # Topology only: count every intermediate node, whatever its op.
    inputs, outputs = _endpoints(graph, space)
    successors = [np.flatnonzero(row).tolist() for row in graph.adjacency]
    longest = {}

    def depth(node: int) -> int:  # inner nodes on the longest path from node's successors to an output
        if node not in longest:
            tails = [0 if nxt in outputs else 1 + depth(nxt) for nxt in successors[node]]
            longest[node] = max(tails, default=-1)
        return longest[node]

    return max(depth(i) for i in inputs)


class Encoding(Protocol):
    name: str
    dim: int
    space: CellSpace  # the shape of the cell graphs it encodes

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        """float32 array [len(archs), dim]."""
        ...


class _Cached:
    """Memoizes per-cell vectors (cells are hashable), as BANANAS re-encodes the same cells every round."""

    name: str
    dim: int

    def __init__(self, benchmark: GraphSpace, space: CellSpace) -> None:
        self.benchmark = benchmark
        self.space = space
        self._cache: dict[Arch, np.ndarray] = {}

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        out = np.empty((len(archs), self.dim), dtype=np.float32)
        for row, arch in enumerate(archs):
            vec = self._cache.get(arch)
            if vec is None:
                vec = self._cache[arch] = self.encode_graph(self.benchmark.graph(arch))
            out[row] = vec
        return out

    def encode_graph(self, graph: CellGraph) -> np.ndarray:
        raise NotImplementedError


class AdjacencyEncoding(_Cached):
    name = "adjacency"

    def __init__(self, benchmark: GraphSpace, space: CellSpace) -> None:
        super().__init__(benchmark, space)
        n = space.max_nodes
        self._triu = np.triu_indices(n, k=1)
        self.dim = len(self._triu[0]) + n * len(space.op_names)

    def encode_graph(self, graph: CellGraph) -> np.ndarray:
        n, k = self.space.max_nodes, len(graph.ops)
        if k > n:
            raise InvalidArchitecture(f"a cell with {k} nodes, more than the space's {n}")
        slots = np.r_[np.arange(k - 1), n - 1]  # the last node keeps the last slot
        adj = np.zeros((n, n), dtype=np.float32)
        adj[np.ix_(slots, slots)] = graph.adjacency
        onehot = np.zeros((n, len(self.space.op_names)), dtype=np.float32)
        onehot[slots, graph.ops] = 1
        return np.concatenate([adj[self._triu], onehot.ravel()])


class PathEncoding(_Cached):
    name = "path"

    def __init__(self, benchmark: GraphSpace, space: CellSpace, max_paths: int = DEFAULT_MAX_PATHS) -> None:
        super().__init__(benchmark, space)
        if max_paths < 1:
            raise NasreproError(f"max_paths must be at least 1, not {max_paths}")
        self._code = {op: code for code, op in enumerate(space.path_ops)}
        n = len(space.path_ops)
        # offsets[L]: paths of fewer than L ops; Python ints, as 14**20 overflows int64
        self._offsets = [0]
        for length in range(space.max_path_ops + 1):
            self._offsets.append(self._offsets[-1] + n**length)
        self.full_dim = self._offsets[-1]
        self.max_len = max(length for length in range(space.max_path_ops + 1) if self._offsets[length + 1] <= max_paths)
        self.dim = self._offsets[self.max_len + 1]

    def path_index(self, path: tuple[int, ...]) -> int:
        """Position of a path (op indices into `op_names`) in the vocabulary; beyond `dim` if truncated away."""
        if len(path) > self.space.max_path_ops:
            raise InvalidArchitecture(
                f"a path of {len(path)} ops, longer than the space's longest ({self.space.max_path_ops}); "
                "declare the space's max_nodes"
            )
        index = 0
        for op in path:
            index = index * len(self._code) + self._code[op]
        return self._offsets[len(path)] + index

    def vocabulary(self) -> list[tuple[str, ...]]:
        """Labels of the encoded paths, in encoding order (for reading encodings and for tests)."""
        names = [self.space.op_names[op] for op in self.space.path_ops]
        return [
            tuple(names[c] for c in codes)
            for length in range(self.max_len + 1)
            for codes in np.ndindex(*(len(names),) * length)
        ]

    def encode_graph(self, graph: CellGraph) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for path in graph_paths(graph, self.space):
            index = self.path_index(path)  # checks the length against the space first
            if len(path) <= self.max_len:
                vec[index] = 1
        return vec


ENCODINGS: dict[str, Callable[[GraphSpace, CellSpace], Encoding]] = {
    "adjacency": AdjacencyEncoding,
    "path": PathEncoding,
}


def make_encoding(name: str, benchmark: GraphSpace, space: CellSpace | None = None) -> Encoding:
    try:
        factory = ENCODINGS[name]
    except KeyError:
        raise NasreproError(f"unknown encoding {name!r}; known: {', '.join(sorted(ENCODINGS))}") from None
    return factory(benchmark, space or cell_space(benchmark))


# ------------------------------------------------------------------------------ batch encodings
# Whole tables of cells at once (the NB101 surrogate encodes all 423,624 cells), as arrays in the
# padded layout: `adj` [N, V, V] 0/1 with the input at vertex 0 and the output at vertex V-1, `ops`
# [N, V] with, on interior vertices, the op's index among the `n_ops` path ops, or -1 on an unused
# vertex (the entries of the input and output are ignored). Pure numpy over the arrays, no per-cell
# Python. A benchmark's learned oracle may use these
# (DESIGN.md, "Dependencies"), so they depend on nothing but numpy.
def path_offsets(n_ops: int, max_len: int) -> list[int]:
    """offsets[L]: how many paths have fewer than L ops (the first index of the paths of L ops)."""
    offsets = [0]
    for length in range(max_len + 1):
        offsets.append(offsets[-1] + n_ops**length)
    return offsets


def path_counts_batch(adj: np.ndarray, ops: np.ndarray, n_ops: int, max_len: int, *,
                      first_op_major: bool = True) -> np.ndarray:
    """float32 [N, n_paths]: how many input->output paths of each cell carry each op sequence.

    Index of a sequence of L ops: offsets[L] + its base-`n_ops` number, the first op the most
    significant digit (`PathEncoding`'s order) or, with `first_op_major=False`, the least; paths of
    more than `max_len` ops are dropped. A path of the padded layout is a set of interior vertices
    (visited in increasing order, as the matrix is upper-triangular): all 2^(V-2) of them are checked
    at once against every cell's edges, then counted by their label sequence."""
    n_cells, n_vertices = ops.shape
    offsets = path_offsets(n_ops, max_len)
    dim = offsets[-1]
    adj = adj.astype(bool)
    found = []  # flat (cell, sequence) index of every path of every cell
    for size in range(min(n_vertices - 2, max_len) + 1):
        for inner in itertools.combinations(range(1, n_vertices - 1), size):
            chain = (0, *inner, n_vertices - 1)
            present = np.logical_and.reduce([adj[:, a, b] for a, b in itertools.pairwise(chain)])
            cells = np.flatnonzero(present)
            if not len(cells):
                continue
            digits = [ops[cells, v] for v in inner]
            index = np.zeros(len(cells), dtype=np.int64)
            for digit in (digits if first_op_major else digits[::-1]):
                index = index * n_ops + digit
            found.append(cells * dim + offsets[size] + index)
    flat = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=n_cells * dim).reshape(n_cells, dim).astype(np.float32)


def adjacency_batch(adj: np.ndarray, ops: np.ndarray, n_ops: int) -> np.ndarray:
    """float32 [N, V(V-1)/2 + (V-2) n_ops]: the strict upper triangle of the padded matrix, then a
    one-hot op per interior vertex (an unused vertex has none). The batch form of the usual encoding,
    without `AdjacencyEncoding`'s one-hot of the input and output, which is the same in every cell."""
    n_vertices = ops.shape[1]
    iu = np.triu_indices(n_vertices, 1)
    interior = ops[:, 1:-1]
    onehot = np.stack([interior == k for k in range(n_ops)], axis=2).reshape(len(ops), -1)
    return np.concatenate([adj[:, iu[0], iu[1]], onehot], axis=1).astype(np.float32)


def cell_statistics_batch(adj: np.ndarray, ops: np.ndarray, n_ops: int, paths: np.ndarray,
                          max_len: int) -> np.ndarray:
    """float32 [N, 6 + n_ops]: vertices, edges, count of each op, paths, ops on the longest path,
    edges out of the input, edges into the output; `paths` from `path_counts_batch`."""
    lengths = np.concatenate([[length] * n_ops**length for length in range(max_len + 1)])
    longest = np.where(paths > 0, lengths[None, :], -1).max(axis=1)
    return np.stack([
        (ops[:, 1:-1] >= 0).sum(axis=1) + 2, adj.sum(axis=(1, 2)),
        *((ops[:, 1:-1] == k).sum(axis=1) for k in range(n_ops)),
        paths.sum(axis=1), longest, adj[:, 0, :].sum(axis=1), adj[:, :, -1].sum(axis=1),
    ], axis=1).astype(np.float32)
