"""Speed of NAS-Bench-201 queries and of one RE run (`make bench`). Targets: >= 200,000 queries/s, < 20 ms per run."""

import numpy as np
import pytest

from suite.running.runner import execute
from suite.running.spec import Budget, ExperimentSpec

pytestmark = pytest.mark.bench


def test_nb201_single_query_throughput(benchmark, nb201_c10):
    rng = np.random.default_rng(1)
    archs = [nb201_c10.sample(rng) for _ in range(10_000)]
    query = nb201_c10.query

    def run_all():
        for arch in archs:
            query(arch)

    benchmark.extra_info["queries_per_call"] = len(archs)
    benchmark(run_all)


def test_regularized_evolution_150_queries(benchmark, nb201_c10):
    run = ExperimentSpec(("nb201-cifar10",), ("re",), (0,), Budget(150)).runs()[0]
    trajectory, _ = benchmark(execute, run)
    assert len(trajectory) == 150


def test_local_search_150_queries(benchmark, nb201_c10):
    run = ExperimentSpec(("nb201-cifar10",), ("ls",), (0,), Budget(150)).runs()[0]
    trajectory, _ = benchmark(execute, run)
    assert len(trajectory) == 150
    assert benchmark.stats.stats.min < 0.02
