"""NAS-Bench-101 (Ying et al., 2019): the whole 423,624-cell space with one of two oracles.

- `nb101-tabular`, when the official results are in the data directory (`nb101/nasbench_only108.tfrecord`
  or NASLib's `nb101/nasbench_only108.pkl`): a search sees the validation accuracy (mean over the three
  108-epoch repeats, or one fixed repeat by `search_repeat`) and pays the training time; the report
  uses the mean test accuracy.
- a surrogate oracle otherwise (the default on this machine: `nb101-surrogate-20k+test12959+stack`):
  surrogates fitted on real NB101 results (see nb101_surrogate). A search sees the validation accuracy
  predicted from the 20,001 cells with a real validation accuracy (`valid_acc_surrogate`) and pays the
  predicted training time; the report uses the test accuracy predicted from real test cells
  (`test_acc_surrogate`): the 12,959 cells of `nb101_test_cec12959` for the default, the 6,760 of
  `nb101_test_evox6760` for `nb101-surrogate-20k+test6760` (the default until issue 19, kept selectable
  so stored runs keep their ids and verify). The default also has oracle members: refits of its test
  model on resamples, whose predictions of the final incumbent every run records
  (`final_members`). The names say "surrogate" so that no result passes them off as measured.

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
from suite.errors import DataError, InvalidArchitecture, NasreproError

TABULAR_ORACLE = "nb101-tabular"


@dataclass(frozen=True)
class SurrogateVersion:
    """One surrogate oracle: its real test cells, its models, and its cross-validated error at the top."""

    name: str
    test_file: str
    config: surrogate.SurrogateConfig
    # RMSE (points) of the final metric on the real cells of the top 10%, cross-validated with grouped
    # folds: the chosen model's figure on the selection folds (results/nb101/surrogate.md, `make
    # surrogate-report-nb101`), rounded to 0.01; what the members' spread is widened to.
    top_error: float | None


# A name per version, so stores of two versions can never be mixed: "nb101-surrogate-20k" had predicted
# validation accuracy as its final metric; "+test6760" the joint model on 6,760 test cells; "+test12959"
# (issue 19) the test model chosen by grouped cross-validation at the top, fitted on 12,959 test cells;
# "+stack" the same cells and rule, with the candidates widened to the validation model's prediction as a
# feature (`stack`, chosen) and a GIN averaged in (`stack+gnn`).
SURROGATES: dict[str, SurrogateVersion] = {
    v.name: v for v in (
        SurrogateVersion("nb101-surrogate-20k+test6760", surrogate.TEST_FILE, surrogate.SurrogateConfig(), None),
        SurrogateVersion(
            "nb101-surrogate-20k+test12959", surrogate.TEST_FILE_12959,
            surrogate.SurrogateConfig(test_family="test-only", test_xgb=surrogate.XgbParams(600, 10, 0.05),
                                      members=5),
            0.27,
        ),
        SurrogateVersion(
            "nb101-surrogate-20k+test12959+stack", surrogate.TEST_FILE_12959,
            surrogate.SurrogateConfig(test_family="stack", test_xgb=surrogate.XgbParams(600, 10, 0.05), members=5),
            0.21,
        ),
    )
}
SURROGATE_ORACLE = "nb101-surrogate-20k+test12959+stack"  # the default without the official table
ORACLES = (*SURROGATES, TABULAR_ORACLE)


@dataclass(frozen=True)
class Nb101Settings:
    search_repeat: int | None = None  # tabular only: None = mean of the 3 repeats, else that repeat
    surrogate: surrogate.SurrogateConfig | None = None  # None: the chosen oracle version's models
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
    members: np.ndarray | None = None  # [members, rows]: the final metric under each oracle member
    top_error: float | None = None


def _machine_independent(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32).astype(np.float64)


def _surrogate_oracle(cells: space.CellTable, settings: Nb101Settings, version: SurrogateVersion) -> _Oracle:
    config = settings.surrogate or version.config
    pred = surrogate.predictions(cells, config, settings.surrogate_seed, version.test_file)
    # The predictions pass through numpy's float64 exp (the models fit log-time and -log(100.5 - acc)),
    # whose SIMD version on CPUs with AVX-512 is not correctly rounded: it differs in the last bit from the
    # other CPUs' on ~5% of times and ~0.5% of accuracies, so cum_cost differed across machines. Rounded to
    # float32 (7 significant digits, more than the surrogate's accuracy), both machines give the same value.
    cost, valid, test = (_machine_independent(p) for p in (pred.train_time, pred.valid_acc, pred.test_acc))
    members = None if pred.members is None else _machine_independent(pred.members)
    return _Oracle(
        version.name, "valid_acc_surrogate", "test_acc_surrogate", valid, cost,
        {"test_acc_surrogate": test, "valid_acc_surrogate": valid, "params": cells.params.astype(np.float64)},
        {name: data.FILES[name].sha256 for name in (surrogate.DATA_FILE, version.test_file)},
        members, version.top_error,
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


class Nb101(OnSpace[int]):
    name = "nb101"
    has_cost = True

    def __init__(self, settings: Nb101Settings | None = None, official_path: Path | None = None,
                 oracle: str | None = None) -> None:
        """`official_path`: an official results file; by default the one in the data directory, if any.
        `oracle`: one of ORACLES; by default the tabular one where the official file is, else SURROGATE_ORACLE."""
        if oracle is not None and oracle not in ORACLES:
            raise NasreproError(f"unknown oracle {oracle!r} for nb101; known: {', '.join(ORACLES)}")
        self.settings = settings or Nb101Settings()
        self.space: space.Nb101Space = space.Nb101Space(mutation=self.settings.mutation)
        cells = self.space.table
        source = official_path or official.official_file()
        if oracle == TABULAR_ORACLE and source is None:
            raise DataError(f"oracle {TABULAR_ORACLE} needs the official NB101 results in "
                            f"{data.data_dir() / official.OFFICIAL_DIR} (nasbench_only108.tfrecord)")
        if oracle is None:
            oracle = TABULAR_ORACLE if source is not None else SURROGATE_ORACLE
        answers = (
            _tabular_oracle(cells, self.settings, source) if oracle == TABULAR_ORACLE  # type: ignore[arg-type]
            else _surrogate_oracle(cells, self.settings, SURROGATES[oracle])
        )
        self.oracle = answers.name
        self.search_metric = answers.search_metric
        self.final_metric = answers.final_metric
        self.space_size = len(cells)
        self._files = answers.files
        # Python lists: a query reads two floats, and list indexing beats numpy scalar access.
        self._search = answers.search.tolist()
        self._cost = answers.cost.tolist()
        self.cheapest_query = float(answers.cost.min())  # what the cheapest cell's query charges
        self._finals = {k: v.tolist() for k, v in answers.finals.items()}
        final = answers.finals[self.final_metric]
        self.optimum = float(final.max())
        self.final_values = np.sort(final)
        self.final_values.setflags(write=False)
        self._members = None if answers.members is None else answers.members.T.tolist()  # per row: K values
        self.oracle_top_error = answers.top_error

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

    def final_members(self, arch: int) -> list[float] | None:
        """The final metric of `arch` under each oracle member, or None if this oracle has none."""
        return None if self._members is None else list(self._members[self.space.index(arch)])


def register_all(register: Callable) -> None:
    register(
        "nb101", lambda oracle=None: Nb101(oracle=oracle),
        "NAS-Bench-101, all 423,624 cells: the official table if present, else surrogates of 26,428 real cells "
        "(search: predicted validation accuracy; report: predicted test accuracy)",
        oracles=ORACLES,
    )
