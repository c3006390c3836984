"""Predictors: registry, bit-identical seeding, no global RNG, and accuracy on real NB201 data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from suite import registry
from suite.errors import NasreproError

# Small settings keep the determinism tests fast; the accuracy test uses the defaults.
FAST = {
    "xgb": {"n_estimators": 50},
    "rf": {"n_estimators": 20},
    "gp": {},
    "mlp_ensemble": {"epochs": 10},
    "gnn": {"epochs": 5},
    "flops": {},
}


@pytest.fixture(scope="module")
def cells(nb201_c10):
    """400 distinct NB201 cells and their validation accuracies: 200 to train, 200 held out."""
    rng = np.random.default_rng(2021)
    seen = {}
    while len(seen) < 400:
        arch = nb201_c10.sample(rng)
        seen.setdefault(nb201_c10.key(arch), arch)
    archs = list(seen.values())
    return archs, np.array([nb201_c10.query(a).value for a in archs])


def test_registry_lists_the_predictors():
    assert {"xgb", "rf", "gp", "mlp_ensemble", "gnn", "flops", "params"} <= set(registry.predictor_names())
    with pytest.raises(NasreproError, match="unknown predictor"):
        registry.predictor("svm")


@pytest.mark.parametrize("name", sorted(FAST))
def test_same_seed_same_predictions(nb201_c10, cells, name):
    archs, y = cells
    train, test = archs[:40], archs[200:260]

    def run(seed: int) -> np.ndarray:
        predictor = registry.build_predictor(name, nb201_c10, np.random.SeedSequence(seed), FAST[name])
        return predictor.fit(train, y[:40]).predict(test)

    first = run(7)
    assert first.shape == (60,) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, run(7))


@pytest.mark.parametrize("name", ["mlp_ensemble", "gnn", "rf"])
def test_the_seed_matters(nb201_c10, cells, name):
    archs, y = cells
    runs = [
        registry.build_predictor(name, nb201_c10, np.random.SeedSequence(s), FAST[name]).fit(archs[:40], y[:40])
        for s in (1, 2)
    ]
    assert not np.array_equal(runs[0].predict(archs[200:220]), runs[1].predict(archs[200:220]))


def test_torch_predictors_leave_global_rng_alone(nb201_c10, cells):
    archs, y = cells
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    for name in ("mlp_ensemble", "gnn"):
        registry.build_predictor(name, nb201_c10, np.random.SeedSequence(0), FAST[name]).fit(archs[:20], y[:20])
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(numpy_state, np.random.get_state()[1])  # noqa: NPY002


@pytest.mark.parametrize("name", ["xgb", "gnn"])
def test_kendall_tau_on_held_out_nb201_cells(nb201_c10, cells, name):
    """White et al. 2021 protocol point: 200 training cells, 200 held-out cells, default settings."""
    archs, y = cells
    predictor = registry.build_predictor(name, nb201_c10, np.random.SeedSequence(0))
    tau = kendalltau(predictor.fit(archs[:200], y[:200]).predict(archs[200:]), y[200:]).statistic
    assert tau >= 0.5, f"{name}: Kendall tau {tau:.3f}"


@pytest.mark.parametrize("name", ["gp", "rf", "mlp_ensemble"])
def test_predict_dist(nb201_c10, cells, name):
    archs, y = cells
    predictor = registry.build_predictor(name, nb201_c10, np.random.SeedSequence(0), FAST[name]).fit(archs[:40], y[:40])
    mean, std = predictor.predict_dist(archs[200:230])
    np.testing.assert_allclose(mean, predictor.predict(archs[200:230]))
    assert std.shape == (30,) and (std >= 0).all() and std.max() > 0


@pytest.mark.parametrize("encoding", ["adjacency", "path"])
def test_encoding_is_selectable(nb201_c10, cells, encoding):
    archs, y = cells
    predictor = registry.build_predictor("xgb", nb201_c10, np.random.SeedSequence(0), {"encoding": encoding})
    assert predictor.encoding.name == encoding
    assert predictor.fit(archs[:30], y[:30]).predict(archs[:2]).shape == (2,)


def test_zero_knowledge_baseline_ranks_by_flops_and_refuses_missing_metrics(nb201_c10, cells):
    archs, y = cells
    predictor = registry.build_predictor("flops", nb201_c10, np.random.SeedSequence(0)).fit(archs[:50], y[:50])
    flops = np.array([nb201_c10.final(a)["flops_m"] for a in archs[200:]])
    assert kendalltau(predictor.predict(archs[200:]), flops).statistic == pytest.approx(1.0)
    with pytest.raises(NasreproError, match="exposes no 'params' or 'params_m'"):
        registry.build_predictor("params", nb201_c10, np.random.SeedSequence(0))
    with pytest.raises(NasreproError, match="not allowed"):
        registry.build_predictor("flops", nb201_c10, np.random.SeedSequence(0), {"metric": "test_acc"})


def test_bad_use_is_a_clear_error(nb201_c10, cells):
    archs, y = cells
    with pytest.raises(NasreproError, match="no setting"):
        registry.predictor_config("xgb", {"depth": 3})
    with pytest.raises(NasreproError, match="encoding must be one of"):
        registry.predictor_config("rf", {"encoding": "zip"})
    predictor = registry.build_predictor("xgb", nb201_c10, np.random.SeedSequence(0))
    with pytest.raises(NasreproError, match="before fit"):
        predictor.predict(archs[:3])
    with pytest.raises(NasreproError, match="one target per cell"):
        predictor.fit(archs[:3], y[:2])
    with pytest.raises(NasreproError, match="NaN"):
        predictor.fit(archs[:3], np.array([1.0, np.nan, 2.0]))
