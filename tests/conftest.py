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
