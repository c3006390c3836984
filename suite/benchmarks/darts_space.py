"""The DARTS cell space of NAS-Bench-301 (Liu et al., 2019; Siems et al., 2020), without an oracle.

An architecture is a normal and a reduction cell. Each cell has two inputs (0 = c_{k-2}, 1 = c_{k-1})
and four intermediate nodes 2..5; node k sums two operations applied to two distinct earlier nodes
(inputs from 0..k-1), and the cell output concatenates nodes 2..5.

Representation: NASLib's compact encoding in canonical order,
`((normal edges), (reduce edges))`, each cell 8 `(input, op)` pairs of ints, two per node (node 2
first), `op` indexing `OPS`. Canonical means the two pairs of a node are sorted by input: a node's
two inputs are unordered (summing is commutative), so every cell has exactly one canonical form.
Functions here accept any order (and lists, numpy ints) and return canonical tuples.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any

import numpy as np

from suite.benchmarks.base import CellGraph
from suite.errors import InvalidArchitecture

OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
       "dil_conv_5x5")  # NB301 / NASLib compact order
SHORT = ("max3", "avg3", "skip", "sep3", "sep5", "dil3", "dil5")  # for the readable key
CELLS = ("normal", "reduce")
NODES = (2, 3, 4, 5)
N_EDGES = 2 * len(NODES)

Pair = tuple[int, int]  # (input, op)
Cell = tuple[Pair, ...]
DartsArch = tuple[Cell, Cell]


def _node_table(k: int) -> dict[tuple[Pair, Pair], tuple[Pair, Pair]]:
    # Every valid (first, second) edge pair of node k, in either order -> its canonical order. One dict
    # lookup per node validates and canonicalises at once, which keeps queries cheap.
    table = {}
    for a, b in itertools.combinations(range(k), 2):
        for oa, ob in itertools.product(range(len(OPS)), repeat=2):
            canon = ((a, oa), (b, ob))
            table[canon] = canon
            table[(b, ob), (a, oa)] = canon
    return table


_NODE_TABLES = tuple(_node_table(k) for k in NODES)
_INPUT_PAIRS = tuple(tuple(itertools.combinations(range(k), 2)) for k in NODES)
_N_INPUT_PAIRS = np.array([len(p) for p in _INPUT_PAIRS] * 2)


def input_pairs(k: int) -> tuple[tuple[int, int], ...]:
    """The unordered input pairs node k may take, as (smaller, larger)."""
    return _INPUT_PAIRS[k - NODES[0]]


def _explain(arch: Any) -> str:
    """Why `arch` is not a DARTS cell pair (the slow path, run only after the fast check failed)."""
    try:
        cells = [[tuple(pair) for pair in cell] for cell in arch]
    except TypeError:
        return "expected two cells of 8 (input, op) pairs"
    if len(cells) != 2 or any(len(cell) != N_EDGES for cell in cells):
        return "expected two cells (normal, reduce) of 8 (input, op) pairs each, two per node 2..5"
    for name, cell in zip(CELLS, cells, strict=True):
        for n, k in enumerate(NODES):
            pairs = cell[2 * n : 2 * n + 2]
            for pair in pairs:
                if len(pair) != 2 or not all(isinstance(v, int | np.integer) for v in pair):
                    return f"{name} node {k}: {pair!r} is not an (input, op) pair of ints"
                src, op = pair
                if not 0 <= op < len(OPS):
                    return f"{name} node {k}: op {op} is not one of 0..{len(OPS) - 1} ({', '.join(OPS)})"
                if not 0 <= src < k:
                    return f"{name} node {k}: input {src} is not an earlier node (0..{k - 1})"
            if pairs[0][0] == pairs[1][0]:
                return f"{name} node {k}: takes input {pairs[0][0]} twice; a node needs two distinct inputs"
    return "not a DARTS cell pair"


def canonical(arch: Any) -> DartsArch:
    """The canonical form of a cell pair, or `InvalidArchitecture` saying what is wrong with it."""
    try:
        cells = []
        for cell in arch:
            nodes = [_NODE_TABLES[n][cell[2 * n], cell[2 * n + 1]] for n in range(len(NODES))]
            if len(cell) != N_EDGES:
                raise ValueError
            cells.append(tuple(pair for node in nodes for pair in node))
        if len(cells) != 2:
            raise ValueError
    except (KeyError, TypeError, ValueError, IndexError):
        try:  # lists and arrays are unhashable; a tuple copy may still be a valid cell pair (no floats)
            as_tuples = tuple(tuple(tuple(operator.index(v) for v in pair) for pair in cell) for cell in arch)
        except (TypeError, ValueError):
            as_tuples = None
        if as_tuples is not None and as_tuples != arch:
            return canonical(as_tuples)
        raise InvalidArchitecture(f"not an NB301 (DARTS) architecture: {_explain(arch)}") from None
    return cells[0], cells[1]


def sample(rng: np.random.Generator) -> DartsArch:
    """Uniform over cell pairs: each node an unordered pair of distinct inputs and two ops, all uniform."""
    pair_index = rng.integers(_N_INPUT_PAIRS)
    ops = rng.integers(len(OPS), size=2 * N_EDGES)
    cells = []
    for c in range(2):
        cell = []
        for n in range(len(NODES)):
            a, b = _INPUT_PAIRS[n][pair_index[c * len(NODES) + n]]
            e = c * N_EDGES + 2 * n
            cell += [(a, int(ops[e])), (b, int(ops[e + 1]))]
        cells.append(tuple(cell))
    return cells[0], cells[1]


def _replace(arch: DartsArch, c: int, e: int, pair: Pair) -> DartsArch:
    cells = [list(arch[0]), list(arch[1])]
    cells[c][e] = pair
    return canonical(cells)


def _other_inputs(cell: Cell, e: int) -> list[int]:
    """Inputs edge `e` may switch to: earlier nodes other than its own and its sibling's input."""
    k = NODES[e // 2]
    taken = {cell[e][0], cell[e ^ 1][0]}
    return [src for src in range(k) if src not in taken]


def mutate(arch: Any, rng: np.random.Generator) -> DartsArch:
    """One op or one input changed, as in BANANAS/NASLib for this space.

    A uniform cell and edge; with probability 1/2 the edge's op becomes a different op, otherwise its
    input a different valid input. Unlike BANANAS/NASLib, which may redraw the current op or input and
    then return the parent unchanged, this always changes the cell; node 2 has no other input to take,
    so an input change drawn there changes the op instead.
    """
    arch = canonical(arch)
    c, e, change_input = (int(v) for v in rng.integers((2, N_EDGES, 2)))
    src, op = arch[c][e]
    alternatives = _other_inputs(arch[c], e)
    if change_input and alternatives:
        return _replace(arch, c, e, (alternatives[int(rng.integers(len(alternatives)))], op))
    new_op = int(rng.integers(len(OPS) - 1))
    return _replace(arch, c, e, (src, new_op + (new_op >= op)))


def neighbors(arch: Any) -> list[DartsArch]:
    """All 120 one-edit neighbours: 96 op changes and 24 input changes, all distinct."""
    arch = canonical(arch)
    out = []
    for c, cell in enumerate(arch):
        for e, (src, op) in enumerate(cell):
            out += [_replace(arch, c, e, (src, o)) for o in range(len(OPS)) if o != op]
            out += [_replace(arch, c, e, (s, op)) for s in _other_inputs(cell, e)]
    return out


def edit_distance(a: Any, b: Any) -> int:
    """The number of edges (input, op) of one cell pair not found at the same node of the other."""
    a, b = canonical(a), canonical(b)
    return sum(
        2 - len(set(ca[e : e + 2]) & set(cb[e : e + 2]))
        for ca, cb in zip(a, b, strict=True)
        for e in range(0, N_EDGES, 2)
    )


def to_key(arch: Any) -> str:
    """Readable canonical id, e.g. `normal:sep3~0,sep3~1|...;reduce:max3~0,max3~1|...`."""
    arch = canonical(arch)
    return ";".join(
        f"{name}:" + "|".join(
            ",".join(f"{SHORT[op]}~{src}" for src, op in cell[e : e + 2]) for e in range(0, N_EDGES, 2)
        )
        for name, cell in zip(CELLS, arch, strict=True)
    )


def from_key(text: str) -> DartsArch:
    try:
        cells = []
        for name, part in zip(CELLS, text.split(";"), strict=True):
            label, body = part.split(":")
            if label != name:
                raise ValueError
            pairs = [tok.split("~") for node in body.split("|") for tok in node.split(",")]
            cells.append([(int(src), SHORT.index(op)) for op, src in pairs])
    except ValueError:
        raise InvalidArchitecture(f"not an NB301 architecture key: {text!r}") from None
    return canonical(cells)


# --- The cell graph --------------------------------------------------------------------------------
# Ops live on edges in DARTS; as for NB201, each edge becomes a node carrying its op. Per cell 11 nodes:
# 0, 1 the cell inputs, 2..9 the 8 edges in canonical order (node k's two edges at 2 + 2(k-2) and next),
# 10 the output. An edge-node reads its input node directly (0 or 1) or both edge-nodes of its input
# intermediate node (whose value is their sum); all edge-nodes feed the output (DARTS concatenates nodes
# 2..5). Both cells form one DAG of 22 nodes, the normal output feeding both reduction inputs as in the
# network, and their ops have separate labels, `normal:<op>` and `reduce:<op>`: with shared labels a
# GNN could not tell the two cells apart. A generator decodes, per cell and node, two distinct inputs
# (the predecessor sets of the node's two edge-nodes) and their ops (the edge-nodes' labels).
CELL_NODES = 2 + N_EDGES + 1
GRAPH_OPS = ("input", "output", *(f"{cell}:{op}" for cell in CELLS for op in OPS))
_INPUT_LABEL, _OUTPUT_LABEL, _FIRST_OP_LABEL = 0, 1, 2


def _edge_node(base: int, k: int) -> int:
    return base + 2 + 2 * (k - 2)


def _adjacency(inputs: list[list[int]]) -> np.ndarray:
    """Adjacency of the 22-node graph for the inputs of each cell's 8 edges, in graph order."""
    n = 2 * CELL_NODES
    adj = np.zeros((n, n), dtype=np.uint8)
    for c, cell_inputs in enumerate(inputs):
        base = c * CELL_NODES
        for e, src in enumerate(cell_inputs):
            node = base + 2 + e
            if src < 2:
                adj[base + src, node] = 1
            else:
                first = _edge_node(base, src)
                adj[first : first + 2, node] = 1
            adj[node, base + CELL_NODES - 1] = 1
    adj[CELL_NODES - 1, CELL_NODES : CELL_NODES + 2] = 1
    return adj


def to_graph(arch: Any) -> CellGraph:
    arch = canonical(arch)
    ops = []
    for c, cell in enumerate(arch):
        offset = _FIRST_OP_LABEL + c * len(OPS)
        ops += [_INPUT_LABEL, _INPUT_LABEL, *(offset + op for _, op in cell), _OUTPUT_LABEL]
    adjacency = _adjacency([[src for src, _ in cell] for cell in arch])
    return CellGraph(adjacency, np.array(ops, dtype=np.int64), GRAPH_OPS)


def from_graph(graph: CellGraph) -> DartsArch:
    """The cell pair of a graph in the `to_graph` layout (either order within a node), else refused."""
    n = 2 * CELL_NODES
    adj = np.asarray(graph.adjacency)
    ops = np.asarray(graph.ops)
    if graph.op_names != GRAPH_OPS or adj.shape != (n, n) or ops.shape != (n,):
        raise InvalidArchitecture(f"not an NB301 cell graph: expected {n} nodes labelled from GRAPH_OPS")
    cells, inputs = [], []
    for c in range(2):
        base = c * CELL_NODES
        first_label = _FIRST_OP_LABEL + c * len(OPS)
        fixed = [ops[base], ops[base + 1], ops[base + CELL_NODES - 1]]
        if fixed != [_INPUT_LABEL, _INPUT_LABEL, _OUTPUT_LABEL]:
            raise InvalidArchitecture(f"NB301 cell graph: {CELLS[c]} cell inputs/output mislabelled")
        cell, cell_inputs = [], []
        for e in range(N_EDGES):
            node, label = base + 2 + e, int(ops[base + 2 + e])
            if not first_label <= label < first_label + len(OPS):
                raise InvalidArchitecture(f"NB301 cell graph: node {node} is not a {CELLS[c]} cell op")
            src = _input_of(np.flatnonzero(adj[base:node, node]).tolist(), NODES[e // 2])
            if src is None:
                raise InvalidArchitecture(f"NB301 cell graph: node {node} does not read one earlier node")
            cell.append((src, label - first_label))
            cell_inputs.append(src)
        cells.append(cell)
        inputs.append(cell_inputs)
    arch = canonical(cells)  # refuses a node whose two edges read the same input
    if not np.array_equal(adj, _adjacency(inputs)):
        raise InvalidArchitecture("NB301 cell graph: edges outside the DARTS cell layout")
    return arch


def _input_of(preds: list[int], k: int) -> int | None:
    """The node (cell input or intermediate) an edge-node of node k reads, from its predecessors."""
    if len(preds) == 1 and preds[0] < 2:
        return preds[0]
    for src in range(2, k):
        if preds == [_edge_node(0, src), _edge_node(0, src) + 1]:
            return src
    return None
