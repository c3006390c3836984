"""The method and predictor registries, filled from installed packages.

Every method and run predictor, the built-ins included, is declared as an entry point: the group
`nasrepro.methods` maps a method's name to its `MethodEntry`, `nasrepro.predictors` a predictor's name to
its `PredictorEntry` (this project's own are in its pyproject.toml). The harness therefore never imports
`methods` or `predictors`: it loads what the installed distributions declare, and a researcher's method
installed from its own package is found the same way as a built-in.

Names are read from the distributions' metadata without importing anything; an entry is imported the
first time it is asked for, so one plugin that fails to import does not stop the others. Its failure is
one line naming the plugin and its distribution (`NasreproError`, exit 2) when it is used or listed.

Names are unique. A plugin that declares a built-in's name is ignored and named in `problems` (the
built-in keeps its name, so stored runs of the built-in stay valid); a name declared by two plugins
belongs to neither (asking for it says which two distributions to choose between).

Where an entry comes from is part of every run made with it: a plugin's distribution name and version
(`Provider.pin`) go into the run id and its metadata; built-ins (distribution `nasrepro`) add nothing,
so their run ids are those of the runs made before plugins existed.
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
BUILTIN = "nasrepro"  # the distribution of the built-ins
_KIND = {METHOD_GROUP: "method", PREDICTOR_GROUP: "predictor"}


@dataclass(frozen=True)
class Provider:
    """Where an entry comes from: the distribution that declares it and that distribution's version."""

    distribution: str
    version: str
    target: str  # "module:attribute"

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN

    @property
    def pin(self) -> str | None:
        """`name==version` of a plugin's distribution (what a run id records); None for a built-in."""
        return None if self.builtin else f"{self.distribution}=={self.version}"

    def describe(self) -> str:
        return f"{self.distribution} {self.version} ({self.target})"


@dataclass(frozen=True)
class _Declared:
    entries: dict[str, tuple[metadata.EntryPoint, Provider]]
    # name -> one line: a plugin shadowed by a built-in of the same name (the built-in is used) ...
    shadowed: dict[str, str]
    # ... or a name two plugins declare (neither is used)
    ambiguous: dict[str, str]


@cache
def _declared(group: str) -> _Declared:
    kind = _KIND[group]
    claims: dict[str, list[tuple[metadata.EntryPoint, Provider]]] = {}
    for point in metadata.entry_points(group=group):  # one distribution per name: the first on sys.path
        dist = point.dist
        provider = Provider(dist.name if dist else "?", dist.version if dist else "?", point.value)
        claims.setdefault(point.name, []).append((point, provider))
    entries, shadowed, ambiguous = {}, {}, {}
    for name, found in sorted(claims.items()):
        builtin = [claim for claim in found if claim[1].builtin]
        if len(found) == 1:
            entries[name] = found[0]
        elif builtin:
            entries[name] = builtin[0]
            others = "; ".join(sorted(p.describe() for _, p in found if not p.builtin))
            shadowed[name] = (
                f"{kind} {name!r} of {others} clashes with the built-in {name!r} and is ignored; "
                f"give it another name in its entry points"
            )
        else:
            ambiguous[name] = (
                f"{kind} {name!r} is declared by {' and '.join(sorted(p.describe() for _, p in found))}; "
                f"uninstall one of them or rename its entry point"
            )
    return _Declared(entries, shadowed, ambiguous)


@cache
def _load(group: str, name: str) -> Any:
    declared = _declared(group)
    if name in declared.ambiguous:
        raise NasreproError(declared.ambiguous[name])
    if name not in declared.entries:
        known = ", ".join(sorted(declared.entries)) or "none"
        raise NasreproError(f"unknown {_KIND[group]} {name!r}; known: {known}")
    point, provider = declared.entries[name]
    try:
        entry = point.load()
    except Exception as exc:  # a plugin's own import error, named in one line
        raise NasreproError(
            f"{_KIND[group]} {name!r} ({provider.target}, from {provider.distribution} {provider.version}) "
            f"failed to load: {type(exc).__name__}: {exc}"
        ) from None
    expected = MethodEntry if group == METHOD_GROUP else PredictorEntry
    if not isinstance(entry, expected):
        raise NasreproError(
            f"{_KIND[group]} {name!r} ({provider.describe()}) is a {type(entry).__name__}, not a "
            f"suite.api.{expected.__name__}"
        )
    if entry.name != name:
        raise NasreproError(f"{provider.target} is declared as {name!r} but names itself {entry.name!r}")
    version = entry.version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise NasreproError(f"{_KIND[group]} {name!r} ({provider.describe()}): version must be an int >= 1, "
                            f"not {version!r}")
    return entry


def problems(group: str) -> dict[str, str]:
    """Declared names that cannot be used as they are, each with one line saying why (import failures are
    found by loading: `method(name)`)."""
    declared = _declared(group)
    return {**declared.shadowed, **declared.ambiguous}


def shadowed(group: str, name: str) -> str | None:
    """The line about a plugin ignored because a built-in has `name`, if there is one."""
    return _declared(group).shadowed.get(name)


def clear() -> None:
    """Forget what was read and loaded (after distributions were installed or removed in this process)."""
    _declared.cache_clear()
    _load.cache_clear()


def _provider(group: str, name: str) -> Provider:
    _load(group, name)  # unknown or broken names fail the same way everywhere
    return _declared(group).entries[name][1]


def method_names() -> list[str]:
    """Usable names and names that fail to load (which say why when asked for); not ambiguous ones."""
    return sorted(_declared(METHOD_GROUP).entries)


def method(name: str) -> MethodEntry:
    return _load(METHOD_GROUP, name)


def method_provider(name: str) -> Provider:
    return _provider(METHOD_GROUP, name)


def predictor_names() -> list[str]:
    return sorted(_declared(PREDICTOR_GROUP).entries)


def predictor(name: str) -> PredictorEntry:
    return _load(PREDICTOR_GROUP, name)


def predictor_provider(name: str) -> Provider:
    return _provider(PREDICTOR_GROUP, name)


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
