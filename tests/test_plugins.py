"""Methods and predictors from other distributions: found by entry point like the built-ins, named in one
line when they cannot be used (without stopping the others), and their distribution and release recorded
in every run's id and metadata, while the built-ins' run ids stay as they were."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from suite import registry
from suite.cli import main
from suite.errors import NasreproError
from suite.running.runner import execute
from suite.running.spec import Budget, ExperimentSpec
from suite.running.store import Store
from suite.running.verify import verify

METHODS, PREDICTORS = "nasrepro.methods", "nasrepro.predictors"
SOURCE = '''
from dataclasses import dataclass

from suite.api import MethodEntry, PredictorEntry


@dataclass(frozen=True)
class Config:
    pass


class Sampler:
    def __init__(self, config, context):
        self.space, self.rng = context.space, context.rng

    def ask(self):
        return [self.space.sample(self.rng)]

    def tell(self, archs, observations):
        pass


class Mean:
    def fit(self, archs, y):
        self.mean = float(y.mean())
        return self

    def predict(self, archs):
        import numpy as np

        return np.full(len(archs), self.mean)


SAMPLER = MethodEntry("sampler", Config, Sampler, "planted: uniform samples")
RS = MethodEntry("rs", Config, Sampler, "planted: a second rs")
TWIN = MethodEntry("twin", Config, Sampler, "planted: declared twice")
NOT_AN_ENTRY = "sampler"
MEAN = PredictorEntry("mean", Config, lambda config, space, seeds: Mean(), "planted: the mean")
'''


def _install(plant, distribution="nasrepro-sampler", version="0.3", methods=None, predictors=None, module="sampler",
             source=SOURCE):
    points = {METHODS: methods if methods is not None else {"sampler": f"{module}:SAMPLER"}}
    if predictors:
        points[PREDICTORS] = predictors
    plant(distribution, version, {module: source}, points)


def cli(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


def _run(method="sampler", predictor=None):
    return ExperimentSpec(("nb201-cifar10",), (method,), (0,), Budget(10), predictor=predictor).runs()[0]


def test_a_plugin_is_listed_and_runs_like_a_built_in(plant, tmp_path, capsys):
    _install(plant, predictors={"mean": "sampler:MEAN"})
    code, out = cli(["list"], capsys)
    assert code == 0 and out.err == ""
    assert "  sampler              planted: uniform samples [nasrepro-sampler 0.3]" in out.out.splitlines()
    assert "  mean                 planted: the mean [nasrepro-sampler 0.3]" in out.out.splitlines()
    assert "  rs                   random search" in out.out  # built-ins carry no distribution
    code, out = cli(["run", "--benchmark", "nb201-cifar10", "--method", "sampler,rs", "--seeds", "0-1",
                     "--budget", "10", "--out", str(tmp_path / "store"), "--quiet"], capsys)
    assert code == 0 and "4 runs stored" in out.out
    store = Store(tmp_path / "store")
    metas = {m["spec"]["method"]: m for m in store.metas()}
    assert metas["sampler"]["spec"]["method_distribution"] == "nasrepro-sampler==0.3"
    assert metas["sampler"]["providers"]["method"] == {
        "distribution": "nasrepro-sampler", "version": "0.3", "target": "sampler:SAMPLER", "entry_version": 1}
    assert metas["rs"]["spec"]["method_distribution"] is None
    assert metas["rs"]["providers"]["method"]["distribution"] == "nasrepro"
    # RS and the plugin draw their first cell from the same seeded stream: a plugin gets the same context
    first = {m: store.trajectory(meta["spec"]["run_id"])["arch_key"].iloc[0] for m, meta in metas.items()}
    assert first["sampler"] == first["rs"]


def test_a_plugin_predictor_is_recorded_and_in_the_run_id(plant):
    _install(plant, predictors={"mean": "sampler:MEAN"})
    run = _run("rs", predictor="mean")
    assert run.predictor_distribution == "nasrepro-sampler==0.3"
    assert run.run_id != dataclasses.replace(run, predictor_distribution=None).run_id
    _, meta = execute(run)
    assert meta["providers"]["predictor"]["distribution"] == "nasrepro-sampler"


def _old_id(run) -> str:
    """A run id as computed before RunSpec had the distribution fields (and predictor_version)."""
    fields = dataclasses.asdict(run)
    for name in ("predictor_version", "method_distribution", "predictor_distribution"):
        assert fields.pop(name) is None
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:20]


def test_built_in_run_ids_are_unchanged_and_a_plugins_carry_its_release(plant):
    for method, predictor in (("rs", None), ("re", None), ("ganas", "xgb")):
        run = _run(method, predictor)
        assert run.run_id == _old_id(run)
    _install(plant)
    first = _run()
    assert first.method_distribution == "nasrepro-sampler==0.3"
    _install(plant, version="0.4")
    second = _run()
    assert second.method_distribution == "nasrepro-sampler==0.4"
    assert first.run_id != second.run_id and dataclasses.replace(first, method_distribution="x").run_id not in (
        first.run_id, second.run_id)
    # a stored run of the other release is not recomputed as if it were this one
    with pytest.raises(NasreproError, match="came from nasrepro-sampler==0.3, the installed one from "
                                            "nasrepro-sampler==0.4"):
        execute(first)


def test_verify_names_a_plugin_release_that_is_no_longer_installed(plant, tmp_path, capsys):
    _install(plant)
    store = tmp_path / "store"
    assert main(["run", "--benchmark", "nb201-cifar10", "--method", "sampler", "--seeds", "0", "--budget", "10",
                 "--out", str(store), "--quiet"]) == 0
    assert verify(store).ok
    _install(plant, version="0.4")
    result = verify(store)
    assert not result.identical and "came from nasrepro-sampler==0.3" in next(iter(result.failed.values()))


BROKEN = "import not_a_module_anywhere\n"


def test_a_plugin_that_fails_to_import_is_named_in_one_line_and_the_others_work(plant, tmp_path, capsys):
    _install(plant, distribution="nasrepro-broken", module="broken", source=BROKEN,
             methods={"broken": "broken:ENTRY"})
    code, out = cli(["list"], capsys)
    assert code == 2 and out.err.count("\n") == 1
    assert ("method 'broken' (broken:ENTRY, from nasrepro-broken 0.3) failed to load: ModuleNotFoundError: "
            "No module named 'not_a_module_anywhere'") in out.err
    assert "  rs " in out.out and "  re " in out.out and "broken" not in out.out
    code, out = cli(["run", "--benchmark", "nb201-cifar10", "--method", "rs,broken", "--seeds", "0",
                     "--budget", "10", "--out", str(tmp_path / "a"), "--quiet"], capsys)
    assert code == 2 and out.err.count("\n") == 1 and "nasrepro-broken" in out.err
    assert not (tmp_path / "a").exists()
    code, out = cli(["run", "--benchmark", "nb201-cifar10", "--method", "rs", "--seeds", "0", "--budget", "10",
                     "--out", str(tmp_path / "b"), "--quiet"], capsys)
    assert code == 0 and "1 runs stored" in out.out


def test_a_plugin_clashing_with_a_built_in_is_ignored_saying_so(plant, tmp_path, capsys):
    _install(plant, methods={"rs": "sampler:RS", "sampler": "sampler:SAMPLER"})
    assert registry.method_provider("rs").builtin and registry.method("rs").description.startswith("random search")
    code, out = cli(["list"], capsys)
    assert code == 2 and out.err.count("\n") == 1
    assert ("method 'rs' of nasrepro-sampler 0.3 (sampler:RS) clashes with the built-in 'rs' and is ignored"
            in out.err)
    assert "  sampler " in out.out
    code, out = cli(["run", "--benchmark", "nb201-cifar10", "--method", "rs,sampler", "--seeds", "0",
                     "--budget", "10", "--out", str(tmp_path / "store"), "--quiet"], capsys)
    assert code == 0 and "2 runs stored" in out.out
    assert out.err.count("\n") == 1 and out.err.startswith("nasrepro: warning: method 'rs' of nasrepro-sampler")
    assert _run("rs").run_id == _old_id(_run("rs"))  # the built-in's runs keep their ids


def test_a_name_two_plugins_declare_belongs_to_neither(plant, capsys):
    _install(plant, methods={"twin": "sampler:TWIN"})
    _install(plant, distribution="nasrepro-other", module="other", methods={"twin": "other:TWIN"})
    with pytest.raises(NasreproError, match="'twin' is declared by nasrepro-other 0.3 .* and nasrepro-sampler 0.3"):
        registry.method("twin")
    code, out = cli(["list"], capsys)
    assert code == 2 and "uninstall one of them" in out.err and "twin" not in out.out


@pytest.mark.parametrize(("target", "message"), [
    ("sampler:NOT_AN_ENTRY", "is a str, not a suite.api.MethodEntry"),
    ("sampler:MEAN", "is a PredictorEntry, not a suite.api.MethodEntry"),
    ("sampler:TWIN", "is declared as 'sampler' but names itself 'twin'"),
    ("sampler:NOWHERE", "failed to load: AttributeError"),
])
def test_a_wrong_entry_is_one_line_naming_it(plant, capsys, target, message):
    _install(plant, methods={"sampler": target})
    code, out = cli(["check-method", "sampler"], capsys)
    assert code == 2 and out.err.count("\n") == 1 and message in out.err
