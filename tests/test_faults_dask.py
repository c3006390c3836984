"""`--executor dask` makes the same store, bit for bit, as the local executor (LocalCluster and a CLI cluster),
and survives its faults: a worker killed mid-run loses only its runs in flight, which the next invocation
redoes; a stop signal ends the cluster's processes and says how to resume."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from suite.running.runner import run_experiment
from suite.running.spec import Budget, ExperimentSpec
from suite.running.store import Store

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


def cli_cluster(request, n_workers: int, env=None) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and `n_workers` workers started as separate processes from the command line."""
    env = {**ENV, **(env or {})}
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                                 env=env, stderr=subprocess.PIPE, text=True)
    workers: list[subprocess.Popen] = []

    def end_all():
        for process in (*workers, scheduler):
            process.terminate()
            process.wait(timeout=30)

    request.addfinalizer(end_all)
    address = None
    deadline = time.monotonic() + 60
    while address is None and time.monotonic() < deadline:
        match = re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", scheduler.stderr.readline())
        address = match and match[1]
    assert address, "the scheduler did not start"
    workers += [subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host",
                                  "127.0.0.1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for _ in range(n_workers)]
    return address, workers


@pytest.mark.slow
def test_a_scheduler_and_worker_started_from_the_command_line_make_the_same_store(local, tmp_path, request):
    address, _ = cli_cluster(request, 1)
    result = subprocess.run(
        [sys.executable, "-m", "suite.cli", "run", "--benchmark", "nb201-cifar10", "--method", "rs,re",
         "--seeds", "0-1", "--budget", "15", "--quiet", "--executor", "dask", "--scheduler", address,
         "--out", str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert_same_store(local, Store(tmp_path))


# -- faults: a worker killed mid-run, a stop signal -----------------------------------------------------------
# Enough runs (a few seconds on two workers) that a fault lands while runs are in flight.
SEEDS = "0-99"
FAULT_RUN = ["run", "--benchmark", "nb201-cifar10", "--method", "rs,re", "--seeds", SEEDS, "--budget", "100",
             "--quiet", "--executor", "dask", "--workers", "2"]
# A scheduler that gives up on a run at the first worker lost under it, so that the run is lost to this
# invocation (by default Dask retries it on another worker, and nothing is lost at all).
GIVE_UP_AT_ONCE = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}


def fault_runs():
    return ExperimentSpec(("nb201-cifar10",), ("rs", "re"), tuple(range(100)), Budget(100)).runs()


@pytest.fixture(scope="module")
def local_faults(tmp_path_factory):
    root = tmp_path_factory.mktemp("local-faults")
    run_experiment(fault_runs(), Store(root), progress=False)
    return trajectories(Store(root))


def trajectories(store: Store) -> dict[str, bytes]:
    return {run_id: (store.runs_dir / run_id / "trajectory.parquet").read_bytes() for run_id in store.run_ids()}


def start_dask_run(out: Path, request, env=None):
    """`nasrepro run --executor dask` with a LocalCluster of 2 workers, once it has stored its first runs;
    returns it, every process it started, and its two Dask worker processes. Dask's default HTTP port is
    taken meanwhile, as by another cluster on the machine: that must not add a line to the output."""
    taken = socket.socket()
    request.addfinalizer(taken.close)
    with contextlib.suppress(OSError):  # already taken by something else: the same situation
        taken.bind(("127.0.0.1", 8787))
        taken.listen()
    process = subprocess.Popen([sys.executable, "-m", "suite.cli", *FAULT_RUN, "--out", str(out)],
                               env={**ENV, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    descendants: list[psutil.Process] = []

    def no_process_left():
        process.kill()
        process.wait()
        for child in descendants:
            if child.is_running():
                child.kill()

    request.addfinalizer(no_process_left)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and len(Store(out).run_ids()) < 2:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before a fault could be made"
    descendants += psutil.Process(process.pid).children(recursive=True)
    workers = [child for child in descendants if "spawn_main" in " ".join(child.cmdline())]
    assert len(workers) == 2, [child.cmdline() for child in descendants]
    return process, descendants, workers


def all_gone(processes, within=30.0) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=within)
    return not alive


def test_a_worker_killed_mid_run_loses_only_its_runs_which_the_next_invocation_redoes(local_faults, tmp_path, request):
    out = tmp_path / "store"
    process, descendants, workers = start_dask_run(out, request, env=GIVE_UP_AT_ONCE)
    before = trajectories(Store(out))
    workers[0].kill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    lost = re.findall(r"^failed: nb201-cifar10/(rs|re)/seed (\d+): KilledWorker", stderr, re.MULTILINE)
    # one line per lost run, and nothing else (no log lines of the cluster)
    assert lost and len(lost) == len(stderr.strip().splitlines()), stderr
    # a run whose result was lost with the worker after it was stored may be computed again: "already in"
    counts = re.fullmatch(r"(\d+) runs stored, (\d+) already in \S+, (\d+) failed", stdout.strip())
    assert int(counts[1]) + int(counts[2]) == 200 - len(lost) and int(counts[3]) == len(lost)
    assert all_gone(descendants)  # the cluster's processes ended with the run
    store = Store(out)
    after = trajectories(store)
    assert {run_id: after[run_id] for run_id in before} == before  # what was stored stays, byte for byte
    lost_ids = {run.run_id for run in fault_runs() if (run.method, str(run.repeat)) in set(lost)}
    assert set(after) == set(local_faults) - lost_ids and store.damaged() == {}

    rerun = run_experiment(fault_runs(), store, workers=2, progress=False, executor="dask")
    assert set(rerun.stored) == lost_ids and not rerun.failed  # the lost runs, and only they, are redone
    assert trajectories(store) == local_faults
    assert not [p for p in store.runs_dir.iterdir() if p.name.startswith(".partial-")]


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_nothing_when_dask_may_retry_its_runs(local_faults, tmp_path, request):
    out = tmp_path / "store"
    process, descendants, workers = start_dask_run(out, request)
    workers[1].kill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0 and stderr == "", stderr
    assert all_gone(descendants)
    assert trajectories(Store(out)) == local_faults


QUIET_CHECK = """
import logging, sys
from distributed import LocalCluster
from suite.running.executors import DaskExecutor
# a free port for its HTTP server too: 8787 may be taken (by another cluster, or start_dask_run on purpose)
remote = LocalCluster(n_workers=0, processes=False, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) if sys.argv[1] == "remote" else None
executor = DaskExecutor(1, remote.scheduler_address if remote else None)
logging.getLogger("distributed.client").warning("Couldn't gather 1 keys, rescheduling")
logging.getLogger("distributed.worker").warning("a worker's complaint")
executor.stop()
logging.getLogger("distributed.client").warning("after the executor")
"""


@pytest.mark.parametrize("scheduler", ["local", "remote"])
def test_dask_log_lines_stay_quiet_while_the_executor_lives(scheduler):
    """Dask's client warns in its own format when a lost worker's result must be rescheduled; the runner
    names each lost run in one line, so Dask's lines are silenced for the executor's life, no longer,
    with its own cluster or a scheduler's. In a process of its own, as the CLI runs it (pytest's logging
    plugin reroutes Dask's handlers)."""
    done = subprocess.run([sys.executable, "-c", QUIET_CHECK, scheduler], env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("distributed.client - WARNING - after the executor"), lines


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_ends_the_cluster_and_the_rerun_resumes_to_the_same_store(local_faults, tmp_path, request,
                                                                              signum, status):
    out = tmp_path / "store"
    process, descendants, _ = start_dask_run(out, request)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status
    stored = int(re.fullmatch(r"nasrepro: interrupted: (\d+) of 200 runs stored; rerun the same command to resume",
                              stderr.strip())[1])
    assert all_gone(descendants)  # workers (and their resource tracker) ended, none re-parented to PID 1
    store = Store(out)
    assert len(store.run_ids()) == stored < 200 and store.damaged() == {}
    rerun = run_experiment(fault_runs(), store, progress=False)  # a store is the same whichever executor resumes it
    assert len(rerun.skipped) == stored and not rerun.failed
    assert trajectories(store) == local_faults


@pytest.mark.slow
def test_a_command_line_worker_killed_mid_run_loses_only_its_runs_which_the_next_invocation_redoes(
        local_faults, tmp_path, request):
    address, nannies = cli_cluster(request, 2, env=GIVE_UP_AT_ONCE)
    out = tmp_path / "store"
    command = [sys.executable, "-m", "suite.cli", *FAULT_RUN[:-2], "--scheduler", address, "--out", str(out)]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    request.addfinalizer(process.kill)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and len(Store(out).run_ids()) < 2:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before a worker could be killed"
    before = trajectories(Store(out))
    # `dask worker` is a nanny: the process it spawned runs the tasks
    children = psutil.Process(nannies[0].pid).children()
    (worker,) = (child for child in children if "spawn_main" in " ".join(child.cmdline()))
    worker.kill()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    lost = re.findall(r"^failed: nb201-cifar10/(rs|re)/seed (\d+): KilledWorker", stderr, re.MULTILINE)
    assert lost and len(lost) == len(stderr.strip().splitlines()), stderr
    after = trajectories(Store(out))
    assert {run_id: after[run_id] for run_id in before} == before
    lost_ids = {run.run_id for run in fault_runs() if (run.method, str(run.repeat)) in set(lost)}
    assert set(after) == set(local_faults) - lost_ids

    rerun = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert re.fullmatch(rf"{len(lost_ids)} runs stored, {200 - len(lost_ids)} already in \S+, 0 failed",
                        rerun.stdout.strip())
    assert trajectories(Store(out)) == local_faults


def test_kill_9_of_the_command_ends_its_cluster_and_the_rerun_completes_the_store(local_faults, tmp_path, request):
    out = tmp_path / "store"
    process, descendants, _ = start_dask_run(out, request)
    process.kill()
    process.wait()
    assert all_gone(descendants)  # the workers notice their parent is gone and end; none re-parented to PID 1
    store = Store(out)
    assert store.damaged() == {}
    run_experiment(fault_runs(), store, progress=False)
    assert trajectories(store) == local_faults
    assert not [p for p in store.runs_dir.iterdir() if p.name.startswith(".partial-")]  # the dead workers'


@pytest.mark.slow
def test_ctrl_c_with_a_remote_scheduler_counts_what_the_store_holds_once_the_runs_in_flight_end(
        local_faults, tmp_path, request):
    """A remote worker cannot be made to drop the run it is computing: it finishes and stores it after the
    client has gone. The stop waits for those runs, so the count it prints is what the store holds."""
    address, _ = cli_cluster(request, 2)
    out = tmp_path / "store"
    command = [sys.executable, "-m", "suite.cli", *FAULT_RUN[:-2], "--scheduler", address, "--out", str(out)]
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    request.addfinalizer(process.kill)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and len(Store(out).run_ids()) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 130, stderr
    stored = int(re.fullmatch(r"nasrepro: interrupted: (\d+) of 200 runs stored; rerun the same command to resume",
                              stderr.strip())[1])
    time.sleep(5)  # a run the workers were still computing would be stored by now
    assert len(Store(out).run_ids()) == stored < 200
    rerun = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert trajectories(Store(out)) == local_faults
