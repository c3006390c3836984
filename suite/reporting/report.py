"""The report: results stores -> report.md + figures, one self-contained report.html, and CSV tables.

Reads the stores only (trajectories, run metadata, verify.json); it never builds a benchmark or reruns a
search, so it works without the data directory.

Longer than 400 lines: the report's sections are rendered in order from one results object, and the
wording that explains each number sits beside the code that prints it (figures, provenance and the
published numbers are modules of their own).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from suite.analysis import bayesian, collect, exact, oracle_error, significance, stats
from suite.errors import NasreproError
from suite.reporting import document as doc
from suite.reporting import figures, literature, provenance
from suite.running import verify as verification


def write_report(
    store_dirs: list[Path],
    out: Path,
    budget: int | None = None,
    title: str | None = None,
    benchmarks: list[str] | None = None,
    rope: float = significance.ROPE,
) -> Path:
    results = collect.load(store_dirs, benchmarks)
    trajectories = results.trajectories
    main = _main_budgets(trajectories, results.timed, budget)
    trajectories = trajectories[trajectories["step"] <= trajectories["benchmark"].map(main)]
    finals_by_budget = stats.at_budgets(trajectories, {b: stats.budget_levels(n) for b, n in main.items()})
    finals_by_budget["endpoint"] = _endpoint(finals_by_budget, main)
    finals = finals_by_budget[finals_by_budget["budget"] == finals_by_budget["benchmark"].map(main)]
    out.mkdir(parents=True, exist_ok=True)
    context = _Context(results, trajectories, main, finals, finals_by_budget, out, rope)
    blocks = [
        *_verdict_section(context),
        doc.Heading("Data"),
        doc.Paragraph(_provenance(context)),
        *_summary_section(context),
        *_reproducibility_section(context),
        *_diagnostics_section(context),
        *_target_section(context),
        *_curve_section(context),
        *_significance_section(context),
        *_oracle_error_section(context),
        *_literature_section(context),
        *provenance.blocks(context.results, context.bench_meta),
        *_verification_section(context),
    ]
    title = title or "nasrepro report"
    path = out / "report.md"
    path.write_text(doc.to_markdown(blocks, title))
    (out / "report.html").write_text(doc.to_html(blocks, title))
    return path


class _Context:
    """What every section reads; built once."""

    def __init__(self, results, trajectories, main, finals, finals_by_budget, out: Path, rope: float) -> None:
        self.results = results
        self.trajectories = trajectories
        self.main = main
        self.finals = finals
        self.finals_by_budget = finals_by_budget
        self.out = out
        self.colors = figures.palette(sorted(results.runs["method"].unique()))
        by_benchmark = results.runs.drop_duplicates("benchmark").set_index("benchmark")["run_id"]
        self.bench_meta = {name: results.metas[run_id]["benchmark"] for name, run_id in by_benchmark.items()}
        self.metric = {name: meta["final_metric"] for name, meta in self.bench_meta.items()}
        self.rope = rope
        # Computed once: the summary at the top and the significance section both read it.
        self.pairs = significance.pairwise(finals_by_budget, primary=main, rope=rope)
        self.across = significance.across(finals)


def _main_budgets(trajectories: pd.DataFrame, timed: set[str], budget: int | None) -> dict[str, int]:
    """Per benchmark: the budget every run reached, or the one asked for if every run reached it."""
    common = stats.common_budgets(trajectories, timed)
    if budget is None:
        return common
    short = {name: reached for name, reached in common.items() if reached < budget}
    if short:
        raise NasreproError(
            f"not every run reached {budget} queries (reached by all: {short}); choose a smaller --budget"
        )
    return {name: budget for name in common}


def _endpoint(table: pd.DataFrame, main: dict[str, int]) -> list[str]:
    """The full budget is the primary endpoint; smaller budgets are exploratory."""
    primary = table["budget"] == table["benchmark"].map(main)
    return ["primary" if p else "exploratory" for p in primary]


def _fmt(value: float, digits: int = 2) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.0f}%"


def _provenance(c: _Context) -> str:
    runs = c.results.runs
    stores = ", ".join(f"`{d}`" for d in c.results.stores)
    budgets = ", ".join(f"{name}: {n}" for name, n in c.main.items())
    return (
        f"Runs: {len(runs)} from {stores}; oracle(s): {', '.join(sorted(runs['oracle'].unique()))}; seeds "
        f"{provenance.seeds_text(runs['repeat'])} ({runs['repeat'].nunique()}); budget in unique queries: "
        f"{budgets}. The incumbent is the best cell by the search metric (validation accuracy); tables "
        "report its final metric (test accuracy where the benchmark has one). Regret = optimum of the space "
        "minus that final metric. Every number here is computed from the stored trajectories; no search was "
        "rerun for this report." + _timed_note(c.results.timed) + _reference_note(c.results.regret_reference)
    )


def _reference_note(reference: dict[str, str]) -> str:
    if not reference:
        return ""
    named = "; ".join(f"{name}: {text}" for name, text in sorted(reference.items()))
    return (
        " Where the space's optimum is unknown, regret is measured against a reference fixed before any search "
        f"({named}); a run that beats it has negative regret and counts as reaching the 'optimum' target."
    )


def _timed_note(timed: set[str]) -> str:
    if not timed:
        return ""
    return (
        f" Runs on {', '.join(sorted(timed))} also had a budget in simulated seconds and stopped after "
        "different numbers of queries: their final state is taken at the end of each run."
    )


def _summary_section(c: _Context) -> list[doc.Block]:
    table = stats.summary(c.finals)
    table.to_csv(c.out / "summary.csv", index=False)
    c.finals_by_budget.to_csv(c.out / "finals.csv", index=False)
    repro = stats.reproducibility(c.finals)
    ci = {(r.benchmark, r.method): (r.final_ci_low, r.final_ci_high) for r in repro.itertuples()}
    rows = [
        {
            "benchmark": r.benchmark,
            "oracle": r.oracle,
            "final metric": c.metric[r.benchmark],
            "method": r.method,
            "n": r.n,
            "mean ± std": f"{_fmt(r.mean)} ± {_fmt(r.std)}",
            "median": _fmt(r.median),
            "IQR": f"{_fmt(r.q25)}–{_fmt(r.q75)}",
            "95% CI of mean": "–"
            if pd.isna(ci[r.benchmark, r.method][0])
            else f"{ci[r.benchmark, r.method][0]:.2f}–{ci[r.benchmark, r.method][1]:.2f}",
        }
        for r in table.itertuples()
    ]
    plot = figures.final_distribution(c.finals, c.colors, c.metric, c.out / "finals.png")
    return [
        doc.Heading("Final metric of the incumbent"),
        doc.Table(
            pd.DataFrame(rows),
            f"at each benchmark's full budget; CI: BCa bootstrap of the mean, {stats.N_RESAMPLES} resamples, seeded",
        ),
        doc.Figure(plot, "Final metric per seed (points) and its quartiles (boxes) at the full budget"),
    ]


def _reproducibility_section(c: _Context) -> list[doc.Block]:
    repro = stats.reproducibility(c.finals_by_budget)
    repro.insert(4, "endpoint", _endpoint(repro, c.main))
    repro.to_csv(c.out / "reproducibility.csv", index=False)
    rows = [
        {
            "benchmark": r.benchmark,
            "method": r.method,
            "budget": r.budget,
            "endpoint": r.endpoint,
            "n": r.n,
            "final mean ± std": f"{_fmt(r.final_mean)} ± {_fmt(r.final_std)}",
            "final range": f"{_fmt(r.final_min)}–{_fmt(r.final_max)}",
            "regret mean ± std": f"{_fmt(r.regret_mean)} ± {_fmt(r.regret_std)}",
            "regret median [IQR]": f"{_fmt(r.regret_median)} [{_fmt(r.regret_q25)}–{_fmt(r.regret_q75)}]",
            "regret 95% CI": "–" if pd.isna(r.regret_ci_low) else f"{r.regret_ci_low:.2f}–{r.regret_ci_high:.2f}",
            "top % (median)": _fmt(r.top_pct_median, 3),
            "found optimum": _pct(r.p_optimum),
            "found top 0.1%": _pct(r.p_top),
            "distinct final cells": r.distinct_incumbents,
        }
        for r in repro.itertuples()
    ]
    return [
        doc.Heading("Reproducibility across seeds"),
        doc.Paragraph(
            "Per benchmark, method and budget (1/3, 2/3 and all of the full budget; only the full budget is "
            "the primary endpoint, the others are exploratory). Top %: the share of "
            "the space strictly better than the found cell (0 = the optimum; – where the space is not "
            "enumerated). Found optimum: regret 0; found top 0.1%: fewer than 0.1% of cells better. "
            "Distinct final cells: how many different cells the seeds ended with (1 = every seed found the "
            "same cell), with the spread (std, range) the measure of stability across seeds."
        ),
        doc.Table(pd.DataFrame(rows)),
    ]


LS_DIAGNOSTICS = (
    " Local search: `moves` is the number of improving moves it made, `local_optima` the number of local optima "
    "it reached, each followed by a restart from new random cells."
)


def _diagnostics_section(c: _Context) -> list[doc.Block]:
    """What methods report about their own runs (meta.json `diagnostics`), e.g. GA-NAS's share of proposals
    drawn above temperature 1: departures from the published algorithm, measured on the runs reported."""
    table = stats.diagnostics(c.results.runs, c.results.metas)
    if table.empty:
        return []
    table.to_csv(c.out / "diagnostics.csv", index=False)
    return [
        doc.Heading("Method diagnostics"),
        doc.Paragraph(
            "Recorded by each run (mean over seeds, with the largest value of any seed). GA-NAS: "
            "`share_temperature_above_1` is the share of its generated proposals drawn at a sampling temperature "
            "above 1, which it raises when a batch holds no new cell (our addition to the published algorithm); "
            "`max_temperature` the largest temperature used."
            + (LS_DIAGNOSTICS if any(m.split("+")[0].split("#")[0] == "ls" for m in table["method"]) else "")
        ),
        doc.Table(table.round({"mean": 3, "max": 3})),
    ]


def _target_section(c: _Context) -> list[doc.Block]:
    table, per_run = stats.target_table(c.trajectories, c.main)
    head = doc.Heading("Queries to reach a target")
    if table.empty:
        return [
            head,
            doc.Paragraph("No benchmark here has a known optimum, so no regret target can be stated."),
        ]
    table.insert(5, "endpoint", "primary")  # targets are read at the full budget only
    table.to_csv(c.out / "targets.csv", index=False)
    per_run.to_csv(c.out / "queries_to_target.csv", index=False)
    rows = [
        {
            "benchmark": r.benchmark,
            "method": r.method,
            "target": r.target,
            "budget": r.budget,
            "successes": f"{r.successes}/{r.n}",
            "success rate [95% CI]": f"{r.success_rate:.0%} [{r.success_ci_low:.0%}–{r.success_ci_high:.0%}]",
            "queries (median [IQR] of successes)": "–"
            if pd.isna(r.median_queries)
            else f"{r.median_queries:.0f} [{r.q25_queries:.0f}–{r.q75_queries:.0f}]",
            "aRT": "∞" if r.aRT == float("inf") else f"{r.aRT:.0f}",
        }
        for r in table.itertuples()
    ]
    plot = figures.target_ecdf(per_run, list(stats.TARGETS), c.colors, c.out / "targets_ecdf.png")
    return [
        head,
        doc.Paragraph(
            "Targets in points of regret, declared before the runs (regret ≤ 0.1 means within 0.1 of the best "
            "final metric in the space, or of the fixed reference where the optimum is unknown). A run succeeds "
            "when its incumbent at the budget meets the target; it reached the target at the first query after "
            "which the target stays met (an incumbent's final metric can get worse later, so touching the target "
            "is not enough). Success rates with exact Clopper-Pearson 95% intervals. "
            "aRT is COCO's expected running time: all queries spent by all runs (a run that reached "
            "the target counts its queries up to then, one that did not its whole budget) divided by the "
            "number of runs that reached it; ∞ when none did."
        ),
        doc.Table(pd.DataFrame(rows)),
        doc.Figure(
            plot,
            "Queries-to-target ECDF: share of all runs that have met the target for good by each query (it "
            "ends at the success rate)",
        ),
    ]


def _curve_section(c: _Context) -> list[doc.Block]:
    blocks: list[doc.Block] = [doc.Heading("Search progress")]
    plot = figures.regret_vs_queries(c.trajectories, c.colors, c.out / "regret.png")
    blocks.append(
        doc.Figure(
            plot,
            "Regret of the incumbent against unique queries: median over seeds and interquartile band (the "
            "incumbent's final metric where no optimum is known)",
        )
    )
    costly = stats.has_cost(c.trajectories)
    with_cost = [name for name, has in costly.items() if has]
    without = [name for name, has in costly.items() if not has]
    if with_cost:
        timed = c.trajectories[c.trajectories["benchmark"].isin(with_cost)]
        columns = {name: figures.curve_column(timed[timed["benchmark"] == name]) for name in with_cost}
        curves = pd.concat(
            [stats.time_curves(timed[timed["benchmark"] == name], column) for name, column in columns.items()],
            ignore_index=True,
        )
        if not curves.empty:
            plot = figures.regret_vs_seconds(curves, columns, c.colors, c.out / "regret_seconds.png")
            blocks.append(
                doc.Figure(
                    plot,
                    "Regret against simulated training seconds (the benchmark's recorded training time of "
                    "each queried cell, summed): median and IQR on a grid from when every run has an "
                    "incumbent to when the first run stops",
                )
            )
    if without:
        blocks.append(
            doc.Paragraph(
                f"No plot against simulated seconds for {', '.join(without)}: the benchmark data have no "
                "training times for it, so its queries cost 0 seconds."
            )
        )
    return blocks


FOCUS = "ganas"  # the method the summary is about: its pairs get a verdict line at the top
# Its labels: plain, with a predictor (`+`) or a settings hash (`#`); not the ablation `ganas-mle`.
_FOCUS_LABEL = rf"^{FOCUS}($|[+#])"


def _focus_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Primary-endpoint pairs that involve GA-NAS (any label starting with `ganas`), or all of them."""
    primary = pairs[pairs["endpoint"] == "primary"]
    involved = primary["method_a"].str.match(_FOCUS_LABEL) | primary["method_b"].str.match(_FOCUS_LABEL)
    return primary[involved] if involved.any() else primary


def _oriented(row: pd.Series) -> pd.Series:
    """The row with the focus method as method_a, so every verdict line reads 'GA-NAS vs X'."""
    if re.match(_FOCUS_LABEL, row["method_a"]) or not re.match(_FOCUS_LABEL, row["method_b"]):
        return row
    swapped = row.copy()
    swapped["method_a"], swapped["method_b"] = row["method_b"], row["method_a"]
    swapped["hl_shift"], swapped["hl_low"], swapped["hl_high"] = -row["hl_shift"], -row["hl_high"], -row["hl_low"]
    swapped["hl_low_open"], swapped["hl_high_open"] = row.get("hl_high_open", False), row.get("hl_low_open", False)
    swapped["p_a_better"], swapped["p_b_better"] = row["p_b_better"], row["p_a_better"]
    swapped["verdict"] = _MIRROR.get(row["verdict"], row["verdict"])
    return swapped


_MIRROR = {significance.A_BETTER: significance.B_BETTER, significance.B_BETTER: significance.A_BETTER}


def _ranking_lines(c: _Context) -> list[str]:
    lines = []
    for name, bench in c.finals.groupby("benchmark"):
        means = bench.groupby("method")["incumbent_final"].mean().sort_values(ascending=False)
        order = ", ".join(f"{m} {v:.2f}" if pd.notna(v) else f"{m} (no finite final metric)" for m, v in means.items())
        lines.append(f"{name} at {c.main[name]} queries (primary budget), mean {c.metric[name]}: {order}.")
    if c.across is not None and not c.across.blocks.startswith("paired seeds"):
        lines.append(c.across.sentence())
    return lines


def _verdict_section(c: _Context) -> list[doc.Block]:
    blocks: list[doc.Block] = [doc.Heading("Summary"), doc.Bullets(tuple(_ranking_lines(c)))]
    if c.pairs.empty:
        return [*blocks, doc.Paragraph("Only one method per benchmark: nothing to compare.")]
    focus = _focus_pairs(c.pairs)
    family = c.pairs.loc[c.pairs["endpoint"] == "primary", "family"].iloc[0]
    blocks.append(doc.Paragraph(significance.rule_text(c.rope) + f" The family of every verdict below: {family}."))
    for name, rows in focus.groupby("benchmark", sort=False):
        blocks.append(doc.Paragraph(f"{name}, at the primary budget of {c.main[name]} queries:"))
        blocks.append(doc.Bullets(tuple(significance.verdict(_oriented(r)) for _, r in rows.iterrows())))
    power = significance.power_by_benchmark(c.pairs)
    notes = [f"{name}: {p.sentence()}" for name, p in power.items()]
    notes += significance.disagreements(c.pairs, c.across)
    blocks.append(doc.Paragraph(_READING.format(rope=c.rope)))
    if notes:
        blocks.append(doc.Bullets(tuple(notes)))
    return blocks


# The one statement of how zero differences, the interval and the posterior are treated (issue 20).
_READING = (
    "How to read a line: the HL shift is the Hodges-Lehmann estimate of A minus B in points (the median of "
    "the Walsh averages of the per-seed differences). Zero differences are treated one way throughout: the "
    "exact signed-rank test of a shift theta drops the differences equal to theta (they carry no sign; "
    "p is the test of theta = 0, on the non-zero differences) and ranks the rest with midranks; the 95% "
    "interval is the set of every theta that same test does not reject, found exactly with the ties, so it "
    "excludes 0 exactly when p < 0.05 (a round bracket: that end itself is rejected, the shifts just "
    "inside it are not); the posterior of the shift is a Bayesian bootstrap (Dirichlet weights on the per-seed "
    "differences, zeros included as observed values) of that same HL shift, giving P(A better by more than "
    "{rope:g} points), P(within ±{rope:g}) and P(B better by more than {rope:g}), probabilities about the "
    "shift between the methods, not about single seeds. Holm p is adjusted over the named family; the "
    "detectable shift is what the test finds with 80% power at the pair's effective n (its non-zero "
    "differences) and the family's level. Details under 'Statistical significance'."
)


def _pair_rows(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "benchmark": r.benchmark,
                "budget": r.budget,
                "endpoint": r.endpoint,
                "pair": f"{r.method_a} vs {r.method_b}",
                "verdict": significance.named_verdict(r._asdict()),
                "n (non-zero)": f"{r.n_a} ({r.n_effective})" if r.paired and pd.notna(r.p) else f"{r.n_a}/{r.n_b}",
                "test": "–" if pd.isna(r.p) else f"{r.test} ({r.test_method})",
                "p": _p3(r.p),
                "Holm p": _p3(r.p_holm),
                "HL shift [95% CI]": "–"
                if pd.isna(r.p)
                else f"{significance.signed(r.hl_shift)} {significance.interval_text(r._asdict())}",
                "posterior: P(A better by > ROPE) / P(within ±ROPE) / P(B better by > ROPE)": "–"
                if pd.isna(r.p_equivalent)
                else f"{r.p_a_better:.2f} / {r.p_equivalent:.2f} / {r.p_b_better:.2f}",
                "detectable shift": _fmt(r.detectable_shift),
                "A12": "–" if pd.isna(r.p) else f"{r.a12:.2f} ({r.magnitude})",
                "note": r.note,
            }
            for r in table.itertuples()
        ]
    )


def _p3(p: float) -> str:
    return "–" if pd.isna(p) else f"{p:.3g}"


def _significance_section(c: _Context) -> list[doc.Block]:
    table = c.pairs
    blocks: list[doc.Block] = [doc.Heading("Statistical significance")]
    if table.empty:
        return [*blocks, doc.Paragraph("Only one method per benchmark: nothing to compare.")]
    table.to_csv(c.out / "pairwise.csv", index=False)
    primary = table[table["endpoint"] == "primary"]
    exploratory = table[table["endpoint"] == "exploratory"]
    blocks += [
        doc.Paragraph(
            "Two-sided tests on the final metric. Primary endpoint: each benchmark's full budget; Holm's "
            "correction runs over one family, every pair of every benchmark of this report at its full budget "
            f"({primary['family'].iloc[0] if not primary.empty else 'none'}); the smaller budgets are "
            "exploratory (Holm within one benchmark and budget; read them as descriptions, not as confirmed "
            "differences). Runs of two methods pair up when both have the same seeds (seed i shares its "
            "initial random draws): exact signed-rank test on the per-seed differences, their conditional "
            "sign-flip distribution counted in full at every n (values rounded to "
            f"{exact.TOL:g} before ranking); otherwise the Mann-Whitney permutation test on the midranks, "
            f"exact up to {exact.N_RESAMPLES:,} splits and else {exact.N_RESAMPLES:,} random splits "
            f"(seed {exact.SEED}), with the HL interval from the untied null (exact only without ties) and no "
            "posterior. Zero differences, the interval and the posterior: as stated under 'How to read a line' "
            f"in the Summary. Posterior of the shift: {bayesian.SHIFT_DRAWS:,} Bayesian-bootstrap draws, seed "
            f"{bayesian.SHIFT_SEED}; ROPE ±{c.rope:g} points (set with --rope). Detectable shift: "
            f"{significance.POWER_DRAWS:,} simulated normal samples per shift, seed {significance.POWER_SEED}. "
            "A12 (Vargha-Delaney, exact fractions): the probability that A's run beats B's; small, medium, "
            "large from 0.56, 0.64, 0.71 on. pairwise.csv has every number, with the columns family, "
            "p_holm and verdict."
        ),
        doc.Table(_pair_rows(primary), "Primary endpoint (full budget)"),
        doc.Bullets(tuple(significance.verdict(r) for _, r in primary.iterrows())),
    ]
    if not exploratory.empty:
        blocks.append(doc.Table(_pair_rows(exploratory), "Exploratory (smaller budgets, not confirmatory)"))
    result = c.across
    if result is None:
        return [*blocks, doc.Paragraph("Too few methods or blocks for a test across benchmarks.")]
    result.scores.to_csv(c.out / "omnibus_scores.csv")
    blocks += [
        doc.Heading("Across benchmarks", 3),
        doc.Paragraph(
            "Scores: the mean final metric of each method on each benchmark at the full budget; methods ranked "
            "per benchmark, and the datasets of one search space averaged into one block (they share cells "
            "and seeds). Friedman's statistic with its permutation p (exact enumeration of the orderings "
            "within blocks, Monte-Carlo where there are too many) and Nemenyi's post-hoc test for three or "
            "more methods, the exact signed-rank test over the blocks for two (Demšar 2006). With a single "
            "benchmark the blocks are its paired seeds; with one space, its datasets (not independent)."
        ),
        doc.Bullets((result.sentence(), *significance.disagreements(table, result))),
        doc.Figure(
            figures.cd_diagram(result, c.out / "cd_diagram.png"),
            "Critical-difference diagram: average ranks; methods joined by a bar are not significantly different",
        ),
    ]
    return blocks


def _oracle_error_section(c: _Context) -> list[doc.Block]:
    """Pairwise verdicts re-tested under each (widened) oracle member: suite.analysis.oracle_error."""
    table = oracle_error.verdicts(c.finals, c.results.metas, c.main, c.rope)
    if table.empty:
        return []
    table.to_csv(c.out / "oracle_verdicts.csv", index=False)
    blocks: list[doc.Block] = [
        doc.Heading("Verdicts under the oracle's own error"),
        doc.Paragraph(
            "On a surrogate benchmark a difference between methods can be the oracle's error. Each run scored "
            "its final cell under every oracle member (refits of the final metric's model on resampled real "
            "cells; on NB301, YAHPO shifted by models of its disagreement with the official NB301 XGB "
            "surrogate). Members fitted to the same data err together, so where their spread at the runs' "
            "final cells is narrower than the oracle's error at the top, every member's "
            "deviation is scaled up to it (widening; the error at the top is, for NB101, the RMSE within the "
            "real top 10% cross-validated with grouped folds, results/nb101/surrogate.md; for NB301, the "
            "offset-corrected disagreement with the official NB301 XGB surrogate over the 10% of its 1,218 "
            "labelled cells YAHPO rates best). A verdict of the main oracle holds only if the same "
            f"method is significantly better (same test, Holm) under at least {oracle_error.AGREEMENT:.0%} of "
            "the widened members; otherwise the two methods are not distinguishable on this oracle. This "
            "covers the final metric's model error at the cells where the searches ended; it does not cover "
            "searches that would have taken other paths under another member, errors every member shares "
            "(cells unlike any real one), or the real cells' own training noise. oracle_verdicts.csv has "
            "every number."
        ),
    ]
    for name, rows in table.groupby("benchmark", sort=False):
        first = rows.iloc[0]
        blocks.append(doc.Paragraph(
            f"{name} ({first['oracle']}, {first['members']} members): member spread at the final cells "
            f"{first['member_spread']:.3f} points, the oracle's error at the top {first['top_error']:.2f} points, "
            f"widening ×{first['widening']:.2f}; {int(rows['holds'].sum())} of {len(rows)} pairs hold."))
        blocks.append(doc.Bullets(tuple(oracle_error.sentence(r) for _, r in rows.iterrows())))
    return blocks


def _literature_section(c: _Context) -> list[doc.Block]:
    rows, oracles, sources = [], {}, {}
    for name in sorted(c.main):
        reported = literature.reported_for(c.bench_meta[name]["name"])
        if not reported:
            continue
        oracles[c.bench_meta[name]["oracle"]] = name
        ours = c.finals[c.finals["benchmark"] == name]
        # The papers give accuracy in percent; a benchmark that stores it as a fraction is shown in percent.
        scale = 100 if ours["incumbent_final"].max() <= 1 else 1
        for method, runs in ours.groupby("method"):
            rows.append(
                {
                    "benchmark": name,
                    "method": method,
                    "source": "nasrepro (this report)",
                    "queries": str(c.main[name]),
                    "final metric": f"{stats.mean_std(scale * runs['incumbent_final'])}",
                    "n": len(runs),
                }
            )
        for r in reported:
            sources[r.source] = name
            value = f"{r.mean:.2f}" + (f" ± {r.std:.2f}" if r.std is not None else "")
            rows.append(
                {
                    "benchmark": name,
                    "method": r.label,
                    "source": r.source,
                    "queries": r.queries,
                    "final metric": value,
                    "n": r.trials or "–",
                }
            )
    if not rows:
        return []
    return [
        doc.Heading("Beside the published numbers"),
        doc.Table(
            pd.DataFrame(rows),
            "mean ± std over seeds of the final metric, % (the papers': test accuracy; ours: see below)",
        ),
        *(doc.Paragraph(literature.oracle_note(oracle)) for oracle in oracles),
        *(doc.Paragraph(note) for note in map(literature.source_note, sources) if note),
    ]


def _verification_section(c: _Context) -> list[doc.Block]:
    return [
        doc.Heading("Verification"),
        *(doc.Paragraph(verification.summary(store)) for store in c.results.stores),
    ]
