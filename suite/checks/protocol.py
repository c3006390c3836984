"""`nasrepro check-method NAME`: a method, built-in or plugin, against the protocol that makes the
comparison fair. One `Check` per rule, each passed, failed (with why) or skipped (with why):

- config: the config class is a frozen dataclass whose default settings survive JSON (a stored run's
  metadata rebuilds them);
- determinism: the same seed gives the same proposals, in two separate processes with different string
  hash seeds (PYTHONHASHSEED 1 and 2) and in this one;
- global RNG: numpy's, `random`'s and torch's global states are the same after loading, building and
  running the method;
- valid cells: every proposed cell is a cell of the space (`watch.invalid`);
- budget: a run of N queries ends with N charged, and a `tell` of a strict prefix of an `ask` (what the
  runner does when the budget runs out mid-batch) is handled; a method that asks in batches is rerun
  with the budget ending inside one if the first run did not;
- blind: nothing reachable from the method or its context after the run leads to the oracle (`reach`);
- version rule: with `store`, every stored run of the method at its current version (same benchmark
  and seed) is rerun and must propose the same cells; without one it is skipped.

The runs go through the runner's own loop (`execute(run, observe=...)`), so they are charged exactly as a
`nasrepro run` is. The `Check` and `Outcome` types, the config, global-RNG and blindness rules and the
fresh processes serve `nasrepro check-predictor` too (predictor.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from suite import registry
from suite.api import MethodEntry
from suite.checks import reach
from suite.checks.watch import InvalidProposal, PrefixRefused, Watcher
from suite.errors import NasreproError
from suite.running.runner import execute
from suite.running.spec import Budget, ExperimentSpec, RunSpec

PASS, FAIL, SKIP = "pass", "FAIL", "skip"
DEFAULT_BENCHMARK = "nb201-cifar10"  # a table: the checks' queries cost microseconds
# Past the random start of every built-in (RE and GA-NAS start with 30 cells), and no multiple of the usual
# batch sizes: the budget ends inside a batch, as in a real run, and the method is told a strict prefix.
DEFAULT_BUDGET = 53
HASH_SEEDS = ("1", "2")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    why: str

    def line(self) -> str:
        return f"{self.status:4s}  {self.name}: {self.why}"


@dataclass
class _Run:
    """One watched run in this process: what the watcher saw, and how it ended."""

    watcher: Watcher
    queries: int = 0
    error: Exception | None = None


def watched_run(run: RunSpec) -> _Run:
    """`run` through the runner's loop in this process, watched."""
    watcher = Watcher()
    try:
        frame, _ = execute(run, observe=watcher.wrap)
        return _Run(watcher, len(frame))
    except Exception as exc:  # the checks below say which rule it broke
        return _Run(watcher, error=exc)


def global_states() -> dict[str, object]:
    import torch

    # the legacy global state is exactly what is checked here, not used
    numpy_state = np.random.get_state()  # noqa: NPY002
    return {"numpy": numpy_state, "random": random.getstate(), "torch": torch.get_rng_state().numpy()}


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------- the rules
def check_config(cls: type, make_default: Callable[[], Any], where: str = "") -> Check:
    """`cls` is a frozen dataclass and the default config `make_default()` (`where`: " for BENCHMARK", if it
    depends on one) survives JSON: a stored run's metadata rebuilds it."""
    name = "config"
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return Check(name, FAIL, f"{getattr(cls, '__name__', cls)} is not a frozen dataclass "
                                 f"(@dataclass(frozen=True)): a run's settings could change under it")
    try:
        config = make_default()
    except Exception as exc:
        return Check(name, FAIL, f"the default config{where} cannot be built: {error_text(exc)}")
    if not isinstance(config, cls):
        return Check(name, FAIL, f"the default config{where} is a {type(config).__name__}, not {cls.__name__}")
    settings = dataclasses.asdict(config)
    try:
        text = json.dumps(settings, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        bad = [k for k, v in settings.items() if not _json_safe(v)]
        return Check(name, FAIL, f"settings {bad} are not JSON values ({exc}): a run's metadata cannot hold them")
    try:
        again = json.dumps(dataclasses.asdict(cls(**json.loads(text))), sort_keys=True)
    except Exception as exc:
        return Check(name, FAIL, f"{cls.__name__} cannot be rebuilt from its stored settings: {error_text(exc)}")
    if again != text:
        return Check(name, FAIL, f"{cls.__name__} rebuilt from its stored settings differs: {again} vs {text}")
    return Check(name, PASS, f"{cls.__name__} is a frozen dataclass; its {len(settings)} settings{where} "
                             f"are JSON values and rebuild the same config")


def _json_safe(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


class ChildFailed(Exception):
    """A child process of a determinism check printed no result."""


def in_fresh_processes(module: str, argument: str) -> list[dict[str, Any]]:
    """`python -m module argument` in one fresh process per string hash seed (HASH_SEEDS), all at once (they
    are independent): the JSON object each printed as its last line. ChildFailed says which printed none."""
    children = [subprocess.Popen([sys.executable, "-m", module, argument], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
                for seed in HASH_SEEDS]
    outputs = [child.communicate() for child in children]  # every child ends before any is judged
    results = []
    for seed, child, (out, err) in zip(HASH_SEEDS, children, outputs, strict=True):
        try:
            results.append(json.loads(out.strip().splitlines()[-1]))
        except (IndexError, ValueError):
            last = err.strip().splitlines()[-1:] or ["no output"]
            raise ChildFailed(f"the process with PYTHONHASHSEED={seed} ended with status {child.returncode}: "
                              f"{last[0]}") from None
    return results


def _first_difference(a: list[list[str]], b: list[list[str]]) -> str | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"ask {i + 1}: {x[:3]}{'...' if len(x) > 3 else ''} vs {y[:3]}{'...' if len(y) > 3 else ''}"
    if len(a) != len(b):
        return f"{len(a)} asks vs {len(b)}"
    return None


def check_determinism(run: RunSpec, here: _Run) -> Check:
    name = "determinism"
    try:
        first, second = in_fresh_processes("suite.checks.watch", json.dumps(run.to_dict(), default=str))
    except ChildFailed as exc:
        return Check(name, FAIL, str(exc))
    diff = _first_difference(first["asks"], second["asks"])
    if diff is not None:
        return Check(name, FAIL, f"the same seed proposed differently in two processes (PYTHONHASHSEED "
                                 f"{' and '.join(HASH_SEEDS)}), first at {diff}: draw only from the context's "
                                 f"generators and never iterate in an order that depends on hashes or ids")
    if first.get("error") != second.get("error"):
        return Check(name, FAIL, f"the same seed ended differently in two processes: {first.get('error', 'no error')} "
                                 f"vs {second.get('error', 'no error')}")
    diff = _first_difference(here.watcher.asks, first["asks"])
    if diff is not None:
        return Check(name, FAIL, f"two fresh processes agree, but a run in this process proposed differently, "
                                 f"first at {diff}: the method depends on state it did not create")
    asks = first["asks"]
    ended = f", and both stopped at the same error ({first['error']})" if "error" in first else ""
    return Check(name, PASS, f"two processes (PYTHONHASHSEED {' and '.join(HASH_SEEDS)}) and this one proposed "
                             f"the same {sum(map(len, asks))} cells in {len(asks)} asks{ended}")


def check_global_rng(before: dict[str, object], after: dict[str, object], done: str = "method was loaded, built "
                     "and run", advice: str = "use context.rng / context.torch_generator()") -> Check:
    changed = [lib for lib in before if not _same_state(before[lib], after[lib])]
    if changed:
        return Check("global RNG", FAIL, f"the global state of {', '.join(changed)} changed while the {done}: "
                                         f"{advice}")
    return Check("global RNG", PASS, f"numpy's, random's and torch's global states are the same as before the {done}")


def check_valid(here: _Run, benchmark: str) -> Check:
    if isinstance(here.error, InvalidProposal):
        return Check("valid cells", FAIL, f"{here.error} (not a cell of {benchmark})")
    seen = here.watcher.proposed
    if seen == 0:
        return Check("valid cells", FAIL, f"no cell was proposed: {error_text(here.error) if here.error else 'none'}")
    return Check("valid cells", PASS, f"all {seen} proposed cells are cells of {benchmark} (key, graph and back)")


def _prefix_run(run: RunSpec, here: _Run) -> tuple[str, str]:
    """(status, why) of the strict-prefix rule, rerunning with a budget that ends inside a batch if needed."""
    if here.watcher.strict_prefixes:
        told, asked = here.watcher.strict_prefixes[-1]
        return PASS, f"a tell of {told} of the {asked} cells of its last ask was handled"
    # the last batch: the method has learnt the most by then
    batch = next((i for i in reversed(range(len(here.watcher.new_cells))) if here.watcher.new_cells[i] >= 2), None)
    if batch is None:
        return PASS, "every ask held at most one new cell, so no tell can be a strict prefix"
    cut = here.watcher.charged_before[batch] + 1
    again = watched_run(dataclasses.replace(run, budget=Budget(cut)))
    if isinstance(again.error, PrefixRefused):
        return FAIL, f"with a budget of {cut} queries (ending inside ask {batch + 1}) it was {again.error}"
    if again.error is not None:
        return FAIL, f"with a budget of {cut} queries the run failed: {error_text(again.error)}"
    if not again.watcher.strict_prefixes:
        return FAIL, f"a budget of {cut} queries did not end inside ask {batch + 1}: the rerun proposed differently"
    told, asked = again.watcher.strict_prefixes[-1]
    return PASS, f"rerun with a budget of {cut} queries, a tell of {told} of the {asked} cells of ask {batch + 1} " \
                 f"was handled"


def check_budget(run: RunSpec, here: _Run) -> Check:
    name, budget = "budget", run.budget.queries
    if isinstance(here.error, PrefixRefused):
        return Check(name, FAIL, f"the run's last ask was cut by the budget and the method was {here.error}")
    if isinstance(here.error, InvalidProposal):
        return Check(name, SKIP, "not checked: the run stopped at an invalid cell")
    if here.error is not None:
        return Check(name, FAIL, f"a run of {budget} queries failed: {error_text(here.error)}")
    if here.queries != budget:
        return Check(name, FAIL, f"a run of {budget} queries charged {here.queries}")
    status, why = _prefix_run(run, here)
    return Check(name, status, f"a run of {budget} queries charged {budget} in {len(here.watcher.asks)} asks; {why}")


def packages_of(provider: registry.Provider, built: object) -> tuple[str, ...]:
    """The packages whose classes' properties the blindness walk follows: ours, the plugin's, the object's."""
    return tuple(dict.fromkeys((*reach.OUR_PACKAGES, provider.target.split(":")[0].split(".")[0],
                                type(built).__module__.split(".")[0])))


def blind(roots: dict[str, object], bench, packages: tuple[str, ...], when: str, allowed: str) -> Check:
    """Whether anything reachable from `roots` (name -> object, e.g. the method and its context) leads to
    `bench`'s oracle; `when` says when they were walked, `allowed` what they may hold."""
    columns = reach.accuracies(bench)
    found = [leak for name, root in roots.items() for leak in reach.leaks(root, columns, packages, name)]
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return Check("blind", FAIL, f"{found[0].path} is {found[0].what}{more}: {allowed}")
    return Check("blind", PASS, f"nothing reachable from the {' or its '.join(roots)} {when} leads to the oracle")


def check_blind(here: _Run, bench, provider: registry.Provider) -> Check:
    watcher = here.watcher
    if watcher.method is None:
        return Check("blind", FAIL, f"the method was not built: {error_text(here.error) if here.error else 'unknown'}")
    return blind({"method": watcher.method, "context": watcher.context}, bench, packages_of(provider, watcher.method),
                 "after the run", "a method may hold the space only")


def check_version_rule(run: RunSpec, entry: MethodEntry, provider: registry.Provider, store_dir: Path | None
                       ) -> Check:
    from suite.running.store import Store
    from suite.running.verify import spec_of

    name = "version rule"
    if store_dir is None:
        return Check(name, SKIP, "no --store given: no stored run to compare the proposals with")
    if not Path(store_dir).is_dir():
        raise NasreproError(f"no results store at {store_dir}")
    store = Store(store_dir)
    mine = [m for m in store.metas() if m["spec"]["method"] == run.method
            and m["spec"]["benchmark"] == run.benchmark and m["spec"]["repeat"] == run.repeat]
    where = f"{run.method} on {run.benchmark} with seed {run.repeat} in {store_dir}"
    if not mine:
        return Check(name, SKIP, f"no stored run of {where}")
    same = [m for m in mine if m["spec"]["method_version"] == entry.version]
    if not same:
        versions = sorted({m["spec"]["method_version"] for m in mine})
        return Check(name, PASS, f"the stored runs of {where} are of version(s) {versions}, this is version "
                                 f"{entry.version}: their ids differ, none is taken for this version's")
    compared, unrunnable = [], {}
    for meta in same:
        stored = spec_of(meta)
        # the version rule is the entry's: a plugin's stored run of another release is compared too
        again = watched_run(dataclasses.replace(stored, method_distribution=provider.pin))
        made_by = meta["spec"].get("method_distribution") or f"{registry.BUILTIN} (built-in)"
        if isinstance(again.error, NasreproError):
            unrunnable[stored.run_id] = str(again.error)
            continue
        if again.error is not None:
            return Check(name, FAIL, f"stored run {stored.run_id} ({made_by}) cannot be rerun at the unchanged "
                                     f"version {entry.version}: {error_text(again.error)}; raise the entry's version")
        then = store.trajectory(stored.run_id)["arch_key"].tolist()
        now = _charged(again.watcher.asks, len(then))
        if now != then:
            step = next((i for i, (a, b) in enumerate(zip(then, now, strict=False)) if a != b), min(len(then),
                                                                                                    len(now)))
            return Check(name, FAIL, f"version {entry.version} is unchanged, but stored run {stored.run_id} "
                                     f"({made_by}) now proposes differently from query {step + 1} (stored "
                                     f"{then[step] if step < len(then) else 'nothing'}, now "
                                     f"{now[step] if step < len(now) else 'nothing'}): raise the entry's version")
        compared.append(stored.run_id)
    if not compared:
        first = next(iter(unrunnable.items()))
        return Check(name, FAIL, f"none of the {len(same)} stored runs of {where} at version {entry.version} "
                                 f"could be rerun, e.g. {first[0]}: {first[1]}")
    skipped = f"; {len(unrunnable)} could not be rerun ({next(iter(unrunnable.values()))})" if unrunnable else ""
    return Check(name, PASS, f"{len(compared)} stored run(s) of {where} at version {entry.version} propose the "
                             f"same cells again{skipped}")


def _charged(asks: list[list[str]], limit: int) -> list[str]:
    """The distinct cells of a run's asks in the order the runner charges them (its trajectory's arch_key)."""
    seen: dict[str, None] = {}
    for ask in asks:
        for key in ask:
            seen.setdefault(key)
            if len(seen) == limit:
                return list(seen)
    return list(seen)


# ---------------------------------------------------------------------------------------------- the whole
def origin(provider: registry.Provider) -> str:
    """Where a checked entry comes from, for an outcome's header."""
    where = "built-in" if provider.builtin else f"from {provider.distribution} {provider.version}"
    return f"{where}, {provider.target}"


@dataclass(frozen=True)
class Outcome:
    header: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)


def check_method(name: str, benchmark: str = DEFAULT_BENCHMARK, seed: int = 0, budget: int = DEFAULT_BUDGET,
                 experiment_seed: int = 0, store: Path | None = None) -> Outcome:
    """Every rule for method `name`. Bad input (an unknown or broken method, a bad budget) raises
    NasreproError; a broken rule is a FAIL among the checks."""
    from suite import benchmarks

    bench = benchmarks.get(benchmark)
    before = global_states()  # before the method's module is imported: import-time draws count too
    entry = registry.method(name)
    provider = registry.method_provider(name)
    run = ExperimentSpec((benchmark,), (name,), (seed,), Budget(budget), experiment_seed=experiment_seed).runs()[0]
    here = watched_run(run)
    after = global_states()
    checks = (
        check_config(entry.config_cls, lambda: entry.make_config(benchmark), f" for {benchmark}"),
        check_determinism(run, here),
        check_global_rng(before, after),
        check_valid(here, benchmark),
        check_budget(run, here),
        check_blind(here, bench, provider),
        check_version_rule(run, entry, provider, store),
    )
    header = f"{name} ({origin(provider)}, version {entry.version}) on {benchmark}, seed {seed}, {budget} queries"
    return Outcome(header, checks)
