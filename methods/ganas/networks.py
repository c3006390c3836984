"""GA-NAS networks: a graph-to-graph generator and a pairwise (Siamese-GNN) discriminator.

Both embed cells with `predictors.layers.GraphEncoder`, the GNN shared with the GNN predictor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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

    @classmethod
    def cat(cls, batches: Sequence[GraphBatch]) -> GraphBatch:
        return cls(*(torch.cat(parts) for parts in zip(*((b.adj, b.ops, b.mask) for b in batches), strict=True)))

    def pad(self, n: int) -> GraphBatch:
        """The same cells padded with unused nodes to n nodes (no edges, masked out)."""
        extra = n - self.adj.shape[1]
        if extra == 0:
            return self
        return GraphBatch(
            F.pad(self.adj, (0, extra, 0, extra)), F.pad(self.ops, (0, extra)), F.pad(self.mask, (0, extra))
        )


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
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self._step_offsets = np.array([self.offsets[k] for k in step_kind])  # numpy: built on the meta device
        self._kind_steps = [[s for s, k in enumerate(step_kind) if k == kind] for kind in range(len(kinds))]
        self._kind_index = [_as_slice(steps) for steps in self._kind_steps]
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, width)) for width in kinds
        )

    def _start_state(self, cells: GraphBatch, inputs: torch.Tensor) -> torch.Tensor:
        # Encode each input cell once, then give every rollout its cell's state.
        _, pooled = self.encoder(cells.adj, cells.ops, cells.mask)
        return self.start(pooled)[inputs]

    def _gru_step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        g = self.gru
        # nn.GRU's per-layer weights are attributes it sets at run time, typed `Tensor | Module` by torch
        return torch.gru_cell(x, h, g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0)  # type: ignore[arg-type]

    def sample(
        self, space: CellSpace, cells: GraphBatch, inputs: torch.Tensor, gen: torch.Generator,
        temperature: float = 1.0,
    ) -> Rollout:
        """Draw one new cell per input cell (`cells` indexed by `inputs`)."""
        h = self._start_state(cells, inputs)
        batch = len(inputs)
        actions = np.zeros((batch, len(self.step_kind)), dtype=np.int64)
        prev = torch.full((batch,), sum(self.kinds), dtype=torch.long)
        masks, log_prob = [], torch.zeros(batch)
        step_inputs = self.step_embed.weight.unbind(0)
        for step, kind in enumerate(self.step_kind):
            allowed = space.masks(step, actions[:, :step])
            h = self._gru_step(self.action_embed(prev) + step_inputs[step], h)
            forbidden = None if allowed.all() else torch.from_numpy(~allowed)
            logits = _forbid(self.heads[kind](h), forbidden)
            if temperature != 1.0:  # x / 1.0 is x: skipping it changes no bit
                logits = logits / temperature
            logp = torch.log_softmax(logits, -1)
            choice = torch.multinomial(_probabilities(logp, forbidden), 1, generator=gen).squeeze(1)
            log_prob = log_prob + logp.gather(1, choice[:, None]).squeeze(1)
            actions[:, step] = choice.numpy()
            masks.append(torch.from_numpy(allowed))
            prev = choice + self.offsets[kind]
        return Rollout(inputs, torch.from_numpy(actions), masks, log_prob)

    def forbidden(self, masks: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
        """Per decision kind, the forbidden choices [B, n, width] of its n steps (None: none forbidden),
        from per-step allowed masks: computed once for the several `score` calls on the same decisions."""
        out: list[torch.Tensor | None] = []
        for steps in self._kind_steps:
            allowed = torch.stack([masks[s] for s in steps], 1)
            out.append(None if bool(allowed.all()) else ~allowed)
        return out

    def score(self, cells: GraphBatch, inputs: torch.Tensor, actions: torch.Tensor,
              forbidden: Sequence[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy [B] of given decisions (teacher forcing), differentiable.

        The decisions are known, so the GRU runs over the whole sequence in one call and each head
        scores all the steps of its kind at once (the same network as `sample`'s step-by-step loop).
        `forbidden` comes from `forbidden(masks)`.
        """
        h0 = self._start_state(cells, inputs)
        start = torch.full((len(inputs), 1), sum(self.kinds), dtype=torch.long)
        prev = torch.cat([start, actions[:, :-1] + torch.from_numpy(self._step_offsets[:-1])], 1)  # [B, S]
        states, _ = self.gru(self.action_embed(prev) + self.step_embed.weight, h0[None])  # [B, S, H]
        # 0-d zeros: x + 0.0 is x bit for bit, as x + 0 was (the int promotes to the same 0.0)
        log_prob = entropy = torch.zeros(())
        for kind, steps in enumerate(self._kind_index):
            logp = torch.log_softmax(_forbid(self.heads[kind](states[:, steps]), forbidden[kind]), -1)
            log_prob = log_prob + logp.gather(2, actions[:, steps, None]).sum((1, 2))
            entropy = entropy - (_probabilities(logp, forbidden[kind]) * logp).sum((1, 2))
        return log_prob, entropy


def _as_slice(steps: list[int]) -> slice | list[int]:
    """Evenly spaced steps as a slice (a view, in place of a gather and its scatter in the backward
    pass), other steps as they are: both pick the same states."""
    gaps = set(np.diff(steps).tolist())
    if len(steps) > 1 and len(gaps) == 1 and gaps.pop() > 0:
        return slice(steps[0], steps[-1] + 1, steps[1] - steps[0])
    return steps


def _forbid(logits: torch.Tensor, forbidden: torch.Tensor | None) -> torch.Tensor:
    # Without a forbidden choice masked_fill would copy the logits unchanged: skip it.
    return logits if forbidden is None else logits.masked_fill(forbidden, _MASKED)


def _probabilities(logp: torch.Tensor, forbidden: torch.Tensor | None) -> torch.Tensor:
    """exp(logp) without exponentiating the forbidden choices' huge negative log-probabilities: torch's
    CPU exp takes a slow path on inputs whose result underflows (6x slower on a mostly forbidden
    [64, 5, 192] tensor). A forbidden choice's log-probability is -1e9 / T minus the log-normaliser, whose
    exp rounds to the exact 0 that exp(-inf) gives while the temperature T is below about 1e7 (the runs
    reach 16), so the result is exp(logp) bit for bit; above that, exp would give a forbidden choice a
    tiny probability, and here it stays 0."""
    return logp.exp() if forbidden is None else logp.masked_fill(forbidden, -math.inf).exp()


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

    def embed_pair(self, a: GraphBatch, b: GraphBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of two batches in one encoder call (both padded to the larger cell size)."""
        n = max(a.adj.shape[1], b.adj.shape[1])
        both = GraphBatch.cat([a.pad(n), b.pad(n)])
        h = self.embed(both)
        return h[: len(a.ops)], h[len(a.ops) :]

    def directed_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """f(a, b) [N, M] for every pair of embeddings a [N, d] and b [M, d] (not antisymmetric)."""
        first, act, last = cast(tuple[nn.Linear, nn.ReLU, nn.Linear], tuple(self.head))
        d = a.shape[1]
        # f([x, y]) = g(W_x x + W_y y + c): the first layer is applied to each embedding once, not to
        # each of the N*M concatenated pairs.
        x, y = a @ first.weight[:, :d].T, b @ first.weight[:, d:].T
        return last(act(x[:, None] + y[None] + first.bias)).squeeze(-1)

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Relativistic logits [N, M]: s(a, b) = f(a, b) - f(b, a), that a is the truth-set cell."""
        return self.directed_logits(a, b) - self.directed_logits(b, a).T
