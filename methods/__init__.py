"""The method registry: each method is a class built from a frozen config dataclass."""

from __future__ import annotations

from methods.base import Method, MethodEntry, SearchContext
from suite.errors import NasreproError

_REGISTRY: dict[str, MethodEntry] = {}


def register(entry: MethodEntry) -> None:
    if entry.name in _REGISTRY:
        raise ValueError(f"method {entry.name!r} registered twice")
    _REGISTRY[entry.name] = entry


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> MethodEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NasreproError(f"unknown method {name!r}; known: {', '.join(names())}") from None


def _register_builtin() -> None:
    from methods import bananas, random_search, regularized_evolution

    for module in (random_search, regularized_evolution, bananas):
        register(module.ENTRY)
    from methods import ganas

    register(ganas.ENTRY)
    register(ganas.MLE_ENTRY)


_register_builtin()

__all__ = ["Method", "MethodEntry", "SearchContext", "get", "names", "register"]
