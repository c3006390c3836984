"""Graph layers shared by the GNN predictor and GA-NAS (one implementation of each layer)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from suite.benchmarks.base import CellGraph


def batch_graphs(graphs: Sequence[CellGraph], max_nodes: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
