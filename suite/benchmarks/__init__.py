"""The benchmark registry. Benchmarks are built on first use and kept for the process.

Only the runner (and the predictor benchmark) look benchmarks up here; a method gets `benchmark.space`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from suite.benchmarks.base import Arch, Benchmark, CellGraph, Observation, SearchSpace
from suite.errors import NasreproError

_FACTORIES: dict[str, Callable[[], Benchmark]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register(name: str, factory: Callable[[], Benchmark], description: str, replace: bool = False) -> None:
    """`replace`: swap a registered benchmark for another (the tests' small NB101 surrogate), before first use."""
    if name in _FACTORIES and not replace:
        raise ValueError(f"benchmark {name!r} registered twice")
    get.cache_clear()
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description


def names() -> list[str]:
    return sorted(_FACTORIES)


def describe() -> dict[str, str]:
    return {name: _DESCRIPTIONS[name] for name in names()}


def check_name(name: str) -> None:
    if name not in _FACTORIES:
        raise NasreproError(f"unknown benchmark {name!r}; known: {', '.join(names())}")


@cache
def get(name: str) -> Benchmark:
    check_name(name)
    return _FACTORIES[name]()


def _register_builtin() -> None:
    from suite.benchmarks import nb101, nb201, nb301

    nb101.register_all(register)
    nb201.register_all(register)
    nb301.register_all(register)


_register_builtin()

__all__ = [
    "Arch", "Benchmark", "CellGraph", "Observation", "SearchSpace",
    "check_name", "describe", "get", "names", "register",
]
