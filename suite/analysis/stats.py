"""Statistics over stored trajectories. Tidy DataFrames in, tidy DataFrames out; nothing reruns a search.

Conventions: the final metric (`incumbent_final`) is higher-is-better; regret = optimum - final metric is
lower-is-better and NaN where the benchmark's optimum is unknown; `incumbent_top_fraction` is the fraction
of the space strictly better than the incumbent (0 = the optimum), NaN where the space is not enumerable.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as st

GROUP = ["benchmark", "oracle", "method"]
# Regret is a difference of two values read from the same table; a tolerance keeps a float round-off from
# turning "found the optimum" into a miss.
SUCCESS_TOL = 1e-9
TOP_FRACTION = 0.001  # "found a top-0.1% cell"
# Fractions of a benchmark's common budget at which statistics are reported (150 -> 50, 100, 150).
BUDGET_FRACTIONS = (1 / 3, 2 / 3, 1.0)
# Targets for queries-to-target: regret at most this many points of the final metric; 0 = the optimum.
TARGETS: Mapping[str, float] = {"regret ≤ 1": 1.0, "regret ≤ 0.1": 0.1, "optimum": 0.0}
CONFIDENCE = 0.95
N_RESAMPLES = 9999


def at_budget(trajectories: pd.DataFrame, budget: int) -> pd.DataFrame:
    """The state of every run after `budget` queries (the last row of shorter runs): one row per run."""
    upto = trajectories[trajectories["step"] <= budget]
    last = upto.sort_values("step").groupby("run_id", sort=False).tail(1)
    out = last.assign(budget=budget)
    return out.sort_values([*GROUP, "repeat"]).reset_index(drop=True)


def common_budgets(trajectories: pd.DataFrame, timed: Collection[str] = ()) -> dict[str, int]:
    """Per benchmark, the largest budget every run on it reached (benchmarks may have different budgets).

    On `timed` benchmarks (runs with a budget in simulated seconds) runs stop after different numbers of
    queries; there it is the most any run made, so each run is taken at the end of its time budget.
    """
    longest = trajectories.groupby(["benchmark", "run_id"])["step"].max()
    return {
        name: int(steps.max() if name in timed else steps.min()) for name, steps in longest.groupby(level="benchmark")
    }


def budget_levels(budget: int, fractions: Sequence[float] = BUDGET_FRACTIONS) -> list[int]:
    return sorted({max(1, round(budget * f)) for f in fractions})


def at_budgets(trajectories: pd.DataFrame, budgets: Mapping[str, Sequence[int]]) -> pd.DataFrame:
    """at_budget for each benchmark at each of its budgets, stacked; column `budget` tells them apart."""
    parts = [
        at_budget(trajectories[trajectories["benchmark"] == name], b)
        for name, levels in budgets.items()
        for b in levels
    ]
    return pd.concat(parts, ignore_index=True).sort_values([*GROUP, "budget", "repeat"]).reset_index(drop=True)


def summary(finals: pd.DataFrame, column: str = "incumbent_final") -> pd.DataFrame:
    """n, mean, std, median and IQR of `column` per benchmark, oracle and method."""
    grouped = finals.groupby(GROUP)[column]
    table = grouped.agg(n="count", mean="mean", std="std", median="median")
    table["q25"] = grouped.quantile(0.25)
    table["q75"] = grouped.quantile(0.75)
    table["iqr"] = table["q75"] - table["q25"]
    return table.reset_index()


def curves(trajectories: pd.DataFrame, column: str = "regret") -> pd.DataFrame:
    """Median and quartiles of `column` over runs at every step, per benchmark and method."""
    grouped = trajectories.groupby([*GROUP, "step"])[column]
    table = pd.DataFrame(
        {
            "median": grouped.median(),
            "q25": grouped.quantile(0.25),
            "q75": grouped.quantile(0.75),
            "n": grouped.count(),
        }
    )
    return table.reset_index()


def mean_std(values: pd.Series) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values.iloc[0]:.2f}"


def bootstrap_ci(values: Sequence[float], seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """BCa bootstrap interval of the mean from a generator seeded with `seed`: same data, same interval."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return (np.nan, np.nan)
    if np.ptp(x) == 0:  # every seed agrees: the interval is the point (scipy would warn and return NaN)
        return (float(x[0]), float(x[0]))
    ci = _bootstrap(x, seed, confidence, "BCa")
    if not np.all(np.isfinite(ci)):  # BCa fails on heavily tied samples; the percentile interval does not
        ci = _bootstrap(x, seed, confidence, "percentile")
    return (float(ci[0]), float(ci[1]))


def _bootstrap(x: np.ndarray, seed: int, confidence: float, method: str) -> tuple[float, float]:
    result = st.bootstrap(
        (x,),
        np.mean,
        confidence_level=confidence,
        n_resamples=N_RESAMPLES,
        method=method,
        rng=np.random.default_rng(seed),
    )
    return (result.confidence_interval.low, result.confidence_interval.high)


def _describe(values: pd.Series, prefix: str, seed: int) -> dict[str, float]:
    x = values.to_numpy(dtype=float)
    if np.isnan(x).all():
        return {
            f"{prefix}_{k}": np.nan
            for k in ("mean", "std", "median", "q25", "q75", "iqr", "ci_low", "ci_high", "min", "max")
        }
    low, high = bootstrap_ci(x, seed)
    q25, median, q75 = np.nanquantile(x, [0.25, 0.5, 0.75])
    return {
        f"{prefix}_mean": np.nanmean(x),
        f"{prefix}_std": np.nanstd(x, ddof=1) if len(x) > 1 else np.nan,
        f"{prefix}_median": median,
        f"{prefix}_q25": q25,
        f"{prefix}_q75": q75,
        f"{prefix}_iqr": q75 - q25,
        f"{prefix}_ci_low": low,
        f"{prefix}_ci_high": high,
        f"{prefix}_min": np.nanmin(x),
        f"{prefix}_max": np.nanmax(x),
    }


def reproducibility(finals: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per benchmark, oracle, method and budget: the distribution over seeds of what the search found.

    final_* and regret_*: mean, std, median, quartiles, IQR, bootstrap CI of the mean, min, max;
    top_pct_median: median rank percentile of the incumbent in the space (0 = the best cell);
    p_optimum / p_top: share of seeds that found the optimum / a top-0.1% cell;
    distinct_incumbents: how many different cells the seeds ended with (1 = every seed found the same cell).
    """
    rows = []
    for (benchmark, oracle, method, budget), group in finals.groupby([*GROUP, "budget"]):
        regret, top = group["regret"], group["incumbent_top_fraction"]
        rows.append(
            {
                "benchmark": benchmark,
                "oracle": oracle,
                "method": method,
                "budget": budget,
                "n": len(group),
                **_describe(group["incumbent_final"], "final", seed),
                **_describe(regret, "regret", seed),
                "top_pct_median": 100 * top.median() if top.notna().any() else np.nan,
                "p_optimum": (regret <= SUCCESS_TOL).mean() if regret.notna().all() else np.nan,
                "p_top": (top < TOP_FRACTION).mean() if top.notna().all() else np.nan,
                "distinct_incumbents": group["incumbent_key"].nunique(),
            }
        )
    return pd.DataFrame(rows)


def queries_to_target(trajectories: pd.DataFrame, target: float, budgets: Mapping[str, int]) -> pd.DataFrame:
    """Per run: `hit`, the first query after which regret stays <= target up to the budget (NaN if the
    incumbent at the budget misses it), and `evaluations`, the queries the run spent: `hit` if it
    succeeded, else all it made within the budget.

    Monotone on purpose: an incumbent's final metric can get worse when a better-looking (by validation)
    cell replaces it, so a run that touched the target and left it is not a success.
    """
    rows = []
    for run_id, run in trajectories.groupby("run_id", sort=True):
        budget = budgets[run["benchmark"].iloc[0]]
        run = run[run["step"] <= budget].sort_values("step")
        met = (run["regret"] <= target + SUCCESS_TOL).to_numpy()
        steps = run["step"].to_numpy()
        if len(met) and met[-1]:
            missed = np.flatnonzero(~met)
            hit = float(steps[missed[-1] + 1] if len(missed) else steps[0])
        else:
            hit = np.nan
        first = run.iloc[0]
        rows.append(
            {
                "run_id": run_id,
                **{c: first[c] for c in GROUP},
                "repeat": first["repeat"],
                "budget": budget,
                "target": target,
                "hit": hit,
                "evaluations": hit if not np.isnan(hit) else float(steps.max()),
            }
        )
    return pd.DataFrame(rows)


def clopper_pearson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a success rate, from scipy's binomial test."""
    if n == 0:
        return (np.nan, np.nan)
    ci = st.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="exact")
    return (float(ci.low), float(ci.high))


def expected_running_time(hits: Sequence[float], evaluations: Sequence[float]) -> float:
    """COCO's aRT: all queries spent by all runs (unsuccessful runs count their whole budget) per success."""
    successes = int(np.sum(~np.isnan(np.asarray(hits, dtype=float))))
    return float(np.sum(evaluations)) / successes if successes else np.inf


def target_table(
    trajectories: pd.DataFrame, budgets: Mapping[str, int], targets: Mapping[str, float] = TARGETS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Queries to each target per benchmark and method: (summary table, per-run table for the ECDF).

    Benchmarks without a known optimum or a reference fixed before the search (regret NaN) are left out.
    """
    known = trajectories.groupby("benchmark")["regret"].transform(lambda r: r.notna().all())
    trajectories = trajectories[known]
    if trajectories.empty:
        return pd.DataFrame(), pd.DataFrame()
    per_run = pd.concat(
        [queries_to_target(trajectories, value, budgets).assign(target_name=name) for name, value in targets.items()],
        ignore_index=True,
    )
    rows = []
    for (benchmark, oracle, method, name), group in per_run.groupby([*GROUP, "target_name"], sort=False):
        hits = group["hit"]
        low, high = clopper_pearson(int(hits.notna().sum()), len(group))
        rows.append(
            {
                "benchmark": benchmark,
                "oracle": oracle,
                "method": method,
                "target": name,
                "budget": group["budget"].iloc[0],
                "n": len(group),
                "successes": int(hits.notna().sum()),
                "success_rate": hits.notna().mean(),
                "success_ci_low": low,
                "success_ci_high": high,
                "median_queries": hits.median(),
                "q25_queries": hits.quantile(0.25),
                "q75_queries": hits.quantile(0.75),
                "aRT": expected_running_time(hits, group["evaluations"]),
            }
        )
    table = pd.DataFrame(rows).sort_values([*GROUP, "target"], key=_target_order(targets)).reset_index(drop=True)
    return table, per_run


def _target_order(targets: Mapping[str, float]):
    order = {name: i for i, name in enumerate(targets)}
    return lambda col: col.map(order) if col.name == "target" else col


def ecdf(hits: pd.Series, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Share of all runs (failures too, so the curve ends at the success rate) at target by each query."""
    steps = np.arange(1, budget + 1)
    reached = np.sort(hits.dropna().to_numpy())
    return steps, np.searchsorted(reached, steps, side="right") / len(hits)


def has_cost(trajectories: pd.DataFrame) -> dict[str, bool]:
    """Per benchmark: did its queries report simulated training seconds?"""
    return {name: bool((group["cost"] > 0).any()) for name, group in trajectories.groupby("benchmark")}


def time_curves(trajectories: pd.DataFrame, column: str = "regret", points: int = 200) -> pd.DataFrame:
    """Median and quartiles of `column` against simulated seconds, per benchmark and method.

    The time grid runs from when every run of the benchmark has an incumbent to when the first run stops,
    so each point summarises all runs (no survivorship), log-spaced because search costs span decades.
    """
    tables = []
    for benchmark, bench_runs in trajectories.groupby("benchmark"):
        by_run = {run_id: run.sort_values("step") for run_id, run in bench_runs.groupby("run_id")}
        start = max(run["cum_cost"].iloc[0] for run in by_run.values())
        stop = min(run["cum_cost"].iloc[-1] for run in by_run.values())
        if not 0 < start < stop:
            continue
        grid = np.geomspace(start, stop, points)
        values = {}
        for run_id, run in by_run.items():
            index = np.searchsorted(run["cum_cost"].to_numpy(), grid, side="right") - 1
            values[run_id] = run[column].to_numpy()[index]
        for (oracle, method), runs in bench_runs.groupby(["oracle", "method"]):
            matrix = np.array([values[r] for r in runs["run_id"].unique()])
            q25, median, q75 = np.quantile(matrix, [0.25, 0.5, 0.75], axis=0)
            tables.append(
                pd.DataFrame(
                    {
                        "benchmark": benchmark,
                        "oracle": oracle,
                        "method": method,
                        "seconds": grid,
                        "median": median,
                        "q25": q25,
                        "q75": q75,
                        "n": len(matrix),
                    }
                )
            )
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def diagnostics(runs: pd.DataFrame, metas: dict[str, dict]) -> pd.DataFrame:
    """Per benchmark and method: mean and max over seeds of each number a method recorded about its runs."""
    rows = [
        {"benchmark": r.benchmark, "method": r.method, "name": name, "value": value}
        for r in runs.itertuples()
        for name, value in metas[r.run_id].get("diagnostics", {}).items()
    ]
    if not rows:
        return pd.DataFrame()
    long = pd.DataFrame(rows)
    grouped = long.groupby(["benchmark", "method", "name"], sort=True)["value"]
    table = grouped.agg(n="count", mean="mean", max="max").reset_index()
    return table.rename(columns={"name": "diagnostic"})
