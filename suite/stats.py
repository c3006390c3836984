"""Statistics over stored trajectories. Tidy DataFrames in, tidy DataFrames out; nothing reruns a search."""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUP = ["benchmark", "oracle", "method"]


def at_budget(trajectories: pd.DataFrame, budget: int) -> pd.DataFrame:
    """The state of every run after `budget` queries (the last row of shorter runs): one row per run."""
    upto = trajectories[trajectories["step"] <= budget]
    last = upto.sort_values("step").groupby("run_id", sort=False).tail(1)
    out = last.assign(budget=budget)
    return out.sort_values([*GROUP, "repeat"]).reset_index(drop=True)


def common_budget(trajectories: pd.DataFrame) -> int:
    """The largest budget every run reached."""
    return int(trajectories.groupby("run_id")["step"].max().min())


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
    table = pd.DataFrame({
        "median": grouped.median(), "q25": grouped.quantile(0.25), "q75": grouped.quantile(0.75),
        "n": grouped.count(),
    })
    return table.reset_index()


def mean_std(values: pd.Series) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values.iloc[0]:.2f}"
