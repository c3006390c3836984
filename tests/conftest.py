from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from suite import benchmarks


@pytest.fixture(scope="session")
def nb201_c10():
    return benchmarks.get("nb201-cifar10")


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
