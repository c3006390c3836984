"""The surrogate-fidelity report (`make surrogate-fidelity`): a `Fidelity` -> report.md, report.html and CSVs.

Renders only: every number comes from `suite.analysis.fidelity` (the stored runs and NB201's real table).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.analysis.fidelity import AGREEMENT, MEASURES, UNDECIDED, Fidelity, Surrogates
from suite.benchmarks import nb201_surrogate
from suite.reporting import document as doc
from suite.reporting.provenance import seeds_text

MEASURE_WORDS = {
    "reported": "the final metric the surrogate reports",
    "real": "the real test accuracy of the cells the surrogate's runs ended on",
}


def _f(value: float, digits: int = 2) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _signed(value: float) -> str:
    return "–" if pd.isna(value) else f"{round(value, 2) + 0.0:+.2f}"


def score_table(fidelity: Fidelity, benchmark: str) -> pd.DataFrame:
    """Methods x oracles: the real table's mean, then per surrogate 'reported / real (gap)'."""
    scores = fidelity.scores[fidelity.scores["benchmark"] == benchmark].set_index(["oracle", "method"])
    reference = scores.loc[fidelity.reference].sort_values("reported", ascending=False)
    table = pd.DataFrame({"method": reference.index,
                          f"{fidelity.reference}: test acc": [_f(v) for v in reference["reported"]]})
    for oracle in fidelity.surrogates:
        if oracle not in scores.index.get_level_values(0):
            continue
        own = scores.loc[oracle].reindex(reference.index)
        table[f"{oracle}: reported / real (reported − real)"] = [
            f"{_f(r.reported)} / {_f(r.real)} ({_signed(r.gap)})" for r in own.itertuples()
        ]
        table[f"{oracle}: real − on real table"] = [_signed(v) for v in own["real_vs_reference"]]
    return table


def verdict_table(fidelity: Fidelity, benchmark: str) -> pd.DataFrame:
    """Pairs x oracles: the real table's verdict, then each surrogate's on both measures."""
    rows = fidelity.verdicts[fidelity.verdicts["benchmark"] == benchmark]
    wide = rows.pivot_table(index=["method_a", "method_b", "reference_verdict"], columns=["oracle", "measure"],
                            values="verdict", aggfunc="first")
    columns = [(o, m) for o in fidelity.surrogates for m in MEASURES if (o, m) in wide.columns]
    wide = wide.reindex(columns=columns)
    wide.columns = [f"{o} ({m})" for o, m in columns]
    wide = wide.reset_index().rename(columns={"reference_verdict": fidelity.reference})
    wide.insert(0, "pair", wide.pop("method_a") + " vs " + wide.pop("method_b"))
    return wide


def _ordered(fidelity: Fidelity, frame: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks as run, surrogates by fraction, the reported measure first."""
    order = {"benchmark": list(fidelity.budgets), "oracle": fidelity.surrogates, "measure": list(MEASURES)}
    keys = {column: frame[column].map({v: i for i, v in enumerate(values)}) for column, values in order.items()}
    return frame.assign(**{f"_{c}": k for c, k in keys.items()}).sort_values([f"_{c}" for c in order]).drop(
        columns=[f"_{c}" for c in order]).reset_index(drop=True)


def agreement_table(fidelity: Fidelity) -> pd.DataFrame:
    table = _ordered(fidelity, fidelity.agreement.merge(fidelity.ranks, on=["benchmark", "oracle", "measure"],
                                                        how="left", suffixes=("", "_ranked")))
    return pd.DataFrame({
        "benchmark": table["benchmark"], "oracle": table["oracle"], "measure": table["measure"],
        "pairs": table["pairs"], **{label: table[label] for label in AGREEMENT},
        "Kendall τ of the methods' order": [_f(v) for v in table["kendall_tau"]],
        "discordant pairs of methods": [f"{d} of {p}" for d, p in zip(table["discordant"], table["pairs_ranked"],
                                                                       strict=True)],
    })


def quality_table(quality: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "benchmark": quality["benchmark"], "oracle": quality["oracle"], "training cells": quality["training_cells"],
        "τ search metric (held out)": [_f(v, 3) for v in quality["search_tau_heldout"]],
        "τ final metric (held out)": [_f(v, 3) for v in quality["final_tau_heldout"]],
        "τ final, real top 10% (held out)": [_f(v, 3) for v in quality["final_tau_top10_heldout"]],
        "MAE final, held out": [_f(v) for v in quality["final_mae_heldout"]],
        "MAE final, training cells": [_f(v) for v in quality["final_mae_training"]],
        "best cell: predicted / real": [f"{_f(r)} / {_f(t)}" for r, t in zip(quality["optimum_reported"],
                                                                            quality["optimum_real"], strict=True)],
    })


def _summary(fidelity: Fidelity) -> list[str]:
    lines = []
    reported = fidelity.scores[fidelity.scores["oracle"] != fidelity.reference]
    for (name, oracle), rows in _ordered(fidelity, reported.assign(measure="reported")).groupby(
            ["benchmark", "oracle"], sort=False):
        counts = fidelity.agreement.set_index(["benchmark", "oracle", "measure"]).loc[(name, oracle, "reported")]
        tau = fidelity.ranks.set_index(["benchmark", "oracle", "measure"]).loc[(name, oracle, "reported"),
                                                                               "kendall_tau"]
        lines.append(
            f"{name}, {oracle}: reported figures differ from the real value of the same cells by "
            f"{_signed(rows['gap'].min())} to {_signed(rows['gap'].max())} points (mean over methods "
            f"{_signed(rows['gap'].mean())}); those cells are really {_signed(rows['real_vs_reference'].mean())} "
            f"points from where the same methods end on the real table (mean over methods); of {counts['pairs']} "
            "pairwise verdicts on the reported metric "
            f"{counts['same winner'] + counts['both undecided']} agree with the real table's "
            f"({counts['same winner']} same winner, {counts['both undecided']} both undecided), "
            f"{counts['opposite']} are opposite, {counts['one undecided']} decided on one side only; "
            f"Kendall τ of the methods' order {_f(tau)}."
        )
    return lines


def blocks(fidelity: Fidelity, surrogates: Surrogates) -> list[doc.Block]:
    budgets = ", ".join(f"{name}: {n}" for name, n in fidelity.budgets.items())
    seeds = "; ".join(f"seeds {seeds_text(repeats)} of experiment seed {seed}" for seed, repeats in
                      fidelity.seeds.items())
    fractions = ", ".join(
        f"`{nb201_surrogate.oracle_name(f)}` ({share:.0%}, {round(share * nb201_surrogate.N_CELLS):,} cells)"
        for f, share in nb201_surrogate.FRACTIONS.items() if nb201_surrogate.oracle_name(f) in fidelity.surrogates)
    content: list[doc.Block] = [
        doc.Paragraph(
            "NAS-Bench-101's oracle here is a surrogate fitted on a few percent of its space. On NAS-Bench-201 "
            "every cell's real value is known, so the same approach can be checked against the truth: the same "
            "pipeline (XGBoost with NB101's settings on the path features of `predictors/encodings.py`, one model "
            "of the validation accuracy for the search metric, as NB101's, and one of the test accuracy for the "
            "final metric, as NB101's first oracles', "
            "`suite/benchmarks/surrogate_fit.py`) is fitted on the real accuracies of a random share of NB201's "
            f"15,625 cells: {fractions}. The training cells are the first cells of one permutation drawn by seed "
            f"{nb201_surrogate.SUBSET_SEED} (so 2% ⊂ 5% ⊂ 20%, the same cells on every dataset; listed in "
            "`training_cells.csv`). Every method runs with the same seeds on the real table "
            f"(`{fidelity.reference}`) and on each surrogate; the searches are blind (they get the space, never "
            "the oracle), so they differ only by what the oracle answers."
        ),
        doc.Paragraph(
            f"Runs: {fidelity.runs} ({seeds}); budget in unique queries: {budgets}. For each surrogate "
            "and method: the mean final metric the surrogate reports (`reported`), and the real test accuracy "
            "of the cells its runs ended on, looked up in the real table (`real`): their difference is how far a "
            "surrogate benchmark's figure is from reality. Verdicts are the suite's pairwise tests (exact signed-rank "
            "on paired seeds, Holm within each benchmark and oracle, α = 0.05): a winner, or undecided. Each "
            "surrogate's verdicts are set beside the real table's on two measures: "
            + "; ".join(f"`{m}`: {w}" for m, w in MEASURE_WORDS.items()) + ". Kendall's τ (τ-b) compares the "
            "order of the methods by mean on the surrogate with their order by mean on the real table."
        ),
        doc.Heading("Summary"),
        doc.Bullets(tuple(_summary(fidelity))),
    ]
    for name in fidelity.budgets:
        content += [
            doc.Heading(f"{name}: what each surrogate reports, and what its runs really reached"),
            doc.Table(score_table(fidelity, name),
                      f"{name}: mean test accuracy (%) over seeds; `real` = the real test accuracy of the cells "
                      "the surrogate's runs ended on; the last column of each surrogate: that real value minus "
                      f"the method's mean on the real table ({fidelity.reference})"),
            doc.Table(verdict_table(fidelity, name),
                      f"{name}: verdict of each pair ({UNDECIDED} = Holm p ≥ 0.05) on the real table and on "
                      "each surrogate (reported metric; real value of the ended cells)"),
        ]
    content += [
        doc.Heading("Agreement with the real table"),
        doc.Table(agreement_table(fidelity),
                  "Pairwise verdicts of each surrogate against the real table's, and the methods' order"),
        doc.Heading("The surrogates against the truth, cell by cell"),
        doc.Table(quality_table(surrogates.quality),
                  "Each surrogate against the real table over every cell it was not fitted on (held out); Kendall "
                  "τ-b; MAE in points of test accuracy"),
        doc.Heading("What this covers"),
        doc.Bullets((
            "One draw of the training cells per fraction (seed above) and one fit: another draw would give "
            "another surrogate; the spread between draws is not measured here.",
            "NB201 is small (15,625 cells) and its accuracies are means over training seeds, so its surrogates "
            "learn from less noisy labels than NB101's and the same share holds far fewer cells (5% is 781 cells, "
            "NB101's 5% about 21,000): this checks the approach, not NB101's oracle itself.",
            "The cost (recorded training time) is the real one on every oracle; it does not enter these runs, "
            "whose budget is in queries.",
            "NB101's default test model also reads the predicted validation accuracy as a feature (`stack`, "
            "results/nb101/surrogate.md); the test model here does not. On NB201 the validation and test labels "
            "come from the same training cells, so that feature would be the validation model's in-sample fit on "
            "every training cell, while on NB101 12,341 of the 12,959 test cells are not validation cells. A "
            "faithful copy would need cross-fitted features; what the runs climb, the validation model, is NB101's.",
        )),
    ]
    return content


def write(fidelity: Fidelity, surrogates: Surrogates, out: Path, title: str) -> Path:
    """Write report.md, report.html and the CSVs into `out` (a staging directory: see `suite.atomic.staged`)."""
    out.mkdir(parents=True, exist_ok=True)
    fidelity.scores.to_csv(out / "scores.csv", index=False)
    fidelity.verdicts.to_csv(out / "verdicts.csv", index=False)
    fidelity.agreement.merge(fidelity.ranks, on=["benchmark", "oracle", "measure"], how="left",
                             suffixes=("", "_ranked")).to_csv(out / "agreement.csv", index=False)
    surrogates.quality.to_csv(out / "oracles.csv", index=False)
    surrogates.training.to_csv(out / "training_cells.csv", index=False)
    content = blocks(fidelity, surrogates)
    (out / "report.md").write_text(doc.to_markdown(content, title))
    (out / "report.html").write_text(doc.to_html(content, title))
    return out / "report.md"

