"""The packages import one way (DESIGN.md, "Dependencies"): methods and predictors use the harness, the
harness never imports them but through the entry points of suite.registry; inside suite, the flow
spec -> runner -> store -> analysis -> reporting never points backwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The stated exceptions (DESIGN.md): the CLI's `predictors` command runs the predictor benchmark, which lives
# in predictors/; the NB101 surrogate oracle builds its features and GNN with the predictors' own code, and
# NB201's surrogate oracles (the same pipeline, checked against the real table) their features.
ALLOWED = {
    ("suite/cli.py", "predictors.evaluate"),
    ("suite/cli.py", "predictors.tuning"),
    ("suite/cli.py", "predictors.bench_run"),
    ("suite/benchmarks/nb101_surrogate.py", "predictors.encodings"),
    ("suite/benchmarks/nb101_surrogate.py", "predictors.layers"),
    ("suite/benchmarks/nb101_surrogate.py", "predictors.common"),
    ("suite/benchmarks/nb201_surrogate.py", "predictors.encodings"),
}
# room -> the rooms it may not import (anywhere in the module, nested imports included)
BACKWARDS = {
    "suite/benchmarks": ("suite.running", "suite.analysis", "suite.reporting"),
    "suite/running": ("suite.checks", "suite.analysis", "suite.reporting"),
    "suite/checks": ("suite.analysis", "suite.reporting"),
    "suite/analysis": ("suite.reporting",),
}


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _suite_modules() -> list[Path]:
    return sorted((ROOT / "suite").rglob("*.py"))


def test_the_harness_imports_no_method_or_predictor_but_the_stated_exceptions():
    offending = []
    for path in _suite_modules():
        rel = path.relative_to(ROOT).as_posix()
        for module in _imports(path):
            package_and_module = ".".join(module.split(".")[:2])
            if module.split(".")[0] in {"methods", "predictors"} and (rel, package_and_module) not in ALLOWED:
                offending.append(f"{rel}: {module}")
    assert not offending, offending


def test_rooms_of_the_harness_never_import_backwards():
    offending = []
    for path in _suite_modules():
        rel = path.relative_to(ROOT).as_posix()
        for room, forbidden in BACKWARDS.items():
            if rel.startswith(room + "/"):
                offending += [f"{rel}: {m}" for m in _imports(path) if m.startswith(forbidden)]
    assert not offending, offending


def test_loading_the_harness_and_building_a_run_loads_methods_only_through_the_registry():
    # Reading specs, stores, statistics and reports pulls in no method or predictor module at all.
    code = (
        "import sys\n"
        "import suite.running.spec, suite.running.runner, suite.running.store, suite.running.verify\n"
        "import suite.analysis.collect, suite.analysis.significance, suite.reporting.report\n"
        "import suite.reporting.leaderboard, suite.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'methods', 'predictors'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_a_planted_backwards_import_is_caught(tmp_path):
    # The checker itself can fail: a harness module importing a method is reported.
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from methods import bananas\n    import predictors.gp\n")
    assert {"methods.bananas", "predictors.gp"} <= set(_imports(planted))
