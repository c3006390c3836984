"""How a run's time grows with its budget (`make bench`, issue 12): every method at 50, 150, 300 and 600
queries on NB201 CIFAR-10 and NB101, one run each, one core. results/bench.md reads these figures."""

import pytest
import torch  # noqa: F401  loaded before timing: its import is start-up, not search

from suite import benchmarks
from suite.running.runner import execute
from suite.running.spec import Budget, ExperimentSpec

pytestmark = pytest.mark.bench

METHODS = ("rs", "re", "bananas", "ganas", "ganas-mle")
BUDGETS = (50, 150, 300, 600)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bench_name", ["nb201-cifar10", "nb101"])
def test_run_time_against_budget(benchmark, bench_name, method, budget):
    benchmarks.get(bench_name)  # built (and kept for the process) before timing
    run = ExperimentSpec((bench_name,), (method,), (0,), Budget(budget)).runs()[0]
    trajectory, _ = benchmark.pedantic(execute, args=(run,), rounds=1, iterations=1, warmup_rounds=0)
    assert len(trajectory) == budget
