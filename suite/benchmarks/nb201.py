"""NAS-Bench-201 (Dong & Yang, 2020) on the real table of all 15,625 cells.

A cell is a 4-node DAG with one operation on each of its 6 edges; an architecture is the tuple of
the 6 operation indices in the official string order `|e10|+|e20|e21|+|e30|e31|e32|`. Every tuple is
a distinct cell of the official table (no isomorphism merging: the table has one row per tuple).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from suite import data
from suite.benchmarks.base import CellGraph, Observation, OnSpace
from suite.errors import DataError, InvalidArchitecture

if TYPE_CHECKING:  # pandas is imported where used: listing benchmarks must not pay for it
    import pandas as pd

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from node, to node), official order
N_EDGES = len(EDGES)
DATA_FILE = "nb201/nb201.csv.gz"
DEVICES = ("fpga", "eyeriss", "pixel3", "raspi4", "titanx_1", "2080ti_1", "gold_6226")
GRAPH_OPS = ("input", "output", *OPS)


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


def arch_to_str(arch: tuple[int, ...]) -> str:
    ops = [f"{OPS[op]}~{src}" for op, (src, _) in zip(arch, EDGES, strict=True)]
    return f"|{ops[0]}|+|{ops[1]}|{ops[2]}|+|{ops[3]}|{ops[4]}|{ops[5]}|"


def str_to_arch(text: str) -> tuple[int, ...]:
    try:
        tokens = [tok for node in text.strip().split("+") for tok in node.strip("|").split("|")]
        pairs = [tok.split("~") for tok in tokens]
        if len(pairs) != N_EDGES or any(int(src) != e[0] for (_, src), e in zip(pairs, EDGES, strict=True)):
            raise ValueError
        return tuple(OPS.index(op) for op, _ in pairs)
    except ValueError:
        raise InvalidArchitecture(f"not a NAS-Bench-201 cell string: {text!r}") from None


def _graph_adjacency() -> np.ndarray:
    # Operations live on edges in NB201; the usual GNN view (as in arch2vec and NASLib) turns each
    # edge into a node: 0 input, 1..6 the edges in official order, 7 output.
    adj = np.zeros((N_EDGES + 2, N_EDGES + 2), dtype=np.uint8)
    for i, (src, dst) in enumerate(EDGES):
        node = i + 1
        if src == 0:
            adj[0, node] = 1
        for j, (_, dst2) in enumerate(EDGES):
            if dst2 == src:
                adj[j + 1, node] = 1
        if dst == 3:
            adj[node, N_EDGES + 1] = 1
    return adj


ADJACENCY = _graph_adjacency()
ADJACENCY.setflags(write=False)


# FLOPs (millions) of the CIFAR-10 network: the fixed stem, reduction blocks and head, plus one term per
# 3x3 and 1x1 convolution on a cell edge (each cell edge's op is repeated in all 15 cells).
FLOPS_BASE, FLOPS_CONV3, FLOPS_CONV1 = 7.78305, 35.38944, 3.93216
TRAIN_TIME = "train_time_s"  # cost name of the recorded 200-epoch training time


class Nb201Space:
    """The NB201 cells, their operators and their cost-like properties; no accuracy, no oracle.

    `costs` is an array [cell, metric] in the order of `rows` (architecture -> row), with the metric names
    `cost_names`: FLOPs where the dataset has the formula, device latencies, training time where recorded.
    """

    def __init__(self, name: str, rows: dict[tuple[int, ...], int], cost_names: tuple[str, ...],
                 costs: np.ndarray) -> None:
        if costs.shape != (len(rows), len(cost_names)):
            raise ValueError("one row of costs per cell, one column per cost name")
        self.name = name
        self._row = rows
        self._keys = {arch: arch_to_str(arch) for arch in rows}
        self.cost_names = cost_names
        self._costs = costs
        self._costs.setflags(write=False)

    def _index(self, arch: tuple[int, ...]) -> int:
        try:
            return self._row[arch]
        except (KeyError, TypeError):
            raise _invalid(arch) from None

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(op) for op in rng.integers(len(OPS), size=N_EDGES))

    def mutate(self, arch: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Change the operation of one uniformly chosen edge to a different one (NB201/NASLib)."""
        self._index(arch)
        edge = int(rng.integers(N_EDGES))
        new_op = int(rng.integers(len(OPS) - 1))
        new_op += new_op >= arch[edge]
        return arch[:edge] + (new_op,) + arch[edge + 1 :]

    def neighbors(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        self._index(arch)
        return [
            arch[:edge] + (op,) + arch[edge + 1 :]
            for edge in range(N_EDGES)
            for op in range(len(OPS))
            if op != arch[edge]
        ]

    def key(self, arch: tuple[int, ...]) -> str:
        try:
            return self._keys[arch]
        except (KeyError, TypeError):
            raise _invalid(arch) from None

    def graph(self, arch: tuple[int, ...]) -> CellGraph:
        self._index(arch)
        ops = np.array([0, *(2 + op for op in arch), 1], dtype=np.int64)
        return CellGraph(ADJACENCY, ops, GRAPH_OPS)

    def from_graph(self, graph: CellGraph) -> tuple[int, ...]:
        if graph.op_names != GRAPH_OPS or not np.array_equal(graph.adjacency, ADJACENCY):
            raise InvalidArchitecture("not a NAS-Bench-201 cell graph (8 nodes, fixed adjacency, NB201 ops)")
        arch = tuple(int(op) - 2 for op in graph.ops[1:-1])
        self._index(arch)
        return arch

    def costs(self, arch: tuple[int, ...]) -> dict[str, float]:
        return dict(zip(self.cost_names, self._costs[self._index(arch)].tolist(), strict=True))

    def cost_table(self) -> dict[str, np.ndarray]:
        """Every cell's costs, one read-only column per cost name (15,625 rows: checked whole, not sampled)."""
        return {name: self._costs[:, j] for j, name in enumerate(self.cost_names)}


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
class Nb201(OnSpace):
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
        self.oracle = "nb201-tabular"
        self.search_metric = self.dataset.search_column.format(epochs=200)
        self.has_cost = self.dataset.cost_column is not None
        path = data.require(DATA_FILE)
        self._sha256 = data.FILES[DATA_FILE].sha256
        table = _read_table(path)
        self.table = table  # the oracle's own: methods get `space`, which holds none of it
        self._row = {str_to_arch(s): i for i, s in enumerate(table["arch_str"])}
        if len(self._row) != self.space_size:
            raise DataError(f"{path}: {len(self._row)} distinct cells, expected {self.space_size}")
        self.space = _space(self.dataset, table, self._row)
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
            raise _invalid(arch) from None

    def query(self, arch: tuple[int, ...], *, epochs: int | None = None) -> Observation:
        try:  # inlined _index: this is the hot path of every tabular search
            i = self._row[arch]
        except (KeyError, TypeError):
            raise _invalid(arch) from None
        if epochs is None or epochs == 200:
            return Observation(self._valid_200[i], self._cost_200[i])
        if epochs not in FIDELITIES:
            raise InvalidArchitecture(f"{self.name} has results at {FIDELITIES} epochs, not {epochs}")
        return Observation(self._search[epochs][i], self._cost[epochs][i])

    def final(self, arch: tuple[int, ...]) -> dict[str, float]:
        return {"test_acc": float(self._final[self._index(arch)]), **self.space.costs(arch)}

    def data_files(self) -> dict[str, str]:
        return {DATA_FILE: self._sha256}


def _invalid(arch: object) -> InvalidArchitecture:
    return InvalidArchitecture(f"{arch!r} is not a NAS-Bench-201 cell (6 op indices 0..4)")


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


def register_all(register: Callable) -> None:
    for ds in DATASETS.values():
        register(
            f"nb201-{ds.name}",
            lambda ds=ds: Nb201(ds),
            f"NAS-Bench-201 {ds.name}: search {ds.search_column.format(epochs=200)}, report {ds.final_column}",
        )
