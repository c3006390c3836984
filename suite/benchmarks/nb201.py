"""NAS-Bench-201 (Dong & Yang, 2020) on the real table of all 15,625 cells: the oracle.

The space (cells, operators, costs) is `nb201_space`; this module reads the table and answers queries, so no
method may import it (tests/test_blind.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from suite import data
from suite.benchmarks.base import Observation, OnSpace
from suite.benchmarks.nb201_space import (
    DEVICES,
    FLOPS_BASE,
    FLOPS_CONV1,
    FLOPS_CONV3,
    N_EDGES,
    OPS,
    TRAIN_TIME,
    Nb201Space,
    invalid_arch,
    str_to_arch,
)
from suite.errors import DataError, InvalidArchitecture

if TYPE_CHECKING:  # pandas is imported where used: listing benchmarks must not pay for it
    import pandas as pd

DATA_FILE = "nb201/nb201.csv.gz"


@dataclass(frozen=True)
class Nb201Dataset:
    """Which table columns a dataset searches on and reports."""

    name: str
    search_column: str  # {epochs} is filled with 200 or 12
    final_column: str
    cost_column: str | None
    flops: bool


DATASETS = {
    "cifar10": Nb201Dataset(
        "cifar10", "cifar10-valid/valid_acc_{epochs}", "cifar10/test_acc_200",
        "cifar10-valid/train_time_200", flops=True,
    ),
    "cifar100": Nb201Dataset(
        "cifar100", "cifar100/valid_acc_{epochs}", "cifar100/test_acc_200", None, flops=False,
    ),
    "imagenet16": Nb201Dataset(
        "imagenet16", "ImageNet16-120/valid_acc_{epochs}", "ImageNet16-120/test_acc_200", None, flops=False,
    ),
}
FIDELITIES = (200, 12)
TABULAR_ORACLE = "nb201-tabular"


def _space(dataset: Nb201Dataset, table: pd.DataFrame, rows: dict[tuple[int, ...], int]) -> Nb201Space:
    """The space of one dataset: the cost columns of the table as an array, nothing else of it."""
    columns: dict[str, np.ndarray] = {}
    if dataset.flops:
        archs = np.array(list(rows), dtype=np.int64)[np.argsort(list(rows.values()))]
        conv3 = (archs == OPS.index("nor_conv_3x3")).sum(axis=1)
        conv1 = (archs == OPS.index("nor_conv_1x1")).sum(axis=1)
        columns["flops_m"] = FLOPS_BASE + FLOPS_CONV3 * conv3 + FLOPS_CONV1 * conv1
    for device in DEVICES:
        columns[f"latency_ms/{device}"] = table[f"latency_ms/{device}"].to_numpy(dtype=np.float64)
    if dataset.cost_column is not None:
        columns[TRAIN_TIME] = table[dataset.cost_column].to_numpy(dtype=np.float64)
    return Nb201Space(f"nb201-{dataset.name}", rows, tuple(columns), np.stack(list(columns.values()), axis=1))


@dataclass
class Nb201(OnSpace[tuple[int, ...]]):
    dataset: Nb201Dataset
    name: str = field(init=False)
    oracle: str = field(init=False)
    search_metric: str = field(init=False)
    final_metric: str = "test_acc"
    space_size: int = 5**N_EDGES
    optimum: float = field(init=False)

    def __post_init__(self) -> None:
        import pandas as pd

        self.name = f"nb201-{self.dataset.name}"
        self.oracle = TABULAR_ORACLE
        self.search_metric = self.dataset.search_column.format(epochs=200)
        self.has_cost = self.dataset.cost_column is not None
        path = data.require(DATA_FILE)
        self._sha256 = data.FILES[DATA_FILE].sha256
        table = _read_table(path)
        self.table = table  # the oracle's own: methods get `space`, which holds none of it
        self._row = {str_to_arch(s): i for i, s in enumerate(table["arch_str"])}
        if len(self._row) != self.space_size:
            raise DataError(f"{path}: {len(self._row)} distinct cells, expected {self.space_size}")
        self.space: Nb201Space = _space(self.dataset, table, self._row)
        # Python lists, not arrays: a query reads two floats, and list indexing is the fastest way.
        self._search = {e: table[self.dataset.search_column.format(epochs=e)].tolist() for e in FIDELITIES}
        cost = table[self.dataset.cost_column] if self.has_cost else pd.Series(np.nan, index=table.index)
        # NB201 records the time of the whole 200-epoch training; a 12-epoch run costs its share.
        self._cost = {e: (cost * (e / 200)).tolist() for e in FIDELITIES}
        self._valid_200, self._cost_200 = self._search[200], self._cost[200]
        # A query costs the full training time (the runner queries at 200 epochs).
        self.cheapest_query = float(cost.min()) if self.has_cost else None
        self._final = table[self.dataset.final_column].to_numpy()
        self.optimum = float(self._final.max())
        self.final_values = np.sort(self._final)

    def _index(self, arch: tuple[int, ...]) -> int:
        try:
            return self._row[arch]
        except (KeyError, TypeError):
            raise invalid_arch(arch) from None

    def query(self, arch: tuple[int, ...], *, epochs: int | None = None) -> Observation:
        try:  # inlined _index: this is the hot path of every tabular search
            i = self._row[arch]
        except (KeyError, TypeError):
            raise invalid_arch(arch) from None
        if epochs is None or epochs == 200:
            return Observation(self._valid_200[i], self._cost_200[i])
        if epochs not in FIDELITIES:
            raise InvalidArchitecture(f"{self.name} has results at {FIDELITIES} epochs, not {epochs}")
        return Observation(self._search[epochs][i], self._cost[epochs][i])

    def final(self, arch: tuple[int, ...]) -> dict[str, float]:
        return {"test_acc": float(self._final[self._index(arch)]), **self.space.costs(arch)}

    def data_files(self) -> dict[str, str]:
        return {DATA_FILE: self._sha256}


_COLUMNS = ["arch_str", *{c for d in DATASETS.values() for c in (d.final_column, d.cost_column) if c}]


def _read_table(path) -> pd.DataFrame:
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except Exception as exc:  # any parse failure means the file is not the NB201 table we know
        raise DataError(f"cannot read {path} as the NAS-Bench-201 table: {exc}") from None
    needed = set(_COLUMNS) | {f"latency_ms/{d}" for d in DEVICES} | {
        d.search_column.format(epochs=e) for d in DATASETS.values() for e in FIDELITIES
    }
    missing = sorted(needed - set(table.columns))
    if missing:
        raise DataError(f"{path} lacks the NAS-Bench-201 columns {missing}")
    return table
