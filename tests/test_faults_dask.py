"""`--executor dask` makes the same store, bit for bit, as the local executor (LocalCluster and a CLI cluster)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.runner import run_experiment
from suite.spec import Budget, ExperimentSpec
from suite.store import Store

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
DASK = str(Path(sys.executable).with_name("dask"))


def runs():
    return ExperimentSpec(("nb201-cifar10",), ("rs", "re"), (0, 1), Budget(15)).runs()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    outcome = run_experiment(runs(), Store(root), progress=False)
    assert len(outcome.stored) == 4
    return Store(root)


def assert_same_store(a: Store, b: Store):
    assert a.run_ids() == b.run_ids() and len(a.run_ids()) == 4
    for run_id in a.run_ids():
        parquet = "trajectory.parquet"
        assert (a.runs_dir / run_id / parquet).read_bytes() == (b.runs_dir / run_id / parquet).read_bytes()


def test_a_local_dask_cluster_of_two_worker_processes_makes_the_same_store(local, tmp_path):
    store = Store(tmp_path)
    outcome = run_experiment(runs(), store, workers=2, progress=False, executor="dask")
    assert len(outcome.stored) == 4 and not outcome.failed
    assert_same_store(local, store)


@pytest.mark.slow
def test_a_scheduler_and_worker_started_from_the_command_line_make_the_same_store(local, tmp_path):
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard"], env=ENV, stderr=subprocess.PIPE, text=True)
    worker = None
    try:
        address = None
        deadline = time.monotonic() + 60
        while address is None and time.monotonic() < deadline:
            match = re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", scheduler.stderr.readline())
            address = match and match[1]
        assert address, "the scheduler did not start"
        worker = subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                   "--host", "127.0.0.1", "--no-dashboard"], env=ENV,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = subprocess.run(
            [sys.executable, "-m", "suite.cli", "run", "--benchmark", "nb201-cifar10", "--method", "rs,re",
             "--seeds", "0-1", "--budget", "15", "--quiet", "--executor", "dask", "--scheduler", address,
             "--out", str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert_same_store(local, Store(tmp_path))
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
