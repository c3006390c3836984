"""Methods are blind to the oracle: nothing reachable from what a method gets leads to it.

The runner gives a method a SearchContext whose `space` is the search space alone. These tests walk
every object reachable from that context, and from each method built on it after a round of ask/tell,
with the walker of `nasrepro check-method` (suite/checks/reach.py: attributes by `vars`, `__slots__`,
class attributes and properties, bound methods' `__self__`, closure cells, `__wrapped__`, defaults,
partials, containers), and assert that no Benchmark, no bound `query`/`final`, no ONNX session and
nothing holding accuracies (a float array, tensor, list, Series or DataFrame with more distinct accuracy
values than a search is told: a column, part of one, a table kept on a space) is among them. Imports are
the other way to an oracle; a static check refuses them in methods/ and predictors/: a method may import a
space module (`nb201_space`, `nb101_space`, `darts_space`, ...), never an oracle's (`nb201` reads the table).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from suite import benchmarks, registry
from suite.api import SearchContext
from suite.benchmarks import nb201_space
from suite.checks.reach import ORACLE_NAMES, accuracies, leaks
from suite.running.runner import search_context
from suite.running.spec import Budget, ExperimentSpec

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- the walker
class _Holder:
    __slots__ = ("slot",)


def _plants(bench) -> dict[str, object]:
    """One object per channel, each hiding the benchmark (or its table) somewhere."""
    holder = _Holder()
    holder.slot = bench

    def closure():
        return bench

    class WithProperty:
        @property
        def oracle(self):
            return closure()

    WithProperty.__module__ = "suite.planted"  # a class of ours: its properties are evaluated

    class WithClassAttribute:
        oracle = bench

    WithClassAttribute.__module__ = "methods.planted"
    keeping_the_table = copy.copy(bench.space)
    keeping_the_table.table = bench.table  # the planted bug of issue 21: NB201's space kept the table
    valid = bench.table[bench.search_metric]
    return {
        "attribute": types.SimpleNamespace(x=bench),
        "slot": holder,
        "closure": closure,
        "bound query": {"q": bench.query},
        "bound method's self": bench.data_files,
        "partial": functools.partial(print, bench),
        "wrapped": functools.wraps(closure)(lambda: None),
        "property": WithProperty(),
        "class attribute": WithClassAttribute(),
        "table as list": [bench.table[bench.search_metric].tolist()],
        "sorted table": np.sort(bench.table[bench.search_metric].to_numpy()),
        "deep": [[[[types.SimpleNamespace(y=(bench,))]]]],
        "table as tensor": torch.as_tensor(bench.table[bench.search_metric].to_numpy().copy()),
        "a space keeping the table": keeping_the_table,
        "the table's final column": bench.table[bench.dataset.final_column],
        "part of a column": valid.to_numpy()[::4].copy(),
        "columns side by side": np.stack([valid.to_numpy(), bench.space.cost_table()["flops_m"]]),
        "a shuffled tensor": torch.tensor(np.random.default_rng(0).permutation(valid.to_numpy())),
    }


CHANNELS = ["attribute", "slot", "closure", "bound query", "bound method's self", "partial", "wrapped", "property",
            "class attribute", "table as list", "sorted table", "deep", "table as tensor", "a space keeping the table",
            "the table's final column", "part of a column", "columns side by side", "a shuffled tensor"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_walk_finds_an_oracle_hidden_in_any_channel(nb201_c10, channel):
    plant = _plants(nb201_c10)[channel]
    assert leaks(plant, accuracies(nb201_c10)), f"an oracle hidden by {channel} went unnoticed"


def test_the_walk_follows_a_plugins_own_classes_when_told_its_package(nb201_c10):
    """A plugin's class attributes and properties are followed like ours once its package is named (as
    check-method names the method's own package)."""

    class PluginState:
        oracle = nb201_c10

    PluginState.__module__ = "some_plugin.search"
    plant = types.SimpleNamespace(state=PluginState())
    assert leaks(plant, accuracies(nb201_c10)) == []  # an instance's class attributes: only of known packages
    found = leaks(plant, accuracies(nb201_c10), packages=("suite", "some_plugin"))
    assert "context.state.__class__.oracle" in [leak.path for leak in found]


# ---------------------------------------------------------------------------------------------- the tests
def _bench(name: str):
    """(benchmark, its accuracy columns): everything a method must not be able to reach. NB101 is the tests'
    (tests/conftest.py): its cell table and a small surrogate, built in the test run's cache."""
    bench = benchmarks.get(name)
    return bench, accuracies(bench)


BENCHMARKS = ["nb201-cifar10", "nb201-cifar100", "nb201-imagenet16", "nb101", "nb301"]


def _context(bench, predictor: str | None = None, constraint: str | None = None) -> SearchContext:
    run = ExperimentSpec(("nb201-cifar10",), ("rs",), (0,), Budget(10), predictor=predictor).runs()[0]
    run = dataclasses.replace(run, benchmark=bench.name, oracle=bench.oracle, constraint=constraint)
    return search_context(run, bench)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_no_method_can_reach_the_oracle(name):
    bench, accuracies = _bench(name)
    space = bench.space
    assert [n for n in ORACLE_NAMES if hasattr(space, n)] == []
    cell = space.sample(np.random.default_rng(0))
    assert set(space.costs(cell)) <= set(bench.final(cell))
    cost = "params" if name == "nb101" else "flops_m" if name in ("nb201-cifar10", "nb301") else "latency_ms/fpga"
    context = _context(bench, constraint=f"{cost}<=1e12")
    assert context.space is space and context.feasible(space.sample(np.random.default_rng(1)))
    assert leaks(context, accuracies) == []
    for method_name in registry.method_names():
        entry = registry.method(method_name)
        method = entry.build(entry.make_config(bench.name), context)
        rounds = 1 if method_name.startswith("ganas") else 2  # GA-NAS's second round trains its networks
        for _ in range(rounds):
            archs = method.ask()
            method.tell(archs, [bench.query(a) for a in archs])
        assert leaks(method, accuracies) == [], method_name


@pytest.mark.parametrize("predictor", ["xgb", "flops"])
def test_a_run_predictor_is_built_from_the_space(nb201_c10, predictor):
    context = _context(nb201_c10, predictor=predictor)
    assert context.predictor is not None
    assert leaks(context, accuracies(nb201_c10)) == []


@pytest.mark.parametrize("method_name", ["rs", "re", "bananas", "ganas"])
def test_the_walk_catches_a_method_given_the_benchmark(nb201_c10, method_name):
    """The design this replaces (the context held the benchmark) fails the walk, through each method."""
    seeds = np.random.SeedSequence(0)
    context = SearchContext(nb201_c10.space, np.random.default_rng(seeds), seeds)
    object.__setattr__(context, "space", nb201_c10)  # past the context's own check
    entry = registry.method(method_name)
    method = entry.build(entry.make_config(nb201_c10.name), context)
    assert leaks(method, accuracies(nb201_c10))


def test_the_walk_catches_a_space_that_keeps_the_table(nb201_c10):
    """The planted bug of issue 21 (NB201's space keeping `table`), reached as a method reaches it."""
    space = copy.copy(nb201_c10.space)
    space.table = nb201_c10.table
    seeds = np.random.SeedSequence(0)
    context = SearchContext(space, np.random.default_rng(seeds), seeds)
    assert [leak.path for leak in leaks(context, accuracies(nb201_c10))] == ["context.space.table"]


def test_a_context_refuses_a_benchmark(nb201_c10):
    seeds = np.random.SeedSequence(0)
    with pytest.raises(TypeError, match="pass benchmark.space"):
        SearchContext(nb201_c10, np.random.default_rng(seeds), seeds)


def test_the_space_answers_as_the_benchmark_did(nb201_c10):
    """The split moved the operators, it did not change them: the benchmark delegates to its space."""
    space, rng = nb201_c10.space, np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert nb201_c10.key(arch) == space.key(arch) == nb201_space.arch_to_str(arch)
        assert space.from_graph(space.graph(arch)) == arch
        row = nb201_c10.table.iloc[nb201_c10._row[arch]]
        costs = space.costs(arch)
        assert costs["train_time_s"] == row["cifar10-valid/train_time_200"]
        assert costs["latency_ms/pixel3"] == row["latency_ms/pixel3"]
        n3, n1 = arch.count(nb201_space.OPS.index("nor_conv_3x3")), arch.count(nb201_space.OPS.index("nor_conv_1x1"))
        assert costs["flops_m"] == pytest.approx(7.78305 + 35.38944 * n3 + 3.93216 * n1)
    assert "flops_m" not in benchmarks.get("nb201-cifar100").space.costs((0,) * 6)  # the formula is CIFAR-10's


# ---------------------------------------------------------------------------------------------- imports
# Modules of the space alone. The oracles' modules (nb201 reads the table; nb101, nb301) are refused whole.
STRUCTURE = {"base", "nb101_space", "darts_space", "darts_formats", "darts_size", "nb201_space"}
# suite.data: the data files themselves (a method could read the table from disk).
FORBIDDEN_MODULES = {"suite.running.runner", "suite.running.store", "suite.analysis.collect", "suite.running.verify",
                     "suite.data", "importlib", "onnxruntime"}
FORBIDDEN_NAMES = {"Nb101", "Nb201", "Nb301", "__import__", "import_module", *ORACLE_NAMES}
# predictors/evaluate.py is the predictor benchmark: it queries the oracle by design, outside any search.
# The predictor benchmark's harness: it labels cells with the oracle (or the real NB101 files) to score
# predictors, and no search ever calls it.
NOT_IN_A_SEARCH = {Path("predictors/evaluate.py"), Path("predictors/targets.py")}


def _forbidden_module(module: str) -> bool:
    parts = module.split(".")
    if parts[:2] == ["suite", "benchmarks"]:  # the registry, or a module holding an oracle
        return len(parts) != 3 or parts[2] not in STRUCTURE
    return module in FORBIDDEN_MODULES


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):  # `import suite.x` binds the whole package, registry included
            found += [a.name for a in node.names if a.name.startswith("suite") or _forbidden_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                if module == "suite.benchmarks":
                    bad = alias.name not in STRUCTURE
                elif module == "suite":
                    bad = _forbidden_module(f"suite.{alias.name}")
                else:
                    bad = _forbidden_module(module)
                if bad or alias.name in FORBIDDEN_NAMES:
                    found.append(f"{module}.{alias.name} (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            found.append(f".{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES - set(ORACLE_NAMES):
            found.append(f"{node.id} (line {node.lineno})")
    return found


def test_no_search_code_imports_or_names_the_oracle():
    files = [p for d in ("methods", "predictors") for p in sorted((ROOT / d).rglob("*.py"))]
    offences = {str(p.relative_to(ROOT)): o for p in files
                if p.relative_to(ROOT) not in NOT_IN_A_SEARCH and (o := _offences(p))}
    assert offences == {}


@pytest.mark.parametrize("source", [
    "from suite import benchmarks", "import suite.benchmarks.nb201", "from suite.running.runner import execute",
    "from suite.benchmarks import get", "from suite.benchmarks import nb301",
    "from suite.benchmarks.nb201 import Nb201",
    "from suite.benchmarks import nb201\nnb201.Nb201", "x = space.query(a)", "x = b.final_values",
    "importlib.import_module('suite.benchmarks')", "__import__('suite')", "from suite import data",
    "from suite.data import require", "from suite.benchmarks import nb201", "from suite.benchmarks.nb201 import OPS",
    "from suite.benchmarks.nb201 import DATA_FILE, _read_table",
])
def test_the_import_check_sees_each_way_in(tmp_path, source):
    path = tmp_path / "case.py"
    path.write_text(source + "\n")
    assert _offences(path)


def test_the_import_check_allows_the_space_modules(tmp_path):
    path = tmp_path / "case.py"
    path.write_text("from suite.benchmarks import nb201_space, darts_space\nfrom suite.benchmarks.base import Arch\n"
                    "from suite.benchmarks.nb201_space import OPS\nn = nb201_space.N_EDGES\nfinal = 1\n")
    assert _offences(path) == []
