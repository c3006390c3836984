"""`nasrepro check-method`: every built-in passes every rule, and a planted method breaking one rule fails
that rule (and, where the others can be judged, only that one).

The planted methods are a plugin distribution laid out by the `plant` fixture (conftest.py), so the
determinism check's child processes find them as they would find a pip-installed plugin.
"""

from __future__ import annotations

import pytest

from suite import registry
from suite.checks import protocol
from suite.checks.protocol import FAIL, PASS, SKIP
from suite.cli import main
from suite.running.runner import run_experiment
from suite.running.spec import Budget, ExperimentSpec
from suite.running.store import Store

METHODS = "nasrepro.methods"
RULES = ("config", "determinism", "global RNG", "valid cells", "budget", "blind", "version rule")
BUDGET = 21  # 1 + 3 x 6 + 2: the budget ends inside a batch of 3 (and of 4)

PLANTED = '''
import os
import random
from dataclasses import dataclass

import numpy as np

from suite.api import MethodEntry


@dataclass(frozen=True)
class Config:
    batch: int = 3


class Walk:
    """A seeded random walk: a random cell, then `batch` new mutations of the last cell asked (new, so that
    every ask after the first is charged `batch` queries and the budget ends where the tests say)."""

    def __init__(self, config, context):
        self.config, self.space, self.rng = config, context.space, context.rng
        self.last, self.seen = None, set()

    def ask(self):
        if self.last is None:
            self.last = self.space.sample(self.rng)
            self.seen.add(self.space.key(self.last))
            return [self.last]
        cells = [self.new_cell() for _ in range(self.config.batch)]
        self.last = cells[-1]
        return cells

    def new_cell(self):
        while True:
            cell = self.next_cell()
            if self.space.key(cell) not in self.seen:
                self.seen.add(self.space.key(cell))
                return cell

    def next_cell(self):
        return self.space.mutate(self.last, self.rng)

    def tell(self, archs, observations):
        pass


class Drifting(Walk):  # changes what it proposes when PLANTED_DRIFT is set, without a new version
    def next_cell(self):
        cell = self.space.mutate(self.last, self.rng)
        return self.space.mutate(cell, self.rng) if os.environ.get("PLANTED_DRIFT") else cell


@dataclass
class LooseConfig:
    batch: int = 3


class HashOrder(Walk):  # asks its cells in the order of a set of strings: an order set by PYTHONHASHSEED
    def ask(self):
        by_key = {self.space.key(cell): cell for cell in super().ask()}
        return [by_key[key] for key in set(by_key)]


class GlobalNumpy(Walk):  # a forgotten draw from numpy's global generator
    def next_cell(self):
        np.random.random()
        return super().next_cell()


class GlobalRandom(Walk):
    def next_cell(self):
        random.random()
        return super().next_cell()


class GlobalTorch(Walk):
    def next_cell(self):
        import torch

        torch.rand(1)
        return super().next_cell()


class OffByOne(Walk):  # six operations where NB201 has five
    def ask(self):
        return [tuple(int(op) for op in self.rng.integers(0, 6, size=6))]


class NoPrefix(Walk):  # assumes it is told every cell it asked for
    def ask(self):
        self.pending = super().ask()
        return self.pending

    def tell(self, archs, observations):
        for _ in zip(self.pending, observations, strict=True):
            pass


class GivesUp(Walk):  # an empty ask after five
    asks = 0

    def ask(self):
        self.asks += 1
        return [] if self.asks > 5 else super().ask()


class Peeks(Walk):  # fetches the benchmark behind the space
    def __init__(self, config, context):
        super().__init__(config, context)
        from suite import benchmarks

        self.oracle = benchmarks.get(context.space.name)


def entry(name, cls, config=Config):
    return MethodEntry(name, config, cls, f"planted: {name}")


CLEAN = entry("clean", Walk)
DRIFTING = entry("drifting", Drifting)
UNFROZEN = entry("unfrozen", Walk, LooseConfig)
HASH_ORDER = entry("hash-order", HashOrder)
GLOBAL_NUMPY = entry("global-numpy", GlobalNumpy)
GLOBAL_RANDOM = entry("global-random", GlobalRandom)
GLOBAL_TORCH = entry("global-torch", GlobalTorch)
OFF_BY_ONE = entry("off-by-one", OffByOne)
NO_PREFIX = entry("no-prefix", NoPrefix)
GIVES_UP = entry("gives-up", GivesUp)
PEEKS = entry("peeks", Peeks)
RELEASE = entry("release", Walk)
'''
NAMES = ["clean", "drifting", "unfrozen", "hash-order", "global-numpy", "global-random", "global-torch",
         "off-by-one", "no-prefix", "gives-up", "peeks"]


@pytest.fixture(scope="module")
def planted(plant_for_module):
    plant_for_module("nasrepro-planted", "0.1", {"planted_methods": PLANTED},
                     {METHODS: {name: f"planted_methods:{name.upper().replace('-', '_')}" for name in NAMES}})


@pytest.fixture(scope="module")
def outcomes(planted):
    """The check of each planted method at BUDGET, made once for the tests that read it."""
    found: dict[str, protocol.Outcome] = {}

    def outcome(name: str) -> protocol.Outcome:
        if name not in found:
            found[name] = protocol.check_method(name, budget=BUDGET)
        return found[name]

    return outcome


def _statuses(outcome: protocol.Outcome) -> dict[str, str]:
    assert [c.name for c in outcome.checks] == list(RULES)
    return {c.name: c.status for c in outcome.checks}


# ---------------------------------------------------------------------------------------------- built-ins
CHEAP, TRAINING = ["rs", "re", "ls"], ["bananas", "ganas", "ganas-mle"]


def test_every_built_in_is_checked():
    builtins = {name for name in registry.method_names() if registry.method_provider(name).builtin}
    assert builtins == set(CHEAP + TRAINING)


@pytest.mark.parametrize("name", CHEAP)
def test_a_cheap_built_in_passes_every_rule_against_its_stored_runs(tmp_path, name):
    store = Store(tmp_path / "store")
    run_experiment(ExperimentSpec(("nb201-cifar10",), (name,), (0, 1), Budget(40)).runs(), store, progress=False)
    outcome = protocol.check_method(name, store=store.root)
    assert _statuses(outcome) == dict.fromkeys(RULES, PASS), [c.line() for c in outcome.checks]
    assert "1 stored run(s)" in outcome.checks[-1].why  # seed 0 only


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING)
def test_a_built_in_that_trains_passes_every_rule(name):
    outcome = protocol.check_method(name)
    assert _statuses(outcome) == {**dict.fromkeys(RULES, PASS), "version rule": SKIP}, \
        [c.line() for c in outcome.checks]


# ---------------------------------------------------------------------------------------------- plants
@pytest.mark.parametrize(("name", "broken"), [
    ("unfrozen", {"config": FAIL}),
    ("hash-order", {"determinism": FAIL}),
    ("global-numpy", {"global RNG": FAIL}),
    ("global-random", {"global RNG": FAIL}),
    ("global-torch", {"global RNG": FAIL}),
    ("off-by-one", {"valid cells": FAIL, "budget": SKIP}),
    ("no-prefix", {"budget": FAIL}),
    ("gives-up", {"budget": FAIL}),
    ("peeks", {"blind": FAIL}),
])
def test_a_method_breaking_one_rule_fails_that_rule_only(outcomes, name, broken):
    outcome = outcomes(name)
    expected = {**dict.fromkeys(RULES, PASS), "version rule": SKIP, **broken}
    assert _statuses(outcome) == expected, [c.line() for c in outcome.checks]
    assert not outcome.ok


def test_the_failures_say_why(outcomes):
    why = {name: {c.name: c.why for c in outcomes(name).checks}
           for name in ("global-torch", "off-by-one", "no-prefix", "gives-up", "peeks")}
    assert "torch" in why["global-torch"]["global RNG"] and "numpy" not in why["global-torch"]["global RNG"]
    assert "is not a NAS-Bench-201 cell (6 op indices 0..4)" in why["off-by-one"]["valid cells"]
    assert "both stopped at the same error (InvalidProposal: ask " in why["off-by-one"]["determinism"]
    assert "told 2 of the 3 cells it asked for: ValueError: zip()" in why["no-prefix"]["budget"]
    assert "proposed no cell" in why["gives-up"]["budget"]
    assert "a benchmark (Nb201)" in why["peeks"]["blind"] and why["peeks"]["blind"].startswith("method.oracle")


def test_a_clean_plugin_passes_and_a_strict_prefix_is_told(outcomes):
    outcome = outcomes("clean")
    assert outcome.ok and _statuses(outcome)["budget"] == PASS
    assert "a tell of 2 of the 3 cells" in outcome.checks[RULES.index("budget")].why


def _run(name: str, budget: int = BUDGET):
    return ExperimentSpec(("nb201-cifar10",), (name,), (0,), Budget(budget)).runs()[0]


def test_a_batch_method_whose_run_ends_on_a_batch_is_rerun_with_a_budget_inside_one(planted):
    run = _run("no-prefix", 19)  # 1 + 3 x 6: no prefix in the first run
    budget = protocol.check_budget(run, protocol.watched_run(run))
    assert budget.status == FAIL and "with a budget of 17 queries (ending inside ask 7)" in budget.why
    run = _run("clean", 19)
    budget = protocol.check_budget(run, protocol.watched_run(run))
    assert budget.status == PASS and "rerun with a budget of 17 queries, a tell of 1 of the 3 cells of ask 7" in \
        budget.why


# ---------------------------------------------------------------------------------------------- the version rule
def _version_rule(name: str, store: Store) -> protocol.Check:
    return protocol.check_version_rule(_run(name), registry.method(name), registry.method_provider(name), store.root)


def test_changed_proposals_under_an_unchanged_version_are_flagged(planted, tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    run_experiment(ExperimentSpec(("nb201-cifar10",), ("drifting",), (0,), Budget(BUDGET)).runs(), store,
                   progress=False)
    assert _version_rule("drifting", store).status == PASS
    monkeypatch.setenv("PLANTED_DRIFT", "1")  # the code changed, its version did not
    rule = _version_rule("drifting", store)
    assert rule.status == FAIL and "now proposes differently from query 2" in rule.why
    assert "nasrepro-planted==0.1" in rule.why


def test_the_version_rule_compares_a_plugins_runs_of_another_release(plant, tmp_path):
    store = Store(tmp_path / "store")
    plant("nasrepro-release", "0.1", {"planted_release": PLANTED}, {METHODS: {"release": "planted_release:RELEASE"}})
    run_experiment(ExperimentSpec(("nb201-cifar10",), ("release",), (0,), Budget(BUDGET)).runs(), store,
                   progress=False)
    plant("nasrepro-release", "0.2", {"planted_release": PLANTED}, {METHODS: {"release": "planted_release:RELEASE"}})
    rule = _version_rule("release", store)
    assert rule.status == PASS and "1 stored run(s)" in rule.why


def test_without_a_stored_run_of_the_method_the_version_rule_is_skipped_saying_so(planted, tmp_path):
    store = Store(tmp_path / "store")
    run_experiment(ExperimentSpec(("nb201-cifar10",), ("rs",), (0,), Budget(BUDGET)).runs(), store, progress=False)
    rule = _version_rule("clean", store)
    assert rule.status == SKIP and "no stored run of clean on nb201-cifar10 with seed 0" in rule.why


# ---------------------------------------------------------------------------------------------- the command
def test_the_command_prints_one_line_per_rule_and_exits_0_only_if_none_fails(outcomes, capsys, monkeypatch):
    monkeypatch.setattr(protocol, "check_method", lambda name, **_: outcomes(name))  # the checks are tested above
    assert main(["check-method", "clean", "--budget", str(BUDGET)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("check-method clean (from nasrepro-planted 0.1, planted_methods:CLEAN, version 1)")
    assert [line.split()[0] for line in lines[1:8]] == [PASS] * 6 + [SKIP]
    assert lines[-1] == "6 passed, 0 failed, 1 skipped"
    assert main(["check-method", "peeks", "--budget", str(BUDGET)]) == 1
    out = capsys.readouterr().out
    assert "\nFAIL  blind: method.oracle" in out and out.splitlines()[-1] == "5 passed, 1 failed, 1 skipped"


@pytest.mark.parametrize(("argv", "message"), [
    (["check-method", "nothing"], "unknown method 'nothing'"),
    (["check-method", "rs", "--benchmark", "nb999"], "unknown benchmark 'nb999'"),
    (["check-method", "rs", "--budget", "0"], "--budget must be a positive number"),
    (["check-method", "rs", "--store", "/nonexistent/store"], "no results store at /nonexistent/store"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
