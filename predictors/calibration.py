"""How well a predictor's stated uncertainty matches its errors on held-out cells.

A predictor with `predict_dist` states a Gaussian N(mean, std^2) for each cell. Two checks on the test
cells, as in the uncertainty-calibration literature (e.g. Kuleshov et al. 2018; Tran et al. 2020):

- coverage of the central p-interval, mean +- z_p * std with z_p = Phi^-1((1 + p) / 2), for p = 68% and
  95%: the fraction of test cells whose true value falls inside (well calibrated: about p; below p:
  overconfident; above: underconfident);
- the mean Gaussian negative log-likelihood of the true values (lower is better; it rewards sharp and
  honest stds together), in the target's units (accuracy in percent here).

A std of exactly zero states certainty: the cell is covered only if the prediction is exact, and its
likelihood is infinite (NLL -inf) if exact, zero (NLL +inf) otherwise. Such NLLs are kept, not clipped:
an infinite NLL is the true verdict on a model that claims certainty and is wrong.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

LEVELS = (0.68, 0.95)
COLUMNS = ("coverage_68", "coverage_95", "nll")


def z_value(level: float) -> float:
    """Half-width of the central `level` interval of a standard normal."""
    return float(stats.norm.ppf(0.5 + level / 2))


def gaussian_calibration(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    y_true, mean, std = (np.asarray(a, dtype=np.float64) for a in (y_true, mean, std))
    if not (y_true.shape == mean.shape == std.shape) or y_true.ndim != 1:
        raise ValueError(f"need three 1-d arrays of one length, got {y_true.shape}, {mean.shape}, {std.shape}")
    if (std < 0).any() or not np.isfinite(std).all():
        raise ValueError("predictive stds must be finite and non-negative")
    error = np.abs(y_true - mean)
    metrics = {f"coverage_{round(level * 100)}": float(np.mean(error <= z_value(level) * std)) for level in LEVELS}
    with np.errstate(divide="ignore", invalid="ignore"):
        nll = -stats.norm.logpdf(y_true, loc=mean, scale=std)
    # scipy gives NaN at scale 0; the limit is -inf for an exact prediction and +inf otherwise
    nll = np.where(std > 0, nll, np.where(error == 0, -np.inf, np.inf))
    metrics["nll"] = float(np.mean(nll))
    return metrics


def empty() -> dict[str, float]:
    """The calibration columns of a predictor without a predictive std."""
    return dict.fromkeys(COLUMNS, float("nan"))
