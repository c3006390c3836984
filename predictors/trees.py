"""Tree ensembles on a cell encoding: XGBoost and random forest.

Defaults are NASLib's, the settings of White et al. 2021 ("How Powerful are Performance Predictors in
Neural Architecture Search?"): XGBoost max_depth 6, min_child_weight 1, learning rate 0.3, column
subsampling 1 per tree and per level, 500 boosting rounds; random forest 116 trees, max_features 0.1706,
min_samples_leaf 2, no bootstrap (copied there from NAS-Bench-301's tuned forest). The settings NASLib's
random search varies are fields here too (see predictors/tuning.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from predictors.common import EncodedPredictor, UncertainEncodedPredictor, check_encoding, seed_int
from suite.api import PredictorEntry
from suite.benchmarks.base import SearchSpace


@dataclass(frozen=True)
class XgbConfig:
    encoding: str = "adjacency"
    n_estimators: int = 500
    max_depth: int = 6
    learning_rate: float = 0.3
    min_child_weight: float = 1.0
    colsample_bytree: float = 1.0
    colsample_bylevel: float = 1.0

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        if self.n_estimators < 1 or self.max_depth < 1 or self.learning_rate <= 0:
            raise ValueError("need n_estimators >= 1, max_depth >= 1, learning_rate > 0")
        if not (0 < self.colsample_bytree <= 1 and 0 < self.colsample_bylevel <= 1):
            raise ValueError("colsample_bytree and colsample_bylevel must be in (0, 1]")


class XgbPredictor(EncodedPredictor):
    def __init__(self, config: XgbConfig, space: SearchSpace[Any], seed_sequence: np.random.SeedSequence) -> None:
        super().__init__(config.encoding, space)
        self.config = config
        self.seed = seed_int(seed_sequence)

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        import xgboost

        c = self.config
        # One thread: xgboost's multithreaded histogram sums are not bit-reproducible across thread counts.
        self.model = xgboost.XGBRegressor(
            n_estimators=c.n_estimators, max_depth=c.max_depth, learning_rate=c.learning_rate,
            min_child_weight=c.min_child_weight, colsample_bytree=c.colsample_bytree,
            colsample_bylevel=c.colsample_bylevel, objective="reg:squarederror", n_jobs=1,
            random_state=self.seed,
        )
        self.model.fit(X, z)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)


@dataclass(frozen=True)
class RfConfig:
    encoding: str = "adjacency"
    n_estimators: int = 116
    max_features: float = 0.17055852159745608
    min_samples_leaf: int = 2
    min_samples_split: int = 2
    bootstrap: bool = False

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        if self.n_estimators < 1 or not 0 < self.max_features <= 1:
            raise ValueError("need n_estimators >= 1 and 0 < max_features <= 1")
        if self.min_samples_leaf < 1 or self.min_samples_split < 2:
            raise ValueError("need min_samples_leaf >= 1 and min_samples_split >= 2")


class RfPredictor(UncertainEncodedPredictor):
    """predict_dist: mean and spread of the trees' predictions (a rough uncertainty, as in SMAC)."""

    def __init__(self, config: RfConfig, space: SearchSpace[Any], seed_sequence: np.random.SeedSequence) -> None:
        super().__init__(config.encoding, space)
        self.config = config
        self.seed = seed_int(seed_sequence)

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestRegressor

        c = self.config
        self.model = RandomForestRegressor(
            n_estimators=c.n_estimators, max_features=c.max_features, min_samples_leaf=c.min_samples_leaf,
            min_samples_split=c.min_samples_split, bootstrap=c.bootstrap, n_jobs=1, random_state=self.seed,
        )
        self.model.fit(X, z)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = np.stack([tree.predict(X) for tree in self.model.estimators_])
        return per_tree.mean(0), per_tree.std(0)


XGB = PredictorEntry("xgb", XgbConfig, XgbPredictor, "XGBoost on the adjacency (or path) encoding, NASLib defaults")
RF = PredictorEntry(
    "rf", RfConfig, RfPredictor, "random forest on the adjacency (or path) encoding, NASLib/NB301 defaults"
)
