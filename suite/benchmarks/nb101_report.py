"""`results/nb101/surrogate.md`: how the NB101 surrogate oracle was chosen and how good it is at the top.

The final metric's model is chosen among `nb101_topcv.CANDIDATES` by grouped cross-validation at the top
of the range on folds no reported figure uses, then cross-validated again on other folds for the
report; the search metric's top end is checked by grouped CV within the top decile of the 20k
validation cells and against the real test accuracy of the 12,959 cells; the previous oracle is
measured out of sample on the 6,199 cells added since; the members' spread is set beside the error.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from suite.benchmarks import nb101, nb101_topcv
from suite.benchmarks import nb101_space as space
from suite.benchmarks import nb101_surrogate as surrogate
from suite.benchmarks.nb101_topcv import Candidate, TopCv

VALID_FOLDS = 5
PREVIOUS = "nb101-surrogate-20k+test6760"


def _valid_fold_job(job) -> np.ndarray:
    table, real, train, held, config, seed = job
    return surrogate.fit_predict(config.family, surrogate.TARGET, table, real.rows[train], real.valid_acc[train],
                                 real.rows[held], config, seed)


def valid_top_cv(table: space.CellTable, real: surrogate.RealCells, config: surrogate.SurrogateConfig,
                 seed: int) -> dict[str, float]:
    """The validation model, grouped CV over the 20k uniform cells: tau overall and within the top decile
    of the real validation accuracy (unweighted: the sample is uniform), top-50 recall, RMSE at the top."""
    groups = surrogate.skeleton_groups(table, real.rows)
    folds = nb101_topcv.group_folds(groups, VALID_FOLDS, seed)
    jobs = [(table, real, folds != k, folds == k, config, seed * 100 + k) for k in range(VALID_FOLDS)]
    oof = np.empty_like(real.valid_acc)
    for k, pred in enumerate(space.parallel_map(_valid_fold_job, jobs, "CV validation model")):
        oof[folds == k] = pred
    return nb101_topcv.scores(real.valid_acc, oof, np.ones_like(oof))


def write_report(out: Path, oracle: str = nb101.SURROGATE_ORACLE, seed: int = 0,
                 candidates: tuple[Candidate, ...] = nb101_topcv.CANDIDATES, valid_cv: bool = True,
                 previous: bool = True, config: surrogate.SurrogateConfig | None = None) -> Path:
    """Select, cross-validate, build the oracle (and its members), and write the markdown report.
    `config`: other models than the oracle version's (tests)."""
    version = nb101.SURROGATES[oracle]
    if config is not None:
        version = nb101.SurrogateVersion(version.name, version.test_file, config, version.top_error)
    table = space.table()
    real = surrogate.real_cells(table)
    test = surrogate.real_test_cells(table, version.test_file)
    groups = surrogate.skeleton_groups(table, test.rows)
    selection = [nb101_topcv.cross_validate(c, table, real, test, groups, nb101_topcv.SELECTION_SEED)
                 for c in candidates]
    chosen = nb101_topcv.select(selection)
    reported = nb101_topcv.cross_validate(chosen.candidate, table, real, test, groups, nb101_topcv.REPORT_SEED)
    pred = surrogate.predictions(table, version.config, seed, version.test_file)
    lines = [
        f"# NAS-Bench-101 surrogate (`{oracle}`)", "",
        f"How produced: `{_command()}` (the Makefile target `surrogate-report-nb101`). Every figure is measured "
        "on real NB101 cells; accuracies in percent; *weighted*: each cell weighted by its vertex count's share "
        "of the space over its share of the file, so that averages describe the space (85% 7-vertex cells), "
        "not the file.", "",
        "The oracle has three models: the search metric is the validation accuracy predicted from the 20,001 "
        f"uniform cells of `{surrogate.DATA_FILE}`, the final metric the test accuracy predicted from the "
        f"{len(test.rows):,} cells of `{version.test_file}` (mean of NB101's 3 repeats), the cost the predicted "
        f"training time. Config: `{json.dumps(asdict(version.config))}`; prediction cache key `{pred.cache_key}`.",
        "", *_selection_section(selection, chosen, version), *_reported_section(reported, test, groups),
    ]
    if previous:
        lines += _previous_section(table, test)
    lines += _valid_section(table, real, test, pred, valid_cv, version.config, seed)
    lines += _members_section(table, test, pred, reported, chosen.scores["rmse_top10"], version)
    lines += _space_section(table, real, test, pred)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    return out


def _command() -> str:
    return "nasrepro " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "write_report()"


_HEAD = ("| model | tau | tau above median | tau top 10% | top-50 recall | MAE | RMSE | bias | RMSE top 10% "
         "| CV seconds |")
_SEP = "|---|---|---|---|---|---|---|---|---|---|"


def _score_row(label: str, s: dict[str, float], seconds: float | None) -> str:
    return (f"| {label} | {s['tau']:.3f} | {s['tau_above_median']:.3f} | {s['tau_top10']:.3f} | "
            f"{int(s['recall50'])}/50 | {s['mae']:.3f} | {s['rmse']:.3f} | {s['bias']:+.3f} | "
            f"{s['rmse_top10']:.3f} | {'' if seconds is None else f'{seconds:.0f}'} |")


def _selection_section(selection: list[TopCv], chosen: TopCv, version: nb101.SurrogateVersion) -> list[str]:
    used = Candidate(version.config.test_family, version.config.test_xgb) if version.config.test_xgb else None
    agree = used == chosen.candidate
    return [
        "## Choosing the test-accuracy model (selection folds)", "",
        f"{nb101_topcv.N_FOLDS}-fold cross-validation over the test cells, folds grouped by cell skeleton (the "
        "pruned graph with every operation the same; see `nb101_topcv`: most cells come from search "
        "populations, and random folds would hold out cells whose one-op-change neighbours are trained on). "
        "Not grouped by the file's `source` (overlapping archives of whole populations: near-copies would stay "
        f"in the training folds). Folds drawn with seed {nb101_topcv.SELECTION_SEED}; the rule, fixed before: "
        f"highest weighted tau within the top 10%, then top-50 recall. *Top 10%*: cells at or above the "
        "weighted 90th percentile of the real test accuracy; top-50 recall: of the 50 best real cells, how "
        "many are among the 50 best predicted (pooled out-of-fold predictions, unweighted). `joint` fits one "
        "model on the 20k validation and the test cells with a feature naming the target (the first oracle's "
        "family); `test-only` the test cells alone; `stack` the test cells, with the validation model's "
        "prediction as one more feature (the 20k uniform cells, 85% of them 7-vertex cells, inform the test model "
        "where test cells are few; within the CV the validation model is fitted on the 20k cells that are not "
        "test cells, in the oracle on all 20k); `stack+gnn` the mean, in the fitted scale, of `stack` and a GIN "
        "(`predictors.layers`, the config's gnn_* settings) on the test cells. Larger GNNs or more of them were "
        "not candidates: five members and the main model are fitted and run over 423,624 cells inside "
        "`make reproduce-nb101`'s 10 minutes.",
        "", _HEAD, _SEP,
        *[_score_row(f"`{r.candidate.label}`" + (" **(chosen)**" if r is chosen else ""), r.scores, r.seconds)
          for r in selection],
        "", f"The oracle uses `{used.label if used else version.config.test_family}`"
        + (", the chosen model." if agree else ": NOT the model chosen here; update the oracle version."), "",
    ]


def _reported_section(reported: TopCv, test: surrogate.RealTestCells, groups: np.ndarray) -> list[str]:
    y, w = test.test_acc, test.weight
    bands = nb101_topcv.band_errors(y, reported.oof, w)
    folds = [f"{f['tau_top10']:.2f}" for f in reported.fold_scores]
    return [
        "## The chosen model, cross-validated again (report folds)", "",
        f"Folds drawn with seed {nb101_topcv.REPORT_SEED} (other groups per fold, other model seeds), so these "
        f"figures are not the best of the candidates. {len(test.rows):,} cells in {int(groups.max()) + 1:,} "
        "skeleton groups.", "", _HEAD, _SEP,
        _score_row(f"`{reported.candidate.label}`", reported.scores, reported.seconds), "",
        f"Tau within the top 10% per fold: {', '.join(folds)}. Error by band of real test accuracy (weighted; "
        "*share*: of the space's weight):", "",
        "| real test accuracy | cells | share | MAE | RMSE | bias |", "|---|---|---|---|---|---|",
        *[f"| {b['lo']:g}-{b['hi']:g} | {b['n']:,} | {b['weight']:.3f} | {b['mae']:.3f} | {b['rmse']:.3f} "
          f"| {b['bias']:+.3f} |" for b in bands],
        "", "How optimistic: the held-out cells are still cells of the same search populations (a skeleton "
        "group separates op changes, not edge changes), and 7-vertex cells, 85% of the space, are 330 of the "
        "file's cells, so their large weight rests on few cells. The issue's author measures the oracle on "
        "real cells no file here holds (one training repeat each, whose noise caps any score); targets there: "
        "top-50 recall >= 32/50, tau within the top 10% >= 0.45. Expect lower figures there than here. "
        "How noisy: tau within the top 10% rests on few heavily weighted cells (see the folds above), and each "
        "candidate is one fit per fold with one set of model seeds, so differences of a few hundredths between "
        "candidates, or between the two fold draws, are not evidence; the MAE, RMSE and tau above the median "
        "rest on many more cells.", "",
    ]


def _previous_section(table: space.CellTable, test: surrogate.RealTestCells) -> list[str]:
    """The previous oracle, out of sample: on the cells added since it was fitted."""
    old = surrogate.real_test_cells(table, surrogate.TEST_FILE)
    added = ~np.isin(test.rows, old.rows)
    pred = surrogate.predictions(table, nb101.SURROGATES[PREVIOUS].config, 0, surrogate.TEST_FILE)
    rows = test.rows[added]
    n = table.n_vertices[rows].astype(np.int64)
    in_sub = np.bincount(n, minlength=space.MAX_VERTICES + 1) / len(n)
    in_space = np.bincount(table.n_vertices.astype(np.int64), minlength=space.MAX_VERTICES + 1) / len(table)
    s = nb101_topcv.scores(test.test_acc[added], pred.test_acc[rows], in_space[n] / in_sub[n])
    return [
        f"## The previous oracle (`{PREVIOUS}`) on the {int(added.sum()):,} cells added since", "",
        "Out of sample (these cells' test accuracy was not used to fit it; 618 of them had their validation "
        "accuracy in its training data), weighted to the space over these cells:", "", _HEAD, _SEP,
        _score_row(f"`{PREVIOUS}`", s, None), "",
    ]


def _valid_section(table, real, test, pred, valid_cv: bool, config, seed: int) -> list[str]:
    lines = ["## The search metric's top end (validation accuracy)", ""]
    if valid_cv:
        s = valid_top_cv(table, real, config, seed)
        lines += [
            f"The validation model (`{config.family}`, unchanged), {VALID_FOLDS}-fold CV over the 20,001 uniform "
            f"cells, folds grouped by skeleton (seed {seed}): tau {s['tau']:.3f} overall, "
            f"{s['tau_above_median']:.3f} above the median, **{s['tau_top10']:.3f} within the top decile** of "
            f"the real validation accuracy; top-50 recall {int(s['recall50'])}/50; RMSE within the top decile "
            f"{s['rmse_top10']:.3f} points (one training repeat: its noise is in the target).", "",
        ]
    unseen = ~np.isin(test.rows, real.rows)
    s = nb101_topcv.scores(test.test_acc[unseen], pred.valid_acc[test.rows[unseen]], test.weight[unseen])
    lines += [
        f"Agreement of the predicted validation accuracy with the real test accuracy of the {int(unseen.sum()):,} "
        "test cells not among the 20k (what the search climbs vs what is reported; weighted): "
        f"tau {s['tau']:.3f} overall, {s['tau_above_median']:.3f} above the median, **{s['tau_top10']:.3f} "
        f"within the top 10%**, top-50 recall {int(s['recall50'])}/50, bias {s['bias']:+.2f} points "
        "(validation reads higher than test).", "",
    ]
    return lines


def _members_section(table, test, pred, reported: TopCv, selected: float, version) -> list[str]:
    if pred.members is None:
        return []
    members = pred.members
    top_pred = np.argsort(-pred.test_acc, kind="stable")[: len(table) // 100]
    top_real = test.rows[test.test_acc >= nb101_topcv.weighted_quantile(test.test_acc, test.weight, 0.9)]

    def spread(rows: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.var(members[:, rows], axis=0, ddof=1))))

    error = reported.scores["rmse_top10"]
    return [
        "## Oracle members", "",
        f"{len(members)} members: the chosen test model refitted on bootstrap resamples of the skeleton groups "
        "(whole groups drawn with replacement, a cell weighted by how often its group was drawn), every "
        "member's prediction for all 423,624 cells cached beside the oracle's. Runs record their final "
        "incumbent under each member; the report's verdicts use them (`suite/analysis/oracle_error.py`).", "",
        f"Member spread (root-mean-square over cells of the members' sd): {spread(top_pred):.3f} points over "
        f"the 1% of the space the oracle rates best, {spread(top_real):.3f} over the real top-10% test cells; "
        f"the oracle's cross-validated RMSE within the top 10%: {error:.3f} points. Members fitted to the same "
        f"data err together, so their spread is widened to that error where narrower (factor "
        f"{error / max(spread(top_pred), 1e-12):.1f} at the oracle's top 1%). Every run records the oracle "
        f"version's `top_error`, {version.top_error} points: the chosen model's RMSE within the top 10% on the "
        f"selection folds, {selected:.3f}"
        + (" (rounded)." if round(selected, 2) == version.top_error else ": they differ; update the version.")
        + " The verdicts widen the members' spread at the runs' final cells to it.", "",
    ]


def _space_section(table, real, test, pred) -> list[str]:
    best_test = float(test.test_acc.max())
    test_by_row = dict(zip(test.rows.tolist(), test.test_acc.tolist(), strict=True))
    valid_by_row = dict(zip(real.rows.tolist(), real.valid_acc.tolist(), strict=True))
    top = np.argsort(-pred.test_acc, kind="stable")[:10]
    n_over = int((pred.test_acc > best_test).sum())
    lines = [
        "## The whole space", "",
        f"Predicted maximum test accuracy (the optimum of every regret): {pred.test_acc.max():.3f} % (cell "
        f"`{table.hashes[top[0]].decode()}`); best real test accuracy among the test cells: {best_test:.3f} %. "
        f"Predicted above that: {n_over:,} cells. Predicted validation maximum: {pred.valid_acc.max():.3f} % "
        f"(best real: {real.valid_acc.max():.3f} %).", "",
        "Top 10 cells by predicted test accuracy:", "",
        "| hash | vertices | params | predicted valid % | real valid % | predicted test % | real test % |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in top.tolist():
        real_valid = f"{valid_by_row[row]:.3f}" if row in valid_by_row else "-"
        real_test = f"{test_by_row[row]:.3f}" if row in test_by_row else "-"
        lines.append(f"| `{table.hashes[row].decode()}` | {int(table.n_vertices[row])} | {int(table.params[row]):,} "
                     f"| {pred.valid_acc[row]:.3f} | {real_valid} | {pred.test_acc[row]:.3f} | {real_test} |")
    in_test = np.zeros(len(table), dtype=bool)
    in_test[test.rows] = True
    lines += ["", "| vertices | cells in space | real test cells | mean predicted test % | max predicted test % |",
              "|---|---|---|---|---|"]
    for n in range(2, space.MAX_VERTICES + 1):
        sel = table.n_vertices == n
        lines.append(f"| {n} | {int(sel.sum()):,} | {int((sel & in_test).sum()):,} | {pred.test_acc[sel].mean():.2f} "
                     f"| {pred.test_acc[sel].max():.2f} |")
    lines += ["", "Compare methods on this oracle by rank and regret within the oracle, name the oracle with "
              "every result, and read verdicts under its own error (the report's section of that name).", ""]
    return lines
