"""Experiment and run specifications. A run's id is the hash of everything that determines it."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suite import benchmarks, registry
from suite.constraints import Constraint
from suite.errors import NasreproError


@dataclass(frozen=True)
class Budget:
    """Unique queries per run and, optionally, simulated training seconds (whichever runs out first)."""

    queries: int
    seconds: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.queries, bool) or not isinstance(self.queries, int) or self.queries < 1:
            raise NasreproError(f"budget must be a positive number of queries, got {self.queries!r}")
        if self.seconds is not None and not self.seconds > 0:
            raise NasreproError(f"a budget in seconds must be positive, got {self.seconds!r}")


# Fields added after runs were stored: left out of the id while unset, so those runs keep their ids.
_DROPPED_WHEN_NONE = ("predictor_version", "method_distribution", "predictor_distribution")


@dataclass(frozen=True)
class RunSpec:
    benchmark: str
    oracle: str
    method: str
    method_config: Mapping[str, Any]
    method_version: int
    repeat: int
    budget: Budget
    experiment_seed: int = 0
    predictor: str | None = None
    constraint: str | None = None
    # the predictor's version from 2 on; None: no predictor, or one at version 1 (predictors had no
    # versions before), so the ids of runs made before this field existed stay what they were
    predictor_version: int | None = None
    # "distribution==version" of a method or predictor from a plugin (suite.registry.Provider.pin), so that
    # another release of the plugin gets new ids; None for the built-ins, whose ids therefore stay as they were
    method_distribution: str | None = None
    predictor_distribution: str | None = None

    @property
    def run_id(self) -> str:
        fields = dataclasses.asdict(self)
        for name in _DROPPED_WHEN_NONE:
            if fields[name] is None:
                del fields[name]
        canonical = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class ExperimentSpec:
    """benchmarks x methods x repeats, one budget. Seed i of every method shares its initial draws."""

    benchmarks: tuple[str, ...]
    methods: tuple[str, ...]
    repeats: tuple[int, ...]
    budget: Budget
    experiment_seed: int = 0
    predictor: str | None = None
    constraint: str | None = None
    method_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    oracle: str | None = None  # of every benchmark; None: each benchmark's own

    def runs(self) -> list[RunSpec]:
        """All runs, validated: unknown names, bad budgets and unusable constraints fail here, before any run."""
        if not self.benchmarks or not self.methods or not self.repeats:
            raise NasreproError("an experiment needs at least one benchmark, one method and one seed")
        if self.experiment_seed < 0 or any(r < 0 for r in self.repeats):
            raise NasreproError("seeds must be non-negative integers")
        for name in self.benchmarks:
            benchmarks.check_name(name)
        entries = {name: registry.method(name) for name in self.methods}
        unknown = sorted(set(self.method_settings) - set(self.methods))
        if unknown:
            raise NasreproError(f"settings given for methods not in the experiment: {unknown}")
        predictor_version = predictor_distribution = None
        if self.predictor is not None:
            predictor_version = registry.predictor(self.predictor).version
            predictor_version = predictor_version if predictor_version > 1 else None
            predictor_distribution = registry.predictor_provider(self.predictor).pin
            ignoring = sorted(name for name, entry in entries.items() if not entry.uses_predictor)
            if ignoring:
                raise NasreproError(f"--predictor is not used by {', '.join(ignoring)}; run those without it")
        constraint = Constraint.parse(self.constraint) if self.constraint else None
        runs = []
        for bench_name in self.benchmarks:
            bench = benchmarks.get(bench_name, self.oracle)
            if bench.space_size is not None and self.budget.queries >= bench.space_size:
                # The whole space is no search: every method ends at the optimum, and the last queries
                # can only come from methods that enumerate.
                raise NasreproError(
                    f"budget {self.budget.queries} exceeds the {bench.space_size - 1} cells a search of "
                    f"{bench_name} ({bench.space_size} cells) can usefully query"
                )
            if self.budget.seconds is not None:
                if not bench.has_cost:
                    raise NasreproError(f"{bench_name} has no training times, so no budget in seconds")
                _check_affordable(self.budget.seconds, bench)
            if constraint is not None:
                _check_satisfiable(constraint, bench.space)
            for method_name, entry in entries.items():
                config = entry.make_config(bench_name, self.method_settings.get(method_name))
                distribution = registry.method_provider(method_name).pin
                for repeat in self.repeats:
                    runs.append(
                        RunSpec(
                            benchmark=bench_name, oracle=bench.oracle, method=method_name,
                            method_config=dataclasses.asdict(config), method_version=entry.version,
                            repeat=repeat, budget=self.budget,
                            experiment_seed=self.experiment_seed, predictor=self.predictor,
                            constraint=str(constraint) if constraint else None,
                            predictor_version=predictor_version, method_distribution=distribution,
                            predictor_distribution=predictor_distribution,
                        )
                    )
        return runs


# Spaces too large to enumerate (NB301, about 10^18 cells) are judged on this many uniform cells, drawn by a
# generator of their own: a constraint none of them meets, or a budget in seconds none of them fits, is refused.
# Enumerable spaces are judged on every cell. Cost lookups (NB301: surrogate queries), so this takes < 1 s.
_PROBES = 2_000


def _probe_cells(space) -> list:
    rng = np.random.default_rng(0)
    return [space.sample(rng) for _ in range(_PROBES)]


def _check_satisfiable(constraint: Constraint, space) -> None:
    """Refuses a constraint no cell meets: its runs would end without a feasible incumbent (regret NaN)."""
    cost_table = getattr(space, "cost_table", None)
    if cost_table is not None:
        constraint.check(space, space.sample(np.random.default_rng(0)))
        table = cost_table()
        if constraint.feasible_cells(table) == 0:
            raise NasreproError(
                f"constraint {constraint} is met by no cell of {space.name} (all {len(table[constraint.metric]):,} "
                f"checked): no search would find a feasible cell; loosen it"
            )
        return
    cells = _probe_cells(space)
    constraint.check(space, cells[0])
    if not any(constraint.feasible(space, cell) for cell in cells):
        raise NasreproError(
            f"constraint {constraint} is met by none of {_PROBES:,} uniformly drawn cells of {space.name} "
            f"(sampled: the space is too large to check every cell): no search would find a feasible cell; "
            f"loosen it"
        )


def _check_affordable(seconds: float, bench) -> None:
    """Refuses a budget in seconds below the cheapest query: no run could buy a single query.

    This is the harness reading its oracle's costs to validate an argument; no method sees the result."""
    cheapest = getattr(bench, "cheapest_query", None)
    if cheapest is not None:
        if seconds < cheapest:
            raise NasreproError(
                f"a budget of {seconds:g} simulated seconds buys no query on {bench.name}: its cheapest cell "
                f"(of all {bench.space_size:,}) costs {cheapest:g} s; give at least that"
            )
        return
    cheapest = _cheapest_sampled(bench.name)
    if seconds < cheapest:
        raise NasreproError(
            f"a budget of {seconds:g} simulated seconds is below the cost of every one of {_PROBES:,} uniformly "
            f"drawn cells of {bench.name} (sampled, the cheapest costs {cheapest:g} s): a run would buy no query; "
            f"give at least that"
        )


@functools.cache
def _cheapest_sampled(name: str) -> float:
    # Once per process and benchmark: the probes are oracle queries (NB301: ~0.5 s of surrogate inference),
    # and the benchmark caches their answers, so the runs that follow in this process get them for free.
    bench = benchmarks.get(name)
    return min(bench.query(cell).cost for cell in _probe_cells(bench.space))


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0-9' or '0,3,5' or '0-4,10' -> sorted distinct seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise NasreproError(f"cannot read seeds {text!r}; write e.g. 0-9 or 0,3,5")
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo:
            raise NasreproError(f"empty seed range {part.strip()!r}")
        seeds.update(range(lo, hi + 1))
    return tuple(sorted(seeds))


def parse_settings(items: list[str]) -> dict[str, dict[str, str]]:
    """['re.population_size=50'] -> {'re': {'population_size': '50'}}; values are converted by the method."""
    settings: dict[str, dict[str, str]] = {}
    for item in items:
        match = re.fullmatch(r"([\w-]+)\.(\w+)=(.*)", item)
        if not match:
            raise NasreproError(f"cannot read setting {item!r}; write METHOD.NAME=VALUE, e.g. re.sample_size=5")
        if not _finite_or_not_a_number(match[3]):
            raise NasreproError(f"setting {item!r}: a setting must be a finite number, not {match[3]!r}")
        settings.setdefault(match[1], {})[match[2]] = match[3]
    return settings


def _finite_or_not_a_number(text: str) -> bool:
    """False for 'inf', '-inf', 'nan', '1e999', ...: no method setting means them, and they fail only mid-run."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return True
