"""How far a surrogate benchmark's figures and verdicts are from the truth, where the truth is known (issue 19).

The same methods and seeds run on a benchmark's real table (the reference oracle) and on surrogates of it
(`nb201_surrogate`). Per surrogate and method: the mean final metric the surrogate reports, and the mean real
value of the cells its runs ended on (looked up in the real table by the incumbent's key); their difference is
what a surrogate benchmark's reported figure is off by. Per pair of methods, the verdict (`significance.pairwise`:
the winner where Holm's p < 0.05, else undecided) on the surrogate beside the verdict on the real table, on two
measures: the reported metric, and the real value of the surrogate runs' final cells. Per surrogate, Kendall's
tau (tau-b, scipy) between the methods' order by mean on the surrogate and by mean on the real table.

Reads stored runs and a lookup of real values; never reruns a search.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as st

from suite.analysis import significance
from suite.errors import NasreproError

REFERENCE = "nb201-tabular"
# What each surrogate is judged on: the figure it reports, and the truth about the same runs.
MEASURES: dict[str, str] = {"reported": "incumbent_final", "real": "real_final"}
UNDECIDED = "undecided"
AGREEMENT = ("same winner", "both undecided", "opposite", "one undecided")

# benchmark name, incumbent keys -> the real final metric of those cells
Truth = Callable[[str, pd.Series], np.ndarray]


@dataclass(frozen=True)
class Fidelity:
    reference: str
    budgets: Mapping[str, int]  # benchmark -> the budget compared (every run reached it)
    scores: pd.DataFrame  # benchmark, oracle, method, n, reported, reported_sd, real, real_sd, gap, real_vs_reference
    verdicts: pd.DataFrame  # benchmark, oracle, measure, method_a, method_b, reference_verdict, verdict, agreement
    agreement: pd.DataFrame  # benchmark, oracle, measure, pairs and one column per AGREEMENT
    ranks: pd.DataFrame  # benchmark, oracle, measure, methods, kendall_tau, discordant, pairs
    runs: int
    seeds: Mapping[int, tuple[int, ...]]  # experiment seed -> the repeats run

    @property
    def surrogates(self) -> list[str]:
        return sorted(set(self.scores["oracle"]) - {self.reference}, key=_oracle_order)


def _oracle_order(oracle: str) -> tuple[float, str]:
    digits = "".join(ch for ch in oracle.rsplit("-", 1)[-1] if ch.isdigit())
    return (float(digits) if digits else np.inf, oracle)


def verdict(better: str) -> str:
    return better if better else UNDECIDED


def agreement(reference: str, other: str) -> str:
    """How two verdicts on one pair relate (each a winner's name or UNDECIDED)."""
    if reference == UNDECIDED and other == UNDECIDED:
        return "both undecided"
    if UNDECIDED in (reference, other):
        return "one undecided"
    return "same winner" if reference == other else "opposite"


def compute(finals: pd.DataFrame, truth: Truth, reference: str = REFERENCE) -> Fidelity:
    """`finals`: one row per run at its benchmark's compared budget (`stats.at_budgets`: benchmark, oracle,
    method, experiment_seed, repeat, budget, incumbent_key, incumbent_final)."""
    finals = finals.copy()
    finals["real_final"] = np.nan
    for name, rows in finals.groupby("benchmark"):
        finals.loc[rows.index, "real_final"] = truth(str(name), rows["incumbent_key"])
    missing = sorted(set(finals["benchmark"]) - set(finals.loc[finals["oracle"] == reference, "benchmark"]))
    if missing:
        raise NasreproError(f"no runs on the reference oracle {reference} for {', '.join(missing)}: nothing to "
                            "compare the surrogates with")
    budgets = finals.groupby("benchmark")["budget"].first().to_dict()
    pairs = pd.concat([
        # one Holm family per benchmark and oracle: each surrogate judged as its own benchmark would be
        significance.pairwise(rows, column=column).assign(measure=measure)
        for measure, column in MEASURES.items()
        for _, rows in finals.groupby(["benchmark", "oracle"])
    ], ignore_index=True)
    seeds = {int(seed): tuple(sorted({int(r) for r in rows["repeat"]})) for seed, rows in
             finals.groupby("experiment_seed")}
    return Fidelity(reference, budgets, _scores(finals, reference), *_verdicts(pairs, reference),
                    _ranks(finals, reference), len(finals), seeds)


def _scores(finals: pd.DataFrame, reference: str) -> pd.DataFrame:
    grouped = finals.groupby(["benchmark", "oracle", "method"])
    scores = grouped.agg(n=("incumbent_final", "count"), reported=("incumbent_final", "mean"),
                         reported_sd=("incumbent_final", "std"), real=("real_final", "mean"),
                         real_sd=("real_final", "std")).reset_index()
    scores["gap"] = grouped.apply(lambda g: (g["incumbent_final"] - g["real_final"]).mean(),
                                  include_groups=False).to_numpy()
    on_reference = scores[scores["oracle"] == reference].set_index(["benchmark", "method"])["real"]
    scores["real_vs_reference"] = scores["real"].to_numpy() - on_reference.reindex(
        pd.MultiIndex.from_frame(scores[["benchmark", "method"]])).to_numpy()
    return scores


def _verdicts(pairs: pd.DataFrame, reference: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    pairs = pairs.assign(verdict=pairs["better"].map(verdict))
    keys = ["benchmark", "method_a", "method_b"]
    truth = pairs[(pairs["oracle"] == reference) & (pairs["measure"] == "reported")]
    others = pairs[pairs["oracle"] != reference]
    table = others.merge(truth[[*keys, "verdict"]].rename(columns={"verdict": "reference_verdict"}), on=keys)
    table["agreement"] = [agreement(r, o) for r, o in zip(table["reference_verdict"], table["verdict"], strict=True)]
    table = table[["benchmark", "oracle", "measure", "method_a", "method_b", "reference_verdict", "verdict",
                   "agreement"]].reset_index(drop=True)
    counts = (table.groupby(["benchmark", "oracle", "measure"])["agreement"].value_counts().unstack(fill_value=0)
              .reindex(columns=list(AGREEMENT), fill_value=0))
    counts.insert(0, "pairs", counts.sum(axis=1))
    counts.columns.name = None
    return table, counts.reset_index()


def _ranks(finals: pd.DataFrame, reference: str) -> pd.DataFrame:
    rows = []
    means = {measure: finals.groupby(["benchmark", "oracle", "method"])[column].mean()
             for measure, column in MEASURES.items()}
    for (name, oracle), _ in finals[finals["oracle"] != reference].groupby(["benchmark", "oracle"]):
        truth = means["reported"].loc[(name, reference)]
        for measure, values in means.items():
            mine = values.loc[(name, oracle)]
            common = sorted(set(mine.index) & set(truth.index))
            x, y = truth.reindex(common).to_numpy(), mine.reindex(common).to_numpy()
            discordant = sum(
                (x[i] - x[j]) * (y[i] - y[j]) < 0 for i, j in itertools.combinations(range(len(common)), 2)
            )
            tau = st.kendalltau(x, y).statistic if len(common) > 1 else np.nan
            rows.append({"benchmark": name, "oracle": oracle, "measure": measure, "methods": len(common),
                         "kendall_tau": float(tau), "discordant": int(discordant),
                         "pairs": len(common) * (len(common) - 1) // 2})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- from stores
def _reference_bench(name: str):
    from suite import benchmarks
    from suite.benchmarks import nb201

    bench = benchmarks.get(name, REFERENCE)
    if not isinstance(bench, nb201.Nb201):
        raise NasreproError(f"{name}: the truth is known on NAS-Bench-201's real table only, not on {bench.oracle}")
    return bench


def _cells(bench) -> list[tuple[int, ...]]:
    from suite.benchmarks import nb201_space

    return [nb201_space.str_to_arch(text) for text in bench.table["arch_str"]]


def truth(name: str, keys: pd.Series) -> np.ndarray:
    """The real final metric (NB201's table) of the cells named by `keys` (`benchmark.key`)."""
    bench = _reference_bench(name)
    real = {bench.key(arch): bench.final(arch)[bench.final_metric] for arch in _cells(bench)}
    unknown = sorted(set(keys) - set(real))
    if unknown:
        raise NasreproError(f"{name}: {len(unknown)} final cells are not in the real table, e.g. {unknown[0]!r}")
    return keys.map(real).to_numpy(dtype=float)


def load(store_dirs, benchmarks: list[str] | None = None, oracles: list[str] | None = None) -> Fidelity:
    """The comparison over the runs of the stores (only `benchmarks` and the surrogate `oracles`, if given),
    each benchmark at the budget all its runs reached."""
    from suite.analysis import collect, stats

    results = collect.load(list(store_dirs), benchmarks)
    trajectories = results.trajectories
    if oracles is not None:
        absent = sorted(set(oracles) - set(results.runs["oracle"]))
        if absent:
            raise NasreproError(f"no runs on {', '.join(absent)} in {', '.join(map(str, store_dirs))}")
        keep = results.runs.loc[results.runs["oracle"].isin([REFERENCE, *oracles]), "run_id"]
        trajectories = trajectories[trajectories["run_id"].isin(keep)]
    budgets = stats.common_budgets(trajectories, results.timed)
    finals = stats.at_budgets(trajectories, {name: [n] for name, n in budgets.items()})
    return compute(finals, truth)


@dataclass(frozen=True)
class Surrogates:
    """The surrogate oracles themselves: their quality cell by cell, and the cells they were fitted on."""

    quality: pd.DataFrame  # benchmark, oracle, training_cells, taus, errors, best cell reported / real
    training: pd.DataFrame  # oracle, subset_seed, index (official NB201 index), arch_str


def surrogates(fidelity: Fidelity) -> Surrogates:
    return Surrogates(oracle_quality(fidelity), training_cells())


def training_cells() -> pd.DataFrame:
    """The training cells of every fraction: official NB201 index and cell string."""
    from suite.benchmarks import nb201_surrogate

    arch_str = _reference_bench("nb201-cifar10").table["arch_str"].to_numpy()
    return pd.concat([
        pd.DataFrame({"oracle": nb201_surrogate.oracle_name(fraction), "subset_seed": nb201_surrogate.SUBSET_SEED,
                      "index": rows, "arch_str": arch_str[rows]})
        for fraction in nb201_surrogate.FRACTIONS
        for rows in [nb201_surrogate.training_rows(fraction)]
    ], ignore_index=True)


def oracle_quality(fidelity: Fidelity) -> pd.DataFrame:
    """Each surrogate against the real table over all 15,625 cells: Kendall tau of the search metric and the
    final metric on the cells it was not fitted on (all of them, and the real top 10%), and the final metric's
    mean absolute error on the held-out and the training cells."""
    from suite import benchmarks

    rows = []
    for name, oracle in fidelity.scores[["benchmark", "oracle"]].drop_duplicates().itertuples(index=False):
        if oracle == fidelity.reference:
            continue
        real, surrogate = _reference_bench(name), benchmarks.get(name, oracle)
        cells = _cells(real)
        pairs = {metric: np.array([(get(real, c), get(surrogate, c)) for c in cells]) for metric, get in {
            "search": lambda b, c: b.query(c).value, "final": lambda b, c: b.final(c)[b.final_metric]}.items()}
        trained = np.zeros(len(cells), dtype=bool)
        train_rows = getattr(surrogate, "train_rows", None)
        if train_rows is None:
            raise NasreproError(f"{name}: oracle {oracle} is not a surrogate fitted on known cells")
        trained[train_rows] = True
        held = ~trained
        final = pairs["final"]
        top = held & (final[:, 0] >= np.quantile(final[:, 0], 0.9))
        rows.append({
            "benchmark": name, "oracle": oracle, "training_cells": int(trained.sum()),
            "search_tau_heldout": _tau(pairs["search"][held]),
            "final_tau_heldout": _tau(final[held]), "final_tau_top10_heldout": _tau(final[top]),
            "final_mae_heldout": float(np.abs(final[held, 1] - final[held, 0]).mean()),
            "final_mae_training": float(np.abs(final[trained, 1] - final[trained, 0]).mean()),
            "optimum_reported": float(final[:, 1].max()), "optimum_real": float(final[:, 0].max()),
        })
    return pd.DataFrame(rows)


def _tau(pairs: np.ndarray) -> float:
    return float(st.kendalltau(pairs[:, 0], pairs[:, 1]).statistic)
