"""The leaderboard: methods ranked over the benchmarks of one or more results stores, with uncertainty.

The ranking uses one budget per benchmark, the primary endpoint (by default the largest budget every run on
it reached; with --budgets, the largest of those it reached), so each benchmark counts once: a method's
score on a benchmark is its mean final metric over seeds, methods are ranked per benchmark (1 = best, ties
share the average rank) and the ranks are averaged over benchmarks. The 95% interval of each average rank
is a bootstrap that resamples the seeds within each benchmark (paired: one draw of seeds for all methods)
from a generator seeded with BOOT_SEED. Friedman's test and Nemenyi's post-hoc test over the benchmarks
(scikit-posthocs) with the critical-difference diagram. Other requested budgets are shown as exploratory
score tables only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from suite.analysis import significance, stats
from suite.analysis.collect import Results
from suite.errors import NasreproError
from suite.reporting import document as doc
from suite.reporting import figures

BOOT_SEED = 20060101
N_BOOT = 2_000


@dataclass(frozen=True)
class Leaderboard:
    overall: pd.DataFrame  # method, avg_rank, rank_ci_low, rank_ci_high, wins, benchmarks
    scores: pd.DataFrame  # benchmark, oracle, budget, endpoint, method, n, mean, std, rank
    budgets: dict[str, list[int]]
    primary: dict[str, int]
    omnibus: significance.Omnibus | None


def build(results: Results, budgets: Sequence[int] | None = None) -> Leaderboard:
    trajectories = results.trajectories
    common = stats.common_budgets(trajectories, results.timed)
    if budgets:
        levels = {name: sorted({b for b in budgets if b <= top}) for name, top in common.items()}
        levels = {name: chosen for name, chosen in levels.items() if chosen}
        if not levels:
            raise NasreproError(f"no benchmark reached any of the budgets {list(budgets)}; reached: {common}")
    else:
        levels = {name: [top] for name, top in common.items()}
    primary = {name: max(chosen) for name, chosen in levels.items()}
    finals = stats.at_budgets(trajectories, levels)
    scores = (
        finals.groupby(["benchmark", "oracle", "budget", "method"])["incumbent_final"]
        .agg(n="count", mean="mean", std="std")
        .reset_index()
    )
    scores["endpoint"] = np.where(scores["budget"] == scores["benchmark"].map(primary), "primary", "exploratory")
    scores["rank"] = scores.groupby(["benchmark", "oracle", "budget"])["mean"].rank(ascending=False)
    at_primary = finals[finals["budget"] == finals["benchmark"].map(primary)]
    table = significance.benchmark_scores(at_primary)
    overall = _overall(table, at_primary)
    result = significance.omnibus(table, "benchmarks") if len(table) >= 2 else None
    return Leaderboard(overall, scores, levels, primary, result)


def _overall(table: pd.DataFrame, finals: pd.DataFrame) -> pd.DataFrame:
    """Average rank over benchmarks (NaN scores, e.g. a method missing on a benchmark, rank last there)."""
    ranks = table.rank(axis=1, ascending=False, na_option="bottom")
    low, high = _bootstrap_ranks(finals, list(table.columns))
    overall = pd.DataFrame(
        {
            "method": table.columns,
            "avg_rank": ranks.mean().to_numpy(),
            "rank_ci_low": low,
            "rank_ci_high": high,
            "wins": (table.rank(axis=1, ascending=False, method="min") == 1).sum().to_numpy(),
            "benchmarks": table.notna().sum().to_numpy(),
        }
    )
    return overall.sort_values(["avg_rank", "wins"], ascending=[True, False]).reset_index(drop=True)


def _bootstrap_ranks(finals: pd.DataFrame, methods: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Percentile 95% interval of each method's average rank, resampling seeds within each benchmark."""
    rng = np.random.default_rng(BOOT_SEED)
    total = np.zeros((N_BOOT, len(methods)))
    benchmarks = 0
    for _, bench in finals.groupby("benchmark"):
        seeds = bench.pivot_table(
            index=significance.PAIR_KEY, columns="method", values="incumbent_final", aggfunc="first"
        ).reindex(columns=methods)
        values = seeds.to_numpy(dtype=float)  # seeds x methods; NaN where a method lacks the seed
        draws = rng.integers(0, len(values), size=(N_BOOT, len(values)))
        with warnings.catch_warnings():  # a method without any seed here: mean of nothing, ranked last
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(values[draws], axis=1)  # N_BOOT x methods
        means = np.where(np.isnan(means), -np.inf, means)  # missing ranks last, as in the point estimate
        total += pd.DataFrame(means).rank(axis=1, ascending=False).to_numpy()
        benchmarks += 1
    average = total / max(benchmarks, 1)
    return np.percentile(average, 2.5, axis=0), np.percentile(average, 97.5, axis=0)


def _overall_table(board: Leaderboard) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "place": range(1, len(board.overall) + 1),
            "method": board.overall["method"],
            "average rank": board.overall["avg_rank"].map("{:.2f}".format),
            "95% CI (bootstrap)": [
                f"{low:.2f}–{high:.2f}"
                for low, high in zip(board.overall["rank_ci_low"], board.overall["rank_ci_high"], strict=True)
            ],
            "wins": board.overall["wins"],
            "benchmarks": board.overall["benchmarks"],
        }
    )


def _score_tables(board: Leaderboard) -> list[doc.Block]:
    """Per benchmark, budgets x methods: mean ± std of the final metric, with the rank."""
    blocks: list[doc.Block] = []
    methods = list(board.overall["method"])
    for (benchmark, oracle), cells in board.scores.groupby(["benchmark", "oracle"]):
        table = cells.assign(
            text=[
                f"{r.mean:.2f} ± {r.std:.2f} ({r.rank:g})" if r.n > 1 else f"{r.mean:.2f} ({r.rank:g})"
                for r in cells.itertuples()
            ]
        ).pivot(index=["budget", "endpoint"], columns="method", values="text")
        table = table.reindex(columns=[m for m in methods if m in table.columns]).fillna("–").reset_index()
        blocks.append(
            doc.Table(
                table, f"{benchmark} ({oracle}): mean ± std of the final metric over seeds (rank on the benchmark)"
            )
        )
    return blocks


def ranking_sentence(board: Leaderboard) -> str:
    parts = [
        f"{r.method} {r.avg_rank:.2f} [{r.rank_ci_low:.2f}–{r.rank_ci_high:.2f}]" for r in board.overall.itertuples()
    ]
    return (
        f"Average rank over {len(board.primary)} benchmark(s) at the primary budget (1 = best, bootstrap 95% "
        "interval): " + ", ".join(parts) + "."
    )


def blocks(board: Leaderboard, out: Path | None = None) -> list[doc.Block]:
    primary = "; ".join(f"{name}: {budget}" for name, budget in board.primary.items())
    content: list[doc.Block] = [
        doc.Paragraph(ranking_sentence(board)),
        doc.Paragraph(
            "Each benchmark counts once, at its primary budget (unique queries: "
            f"{primary}). A method's score on a benchmark is its mean final metric over seeds; 1 = best, ties "
            "share the average rank. The interval resamples the seeds within each benchmark "
            f"({N_BOOT} bootstrap draws, seed {BOOT_SEED}); with few benchmarks it mostly shows how stable "
            "each benchmark's order is, not how the order would change on other benchmarks. A win is a "
            "benchmark where the method ranks first."
        ),
        doc.Table(_overall_table(board), "Overall, primary budget"),
    ]
    if board.omnibus is not None:
        content.append(doc.Bullets((board.omnibus.sentence(),)))
        if out is not None and board.omnibus.scores.shape[1] >= 3:
            content.append(
                doc.Figure(
                    figures.cd_diagram(board.omnibus, out / "cd_diagram.png"),
                    "Critical-difference diagram over benchmarks: methods joined by a bar are not "
                    "significantly different (Nemenyi)",
                )
            )
    else:
        content.append(doc.Paragraph("One benchmark only: no test across benchmarks."))
    content += [
        doc.Heading("Per-benchmark scores (budgets other than the primary one are exploratory)"),
        *_score_tables(board),
    ]
    return content


def write(board: Leaderboard, out: Path, sources: Sequence[Path]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    board.overall.to_csv(out / "leaderboard.csv", index=False)
    board.scores.to_csv(out / "scores.csv", index=False)
    title = "nasrepro leaderboard"
    content = [doc.Paragraph("Stores: " + ", ".join(f"`{s}`" for s in sources) + "."), *blocks(board, out)]
    (out / "leaderboard.md").write_text(doc.to_markdown(content, title))
    (out / "leaderboard.html").write_text(doc.to_html(content, title))
    return out / "leaderboard.md"
