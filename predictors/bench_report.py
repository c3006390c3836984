"""The predictor benchmark's report: tables, figures, default against tuned, and calibration."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are files, never windows
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from predictors import baseline
from predictors.calibration import LEVELS
from predictors.evaluate import METRICS
from suite.atomic import replaced
from suite.errors import NasreproError

CASE = ["benchmark", "train_size", "trial"]
# zero-knowledge baselines are references, not contenders in "which predictor is best"
BASELINES = frozenset(entry.name for entry in (baseline.FLOPS, baseline.PARAMS))


def leaderboard(df: pd.DataFrame) -> pd.DataFrame:
    """Mean rank by Kendall tau within each (benchmark, train size, trial); a NaN tau ranks last."""
    ranks = df.assign(
        rank=df.groupby(CASE)["kendall_tau"].rank(ascending=False, method="average", na_option="bottom")
    )
    board = ranks.groupby("predictor").agg(
        mean_rank=("rank", "mean"), mean_tau=("kendall_tau", "mean"),
        mean_precision_at_20=("precision_at_20", "mean"), mean_fit_seconds=("fit_seconds", "mean"),
        cases=("rank", "size"),
    )
    return board.sort_values("mean_rank").reset_index()


def mean_ci(values: pd.Series | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the t-interval of the mean over independent trials (NaNs dropped); half-width NaN for one value."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def _fmt_ci(values: pd.Series | np.ndarray) -> str:
    mean, low, high = mean_ci(values)
    if np.isnan(mean):
        return "–"
    return f"{mean:.3f}" if np.isnan(low) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _markdown(table: pd.DataFrame, floatfmt: str = ".3f") -> str:
    def cell(v: object) -> str:
        return format(v, floatfmt) if isinstance(v, float | np.floating) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|---" * len(table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _tau_table(df: pd.DataFrame) -> pd.DataFrame:
    text = df.groupby(["predictor", "train_size"])["kendall_tau"].agg(_fmt_ci)
    return text.unstack("train_size").reset_index()


def _paired(df: pd.DataFrame, better: str, worse: str) -> pd.Series:
    """tau(better) - tau(worse) per (benchmark, train size, trial), where both were run."""
    tau = df.pivot_table(index=CASE, columns="predictor", values="kendall_tau", aggfunc="first")
    if better not in tau or worse not in tau:
        return pd.Series(dtype=np.float64)
    return (tau[better] - tau[worse]).dropna()


def claim_table(df: pd.DataFrame) -> pd.DataFrame:
    """NAS-Bench-Suite's finding, "random forest best by default, XGBoost best after tuning", per
    (benchmark, train size): the best learned predictor by default and after tuning (a tuned variant
    replacing its default), by mean tau, with the paired tau differences RF - XGBoost (defaults) and
    XGBoost - RF (tuned) and their 95% t-intervals over trials."""
    rf_vs_xgb = _paired(df, "rf", "xgb")
    tuned_xgb_vs_rf = _paired(df, "xgb-tuned", "rf-tuned")
    rows = []
    for (bench, n), sub in df.groupby(["benchmark", "train_size"]):
        mean_tau = sub[~sub["base_predictor"].isin(BASELINES)].groupby("predictor")["kendall_tau"].mean()
        defaults = mean_tau[~mean_tau.index.str.endswith("-tuned")].dropna()
        if defaults.empty:
            continue
        # after tuning: a tuned variant replaces its default; predictors without one keep their default
        after = pd.Series({
            (f"{b}-tuned" if f"{b}-tuned" in mean_tau.index else b): mean_tau.get(f"{b}-tuned", tau)
            for b, tau in defaults.items()
        }).dropna()
        key = (bench, n)
        rows.append({
            "benchmark": bench, "train_size": n,
            "best_default": f"{defaults.idxmax()} ({defaults.max():.3f})",
            "best_after_tuning": f"{after.idxmax()} ({after.max():.3f})",
            "rf_minus_xgb": _fmt_ci(rf_vs_xgb.xs(key, level=[0, 1])) if key in _pairs(rf_vs_xgb) else "–",
            "xgb_tuned_minus_rf_tuned": (
                _fmt_ci(tuned_xgb_vs_rf.xs(key, level=[0, 1])) if key in _pairs(tuned_xgb_vs_rf) else "–"
            ),
            "_rf_best": defaults.idxmax() == "rf", "_xgb_best": after.idxmax() == "xgb-tuned",
            "_trees_default": _sign(rf_vs_xgb, key), "_trees_tuned": _sign(tuned_xgb_vs_rf, key),
        })
    return pd.DataFrame(rows)


def _pairs(diff: pd.Series) -> set[tuple]:
    return set(diff.index.droplevel("trial")) if len(diff) else set()


def _sign(diff: pd.Series, key: tuple) -> str:
    """'+' if the difference's 95% interval is above 0, '-' below, '0' if it holds 0, '' if not run."""
    if key not in _pairs(diff):
        return ""
    mean, low, high = mean_ci(diff.xs(key, level=[0, 1]))
    if np.isnan(low):
        return "+" if mean > 0 else "-" if mean < 0 else "0"
    return "+" if low > 0 else "-" if high < 0 else "0"


def _claim_summary(claim: pd.DataFrame) -> list[str]:
    if claim.empty or not (claim["_trees_default"] != "").any():
        return ["(rf and xgb were not both run: no verdict.)"]
    total = len(claim)
    trees = claim[(claim["_trees_default"] != "") & (claim["_trees_tuned"] != "")]
    both = trees[(trees["_trees_default"] == "+") & (trees["_trees_tuned"] == "+")]
    return [
        f"- Among all learned predictors: RF is the best default in {int(claim['_rf_best'].sum())} of {total} "
        f"(benchmark, train size) cases; tuned XGBoost is the best after tuning in "
        f"{int(claim['_xgb_best'].sum())} of {total}; both at once in "
        f"{int((claim['_rf_best'] & claim['_xgb_best']).sum())}.",
        f"- Between the two tree models (paired over trials, 95% t-interval): RF above XGBoost by default in "
        f"{int((trees['_trees_default'] == '+').sum())} of {len(trees)} cases "
        f"(below in {int((trees['_trees_default'] == '-').sum())}, undecided in "
        f"{int((trees['_trees_default'] == '0').sum())}); tuned XGBoost above tuned RF in "
        f"{int((trees['_trees_tuned'] == '+').sum())} (below in {int((trees['_trees_tuned'] == '-').sum())}, "
        f"undecided in {int((trees['_trees_tuned'] == '0').sum())}); both significant at once in {len(both)}.",
    ]


def calibration_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (benchmark, predictor with a std, train size): tau, coverages and NLL, means with 95% CIs."""
    with_std = df[df["coverage_68"].notna()]
    rows = []
    for (bench, name, n), sub in with_std.groupby(["benchmark", "predictor", "train_size"]):
        rows.append({
            "benchmark": bench, "predictor": name, "train_size": n, "kendall_tau": _fmt_ci(sub["kendall_tau"]),
            "coverage_68": _fmt_ci(sub["coverage_68"]), "coverage_95": _fmt_ci(sub["coverage_95"]),
            "nll": _fmt_ci(sub["nll"]),
        })
    return pd.DataFrame(rows)


def _style(predictor: str, colours: dict[str, str]) -> dict:
    base = predictor.removesuffix("-tuned")
    if base not in colours:
        colours[base] = f"C{len(colours) % 10}"
    return {"color": colours[base], "linestyle": "--" if predictor.endswith("-tuned") else "-"}


def _title(sub: pd.DataFrame, name: str) -> str:
    return f"{name} ({sub['oracle'].iloc[0]})"


def _save(fig: plt.Figure, path: Path, dpi: int) -> None:
    fig.tight_layout()
    with replaced(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."))
    plt.close(fig)


def _plot_tau(df: pd.DataFrame, path: Path) -> Path:
    names = sorted(df["benchmark"].unique())
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    colours: dict[str, str] = {}
    for ax, name in zip(axes.flat, names, strict=False):
        sub = df[df["benchmark"] == name]
        for predictor, rows in sub.groupby("predictor"):
            curve = rows.groupby("train_size")["kendall_tau"].agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(curve.index, curve["mean"], yerr=curve["std"], label=predictor, marker="o", capsize=2,
                        **_style(predictor, colours))
        ax.set(title=_title(sub, name), xscale="log", xlabel="training cells",
               ylabel="Kendall tau on held-out cells (mean ± sd)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    _save(fig, path, dpi=110)
    return path


def _plot_calibration(df: pd.DataFrame, path: Path) -> Path | None:
    with_std = df[df["coverage_68"].notna()]
    if with_std.empty:
        return None
    names = sorted(with_std["benchmark"].unique())
    panels = [*(f"coverage_{round(level * 100)}" for level in LEVELS), "nll"]
    fig, axes = plt.subplots(len(panels), len(names), figsize=(4.5 * len(names), 3.2 * len(panels)), squeeze=False)
    colours: dict[str, str] = {}
    for col, name in enumerate(names):
        sub = with_std[with_std["benchmark"] == name]
        for row, metric in enumerate(panels):
            ax = axes[row][col]
            for predictor, rows in sub.groupby("predictor"):
                curve = rows.groupby("train_size")[metric].median() if metric == "nll" else (
                    rows.groupby("train_size")[metric].mean())
                ax.plot(curve.index, curve.values, marker="o", label=predictor, **_style(predictor, colours))
            if metric == "nll":
                ax.set(ylabel="Gaussian NLL (median over trials)", yscale="symlog")
            else:
                nominal = int(metric.split("_")[1]) / 100
                ax.axhline(nominal, color="black", linewidth=1, linestyle=":")
                ax.set(ylabel=f"coverage of the {metric.split('_')[1]}% interval (mean)", ylim=(0, 1.02))
            ax.set(xscale="log", xlabel="training cells")
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(_title(sub, name))
                ax.legend(fontsize="small")
    _save(fig, path, dpi=100)
    return path


def write_report(df: pd.DataFrame, out_dir: Path | str) -> Path:
    """results.csv (the tidy table), leaderboard.csv, tau.png, calibration.png and report.md under out_dir."""
    if df.empty:
        raise NasreproError("no predictor results to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # each file is written whole or not at all: an interrupted report never leaves half a table
    with replaced(out / "results.csv") as tmp:
        df.to_csv(tmp, index=False)
    board = leaderboard(df)
    with replaced(out / "leaderboard.csv") as tmp:
        board.to_csv(tmp, index=False)
    tau_figure = _plot_tau(df, out / "tau.png")
    cal_figure = _plot_calibration(df, out / "calibration.png")
    trials = sorted(df["trial"].unique())
    oracles = df[["benchmark", "oracle"]].drop_duplicates().values
    lines = [
        "# Predictor benchmark",
        "",
        f"Protocol of White et al. 2021 (NAS-Bench-Suite): {len(trials)} trial(s) (seed {df['seed'].iloc[0]}), "
        f"a held-out test set of {df['test_size'].iloc[0]} uniformly drawn labelled cells per trial, nested "
        "training sets drawn from the same pool. Labels: " + ", ".join(f"{b} `{o}`" for b, o in oracles) + ". "
        "The NB101 targets are real measurements (one-repeat validation accuracy of the 20,001-cell sample; mean "
        "test accuracy of the 6,760-cell set, which is not a uniform sample of the space); NB201's are the real "
        "table's; NB301's are its surrogate's predictions (no real NB301 table is available here), so the NB301 "
        "column measures how well a predictor learns another model. Intervals are 95% t-intervals of the mean "
        f"over trials. CPU time of every tuning, fit and prediction: {df['cpu_seconds'].sum() / 60:.1f} min.",
        "",
        "## Leaderboard",
        "",
        "Mean rank by Kendall tau over every (benchmark, train size, trial); 1 is best.",
        "",
        _markdown(board),
        "",
        f"![Kendall tau against training size]({tau_figure.name})",
        "",
    ]
    if df["tuned"].any():
        claim = claim_table(df)
        configurations = int(df.loc[df["tuned"], "tune_configurations"].max())
        lines += [
            "## Default against tuned: \"random forest best by default, XGBoost best after tuning\"?",
            "",
            f"Tuned variants (`-tuned`) choose their settings by random search ({configurations} "
            "configurations, the default first) scored by 3-fold cross-validation on the training cells only "
            "(predictors/tuning.py, NASLib's protocol and spaces); the chosen settings are in results.csv "
            "(`tuned_settings`, `cv_tau`). Below 6 training cells nothing is tuned.",
            "",
            *_claim_summary(claim),
            "",
            _markdown(claim[[c for c in claim.columns if not c.startswith("_")]]),
            "",
        ]
    cal = calibration_table(df)
    if not cal.empty:
        lines += [
            "## Uncertainty quality",
            "",
            "For predictors with a predictive std: the fraction of test cells inside the central 68% and 95% "
            "Gaussian intervals (well calibrated: 0.68 and 0.95; lower is overconfident) and the mean Gaussian "
            "negative log-likelihood of the test labels (accuracy in percent; lower is better), beside Kendall tau.",
            "",
            *([f"![Calibration against training size]({cal_figure.name})", ""] if cal_figure else []),
            _markdown(cal),
            "",
        ]
    for name, sub in df.groupby("benchmark"):
        largest = sub["train_size"].max()
        at_largest = sub[sub["train_size"] == largest].groupby("predictor")[
            [*METRICS, "fit_seconds", "predict_seconds", "cpu_seconds"]
        ].mean().reset_index()
        lines += [
            f"## {name} ({sub['oracle'].iloc[0]})", "",
            "Kendall tau (mean [95% CI] over trials) by number of training cells:", "",
            _markdown(_tau_table(sub)), "",
            f"All metrics at {largest} training cells (means over trials):", "",
            _markdown(at_largest), "",
        ]
    path = out / "report.md"
    with replaced(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path
