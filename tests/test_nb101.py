"""The nb101 benchmark: the surrogate oracle, its determinism, and the tabular oracle's checks."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from suite import benchmarks, data
from suite.benchmarks import nb101, nb101_space
from suite.benchmarks import nb101_official as official
from suite.benchmarks import nb101_surrogate as surrogate
from suite.benchmarks.base import Benchmark
from suite.errors import DataError, InvalidArchitecture, NasreproError

SMALL = surrogate.SurrogateConfig(family="xgb-adj", cost_family="xgb-adj", xgb_rounds=15, xgb_depth=4)


@pytest.fixture(scope="module")
def cells() -> nb101_space.CellTable:
    return nb101_space.table()


@pytest.fixture(scope="module")
def real(cells) -> surrogate.RealCells:
    return surrogate.real_cells(cells)


@pytest.fixture(scope="module")
def test(cells) -> surrogate.RealTestCells:
    return surrogate.real_test_cells(cells)


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
    assert bench.oracle == nb101.SURROGATE_ORACLE == "nb101-surrogate-20k+test12959+stack"
    assert bench.search_metric == "valid_acc_surrogate" and bench.final_metric == "test_acc_surrogate"
    assert bench.space_size == 423_624 and bench.has_cost
    assert len(bench.final_values) == 423_624
    assert np.all(np.diff(bench.final_values) >= 0)
    assert bench.optimum == bench.final_values[-1]
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = bench.sample(rng)
        obs = bench.query(arch)
        final = bench.final(arch)
        assert obs.value == final["valid_acc_surrogate"]  # search on predicted validation accuracy
        assert final["test_acc_surrogate"] <= bench.optimum  # report predicted test accuracy
        assert obs.cost > 0
        assert final["params"] == bench.space.table.params[arch]
    assert bench.data_files() == {
        "nb101/nb101_subset20k.csv.gz": "bb79ffb3f46b8fe134614e0aee5da2aba4a285500f0cbfb155915c3418c65c84",
        "nb101/nb101_test_cec12959.csv.gz": "c1e9f14962b9847d9d151fed09ca283d23bf3036a7a6d2a55e7fe87ddd266eb8",
    }  # as in the data README's sha256 table


def test_query_rejects_bad_input(bench):
    with pytest.raises(InvalidArchitecture):
        bench.query(-3)
    with pytest.raises(InvalidArchitecture, match="108 epochs"):
        bench.query(0, epochs=36)


def test_real_cells_map_to_the_table(cells, real):
    assert len(real.rows) == 20_001 and len(np.unique(real.rows)) == 20_001
    assert np.array_equal(cells.params[real.rows], real.params)
    assert 94.9 < real.valid_acc.max() < 95.0  # 0.94912 in the file, as percent


def test_real_test_cells_map_to_the_table_and_weigh_to_the_space(cells, real, test):
    assert len(test.rows) == 6_760 and len(np.unique(test.rows)) == 6_760
    # The data README says 441 cells are in both files; their hash columns share 333.
    shared = set(pd.read_csv(data.require(surrogate.DATA_FILE), usecols=["hash"])["hash"]) & set(
        pd.read_csv(data.require(surrogate.TEST_FILE), usecols=["hash"])["hash"])
    assert len(np.intersect1d(test.rows, real.rows)) == len(shared) == 333
    assert 94.2 < test.test_acc.max() < 94.23  # best cell 0.94221
    # Weighted by vertex count, the file's cells have the space's census (data README's counts).
    n = cells.n_vertices[test.rows]
    share = {k: test.weight[n == k].sum() / test.weight.sum() for k in nb101_space.CENSUS}
    for k, count in nb101_space.CENSUS.items():
        assert share[k] == pytest.approx(count / 423_624, rel=1e-9)


def test_surrogate_retraining_is_bit_identical(cells, real, test):
    rows = np.arange(0, len(cells), 97)
    a = surrogate.train_and_predict(cells, real, test, SMALL, seed=7, rows=rows)
    b = surrogate.train_and_predict(cells, real, test, SMALL, seed=7, rows=rows)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = surrogate.train_and_predict(cells, real, test, replace(SMALL, xgb_subsample=0.5), seed=8, rows=rows)
    assert not np.array_equal(a[0], c[0])


def test_valid_offset_adds_the_weighted_median_gap(cells, real, test):
    # A stand-in validation model predicting 4 * row; gaps 1, 2, 3, 10 with weights 1, 1, 3, 1: weighted
    # median 3 (the middle of 1, 2, 3, 3, 3, 10 expanded by weight, lower side).
    class Times4:
        def predict(self, table, rows):
            return np.asarray(rows, dtype=np.float64) * 4.0

    small = surrogate.RealTestCells(np.array([5, 9, 11, 20]), np.array([21.0, 38.0, 47.0, 90.0]),
                                    np.array([1.0, 1.0, 3.0, 1.0]), test.sha256)
    model = surrogate.TEST_FAMILIES["valid+offset"](surrogate.TestFit(cells, real, small, SMALL, 0, Times4()))
    rows = np.array([0, 7, 100])
    np.testing.assert_array_equal(model.predict(cells, rows), rows * 4.0 + 3.0)


def test_parallel_chunked_predictions_equal_one_fit_predict(cells, real, test):
    rows = np.arange(0, len(cells), 89)
    valid, test_acc, cost = surrogate.train_and_predict(cells, real, test, SMALL, seed=3, rows=rows)
    np.testing.assert_array_equal(valid, surrogate.fit_predict(SMALL.family, surrogate.TARGET, cells, real.rows,
                                                               real.valid_acc, rows, SMALL, 3))
    np.testing.assert_array_equal(cost, surrogate.fit_predict(SMALL.cost_family, surrogate.COST, cells, real.rows,
                                                              real.train_time, rows, SMALL, 4))
    joint = surrogate.TEST_FAMILIES["joint"](surrogate.TestFit(cells, real, test, SMALL, 5, None))
    np.testing.assert_array_equal(test_acc, joint.predict(cells, rows))


def test_top_cross_validation_hides_held_out_cells_and_their_validation_labels(cells, real, monkeypatch):
    from suite.benchmarks import nb101_topcv as topcv

    test12959 = surrogate.real_test_cells(cells, surrogate.TEST_FILE_12959)
    small = test12959.subset(np.arange(len(test12959.rows)) < 1500)
    groups = surrogate.skeleton_groups(cells, small.rows)
    seen = []
    joint = surrogate.TEST_FAMILIES["joint"]
    monkeypatch.setattr(nb101_space, "_cores", lambda: 1)  # fits in this process, where the spy is
    monkeypatch.setitem(surrogate.TEST_FAMILIES, "joint", lambda fit: seen.append(fit) or joint(fit))
    result = topcv.cross_validate(topcv.Candidate("joint", surrogate.XgbParams(10, 3, 0.3)), cells, real, small,
                                  groups, seed=7, n_folds=3)
    assert len(seen) == 3
    folds = topcv.group_folds(groups, 3, 7)
    for k, fit in enumerate(seen):
        assert not np.isin(fit.real.rows, small.rows).any()  # no test cell's validation label
        assert set(fit.test.rows.tolist()) == set(small.rows[folds != k].tolist())
    assert 0.3 < result.scores["tau"] < 1.0 and result.oof.shape == small.test_acc.shape


def test_gnn_retraining_is_bit_identical(cells, real):
    small = _subset(real, 1500)
    config = replace(SMALL, gnn_epochs=1, gnn_dim=16, gnn_layers=1)
    rows = np.arange(0, len(cells), 997)
    run = lambda seed: surrogate.fit_predict("gnn", surrogate.TARGET, cells, small.rows, small.valid_acc,  # noqa: E731
                                             rows, config, seed)
    first = run(3)
    assert np.array_equal(first, run(3))
    assert not np.array_equal(first, run(4))


def test_cached_predictions_equal_a_fresh_training(bench, cells, real, test):
    cached = surrogate.predictions(cells, SMALL, 0)
    rows = np.arange(0, len(cells), 53)
    fresh = surrogate.train_and_predict(cells, real, test, SMALL, seed=0, rows=rows)
    assert np.array_equal(cached.valid_acc[rows], fresh[0])
    assert np.array_equal(cached.test_acc[rows], fresh[1])
    assert np.array_equal(cached.train_time[rows], fresh[2])


@pytest.mark.slow
def test_default_surrogate_cache_is_reproduced_bit_for_bit(cells, real, test):
    config = surrogate.SurrogateConfig()
    cached = surrogate.predictions(cells, config, 0)
    fresh = surrogate.train_and_predict(cells, real, test, config, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((cached.valid_acc, cached.test_acc, cached.train_time), fresh,
                                                    strict=True))


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


def test_surrogate_report_renders_well_formed_tables(tmp_path, bench):
    from suite.benchmarks import nb101_report
    from suite.benchmarks.nb101_topcv import Candidate

    tiny = tuple(Candidate("test-only", surrogate.XgbParams(8, depth, 0.3)) for depth in (2, 3))
    out = nb101_report.write_report(tmp_path / "surrogate.md", candidates=tiny, valid_cv=False, previous=False,
                                    config=SMALL)  # SMALL's predictions are cached by `bench`
    text = out.read_text()
    assert text.count("**(chosen)**") == 1 and "tau top 10%" in text and "| 93.5-94 |" in text
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---"):  # every table's header, separator and rows have the same columns
            width = lines[i - 1].count("|")
            assert line.count("|") == width
            k = i + 1
            while k < len(lines) and lines[k].startswith("|"):
                assert lines[k].count("|") == width, lines[k]
                k += 1


# ---------------------------------------------------------------------------------------------- oracle versions
def test_the_previous_oracle_stays_selectable_with_its_own_test_cells():
    old = nb101.Nb101(nb101.Nb101Settings(surrogate=SMALL), official_path=None,
                      oracle="nb101-surrogate-20k+test6760")
    assert old.oracle == "nb101-surrogate-20k+test6760"
    assert surrogate.TEST_FILE in old.data_files() and surrogate.TEST_FILE_12959 not in old.data_files()
    assert old.final_members(0) is None  # that version has no members
    assert benchmarks.oracles("nb101") == nb101.ORACLES


def test_an_unknown_oracle_is_refused_naming_the_known_ones():
    with pytest.raises(NasreproError, match="unknown oracle 'nope' for nb101; known: nb101-surrogate-20k\\+test6760, "
                       "nb101-surrogate-20k\\+test12959, nb101-surrogate-20k\\+test12959\\+stack, "
                       "nb101-tabular"):
        benchmarks.check_oracle("nb101", "nope")
    with pytest.raises(DataError, match="needs the official NB101 results"):
        nb101.Nb101(oracle=nb101.TABULAR_ORACLE)


def test_cache_keys_of_configs_without_the_new_fields_are_unchanged():
    import hashlib
    import json
    from dataclasses import asdict

    config = surrogate.SurrogateConfig()
    shas = {surrogate.DATA_FILE: "a", surrogate.TEST_FILE: "b"}
    fields = {k: v for k, v in asdict(config).items() if k not in ("test_xgb", "members")}
    blob = json.dumps({"config": fields, "seed": 0, "data": shas, "version": surrogate.SURROGATE_VERSION,
                       "table": nb101_space.FORMAT_VERSION}, sort_keys=True)
    assert surrogate.cache_key(config, 0, shas) == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert surrogate.cache_key(replace(config, members=5), 0, shas) != surrogate.cache_key(config, 0, shas)


def test_members_are_refits_on_whole_skeleton_groups_and_deterministic(cells, real, monkeypatch):
    test12959 = surrogate.real_test_cells(cells, surrogate.TEST_FILE_12959)
    config = replace(SMALL, test_family="test-only", test_xgb=surrogate.XgbParams(10, 3, 0.3), members=3)
    fits = surrogate.member_fits(cells, real, test12959, config, seed=4)
    groups = surrogate.skeleton_groups(cells, test12959.rows)
    for fit in fits:
        kept = np.isin(test12959.rows, fit.test.rows)
        assert set(groups[kept]).isdisjoint(groups[~kept])  # a group is in or out as a whole
        weight = dict(zip(fit.test.rows.tolist(), fit.multiplicity.tolist(), strict=True))
        for g in np.unique(groups[kept])[:50]:
            assert len({weight[r] for r in test12959.rows[groups == g].tolist()}) == 1
    assert len({len(f.test.rows) for f in fits}) > 1
    first = _trained_twice(cells, real, test12959, config, np.arange(0, len(cells), 997), monkeypatch)
    assert len(first) == 6
    assert not np.array_equal(first[3], first[4])


def _trained_twice(cells, real, test, config, rows, monkeypatch) -> tuple[np.ndarray, ...]:
    """The oracle's and its members' predictions, trained twice, on every core and then in this process alone:
    bit-identical, every member finite and unlike the oracle."""
    first = surrogate.train_and_predict(cells, real, test, config, seed=4, rows=rows)
    monkeypatch.setattr(nb101_space, "_cores", lambda: 1)
    again = surrogate.train_and_predict(cells, real, test, config, seed=4, rows=rows)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(m).all() and not np.array_equal(m, first[1]) for m in first[3:])
    return first


def test_the_stacked_blend_is_the_mean_of_its_booster_and_gin_and_its_members_are_deterministic(cells, real,
                                                                                               monkeypatch):
    test12959 = surrogate.real_test_cells(cells, surrogate.TEST_FILE_12959)
    small_test = test12959.subset(np.arange(len(test12959.rows)) < 2000)
    config = replace(SMALL, test_family="stack+gnn", test_xgb=surrogate.XgbParams(10, 3, 0.3), members=2,
                     gnn_epochs=1, gnn_dim=16, gnn_layers=1)
    rows = np.arange(0, len(cells), 1009)
    first = _trained_twice(cells, real, small_test, config, rows, monkeypatch)
    assert len(first) == 5
    valid, main = first[0], first[1]
    # the main model refitted by hand: its booster reads the validation model's prediction as a feature
    valid_model = surrogate.fit_model(config.family, surrogate.TARGET, cells, real.rows, real.valid_acc, config, 4)
    np.testing.assert_array_equal(valid_model.predict(cells, rows), valid)
    blend = surrogate.TEST_FAMILIES["stack+gnn"](surrogate.TestFit(cells, real, small_test, config, 6, valid_model))
    forward, inverse = surrogate.TRANSFORMS[surrogate.TARGET]
    by_hand = inverse((forward(blend.stack.predict(cells, rows)) + blend.gnn.raw(cells, rows)) / 2)
    np.testing.assert_allclose(main, by_hand, rtol=0, atol=1e-9)
    X = np.concatenate([surrogate.path_features(cells, rows), forward(valid)[:, None].astype(np.float32)], axis=1)
    np.testing.assert_array_equal(blend.stack.booster.inplace_predict(X), forward(blend.stack.predict(cells, rows))
                                  .astype(np.float32))
    # the feature matters: the booster splits on it
    assert f"f{X.shape[1] - 1}" in blend.stack.booster.get_score(importance_type="weight")


@pytest.mark.parametrize("family", ["stack", "stack+gnn"])
def test_a_stacked_members_resample_enters_its_fit_as_repeated_cells(cells, real, family):
    test12959 = surrogate.real_test_cells(cells, surrogate.TEST_FILE_12959)
    small_test = test12959.subset(np.arange(len(test12959.rows)) < 1500)
    # no row or column subsampling: a weight of k is then exactly k copies of the cell
    config = replace(SMALL, test_family=family, members=1, gnn_epochs=1, gnn_dim=16, gnn_layers=1,
                     test_xgb=surrogate.XgbParams(10, 3, 0.3, subsample=1.0, colsample=1.0, min_child_weight=1.0))
    valid_model = surrogate.fit_model(config.family, surrogate.TARGET, cells, real.rows, real.valid_acc, config, 4)
    member = surrogate.member_fits(cells, real, small_test, config, 4, valid_model)[0]
    assert member.multiplicity is not None and member.multiplicity.max() > 1
    copies = member.test.subset(np.repeat(np.arange(len(member.test.rows)), member.multiplicity.astype(int)))
    fit = surrogate.TEST_FAMILIES[family]
    rows = np.arange(0, len(cells), 1009)
    resampled = fit(member).predict(cells, rows)
    np.testing.assert_array_equal(
        resampled, fit(surrogate.TestFit(cells, real, copies, config, member.seed, valid_model)).predict(cells, rows))
    unweighted = surrogate.TestFit(cells, real, member.test, config, member.seed, valid_model)
    assert not np.array_equal(resampled, fit(unweighted).predict(cells, rows))
