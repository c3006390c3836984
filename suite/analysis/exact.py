"""Exact rank tests and their Hodges-Lehmann intervals, for the small, tied samples that seeds give.

Data are rounded to `TOL` before ranking, so two finals that differ by float round-off tie. Paired: the
signed-rank test with the exact conditional (sign-flip) distribution given the observed midranks, zero
differences dropped first (Wilcoxon's convention, scipy's `zero_method="wilcox"`). The distribution of the
sum of positive ranks is counted exactly for any n by convolving over the doubled midranks (integers), which
is the full enumeration of the 2^n sign vectors without listing them: no Monte-Carlo, no normal
approximation at any n. Unpaired: the Mann-Whitney rank-sum test as a permutation test of the midranks
(scipy.stats.permutation_test), exact while the number of splits is at most `N_RESAMPLES`, otherwise
`N_RESAMPLES` random splits from a generator seeded with `SEED`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats as st

TOL = 1e-9  # rounding applied to the data (and differences) before ranking
SEED = 20170101  # the Monte-Carlo permutation stream of unpaired tests; fixed so a report is reproducible
N_RESAMPLES = 100_000
CONFIDENCE = 0.95
LARGE, EXACT_PAIRS = 50, 20_000  # unpaired HL interval: exact up to here (a 141 x 141 recursion), then normal


def rounded(values) -> np.ndarray:
    """Values on the TOL grid: ties up to float round-off become exact ties."""
    return np.round(np.asarray(values, dtype=float) / TOL) * TOL


@dataclass(frozen=True)
class RankTest:
    test: str
    statistic: float  # paired: sum of positive ranks; unpaired: Mann-Whitney U of the first sample
    p: float  # two-sided
    n_used: int  # paired: non-zero differences; unpaired: both samples
    method: str  # "exact" or "Monte-Carlo (N resamples, seed S)"


def _sign_flip_counts(doubled_ranks: np.ndarray) -> np.ndarray:
    """counts[s] = number of sign vectors whose positive doubled ranks sum to s (the generating function)."""
    counts = np.zeros(int(doubled_ranks.sum()) + 1)
    counts[0] = 1.0
    for r in doubled_ranks.astype(int):
        counts[r:] = counts[r:] + counts[: len(counts) - r].copy()
    return counts


def signed_rank(differences) -> RankTest:
    """Two-sided exact signed-rank test of the paired differences (rounded to TOL; zeros dropped)."""
    units = np.round(np.asarray(differences, dtype=float) / TOL).astype(np.int64)
    nonzero = units[units != 0]
    if len(nonzero) == 0:  # every pair tied: no evidence either way
        return RankTest("Wilcoxon signed-rank", 0.0, 1.0, 0, "exact")
    ranks = st.rankdata(np.abs(nonzero))
    # The null is symmetric about its centre: two-sided p = P(|S - centre| >= |s - centre|), which equals
    # scipy's 2 * min(one-sided p) capped at 1.
    p = _signed_rank_p_units(nonzero)
    return RankTest("Wilcoxon signed-rank", float(ranks[nonzero > 0].sum()), p, len(nonzero), "exact")


def mann_whitney(x, y) -> RankTest:
    """Two-sided Mann-Whitney test: permutation test of the pooled midranks (exact or seeded MC)."""
    x, y = rounded(x), rounded(y)
    m, n = len(x), len(y)
    ranks = st.rankdata(np.concatenate([x, y]))
    u = float(ranks[:m].sum() - m * (m + 1) / 2)
    if np.ptp(ranks) == 0:
        return RankTest("Mann-Whitney U", u, 1.0, m + n, "exact")
    result = st.permutation_test(
        (ranks[:m], ranks[m:]),
        lambda a, b, axis: np.sum(a, axis=axis),
        permutation_type="independent",
        vectorized=True,
        n_resamples=N_RESAMPLES,
        alternative="two-sided",
        rng=np.random.default_rng(SEED),
    )
    exact = _splits(m, n) <= N_RESAMPLES
    method = "exact" if exact else f"Monte-Carlo ({N_RESAMPLES} resamples, seed {SEED})"
    return RankTest("Mann-Whitney U", u, float(min(1.0, result.pvalue)), m + n, method)


def _splits(m: int, n: int) -> int:
    return math.comb(m + n, m)


# --- Hodges-Lehmann shifts with exact confidence intervals ---------------------------------------
# Paired: by inverting the tied, zero-dropping signed-rank test itself (exact with ties). Unpaired: the order
# index comes from the untied null distribution (Hollander & Wolfe; R's wilcox.test does the same): exact
# for continuous data, approximate where the samples tie, and labelled so in the report.


@dataclass(frozen=True)
class Shift:
    estimate: float  # first sample minus second
    low: float  # -inf / inf where n is too small for the confidence level
    high: float
    low_open: bool = False  # the end itself is rejected (the interval is (low, ...)): ties at the end
    high_open: bool = False


@cache
def _signed_rank_null(n: int) -> np.ndarray:
    """P(T+ = t), t = 0..n(n+1)/2, for n untied non-zero differences."""
    counts = _sign_flip_counts(2 * np.arange(1, n + 1))[::2]
    return counts / counts.sum()


@cache
def _rank_sum_null(m: int, n: int) -> np.ndarray:
    """P(U = u), u = 0..mn, for untied samples of sizes m and n: the Gaussian binomial, by recursion."""
    table: dict[tuple[int, int], np.ndarray] = {}
    for i in range(m + 1):
        for j in range(n + 1):
            if i == 0 or j == 0:
                table[i, j] = np.ones(1)
                continue
            # The largest value is in the first sample (adds j to U) with probability i / (i + j).
            out = np.zeros(i * j + 1)
            out[j:] += i / (i + j) * table[i - 1, j]
            out[: (i * (j - 1)) + 1] += j / (i + j) * table[i, j - 1]
            table[i, j] = out
        if i >= 1:
            for j in range(n + 1):
                table.pop((i - 1, j), None)
    return table[m, n]


def _order_index(null: np.ndarray, confidence: float) -> int:
    """The number k of order statistics cut from each end: the largest k with P(T <= k - 1) <= alpha / 2."""
    alpha = 1 - confidence
    cdf = np.cumsum(null)
    return int(np.searchsorted(cdf, alpha / 2 + 1e-12, side="right"))


def _interval(sorted_values: np.ndarray, k: int) -> tuple[float, float]:
    if k < 1:
        return (-np.inf, np.inf)
    return (float(sorted_values[k - 1]), float(sorted_values[len(sorted_values) - k]))


def hodges_lehmann_paired(differences, confidence: float = CONFIDENCE) -> Shift:
    """Median of the Walsh averages (d_i + d_j) / 2, i <= j, and the exact interval that inverts `signed_rank`.

    One treatment of zeros throughout: the test of a shift theta drops the differences equal to theta (they
    carry no sign), ranks the rest with midranks and takes the exact conditional sign-flip p, which is
    `signed_rank(d - theta)`; theta = 0 is the reported test. The interval is the closed hull of every theta
    that test does not reject at 1 - confidence, so it covers the true shift with probability at least
    `confidence` whatever the ties (no untied order index, no normal approximation). p(theta) only changes at
    the Walsh averages, so it is evaluated there and once inside each gap between them; the scan runs from
    each end inwards and stops at the first theta not rejected, which is the hull's end even where the set
    of such theta is not an interval.

    The set can be empty: when many differences sit on one value (on NB201 most seeds of two methods end on
    the same pair of cells), no theta leaves differences symmetric about it, and the tied test rejects every
    one (e.g. 70 zeros and 30 equal positive differences). The interval is then empty (NaN ends), which is
    what the test says; the verdict, which rests on the test of theta = 0, is unaffected.
    """
    d = rounded(differences)
    if len(d) == 0:
        return Shift(np.nan, -np.inf, np.inf)
    i, j = np.triu_indices(len(d))
    walsh = np.sort((d[i] + d[j]) / 2)
    estimate = float(np.median(walsh))
    # Integers in units of TOL / 4: Walsh averages (units TOL / 2) and the midpoints of their gaps are exact.
    units = 4 * np.round(d / TOL).astype(np.int64)
    averages = np.unique((units[i] + units[j]) // 2)
    gaps = (averages[:-1] + averages[1:]) // 2
    candidates = np.sort(np.concatenate([averages, gaps, [averages[0] - 4, averages[-1] + 4]]))
    alpha = 1 - confidence

    def accepted(theta: int) -> bool:
        return _signed_rank_p_units(units - theta, reject_below=alpha) > alpha + 1e-12

    low = next((c for c in candidates if accepted(c)), None)
    if low is None:  # every shift rejected: see the docstring's last paragraph
        return Shift(estimate, np.nan, np.nan)
    high = next(c for c in candidates[::-1] if accepted(c))
    return Shift(estimate, *_interval_ends(low, high, averages), low_open=bool(low not in set(averages)),
                 high_open=bool(high not in set(averages)))


def _interval_ends(low: int, high: int, averages: np.ndarray) -> tuple[float, float]:
    """The ends of the accepted set: an accepted gap point extends it (open) to the Walsh average below
    (above), itself rejected; unbounded when the point beyond every Walsh average is accepted."""
    lo = -np.inf if low < averages[0] else averages[np.searchsorted(averages, low, side="right") - 1] * TOL / 4
    hi = np.inf if high > averages[-1] else averages[np.searchsorted(averages, high, side="left")] * TOL / 4
    return float(lo), float(hi)


def _signed_rank_p_units(x: np.ndarray, reject_below: float = 0.0) -> float:
    """The two-sided exact p of `signed_rank` for integer data (exact ties): zeros dropped, midranks.

    With `reject_below` > 0, a p that Hoeffding's bound for sign-flip sums already puts at or below it is
    returned as that bound instead of being counted (the caller only asks whether p <= reject_below).
    """
    x = x[x != 0]
    if len(x) == 0:
        return 1.0
    doubled = (2 * st.rankdata(np.abs(x))).round().astype(int)
    observed = int(doubled[x > 0].sum())
    centre = doubled.sum() / 2
    # S - centre = sum_i r_i (B_i - 1/2) with fair signs B_i: P(|S - centre| >= t) <= 2 exp(-2 t^2 / sum r_i^2)
    bound = 2 * np.exp(-2 * (observed - centre) ** 2 / float(np.sum(doubled.astype(float) ** 2)))
    if bound <= reject_below:
        return float(bound)
    counts = _sign_flip_counts(doubled)
    extreme = np.abs(np.arange(len(counts)) - centre) >= abs(observed - centre) - 1e-9
    return float(min(1.0, counts[extreme].sum() / counts.sum()))


def hodges_lehmann_unpaired(x, y, confidence: float = CONFIDENCE) -> Shift:
    """Median of all x_i - y_j and the interval that inverts the Mann-Whitney test (H&W 4.3) with the untied
    null: exact for untied samples only (reports say so; paired runs, the usual case, get the tied inversion
    of `hodges_lehmann_paired`); with both samples of at least LARGE and more than EXACT_PAIRS pairs, the
    order index from the normal approximation of U (the exact recursion costs m^2 n^2 / 2 there)."""
    x, y = rounded(x), rounded(y)
    m, n = len(x), len(y)
    differences = np.sort((x[:, None] - y[None, :]).ravel())
    if min(m, n) >= LARGE and m * n > EXACT_PAIRS:
        z = st.norm.ppf(1 - (1 - confidence) / 2)
        k = int(np.floor(m * n / 2 - z * np.sqrt(m * n * (m + n + 1) / 12)))
    else:
        k = _order_index(_rank_sum_null(m, n), confidence)
    return Shift(float(np.median(differences)), *_interval(differences, k))
