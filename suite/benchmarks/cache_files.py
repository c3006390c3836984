"""Derived files in the cache directory, each checked by a sha256 stored beside it.

A cache file is written to a temporary name and renamed (a concurrent reader never sees half of it),
and its digest goes to `<name>.sha256`, written last. A reader that finds no digest, a different
digest, or a file numpy cannot read treats the file as absent, so a truncated or bit-flipped cache is
rebuilt instead of crashing in `zipfile`. A cache directory that cannot be written is refused with one
line before any work that would need to write it.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np

from suite import data
from suite.atomic import replaced
from suite.errors import DataError


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def load_npz(path: Path, what: str) -> dict[str, np.ndarray] | None:
    """The arrays of a checked cache file, or None if it is absent; a damaged file is reported on
    stderr in one line and treated as absent (the caller rebuilds it)."""
    if not path.is_file():
        return None
    try:
        expected = _digest_path(path).read_text().strip()
    except OSError:
        expected = None
    try:
        if expected is None or data.sha256_of(path) != expected:
            raise ValueError("sha256 differs from the one stored beside it")
        with np.load(path) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        print(f"nasrepro: damaged cache file {path} ({what}: {exc}); rebuilding it", file=sys.stderr)
        return None


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically, then the digest; the directory must have been checked with data.writable_cache_dir()."""
    try:
        with replaced(path) as tmp:
            with tmp.open("wb") as fh:  # a file object: np.savez would append ".npz" to a path
                np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub takes **arrays for allow_pickle
            digest = data.sha256_of(tmp)
        with replaced(_digest_path(path)) as tmp:
            tmp.write_text(digest + "\n")
    except OSError as exc:
        raise DataError(f"cannot write cache file {path}: {exc.strerror}") from None
