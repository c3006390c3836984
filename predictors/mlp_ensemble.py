"""An ensemble of MLPs, the predictor of BANANAS (White et al., AAAI 2021).

Defaults are the BANANAS code's (naszilla `meta_neuralnet_params('standard')`): 5 networks of 10
ReLU layers of width 20, mean absolute error, Adam (lr 0.01, betas 0.9/0.99), 150 epochs, batch 32.
Each member has its own initial weights (torch.nn.Linear's uniform range) and its own minibatch order;
predict_dist is the members' mean and (population) standard deviation, as naszilla's acquisition
functions compute it. Targets are standardized (BANANAS fitted raw validation losses).

Speed: a BANANAS run trains the ensemble thousands of steps on 10-300 cells, where autograd and
torch.optim's Python bookkeeping cost more than the arithmetic. So the five members are one batched
network whose weights (bias as the last row of each matrix, against a constant-1 input column) live
in one flat float32 buffer; a step is a hand-written forward/backward of the MLP with MAE (batched
matmuls, ReLU masks) and one call of the kernel of `torch.optim.Adam(fused=True)` on the flat buffer.
The members stay independent (each gradient is that of its own mean loss; Adam is elementwise), so
this is five separate trainings; tests check it against per-member autograd training with
torch.optim.Adam. Results equal those up to float rounding, not bitwise (mlp_ensemble before
BANANAS version 2 used autograd). Deterministic: one thread, explicit torch.Generator.

`path_cutoff` truncates the path encoding to its shortest paths (`max_paths` of
predictors/encodings.py's PathEncoding; 0 keeps its default): BANANAS's `trunc_path`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from predictors.base import PredictorEntry
from predictors.common import UncertainEncodedPredictor, check_encoding, one_torch_thread, torch_generator
from predictors.encodings import PathEncoding
from suite.benchmarks.base import Benchmark


@dataclass(frozen=True)
class MlpEnsembleConfig:
    encoding: str = "path"
    members: int = 5
    layers: int = 10
    width: int = 20
    epochs: int = 150
    batch_size: int = 32
    lr: float = 0.01
    path_cutoff: int = 0  # keep the paths of at most L ops for the largest L with <= path_cutoff paths

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        if min(self.members, self.layers, self.width, self.epochs, self.batch_size) < 1 or self.lr <= 0:
            raise ValueError("members, layers, width, epochs, batch_size must be >= 1 and lr > 0")
        if self.path_cutoff < 0 or (self.path_cutoff and self.encoding != "path"):
            raise ValueError("path_cutoff must be >= 0, and is for the path encoding only")


BETAS = (0.9, 0.99)  # naszilla's keras Adam(beta_1=.9, beta_2=.99)
EPS = 1e-8  # torch.optim.Adam's default


class BatchedMlp:
    """`members` independent ReLU MLPs with MAE loss, trained together by Adam on one flat buffer.

    Layer l's weights are `weights[l]` [members, fan_in + 1, fan_out], the last row the bias; every
    input and hidden activation carries a trailing constant-1 column so one batched matmul applies both.
    """

    def __init__(self, members: int, dims: list[int], generator, lr: float) -> None:
        import torch

        self.members, self.dims, self.lr = members, dims, lr
        shapes = [(members, fan_in + 1, fan_out) for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True)]
        total = sum(m * i * o for m, i, o in shapes)
        self.flat, self.grad = torch.empty(total), torch.zeros(total)
        self.exp_avg, self.exp_avg_sq = torch.zeros(total), torch.zeros(total)
        self.step_count = torch.zeros(())  # float32 scalar, as torch.optim.Adam(fused=True) keeps it
        self.weights, self.grads = self._views(self.flat, shapes), self._views(self.grad, shapes)
        for w, fan_in in zip(self.weights, dims[:-1], strict=True):
            bound = 1 / fan_in**0.5  # torch.nn.Linear's default initial range, weights then bias
            w[:, :-1] = (torch.rand(w[:, :-1].shape, generator=generator) * 2 - 1) * bound
            w[:, -1:] = (torch.rand(w[:, -1:].shape, generator=generator) * 2 - 1) * bound
        self._weights_t = [w[:, :-1].transpose(1, 2) for w in self.weights]  # views: follow the updates
        if len(set(dims[1:-1])) != 1:
            raise ValueError("hidden layers must share one width")
        # the hidden layers' gradients are consecutive in the flat buffer: one [layers * members] view
        first, hidden = self.grads[1], len(dims) - 3
        start = first.storage_offset()
        self._hidden_grads = self.grad[start : start + hidden * first.numel()].view(
            hidden * members, dims[1] + 1, dims[1]
        )
        self._buffers: dict[int, tuple] = {}

    @staticmethod
    def _views(flat, shapes):
        views, offset = [], 0
        for shape in shapes:
            size = shape[0] * shape[1] * shape[2]
            views.append(flat[offset : offset + size].view(shape))
            offset += size
        return views

    def _activations(self, rows: int) -> tuple:
        """Buffers reused per batch size: the hidden activations (with their 1-column) stacked, as the
        hidden layers' weight gradients are then one batched matmul; the hidden deltas; pre-activations."""
        import torch

        if rows not in self._buffers:
            m, hidden = self.members, len(self.dims) - 2
            acts = torch.ones(hidden, m, rows, self.dims[1] + 1)
            deltas = torch.empty(hidden - 1, m, rows, self.dims[1])
            pre = [torch.empty(m, rows, width) for width in self.dims[1:]]
            self._buffers[rows] = (acts, acts[:, :, :, :-1], deltas, pre)
        return self._buffers[rows]

    def forward(self, x):
        """x [members, rows, fan_in + 1] (last column 1) -> predictions [members, rows]."""
        import torch

        acts, inner, _, pre = self._activations(x.shape[1])
        h = x
        for layer, w in enumerate(self.weights[:-1]):
            torch.clamp_min(torch.bmm(h, w, out=pre[layer]), 0, out=inner[layer])
            h = acts[layer]
        return torch.bmm(h, self.weights[-1], out=pre[-1]).squeeze(-1)

    def step(self, x, target) -> None:
        """One Adam step on each member's mean absolute error over its minibatch x [members, rows, .]."""
        import torch

        rows = x.shape[1]
        acts, inner, deltas, _ = self._activations(rows)
        out = self.forward(x)
        # delta = d loss / d pre-activation; for the output: sign(out - t) / rows (sign(0) = 0, as autograd's abs)
        delta = torch.sign(out - target).div_(rows).unsqueeze_(-1)
        last = len(self.weights) - 1
        torch.bmm(acts[-1].transpose(1, 2), delta, out=self.grads[last])
        for layer in range(last, 0, -1):  # delta of layer - 1 from that of layer, through ReLU
            into = deltas[layer - 2] if layer > 1 else None
            back = torch.bmm(delta, self._weights_t[layer])
            if into is None:
                delta = torch.ops.aten.threshold_backward(back, inner[0], 0)
            else:
                delta = torch.ops.aten.threshold_backward.grad_input(back, inner[layer - 1], 0, grad_input=into)
        hidden = len(self.dims) - 3  # layers 1 .. last-1: one batched matmul for all their weight gradients
        m, width = self.members, self.dims[1]
        torch.bmm(
            acts[:hidden].view(hidden * m, rows, width + 1).transpose(1, 2), deltas.view(hidden * m, rows, width),
            out=self._hidden_grads,
        )
        torch.bmm(x.transpose(1, 2), delta, out=self.grads[0])
        # what torch.optim.Adam(fused=True).step() runs (torch/optim/adam.py `_fused_adam`), minus its
        # Python bookkeeping: count the step, then the fused kernel; elementwise, so one flat tensor
        # gives the same update as per-parameter tensors
        self.step_count += 1
        torch._fused_adam_(
            [self.flat], [self.grad], [self.exp_avg], [self.exp_avg_sq], [], [self.step_count],
            amsgrad=False, lr=self.lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=0.0, eps=EPS,
            maximize=False,
        )

    def fit(self, x, target, epochs: int, batch_size: int, generator) -> None:
        """x [rows, features] float32, target [rows]: each member its own shuffled minibatches per epoch."""
        import torch

        n = len(x)
        x = torch.cat([x, torch.ones(n, 1)], 1)
        for _ in range(epochs):
            order = torch.stack([torch.randperm(n, generator=generator) for _ in range(self.members)])
            xs = x.index_select(0, order.view(-1)).view(self.members, n, -1)
            ts = target[order]
            for start in range(0, n, batch_size):
                self.step(xs[:, start : start + batch_size], ts[:, start : start + batch_size])

    def predict(self, x):
        """x [rows, features] -> [members, rows], every member on every row."""
        import torch

        x = torch.cat([x, torch.ones(len(x), 1)], 1)
        return self.forward(x.expand(self.members, -1, -1)).clone()


class MlpEnsemblePredictor(UncertainEncodedPredictor):
    def __init__(
        self, config: MlpEnsembleConfig, benchmark: Benchmark, seed_sequence: np.random.SeedSequence
    ) -> None:
        super().__init__(config.encoding, benchmark)
        if config.path_cutoff:
            self.encoding = PathEncoding(benchmark, self.encoding.space, max_paths=config.path_cutoff)
        self.config = config
        self.generator = torch_generator(seed_sequence)

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        import torch

        c = self.config
        with one_torch_thread(), torch.inference_mode():
            self.net = BatchedMlp(c.members, [X.shape[1]] + [c.width] * c.layers + [1], self.generator, c.lr)
            self.net.fit(torch.from_numpy(X), torch.from_numpy(z.astype(np.float32)), c.epochs, c.batch_size,
                         self.generator)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with one_torch_thread(), torch.inference_mode():
            preds = self.net.predict(torch.from_numpy(X)).double().numpy()
        return preds.mean(0), preds.std(0)


ENTRIES = [
    PredictorEntry(
        "mlp_ensemble", MlpEnsembleConfig, MlpEnsemblePredictor,
        "ensemble of 5 MLPs on the path (or adjacency) encoding, the BANANAS predictor",
    ),
]
