"""The predictor benchmark's parts: atomic, verified on resume, a damaged one recomputed; bad arguments exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from predictors import parts
from suite import atomic
from suite.cli import main

ARGS = ["predictors", "--benchmark", "nb201-cifar10", "--predictor", "flops,xgb", "--train-sizes", "5,10",
        "--trials", "2"]


def cli(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


@pytest.fixture()
def done(tmp_path, capsys, nb201_c10):
    """A finished benchmark: its output directory and its results table."""
    out = tmp_path / "out"
    code, _ = cli([*ARGS, "--out", str(out)], capsys)
    assert code == 0
    return out, pd.read_csv(out / "results.csv")


def _the_part(out):
    (csv,) = (out / "parts").glob("*.csv")
    return csv


def test_a_part_is_written_with_a_manifest_and_verifies(done):
    out, results = done
    csv = _the_part(out)
    assert csv.with_name(csv.name + ".json").is_file() and len(pd.read_csv(csv)) == len(results) == 2 * 2 * 2
    assert not list((out / "parts").glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncate", "drop_rows", "no_manifest", "garbage_manifest"])
def test_a_damaged_part_is_moved_aside_and_recomputed(done, capsys, damage):
    out, results = done
    csv = _the_part(out)
    manifest = csv.with_name(csv.name + ".json")
    original = csv.read_bytes()  # the recomputed part equals it but for timings (checked below)
    if damage == "truncate":
        csv.write_bytes(original[: len(original) // 2])
    elif damage == "drop_rows":  # a whole trial's rows lost, the CSV still well formed
        lines = original.decode().splitlines(keepends=True)
        csv.write_text("".join(lines[: 1 + len(lines) // 2]))
    elif damage == "no_manifest":
        manifest.unlink()
    else:
        manifest.write_text("{not json")
    code, printed = cli([*ARGS, "--out", str(out)], capsys)
    assert code == 0 and "damaged" in printed.out and "recomputing" in printed.out and "already done" not in printed.out
    aside = sorted(p.name for p in (out / "parts" / parts.DAMAGED).iterdir())
    assert f"{csv.name}.1" in aside  # kept, not deleted
    timing = ["fit_seconds", "predict_seconds", "tune_seconds", "cpu_seconds"]
    again = pd.read_csv(out / "results.csv")
    assert sorted(again["trial"].unique()) == [0, 1]
    pd.testing.assert_frame_equal(again.drop(columns=timing), results.drop(columns=timing))
    code, printed = cli([*ARGS, "--out", str(out)], capsys)
    assert code == 0 and "already done" in printed.out


def test_problem_names_each_fault(tmp_path):
    part = parts.part_for(tmp_path, "t", {"a": 1}, rows=3)
    frame = pd.DataFrame({"x": [1, 2, 3]})
    parts.save(part, frame)
    assert parts.problem(part) is None
    pd.testing.assert_frame_equal(parts.read(part), frame)
    assert "another setting" in parts.problem(parts.Part(part.csv, {"a": 2}, 3))
    part.csv.write_text("x\n1\n2\n")
    assert "sha256" in parts.problem(part)
    with pytest.raises(ValueError, match="cannot hold"):
        parts.save(part, frame.head(2))


def test_temporary_files_are_removed_only_when_their_writer_is_gone(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    orphan = tmp_path / f".t-abc.csv.{dead_pid}{parts.TMP_SUFFIX}"
    live = tmp_path / f".t-abc.csv.{os.getpid()}{parts.TMP_SUFFIX}"
    orphan.write_text("half")
    live.write_text("half")
    assert parts.remove_orphans(tmp_path) == [orphan]
    assert live.exists() and not orphan.exists()


def test_an_interrupted_write_leaves_no_part(tmp_path):
    target = tmp_path / "x.csv"
    with pytest.raises(RuntimeError), atomic.replaced(target) as tmp:
        tmp.write_text("half a ta")
        raise RuntimeError("killed")
    assert not target.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("extra, message", [
    (["--seed", "-1"], "non-negative"),
    (["--trials", "0"], "at least 1"),
    (["--tune", "--tune-trials", "0"], "at least 1 configuration"),
    (["--tune", "--tune-folds", "1"], "at least 2 folds"),
    (["--predictor", "gp-tuned"], "no tuning space"),
    (["--benchmark", "nb101"], "nb101-valid20k or nb101-test6760"),
    (["--benchmark", "nb999"], "unknown predictor-benchmark target"),
    (["--train-sizes", "16000"], "cells"),
])
def test_bad_arguments_exit_2_with_one_line_before_any_work(tmp_path, capsys, extra, message):
    argv = [*ARGS, "--out", str(tmp_path / "out"), *extra]
    code, printed = cli(argv, capsys)
    assert code == 2 and message in printed.err and printed.err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_unwritable_out_exits_2_before_any_fit(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, printed = cli([*ARGS, "--out", str(blocker / "out")], capsys)
    assert code == 2 and "cannot write the predictor benchmark" in printed.err and printed.out.count("done") == 0
