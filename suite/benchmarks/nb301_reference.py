"""NB301's regret reference: its optimum is unknown, so regret is measured against a value fixed before any
search: the best predicted final accuracy among SIZE cells drawn uniformly (darts_space.sample) from a
generator of its own, seeded with SEED, a stream no run draws from (runs seed theirs from the experiment
seed and repeat). Scored by the oracle itself and cached in NASREPRO_CACHE under the surrogate's sha256,
SIZE and SEED, so every run and report uses the same number. A search can beat it: regret < 0 then.

Cost: about 30 s for 100,000 cells on one core (ONNX queries one at a time, ~3,700/s here), once per cache.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from suite import data
from suite.benchmarks import darts_space

SIZE = 100_000
SEED = 301_000_001


@dataclass(frozen=True)
class Reference:
    value: float  # the best predicted final accuracy of the sample
    best_key: str  # the cell that has it
    size: int
    seed: int
    model_sha256: str
    seconds: float  # how long the sample took to score when it was computed

    def description(self) -> str:
        return (
            f"the best predicted final accuracy of {self.size:,} uniform random cells (seed {self.seed}), "
            f"{self.value:.4f}, fixed before any search"
        )


class _Oracle(Protocol):
    def query(self, arch): ...  # an Observation: .value is the predicted final accuracy
    def key(self, arch) -> str: ...


def cache_path(model_sha256: str, size: int = SIZE, seed: int = SEED) -> Path:
    return data.cache_dir() / "nb301_reference" / f"{model_sha256[:16]}-{size}-{seed}.json"


def cached(model_sha256: str, size: int = SIZE, seed: int = SEED) -> Reference | None:
    """The stored reference, or None; reading it needs no benchmark (reports use this)."""
    path = cache_path(model_sha256, size, seed)
    if not path.is_file():
        return None
    stored = Reference(**json.loads(path.read_text()))
    return stored if (stored.model_sha256, stored.size, stored.seed) == (model_sha256, size, seed) else None


def compute(oracle: _Oracle, size: int = SIZE, seed: int = SEED, model_sha256: str = "") -> Reference:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    best_value, best_key = -np.inf, ""
    for _ in range(size):
        arch = darts_space.sample(rng)
        value = oracle.query(arch).value
        if value > best_value:
            best_value, best_key = value, oracle.key(arch)
    return Reference(float(best_value), best_key, size, seed, model_sha256, time.perf_counter() - start)


def reference(make_oracle: Callable[[], _Oracle], model_sha256: str, size: int = SIZE, seed: int = SEED) -> Reference:
    """The cached reference for this surrogate, computing and storing it on first use (with an oracle of its
    own, so the SIZE queries do not stay in the caller's query cache)."""
    found = cached(model_sha256, size, seed)
    if found is not None:
        return found
    data.writable_cache_dir()  # refused before the sample is scored, not after
    result = compute(make_oracle(), size, seed, model_sha256)
    path = cache_path(model_sha256, size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")  # parallel workers may compute it at once
    partial.write_text(json.dumps(asdict(result)))
    partial.replace(path)
    return result
