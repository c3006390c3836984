"""The nb101 benchmark: the surrogate oracle, its determinism, and the tabular oracle's checks."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest

from suite import benchmarks
from suite.benchmarks import nb101, nb101_space
from suite.benchmarks import nb101_official as official
from suite.benchmarks import nb101_surrogate as surrogate
from suite.benchmarks.base import Benchmark
from suite.errors import DataError, InvalidArchitecture

SMALL = surrogate.SurrogateConfig(family="xgb-adj", cost_family="xgb-adj", xgb_rounds=15, xgb_depth=4)


@pytest.fixture(scope="module")
def cells() -> nb101_space.CellTable:
    return nb101_space.table()


@pytest.fixture(scope="module")
def real(cells) -> surrogate.RealCells:
    return surrogate.real_cells(cells)


@pytest.fixture(scope="module")
def bench() -> nb101.Nb101:
    return nb101.Nb101(nb101.Nb101Settings(surrogate=SMALL), official_path=None)


def _subset(real: surrogate.RealCells, n: int) -> surrogate.RealCells:
    return replace(real, rows=real.rows[:n], valid_acc=real.valid_acc[:n], train_time=real.train_time[:n],
                   params=real.params[:n])


def test_registered():
    assert "nb101" in benchmarks.names()


def test_surrogate_oracle_interface(bench):
    assert isinstance(bench, Benchmark)
    assert bench.oracle == "nb101-surrogate-20k"
    assert bench.final_metric == bench.search_metric == "valid_acc_surrogate"
    assert bench.space_size == 423_624 and bench.has_cost
    assert len(bench.final_values) == 423_624
    assert np.all(np.diff(bench.final_values) >= 0)
    assert bench.optimum == bench.final_values[-1]
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = bench.sample(rng)
        obs = bench.query(arch)
        final = bench.final(arch)
        assert obs.value == final["valid_acc_surrogate"] <= bench.optimum
        assert obs.cost > 0 and 0 < obs.value < 100.5
        assert final["params"] == bench.space.table.params[arch]
    assert set(bench.data_files()) == {"nb101/nb101_subset20k.csv.gz"}


def test_query_rejects_bad_input(bench):
    with pytest.raises(InvalidArchitecture):
        bench.query(-3)
    with pytest.raises(InvalidArchitecture, match="108 epochs"):
        bench.query(0, epochs=36)


def test_real_cells_map_to_the_table(cells, real):
    assert len(real.rows) == 20_001 and len(np.unique(real.rows)) == 20_001
    assert np.array_equal(cells.params[real.rows], real.params)
    assert 94.9 < real.valid_acc.max() < 95.0  # 0.94912 in the file, as percent


def test_surrogate_retraining_is_bit_identical(cells, real):
    rows = np.arange(0, len(cells), 97)
    a = surrogate.train_and_predict(cells, real, SMALL, seed=7, rows=rows)
    b = surrogate.train_and_predict(cells, real, SMALL, seed=7, rows=rows)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = surrogate.train_and_predict(cells, real, replace(SMALL, xgb_subsample=0.5), seed=8, rows=rows)
    assert not np.array_equal(a[0], c[0])


def test_gnn_retraining_is_bit_identical(cells, real):
    small = _subset(real, 1500)
    config = replace(SMALL, gnn_epochs=1, gnn_dim=16, gnn_layers=1)
    rows = np.arange(0, len(cells), 997)
    run = lambda seed: surrogate.fit_predict("gnn", surrogate.TARGET, cells, small.rows, small.valid_acc,  # noqa: E731
                                             rows, config, seed)
    first = run(3)
    assert np.array_equal(first, run(3))
    assert not np.array_equal(first, run(4))


def test_cached_predictions_equal_a_fresh_training(bench, cells, real):
    cached = surrogate.predictions(cells, SMALL, 0)
    rows = np.arange(0, len(cells), 53)
    fresh = surrogate.train_and_predict(cells, real, SMALL, seed=0, rows=rows)
    assert np.array_equal(cached.valid_acc[rows], fresh[0])
    assert np.array_equal(cached.train_time[rows], fresh[1])


@pytest.mark.slow
def test_default_surrogate_cache_is_reproduced_bit_for_bit(cells, real):
    config = surrogate.SurrogateConfig()
    cached = surrogate.predictions(cells, config, 0)
    fresh = surrogate.train_and_predict(cells, real, config, seed=0)
    assert np.array_equal(cached.valid_acc, fresh[0]) and np.array_equal(cached.train_time, fresh[1])


def test_cross_validation_scores(cells, real):
    small = _subset(real, 3000)
    result = surrogate.cross_validate("xgb-adj", cells, small, SMALL, seed=0, n_folds=3)
    assert len(result.folds) == 3
    assert 0.3 < result.folds["tau"].mean() < 1.0
    assert (result.folds["tau_above_median"] < result.folds["tau"]).all()  # ranking good cells is harder


def test_unknown_family_is_a_clear_error():
    with pytest.raises(Exception, match="unknown NB101 surrogate family"):
        surrogate.SurrogateConfig(family="lstm")


def test_partial_official_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NASREPRO_DATA", str(tmp_path))
    path = tmp_path / "nb101" / "nasbench_only108.pkl"
    path.parent.mkdir()
    repeat = {"final_validation_accuracy": 0.9, "final_test_accuracy": 0.89, "final_training_time": 1000.0}
    layout = {"00005c142e6f48ac74fdcf73e3439874": ({"trainable_parameters": 8555530}, {108: [repeat] * 3})}
    path.write_bytes(pickle.dumps(layout))
    assert official.official_file() == path  # present in the data directory: the tabular oracle is chosen
    with pytest.raises(DataError, match="results for 1 cells, expected all 423,624"):
        nb101.Nb101()
