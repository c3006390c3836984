"""What the predictor benchmark scores predictors against: for each target, a source of labelled cells.

- Every benchmark except `nb101` is a target of the same name: cells drawn uniformly from its space
  (`benchmark.sample`, distinct by `benchmark.key`), labelled by its search metric (`query().value`).
  NB201's labels are the real table's; NB301's are its ONNX surrogate's (no real NB301 table is here).
- `nb101-valid20k`: the 20,001 cells of `nb101/nb101_subset20k.csv.gz` (in effect a uniform sample of
  the space), labelled by their real 108-epoch validation accuracy from one training repeat.
- `nb101-test6760`: the 6,760 cells of `nb101/nb101_test_evox6760.csv.gz`, labelled by their real
  108-epoch test accuracy, the mean of NB101's three repeats. Not a uniform sample of the space (mostly
  5- and 6-vertex cells, where the space is 85% 7-vertex cells), so its numbers describe that set.

The plain `nb101` benchmark answers with the NB101 surrogate's predictions (when the official table is
absent), and scoring predictors against another model's output is circular, so it is refused here.
Accuracies are in percent everywhere. The predictors of an NB101 target are built on the `nb101`
benchmark, whose cells are the same table rows the files' hashes map to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from suite import benchmarks, data
from suite.benchmarks.base import Arch, Benchmark
from suite.errors import DataError, NasreproError

if TYPE_CHECKING:
    from suite.benchmarks.nb101 import Nb101

NB101_VALID_FILE = "nb101/nb101_subset20k.csv.gz"
NB101_TEST_FILE = "nb101/nb101_test_evox6760.csv.gz"


@dataclass(frozen=True)
class Target:
    name: str
    benchmark: Benchmark  # the space the predictors are built on
    oracle: str  # names the labels in every result row
    pool_size: int | None  # distinct labelled cells available; None: as many as the space has
    # (n, rng) -> n distinct cells and their labels, uniformly from the pool, in drawing order
    draw: Callable[[int, np.random.Generator], tuple[list[Arch], np.ndarray]]


def sample_cells(benchmark: Benchmark, n: int, rng: np.random.Generator) -> list[Arch]:
    """n distinct cells, uniformly at random; a space with fewer distinct cells is an error."""
    if benchmark.space_size is not None and n > benchmark.space_size:
        raise NasreproError(f"{benchmark.name} has {benchmark.space_size} cells, {n} were asked for")
    cells: dict[str, Arch] = {}
    attempts = 0
    while len(cells) < n:
        arch = benchmark.sample(rng)
        cells.setdefault(benchmark.key(arch), arch)
        attempts += 1
        if attempts > 100 * n:
            raise NasreproError(f"could not draw {n} distinct cells of {benchmark.name}")
    return list(cells.values())


def _oracle_target(name: str) -> Target:
    bench = benchmarks.get(name)

    def draw(n: int, rng: np.random.Generator) -> tuple[list[Arch], np.ndarray]:
        cells = sample_cells(bench, n, rng)
        return cells, np.array([bench.query(a).value for a in cells], dtype=np.float64)

    return Target(name, bench, bench.oracle, bench.space_size, draw)


def _table_target(name: str, oracle: str, archs: list[Arch], labels: np.ndarray, bench: Benchmark) -> Target:
    labels = np.asarray(labels, dtype=np.float64)
    labels.setflags(write=False)

    def draw(n: int, rng: np.random.Generator) -> tuple[list[Arch], np.ndarray]:
        if n > len(archs):
            raise NasreproError(f"{name} has {len(archs)} labelled cells, {n} were asked for")
        chosen = rng.choice(len(archs), size=n, replace=False)
        return [archs[i] for i in chosen], labels[chosen]

    return Target(name, bench, oracle, len(archs), draw)


def _nb101_rows(bench: Nb101, relpath: str, column: str) -> tuple[list[Arch], np.ndarray]:
    """The table rows (NB101 architectures) of a real-results file's hashes, and the column in percent."""
    path = data.require(relpath)
    try:
        frame = pd.read_csv(path, usecols=["hash", column])
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot read {path} (need columns hash, {column}): {exc}") from None
    hashes = bench.space.table.hashes
    wanted = frame["hash"].to_numpy().astype("S32")
    rows = np.minimum(np.searchsorted(hashes, wanted), len(hashes) - 1)
    unknown = np.flatnonzero(hashes[rows] != wanted)
    if len(unknown):
        raise DataError(f"{path}: {len(unknown)} hashes are not NB101 cells, e.g. {frame['hash'].iat[unknown[0]]}")
    if len(np.unique(rows)) != len(rows):
        raise DataError(f"{path}: a cell is listed twice")
    return [int(r) for r in rows], frame[column].to_numpy(np.float64) * 100.0


def _nb101_valid() -> Target:
    bench = cast("Nb101", benchmarks.get("nb101"))  # the registry's entry for nb101 is Nb101
    archs, labels = _nb101_rows(bench, NB101_VALID_FILE, "valid_acc_108")
    return _table_target("nb101-valid20k", "nb101-real-valid108-1repeat", archs, labels, bench)


def _nb101_test() -> Target:
    bench = cast("Nb101", benchmarks.get("nb101"))  # the registry's entry for nb101 is Nb101
    archs, labels = _nb101_rows(bench, NB101_TEST_FILE, "test_acc_108")
    return _table_target("nb101-test6760", "nb101-real-test108-mean3", archs, labels, bench)


_TABLES: dict[str, Callable[[], Target]] = {"nb101-valid20k": _nb101_valid, "nb101-test6760": _nb101_test}
_REFUSED = {"nb101": "its labels are the NB101 surrogate's predictions; use nb101-valid20k or nb101-test6760 "
            "(real measurements)"}


def names() -> list[str]:
    return sorted((set(benchmarks.names()) - set(_REFUSED)) | set(_TABLES))


def check_name(name: str) -> None:
    if name in _REFUSED:
        raise NasreproError(f"the predictor benchmark does not score against {name}: {_REFUSED[name]}")
    if name not in _TABLES and name not in benchmarks.names():
        raise NasreproError(f"unknown predictor-benchmark target {name!r}; known: {', '.join(names())}")


@cache
def get(name: str) -> Target:
    check_name(name)
    return _TABLES[name]() if name in _TABLES else _oracle_target(name)
