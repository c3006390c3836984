"""suite.analysis.exact and suite.analysis.bayesian against independent implementations: scipy, brute force, baycomp."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats as st

from suite.analysis import bayesian, exact


def _signed_rank_by_permutation(d) -> float:
    """scipy's exact permutation test of the sum of signed midranks of the non-zero differences."""
    d = exact.rounded(d)
    d = d[d != 0]
    ranks = st.rankdata(np.abs(d))
    return st.permutation_test(
        (np.sign(d) * ranks,),
        lambda signed, axis: np.sum(signed, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        vectorized=True,
    ).pvalue


TIED = [
    [0.2, 0.2, 0.0, 0.3, -0.1, 0.2, 0.4, 0.3, 0.1, 0.3],  # ties and a zero
    [0.5, -0.5, 0.5, 0.5, 0.0, 0.0, 1.0, -1.0, 0.5, 0.25, 0.25, 0.5],  # ties across signs, two zeros
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # all tied, all positive
]


@pytest.mark.parametrize("d", TIED)
def test_signed_rank_with_ties_and_zeros_equals_the_exact_permutation_test(d):
    assert exact.signed_rank(d).p == pytest.approx(_signed_rank_by_permutation(d), rel=1e-12)


def test_signed_rank_matches_scipy_exact_and_permutation_method_without_ties():
    rng = np.random.default_rng(3)
    for n in (8, 25, 60):  # 25 and 60: past the 20 where enumeration would stop
        d = rng.normal(0.3, 1, n)
        assert exact.signed_rank(d).p == pytest.approx(st.wilcoxon(d, method="exact").pvalue, rel=1e-9)
    d = np.round(rng.normal(0.3, 1, 14), 1)
    expected = st.wilcoxon(d, method=st.PermutationMethod(n_resamples=np.inf)).pvalue
    assert exact.signed_rank(d).p == pytest.approx(expected, rel=1e-12)


def test_round_off_ties_and_degenerate_differences_give_p_one():
    d = np.array([0.5983, 0.5983 + 1e-15, -0.2, 0.7])
    assert exact.signed_rank(d).p == exact.signed_rank([0.5983, 0.5983, -0.2, 0.7]).p
    assert exact.signed_rank([0.0] * 10).p == 1.0  # all equal
    assert exact.signed_rank([0.0] * 9 + [0.3]).p == 1.0  # one non-zero difference: both signs are extreme
    assert exact.signed_rank([]).p == 1.0


def test_mann_whitney_equals_the_exact_permutation_test_with_ties_and_scipy_without():
    x, y = [1.0, 2.0, 2.0, 3.0, 5.0], [2.0, 3.0, 3.0, 4.0, 6.0, 6.0]
    expected = st.mannwhitneyu(x, y, method=st.PermutationMethod(n_resamples=np.inf)).pvalue
    assert exact.mann_whitney(x, y).p == pytest.approx(expected, rel=1e-12)
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=7), rng.normal(0.8, 1, 9)
    result = exact.mann_whitney(a, b)
    assert result.method == "exact"
    assert result.p == pytest.approx(st.mannwhitneyu(a, b, method="exact").pvalue, rel=1e-9)
    assert result.statistic == st.mannwhitneyu(a, b).statistic
    assert exact.mann_whitney([3.0] * 4, [3.0] * 5).p == 1.0


def test_mann_whitney_above_the_exact_limit_is_seeded_monte_carlo_close_to_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=30), rng.normal(0.5, 1, 30)
    first, second = exact.mann_whitney(a, b), exact.mann_whitney(a, b)
    assert first.method.startswith("Monte-Carlo") and first.p == second.p  # seeded: the same p every time
    assert first.p == pytest.approx(st.mannwhitneyu(a, b, method="exact").pvalue, abs=0.005)


def test_null_distributions_match_brute_force_enumeration():
    for n in range(1, 9):
        counts = np.zeros(n * (n + 1) // 2 + 1)
        for signs in itertools.product([0, 1], repeat=n):
            counts[sum(r for r, s in zip(range(1, n + 1), signs, strict=True) if s)] += 1
        assert exact._signed_rank_null(n) == pytest.approx(counts / 2**n)
    for m, n in [(1, 1), (2, 3), (4, 4), (3, 6)]:
        counts = np.zeros(m * n + 1)
        for chosen in itertools.combinations(range(1, m + n + 1), m):
            counts[sum(chosen) - m * (m + 1) // 2] += 1
        assert exact._rank_sum_null(m, n) == pytest.approx(counts / math.comb(m + n, m))


def test_paired_hodges_lehmann_and_its_interval_invert_scipys_exact_signed_rank_test():
    rng = np.random.default_rng(6)
    d = rng.normal(0.4, 1, 15)
    shift = exact.hodges_lehmann_paired(d)
    walsh = [(d[i] + d[j]) / 2 for i in range(15) for j in range(i, 15)]
    assert shift.estimate == pytest.approx(np.median(walsh))
    eps = 1e-7  # just inside the interval the test does not reject at 5%, just outside it does
    for bound, inside in ((shift.low, shift.low + eps), (shift.high, shift.high - eps)):
        assert st.wilcoxon(d - inside, method="exact").pvalue > 0.05
        outside = bound - eps if bound == shift.low else bound + eps
        assert st.wilcoxon(d - outside, method="exact").pvalue <= 0.05
    assert exact.hodges_lehmann_paired([0.1] * 5).low == -np.inf  # n = 5: no 95% interval exists


def test_unpaired_hodges_lehmann_and_its_interval_invert_scipys_exact_mann_whitney_test():
    rng = np.random.default_rng(7)
    x, y = rng.normal(1, 1, 9), rng.normal(0, 1, 8)
    shift = exact.hodges_lehmann_unpaired(x, y)
    assert shift.estimate == pytest.approx(np.median(np.subtract.outer(x, y)))
    eps = 1e-7
    assert st.mannwhitneyu(x - (shift.low + eps), y, method="exact").pvalue > 0.05
    assert st.mannwhitneyu(x - (shift.low - eps), y, method="exact").pvalue <= 0.05
    assert st.mannwhitneyu(x - (shift.high - eps), y, method="exact").pvalue > 0.05
    assert st.mannwhitneyu(x - (shift.high + eps), y, method="exact").pvalue <= 0.05


@pytest.mark.parametrize("rope", [0.0, 0.1])
def test_bayesian_signed_rank_agrees_with_baycomp_within_monte_carlo_error(rope):
    baycomp = pytest.importorskip("baycomp")
    rng = np.random.default_rng(8)
    a = rng.normal(93.5, 0.3, 12)
    b = a + rng.normal(0.08, 0.15, 12)
    ours = bayesian.signed_rank(a, b, rope)
    theirs = baycomp.SignedRankTest.probs(a, b, rope=rope, nsamples=50_000, random_state=1)
    if rope == 0:  # baycomp returns (left, right) without a ROPE
        theirs = (theirs[0], 0.0, theirs[1])
    # Each probability is a share of 50,000 draws: standard error at most 0.0023; allow 5 of them.
    assert (ours.p_a, ours.p_rope, ours.p_b) == pytest.approx(theirs, abs=0.012)
    assert bayesian.signed_rank(a, b, rope) == ours  # seeded


def test_bayesian_signed_rank_of_identical_samples_is_equivalence():
    posterior = bayesian.signed_rank([94.0] * 6, [94.0] * 6, 0.1)
    assert posterior.p_rope == 1.0
