"""Runs: a RunSpec -> a seeded search against its benchmark -> a trajectory in the store.

The runner owns the budget. It charges each distinct cell (by `benchmark.key`) once; a cell proposed
again is answered from the run's cache, told to the method, and not charged or recorded.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata

import numpy as np
import pandas as pd
from tqdm import tqdm

from suite import benchmarks, registry
from suite.api import Method, MethodEntry, SearchContext
from suite.benchmarks.base import Arch, Benchmark, Observation
from suite.constraints import Constraint
from suite.errors import Interrupted, NasreproError
from suite.running import executors
from suite.running.spec import RunSpec
from suite.running.store import Store

# A method that proposes only cells it has already seen this many times in a row is stuck.
MAX_REPEATS_IN_A_ROW = 10_000
_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "xgboost", "torch", "onnxruntime", "pyarrow")


def seed_sequence(run: RunSpec) -> np.random.SeedSequence:
    """Seed i of an experiment: the same stream for every method and benchmark (common random numbers)."""
    return np.random.SeedSequence(entropy=run.experiment_seed, spawn_key=(run.repeat,))


class _Trajectory:
    """Builds the tidy trajectory row by row, tracking the (feasible) incumbent."""

    def __init__(self, bench: Benchmark, constraint: Constraint | None) -> None:
        self.bench = bench
        self.constraint = constraint
        final_values = getattr(bench, "final_values", None)
        self.final_values = None if final_values is None else np.asarray(final_values)
        self.rows: list[tuple] = []
        self.cum_cost = 0.0
        self.incumbent: tuple[str, float, float] | None = None

    def add(self, arch: Arch, key: str, obs: Observation) -> None:
        self.cum_cost += obs.cost
        feasible = self.constraint is None or self.constraint.feasible(self.bench.space, arch)
        if feasible and (self.incumbent is None or obs.value > self.incumbent[1]):
            final = self.bench.final(arch)[self.bench.final_metric]
            self.incumbent = (key, obs.value, final)
        inc_key, inc_value, inc_final = self.incumbent or ("", math.nan, math.nan)
        optimum = self.bench.optimum
        regret = optimum - inc_final if optimum is not None else math.nan
        self.rows.append(
            (len(self.rows) + 1, key, obs.value, obs.cost, self.cum_cost, feasible,
             inc_key, inc_value, inc_final, regret, self._top_fraction(inc_final))
        )

    def _top_fraction(self, final: float) -> float:
        """Fraction of the space with a strictly better final value (0 = the optimum)."""
        if self.final_values is None or math.isnan(final):
            return math.nan
        n = len(self.final_values)
        return (n - np.searchsorted(self.final_values, final, side="right")) / n

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.rows,
            columns=["step", "arch_key", "value", "cost", "cum_cost", "feasible", "incumbent_key",
                     "incumbent_value", "incumbent_final", "regret", "incumbent_top_fraction"],
        )


def _same_provider(kind: str, name: str, made_by: str | None, provider: registry.Provider) -> None:
    """A run is recomputed only by the distribution (and release) that made it."""
    if provider.pin != made_by:
        raise NasreproError(
            f"the run's {kind} {name} came from {_origin(made_by)}, the installed one from {_origin(provider.pin)}"
        )


def _origin(pin: str | None) -> str:
    return pin or f"{registry.BUILTIN} (built-in)"


def _providers(run: RunSpec, entry: MethodEntry, provider: registry.Provider) -> dict[str, dict]:
    """Where the run's method (and predictor) came from, for its metadata and the report."""
    found = {"method": {**dataclasses.asdict(provider), "entry_version": entry.version}}
    if run.predictor is not None:
        found["predictor"] = {**dataclasses.asdict(registry.predictor_provider(run.predictor)),
                              "entry_version": registry.predictor(run.predictor).version}
    return found


def search_context(run: RunSpec, bench: Benchmark) -> SearchContext:
    """What the run's method gets: the benchmark's space, never the benchmark (the oracle stays here)."""
    constraint = Constraint.parse(run.constraint) if run.constraint else None
    if constraint is not None:  # a stored run from before accuracies were refused fails here, saying why
        constraint.check(bench.space, bench.space.sample(np.random.default_rng(0)))
    seeds = seed_sequence(run)
    predictor = None
    if run.predictor is not None:
        pred_entry = registry.predictor(run.predictor)
        if pred_entry.version != (run.predictor_version or 1):
            raise NasreproError(
                f"the run was made by version {run.predictor_version or 1} of predictor {run.predictor}, "
                f"this is version {pred_entry.version}"
            )
        _same_provider("predictor", run.predictor, run.predictor_distribution,
                       registry.predictor_provider(run.predictor))
        predictor_seeds = np.random.SeedSequence(run.experiment_seed, spawn_key=(run.repeat, 2))
        predictor = pred_entry.build(pred_entry.config_cls(), bench.space, predictor_seeds)
    return SearchContext(bench.space, np.random.default_rng(seeds), seeds, predictor, constraint)


def execute(run: RunSpec, observe: Callable[[Method, SearchContext], Method] | None = None
            ) -> tuple[pd.DataFrame, dict]:
    """One search, start to end. Pure: the same RunSpec gives the same trajectory, bit for bit.

    `observe` wraps the method the run builds (`nasrepro check-method` watches it through this loop)."""
    started = time.perf_counter()
    bench = benchmarks.get(run.benchmark, run.oracle)  # refuses an oracle it no longer has, naming the known ones
    entry = registry.method(run.method)
    if entry.version != run.method_version:
        raise NasreproError(
            f"the run was made by version {run.method_version} of {run.method}, this is version {entry.version}"
        )
    provider = registry.method_provider(run.method)
    _same_provider("method", run.method, run.method_distribution, provider)
    config = entry.config_cls(**run.method_config)
    context = search_context(run, bench)
    constraint, seeds = context.constraint, context.seed_sequence
    method = entry.build(config, context)
    if observe is not None:
        method = observe(method, context)

    trajectory = _Trajectory(bench, constraint)
    seen: dict[str, Observation] = {}
    repeated = repeats_in_a_row = 0
    budget = run.budget
    out_of_time = False
    while not out_of_time and len(trajectory.rows) < budget.queries:
        proposals = method.ask()
        if not proposals:
            raise NasreproError(f"method {run.method} proposed no cell")
        told_archs, told_obs = [], []
        for arch in proposals:
            key = bench.key(arch)
            obs = seen.get(key)
            if obs is None:
                if len(trajectory.rows) >= budget.queries:
                    break
                obs = bench.query(arch)
                # Simulated time is known only after the query; one that would overrun is not charged.
                if budget.seconds is not None and trajectory.cum_cost + obs.cost > budget.seconds:
                    out_of_time = True
                    break
                seen[key] = obs
                trajectory.add(arch, key, obs)
                repeats_in_a_row = 0
            else:
                repeated += 1
                repeats_in_a_row += 1
                if repeats_in_a_row >= MAX_REPEATS_IN_A_ROW:
                    raise NasreproError(
                        f"{run.method} on {run.benchmark} proposed only already-evaluated cells "
                        f"{MAX_REPEATS_IN_A_ROW} times in a row"
                    )
            told_archs.append(arch)
            told_obs.append(obs)
        if told_archs:
            method.tell(told_archs, told_obs)
    if not trajectory.rows:
        raise NasreproError(
            f"a budget of {budget.seconds:g} simulated seconds buys no query on {run.benchmark}: the first "
            f"proposed cell costs {obs.cost:g} s"
        )
    frame = trajectory.frame()
    meta = {
        "spec": run.to_dict(),
        "benchmark": {
            "name": bench.name, "oracle": bench.oracle, "search_metric": bench.search_metric,
            "final_metric": bench.final_metric, "optimum": bench.optimum, "space_size": bench.space_size,
            # where the optimum is unknown (NB301), what stands in for it: regret is measured against that
            "optimum_source": getattr(bench, "optimum_source", "optimum"),
            "data_sha256": bench.data_files(),
        },
        "providers": _providers(run, entry, provider),
        "seed": {"entropy": seeds.entropy, "spawn_key": list(seeds.spawn_key)},
        "n_queries": len(frame),
        "repeated_proposals": repeated,
        # what a method reports about its own run (e.g. GA-NAS's proposal temperatures), if it does
        "diagnostics": method.diagnostics() if hasattr(method, "diagnostics") else {},
        "wall_time_s": time.perf_counter() - started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
    }
    return frame, meta


@cache
def versions() -> dict[str, str]:
    found = {"nasrepro": _version("nasrepro")}
    for name in _LIBRARIES:
        found[name] = _version(name)
    return found


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _execute_and_store(run: RunSpec, root: str) -> bool:
    frame, meta = execute(run)
    return Store(root).write(run.run_id, frame, meta)


@dataclass
class ExperimentOutcome:
    stored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already stored, before this start or by another writer
    repaired: dict[str, str] = field(default_factory=dict)  # damaged run -> where its copy was moved
    failed: dict[str, str] = field(default_factory=dict)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_interrupted(signum: int, frame: object) -> None:
    # Ignore further stop signals before raising: a second Ctrl-C landing while the stop is handled (before
    # the workers are ended) would otherwise raise again past pool.stop() and leave the pool to be joined.
    for s in _STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def run_experiment(
    runs: Iterable[RunSpec], store: Store, workers: int = 1, progress: bool = True,
    executor: str = "local", scheduler: str | None = None,
) -> ExperimentOutcome:
    """Run every run not yet (verified) in the store; finished runs are written as they complete.

    SIGINT, SIGTERM and SIGHUP cancel the queued runs, end the workers and raise `Interrupted` with
    how many of the experiment's runs are stored; a second signal during that stop is ignored.
    """
    runs = list({run.run_id: run for run in runs}.values())
    outcome = ExperimentOutcome(skipped=[r.run_id for r in runs if store.has(r.run_id)])
    pending = [r for r in runs if r.run_id not in set(outcome.skipped)]
    for run in pending:
        if (store.runs_dir / run.run_id).exists() and not store.has(run.run_id):  # damaged: kept aside, redone
            try:
                outcome.repaired[run.run_id] = str(store.quarantine(run.run_id))
            except FileNotFoundError:  # a concurrent `run` moved it first
                pass
    store.discard_partial()
    bar = tqdm(total=len(pending), desc="runs", unit="run", disable=not progress or None, file=sys.stderr)
    pool = None
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _raise_interrupted) for s in _STOP_SIGNALS} if in_main else {}
    try:
        pool = executors.get(executor, executors.ExecutorOptions(workers, scheduler))
        for run, result in pool.results(_execute_and_store, pending, str(store.root)):
            _attempt(result, run, outcome, store)
            bar.update()
    except (Interrupted, KeyboardInterrupt) as exc:
        # Stopping: later signals stay ignored until the process exits (restoring the previous handlers
        # here would let a second Ctrl-C during the exit raise KeyboardInterrupt past the one-line message).
        for s in _STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        previous = {}
        if pool is not None:
            pool.stop()
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        raise Interrupted(signum, sum(store.has(r.run_id) for r in runs), len(runs)) from None
    finally:
        bar.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return outcome


def _attempt(call, run: RunSpec, outcome: ExperimentOutcome, store: Store) -> None:
    try:
        (outcome.stored if call() else outcome.skipped).append(run.run_id)
    except NasreproError as exc:
        outcome.failed[run.run_id] = f"{run.benchmark}/{run.method}/seed {run.repeat}: {exc}"
    except Exception as exc:  # a bug in one run (or a lost worker) must not cost the others; it names the run
        if store.has(run.run_id):  # its worker stored it, then died before saying so: the run is there, whole
            outcome.stored.append(run.run_id)
            return
        outcome.failed[run.run_id] = f"{run.benchmark}/{run.method}/seed {run.repeat}: {type(exc).__name__}: {exc}"
