"""results/README.md is rendered from the committed CSVs, never edited by hand."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.analysis import significance, stats
from suite.reporting import results_page

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_the_committed_results_page_is_what_the_committed_csvs_give():
    if not any((RESULTS / name / "summary.csv").is_file() for name in results_page.HEADLINE):
        pytest.skip("no committed report CSVs under results/")
    committed = RESULTS / results_page.PAGE
    assert committed.is_file(), "results/README.md is missing: run `make results-page`"
    assert committed.read_text() == results_page.render(RESULTS), "stale results/README.md: run `make results-page`"


def _finals() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    base = rng.normal(94, 0.3, 12)
    rows = [
        {"benchmark": "nb201-cifar10", "oracle": "nb201-tabular", "method": method, "budget": 150,
         "experiment_seed": 1, "repeat": r, "incumbent_final": base[r] + shift + rng.normal(0, 0.05)}
        for method, shift in (("ganas", 0.4), ("re", 0.0), ("rs", -0.5))
        for r in range(12)
    ]
    return pd.DataFrame(rows)


def test_the_page_reads_its_numbers_from_the_csvs_and_orients_ganas_as_a(tmp_path):
    finals = _finals()
    report = tmp_path / "nb201"
    report.mkdir()
    stats.summary(finals).to_csv(report / "summary.csv", index=False)
    pairs = significance.pairwise(finals)
    pairs.to_csv(report / "pairwise.csv", index=False)
    page = results_page.render(tmp_path)
    ganas = finals[finals["method"] == "ganas"]["incumbent_final"]
    assert f"| nb201-cifar10 | nb201-tabular | 12 | {ganas.mean():.2f} ± {ganas.std():.2f} |" in page
    # re vs ganas is stored with re as A (alphabetical); the page reads it from GA-NAS's side
    stored = pairs[(pairs["method_a"] == "ganas") & (pairs["method_b"] == "re")]
    assert len(stored) == 1 and stored["verdict"].iloc[0] == significance.A_BETTER
    assert "| nb201-cifar10 | nb201-tabular | re | A better (ganas) |" in page
    assert "| nb201-cifar10 | nb201-tabular | rs | A better (ganas) |" in page
    assert pairs["family"].iloc[0] in page and "Leaderboard" not in page  # no leaderboard CSV, no section


def test_a_pairwise_csv_without_verdicts_is_named_as_stale(tmp_path):
    report = tmp_path / "nb101"
    report.mkdir()
    stats.summary(_finals()).to_csv(report / "summary.csv", index=False)
    significance.pairwise(_finals()).drop(columns="verdict").to_csv(report / "pairwise.csv", index=False)
    assert "`results/nb101/pairwise.csv` predate the verdicts" in results_page.render(tmp_path)
    assert results_page.main(["--results", str(tmp_path / "absent")]) == 2
