"""NB301's oracle members, from the disagreement of two surrogates at the top.

YAHPO's ONNX model (the oracle) is fixed and no NB301 training data is here, so members cannot be refits.
The one independent look at its error is `nb301_xgb_labelled_1218.csv`: 1,218 cells labelled by the
official NB301 XGB surrogate (v1.0, with noise). Member k is YAHPO plus a model of where the two
disagree: a ridge regression of (XGB label - YAHPO) on the cell's edge counts per (cell, op, reads an
input) (`darts_size.features`), fitted on a bootstrap resample k of the 1,218 cells and centred on
them, so members keep YAHPO's scale (it reads ~1.3 points higher on average) and move cells by how the
other surrogate ranks cells of that make-up.

The oracle's error at the top (`top_error`) is the root-mean-square of the offset-corrected
disagreement over the 10% of the 1,218 cells YAHPO rates best. Its limits: both surrogates learned
from the same NB301 training data, so what they get wrong together is not seen; the XGB labels carry
noise, which inflates the disagreement; a linear model of op counts captures only part of it; and 1,218
cells are few (the labelled cells are not where searches end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from suite import data
from suite.benchmarks import darts_size

N_MEMBERS = 5
SEED = 301_019
RIDGE = 1.0
TOP_FRACTION = 0.10


@dataclass(frozen=True)
class Members:
    coefficients: np.ndarray  # [members, features]: each member's shift is features @ coefficients
    top_error: float  # points

    def shifts(self, arch) -> list[float]:
        return (self.coefficients @ darts_size.features(arch)).tolist()


def fit(predict: Callable[[object], float], labelled_file: str) -> Members:
    """`predict`: YAHPO's final metric of a cell."""
    import pandas as pd

    table = pd.read_csv(data.require(labelled_file))
    archs = [darts_size.parse_cells(n, r) for n, r in zip(table["normal"], table["reduce"], strict=True)]
    yahpo = np.array([predict(a) for a in archs])
    gap = table["val_accuracy"].to_numpy(np.float64) - yahpo
    X = np.array([darts_size.features(a) for a in archs])
    top = yahpo >= np.quantile(yahpo, 1.0 - TOP_FRACTION)
    top_error = float(np.sqrt(np.mean((gap[top] - gap.mean()) ** 2)))
    coefficients = []
    for k in range(N_MEMBERS):
        drawn = np.random.default_rng(SEED + k).integers(0, len(gap), len(gap))
        Xk, yk = X[drawn], gap[drawn]
        beta = np.linalg.solve(Xk.T @ Xk + RIDGE * np.eye(X.shape[1]), Xk.T @ yk)
        beta[-1] -= float((X @ beta).mean())  # centred on the 1,218 cells: YAHPO's scale (last feature is 1)
        coefficients.append(beta)
    return Members(np.array(coefficients), top_error)
