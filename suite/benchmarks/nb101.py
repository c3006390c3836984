"""NAS-Bench-101 (Ying et al., 2019): the whole 423,624-cell space with one of two oracles.

- `nb101-tabular`, when the official results are in the data directory (`nb101/nasbench_only108.tfrecord`
  or NASLib's `nb101/nasbench_only108.pkl`): a search sees the validation accuracy (mean over the three
  108-epoch repeats, or one fixed repeat by `search_repeat`) and pays the training time; the report
  uses the mean test accuracy.
- `nb101-surrogate-20k+test6760` otherwise (the default on this machine): surrogates fitted on real NB101
  results (see nb101_surrogate). A search sees the validation accuracy predicted from the 20,001 cells
  with a real validation accuracy (`valid_acc_surrogate`) and pays the predicted training time; the
  report uses the test accuracy predicted with the help of the 6,760 cells with a real test accuracy
  (`test_acc_surrogate`). The names say "surrogate" so that no result passes them off as measured.

The structure (cells, sampling, mutation, neighbours) is `nb101_space.Nb101Space`; everything measured
or predicted about a cell's training lives here, in the oracle, never on the space.
`params` is a final metric for both: for the surrogate it is computed from the cell as nasbench's model
builder does (equal to the recorded count on all real cells), for the tabular oracle it is read.
Accuracies are in percent. An architecture is an int, the cell's row in the hash-sorted table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from suite import data
from suite.benchmarks import nb101_official as official
from suite.benchmarks import nb101_space as space
from suite.benchmarks import nb101_surrogate as surrogate
from suite.benchmarks.base import Observation, OnSpace
from suite.errors import DataError, InvalidArchitecture

# Renamed when the final metric became predicted test accuracy (it was predicted validation accuracy
# under "nb101-surrogate-20k"), so stores of the two can never be mixed.
SURROGATE_ORACLE = "nb101-surrogate-20k+test6760"
TABULAR_ORACLE = "nb101-tabular"


@dataclass(frozen=True)
class Nb101Settings:
    search_repeat: int | None = None  # tabular only: None = mean of the 3 repeats, else that repeat
    surrogate: surrogate.SurrogateConfig = field(default_factory=surrogate.SurrogateConfig)
    surrogate_seed: int = 0
    mutation: space.MutationConfig = field(default_factory=space.MutationConfig)

    def __post_init__(self) -> None:
        if self.search_repeat is not None and self.search_repeat not in range(official.N_REPEATS):
            raise ValueError(f"search_repeat must be None or 0..{official.N_REPEATS - 1}")


@dataclass(frozen=True)
class _Oracle:
    name: str
    search_metric: str
    final_metric: str
    search: np.ndarray  # per table row
    cost: np.ndarray
    finals: dict[str, np.ndarray]
    files: dict[str, str]


def _machine_independent(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32).astype(np.float64)


def _surrogate_oracle(cells: space.CellTable, settings: Nb101Settings) -> _Oracle:
    pred = surrogate.predictions(cells, settings.surrogate, settings.surrogate_seed)
    # The predictions pass through numpy's float64 exp (the models fit log-time and -log(100.5 - acc)),
    # whose SIMD version on CPUs with AVX-512 is not correctly rounded: it differs in the last bit from the
    # other CPUs' on ~5% of times and ~0.5% of accuracies, so cum_cost differed across machines. Rounded to
    # float32 (7 significant digits, more than the surrogate's accuracy), both machines give the same value.
    cost, valid, test = (_machine_independent(p) for p in (pred.train_time, pred.valid_acc, pred.test_acc))
    return _Oracle(
        SURROGATE_ORACLE, "valid_acc_surrogate", "test_acc_surrogate", valid, cost,
        {"test_acc_surrogate": test, "valid_acc_surrogate": valid, "params": cells.params.astype(np.float64)},
        {name: data.FILES[name].sha256 for name in (surrogate.DATA_FILE, surrogate.TEST_FILE)},
    )


def _tabular_oracle(cells: space.CellTable, settings: Nb101Settings, source: Path) -> _Oracle:
    results, sha256 = official.load_official(source)
    rows = np.minimum(np.searchsorted(cells.hashes, results.hashes), len(cells) - 1)
    known = cells.hashes[rows] == results.hashes
    if not known.all():
        bad = results.hashes[~known][0].decode()
        raise DataError(f"{source}: hash {bad} is not a NAS-Bench-101 cell")
    if len(rows) != len(cells):
        raise DataError(f"{source}: results for {len(rows):,} cells, expected all {len(cells):,}")
    order = np.argsort(rows)
    valid = results.valid_acc[order] * 100.0
    search = valid.mean(axis=1) if settings.search_repeat is None else valid[:, settings.search_repeat]
    cost = results.train_time[order]
    cost = cost.mean(axis=1) if settings.search_repeat is None else cost[:, settings.search_repeat]
    return _Oracle(
        TABULAR_ORACLE, "valid_acc" if settings.search_repeat is None else f"valid_acc_r{settings.search_repeat}",
        "test_acc", search, cost,
        {"test_acc": results.test_acc[order].mean(axis=1) * 100.0, "valid_acc": valid.mean(axis=1),
         "params": results.params[order].astype(np.float64)},
        {f"{official.OFFICIAL_DIR}/{source.name}": sha256},
    )


class Nb101(OnSpace):
    name = "nb101"
    has_cost = True

    def __init__(self, settings: Nb101Settings | None = None, official_path: Path | None = None) -> None:
        """`official_path`: an official results file; by default the one in the data directory, if any."""
        self.settings = settings or Nb101Settings()
        self.space = space.Nb101Space(mutation=self.settings.mutation)
        cells = self.space.table
        source = official_path or official.official_file()
        oracle = (
            _surrogate_oracle(cells, self.settings) if source is None
            else _tabular_oracle(cells, self.settings, source)
        )
        self.oracle = oracle.name
        self.search_metric = oracle.search_metric
        self.final_metric = oracle.final_metric
        self.space_size = len(cells)
        self._files = oracle.files
        # Python lists: a query reads two floats, and list indexing beats numpy scalar access.
        self._search = oracle.search.tolist()
        self._cost = oracle.cost.tolist()
        self.cheapest_query = float(oracle.cost.min())  # what the cheapest cell's query charges
        self._finals = {k: v.tolist() for k, v in oracle.finals.items()}
        final = oracle.finals[self.final_metric]
        self.optimum = float(final.max())
        self.final_values = np.sort(final)
        self.final_values.setflags(write=False)

    def query(self, arch: int, *, epochs: int | None = None) -> Observation:
        if epochs not in (None, official.EPOCHS):
            raise InvalidArchitecture(f"{self.name} ({self.oracle}) has results at 108 epochs only, not {epochs}")
        i = self.space.index(arch)
        return Observation(self._search[i], self._cost[i])

    def final(self, arch: int) -> dict[str, float]:
        i = self.space.index(arch)
        return {k: v[i] for k, v in self._finals.items()}

    def data_files(self) -> dict[str, str]:
        return dict(self._files)


def register_all(register: Callable) -> None:
    register(
        "nb101", Nb101,
        "NAS-Bench-101, all 423,624 cells: the official table if present, else surrogates of 26,428 real cells "
        "(search: predicted validation accuracy; report: predicted test accuracy)",
    )
