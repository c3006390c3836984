import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from suite.analysis import stats


def _finals(values, regrets=None, tops=None, keys=None, method="a", benchmark="b1", budget=10):
    n = len(values)
    return pd.DataFrame(
        {
            "benchmark": benchmark,
            "oracle": "o",
            "method": method,
            "budget": budget,
            "repeat": range(n),
            "incumbent_final": values,
            "regret": regrets if regrets is not None else [100 - v for v in values],
            "incumbent_top_fraction": tops if tops is not None else [np.nan] * n,
            "incumbent_key": keys if keys is not None else [f"k{i}" for i in range(n)],
        }
    )


def _run(run_id, regrets, benchmark="b1", method="a", costs=None):
    n = len(regrets)
    costs = costs if costs is not None else [0.0] * n
    return pd.DataFrame(
        {
            "run_id": run_id,
            "benchmark": benchmark,
            "oracle": "o",
            "method": method,
            "repeat": 0,
            "step": np.arange(1, n + 1),
            "regret": regrets,
            "cost": costs,
            "cum_cost": np.cumsum(costs),
            "incumbent_final": [100 - r for r in regrets],
        }
    )


VALUES = [93.1, 94.2, 93.7, 92.9, 94.0, 93.3, 93.9]


def test_distribution_statistics_match_numpy_and_scipy():
    row = stats.reproducibility(_finals(VALUES)).iloc[0]
    x = np.array(VALUES)
    assert row["n"] == 7
    assert row["final_mean"] == pytest.approx(x.mean())
    assert row["final_std"] == pytest.approx(x.std(ddof=1))
    assert row["final_median"] == pytest.approx(np.median(x))
    assert row["final_iqr"] == pytest.approx(st.iqr(x))
    assert (row["final_min"], row["final_max"]) == (x.min(), x.max())
    assert row["regret_mean"] == pytest.approx(100 - x.mean())
    direct = st.bootstrap(
        (x,),
        np.mean,
        confidence_level=0.95,
        n_resamples=stats.N_RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert (row["final_ci_low"], row["final_ci_high"]) == pytest.approx((direct.low, direct.high))
    assert row["final_ci_low"] < x.mean() < row["final_ci_high"]


def test_bootstrap_is_seeded_and_handles_degenerate_samples():
    assert stats.bootstrap_ci(VALUES, seed=3) == stats.bootstrap_ci(VALUES, seed=3)
    assert stats.bootstrap_ci(VALUES, seed=3) != stats.bootstrap_ci(VALUES, seed=4)
    assert stats.bootstrap_ci([94.37] * 10) == (94.37, 94.37)  # every seed found the same cell
    assert all(math.isnan(v) for v in stats.bootstrap_ci([94.0]))


def test_success_rates_rank_percentile_and_distinct_cells():
    finals = _finals(
        [94.37, 94.37, 94.0, 93.0],
        regrets=[0.0, 0.0, 0.37, 1.37],
        tops=[0.0, 0.0, 0.0009, 0.01],
        keys=["best", "best", "c", "d"],
    )
    row = stats.reproducibility(finals).iloc[0]
    assert row["p_optimum"] == 0.5
    assert row["p_top"] == 0.75  # 0.0009 < 0.001 counts, 0.01 does not
    assert row["top_pct_median"] == pytest.approx(100 * np.median([0, 0, 0.0009, 0.01]))
    assert row["distinct_incumbents"] == 3


def test_without_an_enumerable_space_or_optimum_the_rates_are_unknown_not_zero():
    finals = _finals([90.0, 91.0], regrets=[np.nan, np.nan])
    row = stats.reproducibility(finals).iloc[0]
    assert math.isnan(row["p_optimum"]) and math.isnan(row["p_top"]) and math.isnan(row["top_pct_median"])
    assert math.isnan(row["regret_mean"]) and row["final_mean"] == 90.5


def test_queries_to_target_and_art_count_unsuccessful_runs_with_their_whole_budget():
    trajectories = pd.concat(
        [
            _run("r1", [2, 1, 0.05, 0, 0, 0, 0, 0, 0, 0]),  # reaches regret <= 0.1 at query 3
            _run("r2", [2, 2, 2, 2, 0.1, 0, 0, 0, 0, 0]),  # at query 5 (0.1 is within the target)
            _run("r3", [3] * 10),  # never: spends all 10 queries
            _run("r4", [3] * 12 + [0]),  # would reach it at 13, beyond the budget of 10: a failure
        ]
    )
    per_run = stats.queries_to_target(trajectories, 0.1, {"b1": 10}).set_index("run_id")
    assert per_run["hit"].tolist()[:2] == [3, 5] and per_run["hit"].iloc[2:].isna().all()
    assert per_run["evaluations"].tolist() == [3, 5, 10, 10]
    assert stats.expected_running_time(per_run["hit"], per_run["evaluations"]) == (3 + 5 + 10 + 10) / 2
    table, _ = stats.target_table(trajectories, {"b1": 10}, {"near": 0.1, "optimum": 0.0, "never": -1.0})
    by_target = table.set_index("target")
    assert by_target.loc["near", "successes"] == 2 and by_target.loc["near", "aRT"] == 14.0
    assert by_target.loc["optimum", "aRT"] == (4 + 6 + 10 + 10) / 2
    assert by_target.loc["never", "aRT"] == math.inf and by_target.loc["never", "success_rate"] == 0
    assert list(table["target"]) == ["near", "optimum", "never"]  # in the order the targets were given


def test_success_is_monotone_an_incumbent_that_leaves_the_target_does_not_count():
    trajectories = pd.concat(
        [
            _run("touch", [2, 0.05, 0.05, 1.1, 1.1, 1.1]),  # touched regret <= 0.1 at 2, ends at 1.1: a failure
            _run("back", [2, 0.05, 1.1, 0.0, 0.0, 0.0]),  # met from query 4 on for good: hit at 4, not 2
            _run("first", [0.0] * 6),  # met from the start
        ]
    )
    per_run = stats.queries_to_target(trajectories, 0.1, {"b1": 6}).set_index("run_id")
    assert np.isnan(per_run.loc["touch", "hit"]) and per_run.loc["touch", "evaluations"] == 6
    assert per_run.loc["back", "hit"] == 4 and per_run.loc["first", "hit"] == 1
    # at a budget of 3 the "touch" run is a success (its incumbent at 3 meets the target) and "back" is not
    early = stats.queries_to_target(trajectories, 0.1, {"b1": 3}).set_index("run_id")
    assert early.loc["touch", "hit"] == 2 and np.isnan(early.loc["back", "hit"])


def test_success_rates_carry_clopper_pearson_intervals_as_statsmodels_computes_them():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 10), (3, 10), (10, 10), (1, 1), (17, 30)]:
        assert stats.clopper_pearson(k, n) == pytest.approx(proportion_confint(k, n, method="beta"))
    assert all(np.isnan(stats.clopper_pearson(0, 0)))
    table, _ = stats.target_table(pd.concat([_run("r1", [0.0] * 3), _run("r2", [1.0] * 3)]), {"b1": 3}, {"t": 0.1})
    row = table.iloc[0]
    assert (row["success_ci_low"], row["success_ci_high"]) == pytest.approx(proportion_confint(1, 2, method="beta"))


def test_ecdf_counts_every_run_and_ends_at_the_success_rate():
    steps, share = stats.ecdf(pd.Series([3.0, 5.0, np.nan, np.nan]), 10)
    assert steps[0] == 1 and steps[-1] == 10
    assert share[1] == 0 and share[2] == 0.25 and share[4] == 0.5 and share[-1] == 0.5


def test_budgets_per_benchmark_and_at_each_budget_the_state_of_each_run():
    trajectories = pd.concat(
        [
            _run("r1", [3, 2, 1, 0]),
            _run("r2", [5, 4, 3, 2, 1, 0], benchmark="b2"),
            _run("r3", [5, 4, 3, 2, 1], benchmark="b2"),
        ]
    )
    assert stats.common_budgets(trajectories) == {"b1": 4, "b2": 5}
    assert stats.common_budgets(trajectories, timed={"b2"}) == {"b1": 4, "b2": 6}  # each run to its end
    assert stats.budget_levels(150) == [50, 100, 150]
    finals = stats.at_budgets(trajectories, {"b1": [2, 4], "b2": [5]})
    got = {(r.run_id, r.budget): r.regret for r in finals.itertuples()}
    assert got == {("r1", 2): 2, ("r1", 4): 0, ("r2", 5): 1, ("r3", 5): 1}


def test_time_curves_take_each_runs_incumbent_at_each_time():
    trajectories = pd.concat(
        [
            _run("r1", [4, 2, 1, 0], costs=[10, 10, 10, 10]),
            _run("r2", [6, 3, 3, 3], costs=[20, 20, 20, 20]),
        ]
    )
    assert stats.has_cost(trajectories) == {"b1": True}
    curve = stats.time_curves(trajectories, points=5)
    assert (
        curve["seconds"].iloc[0] == 20 and curve["seconds"].iloc[-1] == 40
    )  # all runs started .. first stop
    first, last = curve.iloc[0], curve.iloc[-1]
    assert first["median"] == np.median([2, 6]) and last["median"] == np.median([0, 3])
    assert stats.time_curves(_run("r3", [1, 0])).empty  # no cost: no time axis


def test_diagnostics_are_averaged_per_method_and_keep_the_largest_seed():
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "benchmark": ["nb"] * 3, "method": ["ganas", "ganas", "rs"]})
    metas = {
        "a": {"diagnostics": {"share_temperature_above_1": 0.1, "max_temperature": 2.0}},
        "b": {"diagnostics": {"share_temperature_above_1": 0.3, "max_temperature": 8.0}},
        "c": {"diagnostics": {}},
    }
    table = stats.diagnostics(runs, metas).set_index("diagnostic")
    assert list(table["method"]) == ["ganas", "ganas"]
    assert table.loc["share_temperature_above_1", "mean"] == pytest.approx(0.2)
    assert table.loc["share_temperature_above_1", "n"] == 2
    assert table.loc["max_temperature", "max"] == 8.0
    assert stats.diagnostics(runs.iloc[2:], metas).empty
