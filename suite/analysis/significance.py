"""Significance tests between methods, from the final state of stored runs.

Within a benchmark and budget: every pair of methods, two-sided. Runs pair up when both methods were run
with the same (experiment seed, repeat) set: seed i gives every method the same initial draws, so the
exact signed-rank test on per-seed differences applies; otherwise the exact (or seeded Monte-Carlo)
Mann-Whitney permutation test (suite.analysis.exact). The primary endpoint is each benchmark's full budget: Holm's
correction runs over all pairs of one benchmark at that budget; other budgets are exploratory (Holm within
their own budget, labelled `exploratory`, never read as confirmatory). Effect sizes per pair: the
Hodges-Lehmann shift with its exact 95% interval, Vargha-Delaney A12 (exact fractions), and the Bayesian
signed-rank test with a ROPE (suite.analysis.bayesian; paired runs only).

Across benchmarks (Demšar 2006): the score of a method on a benchmark is its mean final metric; Friedman's
test with Nemenyi's post-hoc test for three or more methods, the signed-rank test over benchmarks for two.
With a single benchmark the blocks are the paired seeds instead.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from suite.analysis import bayesian, exact

ALPHA = 0.05
ROPE = 0.1  # region of practical equivalence, in points of the final metric (accuracy in %)
POWER = 0.8
PAIR_KEY = ["experiment_seed", "repeat"]
# Vargha & Delaney (2000): A12 (or 1 - A12) at or above 0.56, 0.64, 0.71 is a small, medium, large effect.
A12_BOUNDS = ((Fraction(71, 100), "large"), (Fraction(64, 100), "medium"), (Fraction(56, 100), "small"))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (statsmodels)."""
    p = np.asarray(pvalues, dtype=float)
    if len(p) == 0:
        return p
    return multipletests(p, method="holm")[1]


def a12(x, y) -> Fraction:
    """Vargha-Delaney A12 = P(X > Y) + P(X = Y) / 2, as an exact fraction of the counts (TOL-rounded data)."""
    x, y = exact.rounded(x), exact.rounded(y)
    greater = int((x[:, None] > y[None, :]).sum())
    equal = int((x[:, None] == y[None, :]).sum())
    return Fraction(2 * greater + equal, 2 * len(x) * len(y))


def a12_magnitude(value: Fraction | float) -> str:
    """Label of max(A12, 1 - A12) against the thresholds (>= threshold: that label)."""
    value = Fraction(value).limit_denominator(10**9) if not isinstance(value, Fraction) else value
    strength = max(value, 1 - value)
    return next((label for bound, label in A12_BOUNDS if strength >= bound), "negligible")


def _pair_index(group: pd.DataFrame) -> pd.MultiIndex | pd.Index:
    keys = [k for k in PAIR_KEY if k in group]
    return pd.MultiIndex.from_frame(group[keys]) if len(keys) > 1 else pd.Index(group[keys[0]])


def compare(x: pd.Series, y: pd.Series, rope: float = ROPE) -> dict:
    """Test, effect sizes and posterior of one pair; x, y indexed by seed. NaN values are left out."""
    paired = len(x) == len(y) and x.index.equals(y.index) and x.index.is_unique
    missing = [values for values in (x, y) if values.isna().all()]
    if paired:
        keep = x.notna().to_numpy() & y.notna().to_numpy()
        x, y = x[keep], y[keep]
    else:
        x, y = x.dropna(), y.dropna()
    row: dict = {"paired": paired, "n_a": len(x), "n_b": len(y), "rope": rope}
    if len(x) == 0 or len(y) == 0:
        which = "either method" if len(missing) == 2 else "one method" if missing else "any common seed"
        return {**row, "test": "", "p": np.nan, "note": f"no finite final metric for {which}"}
    a, b = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    if paired:
        result = exact.signed_rank(a - b)
        shift = exact.hodges_lehmann_paired(a - b)
        posterior = bayesian.signed_rank(a, b, rope)
        bayes = {"p_a_better": posterior.p_a, "p_equivalent": posterior.p_rope, "p_b_better": posterior.p_b}
        spread = float(np.std(exact.rounded(a - b), ddof=1)) if len(a) > 1 else np.nan
    else:
        result = exact.mann_whitney(a, b)
        shift = exact.hodges_lehmann_unpaired(a, b)
        bayes = {"p_a_better": np.nan, "p_equivalent": np.nan, "p_b_better": np.nan}
        spread = np.nan
    effect = a12(a, b)
    notes = []
    if len(a) < 2 or len(b) < 2:
        notes.append("one seed only: no test can show a difference")
    elif not np.isfinite(shift.low):
        notes.append("too few seeds for a 95% interval")
    return {
        **row,
        "median_a": float(np.median(a)),
        "median_b": float(np.median(b)),
        "test": result.test,
        "test_method": result.method,
        "statistic": result.statistic,
        "p": result.p,
        "hl_shift": shift.estimate,
        "hl_low": shift.low,
        "hl_high": shift.high,
        "a12": float(effect),
        "magnitude": a12_magnitude(effect),
        **bayes,
        "sd_diff": spread,
        "note": "; ".join(notes),
    }


def pairwise(
    finals: pd.DataFrame,
    primary: Mapping[str, int] | None = None,
    rope: float = ROPE,
    column: str = "incumbent_final",
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Every pair of methods per benchmark, oracle and budget; `column` is higher-is-better.

    `primary` maps a benchmark to its primary budget (default: its largest budget in `finals`). Holm runs
    within one (benchmark, oracle, budget) family. Shifts, A12 and P(A better) are of method_a over method_b.
    """
    finals = finals if "budget" in finals else finals.assign(budget=0)
    if primary is None:
        primary = finals.groupby("benchmark")["budget"].max().to_dict()
    rows = []
    for (benchmark, oracle, budget), cell in finals.groupby(["benchmark", "oracle", "budget"]):
        samples = {m: g.set_index(_pair_index(g))[column].sort_index() for m, g in cell.groupby("method")}
        family = [
            {
                "benchmark": benchmark,
                "oracle": oracle,
                "budget": budget,
                "endpoint": "primary" if budget == primary.get(benchmark) else "exploratory",
                "method_a": a,
                "method_b": b,
                **compare(samples[a], samples[b], rope),
            }
            for a, b in itertools.combinations(sorted(samples), 2)
        ]
        p = np.array([row["p"] for row in family], dtype=float)
        tested = ~np.isnan(p)
        adjusted = np.full(len(p), np.nan)
        adjusted[tested] = holm(p[tested])
        for row, p_holm in zip(family, adjusted, strict=True):
            significant = bool(p_holm < alpha)
            ahead = row.get("hl_shift", 0) > 0 or (row.get("hl_shift", 0) == 0 and row.get("a12", 0.5) > 0.5)
            winner = row["method_a"] if ahead else row["method_b"]
            rows.append({**row, "p_holm": p_holm, "significant": significant, "better": winner if significant else ""})
    return pd.DataFrame(rows)


def signed(value: float) -> str:
    """A shift in points with its sign; a value that rounds to zero reads +0.00, never -0.00."""
    return "∞" if value == np.inf else "-∞" if value == -np.inf else f"{round(value, 2) + 0.0:+.2f}"


def _p(p: float) -> str:
    if pd.isna(p):
        return "–"
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def verdict(row: Mapping) -> str:
    """One line in words: the Bayesian verdict, the HL shift with its interval, the exact and Holm p."""
    head = f"{row['method_a']} vs {row['method_b']}"
    if pd.isna(row["p"]):
        return f"{head}: not compared ({row['note']})."
    parts = []
    if pd.notna(row.get("p_equivalent")):
        probs = {
            f"equivalent within {row['rope']:g} points": row["p_equivalent"],
            f"{row['method_a']} better by more than {row['rope']:g} points": row["p_a_better"],
            f"{row['method_b']} better by more than {row['rope']:g} points": row["p_b_better"],
        }
        words, probability = max(probs.items(), key=lambda item: item[1])
        parts.append(f"{words} with probability {probability:.2f}")
    else:
        parts.append("unpaired runs, no Bayesian signed-rank test")
    parts.append(f"HL shift {signed(row['hl_shift'])} [{signed(row['hl_low'])}, {signed(row['hl_high'])}]")
    parts.append(f"p={_p(row['p'])} (Holm {_p(row['p_holm'])})")
    note = f" ({row['note']})" if row.get("note") else ""
    return f"{head}: " + "; ".join(parts) + note + "."


# --- power ----------------------------------------------------------------------------------------

POWER_SEED = 20240601  # the simulation stream of the power analysis
POWER_DRAWS = 4_000


@dataclass(frozen=True)
class Power:
    n: int
    family: int  # pairs in the Holm family
    level: float  # alpha / family: what the smallest p must reach under Holm
    sd: float  # spread of the paired differences the shift is measured against
    shift: float  # smallest shift detected with `POWER` probability; nan if none can be

    def sentence(self) -> str:
        head = (
            f"Power: with n = {self.n} paired seeds and {self.family} pairs, a pair is significant after Holm "
            f"only if its exact p ≤ {self.level:.2g}"
        )
        if np.isnan(self.shift):
            return head + "; at this n no outcome reaches that, so no shift can be detected."
        return head + (
            f"; the signed-rank test detects a shift of {self.shift:.2f} points with {POWER:.0%} power, for "
            f"differences spread like the observed ones (sd {self.sd:.2f}, the median over the pairs; "
            f"normal draws, {POWER_DRAWS} simulated samples per shift, seed {POWER_SEED})."
        )


def _reject(n: int, level: float) -> np.ndarray:
    """reject[t]: the exact two-sided p of T+ = t is at most `level` (untied data)."""
    null = exact._signed_rank_null(n)
    distance = np.abs(np.arange(len(null)) - n * (n + 1) / 4)
    order = np.argsort(-distance, kind="stable")
    tail = np.cumsum(null[order])  # P(distance >= the distance at each sorted position)
    # the p of t: the tail up to the last position with the same distance (equal distances tie)
    last = np.searchsorted(-distance[order], -distance + 1e-9, side="right") - 1
    return tail[last] <= level + 1e-12


def minimal_shift(n: int, family: int, sd: float, alpha: float = ALPHA) -> Power:
    """The smallest mean shift (in units of `sd`, times sd) that the exact signed-rank test at level
    alpha / family detects with POWER probability, by simulation with common random numbers."""
    level = alpha / max(family, 1)
    if n < 1 or not np.isfinite(sd) or sd <= 0:
        return Power(n, family, level, sd, np.nan)
    reject = _reject(n, level)
    if not reject.any():
        return Power(n, family, level, sd, np.nan)
    z = np.random.default_rng(POWER_SEED).standard_normal((POWER_DRAWS, n))
    ranks = np.arange(1, n + 1)

    def power(delta: float) -> float:
        d = z + delta
        order = np.argsort(np.abs(d), axis=1)
        positive = np.take_along_axis(d, order, axis=1) > 0
        return float(reject[(positive * ranks).sum(axis=1)].mean())

    low, high = 0.0, 1.0
    while power(high) < POWER:
        low, high = high, 2 * high
    for _ in range(20):  # to 1e-6 of the bracket: far below what the report prints
        mid = (low + high) / 2
        low, high = (mid, high) if power(mid) < POWER else (low, mid)
    return Power(n, family, level, sd, high * sd)


def power_by_benchmark(table: pd.DataFrame, alpha: float = ALPHA) -> dict[str, Power]:
    """Per benchmark, from its primary-endpoint pairs: the minimal detectable shift at their n."""
    out = {}
    primary = table[table["endpoint"] == "primary"]
    for benchmark, pairs in primary.groupby("benchmark"):
        paired = pairs[pairs["paired"] & pairs["p"].notna()]
        if paired.empty:
            continue
        sd = float(paired["sd_diff"].median())
        out[benchmark] = minimal_shift(int(paired["n_a"].min()), len(pairs), sd, alpha)
    return out


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
                f"; with {n} blocks no outcome could reach p < {alpha}" if floor is not None and floor >= alpha else ""
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
    return 2.0 / 2 ** result.scores.shape[0] if "signed-rank" in result.test else None


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
        result = exact.signed_rank(scores[a].to_numpy() - scores[b].to_numpy())
        matrix = pd.DataFrame([[1.0, result.p], [result.p, 1.0]], index=scores.columns, columns=scores.columns)
        return Omnibus(
            blocks,
            scores,
            avg_ranks,
            f"exact signed-rank test over {blocks}",
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


def disagreements(table: pd.DataFrame, result: Omnibus | None, alpha: float = ALPHA) -> list[str]:
    """Where the primary pairwise tests and Nemenyi's post-hoc test disagree: one line per direction naming
    the pairs, and why."""
    if result is None or result.posthoc_name != "Nemenyi":
        return []
    primary = table[table["endpoint"] == "primary"]
    single = result.blocks != "benchmarks"
    only_pairwise, only_nemenyi = [], []
    for a, b in itertools.combinations(sorted(result.avg_ranks.index), 2):
        rows = primary[(primary["method_a"] == a) & (primary["method_b"] == b)]
        if rows.empty:
            continue
        nemenyi = bool(result.posthoc.loc[a, b] < alpha) and result.p < alpha
        if single:
            pairwise_says = bool(rows["significant"].iloc[0])
        else:  # across benchmarks the pairwise verdicts agree with Nemenyi if they hold on every benchmark
            pairwise_says = bool(rows["significant"].all() and rows["better"].nunique() == 1)
        named = f"{a} vs {b} (Nemenyi p = {_p(result.posthoc.loc[a, b])})"
        if pairwise_says and not nemenyi:
            only_pairwise.append(named)
        elif nemenyi and not pairwise_says:
            only_nemenyi.append(named)
    where = "its paired test" if single else "the paired test on every benchmark"
    k, n = len(result.avg_ranks), len(result.scores)
    lines = []
    if only_pairwise:
        lines.append(
            f"{'; '.join(only_pairwise)}: {where} finds a difference, Nemenyi does not. They test different "
            f"things: Nemenyi compares mean ranks of all {k} methods over {n} {result.blocks} at once, which "
            "ignores how large the differences are and corrects for all pairs, so it has less power than the "
            "signed-rank test of one pair's paired differences."
        )
    if only_nemenyi:
        lines.append(
            f"{'; '.join(only_nemenyi)}: Nemenyi finds a difference in mean rank, {where} does not. They test "
            "different things: the ranks depend on the other methods and only on the order of the scores, the "
            "signed-rank test on the sizes of the pair's own differences."
        )
    return lines
