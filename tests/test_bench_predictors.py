"""Fit + predict time of every predictor at 100 and 1,000 training cells on NB201 CIFAR-10 (`make bench`).

Each measurement fits on n cells and predicts 200 held-out ones, with the default settings (those of
the predictor benchmark and of BANANAS). One round each: the slow predictors take seconds per fit.
"""

import numpy as np
import pytest

from suite import registry

pytestmark = pytest.mark.bench

NAMES = ["xgb", "rf", "gp", "mlp_ensemble", "gnn", "flops"]


@pytest.fixture(scope="module")
def cells(nb201_c10):
    rng = np.random.default_rng(0)
    seen = {}
    while len(seen) < 1200:
        arch = nb201_c10.sample(rng)
        seen.setdefault(nb201_c10.key(arch), arch)
    archs = list(seen.values())
    y = np.array([nb201_c10.query(a).value for a in archs])
    for name in NAMES:  # load each predictor's libraries before timing
        registry.build_predictor(name, nb201_c10, np.random.SeedSequence(0), {"epochs": 1} if "epochs" in
                         registry.predictor_config(name).__dataclass_fields__ else None).fit(archs[:10], y[:10])
    return archs, y


@pytest.mark.parametrize("n", [100, 1000])
@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_time(benchmark, nb201_c10, cells, name, n):
    archs, y = cells
    train, test = archs[200 : 200 + n], archs[:200]

    def fit_predict():
        predictor = registry.build_predictor(name, nb201_c10, np.random.SeedSequence(0))
        return predictor.fit(train, y[200 : 200 + n]).predict(test)

    benchmark.extra_info.update(predictor=name, train_size=n, test_size=len(test))
    predictions = benchmark.pedantic(fit_predict, rounds=1, iterations=1, warmup_rounds=0)
    assert predictions.shape == (200,)
