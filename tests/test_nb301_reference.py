"""NB301's regret reference: fixed before any search, seeded, cached by surrogate, size and seed."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from suite import data
from suite.analysis import collect
from suite.benchmarks import darts_space, nb301, nb301_reference
from suite.running.store import Store


class FakeOracle:
    """Scores a cell by a hash of its key, and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def key(self, arch) -> str:
        return darts_space.to_key(arch)

    def query(self, arch):
        key = self.key(arch)
        self.asked.append(key)
        value = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32 * 100
        return type("Obs", (), {"value": value})()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_reference_is_the_best_of_a_seeded_uniform_sample_and_is_cached_by_model_size_and_seed(cache):
    made = []

    def make():
        made.append(FakeOracle())
        return made[-1]

    first = nb301_reference.reference(make, "ab" * 32, size=200, seed=5)
    oracle = made[0]
    assert len(oracle.asked) == 200
    # The sample is the stream of darts_space.sample from default_rng(seed), independent of any run.
    rng = np.random.default_rng(5)
    assert oracle.asked == [darts_space.to_key(darts_space.sample(rng)) for _ in range(200)]
    best = max(oracle.asked, key=lambda k: int(hashlib.sha256(k.encode()).hexdigest()[:8], 16))
    assert first.best_key == best and first.value == FakeOracle().query(darts_space.from_key(best)).value
    assert (first.size, first.seed, first.model_sha256) == (200, 5, "ab" * 32)
    again = nb301_reference.reference(make, "ab" * 32, size=200, seed=5)
    assert again == first and len(made) == 1  # read from the cache, no oracle built
    assert nb301_reference.cached("cd" * 32, size=200, seed=5) is None  # another surrogate: not reused
    assert nb301_reference.cached("ab" * 32, size=200, seed=6) is None
    assert "200 uniform random cells (seed 5)" in first.description()


def _store_nb301_run(root, finals, optimum, sha):
    store = Store(root)
    spec = {"benchmark": "nb301", "oracle": "nb301-yahpo-onnx", "method": "rs", "method_config": {},
            "repeat": 0, "budget": {"queries": len(finals), "seconds": None}, "experiment_seed": 0,
            "predictor": None, "constraint": None}
    steps = np.arange(1, len(finals) + 1)
    frame = pd.DataFrame({"step": steps, "arch_key": [f"c{s}" for s in steps], "value": finals, "cost": 1.0,
                          "cum_cost": steps.astype(float), "feasible": True, "incumbent_key": "c",
                          "incumbent_value": finals, "incumbent_final": finals,
                          "regret": np.nan if optimum is None else optimum - np.asarray(finals),
                          "incumbent_top_fraction": np.nan})
    meta = {"spec": {"run_id": "r0", **spec},
            "benchmark": {"name": "nb301", "oracle": "nb301-yahpo-onnx", "search_metric": "valid_acc",
                          "final_metric": "valid_acc", "optimum": optimum, "space_size": None,
                          "data_sha256": {nb301.MODEL_FILE: sha}},
            "n_queries": len(finals), "wall_time_s": 0.1, "finished_at": "2026-01-01T00:00:00+00:00",
            "versions": {}, "host": {}, "seed": {"entropy": 0, "spawn_key": [0]}}
    store.write("r0", frame, meta)
    return root


def test_collect_uses_the_cached_reference_never_the_best_run(cache, tmp_path):
    sha = "ef" * 32
    old = _store_nb301_run(tmp_path / "old", [94.0, 94.5, 94.2], None, sha)
    results = collect.load([old])  # no reference computed for this surrogate: no regret, no target
    assert results.trajectories["regret"].isna().all() and results.regret_reference == {}
    path = nb301_reference.cache_path(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = nb301_reference.Reference(95.0, "k", nb301_reference.SIZE, nb301_reference.SEED, sha, 1.0)
    path.write_text(json.dumps(stored.__dict__))
    results = collect.load([old])
    assert results.trajectories["regret"].tolist() == pytest.approx([1.0, 0.5, 0.8])
    assert "fixed before any search" in results.regret_reference["nb301"]
    new = _store_nb301_run(tmp_path / "new", [94.0, 95.5], 95.0, sha)  # a run stored with the reference
    results = collect.load([new])
    assert results.trajectories["regret"].tolist() == pytest.approx([1.0, -0.5])  # beating it: negative
    assert "nb301" in results.regret_reference
