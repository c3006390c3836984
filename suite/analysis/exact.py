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
    d = rounded(differences)
    d = d[d != 0]
    n = len(d)
    if n == 0:  # every pair tied: no evidence either way
        return RankTest("Wilcoxon signed-rank", 0.0, 1.0, 0, "exact")
    doubled = (2 * st.rankdata(np.abs(d))).round().astype(int)
    counts = _sign_flip_counts(doubled)
    probability = counts / counts.sum()  # counts up to 2^n held as floats: relative error ~1e-16
    observed = int(doubled[d > 0].sum())
    centre = doubled.sum() / 2
    values = np.arange(len(counts))
    # The null is symmetric about the centre: two-sided p = P(|S - centre| >= |s - centre|), which equals
    # scipy's 2 * min(one-sided p) capped at 1.
    extreme = np.abs(values - centre) >= abs(observed - centre) - 1e-9
    p = float(min(1.0, probability[extreme].sum()))
    return RankTest("Wilcoxon signed-rank", observed / 2, p, n, "exact")


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
# The order index comes from the untied null distribution (Hollander & Wolfe; R's wilcox.test does the
# same): exact for continuous data, approximate where the differences tie.


@dataclass(frozen=True)
class Shift:
    estimate: float  # first sample minus second
    low: float  # -inf / inf where n is too small for the confidence level
    high: float


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
    """Median of the Walsh averages (d_i + d_j) / 2, i <= j, and the exact interval that inverts the
    signed-rank test (Hollander & Wolfe, Nonparametric Statistical Methods, 3.2)."""
    d = rounded(differences)
    i, j = np.triu_indices(len(d))
    walsh = np.sort((d[i] + d[j]) / 2)
    k = _order_index(_signed_rank_null(len(d)), confidence)
    return Shift(float(np.median(walsh)), *_interval(walsh, k))


def hodges_lehmann_unpaired(x, y, confidence: float = CONFIDENCE) -> Shift:
    """Median of all x_i - y_j and the exact interval that inverts the Mann-Whitney test (H&W 4.3); with
    both samples of at least LARGE and more than EXACT_PAIRS pairs, the order index from the normal
    approximation of U (the exact recursion costs m^2 n^2 / 2 there)."""
    x, y = rounded(x), rounded(y)
    m, n = len(x), len(y)
    differences = np.sort((x[:, None] - y[None, :]).ravel())
    if min(m, n) >= LARGE and m * n > EXACT_PAIRS:
        z = st.norm.ppf(1 - (1 - confidence) / 2)
        k = int(np.floor(m * n / 2 - z * np.sqrt(m * n * (m + n + 1) / 12)))
    else:
        k = _order_index(_rank_sum_null(m, n), confidence)
    return Shift(float(np.median(differences)), *_interval(differences, k))
