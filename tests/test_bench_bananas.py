"""Speed of BANANAS and of the CLI's start-up (`make bench`), issue 12's targets: BANANAS on NB201
CIFAR-10 <= 1.5 s at 150 queries and <= 5 s at 300 (CPU time on one core); `nasrepro list` and
`nasrepro --help` <= 0.5 s and a 1-seed RS run <= 1 s in all, start-up included (wall time of the
command, OMP_NUM_THREADS=1)."""

import os
import subprocess
import sys

import pytest
import torch  # noqa: F401  loaded before timing: its import is start-up, measured below, not search

from suite.running.runner import execute
from suite.running.spec import Budget, ExperimentSpec

pytestmark = pytest.mark.bench


BANANAS_TARGET_S = {150: 1.5, 300: 5.0}
START_UP_TARGET_S = 0.5
RS_RUN_TARGET_S = 1.0


@pytest.mark.parametrize("queries", [150, 300])
def test_bananas_nb201(cpu_on_one_core, nb201_c10, queries):
    run = ExperimentSpec(("nb201-cifar10",), ("bananas",), (0,), Budget(queries)).runs()[0]
    (trajectory, _), cpu = cpu_on_one_core(lambda: execute(run), rounds=3 if queries == 150 else 2)
    assert len(trajectory) == queries
    assert cpu <= BANANAS_TARGET_S[queries], f"BANANAS, {queries} queries: {cpu:.2f} s of CPU"


def cli(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "suite.cli", *args], check=True, capture_output=True, env=env)


@pytest.mark.parametrize("args", [("list",), ("--help",)], ids=["list", "help"])
def test_cli_start_up(benchmark, args):
    benchmark.pedantic(cli, args=args, rounds=3, iterations=1)
    assert benchmark.stats.stats.min <= START_UP_TARGET_S, f"nasrepro {args[0]}: {benchmark.stats.stats.min:.2f} s"


def test_one_seed_random_search_run_in_all(benchmark, nb201_c10, tmp_path_factory):
    def one_run():
        out = tmp_path_factory.mktemp("rs")  # a fresh store each round: the run is made, not skipped
        cli("run", "--benchmark", "nb201-cifar10", "--method", "rs", "--seeds", "0", "--budget", "150",
            "--out", str(out), "--quiet")

    benchmark.pedantic(one_run, rounds=3, iterations=1)
    assert benchmark.stats.stats.min <= RS_RUN_TARGET_S, f"a 1-seed RS run: {benchmark.stats.stats.min:.2f} s in all"
