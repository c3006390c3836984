"""The example plugin, examples/nasrepro-hillclimb, end to end as its README walks through it: installed by
pip (into a directory of its own, on PYTHONPATH: the project's environment is not touched), listed, checked,
run beside the built-ins into a store, and reported with its provenance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "nasrepro-hillclimb"
NASREPRO = Path(sys.executable).parent / "nasrepro"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The environment of a shell in which the example is pip-installed."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--no-index", "--target", str(target), str(EXAMPLE)],
                   check=True, capture_output=True, cwd=tmp_path_factory.mktemp("build"))
    assert (target / "nasrepro_hillclimb-0.1.0.dist-info" / "entry_points.txt").is_file()
    return {**os.environ, "PYTHONPATH": str(target)}


def nasrepro(env: dict[str, str], *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(NASREPRO), *argv], capture_output=True, text=True, env=env, cwd=cwd)


def test_the_installed_example_is_listed_and_runs(installed, tmp_path):
    listed = nasrepro(installed, "list", cwd=tmp_path)
    assert listed.returncode == 0 and "[nasrepro-hillclimb 0.1.0]" in listed.stdout, listed.stderr
    ran = nasrepro(installed, "run", "--benchmark", "nb201-cifar10", "--method", "hillclimb", "--seeds", "0",
                   "--budget", "20", "--out", "runs/example", "--quiet", cwd=tmp_path)
    assert ran.returncode == 0 and "1 runs stored" in ran.stdout, ran.stderr


@pytest.mark.slow
def test_the_example_plugin_from_install_to_report(installed, tmp_path):
    listed = nasrepro(installed, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert ("  hillclimb            hill climbing on the space's mutation, restarts after 5 flat batches "
            "[nasrepro-hillclimb 0.1.0]") in listed.stdout.splitlines()

    ran = nasrepro(installed, "run", "--benchmark", "nb201-cifar10", "--method", "hillclimb,rs,re", "--seeds", "0-2",
                   "--budget", "30", "--out", "runs/example", "--quiet", cwd=tmp_path)
    assert ran.returncode == 0 and "9 runs stored" in ran.stdout, ran.stderr

    checked = nasrepro(installed, "check-method", "hillclimb", "--store", "runs/example", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("check-method hillclimb (from nasrepro-hillclimb 0.1.0, nasrepro_hillclimb:ENTRY, "
                               "version 1) on nb201-cifar10, seed 0, 53 queries")
    assert [line.split()[0] for line in lines[1:8]] == ["pass"] * 7 and lines[-1] == "7 passed, 0 failed, 0 skipped"

    reported = nasrepro(installed, "report", "runs/example", "--out", "results/example", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    report = (tmp_path / "results" / "example" / "report.md").read_text()
    assert "| method | hillclimb | nasrepro-hillclimb | 0.1.0 | nasrepro_hillclimb:ENTRY | 1 | 3 |" in report
    assert "| method | rs | nasrepro |" in report
    assert "from other distributions than nasrepro: hillclimb (nasrepro-hillclimb 0.1.0)" in report

    # without the plugin, the same store still reports, and the runs of the built-ins still verify
    bare = {k: v for k, v in installed.items() if k != "PYTHONPATH"}
    assert nasrepro(bare, "report", "runs/example", "--out", "results/bare", cwd=tmp_path).returncode == 0
    verified = nasrepro(bare, "verify", "runs/example", cwd=tmp_path)
    assert verified.returncode == 1 and "6 of 9 rerun runs bit-identical" in verified.stdout
    assert verified.stderr.count("unknown method 'hillclimb'") == 3
