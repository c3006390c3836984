"""Coverage and Gaussian NLL of a predictive distribution, against hand values and scipy.stats.norm."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from predictors.calibration import empty, gaussian_calibration, z_value


def test_interval_half_widths_are_the_normal_quantiles():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.68) == pytest.approx(0.994458, abs=1e-6)


def test_hand_computed_case():
    # errors 0, 1, 2, 3 with std 1: inside +-0.9945 only the first, inside +-1.96 the first two;
    # NLL = 0.5 log(2 pi) + err^2 / 2, mean = 0.918939 + (0 + 0.5 + 2 + 4.5) / 4
    m = gaussian_calibration(np.array([0.0, 1, 2, 3]), np.zeros(4), np.ones(4))
    assert m["coverage_68"] == 0.25 and m["coverage_95"] == 0.5
    assert m["nll"] == pytest.approx(0.5 * np.log(2 * np.pi) + 1.75)


def test_std_scales_the_nll_by_hand():
    # one cell, error 2, std 2: NLL = 0.5 log(2 pi) + log 2 + 0.5
    m = gaussian_calibration(np.array([92.0]), np.array([90.0]), np.array([2.0]))
    assert m["nll"] == pytest.approx(0.5 * np.log(2 * np.pi) + np.log(2) + 0.5)
    assert m["coverage_68"] == 0.0 and m["coverage_95"] == 1.0  # |2| > 0.9945 * 2, |2| < 1.96 * 2


def test_against_scipy_intervals_and_a_well_calibrated_model():
    rng = np.random.default_rng(5)
    mean = rng.normal(90, 2, size=20_000)
    std = rng.uniform(0.2, 3.0, size=mean.size)
    y = rng.normal(mean, std)  # the model's stated distribution is the truth
    m = gaussian_calibration(y, mean, std)
    for level in (0.68, 0.95):
        low, high = stats.norm.interval(level, loc=mean, scale=std)
        assert m[f"coverage_{round(level * 100)}"] == pytest.approx(np.mean((y >= low) & (y <= high)), abs=1e-12)
        assert m[f"coverage_{round(level * 100)}"] == pytest.approx(level, abs=0.01)
    # expected NLL of a calibrated Gaussian: 0.5 log(2 pi e) + E[log std]
    assert m["nll"] == pytest.approx(0.5 * np.log(2 * np.pi * np.e) + np.mean(np.log(std)), abs=0.02)


def test_overconfidence_shows_as_low_coverage_and_high_nll():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, size=5000)
    honest = gaussian_calibration(y, np.zeros_like(y), np.ones_like(y))
    overconfident = gaussian_calibration(y, np.zeros_like(y), np.full_like(y, 0.2))
    assert overconfident["coverage_95"] < 0.5 < honest["coverage_95"]
    assert overconfident["nll"] > honest["nll"] + 5


def test_zero_std_is_certainty():
    m = gaussian_calibration(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.array([0.0, 1.0]))
    assert m["coverage_68"] == 0.5  # the exact prediction is covered, the other misses +-0.9945
    wrong = gaussian_calibration(np.array([1.5]), np.array([1.0]), np.array([0.0]))
    assert wrong["coverage_95"] == 0.0 and wrong["nll"] == np.inf


def test_bad_input_and_empty_columns():
    with pytest.raises(ValueError, match="1-d arrays"):
        gaussian_calibration(np.zeros(3), np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        gaussian_calibration(np.zeros(2), np.zeros(2), np.array([1.0, -1.0]))
    assert all(np.isnan(v) for v in empty().values()) and set(empty()) == {"coverage_68", "coverage_95", "nll"}
