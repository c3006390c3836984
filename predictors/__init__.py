"""The predictor registry."""

from __future__ import annotations

from predictors.base import Predictor, PredictorEntry, UncertainPredictor
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
        raise NasreproError(f"unknown predictor {name!r}; known: {', '.join(names()) or 'none yet'}") from None


__all__ = ["Predictor", "PredictorEntry", "UncertainPredictor", "get", "names", "register"]
