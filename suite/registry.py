"""The method and predictor registries, filled from installed packages.

Every method and run predictor, the built-ins included, is declared as an entry point: the group
`nasrepro.methods` maps a method's name to its `MethodEntry`, `nasrepro.predictors` a predictor's name to
its `PredictorEntry` (this project's own are in its pyproject.toml). The harness therefore never imports
`methods` or `predictors`: it loads what the installed distributions declare, and a researcher's method
installed from its own package is found the same way as a built-in.

Names are read from the distributions' metadata without importing anything; an entry is imported the
first time it is asked for, so one plugin that fails to import does not stop the others.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

import numpy as np

from suite.api import MethodEntry, Predictor, PredictorEntry
from suite.benchmarks.base import SearchSpace
from suite.errors import NasreproError

METHOD_GROUP = "nasrepro.methods"
PREDICTOR_GROUP = "nasrepro.predictors"


@dataclass(frozen=True)
class Provider:
    """Where an entry comes from: the distribution that declares it and that distribution's version."""

    distribution: str
    version: str
    target: str  # "module:attribute"


@cache
def _declared(group: str) -> dict[str, tuple[metadata.EntryPoint, Provider]]:
    found: dict[str, tuple[metadata.EntryPoint, Provider]] = {}
    for point in metadata.entry_points(group=group):
        dist = point.dist
        provider = Provider(dist.name if dist else "?", dist.version if dist else "?", point.value)
        if point.name in found and found[point.name][1] != provider:
            other = found[point.name][1]
            raise NasreproError(
                f"{group}: {point.name!r} is declared by both {other.distribution} ({other.target}) and "
                f"{provider.distribution} ({provider.target}); uninstall one of them"
            )
        found[point.name] = (point, provider)
    return found


@cache
def _load(group: str, name: str) -> Any:
    declared = _declared(group)
    if name not in declared:
        kind = "method" if group == METHOD_GROUP else "predictor"
        raise NasreproError(f"unknown {kind} {name!r}; known: {', '.join(sorted(declared)) or 'none'}")
    point, provider = declared[name]
    try:
        entry = point.load()
    except Exception as exc:  # a plugin's own import error, named in one line
        raise NasreproError(
            f"{name!r} ({provider.target}, from {provider.distribution} {provider.version}) failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if getattr(entry, "name", None) != name:
        named = getattr(entry, "name", None)
        raise NasreproError(f"{provider.target} is declared as {name!r} but names itself {named!r}")
    return entry


def method_names() -> list[str]:
    return sorted(_declared(METHOD_GROUP))


def method(name: str) -> MethodEntry:
    entry = _load(METHOD_GROUP, name)
    if not isinstance(entry, MethodEntry):
        raise NasreproError(f"{name!r} in {METHOD_GROUP} is a {type(entry).__name__}, not a MethodEntry")
    return entry


def method_provider(name: str) -> Provider:
    method(name)  # unknown or broken names fail the same way everywhere
    return _declared(METHOD_GROUP)[name][1]


def predictor_names() -> list[str]:
    return sorted(_declared(PREDICTOR_GROUP))


def predictor(name: str) -> PredictorEntry:
    entry = _load(PREDICTOR_GROUP, name)
    if not isinstance(entry, PredictorEntry):
        raise NasreproError(f"{name!r} in {PREDICTOR_GROUP} is a {type(entry).__name__}, not a PredictorEntry")
    return entry


def predictor_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The default config of a predictor with some settings replaced (checked by the config itself)."""
    config_cls = predictor(name).config_cls
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides or {}) - fields)
    if unknown:
        raise NasreproError(f"predictor {name!r} has no setting {unknown}; settings: {sorted(fields)}")
    try:
        return config_cls(**(overrides or {}))
    except (TypeError, ValueError) as exc:
        raise NasreproError(f"{name}: {exc}") from None


def build_predictor(
    name: str,
    space: SearchSpace,
    seed_sequence: np.random.SeedSequence,
    overrides: dict[str, Any] | None = None,
) -> Predictor:
    return predictor(name).build(predictor_config(name, overrides), space, seed_sequence)
