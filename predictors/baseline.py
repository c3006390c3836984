"""Zero-knowledge baselines: a property of the cell known without training (FLOPs, parameters).

The prediction is an affine least-squares fit of the target on that one number, so its ranking is
the metric's own (reversed if the fitted slope is negative) and its MAE is comparable with the
learned predictors'. It reads only the named property of `space.costs` (cost-like properties, never an
accuracy), and refuses a space that does not have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np

from predictors.common import check_training
from predictors.encodings import PROBE_SEED
from suite.api import PredictorEntry
from suite.benchmarks.base import Arch, SearchSpace
from suite.errors import NasreproError


@dataclass(frozen=True)
class MetricBaselineConfig:
    metric: str = "flops_m"  # comma-separated: the first one the space's costs have


@dataclass(frozen=True)
class ParamsBaselineConfig(MetricBaselineConfig):
    metric: str = "params,params_m"  # NB101 counts parameters, NB301 millions of them


class MetricBaseline:
    def __init__(
        self, config: MetricBaselineConfig, space: SearchSpace, seed_sequence: np.random.SeedSequence
    ) -> None:
        wanted = [m.strip() for m in config.metric.split(",")]
        exposed = space.costs(space.sample(np.random.default_rng(PROBE_SEED)))
        found = [m for m in wanted if m in exposed]
        if not found:
            names = " or ".join(map(repr, wanted))
            raise NasreproError(
                f"{space.name} exposes no {names} for the baseline; it has the cost-like properties "
                f"{sorted(exposed)} (accuracies are not allowed)"
            )
        self.metric = found[0]
        self.space = space
        self.coef: tuple[float, float] | None = None

    def _values(self, archs: Sequence[Arch]) -> np.ndarray:
        return np.array([self.space.costs(a)[self.metric] for a in archs], dtype=np.float64)

    def fit(self, archs: Sequence[Arch], y: np.ndarray) -> Self:
        y = check_training(archs, y)
        x = self._values(archs)
        slope = float(np.cov(x, y, bias=True)[0, 1] / x.var()) if x.var() > 0 else 0.0
        self.coef = (float(y.mean()) - slope * float(x.mean()), slope)
        return self

    def predict(self, archs: Sequence[Arch]) -> np.ndarray:
        if self.coef is None:
            raise NasreproError("MetricBaseline: predict before fit")
        intercept, slope = self.coef
        return intercept + slope * self._values(archs)


FLOPS = PredictorEntry(
    "flops", MetricBaselineConfig, MetricBaseline,
    "zero-knowledge baseline: affine fit on the cell's FLOPs (cost flops_m)",
)
PARAMS = PredictorEntry(
    "params", ParamsBaselineConfig, MetricBaseline,
    "zero-knowledge baseline: affine fit on the cell's parameter count (cost params or params_m)",
)
