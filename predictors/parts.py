"""The predictor benchmark's resumable store: each finished target is one part file under OUT/parts.

A part is `parts/<target>-<hash of its setting>.csv` with a manifest beside it (`.csv.json`: sha256 of the
CSV, its row count, the setting). Both are written atomically (a temporary file named after the writer's
process, then a rename), the CSV first, so a crash leaves either no part, a CSV without manifest, or both.
A part counts as done only when its manifest names the CSV's sha256 and the CSV holds the rows the setting
calls for; anything else (truncated, edited, manifest missing or unreadable) is damaged: it is moved aside
to `parts/damaged/` (never deleted) and the target is recomputed. Temporary files are removed only once
the process that wrote them is gone, so two writers on one directory never delete each other's work.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from suite.atomic import TMP_SUFFIX, process_alive, replaced

DAMAGED = "damaged"


@dataclass(frozen=True)
class Part:
    csv: Path
    setting: dict[str, Any]
    rows: int  # rows a complete part holds

    @property
    def manifest(self) -> Path:
        return self.csv.with_name(self.csv.name + ".json")

    def exists(self) -> bool:
        return self.csv.exists() or self.manifest.exists()


def part_for(parts_dir: Path, target: str, setting: dict[str, Any], rows: int) -> Part:
    digest = hashlib.sha256(json.dumps(setting, sort_keys=True).encode()).hexdigest()[:12]
    return Part(parts_dir / f"{target}-{digest}.csv", setting, rows)


def _write_bytes(path: Path, data: bytes) -> None:
    with replaced(path) as tmp:
        tmp.write_bytes(data)


def save(part: Part, frame: pd.DataFrame) -> None:
    if len(frame) != part.rows:
        raise ValueError(f"a part of {part.rows} rows cannot hold {len(frame)}")
    data = frame.to_csv(index=False).encode()
    part.csv.parent.mkdir(parents=True, exist_ok=True)
    _write_bytes(part.csv, data)
    manifest = {"sha256": hashlib.sha256(data).hexdigest(), "rows": len(frame), "setting": part.setting}
    _write_bytes(part.manifest, json.dumps(manifest, sort_keys=True, indent=1).encode())


def problem(part: Part) -> str | None:
    """Why the stored part cannot count as done, or None when it verifies."""
    if not part.csv.is_file():
        return "the CSV is missing"
    try:
        manifest = json.loads(part.manifest.read_text())
        expected_sha, expected_rows = manifest["sha256"], manifest["rows"]
    except FileNotFoundError:
        return "no manifest (the write did not finish)"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable manifest"
    data = part.csv.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha:
        return "sha256 differs from its manifest (truncated or edited)"
    if expected_rows != part.rows or manifest.get("setting") != part.setting:
        return f"manifest describes {expected_rows} rows of another setting, expected {part.rows}"
    try:
        rows = len(pd.read_csv(io.BytesIO(data)))
    except (ValueError, pd.errors.ParserError):
        return "the CSV does not parse"
    return None if rows == part.rows else f"{rows} rows, expected {part.rows}"


def read(part: Part) -> pd.DataFrame:
    return pd.read_csv(part.csv)


def move_aside(part: Part) -> Path:
    """Move a damaged part's files to parts/damaged/ under a fresh name; returns the directory."""
    aside = part.csv.parent / DAMAGED
    aside.mkdir(exist_ok=True)
    n = 1
    while any((aside / f"{p.name}.{n}").exists() for p in (part.csv, part.manifest)):
        n += 1
    for p in (part.csv, part.manifest):
        if p.exists():
            p.replace(aside / f"{p.name}.{n}")
    return aside


def remove_orphans(parts_dir: Path, alive: Callable[[int], bool] = process_alive) -> list[Path]:
    """Remove the temporary files of writers that are gone; returns what was removed."""
    removed = []
    for tmp in parts_dir.glob(f".*{TMP_SUFFIX}"):
        pid = tmp.name.removesuffix(TMP_SUFFIX).rsplit(".", 1)[-1]
        if pid.isdigit() and not alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed
