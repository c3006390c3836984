"""Graph layers shared by the GNN predictor and GA-NAS (one implementation of each layer)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from suite.benchmarks.base import CellGraph


def batch_graphs(
    graphs: Sequence[CellGraph], max_nodes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad cells to a common size: adjacency [B, N, N] float, op indices [B, N] long, node mask [B, N] bool."""
    n = max_nodes or max(len(g.ops) for g in graphs)
    adj = np.zeros((len(graphs), n, n), dtype=np.float32)
    ops = np.zeros((len(graphs), n), dtype=np.int64)
    mask = np.zeros((len(graphs), n), dtype=bool)
    for b, g in enumerate(graphs):
        k = len(g.ops)
        adj[b, :k, :k] = g.adjacency
        ops[b, :k] = g.ops
        mask[b, :k] = True
    return torch.from_numpy(adj), torch.from_numpy(ops), torch.from_numpy(mask)


class GINLayer(nn.Module):
    """Graph isomorphism layer (Xu et al., 2019) on a DAG, messages both ways along edges.

    Cells are directed; passing messages forward and backward (separate weights) lets a node see both
    what feeds it and what it feeds, as in arch2vec and the GNN predictors of NAS-Bench-Suite.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        self.forward_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.backward_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        forward_msg = torch.bmm(adj.transpose(1, 2), h)  # sum over predecessors
        backward_msg = torch.bmm(adj, h)  # sum over successors
        out = self.forward_mlp((1 + self.eps) * h + forward_msg) + self.backward_mlp(backward_msg)
        return self.norm(torch.relu(out) + h)


class GraphEncoder(nn.Module):
    """Op embedding, `layers` GIN layers, masked mean pooling: cells -> node states and a cell vector."""

    def __init__(self, n_ops: int, dim: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_ops, dim)
        self.layers = nn.ModuleList(GINLayer(dim) for _ in range(layers))

    def forward(self, adj: torch.Tensor, ops: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.embed(ops) * mask.unsqueeze(-1)
        for layer in self.layers:
            h = layer(h, adj) * mask.unsqueeze(-1)
        pooled = h.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return h, pooled


class GraphRegressor(nn.Module):
    """GraphEncoder's pooled embedding through an MLP head: one scalar per cell (the GNN predictor)."""

    def __init__(self, n_ops: int, dim: int, layers: int) -> None:
        super().__init__()
        self.encoder = GraphEncoder(n_ops, dim, layers)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))

    def forward(self, adj: torch.Tensor, ops: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(adj, ops, mask)[1]).squeeze(-1)


M = TypeVar("M", bound=nn.Module)


def build_module(factory: Callable[[], M], generator: torch.Generator) -> M:
    """Construct a module without touching torch's global RNG, then initialise it from `generator`.

    Modules are built on the meta device (no values drawn) and given their values by
    `init_parameters`, so two runs with generators seeded alike hold bit-identical weights.
    """
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device="cpu")
    init_parameters(module, generator)
    return module


def _init_linear(m: nn.Linear, gen: torch.Generator) -> None:
    bound = 1.0 / math.sqrt(m.in_features)  # torch's default bound for both weight and bias
    nn.init.uniform_(m.weight, -bound, bound, generator=gen)
    if m.bias is not None:
        nn.init.uniform_(m.bias, -bound, bound, generator=gen)


def _init_embedding(m: nn.Embedding, gen: torch.Generator) -> None:
    nn.init.normal_(m.weight, generator=gen)


def _init_recurrent(m: nn.GRU | nn.GRUCell | nn.LSTMCell | nn.RNNCell, gen: torch.Generator) -> None:
    bound = 1.0 / math.sqrt(m.hidden_size)
    for p in m.parameters(recurse=False):
        nn.init.uniform_(p, -bound, bound, generator=gen)


def _init_layer_norm(m: nn.LayerNorm, gen: torch.Generator) -> None:
    nn.init.ones_(m.weight)
    nn.init.zeros_(m.bias)


def _init_gin(m: GINLayer, gen: torch.Generator) -> None:
    nn.init.zeros_(m.eps)


_INITIALISERS: dict[type, Callable[[Any, torch.Generator], None]] = {
    nn.Linear: _init_linear,
    nn.Embedding: _init_embedding,
    nn.GRUCell: _init_recurrent,
    nn.GRU: _init_recurrent,
    nn.LSTMCell: _init_recurrent,
    nn.RNNCell: _init_recurrent,
    nn.LayerNorm: _init_layer_norm,
    GINLayer: _init_gin,
}


def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """Give every parameter of `module` torch's default initial values, drawn from `generator`.

    A module type not listed here that owns parameters is an error, not silently left as it was.
    """
    with torch.no_grad():
        for m in module.modules():
            if next(m.parameters(recurse=False), None) is None:
                continue
            init = _INITIALISERS.get(type(m))
            if init is None:
                raise TypeError(f"init_parameters: no initialiser for {type(m).__name__}")
            init(m, generator)

