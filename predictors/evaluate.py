"""The predictor benchmark of White et al. 2021 ("How Powerful are Performance Predictors in Neural
Architecture Search?", the NAS-Bench-Suite protocol).

Per trial: draw distinct labelled cells uniformly from the target's pool (predictors/targets.py), the
first `test_size` (200) the held-out test set, the rest a training pool; each train size uses the first
n cells of the pool (nested sets: a larger size adds cells, which pairs the sizes and lowers the
variance of the curve). Every predictor of a trial sees the same cells. A tuned variant (`xgb-tuned`)
first chooses its settings by cross-validation on those n training cells alone (predictors/tuning.py),
then fits like the default. Metrics on the test set: Kendall tau, Spearman, Pearson, MAE, precision@10
and @20 (the fraction of the true top-k among the predicted top-k); for predictors with a predictive
std, coverage of its 68% and 95% Gaussian intervals and the Gaussian NLL (predictors/calibration.py);
wall and CPU time.

Seeds: trial t's cells come from SeedSequence(seed, spawn_key=(t, 0)); a predictor's own randomness from
SeedSequence(seed, spawn_key=(t, 1, crc32(name), n)), so adding a predictor changes no other's numbers;
a tuned variant's search from (t, 2, crc32(name), n), and its final fit uses the default's seed, so the
two differ by their settings alone.
"""

from __future__ import annotations

import json
import time
import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from predictors import calibration, targets, tuning
from suite import registry
from suite.benchmarks.base import Arch
from suite.errors import NasreproError

TEST_SIZE = 200
MIN_TRAIN, MAX_TRAIN = 5, 1000
TOP_K = (10, 20)
METRICS = ("kendall_tau", "spearman", "pearson", "mae", "precision_at_10", "precision_at_20")


def log_grid(low: int = MIN_TRAIN, high: int = MAX_TRAIN, points: int = 9) -> list[int]:
    """Integer train sizes evenly spaced in log scale, both ends included."""
    return sorted({int(round(x)) for x in np.geomspace(low, high, points)})


DEFAULT_TRAIN_SIZES = log_grid()  # 5, 10, 19, 36, 71, 137, 266, 516, 1000


def precision_at_k(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    k = min(k, len(y_true))
    true_top = set(np.argsort(-y_true, kind="stable")[:k].tolist())
    pred_top = set(np.argsort(-y_pred, kind="stable")[:k].tolist())
    return len(true_top & pred_top) / k


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings():
        # constant predictions (tiny train sets) have no correlation: NaN, not a warning per row; nearly
        # constant ones (a GP on 10 cells) get scipy's value, whose possible inaccuracy is that of any
        # rank statistic on near-ties, so the benchmark's output stays one line per target
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", stats.NearConstantInputWarning)
        metrics = {
            "kendall_tau": float(stats.kendalltau(y_true, y_pred).statistic),
            "spearman": float(stats.spearmanr(y_true, y_pred).statistic),
            "pearson": float(stats.pearsonr(y_true, y_pred).statistic) if np.ptp(y_pred) > 0 else float("nan"),
        }
    metrics["mae"] = float(np.mean(np.abs(y_true - y_pred)))
    for k in TOP_K:
        metrics[f"precision_at_{k}"] = precision_at_k(y_true, y_pred, k)
    return metrics


def check_request(predictor_names: Sequence[str], train_sizes: Sequence[int], trials: int, seed: int) -> None:
    if not predictor_names:
        raise NasreproError("no predictor to evaluate")
    for name in predictor_names:
        tuning.split_name(name)
    if not train_sizes or min(train_sizes) < 2:
        raise NasreproError(f"train sizes must be at least 2 (a fit needs two cells), got {list(train_sizes)}")
    if trials < 1:
        raise NasreproError(f"trials must be at least 1, got {trials}")
    if seed < 0:
        raise NasreproError(f"the seed must be a non-negative integer, got {seed}")


def _crc(name: str) -> int:
    return zlib.crc32(name.encode())


def _case(
    target: targets.Target, name: str, n: int, trial: int, seed: int,
    train: tuple[list[Arch], np.ndarray], test: tuple[list[Arch], np.ndarray],
    settings: dict[str, Any], tune_config: tuning.TuneConfig,
) -> dict[str, Any]:
    """Tune (for a tuned variant), fit on the n training cells, score on the test cells: one result row."""
    base, tuned = tuning.split_name(name)
    (archs, y), (test_archs, y_test) = train, test
    cpu_start, start = time.process_time(), time.perf_counter()
    chosen = None
    if tuned:
        tune_ss = np.random.SeedSequence(seed, spawn_key=(trial, 2, _crc(base), n))
        chosen = tuning.tune(base, target.benchmark.space, archs, y, tune_ss, tune_config, settings)
        settings = {**settings, **chosen.settings}
    tuned_at = time.perf_counter()
    ss = np.random.SeedSequence(seed, spawn_key=(trial, 1, _crc(base), n))
    predictor = registry.build_predictor(base, target.benchmark.space, ss, settings).fit(archs, y)
    fitted = time.perf_counter()
    if hasattr(predictor, "predict_dist"):
        mean, std = predictor.predict_dist(test_archs)
        uncertainty = calibration.gaussian_calibration(y_test, mean, std)
    else:
        mean, uncertainty = predictor.predict(test_archs), calibration.empty()
    predicted = time.perf_counter()
    return {
        "benchmark": target.name, "oracle": target.oracle, "predictor": name, "base_predictor": base,
        "tuned": tuned, "train_size": n, "trial": trial, "seed": seed, "test_size": len(y_test),
        **score(y_test, np.asarray(mean, dtype=np.float64)), **uncertainty,
        "tuned_settings": json.dumps(chosen.settings, sort_keys=True) if chosen else "",
        "cv_tau": chosen.cv_tau if chosen else float("nan"),
        "tune_configurations": chosen.configurations if chosen else 0,
        "tune_seconds": tuned_at - start, "fit_seconds": fitted - tuned_at, "predict_seconds": predicted - fitted,
        "cpu_seconds": time.process_time() - cpu_start,
    }


def evaluate(
    target_name: str,
    predictor_names: list[str],
    train_sizes: list[int],
    trials: int,
    seed: int,
    *,
    test_size: int = TEST_SIZE,
    overrides: dict[str, dict] | None = None,
    tune_config: tuning.TuneConfig | None = None,
) -> pd.DataFrame:
    """One tidy row per (target, predictor, train size, trial). `overrides`: per-predictor settings (a
    tuned variant searches on top of its base predictor's)."""
    check_request(predictor_names, train_sizes, trials, seed)
    target = targets.get(target_name)
    sizes = sorted(set(train_sizes))
    tune_config = tune_config or tuning.TuneConfig()
    rows = []
    for trial in range(trials):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(trial, 0)))
        cells, y = target.draw(test_size + sizes[-1], rng)
        test, pool, y_pool = (cells[:test_size], y[:test_size]), cells[test_size:], y[test_size:]
        for name in predictor_names:
            settings = dict((overrides or {}).get(tuning.split_name(name)[0]) or {})
            for n in sizes:
                rows.append(_case(target, name, n, trial, seed, (pool[:n], y_pool[:n]), test, settings, tune_config))
    return pd.DataFrame(rows)
