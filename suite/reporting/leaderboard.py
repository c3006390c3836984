"""The leaderboard: methods ranked over the search spaces of one or more results stores, with uncertainty.

The ranking uses one budget per benchmark, the primary endpoint (by default the largest budget every run on
it reached; with --budgets, the largest of those it reached). A method's score on a benchmark is its mean
final metric over seeds; methods are ranked per benchmark (1 = best, ties share the average rank); each
search space counts once: the ranks on its datasets (NB201's CIFAR-10, CIFAR-100, ImageNet16-120: one
space, the same seeds) are averaged into one block, and the blocks are averaged. The 95% interval of each
average rank is a bootstrap that resamples the spaces (blocks) and, within each benchmark, the seeds
(paired: one draw of seeds for all methods), from a generator seeded with BOOT_SEED. Friedman's statistic
over the spaces with its exact permutation p and Nemenyi's post-hoc test (suite.significance), with the
critical-difference diagram. A win is a benchmark where the method ranks first and the pairwise verdict
(the leaderboard's one Holm family: every pair of every benchmark) separates it from the second place.
Other requested budgets are shown as exploratory score tables only.
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
    pairs: pd.DataFrame  # the pairwise verdicts at the primary budget, one Holm family


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
    spaces = {name: significance.space_of(name) for name in table.index}
    pairs = significance.pairwise(at_primary, primary=primary)
    overall = _overall(table, at_primary, spaces, pairs)
    blocks = len(set(spaces.values()))
    result = significance.omnibus(table, "search spaces (a space's datasets averaged)", spaces) if blocks >= 2 else None
    return Leaderboard(overall, scores, levels, primary, result, pairs)


def _space_average(ranks: pd.DataFrame, spaces: dict[str, str]) -> pd.Series:
    """Each space counts once: the mean over spaces of the mean rank over the space's benchmarks."""
    return ranks.groupby(ranks.index.map(spaces)).mean().mean()


def _wins(table: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """Per method: benchmarks where it ranks first and the pairwise verdict says it beats the second place
    (every method tied for second, if several)."""
    wins = pd.Series(0, index=table.columns)
    verdicts = pairs.set_index(["benchmark", "method_a", "method_b"])["better"] if not pairs.empty else None
    for benchmark, row in table.iterrows():
        ordered = row.dropna().sort_values(ascending=False)
        if len(ordered) < 2 or ordered.iloc[0] == ordered.iloc[1] or verdicts is None:
            continue
        first, runners = ordered.index[0], ordered.index[ordered == ordered.iloc[1]]
        beaten = [verdicts.get((benchmark, *sorted((first, r))), "") == first for r in runners]
        wins[first] += all(beaten)
    return wins


def _overall(table: pd.DataFrame, finals: pd.DataFrame, spaces: dict[str, str], pairs: pd.DataFrame) -> pd.DataFrame:
    """Average rank over spaces (NaN scores, e.g. a method missing on a benchmark, rank last there)."""
    ranks = table.rank(axis=1, ascending=False, na_option="bottom")
    low, high = _bootstrap_ranks(finals, list(table.columns), spaces)
    overall = pd.DataFrame(
        {
            "method": table.columns,
            "avg_rank": _space_average(ranks, spaces).reindex(table.columns).to_numpy(),
            "rank_ci_low": low,
            "rank_ci_high": high,
            "wins": _wins(table, pairs).reindex(table.columns).to_numpy(),
            "benchmarks": table.notna().sum().to_numpy(),
        }
    )
    return overall.sort_values(["avg_rank", "wins"], ascending=[True, False]).reset_index(drop=True)


def _bootstrap_ranks(
    finals: pd.DataFrame, methods: list[str], spaces: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile 95% interval of each method's average rank: each draw resamples the spaces with
    replacement and, within each benchmark, the seeds (one draw of seeds for all methods)."""
    rng = np.random.default_rng(BOOT_SEED)
    per_benchmark = {}
    for name, bench in finals.groupby("benchmark"):
        seeds = bench.pivot_table(
            index=significance.PAIR_KEY, columns="method", values="incumbent_final", aggfunc="first"
        ).reindex(columns=methods)
        values = seeds.to_numpy(dtype=float)  # seeds x methods; NaN where a method lacks the seed
        draws = rng.integers(0, len(values), size=(N_BOOT, len(values)))
        with warnings.catch_warnings():  # a method without any seed here: mean of nothing, ranked last
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(values[draws], axis=1)  # N_BOOT x methods
        means = np.where(np.isnan(means), -np.inf, means)  # missing ranks last, as in the point estimate
        per_benchmark[name] = pd.DataFrame(means).rank(axis=1, ascending=False).to_numpy()
    names = sorted(set(spaces.values()))
    # per space: N_BOOT x methods, the mean rank over its benchmarks in each draw
    by_space = np.stack([np.mean([per_benchmark[b] for b in per_benchmark if spaces[b] == s], axis=0) for s in names])
    chosen = rng.integers(0, len(names), size=(N_BOOT, len(names)))  # spaces drawn with replacement
    average = np.take_along_axis(by_space, chosen.T[:, :, None], axis=0).mean(axis=0)
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
    spaces = len({significance.space_of(name) for name in board.primary})
    return (
        f"Average rank over {spaces} search space(s) ({len(board.primary)} benchmark(s)) at the primary budget "
        "(1 = best, bootstrap 95% interval): " + ", ".join(parts) + "."
    )


def blocks(board: Leaderboard, out: Path | None = None) -> list[doc.Block]:
    primary = "; ".join(f"{name}: {budget}" for name, budget in board.primary.items())
    content: list[doc.Block] = [
        doc.Paragraph(ranking_sentence(board)),
        doc.Paragraph(
            "Each benchmark is read at its primary budget (unique queries: "
            f"{primary}). A method's score on a benchmark is its mean final metric over seeds; 1 = best, ties "
            "share the average rank. Each search space counts once: the ranks on a space's datasets (which "
            "share cells and seeds) are averaged, then the spaces are averaged. The interval resamples the "
            f"spaces and, within each benchmark, the seeds ({N_BOOT} bootstrap draws, seed {BOOT_SEED}); with "
            "few spaces it is wide, as it should be. A win is a benchmark where the method ranks first and "
            "the pairwise verdict separates it from the second place: "
            + (board.pairs["family"].iloc[0] if not board.pairs.empty else "no pairs")
            + f", Holm-adjusted. {significance.rule_text(significance.ROPE)}"
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
        content.append(doc.Paragraph("One search space only: no test across spaces."))
    content += [
        doc.Heading("Per-benchmark scores (budgets other than the primary one are exploratory)"),
        *_score_tables(board),
    ]
    return content


def write(board: Leaderboard, out: Path, sources: Sequence[Path]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    board.overall.to_csv(out / "leaderboard.csv", index=False)
    board.scores.to_csv(out / "scores.csv", index=False)
    if not board.pairs.empty:
        board.pairs.to_csv(out / "pairwise.csv", index=False)
    title = "nasrepro leaderboard"
    content = [doc.Paragraph("Stores: " + ", ".join(f"`{s}`" for s in sources) + "."), *blocks(board, out)]
    (out / "leaderboard.md").write_text(doc.to_markdown(content, title))
    (out / "leaderboard.html").write_text(doc.to_html(content, title))
    return out / "leaderboard.md"
