"""BANANAS: valid and new proposals, common random numbers with RS, seeding, constraints, swapping."""

from __future__ import annotations

import numpy as np
import pytest

import methods
from methods.base import SearchContext
from suite.constraints import Constraint
from suite.errors import NasreproError


def context(bench, seed: int, constraint: Constraint | None = None) -> SearchContext:
    seeds = np.random.SeedSequence(seed, spawn_key=(0,))
    return SearchContext(bench.space, np.random.default_rng(seeds), seeds, constraint=constraint)


def run(bench, name: str, queries: int, seed: int = 0, overrides=None, constraint=None) -> list:
    """A minimal runner: ask, query every proposal, tell, until `queries` cells were evaluated."""
    entry = methods.get(name)
    method = entry.build(entry.make_config(bench.name, overrides), context(bench, seed, constraint))
    proposed = []
    while len(proposed) < queries:
        archs = method.ask()[: queries - len(proposed)]
        proposed += archs
        method.tell(archs, [bench.query(a) for a in archs])
    return proposed


FAST = {"predictor": "xgb", "encoding": "path"}


def test_proposals_are_new_valid_cells(nb201_c10):
    proposed = run(nb201_c10, "bananas", 40, overrides=FAST)
    keys = [nb201_c10.key(a) for a in proposed]  # key() raises on an invalid cell
    assert len(set(keys)) == 40


def test_initial_cells_are_those_of_random_search(nb201_c10):
    assert run(nb201_c10, "bananas", 10, seed=4, overrides=FAST) == run(nb201_c10, "rs", 10, seed=4)


def test_same_seed_same_proposals_with_the_default_mlp_ensemble(nb201_c10):
    first = run(nb201_c10, "bananas", 20, seed=1)
    assert first == run(nb201_c10, "bananas", 20, seed=1)
    assert first[10:] != run(nb201_c10, "bananas", 20, seed=2)[10:]


def test_model_guided_rounds_beat_their_random_start(nb201_c10):
    proposed = run(nb201_c10, "bananas", 50, seed=0, overrides=FAST)
    values = [nb201_c10.query(a).value for a in proposed]
    assert np.mean(values[10:]) > np.mean(values[:10])


def test_candidates_respect_the_constraint(nb201_c10):
    constraint = Constraint.parse("flops_m<=60")
    proposed = run(nb201_c10, "bananas", 30, overrides=FAST, constraint=constraint)
    assert all(constraint.feasible(nb201_c10, a) for a in proposed[10:])


def test_predictor_and_encoding_are_swappable(nb201_c10):
    method = methods.get("bananas").build(
        methods.get("bananas").make_config(nb201_c10.name, {"predictor": "rf", "encoding": "adjacency"}),
        context(nb201_c10, 0),
    )
    assert type(method.predictor).__name__ == "RfPredictor" and method.predictor.encoding.name == "adjacency"
    with pytest.raises(NasreproError, match="unknown predictor"):
        methods.get("bananas").make_config(nb201_c10.name, {"predictor": "svm"})
    with pytest.raises(NasreproError, match="acquisition"):
        methods.get("bananas").make_config(nb201_c10.name, {"acquisition": "ucb"})
