"""Predictor-benchmark targets: NB101 labels are the real files' values, never the surrogate's."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest

from predictors import targets
from suite import data
from suite.errors import NasreproError


def _file_values(relpath: str, column: str) -> dict[str, float]:
    """hash -> value in percent, read with the csv module (independently of the loader under test)."""
    with gzip.open(data.require(relpath), "rt", newline="") as fh:
        return {row["hash"]: float(row[column]) * 100 for row in csv.DictReader(fh)}


def test_plain_nb101_is_refused_and_the_real_targets_are_listed():
    with pytest.raises(NasreproError, match="surrogate's predictions"):
        targets.get("nb101")
    assert {"nb101-valid20k", "nb101-test6760", "nb201-cifar10", "nb301"} <= set(targets.names())
    assert "nb101" not in targets.names()


@pytest.mark.parametrize("name, relpath, column, size", [
    ("nb101-valid20k", targets.NB101_VALID_FILE, "valid_acc_108", 20_001),
    ("nb101-test6760", targets.NB101_TEST_FILE, "test_acc_108", 6_760),
])
def test_nb101_labels_are_the_real_files_values(name, relpath, column, size):
    target = targets.get(name)
    truth = _file_values(relpath, column)
    assert target.pool_size == size == len(truth) and "real" in target.oracle
    cells, labels = target.draw(size, np.random.default_rng(0))  # the whole pool, each cell once
    by_hash = {target.benchmark.key(a): v for a, v in zip(cells, labels, strict=True)}
    assert by_hash.keys() == truth.keys()
    assert all(by_hash[h] == truth[h] for h in truth)
    # spot checks: the first and last rows of the file, by hand through the benchmark's own hash lookup
    for h in (next(iter(truth)), list(truth)[-1]):
        arch = target.benchmark.space.table.index_of_hash(h)
        assert arch in cells and labels[cells.index(arch)] == truth[h]
    # and they are not the surrogate's answers for the same cells
    surrogate = np.array([target.benchmark.query(a).value for a in cells[:500]])
    if target.benchmark.oracle == "nb101-surrogate-20k":
        assert np.mean(np.abs(surrogate - labels[:500])) > 0.1


def test_draws_are_seeded_distinct_and_bounded():
    target = targets.get("nb101-test6760")
    a, ya = target.draw(300, np.random.default_rng(3))
    b, yb = target.draw(300, np.random.default_rng(3))
    assert a == b and np.array_equal(ya, yb) and len(set(a)) == 300
    with pytest.raises(NasreproError, match="6760 labelled cells"):
        target.draw(7000, np.random.default_rng(0))


def test_oracle_targets_label_with_the_search_metric(nb201_c10):
    target = targets.get("nb201-cifar10")
    cells, y = target.draw(50, np.random.default_rng(1))
    assert target.oracle == nb201_c10.oracle and len({nb201_c10.key(a) for a in cells}) == 50
    assert np.array_equal(y, [nb201_c10.query(a).value for a in cells])
