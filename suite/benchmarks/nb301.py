"""NAS-Bench-301 (Siems et al., 2020): the DARTS space answered by YAHPO Gym's ONNX surrogate.

The surrogate (`nb301-yahpo-onnx`) predicts the validation accuracy (percent) and the training runtime
(seconds) of a cell pair trained for 1..98 epochs; 98 is the final result. NB301 has no test split
and no known optimum, so the final metric is the predicted validation accuracy and regret is
measured against a reference fixed before any search (nb301_reference). The space and its formats live in `darts_space`
and `darts_formats`; this module only adds the oracle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from suite import data
from suite.benchmarks import darts_size, darts_space, nb301_members, nb301_reference
from suite.benchmarks.base import CellGraph, Observation, OnSpace
from suite.benchmarks.darts_formats import CONFIG_PREFIX, EDGE_START, N_CONFIG_EDGES
from suite.benchmarks.darts_space import CELLS, NODES, OPS, DartsArch
from suite.errors import DataError, NasreproError

if TYPE_CHECKING:
    import onnxruntime as ort

MODEL_FILE = "nb301/yahpo_nb301_surrogate.onnx"
ENCODING_FILE = "nb301/encoding.json"
CONFIG_SPACE_FILE = "nb301/config_space.json"
LABELLED_FILE = "nb301/nb301_xgb_labelled_1218.csv"  # its recorded flops and params give the size model
DATA_FILES = (MODEL_FILE, ENCODING_FILE, CONFIG_SPACE_FILE, LABELLED_FILE)
MAX_EPOCHS = 98
# The model's `x_cat` columns, in its fixed order: 14 edges per cell, then nodes 3..5's input pairs.
COLUMNS = (
    *(f"{CONFIG_PREFIX}edge_{cell}_{i}" for cell in CELLS for i in range(N_CONFIG_EDGES)),
    *(f"{CONFIG_PREFIX}inputs_node_{cell}_{k}" for cell in CELLS for k in NODES[1:]),
)


@cache
def _session(path: Path) -> ort.InferenceSession:
    # One session per process, single-threaded: runs are spread over processes, not inside a query.
    # onnxruntime is imported here, so that listing benchmarks or using another one does not load it.
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable models
        raise DataError(f"cannot load the NB301 surrogate {path}: {exc}") from None


class _Encoder:
    """Cell pair -> the model's `x_cat` row, with the integer codes of `encoding.json`.

    Both data files are checked against the space here, once: every column the model takes must be a
    ConfigSpace hyperparameter with exactly this space's choices, and have a code for each choice.
    """

    def __init__(self, encoding_path: Path, config_space_path: Path) -> None:
        encoding = _read_json(encoding_path)
        space = {hp.get("name"): hp for hp in _read_json(config_space_path).get("hyperparameters", [])}
        # column -> [(what the encoder looks up, the ConfigSpace choice)]: ops by index, input pairs by (a, b)
        choices: dict[int, list[tuple[Any, str]]] = {
            col: list(enumerate(OPS)) for col in range(len(CELLS) * N_CONFIG_EDGES)
        }
        for c in range(len(CELLS)):
            for k in NODES[1:]:
                pairs = darts_space.input_pairs(k)
                choices[self.inputs_column(c, k)] = [((a, b), f"{a}_{b}") for a, b in pairs]
        self.codes: list[dict[Any, int]] = []
        for col, options in sorted(choices.items()):
            name, names = COLUMNS[col], sorted(choice for _, choice in options)
            if sorted(space.get(name, {}).get("choices") or []) != names:
                raise DataError(f"{config_space_path}: {name} is not an NB301 parameter with choices {names}")
            try:
                self.codes.append({key: int(encoding[name][choice]) for key, choice in options})
            except (KeyError, TypeError, ValueError):
                raise DataError(f"{encoding_path}: no integer code for every choice of {name}") from None

    @staticmethod
    def inputs_column(c: int, k: int) -> int:
        return len(CELLS) * N_CONFIG_EDGES + c * len(NODES[1:]) + (k - NODES[1])

    def encode(self, arch: DartsArch) -> np.ndarray:
        """The `x_cat` row of a canonical cell pair; inactive edges stay `#na#` = 0."""
        row = [0] * len(COLUMNS)
        codes = self.codes
        for c, cell in enumerate(arch):
            for n, (edge_col, inputs_col) in enumerate(_NODE_COLUMNS[c]):
                (a, op_a), (b, op_b) = cell[2 * n], cell[2 * n + 1]
                row[edge_col + a] = codes[edge_col + a][op_a]
                row[edge_col + b] = codes[edge_col + b][op_b]
                if inputs_col is not None:
                    row[inputs_col] = codes[inputs_col][a, b]
        return np.array([row], dtype=np.int32)


# Per cell and node: the column of its edge from input 0, and of its input pair (None for node 2).
_NODE_COLUMNS = tuple(
    tuple((c * N_CONFIG_EDGES + EDGE_START[k], _Encoder.inputs_column(c, k) if k > NODES[0] else None) for k in NODES)
    for c in range(len(CELLS))
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


class Nb301Space:
    """The DARTS space with its cells' FLOPs and parameters (the fitted size model: coefficients only)."""

    name = "nb301"

    def __init__(self, size: darts_size.SizeModel) -> None:
        self._size = size

    def sample(self, rng: np.random.Generator) -> DartsArch:
        return darts_space.sample(rng)

    def mutate(self, arch: DartsArch, rng: np.random.Generator) -> DartsArch:
        return darts_space.mutate(arch, rng)

    def neighbors(self, arch: DartsArch) -> list[DartsArch]:
        return darts_space.neighbors(arch)

    def key(self, arch: DartsArch) -> str:
        return darts_space.to_key(arch)

    def graph(self, arch: DartsArch) -> CellGraph:
        return darts_space.to_graph(arch)

    def from_graph(self, graph: CellGraph) -> DartsArch:
        return darts_space.from_graph(graph)

    def costs(self, arch: DartsArch) -> dict[str, float]:
        """FLOPs and parameters (millions) of the network NB301 trains."""
        return self._size(darts_space.canonical(arch))


class Nb301(OnSpace[DartsArch]):
    """The DARTS space with the ONNX surrogate; queries are cached per instance."""

    name = "nb301"
    oracle = "nb301-yahpo-onnx"
    search_metric = "valid_acc"
    final_metric = "valid_acc"
    # The optimum is unknown: regret is taken against a reference fixed before any search (the property below).
    optimum_source = (f"reference: best of {nb301_reference.SIZE:,} uniform random cells, "
                      f"seed {nb301_reference.SEED}")
    space_size: int | None = None  # about 10^18 cells
    has_cost = True

    def __init__(self) -> None:
        paths = {relpath: data.require(relpath) for relpath in DATA_FILES}
        self._sha256 = {relpath: data.FILES[relpath].sha256 for relpath in DATA_FILES}
        self._encoder = _Encoder(paths[ENCODING_FILE], paths[CONFIG_SPACE_FILE])
        self._model_path = paths[MODEL_FILE]
        self.space: Nb301Space = Nb301Space(darts_size.fit(paths[LABELLED_FILE]))
        self._epoch_inputs = [np.array([[e]], dtype=np.float32) for e in range(MAX_EPOCHS + 1)]
        self._cache: dict[tuple[Any, int], Observation] = {}

    @cached_property
    def optimum(self) -> float:
        """Not the optimum: the best of a large seeded random sample, see suite.benchmarks.nb301_reference."""
        return nb301_reference.reference(Nb301, self._sha256[MODEL_FILE]).value

    def query(self, arch: DartsArch, *, epochs: int | None = None) -> Observation:
        """Predicted validation accuracy (%) after `epochs` (default 98), costing the predicted runtime."""
        epochs = MAX_EPOCHS if epochs is None else epochs
        try:
            cached = self._cache.get((arch, epochs))
        except TypeError:  # an unhashable spelling (lists): canonical() below makes it a tuple
            cached = None
        if cached is not None:
            return cached
        if not isinstance(epochs, int | np.integer) or not 1 <= epochs <= MAX_EPOCHS:
            raise NasreproError(f"{self.name} predicts results after 1..{MAX_EPOCHS} epochs, not {epochs!r}")
        canon = darts_space.canonical(arch)  # refuses what the model cannot take, before it sees it
        obs = self._cache.get((canon, epochs))
        if obs is None:
            inputs = {"x_cat": self._encoder.encode(canon), "x_cont": self._epoch_inputs[epochs]}
            acc, runtime = _session(self._model_path).run(None, inputs)[0][0].tolist()
            obs = self._cache[canon, epochs] = Observation(acc, runtime)
        return obs

    def final(self, arch: DartsArch) -> dict[str, float]:
        """Predicted validation accuracy at epoch 98, and the network's FLOPs and parameters (millions)."""
        return {"valid_acc": self.query(arch).value, **self.space.costs(arch)}

    def data_files(self) -> dict[str, str]:
        return dict(self._sha256)

    @cached_property
    def _members(self) -> nb301_members.Members:
        return nb301_members.fit(lambda arch: self.query(arch).value, LABELLED_FILE)  # type: ignore[arg-type]

    @property
    def oracle_top_error(self) -> float:
        return self._members.top_error

    def final_members(self, arch: DartsArch) -> list[float]:
        """The final metric under each oracle member (nb301_members): YAHPO's plus each member's shift."""
        value = self.query(arch).value
        return [float(np.float32(value + shift)) for shift in self._members.shifts(darts_space.canonical(arch))]


def register_all(register: Callable) -> None:
    register(
        "nb301",
        Nb301,
        "NAS-Bench-301 DARTS space, YAHPO ONNX surrogate: search and report predicted valid_acc at epoch 98",
    )
