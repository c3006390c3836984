"""Predictor-assisted search (`--predictor`): RS and RE screen a pool; without a predictor nothing changes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from predictors.screening import Screen
from suite import registry
from suite.api import SearchContext
from suite.benchmarks.base import Observation

# sha256 of the proposals' keys (one per line) of RE (80 proposals) and RS (40), seed 5, default
# settings, computed with the code before predictor screening was added (commit f33d3dc). RE's hash
# is that of its tournament without replacement, the default then (RE version 1).
BEFORE = {
    "re": (80, "22e1cae37547a61149a561561ee6d51ba9e8e11132b7d221e53d6db8c1a2358f"),
    "rs": (40, "05474fc44c27a467776f78fb9b71a071153e96d28e27a297c2934808b0dedcff"),
}
SETTINGS_THEN = {"re": {"tournament": "without_replacement"}, "rs": {}}


def run(bench, name: str, queries: int, seed: int, predictor=None, overrides=None) -> list:
    seeds = np.random.SeedSequence(seed, spawn_key=(0,))
    context = SearchContext(bench.space, np.random.default_rng(seeds), seeds, predictor)
    entry = registry.method(name)
    method = entry.build(entry.make_config(bench.name, overrides), context)
    proposed = []
    while len(proposed) < queries:
        archs = method.ask()
        proposed += archs
        method.tell(archs, [bench.query(a) for a in archs])
    return proposed


def digest(bench, archs) -> str:
    return hashlib.sha256("\n".join(bench.key(a) for a in archs).encode()).hexdigest()


@pytest.mark.parametrize("name", ["re", "rs"])
def test_runs_without_a_predictor_are_unchanged(nb201_c10, name):
    queries, expected = BEFORE[name]
    then = SETTINGS_THEN[name]
    assert digest(nb201_c10, run(nb201_c10, name, queries, seed=5, overrides=then)) == expected
    # the pool size matters only with a predictor
    overrides = {**then, "predictor_pool": 3}
    assert digest(nb201_c10, run(nb201_c10, name, queries, 5, overrides=overrides)) == expected


def fast_xgb(bench):
    return registry.build_predictor("xgb", bench, np.random.SeedSequence(0), {"n_estimators": 50})


def test_a_predictor_changes_re_proposals_after_its_random_start(nb201_c10):
    plain = run(nb201_c10, "re", 45, seed=5)
    screened = run(nb201_c10, "re", 45, seed=5, predictor=fast_xgb(nb201_c10))
    assert screened[:30] == plain[:30]  # initial_random cells: no screening
    assert screened[30:] != plain[30:]
    assert screened == run(nb201_c10, "re", 45, seed=5, predictor=fast_xgb(nb201_c10))


def test_a_predictor_screens_rs_proposals(nb201_c10):
    plain = run(nb201_c10, "rs", 25, seed=5)
    screened = run(nb201_c10, "rs", 25, seed=5, predictor=fast_xgb(nb201_c10))
    assert screened[:10] == plain[:10]  # fewer than 10 results: nothing to fit yet
    values = [nb201_c10.query(a).value for a in screened[10:]]
    assert np.mean(values) > np.mean([nb201_c10.query(a).value for a in plain[10:]])


class Oracle:
    """A 'predictor' that knows the answers, to test the screen's selection logic on its own."""

    def __init__(self, bench):
        self.bench = bench
        self.fits = 0

    def fit(self, archs, y):
        self.fits += 1
        return self

    def predict(self, archs):
        return np.array([self.bench.query(a).value for a in archs])


def test_screen_keeps_the_best_unseen_and_refits_only_on_news(nb201_c10):
    oracle = Oracle(nb201_c10)
    screen = Screen(oracle, nb201_c10, min_observations=2)
    rng = np.random.default_rng(0)
    pool = [nb201_c10.sample(rng) for _ in range(30)]
    screen.observe(pool[:2], [nb201_c10.query(a) for a in pool[:2]])
    best = screen.best(pool, 3)
    values = sorted((nb201_c10.query(a).value for a in pool[2:]), reverse=True)
    assert [nb201_c10.query(a).value for a in best] == values[:3]
    screen.best(pool, 1)
    assert oracle.fits == 1
    screen.observe([best[0]], [Observation(1.0, 0.0)])
    assert best[0] not in screen.best(pool, 2) and oracle.fits == 2
