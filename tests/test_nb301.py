from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from suite import benchmarks, data
from suite.benchmarks import darts_formats as fmt
from suite.benchmarks import darts_size, darts_space, nb301
from suite.benchmarks.base import Benchmark, CellGraph
from suite.errors import DataError, InvalidArchitecture, NasreproError

# DARTS (second order) from the DARTS paper / repository, in its own (non-canonical) edge order.
DARTS_V2 = fmt.Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=range(2, 6),
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=range(2, 6),
)


@pytest.fixture(scope="module")
def bench() -> nb301.Nb301:
    return benchmarks.get("nb301")


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    table = pd.read_csv(data.require(nb301.LABELLED_FILE))
    table["arch"] = [darts_size.parse_cells(n, r) for n, r in zip(table["normal"], table["reduce"], strict=True)]
    return table


def random_archs(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [darts_space.sample(rng) for _ in range(n)]


def assert_valid(arch) -> None:
    """Structural check written independently of darts_space.canonical."""
    assert isinstance(arch, tuple) and len(arch) == 2
    for cell in arch:
        assert isinstance(cell, tuple) and len(cell) == 8
        for n, k in enumerate(range(2, 6)):
            (a, op_a), (b, op_b) = cell[2 * n], cell[2 * n + 1]
            assert 0 <= a < b < k  # two distinct earlier inputs, canonical order
            assert all(type(v) is int for v in (a, b, op_a, op_b))
            assert 0 <= op_a < 7 and 0 <= op_b < 7


def test_registered_and_protocol(bench):
    assert isinstance(bench, Benchmark)
    assert (bench.oracle, bench.final_metric, bench.optimum_source, bench.space_size) == (
        "nb301-yahpo-onnx", "valid_acc", "reference: best of 100,000 uniform random cells, seed 301000001", None)
    assert set(bench.data_files()) == set(nb301.DATA_FILES)


def test_darts_v2_prediction(bench):
    arch = fmt.from_genotype(DARTS_V2)
    obs = bench.query(arch)
    assert obs.value == pytest.approx(95.460, abs=1e-3)
    assert obs.cost > 0
    assert bench.final(arch)["valid_acc"] == obs.value


def test_random_cells_mean(bench):
    values = np.array([bench.query(a).value for a in random_archs(1000)])
    assert values.mean() == pytest.approx(94.39, abs=0.1)
    assert 0.3 < values.std() < 0.8  # the data README: sd 0.52


def test_ranks_like_the_official_xgb_surrogate(bench, labelled):
    predicted = [bench.query(a).value for a in labelled["arch"]]
    assert spearmanr(predicted, labelled["val_accuracy"]).statistic >= 0.89


def test_flops_and_params_reproduce_nb301(bench, labelled):
    finals = [bench.final(a) for a in labelled["arch"]]
    np.testing.assert_array_equal([f["flops_m"] for f in finals], labelled["flops"].round(6))
    np.testing.assert_array_equal([f["params_m"] for f in finals], labelled["params"].round(6))
    # More sep_conv_5x5 than max_pool: a bigger network.
    small = bench.final((((0, 0), (1, 0)) * 4, ((0, 0), (1, 0)) * 4))
    big = bench.final((((0, 4), (1, 4)) * 4, ((0, 4), (1, 4)) * 4))
    assert big["flops_m"] > small["flops_m"] and big["params_m"] > small["params_m"]


def test_size_model_refuses_non_additive_data(tmp_path, labelled):
    rows = pd.read_csv(data.require(nb301.LABELLED_FILE)).head(60)
    rows.to_csv(tmp_path / "ok.csv", index=False)
    darts_size.fit(tmp_path / "ok.csv")
    rows.loc[3, "flops"] += 1.0
    rows.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="not additive"):
        darts_size.fit(tmp_path / "bad.csv")


def test_fidelities(bench):
    arch = fmt.from_genotype(DARTS_V2)
    early, final = bench.query(arch, epochs=10), bench.query(arch, epochs=98)
    assert early.value < final.value and early.cost < final.cost
    assert bench.query(arch, epochs=None) == final
    for bad in (0, 99, 12.5, "98"):
        with pytest.raises(NasreproError, match="epochs"):
            bench.query(arch, epochs=bad)


def test_queries_are_cached(bench, monkeypatch):
    arch = random_archs(1, seed=7)[0]
    first = bench.query(arch)
    monkeypatch.setattr(nb301, "_session", lambda path: pytest.fail("a cached query reached the model"))
    assert bench.query(arch) is first
    # the same cell pair spelled with lists and each node's two edges swapped
    lists = [[list(pair) for n in range(0, 8, 2) for pair in reversed(cell[n : n + 2])] for cell in arch]
    assert bench.query(lists) is first


def test_samples_and_mutations_valid(bench):
    rng = np.random.default_rng(1)
    for arch in random_archs(300):
        assert_valid(arch)
        child = bench.mutate(arch, rng)
        assert_valid(child)
        assert darts_space.edit_distance(arch, child) == 1


def test_sampling_is_uniform_over_input_pairs():
    counts = pd.Series([a[0][6:8] for a in random_archs(4000, seed=3)]).map(
        lambda pairs: (pairs[0][0], pairs[1][0])).value_counts()
    assert len(counts) == 10  # node 5: every pair of 0..4
    assert counts.min() > 320 and counts.max() < 480  # 400 expected each


def test_neighbours(bench):
    for arch in random_archs(20, seed=5):
        nbrs = bench.neighbors(arch)
        assert len(nbrs) == 120  # 2 cells x 8 edges x 6 ops, plus 2 x (2 + 4 + 6) input changes
        assert len({bench.key(n) for n in nbrs}) == 120 and bench.key(arch) not in {bench.key(n) for n in nbrs}
        for n in nbrs:
            assert_valid(n)
            assert darts_space.edit_distance(arch, n) == 1
    rng = np.random.default_rng(2)
    arch = random_archs(1, seed=6)[0]
    reachable = set(bench.neighbors(arch))
    assert all(bench.mutate(arch, rng) in reachable for _ in range(200))


def test_same_seed_same_samples(bench):
    assert random_archs(50, seed=11) == random_archs(50, seed=11)
    assert random_archs(50, seed=11) != random_archs(50, seed=12)
    parent = random_archs(1)[0]
    mutants = [[bench.mutate(parent, rng) for _ in range(30)] for rng in
               (np.random.default_rng(4), np.random.default_rng(4))]
    assert mutants[0] == mutants[1]


def test_key_is_canonical(bench):
    arch = fmt.from_genotype(DARTS_V2)
    swapped = tuple(tuple(p for n in range(0, 8, 2) for p in reversed(cell[n : n + 2])) for cell in arch)
    assert swapped != arch and bench.key(swapped) == bench.key(arch)
    assert bench.key(arch).startswith("normal:sep3~0,sep3~1|sep3~0,sep3~1|skip~0,sep3~1|skip~0,dil3~2;")
    assert darts_space.from_key(bench.key(arch)) == arch
    with pytest.raises(InvalidArchitecture):
        darts_space.from_key("normal:sep3~0")


def test_round_trips():
    for arch in random_archs(200, seed=9):
        genotype = fmt.to_genotype(arch)
        assert fmt.from_genotype(genotype) == arch
        assert fmt.from_compact(fmt.to_compact(arch)) == arch
        config = fmt.to_config(arch)
        assert fmt.from_config(config) == arch
        # genotype -> compact -> config -> genotype, exactly
        assert fmt.to_genotype(fmt.from_config(fmt.to_config(fmt.from_compact(fmt.to_compact(
            fmt.from_genotype(genotype)))))) == genotype
        assert darts_space.from_graph(darts_space.to_graph(arch)) == arch
    # NASLib's mutable compact (lists) and the official ':' config names are read too.
    arch = random_archs(1)[0]
    assert fmt.from_compact([[list(p) for p in cell] for cell in arch]) == arch
    official = {k.replace("_COLON_", ":"): v for k, v in fmt.to_config(arch).items()}
    assert fmt.from_config(official) == arch


def test_darts_v2_formats():
    arch = fmt.from_genotype(DARTS_V2)
    genotype = fmt.to_genotype(arch)
    assert genotype.normal_concat == [2, 3, 4, 5]
    # the same edges, each node's pairs sorted by input
    assert sorted(genotype.normal) == sorted(DARTS_V2.normal) and genotype.normal[4:6] == [
        ("skip_connect", 0), ("sep_conv_3x3", 1)]
    config = fmt.to_config(arch)
    p = fmt.CONFIG_PREFIX
    assert config[p + "inputs_node_normal_5"] == "0_2" and config[p + "edge_normal_11"] == "dil_conv_3x3"
    assert config[p + "edge_reduce_4"] == "skip_connect" and len(config) == 2 * (8 + 3)


def test_config_names_match_config_space():
    space = json.loads(data.require(nb301.CONFIG_SPACE_FILE).read_text())
    choices = {hp["name"]: hp.get("choices") for hp in space["hyperparameters"]}
    for arch in random_archs(50):
        for name, value in fmt.to_config(arch).items():
            assert value in choices[name]


def test_graph_layout(bench):
    arch = fmt.from_genotype(DARTS_V2)
    graph = bench.graph(arch)
    assert graph.adjacency.shape == (22, 22) and np.all(np.tril(graph.adjacency) == 0)
    labels = [graph.op_names[i] for i in graph.ops]
    assert labels[:3] == ["input", "input", "normal:sep_conv_3x3"] and labels[10] == "output"
    assert labels[11:14] == ["input", "input", "reduce:max_pool_3x3"] and labels[21] == "output"
    assert graph.adjacency[10, 11] == graph.adjacency[10, 12] == 1  # normal output feeds the reduction cell
    # normal node 5's second edge (node 9) reads intermediate node 2, i.e. both of its edge-nodes (2, 3)
    assert np.flatnonzero(graph.adjacency[:, 9]).tolist() == [2, 3]


def test_graph_either_order_within_a_node(bench):
    arch = fmt.from_genotype(DARTS_V2)
    graph = bench.graph(arch)
    perm = np.arange(22)
    perm[[4, 5]] = [5, 4]  # swap the two edge-nodes of normal node 3 (both read by later edges alike)
    swapped = CellGraph(graph.adjacency[np.ix_(perm, perm)], graph.ops[perm], graph.op_names)
    assert bench.from_graph(swapped) == arch


@pytest.mark.parametrize("edit", ["extra_edge", "label", "same_input", "reduce_label_in_normal", "size"])
def test_graph_refused(bench, edit):
    graph = bench.graph(fmt.from_genotype(DARTS_V2))
    adj, ops = graph.adjacency.copy(), graph.ops.copy()
    if edit == "extra_edge":
        adj[0, 21] = 1
    elif edit == "label":
        ops[0] = graph.op_names.index("output")
    elif edit == "same_input":  # normal node 3: both edges (nodes 4, 5) read input 0
        adj[:, 5] = 0
        adj[0, 5] = 1
    elif edit == "reduce_label_in_normal":
        ops[2] = graph.op_names.index("reduce:sep_conv_3x3")
    else:
        adj, ops = adj[:-1, :-1], ops[:-1]
    with pytest.raises(InvalidArchitecture):
        bench.from_graph(CellGraph(adj, ops, graph.op_names))


def _genotype(normal) -> fmt.Genotype:
    return fmt.Genotype(normal, [2, 3, 4, 5], DARTS_V2.reduce, [2, 3, 4, 5])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_genotype([("conv_7x7", 0), *DARTS_V2.normal[1:]]), "unknown operation 'conv_7x7'"),
        (_genotype([("none", 0), *DARTS_V2.normal[1:]]), "unknown operation 'none'"),
        (_genotype(DARTS_V2.normal[:7]), "8 .input, op. pairs"),  # node 5 with one input
        (_genotype([*DARTS_V2.normal[:6], ("skip_connect", 0), ("sep_conv_3x3", 0)]), "input 0 twice"),
        (_genotype([*DARTS_V2.normal[:2], ("skip_connect", 3), *DARTS_V2.normal[3:]]), "not an earlier node"),
        (fmt.Genotype(DARTS_V2.normal, [2, 3, 4], DARTS_V2.reduce, [2, 3, 4, 5]), "normal_concat"),
    ],
)
def test_bad_genotypes_refused(bad, message):
    with pytest.raises(InvalidArchitecture, match=message):
        fmt.from_genotype(bad)


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("sep_conv_3x3", "two cells"),
        ((((0, 3), (1, 3)) * 4, ((0, 3), (1, 3)) * 3), "two cells"),
        ((((0, 3), (1, 7)) * 4, ((0, 3), (1, 3)) * 4), "op 7"),
        ((((0, 3), (0, 3)) * 4, ((0, 3), (1, 3)) * 4), "input 0 twice"),
        ([[[0, 3], [1, 3.5]] * 4, [[0, 3], [1, 3]] * 4], "pair of ints"),
        ((((0, 3), (2, 3)) * 4, ((0, 3), (1, 3)) * 4), "node 2: input 2 is not an earlier node"),
    ],
)
def test_bad_archs_refused_before_the_model(bench, monkeypatch, arch, message):
    monkeypatch.setattr(nb301, "_session", lambda path: pytest.fail("an invalid cell reached the model"))
    with pytest.raises(InvalidArchitecture, match=message):
        bench.query(arch)
    with pytest.raises(InvalidArchitecture):
        bench.key(arch)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop(fmt.CONFIG_PREFIX + "inputs_node_normal_4"), "inputs_node_normal_4 is missing"),
        (lambda c: c.update({fmt.CONFIG_PREFIX + "inputs_node_normal_4": "2_2"}), "'2_2'"),
        (lambda c: c.update({fmt.CONFIG_PREFIX + "inputs_node_normal_4": "1_4"}), "'1_4'"),
        (lambda c: c.update({fmt.CONFIG_PREFIX + "edge_normal_0": "zero"}), "unknown operation 'zero'"),
        (lambda c: c.update({fmt.CONFIG_PREFIX + "epoch": 98}), "unexpected"),
    ],
)
def test_bad_configs_refused(change, message):
    config = fmt.to_config(fmt.from_genotype(DARTS_V2))
    change(config)
    with pytest.raises(InvalidArchitecture, match=message):
        fmt.from_config(config)


def test_config_with_missing_edge_refused():
    config = fmt.to_config(fmt.from_genotype(DARTS_V2))
    del config[fmt.CONFIG_PREFIX + "edge_reduce_0"]
    with pytest.raises(InvalidArchitecture, match="edge_reduce_0 is missing"):
        fmt.from_config(config)


def test_encoder_checks_its_data(tmp_path):
    encoding = data.require(nb301.ENCODING_FILE)
    space = json.loads(data.require(nb301.CONFIG_SPACE_FILE).read_text())
    hps = space["hyperparameters"]
    space["hyperparameters"] = [hp for hp in hps if not hp["name"].endswith("inputs_node_normal_5")]
    (tmp_path / "space.json").write_text(json.dumps(space))
    with pytest.raises(DataError, match="inputs_node_normal_5"):
        nb301._Encoder(encoding, tmp_path / "space.json")
