"""The NAS-Bench-101 surrogate oracle: model families, oracle members, and the cached predictions for
every cell (the test model is chosen by `nb101_topcv`, the report is `nb101_report`).

Real data: one 108-epoch training of 20,001 uniform cells (`nb101/nb101_subset20k.csv.gz`: validation
accuracy, training time) and the mean test accuracy over NB101's 3 repeats of further cells: 6,760
(`nb101/nb101_test_evox6760.csv.gz`, mostly 5- and 6-vertex cells) or 12,959 (`nb101_test_cec12959`,
those and 6,199 more, rich in top cells), per oracle version (`nb101.SURROGATES`). Three models: the
validation accuracy (the search metric) and training time (the cost) from the 20k cells, the test
accuracy (the final metric) by a test family that may also use the 20k cells; and, where the config
asks, members: the test model refitted on grouped bootstrap resamples of the test cells. Features come
from the batch encodings of `predictors.encodings` on the cell table's padded arrays; the GNN from
`predictors.layers`; the boosted trees from xgboost directly (DESIGN.md, "Dependencies"). All are
imported where used: registering the benchmark must not pay for loading them.

Everything is seeded and single-threaded: xgboost with a fixed seed and one thread, torch with
explicit generators on one thread, so retraining reproduces the predictions bit for bit, whatever the
number of processes the fits and predictions are spread over.

Longer than 400 lines: the oracle's models, its members and its cache key must change together (a model
change without a new key would serve stale predictions), so they are kept in one module; selection and the
report are apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
TEST_FILE_12959 = "nb101/nb101_test_cec12959.csv.gz"  # the 6,760 above and 6,199 more, rich in top cells
TEST_TARGET = "test_acc_108"  # mean of NB101's 3 repeats, fraction in the file; percent here
MAX_PATH = space.MAX_VERTICES - 2  # interior vertices on the longest path
N_PATH_FEATURES = sum(len(space.OPS) ** k for k in range(MAX_PATH + 1))  # 364
N_FEATURES = 21 + 5 * len(space.OPS) + N_PATH_FEATURES + 1 + 6 + len(space.OPS)  # 410


@dataclass(frozen=True)
class XgbParams:
    """Boosted-tree settings of a test-accuracy model with settings of its own (`SurrogateConfig.test_xgb`)."""

    rounds: int
    depth: int
    eta: float
    subsample: float = 0.8
    colsample: float = 0.5
    min_child_weight: float = 3.0


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
    # The test model's own tree settings (None: the xgb_* above). Left out of the cache key when None, so
    # the predictions cached before the field existed keep their key.
    test_xgb: XgbParams | None = None
    # Oracle members (refits of the test model on grouped bootstrap resamples of the test cells); 0 = none.
    # Left out of the cache key when 0.
    members: int = 0

    def __post_init__(self) -> None:
        if self.members < 0:
            raise NasreproError(f"the number of oracle members must be >= 0, got {self.members}")
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


def real_test_cells(table: space.CellTable, relpath: str = TEST_FILE) -> RealTestCells:
    path = data.require(relpath)
    frame = _read(path, ["hash", TEST_TARGET], "the NB101 test-accuracy table")
    rows = _rows_of(table, path, frame["hash"])
    n = table.n_vertices[rows].astype(np.int64)
    in_file = np.bincount(n, minlength=space.MAX_VERTICES + 1) / len(n)
    in_space = np.bincount(table.n_vertices.astype(np.int64), minlength=space.MAX_VERTICES + 1) / len(table)
    return RealTestCells(rows, frame[TEST_TARGET].to_numpy(np.float64) * 100.0, in_space[n] / in_file[n],
                         data.FILES[relpath].sha256)


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
CHUNK = surrogate_fit.CHUNK  # rows encoded at a time when one process predicts many rows


def _booster(X: np.ndarray, y: np.ndarray, config: SurrogateConfig | XgbParams, seed: int,
             weight: np.ndarray | None = None):
    """surrogate_fit's booster, with a config's xgb_* settings or an `XgbParams` candidate's."""
    settings = config if not isinstance(config, XgbParams) else surrogate_fit.XgbConfig(
        config.rounds, config.depth, config.eta, config.subsample, config.colsample, config.min_child_weight)
    return surrogate_fit.booster(X, y, settings, seed, weight)


def _xgb(encode: Callable[[space.CellTable, np.ndarray], np.ndarray]) -> Family:
    def fit_predict(table, train_rows, y, predict_rows, config, seed):
        booster = _booster(encode(table, train_rows), y, config, seed)
        return surrogate_fit.predict_chunked(booster, lambda rows: encode(table, rows), predict_rows)

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


GNN_BATCH = 1_000  # cells per forward pass when predicting: ~3x faster on one thread than 25,000 at once


@dataclass(frozen=True)
class GnnModel:
    """A fitted GIN regressor (its weights, so it pickles to the prediction processes) and the scale of its
    target; predicts in the fitted (transformed) scale."""

    state: dict[str, Any]
    dim: int
    layers: int
    mean: float
    std: float

    def raw(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        import torch

        from predictors.common import one_torch_thread

        with one_torch_thread():
            with torch.device("meta"):
                model = _gnn_regressor(self.dim, self.layers)
            model.load_state_dict(self.state, assign=True)
            model.eval()
            with torch.no_grad():
                out = [model(*_graph_tensors(table, rows[k : k + GNN_BATCH])).numpy()
                       for k in range(0, len(rows), GNN_BATCH)]
        return np.concatenate(out or [np.zeros(0, np.float32)]).astype(np.float64) * self.std + self.mean


def _gnn_fit(table: space.CellTable, train_rows: np.ndarray, y: np.ndarray, config: SurrogateConfig,
             seed: int) -> GnnModel:
    """The GIN of `_gnn_regressor` fitted to y (transformed scale) by Adam with a cosine schedule, on one
    thread, every draw from a generator seeded with `seed`."""
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
    return GnnModel({k: v.detach().clone() for k, v in model.state_dict().items()}, config.gnn_dim,
                    config.gnn_layers, mean, std)


def _gnn(table, train_rows, y, predict_rows, config, seed):
    return _gnn_fit(table, train_rows, y, config, seed).raw(table, predict_rows)


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
# Models fit a transformed target: accuracy as surrogate_fit's -log(100.5 - acc) (shared with NB201's
# surrogates), time as log seconds.
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
    booster: Any  # an xgboost.Booster
    encode: Encode  # module-level, so the model pickles
    target: str  # its TRANSFORMS entry

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return TRANSFORMS[self.target][1](
            surrogate_fit.predict_chunked(self.booster, lambda r: self.encode(table, r), rows))

    def predict_encoded(self, X: np.ndarray) -> np.ndarray:
        return TRANSFORMS[self.target][1](self.booster.inplace_predict(X).astype(np.float64))

    def predict_chunk(self, chunk: Chunk) -> np.ndarray:
        return self.predict_encoded(chunk.features(self.encode))


@dataclass(frozen=True)
class RefitModel:
    family: str
    target: str
    train_rows: np.ndarray
    y: np.ndarray
    config: SurrogateConfig
    seed: int

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return fit_predict(self.family, self.target, table, self.train_rows, self.y, rows, self.config, self.seed)


XGB_ENCODINGS: dict[str, Encode] = {"xgb-adj": adjacency_features, "xgb-path": path_features}


def fit_model(family: str, target: str, table: space.CellTable, train_rows: np.ndarray, y: np.ndarray,
              config: SurrogateConfig, seed: int) -> XgbModel | RefitModel:
    """The model `fit_predict` would use: `fit_model(...).predict(table, rows) == fit_predict(...)`."""
    encode = XGB_ENCODINGS.get(family)
    if encode is None:
        return RefitModel(family, target, train_rows, y, config, seed)
    return XgbModel(_booster(encode(table, train_rows), TRANSFORMS[target][0](y), config, seed), encode, target)


def _target(real: RealCells, target: str) -> np.ndarray:
    return real.valid_acc if target == TARGET else real.train_time


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
    multiplicity: np.ndarray | None = None  # per test cell: times drawn by a member's bootstrap (a weight)


@dataclass(frozen=True)
class OffsetModel:
    valid_model: XgbModel | RefitModel
    offset: float  # predicted from the validation model's predictions, in the parent

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return self.valid_model.predict(table, rows) + self.offset


def _valid_offset(fit: TestFit) -> OffsetModel:
    """The validation model's prediction plus one offset: the weighted median of (real test - predicted
    valid) over the test cells. Ranks cells as the validation model does."""
    valid_model = fit.valid_model
    assert valid_model is not None, "a test family in NEEDS_VALID_MODEL is given the validation model"
    gap = fit.test.test_acc - valid_model.predict(fit.table, fit.test.rows)
    return OffsetModel(valid_model, float(np.quantile(gap, 0.5, weights=fit.test.weight, method="inverted_cdf")))


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
    weight = None if fit.multiplicity is None else np.concatenate([np.ones(len(fit.real.rows)), fit.multiplicity])
    return XgbModel(_booster(X, y, fit.config.test_xgb or fit.config, fit.seed, weight), tagged_test_features, TARGET)


def _test_only(fit: TestFit) -> XgbModel | RefitModel:
    """`xgb-path` on the test cells alone."""
    if fit.config.test_xgb is None and fit.multiplicity is None:  # as before the field existed
        return fit_model("xgb-path", TARGET, fit.table, fit.test.rows, fit.test.test_acc, fit.config, fit.seed)
    return XgbModel(_test_booster(fit, path_features(fit.table, fit.test.rows)), path_features, TARGET)


def _test_booster(fit: TestFit, X: np.ndarray):
    """The test model's booster on features X of the test cells: its own tree settings, each cell weighted by
    its multiplicity in a member's resample."""
    y = TRANSFORMS[TARGET][0](fit.test.test_acc)
    return _booster(X, y, fit.config.test_xgb or fit.config, fit.seed, fit.multiplicity)


class Chunk:
    """Rows being predicted, with their encodings and the models' outputs computed once and shared: the
    stacked model reads the validation model's output for the same rows."""

    def __init__(self, table: space.CellTable, rows: np.ndarray) -> None:
        self.table, self.rows = table, rows
        self._features: dict[Encode, np.ndarray] = {}
        self._outputs: dict[int, np.ndarray] = {}

    def features(self, encode: Encode) -> np.ndarray:
        if encode not in self._features:
            self._features[encode] = encode(self.table, self.rows)
        return self._features[encode]

    def output(self, model: ChunkModel) -> np.ndarray:
        if id(model) not in self._outputs:
            self._outputs[id(model)] = model.predict_chunk(self)
        return self._outputs[id(model)]


def _stack_features(X: np.ndarray, valid_pred: np.ndarray) -> np.ndarray:
    return np.concatenate([X, TRANSFORMS[TARGET][0](valid_pred)[:, None].astype(np.float32)], axis=1)


def _in_chunks(model: ChunkModel, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
    return np.concatenate([Chunk(table, rows[k : k + CHUNK]).output(model) for k in range(0, len(rows), CHUNK)]
                          or [np.zeros(0)])


@dataclass(frozen=True)
class StackModel:
    """Test accuracy (percent) from `path_features` and the validation model's prediction (a feature in
    the fitted scale): the 20k uniform validation cells, 85% of them 7-vertex cells, inform the test model
    where the test cells are few (330 of 12,959 have 7 vertices)."""

    booster: Any  # an xgboost.Booster
    valid_model: XgbModel

    def predict_chunk(self, chunk: Chunk) -> np.ndarray:
        X = _stack_features(chunk.features(path_features), chunk.output(self.valid_model))
        return TRANSFORMS[TARGET][1](self.booster.inplace_predict(X).astype(np.float64))

    def with_valid_model(self, valid_model: XgbModel) -> StackModel:
        return replace(self, valid_model=valid_model)

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return _in_chunks(self, table, rows)


@dataclass(frozen=True)
class BlendModel:
    """The mean, in the fitted scale, of a stacked booster and a GIN: the two err differently (trees on
    path counts, message passing on the graph), and their mean ranked the top better than either
    (results/nb101/surrogate.md)."""

    stack: StackModel
    gnn: GnnModel

    def predict_chunk(self, chunk: Chunk) -> np.ndarray:
        forward, inverse = TRANSFORMS[TARGET]
        return inverse((forward(chunk.output(self.stack)) + self.gnn.raw(chunk.table, chunk.rows)) / 2.0)

    def with_valid_model(self, valid_model: XgbModel) -> BlendModel:
        return replace(self, stack=self.stack.with_valid_model(valid_model))

    def predict(self, table: space.CellTable, rows: np.ndarray) -> np.ndarray:
        return _in_chunks(self, table, rows)


ChunkModel = XgbModel | StackModel | BlendModel


def _stack(fit: TestFit) -> StackModel:
    """The test-only booster with the validation model's prediction as one more feature."""
    valid_model = fit.valid_model
    assert isinstance(valid_model, XgbModel), "the stacked families are given the (boosted) validation model"
    X = _stack_features(path_features(fit.table, fit.test.rows), valid_model.predict(fit.table, fit.test.rows))
    return StackModel(_test_booster(fit, X), valid_model)


def _stack_gnn(fit: TestFit) -> BlendModel:
    """`_stack`'s booster and a GIN on the test cells, averaged. A member's resample enters the booster as
    weights and the GIN as repeated cells (the two are the same for a squared error)."""
    xgb_seed, gnn_seed = (int(s) for s in np.random.SeedSequence(fit.seed).generate_state(2))
    rows, acc = fit.test.rows, fit.test.test_acc
    if fit.multiplicity is not None:
        times = fit.multiplicity.astype(np.int64)
        rows, acc = np.repeat(rows, times), np.repeat(acc, times)
    stack = _stack(TestFit(fit.table, fit.real, fit.test, fit.config, xgb_seed, fit.valid_model, fit.multiplicity))
    gnn = _gnn_fit(fit.table, rows, TRANSFORMS[TARGET][0](acc), fit.config, gnn_seed)
    return BlendModel(stack, gnn)


NEEDS_VALID_MODEL = frozenset({"valid+offset", "stack", "stack+gnn"})
TestModel = XgbModel | RefitModel | OffsetModel | StackModel | BlendModel
TEST_FAMILIES: dict[str, Callable[[TestFit], TestModel]] = {
    "valid+offset": _valid_offset,
    "joint": _joint,
    "test-only": _test_only,
    "stack": _stack,
    "stack+gnn": _stack_gnn,
}


# ---------------------------------------------------------------------------------------------- oracle
@dataclass(frozen=True)
class SurrogatePredictions:
    valid_acc: np.ndarray  # percent, every table row: the search metric
    test_acc: np.ndarray  # percent, every table row: the final metric
    train_time: np.ndarray  # seconds, every table row
    cache_key: str
    members: np.ndarray | None = None  # [members, rows]: the test accuracy under each oracle member


def cache_key(config: SurrogateConfig, seed: int, data_sha256: dict[str, str]) -> str:
    fields = asdict(config)
    for name, unset in (("test_xgb", None), ("members", 0)):  # added later: absent keeps the old keys
        if fields[name] == unset:
            del fields[name]
    blob = json.dumps({"config": fields, "seed": seed, "data": data_sha256,
                       "version": SURROGATE_VERSION, "table": space.FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- members
def skeleton_groups(table: space.CellTable, rows: np.ndarray) -> np.ndarray:
    """An integer per cell, equal for cells with the same pruned graph whatever their operations (the
    official, labelling-invariant hash with every operation set to one): an op change, the commonest
    mutation, stays within a group. Used to resample and to cross-validate without near-copies leaking."""
    keys: dict[str, int] = {}
    out = np.empty(len(rows), np.int64)
    for i, row in enumerate(np.asarray(rows).tolist()):
        cell = table.cell(row)
        labels = [label if label < 0 else 0 for label in cell.labels]
        out[i] = keys.setdefault(space.module_hash(cell.matrix, labels), len(keys))
    return out


MEMBER_SEED = 19_000  # members' resamples and fits are seeded from seed + MEMBER_SEED + k


def member_fits(table: space.CellTable, real: RealCells, test: RealTestCells, config: SurrogateConfig,
                seed: int, valid_model: XgbModel | RefitModel | None = None) -> list[TestFit]:
    """One fit per member: the test model on a bootstrap resample of the test cells' skeleton groups
    (whole groups, so a member does not just reweight near-copies), a cell weighted by the times its
    group was drawn."""
    groups = skeleton_groups(table, test.rows)
    n_groups = int(groups.max()) + 1
    fits = []
    for k in range(config.members):
        rng = np.random.default_rng(seed + MEMBER_SEED + k)
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[groups].astype(np.float64)
        keep = drawn > 0
        fits.append(TestFit(table, real, test.subset(keep), config, seed + MEMBER_SEED + k, valid_model,
                            drawn[keep]))
    return fits


def _fit_job(job: tuple[str, str, space.CellTable, RealCells, SurrogateConfig, int]) -> XgbModel | RefitModel:
    family, target, table, real, config, seed = job
    return fit_model(family, target, table, real.rows, _target(real, target), config, seed)


def test_fit_job(fit: TestFit) -> TestModel:
    return TEST_FAMILIES[fit.config.test_family](fit)


def _fit_any(job) -> TestModel:
    return test_fit_job(job) if isinstance(job, TestFit) else _fit_job(job)


def _predict_job(job: tuple[space.CellTable, list[ChunkModel], np.ndarray]) -> list[np.ndarray]:
    table, models, rows = job
    chunk = Chunk(table, rows)  # models on the same features encode the chunk once
    return [chunk.output(model) for model in models]


def train_and_predict(table: space.CellTable, real: RealCells, test: RealTestCells, config: SurrogateConfig,
                      seed: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Fit on all real cells; predict validation and test accuracy (percent) and training time for `rows`
    (default: all), then each member's test accuracy. The models are fitted in parallel processes (the
    validation and cost models first where the test model reads the validation model's predictions), then
    the rows are predicted in chunks in parallel processes (the chunk's features encoded once for every
    model); every step is single-threaded and deterministic, so the result does not depend on the number
    of processes."""
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    needs_valid = config.test_family in NEEDS_VALID_MODEL
    if config.test_family == "valid+offset" and config.members:
        raise NasreproError("oracle members are refits of a test model of its own, not of valid+offset")
    jobs: list = [(config.family, TARGET, table, real, config, seed),
                  (config.cost_family, COST, table, real, config, seed + 1)]
    if not needs_valid:
        jobs += [TestFit(table, real, test, config, seed + 2, None), *member_fits(table, real, test, config, seed)]
    models = space.parallel_map(_fit_any, jobs, "NB101 surrogate: fit")
    if needs_valid:
        valid_model = models[0]
        assert isinstance(valid_model, XgbModel | RefitModel)
        test_jobs = [TestFit(table, real, test, config, seed + 2, valid_model),
                     *member_fits(table, real, test, config, seed, valid_model)]
        fitted = space.parallel_map(test_fit_job, test_jobs, "NB101 surrogate: fit the test model")
        # back from the processes, each holds a copy of the validation model: relinked to the one model, so
        # that a prediction chunk computes the validation model's output once for all of them
        models += [m.with_valid_model(valid_model)
                   if isinstance(m, StackModel | BlendModel) and isinstance(valid_model, XgbModel) else m
                   for m in fitted]
    chunked = [m for m in models if isinstance(m, XgbModel | StackModel | BlendModel)]
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

    valid, cost, test_acc, *members = (predicted(m) for m in models)
    return valid, test_acc, cost, *members


PREDICT_CHUNK = 25_000  # rows per prediction job: 17 jobs for the whole space


def predictions(
    table: space.CellTable, config: SurrogateConfig = SurrogateConfig(), seed: int = 0, test_file: str = TEST_FILE
) -> SurrogatePredictions:
    """The surrogate's predictions for every cell (and its members', if any), computed once per (data,
    config, seed, code version) and kept in a checked cache file."""
    real = real_cells(table)
    test = real_test_cells(table, test_file)
    key = cache_key(config, seed, {DATA_FILE: real.sha256, test_file: test.sha256})
    path = data.cache_dir() / f"nb101_surrogate_{key}.npz"
    arrays = cache_files.load_npz(path, "NB101 surrogate predictions")
    wanted = {"valid_acc", "test_acc", "train_time"} | ({"members"} if config.members else set())
    if arrays is not None and set(arrays) >= wanted:
        return SurrogatePredictions(arrays["valid_acc"], arrays["test_acc"], arrays["train_time"], key,
                                    arrays.get("members"))
    data.writable_cache_dir()  # an unwritable cache is refused before training, a complete one is only read
    acc, test_acc, cost, *members = train_and_predict(table, real, test, config, seed)
    arrays = {"valid_acc": acc, "test_acc": test_acc, "train_time": cost}
    if members:
        arrays["members"] = np.stack(members)
    cache_files.save_npz(path, arrays)
    return SurrogatePredictions(acc, test_acc, cost, key, arrays.get("members"))
