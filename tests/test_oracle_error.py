"""Verdicts under the oracle's own error (suite.analysis.oracle_error) and the top-of-range CV scores
(suite.benchmarks.nb101_topcv), checked against scipy and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from suite.analysis import oracle_error
from suite.benchmarks import nb101_topcv as topcv


# ---------------------------------------------------------------------------------------------- scores
def _brute_tau(y, p, w):
    num = dy = dp = 0.0
    for i, j in itertools.combinations(range(len(y)), 2):
        ww = w[i] * w[j]
        num += ww * np.sign(y[i] - y[j]) * np.sign(p[i] - p[j])
        dy += ww * (y[i] != y[j])
        dp += ww * (p[i] != p[j])
    return num / np.sqrt(dy * dp)


def test_weighted_tau_is_scipys_tau_b_with_equal_weights_and_brute_force_otherwise():
    rng = np.random.default_rng(0)
    y = np.round(rng.normal(size=300), 1)  # ties in y, as real accuracies have
    p = y + rng.normal(size=300)
    assert topcv.weighted_tau(y, p, np.ones(300), chunk=64) == pytest.approx(stats.kendalltau(y, p).statistic)
    w = rng.uniform(0.1, 5.0, 80)
    assert topcv.weighted_tau(y[:80], p[:80], w) == pytest.approx(_brute_tau(y[:80], p[:80], w))


def test_recall_counts_the_best_real_cells_among_the_best_predicted():
    y = np.arange(100.0)
    p = y.copy()
    p[-10:] = -p[-10:]  # the 10 best are predicted worst
    assert topcv.recall_at(y, p, 50) == 40
    assert topcv.recall_at(y, y, 50) == 50


def test_group_folds_keep_groups_whole_and_balance_cells():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 300, 5000)
    folds = topcv.group_folds(groups, 5, seed=3)
    for g in np.unique(groups):
        assert len(set(folds[groups == g])) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= np.bincount(groups).max()
    assert not np.array_equal(folds, topcv.group_folds(groups, 5, seed=4))  # selection and report differ


def test_band_errors_are_weighted_means_per_band():
    y = np.array([89.0, 91.0, 91.5, 93.2, 94.1])
    p = y + np.array([1.0, -0.5, 0.5, 0.2, -0.1])
    w = np.array([1.0, 1.0, 3.0, 1.0, 2.0])
    bands = {b["lo"]: b for b in topcv.band_errors(y, p, w)}
    assert bands[90.0]["bias"] == pytest.approx((-0.5 + 3 * 0.5) / 4)
    assert bands[90.0]["rmse"] == pytest.approx(np.sqrt((0.25 + 3 * 0.25) / 4))
    assert bands[94.0]["mae"] == pytest.approx(0.1)


# ---------------------------------------------------------------------------------------------- verdicts
def _runs(shift_main: float, member_shifts: list[float], n: int = 12, noise: float = 0.3, seed: int = 0):
    """Two methods on n paired seeds; B = A + shift under the main oracle, + shift_k under member k."""
    rng = np.random.default_rng(seed)
    base = 93.0 + rng.normal(0, noise, n)
    rows, metas = [], {}
    for method, shift in (("a", 0.0), ("b", shift_main)):
        for i in range(n):
            run_id, key = f"{method}{i}", f"cell-{method}{i}"
            final = base[i] + shift + rng.normal(0, 0.01)
            rows.append({"run_id": run_id, "benchmark": "nb101", "oracle": "o", "method": method, "budget": 150,
                         "experiment_seed": 1, "repeat": i, "incumbent_key": key, "incumbent_final": final})
            member = [final + (s - shift if method == "b" else 0.0) + rng.normal(0, 0.01) for s in member_shifts]
            metas[run_id] = {"oracle_members": {"incumbent_key": key, "final": member, "top_error": 0.01}}
    return pd.DataFrame(rows), metas


def test_a_verdict_every_member_shares_holds():
    finals, metas = _runs(0.5, [0.5, 0.45, 0.55, 0.5, 0.5])
    row = oracle_error.verdicts(finals, metas, {"nb101": 150}).iloc[0]
    assert row["main_better"] == "b" and row["holds"] and row["members_agreeing"] == 5
    text = oracle_error.sentence(row)
    assert "b better than a" in text
    # the shift is quoted winner minus loser: b - a, positive here (a - b would read as a loss for the winner)
    assert row["member_shift_high"] < 0 and "b minus a under the widened members +" in text


def test_a_verdict_the_members_do_not_share_does_not_hold():
    finals, metas = _runs(0.5, [0.5, -0.5, -0.4, 0.5, -0.5])
    row = oracle_error.verdicts(finals, metas, {"nb101": 150}).iloc[0]
    assert row["main_better"] == "b" and not row["holds"]
    # the count, by scipy's exact signed-rank test on each member's paired differences (one pair: no Holm)
    wide = finals.merge(oracle_error.member_finals(finals, metas), on="run_id")
    agree = 0
    for k in range(5):
        a = wide[wide["method"] == "a"].sort_values("repeat")[f"member_{k}"].to_numpy()
        b = wide[wide["method"] == "b"].sort_values("repeat")[f"member_{k}"].to_numpy()
        spread, factor = oracle_error.widening(wide[[f"member_{j}" for j in range(5)]].to_numpy(), 0.01)
        assert factor == 1.0  # the members are already wider than the stated error
        agree += stats.wilcoxon(b, a, method="exact").pvalue < 0.05 and np.median(b - a) > 0
    assert row["members_agreeing"] == agree == 2
    assert "not distinguishable on this oracle" in oracle_error.sentence(row)


def test_widening_brings_the_member_spread_up_to_the_error_at_the_top():
    rng = np.random.default_rng(2)
    members = 93 + rng.normal(0, 0.05, (40, 5))
    spread, factor = oracle_error.widening(members, 0.3)
    assert spread == pytest.approx(np.sqrt(np.mean(members.var(axis=1, ddof=1))))
    assert factor == pytest.approx(0.3 / spread)
    centred = members - members.mean(axis=1, keepdims=True)
    assert oracle_error.widening(93 + factor * centred, 0.3)[0] == pytest.approx(0.3)


def test_narrow_members_are_widened_until_a_small_difference_no_longer_holds():
    finals, metas = _runs(0.05, [0.05] * 5, noise=0.01)  # members agree, but the oracle's error is 0.3
    for meta in metas.values():
        meta["oracle_members"]["top_error"] = 0.3
    row = oracle_error.verdicts(finals, metas, {"nb101": 150}).iloc[0]
    assert row["widening"] > 5 and not row["holds"]


def test_runs_reported_before_their_last_incumbent_carry_no_member_values():
    finals, metas = _runs(0.5, [0.5] * 5)
    finals.loc[0, "incumbent_key"] = "an earlier incumbent"
    assert len(oracle_error.member_finals(finals, metas)) == len(finals) - 1
    assert oracle_error.verdicts(finals.iloc[:0], metas, {"nb101": 150}).empty


# ---------------------------------------------------------------------------------------------- run records
def test_a_run_records_its_final_incumbent_under_every_member():
    from suite import benchmarks
    from suite.running.runner import execute
    from suite.running.spec import Budget, ExperimentSpec

    run = ExperimentSpec(("nb301",), ("rs",), (0,), Budget(4), experiment_seed=5).runs()[0]
    frame, meta = execute(run)
    record = meta["oracle_members"]
    bench = benchmarks.get("nb301")
    best = frame.loc[frame["value"].idxmax()]
    assert record["incumbent_key"] == frame["incumbent_key"].iloc[-1] == best["arch_key"]
    assert record["metric"] == "valid_acc" and len(record["final"]) == 5
    assert record["top_error"] == bench.oracle_top_error > 0
    # members are YAHPO plus shifts that average out over the labelled cells: close to the oracle's value
    assert np.all(np.abs(np.array(record["final"]) - frame["incumbent_final"].iloc[-1]) < 1.0)


def test_verify_checks_the_recorded_member_values(tmp_path):
    import json

    from suite.running import verify
    from suite.running.runner import run_experiment
    from suite.running.spec import Budget, ExperimentSpec
    from suite.running.store import Store

    store = Store(tmp_path / "store")
    runs = ExperimentSpec(("nb301",), ("rs",), (0,), Budget(3), experiment_seed=6).runs()
    run_experiment(runs, store, progress=False)
    assert verify.verify(store.root).ok
    path = store.runs_dir / runs[0].run_id / "meta.json"
    meta = json.loads(path.read_text())
    meta["oracle_members"]["final"][2] += 0.5
    path.write_text(json.dumps(meta))
    result = verify.verify(store.root)
    assert "oracle members differ" in result.differing[runs[0].run_id]
