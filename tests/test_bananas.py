"""BANANAS: valid and new proposals, common random numbers with RS, seeding, constraints, swapping."""

from __future__ import annotations

import numpy as np
import pytest

from methods import bananas
from suite import registry
from suite.api import SearchContext
from suite.benchmarks.base import Observation
from suite.constraints import Constraint
from suite.errors import NasreproError


def context(bench, seed: int, constraint: Constraint | None = None) -> SearchContext:
    seeds = np.random.SeedSequence(seed, spawn_key=(0,))
    return SearchContext(bench.space, np.random.default_rng(seeds), seeds, constraint=constraint)


def run(bench, name: str, queries: int, seed: int = 0, overrides=None, constraint=None) -> list:
    """A minimal runner: ask, query every proposal, tell, until `queries` cells were evaluated."""
    entry = registry.method(name)
    method = entry.build(entry.make_config(bench.name, overrides), context(bench, seed, constraint))
    proposed = []
    while len(proposed) < queries:
        archs = method.ask()[: queries - len(proposed)]
        proposed += archs
        method.tell(archs, [bench.query(a) for a in archs])
    return proposed


FAST = {"predictor": "xgb", "encoding": "path"}


def test_proposals_are_new_valid_cells(nb201_c10):
    proposed = run(nb201_c10, "bananas", 40, overrides=FAST)
    keys = [nb201_c10.key(a) for a in proposed]  # key() raises on an invalid cell
    assert len(set(keys)) == 40


def test_initial_cells_are_those_of_random_search(nb201_c10):
    assert run(nb201_c10, "bananas", 10, seed=4, overrides=FAST) == run(nb201_c10, "rs", 10, seed=4)


def test_same_seed_same_proposals_with_the_default_mlp_ensemble(nb201_c10):
    first = run(nb201_c10, "bananas", 20, seed=1)
    assert first == run(nb201_c10, "bananas", 20, seed=1)
    assert first[10:] != run(nb201_c10, "bananas", 20, seed=2)[10:]


def test_model_guided_rounds_beat_their_random_start(nb201_c10):
    proposed = run(nb201_c10, "bananas", 50, seed=0, overrides=FAST)
    values = [nb201_c10.query(a).value for a in proposed]
    assert np.mean(values[10:]) > np.mean(values[:10])


def test_candidates_respect_the_constraint(nb201_c10):
    constraint = Constraint.parse("flops_m<=60")
    proposed = run(nb201_c10, "bananas", 30, overrides=FAST, constraint=constraint)
    assert all(constraint.feasible(nb201_c10, a) for a in proposed[10:])


def test_predictor_and_encoding_are_swappable(nb201_c10):
    method = registry.method("bananas").build(
        registry.method("bananas").make_config(nb201_c10.name, {"predictor": "rf", "encoding": "adjacency"}),
        context(nb201_c10, 0),
    )
    assert type(method.predictor).__name__ == "RfPredictor" and method.predictor.encoding.name == "adjacency"
    with pytest.raises(NasreproError, match="unknown predictor"):
        registry.method("bananas").make_config(nb201_c10.name, {"predictor": "svm"})
    with pytest.raises(NasreproError, match="acquisition"):
        registry.method("bananas").make_config(nb201_c10.name, {"acquisition": "ucb"})


# --- the algorithm as naszilla's code: candidates, acquisition, encoding, predictor training ---


class Tree:
    """A toy space whose cells record their parent: ("child", parent, i). `variety[parent]` caps how
    many distinct children a parent has (default: practically unlimited)."""

    name = "tree"

    def __init__(self, variety: dict | None = None) -> None:
        self.variety = variety or {}

    def sample(self, rng):
        return ("root", int(rng.integers(1_000_000)))

    def mutate(self, arch, rng):
        return ("child", arch, int(rng.integers(self.variety.get(arch, 1_000_000))))

    def key(self, arch):
        return repr(arch)


class FixedDist:
    """A predictor with a given mean and std per candidate (by position)."""

    def __init__(self, mean, std) -> None:
        self.mean, self.std = np.asarray(mean, float), np.asarray(std, float)

    def fit(self, archs, y):
        return self

    def predict_dist(self, archs):
        return self.mean[: len(archs)], self.std[: len(archs)]


def toy_bananas(space, values, seed=0, predictor=None, **settings):
    """A BANANAS whose evaluated cells are roots 0..n-1 with the given values."""
    seeds = np.random.SeedSequence(seed)
    context = SearchContext(space, np.random.default_rng(seeds), seeds, predictor or FixedDist([0.0], [0.0]))
    entry = registry.method("bananas")
    method = entry.build(entry.make_config("toy", settings), context)
    roots = [("root", i) for i in range(len(values))]
    method.started = True
    method.tell(roots, [Observation(float(v), 0.0) for v in values])
    return method, roots


VALUES = [3.0, 9.0, 1.0, 7.0, 5.0, 8.0, 2.0, 6.0, 4.0, 0.0, 8.5, 7.5]  # best: root 1, then 10, 5, 11


def parents_of(candidates):
    return [c[1] for c in candidates]


def test_best_first_candidates_all_come_from_the_best_cell():
    method, roots = toy_bananas(Tree(), VALUES)
    candidates = bananas.best_first(method)
    assert len(candidates) == 100
    assert set(parents_of(candidates)) == {roots[1]}


def test_best_first_moves_to_the_next_best_only_when_the_best_has_too_few_new_mutations():
    # root 1 has 5 distinct children, root 10 (second best) 8, root 5 (third) plenty; 100 draws
    # find all of a parent's few children (but for odds below 1e-4)
    space = Tree({("root", 1): 5, ("root", 10): 8})
    method, roots = toy_bananas(space, VALUES)
    candidates = bananas.best_first(method)
    parents = parents_of(candidates)
    # 100 mutations of each parent in turn, all new children kept; the check comes between parents,
    # so the third parent's 100 attempts all count (naszilla's get_candidates)
    assert parents[:5] == [roots[1]] * 5 and parents[5:13] == [roots[10]] * 8
    assert parents[13:] == [roots[5]] * 100
    assert len({repr(c) for c in candidates}) == len(candidates)


def test_candidates_are_never_evaluated_cells():
    space = Tree({("root", 1): 5})
    method, roots = toy_bananas(space, VALUES)
    for i in range(5):
        child = ("child", roots[1], i)
        method.tell([child], [Observation(0.0, 0.0)])
    assert roots[1] not in parents_of(bananas.best_first(method))  # all its 5 children were evaluated


def test_round_robin_variant_spreads_over_the_ten_best():
    method, roots = toy_bananas(Tree(), VALUES, candidates="round_robin")
    parents = parents_of(bananas.round_robin(method))
    ranked = sorted(range(len(VALUES)), key=lambda i: -VALUES[i])[:10]
    assert parents[:10] == [roots[i] for i in ranked] and len(parents) == 100


def test_its_picks_the_largest_of_one_normal_draw_per_candidate():
    mean, std = [0.0, 1.0, 0.5, 0.9], [2.0, 0.1, 1.0, 0.0]
    method, _ = toy_bananas(Tree(), VALUES, seed=11, predictor=FixedDist(mean, std), batch_size=2)
    candidates = ["a", "b", "c", "d"]
    chosen = method._select(candidates)
    draw = np.random.default_rng(np.random.SeedSequence(11)).normal(mean, std)  # the same stream, by hand
    assert chosen == [candidates[i] for i in np.argsort(-draw)[:2]]


def test_its_choice_frequency_matches_the_normal_model():
    # a candidate N(0, 1) beats a sure 0.5 with probability 1 - Phi(0.5) = 0.3085
    from scipy.stats import norm

    method, _ = toy_bananas(Tree(), VALUES, seed=2, predictor=FixedDist([0.0, 0.5], [1.0, 0.0]), batch_size=1)
    wins = np.mean([method._select(["risky", "sure"]) == ["risky"] for _ in range(20_000)])
    p = norm.sf(0.5)
    assert abs(wins - p) < 4 * (p * (1 - p) / 20_000) ** 0.5
    greedy, _ = toy_bananas(Tree(), VALUES, predictor=FixedDist([0.0, 0.5], [1.0, 0.0]), batch_size=1,
                            acquisition="mean")
    assert all(greedy._select(["risky", "sure"]) == ["sure"] for _ in range(50))


def test_defaults_follow_naszilla_per_benchmark():
    entry = registry.method("bananas")
    assert entry.make_config("nb101").path_cutoff == 40
    assert entry.make_config("nb201-cifar100").path_cutoff == 30
    assert entry.make_config("nb301").path_cutoff == 0
    assert entry.make_config("nb101").candidates == "best_first" and entry.version >= 2
    with pytest.raises(NasreproError, match="candidates"):
        entry.make_config("nb101", {"candidates": "random"})


def test_nb201_truncated_encoding_keeps_the_paths_of_at_most_two_ops(nb201_c10):
    # naszilla's Cell201 trunc_path (cutoff 30) keeps its 1- and 2-op paths
    entry = registry.method("bananas")
    method = entry.build(entry.make_config(nb201_c10.name), context(nb201_c10, 0))
    encoding = method.predictor.encoding
    assert encoding.dim == 21 and max(len(p) for p in encoding.vocabulary()) == 2


def naszilla_101_indices(paths):
    """naszilla Cell101.get_path_indices: index = sum_i 3^i (op_i + 1), op codes conv3x3 0, conv1x1 1, maxpool 2."""
    return {sum(3**i * (op + 1) for i, op in enumerate(path)) for path in paths}


def test_a_cutoff_of_40_keeps_naszillas_first_40_nb101_paths():
    from predictors.encodings import CellSpace, PathEncoding

    space = CellSpace(("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output"), 7, 5)
    encoding = PathEncoding(None, space, max_paths=40)
    ours = [tuple({"conv3x3-bn-relu": 0, "conv1x1-bn-relu": 1, "maxpool3x3": 2}[op] for op in p)
            for p in encoding.vocabulary()]
    assert encoding.dim == 40 and naszilla_101_indices(ours) == set(range(40))


@pytest.mark.parametrize(
    ("members", "dims"),
    # a small net, one of a single hidden layer, BANANAS's on NB201 (trunc_path)
    [(3, [6, 5, 5, 5, 1]), (2, [6, 5, 1]), (5, [21] + [20] * 10 + [1])],
    ids=["small", "one-layer", "bananas"],
)
def test_batched_ensemble_equals_members_trained_alone_by_autograd(members, dims):
    """The hand-derived batched step (numpy matmuls, torch's fused Adam kernel) against torch autograd +
    torch.optim.Adam, one member at a time."""
    import torch

    from predictors.mlp_ensemble import BETAS, BatchedMlp

    lr, n, batch = 0.01, 20, 8
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, dims[0], generator=gen).round()
    y = torch.randn(n, generator=gen)
    net = BatchedMlp(members, dims, gen, lr)
    alone = []
    for i in range(members):
        layers = []
        for w in net.weights:
            linear = torch.nn.Linear(w.shape[1] - 1, w.shape[2])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w[i, :-1].T))
                linear.bias.copy_(torch.from_numpy(w[i, -1]))
            layers += [linear, torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        alone.append((model, torch.optim.Adam(model.parameters(), lr=lr, betas=BETAS)))
    xa = torch.cat([x, torch.ones(n, 1)], 1)
    for _ in range(4):
        order = torch.stack([torch.randperm(n, generator=gen) for _ in range(members)])
        for start in range(0, n, batch):  # 8, 8, 4 rows: a partial batch too
            idx = order[:, start : start + batch]
            net.step(xa[idx].numpy(), y[idx].unsqueeze(-1).numpy())
            for i, (model, opt) in enumerate(alone):
                loss = torch.nn.functional.l1_loss(model(x[idx[i]]).squeeze(-1), y[idx[i]])
                opt.zero_grad()
                loss.backward()
                opt.step()
    batched = torch.from_numpy(net.predict(x.numpy()))
    for i, (model, _) in enumerate(alone):
        with torch.no_grad():
            torch.testing.assert_close(batched[i], model(x).squeeze(-1), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(batched[i], batched[(i + 1) % members])  # members differ
