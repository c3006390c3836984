"""The NB101 oracle of the tests: the real cell table and a small surrogate (fitted in seconds on the real
cells, its predictions cached for the test run). Registered as `nb101` by tests/conftest.py, and by test
subprocesses that need the same oracle."""

from __future__ import annotations

from suite import benchmarks
from suite.benchmarks import nb101, nb101_surrogate

NB101_SMALL = nb101.Nb101Settings(
    surrogate=nb101_surrogate.SurrogateConfig(family="xgb-adj", cost_family="xgb-adj", xgb_rounds=15, xgb_depth=4)
)


def register_small_nb101() -> None:
    benchmarks.register("nb101", lambda oracle=None: nb101.Nb101(NB101_SMALL, official_path=None, oracle=oracle),
                        "NAS-Bench-101 with the tests' small surrogate", oracles=nb101.ORACLES, replace=True)
