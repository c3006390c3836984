"""Cross-validation of NB101 test-accuracy models *at the top of the range*, with folds that keep
near-duplicate cells together, and the weighted scores the oracle is chosen and reported by.

Why grouped folds: most of the 12,959 test cells come from the populations of evolutionary searches,
so a held-out cell usually has training cells one mutation away; random folds then measure
interpolation between near-copies and overstate what the oracle does on a cell no file holds. Cells are
grouped by their *skeleton* (the pruned graph with every operation replaced by one, hashed the
official, labelling-invariant way): an op change, the commonest mutation, stays within a group, so no
held-out cell has a training cell of the same graph. The file's `source` column is not used as the
group: its 3 archives overlap (7 combinations of very unequal size, 97 to 5,096 cells) and each holds
whole search populations, so leaving one out would keep the near-copies inside the other folds' sources
and change the vertex mix of the held-out cells fold by fold (one combination holds 137 of the 330
7-vertex cells).

Scores are weighted to the space's vertex counts (a cell's weight is its vertex count's share of the
space over its share of the file), pair weights w_i*w_j for Kendall's tau. Top-50 recall is over the
pooled out-of-fold predictions and unweighted (it asks about the 50 best cells, whatever their size).

Selection and report use disjoint randomness: candidates are compared on folds drawn with
`SELECTION_SEED`, and the chosen model's reported figures come from folds drawn with `REPORT_SEED`
(a different grouping of the same cells, and other model seeds), so the reported numbers are not the
maximum over the candidates. They are still optimistic for cells unlike the file (e.g. 7-vertex cells,
which are 85% of the space and 2.5% of the file): the report says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from suite.benchmarks import nb101_space as space
from suite.benchmarks import nb101_surrogate as surrogate

N_FOLDS = 5
SELECTION_SEED = 1901
REPORT_SEED = 1902
TOP_FRACTION = 0.10  # "the top": cells at or above the weighted 90th percentile of the real test accuracy
RECALL_K = 50
BANDS = (0.0, 90.0, 92.0, 93.0, 93.5, 94.0, 100.0)  # real test accuracy, percent


# ---------------------------------------------------------------------------------------------- groups
skeleton_groups = surrogate.skeleton_groups


def group_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each cell: whole groups, in a seeded order, greedily to the fold with fewest cells so far
    (groups differ in size by two orders of magnitude)."""
    ids, sizes = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(ids))
    order = order[np.argsort(-sizes[order], kind="stable")]  # large groups first, ties in seeded order
    fold_of_group = np.empty(len(ids), np.int64)
    load = np.zeros(n_folds, np.int64)
    for g in order:
        k = int(np.argmin(load))
        fold_of_group[g] = k
        load[k] += sizes[g]
    return fold_of_group[np.searchsorted(ids, groups)]


# ---------------------------------------------------------------------------------------------- scores
def weighted_tau(y: np.ndarray, pred: np.ndarray, w: np.ndarray, chunk: int = 1024) -> float:
    """Kendall's tau-b with pair weights w_i*w_j (equal weights: scipy's tau-b)."""
    y, pred, w = (np.asarray(a, np.float64) for a in (y, pred, w))
    concord = tied_y = tied_p = total = 0.0
    for s in range(0, len(y), chunk):
        e = slice(s, s + chunk)
        sy = np.sign(y[e, None] - y[None, :])
        sp = np.sign(pred[e, None] - pred[None, :])
        ww = w[e, None] * w[None, :]
        concord += float((ww * sy * sp).sum())
        tied_y += float((ww * (sy == 0)).sum())
        tied_p += float((ww * (sp == 0)).sum())
        total += float(ww.sum())
    # the diagonal (i == j) is a tie in both; every pair is counted twice, which cancels in the ratio
    diag = float((w * w).sum())
    denom = np.sqrt((total - tied_y) * (total - tied_p)) if total > diag else 0.0
    return concord / denom if denom > 0 else float("nan")


def weighted_quantile(values: np.ndarray, w: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q, weights=w, method="inverted_cdf"))


def recall_at(y: np.ndarray, pred: np.ndarray, k: int = RECALL_K) -> int:
    """How many of the k best real cells are among the k best predicted."""
    best = set(np.argsort(-y, kind="stable")[:k].tolist())
    return len(best & set(np.argsort(-pred, kind="stable")[:k].tolist()))


def _top_tau(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> float:
    top = y >= weighted_quantile(y, w, 1.0 - TOP_FRACTION)
    return weighted_tau(y[top], pred[top], w[top])


def scores(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """The figures the oracle is chosen and reported by (accuracies in percent)."""
    median = weighted_quantile(y, w, 0.5)
    top = y >= weighted_quantile(y, w, 1.0 - TOP_FRACTION)
    err = pred - y
    return {
        "tau": weighted_tau(y, pred, w),
        "tau_above_median": weighted_tau(y[y > median], pred[y > median], w[y > median]),
        "tau_top10": weighted_tau(y[top], pred[top], w[top]),
        "recall50": float(recall_at(y, pred)),
        "mae": float(np.average(np.abs(err), weights=w)),
        "rmse": float(np.sqrt(np.average(err**2, weights=w))),
        "bias": float(np.average(err, weights=w)),
        "rmse_top10": float(np.sqrt(np.average(err[top] ** 2, weights=w[top]))),
        "mae_top10": float(np.average(np.abs(err[top]), weights=w[top])),
        "n_top10": float(top.sum()),
    }


def band_errors(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> list[dict[str, float]]:
    """MAE, RMSE, bias (weighted) per band of real test accuracy."""
    out = []
    for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
        sel = (y >= lo) & (y < hi)
        if not sel.any():
            continue
        err = pred[sel] - y[sel]
        out.append({"lo": lo, "hi": hi, "n": int(sel.sum()), "weight": float(w[sel].sum() / w.sum()),
                    "mae": float(np.average(np.abs(err), weights=w[sel])),
                    "rmse": float(np.sqrt(np.average(err**2, weights=w[sel]))),
                    "bias": float(np.average(err, weights=w[sel]))})
    return out


# ---------------------------------------------------------------------------------------------- CV
@dataclass(frozen=True)
class Candidate:
    """A test-accuracy model: a family of `surrogate.TEST_FAMILIES` and its boosted trees' settings."""

    family: str
    params: surrogate.XgbParams

    @property
    def label(self) -> str:
        p = self.params
        gnn = f" + GIN ({surrogate.SurrogateConfig.gnn_epochs} epochs)" if "gnn" in self.family else ""
        return f"{self.family} depth {p.depth}, {p.rounds} rounds, eta {p.eta:g}{gnn}"


# The candidates: the previous oracle's family (`joint`, on both files), the test cells alone at four depths,
# and with the validation model's prediction as a feature (`stack`), alone and averaged with a GIN
# (`stack+gnn`; the GIN's settings are SurrogateConfig's gnn_* defaults). Each fits in seconds to a minute on
# one thread: the chosen model is refitted five more times for the oracle's members, inside
# `make reproduce-nb101`'s 10 minutes.
CANDIDATES = (
    Candidate("test-only", surrogate.XgbParams(rounds=600, depth=4, eta=0.05)),
    Candidate("test-only", surrogate.XgbParams(rounds=600, depth=6, eta=0.05)),
    Candidate("test-only", surrogate.XgbParams(rounds=600, depth=8, eta=0.05)),
    Candidate("test-only", surrogate.XgbParams(rounds=600, depth=10, eta=0.05)),
    Candidate("joint", surrogate.XgbParams(rounds=600, depth=6, eta=0.05)),
    Candidate("stack", surrogate.XgbParams(rounds=600, depth=10, eta=0.05)),
    Candidate("stack+gnn", surrogate.XgbParams(rounds=600, depth=10, eta=0.05)),
)


@dataclass(frozen=True)
class TopCv:
    candidate: Candidate
    seed: int
    oof: np.ndarray  # out-of-fold predictions, percent
    scores: dict[str, float]  # pooled over folds
    fold_scores: list[dict[str, float]]  # per fold: tau within the fold's top 10% (the O(n^2) taus pooled only)
    seconds: float


def cross_validate(candidate: Candidate, table: space.CellTable, real: surrogate.RealCells,
                   test: surrogate.RealTestCells, groups: np.ndarray, seed: int,
                   n_folds: int = N_FOLDS) -> TopCv:
    """Grouped K-fold CV over the test cells. Validation cells that are test cells are left out of every
    fit, the validation model's too (no held-out cell's validation label is seen)."""
    start = time.perf_counter()
    keep = ~np.isin(real.rows, test.rows)
    real = surrogate.RealCells(real.rows[keep], real.valid_acc[keep], real.train_time[keep], real.params[keep],
                               real.sha256)
    config = surrogate.SurrogateConfig(test_family=candidate.family, test_xgb=candidate.params)
    valid_model = (surrogate.fit_model(config.family, surrogate.TARGET, table, real.rows, real.valid_acc, config,
                                       seed) if candidate.family in surrogate.NEEDS_VALID_MODEL else None)
    folds = group_folds(groups, n_folds, seed)
    jobs = [surrogate.TestFit(table, real, test.subset(folds != k), config, seed * 100 + k, valid_model)
            for k in range(n_folds)]
    models = space.parallel_map(surrogate.test_fit_job, jobs, f"CV {candidate.label}")
    oof = np.empty_like(test.test_acc)
    for k, model in enumerate(models):
        out = folds == k
        oof[out] = model.predict(table, test.rows[out])
    y, w = test.test_acc, test.weight
    per_fold = [{"tau_top10": _top_tau(y[folds == k], oof[folds == k], w[folds == k])} for k in range(n_folds)]
    return TopCv(candidate, seed, oof, scores(y, oof, w), per_fold, time.perf_counter() - start)


SELECTION_KEY = ("tau_top10", "recall50")  # the rule: highest tau in the top 10%, then top-50 recall


def select(results: list[TopCv]) -> TopCv:
    return max(results, key=lambda r: tuple(r.scores[k] for k in SELECTION_KEY))
