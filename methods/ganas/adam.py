"""Adam for GA-NAS's small networks: torch's fused Adam kernel without `Optimizer.step`'s bookkeeping.

GA-NAS makes about 540 optimiser steps per 150-query run on networks of a few thousand weights. There
`torch.optim.Adam(fused=True).step` spends several times longer in Python (parameter grouping, state
look-ups, hooks, profiler records, the dynamo guard) than in the update itself. `FusedAdam` keeps its
state in flat lists and calls the same kernel (predictors.common.fused_adam_step) with the same
arguments, so the weights it produces are those of `torch.optim.Adam(params, lr, fused=True)`, bit for
bit (tested); on a torch whose private kernel is missing or steps otherwise, fused_adam_step goes through
that public optimiser instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from predictors.common import fused_adam_step


class FusedAdam:
    """`torch.optim.Adam(params, lr=lr, fused=True)` with its default betas, eps and no weight decay."""

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float) -> None:
        self.params = list(params)
        self.lr = lr
        # torch's state: first and second moments per parameter, and its step count
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        self.counts = [0] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        # As torch's Adam: a parameter without a gradient is neither updated nor counted as stepped.
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for i in live:
            self.counts[i] += 1
        # The kernel only reads the counts, as float32 scalars (torch's dtype for fused steps): parameters
        # stepped equally often share one tensor, in place of torch's per-parameter increments.
        tensors = {c: torch.tensor(float(c), dtype=torch.float32) for c in {self.counts[i] for i in live}}
        steps = [tensors[self.counts[i]] for i in live]
        fused_adam_step(
            [self.params[i] for i in live], [self.params[i].grad for i in live],
            [self.exp_avgs[i] for i in live], [self.exp_avg_sqs[i] for i in live], steps,
            lr=self.lr, betas=self.betas, eps=self.eps,
        )
