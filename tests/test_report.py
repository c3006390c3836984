import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from suite import benchmarks, data
from suite.analysis import significance
from suite.errors import NasreproError
from suite.reporting.report import write_report
from suite.running import verify as verification
from suite.running.runner import run_experiment
from suite.running.spec import Budget, ExperimentSpec
from suite.running.store import Store

CHROMIUM = Path("/usr/bin/chromium")
# CIFAR-10 has training times in the data, CIFAR-100 has none: both branches of the seconds plot.
SPEC = ExperimentSpec(("nb201-cifar10", "nb201-cifar100"), ("rs", "re"), tuple(range(4)), Budget(36))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    outcome = run_experiment(SPEC.runs(), Store(root), progress=False)
    assert not outcome.failed
    return root


@pytest.fixture(scope="module")
def report(store, tmp_path_factory) -> Path:
    """The report, written with the data directory empty and every way to a benchmark blocked."""
    out = tmp_path_factory.mktemp("report")
    empty = tmp_path_factory.mktemp("no_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(data.DATA_ENV, str(empty))

        def blocked(*args, **kwargs):
            raise AssertionError("the report touched a benchmark")

        patch.setattr(benchmarks, "get", blocked)
        patch.setattr(data, "require", blocked)
        write_report([store], out, title="test report")
    return out


def test_report_writes_markdown_html_figures_and_tables_without_benchmark_data(report):
    text = (report / "report.md").read_text()
    for heading in [
        "Final metric of the incumbent",
        "Reproducibility across seeds",
        "Queries to reach a target",
        "Search progress",
        "Statistical significance",
        "Across benchmarks",
        "Beside the published numbers",
        "Reproducibility checklist and setup",
        "Verification",
    ]:
        assert f"## {heading}" in text or f"### {heading}" in text, heading
    assert "| nb201-cifar10 | nb201-tabular | test_acc | re | 4 |" in text
    for figure in ["regret.png", "regret_seconds.png", "finals.png", "targets_ecdf.png", "cd_diagram.png"]:
        assert f"]({figure})" in text and (report / figure).stat().st_size > 5_000
    for table in ["summary.csv", "finals.csv", "reproducibility.csv", "targets.csv", "pairwise.csv"]:
        assert (report / table).stat().st_size > 100
    assert "No plot against simulated seconds for nb201-cifar100" in text
    assert "not verified" in text


def test_report_opens_with_the_verdicts_and_pairwise_csv_carries_every_statistic(report):
    import pandas as pd

    text = (report / "report.md").read_text()
    assert text.startswith("# test report\n\n## Summary\n")
    summary = text.split("## Data")[0]
    assert "nb201-cifar10 at 36 queries (primary budget)" in summary
    assert "re vs rs: " in summary and "HL shift" in summary and "Holm p = " in summary
    assert "P(within ±0.1)" in summary and "Power: with n = " in summary and "non-zero paired differences" in summary
    # the vocabulary and the one family are stated once, at the top
    assert summary.count("Verdicts, one per pair of methods A vs B") == 1
    assert "primary: all 2 pairs of the report's benchmarks at their full budget" in summary
    assert summary.count("Zero differences are treated one way throughout") == 1
    pairs = pd.read_csv(report / "pairwise.csv")
    for column in ["p", "p_holm", "hl_shift", "hl_low", "hl_high", "p_a_better", "p_equivalent", "p_b_better",
                   "endpoint", "n_a", "n_b", "test_method", "family", "family_size", "verdict", "n_effective",
                   "detectable_shift"]:
        assert column in pairs.columns, column
    assert set(pairs["verdict"]) <= set(significance.VERDICTS)
    primary = pairs[pairs["endpoint"] == "primary"]
    assert primary["family"].nunique() == 1 and (primary["family_size"] == len(primary)).all()
    for row in primary.itertuples():  # each verdict line says the verdict of its row
        assert f"{row.method_a} vs {row.method_b}: {significance.named_verdict(row._asdict())}." in summary
    assert set(pairs["endpoint"]) == {"primary", "exploratory"}
    assert (pairs.loc[pairs["endpoint"] == "primary", "budget"] == 36).all()
    assert "success rate [95% CI]" in text and "Exploratory (smaller budgets" in text


def test_degenerate_runs_give_a_clear_line_not_a_crash(tmp_path):
    spec = ExperimentSpec(("nb201-cifar10",), ("rs", "re", "ganas"), (0,), Budget(12))
    store = Store(tmp_path / "store")
    assert not run_experiment(spec.runs(), store, progress=False).failed
    # A copy of one run whose final metric is NaN throughout, under another method's name.
    run_id = store.run_ids()[0]
    meta = store.meta(run_id)
    meta["spec"] = {**meta["spec"], "method": "broken", "run_id": "broken0"}
    frame = store.trajectory(run_id).assign(incumbent_final=float("nan"), regret=float("nan"))
    store.write("broken0", frame, meta)
    write_report([store.root], tmp_path / "r", title="degenerate")
    text = (tmp_path / "r" / "report.md").read_text()
    assert "ganas vs broken: not compared (no finite final metric for one method)." in text
    assert "one seed only: no test can show a difference" in text
    assert "no shift can be detected" in text


def test_report_puts_our_nb201_numbers_beside_the_papers_and_says_how_the_oracles_differ(report):
    text = (report / "report.md").read_text()
    assert (
        "| nb201-cifar100 | REA | NAS-Bench-201 paper (Dong & Yang, ICLR 2020) | time budget | 71.84 ± 0.99 |"
        in text
    )
    assert "single training run" in text and "noise-free" in text


def test_report_html_is_self_contained(report):
    page = (report / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert not re.search(r'(src|href)="(https?:|//)', page)
    assert page.count("<table>") == len(re.findall(r"^\*?\|---", (report / "report.md").read_text(), re.M))


def test_report_quotes_the_verification_record(tmp_path):
    assert "not verified (run `nasrepro verify" in verification.summary(tmp_path)
    record = verification.Verification(
        str(tmp_path), 16, 3, 0, identical=["a", "b"], differing={"c": "column x"}
    )
    verification.write(record, tmp_path)
    assert (
        "reran 3 of 16 stored runs (a sample of 3 drawn with seed 0): 1 differed (c) and 0 could not be rerun"
        in (verification.summary(tmp_path))
    )
    verification.write(verification.Verification(str(tmp_path), 16, None, 0, identical=["a"]), tmp_path)
    assert "(all): every rerun trajectory was bit-identical" in verification.summary(tmp_path)


def test_report_refuses_a_budget_not_every_run_reached(store, tmp_path):
    with pytest.raises(NasreproError, match="not every run reached 37 queries"):
        write_report([store], tmp_path / "r", budget=37)


# Appended to a copy of the page: after load, records how many images decoded into the DOM.
_PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const decoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.decoded = decoded + '/' + imgs.length;
});
</script>"""


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium "
    "(apt-get install -y chromium) to render the HTML report headless",
)
def test_report_html_renders_in_headless_chromium(report, tmp_path):
    page = (report / "report.html").read_text().replace("</body>", _PROBE + "</body>")
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert 'data-decoded="5/5"' in dom  # every figure decoded as an image
    assert dom.count("<table>") >= 8 and dom.count("<th>") > 50
    assert "Statistical significance" in dom and "Critical-difference diagram" in dom
    assert not re.search(r"Uncaught|SyntaxError|Failed to load resource", result.stderr)


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_the_same_store_gives_a_byte_identical_report(store, report, tmp_path, hash_seed):
    # Another process with another string hashing (set order) must write the same bytes: it once did not
    # (the CD diagram's crossbars followed a set's order).
    again = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-m", "suite.cli", "report", str(store), "--out", str(again),
                    "--title", "test report"], check=True, capture_output=True, env=env)
    for path in report.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_rope_is_settable_from_the_command_line(store, tmp_path, capsys):
    import pandas as pd

    from suite.cli import main

    assert main(["report", str(store), "--out", str(tmp_path / "r"), "--rope", "0.5"]) == 0
    pairs = pd.read_csv(tmp_path / "r" / "pairwise.csv")
    assert (pairs["rope"] == 0.5).all() and "P(within ±0.5)" in (tmp_path / "r" / "report.md").read_text()
    assert main(["report", str(store), "--out", str(tmp_path / "r2"), "--rope", "-1"]) == 2
    assert "--rope takes a non-negative number" in capsys.readouterr().err


_CD_SCRIPT = """
import sys
import numpy as np, pandas as pd
from pathlib import Path
from suite.reporting import figures
from suite.analysis import significance
rng = np.random.default_rng(0)
names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
scores = pd.DataFrame(rng.normal(np.arange(6) * 0.15, 0.5, size=(40, 6)), columns=names)
omnibus = significance.omnibus(scores, "seeds")
figures.cd_diagram(omnibus, Path(sys.argv[1]))
"""


@pytest.mark.parametrize("hash_seed", ["3", "4"])
def test_the_cd_diagram_does_not_depend_on_string_hashing(tmp_path, hash_seed):
    def draw(seed: str) -> bytes:
        path = tmp_path / f"cd-{seed}.png"
        subprocess.run([sys.executable, "-c", _CD_SCRIPT, str(path)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        return path.read_bytes()

    assert draw(hash_seed) == draw("0")


def test_the_nb101_report_sets_the_bananas_papers_150_query_table_beside_ours(tmp_path):
    # Runs made on NB201 and filed as NB101 runs: the section reads only the store (which oracle, which methods).
    spec = ExperimentSpec(("nb201-cifar10",), ("rs", "re", "ls"), (0, 1), Budget(12))
    made = Store(tmp_path / "made")
    assert not run_experiment(spec.runs(), made, progress=False).failed
    store = Store(tmp_path / "store")
    for k, run_id in enumerate(made.run_ids()):
        meta = made.meta(run_id)
        meta["spec"] = {**meta["spec"], "benchmark": "nb101", "oracle": "nb101-surrogate-20k+test6760",
                        "run_id": f"nb101run{k}"}
        meta["benchmark"] = {**meta["benchmark"], "name": "nb101", "oracle": "nb101-surrogate-20k+test6760"}
        store.write(f"nb101run{k}", made.trajectory(run_id), meta)
    write_report([store.root], tmp_path / "r", title="nb101")
    text = (tmp_path / "r" / "report.md").read_text()
    for label, accuracy in (("RS", "93.66"), ("RE", "93.89"), ("LS", "94.07"), ("BANANAS", "94.08")):
        assert f"| nb101 | {label} | BANANAS paper (White et al., AAAI 2021) | 150 | {accuracy} | 200 |" in text
    assert "| nb101 | ls | nasrepro (this report) | 12 |" in text
    assert "one randomly chosen training repeat" in text and "counts a re-queried cell again" in text
    assert "`local_optima`" in text
