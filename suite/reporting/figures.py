"""The report's figures, each a PNG file. Inputs are the tidy tables of suite.analysis.stats; nothing here computes
a statistic that is not drawn."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are files, never windows
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scikit_posthocs as sp
import seaborn as sns

from suite.analysis import stats
from suite.analysis.significance import Omnibus

DPI = 110
MAX_COLUMNS = 3


def palette(methods: list[str]) -> dict[str, tuple]:
    """One colour per method, the same in every figure."""
    return dict(zip(sorted(methods), sns.color_palette("tab10", len(methods)), strict=True))


def _grid(n: int, width: float = 5.0, height: float = 3.8, rows_per: int = 1):
    cols = min(n, MAX_COLUMNS)
    rows = math.ceil(n / cols) * rows_per
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    return fig, axes


def _legend_below(fig, axes) -> None:
    """One legend for the figure, below the panels: a legend inside an axes hides curves that overlap."""
    entries: dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if entries:
        fig.tight_layout()
        fig.legend(
            list(entries.values()),
            list(entries),
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=min(len(entries), 6),
            frameon=False,
        )


def _save(fig, path: Path) -> Path:
    if not fig.legends:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _hide_unused(axes, used: int) -> None:
    for ax in axes.flat[used:]:
        ax.set_visible(False)


def curve_column(trajectories: pd.DataFrame) -> str:
    """Regret where the benchmark's optimum is known, else the incumbent's final metric itself."""
    return "regret" if trajectories["regret"].notna().all() else "incumbent_final"


def regret_vs_queries(trajectories: pd.DataFrame, colors: dict, path: Path) -> Path:
    names = sorted(trajectories["benchmark"].unique())
    fig, axes = _grid(len(names))
    for ax, name in zip(axes.flat, names, strict=False):
        bench = trajectories[trajectories["benchmark"] == name]
        column = curve_column(bench)
        for (method,), curve in stats.curves(bench, column).groupby(["method"]):
            ax.plot(curve["step"], curve["median"], label=method, color=colors[method])
            ax.fill_between(curve["step"], curve["q25"], curve["q75"], color=colors[method], alpha=0.2)
        ax.set(
            title=f"{name} ({bench['oracle'].iloc[0]})", xlabel="queries", ylabel=f"{column} (median, IQR)"
        )
        if column == "regret":
            ax.set_yscale("symlog", linthresh=0.1)
            ax.set_ylim(bottom=0)
    _hide_unused(axes, len(names))
    _legend_below(fig, axes)
    return _save(fig, path)


def regret_vs_seconds(curves: pd.DataFrame, columns: dict[str, str], colors: dict, path: Path) -> Path:
    names = sorted(curves["benchmark"].unique())
    fig, axes = _grid(len(names))
    for ax, name in zip(axes.flat, names, strict=False):
        for method, curve in curves[curves["benchmark"] == name].groupby("method"):
            ax.plot(curve["seconds"], curve["median"], label=method, color=colors[method])
            ax.fill_between(curve["seconds"], curve["q25"], curve["q75"], color=colors[method], alpha=0.2)
        ax.set(
            title=name,
            xlabel="simulated training seconds",
            ylabel=f"{columns[name]} (median, IQR)",
            xscale="log",
        )
        if columns[name] == "regret":
            ax.set_yscale("symlog", linthresh=0.1)
            ax.set_ylim(bottom=0)
    _hide_unused(axes, len(names))
    _legend_below(fig, axes)
    return _save(fig, path)


def final_distribution(finals: pd.DataFrame, colors: dict, metric: dict[str, str], path: Path) -> Path:
    names = sorted(finals["benchmark"].unique())
    fig, axes = _grid(len(names), width=4.2)
    for ax, name in zip(axes.flat, names, strict=False):
        bench = finals[(finals["benchmark"] == name) & finals["incumbent_final"].notna()]  # NaN: nothing to draw
        order = sorted(bench["method"].unique())
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated argument
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(
                data=bench,
                x="method",
                y="incumbent_final",
                hue="method",
                order=order,
                palette=colors,
                ax=ax,
                showfliers=False,
                boxprops={"alpha": 0.35},
                legend=False,
            )
        # Our own jitter: seaborn's stripplot draws it from numpy's global generator.
        rng = np.random.default_rng(0)
        for i, method in enumerate(order):
            values = bench.loc[bench["method"] == method, "incumbent_final"]
            ax.scatter(
                i + rng.uniform(-0.15, 0.15, len(values)),
                values,
                s=25,
                color=colors[method],
                edgecolors="black",
                linewidths=0.5,
                zorder=3,
            )
        ax.set(title=f"{name} at {bench['budget'].iloc[0]} queries", xlabel="", ylabel=metric[name])
    _hide_unused(axes, len(names))
    return _save(fig, path)


def target_ecdf(per_run: pd.DataFrame, targets: list[str], colors: dict, path: Path) -> Path:
    names = sorted(per_run["benchmark"].unique())
    fig, axes = plt.subplots(
        len(targets), len(names), figsize=(4.5 * len(names), 3.2 * len(targets)), squeeze=False
    )
    for col, name in enumerate(names):
        for row, target in enumerate(targets):
            ax = axes[row, col]
            cell = per_run[(per_run["benchmark"] == name) & (per_run["target_name"] == target)]
            for method, runs in cell.groupby("method"):
                steps, share = stats.ecdf(runs["hit"], int(runs["budget"].iloc[0]))
                ax.step(
                    np.concatenate([[0], steps]),
                    np.concatenate([[0], share]),
                    where="post",
                    label=method,
                    color=colors[method],
                )
            ax.set(
                title=f"{name}: {target}",
                xlabel="queries",
                ylabel="share of runs at target",
                ylim=(-0.02, 1.02),
            )
    _legend_below(fig, axes)
    return _save(fig, path)


def cd_diagram(result: Omnibus, path: Path) -> Path:
    k = len(result.avg_ranks)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * k))
    drawn = sp.critical_difference_diagram(result.avg_ranks, result.posthoc, ax=ax)
    # scikit-posthocs draws each crossbar through its members in the order of a Python set, which changes
    # with the process's string hashing: sorted, two reports of one store are the same bytes.
    for bar in drawn["crossbars"]:
        for line in bar:
            line.set_xdata(sorted(line.get_xdata()))
    cd = f", Nemenyi CD = {result.cd:.2f}" if result.cd is not None else ""
    ax.set_title(
        f"average rank over {len(result.ranks)} {result.blocks} ({result.test} p = {result.p:.2g}{cd})",
        fontsize=9,
    )
    return _save(fig, path)
