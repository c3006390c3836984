import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite import registry
from suite.benchmarks.nb201_space import str_to_arch
from suite.errors import NasreproError
from suite.running.runner import execute, run_experiment
from suite.running.spec import Budget, ExperimentSpec, parse_seeds
from suite.running.store import Store


def one_run(method="re", repeat=0, benchmark="nb201-cifar10", **budget):
    budget = Budget(**{"queries": 150, **budget})
    return ExperimentSpec((benchmark,), (method,), (repeat,), budget).runs()[0]


def test_same_seed_gives_a_bit_identical_trajectory_and_different_seeds_differ():
    first, _ = execute(one_run(repeat=3))
    again, _ = execute(one_run(repeat=3))
    other, _ = execute(one_run(repeat=4))
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    assert list(first["arch_key"]) != list(other["arch_key"])


def test_seed_i_shares_its_initial_random_cells_across_methods():
    rs, _ = execute(one_run("rs", repeat=5))
    re, _ = execute(one_run("re", repeat=5))
    initial = one_run("re").method_config["initial_random"]
    assert list(rs["arch_key"][:initial]) == list(re["arch_key"][:initial])
    assert list(rs["arch_key"]) != list(re["arch_key"])


@pytest.mark.parametrize("method", ["rs", "re"])
def test_the_query_budget_is_spent_exactly_on_distinct_cells(method):
    trajectory, meta = execute(one_run(method, queries=300))
    assert len(trajectory) == 300 == meta["n_queries"]
    assert trajectory["arch_key"].is_unique
    assert list(trajectory["step"]) == list(range(1, 301))


def test_a_budget_in_seconds_is_never_exceeded():
    trajectory, _ = execute(one_run("rs", queries=1000, seconds=50_000.0))
    assert 0 < len(trajectory) < 1000
    assert trajectory["cum_cost"].iloc[-1] <= 50_000.0
    assert np.allclose(trajectory["cost"].cumsum(), trajectory["cum_cost"])


def test_incumbent_is_selected_by_validation_and_reported_by_test(nb201_c10):
    trajectory, _ = execute(one_run("rs", repeat=1))
    assert (trajectory["incumbent_value"] == trajectory["value"].cummax()).all()
    best = trajectory.loc[trajectory["value"].idxmax()]
    last = trajectory.iloc[-1]
    assert last["incumbent_key"] == best["arch_key"]
    assert last["incumbent_final"] == nb201_c10.final(str_to_arch(best["arch_key"]))["test_acc"]
    assert last["regret"] == pytest.approx(nb201_c10.optimum - last["incumbent_final"])


def test_constrained_runs_keep_a_feasible_incumbent(nb201_c10):
    run = ExperimentSpec(("nb201-cifar10",), ("re",), (0,), Budget(150), constraint="flops_m<=50").runs()[0]
    trajectory, _ = execute(run)
    assert not trajectory["feasible"].all()
    for key in set(trajectory["incumbent_key"]) - {""}:
        assert nb201_c10.final(str_to_arch(key))["flops_m"] <= 50


def test_run_ids_depend_on_every_setting():
    base = one_run()
    assert base.run_id == one_run().run_id
    changed = [
        one_run(repeat=1), one_run(method="rs"), one_run(queries=151), one_run(benchmark="nb201-cifar100"),
        dataclasses.replace(base, method_config={**base.method_config, "sample_size": 5}),
        dataclasses.replace(base, experiment_seed=1),
    ]
    assert len({r.run_id for r in changed} | {base.run_id}) == len(changed) + 1


def hash_of_fields(fields: dict) -> str:
    """The run id as it was computed before RunSpec had predictor_version and the distribution fields (the
    stores' ids)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:20]


def test_predictor_versions_enter_run_ids_from_version_2_and_leave_earlier_ids_alone(nb201_c10):

    plain = one_run()
    with_xgb = ExperimentSpec(("nb201-cifar10",), ("ganas",), (0,), Budget(150), predictor="xgb").runs()[0]
    assert registry.predictor("xgb").version == 1
    for run in (plain, with_xgb):
        assert run.predictor_version is None
        fields = dataclasses.asdict(run)
        for later in ("predictor_version", "method_distribution", "predictor_distribution"):  # None: not hashed
            assert fields.pop(later) is None
        assert run.run_id == hash_of_fields(fields)
    with_mlp = ExperimentSpec(("nb201-cifar10",), ("rs",), (0,), Budget(150), predictor="mlp_ensemble").runs()[0]
    assert with_mlp.predictor_version == registry.predictor("mlp_ensemble").version > 1
    assert with_mlp.run_id != dataclasses.replace(with_mlp, predictor_version=None).run_id
    # a stored run of an earlier version of the predictor cannot be recomputed as if it were this one
    with pytest.raises(NasreproError, match="version 1 of predictor mlp_ensemble, this is version 2"):
        execute(dataclasses.replace(with_mlp, predictor_version=None))


def test_rerunning_an_experiment_skips_finished_runs(tmp_path):
    runs = ExperimentSpec(("nb201-cifar10",), ("rs", "re"), (0, 1), Budget(20)).runs()
    store = Store(tmp_path)
    first = run_experiment(runs, store, progress=False)
    second = run_experiment(runs, store, progress=False)
    assert len(first.stored) == 4 and not first.skipped
    assert not second.stored and len(second.skipped) == 4


def test_parallel_workers_store_the_same_runs_as_one_process(tmp_path):
    runs = ExperimentSpec(("nb201-cifar10",), ("rs", "re"), (0, 1), Budget(30)).runs()
    serial, parallel = Store(tmp_path / "serial"), Store(tmp_path / "parallel")
    run_experiment(runs, serial, progress=False)
    run_experiment(runs, parallel, workers=2, progress=False)
    assert serial.run_ids() == parallel.run_ids()
    for run_id in serial.run_ids():
        pd.testing.assert_frame_equal(serial.trajectory(run_id), parallel.trajectory(run_id), check_exact=True)


def _partial(store, name, pid, host=None):
    # named by its writer, as Store.write names it
    path = store.runs_dir / f".partial-{name}-{pid}@{host or socket.gethostname()}"
    path.mkdir(parents=True)
    return path


def test_partial_writes_of_a_dead_writer_are_discarded_a_live_ones_kept_and_neither_read(tmp_path):
    store = Store(tmp_path)
    run = one_run(queries=10)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = _partial(store, f"{run.run_id}-deadbeef", int(gone.stdout))
    alive = _partial(store, f"{run.run_id}-0000live", os.getpid())
    elsewhere = _partial(store, f"{run.run_id}-0ther0st", int(gone.stdout), host="another-host.example")
    unnamed = store.runs_dir / f".partial-{run.run_id}-unnamed0"
    unnamed.mkdir()  # an older version's or one made by hand: no writer of this version makes such a name
    assert store.run_ids() == [] and store.damaged() == {}
    run_experiment([run], store, progress=False)
    assert store.run_ids() == [run.run_id]
    assert not dead.exists() and alive.exists() and elsewhere.exists() and not unnamed.exists()


# A writer that dies the instant its temp directory exists: the window a lock file written after mkdir left open.
_KILLED_AFTER_MKDIR = """
import os, signal, sys
from pathlib import Path
import pandas as pd
from suite.running.store import Store
mkdir = Path.mkdir
def mkdir_then_die(self, *args, **kwargs):
    mkdir(self, *args, **kwargs)
    if self.name.startswith(".partial-"):
        os.kill(os.getpid(), signal.SIGKILL)
Path.mkdir = mkdir_then_die
Store(sys.argv[1]).write(sys.argv[2], pd.DataFrame(), {})
"""


def test_a_writer_killed_right_after_creating_its_temp_directory_leaves_one_the_next_run_removes(tmp_path):
    store = Store(tmp_path)
    run = one_run(queries=10)
    child = subprocess.Popen([sys.executable, "-c", _KILLED_AFTER_MKDIR, str(tmp_path), run.run_id],
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert child.wait(timeout=60) == -9
    left = [p for p in store.runs_dir.iterdir() if p.name.startswith(".partial-")]
    assert len(left) == 1 and not any(left[0].iterdir())  # killed before writing a single file
    run_experiment([run], store, progress=False)
    assert store.run_ids() == [run.run_id] and not left[0].exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"benchmarks": ("nb999",)}, "unknown benchmark"),
        ({"methods": ("nope",)}, "unknown method"),
        ({"budget": Budget(20_000)}, "exceeds"),
        ({"benchmarks": ("nb201-cifar100",), "budget": Budget(10, 100.0)}, "no training times"),
        ({"constraint": "params<=3"}, "exposes"),
        ({"constraint": "flops_m=3"}, "cannot read constraint"),
        ({"method_settings": {"re": {"sample_size": "100"}}}, "sample_size"),
        ({"method_settings": {"re": {"colour": "red"}}}, "no setting"),
    ],
)
def test_bad_experiments_are_refused_before_running(kwargs, message):
    spec = {"benchmarks": ("nb201-cifar10",), "methods": ("re",), "repeats": (0,), "budget": Budget(10), **kwargs}
    with pytest.raises(NasreproError, match=message):
        ExperimentSpec(**spec).runs()


def test_a_predictor_is_refused_for_a_method_that_would_ignore_it(monkeypatch):
    # every built-in method now uses a run predictor, so a stand-in that ignores it
    entry = dataclasses.replace(registry.method("re"), name="re-blind", uses_predictor=False)
    builtin = registry.method
    monkeypatch.setattr(registry, "method", lambda name: entry if name == entry.name else builtin(name))
    spec = ExperimentSpec(("nb201-cifar10",), ("re", "re-blind"), (0,), Budget(10), predictor="xgb")
    with pytest.raises(NasreproError, match="not used by re-blind"):
        spec.runs()


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(NasreproError):
        Budget(bad)


def test_seed_lists():
    assert parse_seeds("0-3,7") == (0, 1, 2, 3, 7)
    for bad in ["", "a", "3-1", "1-"]:
        with pytest.raises(NasreproError):
            parse_seeds(bad)


def test_a_run_its_worker_stored_before_being_lost_counts_as_stored_not_failed(tmp_path, monkeypatch):
    from suite.running import runner

    store_it = runner._execute_and_store

    def stored_then_lost(run, root):  # as a worker killed between writing the run and reporting it
        store_it(run, root)
        raise RuntimeError("worker lost")

    monkeypatch.setattr(runner, "_execute_and_store", stored_then_lost)
    run = one_run(queries=10)
    outcome = run_experiment([run], Store(tmp_path), progress=False)
    assert outcome.stored == [run.run_id] and not outcome.failed


def test_a_run_lost_with_its_worker_before_it_was_stored_is_failed_and_named(tmp_path, monkeypatch):
    from suite.running import runner

    def lost(run, root):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(runner, "_execute_and_store", lost)
    run = one_run(queries=10)
    outcome = run_experiment([run], Store(tmp_path), progress=False)
    assert list(outcome.failed) == [run.run_id] and "RuntimeError: worker lost" in outcome.failed[run.run_id]


@pytest.mark.parametrize("order", ["as found", "reversed"])
def test_a_later_cell_of_equal_search_metric_does_not_replace_the_incumbent(nb201_c10, order):
    """NB201 has cells of equal validation accuracy and different test accuracy: the first one found stays
    the incumbent (`>` not `>=`), or the reported final would depend on the order of equally good cells."""
    from suite.benchmarks.nb201_space import arch_to_str
    from suite.running.runner import _Trajectory

    table = nb201_c10.table
    ties = table.groupby(nb201_c10.search_metric).filter(lambda g: g[nb201_c10.dataset.final_column].nunique() > 1)
    first, second = (str_to_arch(s) for s in ties.sort_values(nb201_c10.search_metric)["arch_str"].iloc[:2])
    assert nb201_c10.query(first).value == nb201_c10.query(second).value
    if order == "reversed":
        first, second = second, first
    assert nb201_c10.final(first)["test_acc"] != nb201_c10.final(second)["test_acc"]
    trajectory = _Trajectory(nb201_c10, None)
    for arch in (first, second):
        trajectory.add(arch, arch_to_str(arch), nb201_c10.query(arch))
    frame = trajectory.frame()
    assert frame["incumbent_key"].tolist() == [arch_to_str(first)] * 2
    assert frame["incumbent_final"].tolist() == [nb201_c10.final(first)["test_acc"]] * 2
