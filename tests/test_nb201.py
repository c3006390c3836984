import numpy as np
import pytest

from suite import benchmarks
from suite.benchmarks import nb201
from suite.errors import InvalidArchitecture


@pytest.mark.parametrize(
    ("name", "test_max", "valid_max"),
    [("nb201-cifar10", 94.3733, 91.6067), ("nb201-cifar100", 73.5133, 73.4933), ("nb201-imagenet16", 47.3111, 46.7333)],
)
def test_loader_reproduces_published_maxima(name, test_max, valid_max):
    bench = benchmarks.get(name)
    assert bench.optimum == pytest.approx(test_max, abs=1e-4)
    assert bench.table[bench.search_metric].max() == pytest.approx(valid_max, abs=1e-4)
    assert bench.final_values[-1] == bench.optimum


def test_search_and_report_columns_follow_the_protocol(nb201_c10):
    assert nb201_c10.search_metric == "cifar10-valid/valid_acc_200"
    row = nb201_c10.table.iloc[1]
    arch = nb201.str_to_arch(row["arch_str"])
    assert nb201_c10.query(arch).value == row["cifar10-valid/valid_acc_200"]
    assert nb201_c10.query(arch).cost == row["cifar10-valid/train_time_200"]
    assert nb201_c10.query(arch, epochs=12).value == row["cifar10-valid/valid_acc_12"]
    assert nb201_c10.final(arch)["test_acc"] == row["cifar10/test_acc_200"]


def test_flops_follow_the_published_formula(nb201_c10):
    arch = nb201.str_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|skip_connect~1|avg_pool_3x3~2|")
    assert nb201_c10.final(arch)["flops_m"] == pytest.approx(7.78305 + 2 * 35.38944 + 3.93216)


def test_every_mutation_is_a_valid_cell_at_distance_one(nb201_c10):
    rng = np.random.default_rng(1)
    for _ in range(2000):
        arch = nb201_c10.sample(rng)
        child = nb201_c10.mutate(arch, rng)
        nb201_c10.key(child)  # raises for an invalid cell
        assert sum(a != b for a, b in zip(arch, child, strict=True)) == 1


def test_neighbours_are_all_cells_at_distance_one(nb201_c10):
    arch = (0, 1, 2, 3, 4, 0)
    neighbours = nb201_c10.neighbors(arch)
    assert len(set(neighbours)) == len(neighbours) == 6 * 4
    assert all(sum(a != b for a, b in zip(arch, n, strict=True)) == 1 for n in neighbours)


def test_key_graph_and_string_round_trip(nb201_c10):
    rng = np.random.default_rng(2)
    for _ in range(200):
        arch = nb201_c10.sample(rng)
        assert nb201.str_to_arch(nb201_c10.key(arch)) == arch
        assert nb201_c10.from_graph(nb201_c10.graph(arch)) == arch


def test_sampling_covers_the_space_uniformly(nb201_c10):
    rng = np.random.default_rng(4)
    counts = np.bincount([op for _ in range(5000) for op in nb201_c10.sample(rng)], minlength=5)
    assert counts.min() > 0.9 * counts.mean()


@pytest.mark.parametrize("bad", [(0, 1, 2), (0, 1, 2, 3, 4, 5), "abc", None])
def test_invalid_architectures_are_refused(nb201_c10, bad):
    with pytest.raises(InvalidArchitecture):
        nb201_c10.query(bad)


def test_bad_strings_and_fidelities_are_refused(nb201_c10):
    with pytest.raises(InvalidArchitecture):
        nb201.str_to_arch("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(InvalidArchitecture):
        nb201_c10.query((0,) * 6, epochs=50)


def test_datasets_without_training_times_say_so():
    bench = benchmarks.get("nb201-cifar100")
    assert not bench.has_cost
    assert np.isnan(bench.query((3,) * 6).cost)
