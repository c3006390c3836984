import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.cli import main
from suite.running import verify
from suite.running.runner import run_experiment
from suite.running.spec import Budget, ExperimentSpec
from suite.running.store import CHECKSUM, META, TRAJECTORY, Store

SPEC = ExperimentSpec(("nb201-cifar10",), ("rs", "re"), (0, 1), Budget(40))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    assert not run_experiment(SPEC.runs(), Store(root), progress=False).failed
    return root


@pytest.fixture
def store(pristine, tmp_path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(pristine, copy)
    return copy


def rewrite(path: Path, frame: pd.DataFrame) -> None:
    """A different trajectory under a consistent checksum, as another machine or version would store it:
    the store's own check passes, so only rerunning can tell."""
    frame.to_parquet(path, index=False)
    meta_path = path.with_name(META)
    meta = json.loads(meta_path.read_text())
    meta[CHECKSUM] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))


def test_an_intact_store_verifies_bit_for_bit(store, capsys):
    assert main(["verify", str(store)]) == 0
    assert "4 of 4 rerun runs bit-identical" in capsys.readouterr().out
    record = json.loads((store / verify.VERIFY_FILE).read_text())
    assert record["ok"] and record["checked"] == 4 and record["stored_runs"] == 4
    assert sorted(record["identical"]) == Store(store).run_ids()


def test_an_altered_trajectory_fails_and_is_named(store, capsys):
    victim = Store(store).run_ids()[1]
    path = store / "runs" / victim / TRAJECTORY
    frame = pd.read_parquet(path)
    frame.loc[17, "value"] = np.nextafter(
        frame.loc[17, "value"], np.inf
    )  # one ulp: invisible to ==-with-tolerance
    rewrite(path, frame)
    assert main(["verify", str(store)]) == 1
    err = capsys.readouterr().err
    assert f"differs: {victim}: column 'value' first differs at step 18" in err
    record = json.loads((store / verify.VERIFY_FILE).read_text())
    assert not record["ok"] and list(record["differing"]) == [victim] and len(record["identical"]) == 3


def test_a_shortened_trajectory_fails(store, capsys):
    victim = Store(store).run_ids()[0]
    path = store / "runs" / victim / TRAJECTORY
    rewrite(path, pd.read_parquet(path).iloc[:-1])
    assert main(["verify", str(store)]) == 1
    assert "40 rerun" in capsys.readouterr().err


def test_an_altered_spec_no_longer_matches_its_run_id(store, capsys):
    victim = Store(store).run_ids()[2]
    meta_path = store / "runs" / victim / META
    meta = json.loads(meta_path.read_text())
    meta["spec"]["budget"]["queries"] = 39
    meta_path.write_text(json.dumps(meta))
    assert main(["verify", str(store)]) == 1
    assert f"could not rerun: {victim}: stored spec hashes to" in capsys.readouterr().err


def test_a_sample_is_drawn_reproducibly(store):
    first = verify.verify(store, sample=2, seed=5)
    again = verify.verify(store, sample=2, seed=5)
    assert first.checked == 2 and first.identical == again.identical and first.ok
    assert verify.verify(store, sample=10).checked == 4  # a sample larger than the store is the whole store


def test_bad_arguments_exit_2(store, tmp_path, capsys):
    assert main(["verify", str(tmp_path / "none")]) == 2
    assert main(["verify", str(store), "--sample", "0"]) == 2
    assert "--sample must be at least 1" in capsys.readouterr().err


def test_difference_compares_bits_not_values():
    a = pd.DataFrame({"step": [1, 2], "x": [0.0, np.nan], "k": ["a", "b"]})
    assert verify.difference(a, a.copy()) is None
    assert "column 'x' first differs at step 1" in verify.difference(a, a.assign(x=[-0.0, np.nan]))
    assert "column 'k'" in verify.difference(a, a.assign(k=["a", "c"]))
