"""An ensemble of MLPs, the predictor of BANANAS (White et al., AAAI 2021).

Defaults are the BANANAS code's (naszilla `meta_neuralnet_params('standard')`): 5 networks of 10
ReLU layers of width 20, mean absolute error, Adam (lr 0.01, betas 0.9/0.99), 150 epochs, batch 32.
Each member has its own initial weights (torch.nn.Linear's uniform range) and its own minibatch order;
predict_dist is the members' mean and (population) standard deviation, as naszilla's acquisition
functions compute it. Targets are standardized (BANANAS fitted raw validation losses).

Speed: a BANANAS run trains the ensemble thousands of steps on 10-300 cells (about 24,000 at 300
queries), where autograd and torch.optim's Python bookkeeping cost more than the arithmetic. So the
five members are one batched network whose weights (bias as the last row of each matrix, against a
constant-1 input column) live in one flat float32 buffer; a step is a hand-written forward/backward
of the MLP with MAE and one call of the kernel of `torch.optim.Adam(fused=True)` on the flat buffer.
At these sizes (32 rows, width 20) a step is about 160 tiny matrix products plus some 30 small
elementwise calls, so what counts is the cost of a call: the matmuls are numpy's stacked `np.matmul`
(one BLAS sgemm per member, ~0.5-0.9 us; torch.bmm pays a dispatch per member, ~1.5x as much), ReLU
and its mask are torch calls on the same memory (numpy's ufuncs are slower on strided views), the
hidden layers' weight gradients are one stacked matmul, and per-layer views are made once per batch
size. The members stay independent (each gradient is that of its own mean loss; Adam is
elementwise), so this is five separate trainings; tests check it against per-member autograd
training with torch.optim.Adam. Results equal those up to float rounding, not bitwise (BANANAS
version 2 ran the same step with torch.bmm, version 1 autograd). Deterministic: one thread (torch
and BLAS), explicit torch.Generator for the initial weights and the minibatch orders.

`path_cutoff` truncates the path encoding to its shortest paths (`max_paths` of
predictors/encodings.py's PathEncoding; 0 keeps its default): BANANAS's `trunc_path`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController

from predictors.common import (
    UncertainEncodedPredictor,
    check_encoding,
    fused_adam_step,
    one_torch_thread,
    torch_generator,
)
from predictors.encodings import PathEncoding
from suite.api import PredictorEntry
from suite.benchmarks.base import SearchSpace


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


@functools.cache
def _blas() -> ThreadpoolController:
    """numpy's BLAS, found once: threadpool_limits() looks the libraries up again each call (~1 ms,
    twice a BANANAS round), a kept controller's limit() costs ~20 us."""
    return ThreadpoolController()


BETAS = (0.9, 0.99)  # naszilla's keras Adam(beta_1=.9, beta_2=.99)
EPS = 1e-8  # torch.optim.Adam's default


class _Buffers(NamedTuple):
    """Working memory of a step for one minibatch size; per-layer views listed once, as indexing costs as
    much as the small ops themselves."""

    acts: list  # per hidden layer, [members, rows, width + 1]: activations with their 1-column
    inner: list  # the same without the 1-column, numpy (matmul outputs)
    inner_t: list  # the same as torch tensors (ReLU in place)
    all_inner_t: Any  # every hidden layer's inner part, one torch tensor (the masks in one call)
    masks_t: Any  # ReLU' of every hidden layer, torch view of `masks`
    masks: list  # per hidden layer, numpy
    deltas: list  # per hidden layer, d loss / d pre-activation
    later_deltas: np.ndarray  # the deltas of layers 2.., stacked: their weights' gradients in one matmul
    out: np.ndarray  # [members, rows, 1]: the predictions, then the output delta
    acts_t: np.ndarray  # activations of layers 1..-2, transposed, for the hidden weights' gradients
    last_t: np.ndarray  # the last hidden activation, transposed, for the output weights' gradient
    inv_rows: np.float32  # 1 / rows: the mean of the absolute error


class BatchedMlp:
    """`members` independent ReLU MLPs with MAE loss, trained together by Adam on one flat buffer.

    Layer l's weights are `weights[l]` [members, fan_in + 1, fan_out] (numpy float32 views of the flat
    buffer), the last row the bias; every input and hidden activation carries a trailing constant-1
    column so one stacked matmul applies both.
    """

    def __init__(self, members: int, dims: list[int], generator, lr: float) -> None:
        import torch

        if len(set(dims[1:-1])) != 1 or dims[-1] != 1:
            raise ValueError("hidden layers must share one width, and the output is one unit")
        self.members, self.dims, self.lr = members, dims, lr
        shapes = [(members, fan_in + 1, fan_out) for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True)]
        total = sum(m * i * o for m, i, o in shapes)
        self.flat, self.grad = np.empty(total, np.float32), np.zeros(total, np.float32)
        # Adam's state and kernel are torch's, on the same memory as the numpy buffers
        self._adam = ([torch.from_numpy(self.flat)], [torch.from_numpy(self.grad)], [torch.zeros(total)],
                      [torch.zeros(total)], [torch.zeros(())])  # step count: float32, as Adam(fused=True)
        self.weights, self.grads = self._views(self.flat, shapes), self._views(self.grad, shapes)
        for w, fan_in in zip(self.weights, dims[:-1], strict=True):
            bound = 1 / fan_in**0.5  # torch.nn.Linear's default initial range, weights then bias
            w[:, :-1] = ((torch.rand(w[:, :-1].shape, generator=generator) * 2 - 1) * bound).numpy()
            w[:, -1:] = ((torch.rand(w[:, -1:].shape, generator=generator) * 2 - 1) * bound).numpy()
        self._weights_t = [w[:, :-1].transpose(0, 2, 1) for w in self.weights]  # views: follow the updates
        # the hidden layers' gradients are consecutive in the flat buffer: one [hidden, members, .] view
        hidden, width, start = len(dims) - 3, dims[1], self.grads[0].size
        self._hidden_grads = self.grad[start : start + hidden * members * (width + 1) * width].reshape(
            hidden, members, width + 1, width
        )
        self._buffers: dict[int, _Buffers] = {}
        self._batch_size = 0  # fit's minibatch size: buffers for up to that many rows are kept

    @staticmethod
    def _views(flat, shapes):
        views, offset = [], 0
        for shape in shapes:
            size = shape[0] * shape[1] * shape[2]
            views.append(flat[offset : offset + size].reshape(shape))
            offset += size
        return views

    def _activations(self, rows: int) -> _Buffers:
        """The buffers for `rows` rows a member, kept for the batch sizes of training. numpy for the
        matmuls: a stacked np.matmul is one BLAS call per member, where torch.bmm pays a dispatch per
        member; torch for ReLU and its mask, faster than numpy's ufuncs on strided views."""
        import torch

        if rows in self._buffers:
            return self._buffers[rows]
        m, hidden, width = self.members, len(self.dims) - 2, self.dims[1]
        acts = np.ones((hidden, m, rows, width + 1), np.float32)
        masks = np.empty((hidden, m, rows, width), np.float32)
        deltas = np.empty((hidden, m, rows, width), np.float32)
        inner_t = torch.from_numpy(acts)[..., :-1]
        buffers = _Buffers(
            acts=list(acts), inner=list(acts[..., :-1]), inner_t=list(inner_t), all_inner_t=inner_t,
            masks_t=torch.from_numpy(masks), masks=list(masks), deltas=list(deltas), later_deltas=deltas[1:],
            out=np.empty((m, rows, 1), np.float32), acts_t=acts[:-1].transpose(0, 1, 3, 2),
            last_t=acts[-1].transpose(0, 2, 1), inv_rows=np.float32(1 / rows),
        )
        if rows <= self._batch_size:
            self._buffers[rows] = buffers
        return buffers

    def forward(self, x, buffers: _Buffers | None = None) -> np.ndarray:
        """x [members, rows, fan_in + 1] (last column 1) -> predictions [members, rows, 1] (a buffer)."""
        b = buffers or self._activations(x.shape[1])
        acts, inner, inner_t = b.acts, b.inner, b.inner_t
        h = x
        for layer, w in enumerate(self.weights[:-1]):
            np.matmul(h, w, out=inner[layer])
            inner_t[layer].relu_()
            h = acts[layer]
        return np.matmul(h, self.weights[-1], out=b.out)

    def step(self, x, target) -> None:
        """One Adam step on each member's mean absolute error over its minibatch x [members, rows, .],
        target [members, rows, 1]."""
        import torch

        b = self._activations(x.shape[1])
        masks, deltas = b.masks, b.deltas
        out = self.forward(x, b)
        # delta = d loss / d pre-activation; for the output: sign(out - t) / rows (sign(0) = 0, as autograd's abs)
        np.subtract(out, target, out=out)
        np.sign(out, out=out)
        np.multiply(out, b.inv_rows, out=out)
        torch.gt(b.all_inner_t, 0, out=b.masks_t)  # ReLU' of every hidden layer at once
        np.matmul(b.last_t, out, out=self.grads[-1])
        # the output layer's back-propagation is an outer product (one term a sum): a broadcast product
        last = len(self.weights) - 1
        back = np.multiply(out, self._weights_t[last], out=deltas[last - 1])
        np.multiply(back, masks[last - 1], out=back)
        for layer in range(last - 1, 0, -1):  # delta of layer - 1 from that of layer, through ReLU
            delta = deltas[layer - 1]
            np.matmul(back, self._weights_t[layer], out=delta)
            np.multiply(delta, masks[layer - 1], out=delta)
            back = delta
        np.matmul(b.acts_t, b.later_deltas, out=self._hidden_grads)  # layers 1 .. last-1 in one call
        np.matmul(x.transpose(0, 2, 1), deltas[0], out=self.grads[0])
        # Adam on the flat buffer: elementwise, so one tensor gives the same update as per-parameter ones
        params, grads, exp_avgs, exp_avg_sqs, steps = self._adam
        steps[0] += 1
        fused_adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, lr=self.lr, betas=BETAS, eps=EPS)

    def fit(self, x: np.ndarray, target: np.ndarray, epochs: int, batch_size: int, generator) -> None:
        """x [rows, features] float32, target [rows]: each member its own shuffled minibatches per epoch."""
        import torch

        n = len(x)
        self._batch_size = max(self._batch_size, batch_size)
        x = np.concatenate([x, np.ones((n, 1), np.float32)], 1)
        target = target.astype(np.float32).reshape(n, 1)
        for _ in range(epochs):
            order = torch.stack([torch.randperm(n, generator=generator) for _ in range(self.members)]).numpy()
            xs, ts = x[order], target[order]  # [members, n, .]: each member's rows in its own order
            for start in range(0, n, batch_size):
                self.step(xs[:, start : start + batch_size], ts[:, start : start + batch_size])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x [rows, features] -> [members, rows], every member on every row."""
        x = np.concatenate([x, np.ones((len(x), 1), np.float32)], 1)
        stacked = np.broadcast_to(x, (self.members, *x.shape))
        return self.forward(stacked, self._activations(len(x)))[..., 0].copy()


class MlpEnsemblePredictor(UncertainEncodedPredictor):
    def __init__(
        self, config: MlpEnsembleConfig, space: SearchSpace[Any], seed_sequence: np.random.SeedSequence
    ) -> None:
        super().__init__(config.encoding, space)
        if config.path_cutoff:
            self.encoding = PathEncoding(space, self.encoding.space, max_paths=config.path_cutoff)
        self.config = config
        self.generator = torch_generator(seed_sequence)

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        import torch

        c = self.config
        with one_torch_thread(), torch.inference_mode(), _blas().limit(limits=1, user_api="blas"):
            self.net = BatchedMlp(c.members, [X.shape[1]] + [c.width] * c.layers + [1], self.generator, c.lr)
            self.net.fit(X.astype(np.float32), z.astype(np.float32), c.epochs, c.batch_size, self.generator)

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with one_torch_thread(), torch.inference_mode(), _blas().limit(limits=1, user_api="blas"):
            preds = self.net.predict(X.astype(np.float32)).astype(np.float64)
        return preds.mean(0), preds.std(0)


ENTRY = PredictorEntry(
    "mlp_ensemble", MlpEnsembleConfig, MlpEnsemblePredictor,
    "ensemble of 5 MLPs on the path (or adjacency) encoding, the BANANAS predictor",
    # 2: numpy stacked matmuls in the trainer (BANANAS version 3): float rounding differs from 1
    version=2,
)
