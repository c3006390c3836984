"""Tuned predictors: the search sees the training cells only, is seeded, and its choice is stored."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from predictors import targets, tuning
from predictors.evaluate import TEST_SIZE, evaluate
from suite import registry
from suite.errors import NasreproError

TIMING = ["fit_seconds", "predict_seconds", "tune_seconds", "cpu_seconds"]
CONFIG = tuning.TuneConfig(trials=4)


def test_kfold_is_naslibs_contiguous_split():
    folds = tuning.kfold(10, 3)
    assert [v.tolist() for _, v in folds] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    for train, valid in folds:
        assert sorted(train.tolist() + valid.tolist()) == list(range(10)) and not set(train) & set(valid)


@pytest.mark.parametrize("name", sorted(tuning.SPACES))
def test_every_drawn_configuration_is_valid_and_in_naslibs_ranges(name):
    rng = np.random.default_rng(0)
    draws = [tuning.SPACES[name](rng) for _ in range(300)]
    for settings in draws:
        registry.predictor_config(name, settings)  # raises on an invalid one
    frame = pd.DataFrame(draws)
    if name == "xgb":
        assert frame["max_depth"].between(1, 14).all() and set(frame["max_depth"]) == set(range(1, 15))
        assert frame["learning_rate"].between(0.001, 0.5).all()
        assert frame[["colsample_bytree", "colsample_bylevel"]].gt(0).all().all()
    else:
        assert frame["n_estimators"].between(16, 128).all() and frame["max_features"].between(0.1, 0.9).all()
        assert frame["min_samples_leaf"].between(1, 19).all() and frame["min_samples_split"].between(2, 19).all()


def test_names_of_tuned_variants():
    assert tuning.split_name("xgb-tuned") == ("xgb", True) and tuning.split_name("rf") == ("rf", False)
    with pytest.raises(NasreproError, match="no tuning space"):
        tuning.split_name("gp-tuned")
    with pytest.raises(NasreproError, match="unknown predictor"):
        tuning.split_name("svm-tuned")
    with pytest.raises(NasreproError, match="at least 2 folds"):
        tuning.TuneConfig(folds=1)
    with pytest.raises(NasreproError, match="at least 1 configuration"):
        tuning.TuneConfig(trials=0)


def test_too_few_cells_are_not_tuned(nb201_c10):
    cells = targets.sample_cells(nb201_c10, 5, np.random.default_rng(0))
    y = np.array([nb201_c10.query(a).value for a in cells])
    result = tuning.tune("xgb", nb201_c10.space, cells, y, np.random.SeedSequence(0), CONFIG)
    assert result.settings == {} and np.isnan(result.cv_tau) and result.configurations == 0


def test_the_winner_has_the_best_cv_score_of_the_configurations_tried(nb201_c10):
    cells = targets.sample_cells(nb201_c10, 60, np.random.default_rng(1))
    y = np.array([nb201_c10.query(a).value for a in cells])
    ss = np.random.SeedSequence(7)
    result = tuning.tune("rf", nb201_c10.space, cells, y, ss, CONFIG)
    # recompute every configuration's score independently: the default, then the sampler's draws
    sampler = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(0,)))
    candidates = [{}] + [tuning.SPACES["rf"](sampler) for _ in range(CONFIG.trials - 1)]
    scores = [tuning.cv_tau("rf", nb201_c10.space, cells, y, s, CONFIG.folds, ss) for s in candidates]
    assert result.cv_tau == max(scores) and result.settings == candidates[int(np.argmax(scores))]
    assert len(set(scores)) > 1, "every configuration scores alike: the settings are not being varied"


@pytest.fixture(scope="module")
def tuned_table(nb201_c10):
    return evaluate("nb201-cifar10", ["xgb", "xgb-tuned", "rf-tuned"], [12, 40], trials=2, seed=4, tune_config=CONFIG)


def test_tuned_rows_store_their_choice_and_use_it(tuned_table):
    tuned = tuned_table[tuned_table["tuned"]]
    assert set(tuned["predictor"]) == {"xgb-tuned", "rf-tuned"} and (tuned["tune_configurations"] == 4).all()
    assert tuned["cv_tau"].between(0, 1).all()
    for row in tuned.itertuples():  # overrides of the base predictor's config, or {} when the default won
        registry.predictor_config(row.base_predictor, json.loads(row.tuned_settings))
    # where the default won, the tuned row is the default's fit (same seed, same settings): same predictions
    default = tuned_table[tuned_table["predictor"] == "xgb"].set_index(["trial", "train_size"])
    kept_default = [r for r in tuned[tuned["predictor"] == "xgb-tuned"].itertuples() if r.tuned_settings == "{}"]
    for row in kept_default:
        assert default.loc[(row.trial, row.train_size), "kendall_tau"] == row.kendall_tau


def test_tuned_results_are_deterministic(tuned_table):
    again = evaluate("nb201-cifar10", ["xgb", "xgb-tuned", "rf-tuned"], [12, 40], trials=2, seed=4, tune_config=CONFIG)
    pd.testing.assert_frame_equal(tuned_table.drop(columns=TIMING), again.drop(columns=TIMING))


def test_tuning_never_sees_the_test_cells(tuned_table, monkeypatch):
    """Poison every test label: the chosen settings and CV scores stay the same, the test scores do not."""
    honest = targets.get("nb201-cifar10")

    def poisoned_draw(n, rng):
        cells, y = honest.draw(n, rng)
        y = y.copy()
        y[:TEST_SIZE] = np.random.default_rng(99).permutation(y[:TEST_SIZE])[::-1] * -1.0
        return cells, y

    monkeypatch.setattr(targets, "get", lambda name: dataclasses.replace(honest, draw=poisoned_draw))
    poisoned = evaluate("nb201-cifar10", ["xgb", "xgb-tuned", "rf-tuned"], [12, 40], trials=2, seed=4,
                        tune_config=CONFIG)
    keys = ["predictor", "train_size", "trial"]
    for column in ["tuned_settings", "cv_tau"]:
        pd.testing.assert_series_equal(poisoned.set_index(keys)[column], tuned_table.set_index(keys)[column])
    assert not np.allclose(poisoned["kendall_tau"], tuned_table["kendall_tau"])
