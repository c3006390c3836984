import hashlib
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
    store: Store, benchmark: str, method: str, repeat: int, finals, predictor=None, config=None
) -> str:
    spec = {
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
    assert overall["wins"].to_dict() == {"x": 2, "y": 1, "z": 0}  # a tie for first is a win for each
    assert list(board.overall["method"]) == ["x", "y", "z"]
    assert (overall["benchmarks"] == 2).all()
    # Every seed keeps the order on both benchmarks (the seed offset is shared), so any resample of the
    # seeds gives the same ranks: the bootstrap interval is the point.
    assert overall["rank_ci_low"].to_dict() == pytest.approx(overall["avg_rank"].to_dict())
    assert overall["rank_ci_high"].to_dict() == pytest.approx(overall["avg_rank"].to_dict())


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
    assert (x["rank_ci_low"], x["avg_rank"], x["rank_ci_high"]) == pytest.approx((5 / 3, 5 / 3, 2.0))
    table = board.omnibus.scores
    expected = st.friedmanchisquare(*(table[c] for c in table.columns))
    assert board.omnibus.p == pytest.approx(expected.pvalue)
    nemenyi = sp.posthoc_nemenyi_friedman(table.to_numpy())
    assert board.omnibus.posthoc.to_numpy() == pytest.approx(nemenyi.to_numpy())


def test_cli_writes_csv_markdown_and_html(store, tmp_path, capsys):
    out = tmp_path / "board"
    assert main(["leaderboard", str(store), "--out", str(out)]) == 0
    table = pd.read_csv(out / "leaderboard.csv")
    assert list(table.columns) == ["method", "avg_rank", "rank_ci_low", "rank_ci_high", "wins", "benchmarks"]
    assert len(table) == 3
    assert len(pd.read_csv(out / "scores.csv")) == 6
    text = (out / "leaderboard.md").read_text()
    assert "| 1 | x | 1.25 | 1.25–1.25 | 2 | 2 |" in text and "| 6 | primary | 5.01 ± 0.01 (1) |" in text
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
