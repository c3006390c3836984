"""Constraints are on cost-like cell properties only: an accuracy, search or final, is refused (exit 2)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from suite import benchmarks
from suite.benchmarks import nb101_space
from suite.benchmarks import nb201_space as nb201
from suite.cli import main
from suite.constraints import Constraint
from suite.errors import NasreproError
from suite.running.spec import Budget, ExperimentSpec

ROOT = Path(__file__).resolve().parents[1]
NONE, CONV3 = (0,) * 6, (nb201.OPS.index("nor_conv_3x3"),) * 6


def _run(bench_name: str, constraint: str, out: Path) -> list[str]:
    return ["run", "--benchmark", bench_name, "--method", "rs", "--seeds", "0", "--budget", "5", "--quiet",
            "--out", str(out), "--constraint", constraint]


REFUSED = [
    ("nb201-cifar10", "test_acc>=94"),
    ("nb201-cifar10", "cifar10/test_acc_200>=90"),
    ("nb201-cifar10", "cifar10-valid/valid_acc_200>=90"),
    ("nb201-cifar100", "cifar100/valid_acc_12>=60"),
    ("nb201-imagenet16", "test_acc>40"),
    ("nb201-cifar100", "flops_m<=50"),  # a cost, but not one this dataset records: refused the same way
    ("nb301", "valid_acc>=94"),
]


@pytest.mark.parametrize(("bench_name", "constraint"), REFUSED)
def test_a_constraint_on_an_accuracy_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, bench_name, constraint):
    code = main(_run(bench_name, constraint, tmp_path / "store"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"constraint on {constraint.split('<')[0].split('>')[0]!r} refused" in err
    assert "cost-like" in err
    assert not (tmp_path / "store").exists()


def test_the_refusal_names_the_allowed_properties(capsys, tmp_path):
    main(_run("nb201-cifar10", "test_acc>=94", tmp_path / "store"))
    err = capsys.readouterr().err
    allowed = ["flops_m", "train_time_s", *(f"latency_ms/{d}" for d in nb201.DEVICES)]
    assert all(name in err for name in allowed)
    assert err.count("acc") == 1  # only where it names the refused metric


def test_the_command_line_refuses_test_accuracy(tmp_path):
    """The exact command of the issue, as a user types it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "store"
    proc = subprocess.run([sys.executable, "-m", "suite.cli", *_run("nb201-cifar10", "test_acc>=94", out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "refused" in proc.stderr and proc.stdout == ""
    assert not out.exists()


def test_cost_constraints_are_accepted_and_read_the_costs(tmp_path, capsys):
    space = benchmarks.get("nb201-cifar10").space
    flops = Constraint.parse("flops_m<=8")
    flops.check(space, NONE)
    assert flops.feasible(space, NONE) and not flops.feasible(space, CONV3)  # 7.78 and 7.78 + 6 * 35.39
    for text in ("train_time_s<=20000", "latency_ms/pixel3<5"):
        Constraint.parse(text).check(space, NONE)
    assert main(_run("nb201-cifar10", "flops_m<=50", tmp_path / "store")) == 0


def test_nb101_constraints_are_on_parameters_only():
    space = nb101_space.Nb101Space()  # the cell table, built in the test run's cache if this test comes first
    cell = space.sample(np.random.default_rng(0))
    assert space.costs(cell) == {"params": float(space.table.params[cell])}
    Constraint.parse("params<=1e6").check(space, cell)
    for text in ("valid_acc_surrogate>=90", "valid_acc>=90", "test_acc>=90", "train_time<=1000"):
        with pytest.raises(NasreproError, match="refused.*nb101 exposes params$"):
            Constraint.parse(text).check(space, cell)


# -- can a constraint be met at all: every cell of an enumerable space, a sample of NB301 ------------------------
def _all_nb201_values(metric: str) -> np.ndarray:
    """Brute force, one cell at a time through the space's public `costs`: the oracle the vectorised check meets."""
    space = benchmarks.get("nb201-cifar10").space
    return np.array([space.costs(arch)[metric] for arch in itertools.product(range(len(nb201.OPS)), repeat=6)])


@pytest.mark.parametrize(("metric", "op", "extreme"), [("flops_m", ">=", np.max), ("train_time_s", "<=", np.min)])
def test_a_constraint_met_by_exactly_one_nb201_cell_is_accepted_and_one_met_by_none_refused(metric, op, extreme):
    values = _all_nb201_values(metric)
    bound = float(extreme(values))
    assert np.count_nonzero(values == bound) == 1
    one = Constraint.parse(f"{metric}{op}{bound!r}")
    runs = ExperimentSpec(("nb201-cifar10",), ("rs",), (0,), Budget(5), constraint=str(one)).runs()
    assert Constraint.parse(runs[0].constraint) == one  # what the runs read back: the same bound, not rounded
    none = f"{metric}{op[0]}{bound!r}"  # strict: not even that cell
    with pytest.raises(NasreproError, match=r"met by no cell of nb201-cifar10 \(all 15,625 checked\)"):
        ExperimentSpec(("nb201-cifar10",), ("rs",), (0,), Budget(5), constraint=none).runs()


def test_the_one_cell_of_the_largest_flops_is_not_among_the_probes_so_only_the_exact_check_accepts_it():
    from suite.running.spec import _probe_cells

    assert CONV3 not in _probe_cells(benchmarks.get("nb201-cifar10").space)
    assert _all_nb201_values("flops_m").max() == benchmarks.get("nb201-cifar10").space.costs(CONV3)["flops_m"]


def test_a_bound_the_short_form_represents_keeps_it_and_so_its_run_ids():
    assert str(Constraint.parse("flops_m<=100")) == "flops_m<=100"
    assert str(Constraint.parse("params<=1e6")) == "params<=1e+06"
    assert str(Constraint.parse("flops_m>=220.11393")) == "flops_m>=220.11393"


def test_nb101_feasibility_is_decided_on_every_cell():
    space = benchmarks.get("nb101").space
    smallest = min(space.costs(arch)["params"] for arch in range(space.size))
    assert ExperimentSpec(("nb101",), ("rs",), (0,), Budget(5), constraint=f"params<={smallest!r}").runs()
    with pytest.raises(NasreproError, match=r"met by no cell of nb101 \(all 423,624 checked\)"):
        ExperimentSpec(("nb101",), ("rs",), (0,), Budget(5), constraint=f"params<{smallest!r}").runs()


def test_nb301_feasibility_is_sampled_and_says_so():
    with pytest.raises(NasreproError, match=r"none of 2,000 uniformly drawn cells of nb301 \(sampled"):
        ExperimentSpec(("nb301",), ("rs",), (0,), Budget(5), constraint="flops_m<=0.1").runs()
    assert ExperimentSpec(("nb301",), ("rs",), (0,), Budget(5), constraint="flops_m<=1e6").runs()
