"""`nasrepro list | run | report | leaderboard | verify | store | data | predictors | fidelity | check-method |
check-predictor`.
Errors the user can fix exit with status 2 and one line.

Longer than 400 lines because it is the one place where every command's arguments are parsed and checked
before any work; each command's body is a few lines that call the room that does the work.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from suite.errors import Interrupted, NasreproError

if TYPE_CHECKING:  # the checks are imported by their commands only
    from suite.checks.protocol import Outcome

DEBUG_ENV = "NASREPRO_DEBUG"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: one line, status 2, like ours
        raise NasreproError(message)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise NasreproError(f"empty list {text!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise NasreproError(f"{', '.join(repeated)} named twice in {text!r}")
    return names


def _max_workers() -> int:
    return os.cpu_count() or 1


def _check_workers(workers: int) -> None:
    # More processes than cores only slows every run down and multiplies memory (one benchmark per process).
    if not 1 <= workers <= _max_workers():
        raise NasreproError(f"--workers must be between 1 and {_max_workers()} (the number of cores), got {workers}")


def cmd_list(args: argparse.Namespace) -> int:
    """Everything installed; a plugin that cannot be used is named in one line on stderr (exit 2), and the
    others are listed as usual."""
    from suite import benchmarks, registry

    print("benchmarks:")
    for name, description in benchmarks.describe().items():
        print(f"  {name:20s} {description}")
        if benchmarks.oracles(name):
            print(f"  {'':20s} oracles (--oracle): {', '.join(benchmarks.oracles(name))}")  # type: ignore[arg-type]
    broken = []
    for kind, group, names, load, provider in (
        ("methods", registry.METHOD_GROUP, registry.method_names, registry.method, registry.method_provider),
        ("predictors", registry.PREDICTOR_GROUP, registry.predictor_names, registry.predictor,
         registry.predictor_provider),
    ):
        print(f"{kind}:")
        for name in names():
            try:
                description = load(name).description
            except NasreproError as exc:
                broken.append(str(exc))
                continue
            origin = provider(name)
            where = "" if origin.builtin else f" [{origin.distribution} {origin.version}]"
            print(f"  {name:20s} {description}{where}")
        broken += registry.problems(group).values()
    for line in broken:
        print(f"nasrepro: error: {line}", file=sys.stderr)
    return 2 if broken else 0


def cmd_check_method(args: argparse.Namespace) -> int:
    from suite.checks import protocol

    if args.budget is not None and args.budget < 1:
        raise NasreproError(f"--budget must be a positive number of queries, got {args.budget}")
    if args.seed < 0 or args.experiment_seed < 0:
        raise NasreproError("--seed and --experiment-seed must be non-negative integers")
    if args.store is not None:
        _check_stores([args.store])
    given = {"benchmark": args.benchmark, "budget": args.budget}
    outcome = protocol.check_method(args.name, seed=args.seed, experiment_seed=args.experiment_seed,
                                    store=Path(args.store) if args.store else None,
                                    **{k: v for k, v in given.items() if v is not None})
    return _print_outcome("check-method", outcome)


def cmd_check_predictor(args: argparse.Namespace) -> int:
    from suite.checks import predictor

    if args.seed < 0:
        raise NasreproError(f"--seed must be a non-negative integer, got {args.seed}")
    outcome = predictor.check_predictor(args.name, seed=args.seed,
                                        **({"benchmark": args.benchmark} if args.benchmark is not None else {}))
    return _print_outcome("check-predictor", outcome)


def _print_outcome(command: str, outcome: Outcome) -> int:
    """One line per check after the header, then the counts: exit 0 unless a check failed."""
    from suite.checks import protocol

    print(f"{command} {outcome.header}")
    for check in outcome.checks:
        print(check.line())
    counts = {s: sum(c.status == s for c in outcome.checks) for s in (protocol.PASS, protocol.FAIL, protocol.SKIP)}
    print(f"{counts[protocol.PASS]} passed, {counts[protocol.FAIL]} failed, {counts[protocol.SKIP]} skipped")
    return 0 if outcome.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    from suite import atomic
    from suite.running import executors
    from suite.running.runner import run_experiment
    from suite.running.spec import Budget, ExperimentSpec, parse_seeds, parse_settings
    from suite.running.store import Store

    if args.executor not in executors.EXECUTORS:
        raise NasreproError(f"unknown executor {args.executor!r}; known: {', '.join(executors.EXECUTORS)}")
    if args.scheduler is not None and args.executor != "dask":
        raise NasreproError("--scheduler needs --executor dask")
    if args.scheduler is not None:
        executors.check_scheduler(args.scheduler)
    if args.scheduler is None:  # on a cluster the scheduler decides how many runs go at once
        _check_workers(args.workers)
    spec = ExperimentSpec(
        benchmarks=_names(args.benchmark), methods=_names(args.method), repeats=parse_seeds(args.seeds),
        budget=Budget(args.budget, args.budget_seconds), experiment_seed=args.experiment_seed,
        predictor=args.predictor, constraint=args.constraint, method_settings=parse_settings(args.set),
        oracle=args.oracle,
    )
    _check_cache(spec.benchmarks)
    runs = spec.runs()  # validates everything before the first byte is written
    _warn_shadowed(spec)
    Store(args.out).check_layout()
    with atomic.output_dir(args.out):
        outcome = run_experiment(runs, Store(args.out), workers=args.workers, progress=not args.quiet,
                                 executor=args.executor, scheduler=args.scheduler)
    for run_id, moved in outcome.repaired.items():
        print(f"damaged run {run_id} moved to {moved} and computed again", file=sys.stderr)
    for name, what in outcome.foreign.items():
        print(f"foreign entry runs/{name} ({what})", file=sys.stderr)
    failed = len(outcome.failed) + len(outcome.lost)
    print(f"{len(outcome.stored)} runs stored, {len(outcome.skipped)} already in {args.out}, {failed} failed")
    for message in outcome.failed.values():
        print(f"failed: {message}", file=sys.stderr)
    if outcome.lost:  # one cause, one line: the pool breaks for every run it had not finished
        print(f"failed: {len(outcome.lost)} runs lost when a worker process died (BrokenProcessPool); rerun the "
              "same command to compute them", file=sys.stderr)
    return 1 if failed else 0


def _warn_shadowed(spec) -> None:
    """A plugin of the same name as a built-in is ignored: say so where its name is used."""
    from suite import registry

    lines = [registry.shadowed(registry.METHOD_GROUP, name) for name in spec.methods]
    if spec.predictor is not None:
        lines.append(registry.shadowed(registry.PREDICTOR_GROUP, spec.predictor))
    for line in filter(None, lines):
        print(f"nasrepro: warning: {line}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    from suite import atomic
    from suite.reporting.report import write_report

    _check_stores(args.stores)
    if args.budget is not None and args.budget < 1:
        raise NasreproError(f"--budget must be a positive number of queries, got {args.budget}")
    only = list(_names(args.benchmark)) if args.benchmark else None
    if not args.rope >= 0:
        raise NasreproError(f"--rope takes a non-negative number of points, not {args.rope}")
    with atomic.output_dir(args.out) as out, atomic.staged(out) as stage:
        path = write_report([Path(s) for s in args.stores], stage, budget=args.budget, title=args.title,
                            benchmarks=only, rope=args.rope)
    print(f"report written to {out / path.relative_to(stage)}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from suite.analysis import collect
    from suite.reporting import leaderboard

    budgets = None
    if args.budgets:
        if not all(b.isdigit() and int(b) > 0 for b in _names(args.budgets)):
            raise NasreproError(f"--budgets takes positive integers, e.g. 50,100,150, not {args.budgets!r}")
        budgets = [int(b) for b in _names(args.budgets)]
    from suite import atomic

    _check_stores(args.stores)
    with atomic.output_dir(args.out) as out:
        board = leaderboard.build(collect.load([Path(s) for s in args.stores]), budgets)
        with atomic.staged(out) as stage:
            path = leaderboard.write(board, stage, args.stores)
    print(f"leaderboard written to {out / path.relative_to(stage)} (and .csv, .html)")
    return 0


def cmd_fidelity(args: argparse.Namespace) -> int:
    from suite import atomic
    from suite.analysis import fidelity
    from suite.reporting import fidelity as fidelity_report

    _check_stores(args.stores)
    with atomic.output_dir(args.out) as out:
        found = fidelity.load([Path(s) for s in args.stores],
                              benchmarks=list(_names(args.benchmark)) if args.benchmark else None,
                              oracles=list(_names(args.oracle)) if args.oracle else None)
        with atomic.staged(out) as stage:
            path = fidelity_report.write(found, fidelity.surrogates(found), stage, args.title)
    print(f"surrogate-fidelity report written to {out / path.relative_to(stage)} (and .csv, .html)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from suite.running import verify

    _check_stores([args.store])
    if args.seed < 0:
        raise NasreproError(f"--seed must be a non-negative integer, got {args.seed}")
    result = verify.verify(Path(args.store), sample=args.sample, seed=args.seed)
    if result.failed and len(result.failed) == result.checked:
        # Nothing could be rerun (data directory broken, ...): that says nothing about the store, so the
        # previous verify.json stays.
        first = next(iter(result.failed.values()))
        raise NasreproError(f"could not rerun any of the {result.checked} runs, e.g.: {first}; {args.store}/"
                            f"{verify.VERIFY_FILE} left unchanged")
    path = verify.write(result, Path(args.store))
    print(f"{len(result.identical)} of {result.checked} rerun runs bit-identical; written to {path}")
    for run_id, why in result.differing.items():
        print(f"differs: {run_id}: {why}", file=sys.stderr)
    for run_id, why in result.failed.items():
        print(f"could not rerun: {run_id}: {why}", file=sys.stderr)
    return 0 if result.ok else 1


def _check_cache(names: tuple[str, ...]) -> None:
    """NB101 derives its cell table and surrogate into the cache: an unusable cache fails now, not after training."""
    from suite import data

    if any(name.startswith("nb101") for name in names):
        data.cache_dir()


def _check_stores(stores: list[str]) -> None:
    from suite.running.store import Store

    for store in stores:
        if not Path(store).is_dir():
            raise NasreproError(f"no results store at {store}")
        Store(store).check()


def cmd_store_check(args: argparse.Namespace) -> int:
    from suite.running.store import Store

    store = Store(args.store)
    if not store.root.is_dir():
        raise NasreproError(f"no results store at {args.store}")
    store.check_layout()
    damaged, stale = store.damaged(), store.stale_partial()
    print(f"{args.store}: {len(store.run_ids())} verified runs, {len(damaged)} damaged or foreign entries, "
          f"{len(stale)} stale temp directories")
    for name, why in damaged.items():
        if args.repair:
            print(f"  {name}: {why}; moved to {store.quarantine(name)}")
        else:
            print(f"  {name}: {why}")
    for name in store.discard_partial() if args.repair else stale:  # a temp directory holds no run
        print(f"  {name}: temp directory of a writer that is gone{'; removed' if args.repair else ''}")
    if (damaged or stale) and not args.repair:
        print(f"repair: nasrepro store check {args.store} --repair, then rerun the command that made the store")
    return 1 if (damaged or stale) and not args.repair else 0


def cmd_predictors(args: argparse.Namespace) -> int:
    from predictors import evaluate, tuning
    from predictors.bench_run import run_benchmark

    names = list(_names(args.predictor))
    if args.tune:  # the tuned variant of every listed predictor that has a tuning space
        names += [f"{n}{tuning.TUNED_SUFFIX}" for n in names if n in tuning.SPACES]
    sizes = evaluate.DEFAULT_TRAIN_SIZES if args.train_sizes is None else _positive_ints(args.train_sizes)
    tune_config = tuning.TuneConfig(trials=args.tune_trials, folds=args.tune_folds)
    path = run_benchmark(Path(args.out), list(_names(args.benchmark)), list(dict.fromkeys(names)), sizes,
                         args.trials, args.seed, tune_config=tune_config)
    print(f"predictor report written to {path}")
    return 0


def _positive_ints(text: str) -> list[int]:
    values = _names(text)
    if not all(v.isdigit() and int(v) > 0 for v in values):
        raise NasreproError(f"expected positive integers like 5,10,20, got {text!r}")
    return [int(v) for v in values]


def cmd_data_check(args: argparse.Namespace) -> int:
    from suite import data
    from suite.errors import DataError

    print(f"data directory: {data.data_dir()}")
    problems = 0
    for relpath in data.FILES:
        try:
            data.require(relpath)
            status = "ok"
        except DataError as exc:
            status, problems = str(exc), problems + 1
        print(f"  {relpath:40s} {status}")
    if problems:
        raise NasreproError(f"{problems} data file(s) missing or corrupt (listed above)")
    return 0


def cmd_data_prepare(args: argparse.Namespace) -> int:
    import time

    from suite import benchmarks

    _check_cache(_names(args.benchmark))
    for name in _names(args.benchmark):
        if args.oracle is not None:
            benchmarks.check_oracle(name, args.oracle)
    for name in _names(args.benchmark):
        started = time.perf_counter()
        bench = benchmarks.get(name, args.oracle)  # builds and caches whatever the benchmark derives from its data
        optimum = bench.optimum  # NB301: computes and caches its regret reference before any run needs it
        print(f"{name}: oracle {bench.oracle}, {bench.space_size or 'unknown number of'} cells, "
              f"optimum {optimum if optimum is not None else 'unknown'}, "
              f"ready in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_data_surrogate_report(args: argparse.Namespace) -> int:
    from suite.benchmarks import nb101, nb101_report

    args.oracle = args.oracle or nb101.SURROGATE_ORACLE
    if args.oracle not in nb101.SURROGATES:
        raise NasreproError(f"unknown NB101 surrogate oracle {args.oracle!r}; known: {', '.join(nb101.SURROGATES)}")
    _check_cache(("nb101",))
    path = nb101_report.write_report(Path(args.out), oracle=args.oracle, valid_cv=not args.no_valid_cv,
                                     previous=not args.no_previous)
    print(f"surrogate report written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nasrepro", description="Reproducible benchmarking of NAS methods.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="registered benchmarks, methods and predictors").set_defaults(func=cmd_list)

    protocol = sub.add_parser("check-method", help="check a method (built-in or plugin) against the protocol")
    protocol.add_argument("name", help="method name, as `nasrepro list` shows it")
    protocol.add_argument("--benchmark", default=None, help="benchmark of the check runs (default "
                          "nb201-cifar10: a table, so the runs cost only the method's own time)")
    protocol.add_argument("--seed", type=int, default=0, help="seed index of the check runs (default 0)")
    protocol.add_argument("--experiment-seed", type=int, default=0, help="experiment seed (default 0)")
    protocol.add_argument("--budget", type=int, default=None,
                          help="queries per check run (default 53: no multiple of the usual batch sizes)")
    protocol.add_argument("--store", default=None, help="results store: rerun its runs of this method at its "
                          "version (same benchmark and seed) and flag changed proposals")
    protocol.set_defaults(func=cmd_check_method)

    pred_check = sub.add_parser("check-predictor", help="check a run predictor (built-in or plugin) against the "
                                "protocol")
    pred_check.add_argument("name", help="predictor name, as `nasrepro list` shows it")
    pred_check.add_argument("--benchmark", default=None, help="benchmark whose space and search metric the check "
                            "fits on (default nb201-cifar10)")
    pred_check.add_argument("--seed", type=int, default=0, help="seed of the cells and of the predictor (default 0)")
    pred_check.set_defaults(func=cmd_check_predictor)

    run = sub.add_parser("run", help="run benchmarks x methods x seeds into a results store")
    run.add_argument("--benchmark", required=True, help="comma-separated benchmark names")
    run.add_argument("--method", required=True, help="comma-separated method names")
    run.add_argument("--seeds", default="0-9", help="seed indices, e.g. 0-9 or 0,2,5 (default 0-9)")
    run.add_argument("--budget", type=int, required=True, help="unique queries per run")
    run.add_argument("--budget-seconds", type=float, default=None, help="also stop at this simulated training time")
    run.add_argument("--experiment-seed", type=int, default=0, help="root entropy of all run seeds (default 0)")
    run.add_argument("--predictor", default=None, help="predictor to assist the search (optional)")
    run.add_argument(
        "--constraint", default=None,
        help='e.g. "flops_m<=100", on a cost-like cell property (FLOPs, parameters, latency, training time)',
    )
    run.add_argument("--oracle", default=None,
                     help="answer with this oracle instead of each benchmark's default (see `nasrepro list`)")
    run.add_argument("--set", action="append", default=[], metavar="METHOD.NAME=VALUE", help="method setting")
    run.add_argument("--out", required=True, help="results store directory (runs already there are skipped)")
    run.add_argument(
        "--workers", type=int, default=1,
        help=f"parallel runs (default 1), at most the number of cores ({_max_workers()} here)",
    )
    run.add_argument("--executor", default="local", help="where runs execute: local (default) or dask")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="with --executor dask: a running scheduler, e.g. tcp://host:8786 (default: a local "
                          "cluster of --workers processes)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="tables and figures from results stores")
    report.add_argument("stores", nargs="+", help="results store directories")
    report.add_argument("--out", required=True, help="output directory, e.g. results/nb201")
    report.add_argument("--budget", type=int, default=None, help="budget to report (default: all runs reach it)")
    report.add_argument("--title", default=None)
    report.add_argument("--benchmark", default=None, help="report only these benchmarks (comma-separated)")
    report.add_argument("--rope", type=float, default=0.1,
                        help="region of practical equivalence in points of the final metric (default 0.1)")
    report.set_defaults(func=cmd_report)

    pred = sub.add_parser("predictors", help="the predictor benchmark (White et al. 2021 protocol)")
    pred.add_argument("--benchmark", required=True,
                      help="comma-separated targets: benchmark names, nb101-valid20k, nb101-test6760")
    pred.add_argument("--predictor", required=True, help="comma-separated predictor names")
    pred.add_argument("--train-sizes", default=None, help="e.g. 5,10,20 (default: 9 sizes on a log grid 5..1000)")
    pred.add_argument("--trials", type=int, default=5, help="repeated trials with fresh cells (default 5)")
    pred.add_argument("--seed", type=int, default=0, help="root seed of cells, fits and tuning (default 0)")
    pred.add_argument("--tune", action="store_true",
                      help="also run the tuned variant (e.g. xgb-tuned) of each listed predictor that has a "
                           "tuning space; or list NAME-tuned in --predictor")
    pred.add_argument("--tune-trials", type=int, default=20, help="configurations per tuning (default 20)")
    pred.add_argument("--tune-folds", type=int, default=3, help="cross-validation folds of tuning (default 3)")
    pred.add_argument("--out", required=True, help="output directory, e.g. results/predictors")
    pred.set_defaults(func=cmd_predictors)

    board = sub.add_parser("leaderboard", help="average rank of each method over benchmarks, with intervals")
    board.add_argument("stores", nargs="+", help="results store directories")
    board.add_argument("--out", required=True, help="output directory, e.g. results/leaderboard")
    board.add_argument("--budgets", default=None,
                       help="e.g. 50,100,150: the largest reached is ranked, the others are shown as exploratory "
                       "(default: each benchmark's full budget only)")
    board.set_defaults(func=cmd_leaderboard)

    fid = sub.add_parser("fidelity", help="surrogate oracles against the real table they stand in for (NB201)")
    fid.add_argument("stores", nargs="+", help="results stores with runs on the real table and on surrogates")
    fid.add_argument("--out", required=True, help="output directory, e.g. results/surrogate-fidelity")
    fid.add_argument("--title", default="Surrogate fidelity on NAS-Bench-201")
    fid.add_argument("--benchmark", default=None, help="only these benchmarks (comma-separated; default all)")
    fid.add_argument("--oracle", default=None,
                     help="only these surrogate oracles beside the real table (comma-separated; default all)")
    fid.set_defaults(func=cmd_fidelity)

    check = sub.add_parser("verify", help="rerun stored runs and check their trajectories are bit-identical")
    check.add_argument("store", help="results store directory")
    check.add_argument("--sample", type=int, default=None, help="rerun this many runs, at random (default: all)")
    check.add_argument("--seed", type=int, default=0, help="seed of the sample draw (default 0)")
    check.set_defaults(func=cmd_verify)
    store = sub.add_parser("store", help="results store maintenance")
    store_sub = store.add_subparsers(dest="store_command", required=True, parser_class=_Parser)
    store_check = store_sub.add_parser("check", help="list damaged or foreign entries (exit 1 if any)")
    store_check.add_argument("store", help="results store directory")
    store_check.add_argument("--repair", action="store_true", help="move them aside to STORE/.damaged/")
    store_check.set_defaults(func=cmd_store_check)
    data = sub.add_parser("data", help="the benchmark data directory")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    data_sub.add_parser("check", help="check every data file against its sha256").set_defaults(func=cmd_data_check)
    prepare = data_sub.add_parser("prepare", help="build cached derived data (NB101: cells, surrogate)")
    prepare.add_argument("benchmark", help="comma-separated benchmark names")
    prepare.add_argument("--oracle", default=None, help="an oracle other than the default (see `nasrepro list`)")
    prepare.set_defaults(func=cmd_data_prepare)
    report = data_sub.add_parser("surrogate-report",
                                 help="choose and cross-validate the NB101 surrogate at the top, write a report")
    report.add_argument("--out", default="results/nb101/surrogate.md")
    report.add_argument("--oracle", default=None, help="the surrogate oracle version (default: the default oracle)")
    report.add_argument("--no-valid-cv", action="store_true", help="skip the validation model's cross-validation")
    report.add_argument("--no-previous", action="store_true", help="skip the previous oracle's out-of-sample check")
    report.set_defaults(func=cmd_data_surrogate_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except NasreproError as exc:
        print(f"nasrepro: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"nasrepro: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("nasrepro: interrupted; finished runs are stored, rerun the same command to resume", file=sys.stderr)
        return 130
    except OSError as exc:  # found during the work (disk full, a file vanished): the work failed
        _debug_traceback()
        where = f" {exc.filename}" if exc.filename else ""
        print(f"nasrepro: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line, the traceback only on request
        _debug_traceback()
        print(f"nasrepro: internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)",
              file=sys.stderr)
        return 1


def _debug_traceback() -> None:
    if os.environ.get(DEBUG_ENV):
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
