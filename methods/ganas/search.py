"""The GA-NAS search loop (Algorithm 1) and its two ways of fitting the generator to the truth set.

`GaNas` trains the generator adversarially (Algorithm 2: a pairwise discriminator, PPO with the
discriminator's belief as reward); `GaNasMle` fits the same generator by maximum likelihood, the plain
cross-entropy method, as an ablation. Everything else (X0, truth set, proposals) is shared.

Reproducibility: every random draw after X0 comes from two torch generators seeded from the run
(stream 0 initialises the networks, stream 1 drives sampling). Torch runs on one thread while the
search computes (`one_torch_thread`), so no reduction depends on how work is split across threads; the
CPU kernels used are deterministic on one thread (tests/test_ganas.py reruns a seed and compares bits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from methods.ganas import spaces
from methods.ganas.adam import FusedAdam
from methods.ganas.config import PAIR_NAMES, REWARD_NAMES, GanasConfig, GanasMleConfig
from methods.ganas.networks import Generator, GraphBatch, PairDiscriminator, Rollout
from predictors.common import one_torch_thread
from predictors.layers import build_module
from predictors.screening import Screen
from suite.api import SearchContext
from suite.benchmarks.base import Arch, CellGraph, Observation
from suite.errors import NasreproError


@dataclass(frozen=True)
class Cell:
    arch: Arch
    key: str
    graph: CellGraph  # the benchmark's own graph of the cell (canonical, e.g. pruned on NB101)
    feasible: bool


@dataclass(frozen=True)
class Evaluated:
    cell: Cell
    value: float


class PolicyTrainer:
    """PPO for the generator: clipped ratio, moving-average baseline, entropy bonus."""

    def __init__(self, generator: Generator, lr: float, clip: float, entropy_weight: float,
                 baseline_decay: float, epochs: int) -> None:
        self.generator = generator
        self.optimizer = FusedAdam(generator.parameters(), lr)
        self.clip, self.entropy_weight = clip, entropy_weight
        self.baseline_decay, self.epochs = baseline_decay, epochs
        self.baseline: float | None = None

    def update(self, cells: GraphBatch, rollout: Rollout, reward: torch.Tensor) -> None:
        mean = float(reward.mean())
        self.baseline = mean if self.baseline is None else (
            self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean
        )
        # The baseline centres the reward; dividing by its spread keeps the step size independent of
        # how sharp the discriminator currently is.
        advantage = (reward - self.baseline) / (reward.std() + 1e-8)
        old = rollout.log_prob.detach()
        forbidden = self.generator.forbidden(rollout.masks)
        for _ in range(self.epochs):
            log_prob, entropy = self.generator.score(cells, rollout.inputs, rollout.actions, forbidden)
            ratio = torch.exp(log_prob - old)
            clipped = torch.clamp(ratio, 1 - self.clip, 1 + self.clip)
            objective = torch.minimum(ratio * advantage, clipped * advantage).mean()
            loss = -(objective + self.entropy_weight * entropy.mean())
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()


class _Search:
    """Algorithm 1: X0 at random, then truth set -> fit G -> generate and evaluate new cells."""

    def __init__(self, config: GanasConfig | GanasMleConfig, context: SearchContext[Any]) -> None:
        self.config, self.context = config, context
        self.bench = context.space
        self.space = spaces.for_benchmark(self.bench, config.nb101_decoder)
        init = context.torch_generator(0)
        self.gen = context.torch_generator(1)
        self.generator: Generator = build_module(
            lambda: Generator(len(self.space.graph_ops), self.space.kinds, self.space.step_kind,
                              config.gnn_dim, config.gnn_layers, config.hidden),
            init,
        )
        self.init_gen = init
        self.evaluated: dict[str, Evaluated] = {}
        self._decoded: dict[bytes, Cell | None] = {}
        self._started = False
        self.history: list[dict[str, float]] = []  # per inner round: diagnostics for tests and tuning
        self.temperatures: list[float] = []  # the sampling temperature of every generated proposal
        self.screen = Screen(context.predictor, self.bench) if context.predictor is not None else None

    def ask(self) -> list[Arch]:
        with one_torch_thread():
            return self._ask()

    def _ask(self) -> list[Arch]:
        bench, rng = self.bench, self.context.rng
        if not self._started:
            self._started = True
            # Same draws, in the same order, as random search: common random numbers across methods.
            return [bench.sample(rng) for _ in range(self.config.n_init)]
        truth = self.truth_set()
        if not truth:  # no feasible cell evaluated yet: nothing to imitate, keep sampling at random
            return [bench.sample(rng)]
        cells = GraphBatch.of([c.graph for c in truth])
        self.fit(truth, cells)
        return self.propose(cells, len(truth))

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        for arch, obs in zip(archs, observations, strict=True):
            key = self.bench.key(arch)
            if key not in self.evaluated:
                cell = Cell(arch, key, self.bench.graph(arch), self.context.feasible(arch))
                self.evaluated[key] = Evaluated(cell, obs.value)
        if self.screen is not None:
            self.screen.observe(archs, observations)

    def truth_set(self) -> list[Cell]:
        """The top-k feasible evaluated cells by the search metric (ties: the earlier evaluated)."""
        feasible = [e for e in self.evaluated.values() if e.cell.feasible]
        feasible.sort(key=lambda e: -e.value)
        return [e.cell for e in feasible[: self.config.top_k]]

    def fit(self, truth: list[Cell], cells: GraphBatch) -> None:
        raise NotImplementedError

    def inputs(self, n_truth: int) -> torch.Tensor:
        """Input cells for the generator, drawn uniformly from the truth set."""
        return torch.randint(n_truth, (self.config.rollouts,), generator=self.gen)

    def decode(self, actions: torch.Tensor) -> list[Cell | None]:
        """The cells a batch of decision sequences spells (None: outside the space)."""
        out = []
        for row in actions.numpy():
            token = row.tobytes()
            if token not in self._decoded:
                arch = spaces.decode(self.space, self.bench, row)
                self._decoded[token] = None if arch is None else self._cell(arch)
            out.append(self._decoded[token])
        return out

    def _cell(self, arch: Arch) -> Cell:
        key = self.bench.key(arch)
        if key in self.evaluated:
            return self.evaluated[key].cell
        return Cell(arch, key, self.bench.graph(arch), self.context.feasible(arch))

    def propose(self, cells: GraphBatch, n_truth: int) -> list[Arch]:
        """Xt: new feasible cells drawn from G. Only these (and X0) are ever queried.

        When G keeps producing cells already evaluated (it has converged on the truth set), its
        sampling temperature doubles after every batch that brings nothing new. With a run predictor,
        G draws `pool_factor` times as many new cells and the predictor picks the `n_eval` to query.
        """
        cfg = self.config
        want = cfg.n_eval * (cfg.pool_factor if self.screen is not None else 1)
        drawn: dict[str, tuple[Arch, float]] = {}  # key -> (cell, the temperature it was drawn at)
        temperature = 1.0
        for _ in range(cfg.max_proposal_batches):
            with torch.no_grad():
                rollout = self.generator.sample(self.space, cells, self.inputs(n_truth), self.gen, temperature)
            before = len(drawn)
            for cell in self.decode(rollout.actions):
                if cell is None or not cell.feasible or cell.key in self.evaluated or cell.key in drawn:
                    continue
                drawn[cell.key] = (cell.arch, temperature)
                if len(drawn) == want:
                    break
            if len(drawn) == want:
                break
            if len(drawn) == before:
                temperature *= 2
        if not drawn:
            raise NasreproError(f"GA-NAS drew {cfg.max_proposal_batches} batches without a new feasible cell")
        keys = list(drawn)[: cfg.n_eval]
        if self.screen is not None and self.screen.ready:
            keys = [self.bench.key(a) for a in self.screen.best([drawn[k][0] for k in drawn], cfg.n_eval)]
        self.temperatures += [drawn[k][1] for k in keys]
        return [drawn[k][0] for k in keys]

    def diagnostics(self) -> dict[str, float]:
        """Per run, for the store: how many generated cells were proposed, and the share of them drawn
        at a sampling temperature above 1 (the proposal escalation, our addition) and the largest."""
        t = np.asarray(self.temperatures)
        return {
            "generated_proposals": float(len(t)),
            "share_temperature_above_1": float((t > 1).mean()) if len(t) else 0.0,
            "max_temperature": float(t.max()) if len(t) else 1.0,
        }


class GaNas(_Search):
    """GA-NAS: adversarial fitting of the generator (Algorithm 2)."""

    config: GanasConfig

    def __init__(self, config: GanasConfig, context: SearchContext[Any]) -> None:
        super().__init__(config, context)
        self.discriminator: PairDiscriminator = build_module(
            lambda: PairDiscriminator(len(self.space.graph_ops), config.gnn_dim, config.gnn_layers, config.hidden),
            self.init_gen,
        )
        self.d_optimizer = FusedAdam(self.discriminator.parameters(), config.lr_discriminator)
        self.policy = PolicyTrainer(
            self.generator, config.lr_generator, config.ppo_clip, config.entropy_weight,
            config.baseline_decay, config.ppo_epochs,
        )

    def fit(self, truth: list[Cell], cells: GraphBatch) -> None:
        cfg = self.config
        for _ in range(cfg.inner_rounds):
            with torch.no_grad():
                rollout = self.generator.sample(self.space, cells, self.inputs(len(truth)), self.gen)
            generated = self.decode(rollout.actions)
            valid = {i: c for i, c in enumerate(generated) if c is not None}  # in rollout order
            fake = GraphBatch.of([c.graph for c in list(valid.values())[: cfg.top_k]])
            d_loss = self.train_discriminator(cells, fake)
            reward = torch.zeros(len(generated))
            scored = [i for i, c in valid.items() if c.feasible]  # infeasible cells earn no reward
            if scored:
                reward[scored] = REWARDS[cfg.reward](self, GraphBatch.of([valid[i].graph for i in scored]), cells)
            self.policy.update(cells, rollout, reward)
            self.history.append({"reward": float(reward.mean()), "d_loss": d_loss, "valid": len(valid)})

    def train_discriminator(self, truth: GraphBatch, fake: GraphBatch) -> float:
        """`d_steps` Adam steps on the pair loss of the configured pair construction."""
        loss = torch.tensor(float("nan"))
        pairing = PAIRINGS[self.config.pairs]
        for _ in range(self.config.d_steps):
            loss = pairing.loss(self.discriminator, truth, fake)
            self.d_optimizer.zero_grad()
            loss.backward()
            self.d_optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def belief(self, candidates: GraphBatch, truth: GraphBatch) -> torch.Tensor:
        """The discriminator's mean belief, over the truth set, that each candidate is a truth-set cell."""
        return PAIRINGS[self.config.pairs].belief(self.discriminator, candidates, truth)


@dataclass(frozen=True)
class Pairing:
    """How the pairwise discriminator is trained (loss on truth and fake cells) and read (belief)."""

    loss: Callable[[PairDiscriminator, GraphBatch, GraphBatch], torch.Tensor]
    belief: Callable[[PairDiscriminator, GraphBatch, GraphBatch], torch.Tensor]


def _relativistic_loss(d: PairDiscriminator, truth: GraphBatch, fake: GraphBatch) -> torch.Tensor:
    # every (truth, fake) pair: the truth-set cell should be judged the real one
    return F.softplus(-d.pair_logits(*d.embed_pair(truth, fake))).mean()


def _relativistic_belief(d: PairDiscriminator, candidates: GraphBatch, truth: GraphBatch) -> torch.Tensor:
    return torch.sigmoid(d.pair_logits(*d.embed_pair(candidates, truth))).mean(1)


def _same_set_loss(d: PairDiscriminator, truth: GraphBatch, fake: GraphBatch) -> torch.Tensor:
    # (truth, other truth) pairs are positives, (truth, fake) pairs negatives: "is b from a's set?"
    t, f = d.embed_pair(truth, fake)
    same, cross = d.directed_logits(t, t), d.directed_logits(t, f)
    off_diagonal = ~torch.eye(len(t), dtype=torch.bool)
    logits = torch.cat([same[off_diagonal], cross.flatten()])
    labels = torch.cat([torch.ones(int(off_diagonal.sum())), torch.zeros(cross.numel())])
    return F.binary_cross_entropy_with_logits(logits, labels)


def _same_set_belief(d: PairDiscriminator, candidates: GraphBatch, truth: GraphBatch) -> torch.Tensor:
    c, t = d.embed_pair(candidates, truth)
    return torch.sigmoid(d.directed_logits(t, c)).mean(0)


PAIRINGS: dict[str, Pairing] = {
    "relativistic": Pairing(_relativistic_loss, _relativistic_belief),
    "same-set": Pairing(_same_set_loss, _same_set_belief),
}


def _random_reward(search: GaNas, candidates: GraphBatch, truth: GraphBatch) -> torch.Tensor:
    # The ablation: uniform noise in place of the discriminator's belief (same range, no information).
    return torch.rand(len(candidates.ops), generator=search.gen)


REWARDS: dict[str, Callable[[GaNas, GraphBatch, GraphBatch], torch.Tensor]] = {
    "discriminator": GaNas.belief,
    "random": _random_reward,
}
assert tuple(REWARDS) == REWARD_NAMES and tuple(PAIRINGS) == PAIR_NAMES


class GaNasMle(_Search):
    """The ablation: the generator fitted to the truth set by maximum likelihood (cross-entropy method)."""

    config: GanasMleConfig

    def __init__(self, config: GanasMleConfig, context: SearchContext[Any]) -> None:
        super().__init__(config, context)
        self.optimizer = FusedAdam(self.generator.parameters(), config.lr_generator)

    def fit(self, truth: list[Cell], cells: GraphBatch) -> None:
        actions = torch.from_numpy(np.stack([self.space.to_actions(c.graph) for c in truth]))
        forbidden = self.generator.forbidden([torch.from_numpy(self.space.masks(step, actions[:, :step].numpy()))
                                              for step in range(actions.shape[1])])
        for _ in range(self.config.mle_steps):
            inputs = self.inputs(len(truth))
            target = torch.randint(len(truth), (self.config.rollouts,), generator=self.gen)
            log_prob, _ = self.generator.score(
                cells, inputs, actions[target], [None if f is None else f[target] for f in forbidden]
            )
            loss = -log_prob.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.history.append({"nll": float(loss.detach())})
