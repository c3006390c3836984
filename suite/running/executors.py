"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same task, `task(run, store_root)`, which computes a run and writes it to the store
path itself, so stores come out bit for bit the same whichever executor made them, and a worker that dies
loses only the run it was computing. `results()` yields (run, outcome-callable) as runs finish; `stop()`
cancels what is queued and ends the workers, and is safe to call twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import queue
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Protocol

from suite.errors import NasreproError

Task = Callable[[Any, str], Any]
IDENTIFY_S = 10.0  # how long a scheduler may take to say what it is
REMOTE_DRAIN_S = 120.0  # after a stop, how long runs in flight on a remote cluster are waited for
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


def quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (which every spawned worker shares) with its stderr on
    /dev/null. Workers are killed by design (a stop, a lost parent, a fault), and a worker killed while it
    writes to the tracker's pipe leaves half a message there: the tracker prints a traceback, and warnings
    about the semaphores the dead worker could not release, into this process's stderr, which promises
    one line. Nothing else is lost: the tracker cleans up all the same."""
    from multiprocessing import resource_tracker

    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
        quiet_resource_tracker()
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


def _key(run_id: str) -> str:
    return f"nasrepro-run-{run_id}"


def _executing(keys: list[str], dask_worker: Any = None) -> list[str]:
    """On a worker (by `Client.run`): which of `keys` it is computing, cancelled or not."""
    wanted = set(keys)
    return [key for key, ts in dask_worker.state.tasks.items()
            if key in wanted and ts.state in ("executing", "long-running", "cancelled", "resumed")]


def _identify(address: str) -> None:
    """Ask what answers at a tcp:// address for its identity before a Client connects: a server of another
    kind (an HTTP server) makes Dask's client hang or fail deep inside (a reply read as a frame length of
    exbibytes); here it is one line. Other protocols need their security settings, so Client checks them."""
    found = _ADDRESS.fullmatch(address)
    if found is None or (found["protocol"] or "tcp") != "tcp":  # e.g. inproc:// (a cluster in this process)
        return
    try:
        socket.create_connection((found["host"].strip("[]"), int(found["port"] or 8786)), timeout=10).close()
    except OSError as exc:
        raise NasreproError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None

    async def identity() -> Any:
        from distributed.comm import connect

        comm = await connect(address, timeout=IDENTIFY_S)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = asyncio.run(asyncio.wait_for(identity(), IDENTIFY_S))
    except Exception as exc:  # timed out, closed, or a reply that is no Dask message (MemoryError, ...)
        reply = type(exc).__name__
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise NasreproError(f"no Dask scheduler at {address}: what answers there does not speak Dask's protocol "
                            f"({reply if isinstance(reply, str) else 'not a scheduler'})")


class DaskExecutor:
    """A Dask cluster: the one at `scheduler`, or a LocalCluster of `workers` single-threaded processes."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise NasreproError("--executor dask needs the `distributed` package") from exc
        self.cluster = None
        self.client = None
        self._futures: dict[Any, Any] = {}  # future -> its run
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
                quiet_resource_tracker()
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
                _identify(scheduler)
                self.client = Client(scheduler, timeout="10s")
        except NasreproError:
            self.stop()
            raise
        except OSError as exc:  # refused, unreachable, timed out
            self.stop()
            raise NasreproError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        except Exception as exc:  # something else answers: an HTTP server's reply read as a frame length, ...
            self.stop()
            raise NasreproError(
                f"no Dask scheduler at {scheduler}: what answers there does not speak Dask's protocol "
                f"({type(exc).__name__})"
            ) from exc

    def results(self, task: Task, runs: Sequence, root: str) -> Iterator[tuple[Any, Callable[[], Any]]]:
        from distributed import as_completed

        assert self.client is not None, "results() of a stopped executor"
        futures = self._futures = {
            self.client.submit(_dask_task, task, run, root, pure=False, key=_key(run.run_id)): run for run in runs
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result
        finally:
            self.stop()

    def _cancel(self) -> None:
        """Cancel the queued runs. A remote worker cannot be made to drop a run it is computing (a local
        cluster's workers are ended with it): those finish and store their run, so they are waited for
        (up to REMOTE_DRAIN_S), and the count of stored runs given after a stop is what the store holds."""
        pending = [future for future in self._futures if not future.done()]
        if not pending:
            return
        assert self.client is not None
        keys = [_key(self._futures[future].run_id) for future in pending]
        running = self._executing(keys) if self.cluster is None else set()
        self.client.cancel(pending)
        deadline = time.monotonic() + REMOTE_DRAIN_S
        while running and time.monotonic() < deadline:
            time.sleep(0.2)
            running &= self._executing(keys)

    def _executing(self, keys: list[str]) -> set[str]:
        assert self.client is not None
        try:
            found = self.client.run(_executing, keys)
        except Exception:  # the cluster is going away: nothing more can be learned or waited for
            return set()
        return {key for keys_of_worker in found.values() for key in keys_of_worker}

    def stop(self) -> None:
        if self.client is not None:
            self._cancel()
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        self._quiet.close()


def _local(options: ExecutorOptions) -> Executor:
    return InlineExecutor() if options.workers <= 1 else LocalExecutor(options.workers)


def _dask(options: ExecutorOptions) -> Executor:
    return DaskExecutor(options.workers, options.scheduler)


EXECUTORS: dict[str, Callable[[ExecutorOptions], Executor]] = {"local": _local, "dask": _dask}


# What Dask's client accepts as a scheduler address: [protocol://]host[:port], host a name, IPv4 or [IPv6].
_ADDRESS = re.compile(r"(?:(?P<protocol>[a-z]+)://)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d+))?")
_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx")


def check_scheduler(address: str) -> None:
    """Refuse what cannot be a Dask scheduler's address with one line (Dask's own errors come as a
    ValueError from deep inside its client)."""
    found = _ADDRESS.fullmatch(address)
    if found is None or (found["protocol"] or "tcp") not in _PROTOCOLS or not 0 < int(found["port"] or 1) < 65536:
        raise NasreproError(
            f"--scheduler {address!r} is not a Dask scheduler address: [{'|'.join(_PROTOCOLS)}://]HOST:PORT, "
            "e.g. tcp://127.0.0.1:8786"
        )


def get(name: str, options: ExecutorOptions) -> Executor:
    if name not in EXECUTORS:
        raise NasreproError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    if options.scheduler is not None and name != "dask":
        raise NasreproError("--scheduler needs --executor dask")
    if options.scheduler is not None:
        check_scheduler(options.scheduler)
    return EXECUTORS[name](options)
