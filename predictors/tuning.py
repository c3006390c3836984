"""Hyperparameter tuning of a predictor inside its training cells, as White et al. 2021 did.

The protocol is NASLib's (`PredictorEvaluator.run_hpo` in naslib/defaults/predictor_evaluator.py, the
code of "How Powerful are Performance Predictors in NAS?"): random search over a stated space per
predictor, the default configuration tried first; each configuration scored by 3-fold cross-validation
on the training cells only (contiguous folds, NASLib's `generate_kfold`; the training cells arrive in
random order), by the mean Kendall tau over the folds, a NaN or negative score counting as 0; the best
score wins (ties keep the earlier configuration, so the default unless beaten); no tuning below 6 cells
(NASLib tunes only when there are more than 5). One change: NASLib ran configurations until a time
budget was spent, which no two machines share; here the budget is a fixed number of configurations.

The spaces are NASLib's `set_random_hyperparams` (naslib/predictors/trees/xgb.py and
trees/random_forest.py): XGBoost max_depth 1..14, min_child_weight 1..9, colsample_bytree and
colsample_bylevel uniform in (0, 1], learning rate log-uniform in [0.001, 0.5] (500 rounds as by
default); random forest n_estimators int(log-uniform[16, 128]), max_features log-uniform in [0.1, 0.9],
min_samples_leaf 1..19, min_samples_split 2..19, no bootstrap.

Seeds: configurations are drawn from the tuning seed sequence's child 0; fold f's predictor is seeded
by child (1, f) for every configuration (common random numbers: configurations differ by their
settings, not by their luck). The caller gives the tuning its own seed sequence, apart from the final fit's.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from suite import registry
from suite.benchmarks.base import Arch, SearchSpace
from suite.errors import NasreproError

TUNED_SUFFIX = "-tuned"


@dataclass(frozen=True)
class TuneConfig:
    trials: int = 20  # configurations scored, the default first
    folds: int = 3

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise NasreproError(f"tuning needs at least 1 configuration, got {self.trials}")
        if self.folds < 2:
            raise NasreproError(f"cross-validation needs at least 2 folds, got {self.folds}")

    @property
    def min_cells(self) -> int:
        """Fewer training cells are not tuned: NASLib's 6, or 2 per fold (a fold needs a tau)."""
        return max(6, 2 * self.folds)


def _loguniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _xgb_space(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "max_depth": int(rng.integers(1, 15)),
        "min_child_weight": float(rng.integers(1, 10)),
        "colsample_bytree": float(1.0 - rng.uniform()),  # (0, 1]: xgboost refuses 0
        "learning_rate": _loguniform(rng, 0.001, 0.5),
        "colsample_bylevel": float(1.0 - rng.uniform()),
    }


def _rf_space(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "n_estimators": int(_loguniform(rng, 16, 128)),
        "max_features": _loguniform(rng, 0.1, 0.9),
        "min_samples_leaf": int(rng.integers(1, 20)),
        "min_samples_split": int(rng.integers(2, 20)),
    }  # bootstrap False, as by default


SPACES: dict[str, Callable[[np.random.Generator], dict[str, Any]]] = {"xgb": _xgb_space, "rf": _rf_space}


def split_name(name: str) -> tuple[str, bool]:
    """`xgb-tuned` -> ("xgb", True); `xgb` -> ("xgb", False). Checks that the predictor exists and can be tuned."""
    tuned = name.endswith(TUNED_SUFFIX)
    base = name[: -len(TUNED_SUFFIX)] if tuned else name
    registry.predictor(base)
    if tuned and base not in SPACES:
        raise NasreproError(f"predictor {base!r} has no tuning space; tunable: {', '.join(sorted(SPACES))}")
    return base, tuned


def kfold(n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs: k contiguous folds, the last one taking the remainder."""
    size = n // k
    bounds = [i * size for i in range(k)] + [n]
    idx = np.arange(n)
    return [
        (np.concatenate([idx[: bounds[i]], idx[bounds[i + 1]:]]), idx[bounds[i] : bounds[i + 1]]) for i in range(k)
    ]


@dataclass(frozen=True)
class TuneResult:
    settings: dict[str, Any]  # overrides of the default config that won; {} when the default did
    cv_tau: float  # its cross-validated score; NaN when the training set was too small to tune
    configurations: int  # how many were scored


def cv_tau(
    name: str, space: SearchSpace, archs: Sequence[Arch], y: np.ndarray, settings: dict[str, Any],
    folds: int, seed_sequence: np.random.SeedSequence,
) -> float:
    """Mean Kendall tau over the folds; a NaN or negative mean counts as 0 (NASLib)."""
    scores = []
    for f, (train, valid) in enumerate(kfold(len(archs), folds)):
        ss = np.random.SeedSequence(seed_sequence.entropy, spawn_key=(*seed_sequence.spawn_key, 1, f))
        predictor = registry.build_predictor(name, space, ss, settings)
        predictor.fit([archs[i] for i in train], y[train])
        pred = np.asarray(predictor.predict([archs[i] for i in valid]), dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.ConstantInputWarning)  # constant fold predictions: NaN
            scores.append(float(stats.kendalltau(y[valid], pred).statistic))
    score = float(np.mean(scores))
    return score if score > 0 else 0.0  # NaN > 0 is False


def tune(
    name: str, space: SearchSpace, archs: Sequence[Arch], y: np.ndarray,
    seed_sequence: np.random.SeedSequence, config: TuneConfig, base_settings: dict[str, Any] | None = None,
) -> TuneResult:
    """Random search for `name`'s settings, scored on `archs`/`y` alone (the training cells)."""
    if name not in SPACES:
        raise NasreproError(f"predictor {name!r} has no tuning space; tunable: {', '.join(sorted(SPACES))}")
    y = np.asarray(y, dtype=np.float64)
    if len(archs) < config.min_cells:
        return TuneResult({}, float("nan"), 0)
    sampler = np.random.default_rng(
        np.random.SeedSequence(seed_sequence.entropy, spawn_key=(*seed_sequence.spawn_key, 0))
    )
    base = dict(base_settings or {})
    best_settings: dict[str, Any] = {}
    best = cv_tau(name, space, archs, y, base, config.folds, seed_sequence)
    for _ in range(config.trials - 1):
        settings = SPACES[name](sampler)
        score = cv_tau(name, space, archs, y, {**base, **settings}, config.folds, seed_sequence)
        if score > best:
            best, best_settings = score, settings
    return TuneResult(best_settings, best, config.trials)
