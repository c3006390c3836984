"""NAS-Bench-201 answered by a surrogate fitted on a random fraction of its cells (issue 19, item 3).

NB101's oracle is a surrogate fitted on a small share of its space (about 5% of 423,624 cells). On NB201 every
cell's real value is known, so the same approach can be checked against the truth: the same pipeline
(`surrogate_fit`: XGBoost with NB101's settings on the path features of `predictors.encodings`, a validation
model for the search metric and a test model for the final metric, as NB101's first oracles; NB101's default
test model also reads the predicted validation accuracy, which here would be an in-sample fit on every
training cell, see results/surrogate-fidelity/report.md) is fitted on the real validation and
test accuracies of a random 2%, 5% or 20% of NB201's 15,625 cells and predicts every cell. The searches stay
blind: they get the same `Nb201Space` as on the real table; only the oracle differs (`nb201-surrogate-5pct`, ...).

The training cells are the first round(f * 15,625) of one permutation drawn from `SUBSET_SEED`, so the
subsets are nested (2% within 5% within 20%) and the same for the three datasets; their rows are kept in
the predictions' cache file and listed in `results/surrogate-fidelity/training_cells.csv`. A query costs
the cell's recorded training time, as on the real table: that is a property of the space (methods already
see it as a cost), not what the check is about.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from suite import data
from suite.benchmarks import cache_files, nb201, nb201_space, surrogate_fit
from suite.benchmarks.base import Observation
from suite.errors import InvalidArchitecture, NasreproError

FRACTIONS: dict[str, float] = {"2pct": 0.02, "5pct": 0.05, "20pct": 0.20}
SUBSET_SEED = 19_003  # the permutation the training cells are drawn from (issue 19, item 3)
FIT_SEED = 0  # the validation model's seed; the test model's is FIT_SEED + 1
SURROGATE_VERSION = 1  # bump when features or fitting change: invalidates cached predictions
N_CELLS = len(nb201_space.OPS) ** nb201_space.N_EDGES
SEARCH_METRIC = "valid_acc_surrogate"
FINAL_METRIC = "test_acc_surrogate"


def oracle_name(fraction: str) -> str:
    return f"nb201-surrogate-{fraction}"


def check_fraction(fraction: str) -> None:
    if fraction not in FRACTIONS:
        raise NasreproError(f"unknown NB201 surrogate fraction {fraction!r}; known: {', '.join(FRACTIONS)}")


def training_rows(fraction: str, seed: int = SUBSET_SEED) -> np.ndarray:
    """Table rows (the official NB201 index) of the training cells, sorted: the first round(f * 15,625) of the
    permutation drawn by `seed`."""
    check_fraction(fraction)
    size = round(FRACTIONS[fraction] * N_CELLS)
    return np.sort(np.random.default_rng(seed).permutation(N_CELLS)[:size])


# ---------------------------------------------------------------------------------------------- features
# NB201's cell graph (`nb201.Nb201Space.graph`): input, one node per edge in official order, output. In the
# padded layout of `predictors.encodings` an interior node carries its op's index among the ops a path can
# carry; `none` outputs zeros, so its node takes no part (no edges, op -1), as in `encodings.graph_paths`.
PATH_OPS = tuple(op for op in nb201_space.OPS if op != "none")
MAX_PATH = 3  # input -> e10 -> e21 -> e32 -> output


def features(cells: np.ndarray) -> np.ndarray:
    """float32 [N, 147] of cells [N, 6] (op indices): the adjacency encoding, the count of paths of each op
    sequence, and cell statistics (`predictors.encodings`' batch functions, as NB101's path features)."""
    from predictors import encodings

    cells = np.asarray(cells, dtype=np.int64).reshape(-1, nb201_space.N_EDGES)
    code = np.array([PATH_OPS.index(op) if op in PATH_OPS else -1 for op in nb201_space.OPS])
    ops = np.full((len(cells), nb201_space.N_EDGES + 2), -1, dtype=np.int64)
    ops[:, 1:-1] = code[cells]
    live = ops >= 0
    live[:, [0, -1]] = True
    adj = nb201_space.ADJACENCY[None] * (live[:, :, None] & live[:, None, :])
    paths = encodings.path_counts_batch(adj, ops, len(PATH_OPS), MAX_PATH)
    return np.concatenate([
        encodings.adjacency_batch(adj, ops, len(PATH_OPS)), paths,
        encodings.cell_statistics_batch(adj, ops, len(PATH_OPS), paths, MAX_PATH),
    ], axis=1)


# ---------------------------------------------------------------------------------------------- oracle
@dataclass(frozen=True)
class Predictions:
    valid_acc: np.ndarray  # percent, every table row: the search metric
    test_acc: np.ndarray  # percent, every table row: the final metric
    train_rows: np.ndarray  # the table rows it was fitted on
    cache_key: str


def _machine_independent(values: np.ndarray) -> np.ndarray:
    # Through numpy's float64 exp (the accuracy transform), whose AVX-512 version differs in the last bit on
    # some CPUs: rounded to float32, as NB101's surrogate (nb101._machine_independent).
    return values.astype(np.float32).astype(np.float64)


def cache_key(dataset: nb201.Nb201Dataset, fraction: str, config: surrogate_fit.XgbConfig) -> str:
    blob = json.dumps({
        "dataset": asdict(dataset), "fraction": FRACTIONS[fraction], "subset_seed": SUBSET_SEED,
        "fit_seed": FIT_SEED, "config": asdict(config), "version": SURROGATE_VERSION,
        "data": data.FILES[nb201.DATA_FILE].sha256,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def fit(cells: np.ndarray, valid_acc: np.ndarray, test_acc: np.ndarray, train_rows: np.ndarray,
        config: surrogate_fit.XgbConfig) -> tuple[np.ndarray, np.ndarray]:
    """Validation and test models fitted on the real accuracies of `train_rows`; predictions for every cell."""
    def one(acc: np.ndarray, seed: int) -> np.ndarray:
        return _machine_independent(
            surrogate_fit.fit_predict_accuracy(features, cells[train_rows], acc[train_rows], cells, config, seed))

    return one(valid_acc, FIT_SEED), one(test_acc, FIT_SEED + 1)


def predictions(bench: nb201.Nb201, fraction: str, config: surrogate_fit.XgbConfig) -> Predictions:
    """The surrogate's predictions for every cell of `bench`'s table, computed once and kept in a checked
    cache file (the first build fits two models: a few seconds)."""
    key = cache_key(bench.dataset, fraction, config)
    path = data.cache_dir() / f"nb201_surrogate_{key}.npz"
    arrays = cache_files.load_npz(path, "NB201 surrogate predictions")
    if arrays is not None and set(arrays) >= {"valid_acc", "test_acc", "train_rows"}:
        return Predictions(arrays["valid_acc"], arrays["test_acc"], arrays["train_rows"], key)
    rows = training_rows(fraction)
    table = bench.table
    cells = np.array([nb201_space.str_to_arch(text) for text in table["arch_str"]], dtype=np.int64)
    valid, test = fit(cells, table[bench.dataset.search_column.format(epochs=200)].to_numpy(np.float64),
                      table[bench.dataset.final_column].to_numpy(np.float64), rows, config)
    cache_files.save_npz(path, {"valid_acc": valid, "test_acc": test, "train_rows": rows})
    return Predictions(valid, test, rows, key)


@dataclass
class Nb201Surrogate(nb201.Nb201):
    """An NB201 dataset whose search and final metric are the surrogate's predictions."""

    fraction: str = "5pct"
    config: surrogate_fit.XgbConfig = field(default_factory=surrogate_fit.XgbConfig)

    def __post_init__(self) -> None:
        check_fraction(self.fraction)
        super().__post_init__()
        pred = predictions(self, self.fraction, self.config)
        self.oracle = oracle_name(self.fraction)
        self.search_metric = SEARCH_METRIC
        self.final_metric = FINAL_METRIC
        self.train_rows = pred.train_rows
        self._valid_200 = pred.valid_acc.tolist()
        self._search = {200: self._valid_200}  # the real values stay out of the surrogate oracle
        self._final = pred.test_acc
        self.optimum = float(self._final.max())
        self.final_values = np.sort(self._final)

    def query(self, arch: tuple[int, ...], *, epochs: int | None = None) -> Observation:
        if epochs not in (None, 200):
            raise InvalidArchitecture(f"{self.name} ({self.oracle}) predicts results at 200 epochs only, not {epochs}")
        i = self._index(arch)
        return Observation(self._valid_200[i], self._cost_200[i])

    def final(self, arch: tuple[int, ...]) -> dict[str, float]:
        return {FINAL_METRIC: float(self._final[self._index(arch)]), **self.space.costs(arch)}


def build(dataset: nb201.Nb201Dataset, oracle: str | None = None) -> nb201.Nb201:
    """The NB201 benchmark of `dataset` with the real table (`nb201-tabular`, the default) or a surrogate."""
    if oracle in (None, nb201.TABULAR_ORACLE):
        return nb201.Nb201(dataset)
    fraction = oracle.removeprefix("nb201-surrogate-")
    check_fraction(fraction)
    return Nb201Surrogate(dataset, fraction=fraction)


ORACLES = (nb201.TABULAR_ORACLE, *(oracle_name(fraction) for fraction in FRACTIONS))


def register_all(register: Callable) -> None:
    """Registers every NB201 dataset with its oracles: the real table and the surrogates of this module."""
    for ds in nb201.DATASETS.values():
        register(
            f"nb201-{ds.name}",
            lambda oracle=None, ds=ds: build(ds, oracle),
            f"NAS-Bench-201 {ds.name}: search {ds.search_column.format(epochs=200)}, report {ds.final_column}",
            oracles=ORACLES,
        )
