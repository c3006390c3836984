from __future__ import annotations

import pytest

from suite import benchmarks


@pytest.fixture(scope="session")
def nb201_c10():
    return benchmarks.get("nb201-cifar10")
