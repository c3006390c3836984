"""`nasrepro check-predictor NAME`: a run predictor, built-in or plugin, against the rules of suite/api.py
(`Predictor`, `PredictorEntry`). One `Check` per rule, with protocol.py's types and helpers:

- config: the config class is a frozen dataclass whose default settings survive JSON (as for methods);
- determinism: built from the same SeedSequence and fitted on the same TRAIN cells (drawn from the
  benchmark's space by a seeded generator, valued by its search metric), it predicts the same values for
  TEST other cells, bit for bit, in two separate processes with different string hash seeds (PYTHONHASHSEED
  1 and 2) and in this one; a second build fitted on the same cells predicts them again;
- global RNG: numpy's, `random`'s and torch's global states are the same after loading, building, fitting
  and predicting;
- contract: `fit` returns the predictor; `predict` returns a float ndarray of shape (n,) with finite values
  (for TEST cells and for one); a refit on more cells works; `predict_dist`, where the predictor has one,
  returns such a mean and a finite std >= 0 of the same shape;
- blind: nothing reachable from the predictor after it was fitted and used leads to the oracle (`reach`).

A predictor that refuses the benchmark's space when it is built (a NasreproError, as the parameter-count
baseline does on NAS-Bench-201, which counts no parameters) cannot be checked there: bad input, not a FAIL.

Run as `python -m suite.checks.predictor REQUEST_JSON`, it is the child process of the determinism check:
one build, fit and predict, the predictions printed as one JSON line.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from suite import registry
from suite.api import PredictorEntry
from suite.benchmarks.base import Arch, SearchSpace
from suite.checks import protocol
from suite.checks.protocol import DEFAULT_BENCHMARK, FAIL, HASH_SEEDS, PASS, SKIP, Check, Outcome, error_text
from suite.errors import NasreproError

RULES = ("config", "determinism", "global RNG", "contract", "blind")
TRAIN, TEST = 40, 200  # cells fitted on (then half as many more for the refit) and other cells predicted


class Broken(Exception):
    """A call of the predictor failed or returned what the contract does not allow; the message says which."""


class Data(NamedTuple):
    train: list[Arch]
    y: np.ndarray
    more: list[Arch]  # the refit's cells: `train` and half as many again
    more_y: np.ndarray
    test: list[Arch]  # other cells, predicted


@dataclass(frozen=True)
class Request:
    """One check's predictor, benchmark, seed and sizes: what the child processes redo."""

    name: str
    benchmark: str = DEFAULT_BENCHMARK
    seed: int = 0
    train: int = TRAIN
    test: int = TEST

    def __post_init__(self) -> None:
        if self.seed < 0 or self.train < 2 or self.test < 1:
            raise NasreproError(f"need seed >= 0, at least 2 cells to fit and 1 to predict, not {self}")

    def data(self, bench: Any) -> Data:
        """Distinct cells of `bench`'s space from the seed's first stream; the fitted ones valued by its oracle."""
        space, rng = bench.space, np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0,)))
        wanted = self.train + self.train // 2 + self.test
        cells: dict[str, Arch] = {}
        for _ in range(100 * wanted):
            arch = space.sample(rng)
            cells.setdefault(space.key(arch), arch)
            if len(cells) == wanted:
                break
        else:
            raise NasreproError(f"could not draw {wanted} distinct cells of {bench.name}")
        archs = list(cells.values())
        fitted = wanted - self.test
        y = np.array([bench.query(a).value for a in archs[:fitted]], dtype=np.float64)
        return Data(archs[: self.train], y[: self.train], archs[:fitted], y, archs[fitted:])

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(1,))


def _call(what: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        raise Broken(f"{what} failed: {error_text(exc)}") from exc


def build(entry: PredictorEntry, space: SearchSpace, request: Request) -> Any:
    """The predictor from its default config and the request's seed sequence. A NasreproError (it refuses
    this space) passes through; any other failure is Broken."""
    try:
        return entry.build(entry.config_cls(), space, request.seed_sequence())
    except NasreproError:
        raise
    except Exception as exc:
        raise Broken(f"building it from its default config failed: {error_text(exc)}") from exc


def fit_and_predict(predictor: Any, data: Data) -> tuple[Any, Any]:
    """(what `fit` on the training cells returned, the predictions of the test cells)."""
    returned = _call(f"fit on {len(data.train)} cells", predictor.fit, data.train, data.y)
    return returned, _call(f"predict of {len(data.test)} cells", predictor.predict, data.test)


def _wrong(values: Any, n: int, what: str = "values") -> str | None:
    """Why `values` is not a float ndarray of shape (n,) with finite entries, or None."""
    if not isinstance(values, np.ndarray):
        return f"a {type(values).__name__}, not an ndarray"
    if values.dtype.kind != "f":
        return f"an array of {values.dtype}, not of floats"
    if values.shape != (n,):
        return f"an array of shape {values.shape}, not ({n},)"
    bad = int(np.sum(~np.isfinite(values)))
    return f"{bad} of {n} {what} NaN or infinite" if bad else None


def _contract(predictor: Any, returned: Any, values: Any, data: Data) -> str:
    """What the contract check saw, or Broken saying which call broke it."""
    n = len(data.test)
    if returned is not predictor:
        raise Broken(f"fit returned {type(returned).__name__}, not the predictor itself")
    for calls in (n, 1):
        got = values if calls == n else _call("predict of one cell", predictor.predict, data.test[:1])
        if (why := _wrong(got, calls)) is not None:
            raise Broken(f"predict of {calls} cell(s) returned {why}: a float ndarray of shape ({calls},) with "
                         f"finite values is the contract")
    dist = ""
    if callable(getattr(predictor, "predict_dist", None)):
        pair = _call(f"predict_dist of {n} cells", predictor.predict_dist, data.test)
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise Broken(f"predict_dist returned a {type(pair).__name__}, not a pair (mean, std)")
        why = _wrong(pair[0], n, "means") or _wrong(pair[1], n, "stds")
        why = why or (f"{int(np.sum(pair[1] < 0))} negative stds" if (pair[1] < 0).any() else None)
        if why is not None:
            raise Broken(f"predict_dist of {n} cells returned {why}: the mean and std must be float ndarrays of "
                         f"shape ({n},), finite, the std >= 0")
        dist = "; predict_dist gives finite means and stds >= 0"
    if _call(f"refit on {len(data.more)} cells", predictor.fit, data.more, data.more_y) is not predictor:
        raise Broken(f"a refit on {len(data.more)} cells returned something other than the predictor itself")
    why = _wrong(_call("predict after the refit", predictor.predict, data.test), n)
    if why is not None:
        raise Broken(f"after a refit on {len(data.more)} cells, predict of {n} cells returned {why}")
    return f"fit returns the predictor; predict gives finite floats of shape (n,) for {n} cells and for one, also " \
           f"after a refit on {len(data.more)} cells{dist}"


@dataclass
class Exercised:
    """What this process did: the first build (after all calls), its predictions, a second build's."""

    contract: Check
    predictor: Any = None
    values: Any = None
    again: Any = None
    again_error: str | None = None


def exercise(entry: PredictorEntry, space: SearchSpace, request: Request, data: Data) -> Exercised:
    """Build, fit and predict (the contract check's calls), then a second build fitted on the same cells."""
    here = Exercised(Check("contract", FAIL, ""))
    try:
        here.predictor = build(entry, space, request)
        returned, here.values = fit_and_predict(here.predictor, data)
        here.contract = Check("contract", PASS, _contract(here.predictor, returned, here.values, data))
    except Broken as exc:
        here.contract = Check("contract", FAIL, str(exc))
    try:
        here.again = fit_and_predict(build(entry, space, request), data)[1]
    except Broken as exc:
        here.again_error = str(exc)
    return here


def fingerprint(values: Any) -> dict[str, Any]:
    """The predictions as float64 bytes (exact for any float type up to double) and their shape."""
    array = np.asarray(values, dtype=np.float64)
    return {"shape": list(array.shape), "hex": array.tobytes().hex()}


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    if a["shape"] != b["shape"]:
        return f"shape {a['shape']} vs {b['shape']}"
    x, y = (np.frombuffer(bytes.fromhex(f["hex"]), dtype=np.float64) for f in (a, b))
    differ = np.flatnonzero(x.view(np.uint64) != y.view(np.uint64))
    if not len(differ):
        return None
    i = differ[0]
    return f"cell {i + 1} ({len(differ)} of {len(x)} differ): {float(x[i])!r} vs {float(y[i])!r}"


def check_determinism(request: Request, here: Exercised) -> Check:
    name, seeds = "determinism", " and ".join(HASH_SEEDS)
    if here.values is None:
        return Check(name, SKIP, "not checked: it was not fitted and used to predict (see contract)")
    try:
        mine = fingerprint(here.values)
    except (TypeError, ValueError):
        return Check(name, SKIP, "not checked: it gave no numbers to compare (see contract)")
    if here.again_error is not None:
        return Check(name, FAIL, f"a second build from the same seed failed where the first worked: {here.again_error}")
    try:
        first, second = protocol.in_fresh_processes("suite.checks.predictor", json.dumps(dataclasses.asdict(request)))
    except protocol.ChildFailed as exc:
        return Check(name, FAIL, str(exc))
    for seed, trace in zip(HASH_SEEDS, (first, second), strict=True):
        if "error" in trace:
            return Check(name, FAIL, f"in a fresh process (PYTHONHASHSEED={seed}) it failed where it worked in this "
                                     f"one: {trace['error']}")
    if (diff := _first_difference(first, second)) is not None:
        return Check(name, FAIL, f"the same seed and cells predicted differently in two processes (PYTHONHASHSEED "
                                 f"{seeds}), first at {diff}: draw only from generators seeded from the seed sequence "
                                 f"and never let a value depend on hash() of strings or on id()")
    if (diff := _first_difference(mine, first)) is not None:
        return Check(name, FAIL, f"two fresh processes agree, but this process predicted differently, first at "
                                 f"{diff}: the predictor depends on state it did not create")
    if (diff := _first_difference(mine, fingerprint(here.again))) is not None:
        return Check(name, FAIL, f"a second build from the same seed, fitted on the same cells, predicted "
                                 f"differently, first at {diff}")
    return Check(name, PASS, f"two processes (PYTHONHASHSEED {seeds}), this one and a second build here predicted "
                             f"the same {request.test} values, bit for bit, after a fit on {request.train} cells")


def check_blind(here: Exercised, bench: Any, provider: registry.Provider) -> Check:
    if here.predictor is None:
        return Check("blind", SKIP, "not checked: it was not built (see contract)")
    return protocol.blind({"predictor": here.predictor}, bench, protocol.packages_of(provider, here.predictor),
                 "after it was fitted and used", "a predictor may hold the space and what it was fitted on only")


def check_predictor(name: str, benchmark: str = DEFAULT_BENCHMARK, seed: int = 0, train: int = TRAIN,
                    test: int = TEST) -> Outcome:
    """Every rule for predictor `name`. Bad input (an unknown or broken predictor, one that refuses the
    benchmark's space) raises NasreproError; a broken rule is a FAIL among the checks."""
    from suite import benchmarks

    request = Request(name, benchmark, seed, train, test)
    bench = benchmarks.get(benchmark)
    data = request.data(bench)
    before = protocol.global_states()  # before the predictor's module is imported: import-time draws count too
    entry = registry.predictor(name)
    provider = registry.predictor_provider(name)
    try:
        here = exercise(entry, bench.space, request, data)
    except NasreproError as exc:
        raise NasreproError(f"predictor {name!r} cannot be built on {benchmark}: {exc}; choose a --benchmark it "
                            f"supports") from None
    after = protocol.global_states()
    checks = (
        protocol.check_config(entry.config_cls, entry.config_cls),
        check_determinism(request, here),
        protocol.check_global_rng(before, after, "predictor was loaded, built, fitted and used to predict",
                         "draw only from generators seeded from the seed sequence it is built with"),
        here.contract,
        check_blind(here, bench, provider),
    )
    header = (f"{name} ({protocol.origin(provider)}, version {entry.version}) on {benchmark}, seed {seed}, fitted on "
              f"{len(data.train)} cells (refitted on {len(data.more)}), {len(data.test)} other cells predicted")
    return Outcome(header, checks)


def main(argv: list[str]) -> int:
    from suite import benchmarks

    request = Request(**json.loads(argv[0]))
    try:
        bench = benchmarks.get(request.benchmark)
        predictor = build(registry.predictor(request.name), bench.space, request)
        values = fit_and_predict(predictor, request.data(bench))[1]
        print(json.dumps(fingerprint(values)))
    except Exception as exc:  # reported by the parent, which saw it work in its own process
        print(json.dumps({"error": error_text(exc)}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
