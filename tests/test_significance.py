import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from suite.analysis import exact
from suite.analysis import significance as sig

# Final metric of two methods on seeds 0..9; B is better on every seed but by different amounts.
A = [93.10, 93.52, 93.31, 93.80, 93.05, 93.44, 93.60, 93.21, 93.70, 93.15]
B = [93.30, 93.60, 93.95, 94.10, 93.50, 93.47, 94.25, 93.40, 94.05, 93.90]


def _finals(samples: dict[str, list[float]], benchmark="b1", budget=150, repeats=None) -> pd.DataFrame:
    frames = []
    for method, values in samples.items():
        reps = repeats[method] if repeats else range(len(values))
        frames.append(
            pd.DataFrame(
                {
                    "benchmark": benchmark,
                    "oracle": "o",
                    "method": method,
                    "budget": budget,
                    "experiment_seed": 0,
                    "repeat": list(reps),
                    "incumbent_final": values,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_holm_matches_a_hand_computation_and_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert sig.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert sig.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    # ties keep their order; 0.02*3 = 0.06, 0.02*2 = 0.04 -> monotone 0.06, 0.06; 0.3*1 = 0.3
    assert sig.holm([0.02, 0.3, 0.02]) == pytest.approx([0.06, 0.3, 0.06])


def test_holm_matches_statsmodels_on_fixed_data():
    from statsmodels.stats.multitest import multipletests

    p = [0.2, 0.001, 0.04, 0.04, 1.0]
    assert sig.holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    assert len(sig.holm([])) == 0


def test_a12_is_an_exact_fraction_and_labels_the_thresholds_as_at_least():
    # pairs (x, y): 1 beats none; 2 ties both 2s; 3 beats both 2s -> (2 wins + 2 ties / 2) / 9
    assert sig.a12([1, 2, 3], [2, 2, 4]) == Fraction(3, 9)
    assert sig.a12([1, 2, 3], [2, 2, 4]) + sig.a12([2, 2, 4], [1, 2, 3]) == 1
    assert sig.a12(B, A) == pytest.approx(
        np.mean([[b > a for a in A] for b in B]) + 0.5 * np.mean([[b == a for a in A] for b in B])
    )
    assert sig.a12([5, 5], [5, 5]) == Fraction(1, 2)
    # 71 of 100 pairs won: A12 = 0.71 exactly, which is "large" (>= 0.71); 0.29 is as large the other way.
    x, y = [1] * 71 + [0] * 29, [0.5]
    assert sig.a12(x, y) == Fraction(71, 100) and sig.a12_magnitude(sig.a12(x, y)) == "large"
    assert sig.a12_magnitude(sig.a12(y, x)) == "large"
    labels = {v: sig.a12_magnitude(Fraction(v, 100)) for v in (55, 56, 63, 64, 70, 71, 36, 44, 45)}
    assert labels == {55: "negligible", 56: "small", 63: "small", 64: "medium", 70: "medium", 71: "large",
                      36: "medium", 44: "small", 45: "negligible"}
    assert sig.a12_magnitude(0.71) == "large"  # a float that prints as 0.71 reads as 71/100


def test_paired_runs_use_the_exact_signed_rank_test_and_carry_every_statistic():
    row = sig.pairwise(_finals({"a": A, "b": B})).iloc[0]
    assert row["test"] == "Wilcoxon signed-rank" and row["test_method"] == "exact" and row["paired"]
    expected = st.wilcoxon(A, B, alternative="two-sided", method="exact")  # no ties: scipy's exact distribution
    assert row["p"] == pytest.approx(expected.pvalue)
    tied = [a + d for a, d in zip(A, [0.2, 0.2, 0.0, 0.3, -0.1, 0.2, 0.4, 0.3, 0.1, 0.3], strict=True)]
    row = sig.pairwise(_finals({"a": A, "t": tied})).iloc[0]
    d = np.round(np.subtract(A, tied), 9)
    d = d[d != 0]
    expected = st.permutation_test(
        (np.sign(d) * st.rankdata(np.abs(d)),), lambda v, axis: v.sum(axis=axis),
        permutation_type="samples", n_resamples=np.inf, vectorized=True,
    )
    assert row["p"] == pytest.approx(expected.pvalue)
    for column in ("p_holm", "hl_shift", "hl_low", "hl_high", "p_a_better", "p_equivalent", "p_b_better",
                   "endpoint", "n_a", "rope"):
        assert column in row.index
    assert row["p_a_better"] + row["p_equivalent"] + row["p_b_better"] == pytest.approx(1)
    assert row["hl_low"] <= row["hl_shift"] <= row["hl_high"] < 0  # t is better: A minus t is negative


def test_unpaired_runs_use_the_exact_mann_whitney_permutation_test():
    finals = _finals({"a": A, "b": B[:8]}, repeats={"a": range(10), "b": range(20, 28)})
    row = sig.pairwise(finals).iloc[0]
    assert row["test"] == "Mann-Whitney U" and not row["paired"]
    # 93.60 is in both: a tie, so the oracle is the permutation distribution, not scipy's untied "exact"
    expected = st.mannwhitneyu(A, B[:8], method=st.PermutationMethod(n_resamples=np.inf))
    assert row["p"] == pytest.approx(expected.pvalue) and row["statistic"] == expected.statistic
    assert np.isnan(row["p_equivalent"])  # the Bayesian signed-rank test needs pairs
    assert "unpaired runs" in sig.verdict(row)


def test_a_method_better_on_every_seed_is_reported_significant_with_a_verdict_in_words():
    table = sig.pairwise(_finals({"a": A, "b": B}), rope=0.1)
    row = table.iloc[0]
    assert row["p"] == pytest.approx(2 / 2**10)  # exact: all ten differences have the same sign
    assert row["significant"] and row["better"] == "b" and row["a12"] < 0.5 and row["endpoint"] == "primary"
    assert row["verdict"] == sig.B_BETTER and row["verdict"] in sig.VERDICTS
    line = sig.verdict(row)
    assert line.startswith("a vs b: B better (b). HL shift (A − B) -")
    assert f"p = {row['p']:.2g} on 10 non-zero of 10 differences" in line and "P(B better by > 0.1)" in line


def test_identical_methods_are_not_significant_even_when_every_difference_is_zero():
    table = sig.pairwise(_finals({"a": A, "same": A, "const1": [94.0] * 10, "const2": [94.0] * 10}))
    pair = table.set_index(["method_a", "method_b"])
    assert pair.loc[("a", "same"), "p"] == 1.0 and not pair.loc[("a", "same"), "significant"]
    assert pair.loc[("const1", "const2"), "p"] == 1.0 and pair.loc[("const1", "const2"), "a12"] == 0.5
    assert pair.loc[("const1", "const2"), "p_equivalent"] == 1.0
    # every difference zero: the test has nothing to use (effective n 0), so no equivalence can be claimed
    assert pair.loc[("const1", "const2"), "n_effective"] == 0
    constants = table[(table["method_a"] == "const1") & (table["method_b"] == "const2")].iloc[0]
    assert constants["verdict"] == sig.UNDECIDED and sig.verdict(constants).startswith("const1 vs const2: undecided.")
    unpaired = _finals({"c": [94.0] * 5, "d": [94.0] * 5}, repeats={"c": range(5), "d": range(5, 10)})
    assert sig.pairwise(unpaired).iloc[0]["p"] == 1.0


def test_degenerate_methods_get_a_clear_note_not_a_crash():
    finals = _finals({"a": A, "nan": [np.nan] * 10, "b": B})
    one = _finals({"x": [93.0], "y": [94.0]}, benchmark="b2")
    table = sig.pairwise(pd.concat([finals, one])).set_index(["method_a", "method_b"])
    assert "no finite final metric" in table.loc[("a", "nan"), "note"] and np.isnan(table.loc[("a", "nan"), "p"])
    assert "not compared" in sig.verdict(table.loc[("a", "nan")].to_dict() | {"method_a": "a", "method_b": "nan"})
    # the two untestable pairs are no hypotheses: a vs b and x vs y are the primary family's two tests
    tested = [table.loc[("a", "b"), "p"], table.loc[("x", "y"), "p"]]
    assert table.loc[("a", "b"), "p_holm"] == pytest.approx(sig.holm(tested)[0])
    assert table.loc[("x", "y"), "p"] == 1.0 and "one seed" in table.loc[("x", "y"), "note"]


def test_smaller_budgets_are_exploratory():
    finals = pd.concat([_finals({"a": A, "b": B}, budget=50), _finals({"a": A, "b": B}, budget=150)])
    table = sig.pairwise(finals, primary={"b1": 150})
    assert table.set_index("budget")["endpoint"].to_dict() == {50: "exploratory", 150: "primary"}


def test_minimal_shift_has_the_stated_power_under_scipys_exact_test():
    power = sig.minimal_shift(n=12, family=3, sd=0.5)
    assert power.level == pytest.approx(0.05 / 3)
    rng = np.random.default_rng(99)  # an independent stream and scipy's test
    def rate(shift):
        draws = rng.normal(shift, 0.5, size=(600, 12))
        return np.mean([st.wilcoxon(d, method="exact").pvalue <= power.level for d in draws])
    assert rate(power.shift) == pytest.approx(sig.POWER, abs=0.06)
    assert rate(0.7 * power.shift) < sig.POWER - 0.1
    assert np.isnan(sig.minimal_shift(n=5, family=10, sd=1.0).shift)  # 2/32 > 0.005: nothing detectable
    assert "no shift can be detected" in sig.minimal_shift(n=5, family=10, sd=1.0).sentence()


def test_the_primary_family_is_every_benchmark_together_and_exploratory_budgets_their_own():
    finals = pd.concat([
        _finals({"a": A, "b": B, "c": A}), _finals({"a": A, "b": B}, benchmark="b2"),
        _finals({"a": A, "b": B}, benchmark="b2", budget=50),
    ])
    table = sig.pairwise(finals, primary={"b1": 150, "b2": 150})
    primary = table[table["endpoint"] == "primary"]
    assert len(primary) == 4 and primary["family"].nunique() == 1 and (primary["family_size"] == 4).all()
    assert primary["family"].iloc[0] == "primary: all 4 pairs of the report's benchmarks at their full budget"
    expected = multipletests(primary["p"], method="holm")[1]
    assert primary["p_holm"].tolist() == pytest.approx(expected.tolist())
    exploratory = table[table["endpoint"] == "exploratory"].iloc[0]
    assert exploratory["p_holm"] == exploratory["p"] and exploratory["family"].startswith("exploratory: the 1 pairs")


def _friedman_p_by_brute_force(ranks: np.ndarray) -> float:
    """Every within-block ordering listed with itertools; the statistic from scipy where blocks are plain
    ranks, else the sum of squared column-sum deviations (the same order)."""
    rows = [list(itertools.permutations(r)) for r in ranks]
    def statistic(table):
        return np.sum((np.sum(table, axis=0) - np.sum(table) / table.shape[1]) ** 2)
    observed = statistic(ranks)
    values = [statistic(np.array(choice)) for choice in itertools.product(*rows)]
    return float(np.mean(np.asarray(values) >= observed - 1e-9))


def test_friedman_p_is_exact_by_brute_force_and_the_published_table():
    # Friedman's own table, k = 3, N = 3: chi-square 6.0 has p = 0.028 (6/216 orderings), not the 0.050 of
    # the chi-square approximation.
    ranks = np.array([[1.0, 2.0, 3.0]] * 3)
    assert sig.friedman_statistic(ranks) == pytest.approx(6.0)
    assert sig.friedman_permutation(ranks) == (pytest.approx(6 / 216), "exact")
    rng = np.random.default_rng(1)
    scores = pd.DataFrame(rng.normal(size=(4, 4)) + [0.0, 0.5, 1.0, 2.0], columns=list("wxyz"))
    scores.iloc[0, 1] = scores.iloc[0, 0]  # a tie within a block
    result = sig.omnibus(scores.iloc[:3], "benchmarks")
    ranks = scores.rank(axis=1, ascending=False).to_numpy()
    assert result.p == pytest.approx(_friedman_p_by_brute_force(ranks[:3]), rel=1e-12)
    untied = sig.omnibus(scores.drop(index=0), "benchmarks")
    assert untied.statistic == pytest.approx(st.friedmanchisquare(*scores.drop(index=0).to_numpy().T).statistic)
    # two benchmarks of one space are one block: their ranks averaged, permuted together
    groups = {0: "s1", 1: "s1", 2: "s2", 3: "s3"}
    grouped = sig.omnibus(scores, "spaces", groups)
    averaged = np.vstack([ranks[:2].mean(axis=0), ranks[2], ranks[3]])
    assert grouped.ranks.shape == (3, 4) and grouped.ranks.to_numpy() == pytest.approx(averaged)
    assert grouped.p == pytest.approx(_friedman_p_by_brute_force(averaged), rel=1e-12)


def test_friedman_beyond_the_enumeration_is_seeded_monte_carlo_near_the_chi_square():
    rng = np.random.default_rng(5)
    scores = pd.DataFrame(rng.normal(size=(30, 4)) + [0.0, 0.2, 0.4, 0.6], columns=list("wxyz"))
    result = sig.omnibus(scores, "seeds")
    assert "Monte-Carlo" in result.test and result.p == sig.omnibus(scores, "seeds").p
    assert result.p == pytest.approx(st.friedmanchisquare(*scores.to_numpy().T).pvalue, abs=0.01)


def test_nemenyi_matches_scikit_posthocs_and_the_critical_difference_demsar():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame(
        rng.normal(size=(8, 3)) + [0.0, 0.5, 2.0],
        columns=["x", "y", "z"],
        index=[f"bench{i}" for i in range(8)],
    )
    result = sig.omnibus(scores, "benchmarks")
    assert result.test.startswith("Friedman")
    nemenyi = sp.posthoc_nemenyi_friedman(scores.to_numpy())
    assert result.posthoc.to_numpy() == pytest.approx(nemenyi.to_numpy())
    assert result.avg_ranks.idxmin() == "z"
    # Demšar's critical difference for k = 3 at alpha 0.05: q = 2.343
    assert result.cd == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 8)), rel=1e-3)
    assert "z vs x" in result.sentence() or result.p >= 0.05


def test_benchmarks_of_one_space_count_once_across_benchmarks():
    finals = pd.concat([
        _finals({"a": A, "b": B, "c": [v + 1 for v in B]}, benchmark=name)
        for name in ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16", "nb101")
    ])
    result = sig.across(finals)
    assert result.ranks.shape == (2, 3) and result.blocks.startswith("search spaces")
    one_space = sig.across(finals[finals["benchmark"] != "nb101"])
    assert one_space.ranks.shape == (3, 3) and "not independent" in one_space.blocks


def test_omnibus_of_tied_methods_is_not_significant():
    tied = pd.DataFrame([[1.0, 1.0, 1.0]] * 4, columns=["x", "y", "z"])
    result = sig.omnibus(tied, "benchmarks")
    assert result.p == 1.0 and "no significant difference" in result.sentence()


def test_two_methods_over_three_benchmarks_say_the_test_cannot_reach_significance():
    scores = pd.DataFrame({"re": [94.3, 73.5, 46.1], "rs": [94.0, 72.1, 45.9]}, index=["c10", "c100", "in16"])
    result = sig.omnibus(scores, "benchmarks")
    assert "signed-rank" in result.test and result.p == pytest.approx(0.25)
    assert "no outcome could reach p < 0.05" in result.sentence()


def test_with_one_benchmark_the_blocks_are_paired_seeds():
    finals = _finals({"a": A, "b": B, "c": [v + 1 for v in B]})
    result = sig.across(finals)
    assert result.scores.shape == (10, 3) and "paired seeds" in result.blocks
    assert result.avg_ranks.to_dict() == {"a": 3.0, "b": 2.0, "c": 1.0}
    assert result.p < 0.05 and "Nemenyi finds differences for: c vs a" in result.sentence()


def test_autorank_agrees_on_ranks_and_friedman():
    autorank = pytest.importorskip("autorank")
    rng = np.random.default_rng(2)
    scores = pd.DataFrame(rng.normal(size=(12, 4)) + [0.0, 0.3, 0.6, 1.5], columns=list("wxyz"))
    ours = sig.omnibus(scores, "benchmarks")
    theirs = autorank.autorank(scores, alpha=0.05, verbose=False, force_mode="nonparametric")
    # ours is the permutation p (Monte-Carlo at 12 blocks), autorank's the chi-square approximation
    assert theirs.omnibus == "friedman" and ours.p == pytest.approx(theirs.pvalue, abs=0.01)
    assert ours.avg_ranks.to_dict() == pytest.approx(theirs.rankdf["meanrank"].to_dict())
    assert ours.cd == pytest.approx(theirs.cd, rel=1e-4)  # autorank reads q from a rounded table


def test_disagreement_between_pairwise_tests_and_nemenyi_gets_one_line_naming_the_pair():
    rng = np.random.default_rng(0)
    base = rng.normal(93, 0.5, 10)
    # b beats a by 0.05 on every seed of ten: the paired test gives p = 2/1024 (Holm over 6 pairs: 0.012),
    # but b's mean rank is only 1 better, below Nemenyi's critical difference of 1.48 for 4 methods.
    finals = _finals({"a": base, "b": base + 0.05, "c": rng.normal(93, 0.5, 10), "d": rng.normal(93, 0.5, 10)})
    table = sig.pairwise(finals)
    result = sig.across(finals)
    lines = sig.disagreements(table, result)
    assert len(lines) == 1 and lines[0].startswith("a vs b (Nemenyi p = ")
    assert "its paired test finds a difference, Nemenyi does not" in lines[0]


def test_a_shift_that_rounds_to_zero_reads_plus_zero_and_infinities_read_as_such():
    assert [sig.signed(v) for v in (-0.001, -0.0, 0.004, -0.2, np.inf, -np.inf)] == [
        "+0.00", "+0.00", "+0.00", "-0.20", "∞", "-∞"]


# --- verdicts on real stored-run data ----------------------------------------------------------------

NB201_FINALS = Path(__file__).resolve().parents[1] / "results" / "nb201" / "finals.csv"


def _real_differences(benchmark: str, a: str, b: str) -> np.ndarray:
    """Per-seed final-metric differences of two methods in the committed NB201 report (100 seeds)."""
    if not NB201_FINALS.exists():
        pytest.skip("results/nb201/finals.csv is not present")
    finals = pd.read_csv(NB201_FINALS)
    finals = finals[(finals["benchmark"] == benchmark) & (finals["budget"] == finals["budget"].max())]
    table = finals.pivot_table(index="repeat", columns="method", values="incumbent_final")
    return (table[a] - table[b]).to_numpy()


@pytest.mark.parametrize(("name", "a", "b"), [("nb201-imagenet16", "ganas", "re"),
                                                  ("nb201-cifar10", "ganas", "bananas")])
def test_with_the_signs_of_real_differences_randomised_the_verdict_is_never_a_better(name, a, b):
    """Random signs make the methods interchangeable. The old Bayesian signed-rank shares said 'better by
    more than the ROPE' on 20 of 20 such datasets; the verdict must be 'equivalent' or 'undecided'."""
    d = _real_differences(name, a, b)
    rng = np.random.default_rng(2020)
    signs = rng.choice([-1.0, 1.0], size=(400, len(d)))
    full = [sig.decide(d * s, family=30) for s in signs[:5]]  # the NB201 report's primary family: 30 pairs
    assert {v.verdict for v in full} <= {sig.EQUIVALENT, sig.UNDECIDED}
    assert np.median([v.posterior.p_a for v in full]) < 0.5
    # The rate over many randomisations, family of one: 'A better' needs the exact test to reject, which
    # under random signs (its exact null) happens with probability at most alpha / 2 in A's direction.
    a_better = sum(
        sig.label(r.p, sig._direction(r), np.nan, np.nan, sig.ROPE) == sig.A_BETTER
        for r in (exact.signed_rank(d * s) for s in signs)
    )
    assert a_better <= st.binom.ppf(0.999, len(signs), sig.ALPHA / 2)


def test_a_planted_shift_in_real_differences_is_detected():
    d = _real_differences("nb201-imagenet16", "ganas", "re")
    rng = np.random.default_rng(2021)
    null = d * rng.choice([-1.0, 1.0], size=len(d))
    planted = sig.decide(null + 0.5, family=30)
    assert planted.verdict == sig.A_BETTER and planted.low > 0 and planted.posterior.p_a > 0.95
    assert sig.decide(-null - 0.5, family=30).verdict == sig.B_BETTER


def test_decide_gives_the_verdict_the_report_gives():
    finals = _finals({"a": A, "b": B, "t": [a + 0.02 for a in A]})
    table = sig.pairwise(finals).set_index(["method_a", "method_b"])
    for (a, b), row in table.iterrows():
        mine = sig.decide(np.subtract(finals[finals["method"] == a]["incumbent_final"].to_numpy(),
                                      finals[finals["method"] == b]["incumbent_final"].to_numpy()),
                          family=int(row["family_size"]), p_adjusted=row["p_holm"])
        assert mine.verdict == row["verdict"] and mine.p == row["p"] and mine.shift == row["hl_shift"]
        assert mine.posterior.p_rope == row["p_equivalent"] and mine.n_effective == row["n_effective"]


def test_not_significant_reads_undecided_when_the_detectable_shift_exceeds_the_rope():
    rng = np.random.default_rng(7)
    half = rng.normal(0, 1.0, 20)
    wide = np.r_[half, -half]  # symmetric (p = 1), spread 1 point: the detectable shift is far above 0.1
    verdict = sig.decide(wide)
    assert verdict.detectable > sig.ROPE and verdict.verdict == sig.UNDECIDED
    # tiny differences on many seeds: no shift, detectable below the ROPE, posterior inside it
    narrow = sig.decide(rng.normal(0, 0.02, 100))
    assert narrow.detectable < sig.ROPE and narrow.verdict == sig.EQUIVALENT
    # the effective n is the non-zero differences: 90 zeros leave a test of 10, which could detect only a
    # shift of about a point, although the zeros put the posterior inside the ROPE
    zeros = sig.decide(np.r_[np.zeros(90), half[:10]])
    assert zeros.n_effective == 10 and zeros.posterior.p_rope > sig.EQUIVALENCE
    assert zeros.detectable > sig.ROPE and zeros.verdict == sig.UNDECIDED
