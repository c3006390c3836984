import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as st

from suite import significance as sig

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


def test_a12_matches_a_hand_computation():
    # pairs (x, y): 1 beats none; 2 ties both 2s; 3 beats both 2s -> (2 wins + 2 ties / 2) / 9
    assert sig.a12([1, 2, 3], [2, 2, 4]) == pytest.approx(3 / 9)
    assert sig.a12([1, 2, 3], [2, 2, 4]) + sig.a12([2, 2, 4], [1, 2, 3]) == pytest.approx(1)
    assert sig.a12(B, A) == pytest.approx(
        np.mean([[b > a for a in A] for b in B]) + 0.5 * np.mean([[b == a for a in A] for b in B])
    )
    assert sig.a12([5, 5], [5, 5]) == 0.5
    assert [sig.a12_magnitude(v) for v in (0.52, 0.40, 0.70, 0.95, 0.05)] == [
        "negligible",
        "small",
        "medium",
        "large",
        "large",
    ]


def test_paired_runs_use_wilcoxon_and_its_p_value():
    row = sig.pairwise(_finals({"a": A, "b": B})).iloc[0]
    assert row["test"] == "Wilcoxon signed-rank"
    expected = st.wilcoxon(A, B, alternative="two-sided", method="exact")  # no ties: the exact distribution
    assert row["p"] == pytest.approx(expected.pvalue) and row["statistic"] == expected.statistic
    tied = [a + d for a, d in zip(A, [0.2, 0.2, 0.0, 0.3, -0.1, 0.2, 0.4, 0.3, 0.1, 0.3], strict=True)]
    row = sig.pairwise(_finals({"a": A, "t": tied})).iloc[0]
    expected = st.wilcoxon(
        A, tied, alternative="two-sided", method="approx"
    )  # ties and a zero: normal approx.
    assert row["p"] == pytest.approx(expected.pvalue) and row["statistic"] == expected.statistic


def test_unpaired_runs_use_mann_whitney_and_its_p_value():
    finals = _finals({"a": A, "b": B[:8]}, repeats={"a": range(10), "b": range(20, 28)})
    row = sig.pairwise(finals).iloc[0]
    assert row["test"] == "Mann-Whitney U"
    expected = st.mannwhitneyu(A, B[:8], alternative="two-sided")
    assert row["p"] == pytest.approx(expected.pvalue) and row["statistic"] == expected.statistic


def test_a_method_better_on_every_seed_is_reported_significant():
    table = sig.pairwise(_finals({"a": A, "b": B}))
    row = table.iloc[0]
    assert row["p"] == pytest.approx(2 / 2**10)  # exact: all ten differences have the same sign
    assert row["significant"] and row["better"] == "b" and row["a12"] < 0.5
    sentence = sig.sentences(table)[0]
    assert "b beats a" in sentence and "no significant" not in sentence


def test_identical_methods_are_not_significant_even_when_every_difference_is_zero():
    table = sig.pairwise(_finals({"a": A, "same": A, "const1": [94.0] * 10, "const2": [94.0] * 10}))
    pair = table.set_index(["method_a", "method_b"])
    assert pair.loc[("a", "same"), "p"] == 1.0 and not pair.loc[("a", "same"), "significant"]
    assert pair.loc[("const1", "const2"), "p"] == 1.0 and pair.loc[("const1", "const2"), "a12"] == 0.5
    unpaired = _finals({"c": [94.0] * 5, "d": [94.0] * 5}, repeats={"c": range(5), "d": range(5, 10)})
    assert sig.pairwise(unpaired).iloc[0]["p"] == 1.0
    assert "no significant difference for a vs same" in sig.sentences(table)[0]


def test_holm_is_applied_within_each_benchmark_and_budget():
    finals = pd.concat([_finals({"a": A, "b": B, "c": A}), _finals({"a": A, "b": B}, benchmark="b2")])
    table = sig.pairwise(finals)
    first = table[table["benchmark"] == "b1"]
    assert len(first) == 3 and first["p_holm"].tolist() == pytest.approx(sig.holm(first["p"]).tolist())
    second = table[table["benchmark"] == "b2"].iloc[0]
    assert second["p_holm"] == second["p"]  # a family of one


def test_friedman_and_nemenyi_match_scipy_and_scikit_posthocs():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame(
        rng.normal(size=(8, 3)) + [0.0, 0.5, 2.0],
        columns=["x", "y", "z"],
        index=[f"bench{i}" for i in range(8)],
    )
    result = sig.omnibus(scores, "benchmarks")
    expected = st.friedmanchisquare(scores["x"], scores["y"], scores["z"])
    assert result.test == "Friedman" and result.p == pytest.approx(expected.pvalue)
    nemenyi = sp.posthoc_nemenyi_friedman(scores.to_numpy())
    assert result.posthoc.to_numpy() == pytest.approx(nemenyi.to_numpy())
    assert result.avg_ranks.idxmin() == "z"
    # Demšar's critical difference for k = 3 at alpha 0.05: q = 2.343
    assert result.cd == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 8)), rel=1e-3)
    assert "z vs x" in result.sentence() or result.p >= 0.05


def test_omnibus_of_tied_methods_is_not_significant():
    tied = pd.DataFrame([[1.0, 1.0, 1.0]] * 4, columns=["x", "y", "z"])
    result = sig.omnibus(tied, "benchmarks")
    assert result.p == 1.0 and "no significant difference" in result.sentence()


def test_two_methods_over_three_benchmarks_say_the_test_cannot_reach_significance():
    scores = pd.DataFrame({"re": [94.3, 73.5, 46.1], "rs": [94.0, 72.1, 45.9]}, index=["c10", "c100", "in16"])
    result = sig.omnibus(scores, "benchmarks")
    assert result.test.startswith("Wilcoxon") and result.p == pytest.approx(0.25)
    assert "no outcome could reach p < 0.05" in result.sentence()


def test_with_one_benchmark_the_blocks_are_paired_seeds():
    finals = _finals({"a": A, "b": B, "c": [v + 1 for v in B]})
    result = sig.across(finals)
    assert result.scores.shape == (10, 3) and "paired seeds" in result.blocks
    assert result.avg_ranks.to_dict() == {"a": 3.0, "b": 2.0, "c": 1.0}
    assert result.p < 0.05 and "Nemenyi finds differences for: c vs a" in result.sentence()
