"""Cell encodings: hand-computed path encodings of NB201 cells, padding of variable-size cells."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from predictors import encodings
from predictors.encodings import AdjacencyEncoding, PathEncoding, cell_space, graph_paths, make_encoding
from suite.benchmarks.base import CellGraph
from suite.errors import InvalidArchitecture, NasreproError

# NB201 arch = ops of edges (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2); 0 none, 1 skip, 2 conv1x1, 3 conv3x3, 4 pool.
# Path ops in vocabulary order: skip 0, conv1x1 1, conv3x3 2, pool 3 (none carries no signal).
# Index of a path of length L: 1 + 4 + ... + 4^(L-1) + its base-4 number (first op most significant).
# The four routes of a cell: e30 | e10,e31 | e20,e32 | e10,e21,e32.
HAND = {
    (3, 3, 3, 3, 3, 3): [1 + 2, 5 + 2 * 4 + 2, 21 + 2 * 16 + 2 * 4 + 2],  # [c3], [c3,c3], [c3,c3,c3]
    (1, 1, 1, 1, 1, 1): [1, 5, 21],  # [skip], [skip,skip], [skip,skip,skip]
    (1, 0, 2, 4, 0, 3): [1 + 3, 21 + 0 * 16 + 1 * 4 + 2],  # [pool]; [skip,c1,c3]; e31 and e20 are none
    (2, 3, 4, 1, 3, 0): [1 + 0, 5 + 1 * 4 + 2],  # [skip]; [c1,c3]; every route through e32 is cut
    (0, 0, 0, 0, 0, 0): [],
    (4, 2, 1, 0, 0, 0): [],  # no edge into node 3 carries signal
}


@pytest.fixture
def nb201(nb201_c10):
    return nb201_c10


def test_nb201_space_is_derived_from_graphs(nb201):
    space = cell_space(nb201)
    assert space.max_nodes == 8 and space.max_path_ops == 3
    path_ops = [space.op_names[i] for i in space.path_ops]
    assert path_ops == ["skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    assert make_encoding("path", nb201).dim == 1 + 4 + 16 + 64
    assert make_encoding("adjacency", nb201).dim == 28 + 8 * 7


@pytest.mark.parametrize("arch", list(HAND))
def test_nb201_path_encoding_matches_hand_computed(nb201, arch):
    expected = np.zeros(85, dtype=np.float32)
    expected[HAND[arch]] = 1
    np.testing.assert_array_equal(make_encoding("path", nb201).encode([arch])[0], expected)


def test_path_vocabulary_labels(nb201):
    vocab = make_encoding("path", nb201).vocabulary()
    assert vocab[0] == () and vocab[3] == ("nor_conv_3x3",)
    assert vocab[27] == ("skip_connect", "nor_conv_1x1", "nor_conv_3x3")
    assert len(vocab) == 85 == len(set(vocab))


def test_encodings_are_stable_between_instances(nb201):
    rng = np.random.default_rng(3)
    archs = [nb201.sample(rng) for _ in range(50)]
    for name in ("path", "adjacency"):
        first = make_encoding(name, nb201).encode(archs)
        np.testing.assert_array_equal(first, make_encoding(name, nb201).encode(archs[::-1])[::-1])


class ToySpace:
    """A bare space with graph() only (no benchmark): NB101-like, variable topology, declared max_nodes."""

    op_names = ("input", "output", "conv", "pool")
    max_nodes = 4
    CELLS = {
        "a": (np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]]), [0, 2, 1]),  # in->conv->out, in->out
        "b": (np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]), [0, 2, 3, 1]),
    }

    def sample(self, rng):
        return ["a", "b"][int(rng.integers(2))]

    def graph(self, arch):
        adj, ops = self.CELLS[arch]
        return CellGraph(adj, np.array(ops), self.op_names)


def test_generic_space_paths_and_padding():
    toy = ToySpace()
    space = cell_space(toy)
    assert (space.max_nodes, space.max_path_ops) == (4, 2)
    assert graph_paths(toy.graph("a"), space) == {(), (2,)}
    path = PathEncoding(toy, space)  # ops conv 0, pool 1: () 0, (conv) 1, (pool) 2, then length 2
    np.testing.assert_array_equal(path.encode(["a", "b"]), [[1, 1, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0]])
    adjacency = AdjacencyEncoding(toy, space).encode(["a"])[0]
    # the 3-node cell keeps its output in slot 3: edges (0,1), (0,3), (1,3) of the 4x4 triangle
    np.testing.assert_array_equal(adjacency[:6], [1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(adjacency[6:].reshape(4, 4), [[1, 0, 0, 0], [0, 0, 1, 0], [0] * 4, [0, 1, 0, 0]])


def test_truncation_keeps_whole_lengths_of_the_shortest_paths():
    toy = ToySpace()
    for max_paths, dim in ((2, 1), (3, 3), (6, 3), (7, 7)):  # lengths: 1 path of 0 ops, 2 of 1, 4 of 2
        assert PathEncoding(toy, cell_space(toy), max_paths=max_paths).dim == dim
    path = PathEncoding(toy, cell_space(toy), max_paths=6)
    assert path.full_dim == 7 and path.vocabulary() == [(), ("conv",), ("pool",)]
    np.testing.assert_array_equal(path.encode(["b"])[0], [0, 1, 1])


def test_bad_input_is_a_clear_error(nb201):
    with pytest.raises(NasreproError, match="unknown encoding"):
        make_encoding("onehot", nb201)
    with pytest.raises(InvalidArchitecture):
        make_encoding("path", nb201).encode([(9, 9, 9, 9, 9, 9)])


# ------------------------------------------------------------------------------ batch encodings
def _padded_cell(edges: list[tuple[int, int]], interior: list[int]) -> tuple[np.ndarray, np.ndarray]:
    adj = np.zeros((1, 7, 7), dtype=np.uint8)
    for a, b in edges:
        adj[0, a, b] = 1
    ops = np.full((1, 7), -3, dtype=np.int64)
    ops[0, 0], ops[0, -1] = -1, -2
    ops[0, 1 : 1 + len(interior)] = interior
    return adj, ops


def test_batch_path_counts_hand_computed():
    # input->1 (conv3x3 = 0), 1->2, input->2 (maxpool = 2), 2->output, input->output.
    # Paths: () once, (maxpool) once, (conv3x3, maxpool) once. Offsets: 0, 1, 4, 13, ...
    adj, ops = _padded_cell([(0, 1), (1, 2), (0, 2), (2, 6), (0, 6)], [0, 2])
    expected = np.zeros((1, 364), dtype=np.float32)
    expected[0, [0, 1 + 2, 4 + 0 * 3 + 2]] = 1
    np.testing.assert_array_equal(encodings.path_counts_batch(adj, ops, 3, 5), expected)
    expected[0, 4 + 0 * 3 + 2] = 0
    expected[0, 4 + 0 + 2 * 3] = 1  # first op least significant
    np.testing.assert_array_equal(encodings.path_counts_batch(adj, ops, 3, 5, first_op_major=False), expected)
    # two routes with the same labels count twice: input->1->3->out and input->2->3->out, 1 and 2 both conv1x1
    adj, ops = _padded_cell([(0, 1), (0, 2), (1, 3), (2, 3), (3, 6)], [1, 1, 0])
    counts = encodings.path_counts_batch(adj, ops, 3, 5)
    assert counts.sum() == 2 and counts[0, 4 + 1 * 3 + 0] == 2
    stats = encodings.cell_statistics_batch(adj, ops, 3, counts, 5)[0]
    # vertices, edges, conv3x3, conv1x1, maxpool, paths, longest path's ops, out of input, into output
    np.testing.assert_array_equal(stats, [5, 5, 1, 2, 0, 2, 2, 2, 1])


@pytest.fixture(scope="module")
def nb101_bench():
    from suite.benchmarks import nb101_space

    return nb101_space.Nb101Space()


def test_batch_encodings_agree_with_the_per_cell_ones_on_nb101(nb101_bench):
    space = nb101_bench
    rows = np.random.default_rng(5).integers(space.size, size=300)
    adj, ops = space.table.padded(rows)
    cells = cell_space(space)
    path = PathEncoding(space, cells)
    adjacency = AdjacencyEncoding(space, cells)
    counts = encodings.path_counts_batch(adj, ops, 3, 5)
    np.testing.assert_array_equal(counts > 0, path.encode(rows.tolist()) > 0)  # per-cell DFS over graphs
    batch = encodings.adjacency_batch(adj, ops, 3)
    per_cell = adjacency.encode(rows.tolist())
    np.testing.assert_array_equal(batch[:, :21], per_cell[:, :21])
    onehot = per_cell[:, 21:].reshape(-1, 7, 5)[:, 1:-1, 2:]  # interior vertices, the three ops
    np.testing.assert_array_equal(batch[:, 21:], onehot.reshape(len(rows), -1))


def _imports(path) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions) of a source file."""
    tree = ast.parse(path.read_text())
    top, inner = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = {node.module} if isinstance(node, ast.ImportFrom) else {a.name for a in node.names}
            (top if node.col_offset == 0 else inner).update(n for n in names if n)
    return top, inner


# The learned oracles (DESIGN.md, "Dependencies"): what each may import from predictors, inside functions.
LEARNED_ORACLES = {"nb101_surrogate.py": {"predictors", "predictors.layers", "predictors.common"},
                   "nb201_surrogate.py": {"predictors"}}


def test_benchmarks_reach_predictors_only_as_design_md_states():
    root = Path(__file__).resolve().parents[1]
    for source in (root / "suite" / "benchmarks").glob("*.py"):
        top, inner = _imports(source)
        assert not any(m.startswith("predictors") for m in top), source.name
        reached = {m for m in inner if m.startswith("predictors")}
        assert reached <= LEARNED_ORACLES.get(source.name, set()), source
    for leaf in ("encodings.py", "layers.py", "common.py"):  # what the surrogate reaches imports no benchmark: no cycle
        top, inner = _imports(root / "predictors" / leaf)
        assert {m for m in top | inner if m.startswith("suite")} <= {"suite.benchmarks.base", "suite.errors"}, leaf
