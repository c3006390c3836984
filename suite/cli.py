"""`nasrepro list | run | report`. Errors the user can fix exit with status 2 and one line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.errors import NasreproError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: one line, status 2, like ours
        raise NasreproError(message)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise NasreproError(f"empty list {text!r}")
    return names


def cmd_list(args: argparse.Namespace) -> int:
    import methods
    import predictors
    from suite import benchmarks

    print("benchmarks:")
    for name, description in benchmarks.describe().items():
        print(f"  {name:20s} {description}")
    print("methods:")
    for name in methods.names():
        print(f"  {name:20s} {methods.get(name).description}")
    print("predictors:")
    for name in predictors.names():
        print(f"  {name:20s} {predictors.get(name).description}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from suite.runner import run_experiment
    from suite.spec import Budget, ExperimentSpec, parse_seeds, parse_settings
    from suite.store import Store

    if args.workers < 1:
        raise NasreproError("--workers must be at least 1")
    spec = ExperimentSpec(
        benchmarks=_names(args.benchmark), methods=_names(args.method), repeats=parse_seeds(args.seeds),
        budget=Budget(args.budget, args.budget_seconds), experiment_seed=args.experiment_seed,
        predictor=args.predictor, constraint=args.constraint, method_settings=parse_settings(args.set),
    )
    runs = spec.runs()  # validates everything before the first byte is written
    outcome = run_experiment(runs, Store(args.out), workers=args.workers, progress=not args.quiet)
    print(
        f"{len(outcome.stored)} runs stored, {len(outcome.skipped)} already in {args.out}, "
        f"{len(outcome.failed)} failed"
    )
    for message in outcome.failed.values():
        print(f"failed: {message}", file=sys.stderr)
    return 1 if outcome.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from suite.report import write_report

    for store in args.stores:
        if not Path(store).is_dir():
            raise NasreproError(f"no results store at {store}")
    only = list(_names(args.benchmark)) if args.benchmark else None
    path = write_report([Path(s) for s in args.stores], Path(args.out), budget=args.budget, title=args.title,
                        benchmarks=only)
    print(f"report written to {path}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from suite import collect, leaderboard

    budgets = None
    if args.budgets:
        if not all(b.isdigit() and int(b) > 0 for b in _names(args.budgets)):
            raise NasreproError(f"--budgets takes positive integers, e.g. 50,100,150, not {args.budgets!r}")
        budgets = [int(b) for b in _names(args.budgets)]
    board = leaderboard.build(collect.load([Path(s) for s in args.stores]), budgets)
    path = leaderboard.write(board, Path(args.out), args.stores)
    print(f"leaderboard written to {path} (and .csv, .html)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from suite import verify

    if not Path(args.store).is_dir():
        raise NasreproError(f"no results store at {args.store}")
    result = verify.verify(Path(args.store), sample=args.sample, seed=args.seed)
    path = verify.write(result, Path(args.store))
    print(f"{len(result.identical)} of {result.checked} rerun runs bit-identical; written to {path}")
    for run_id, why in result.differing.items():
        print(f"differs: {run_id}: {why}", file=sys.stderr)
    for run_id, why in result.failed.items():
        print(f"could not rerun: {run_id}: {why}", file=sys.stderr)
    return 0 if result.ok else 1


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

    for name in _names(args.benchmark):
        started = time.perf_counter()
        bench = benchmarks.get(name)  # builds and caches whatever the benchmark derives from its data
        print(f"{name}: oracle {bench.oracle}, {bench.space_size or 'unknown number of'} cells, "
              f"ready in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_data_surrogate_report(args: argparse.Namespace) -> int:
    from suite.benchmarks import nb101_surrogate

    families = _names(args.families)
    unknown = sorted(set(families) - set(nb101_surrogate.FAMILIES))
    if unknown:
        raise NasreproError(f"unknown surrogate families {unknown}; known: {', '.join(nb101_surrogate.FAMILIES)}")
    path = nb101_surrogate.write_report(Path(args.out), families=families)
    print(f"surrogate report written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nasrepro", description="Reproducible benchmarking of NAS methods.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="registered benchmarks, methods and predictors").set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="run benchmarks x methods x seeds into a results store")
    run.add_argument("--benchmark", required=True, help="comma-separated benchmark names")
    run.add_argument("--method", required=True, help="comma-separated method names")
    run.add_argument("--seeds", default="0-9", help="seed indices, e.g. 0-9 or 0,2,5 (default 0-9)")
    run.add_argument("--budget", type=int, required=True, help="unique queries per run")
    run.add_argument("--budget-seconds", type=float, default=None, help="also stop at this simulated training time")
    run.add_argument("--experiment-seed", type=int, default=0, help="root entropy of all run seeds (default 0)")
    run.add_argument("--predictor", default=None, help="predictor to assist the search (optional)")
    run.add_argument("--constraint", default=None, help='e.g. "flops_m<=100" on a final metric of the benchmark')
    run.add_argument("--set", action="append", default=[], metavar="METHOD.NAME=VALUE", help="method setting")
    run.add_argument("--out", required=True, help="results store directory (runs already there are skipped)")
    run.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="tables and figures from results stores")
    report.add_argument("stores", nargs="+", help="results store directories")
    report.add_argument("--out", required=True, help="output directory, e.g. results/nb201")
    report.add_argument("--budget", type=int, default=None, help="budget to report (default: all runs reach it)")
    report.add_argument("--title", default=None)
    report.add_argument("--benchmark", default=None, help="report only these benchmarks (comma-separated)")
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

    board = sub.add_parser("leaderboard", help="average rank of each method over benchmarks and budgets")
    board.add_argument("stores", nargs="+", help="results store directories")
    board.add_argument("--out", required=True, help="output directory, e.g. results/leaderboard")
    board.add_argument("--budgets", default=None, help="e.g. 50,100,150 (default: 1/3, 2/3, all of each's)")
    board.set_defaults(func=cmd_leaderboard)

    check = sub.add_parser("verify", help="rerun stored runs and check their trajectories are bit-identical")
    check.add_argument("store", help="results store directory")
    check.add_argument("--sample", type=int, default=None, help="rerun this many runs, at random (default: all)")
    check.add_argument("--seed", type=int, default=0, help="seed of the sample draw (default 0)")
    check.set_defaults(func=cmd_verify)
    data = sub.add_parser("data", help="the benchmark data directory")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    data_sub.add_parser("check", help="check every data file against its sha256").set_defaults(func=cmd_data_check)
    prepare = data_sub.add_parser("prepare", help="build cached derived data (NB101: cells, surrogate)")
    prepare.add_argument("benchmark", help="comma-separated benchmark names")
    prepare.set_defaults(func=cmd_data_prepare)
    report = data_sub.add_parser("surrogate-report", help="cross-validate the NB101 surrogate families, write a report")
    report.add_argument("--out", default="results/nb101/surrogate.md")
    report.add_argument("--families", default="xgb-adj,xgb-path,gnn", help="families to cross-validate")
    report.set_defaults(func=cmd_data_surrogate_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except NasreproError as exc:
        print(f"nasrepro: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nasrepro: interrupted; finished runs are stored, rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
