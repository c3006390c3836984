"""`nasrepro check-predictor`: every built-in passes every rule, and a planted predictor breaking one rule fails
that rule only.

The planted predictors are a plugin distribution laid out by the `plant_for_module` fixture (conftest.py), so
the determinism check's child processes find them as they would find a pip-installed plugin. The checks fit on
TRAIN cells and predict TEST, fewer than the command's defaults: the child processes' start (torch's import)
costs more than the fits.
"""

from __future__ import annotations

import functools

import pytest

from suite import benchmarks, registry
from suite.checks import predictor as check
from suite.checks import protocol
from suite.checks.predictor import RULES
from suite.checks.protocol import FAIL, PASS, SKIP
from suite.cli import main

PREDICTORS = "nasrepro.predictors"
TRAIN, TEST = 20, 50

PLANTED = '''
import random
from dataclasses import dataclass

import numpy as np

from suite.api import PredictorEntry


@dataclass(frozen=True)
class Config:
    scale: float = 0.1


class Offsets:
    """The training mean plus a seeded offset per cell (its own generator, drawn at fit): deterministic."""

    def __init__(self, config, space, seed_sequence):
        self.config, self.space = config, space
        self.rng = np.random.default_rng(seed_sequence)

    def fit(self, archs, y):
        self.mean = float(np.mean(y))
        self.offsets = self.rng.normal(size=64) * self.config.scale
        return self

    def offset(self, arch):
        return self.offsets[sum(map(ord, self.space.key(arch))) % 64]

    def predict(self, archs):
        return np.array([self.mean + self.offset(a) for a in archs])


@dataclass
class LooseConfig:
    scale: float = 0.1


class GlobalNumpy(Offsets):  # a forgotten draw from numpy's global generator (its value unused)
    def fit(self, archs, y):
        np.random.random()
        return super().fit(archs, y)


class HashOffsets(Offsets):  # an offset chosen by hash() of the cell's key: set by PYTHONHASHSEED
    def offset(self, arch):
        return self.offsets[hash(self.space.key(arch)) % 64]


class Column(Offsets):  # predictions of shape (n, 1)
    def predict(self, archs):
        return super().predict(archs)[:, None]


class Nan(Offsets):
    def predict(self, archs):
        values = super().predict(archs)
        values[-1] = np.nan
        return values


class NotSelf(Offsets):  # fit returns nothing
    def fit(self, archs, y):
        super().fit(archs, y)


class NegativeStd(Offsets):
    def predict_dist(self, archs):
        mean = self.predict(archs)
        return mean, -np.ones_like(mean)


class Peeks(Offsets):  # fetches the benchmark behind the space
    def __init__(self, config, space, seed_sequence):
        super().__init__(config, space, seed_sequence)
        from suite import benchmarks

        self.oracle = benchmarks.get(space.name)


# name -> (class, config class), each entry published as NAME_IN_CAPITALS (the entry point's target)
PLANTS = {
    "clean": (Offsets, Config), "unfrozen": (Offsets, LooseConfig), "global-numpy": (GlobalNumpy, Config),
    "hash-offsets": (HashOffsets, Config), "column": (Column, Config), "nan": (Nan, Config),
    "not-self": (NotSelf, Config), "negative-std": (NegativeStd, Config), "peeks": (Peeks, Config),
}
globals().update({name.upper().replace("-", "_"): PredictorEntry(name, config, cls, f"planted: {name}")
                  for name, (cls, config) in PLANTS.items()})
'''
NAMES = ["clean", "unfrozen", "global-numpy", "hash-offsets", "column", "nan", "not-self", "negative-std", "peeks"]


@pytest.fixture(scope="module")
def outcomes(plant_for_module):
    """Plants the predictors; outcomes(name) is the check of one, made once for the tests that read it."""
    plant_for_module("nasrepro-planted-predictors", "0.1", {"planted_predictors": PLANTED},
                     {PREDICTORS: {name: f"planted_predictors:{name.upper().replace('-', '_')}" for name in NAMES}})
    return functools.cache(functools.partial(check.check_predictor, train=TRAIN, test=TEST))


def _statuses(outcome: protocol.Outcome) -> dict[str, str]:
    assert [c.name for c in outcome.checks] == list(RULES)
    return {c.name: c.status for c in outcome.checks}


# ---------------------------------------------------------------------------------------------- built-ins
# (name, benchmark): the parameter-count baseline refuses NB201, whose cells have no parameter count
FULL = [("flops", "nb201-cifar10"), ("xgb", "nb201-cifar10"), ("rf", "nb201-cifar10"), ("gp", "nb201-cifar10"),
        ("params", "nb301")]
TORCH = ["mlp_ensemble", "gnn"]  # their child processes import torch: checked in this process, fully when slow


def test_every_built_in_is_checked():
    builtins = {name for name in registry.predictor_names() if registry.predictor_provider(name).builtin}
    assert builtins == {name for name, _ in FULL} | set(TORCH)


@pytest.mark.parametrize(("name", "on"), FULL)  # not `benchmark`: pytest-benchmark's fixture
def test_a_built_in_passes_every_rule(name, on):
    outcome = check.check_predictor(name, on, train=TRAIN, test=TEST)
    assert _statuses(outcome) == dict.fromkeys(RULES, PASS), [c.line() for c in outcome.checks]


@pytest.mark.parametrize("name", TORCH)
def test_a_built_in_that_trains_passes_every_rule_in_this_process(nb201_c10, name):
    request = check.Request(name, train=TRAIN, test=TEST)
    data = request.data(nb201_c10)
    before = protocol.global_states()
    here = check.exercise(registry.predictor(name), nb201_c10.space, request, data)
    assert protocol.check_global_rng(before, protocol.global_states()).status == PASS
    assert here.contract.status == PASS, here.contract.why
    assert ("predict_dist" in here.contract.why) == (name == "mlp_ensemble")  # its uncertainty was checked
    assert check.fingerprint(here.values) == check.fingerprint(here.again)  # two builds, bit for bit
    blind = check.check_blind(here, nb201_c10, registry.predictor_provider(name))
    assert blind.status == PASS, blind.why


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCH)
def test_a_built_in_that_trains_passes_every_rule(name):
    outcome = check.check_predictor(name)
    assert _statuses(outcome) == dict.fromkeys(RULES, PASS), [c.line() for c in outcome.checks]


# ---------------------------------------------------------------------------------------------- plants
@pytest.mark.parametrize(("name", "broken"), [
    ("unfrozen", "config"),
    ("hash-offsets", "determinism"),
    ("global-numpy", "global RNG"),
    ("column", "contract"),
    ("peeks", "blind"),
])
def test_a_predictor_breaking_one_rule_fails_that_rule_only(outcomes, name, broken):
    outcome = outcomes(name)
    assert _statuses(outcome) == {**dict.fromkeys(RULES, PASS), broken: FAIL}, [c.line() for c in outcome.checks]
    assert not outcome.ok


def test_a_clean_plugin_passes(outcomes):
    outcome = outcomes("clean")
    assert outcome.ok and _statuses(outcome) == dict.fromkeys(RULES, PASS)
    assert outcome.header.startswith("clean (from nasrepro-planted-predictors 0.1, planted_predictors:CLEAN, "
                                     "version 1) on nb201-cifar10, seed 0, fitted on 20 cells (refitted on 30), 50")


def test_the_failures_say_why(outcomes):
    why = {name: {c.name: c.why for c in outcomes(name).checks}
           for name in ("unfrozen", "hash-offsets", "global-numpy", "column", "peeks")}
    assert "LooseConfig is not a frozen dataclass" in why["unfrozen"]["config"]
    assert "differently in two processes (PYTHONHASHSEED 1 and 2), first at cell " in why["hash-offsets"]["determinism"]
    assert why["global-numpy"]["global RNG"].startswith("the global state of numpy changed")
    assert f"predict of {TEST} cell(s) returned an array of shape ({TEST}, 1), not ({TEST},)" in \
        why["column"]["contract"]
    assert why["peeks"]["blind"].startswith("predictor.oracle is a benchmark (Nb201)")


@pytest.mark.parametrize(("name", "why"), [  # in this process only: the contract needs no child process
    ("nan", "predict of 50 cell(s) returned 1 of 50 values NaN or infinite"),
    ("not-self", "fit returned NoneType, not the predictor itself"),
    ("negative-std", "predict_dist of 50 cells returned 50 negative stds"),
])
def test_a_predictor_breaking_the_contract_fails_it_saying_why(outcomes, nb201_c10, name, why):
    request = check.Request(name, train=TRAIN, test=TEST)
    here = check.exercise(registry.predictor(name), nb201_c10.space, request, request.data(nb201_c10))
    assert here.contract.status == FAIL and why in here.contract.why
    assert check.fingerprint(here.values) == check.fingerprint(here.again)


def test_a_predictor_that_fails_to_fit_fails_the_contract_and_skips_what_needs_a_fit(outcomes, monkeypatch):
    from planted_predictors import Offsets

    def broken_fit(self, archs, y):
        raise RuntimeError("no fit today")

    monkeypatch.setattr(Offsets, "fit", broken_fit)
    outcome = check.check_predictor("clean", train=TRAIN, test=TEST)
    assert _statuses(outcome) == {**dict.fromkeys(RULES, PASS), "contract": FAIL, "determinism": SKIP}
    assert f"fit on {TRAIN} cells failed: RuntimeError: no fit today" in outcome.checks[RULES.index("contract")].why


# ---------------------------------------------------------------------------------------------- the command
def test_the_command_prints_one_line_per_rule_and_exits_0_only_if_none_fails(outcomes, capsys, monkeypatch):
    monkeypatch.setattr(check, "check_predictor", lambda name, **_: outcomes(name))  # the checks are tested above
    assert main(["check-predictor", "clean"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("check-predictor clean (from nasrepro-planted-predictors 0.1")
    assert [line.split()[0] for line in lines[1:-1]] == [PASS] * len(RULES)
    assert lines[-1] == f"{len(RULES)} passed, 0 failed, 0 skipped"
    assert main(["check-predictor", "peeks"]) == 1
    out = capsys.readouterr().out
    assert "\nFAIL  blind: predictor.oracle" in out and out.splitlines()[-1] == "4 passed, 1 failed, 0 skipped"


@pytest.mark.parametrize(("argv", "message"), [
    (["check-predictor", "nothing"], "unknown predictor 'nothing'; known: "),
    (["check-predictor", "xgb", "--benchmark", "nb999"], "unknown benchmark 'nb999'"),
    (["check-predictor", "xgb", "--seed", "-1"], "--seed must be a non-negative integer"),
    (["check-predictor", "params"], "predictor 'params' cannot be built on nb201-cifar10: nb201-cifar10 exposes no "
                                    "'params' or 'params_m'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    benchmarks.get("nb201-cifar10")  # loaded once for the module
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    if argv[1] == "nothing":  # the known ones are named
        assert all(name in err for name in registry.predictor_names())
