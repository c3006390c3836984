"""The NB101 cell space: official hash, pruning, enumeration, operators."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from suite import data
from suite.benchmarks import nb101_space as space
from suite.errors import InvalidArchitecture

CONV3, CONV1, POOL = space.OPS


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return pd.read_csv(data.require("nb101/nb101_subset20k.csv.gz"))


@pytest.fixture(scope="module")
def nb() -> space.Nb101Space:
    return space.Nb101Space()  # the cached table; the first run in a fresh cache enumerates (minutes)


def _spec(row) -> tuple[np.ndarray, list[str]]:
    return np.array(json.loads(row.matrix)), json.loads(row.ops)


def test_md5_hash_of_real_rows_equals_their_hash(real):
    rows = real.iloc[::40]  # 501 rows: the direct md5 computation, independent of the table
    for row in rows.itertuples():
        matrix, ops = _spec(row)
        assert space.module_hash(matrix, space.op_codes(ops)) == row.hash


@pytest.mark.parametrize("name", ["nb101/nb101_subset20k.csv.gz", "nb101/nb101_test_evox6760.csv.gz"])
def test_param_count_equals_nb101s_count_on_every_row_of_both_files(name):
    # Each file's own numbering of each cell, so the count cannot lean on the table's numbering.
    rows = pd.read_csv(data.require(name), usecols=["matrix", "ops", "params"])
    counts = [space.param_count(np.array(json.loads(m)), space.op_codes(json.loads(o)))
              for m, o in zip(rows["matrix"], rows["ops"], strict=True)]
    assert counts == rows["params"].tolist()


def test_the_numbering_matters_and_only_the_first_generated_one_gives_nb101s_count():
    # The builder's count of a file's own numbering misses NB101's on some cells (uneven channel splits
    # favour the lowest-numbered vertices); there the file holds another numbering than generate_graphs'.
    rows = pd.read_csv(data.require("nb101/nb101_test_evox6760.csv.gz"), usecols=["matrix", "ops", "params"])
    missed = 0
    for row in rows.itertuples():
        matrix, codes = np.array(json.loads(row.matrix)), space.op_codes(json.loads(row.ops))
        if space.builder_params(matrix, codes) != row.params:
            missed += 1
            first, first_codes = space.official_numbering(matrix, codes)
            assert not (np.array_equal(first, matrix) and first_codes == codes)
            assert space.builder_params(first, first_codes) == row.params
    assert missed > 0


def test_official_numbering_agrees_with_the_tables(nb):
    # Two algorithms for one numbering: the brute force here, the sorted enumeration in the table.
    for i in np.random.default_rng(3).choice(len(nb.table), 2_000, replace=False).tolist():
        cell = nb.table.cell(i)
        matrix, codes = space.official_numbering(cell.matrix, cell.labels)
        assert np.array_equal(matrix, cell.matrix) and codes == list(cell.labels)
        assert space.param_count(cell.matrix, cell.labels) == nb.table.params[i]


def test_param_count_does_not_depend_on_the_numbering(real):
    rng = np.random.default_rng(4)
    for row in real.iloc[:300].itertuples():
        matrix, ops = _spec(row)
        pmat, pops = _permute(matrix, ops, _random_topological_order(matrix, rng))
        assert space.param_count(pmat, space.op_codes(pops)) == row.params


def test_every_real_row_is_found_under_its_hash(real, nb):
    for row in real.itertuples():
        matrix, ops = _spec(row)
        arch = nb.from_spec(matrix, ops)
        assert nb.key(arch) == row.hash
        assert int(nb.table.params[arch]) == row.params


def test_the_tables_counts_equal_the_test_files_on_every_row(nb):
    # The space's `params` cost (constraints, the surrogate's features) read from the table by hash.
    rows = pd.read_csv(data.require("nb101/nb101_test_evox6760.csv.gz"), usecols=["hash", "params"])
    assert [int(nb.table.params[nb.from_hash(h)]) for h in rows["hash"]] == rows["params"].tolist()


def test_table_count_and_census(nb):
    assert len(nb.table) == space.N_CELLS == 423_624
    assert dict(Counter(nb.table.n_vertices.tolist())) == space.CENSUS
    assert np.all(nb.table.hashes[:-1] < nb.table.hashes[1:])  # sorted, unique


@pytest.mark.slow
def test_fresh_enumeration_count_and_census():
    cells = space.enumerate_cells()
    assert len(cells) == 423_624
    assert dict(Counter(cells.n_vertices.tolist())) == {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
    sample = np.random.default_rng(0).choice(len(cells), 300, replace=False)
    for i in sample.tolist():
        assert cells.cell(i).hash() == cells.hashes[i].decode()


def _permute(matrix: np.ndarray, ops: list[str], perm: list[int]) -> tuple[np.ndarray, list[str]]:
    """Vertex v becomes perm[v]."""
    n = len(ops)
    out = np.zeros_like(matrix)
    new_ops = [""] * n
    for v in range(n):
        new_ops[perm[v]] = ops[v]
        for w in range(n):
            out[perm[v], perm[w]] = matrix[v, w]
    return out, new_ops


def _random_topological_order(matrix: np.ndarray, rng: np.random.Generator) -> list[int]:
    """perm[v] = position of v in a uniformly chosen order that keeps every edge pointing forward."""
    n = len(matrix)
    placed: list[int] = []
    while len(placed) < n:
        ready = [v for v in range(n) if v not in placed and all(u in placed for u in np.flatnonzero(matrix[:, v]))]
        placed.append(int(rng.choice(ready)))
    perm = [0] * n
    for position, v in enumerate(placed):
        perm[v] = position
    return perm


def test_isomorphic_cells_get_the_same_key(real, nb):
    rng = np.random.default_rng(1)
    moved = 0
    for row in real.iloc[:300].itertuples():
        matrix, ops = _spec(row)
        perm = _random_topological_order(matrix, rng)
        pmat, pops = _permute(matrix, ops, perm)
        assert not np.tril(pmat).any()
        moved += perm != list(range(len(ops)))
        assert space.module_hash(pmat, space.op_codes(pops)) == row.hash
        assert nb.key(nb.from_spec(pmat, pops)) == row.hash
    assert moved > 100


def test_pruning_drops_dangling_vertices(nb):
    # vertex 2 only feeds a dead end (vertex 3 has no path to the output); vertex 4 has no input
    matrix = np.zeros((7, 7), dtype=int)
    matrix[0, 1] = matrix[1, 6] = matrix[0, 2] = matrix[2, 3] = matrix[4, 6] = 1
    ops = ["input", CONV3, CONV1, POOL, CONV1, POOL, "output"]
    arch = nb.from_spec(matrix, ops)
    m, o = nb.spec(arch)
    assert o == ["input", CONV3, "output"]
    assert m.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]


@pytest.mark.parametrize(
    ("matrix", "ops", "message"),
    [
        (np.zeros((3, 3), int), ["input", CONV3, "output"], "no path"),
        (np.triu(np.ones((7, 7), int), 1), ["input", *[CONV3] * 5, "output"], "edges"),
        (np.array([[0, 1], [1, 0]]), ["input", "output"], "upper-triangular"),
        (np.array([[0, 1], [0, 0]]), ["input", "conv5x5"], "unknown"),
        (np.array([[0, 1], [0, 0]]), ["output", "input"], "input, operations"),
        (np.eye(9, k=1, dtype=int), ["input", *[CONV3] * 7, "output"],
         "vertices"),
    ],
)
def test_invalid_specs_are_rejected(nb, matrix, ops, message):
    with pytest.raises(InvalidArchitecture, match=message):
        nb.from_spec(matrix, ops)


def test_graph_round_trip_and_vocabulary(nb):
    rng = np.random.default_rng(2)
    for _ in range(200):
        arch = nb.sample(rng)
        graph = nb.graph(arch)
        assert graph.op_names == space.GRAPH_OPS
        assert graph.ops[0] == 0 and graph.ops[-1] == 1
        assert nb.from_graph(graph) == arch


def test_from_graph_rejects_foreign_vocabulary(nb):
    graph = nb.graph(0)
    with pytest.raises(InvalidArchitecture):
        nb.from_graph(type(graph)(graph.adjacency, graph.ops, ("a", "b", "c", "d", "e")))


def test_bad_arch_values_are_rejected(nb):
    for bad in (-1, space.N_CELLS, "abc", 1.5):
        with pytest.raises(InvalidArchitecture):
            nb.key(bad)


def test_sampling_is_uniform_and_seeded(nb):
    a = [nb.sample(np.random.default_rng(3)) for _ in range(3)]
    assert len(set(a)) == 1
    draws = np.array([nb.sample(np.random.default_rng(s)) for s in range(2000)])
    n7 = (nb.table.n_vertices[draws] == 7).mean()
    assert abs(n7 - 359_082 / 423_624) < 0.04  # uniform over cells, not over matrices


def test_mutation_yields_a_valid_different_cell(nb):
    rng = np.random.default_rng(4)
    arch = nb.sample(rng)
    for _ in range(500):
        child = nb.mutate(arch, rng)
        assert 0 <= child < space.N_CELLS and child != arch
        matrix, ops = nb.spec(child)
        assert nb.from_spec(matrix, ops) == child  # a table cell, hash-consistent
        arch = child if rng.random() < 0.5 else nb.sample(rng)


def test_mutation_is_seeded(nb):
    run = lambda: [nb.mutate(123, np.random.default_rng(5)) for _ in range(3)]  # noqa: E731
    assert run() == run()


def test_neighbors_are_one_edit_valid_distinct(nb):
    rng = np.random.default_rng(6)
    for _ in range(30):
        arch = nb.sample(rng)
        nbrs = nb.neighbors(arch)
        assert nbrs and arch not in nbrs and len(set(nbrs)) == len(nbrs)
        keys = {nb.key(a) for a in nbrs}
        assert len(keys) == len(nbrs)
    # the 2-vertex cell: adding an interior vertex needs two edges, so its only neighbour set is empty
    two = int(np.flatnonzero(nb.table.n_vertices == 2)[0])
    assert nb.neighbors(two) == []


# ------------------------------------------------------------------ operators against a brute force
# The one-edit neighbourhood computed independently of the space's operators: every single edge flip and
# op change of the pruned cell, pruned here with numpy reachability, identified by the official hash.
def _pruned(matrix: np.ndarray, labels: list[int]) -> tuple[np.ndarray, list[int]] | None:
    n = len(labels)
    forward, backward = np.zeros(n, bool), np.zeros(n, bool)
    forward[0], backward[n - 1] = True, True
    for v in range(n):
        if forward[v]:
            forward |= matrix[v].astype(bool)
    for v in reversed(range(n)):
        if backward[v]:
            backward |= matrix[:, v].astype(bool)
    keep = forward & backward
    if not keep[n - 1]:
        return None  # the output is cut off from the input
    pruned = matrix[np.ix_(keep, keep)]
    if pruned.sum() > space.MAX_EDGES:
        return None
    return pruned, [c for c, k in zip(labels, keep, strict=True) if k]


def _brute_neighbors(nb: space.Nb101Space, arch: int) -> set[int]:
    cell = nb.cell(arch)
    matrix, labels = cell.matrix.astype(np.int64), list(cell.labels)
    n = len(labels)
    edits = []
    for i in range(n):
        for j in range(i + 1, n):
            flipped = matrix.copy()
            flipped[i, j] ^= 1
            edits.append((flipped, labels))
    for v in range(1, n - 1):
        edits += [(matrix, [*labels[:v], op, *labels[v + 1 :]]) for op in range(len(space.OPS)) if op != labels[v]]
    found = set()
    for m, ls in edits:
        pruned = _pruned(m, ls)
        if pruned is not None:
            found.add(nb.from_hash(space.module_hash(*pruned)))
    return found - {arch}


def _sample_cells(nb: space.Nb101Space, seed: int, count: int) -> list[int]:
    rng = np.random.default_rng(seed)
    two = int(np.flatnonzero(nb.table.n_vertices == 2)[0])
    five = int(np.flatnonzero(nb.table.n_vertices == 5)[0])
    return [two, five, *(nb.sample(rng) for _ in range(count))]


def test_neighbors_equal_a_brute_force_enumeration(nb):
    for arch in _sample_cells(nb, 11, 8):
        nbrs = nb.neighbors(arch)
        assert len(nbrs) == len(set(nbrs))
        assert set(nbrs) == _brute_neighbors(nb, arch)


def test_a_rare_mutation_is_one_edit(nb):
    """With a tiny rate, two changes in one try almost never happen: every child is one edit away."""
    rare = space.Nb101Space(nb.table, space.MutationConfig(rate=0.002))
    rng = np.random.default_rng(12)
    for arch in _sample_cells(nb, 13, 10)[1:]:  # the 2-vertex cell has no one-edit neighbour
        neighbours = _brute_neighbors(nb, arch)
        for _ in range(3):
            assert rare.mutate(arch, rng) in neighbours


def test_a_default_mutation_stays_near_its_parent(nb):
    """About 2 expected changes (rate 1: one edge, one op): a child is often one edit away, a uniform
    sample (about 30 neighbours among 423,624 cells) practically never."""
    rng = np.random.default_rng(14)
    parents = _sample_cells(nb, 15, 60)[1:]
    near = [nb.mutate(arch, rng) in _brute_neighbors(nb, arch) for arch in parents]
    assert np.mean(near) > 0.25
