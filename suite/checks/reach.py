"""What a method can reach: every object reachable from it without an import, and whether the oracle is
among them.

The walk follows attributes (`vars`, `__slots__`, class attributes and properties of the classes of the
given packages), bound methods' `__self__`, closure cells, `__wrapped__`, defaults, partials and
containers. An object is a leak when it is a benchmark (an oracle class, or anything with `query`,
`final` and `data_files`), a bound `query`/`final`/`optimum`/`final_values`, an ONNX session (the NB301
surrogate), or anything that holds accuracies: a float array, tensor, list, Series or DataFrame with at least
HOLDS_ACCURACIES distinct accuracy values of the benchmark (a column in any order, part of one, a table kept
on a space), more than a search is told. Imports are
the other way to an oracle: tests/test_blind.py checks those of methods/ and predictors/ statically.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from suite.benchmarks import nb101, nb201, nb301

ORACLE_CLASSES = (nb101.Nb101, nb201.Nb201, nb301.Nb301)
ORACLE_NAMES = ("query", "final", "optimum", "final_values")
# Packages whose classes' properties and class attributes are followed: ours, plus a plugin's own package.
OUR_PACKAGES = ("suite", "methods", "predictors")
MAX_DEPTH = 25
# An object holding at least this many distinct accuracy values holds accuracies: the searches checked are told
# a few hundred at most, and a cost or an encoding shares only a few values (0, 1, ...) with accuracy columns.
HOLDS_ACCURACIES = 1000


def _children(obj: object, packages: tuple[str, ...]) -> Iterator[tuple[str, object]]:
    """Every object `obj` refers to that code holding `obj` could reach without an import."""
    if isinstance(obj, np.ndarray) or type(obj).__module__.startswith(("numpy", "torch._C", "pandas")):
        return  # leaves: their numbers are read whole by _floats
    if isinstance(obj, Mapping):
        for k, v in list(obj.items()):
            yield f"[{k!r}]", v
            yield "<key>", k
        return
    if isinstance(obj, list | tuple | set | frozenset) or type(obj).__name__ == "deque":
        if isinstance(obj, list | tuple) and len(obj) >= HOLDS_ACCURACIES and _numeric(obj):
            return  # a leaf, like an array (the walk skips numbers; a million of them cost minutes)
        for i, v in enumerate(obj):  # type: ignore[arg-type]  # a list, tuple, set or deque: iterable
            yield f"[{i}]", v
        return
    if isinstance(obj, types.MethodType | types.BuiltinMethodType):
        self = getattr(obj, "__self__", None)
        if not isinstance(self, types.ModuleType):
            yield ".__self__", self
        yield ".__func__", getattr(obj, "__func__", None)
        return
    if isinstance(obj, functools.partial):
        yield ".func", obj.func
        yield ".args", obj.args
        yield ".keywords", obj.keywords
        return
    if isinstance(obj, property):
        yield ".fget", obj.fget
        return
    if isinstance(obj, types.FunctionType):  # not __globals__: what a module imports is the static check's
        for i, cell in enumerate(obj.__closure__ or ()):
            try:
                yield f".__closure__[{i}]", cell.cell_contents
            except ValueError:  # an empty cell
                pass
        yield ".__defaults__", obj.__defaults__
        yield ".__kwdefaults__", obj.__kwdefaults__
    if hasattr(obj, "__wrapped__"):
        yield ".__wrapped__", obj.__wrapped__
    if isinstance(obj, types.ModuleType | types.FunctionType | types.BuiltinFunctionType):
        return
    if isinstance(obj, type):
        if obj.__module__.split(".")[0] in packages:
            yield from ((f".{k}", v) for k, v in vars(obj).items() if not k.startswith("__"))
        return
    yield ".__class__", type(obj)
    if hasattr(obj, "__dict__"):
        yield from ((f".{k}", v) for k, v in vars(obj).items())
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(obj, slot):
                yield f".{slot}", getattr(obj, slot)
    if type(obj).__module__.split(".")[0] in packages:  # properties and other computed attributes
        for name in dir(obj):
            if not name.startswith("__") and isinstance(getattr(type(obj), name, None), property):
                try:
                    yield f".{name}", getattr(obj, name)
                except Exception:  # a property that cannot be computed in this state leads nowhere
                    pass


def walk(root: object, name: str = "context", packages: tuple[str, ...] = OUR_PACKAGES
         ) -> Iterator[tuple[str, object]]:
    """(path, object) for every object reachable from `root`, each once, to MAX_DEPTH steps."""
    seen: set[int] = set()
    keep: list[object] = []  # so that ids of temporaries are not reused during the walk
    stack = [(name, root, 0)]
    while stack:
        path, obj, depth = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | complex):
            continue
        seen.add(id(obj))
        keep.append(obj)
        yield path, obj
        if depth < MAX_DEPTH:
            stack.extend((path + step, child, depth + 1) for step, child in _children(obj, packages))


@dataclass
class Leak:
    path: str
    what: str


def _numeric(items: list | tuple) -> bool:
    return all(isinstance(x, int | float) for x in items)


def _floats(obj: object) -> np.ndarray | None:
    """The floating-point numbers `obj` holds, flattened, when it is an array, tensor, list, Series or DataFrame."""
    torch = sys.modules.get("torch")  # no tensor exists unless torch was imported by someone
    pandas = sys.modules.get("pandas")
    if torch is not None and isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    elif pandas is not None and isinstance(obj, pandas.DataFrame):
        obj = obj.select_dtypes("float").to_numpy(dtype=np.float64)
    elif pandas is not None and isinstance(obj, pandas.Series | pandas.Index):
        obj = obj.to_numpy()
    elif isinstance(obj, list | tuple) and len(obj) >= HOLDS_ACCURACIES and all(isinstance(x, float) for x in obj[:50]):
        try:
            obj = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f" and obj.size >= HOLDS_ACCURACIES:
        return obj.reshape(-1).astype(np.float64)
    return None


def _what(obj: object) -> str | None:
    """What oracle `obj` is, or None."""
    if isinstance(obj, ORACLE_CLASSES) or (
        not isinstance(obj, type) and all(hasattr(obj, n) for n in ("query", "final", "data_files"))
    ):
        return f"a benchmark ({type(obj).__name__})"
    if isinstance(obj, type) and issubclass(obj, ORACLE_CLASSES):
        return f"the oracle class {obj.__name__}"
    if isinstance(obj, types.MethodType) and obj.__func__.__name__ in ORACLE_NAMES:
        return f"a bound {obj.__func__.__name__}"
    if type(obj).__module__.startswith("onnxruntime"):
        return "the ONNX surrogate session"
    return None


def leaks(root: object, accuracies: list[np.ndarray], packages: tuple[str, ...] = OUR_PACKAGES,
          name: str = "context") -> list[Leak]:
    """Every path from `root` to an oracle or to an object holding `accuracies` values."""
    known = np.unique(np.concatenate([np.asarray(a, dtype=np.float64) for a in accuracies] or [np.zeros(0)]))
    found = []
    for path, obj in walk(root, name, packages):
        what = _what(obj)
        if what is not None:
            found.append(Leak(path, what))
        elif len(known) and (values := _floats(obj)) is not None:
            held = np.unique(values[np.isin(values, known)]).size  # distinct: 0s and 1s of an encoding are not it
            if held >= HOLDS_ACCURACIES:
                found.append(Leak(path, f"{held:,} distinct accuracy values"))
    return found


def _nb201_accuracies(bench: nb201.Nb201) -> list[np.ndarray]:
    return [bench.table[c].to_numpy(dtype=np.float64) for c in bench.table.columns if "acc" in c]


def _nb101_accuracies(bench: nb101.Nb101) -> list[np.ndarray]:
    arrays = [np.asarray(bench._search, dtype=np.float64)]
    arrays += [np.asarray(v, dtype=np.float64) for k, v in bench._finals.items() if k != "params"]
    return arrays


# Benchmarks with a table of accuracies a method could copy; NB301's oracle is a model (found by type).
_ACCURACIES: dict[type, Callable[..., list[np.ndarray]]] = {
    nb201.Nb201: _nb201_accuracies, nb101.Nb101: _nb101_accuracies,
}


def accuracies(bench: object) -> list[np.ndarray]:
    """The accuracy columns behind `bench`'s oracle, which no method may hold a copy of."""
    columns = _ACCURACIES.get(type(bench))
    return columns(bench) if columns else []
