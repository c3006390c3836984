"""Gaussian process regression on a cell encoding (scikit-learn), with a predictive std.

Kernel: a scaled RBF plus white noise, its hyperparameters fitted by maximum marginal likelihood
(L-BFGS from one fixed start, so the fit is deterministic), on standardized targets. Each likelihood
evaluation costs O(n^3), so the hyperparameters are fitted on at most `max_tuning_cells` cells (the
first ones given: training sets arrive in random order) and the GP then conditions on all cells:
1,000 cells take seconds instead of a minute, for the same kernel up to sampling noise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from predictors.common import UncertainEncodedPredictor, check_encoding, seed_int
from suite.api import PredictorEntry
from suite.benchmarks.base import SearchSpace


@dataclass(frozen=True)
class GpConfig:
    encoding: str = "adjacency"
    length_scale: float = 3.0  # starting value; one shared length scale (the encodings are binary)
    noise: float = 0.1  # starting value, in standardized target units
    max_tuning_cells: int = 300

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        if self.length_scale <= 0 or self.noise <= 0:
            raise ValueError("length_scale and noise must be positive")
        if self.max_tuning_cells < 2:
            raise ValueError("max_tuning_cells must be at least 2")


class GpPredictor(UncertainEncodedPredictor):
    def __init__(self, config: GpConfig, space: SearchSpace[Any], seed_sequence: np.random.SeedSequence) -> None:
        super().__init__(config.encoding, space)
        self.config = config
        self.seed = seed_int(seed_sequence)

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * RBF(self.config.length_scale, (1e-1, 1e3)) + WhiteKernel(
            self.config.noise, (1e-5, 1e1)
        )
        X = X.astype(np.float64)
        m = self.config.max_tuning_cells
        # one BLAS thread: on a busy machine two threads made the O(n^3) solves over ten times slower
        with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
            # a hyperparameter at its bound is a fine fit for ranking; the warning would flood reports
            warnings.simplefilter("ignore", ConvergenceWarning)
            tuned = GaussianProcessRegressor(kernel, n_restarts_optimizer=0, random_state=self.seed).fit(X[:m], z[:m])
            if len(z) <= m:
                self.model = tuned
            else:
                self.model = GaussianProcessRegressor(tuned.kernel_, optimizer=None).fit(X, z)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with threadpool_limits(1, user_api="blas"):
            return self.model.predict(X.astype(np.float64), return_std=True)


ENTRY = PredictorEntry(
    "gp", GpConfig, GpPredictor, "Gaussian process (RBF + noise) on the adjacency (or path) encoding"
)
