"""The benchmark registry. Benchmarks are built on first use and kept for the process.

Only the runner (and the predictor benchmark) look benchmarks up here; a method gets `benchmark.space`.
A benchmark answers with its own oracle unless another registered oracle is named (`get(name, oracle)`,
`nasrepro run --oracle`): the space and the metrics' meaning stay, the data or model behind them differ,
and every run records the oracle it was answered by.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from suite.benchmarks.base import Arch, Benchmark, CellGraph, Observation, SearchSpace
from suite.errors import NasreproError

_FACTORIES: dict[str, Callable[[], Benchmark]] = {}
_DESCRIPTIONS: dict[str, str] = {}
_ORACLES: dict[str, dict[str, tuple[Callable[[], Benchmark], str]]] = {}  # benchmark -> other oracles


def register(name: str, factory: Callable[[], Benchmark], description: str) -> None:
    if name in _FACTORIES:
        raise ValueError(f"benchmark {name!r} registered twice")
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description


def register_oracle(name: str, oracle: str, factory: Callable[[], Benchmark], description: str) -> None:
    """An oracle of benchmark `name` other than its own, built by `factory` when asked for by name."""
    if name not in _FACTORIES or oracle in _ORACLES.get(name, {}):
        raise ValueError(f"oracle {oracle!r} of benchmark {name!r}: unknown benchmark or registered twice")
    _ORACLES.setdefault(name, {})[oracle] = (factory, description)


def oracles(name: str) -> dict[str, str]:
    """The oracles of `name` other than its own, with their descriptions."""
    return {oracle: description for oracle, (_, description) in sorted(_ORACLES.get(name, {}).items())}


def names() -> list[str]:
    return sorted(_FACTORIES)


def describe() -> dict[str, str]:
    return {name: _DESCRIPTIONS[name] for name in names()}


def check_name(name: str) -> None:
    if name not in _FACTORIES:
        raise NasreproError(f"unknown benchmark {name!r}; known: {', '.join(names())}")


@cache
def get(name: str, oracle: str | None = None) -> Benchmark:
    """Benchmark `name` answered by `oracle` (None: its own; its own oracle's name also selects it)."""
    check_name(name)
    other = _ORACLES.get(name, {}).get(oracle)
    if other is not None:
        return other[0]()
    bench = _FACTORIES[name]() if oracle is None else get(name)
    if oracle is not None and bench.oracle != oracle:
        known = ", ".join([bench.oracle, *oracles(name)])
        raise NasreproError(f"{name} has no oracle {oracle!r} here; known: {known}")
    return bench


def _register_builtin() -> None:
    from suite.benchmarks import nb101, nb201, nb201_surrogate, nb301

    nb101.register_all(register)
    nb201.register_all(register)
    nb301.register_all(register)
    nb201_surrogate.register_all(register_oracle)


_register_builtin()

__all__ = [
    "Arch", "Benchmark", "CellGraph", "Observation", "SearchSpace",
    "check_name", "describe", "get", "names", "oracles", "register", "register_oracle",
]
