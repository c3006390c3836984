"""NB201 surrogate oracles (the NB101 pipeline where the truth is known) and the fidelity comparison (issue 19)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from suite import benchmarks, cli, data
from suite.analysis import fidelity
from suite.benchmarks import nb201, nb201_space, nb201_surrogate, surrogate_fit
from suite.errors import NasreproError
from suite.reporting import fidelity as fidelity_report
from suite.running.spec import Budget, ExperimentSpec


# ---------------------------------------------------------------------------------------------- the subset
def test_the_training_cells_are_a_seeded_draw_of_the_stated_size_nested_across_fractions():
    rows = {f: nb201_surrogate.training_rows(f) for f in nb201_surrogate.FRACTIONS}
    for fraction, share in nb201_surrogate.FRACTIONS.items():
        assert len(rows[fraction]) == round(share * 15_625) == len(np.unique(rows[fraction]))
        assert np.array_equal(rows[fraction], nb201_surrogate.training_rows(fraction))  # deterministic
        assert rows[fraction].min() >= 0 and rows[fraction].max() < 15_625
    assert set(rows["2pct"]) < set(rows["5pct"]) < set(rows["20pct"])
    other = nb201_surrogate.training_rows("5pct", seed=nb201_surrogate.SUBSET_SEED + 1)
    assert not np.array_equal(other, rows["5pct"])
    permutation = np.random.default_rng(nb201_surrogate.SUBSET_SEED).permutation(15_625)  # the rule, restated
    assert np.array_equal(rows["5pct"], np.sort(permutation[:781]))


def test_an_unknown_fraction_is_one_clear_error():
    with pytest.raises(NasreproError, match=r"unknown NB201 surrogate fraction '7pct'; known: 2pct, 5pct, 20pct"):
        nb201_surrogate.training_rows("7pct")
    with pytest.raises(NasreproError, match="unknown NB201 surrogate fraction"):
        nb201_surrogate.Nb201Surrogate(nb201.DATASETS["cifar10"], fraction="7pct")


def test_an_unknown_oracle_is_one_line_naming_the_known_ones_exit_2(capsys, tmp_path):
    code = cli.main(["run", "--benchmark", "nb201-cifar10", "--oracle", "nb201-surrogate-7pct", "--method", "rs",
                     "--seeds", "0", "--budget", "5", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "nb201-surrogate-7pct" in err
    for known in ("nb201-tabular", "nb201-surrogate-2pct", "nb201-surrogate-5pct", "nb201-surrogate-20pct"):
        assert known in err
    assert not (tmp_path / "out").exists()


def test_the_own_oracle_by_name_is_the_default_benchmark():
    # the registry's own instance (another test may have cleared its cache since a session fixture was built)
    assert benchmarks.get("nb201-cifar10", "nb201-tabular") is benchmarks.get("nb201-cifar10")
    assert benchmarks.oracles("nb201-cifar10") == (
        "nb201-tabular", *(f"nb201-surrogate-{f}" for f in ("2pct", "5pct", "20pct")))
    assert isinstance(benchmarks.get("nb201-cifar10", "nb201-surrogate-5pct"), nb201_surrogate.Nb201Surrogate)


# ---------------------------------------------------------------------------------------------- the oracle
@pytest.fixture(scope="module")
def surrogate_5pct(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NASREPRO_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield nb201_surrogate.Nb201Surrogate(nb201.DATASETS["cifar10"], fraction="5pct")


def test_the_surrogate_is_close_to_the_truth_on_its_training_cells_and_further_off_elsewhere(surrogate_5pct,
                                                                                            nb201_c10):
    cells = [nb201_space.str_to_arch(s) for s in nb201_c10.table["arch_str"]]
    rows = surrogate_5pct.train_rows
    assert np.array_equal(rows, nb201_surrogate.training_rows("5pct"))
    held = np.setdiff1d(np.arange(len(cells)), rows)
    for name, real, predicted in (
        ("valid", lambda c: nb201_c10.query(c).value, lambda c: surrogate_5pct.query(c).value),
        ("test", lambda c: nb201_c10.final(c)["test_acc"], lambda c: surrogate_5pct.final(c)["test_acc_surrogate"]),
    ):
        error = np.array([predicted(c) - real(c) for c in cells])
        assert np.abs(error[rows]).mean() < 0.2, name  # fitted: within a fifth of a point on average
        assert np.quantile(np.abs(error[rows]), 0.95) < 0.6, name
        assert np.abs(error[held]).mean() > 3 * np.abs(error[rows]).mean(), name  # held out: no memory to lean on
    assert surrogate_5pct.oracle == "nb201-surrogate-5pct"
    assert surrogate_5pct.final_values[-1] == surrogate_5pct.optimum


@pytest.mark.slow  # a second fit (~10 s)
def test_the_predictions_are_cached_with_their_training_cells_and_refit_bit_for_bit(surrogate_5pct, tmp_path,
                                                                                    monkeypatch):
    key = nb201_surrogate.cache_key(surrogate_5pct.dataset, "5pct", surrogate_5pct.config)
    with np.load(data.cache_dir() / f"nb201_surrogate_{key}.npz") as cached:
        assert np.array_equal(cached["train_rows"], nb201_surrogate.training_rows("5pct"))
        assert np.array_equal(cached["test_acc"], surrogate_5pct._final)
    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path))  # an empty cache: fitted again
    again = nb201_surrogate.Nb201Surrogate(nb201.DATASETS["cifar10"], fraction="5pct")
    assert np.array_equal(again._final, surrogate_5pct._final)
    assert again._valid_200 == surrogate_5pct._valid_200


def test_the_features_count_paths_as_the_per_cell_path_encoding_does(nb201_c10):
    """The batch features of NB201 cells against predictors.encodings' per-cell path encoding (an independent
    walk over each cell's graph): the same set of paths, where `none` carries no signal."""
    from predictors import encodings

    space = encodings.cell_space(nb201_c10.space)
    path = encodings.PathEncoding(nb201_c10.space, space)
    rng = np.random.default_rng(0)
    cells = [nb201_c10.space.sample(rng) for _ in range(200)] + [(0,) * 6, (1,) * 6, (3, 0, 0, 0, 0, 3)]
    X = nb201_surrogate.features(np.array(cells))
    assert X.shape == (len(cells), 28 + 6 * 4 + 85 + 10)
    counts = X[:, 28 + 24 : 28 + 24 + 85]
    # PathEncoding orders paths first op most significant over the same 4 ops: the same vocabulary and order
    assert np.array_equal(counts > 0, path.encode(cells) > 0)


def test_the_shared_fit_is_the_pipeline_the_nb101_surrogate_uses():
    from suite.benchmarks import nb101_surrogate

    assert nb101_surrogate.TRANSFORMS[nb101_surrogate.TARGET] == (surrogate_fit.acc_forward,
                                                                  surrogate_fit.acc_inverse)
    acc = np.array([10.0, 90.0, 94.5])
    assert np.allclose(surrogate_fit.acc_inverse(surrogate_fit.acc_forward(acc)), acc)


def test_a_surrogate_run_is_blind_and_records_its_oracle(surrogate_5pct, monkeypatch):
    # the module's surrogate (fitted in its own cache) stands in for the registry's
    monkeypatch.setitem(benchmarks._BUILT, ("nb201-cifar10", "nb201-surrogate-5pct"), surrogate_5pct)
    try:
        runs = ExperimentSpec(("nb201-cifar10",), ("re",), (0,), Budget(20), oracle="nb201-surrogate-5pct").runs()
        from suite.running.runner import execute, search_context

        assert runs[0].oracle == "nb201-surrogate-5pct"
        assert search_context(runs[0], surrogate_5pct).space is surrogate_5pct.space
        frame, meta = execute(runs[0])
        assert meta["benchmark"]["oracle"] == "nb201-surrogate-5pct"
        assert meta["benchmark"]["final_metric"] == "test_acc_surrogate"
        last = frame.iloc[-1]
        assert last["incumbent_final"] == surrogate_5pct.final(nb201_space.str_to_arch(last["incumbent_key"]))[
            "test_acc_surrogate"]
    finally:
        benchmarks._BUILT.pop(("nb201-cifar10", "nb201-surrogate-5pct"), None)


# ---------------------------------------------------------------------------------------------- the comparison
SEEDS = 8


def _finals(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """(oracle, method) -> per-seed final metric; keys name cells 'oracle/method/seed'."""
    rows = []
    for (oracle, method), finals in values.items():
        for seed, value in enumerate(finals):
            rows.append({"benchmark": "b", "oracle": oracle, "method": method, "experiment_seed": 1,
                         "repeat": seed, "budget": 10, "incumbent_key": f"{oracle}/{method}/{seed}",
                         "incumbent_final": value})
    return pd.DataFrame(rows)


def _steps(base: float, step: float) -> list[float]:
    return [base + step * (1 + 0.1 * i) for i in range(SEEDS)]  # distinct differences: no ties in the ranks


# real table: A beats B and C on every seed (exact signed-rank p = 2/256, Holm x3 < 0.05); B vs C mixed
REAL = {("real", "A"): _steps(94, 1), ("real", "B"): [93.0] * SEEDS,
        ("real", "C"): [93.0 + (0.5 if i % 2 else -0.5) * (1 + 0.1 * i) for i in range(SEEDS)]}
# surrogate s: A beats B (same winner), C beats A (opposite), C beats B (decided where the real table is not)
SURROGATE = {("s", "A"): _steps(93, 1), ("s", "B"): _steps(90, 1), ("s", "C"): _steps(96, 1)}
# surrogate t: A beats B and C (same winners), B beats C (decided where the real table is not)
SURROGATE_B_OVER_C = {("t", "A"): _steps(93, 1), ("t", "B"): _steps(92, 0.1), ("t", "C"): [91.0] * SEEDS}


def _truth(shift: dict[str, float]):
    """The real value of a final cell: the reported one (the key names it) plus a per-oracle shift."""
    def lookup(name: str, keys: pd.Series) -> np.ndarray:
        assert name == "b"
        reported = {f"{o}/{m}/{s}": v for (o, m), vs in {**REAL, **SURROGATE, **SURROGATE_B_OVER_C}.items()
                    for s, v in enumerate(vs)}
        return np.array([reported[k] + shift[k.split("/")[0]] for k in keys])

    return lookup


def _brute_verdicts(values: dict[tuple[str, str], list[float]], oracle: str) -> dict[tuple[str, str], str]:
    """Winner of each pair where every seed agrees (then the exact p is 2/2^8 and Holm over 3 pairs < 0.05)."""
    out = {}
    for a, b in itertools.combinations("ABC", 2):
        diff = np.subtract(values[(oracle, a)], values[(oracle, b)])
        out[(a, b)] = a if (diff > 0).all() else b if (diff < 0).all() else fidelity.UNDECIDED
    return out


SHIFT = {"real": 0.0, "s": -1.0, "t": 0.5}


@pytest.fixture(scope="module")
def found() -> fidelity.Fidelity:
    return fidelity.compute(_finals({**REAL, **SURROGATE, **SURROGATE_B_OVER_C}), _truth(SHIFT), reference="real")


def test_the_agreement_counts_match_the_verdicts_worked_out_by_hand(found):
    real = _brute_verdicts(REAL, "real")
    assert real == {("A", "B"): "A", ("A", "C"): "A", ("B", "C"): fidelity.UNDECIDED}
    for oracle, values in (("s", SURROGATE), ("t", SURROGATE_B_OVER_C)):
        mine = _brute_verdicts(values, oracle)
        expected = {label: 0 for label in fidelity.AGREEMENT}
        for pair, winner in mine.items():
            expected[fidelity.agreement(real[pair], winner)] += 1
        verdicts = found.verdicts[(found.verdicts["oracle"] == oracle) & (found.verdicts["measure"] == "reported")]
        assert dict(zip(zip(verdicts["method_a"], verdicts["method_b"], strict=True), verdicts["verdict"],
                        strict=True)) == mine
        row = found.agreement.set_index(["oracle", "measure"]).loc[(oracle, "reported")]
        assert {label: row[label] for label in fidelity.AGREEMENT} == expected
        assert row["pairs"] == 3
    # by hand: s -> A>B same winner, C>A opposite, C>B one undecided; t -> A>B, A>C same, B>C one undecided
    s = found.agreement.set_index(["oracle", "measure"]).loc[("s", "reported")]
    assert (s["same winner"], s["both undecided"], s["opposite"], s["one undecided"]) == (1, 0, 1, 1)
    t = found.agreement.set_index(["oracle", "measure"]).loc[("t", "reported")]
    assert (t["same winner"], t["both undecided"], t["opposite"], t["one undecided"]) == (2, 0, 0, 1)


def test_scores_gaps_and_rank_correlation_by_brute_force(found):
    shift = SHIFT
    scores = found.scores.set_index(["oracle", "method"])
    for (oracle, method), values in {**REAL, **SURROGATE, **SURROGATE_B_OVER_C}.items():
        row = scores.loc[(oracle, method)]
        assert row["n"] == SEEDS
        assert row["reported"] == pytest.approx(np.mean(values))
        assert row["real"] == pytest.approx(np.mean(values) + shift[oracle])
        assert row["gap"] == pytest.approx(-shift[oracle])
        assert row["real_vs_reference"] == pytest.approx(np.mean(values) + shift[oracle] - np.mean(REAL[("real",
                                                                                                         method)]))
    reference = [np.mean(REAL[("real", m)]) for m in "ABC"]
    for oracle, values in (("s", SURROGATE), ("t", SURROGATE_B_OVER_C)):
        mine = [np.mean(values[(oracle, m)]) for m in "ABC"]
        concordant = discordant = 0
        for i, j in itertools.combinations(range(3), 2):
            sign = np.sign(reference[i] - reference[j]) * np.sign(mine[i] - mine[j])
            concordant += sign > 0
            discordant += sign < 0
        ranks = found.ranks.set_index(["oracle", "measure"]).loc[(oracle, "reported")]
        assert ranks["discordant"] == discordant
        ties_x = sum(reference[i] == reference[j] for i, j in itertools.combinations(range(3), 2))
        ties_y = sum(mine[i] == mine[j] for i, j in itertools.combinations(range(3), 2))
        tau_b = (concordant - discordant) / np.sqrt((3 - ties_x) * (3 - ties_y))
        assert ranks["kendall_tau"] == pytest.approx(tau_b)
        assert ranks["kendall_tau"] == pytest.approx(st.kendalltau(reference, mine).statistic)


def test_a_surrogate_without_the_reference_is_refused():
    with pytest.raises(NasreproError, match="no runs on the reference oracle real"):
        fidelity.compute(_finals(SURROGATE), _truth({"s": 0.0}), reference="real")


def test_the_report_renders_every_section(found, tmp_path):
    quality = pd.DataFrame([{"benchmark": "b", "oracle": "s", "training_cells": 3, "search_tau_heldout": 0.5,
                             "final_tau_heldout": 0.6, "final_tau_top10_heldout": 0.2, "final_mae_heldout": 1.0,
                             "final_mae_training": 0.1, "optimum_reported": 94.0, "optimum_real": 94.4}])
    training = pd.DataFrame({"oracle": ["s"], "subset_seed": [1], "index": [0], "arch_str": ["x"]})
    path = fidelity_report.write(found, fidelity.Surrogates(quality, training), tmp_path, "T")
    text = path.read_text()
    assert "b, s: reported figures differ from the real value of the same cells by +1.00 to +1.00" in text
    assert "| A vs C | A | C | C | A | A |" in text  # real table, s reported, s real, t reported, t real
    for name in ("scores.csv", "verdicts.csv", "agreement.csv", "oracles.csv", "training_cells.csv", "report.html"):
        assert (tmp_path / name).is_file()


@pytest.mark.slow  # two fits of the 5% surrogate's models and 12 short runs (~30 s)
def test_the_fidelity_command_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path / "cache"))
    benchmarks.get.cache_clear()
    try:
        store, out = tmp_path / "runs", tmp_path / "report"
        for oracle in ("nb201-tabular", "nb201-surrogate-5pct"):
            assert cli.main(["run", "--benchmark", "nb201-cifar10", "--oracle", oracle, "--method", "rs,re",
                             "--seeds", "0-2", "--budget", "15", "--out", str(store), "--quiet"]) == 0
        assert cli.main(["fidelity", str(store), "--out", str(out), "--oracle", "nb201-surrogate-2pct"]) == 2
        assert "no runs on nb201-surrogate-2pct" in capsys.readouterr().err
        assert cli.main(["fidelity", str(store), "--out", str(out)]) == 0
        scores = pd.read_csv(out / "scores.csv")
        assert set(scores["oracle"]) == {"nb201-tabular", "nb201-surrogate-5pct"} and set(scores["n"]) == {3}
        reference = scores[scores["oracle"] == "nb201-tabular"]
        assert np.allclose(reference["reported"], reference["real"])  # the real table reports the truth
        training = pd.read_csv(out / "training_cells.csv")
        five = training[training["oracle"] == "nb201-surrogate-5pct"]
        assert np.array_equal(five["index"], nb201_surrogate.training_rows("5pct"))
        assert "nb201-cifar10, nb201-surrogate-5pct: reported figures differ" in (out / "report.md").read_text()
    finally:
        benchmarks.get.cache_clear()


def test_sample_weights_reach_the_booster_as_repeated_rows():
    # NB101's test model weights each real cell by its multiplicity; a weight of k must act as k copies of the
    # row (exactly, with no row or column subsampling), and differ from the unweighted fit.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = X[:, 0] * 2 + rng.normal(size=200) * 0.1
    w = rng.integers(1, 4, size=200).astype(np.float32)
    settings = surrogate_fit.XgbConfig(xgb_rounds=30, xgb_depth=3, xgb_eta=0.3, xgb_subsample=1.0,
                                       xgb_colsample=1.0, xgb_min_child_weight=1.0)
    weighted = surrogate_fit.booster(X, y, settings, 0, w).inplace_predict(X)
    copies = np.repeat(np.arange(len(X)), w.astype(int))
    np.testing.assert_array_equal(weighted, surrogate_fit.booster(X[copies], y[copies], settings, 0).inplace_predict(X))
    assert not np.array_equal(weighted, surrogate_fit.booster(X, y, settings, 0).inplace_predict(X))
