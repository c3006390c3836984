"""Results stores -> one tidy table of queries and one table of runs. Reads stores only, never a benchmark.

Labels: a run's `method` label carries its predictor (`bananas+gp`), where one store holds the same
method with different settings on a benchmark, a short hash of the settings, and where it holds runs of
two releases (a plugin's `distribution==version`, or a built-in's method version), the release
(`hillclimb@nasrepro-hillclimb==0.2.0`, `ganas@v3`), so statistics never pool different configurations
or different code. A constraint changes the problem, so it goes into the `benchmark` label.
The plain names stay in `method_name` and `benchmark_name`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from suite.benchmarks import nb301, nb301_reference
from suite.errors import NasreproError
from suite.running.store import Store

# The same search repeated in another store (e.g. run again with a larger budget) is one sample, not two.
_SAMPLE = ["benchmark", "oracle", "method", "experiment_seed", "repeat"]


@dataclass(frozen=True)
class Results:
    trajectories: pd.DataFrame  # Store.trajectories() columns + experiment_seed, method_name, benchmark_name
    runs: pd.DataFrame  # one row per run: labels, seeds, budget, queries made, wall time, store
    metas: dict[str, dict[str, Any]]  # run_id -> the run's metadata JSON
    stores: tuple[Path, ...]
    # Benchmarks without a known optimum (NB301): regret is measured against a reference fixed before any
    # search (suite.benchmarks.nb301_reference); benchmark label -> what it is, in words, for the report.
    # Never the best value the runs found: a target defined after the fact would flatter the runs.
    regret_reference: dict[str, str]

    @property
    def timed(self) -> set[str]:
        """Benchmarks whose runs had a budget in simulated seconds."""
        return set(self.runs.loc[self.runs["budget_seconds"].notna(), "benchmark"])


def load(store_dirs: list[Path] | tuple[Path, ...], benchmarks: Sequence[str] | None = None) -> Results:
    """All runs of the stores, or only those on `benchmarks` (plain benchmark names)."""
    if not store_dirs:
        raise NasreproError("no results store given")
    frames: list[pd.DataFrame] = []
    metas: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for directory in store_dirs:
        if not Path(directory).is_dir():
            raise NasreproError(f"no results store at {directory}")
        store = Store(directory)
        frames.append(store.trajectories())
        for run_id in store.run_ids():
            metas.setdefault(run_id, store.meta(run_id))
            origin.setdefault(run_id, str(directory))
    trajectories = pd.concat(frames, ignore_index=True).drop_duplicates(["run_id", "step"])
    runs = _runs_table(metas, origin)
    if benchmarks is not None:
        absent = sorted(set(benchmarks) - set(runs["benchmark_name"]))
        if absent:
            raise NasreproError(f"no runs of {', '.join(absent)} in {', '.join(map(str, store_dirs))}")
        runs = runs[runs["benchmark_name"].isin(benchmarks)]
    runs = runs.sort_values(["n_queries", "run_id"], ascending=[False, True])
    runs = runs.drop_duplicates(_SAMPLE).sort_values([*_SAMPLE[:3], "experiment_seed", "repeat"])
    runs = runs.reset_index(drop=True)
    labels = runs.set_index("run_id")
    trajectories = trajectories[trajectories["run_id"].isin(labels.index)].copy()
    for column in ("benchmark", "method", "experiment_seed", "method_name", "benchmark_name"):
        trajectories[column] = trajectories["run_id"].map(labels[column])
    trajectories = trajectories.sort_values(["run_id", "step"]).reset_index(drop=True)
    reference = _regret_reference(trajectories, metas)
    kept = {run_id: metas[run_id] for run_id in runs["run_id"]}
    return Results(trajectories, runs, kept, tuple(Path(d) for d in store_dirs), reference)


def _regret_reference(trajectories: pd.DataFrame, metas: dict[str, dict]) -> dict[str, str]:
    """Describe each NB301 reference; fill regret of runs stored before it existed (optimum None) from the
    cached reference of the same surrogate, or leave it NaN (no target then) if it was never computed."""
    reference = {}
    for benchmark, rows in trajectories.groupby("benchmark"):
        meta = metas[rows["run_id"].iloc[0]]["benchmark"]
        if meta["name"] != "nb301":
            continue
        sha = meta.get("data_sha256", {}).get(nb301.MODEL_FILE, "")
        found = nb301_reference.cached(sha)
        if found is None:
            continue
        if rows["regret"].isna().all():
            trajectories.loc[rows.index, "regret"] = found.value - rows["incumbent_final"]
        if np.allclose(found.value - rows["incumbent_final"], trajectories.loc[rows.index, "regret"]):
            reference[benchmark] = found.description()
    return reference


def _runs_table(metas: dict[str, dict], origin: dict[str, str]) -> pd.DataFrame:
    rows = []
    for run_id, meta in metas.items():
        spec = meta["spec"]
        benchmark = spec["benchmark"] + (f" s.t. {spec['constraint']}" if spec.get("constraint") else "")
        method = spec["method"] + (f"+{spec['predictor']}" if spec.get("predictor") else "")
        rows.append(
            {
                "run_id": run_id,
                "benchmark": benchmark,
                "oracle": spec["oracle"],
                "method": method,
                "experiment_seed": spec["experiment_seed"],
                "repeat": spec["repeat"],
                "benchmark_name": spec["benchmark"],
                "method_name": spec["method"],
                "config": json.dumps(spec["method_config"], sort_keys=True, default=str),
                "release": _release(spec),
                "budget_queries": spec["budget"]["queries"],
                "budget_seconds": spec["budget"]["seconds"],
                "n_queries": meta["n_queries"],
                "wall_time_s": meta["wall_time_s"],
                "store": origin[run_id],
            }
        )
    runs = pd.DataFrame(rows)
    configs = runs.groupby(["benchmark", "oracle", "method"])["config"].transform("nunique")
    clash = configs > 1
    runs.loc[clash, "method"] = runs.loc[clash, "method"] + "#" + runs.loc[clash, "config"].map(_short_hash)
    releases = runs.groupby(["benchmark", "oracle", "method"])["release"].transform("nunique")
    clash = releases > 1
    runs.loc[clash, "method"] = runs.loc[clash, "method"] + "@" + runs.loc[clash, "release"]
    return runs


def _release(spec: dict[str, Any]) -> str:
    """The code that made the run: the plugin's pin, else the built-in method's version (stores written
    before the fields existed have neither: one release), and the predictor's likewise."""
    method = spec.get("method_distribution") or (f"v{spec['method_version']}" if "method_version" in spec else "")
    predictor = spec.get("predictor_distribution") or (
        f"v{spec['predictor_version']}" if spec.get("predictor_version") is not None else "")
    return method + (f"+{predictor}" if predictor else "")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]
