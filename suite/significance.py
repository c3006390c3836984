"""Significance tests between methods, from the final state of stored runs.

Within a benchmark and budget: every pair of methods, two-sided. Runs pair up when both methods were run
with the same (experiment seed, repeat) set: seed i gives every method the same initial draws, so the
Wilcoxon signed-rank test on per-seed differences applies; otherwise the Mann-Whitney U test. The pairs
on one benchmark and budget form one family for the Holm correction. Effect size: Vargha-Delaney A12.

Across benchmarks (Demšar 2006): the score of a method on a benchmark is its mean final metric; Friedman's
test with Nemenyi's post-hoc test for three or more methods, the Wilcoxon signed-rank test over benchmarks
for two. With a single benchmark the blocks are the paired seeds instead.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats as st

ALPHA = 0.05
PAIR_KEY = ["experiment_seed", "repeat"]
# Vargha & Delaney (2000): |A12 - 0.5| below these bounds is negligible, small, medium; above, large.
A12_BOUNDS = ((0.06, "negligible"), (0.14, "small"), (0.21, "medium"))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values: the i-th smallest times (m - i), made monotone, capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def a12(x, y) -> float:
    """Vargha-Delaney A12: P(X > Y) + P(X = Y) / 2 for a random draw of each; 0.5 = no tendency."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    greater = (x[:, None] > y[None, :]).sum()
    equal = (x[:, None] == y[None, :]).sum()
    return float((greater + 0.5 * equal) / (len(x) * len(y)))


def a12_magnitude(value: float) -> str:
    distance = abs(value - 0.5)
    return next((label for bound, label in A12_BOUNDS if distance < bound), "large")


@dataclass(frozen=True)
class TestResult:
    test: str
    statistic: float
    p: float


def two_sample(x: pd.Series, y: pd.Series, paired: bool) -> TestResult:
    """Two-sided test of x vs y; `paired` = x[i] and y[i] come from the same seed."""
    if paired:
        differences = x.to_numpy(dtype=float) - y.to_numpy(dtype=float)
        if not np.any(differences):  # every seed gave both methods the same result: nothing to test
            return TestResult("Wilcoxon signed-rank", 0.0, 1.0)
        # Exact null distribution without ties or zero differences; otherwise the normal approximation with
        # tie correction (scipy's default there, an exhaustive permutation test, takes a second per pair).
        magnitudes = np.abs(differences)
        exact = np.all(magnitudes > 0) and len(np.unique(magnitudes)) == len(magnitudes)
        result = st.wilcoxon(x, y, alternative="two-sided", method="exact" if exact else "approx")
        return TestResult("Wilcoxon signed-rank", float(result.statistic), float(result.pvalue))
    if np.ptp(np.concatenate([x, y])) == 0:
        return TestResult("Mann-Whitney U", len(x) * len(y) / 2, 1.0)
    result = st.mannwhitneyu(x, y, alternative="two-sided")
    return TestResult("Mann-Whitney U", float(result.statistic), float(result.pvalue))


def pairwise(finals: pd.DataFrame, column: str = "incumbent_final", alpha: float = ALPHA) -> pd.DataFrame:
    """Every pair of methods per benchmark, oracle and budget; `column` is higher-is-better.

    a12 is method_a's A12 against method_b; `better` names the significantly better method, or is empty.
    """
    rows = []
    budgets = finals["budget"] if "budget" in finals else pd.Series(0, index=finals.index)
    for (benchmark, oracle, budget), cell in finals.assign(budget=budgets).groupby(
        ["benchmark", "oracle", "budget"]
    ):
        family = []
        samples = {m: g.set_index(_pair_index(g))[column].sort_index() for m, g in cell.groupby("method")}
        for a, b in itertools.combinations(sorted(samples), 2):
            x, y = samples[a], samples[b]
            paired = len(x) == len(y) and x.index.equals(y.index) and x.index.is_unique
            result = two_sample(x, y, paired)
            effect = a12(x, y)
            family.append(
                {
                    "benchmark": benchmark,
                    "oracle": oracle,
                    "budget": budget,
                    "method_a": a,
                    "method_b": b,
                    "n_a": len(x),
                    "n_b": len(y),
                    "median_a": x.median(),
                    "median_b": y.median(),
                    "test": result.test,
                    "statistic": result.statistic,
                    "p": result.p,
                    "a12": effect,
                    "magnitude": a12_magnitude(effect),
                }
            )
        if family:
            adjusted = holm([row["p"] for row in family])
            for row, p_holm in zip(family, adjusted, strict=True):
                significant = p_holm < alpha
                winner = row["method_a"] if row["a12"] > 0.5 else row["method_b"]
                rows.append(
                    {
                        **row,
                        "p_holm": p_holm,
                        "significant": significant,
                        "better": winner if significant and row["a12"] != 0.5 else "",
                    }
                )
    return pd.DataFrame(rows)


def _pair_index(group: pd.DataFrame) -> pd.MultiIndex | pd.Index:
    keys = [k for k in PAIR_KEY if k in group]
    return pd.MultiIndex.from_frame(group[keys]) if len(keys) > 1 else pd.Index(group[keys[0]])


def sentences(table: pd.DataFrame, alpha: float = ALPHA) -> list[str]:
    """One sentence per benchmark and budget saying which differences are significant at `alpha`."""
    out = []
    for (benchmark, budget), cell in table.groupby(["benchmark", "budget"], sort=False):
        head = f"{benchmark} at {budget} queries: "
        found = cell[cell["significant"]]
        parts = []
        for row in found.itertuples():
            loser = row.method_b if row.better == row.method_a else row.method_a
            a12_better = row.a12 if row.better == row.method_a else 1 - row.a12
            parts.append(
                f"{row.better} beats {loser} ({row.test}, Holm-adjusted p = {_p(row.p_holm)}, "
                f"A12 = {a12_better:.2f}, {row.magnitude} effect)"
            )
        rest = cell[~cell["significant"]]
        if len(rest):
            pairs = ", ".join(f"{r.method_a} vs {r.method_b} (p = {_p(r.p_holm)})" for r in rest.itertuples())
            parts.append(f"no significant difference for {pairs}")
        out.append(head + "; ".join(parts) + f" (alpha = {alpha}).")
    return out


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


@dataclass(frozen=True)
class Omnibus:
    """A comparison of k methods over N blocks (benchmarks or seeds)."""

    blocks: str  # what a block is, in words
    scores: pd.DataFrame  # blocks x methods, higher is better
    avg_ranks: pd.Series  # 1 = best
    test: str
    statistic: float
    p: float
    posthoc: pd.DataFrame  # methods x methods p-values
    posthoc_name: str
    cd: float | None  # Nemenyi critical difference in average rank, where the post-hoc test is Nemenyi

    def sentence(self, alpha: float = ALPHA) -> str:
        k, n = self.scores.shape[1], self.scores.shape[0]
        ranks = ", ".join(f"{m} {r:.2f}" for m, r in self.avg_ranks.sort_values().items())
        head = f"Over {n} {self.blocks}, average ranks (1 = best): {ranks}. {self.test}: p = {_p(self.p)}"
        if self.p >= alpha:
            floor = _smallest_p(self)
            note = (
                f"; with {n} blocks no outcome could reach p < {alpha}"
                if floor is not None and floor >= alpha
                else ""
            )
            return head + f", no significant difference at alpha = {alpha}{note}."
        pairs = [
            f"{a} vs {b} (p = {_p(self.posthoc.loc[a, b])})"
            for a, b in itertools.combinations(self.avg_ranks.sort_values().index, 2)
            if self.posthoc.loc[a, b] < alpha
        ]
        found = "; ".join(pairs) if pairs else "none of the pairs"
        if k == 2:
            return head + f", significant at alpha = {alpha}."
        return head + f", significant at alpha = {alpha}; {self.posthoc_name} finds differences for: {found}."


def _smallest_p(result: Omnibus) -> float | None:
    """The smallest p-value the Wilcoxon test can give with N blocks (all differences one way): 2 / 2^N."""
    return 2.0 / 2 ** result.scores.shape[0] if result.test.startswith("Wilcoxon") else None


def omnibus(scores: pd.DataFrame, blocks: str) -> Omnibus | None:
    """Friedman + Nemenyi (k >= 3) or Wilcoxon (k = 2) on a blocks x methods score table (higher is better).

    Blocks missing a method are dropped; None when fewer than two methods or two blocks remain.
    """
    scores = scores.dropna(axis=0, how="any")
    k, n = scores.shape[1], scores.shape[0]
    if k < 2 or n < 2:
        return None
    ranks = scores.rank(axis=1, ascending=False, method="average")
    avg_ranks = ranks.mean()
    if k == 2:
        a, b = scores.columns
        result = two_sample(scores[a], scores[b], paired=True)
        matrix = pd.DataFrame(
            [[1.0, result.p], [result.p, 1.0]], index=scores.columns, columns=scores.columns
        )
        return Omnibus(
            blocks,
            scores,
            avg_ranks,
            f"Wilcoxon signed-rank over {blocks}",
            result.statistic,
            result.p,
            matrix,
            "Wilcoxon",
            None,
        )
    if (ranks.nunique(axis=1) == 1).all():  # every block ties every method: Friedman's statistic is 0/0
        statistic, p = 0.0, 1.0
        matrix = pd.DataFrame(1.0, index=scores.columns, columns=scores.columns)
    else:
        result = st.friedmanchisquare(*(scores[c].to_numpy() for c in scores.columns))
        statistic, p = float(result.statistic), float(result.pvalue)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            matrix = sp.posthoc_nemenyi_friedman(scores.to_numpy())
        matrix.index = matrix.columns = scores.columns
    q = st.studentized_range.ppf(1 - ALPHA, k, np.inf) / np.sqrt(2)
    cd = float(q * np.sqrt(k * (k + 1) / (6 * n)))
    return Omnibus(blocks, scores, avg_ranks, "Friedman", statistic, p, matrix, "Nemenyi", cd)


def benchmark_scores(finals: pd.DataFrame, column: str = "incumbent_final") -> pd.DataFrame:
    """benchmarks x methods: the mean final metric over seeds (one budget per benchmark in `finals`)."""
    scores = finals.groupby(["benchmark", "method"])[column].mean().unstack("method")
    scores.columns.name = None
    return scores


def seed_scores(finals: pd.DataFrame, column: str = "incumbent_final") -> pd.DataFrame:
    """(experiment seed, repeat) x methods on one benchmark: the paired seeds as blocks."""
    scores = finals.pivot_table(index=PAIR_KEY, columns="method", values=column, aggfunc="first")
    scores.columns.name = None
    return scores


def across(finals: pd.DataFrame, column: str = "incumbent_final") -> Omnibus | None:
    """The omnibus test for `finals` (one budget per benchmark): over benchmarks, or seeds if only one."""
    names = finals["benchmark"].unique()
    if len(names) >= 2:
        return omnibus(benchmark_scores(finals, column), "benchmarks")
    return omnibus(seed_scores(finals, column), f"paired seeds of {names[0]}")
