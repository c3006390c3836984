import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.analysis import collect
from suite.cli import main
from suite.reporting import leaderboard
from suite.running.store import Store

# Incumbent final metric after each of 6 queries, per benchmark and method (seed r adds r / 100).
# b1: y leads at 2 queries, x at 4 and 6. b2: x and y tie for first everywhere, z last.
CURVES = {
    "b1": {"x": [1, 1, 3, 3, 5, 5], "y": [2, 2, 2, 2, 4, 4], "z": [0, 0, 0, 0, 0, 0]},
    "b2": {"x": [3] * 6, "y": [3] * 6, "z": [2] * 6},
}


def _write_run(
    store: Store, benchmark: str, method: str, repeat: int, finals, predictor=None, config=None, release=None
) -> str:
    spec = {
        **(release or {}),
        "benchmark": benchmark,
        "oracle": f"{benchmark}-table",
        "method": method,
        "method_config": config or {"k": 1},
        "repeat": repeat,
        "budget": {"queries": len(finals), "seconds": None},
        "experiment_seed": 0,
        "predictor": predictor,
        "constraint": None,
    }
    run_id = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]
    finals = np.asarray(finals, dtype=float) + repeat / 100
    steps = np.arange(1, len(finals) + 1)
    frame = pd.DataFrame(
        {
            "step": steps,
            "arch_key": [f"c{s}" for s in steps],
            "value": finals,
            "cost": 0.0,
            "cum_cost": 0.0,
            "feasible": True,
            "incumbent_key": [f"c{f}" for f in finals],
            "incumbent_value": finals,
            "incumbent_final": finals,
            "regret": 10 - finals,
            "incumbent_top_fraction": np.nan,
        }
    )
    meta = {
        "spec": {"run_id": run_id, **spec},
        "benchmark": {
            "name": benchmark,
            "oracle": spec["oracle"],
            "search_metric": "v",
            "final_metric": "t",
            "optimum": 10.0,
            "space_size": None,
            "data_sha256": {"f": "0" * 64},
        },
        "n_queries": len(finals),
        "wall_time_s": 0.1,
        "finished_at": "2026-01-01T00:00:00+00:00",
        "versions": {"nasrepro": "0"},
        "host": {"python": "3.11"},
        "seed": {"entropy": 0, "spawn_key": [repeat]},
    }
    store.write(run_id, frame, meta)
    return run_id


@pytest.fixture
def store(tmp_path) -> Path:
    s = Store(tmp_path / "store")
    for benchmark, methods in CURVES.items():
        for method, curve in methods.items():
            for repeat in range(3):
                _write_run(s, benchmark, method, repeat, curve)
    return s.root


def test_each_benchmark_counts_once_at_its_primary_budget(store):
    board = leaderboard.build(collect.load([store]))
    assert board.budgets == {"b1": [6], "b2": [6]} and board.primary == {"b1": 6, "b2": 6}
    overall = board.overall.set_index("method")
    # At 6 queries: b1 ranks x 1, y 2, z 3; b2: x and y share 1.5, z 3.
    assert overall["avg_rank"].to_dict() == pytest.approx({"x": 1.25, "y": 1.75, "z": 3.0})
    # a tie for first is no win, and with 3 seeds no pairwise test can separate x from y on b1
    assert overall["wins"].to_dict() == {"x": 0, "y": 0, "z": 0}
    assert list(board.overall["method"]) == ["x", "y", "z"]
    assert (overall["benchmarks"] == 2).all()
    # Every seed keeps the order on both benchmarks (the seed offset is shared), so any resample of the
    # every seed gives the same ranks, but the interval also resamples the benchmarks (b1, b2: two spaces)
    assert overall["rank_ci_low"].to_dict() == pytest.approx({"x": 1.0, "y": 1.5, "z": 3.0})
    assert overall["rank_ci_high"].to_dict() == pytest.approx({"x": 1.5, "y": 2.0, "z": 3.0})


def test_rank_interval_widens_when_seeds_disagree_and_friedman_matches_scikit_posthocs(tmp_path):
    import scikit_posthocs as sp
    from scipy import stats as st

    s = Store(tmp_path / "s")
    # On b1 seed 0 favours y, seeds 1-2 favour x: resampling seeds can flip x and y there.
    for repeat, (x, y) in enumerate([(1, 3), (5, 2), (5, 2)]):
        _write_run(s, "b1", "x", repeat, [x - repeat / 100])
        _write_run(s, "b1", "y", repeat, [y - repeat / 100])
        _write_run(s, "b1", "z", repeat, [0])
    for b, scores in {"b2": (3, 2, 1), "b3": (1, 3, 2)}.items():
        for repeat in range(3):
            for method, value in zip("xyz", scores, strict=True):
                _write_run(s, b, method, repeat, [value])
    board = leaderboard.build(collect.load([s.root]))
    x = board.overall.set_index("method").loc["x"]
    # x ranks 1, 1, 3; resamples that draw seed 0 twice put y first on b1: x then averages (2 + 1 + 3) / 3.
    # x ranks 1, 1, 3 (mean 5/3); the interval also resamples the three spaces: all-b3 draws give 3, all-b2
    # or b1 draws with seed 0 favoured give 1 or 2
    assert x["avg_rank"] == pytest.approx(5 / 3) and x["rank_ci_low"] == pytest.approx(1.0)
    assert x["rank_ci_high"] == pytest.approx(3.0)
    table = board.omnibus.scores
    expected = st.friedmanchisquare(*(table[c] for c in table.columns))
    assert board.omnibus.statistic == pytest.approx(expected.statistic)
    assert board.omnibus.p == pytest.approx(_permutation_p(table.rank(axis=1, ascending=False).to_numpy()))
    nemenyi = sp.posthoc_nemenyi_friedman(table.to_numpy())
    assert board.omnibus.posthoc.to_numpy() == pytest.approx(nemenyi.to_numpy())


def _permutation_p(ranks: np.ndarray) -> float:
    """Friedman's permutation p by listing every within-block ordering (itertools), scipy's statistic."""
    from scipy import stats as st

    observed = st.friedmanchisquare(*ranks.T).statistic
    values = [
        st.friedmanchisquare(*np.array(choice).T).statistic
        for choice in itertools.product(*(list(itertools.permutations(r)) for r in ranks))
    ]
    return float(np.mean(np.asarray(values) >= observed - 1e-9))


def test_each_search_space_counts_once_and_wins_need_the_pairwise_verdict(tmp_path):
    s = Store(tmp_path / "s")
    # nb201's three datasets (one space) favour x; nb101 and nb301 favour y. By benchmark x would lead 3 to 2;
    # by space y leads 2 to 1. On nb101 y leads x by 0.001 on every seed but ties on most: no win.
    for repeat in range(8):
        for dataset in ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16"):
            _write_run(s, dataset, "x", repeat, [5 + repeat])
            _write_run(s, dataset, "y", repeat, [4 + repeat])
        _write_run(s, "nb301", "x", repeat, [4 + repeat])
        _write_run(s, "nb301", "y", repeat, [5 + repeat])
        _write_run(s, "nb101", "x", repeat, [4 + repeat])
        _write_run(s, "nb101", "y", repeat, [4 + repeat + (0.001 if repeat == 0 else 0)])
    board = leaderboard.build(collect.load([s.root]))
    overall = board.overall.set_index("method")
    assert overall["avg_rank"].to_dict() == pytest.approx({"x": 5 / 3, "y": 4 / 3})
    assert overall.loc["x", "wins"] == 3 and overall.loc["y", "wins"] == 1  # not nb101: one seed of eight
    assert board.omnibus.ranks.shape == (3, 2) and board.pairs["family"].nunique() == 1
    assert set(board.pairs["benchmark"]) == {"nb101", "nb301", "nb201-cifar10", "nb201-cifar100", "nb201-imagenet16"}


def test_cli_writes_csv_markdown_and_html(store, tmp_path, capsys):
    out = tmp_path / "board"
    assert main(["leaderboard", str(store), "--out", str(out)]) == 0
    table = pd.read_csv(out / "leaderboard.csv")
    assert list(table.columns) == ["method", "avg_rank", "rank_ci_low", "rank_ci_high", "wins", "benchmarks"]
    assert len(table) == 3
    assert len(pd.read_csv(out / "scores.csv")) == 6
    text = (out / "leaderboard.md").read_text()
    assert "| 1 | x | 1.25 | 1.00–1.50 | 0 | 2 |" in text and "| 6 | primary | 5.01 ± 0.01 (1) |" in text
    page = (out / "leaderboard.html").read_text()
    assert page.count("<table>") == 3 and "<td>x</td>" in page and (out / "cd_diagram.png").is_file()


def test_chosen_budgets_skip_those_beyond_a_benchmark_and_reject_none_reached(store, tmp_path, capsys):
    board = leaderboard.build(collect.load([store]), budgets=[2, 4, 100])
    assert board.budgets == {"b1": [2, 4], "b2": [2, 4]} and board.primary == {"b1": 4, "b2": 4}
    endpoints = board.scores.groupby("budget")["endpoint"].unique().to_dict()
    assert {b: list(e) for b, e in endpoints.items()} == {2: ["exploratory"], 4: ["primary"]}
    assert main(["leaderboard", str(store), "--out", str(tmp_path / "b"), "--budgets", "100"]) == 2
    assert main(["leaderboard", str(store), "--out", str(tmp_path / "b"), "--budgets", "ten"]) == 2
    assert "--budgets takes positive integers" in capsys.readouterr().err


def test_several_stores_combine_and_a_run_in_two_stores_counts_once(store, tmp_path):
    other = Store(tmp_path / "other")
    _write_run(other, "b3", "x", 0, [1, 2, 3])
    _write_run(other, "b1", "x", 0, CURVES["b1"]["x"])  # the same run as in `store`
    _write_run(other, "b1", "x", 0, CURVES["b1"]["x"] + [6, 6], config={"k": 1})  # same search, longer budget
    results = collect.load([store, other.root])
    assert len(results.runs) == 18 + 1
    kept = results.runs[(results.runs["benchmark"] == "b1") & (results.runs["method"] == "x")]
    assert len(kept) == 3 and kept["n_queries"].max() == 8  # the longer copy of seed 0 is the one kept
    board = leaderboard.build(results)
    assert board.overall.set_index("method").loc["x", "benchmarks"] == 3


def test_labels_keep_predictors_and_settings_apart(tmp_path):
    s = Store(tmp_path / "s")
    _write_run(s, "b1", "bo", 0, [1, 2], predictor="gp")
    _write_run(s, "b1", "bo", 0, [1, 3], predictor="xgb")
    _write_run(s, "b1", "re", 0, [1, 2], config={"k": 1})
    _write_run(s, "b1", "re", 0, [1, 2], config={"k": 2})
    labels = sorted(collect.load([s.root]).runs["method"])
    assert labels[:2] == ["bo+gp", "bo+xgb"]
    assert labels[2].startswith("re#") and labels[3].startswith("re#") and labels[2] != labels[3]


def test_runs_of_two_releases_are_two_methods_not_one_sample(tmp_path):
    s = Store(tmp_path / "s")
    for repeat in range(3):
        _write_run(s, "b1", "hill", repeat, [1, 2], release={"method_version": 1,
                                                              "method_distribution": "nasrepro-hill==0.1.0"})
        _write_run(s, "b1", "hill", repeat, [1, 5], release={"method_version": 1,
                                                              "method_distribution": "nasrepro-hill==0.2.0"})
        _write_run(s, "b1", "ganas", repeat, [1, 2], release={"method_version": 2})
        _write_run(s, "b1", "ganas", repeat, [1, 3], release={"method_version": 3})
        _write_run(s, "b1", "re", repeat, [1, 2], release={"method_version": 1})
    runs = collect.load([s.root]).runs
    assert runs["method"].value_counts().to_dict() == {
        "hill@nasrepro-hill==0.1.0": 3, "hill@nasrepro-hill==0.2.0": 3, "ganas@v2": 3, "ganas@v3": 3, "re": 3}
    assert len(runs) == 15  # no seed of one release dropped as a duplicate of the other's


def test_each_benchmark_draws_its_own_bootstrap_resample_of_the_seeds(tmp_path):
    """s-b is s-a with the methods' results swapped seed by seed, two datasets of one space (so resampling
    the spaces changes nothing). One resample of the seeds used for both benchmarks (a generator seeded again
    per benchmark) would rank x on s-b exactly as y on s-a in every draw: every average rank would be 1.5 and
    the interval a point. Independent draws give an interval."""
    s = Store(tmp_path / "store")
    rng = np.random.default_rng(7)
    u, v = rng.normal(size=20), rng.normal(size=20)
    for repeat in range(20):
        for benchmark, (x, y) in {"s-a": (u, v), "s-b": (v, u)}.items():
            _write_run(s, benchmark, "x", repeat, [x[repeat]] * 3)
            _write_run(s, benchmark, "y", repeat, [y[repeat]] * 3)
    overall = leaderboard.build(collect.load([s.root])).overall.set_index("method")
    assert overall["avg_rank"].to_dict() == {"x": 1.5, "y": 1.5}
    assert (overall["rank_ci_low"] < 1.5).all() and (overall["rank_ci_high"] > 1.5).all()
