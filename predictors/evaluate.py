"""The predictor benchmark of White et al. 2021 ("How Powerful are Performance Predictors in Neural
Architecture Search?", the NAS-Bench-Suite protocol), and its report.

Per trial: draw distinct cells uniformly (by `benchmark.sample`, without replacement by
`benchmark.key`), the first `test_size` (200) the held-out test set, the rest a training pool; each
train size uses the first n cells of the pool (nested sets: a larger size adds cells, which pairs the
sizes and lowers the variance of the curve). Targets are the search metric, `benchmark.query(arch).value`
(validation accuracy). Every predictor of a trial sees the same cells. Metrics on the test set: Kendall
tau, Spearman, Pearson, MAE, precision@10 and @20 (the fraction of the true top-k among the predicted
top-k), fit and predict wall time.

Seeds: trial t's cells come from SeedSequence(seed, spawn_key=(t, 0)); a predictor's own randomness from
SeedSequence(seed, spawn_key=(t, 1, crc32(name), n)), so adding a predictor changes no other's numbers.
"""

from __future__ import annotations

import time
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are files, never windows
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

import predictors
from suite import benchmarks
from suite.benchmarks.base import Arch, Benchmark
from suite.errors import NasreproError

TEST_SIZE = 200
MIN_TRAIN, MAX_TRAIN = 5, 1000
TOP_K = (10, 20)
METRICS = ("kendall_tau", "spearman", "pearson", "mae", "precision_at_10", "precision_at_20")


def log_grid(low: int = MIN_TRAIN, high: int = MAX_TRAIN, points: int = 9) -> list[int]:
    """Integer train sizes evenly spaced in log scale, both ends included."""
    return sorted({int(round(x)) for x in np.geomspace(low, high, points)})


DEFAULT_TRAIN_SIZES = log_grid()  # 5, 10, 19, 36, 71, 137, 266, 516, 1000


def sample_cells(benchmark: Benchmark, n: int, rng: np.random.Generator) -> list[Arch]:
    """n distinct cells, uniformly at random; a space with fewer distinct cells is an error."""
    if benchmark.space_size is not None and n > benchmark.space_size:
        raise NasreproError(f"{benchmark.name} has {benchmark.space_size} cells, {n} were asked for")
    cells: dict[str, Arch] = {}
    attempts = 0
    while len(cells) < n:
        arch = benchmark.sample(rng)
        cells.setdefault(benchmark.key(arch), arch)
        attempts += 1
        if attempts > 100 * n:
            raise NasreproError(f"could not draw {n} distinct cells of {benchmark.name}")
    return list(cells.values())


def precision_at_k(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    k = min(k, len(y_true))
    true_top = set(np.argsort(-y_true, kind="stable")[:k].tolist())
    pred_top = set(np.argsort(-y_pred, kind="stable")[:k].tolist())
    return len(true_top & pred_top) / k


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings():
        # constant predictions (tiny train sets) have no correlation: NaN, not a warning per row
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        metrics = {
            "kendall_tau": float(stats.kendalltau(y_true, y_pred).statistic),
            "spearman": float(stats.spearmanr(y_true, y_pred).statistic),
            "pearson": float(stats.pearsonr(y_true, y_pred).statistic) if np.ptp(y_pred) > 0 else float("nan"),
        }
    metrics["mae"] = float(np.mean(np.abs(y_true - y_pred)))
    for k in TOP_K:
        metrics[f"precision_at_{k}"] = precision_at_k(y_true, y_pred, k)
    return metrics


def _check(predictor_names: Sequence[str], train_sizes: Sequence[int], trials: int) -> None:
    for name in predictor_names:
        predictors.get(name)
    if not predictor_names:
        raise NasreproError("no predictor to evaluate")
    if not train_sizes or min(train_sizes) < 2:
        raise NasreproError(f"train sizes must be at least 2 (a fit needs two cells), got {list(train_sizes)}")
    if trials < 1:
        raise NasreproError(f"trials must be at least 1, got {trials}")


def evaluate(
    benchmark_name: str,
    predictor_names: list[str],
    train_sizes: list[int],
    trials: int,
    seed: int,
    *,
    test_size: int = TEST_SIZE,
    overrides: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """One tidy row per (benchmark, predictor, train size, trial). `overrides`: per-predictor settings."""
    _check(predictor_names, train_sizes, trials)
    benchmark = benchmarks.get(benchmark_name)
    sizes = sorted(set(train_sizes))
    rows = []
    for trial in range(trials):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(trial, 0)))
        cells = sample_cells(benchmark, test_size + sizes[-1], rng)
        y = np.array([benchmark.query(a).value for a in cells], dtype=np.float64)
        test, y_test, pool, y_pool = cells[:test_size], y[:test_size], cells[test_size:], y[test_size:]
        for name in predictor_names:
            for n in sizes:
                ss = np.random.SeedSequence(seed, spawn_key=(trial, 1, zlib.crc32(name.encode()), n))
                predictor = predictors.build(name, benchmark.space, ss, (overrides or {}).get(name))
                start = time.perf_counter()
                predictor.fit(pool[:n], y_pool[:n])
                fitted = time.perf_counter()
                y_pred = np.asarray(predictor.predict(test), dtype=np.float64)
                predicted = time.perf_counter()
                rows.append({
                    "benchmark": benchmark.name, "oracle": benchmark.oracle, "predictor": name,
                    "train_size": n, "trial": trial, "seed": seed, "test_size": test_size,
                    **score(y_test, y_pred),
                    "fit_seconds": fitted - start, "predict_seconds": predicted - fitted,
                })
    return pd.DataFrame(rows)


def leaderboard(df: pd.DataFrame) -> pd.DataFrame:
    """Mean rank by Kendall tau within each (benchmark, train size, trial); a NaN tau ranks last."""
    ranks = df.assign(
        rank=df.groupby(["benchmark", "train_size", "trial"])["kendall_tau"].rank(
            ascending=False, method="average", na_option="bottom"
        )
    )
    board = ranks.groupby("predictor").agg(
        mean_rank=("rank", "mean"), mean_tau=("kendall_tau", "mean"),
        mean_precision_at_20=("precision_at_20", "mean"), mean_fit_seconds=("fit_seconds", "mean"),
        cases=("rank", "size"),
    )
    return board.sort_values("mean_rank").reset_index()


def _markdown(table: pd.DataFrame, floatfmt: str = ".3f") -> str:
    def cell(v: object) -> str:
        return format(v, floatfmt) if isinstance(v, float | np.floating) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|---" * len(table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _tau_table(df: pd.DataFrame) -> pd.DataFrame:
    agg = df.groupby(["predictor", "train_size"])["kendall_tau"].agg(["mean", "std"])
    text = agg.apply(lambda r: f"{r['mean']:.3f} ± {0 if np.isnan(r['std']) else r['std']:.3f}", axis=1)
    return text.unstack("train_size").reset_index()


def _plot_tau(df: pd.DataFrame, path: Path) -> Path:
    names = sorted(df["benchmark"].unique())
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        sub = df[df["benchmark"] == name]
        for predictor, rows in sub.groupby("predictor"):
            curve = rows.groupby("train_size")["kendall_tau"].agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(curve.index, curve["mean"], yerr=curve["std"], label=predictor, marker="o", capsize=2)
        ax.set(title=f"{name} ({sub['oracle'].iloc[0]})", xscale="log", xlabel="training cells",
               ylabel="Kendall tau on held-out cells (mean ± sd)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(df: pd.DataFrame, out_dir: Path | str) -> Path:
    """results.csv (the tidy table), leaderboard.csv, tau.png and report.md under out_dir."""
    if df.empty:
        raise NasreproError("no predictor results to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "results.csv", index=False)
    board = leaderboard(df)
    board.to_csv(out / "leaderboard.csv", index=False)
    figure = _plot_tau(df, out / "tau.png")
    trials = sorted(df["trial"].unique())
    lines = [
        "# Predictor benchmark",
        "",
        f"Protocol of White et al. 2021 (NAS-Bench-Suite): {len(trials)} trial(s) (seed {df['seed'].iloc[0]}), "
        f"a held-out test set of {df['test_size'].iloc[0]} uniformly drawn cells per trial, nested training "
        "sets drawn from the same distribution; target: the search metric (validation accuracy). "
        f"Benchmarks: {', '.join(f'{b} ({o})' for b, o in df[['benchmark', 'oracle']].drop_duplicates().values)}.",
        "",
        "## Leaderboard",
        "",
        "Mean rank by Kendall tau over every (benchmark, train size, trial); 1 is best.",
        "",
        _markdown(board),
        "",
        f"![Kendall tau against training size]({figure.name})",
        "",
    ]
    for name, sub in df.groupby("benchmark"):
        largest = sub["train_size"].max()
        at_largest = sub[sub["train_size"] == largest].groupby("predictor")[
            [*METRICS, "fit_seconds", "predict_seconds"]
        ].mean().reset_index()
        lines += [
            f"## {name}", "",
            "Kendall tau (mean ± sd over trials) by number of training cells:", "",
            _markdown(_tau_table(sub)), "",
            f"All metrics at {largest} training cells (means over trials):", "",
            _markdown(at_largest), "",
        ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
