"""The data directory (read-only, real benchmark data) and the cache directory (derived files).

Every file nasrepro reads from the data directory is listed in `FILES` with its sha256, so a
missing or altered file stops the program with a message naming it, before any run starts.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import platformdirs

from suite.atomic import make_writable_dir
from suite.errors import DataError

DATA_ENV = "NASREPRO_DATA"
CACHE_ENV = "NASREPRO_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DataFile:
    relpath: str
    sha256: str
    what: str


FILES: dict[str, DataFile] = {
    f.relpath: f
    for f in (
        DataFile(
            "nb201/nb201.csv.gz",
            "45fd65a8ebdfa381d65f96dbba579c73808f3f064df8ef2db1557405256afa01",
            "NAS-Bench-201, all 15,625 cells, real results",
        ),
        DataFile(
            "nb101/nb101_subset20k.csv.gz",
            "bb79ffb3f46b8fe134614e0aee5da2aba4a285500f0cbfb155915c3418c65c84",
            "NAS-Bench-101, real 108-epoch results of 20,001 cells",
        ),
        DataFile(
            "nb101/nb101_test_evox6760.csv.gz",
            "653298eebfc7a1bedde6ba99b48ad69d83211748634e0cad41f30aeb9dac1276",
            "NAS-Bench-101, real 108-epoch test accuracy (mean of 3 repeats) of 6,760 cells",
        ),
        DataFile(
            "nb101/nb101_test_cec12959.csv.gz",
            "c1e9f14962b9847d9d151fed09ca283d23bf3036a7a6d2a55e7fe87ddd266eb8",
            "NAS-Bench-101, real 108-epoch test accuracy (mean of 3 repeats) of 12,959 cells, rich in top cells",
        ),
        DataFile(
            "nb301/yahpo_nb301_surrogate.onnx",
            "3c6a6fb3a70998bf6c55883bdc5cc71cff190e1859468d72cc6960b88f06d280",
            "NAS-Bench-301 ONNX surrogate (YAHPO Gym nb301)",
        ),
        DataFile(
            "nb301/nb301_xgb_labelled_1218.csv",
            "5eb65f1247e530a280c669e87b6cf1881c651ce14cb6df36ae4b89b5c8c13f3d",
            "1,218 DARTS cells labelled by the NB301 XGB surrogate",
        ),
        DataFile(
            "nb301/encoding.json",
            "b16bb8db9aa5a9b688cd97e782643abe96bd166baa445675f57cbcf5e6128a98",
            "NAS-Bench-301 ONNX surrogate input encoding",
        ),
        DataFile(
            "nb301/config_space.json",
            "3135c6f8347f491fd31e8fa7a5e9607ea926c9a8558a6a21a1419d55a01884f2",
            "NAS-Bench-301 ConfigSpace (DARTS cell parameters)",
        ),
    )
}


def data_dir() -> Path:
    """`NASREPRO_DATA`, or `../shared/data` beside the repository."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def cache_dir() -> Path:
    """`NASREPRO_CACHE`, or the user cache directory; created on demand. It may be read-only (a cache prepared
    once and shared with a cluster's workers): whatever would write into it asks `writable_cache_dir()`."""
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("nasrepro"))
    if path.is_dir():
        return path
    return writable_cache_dir(path)


def writable_cache_dir(path: Path | None = None) -> Path:
    """The cache directory, proved writable: called before work whose result must be cached (enumerating,
    fitting), so an unusable cache is refused before that work, not after it."""
    path = path or cache_dir()
    try:
        make_writable_dir(path)
    except OSError as exc:
        raise DataError(
            f"cache directory {path} is not a writable directory ({exc.strerror or exc}); "
            f"set {CACHE_ENV} to one"
        ) from None
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _verified(path: Path, size: int, mtime_ns: int, expected: str) -> str:
    # Keyed by size and mtime so a file replaced while the process runs is checked again.
    actual = sha256_of(path)
    if actual != expected:
        raise DataError(
            f"corrupt data file {path}: sha256 {actual[:12]}..., expected {expected[:12]}...; "
            f"restore the original file (see {data_dir() / 'README.md'})"
        )
    return actual


def require(relpath: str) -> Path:
    """The checked path of a data file, or a `DataError` that names it and what to do."""
    entry = FILES.get(relpath)
    if entry is None:
        raise DataError(f"{relpath} is not a known nasrepro data file")
    path = data_dir() / relpath
    try:
        exists = path.is_file()
    except OSError as exc:
        raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from None
    if not exists:
        raise DataError(
            f"missing data file {path} ({entry.what}); set {DATA_ENV} to the directory that holds "
            f"{relpath}, default ../shared/data beside the repository"
        )
    try:
        stat = path.stat()
        _verified(path, stat.st_size, stat.st_mtime_ns, entry.sha256)
    except OSError as exc:
        raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from None
    return path
