"""Speed target of issue 5: one 150-query GA-NAS run on one core in at most 60 s (NB201 and NB101)."""

import os
import time

import pytest

from suite import benchmarks
from suite.runner import execute
from suite.spec import Budget, ExperimentSpec

TARGET_S = 60.0


@pytest.fixture
def one_core():
    """Pin the process to one CPU for the measurement (GA-NAS itself runs torch on one thread)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    yield
    os.sched_setaffinity(0, before)


@pytest.mark.bench
@pytest.mark.parametrize("name", ["nb201-cifar10", "nb101"])
@pytest.mark.parametrize("method", ["ganas", "ganas-mle"])
def test_one_150_query_run_on_one_core(benchmark, one_core, name, method):
    if name not in benchmarks.names():
        pytest.skip(f"{name} is not registered here")
    benchmarks.get(name)  # load the data outside the timing: the runner keeps it for the process
    run = ExperimentSpec((name,), (method,), (0,), Budget(queries=150)).runs()[0]
    cpu = []

    def one_run():
        start = time.process_time()
        trajectory, _ = execute(run)
        cpu.append(time.process_time() - start)
        return trajectory

    trajectory = benchmark.pedantic(one_run, rounds=1, iterations=1)
    assert len(trajectory) == 150
    benchmark.extra_info["cpu_s"] = cpu[0]
    assert cpu[0] <= TARGET_S, f"{method} on {name}: {cpu[0]:.1f} s of CPU for 150 queries"
