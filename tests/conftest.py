"""Hermetic tests: everything a test run writes goes under one temporary directory, made here before any
test module is imported (modules copy os.environ for their subprocesses) and removed at the end of the run.

`NASREPRO_CACHE` is a cache of this run alone, so the NB101 cell table and the small surrogate below are
built once per run, on any machine, and the user's cache is never touched. Other programs' caches
(matplotlib's font list, Dask's configuration files, anything under XDG_CACHE_HOME) go there too. In this
process `nb101` is the NB101 benchmark with a small surrogate (fitted in seconds, predictions cached for the
run): the tests need its cell table and an oracle to query, not the reported surrogate, whose fit would
take minutes of the budget of `make test`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RUN_DIR = Path(tempfile.mkdtemp(prefix="nasrepro-tests-"))
HERMETIC_ENV = {
    "NASREPRO_CACHE": str(RUN_DIR / "nasrepro-cache"),
    "XDG_CACHE_HOME": str(RUN_DIR / "xdg-cache"),
    "MPLCONFIGDIR": str(RUN_DIR / "matplotlib"),
    "DASK_CONFIG": str(RUN_DIR / "dask-config"),
}
os.environ.update(HERMETIC_ENV)
START_DIR = Path.cwd()
(RUN_DIR / "cwd").mkdir()

from conftest_small import register_small_nb101  # noqa: E402 - after the environment: no user cache is seen

from suite import benchmarks  # noqa: E402
from suite.benchmarks import nb101  # noqa: E402

register_small_nb101()


def pytest_sessionstart(session: pytest.Session) -> None:
    """A relative path a command is given (or makes up, as `--out ""` once did) lands in the run's directory
    too. Not at import: pytest resolves `testpaths` after loading this file, from the directory it was started in."""
    os.chdir(RUN_DIR / "cwd")


def pytest_unconfigure(config: pytest.Config) -> None:
    os.chdir(START_DIR)
    shutil.rmtree(RUN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def nb201_c10():
    return benchmarks.get("nb201-cifar10")


@pytest.fixture(scope="session")
def nb101_small() -> nb101.Nb101:
    """Built on first use (cell table and surrogate predictions into the run's cache), then shared."""
    return benchmarks.get("nb101")


@pytest.fixture
def cpu_on_one_core(benchmark) -> Callable[..., tuple[Any, float]]:
    """Time `fn` with pytest-benchmark on one CPU; returns (its result, the least CPU seconds over the
    rounds). The calling thread is pinned (sched_setaffinity(0) pins the caller only): the searches
    timed here run on it, torch and BLAS limited to one thread. The minimum: on a shared virtual machine
    single rounds vary by 20-30%."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})

    def measure(fn: Callable[[], Any], rounds: int) -> tuple[Any, float]:
        cpu: list[float] = []

        def once() -> Any:
            start = time.process_time()
            result = fn()
            cpu.append(time.process_time() - start)
            return result

        result = benchmark.pedantic(once, rounds=rounds, iterations=1)
        benchmark.extra_info["cpu_s"] = min(cpu)
        return result, min(cpu)

    yield measure
    os.sched_setaffinity(0, before)


class PluginSite:
    """Plugin distributions laid out as pip lays them out (a module beside a `NAME-VERSION.dist-info` with
    METADATA and entry_points.txt) in a directory on sys.path and on PYTHONPATH (for child processes)."""

    def __init__(self, site, monkeypatch: pytest.MonkeyPatch) -> None:
        self.site = site
        self.planted: set[str] = set()
        site.mkdir()
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))

    def install(self, distribution: str, version: str, modules: dict[str, str],
                entry_points: dict[str, dict[str, str]]) -> None:
        import importlib
        import shutil
        import sys
        import textwrap

        from suite import registry

        stem = distribution.replace("-", "_")
        for info in self.site.glob(f"{stem}-*.dist-info"):  # another release of it: replaced
            shutil.rmtree(info)
        for name, source in modules.items():
            (self.site / f"{name}.py").write_text(textwrap.dedent(source))
            sys.modules.pop(name, None)
            self.planted.add(name)
        info = self.site / f"{stem}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        lines = []
        for group, entries in entry_points.items():
            lines += [f"[{group}]", *(f"{name} = {target}" for name, target in entries.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()
        registry.clear()

    def close(self) -> None:
        import sys

        from suite import registry

        registry.clear()
        for name in self.planted:
            sys.modules.pop(name, None)


@pytest.fixture
def plant(tmp_path, monkeypatch):
    """install(distribution, version, modules={name: source}, entry_points={group: {name: target}}): plugin
    distributions for one test (PluginSite); the registry forgets them afterwards."""
    site = PluginSite(tmp_path / "site", monkeypatch)
    yield site.install
    site.close()


@pytest.fixture(scope="module")
def plant_for_module(tmp_path_factory):
    """`plant` for every test of a module."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        site = PluginSite(tmp_path_factory.mktemp("plugins") / "site", monkeypatch)
        yield site.install
        site.close()
