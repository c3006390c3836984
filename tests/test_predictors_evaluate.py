"""The predictor benchmark (White et al. 2021 protocol) and its report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictors.bench_report import leaderboard, mean_ci, write_report
from predictors.evaluate import evaluate, log_grid, precision_at_k, score
from suite.errors import NasreproError


@pytest.fixture(scope="module")
def table(nb201_c10):
    return evaluate("nb201-cifar10", ["xgb", "flops"], [5, 30], trials=2, seed=3)


def test_log_grid_spans_5_to_1000():
    grid = log_grid()
    assert grid[0] == 5 and grid[-1] == 1000 and grid == sorted(set(grid))
    assert np.allclose(np.diff(np.log(grid)), np.log(200) / (len(grid) - 1), atol=0.1)


def test_precision_at_k_by_hand():
    y_true = np.array([9.0, 8, 7, 6, 5, 4])
    assert precision_at_k(y_true, y_true, 2) == 1.0
    assert precision_at_k(y_true, -y_true, 2) == 0.0
    assert precision_at_k(y_true, np.array([9.0, 1, 7, 6, 5, 4]), 2) == 0.5  # top-2 predicted: 0 and 2


def test_score_of_a_perfect_and_a_constant_prediction():
    y = np.arange(30, dtype=float)
    perfect = score(y, y)
    assert perfect["kendall_tau"] == pytest.approx(1) and perfect["mae"] == 0 and perfect["precision_at_20"] == 1
    constant = score(y, np.full(30, 3.0))
    assert np.isnan(constant["kendall_tau"]) and np.isnan(constant["pearson"])


def test_tidy_table_one_row_per_case(table):
    assert len(table) == 2 * 2 * 2
    assert {"benchmark", "predictor", "train_size", "trial", "kendall_tau", "spearman", "pearson", "mae",
            "precision_at_10", "precision_at_20", "fit_seconds", "predict_seconds", "cpu_seconds",
            "coverage_68", "coverage_95", "nll", "tuned", "tuned_settings", "cv_tau"} <= set(table.columns)
    # neither predictor states an uncertainty, and neither is tuned
    assert table[["coverage_68", "coverage_95", "nll", "cv_tau"]].isna().all().all() and not table["tuned"].any()
    assert not table.duplicated(["benchmark", "predictor", "train_size", "trial"]).any()
    assert (table["test_size"] == 200).all() and (table["benchmark"] == "nb201-cifar10").all()
    # trials draw different cells, so the baseline's tau differs between trials
    flops = table[table["predictor"] == "flops"].groupby("trial")["kendall_tau"].first()
    assert flops[0] != flops[1]


def test_same_seed_same_table(table):
    again = evaluate("nb201-cifar10", ["xgb", "flops"], [5, 30], trials=2, seed=3)
    timing = ["fit_seconds", "predict_seconds", "tune_seconds", "cpu_seconds"]
    pd.testing.assert_frame_equal(table.drop(columns=timing), again.drop(columns=timing))


def test_mean_ci_is_the_t_interval_of_the_mean():
    x = np.array([0.1, 0.3, 0.2, 0.6])
    mean, low, high = mean_ci(x)
    # by hand: sd = 0.21602, t(0.975, 3) = 3.18245, half-width = 3.18245 * 0.21602 / 2 = 0.34374
    assert mean == pytest.approx(0.3) and low == pytest.approx(0.3 - 0.343738, abs=1e-5)
    assert high == pytest.approx(0.3 + 0.343738, abs=1e-5)
    assert np.isnan(mean_ci([0.5])[1]) and mean_ci([0.5, np.nan])[0] == 0.5


def test_leaderboard_ranks_by_tau():
    df = pd.DataFrame({
        "benchmark": ["b"] * 6, "train_size": [5, 5, 5, 50, 50, 50], "trial": [0] * 6,
        "predictor": ["p", "q", "r"] * 2, "kendall_tau": [0.5, 0.1, np.nan, 0.2, 0.6, 0.4],
        "precision_at_20": [0.0] * 6, "fit_seconds": [0.0] * 6,
    })
    board = leaderboard(df).set_index("predictor")
    assert board.loc["p", "mean_rank"] == 2.0 and board.loc["q", "mean_rank"] == 1.5  # (1+3)/2, (2+1)/2
    assert board.loc["r", "mean_rank"] == 2.5  # (3+2)/2: NaN ranks last
    assert list(board.index) == ["q", "p", "r"]


def test_report_files(table, tmp_path):
    path = write_report(table, tmp_path / "out")
    text = path.read_text()
    assert "## Leaderboard" in text and "| xgb |" in text and "nb201-cifar10" in text
    assert (tmp_path / "out" / "tau.png").stat().st_size > 1000
    assert len(pd.read_csv(tmp_path / "out" / "results.csv")) == len(table)


def test_bad_requests_are_clear_errors(nb201_c10):
    with pytest.raises(NasreproError, match="unknown predictor"):
        evaluate("nb201-cifar10", ["svm"], [10], 1, 0)
    with pytest.raises(NasreproError, match="at least 2"):
        evaluate("nb201-cifar10", ["xgb"], [1, 10], 1, 0)
    with pytest.raises(NasreproError, match="unknown predictor-benchmark target"):
        evaluate("nb999", ["xgb"], [10], 1, 0)
    with pytest.raises(NasreproError, match="non-negative"):
        evaluate("nb201-cifar10", ["xgb"], [10], 1, -1)
    with pytest.raises(NasreproError, match="cells"):
        evaluate("nb201-cifar10", ["xgb"], [16000], 1, 0)
    with pytest.raises(NasreproError, match="no predictor results"):
        write_report(pd.DataFrame(), "/tmp/never-written")
