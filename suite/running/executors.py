"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same task, `task(run, store_root)`, which computes a run and writes it to the store
path itself, so stores come out bit for bit the same whichever executor made them, and a worker that dies
loses only the run it was computing. `results()` yields (run, outcome-callable) as runs finish; `stop()`
cancels what is queued and ends the workers, and is safe to call twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import queue
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Protocol

from suite.errors import NasreproError

Task = Callable[[Any, str], Any]
_PR_SET_PDEATHSIG = 1


class Executor(Protocol):
    def results(self, task: Task, runs: Sequence, root: str) -> Iterator[tuple[Any, Callable[[], Any]]]: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ExecutorOptions:
    workers: int = 1
    scheduler: str | None = None  # address of a running Dask scheduler


def limit_threads() -> None:
    # Runs are spread over processes; threads inside a run would fight over the same cores and make
    # floating-point reductions depend on scheduling. numpy (and its BLAS) is already loaded by the time a
    # worker unpickles a task, so the environment variable alone would come too late: threadpoolctl limits
    # the pools already loaded, the variable those loaded later.
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = "1"
    threadpool_limits(limits=1)


def _die_with_parent(parent: int) -> None:
    """A worker ends when the process that started it ends, even by kill -9 (Linux: PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _init_local_worker(parent: int) -> None:
    _die_with_parent(parent)
    # The parent alone decides how to stop on Ctrl-C (the terminal sends it to the whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()


class InlineExecutor:
    """One run after another in this process (--workers 1)."""

    def results(self, task: Task, runs: Sequence, root: str) -> Iterator[tuple[Any, Callable[[], Any]]]:
        for run in runs:
            yield run, functools.partial(task, run, root)

    def stop(self) -> None:
        pass


class LocalExecutor:
    """Local worker processes (spawned, so each starts clean)."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_init_local_worker, initargs=(os.getpid(),)
        )

    def results(self, task: Task, runs: Sequence, root: str) -> Iterator[tuple[Any, Callable[[], Any]]]:
        # Finished futures arrive on a queue, not through concurrent.futures.wait(): a stop signal raises
        # wherever the main thread is, and inside wait() that can be halfway through taking every future's
        # lock, which then stays held; the pool's manager thread blocks on it, and the exit, which joins
        # that thread, hangs. Blocked in SimpleQueue.get(), the main thread holds no lock of the pool's.
        finished: queue.SimpleQueue = queue.SimpleQueue()
        futures = {}
        for run in runs:
            future = self.pool.submit(task, run, root)
            futures[future] = run
            future.add_done_callback(finished.put)
        try:
            for _ in range(len(futures)):
                future = finished.get()
                yield futures[future], future.result
        finally:
            self.stop()

    def stop(self) -> None:
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a run in flight is lost; its temp directory is cleaned on the next start
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(timeout=5)


def _dask_task(task: Task, run: Any, root: str) -> Any:
    limit_threads()
    return task(run, root)


class DaskExecutor:
    """A Dask cluster: the one at `scheduler`, or a LocalCluster of `workers` single-threaded processes."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise NasreproError("--executor dask needs the `distributed` package") from exc
        self.cluster = None
        # Dask's own log lines stay quiet, with a local cluster or a remote scheduler: a lost worker's runs
        # are named by the runner, one line each, and Dask's account of the same loss (e.g. the client's
        # "Couldn't gather 1 keys, rescheduling") would come as lines of another format. Dask's config gives
        # `distributed` and `distributed.client` stream handlers of their own: every such handler is raised
        # to CRITICAL until stop().
        from distributed.utils import silence_logging_cmgr

        self._quiet = contextlib.ExitStack()
        for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]:
            self._quiet.enter_context(silence_logging_cmgr(logging.CRITICAL, root=name))
        try:
            if scheduler is None:
                # The cluster's processes are silenced too (silence_logs). With no dashboard the scheduler
                # still serves HTTP, by default on port 8787: a second cluster on the machine would find it
                # taken and warn, so it takes a free local port.
                self.cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                    host="127.0.0.1", silence_logs=logging.CRITICAL,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                )
                self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler, timeout="10s")
        except OSError as exc:
            self.stop()
            raise NasreproError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc

    def results(self, task: Task, runs: Sequence, root: str) -> Iterator[tuple[Any, Callable[[], Any]]]:
        from distributed import as_completed

        futures = {
            self.client.submit(_dask_task, task, run, root, pure=False, key=f"nasrepro-run-{run.run_id}"): run
            for run in runs
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result
        finally:
            self.client.cancel(list(futures))
            self.stop()

    def stop(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
            self.client = None  # type: ignore[assignment]  # stopped: no client from here on
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        self._quiet.close()


def _local(options: ExecutorOptions) -> Executor:
    return InlineExecutor() if options.workers <= 1 else LocalExecutor(options.workers)


def _dask(options: ExecutorOptions) -> Executor:
    return DaskExecutor(options.workers, options.scheduler)


EXECUTORS: dict[str, Callable[[ExecutorOptions], Executor]] = {"local": _local, "dask": _dask}


def get(name: str, options: ExecutorOptions) -> Executor:
    if name not in EXECUTORS:
        raise NasreproError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    if options.scheduler is not None and name != "dask":
        raise NasreproError("--scheduler needs --executor dask")
    return EXECUTORS[name](options)
