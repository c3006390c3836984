"""The results store: one directory per run, `runs/<run_id>/{trajectory.parquet, meta.json}`.

A run directory is written under a temporary name and renamed into place, so it either exists whole
or not at all: an interrupted experiment leaves only complete runs, and a rerun skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from suite.errors import NasreproError

TRAJECTORY = "trajectory.parquet"
META = "meta.json"
_PARTIAL_PREFIX = ".partial-"
# Run-level columns joined onto every trajectory row, so the tidy table stands on its own.
RUN_COLUMNS = ("run_id", "benchmark", "oracle", "method", "repeat", "predictor", "constraint")


class Store:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"

    def has(self, run_id: str) -> bool:
        return (self.runs_dir / run_id / META).is_file()

    def write(self, run_id: str, trajectory: pd.DataFrame, meta: dict[str, Any]) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        partial = self.runs_dir / f"{_PARTIAL_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}"
        partial.mkdir()
        try:
            trajectory.to_parquet(partial / TRAJECTORY, index=False)
            (partial / META).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
            os.rename(partial, self.runs_dir / run_id)
        except OSError:
            if self.has(run_id):  # another worker finished the same run first; its copy is identical
                shutil.rmtree(partial, ignore_errors=True)
                return
            raise
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)

    def discard_partial(self) -> int:
        """Remove what interrupted writes left behind; call only when no writer is running."""
        if not self.runs_dir.is_dir():
            return 0
        leftovers = [p for p in self.runs_dir.iterdir() if p.name.startswith(_PARTIAL_PREFIX)]
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)
        return len(leftovers)

    def run_ids(self) -> list[str]:
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir() if (p / META).is_file())

    def meta(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.runs_dir / run_id / META).read_text())

    def trajectory(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.runs_dir / run_id / TRAJECTORY)

    def metas(self) -> list[dict[str, Any]]:
        return [self.meta(run_id) for run_id in self.run_ids()]

    def trajectories(self) -> pd.DataFrame:
        """Every stored query as one tidy table, with the run's benchmark, method, repeat, ... on each row."""
        frames = []
        for run_id in self.run_ids():
            spec = self.meta(run_id)["spec"]
            frame = self.trajectory(run_id)
            for column in RUN_COLUMNS:
                frame.insert(RUN_COLUMNS.index(column), column, spec[column])
            frames.append(frame)
        if not frames:
            raise NasreproError(f"no finished runs in {self.root}")
        return pd.concat(frames, ignore_index=True)
