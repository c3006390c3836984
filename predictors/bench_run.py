"""The predictor benchmark over several targets, resumable: `nasrepro predictors`.

Everything is checked before the first fit (names, sizes against each target's pool, seed, that the output
directory is writable); then each target is evaluated and stored as one verified part (predictors/parts.py),
so an interrupted benchmark resumes at the first target without a good part; then the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from predictors import evaluate, parts, targets, tuning
from predictors.bench_report import write_report
from suite import registry
from suite.atomic import make_writable_dir
from suite.errors import NasreproError

SCHEMA = 2  # bump when the columns of a part change: older parts are then not this setting's


def applicable(predictor_names: list[str], target: targets.Target, log: Callable[[str], None]) -> list[str]:
    """The predictors that can work on the target; a baseline on a metric the benchmark lacks is skipped, saying so."""
    usable = []
    for name in predictor_names:
        base, _ = tuning.split_name(name)
        try:
            registry.build_predictor(base, target.benchmark.space, np.random.SeedSequence(0), None)
            usable.append(name)
        except NasreproError as exc:
            log(f"{target.name}: skipping predictor {name}: {exc}")
    if not usable:
        raise NasreproError(f"none of the predictors {predictor_names} applies to {target.name}")
    return usable


def check_writable(out: Path) -> Path:
    parts_dir = out / "parts"
    try:
        make_writable_dir(parts_dir)
    except OSError as exc:
        raise NasreproError(f"cannot write the predictor benchmark to {out}: {exc.strerror or exc}") from None
    return parts_dir


def run_benchmark(
    out: Path, target_names: list[str], predictor_names: list[str], train_sizes: list[int], trials: int, seed: int,
    *, test_size: int = evaluate.TEST_SIZE, tune_config: tuning.TuneConfig | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    tune_config = tune_config or tuning.TuneConfig()
    evaluate.check_request(predictor_names, train_sizes, trials, seed)
    if not target_names:
        raise NasreproError("no benchmark to evaluate on")
    for name in target_names:
        targets.check_name(name)
    sizes = sorted(set(train_sizes))
    plan = []
    for name in target_names:
        target = targets.get(name)
        if target.pool_size is not None and test_size + sizes[-1] > target.pool_size:
            raise NasreproError(
                f"{name} has {target.pool_size} labelled cells: {test_size} test + {sizes[-1]} training do not fit"
            )
        usable = applicable(predictor_names, target, log)
        setting = {
            "schema": SCHEMA, "target": name, "predictors": usable, "train_sizes": sizes, "trials": trials,
            "seed": seed, "test_size": test_size,
            "tuning": dataclasses.asdict(tune_config) if any(tuning.split_name(p)[1] for p in usable) else None,
        }
        plan.append((name, usable, setting))
    parts_dir = check_writable(out)
    parts.remove_orphans(parts_dir)
    frames = []
    for name, usable, setting in plan:
        part = parts.part_for(parts_dir, name, setting, trials * len(usable) * len(sizes))
        if part.exists():
            why = parts.problem(part)
            if why is None:
                frames.append(parts.read(part))
                log(f"{name}: already done ({part.csv})")
                continue
            aside = parts.move_aside(part)
            log(f"{name}: stored part {part.csv.name} is damaged ({why}); moved to {aside}, recomputing")
        frame = evaluate.evaluate(name, usable, sizes, trials, seed, test_size=test_size, tune_config=tune_config)
        parts.save(part, frame)
        frames.append(parts.read(part))  # as a resumed run reads it: one report either way
        log(f"{name}: done")
    return write_report(pd.concat(frames, ignore_index=True), out)
