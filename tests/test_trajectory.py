"""The runner's trajectory on a tiny hand-made benchmark, where every number can be computed by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from suite import benchmarks, registry
from suite.benchmarks.base import Observation
from suite.running.runner import execute
from suite.running.spec import Budget, RunSpec

# Six cells; final value = search value. Cells 1-3 tie at 2.0.
FINALS = (1.0, 2.0, 2.0, 2.0, 3.0, 0.5)
ORDER = (5, 1, 2, 4)  # what the space "samples", in this order


class ScriptedSpace:
    name = "ties"

    def __init__(self) -> None:
        self._next = iter(ORDER)

    def sample(self, rng: np.random.Generator) -> int:
        return next(self._next)

    def key(self, arch: int) -> str:
        return f"cell{arch}"

    def costs(self, arch: int) -> dict[str, float]:
        return {}


class Ties:
    name = "ties"
    oracle = "hand-made"
    search_metric = final_metric = "acc"
    space_size = len(FINALS)
    has_cost = False
    optimum = max(FINALS)
    final_values = np.sort(FINALS)

    def __init__(self) -> None:
        self.space = ScriptedSpace()

    def key(self, arch: int) -> str:
        return self.space.key(arch)

    def query(self, arch: int, *, epochs: int | None = None) -> Observation:
        return Observation(FINALS[arch], float("nan"))

    def final(self, arch: int) -> dict[str, float]:
        return {"acc": FINALS[arch]}

    def data_files(self) -> dict[str, str]:
        return {}


def test_the_incumbents_rank_counts_only_strictly_better_cells(monkeypatch):
    monkeypatch.setattr(benchmarks, "get", lambda name, oracle=None: Ties())
    entry = registry.method("rs")
    run = RunSpec("ties", "hand-made", "rs", dataclasses.asdict(entry.config_cls()), entry.version, 0, Budget(4))
    frame, _ = execute(run)
    assert list(frame["arch_key"]) == [f"cell{a}" for a in ORDER]
    assert list(frame["incumbent_final"]) == [0.5, 2.0, 2.0, 3.0]
    # Strictly better cells out of 6: for 0.5 the five others; for 2.0 (tied with two more) only the 3.0.
    assert list(frame["incumbent_top_fraction"]) == pytest.approx([5 / 6, 1 / 6, 1 / 6, 0.0])
    assert list(frame["regret"]) == pytest.approx([2.5, 1.0, 1.0, 0.0])
