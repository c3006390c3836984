"""Local search as naszilla runs it: best of 10 random cells, a first-improvement climb over the neighbourhood
in random order, a restart at a local optimum; checked by watching it on the real spaces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pytest

from methods.local_search import LocalSearch, LocalSearchConfig
from methods.random_search import RandomSearch, RandomSearchConfig
from suite import benchmarks, registry
from suite.api import SearchContext
from suite.benchmarks import nb101_space
from suite.benchmarks.base import Observation
from suite.constraints import Constraint
from suite.running.runner import execute
from suite.running.spec import Budget, ExperimentSpec


def bumpy(space, arch) -> float:
    """A rugged, seed-free landscape over any space (a hash of the cell's key): many local optima."""
    return int(hashlib.sha256(space.key(arch).encode()).hexdigest()[:8], 16) / 2**32


@dataclass
class Watched:
    """Everything one search did, step by step (the runner's loop, with a toy objective)."""

    proposals: list = field(default_factory=list)
    values: dict = field(default_factory=dict)  # key -> value
    # per query: (the climb before ask, after ask, after tell, the cell, its value); None while starting
    steps: list = field(default_factory=list)


def watch(space, n: int, seed: int = 0, constraint: Constraint | None = None, **settings):
    seeds = np.random.SeedSequence(seed)
    context = SearchContext(space, np.random.default_rng(seeds), seeds, constraint=constraint)
    method = LocalSearch(LocalSearchConfig(**settings), context)
    seen = Watched()
    for _ in range(n):
        before = method.climb
        (arch,) = method.ask()
        after_ask = method.climb
        seen.proposals.append(arch)
        value = bumpy(space, arch)
        seen.values[space.key(arch)] = value
        method.tell([arch], [Observation(value, 0.0)])
        seen.steps.append((before, after_ask, method.climb, arch, value))
    return seen, method


@pytest.fixture(scope="module")
def nb101() -> nb101_space.Nb101Space:
    return nb101_space.Nb101Space()


@pytest.fixture(scope="module")
def spaces(nb201_c10, nb101):
    return {"nb201-cifar10": nb201_c10.space, "nb101": nb101, "nb301": benchmarks.get("nb301").space}


def test_registered_with_naszillas_settings():
    entry = registry.method("ls")
    assert entry.default_config("nb101") == LocalSearchConfig(initial_random=10, move="first")


@pytest.mark.parametrize("name", ["nb201-cifar10", "nb101", "nb301"])
def test_starts_from_the_best_of_ten_random_cells_as_random_search_draws_them(spaces, name):
    space = spaces[name]
    seen, method = watch(space, 11)
    seeds = np.random.SeedSequence(0)
    rs = RandomSearch(RandomSearchConfig(), SearchContext(space, np.random.default_rng(seeds), seeds))
    assert [space.key(a) for a in seen.proposals[:10]] == [space.key(rs.ask()[0]) for _ in range(10)]
    first_ten = [seen.values[space.key(a)] for a in seen.proposals[:10]]
    start = seen.steps[9][2]
    assert start.value == max(first_ten)
    assert space.key(start.arch) == space.key(seen.proposals[int(np.argmax(first_ten))])
    assert seen.proposals[10] in space.neighbors(start.arch)  # the 11th query scans its neighbourhood


@pytest.mark.parametrize("name", ["nb201-cifar10", "nb101", "nb301"])
def test_climbs_first_improvement_and_restarts_only_at_a_local_optimum(spaces, name):
    space = spaces[name]
    n = 300 if name == "nb201-cifar10" else 400
    seen, method = watch(space, n, seed=1)
    keys = [space.key(a) for a in seen.proposals]
    assert len(set(keys)) == len(keys)  # never proposes a cell twice
    moves = 0
    for _, at_ask, after, arch, value in seen.steps:
        if at_ask is None:
            continue  # a random cell of a start
        assert arch in space.neighbors(at_ask.arch)  # a valid one-edit neighbour of the current cell
        if after is not at_ask:
            moves += 1
            assert value > at_ask.value and after.arch == arch  # moved to the first better neighbour
    ended = [before for before, at_ask, *_ in seen.steps if before is not None and at_ask is None]
    for local in ended:
        assert all(space.key(nbr) in seen.values for nbr in space.neighbors(local.arch))
        assert all(v <= local.value for _, v in local.scanned)
    assert moves == method.moves > 0
    assert len(ended) == method.local_optima > 0  # it reached local optima and started again
    # after each local optimum, ten new random cells before the next climb
    restart_at = [i for i, (before, at_ask, *_) in enumerate(seen.steps) if before is not None and at_ask is None]
    for i in restart_at:
        if i + 10 <= n:
            assert all(seen.steps[j][1] is None for j in range(i, i + 10))


def test_best_move_scans_the_whole_neighbourhood_then_moves_to_its_best(nb201_c10):
    space = nb201_c10.space
    seen, method = watch(space, 300, seed=2, move="best")
    moved = 0
    for k, (before, at_ask, after, _, _) in enumerate(seen.steps):
        assert at_ask is None or after is at_ask, f"step {k}: moved in the middle of a scan"
        if before is not None and at_ask is not None and at_ask is not before:  # the scan of `before` ended
            best = max(before.scanned, key=lambda cell: cell[1])
            assert at_ask.arch == best[0] and at_ask.value == best[1] > before.value
            assert all(space.key(nbr) in seen.values for nbr in space.neighbors(before.arch))
            moved += 1
    assert moved == method.moves > 0


def test_same_seed_same_proposals_other_seed_others(nb101):
    a, _ = watch(nb101, 120, seed=5)
    b, _ = watch(nb101, 120, seed=5)
    c, _ = watch(nb101, 120, seed=6)
    assert a.proposals == b.proposals
    assert a.proposals != c.proposals


def test_a_constraint_keeps_every_proposal_feasible(nb201_c10):
    space = nb201_c10.space
    constraint = Constraint.parse("flops_m<=80")
    seen, _ = watch(space, 200, seed=3, constraint=constraint)
    assert all(constraint.feasible(space, arch) for arch in seen.proposals)


def test_the_runner_spends_the_budget_in_unique_cells(nb201_c10):
    run = ExperimentSpec(("nb201-cifar10",), ("ls",), (0,), Budget(150), experiment_seed=7).runs()[0]
    trajectory, meta = execute(run)
    again, _ = execute(run)
    assert len(trajectory) == 150 and trajectory["arch_key"].is_unique
    assert trajectory.equals(again)
    assert meta["diagnostics"]["local_optima"] >= 1 and meta["diagnostics"]["moves"] >= 1
    rs = execute(ExperimentSpec(("nb201-cifar10",), ("rs",), (0,), Budget(10), experiment_seed=7).runs()[0])[0]
    assert trajectory["arch_key"][:10].tolist() == rs["arch_key"].tolist()  # common random numbers with RS


@pytest.mark.parametrize(("settings", "message"), [({"initial_random": 0}, "initial_random"),
                                                   ({"move": "steepest"}, "move")])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        LocalSearchConfig(**settings)
