import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite import collect, leaderboard
from suite.cli import main
from suite.store import Store

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


def test_average_ranks_and_wins_over_benchmarks_and_budgets(store):
    board = leaderboard.build(collect.load([store]))
    assert board.budgets == {"b1": [2, 4, 6], "b2": [2, 4, 6]}
    overall = board.overall.set_index("method")
    # b1 ranks per budget 2/4/6: x 2,1,1; y 1,2,2; z 3,3,3. b2: x and y share 1.5, z 3.
    assert overall.loc["x", "avg_rank"] == pytest.approx((2 + 1 + 1 + 1.5 * 3) / 6)
    assert overall.loc["y", "avg_rank"] == pytest.approx((1 + 2 + 2 + 1.5 * 3) / 6)
    assert overall.loc["z", "avg_rank"] == pytest.approx(3.0)
    assert overall["wins"].to_dict() == {"x": 5, "y": 4, "z": 0}  # a tie for first is a win for each
    assert list(board.overall["method"]) == ["x", "y", "z"]
    assert (overall["cells"] == 6).all() and (overall["benchmarks"] == 2).all()
    cell = board.scores.set_index(["benchmark", "budget", "method"]).loc[("b1", 4, "x")]
    assert cell["n"] == 3 and cell["mean"] == pytest.approx(3.01) and cell["rank"] == 1


def test_cli_writes_csv_markdown_and_html(store, tmp_path, capsys):
    out = tmp_path / "board"
    assert main(["leaderboard", str(store), "--out", str(out)]) == 0
    table = pd.read_csv(out / "leaderboard.csv")
    assert list(table.columns) == ["method", "avg_rank", "wins", "cells", "benchmarks"] and len(table) == 3
    assert len(pd.read_csv(out / "scores.csv")) == 18
    text = (out / "leaderboard.md").read_text()
    assert "| 1 | x | 1.42 | 5 | 6 | 2 |" in text and "| 4 | 3.01 ± 0.01 (1) | 2.01 ± 0.01 (2) |" in text
    page = (out / "leaderboard.html").read_text()
    assert page.count("<table>") == 3 and "<td>x</td>" in page


def test_chosen_budgets_skip_those_beyond_a_benchmark_and_reject_none_reached(store, tmp_path, capsys):
    board = leaderboard.build(collect.load([store]), budgets=[4, 100])
    assert board.budgets == {"b1": [4], "b2": [4]}
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
