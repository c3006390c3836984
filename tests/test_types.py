"""Every concrete space and benchmark satisfies the protocol of its cell type.

mypy checks this file (`make typecheck`, pyproject.toml [tool.mypy] files): the functions below return a
concrete space where a `SearchSpace[...]` is required, so a space whose operators stop matching the
protocol fails the type check. The tests check the same at run time where the protocols allow it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from suite.benchmarks.base import Benchmark, SearchSpace
from suite.benchmarks.darts_space import DartsArch
from suite.benchmarks.nb101 import Nb101
from suite.benchmarks.nb101_space import Nb101Space
from suite.benchmarks.nb201 import Nb201, Nb201Space
from suite.benchmarks.nb301 import Nb301, Nb301Space


def nb101_space(space: Nb101Space) -> SearchSpace[int]:
    return space


def nb201_space(space: Nb201Space) -> SearchSpace[tuple[int, ...]]:
    return space


def nb301_space(space: Nb301Space) -> SearchSpace[DartsArch]:
    return space


def nb101(bench: Nb101) -> Benchmark[int]:
    return bench


def nb201(bench: Nb201) -> Benchmark[tuple[int, ...]]:
    return bench


def nb301(bench: Nb301) -> Benchmark[DartsArch]:
    return bench


class _NoGraphs:
    """A space without `graph`/`from_graph`: not a SearchSpace."""

    name = "toy"

    def sample(self, rng: np.random.Generator) -> int:
        return 0

    def mutate(self, arch: int, rng: np.random.Generator) -> int:
        return arch

    def neighbors(self, arch: int) -> list[int]:
        return []

    def key(self, arch: int) -> str:
        return str(arch)

    def costs(self, arch: int) -> dict[str, float]:
        return {}


def test_the_nb201_space_and_benchmark_satisfy_the_protocols(nb201_c10: Any) -> None:
    assert isinstance(nb201_space(nb201_c10.space), SearchSpace)
    assert isinstance(nb201(nb201_c10), Benchmark)
    assert not isinstance(nb201_c10.space, Benchmark)  # the space alone holds no oracle


def test_the_nb301_space_satisfies_the_protocol() -> None:
    from suite.benchmarks import darts_size

    n = len(darts_size.features(Nb301Space(None).sample(np.random.default_rng(0))))  # type: ignore[arg-type]
    space = Nb301Space(darts_size.SizeModel(np.ones(n), np.ones(n)))  # any coefficients: not what is tested
    assert isinstance(nb301_space(space), SearchSpace)
    arch = space.sample(np.random.default_rng(0))
    assert space.key(space.from_graph(space.graph(arch))) == space.key(arch)


def test_a_space_without_graphs_is_not_a_search_space() -> None:
    assert not isinstance(_NoGraphs(), SearchSpace)


@pytest.mark.slow
def test_the_nb101_space_satisfies_the_protocol() -> None:
    space = Nb101Space()  # the cell table: enumerated once, then cached
    assert isinstance(nb101_space(space), SearchSpace)
    assert not isinstance(space, Benchmark)
