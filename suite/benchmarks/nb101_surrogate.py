"""The NAS-Bench-101 surrogate oracle: model families, their cross-validation on the real cells, and
the cached predictions for every cell (the report is `nb101_report`).

Real data: one 108-epoch training of 20,001 uniform cells (`nb101/nb101_subset20k.csv.gz`: validation
accuracy, training time) and the mean test accuracy over NB101's 3 repeats of 6,760 further cells
(`nb101/nb101_test_evox6760.csv.gz`, mostly 5- and 6-vertex cells). Three models: the validation
accuracy (the search metric) and training time (the cost) from the 20k cells, the test accuracy (the
final metric) by a test family that may also use the 20k cells. A family is chosen by 10-fold
cross-validation (Kendall tau overall and above the median; for test accuracy also the error weighted
to the space's vertex counts). Features come from the batch encodings of `predictors.encodings` on the
cell table's padded arrays; the GNN from `predictors.layers`; the boosted trees from xgboost directly
(DESIGN.md, "Dependencies"). All are imported where used: registering the benchmark must not pay for
loading them.

Everything is seeded and single-threaded: xgboost with a fixed seed and one thread, torch with
explicit generators on one thread, so retraining reproduces the predictions bit for bit, whatever the
number of processes the fits and predictions are spread over.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from suite import data
from suite.benchmarks import cache_files, surrogate_fit
from suite.benchmarks import nb101_space as space
from suite.errors import DataError, NasreproError

if TYPE_CHECKING:  # pandas is imported where used: listing benchmarks must not pay for it
    import pandas as pd

DATA_FILE = "nb101/nb101_subset20k.csv.gz"
SURROGATE_VERSION = 2  # bump when features or fitting change: invalidates cached predictions
TARGET = "valid_acc_108"  # fraction in the file; the surrogate predicts percent
COST = "train_time_108"
TEST_FILE = "nb101/nb101_test_evox6760.csv.gz"
TEST_TARGET = "test_acc_108"  # mean of NB101's 3 repeats, fraction in the file; percent here
N_FOLDS = 10
MAX_PATH = space.MAX_VERTICES - 2  # interior vertices on the longest path
N_PATH_FEATURES = sum(len(space.OPS) ** k for k in range(MAX_PATH + 1))  # 364
N_FEATURES = 21 + 5 * len(space.OPS) + N_PATH_FEATURES + 1 + 6 + len(space.OPS)  # 410


@dataclass(frozen=True)
class SurrogateConfig:
    family: str = "xgb-path"
    xgb_rounds: int = 1500
    xgb_depth: int = 9
    xgb_eta: float = 0.02
    xgb_subsample: float = 0.8
    xgb_colsample: float = 0.5
    xgb_min_child_weight: float = 3.0
    gnn_epochs: int = 20
    gnn_dim: int = 64
    gnn_layers: int = 3
    gnn_batch: int = 128
    gnn_lr: float = 2e-3
    cost_family: str = "xgb-path"  # training time is close to a function of the convolutions: trees suffice
    test_family: str = "joint"  # chosen by cross-validation on the real test cells (surrogate.md)

    def __post_init__(self) -> None:
        for family in (self.family, self.cost_family):
            if family not in FAMILIES:
                raise NasreproError(f"unknown NB101 surrogate family {family!r}; known: {', '.join(FAMILIES)}")
        if self.test_family not in TEST_FAMILIES:
            raise NasreproError(f"unknown NB101 test-accuracy family {self.test_family!r}; "
                                f"known: {', '.join(TEST_FAMILIES)}")


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class RealCells:
    """The 20,001 real cells as table rows, with their targets (accuracy in percent)."""

    rows: np.ndarray
    valid_acc: np.ndarray
    train_time: np.ndarray
    params: np.ndarray
    sha256: str


def _rows_of(table: space.CellTable, path: Path, hashes: pd.Series) -> np.ndarray:
    wanted = hashes.to_numpy().astype("S32")
    rows = np.minimum(np.searchsorted(table.hashes, wanted), len(table) - 1)
    unknown = np.flatnonzero(table.hashes[rows] != wanted)
    if len(unknown):
        raise DataError(f"{path}: {len(unknown)} hashes are not NB101 cells, e.g. {hashes.iat[unknown[0]]}")
    return rows.astype(np.int64)


def _read(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    import pandas as pd  # where used (main imports pandas lazily in this module)

    try:
        return pd.read_csv(path, usecols=columns)
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot read {path} as {what}: {exc}") from None


def real_cells(table: space.CellTable) -> RealCells:

    path = data.require(DATA_FILE)
    frame = _read(path, ["hash", TARGET, COST, "params"], "the NB101 20k table")
    return RealCells(
        rows=_rows_of(table, path, frame["hash"]),
        valid_acc=frame[TARGET].to_numpy(np.float64) * 100.0,
        train_time=frame[COST].to_numpy(np.float64),
        params=frame["params"].to_numpy(np.int64),
        sha256=data.FILES[DATA_FILE].sha256,
    )


@dataclass(frozen=True)
class RealTestCells:
    """The 6,760 cells with a real test accuracy (percent), and each cell's weight: the share of its
    vertex count in the space over its share in the file, so that weighted figures describe the space
    (the file holds 35% five-vertex cells, the space 0.6%; 1.8% seven-vertex cells, the space 85%)."""

    rows: np.ndarray
    test_acc: np.ndarray
    weight: np.ndarray
    sha256: str

    def subset(self, keep: np.ndarray) -> RealTestCells:
        return RealTestCells(self.rows[keep], self.test_acc[keep], self.weight[keep], self.sha256)


def real_test_cells(table: space.CellTable) -> RealTestCells:
    path = data.require(TEST_FILE)
    frame = _read(path, ["hash", TEST_TARGET], "the NB101 test-accuracy table")
    rows = _rows_of(table, path, frame["hash"])
    n = table.n_vertices[rows].astype(np.int64)
    in_file = np.bincount(n, minlength=space.MAX_VERTICES + 1) / len(n)
    in_space = np.bincount(table.n_vertices.astype(np.int64), minlength=space.MAX_VERTICES + 1) / len(table)
    return RealTestCells(rows, frame[TEST_TARGET].to_numpy(np.float64) * 100.0, in_space[n] / in_file[n],
                     data.FILES[TEST_FILE].sha256)


# ---------------------------------------------------------------------------------------------- features
# Built by predictors.encodings' batch functions on the table's padded arrays (DESIGN.md, "Dependencies").
ENCODE_CHUNK = 20_000  # cells encoded at a time, to bound the memory of path counting


def adjacency_features(table: space.CellTable, rows: np.ndarray) -> np.ndarray:
    """The usual encoding: 21 upper-triangle bits of the padded matrix and one-hot ops of 5 vertices."""
    from predictors import encodings

    adj, ops = table.padded(rows)
    return encodings.adjacency_batch(adj, ops, len(space.OPS))


def path_features(table: space.CellTable, rows: np.ndarray) -> np.ndarray:
    """Adjacency encoding + path counts + log parameters and cell statistics (size, op counts, depth).

    The path columns run first op least significant: the order the surrogate was cross-validated
    with (xgboost's column sampling depends on the order)."""
    from predictors import encodings

    out = []
    for k in range(0, len(rows), ENCODE_CHUNK):
        adj, ops = table.padded(rows[k : k + ENCODE_CHUNK])
        paths = encodings.path_counts_batch(adj, ops, len(space.OPS), MAX_PATH, first_op_major=False)
        stats = encodings.cell_statistics_batch(adj, ops, len(space.OPS), paths, MAX_PATH)
        log_params = np.log(table.params[rows[k : k + ENCODE_CHUNK]].astype(np.float64)).astype(np.float32)
        out.append(np.concatenate([encodings.adjacency_batch(adj, ops, len(space.OPS)), paths,
                                   log_params[:, None], stats], axis=1))
    return np.concatenate(out) if out else np.zeros((0, N_FEATURES), dtype=np.float32)


# ---------------------------------------------------------------------------------------------- models
Family = Callable[[space.CellTable, np.ndarray, np.ndarray, np.ndarray, SurrogateConfig, int], np.ndarray]
CHUNK = 50_000  # rows through the GNN at a time when predicting the whole space


def _xgb(encode: Callable[[space.CellTable, np.ndarray], np.ndarray]) -> Family:
    def fit_predict(table, train_rows, y, predict_rows, config, seed):
        return surrogate_fit.fit_predict(lambda rows: encode(table, rows), train_rows, y, predict_rows, config, seed)

    return fit_predict


def _gnn_regressor(dim: int, layers: int):
    import torch
    from torch import nn

    from predictors.layers import GraphEncoder

    class GnnRegressor(nn.Module):
        """Shared GIN encoder, pooled, with log parameters appended, then a 2-layer head."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = GraphEncoder(len(space.GRAPH_OPS) + 1, dim, layers)  # +1: unused-vertex token
            self.head = nn.Sequential(nn.Linear(dim + 1, dim), nn.ReLU(), nn.Linear(dim, 1))

        def forward(self, adj, ops, mask, log_params):
            _, pooled = self.encoder(adj, ops, mask)
            return self.head(torch.cat([pooled, log_params[:, None]], dim=1)).squeeze(1)

    return GnnRegressor()


def _graph_tensors(table: space.CellTable, rows: np.ndarray):
    import torch

    adj, ops = table.padded(rows)
    mask = ops != space.UNUSED
    tokens = np.select([ops == -1, ops == -2, mask], [0, 1, ops + 2], len(space.GRAPH_OPS))  # GRAPH_OPS; unused last
    return (
        torch.from_numpy(adj.astype(np.float32)),
        torch.from_numpy(tokens),
        torch.from_numpy(mask),
        torch.from_numpy(np.log(table.params[rows].astype(np.float32)) - 15.0),
    )


def _gnn(table, train_rows, y, predict_rows, config, seed):
    import torch
    from torch import nn

    from predictors.common import one_torch_thread
    from predictors.layers import build_module

    generator = torch.Generator().manual_seed(seed)
    with one_torch_thread():
        model = build_module(lambda: _gnn_regressor(config.gnn_dim, config.gnn_layers), generator)
        mean, std = float(y.mean()), float(y.std())
        x_train = _graph_tensors(table, train_rows)
        target = torch.from_numpy(((y - mean) / std).astype(np.float32))
        optimizer = torch.optim.Adam(model.parameters(), lr=config.gnn_lr)
        steps = config.gnn_epochs * -(-len(train_rows) // config.gnn_batch)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        model.train()
        for _ in range(config.gnn_epochs):
            perm = torch.randperm(len(train_rows), generator=generator)
            for k in range(0, len(perm), config.gnn_batch):
                batch = perm[k : k + config.gnn_batch]
                loss = nn.functional.mse_loss(model(*(t[batch] for t in x_train)), target[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
        model.eval()
        out = []
        with torch.no_grad():
            for k in range(0, len(predict_rows), CHUNK):
                out.append(model(*_graph_tensors(table, predict_rows[k : k + CHUNK])).numpy())
    return np.concatenate(out).astype(np.float64) * std + mean


def _ensemble(*members: str) -> Family:
    def fit_predict(table, train_rows, y, predict_rows, config, seed):
        seeds = np.random.SeedSequence(seed).generate_state(len(members))
        return np.mean([
            FAMILIES[m](table, train_rows, y, predict_rows, config, int(s)) for m, s in zip(members, seeds, strict=True)
        ], axis=0)

    return fit_predict


FAMILIES: dict[str, Family] = {
    "xgb-adj": _xgb(adjacency_features),
    "xgb-path": _xgb(path_features),
    "gnn": _gnn,
    "xgb-path+gnn": _ensemble("xgb-path", "gnn"),
}
# Models fit a transformed target. Accuracy: surrogate_fit's -log(100.5 - acc). Time: log seconds.
TRANSFORMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    TARGET: (surrogate_fit.acc_forward, surrogate_fit.acc_inverse),
    COST: (np.log, np.exp),
}


def fit_predict(family: str, target: str, table: space.CellTable, train_rows: np.ndarray, y: np.ndarray,
                predict_rows: np.ndarray, config: SurrogateConfig, seed: int) -> np.ndarray:
    forward, inverse = TRANSFORMS[target]
    return inverse(FAMILIES[family](table, train_rows, forward(y), predict_rows, config, seed))


# A fitted model, so that the whole space can be predicted in chunks spread over processes. XGBoost
# families fit once and predict any rows; the others (GNN, ensembles) refit whenever they predict, so
# they are predicted in one piece.
Encode = Callable[[space.CellTable, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class XgbModel:
    booster: object
    encode: Encode  # module-level, so the model pickles
    target: str  # its TRANSFORMS entry
    chunked = True

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return TRANSFORMS[self.target][1](
            surrogate_fit.predict_chunked(self.booster, lambda r: self.encode(table, r), rows))

    def predict_encoded(self, X: np.ndarray) -> np.ndarray:
        return TRANSFORMS[self.target][1](self.booster.inplace_predict(X).astype(np.float64))


@dataclass(frozen=True)
class RefitModel:
    family: str
    target: str
    train_rows: np.ndarray
    y: np.ndarray
    config: SurrogateConfig
    seed: int
    chunked = False

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return fit_predict(self.family, self.target, table, self.train_rows, self.y, rows, self.config, self.seed)


XGB_ENCODINGS: dict[str, Encode] = {"xgb-adj": adjacency_features, "xgb-path": path_features}


def fit_model(family: str, target: str, table: space.CellTable, train_rows: np.ndarray, y: np.ndarray,
              config: SurrogateConfig, seed: int) -> XgbModel | RefitModel:
    """The model `fit_predict` would use: `fit_model(...).predict(table, rows) == fit_predict(...)`."""
    encode = XGB_ENCODINGS.get(family)
    if encode is None:
        return RefitModel(family, target, train_rows, y, config, seed)
    model = surrogate_fit.booster(encode(table, train_rows), TRANSFORMS[target][0](y), config, seed)
    return XgbModel(model, encode, target)


# ---------------------------------------------------------------------------------------------- CV
@dataclass(frozen=True)
class CvResult:
    family: str
    target: str
    folds: pd.DataFrame  # per fold: tau, spearman, mae, and the same above the median
    oof: np.ndarray  # out-of-fold predictions
    fold_of: np.ndarray  # fold of each real cell
    seconds: float

    def summary(self) -> dict[str, float]:
        return {f"{c}_mean": float(self.folds[c].mean()) for c in self.folds} | {
            f"{c}_sd": float(self.folds[c].std(ddof=1)) for c in self.folds
        }


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from scipy import stats

    return {
        "tau": float(stats.kendalltau(y, pred).statistic),
        "spearman": float(stats.spearmanr(y, pred).statistic),
        "mae": float(np.mean(np.abs(y - pred))),
    }


def cross_validate(family: str, table: space.CellTable, real: RealCells, config: SurrogateConfig,
                   seed: int, target: str = TARGET, n_folds: int = N_FOLDS) -> CvResult:
    """K-fold CV; 'above the median' = cells whose real value exceeds the median of all real cells."""
    y = _target(real, target)
    folds = np.random.default_rng(seed).permutation(len(y)) % n_folds
    oof = np.empty_like(y)
    start = time.perf_counter()
    for k in range(n_folds):
        test = folds == k
        oof[test] = fit_predict(family, target, table, real.rows[~test], y[~test], real.rows[test], config, seed + k)
    return CvResult(family, target, _fold_scores(y, oof, folds), oof, folds, time.perf_counter() - start)


def average_cv(members: list[CvResult], real: RealCells) -> CvResult:
    """The CV of the mean of several families' out-of-fold predictions (same folds)."""
    folds = members[0].fold_of
    oof = np.mean([m.oof for m in members], axis=0)
    y = _target(real, members[0].target)
    name = "+".join(m.family for m in members)
    return CvResult(name, members[0].target, _fold_scores(y, oof, folds), oof, folds, sum(m.seconds for m in members))


def _target(real: RealCells, target: str) -> np.ndarray:
    return real.valid_acc if target == TARGET else real.train_time


def _fold_scores(y: np.ndarray, oof: np.ndarray, folds: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    top = y > np.median(y)
    rows = []
    for k in np.unique(folds):
        test = folds == k
        above = _scores(y[test & top], oof[test & top])
        rows.append(_scores(y[test], oof[test]) | {f"{m}_above_median": v for m, v in above.items()})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- test accuracy
# NB101's test accuracy is known for 6,760 cells, few of them with 7 vertices (85% of the space), so a
# test family may lean on the validation cells (20,001, uniform) or the validation model. A test family
# maps a TestFit to a fitted model of the test accuracy (percent).
@dataclass(frozen=True)
class TestFit:
    table: space.CellTable
    real: RealCells  # validation cells it may train on
    test: RealTestCells  # test cells it may train on
    config: SurrogateConfig
    seed: int
    valid_model: XgbModel | RefitModel | None  # the validation model, for the families in NEEDS_VALID_MODEL


@dataclass(frozen=True)
class OffsetModel:
    valid_model: XgbModel | RefitModel
    offset: float
    chunked = False  # predicted from the validation model's predictions, in the parent

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return self.valid_model.predict(table, rows) + self.offset


def _valid_offset(fit: TestFit) -> OffsetModel:
    """The validation model's prediction plus one offset: the weighted median of (real test - predicted
    valid) over the test cells. Ranks cells as the validation model does."""
    gap = fit.test.test_acc - fit.valid_model.predict(fit.table, fit.test.rows)
    return OffsetModel(fit.valid_model, float(np.quantile(gap, 0.5, weights=fit.test.weight, method="inverted_cdf")))


TEST_TAG = 1.0  # the target feature of the joint model: 0 validation, 1 test


def tagged_test_features(table: space.CellTable, rows: np.ndarray) -> np.ndarray:
    """`path_features` and the joint model's target feature set to "test"."""
    return np.concatenate([path_features(table, rows), np.full((len(rows), 1), TEST_TAG, np.float32)], axis=1)


def _joint(fit: TestFit) -> XgbModel:
    """One `xgb-path` model on both targets, the target's name as a 0/1 feature (1 = test)."""
    valid = np.concatenate([path_features(fit.table, fit.real.rows),
                            np.zeros((len(fit.real.rows), 1), np.float32)], axis=1)
    X = np.concatenate([valid, tagged_test_features(fit.table, fit.test.rows)])
    y = TRANSFORMS[TARGET][0](np.concatenate([fit.real.valid_acc, fit.test.test_acc]))
    return XgbModel(surrogate_fit.booster(X, y, fit.config, fit.seed), tagged_test_features, TARGET)


def _test_only(fit: TestFit) -> XgbModel | RefitModel:
    """`xgb-path` on the test cells alone."""
    return fit_model("xgb-path", TARGET, fit.table, fit.test.rows, fit.test.test_acc, fit.config, fit.seed)


NEEDS_VALID_MODEL = frozenset({"valid+offset"})
TEST_FAMILIES: dict[str, Callable[[TestFit], XgbModel | RefitModel | OffsetModel]] = {
    "valid+offset": _valid_offset,
    "joint": _joint,
    "test-only": _test_only,
}


@dataclass(frozen=True)
class TestCvResult:
    family: str
    folds: pd.DataFrame  # per fold: tau, spearman, mae, and above the median
    errors: dict[str, float]  # over all held-out cells: MAE, RMSE, bias; plain and weighted by vertex count
    seconds: float


def cross_validate_test(family: str, table: space.CellTable, real: RealCells, test: RealTestCells,
                        config: SurrogateConfig, seed: int, n_folds: int = N_FOLDS) -> TestCvResult:
    """K-fold CV over the test cells. No held-out cell's validation label is used: the validation cells
    that are also test cells (333) are left out of every fit, and the validation model that families
    lean on is fitted once on the remaining validation cells."""
    from scipy import stats

    start = time.perf_counter()
    keep = ~np.isin(real.rows, test.rows)
    real = RealCells(real.rows[keep], real.valid_acc[keep], real.train_time[keep], real.params[keep], real.sha256)
    valid_model = fit_model(config.family, TARGET, table, real.rows, real.valid_acc, config, seed) \
        if family in NEEDS_VALID_MODEL else None
    folds = np.random.default_rng(seed).permutation(len(test.rows)) % n_folds
    oof = np.empty_like(test.test_acc)
    for k in range(n_folds):
        out = folds == k
        model = TEST_FAMILIES[family](TestFit(table, real, test.subset(~out), config, seed + k, valid_model))
        oof[out] = model.predict(table, test.rows[out])
    y = test.test_acc
    err = oof - y
    n = table.n_vertices[test.rows]
    errors = {
        "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))), "bias": float(err.mean()),
        "mae_w": float(np.average(np.abs(err), weights=test.weight)),
        "rmse_w": float(np.sqrt(np.average(err**2, weights=test.weight))),
        "bias_w": float(np.average(err, weights=test.weight)),
        "mae_7": float(np.mean(np.abs(err[n == 7]))),
        "tau_7": float(stats.kendalltau(y[n == 7], oof[n == 7]).statistic),
    }
    return TestCvResult(family, _fold_scores(y, oof, folds), errors, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------- oracle
@dataclass(frozen=True)
class SurrogatePredictions:
    valid_acc: np.ndarray  # percent, every table row: the search metric
    test_acc: np.ndarray  # percent, every table row: the final metric
    train_time: np.ndarray  # seconds, every table row
    cache_key: str


def cache_key(config: SurrogateConfig, seed: int, data_sha256: dict[str, str]) -> str:
    blob = json.dumps({"config": asdict(config), "seed": seed, "data": data_sha256,
                       "version": SURROGATE_VERSION, "table": space.FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _fit_job(job: tuple[str, str, space.CellTable, RealCells, SurrogateConfig, int]) -> XgbModel | RefitModel:
    family, target, table, real, config, seed = job
    return fit_model(family, target, table, real.rows, _target(real, target), config, seed)


def _test_fit_job(fit: TestFit) -> XgbModel | RefitModel | OffsetModel:
    return TEST_FAMILIES[fit.config.test_family](fit)


def _fit_any(job) -> XgbModel | RefitModel | OffsetModel:
    return _test_fit_job(job) if isinstance(job, TestFit) else _fit_job(job)


def _predict_job(job: tuple[space.CellTable, list[XgbModel], np.ndarray]) -> list[np.ndarray]:
    table, models, rows = job
    encoded: dict[Encode, np.ndarray] = {}  # models on the same features encode the chunk once
    for model in models:
        if model.encode not in encoded:
            encoded[model.encode] = model.encode(table, rows)
    return [model.predict_encoded(encoded[model.encode]) for model in models]


def train_and_predict(table: space.CellTable, real: RealCells, test: RealTestCells, config: SurrogateConfig,
                      seed: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit on all real cells; predict validation and test accuracy (percent) and training time for `rows`
    (default: all). The models are fitted in parallel processes, then the rows are predicted in chunks
    in parallel processes; every step is single-threaded and deterministic, so the result does not
    depend on the number of processes."""
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    needs_valid = config.test_family in NEEDS_VALID_MODEL
    jobs: list = [(config.family, TARGET, table, real, config, seed),
                  (config.cost_family, COST, table, real, config, seed + 1)]
    if not needs_valid:
        jobs.append(TestFit(table, real, test, config, seed + 2, None))
    models = space.parallel_map(_fit_any, jobs, "NB101 surrogate: fit")
    if needs_valid:
        models.append(_test_fit_job(TestFit(table, real, test, config, seed + 2, models[0])))
    chunked = [m for m in models if isinstance(m, XgbModel)]
    pieces = space.parallel_map(_predict_job, [(table, chunked, rows[k : k + PREDICT_CHUNK])
                                               for k in range(0, len(rows), PREDICT_CHUNK)],
                                "NB101 surrogate: predict")
    done = {id(m): np.concatenate([p[i] for p in pieces] or [np.zeros(0)]) for i, m in enumerate(chunked)}

    def predicted(model) -> np.ndarray:
        if id(model) in done:
            return done[id(model)]
        if isinstance(model, OffsetModel):  # from the validation model's predictions, not a second pass
            return predicted(model.valid_model) + model.offset
        return model.predict(table, rows)

    valid, cost, test_acc = (predicted(m) for m in models)
    return valid, test_acc, cost


PREDICT_CHUNK = 25_000  # rows per prediction job: 17 jobs for the whole space


def predictions(
    table: space.CellTable, config: SurrogateConfig = SurrogateConfig(), seed: int = 0
) -> SurrogatePredictions:
    """The surrogate's predictions for every cell, computed once per (data, config, seed, code version)
    and kept in a checked cache file."""
    real = real_cells(table)
    test = real_test_cells(table)
    key = cache_key(config, seed, {DATA_FILE: real.sha256, TEST_FILE: test.sha256})
    path = data.cache_dir() / f"nb101_surrogate_{key}.npz"  # refuses an unwritable cache before training
    arrays = cache_files.load_npz(path, "NB101 surrogate predictions")
    if arrays is not None and set(arrays) >= {"valid_acc", "test_acc", "train_time"}:
        return SurrogatePredictions(arrays["valid_acc"], arrays["test_acc"], arrays["train_time"], key)
    acc, test_acc, cost = train_and_predict(table, real, test, config, seed)
    cache_files.save_npz(path, {"valid_acc": acc, "test_acc": test_acc, "train_time": cost})
    return SurrogatePredictions(acc, test_acc, cost, key)
