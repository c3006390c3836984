"""Cell encodings: hand-computed path encodings of NB201 cells, padding of variable-size cells."""

from __future__ import annotations

import numpy as np
import pytest

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
