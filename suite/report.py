"""Reports from the store: tables and figures under an output directory. Never touches a benchmark."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are files, never windows
import matplotlib.pyplot as plt
import pandas as pd

from suite import stats
from suite.store import Store


def write_report(store_dirs: list[Path], out: Path, budget: int | None = None, title: str | None = None) -> Path:
    trajectories = pd.concat([Store(d).trajectories() for d in store_dirs], ignore_index=True)
    trajectories = trajectories.drop_duplicates(["run_id", "step"])
    budget = budget or stats.common_budget(trajectories)
    finals = stats.at_budget(trajectories, budget)
    table = stats.summary(finals)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "summary.csv", index=False)
    finals.to_csv(out / "finals.csv", index=False)
    figure = _plot_regret(trajectories[trajectories["step"] <= budget], out / "regret.png")
    metas = {m["spec"]["run_id"]: m for d in store_dirs for m in Store(d).metas()}
    lines = [f"# {title or 'nasrepro report'}", "", _provenance(metas, store_dirs, budget), ""]
    lines += ["## Final test metric of the incumbent", "", _markdown_summary(table, metas), ""]
    lines += [f"## Regret against queries\n\n![regret]({figure.name})\n"]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _provenance(metas: dict, store_dirs: list[Path], budget: int) -> str:
    oracles = sorted({m["benchmark"]["oracle"] for m in metas.values()})
    seeds = sorted({m["spec"]["repeat"] for m in metas.values()})
    stores = ", ".join(f"`{d}`" for d in store_dirs)
    return (
        f"Runs: {len(metas)} from {stores}; oracle(s): {', '.join(oracles)}; seeds {seeds[0]}-{seeds[-1]} "
        f"({len(seeds)}); budget: {budget} unique queries. The incumbent is the best cell by the search "
        "metric (validation accuracy); the table reports its final metric (test accuracy where the benchmark "
        "has one). Regret = optimum of the space minus that final metric."
    )


def _markdown_summary(table: pd.DataFrame, metas: dict) -> str:
    final_metric = {m["benchmark"]["name"]: m["benchmark"]["final_metric"] for m in metas.values()}
    rows = ["| benchmark | oracle | final metric | method | n | mean ± std | median | IQR |", "|---" * 8 + "|"]
    for r in table.itertuples():
        rows.append(
            f"| {r.benchmark} | {r.oracle} | {final_metric[r.benchmark]} | {r.method} | {r.n} | "
            f"{r.mean:.2f} ± {r.std:.2f} | {r.median:.2f} | {r.q25:.2f}–{r.q75:.2f} |"
        )
    return "\n".join(rows)


def _plot_regret(trajectories: pd.DataFrame, path: Path) -> Path:
    curves = stats.curves(trajectories)
    names = sorted(curves["benchmark"].unique())
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for method, curve in curves[curves["benchmark"] == name].groupby("method"):
            line = ax.plot(curve["step"], curve["median"], label=method)[0]
            ax.fill_between(curve["step"], curve["q25"], curve["q75"], color=line.get_color(), alpha=0.2)
        oracle = curves.loc[curves["benchmark"] == name, "oracle"].iloc[0]
        ax.set(title=f"{name} ({oracle})", xlabel="queries", ylabel="regret (median, IQR)", yscale="symlog")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
