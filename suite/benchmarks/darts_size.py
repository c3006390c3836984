"""FLOPs and parameters of the NB301 training network for any DARTS cell pair, from NB301's own data.

NB301 records, for its labelled cells, the FLOPs and parameters (millions) of the network it trains.
In a DARTS network both are a fixed stem, preprocessing and head plus one term per cell edge, and an
edge's term depends only on its cell (normal or reduction), its op and, in the reduction cell, on
whether it reads a cell input (stride 2: skip_connect becomes FactorizedReduce, convolutions shrink
the map). So both are linear in the counts of (cell, op, reads a cell input). The coefficients are
solved from the labelled cells and accepted only if they reproduce every recorded value to rounding:
no constants are typed in, and a file that does not fit stops with a `DataError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suite.benchmarks.darts_formats import CONCAT, Genotype, from_genotype
from suite.benchmarks.darts_space import OPS, DartsArch
from suite.errors import DataError, InvalidArchitecture

DECIMALS = 6  # the precision of NB301's recorded flops and params
N_FEATURES = 2 * len(OPS) * 2 + 1
COLUMNS = (("flops", "flops_m"), ("params", "params_m"))  # file column -> final metric (millions)


def features(arch: DartsArch) -> np.ndarray:
    """Edge counts per (cell, op, reads a cell input), and a constant 1; `arch` must be canonical."""
    counts = np.zeros(N_FEATURES)
    for c, cell in enumerate(arch):
        for src, op in cell:
            counts[(c * len(OPS) + op) * 2 + (src < 2)] += 1
    counts[-1] = 1.0
    return counts


@dataclass(frozen=True)
class SizeModel:
    flops_m: np.ndarray
    params_m: np.ndarray

    def __call__(self, arch: DartsArch) -> dict[str, float]:
        x = features(arch)
        return {
            "flops_m": round(float(x @ self.flops_m), DECIMALS),
            "params_m": round(float(x @ self.params_m), DECIMALS),
        }


def fit(path: Path) -> SizeModel:
    """Solve the per-edge terms from NB301's labelled cells (`normal`, `reduce`, `flops`, `params`)."""
    import pandas as pd  # here, not at the top: listing benchmarks must not pay for it

    try:
        table = pd.read_csv(path, usecols=["normal", "reduce", "flops", "params"])
        archs = [parse_cells(n, r) for n, r in zip(table["normal"], table["reduce"], strict=True)]
        targets = {name: table[column].to_numpy(dtype=float) for column, name in COLUMNS}
    except (ValueError, TypeError, InvalidArchitecture) as exc:
        raise DataError(f"cannot read {path} as NB301 labelled cells: {exc}") from None
    x = np.array([features(arch) for arch in archs])
    # Normal equations on an exact integer Gram matrix: a 29x29 solve, where lstsq on the 1218x29 system
    # can take a second when a multithreaded BLAS competes with other runs for the cores.
    gram = (x.T.astype(np.int64) @ x.astype(np.int64)).astype(float)
    coefs = {}
    for name, y in targets.items():
        # Each cell has 8 edges, so two directions of the coefficients are not identified; lstsq picks
        # the minimum-norm solution, and every valid cell pair gets the same prediction from any of them.
        coef = np.linalg.lstsq(gram, np.einsum("ij,i->j", x, y), rcond=None)[0]
        error = np.abs(x @ coef - y).max()
        if error > 0.5 * 10.0**-DECIMALS:
            raise DataError(f"{path}: {name} is not additive over the cell edges (max error {error:.3g})")
        coefs[name] = coef
    return SizeModel(**coefs)


_PAIR = re.compile(r"\(\s*'(\w+)'\s*,\s*(\d+)\s*\)")  # ('sep_conv_3x3', 0); faster than ast.literal_eval


def parse_cells(normal: str, reduce: str) -> DartsArch:
    """A cell pair from the labelled file's `normal` and `reduce` texts, `[('sep_conv_3x3', 0), ...]`."""
    cells = [[(op, int(src)) for op, src in _PAIR.findall(text)] for text in (normal, reduce)]
    return from_genotype(Genotype(cells[0], CONCAT, cells[1], CONCAT))
