"""GA-NAS networks: a graph-to-graph generator and a pairwise (Siamese-GNN) discriminator.

Both embed cells with `predictors.layers.GraphEncoder`, the GNN shared with the GNN predictor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from methods.ganas.spaces import CellSpace
from predictors.layers import GraphEncoder, batch_graphs
from suite.benchmarks.base import CellGraph

_MASKED = -1e9  # logit of a forbidden choice: zero probability, and no NaN in p*log(p)


@dataclass
class GraphBatch:
    adj: torch.Tensor
    ops: torch.Tensor
    mask: torch.Tensor

    @classmethod
    def of(cls, graphs: Sequence[CellGraph]) -> GraphBatch:
        return cls(*batch_graphs(graphs))

    def select(self, index: torch.Tensor) -> GraphBatch:
        return GraphBatch(self.adj[index], self.ops[index], self.mask[index])


@dataclass
class Rollout:
    """Decisions of a batch of generated cells, with what PPO needs to re-score them."""

    inputs: torch.Tensor  # [B] index of each cell's input cell in the truth set
    actions: torch.Tensor  # [B, S] long
    masks: list[torch.Tensor]  # per step, [B, width] bool
    log_prob: torch.Tensor  # [B], sum over decisions, under the policy that drew them


class Generator(nn.Module):
    """GNN encoder of an input cell -> GRU decoder emitting the decisions of a new cell one by one.

    The GRU's first state is the embedded input cell; each step reads the previous decision and which
    decision comes next, and an MLP head per decision kind turns its state into masked logits.
    """

    def __init__(
        self, n_graph_ops: int, kinds: tuple[int, ...], step_kind: tuple[int, ...],
        gnn_dim: int, gnn_layers: int, hidden: int,
    ) -> None:
        super().__init__()
        self.kinds, self.step_kind = kinds, step_kind
        self.encoder = GraphEncoder(n_graph_ops, gnn_dim, gnn_layers)
        self.start = nn.Sequential(nn.Linear(gnn_dim, hidden), nn.Tanh())
        # one embedding row per (kind, choice) and one for "no decision yet"
        self.offsets = tuple(int(x) for x in np.cumsum((0, *kinds[:-1])))
        self.action_embed = nn.Embedding(sum(kinds) + 1, hidden)
        self.step_embed = nn.Embedding(len(step_kind), hidden)
        self.cell = nn.GRUCell(hidden, hidden)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, width)) for width in kinds
        )

    def _start_state(self, cells: GraphBatch) -> torch.Tensor:
        _, pooled = self.encoder(cells.adj, cells.ops, cells.mask)
        return self.start(pooled)

    def sample(
        self, space: CellSpace, cells: GraphBatch, inputs: torch.Tensor, gen: torch.Generator,
        temperature: float = 1.0,
    ) -> Rollout:
        """Draw one new cell per input cell (`cells` indexed by `inputs`)."""
        h = self._start_state(cells.select(inputs))
        batch = len(inputs)
        actions = np.zeros((batch, len(self.step_kind)), dtype=np.int64)
        prev = torch.full((batch,), sum(self.kinds), dtype=torch.long)
        masks, log_prob = [], torch.zeros(batch)
        for step, kind in enumerate(self.step_kind):
            mask = torch.from_numpy(space.masks(step, actions[:, :step]))
            h = self.cell(self.action_embed(prev) + self.step_embed.weight[step], h)
            logp = torch.log_softmax(self.heads[kind](h).masked_fill(~mask, _MASKED) / temperature, -1)
            choice = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(1)
            log_prob = log_prob + logp.gather(1, choice[:, None]).squeeze(1)
            actions[:, step] = choice.numpy()
            masks.append(mask)
            prev = choice + self.offsets[kind]
        return Rollout(inputs, torch.from_numpy(actions), masks, log_prob)

    def score(self, cells: GraphBatch, inputs: torch.Tensor, actions: torch.Tensor,
              masks: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy [B] of given decisions (teacher forcing), differentiable."""
        h = self._start_state(cells.select(inputs))
        batch = len(inputs)
        prev = torch.full((batch,), sum(self.kinds), dtype=torch.long)
        log_prob, entropy = torch.zeros(batch), torch.zeros(batch)
        for step, kind in enumerate(self.step_kind):
            h = self.cell(self.action_embed(prev) + self.step_embed.weight[step], h)
            logp = torch.log_softmax(self.heads[kind](h).masked_fill(~masks[step], _MASKED), -1)
            choice = actions[:, step]
            log_prob = log_prob + logp.gather(1, choice[:, None]).squeeze(1)
            entropy = entropy - (logp.exp() * logp).sum(1)
            prev = choice + self.offsets[kind]
        return log_prob, entropy


class PairDiscriminator(nn.Module):
    """Siamese GNN scoring a pair (a, b): the logit that a is the truth-set cell and b the generated one.

    The score is antisymmetric, s(a, b) = f(a, b) - f(b, a), the relativistic form: swapping the pair
    flips the belief, so the discriminator judges cells against each other, not in isolation.
    """

    def __init__(self, n_graph_ops: int, gnn_dim: int, gnn_layers: int, hidden: int) -> None:
        super().__init__()
        self.encoder = GraphEncoder(n_graph_ops, gnn_dim, gnn_layers)
        self.head = nn.Sequential(nn.Linear(2 * gnn_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def embed(self, cells: GraphBatch) -> torch.Tensor:
        return self.encoder(cells.adj, cells.ops, cells.mask)[1]

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits [N, M] for every pair of embeddings a [N, d] and b [M, d]."""
        n, m = len(a), len(b)
        aa = a[:, None, :].expand(n, m, -1)
        bb = b[None, :, :].expand(n, m, -1)
        forward = self.head(torch.cat([aa, bb], -1)).squeeze(-1)
        backward = self.head(torch.cat([bb, aa], -1)).squeeze(-1)
        return forward - backward
