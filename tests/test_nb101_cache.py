"""Damaged NB101 cache files are rebuilt, an unusable cache directory is refused in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from suite import data
from suite.benchmarks import cache_files, nb101_space
from suite.cli import main
from suite.errors import DataError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    return data.cache_dir()


def _saved(cache) -> tuple[os.PathLike, dict[str, np.ndarray]]:
    arrays = {"a": np.arange(1000, dtype=np.int64), "b": np.linspace(0, 1, 500)}
    path = cache / "thing.npz"
    cache_files.save_npz(path, arrays)
    return path, arrays


def test_a_checked_file_reads_back(cache):
    path, arrays = _saved(cache)
    back = cache_files.load_npz(path, "thing")
    assert back.keys() == arrays.keys() and all(np.array_equal(back[k], arrays[k]) for k in arrays)
    assert cache_files.load_npz(cache / "absent.npz", "thing") is None


def test_a_write_that_fails_midway_leaves_the_previous_file_and_no_temp_file(cache, monkeypatch):
    path, arrays = _saved(cache)

    def disk_full(fh, **_):
        fh.write(b"PK half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(DataError, match="cannot write cache file .*No space left"):
        cache_files.save_npz(path, {"a": np.zeros(3)})
    back = cache_files.load_npz(path, "thing")
    assert back is not None and np.array_equal(back["a"], arrays["a"])
    assert sorted(p.name for p in cache.iterdir()) == ["thing.npz", "thing.npz.sha256"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "no digest", "garbage"])
def test_a_damaged_file_is_treated_as_absent_with_one_line(cache, capsys, damage):
    path, _ = _saved(cache)
    blob = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        blob[len(blob) // 3] ^= 0x10
        path.write_bytes(bytes(blob))
    elif damage == "no digest":
        path.with_name(path.name + ".sha256").unlink()
    else:  # a file with a matching digest that numpy cannot read
        path.write_bytes(b"not a zip file")
        path.with_name(path.name + ".sha256").write_text(data.sha256_of(path))
    assert cache_files.load_npz(path, "thing") is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged cache file" in err[0] and "rebuilding" in err[0]


def test_a_damaged_cell_table_is_rebuilt(cache, monkeypatch, capsys):
    # The table's loader, on a flipped bit, rebuilds (enumeration replaced by a small stand-in table).
    small = nb101_space.CellTable(
        hashes=np.array([b"a" * 32], dtype="S32"), n_vertices=np.array([2], np.int8), edges=np.array([1], np.uint32),
        labels=np.zeros((1, 7), np.int8), params=np.array([1], np.int64), lookup_keys=np.array([0], np.int64),
        lookup_rows=np.array([0], np.int32))
    monkeypatch.setattr(nb101_space, "N_CELLS", 1)
    built = []
    monkeypatch.setattr(nb101_space, "enumerate_cells", lambda: built.append(1) or small)
    path = nb101_space.CellTable.path()
    small.save(path)
    assert nb101_space.CellTable.load().hashes.tolist() == small.hashes.tolist() and not built
    blob = bytearray(path.read_bytes())
    blob[-40] ^= 1
    path.write_bytes(bytes(blob))
    assert nb101_space.CellTable.load().hashes.tolist() == small.hashes.tolist() and built == [1]
    assert "damaged cache file" in capsys.readouterr().err
    assert cache_files.load_npz(path, "table") is not None  # rebuilt and checked again


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_cache_directory_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv(data.CACHE_ENV, str(blocker if where == "a file" else blocker / "cache"))
    monkeypatch.setattr(nb101_space, "enumerate_cells", lambda: pytest.fail("enumerated before the check"))
    assert main(["data", "prepare", "nb101"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cache directory" in err[0] and data.CACHE_ENV in err[0]


def test_a_read_only_cache_directory_without_the_table_is_refused_before_any_work(cache, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data, "make_writable_dir", refuse)  # root ignores chmod: simulate EACCES
    assert data.cache_dir() == cache  # reading needs no write
    with pytest.raises(DataError, match="not a writable directory"):
        data.writable_cache_dir()
    monkeypatch.setattr(nb101_space, "enumerate_cells", lambda: pytest.fail("enumerated before the check"))
    with pytest.raises(DataError, match="not a writable directory"):
        nb101_space.CellTable.load()


def test_a_complete_read_only_cache_is_read(nb101_small, monkeypatch, capsys):
    """A cache prepared once and shared read-only (a cluster's workers): only work that would write is refused."""
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(data, "make_writable_dir", refuse)
    monkeypatch.setattr(nb101_space, "enumerate_cells", lambda: pytest.fail("enumerated a cached table"))
    assert nb101_space.CellTable.load().hashes.tolist() == nb101_small.space.table.hashes.tolist()
    assert main(["data", "prepare", "nb101"]) == 0  # the registry's nb101 (tests/conftest.py), from the cache
    assert "nb101: oracle" in capsys.readouterr().out


READ_ONLY_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest_small import register_small_nb101
register_small_nb101()
from suite.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare -m as root")
def test_a_run_reads_a_complete_cache_on_a_read_only_mount(nb101_small, tmp_path):
    """The real thing: the test run's cache bind-mounted read-only in a mount namespace of its own."""
    cache = data.cache_dir()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no mount namespaces here")
    command = ["unshare", "-m", "sh", "-c",
               'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"', "sh", str(cache),
               sys.executable, "-c", READ_ONLY_RUN, str(Path(__file__).parent),
               "run", "--benchmark", "nb101", "--method", "rs", "--seeds", "0", "--budget", "5", "--quiet",
               "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("1 runs stored")
    (tmp_path / "empty").mkdir()
    command[6] = str(tmp_path / "empty")  # a read-only cache without the table: refused in one line, exit 2
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, data.CACHE_ENV: str(tmp_path / "empty")})
    assert done.returncode == 2 and "not a writable directory" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_chmod_read_only_cache_directory_is_refused(cache):
    cache.chmod(0o555)
    try:
        with pytest.raises(DataError, match="not a writable directory"):
            data.cache_dir()
    finally:
        cache.chmod(0o755)
