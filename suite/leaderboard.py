"""The leaderboard: methods ranked on every (benchmark, budget) cell of one or more results stores.

A cell's score for a method is its mean final metric over seeds at that budget; within a cell methods
are ranked 1 = best, ties sharing the average rank. Budgets: each benchmark at the given budgets (those
beyond what every run on it reached are skipped), or by default at 1/3, 2/3 and all of its common budget
(150 queries -> 50, 100, 150), so early and late performance both count. A method's average rank is over
the cells it appears in; a win is a cell where it ranks first, ties included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from suite import document as doc
from suite import stats
from suite.collect import Results
from suite.errors import NasreproError


@dataclass(frozen=True)
class Leaderboard:
    overall: pd.DataFrame  # method, avg_rank, wins, cells, benchmarks
    scores: pd.DataFrame  # benchmark, oracle, budget, method, n, mean, std, rank
    budgets: dict[str, list[int]]


def build(results: Results, budgets: Sequence[int] | None = None) -> Leaderboard:
    trajectories = results.trajectories
    common = stats.common_budgets(trajectories, results.timed)
    if budgets:
        levels = {name: sorted({b for b in budgets if b <= top}) for name, top in common.items()}
        levels = {name: chosen for name, chosen in levels.items() if chosen}
        if not levels:
            raise NasreproError(f"no benchmark reached any of the budgets {list(budgets)}; reached: {common}")
    else:
        levels = {name: stats.budget_levels(top) for name, top in common.items()}
    finals = stats.at_budgets(trajectories, levels)
    scores = (
        finals.groupby(["benchmark", "oracle", "budget", "method"])["incumbent_final"]
        .agg(n="count", mean="mean", std="std")
        .reset_index()
    )
    cell = scores.groupby(["benchmark", "oracle", "budget"])["mean"]
    scores["rank"] = cell.rank(ascending=False, method="average")
    best = cell.rank(ascending=False, method="min") == 1
    overall = (
        scores.assign(win=best)
        .groupby("method")
        .agg(
            avg_rank=("rank", "mean"),
            wins=("win", "sum"),
            cells=("rank", "count"),
            benchmarks=("benchmark", "nunique"),
        )
    )
    overall = overall.sort_values(["avg_rank", "wins"], ascending=[True, False]).reset_index()
    return Leaderboard(overall, scores, levels)


def _overall_table(board: Leaderboard) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "place": range(1, len(board.overall) + 1),
            "method": board.overall["method"],
            "average rank": board.overall["avg_rank"].map("{:.2f}".format),
            "wins": board.overall["wins"],
            "cells": board.overall["cells"],
            "benchmarks": board.overall["benchmarks"],
        }
    )


def _score_tables(board: Leaderboard) -> list[doc.Block]:
    """Per budget fraction, benchmarks x methods: mean ± std of the final metric, with the rank."""
    blocks: list[doc.Block] = []
    methods = list(board.overall["method"])
    for (benchmark, oracle), cells in board.scores.groupby(["benchmark", "oracle"]):
        table = cells.assign(
            text=[
                f"{r.mean:.2f} ± {r.std:.2f} ({r.rank:g})" if r.n > 1 else f"{r.mean:.2f} ({r.rank:g})"
                for r in cells.itertuples()
            ]
        ).pivot(index="budget", columns="method", values="text")
        table = table.reindex(columns=[m for m in methods if m in table.columns]).fillna("–").reset_index()
        blocks.append(
            doc.Table(
                table, f"{benchmark} ({oracle}): mean ± std of the final metric over seeds (rank in the cell)"
            )
        )
    return blocks


def blocks(board: Leaderboard) -> list[doc.Block]:
    budgets = "; ".join(f"{name}: {', '.join(map(str, levels))}" for name, levels in board.budgets.items())
    return [
        doc.Paragraph(
            "Methods ranked on every benchmark and budget (cell) by their mean final metric over seeds; "
            "1 = best, ties share the average rank. A win is a cell where the method ranks first (ties "
            f"count for each). Budgets in unique queries: {budgets}."
        ),
        doc.Table(_overall_table(board), "Overall"),
        doc.Heading("Per-benchmark scores"),
        *_score_tables(board),
    ]


def write(board: Leaderboard, out: Path, sources: Sequence[Path]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    board.overall.to_csv(out / "leaderboard.csv", index=False)
    board.scores.to_csv(out / "scores.csv", index=False)
    title = "nasrepro leaderboard"
    content = [doc.Paragraph("Stores: " + ", ".join(f"`{s}`" for s in sources) + "."), *blocks(board)]
    (out / "leaderboard.md").write_text(doc.to_markdown(content, title))
    (out / "leaderboard.html").write_text(doc.to_html(content, title))
    return out / "leaderboard.md"
