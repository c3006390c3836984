import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from suite import data
from suite.cli import main
from suite.running.store import Store

RUN = ["run", "--benchmark", "nb201-cifar10", "--method", "rs,re", "--seeds", "0-1", "--budget", "20", "--quiet"]


def cli(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


def test_list_names_everything(capsys):
    code, out = cli(["list"], capsys)
    assert code == 0
    for name in ["nb201-cifar10", "nb201-cifar100", "nb201-imagenet16", "rs", "re"]:
        assert name in out.out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--benchmark": "nb999"}, "unknown benchmark 'nb999'"),
        ({"--method": "rs,magic"}, "unknown method 'magic'"),
        ({"--budget": "0"}, "budget must be a positive number"),
        ({"--budget": "many"}, "invalid int value"),
        ({"--seeds": "9-1"}, "empty seed range"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, change, message):
    argv = RUN + ["--out", str(tmp_path / "store")]
    for flag, value in change.items():
        argv[argv.index(flag) + 1] = value
    code, out = cli(argv, capsys)
    assert code == 2
    assert message in out.err and out.err.count("\n") == 1 and "Traceback" not in out.err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("argv", "known"),
    [
        (["run", "--benchmark", "nb101", "--method", "rs", "--budget", "5", "--oracle", "nope"],
         "nb101-surrogate-20k+test6760, nb101-surrogate-20k+test12959, nb101-surrogate-20k+test12959+stack, "
         "nb101-tabular"),
        (["run", "--benchmark", "nb201-cifar10", "--method", "rs", "--budget", "5", "--oracle", "nope"],
         "nb201-tabular"),
        (["data", "prepare", "nb101", "--oracle", "nope"], "nb101-surrogate-20k+test12959"),
    ],
)
def test_an_unknown_oracle_exits_2_naming_the_known_ones(tmp_path, capsys, argv, known):
    if argv[0] == "run":
        argv = argv + ["--out", str(tmp_path / "store"), "--quiet"]
    code, out = cli(argv, capsys)
    assert code == 2 and "unknown oracle 'nope'" in out.err and known in out.err
    assert out.err.count("\n") == 1 and "Traceback" not in out.err
    assert not (tmp_path / "store").exists()


def _data_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    for rel in data.FILES:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        if (data.data_dir() / rel).exists():
            (copy / rel).symlink_to(data.data_dir() / rel)
    return copy


def _fresh_data_dir(monkeypatch, directory: Path) -> None:
    from suite import benchmarks

    monkeypatch.setenv(data.DATA_ENV, str(directory))
    benchmarks.get.cache_clear()  # the session's benchmarks were read from the real directory
    data._verified.cache_clear()


def test_a_missing_data_file_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    copy = _data_copy(tmp_path)
    (copy / "nb201/nb201.csv.gz").unlink()
    _fresh_data_dir(monkeypatch, copy)
    code, out = cli(RUN + ["--out", str(tmp_path / "store")], capsys)
    assert code == 2
    assert "missing data file" in out.err and "nb201.csv.gz" in out.err and "NASREPRO_DATA" in out.err
    assert not (tmp_path / "store").exists()


def test_a_corrupt_data_file_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    copy = _data_copy(tmp_path)
    target = copy / "nb201/nb201.csv.gz"
    target.unlink()
    with gzip.open(data.data_dir() / "nb201/nb201.csv.gz", "rt") as src, gzip.open(target, "wt") as dst:
        text = src.read()
        dst.write(text.replace("94.3733", "99.9999"))  # one altered number is enough
    _fresh_data_dir(monkeypatch, copy)
    code, out = cli(RUN + ["--out", str(tmp_path / "store")], capsys)
    assert code == 2
    assert "corrupt data file" in out.err and "nb201.csv.gz" in out.err
    assert not (tmp_path / "store").exists()


def _trajectories(store: Store) -> dict[str, pd.DataFrame]:
    return {run_id: store.trajectory(run_id) for run_id in store.run_ids()}


def test_an_experiment_killed_midway_resumes_to_exactly_the_uninterrupted_result(tmp_path):
    argv = ["run", "--benchmark", "nb201-cifar10,nb201-cifar100", "--method", "rs,re", "--seeds", "0-24",
            "--budget", "150", "--quiet"]
    command = [sys.executable, "-m", "suite.cli", *argv]
    killed = Store(tmp_path / "killed")
    proc = subprocess.Popen([*command, "--out", str(killed.root)])
    deadline = time.monotonic() + 60
    while len(killed.run_ids()) < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted = len(killed.run_ids())
    assert 10 <= interrupted < 100, "the kill must land midway for this test to mean anything"

    subprocess.run([*command, "--out", str(killed.root)], check=True)
    whole = Store(tmp_path / "whole")
    subprocess.run([*command, "--out", str(whole.root)], check=True)

    assert killed.run_ids() == whole.run_ids() and len(whole.run_ids()) == 100
    assert not [p for p in killed.runs_dir.iterdir() if p.name.startswith(".")]
    left, right = _trajectories(killed), _trajectories(whole)
    for run_id in left:
        pd.testing.assert_frame_equal(left[run_id], right[run_id], check_exact=True)
        assert killed.meta(run_id)["spec"] == whole.meta(run_id)["spec"]


def test_report_needs_no_benchmark_data(tmp_path, capsys, monkeypatch):
    store = tmp_path / "store"
    assert cli(RUN + ["--out", str(store)], capsys)[0] == 0
    _fresh_data_dir(monkeypatch, tmp_path / "nowhere")
    code, out = cli(["report", str(store), "--out", str(tmp_path / "report")], capsys)
    assert code == 0, out.err
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| nb201-cifar10 | nb201-tabular | test_acc | re | 2 |" in text
    assert (tmp_path / "report" / "regret.png").stat().st_size > 10_000


def test_report_of_a_missing_store_exits_2(tmp_path, capsys):
    code, out = cli(["report", str(tmp_path / "none"), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "no results store" in out.err


def test_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "nasrepro"
    result = subprocess.run([str(script), "list"], capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 0 and "nb201-cifar10" in result.stdout


def test_data_check_names_each_broken_file(tmp_path, capsys, monkeypatch):
    copy = _data_copy(tmp_path)
    (copy / "nb201/nb201.csv.gz").unlink()
    (copy / "nb201/nb201.csv.gz").write_bytes(b"not gzip")
    _fresh_data_dir(monkeypatch, copy)
    code, out = cli(["data", "check"], capsys)
    assert code == 2
    assert "corrupt data file" in out.out and "nb201/nb201.csv.gz" in out.out
    assert out.out.count(" ok\n") == len(data.FILES) - 1


def test_data_prepare_builds_named_benchmarks_and_refuses_unknown_ones(capsys):
    code, out = cli(["data", "prepare", "nb201-cifar10"], capsys)
    assert code == 0 and "nb201-cifar10: oracle nb201-tabular, 15625 cells" in out.out
    code, out = cli(["data", "prepare", "nb999"], capsys)
    assert code == 2 and "unknown benchmark 'nb999'" in out.err


def test_predictor_benchmark_skips_inapplicable_baselines_and_resumes(tmp_path, capsys):
    argv = ["predictors", "--benchmark", "nb201-cifar100", "--predictor", "xgb,params", "--train-sizes", "5,10",
            "--trials", "1", "--out", str(tmp_path)]
    code, out = cli(argv, capsys)
    assert code == 0 and "skipping predictor params" in out.out
    results = pd.read_csv(tmp_path / "results.csv")
    assert set(results["predictor"]) == {"xgb"} and sorted(results["train_size"]) == [5, 10]
    code, out = cli(argv, capsys)
    assert code == 0 and "already done" in out.out
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results.csv"), results)


def test_predictor_benchmark_refuses_bad_input(tmp_path, capsys):
    base = ["predictors", "--benchmark", "nb201-cifar10", "--out", str(tmp_path / "out")]
    for extra, message in [
        (["--predictor", "oracle"], "unknown predictor"),
        (["--predictor", "xgb", "--train-sizes", "0,5"], "positive integers"),
        (["--predictor", "xgb", "--trials", "0"], "at least 1"),
    ]:
        code, out = cli(base + extra, capsys)
        assert code == 2 and message in out.err
    assert not (tmp_path / "out").exists()


def test_report_can_be_limited_to_some_benchmarks(tmp_path, capsys):
    store = tmp_path / "store"
    argv = RUN + ["--out", str(store)]
    argv[argv.index("--benchmark") + 1] = "nb201-cifar10,nb201-cifar100"
    assert cli(argv, capsys)[0] == 0
    code, _ = cli(["report", str(store), "--benchmark", "nb201-cifar100", "--out", str(tmp_path / "r")], capsys)
    assert code == 0
    finals = pd.read_csv(tmp_path / "r" / "finals.csv")
    assert set(finals["benchmark"]) == {"nb201-cifar100"}
    code, out = cli(["report", str(store), "--benchmark", "nb301", "--out", str(tmp_path / "r2")], capsys)
    assert code == 2 and "no runs of nb301" in out.err
