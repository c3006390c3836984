"""Regularized evolution as Algorithm 1 of Real et al. (2019): aging, tournament, population size."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from methods.regularized_evolution import RegularizedEvolution, RegularizedEvolutionConfig
from suite import registry
from suite.api import SearchContext
from suite.benchmarks.base import Observation
from suite.errors import NasreproError


class Line:
    """A toy space: cells are integers, a mutation is recorded as ("child of", parent)."""

    name = "line"

    def sample(self, rng):
        return int(rng.integers(1_000_000))

    def mutate(self, arch, rng):
        return ("child of", arch)


def build(seed: int = 0, **settings) -> RegularizedEvolution:
    seeds = np.random.SeedSequence(seed)
    context = SearchContext(Line(), np.random.default_rng(seeds), seeds)
    return RegularizedEvolution(RegularizedEvolutionConfig(**settings), context)


def tell(method, archs, values) -> None:
    method.tell(list(archs), [Observation(float(v), 0.0) for v in values])


def test_the_oldest_member_dies_not_the_worst():
    method = build(population_size=3, sample_size=1, initial_random=3)
    tell(method, ["old-best", "mid", "young"], [9.0, 5.0, 1.0])
    tell(method, ["newest-worst"], [0.0])
    assert [arch for arch, _ in method.population] == ["mid", "young", "newest-worst"]


def test_the_population_is_the_last_population_size_cells_told():
    method = build(population_size=7, sample_size=3, initial_random=7)
    values = np.random.default_rng(1).normal(size=50)
    tell(method, range(50), values)
    assert [arch for arch, _ in method.population] == list(range(43, 50))
    assert [value for _, value in method.population] == list(values[43:])


def test_random_cells_first_then_children_of_population_members():
    method = build(population_size=4, sample_size=2, initial_random=4)
    for _ in range(4):
        (arch,) = method.ask()
        assert isinstance(arch, int)
        tell(method, [arch], [float(arch)])
    members = {arch for arch, _ in method.population}
    for _ in range(10):
        (child,) = method.ask()
        assert child[0] == "child of" and child[1] in members


def exact_parent_distribution(values: list[float], sample_size: int, replace: bool) -> dict[int, float]:
    """Brute force over every equally likely tournament: P(parent = member i)."""
    members = range(len(values))
    if replace:
        draws = list(itertools.product(members, repeat=sample_size))
    else:
        draws = list(itertools.permutations(members, sample_size))
    counts = Counter(max(draw, key=lambda i: values[i]) for draw in draws)
    return {i: counts[i] / len(draws) for i in members}


@pytest.mark.parametrize("tournament", ["with_replacement", "without_replacement"])
def test_the_parent_is_the_best_of_a_uniform_sample_drawn_as_configured(tournament):
    values = [3.0, 0.0, 2.0, 1.0]  # distinct: the best of a sample is unique
    method = build(seed=7, population_size=4, sample_size=2, initial_random=4, tournament=tournament)
    tell(method, range(4), values)
    members = list(method.population)
    draws = 40_000
    counts = Counter(method._parent(members) for _ in range(draws))
    exact = exact_parent_distribution(values, 2, replace=tournament == "with_replacement")
    # with replacement: P(parent has rank r of 4) = (r/4)^2 - ((r-1)/4)^2 = 1/16, 3/16, 5/16, 7/16
    if tournament == "with_replacement":
        assert [exact[i] for i in (1, 3, 2, 0)] == [1 / 16, 3 / 16, 5 / 16, 7 / 16]
    else:
        assert exact[1] == 0  # the worst can never win a tournament of two distinct members
    for member, p in exact.items():
        se = (p * (1 - p) / draws) ** 0.5
        assert abs(counts[member] / draws - p) <= 4 * se + 1e-12, (member, counts[member] / draws, p)


def test_with_replacement_a_full_size_tournament_can_miss_the_best():
    values = list(range(10))
    drawn = {}
    for tournament in ("with_replacement", "without_replacement"):
        method = build(seed=3, population_size=10, sample_size=10, initial_random=10, tournament=tournament)
        tell(method, range(10), values)
        members = list(method.population)
        drawn[tournament] = [method._parent(members) for _ in range(2000)]
    assert set(drawn["without_replacement"]) == {9}
    # P(the best is not among 10 draws with replacement) = 0.9^10 = 0.349
    missed = np.mean([parent != 9 for parent in drawn["with_replacement"]])
    assert abs(missed - 0.9**10) < 0.04


def test_default_tournament_is_with_replacement_and_bad_names_are_refused():
    entry = registry.method("re")
    assert entry.make_config("nb201-cifar10").tournament == "with_replacement"
    assert entry.version >= 2
    with pytest.raises(NasreproError, match="tournament"):
        entry.make_config("nb201-cifar10", {"tournament": "roulette"})
