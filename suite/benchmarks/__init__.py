"""The benchmark registry. Benchmarks are built on first use and kept for the process.

Only the runner (and the predictor benchmark) look benchmarks up here; a method gets `benchmark.space`.
"""

from __future__ import annotations

from collections.abc import Callable

from suite.benchmarks.base import Arch, Benchmark, CellGraph, Observation, SearchSpace
from suite.errors import NasreproError

_FACTORIES: dict[str, Callable[..., Benchmark]] = {}
_DESCRIPTIONS: dict[str, str] = {}
_ORACLES: dict[str, tuple[str, ...]] = {}  # benchmarks with a choice of oracles: their names


def register(name: str, factory: Callable[..., Benchmark], description: str,
             oracles: tuple[str, ...] | None = None, replace: bool = False) -> None:
    """`oracles`: the oracle names the benchmark can be built with (`factory(oracle=NAME)`); None: one
    oracle, the one `factory()` builds. `replace`: swap a registered benchmark for another (the tests' small
    NB101 surrogate), before first use."""
    if name in _FACTORIES and not replace:
        raise ValueError(f"benchmark {name!r} registered twice")
    _BUILT.clear()
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description
    if oracles is not None:
        _ORACLES[name] = tuple(oracles)
    else:
        _ORACLES.pop(name, None)


def names() -> list[str]:
    return sorted(_FACTORIES)


def describe() -> dict[str, str]:
    return {name: _DESCRIPTIONS[name] for name in names()}


def check_name(name: str) -> None:
    if name not in _FACTORIES:
        raise NasreproError(f"unknown benchmark {name!r}; known: {', '.join(names())}")


def oracles(name: str) -> tuple[str, ...] | None:
    """The oracle names `name` can be built with, or None if it has one oracle only."""
    check_name(name)
    return _ORACLES.get(name)


def check_oracle(name: str, oracle: str) -> None:
    """Refuses an oracle the benchmark does not know, naming the ones it does (without building it)."""
    known = oracles(name)
    if known is None:
        known = (get(name).oracle,)
    if oracle not in known:
        raise NasreproError(f"unknown oracle {oracle!r} for {name}; known: {', '.join(known)}")


_BUILT: dict[tuple[str, str | None], Benchmark] = {}


def get(name: str, oracle: str | None = None) -> Benchmark:
    """The benchmark, built once per process and oracle; `oracle` None: its default oracle (the default
    and the same oracle asked for by name are one object)."""
    built = _BUILT.get((name, oracle))
    if built is not None:
        return built
    check_name(name)
    if oracle is None or name not in _ORACLES:  # the default oracle
        bench = _BUILT.get((name, None)) or _FACTORIES[name]()
        if oracle is not None and bench.oracle != oracle:
            raise NasreproError(f"unknown oracle {oracle!r} for {name}; known: {bench.oracle}")
        _BUILT[(name, None)] = bench
    else:
        check_oracle(name, oracle)
        bench = _FACTORIES[name](oracle=oracle)
    _BUILT[(name, oracle)] = _BUILT.setdefault((name, bench.oracle), bench)
    return _BUILT[(name, oracle)]


get.cache_clear = _BUILT.clear  # type: ignore[attr-defined]  # as functools.cache had it: tests reset it


def _register_builtin() -> None:
    from suite.benchmarks import nb101, nb201_surrogate, nb301

    nb101.register_all(register)
    nb201_surrogate.register_all(register)  # NB201's datasets with their oracles: the real table and its surrogates
    nb301.register_all(register)


_register_builtin()

__all__ = [
    "Arch", "Benchmark", "CellGraph", "Observation", "SearchSpace",
    "check_name", "check_oracle", "describe", "get", "names", "oracles", "register",
]
