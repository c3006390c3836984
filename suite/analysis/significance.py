"""Significance tests between methods, from the final state of stored runs.

Within a benchmark and budget: every pair of methods, two-sided. Runs pair up when both methods were run
with the same (experiment seed, repeat) set: seed i gives every method the same initial draws, so the
exact signed-rank test on per-seed differences applies; otherwise the exact (or seeded Monte-Carlo)
Mann-Whitney permutation test (suite.analysis.exact). The primary endpoint is each benchmark's full budget, and
the report's multiplicity family is every pair of every benchmark at its full budget :
Holm's correction runs over all of them at once; other budgets are exploratory (Holm within one benchmark
and budget, labelled `exploratory`, never read as confirmatory). Effect sizes per pair: the
Hodges-Lehmann shift with its exact 95% interval (inverting the same test, ties and zeros included), the
Bayesian-bootstrap posterior of that shift (suite.analysis.bayesian.shift; paired runs only), Vargha-Delaney A12.

Every pair gets one verdict in the words of VERDICTS (see `label`, VERDICT_RULE); `decide` gives the
verdict of one pair from its paired differences alone, for checks outside the report.

Across benchmarks (Demšar 2006): the score of a method on a benchmark is its mean final metric; Friedman's
statistic with its exact permutation p (an exact enumeration, Monte-Carlo past EXACT_FRIEDMAN)
and Nemenyi's post-hoc test for three or more methods, the signed-rank test over benchmarks for two.
Benchmarks of one search space (NB201's three datasets: one space, the same seeds) form one block, their
ranks averaged. With a single benchmark the blocks are the paired seeds instead.

Longer than 400 lines: the pairwise tests, the one verdict rule, the multiplicity family and the omnibus
tests share the data layout and the verdict vocabulary, and are kept together so that a verdict is defined
in one place (the exact distributions are in `exact`, the shift's posterior in `bayesian`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np
import pandas as pd
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


# --- verdicts ---------------------------------------------------------------------------------------

A_BETTER, B_BETTER, EQUIVALENT, UNDECIDED = "A better", "B better", "equivalent (within ±ROPE)", "undecided"
VERDICTS = (A_BETTER, B_BETTER, EQUIVALENT, UNDECIDED)
EQUIVALENCE = 0.95  # posterior probability of the ROPE that an "equivalent" verdict needs
VERDICT_RULE = (
    f"Verdicts, one per pair of methods A vs B: '{A_BETTER}' / '{B_BETTER}' when the exact rank test rejects "
    "'no shift' after Holm's correction over the pair's family (alpha {alpha:g}), in the direction of the "
    f"test statistic; '{EQUIVALENT}' when the test does not reject, the posterior of the shift puts at least "
    f"{EQUIVALENCE:.0%} inside ±ROPE (ROPE = {{rope:g}} points) and the test had {POWER:.0%} power to detect "
    f"a shift of the ROPE at its effective n (the non-zero differences) and the family's level; "
    f"'{UNDECIDED}' otherwise, in particular when the shift the test could detect is larger than the ROPE. "
    "'A better' says that the shift is not zero and which way it goes; how large it is, is in the interval "
    "and the posterior."
)


def rule_text(rope: float, alpha: float = ALPHA) -> str:
    """The verdict vocabulary and rule, in words, stated once per report."""
    return VERDICT_RULE.format(alpha=alpha, rope=rope)


def label(p_adjusted: float, direction: float, p_equivalent: float, detectable: float, rope: float,
          alpha: float = ALPHA) -> str:
    """The verdict of one pair. direction > 0: the test statistic lies on A's side (A - B positive)."""
    if pd.isna(p_adjusted):
        return UNDECIDED
    if p_adjusted < alpha and direction != 0:
        return A_BETTER if direction > 0 else B_BETTER
    if pd.notna(p_equivalent) and p_equivalent >= EQUIVALENCE and pd.notna(detectable) and detectable <= rope:
        return EQUIVALENT
    return UNDECIDED


@dataclass(frozen=True)
class PairVerdict:
    """Everything the verdict of one pair rests on; shift, interval and posterior are of A - B in points."""

    verdict: str
    n: int  # paired differences
    n_effective: int  # non-zero differences: what the test uses
    p: float  # exact two-sided signed-rank p
    p_adjusted: float  # within the family (Holm, or Bonferroni over `family` when no adjusted p is given)
    shift: float  # Hodges-Lehmann estimate
    low: float  # exact 95% interval, inverting the test
    high: float
    posterior: bayesian.ShiftPosterior
    detectable: float  # shift detected with POWER probability at n_effective and level alpha / family


def _direction(result: exact.RankTest) -> float:
    """Positive when the signed-rank statistic lies above its null centre (A ahead of B)."""
    return result.statistic - result.n_used * (result.n_used + 1) / 4


def _nonzero_sd(d: np.ndarray) -> float:
    nonzero = d[d != 0]
    return float(np.std(nonzero, ddof=1)) if len(nonzero) > 1 else np.nan


def decide(
    differences,
    rope: float = ROPE,
    alpha: float = ALPHA,
    family: int = 1,
    p_adjusted: float | None = None,
) -> PairVerdict:
    """The verdict of one pair from its paired differences A - B (one per seed), as the report gives it.

    `family`: the number of pairs in the multiplicity family; `p_adjusted`: the pair's Holm-adjusted p in
    that family where the caller has it, otherwise p * family (Bonferroni: Holm's first step, never smaller
    than Holm's). The report's own verdicts come from `pairwise`, which fills the same fields.
    """
    d = exact.rounded(differences)
    d = d[~np.isnan(d)]
    result = exact.signed_rank(d)
    interval = exact.hodges_lehmann_paired(d)
    posterior = bayesian.shift(d, rope)
    detectable = minimal_shift(result.n_used, family, _nonzero_sd(d), alpha).shift
    adjusted = min(1.0, result.p * family) if p_adjusted is None else p_adjusted
    verdict = label(adjusted, _direction(result), posterior.p_rope, detectable, rope, alpha)
    return PairVerdict(
        verdict, len(d), result.n_used, result.p, adjusted, interval.estimate, interval.low, interval.high,
        posterior, detectable,
    )


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
        d = exact.rounded(a - b)
        result = exact.signed_rank(d)
        shift = exact.hodges_lehmann_paired(d)
        posterior = bayesian.shift(d, rope)
        bayes = {
            "p_a_better": posterior.p_a,
            "p_equivalent": posterior.p_rope,
            "p_b_better": posterior.p_b,
            "shift_post_low": posterior.low,
            "shift_post_high": posterior.high,
        }
        spread, direction = _nonzero_sd(d), _direction(result)
    else:
        result = exact.mann_whitney(a, b)
        shift = exact.hodges_lehmann_unpaired(a, b)
        bayes = dict.fromkeys(("p_a_better", "p_equivalent", "p_b_better", "shift_post_low", "shift_post_high"),
                              np.nan)
        spread, direction = np.nan, result.statistic - len(a) * len(b) / 2
    effect = a12(a, b)
    notes = []
    if len(a) < 2 or len(b) < 2:
        notes.append("one seed only: no test can show a difference")
    elif not np.isfinite(shift.low) or not np.isfinite(shift.high):
        notes.append("too few seeds for a 95% interval")
    if not paired:
        notes.append("unpaired runs: no posterior of the shift, so no equivalence verdict")
    return {
        **row,
        "n_effective": result.n_used if paired else len(a) + len(b),
        "median_a": float(np.median(a)),
        "median_b": float(np.median(b)),
        "test": result.test,
        "test_method": result.method,
        "statistic": result.statistic,
        "direction": direction,
        "p": result.p,
        "hl_shift": shift.estimate,
        "hl_low": shift.low,
        "hl_high": shift.high,
        "hl_low_open": shift.low_open,
        "hl_high_open": shift.high_open,
        "a12": float(effect),
        "magnitude": a12_magnitude(effect),
        **bayes,
        "sd_nonzero": spread,
        "note": "; ".join(notes),
    }


def family_name(endpoint: str, benchmark: str, budget: int, size: int) -> str:
    if endpoint == "primary":
        return f"primary: all {size} pairs of the report's benchmarks at their full budget"
    return f"exploratory: the {size} pairs of {benchmark} at {budget} queries"


def pairwise(
    finals: pd.DataFrame,
    primary: Mapping[str, int] | None = None,
    rope: float = ROPE,
    column: str = "incumbent_final",
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Every pair of methods per benchmark, oracle and budget; `column` is higher-is-better.

    `primary` maps a benchmark to its primary budget (default: its largest budget in `finals`). Holm runs
    over one family: at the primary endpoint all pairs of all benchmarks together, at an exploratory budget
    the pairs of one benchmark. Shifts, A12 and P(A better) are of method_a over method_b. Each row carries
    its family, the Holm-adjusted p in it, the detectable shift at its effective n and its verdict.
    """
    finals = finals if "budget" in finals else finals.assign(budget=0)
    if primary is None:
        primary = finals.groupby("benchmark")["budget"].max().to_dict()
    rows = []
    for (benchmark, oracle, budget), cell in finals.groupby(["benchmark", "oracle", "budget"]):
        samples = {m: g.set_index(_pair_index(g))[column].sort_index() for m, g in cell.groupby("method")}
        endpoint = "primary" if budget == primary.get(benchmark) else "exploratory"
        rows += [
            {
                "benchmark": benchmark,
                "oracle": oracle,
                "budget": budget,
                "endpoint": endpoint,
                "method_a": a,
                "method_b": b,
                **compare(samples[a], samples[b], rope),
            }
            for a, b in itertools.combinations(sorted(samples), 2)
        ]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    key = np.where(table["endpoint"] == "primary", "primary", table["benchmark"] + "@" + table["budget"].astype(str))
    table["family"] = ""
    table["family_size"] = 0
    table["p_holm"] = np.nan
    for _, index in table.groupby(key, sort=False).groups.items():
        first = table.loc[index[0]]
        table.loc[index, "family_size"] = len(index)
        table.loc[index, "family"] = family_name(first["endpoint"], first["benchmark"], first["budget"], len(index))
        p = table.loc[index, "p"].to_numpy(dtype=float)
        tested = ~np.isnan(p)
        adjusted = np.full(len(p), np.nan)
        adjusted[tested] = holm(p[tested])
        table.loc[index, "p_holm"] = adjusted
    table["detectable_shift"] = [
        minimal_shift(int(r.n_effective), int(r.family_size), r.sd_nonzero, alpha).shift
        if r.paired and pd.notna(r.p) else np.nan
        for r in table.itertuples()
    ]
    table["verdict"] = [
        label(r.p_holm, r.direction, r.p_equivalent, r.detectable_shift, rope, alpha)
        if pd.notna(r.p) else UNDECIDED
        for r in table.itertuples()
    ]
    table["significant"] = table["p_holm"] < alpha
    table["better"] = np.select(
        [table["verdict"] == A_BETTER, table["verdict"] == B_BETTER], [table["method_a"], table["method_b"]], ""
    )
    return table


def signed(value: float) -> str:
    """A shift in points with its sign; a value that rounds to zero reads +0.00, never -0.00."""
    return "∞" if value == np.inf else "-∞" if value == -np.inf else f"{round(value, 2) + 0.0:+.2f}"


def _p(p: float) -> str:
    if pd.isna(p):
        return "–"
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def interval_text(row: Mapping) -> str:
    """The HL interval with its ends: '(' where the end itself is rejected (ties sit exactly there)."""
    left = "(" if row.get("hl_low_open", False) else "["
    right = ")" if row.get("hl_high_open", False) else "]"
    return f"{left}{signed(row['hl_low'])}, {signed(row['hl_high'])}{right}"


def named_verdict(row: Mapping) -> str:
    """The verdict with the method it names: 'A better (ganas)'."""
    if row["verdict"] == A_BETTER:
        return f"{A_BETTER} ({row['method_a']})"
    if row["verdict"] == B_BETTER:
        return f"{B_BETTER} ({row['method_b']})"
    return str(row["verdict"]).replace("ROPE", f"{row['rope']:g} points")


def verdict(row: Mapping) -> str:
    """One line in words: the verdict, the HL shift with its interval, the posterior of the shift, the exact
    and the family's Holm p, and the shift the test could detect."""
    head = f"{row['method_a']} vs {row['method_b']}"
    if pd.isna(row["p"]):
        return f"{head}: not compared ({row['note']})."
    rope = f"{row['rope']:g}"
    parts = [f"HL shift (A − B) {signed(row['hl_shift'])}, 95% interval {interval_text(row)}"]
    if pd.notna(row.get("p_equivalent")):
        parts.append(
            f"posterior of the shift: P(A better by > {rope}) {row['p_a_better']:.2f}, P(within ±{rope}) "
            f"{row['p_equivalent']:.2f}, P(B better by > {rope}) {row['p_b_better']:.2f}"
        )
    used = f" on {row['n_effective']} non-zero of {row['n_a']} differences" if row["paired"] else ""
    parts.append(f"p = {_p(row['p'])}{used}, Holm p = {_p(row['p_holm'])}")
    if pd.notna(row.get("detectable_shift")):
        parts.append(f"detectable shift {row['detectable_shift']:.2f}")
    note = f" ({row['note']})" if row.get("note") else ""
    return f"{head}: {named_verdict(row)}. " + "; ".join(parts) + note + "."


# --- power ----------------------------------------------------------------------------------------

POWER_SEED = 20240601  # the simulation stream of the power analysis
POWER_DRAWS = 4_000


@dataclass(frozen=True)
class Power:
    n: int  # effective n: the non-zero paired differences
    family: int  # pairs in the Holm family
    level: float  # alpha / family: what the smallest p must reach under Holm
    sd: float  # spread of the non-zero paired differences the shift is measured against
    shift: float  # smallest shift detected with `POWER` probability; nan if none can be

    def sentence(self) -> str:
        head = (
            f"Power: with n = {self.n} non-zero paired differences and {self.family} pairs in the family, a "
            f"pair is significant after Holm only if its exact p ≤ {self.level:.2g} (Holm's first step)"
        )
        if np.isnan(self.shift) and self.n >= 1 and _reject(self.n, self.level).any():
            return head + "; the non-zero differences do not spread enough to size a detectable shift."
        if np.isnan(self.shift):
            return head + "; at this n no outcome reaches that, so no shift can be detected."
        return head + (
            f"; the signed-rank test detects a shift of {self.shift:.2f} points with {POWER:.0%} power, for "
            f"differences spread like the observed non-zero ones (sd {self.sd:.2f}; normal draws, "
            f"{POWER_DRAWS} simulated samples per shift, seed {POWER_SEED})."
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


@cache
def _standard_shift(n: int, level: float) -> float:
    """The smallest mean shift, in sd units, that the exact test at `level` detects with POWER probability
    from n normal differences (common random numbers: every shift reuses one draw); nan if none can."""
    reject = _reject(n, level)
    if not reject.any():
        return np.nan
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
    return high


def minimal_shift(n: int, family: int, sd: float, alpha: float = ALPHA) -> Power:
    """The smallest mean shift (in units of `sd`, times sd) that the exact signed-rank test at level
    alpha / family detects with POWER probability, by simulation with common random numbers. n is the
    effective n (non-zero differences), sd their spread."""
    level = alpha / max(family, 1)
    if n < 1 or not np.isfinite(sd) or sd <= 0:
        return Power(n, family, level, sd, np.nan)
    return Power(n, family, level, sd, _standard_shift(n, level) * sd)


def power_by_benchmark(table: pd.DataFrame, alpha: float = ALPHA) -> dict[str, Power]:
    """Per benchmark, from its primary-endpoint pairs: the detectable shift at the median effective n and
    the median spread of the non-zero differences, at the level of the report's primary family."""
    out = {}
    primary = table[table["endpoint"] == "primary"]
    for benchmark, pairs in primary.groupby("benchmark"):
        paired = pairs[pairs["paired"] & pairs["p"].notna()]
        if paired.empty:
            continue
        sd = float(paired["sd_nonzero"].median())  # nan where no pair has two non-zero differences
        n = int(paired["n_effective"].median())
        out[benchmark] = minimal_shift(n, int(paired["family_size"].iloc[0]), sd, alpha)
    return out


@dataclass(frozen=True)
class Omnibus:
    """A comparison of k methods over N blocks (search spaces, datasets or seeds)."""

    blocks: str  # what a block is, in words
    scores: pd.DataFrame  # benchmarks (or seeds) x methods, higher is better
    ranks: pd.DataFrame  # blocks x methods: the ranks tested (a space's datasets averaged)
    avg_ranks: pd.Series  # 1 = best
    test: str
    statistic: float
    p: float
    posthoc: pd.DataFrame  # methods x methods p-values
    posthoc_name: str
    cd: float | None  # Nemenyi critical difference in average rank, where the post-hoc test is Nemenyi

    def sentence(self, alpha: float = ALPHA) -> str:
        k, n = self.ranks.shape[1], self.ranks.shape[0]
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
    return 2.0 / 2 ** result.ranks.shape[0] if "signed-rank" in result.test else None


# --- Friedman's test with its exact permutation p -----------------------------------------------------

EXACT_FRIEDMAN = 2_000_000  # orderings enumerated at most (a bound on the rows); beyond, seeded Monte-Carlo
FRIEDMAN_SEED = 19370101
FRIEDMAN_DRAWS = 100_000


def space_of(benchmark: str) -> str:
    """The search space of a benchmark: its name up to the first '-' (nb201-cifar10 -> nb201); the
    datasets of one space share cells and seeds, so they are one block, not several."""
    return benchmark.split("-")[0]


def block_ranks(scores: pd.DataFrame, groups: Mapping[str, str] | None = None) -> pd.DataFrame:
    """blocks x methods: ranks (1 = best, ties averaged) per row of `scores`, averaged within each group
    (rows mapped to the same group are one block); without groups every row is a block."""
    ranks = scores.rank(axis=1, ascending=False, method="average")
    if groups is None:
        return ranks
    return ranks.groupby(ranks.index.map(lambda name: groups.get(name, name)), sort=True).mean()


def friedman_statistic(ranks: np.ndarray) -> float:
    """Friedman's chi-square 12 N / (k (k + 1)) sum_j (mean rank_j - (k + 1) / 2)^2 (no tie correction: a
    permutation test needs none; for untied single-benchmark blocks it is scipy's statistic)."""
    n, k = ranks.shape
    return float(12 * n / (k * (k + 1)) * np.sum((ranks.mean(axis=0) - (k + 1) / 2) ** 2))


def _unique_permutations(row: np.ndarray) -> np.ndarray:
    return np.unique(np.array(list(itertools.permutations(row))), axis=0)


def friedman_permutation(ranks: np.ndarray) -> tuple[float, str]:
    """The permutation p of Friedman's statistic: within each block the methods' ranks are exchangeable
    under the null. Exact: the distribution of the column sums is built block by block over the distinct
    permutations of each block's ranks (the first block held fixed, which the statistic cannot tell from
    relabelling every block alike), merging equal sums; Monte-Carlo (FRIEDMAN_DRAWS, FRIEDMAN_SEED) when
    that would exceed EXACT_FRIEDMAN rows. Returns (p, method)."""
    n, k = ranks.shape
    scale = 2 * math.lcm(*range(1, 7))  # averaged midranks of up to 6 datasets per block are integers
    integer = np.round(ranks * scale).astype(np.int64)
    observed = np.sum((integer.sum(axis=0) - integer.sum() / k) ** 2)
    perms = [_unique_permutations(row) for row in integer[1:]]
    if math.prod(len(p) for p in perms) > EXACT_FRIEDMAN:  # a bound on the rows of the enumeration
        method = f"Monte-Carlo ({FRIEDMAN_DRAWS} draws, seed {FRIEDMAN_SEED})"
        return _friedman_monte_carlo(integer, observed), method
    counts: np.ndarray  # float weights (np.bincount with weights gives floats, not the stub's ints)
    sums, counts = integer[:1], np.ones(1)
    for block in perms:
        combined = (sums[:, None, :] + block[None, :, :]).reshape(-1, k)
        sums, inverse = np.unique(combined, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=np.repeat(counts, len(block)))
    statistic = np.sum((sums - integer.sum() / k) ** 2, axis=1)
    p = counts[statistic >= observed - 1e-9].sum() / counts.sum()
    return float(p), "exact"


def _friedman_monte_carlo(integer: np.ndarray, observed: float) -> float:
    """(1 + hits) / (1 + draws): a valid p for random within-block permutations (Phipson & Smyth 2010).
    Each block draws one of its k! orders uniformly; only the column sums are kept."""
    rng = np.random.default_rng(FRIEDMAN_SEED)
    n, k = integer.shape
    orders = np.array(list(itertools.permutations(range(k))))
    chosen = rng.integers(0, len(orders), (n, FRIEDMAN_DRAWS))
    sums = np.zeros((FRIEDMAN_DRAWS, k), dtype=np.int64)
    for row, picks in zip(integer, chosen, strict=True):
        sums += row[orders][picks]
    statistic = np.sum((sums - integer.sum() / k) ** 2, axis=1)
    return float((1 + np.sum(statistic >= observed - 1e-9)) / (1 + FRIEDMAN_DRAWS))


def _nemenyi(ranks: pd.DataFrame) -> pd.DataFrame:
    """Nemenyi's p for every pair from mean ranks over N blocks (Demšar 2006: q = |R_i - R_j| /
    sqrt(k (k + 1) / (6 N)), studentized range with infinite df); for single-benchmark blocks it is
    scikit-posthocs' posthoc_nemenyi_friedman, for averaged blocks conservative (averaged ranks vary less)."""
    n, k = ranks.shape
    mean = ranks.mean().to_numpy()
    q = np.abs(mean[:, None] - mean[None, :]) / np.sqrt(k * (k + 1) / (6 * n)) * np.sqrt(2)
    p = st.studentized_range.sf(q, k, np.inf)
    np.fill_diagonal(p, 1.0)
    return pd.DataFrame(np.clip(p, 0, 1), index=ranks.columns, columns=ranks.columns)


def omnibus(scores: pd.DataFrame, blocks: str, groups: Mapping[str, str] | None = None) -> Omnibus | None:
    """Friedman (exact permutation p) + Nemenyi (k >= 3) or Wilcoxon (k = 2) on a benchmarks x methods
    score table (higher is better); `groups` maps a benchmark to its block (search space).

    Benchmarks missing a method are dropped; None when fewer than two methods or two blocks remain.
    """
    scores = scores.dropna(axis=0, how="any")
    ranks = block_ranks(scores, groups)
    k, n = ranks.shape[1], ranks.shape[0]
    if k < 2 or n < 2:
        return None
    avg_ranks = ranks.mean()
    if k == 2:
        a, b = scores.columns
        difference = scores[a] - scores[b]
        if groups is not None:  # a space's datasets: their differences averaged into one per block
            difference = difference.groupby(difference.index.map(lambda name: groups.get(name, name))).mean()
        result = exact.signed_rank(difference.to_numpy())
        matrix = pd.DataFrame([[1.0, result.p], [result.p, 1.0]], index=scores.columns, columns=scores.columns)
        return Omnibus(blocks, scores, ranks, avg_ranks, f"exact signed-rank test over {blocks}", result.statistic,
                       result.p, matrix, "Wilcoxon", None)
    values = ranks.to_numpy(dtype=float)
    if (np.ptp(values, axis=1) == 0).all():  # every block ties every method
        statistic, p, method = 0.0, 1.0, "exact"
        matrix = pd.DataFrame(1.0, index=scores.columns, columns=scores.columns)
    else:
        statistic = friedman_statistic(values)
        p, method = friedman_permutation(values)
        matrix = _nemenyi(ranks)
    q = st.studentized_range.ppf(1 - ALPHA, k, np.inf) / np.sqrt(2)
    cd = float(q * np.sqrt(k * (k + 1) / (6 * n)))
    test = "Friedman (exact permutation p)" if method == "exact" else f"Friedman ({method} permutation p)"
    return Omnibus(blocks, scores, ranks, avg_ranks, test, statistic, p, matrix, "Nemenyi", cd)


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
    """The omnibus test for `finals` (one budget per benchmark): over search spaces (each space one block,
    its datasets' ranks averaged) when there are two or more, else over the datasets of the one space
    (said so: they share seeds and cells), else over the paired seeds of the one benchmark."""
    names = sorted(finals["benchmark"].unique())
    spaces = {name: space_of(name) for name in names}
    if len(set(spaces.values())) >= 2:
        return omnibus(benchmark_scores(finals, column), "search spaces (a space's datasets averaged)", spaces)
    if len(names) >= 2:
        return omnibus(benchmark_scores(finals, column), "datasets of one search space (same seeds, not independent)")
    return omnibus(seed_scores(finals, column), f"paired seeds of {names[0]}")


def disagreements(table: pd.DataFrame, result: Omnibus | None, alpha: float = ALPHA) -> list[str]:
    """Where the primary pairwise tests and Nemenyi's post-hoc test disagree: one line per direction naming
    the pairs, and why."""
    if result is None or result.posthoc_name != "Nemenyi":
        return []
    primary = table[table["endpoint"] == "primary"]
    single = result.blocks.startswith("paired seeds")
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
