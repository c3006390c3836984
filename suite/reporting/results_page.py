"""results/README.md, rendered from the committed CSVs under results/ alone: no number is copied by hand.

`make results-page` writes it; a test checks that the committed page is what this module renders from the
committed CSVs, so a regenerated report that is not followed by `make results-page` fails `make test`.

Sections, each present when its CSVs are:
- the final metric of every method on every headline benchmark, with the oracle named (summary.csv);
- GA-NAS's verdicts against every other method, from one multiplicity family: the leaderboard's
  pairwise.csv (every pair of every benchmark, one Holm family) when it exists, else each report's own
  (its family named on every row);
- the leaderboard (leaderboard.csv);
- the predictor benchmark (predictors/leaderboard.csv).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from suite.analysis import significance
from suite.reporting import document as doc

HEADLINE = ("nb101", "nb201", "nb301")  # the reports of `make reproduce-<name>`, in this order
FOCUS = "ganas"
PAGE = "README.md"
TITLE = "nasrepro results"


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _finals_section(results: Path) -> list[doc.Block]:
    tables = [t for name in HEADLINE if (t := _read(results / name / "summary.csv")) is not None]
    if not tables:
        return []
    summary = pd.concat(tables, ignore_index=True)
    summary["cell"] = [f"{r.mean:.2f} ± {r.std:.2f}" if r.n > 1 else f"{r.mean:.2f}" for r in summary.itertuples()]
    table = summary.pivot_table(index=["benchmark", "oracle", "n"], columns="method", values="cell", aggfunc="first")
    table.columns.name = None
    table = table.fillna("–").reset_index().rename(columns={"n": "seeds"})
    sources = ", ".join(f"`results/{name}/summary.csv`" for name in HEADLINE if (results / name).is_dir())
    return [
        doc.Heading("Final metric per method and benchmark"),
        doc.Paragraph(
            "Mean ± std over seeds of the incumbent's final metric (test accuracy, %) at each benchmark's full "
            f"budget, read under the oracle named in each row. From {sources}; the reports beside them give "
            "medians, intervals and the search curves."
        ),
        doc.Table(table),
    ]


def _oriented(row: pd.Series) -> dict:
    """The row with GA-NAS as method A, everything that has a direction mirrored."""
    out = row.to_dict()
    if row["method_a"] == FOCUS:
        return out
    out["method_a"], out["method_b"] = row["method_b"], row["method_a"]
    out["hl_shift"], out["hl_low"], out["hl_high"] = -row["hl_shift"], -row["hl_high"], -row["hl_low"]
    out["hl_low_open"], out["hl_high_open"] = row["hl_high_open"], row["hl_low_open"]
    out["p_a_better"], out["p_b_better"] = row["p_b_better"], row["p_a_better"]
    mirror = {significance.A_BETTER: significance.B_BETTER, significance.B_BETTER: significance.A_BETTER}
    out["verdict"] = mirror.get(row["verdict"], row["verdict"])
    return out


def _verdict_rows(pairs: pd.DataFrame) -> pd.DataFrame:
    primary = pairs[(pairs["endpoint"] == "primary") & ((pairs["method_a"] == FOCUS) | (pairs["method_b"] == FOCUS))]
    rows = []
    for _, row in primary.iterrows():
        r = _oriented(row)
        paired = pd.notna(r["p_equivalent"])
        rows.append(
            {
                "benchmark": r["benchmark"],
                "oracle": r["oracle"],
                "GA-NAS (A) vs B": r["method_b"],
                "verdict": significance.named_verdict(r),
                "HL shift A − B [95% CI]": f"{significance.signed(r['hl_shift'])} {significance.interval_text(r)}",
                "P(A better by > ROPE) / P(within) / P(B better)": (
                    f"{r['p_a_better']:.2f} / {r['p_equivalent']:.2f} / {r['p_b_better']:.2f}" if paired else "–"
                ),
                "Holm p": f"{r['p_holm']:.3g}",
                "n (non-zero)": f"{r['n_a']} ({r['n_effective']})",
            }
        )
    return pd.DataFrame(rows)


def _verdict_section(results: Path) -> list[doc.Block]:
    board = results / "leaderboard" / "pairwise.csv"
    sources = [board] if board.is_file() else [results / name / "pairwise.csv" for name in HEADLINE]
    blocks: list[doc.Block] = [doc.Heading("GA-NAS against every other method")]
    stale, tables, families = [], [], []
    for path in sources:
        pairs = _read(path)
        if pairs is None:
            continue
        if "verdict" not in pairs:
            stale.append(f"`results/{path.relative_to(results)}`")
            continue
        rows = _verdict_rows(pairs)
        if not rows.empty:
            tables.append(rows)
            primary = pairs[pairs["endpoint"] == "primary"]
            families.append(f"`results/{path.relative_to(results)}`: {primary['family'].iloc[0]}")
    if not tables and not stale:
        return []
    rope = significance.ROPE
    if tables:
        blocks += [
            doc.Paragraph(significance.rule_text(rope)),
            doc.Paragraph(
                "The multiplicity family (Holm) of these verdicts: " + "; ".join(families) + ". HL shift: the "
                "Hodges-Lehmann estimate with the 95% interval that inverts the exact signed-rank test (a round "
                "bracket: that end itself is rejected, the shifts just inside it are not); the probabilities "
                "are the Bayesian-bootstrap posterior of that shift (see any report's Summary for the "
                "treatment of zero differences)."
            ),
            doc.Table(pd.concat(tables, ignore_index=True)),
        ]
    if stale:
        blocks.append(
            doc.Paragraph(
                f"{', '.join(stale)} predate the verdicts (no `verdict` column): rerun the report that writes "
                "it (`make reproduce-<benchmark>` or `make leaderboard`), then `make results-page`."
            )
        )
    return blocks


def _leaderboard_section(results: Path) -> list[doc.Block]:
    board = _read(results / "leaderboard" / "leaderboard.csv")
    if board is None:
        return []
    table = pd.DataFrame(
        {
            "place": range(1, len(board) + 1),
            "method": board["method"],
            "average rank": board["avg_rank"].map("{:.2f}".format),
            "95% interval": [
                f"{low:.2f}–{high:.2f}" for low, high in zip(board["rank_ci_low"], board["rank_ci_high"], strict=True)
            ],
            "wins": board["wins"],
            "benchmarks": board["benchmarks"],
        }
    )
    blocks: list[doc.Block] = [
        doc.Heading("Leaderboard"),
        doc.Paragraph(
            "From `results/leaderboard/leaderboard.csv` (`make leaderboard`): average rank of the mean final "
            "metric at the primary budget (1 = best), each search space counted once; the bootstrap interval "
            "and the definition of a win are in `results/leaderboard/leaderboard.md`."
        ),
        doc.Table(table),
    ]
    if not (results / "leaderboard" / "pairwise.csv").is_file():  # written by every leaderboard since issue 20
        blocks.append(
            doc.Paragraph(
                "This leaderboard predates its pairwise verdicts (no `results/leaderboard/pairwise.csv`): it "
                "counts benchmarks, not search spaces, and wins without a verdict; rerun `make leaderboard`."
            )
        )
    return blocks


def _predictor_section(results: Path) -> list[doc.Block]:
    board = _read(results / "predictors" / "leaderboard.csv")
    if board is None:
        return []
    table = pd.DataFrame(
        {
            "predictor": board["predictor"],
            "mean rank": board["mean_rank"].map("{:.2f}".format),
            "mean Kendall tau": board["mean_tau"].map("{:.3f}".format),
            "mean precision@20": board["mean_precision_at_20"].map("{:.3f}".format),
            "mean fit seconds": board["mean_fit_seconds"].map("{:.3f}".format),
            "cases": board["cases"],
        }
    )
    return [
        doc.Heading("Performance predictors"),
        doc.Paragraph(
            "From `results/predictors/leaderboard.csv` (`make reproduce-predictors`): each predictor's mean rank "
            "over the cases (benchmark x training size x trial) and its mean scores; details in "
            "`results/predictors/report.md`."
        ),
        doc.Table(table),
    ]


def render(results: Path) -> str:
    blocks: list[doc.Block] = [
        doc.Paragraph(
            "Generated by `make results-page` from the CSVs under `results/`; do not edit by hand (`make test` "
            "checks that this page is what the CSVs give)."
        ),
        *_finals_section(results),
        *_verdict_section(results),
        *_leaderboard_section(results),
        *_predictor_section(results),
    ]
    return doc.to_markdown(blocks, TITLE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="render results/README.md from the CSVs under results/")
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"no results directory at {args.results}", file=sys.stderr)
        return 2
    (args.results / PAGE).write_text(render(args.results))
    print(f"wrote {args.results / PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
