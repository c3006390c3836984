"""suite.analysis.exact and suite.analysis.bayesian against independent implementations: scipy, brute force."""

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


def _brute_force_p(d_units: np.ndarray, theta: float) -> float:
    """The two-sided p of the zero-dropping signed-rank test of shift theta, by listing all 2^n sign vectors
    with itertools (independent of suite.exact's generating function and of scipy)."""
    x = d_units - theta
    x = x[x != 0]
    if len(x) == 0:
        return 1.0
    ranks = st.rankdata(np.abs(x))
    observed = abs(np.sum(np.sign(x) * ranks))
    totals = [abs(np.dot(signs, ranks)) for signs in itertools.product((-1, 1), repeat=len(x))]
    return float(np.mean(np.asarray(totals) >= observed - 1e-9))


TIED_SHIFTS = [
    [2, 2, 0, 3, -1, 2, 4, 3, 1, 3],  # ties, a zero
    [0, 0, 0, 0, 0, 0, 5, 3, 3, 0],  # mostly zeros: the NB201 pattern
    [1, 1, 1, 1, 1, 1, 1, 1],  # all tied
    [5, -5, 5, 5, 0, 0, 10, -10, 5],  # ties across signs
]


@pytest.mark.parametrize("d", TIED_SHIFTS)
def test_paired_interval_with_ties_is_the_exact_inversion_by_brute_force(d):
    """On a grid fine enough to hit every Walsh average and every gap between them (data in integers,
    theta in steps of 1/8), the theta the brute-force test accepts at 5% are exactly those inside our
    interval, with an open end where the end itself is rejected."""
    d = np.asarray(d, dtype=float)
    shift = exact.hodges_lehmann_paired(d / 10)  # in tenths: the data of a benchmark in points
    grid = np.arange(d.min() - 2, d.max() + 2 + 1e-9, 1 / 8)
    accepted = np.array([_brute_force_p(d, theta) > 0.05 for theta in grid])
    low, high = 10 * shift.low, 10 * shift.high
    assert np.isfinite(low) and np.isfinite(high)
    inside = (grid > low - 1e-9) & (grid < high + 1e-9)
    inside &= ~(shift.low_open & np.isclose(grid, low)) & ~(shift.high_open & np.isclose(grid, high))
    assert np.array_equal(inside, (grid >= grid[accepted].min()) & (grid <= grid[accepted].max()))
    assert exact.signed_rank(d / 10).p == pytest.approx(_brute_force_p(d, 0.0), rel=1e-12)


def test_paired_interval_covers_the_centre_of_symmetric_tied_data_at_least_95_percent():
    rng = np.random.default_rng(11)  # data on a 0.1 grid with an atom at the centre, like tabular finals
    atoms = np.array([-0.3, -0.1, 0.0, 0.0, 0.0, 0.1, 0.3])
    covered = [
        (s := exact.hodges_lehmann_paired(0.2 + rng.choice(atoms, 12))).low <= 0.2 <= s.high
        and not (s.low_open and np.isclose(s.low, 0.2)) and not (s.high_open and np.isclose(s.high, 0.2))
        for _ in range(300)
    ]
    assert np.mean(covered) >= 0.95 - 2 * np.sqrt(0.95 * 0.05 / 300)


def test_a_significant_test_has_an_interval_without_zero_even_when_most_differences_are_zero():
    # NB201 pattern: 6 of 15 seeds tie, the rest favour A; the test rejects 0, so 0 is not in the interval
    d = np.array([0.0] * 6 + [0.3, 0.4, 0.3, 0.5, 0.4, 0.3, 0.6, 0.4, 0.3])
    shift = exact.hodges_lehmann_paired(d)
    assert exact.signed_rank(d).p < 0.05
    assert shift.low > 0 or (shift.low == 0 and shift.low_open)


def test_shift_posterior_is_the_weighted_hl_median_by_brute_force():
    d = np.array([0.2, 0.2, 0.0, 0.3, -0.1, 0.0, 0.4])
    weights = np.random.default_rng(12).dirichlet(np.ones(len(d)), 50)
    ours = bayesian.weighted_shifts(d, weights)
    for w, got in zip(weights, ours, strict=True):
        # every ordered pair (i, j) with weight w_i w_j; the lower median of that distribution
        pairs = sorted(((d[i] + d[j]) / 2, w[i] * w[j]) for i in range(len(d)) for j in range(len(d)))
        mass = np.cumsum([m for _, m in pairs])
        assert got == pytest.approx(pairs[int(np.argmax(mass >= 0.5 - 1e-12))][0])


def test_shift_posterior_probabilities_are_seeded_shares_that_sum_to_one_and_follow_the_data():
    d = np.array([0.2, 0.2, 0.0, 0.3, -0.1, 0.0, 0.4, 0.25, 0.3, 0.15])
    posterior = bayesian.shift(d, 0.1)
    assert posterior == bayesian.shift(d, 0.1)  # seeded
    assert posterior.p_a + posterior.p_rope + posterior.p_b == pytest.approx(1)
    assert posterior.p_a > 0.5 and posterior.low <= exact.hodges_lehmann_paired(d).estimate <= posterior.high
    assert bayesian.shift(-d, 0.1).p_b == pytest.approx(posterior.p_a)  # symmetric in A and B
    assert bayesian.shift(np.zeros(8), 0.1).p_rope == 1.0
    assert bayesian.shift(np.full(8, 0.1), 0.1).p_rope == 1.0  # a shift of exactly the ROPE is within it



def test_the_interval_is_empty_when_the_tied_test_rejects_every_shift():
    # Real NB201 CIFAR-10 finals (BANANAS minus GA-NAS-MLE, 100 seeds, 150 queries, results/nb201/finals.csv):
    # most seeds of both end on the same cells, and no shift leaves the differences symmetric about it.
    from pathlib import Path

    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "results/nb201/finals.csv"
    if not path.exists():
        pytest.skip("results/nb201/finals.csv is not committed")
    f = pd.read_csv(path)
    f = f[(f.benchmark == "nb201-cifar10") & (f.budget == 150)].pivot(index="repeat", columns="method",
                                                                        values="incumbent_final")
    d = (f["bananas"] - f["ganas-mle"]).to_numpy()
    shift = exact.hodges_lehmann_paired(d)
    assert np.isnan(shift.low) and np.isnan(shift.high)
    walsh = (d[:, None] + d[None, :]).ravel() / 2
    grid = np.unique(np.concatenate([walsh, np.linspace(d.min() - 1, d.max() + 1, 401)]))
    assert all(exact.signed_rank(d - theta).p <= 0.05 + 1e-12 for theta in grid)
