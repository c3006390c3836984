"""Speed of the nb101 benchmark: cached queries, and the hash of a cell not seen before."""

from __future__ import annotations

import numpy as np
import pytest

from methods.local_search import LocalSearch, LocalSearchConfig
from suite.api import SearchContext
from suite.benchmarks import nb101, nb101_space
from suite.benchmarks import nb101_surrogate as surrogate

pytestmark = pytest.mark.bench
SMALL = surrogate.SurrogateConfig(family="xgb-adj", cost_family="xgb-adj", xgb_rounds=15, xgb_depth=4)


@pytest.fixture(scope="module")
def bench() -> nb101.Nb101:
    return nb101.Nb101(nb101.Nb101Settings(surrogate=SMALL), official_path=None)


def test_query_throughput(benchmark, bench):
    archs = np.random.default_rng(0).integers(bench.space_size, size=100_000).tolist()
    query = bench.query

    def run():
        for arch in archs:
            query(arch)

    benchmark.pedantic(run, rounds=3, iterations=1)
    per_second = len(archs) / benchmark.stats.stats.min
    benchmark.extra_info["queries_per_second"] = per_second
    assert per_second >= 100_000


def _unseen_specs(space: nb101_space.Nb101Space, n: int) -> list[tuple[np.ndarray, list[str]]]:
    """Random valid 7-vertex specs as nasbench's sampler draws them (unpruned, any numbering)."""
    rng = np.random.default_rng(1)
    specs = []
    while len(specs) < n:
        matrix = np.triu(rng.integers(0, 2, size=(7, 7)), 1)
        ops = ["input", *rng.choice(nb101_space.OPS, size=5).tolist(), "output"]
        try:
            space.from_spec(matrix, ops)
        except nb101_space.InvalidArchitecture:
            continue
        specs.append((matrix, ops))
    return specs


def test_hash_of_an_unseen_cell(benchmark, bench):
    space = bench.space
    specs = _unseen_specs(space, 2000)
    found = []

    def run():
        found.clear()
        for matrix, ops in specs:
            found.append(space.key(space.from_spec(matrix, ops)))

    benchmark.pedantic(run, rounds=3, iterations=1)
    seconds_per_cell = benchmark.stats.stats.min / len(specs)
    benchmark.extra_info["us_per_cell"] = seconds_per_cell * 1e6
    assert len(found) == len(specs) and seconds_per_cell <= 50e-6


def test_md5_module_hash_direct(benchmark, bench):
    """The official md5 computation itself (what the table replaces at query time), for reference."""
    cells = [bench.space.cell(i) for i in range(0, bench.space_size, 4001)]

    def run():
        for cell in cells:
            nb101_space.module_hash(cell.matrix, cell.labels)

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["us_per_cell"] = benchmark.stats.stats.min / len(cells) * 1e6


def test_local_search_150_queries(benchmark, bench):
    """One local-search run of 150 queries on NB101 (the runner's loop, without its store): most of its
    time is `neighbors`, a pruning pass and a table lookup for each of ~36 edits per neighbourhood."""
    def run() -> int:
        seeds = np.random.SeedSequence(0)
        method = LocalSearch(LocalSearchConfig(), SearchContext(bench.space, np.random.default_rng(seeds), seeds))
        for _ in range(150):
            archs = method.ask()
            method.tell(archs, [bench.query(arch) for arch in archs])
        return len(method.seen)

    assert benchmark.pedantic(run, rounds=5, iterations=1) == 150
    assert benchmark.stats.stats.min < 0.1


def test_prepare_from_an_empty_cache(benchmark, tmp_path, monkeypatch):
    """`nasrepro data prepare nb101` from nothing: enumeration, hashing, the default surrogate's fits and
    its predictions for all 423,624 cells. Target (issue 12): <= 120 s on 2 cores."""
    from suite import data

    def prepare():
        cache = tmp_path / f"cache{len(list(tmp_path.iterdir()))}"
        monkeypatch.setenv(data.CACHE_ENV, str(cache))
        cells = nb101_space.CellTable.load()
        return surrogate.predictions(cells, surrogate.SurrogateConfig(), 0)

    pred = benchmark.pedantic(prepare, rounds=1, iterations=1)
    benchmark.extra_info["seconds"] = benchmark.stats.stats.min
    assert len(pred.test_acc) == nb101_space.N_CELLS
    assert benchmark.stats.stats.min <= 120, f"NB101 preparation: {benchmark.stats.stats.min:.0f} s"
