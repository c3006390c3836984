"""Reruns stored runs from their stored specs and checks that each trajectory comes out bit for bit the same.

The one place outside `nasrepro run` that queries benchmarks. The result goes to DIR/verify.json, which
the report quotes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from suite.errors import NasreproError
from suite.running.store import Store

if TYPE_CHECKING:
    from suite.running.spec import RunSpec

VERIFY_FILE = "verify.json"


@dataclass
class Verification:
    store: str
    stored_runs: int
    sample: int | None
    seed: int
    identical: list[str] = field(default_factory=list)
    differing: dict[str, str] = field(default_factory=dict)  # run_id -> what differs
    failed: dict[str, str] = field(default_factory=dict)  # run_id -> why it could not be rerun
    wall_time_s: float = 0.0
    checked_at: str = ""

    @property
    def ok(self) -> bool:
        return not self.differing and not self.failed

    @property
    def checked(self) -> int:
        return len(self.identical) + len(self.differing) + len(self.failed)


def spec_of(meta: dict) -> RunSpec:
    """The RunSpec a stored run was made from; its hash must be the run's id, or the record was altered."""
    from suite.running.spec import Budget, RunSpec

    fields = {k: v for k, v in meta["spec"].items() if k != "run_id"}
    run = RunSpec(**{**fields, "budget": Budget(**fields["budget"])})
    if run.run_id != meta["spec"]["run_id"]:
        raise NasreproError(f"stored spec hashes to {run.run_id}, not to its id {meta['spec']['run_id']}")
    return run


def difference(stored: pd.DataFrame, rerun: pd.DataFrame) -> str | None:
    """None if the two tables are bit-identical (floats compared by their bits), else the first difference."""
    if list(stored.columns) != list(rerun.columns):
        return f"columns {list(stored.columns)} vs {list(rerun.columns)}"
    if len(stored) != len(rerun):
        return f"{len(stored)} stored queries vs {len(rerun)} rerun"
    for column in stored.columns:
        a, b = stored[column].to_numpy(), rerun[column].to_numpy()
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            equal = a.astype(np.float64).view(np.uint64) == b.astype(np.float64).view(np.uint64)
        else:
            equal = np.asarray(a == b, dtype=bool)
        if not equal.all():
            row = int(np.argmin(equal))
            step = stored["step"].iloc[row]
            return f"column {column!r} first differs at step {step}: {a[row]!r} vs {b[row]!r}"
    return None


def verify(root: Path, sample: int | None = None, seed: int = 0) -> Verification:
    from suite.running.runner import execute  # imports every benchmark and method: only verify needs them

    store = Store(root)
    store.check()
    run_ids = store.run_ids()
    if not run_ids:
        raise NasreproError(f"no finished runs in {root}")
    if sample is not None and sample < 1:
        raise NasreproError(f"--sample must be at least 1, got {sample}")
    chosen = run_ids
    if sample is not None and sample < len(run_ids):
        chosen = sorted(np.random.default_rng(seed).choice(run_ids, size=sample, replace=False).tolist())
    result = Verification(str(root), len(run_ids), sample, seed)
    started = time.perf_counter()
    for run_id in chosen:
        try:
            stored_meta = store.meta(run_id)
            frame, meta = execute(spec_of(stored_meta))
        except NasreproError as exc:
            result.failed[run_id] = str(exc)
            continue
        diff = difference(store.trajectory(run_id), frame)
        if diff is None and stored_meta.get("oracle_members") != meta.get("oracle_members"):
            # runs stored before members were recorded have none: only a recorded value can differ
            if stored_meta.get("oracle_members") is not None:
                diff = "the final incumbent's values under the oracle members differ"
        if diff is None:
            result.identical.append(run_id)
        else:
            result.differing[run_id] = diff
    result.wall_time_s = time.perf_counter() - started
    result.checked_at = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def write(result: Verification, root: Path) -> Path:
    path = Path(root) / VERIFY_FILE
    payload = {**asdict(result), "checked": result.checked, "ok": result.ok}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def read(root: Path) -> dict | None:
    path = Path(root) / VERIFY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def summary(root: Path) -> str:
    """One sentence on the store's verification record, for the report."""
    record = read(root)
    if record is None:
        return f"`{root}`: not verified (run `nasrepro verify {root}`)."
    if record["ok"]:
        verdict = "every rerun trajectory was bit-identical to the stored one"
    else:
        verdict = (
            f"{len(record['differing'])} differed ({', '.join(sorted(record['differing'])) or 'none'}) and "
            f"{len(record['failed'])} could not be rerun ({', '.join(sorted(record['failed'])) or 'none'})"
        )
    sample = (
        "all"
        if record["sample"] is None
        else f"a sample of {record['sample']} drawn with seed {record['seed']}"
    )
    return (
        f"`{root}`: on {record['checked_at']}, `nasrepro verify` reran {record['checked']} of "
        f"{record['stored_runs']} stored runs ({sample}): {verdict}."
    )
