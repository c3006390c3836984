"""The report's reproducibility section, filled from run metadata only: what was run, with what settings,
software, data and compute, and a checklist in the spirit of Lindauer & Hutter (2020), "Best Practices
for Scientific Research on Neural Architecture Search", JMLR 21. Items the metadata cannot answer say so.
"""

from __future__ import annotations

import json

import pandas as pd

from suite.analysis.collect import Results
from suite.reporting import document as doc


def seeds_text(values) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    values, parts = sorted({int(v) for v in values}), []
    start = prev = values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}-{prev}" if prev > start else f"{start}")
        if v is not None:
            start = prev = v
    return ", ".join(parts)


def span(values: pd.Series) -> str:
    low, high = values.min(), values.max()
    return f"{low}" if low == high else f"{low}–{high}"


def _budget(queries: int, seconds: float | None) -> str:
    return f"{queries} queries" + (f" / {seconds:g} s" if seconds is not None and pd.notna(seconds) else "")


def _distinct(metas: dict, key: str) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for meta in metas.values():
        for name, value in meta.get(key, {}).items():
            found.setdefault(name, set()).add(str(value))
    return {name: sorted(values) for name, values in found.items()}


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (benchmark, oracle, method), g in runs.groupby(["benchmark", "oracle", "method"]):
        budgets = {_budget(q, s) for q, s in zip(g["budget_queries"], g["budget_seconds"], strict=True)}
        rows.append(
            {
                "benchmark": benchmark,
                "oracle": oracle,
                "method": method,
                "runs": len(g),
                "seeds": seeds_text(g["repeat"]),
                "experiment seed": seeds_text(g["experiment_seed"]),
                "budget": ", ".join(sorted(budgets)),
                "queries made": span(g["n_queries"]),
                "wall time (s)": f"{g['wall_time_s'].sum():.1f}",
            }
        )
    return pd.DataFrame(rows)


def _settings_table(results: Results) -> pd.DataFrame:
    settings = {
        (r.method, results.metas[r.run_id]["spec"].get("predictor") or "–", r.config)
        for r in results.runs.itertuples()
    }
    return pd.DataFrame(sorted(settings), columns=["method", "predictor", "settings"])


def _optimum_text(meta: dict) -> str:
    if meta["optimum"] is None:
        return "unknown"
    source = meta.get("optimum_source", "optimum")
    return f"{meta['optimum']:.4f}" + ("" if source == "optimum" else f" ({source}, not the optimum)")


def _data_table(bench_meta: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for name, meta in sorted(bench_meta.items()):
        rows.append(
            {
                "benchmark": name,
                "oracle": meta["oracle"],
                "search metric": meta["search_metric"],
                "final metric": meta["final_metric"],
                "optimum (regret reference)": _optimum_text(meta),
                "space size": f"{meta['space_size']:,}" if meta["space_size"] else "not enumerated",
                "data files (sha256)": "; ".join(f"{f}: {h}" for f, h in sorted(meta["data_sha256"].items())),
            }
        )
    return pd.DataFrame(rows)


def _providers(meta: dict) -> dict[str, dict]:
    """Where a run's method and predictor came from. Runs stored before plugins existed record no providers:
    they are built-ins, of the nasrepro release in their versions."""
    if "providers" in meta:
        return meta["providers"]
    spec = meta["spec"]
    builtin = {"distribution": "nasrepro", "version": meta["versions"]["nasrepro"], "target": "(not recorded)"}
    found = {"method": {**builtin, "entry_version": spec["method_version"]}}
    if spec.get("predictor"):
        found["predictor"] = {**builtin, "entry_version": spec.get("predictor_version") or 1}
    return found


def _code_table(metas: dict[str, dict]) -> pd.DataFrame:
    """One row per method or predictor and the code it came from, with how many runs used it."""
    counts: dict[tuple, int] = {}
    for meta in metas.values():
        names = {"method": meta["spec"]["method"], "predictor": meta["spec"].get("predictor")}
        for kind, origin in _providers(meta).items():
            row = (kind, names[kind], origin["distribution"], origin["version"], origin["target"],
                   origin["entry_version"])
            counts[row] = counts.get(row, 0) + 1
    columns = ["kind", "name", "distribution", "distribution version", "entry point", "entry version", "runs"]
    return pd.DataFrame([(*row, n) for row, n in sorted(counts.items(), key=str)], columns=columns)


def plugins(metas: dict[str, dict]) -> list[str]:
    """'name (distribution version)' of every method or predictor not built into nasrepro."""
    found = {f"{meta['spec'][kind] if kind == 'method' else meta['spec']['predictor']} "
             f"({origin['distribution']} {origin['version']})"
             for meta in metas.values() for kind, origin in _providers(meta).items()
             if origin["distribution"] != "nasrepro"}
    return sorted(found)


def _software_table(versions: dict[str, list[str]], hosts: dict[str, list[str]]) -> pd.DataFrame:
    rows = [{"package": k, "version(s)": ", ".join(v)} for k, v in sorted(versions.items())]
    rows += [{"package": f"host {k}", "version(s)": ", ".join(v)} for k, v in sorted(hosts.items())]
    return pd.DataFrame(rows)


def _same_data(results: Results) -> bool:
    """Per benchmark, every run read the same data files (by sha256)."""
    fingerprints = results.runs["run_id"].map(
        lambda r: json.dumps(results.metas[r]["benchmark"]["data_sha256"], sort_keys=True)
    )
    return bool((fingerprints.groupby(results.runs["benchmark"]).nunique() == 1).all())


def _same_protocol(runs: pd.DataFrame) -> bool:
    """Per benchmark, every method ran the same seeds with the same budgets."""
    design = runs.assign(
        cell=runs["experiment_seed"].astype(str)
        + "/"
        + runs["repeat"].astype(str)
        + "/"
        + runs["budget_queries"].astype(str)
        + "/"
        + runs["budget_seconds"].astype(str)
    )
    per_method = design.groupby(["benchmark", "method"])["cell"].agg(lambda c: tuple(sorted(c)))
    return bool((per_method.groupby(level="benchmark").nunique() == 1).all())


def checklist(results: Results, versions: dict[str, list[str]]) -> tuple[str, ...]:
    runs = results.runs
    per_cell = runs.groupby(["benchmark", "method"]).size()
    identical = all(len(v) == 1 for v in versions.values())
    return (
        f"Same benchmark for all methods: {_yes(_same_data(results))} (per benchmark one oracle and the "
        "same data sha256 in every run's metadata).",
        f"Same evaluation protocol: {_yes(_same_protocol(runs))} (the methods on each benchmark share seeds "
        "and budgets; budgets count unique queries, a repeated cell is answered from the run's cache).",
        f"Confounding factors: library versions are {'identical' if identical else 'NOT identical'} across "
        "runs (table below); training time is simulated from the benchmark data, not measured.",
        "Performance over time: regret against queries, and against simulated seconds where the data have "
        "them.",
        f"Comparison with random search: {_yes('rs' in set(runs['method_name']))}.",
        f"Multiple runs with reported seeds: {span(per_cell)} seeds per method and benchmark; seed i is "
        "SeedSequence(entropy=experiment seed, spawn_key=(i,)), shared by every method.",
        "Tabular or surrogate benchmarks: oracles " + ", ".join(sorted(runs["oracle"].unique())) + ".",
        "Method hyperparameters: every run's settings are in its metadata (table below). How they were "
        "chosen, and the time spent tuning them, is not in the run metadata: see each method's "
        "documentation.",
        f"End-to-end compute: {runs['wall_time_s'].sum():.1f} s of wall time summed over the {len(runs)} "
        "runs (the whole search, including any predictor or generator training; the oracles answer from "
        "tables or surrogates, so no candidate network is trained).",
        "Code and versions: nasrepro and library versions per run are below, and where each method's and "
        "predictor's code came from"
        + (f" (from other distributions than nasrepro: {', '.join(plugins(results.metas))}, their distribution "
           "and version part of their runs' ids)" if plugins(results.metas) else " (all built into nasrepro)")
        + "; a run's id is the hash of its full spec, and `nasrepro verify` reruns stored runs and checks them "
        "bit for bit (section Verification).",
    )


def blocks(results: Results, bench_meta: dict[str, dict]) -> list[doc.Block]:
    runs, metas = results.runs, results.metas
    versions, hosts = _distinct(metas, "versions"), _distinct(metas, "host")
    finished = sorted(m["finished_at"] for m in metas.values())
    per_method = ", ".join(f"{m}: {t:.1f} s" for m, t in runs.groupby("method")["wall_time_s"].sum().items())
    return [
        doc.Heading("Reproducibility checklist and setup"),
        doc.Paragraph(
            "In the spirit of the NAS best-practices checklist (Lindauer & Hutter, JMLR 2020), filled from "
            "the run metadata."
        ),
        doc.Bullets(checklist(results, versions)),
        doc.Table(_runs_table(runs), "Runs"),
        doc.Table(_settings_table(results), "Method settings (as stored)"),
        doc.Table(_data_table(bench_meta), "Benchmarks, oracles and data"),
        doc.Table(_code_table(metas), "Methods and predictors: the code that ran (distribution, release, entry point)"),
        doc.Table(_software_table(versions, hosts), "Software and hosts"),
        doc.Paragraph(
            f"Runs finished between {finished[0]} and {finished[-1]}. Compute used: "
            f"{runs['wall_time_s'].sum():.1f} s wall time in total; {per_method}."
        ),
    ]
