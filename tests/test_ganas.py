import dataclasses

import numpy as np
import pytest
import torch

import methods
from methods.base import SearchContext
from methods.ganas import spaces
from methods.ganas.config import GanasConfig, GanasMleConfig
from methods.ganas.networks import Generator, GraphBatch
from methods.ganas.search import GaNas, GaNasMle, PolicyTrainer
from predictors.layers import build_module
from suite import benchmarks
from suite.benchmarks.nb201 import OPS, str_to_arch
from suite.constraints import Constraint
from suite.errors import NasreproError

SMALL = {"n_init": 20, "top_k": 5, "n_eval": 5, "inner_rounds": 2, "rollouts": 16, "d_steps": 2, "ppo_epochs": 2}
SMALL_MLE = {"n_init": 20, "top_k": 5, "n_eval": 5, "mle_steps": 4, "rollouts": 16}
# Every space GA-NAS decodes, where its benchmark is registered on this machine.
SPACES = ["nb201-cifar10", "nb101", "nb301"]


def context(bench, seed, constraint=None):
    seeds = np.random.SeedSequence(0, spawn_key=(seed,))
    return SearchContext(bench, np.random.default_rng(seeds), seeds, constraint=constraint)


def search(method_cls, config, bench, seed, budget, constraint=None):
    """The runner's protocol: unique queries by key, repeats answered from a cache, prefix on the last tell."""
    method = method_cls(config, context(bench, seed, constraint))
    seen, order = {}, []
    while len(order) < budget:
        told, obs = [], []
        for arch in method.ask():
            key = bench.key(arch)
            if key not in seen:
                if len(order) == budget:
                    break
                seen[key] = bench.query(arch)
                order.append(key)
            told.append(arch)
            obs.append(seen[key])
        method.tell(told, obs)
    return order, method


def available(name):
    if name not in benchmarks.names():
        pytest.skip(f"{name} is not registered here")
    if name == "nb101":
        # The cell space alone, which Nb101 delegates sample/key/graph/from_graph to: on a fresh machine
        # the full benchmark first fits its surrogate (minutes), which these tests do not need.
        from suite.benchmarks import nb101_space

        class Nb101Cells(nb101_space.Nb101Space):
            name = "nb101"

        return Nb101Cells()
    return benchmarks.get(name)


def tiny_generator(space, seed):
    return build_module(
        lambda: Generator(len(space.graph_ops), space.kinds, space.step_kind, 16, 1, 32),
        torch.Generator().manual_seed(seed),
    )


def masked_uniform_actions(space, n, rng):
    actions = np.zeros((n, len(space.step_kind)), dtype=np.int64)
    for step in range(actions.shape[1]):
        allowed = space.masks(step, actions[:, :step])
        assert allowed.any(1).all(), f"step {step} leaves no choice"
        for b in range(n):
            actions[b, step] = rng.choice(np.flatnonzero(allowed[b]))
    return actions


@pytest.mark.parametrize("name", SPACES)
def test_every_decoded_cell_is_a_valid_cell_of_the_space(name):
    bench = available(name)
    space = spaces.for_benchmark(bench)
    rng = np.random.default_rng(1)
    # Any sequence the masks allow decodes to a cell (the masks are the whole validity story) ...
    for actions in masked_uniform_actions(space, 300, rng):
        assert spaces.decode(space, bench, actions) is not None, actions
    # ... and so does whatever an untrained generator samples from truth-set-like input cells.
    generator = tiny_generator(space, 0)
    cells = GraphBatch.of([bench.graph(bench.sample(rng)) for _ in range(8)])
    with torch.no_grad():
        rollout = generator.sample(space, cells, torch.arange(8).repeat(25), torch.Generator().manual_seed(1))
    assert all(spaces.decode(space, bench, a) is not None for a in rollout.actions.numpy())


@pytest.mark.parametrize("name", SPACES)
def test_decisions_spell_every_cell_and_decode_back_to_it(name):
    bench = available(name)
    space = spaces.for_benchmark(bench)
    rng = np.random.default_rng(2)
    for _ in range(100):
        arch = bench.sample(rng)
        actions = space.to_actions(bench.graph(arch))
        for step, choice in enumerate(actions):
            assert space.masks(step, actions[None, :step])[0, choice], (step, actions)
        assert bench.key(spaces.decode(space, bench, actions)) == bench.key(arch)


def test_a_search_proposes_only_new_valid_cells_after_the_random_start(nb201_c10):
    config = GanasConfig(**SMALL)
    order, method = search(GaNas, config, nb201_c10, seed=0, budget=45)
    assert len(order) == len(set(order)) == 45
    rs = methods.get("rs").build(methods.get("rs").config_cls(), context(nb201_c10, 0))
    first = [nb201_c10.key(rs.ask()[0]) for _ in range(config.n_init)]
    assert order[: len(set(first))] == list(dict.fromkeys(first))  # common random numbers with RS
    assert len(method.evaluated) == 45


@pytest.mark.parametrize(("cls", "cfg"), [(GaNas, GanasConfig(**SMALL)), (GaNasMle, GanasMleConfig(**SMALL_MLE))])
def test_same_seed_gives_the_same_trajectory_and_other_seeds_differ(nb201_c10, cls, cfg):
    first, _ = search(cls, cfg, nb201_c10, seed=3, budget=40)
    again, _ = search(cls, cfg, nb201_c10, seed=3, budget=40)
    other, _ = search(cls, cfg, nb201_c10, seed=4, budget=40)
    assert first == again
    assert first[cfg.n_init :] != other[cfg.n_init :]


def test_infeasible_cells_never_enter_the_truth_set_nor_the_proposals(nb201_c10):
    constraint = Constraint("flops_m", "<=", 50.0)  # at most one 3x3 convolution: the best cells are out
    config = GanasConfig(**SMALL)
    order, method = search(GaNas, config, nb201_c10, seed=5, budget=45, constraint=constraint)
    truth = method.truth_set()
    assert len(truth) == config.top_k
    assert all(constraint.feasible(nb201_c10, c.arch) for c in truth)
    worst_truth = min(method.evaluated[c.key].value for c in truth)
    infeasible_better = [e for e in method.evaluated.values() if not e.cell.feasible and e.value > worst_truth]
    assert infeasible_better, "the test needs infeasible cells that would otherwise be in the truth set"
    generated = [str_to_arch(k) for k in order[config.n_init :]]
    assert generated and all(constraint.feasible(nb201_c10, a) for a in generated)


def test_infeasible_generated_cells_earn_no_reward(nb201_c10, monkeypatch):
    constraint = Constraint("flops_m", "<=", 50.0)
    method = GaNas(GanasConfig(**SMALL), context(nb201_c10, 6, constraint))
    for arch in method.ask():
        method.tell([arch], [nb201_c10.query(arch)])
    updates = []
    monkeypatch.setattr(method.policy, "update", lambda cells, rollout, reward: updates.append((rollout, reward)))
    truth = method.truth_set()
    method.fit(truth, GraphBatch.of([c.graph for c in truth]))
    feasible, rewards = [], []
    for rollout, reward in updates:
        feasible += [constraint.feasible(nb201_c10, c.arch) for c in method.decode(rollout.actions)]
        rewards += reward.tolist()
    feasible, rewards = np.array(feasible), np.array(rewards)
    assert (~feasible).any() and feasible.any()
    assert (rewards[~feasible] == 0).all()
    assert (rewards[feasible] > 0).all()


def test_the_discriminator_separates_the_truth_set_from_random_cells(nb201_c10):
    bench = nb201_c10
    ranked = np.argsort(-bench.table[bench.search_metric].to_numpy(), kind="stable")
    truth = [str_to_arch(bench.table["arch_str"][i]) for i in ranked[:20]]
    held_out_good = [str_to_arch(bench.table["arch_str"][i]) for i in ranked[20:120]]
    method = GaNas(GanasConfig(**{**SMALL, "d_steps": 1}), context(bench, 7))
    rng = np.random.default_rng(8)
    truth_batch = GraphBatch.of([bench.graph(a) for a in truth])
    for _ in range(120):
        fake = GraphBatch.of([bench.graph(bench.sample(rng)) for _ in range(20)])
        method.train_discriminator(truth_batch, fake)
    random_cells = GraphBatch.of([bench.graph(bench.sample(rng)) for _ in range(100)])
    good = GraphBatch.of([bench.graph(a) for a in held_out_good])
    d = method.discriminator
    with torch.no_grad():
        truth_vs_random = d.pair_logits(d.embed(truth_batch), d.embed(random_cells)) > 0
        good_vs_random = torch.diagonal(d.pair_logits(d.embed(good), d.embed(random_cells))) > 0
    assert truth_vs_random.float().mean() > 0.9
    assert good_vs_random.float().mean() > 0.75  # unseen good cells are judged real against unseen random ones


def test_the_generator_learns_a_toy_reward_by_policy_gradient(nb201_c10):
    bench = nb201_c10
    space = spaces.for_benchmark(bench)
    generator = tiny_generator(space, 0)
    policy = PolicyTrainer(generator, lr=5e-3, clip=0.2, entropy_weight=0.01, baseline_decay=0.9, epochs=4)
    cells = GraphBatch.of([bench.graph(bench.sample(np.random.default_rng(9))) for _ in range(4)])
    gen = torch.Generator().manual_seed(10)
    conv3 = OPS.index("nor_conv_3x3")
    means = []
    for _ in range(40):
        with torch.no_grad():
            rollout = generator.sample(space, cells, torch.randint(4, (32,), generator=gen), gen)
        reward = (rollout.actions == conv3).float().mean(1)  # toy objective: the share of 3x3 convolutions
        policy.update(cells, rollout, reward)
        means.append(float(reward.mean()))
    assert np.mean(means[:5]) < 0.35
    assert np.mean(means[-5:]) > np.mean(means[:5]) + 0.3


def test_networks_are_built_from_the_run_generator_without_global_rng(nb201_c10):
    space = spaces.for_benchmark(nb201_c10)

    state = torch.get_rng_state()
    a, b, c = tiny_generator(space, 1), tiny_generator(space, 1), tiny_generator(space, 2)
    assert torch.equal(state, torch.get_rng_state())
    pa, pb, pc = ([p.detach() for p in m.parameters()] for m in (a, b, c))
    assert all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(pa, pc, strict=True))


def test_settings_are_checked_and_shared_by_every_benchmark():
    with pytest.raises(ValueError, match="top_k"):
        GanasConfig(top_k=0)
    with pytest.raises(ValueError, match="rollouts"):
        GanasConfig(top_k=100, rollouts=64)
    with pytest.raises(NasreproError, match="ganas"):
        methods.get("ganas").make_config("nb201-cifar10", {"ppo_clip": -1})
    for entry in (methods.get("ganas"), methods.get("ganas-mle")):
        base = entry.default_config("nb201-cifar10")
        assert all(entry.default_config(b) == base for b in ("nb101", "nb301", "nb201-imagenet16"))
        assert dataclasses.is_dataclass(base)


def test_a_space_without_a_decoder_is_refused(nb201_c10):
    class Other:
        name = "toy-space"

    with pytest.raises(NasreproError, match="no decoder for toy-space"):
        spaces.for_benchmark(Other())
