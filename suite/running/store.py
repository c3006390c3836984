"""The results store: one directory per run, `runs/<run_id>/{trajectory.parquet, meta.json}`.

A run directory is written under a temporary name and renamed into place, so it either exists whole
or not at all. It also checks itself: `meta.json` records the sha256 of the trajectory, and a run counts
only when its directory is named after its spec's run id and its files verify. Anything else in `runs/`
is damaged (or foreign): `runs()` never yields it, `damaged()` names it, `check()` refuses it, and a new
`nasrepro run` moves it aside to `.damaged/` (never deleting it), computing the run again if it is one of its
own. A temp directory whose writer is gone (`stale_partial()`) holds no run: `run` and `store check --repair`
remove it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from suite.atomic import process_alive
from suite.errors import NasreproError

TRAJECTORY = "trajectory.parquet"
META = "meta.json"
CHECKSUM = "trajectory_sha256"
_PARTIAL_PREFIX = ".partial-"
DAMAGED_DIR = ".damaged"
# A temp directory is named by its writer (pid@host), so whether the writer is alive is known from the moment
# the directory exists, with no window between mkdir and a lock file in which a killed writer's directory
# would look live. One not so named was made by an older version or by hand, never by a live writer of this
# one, so it is stale at once; one whose writer ran on another host cannot be checked, so it gets a day.
_FOREIGN_HOST_GRACE_S = 86_400.0
_WRITER = re.compile(r"-(?P<pid>\d+)@(?P<host>[^@/]+)$")
_HOST = socket.gethostname()
# Run-level columns joined onto every trajectory row, so the tidy table stands on its own.
RUN_COLUMNS = ("run_id", "benchmark", "oracle", "method", "repeat", "predictor", "constraint")


class DamagedStore(NasreproError):
    """A store with entries that do not verify; reading it would silently drop or misread runs."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"

    # -- integrity -------------------------------------------------------------------------------------
    def problem(self, name: str) -> str | None:
        """None if `runs/<name>` is a whole, verified run, else what is wrong with it."""
        path = self.runs_dir / name
        if not path.is_dir():
            return "not a run directory"
        try:
            meta = json.loads((path / META).read_text())
        except FileNotFoundError:
            return f"no {META}"
        except (OSError, ValueError) as exc:
            return f"{META} unreadable ({type(exc).__name__})"
        if not isinstance(meta, dict) or not isinstance(meta.get("spec"), dict):
            return f"{META} holds no run spec"
        if meta["spec"].get("run_id") != name:
            return f"directory name is not its spec's run id {meta['spec'].get('run_id')!r}"
        expected = meta.get(CHECKSUM)
        if not expected:
            return f"{META} records no trajectory checksum"
        try:
            actual = _sha256((path / TRAJECTORY).read_bytes())
        except FileNotFoundError:
            return f"no {TRAJECTORY}"
        except OSError as exc:
            return f"{TRAJECTORY} unreadable ({type(exc).__name__})"
        if actual != expected:
            return f"{TRAJECTORY} does not match its checksum (truncated or altered)"
        return None

    def has(self, run_id: str) -> bool:
        return self.problem(run_id) is None

    def layout_problem(self) -> str | None:
        """None if `runs/` and `.damaged/` are directories or absent, else what is wrong: a store whose
        `runs` is a file could store nothing, so every command refuses it before any work."""
        for path in (self.runs_dir, self.root / DAMAGED_DIR):
            if (path.exists() or path.is_symlink()) and not path.is_dir():
                return f"{path} is not a directory"
        return None

    def check_layout(self) -> None:
        problem = self.layout_problem()
        if problem is not None:
            raise DamagedStore(f"damaged store {self.root}: {problem}; move it aside")

    def _entries(self) -> list[str]:
        self.check_layout()
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir() if not p.name.startswith(_PARTIAL_PREFIX))

    def runs(self) -> Iterator[str]:
        """The ids of the verified runs."""
        return (name for name in self._entries() if self.problem(name) is None)

    def damaged(self) -> dict[str, str]:
        """Every other entry of `runs/` (damaged, foreign or misnamed) -> what is wrong with it."""
        found = {name: self.problem(name) for name in self._entries()}
        return {name: why for name, why in found.items() if why is not None}

    def check(self) -> None:
        """Refuse a damaged store with one line naming the entries and the repair."""
        bad = self.damaged()
        if bad:
            names = ", ".join(sorted(bad)[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise DamagedStore(
                f"damaged store {self.root}: {len(bad)} entr{'y does' if len(bad) == 1 else 'ies do'} not verify "
                f"({names}); rerun the `nasrepro run` command that made it (it moves damaged runs to "
                f"{DAMAGED_DIR}/ and computes them again), or move them aside with "
                f"`nasrepro store check {self.root} --repair`"
            )

    def quarantine(self, name: str) -> Path:
        """Move `runs/<name>` to `.damaged/<name>-<timestamp>`: out of the way, never deleted."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        target = self.root / DAMAGED_DIR / f"{name}-{stamp}-{uuid.uuid4().hex[:6]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.runs_dir / name, target)
        return target

    # -- writing ---------------------------------------------------------------------------------------
    def write(self, run_id: str, trajectory: pd.DataFrame, meta: dict[str, Any]) -> bool:
        """Store a run; False if a concurrent writer stored the same (identical) run first."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        partial = self.runs_dir / f"{_PARTIAL_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}-{os.getpid()}@{_HOST}"
        partial.mkdir()
        try:
            buffer = io.BytesIO()
            trajectory.to_parquet(buffer, index=False)
            data = buffer.getvalue()
            (partial / TRAJECTORY).write_bytes(data)
            (partial / META).write_text(
                json.dumps({**meta, CHECKSUM: _sha256(data)}, indent=2, sort_keys=True, default=str)
            )
            target = self.runs_dir / run_id
            if target.exists() and not self.has(run_id):
                try:
                    self.quarantine(run_id)
                except FileNotFoundError:  # a concurrent writer moved it first
                    pass
            try:
                os.rename(partial, target)
            except OSError:
                if self.has(run_id):  # another writer finished the same run first; its copy is identical
                    return False
                raise
            return True
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)

    def stale_partial(self) -> list[str]:
        """Temp directories whose writer is gone (a live writer's, here or elsewhere, is not listed)."""
        self.check_layout()
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir() if p.name.startswith(_PARTIAL_PREFIX) and _writer_gone(p))

    def discard_partial(self) -> list[str]:
        """Remove the stale temp directories (they hold no run: a run is stored by renaming one); their names."""
        removed = self.stale_partial()
        for name in removed:
            path = self.runs_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return removed

    # -- reading (verified runs only; a damaged store is refused) ---------------------------------------
    def run_ids(self) -> list[str]:
        return list(self.runs())

    def meta(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.runs_dir / run_id / META).read_text())

    def trajectory(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.runs_dir / run_id / TRAJECTORY)

    def metas(self) -> list[dict[str, Any]]:
        self.check()
        return [self.meta(run_id) for run_id in self.run_ids()]

    def trajectories(self) -> pd.DataFrame:
        """Every stored query as one tidy table, with the run's benchmark, method, repeat, ... on each row."""
        self.check()
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


def _writer_gone(partial: Path) -> bool:
    try:
        age = time.time() - partial.stat().st_mtime
    except FileNotFoundError:
        return False  # its writer just renamed or removed it
    writer = _WRITER.search(partial.name)
    if writer is None:
        return True
    if writer["host"] != _HOST:
        return age > _FOREIGN_HOST_GRACE_S
    return not process_alive(int(writer["pid"]))
