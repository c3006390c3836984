"""The predictor registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from predictors.base import Predictor, PredictorEntry, UncertainPredictor
from suite.benchmarks.base import SearchSpace
from suite.errors import NasreproError

_REGISTRY: dict[str, PredictorEntry] = {}


def register(entry: PredictorEntry) -> None:
    if entry.name in _REGISTRY:
        raise ValueError(f"predictor {entry.name!r} registered twice")
    _REGISTRY[entry.name] = entry


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> PredictorEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(names()) or "none yet"
        raise NasreproError(f"unknown predictor {name!r}; known: {known}") from None


def make_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The default config of a predictor with some settings replaced (checked by the config itself)."""
    config_cls = get(name).config_cls
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides or {}) - fields)
    if unknown:
        raise NasreproError(f"predictor {name!r} has no setting {unknown}; settings: {sorted(fields)}")
    try:
        return config_cls(**(overrides or {}))
    except (TypeError, ValueError) as exc:
        raise NasreproError(f"{name}: {exc}") from None


def build(
    name: str,
    space: SearchSpace,
    seed_sequence: np.random.SeedSequence,
    overrides: dict[str, Any] | None = None,
) -> Predictor:
    return get(name).build(make_config(name, overrides), space, seed_sequence)


def _register_builtin() -> None:
    from predictors import baseline, gnn, gp, mlp_ensemble, trees

    for module in (trees, gp, mlp_ensemble, gnn, baseline):
        for entry in module.ENTRIES:
            register(entry)


_register_builtin()

__all__ = [
    "Predictor", "PredictorEntry", "UncertainPredictor", "build", "get", "make_config", "names", "register",
]
