"""An ensemble of MLPs, the predictor of BANANAS (White et al., AAAI 2021).

Defaults are the BANANAS code's (naszilla `meta_neuralnet_params('standard')`): 5 networks of 10
ReLU layers of width 20, mean absolute error, Adam (lr 0.01, betas 0.9/0.99), 150 epochs, batch 32.
Each member has its own initial weights and its own minibatch order; predict_dist is the members'
mean and (population) standard deviation, as naszilla's acquisition functions compute it.
The members are trained together as one batched network: Adam's update is elementwise, so this is
exactly five independent trainings, five times faster. Targets are standardized (BANANAS fitted raw
validation losses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from predictors.base import PredictorEntry
from predictors.common import UncertainEncodedPredictor, check_encoding, one_torch_thread, torch_generator
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

    def __post_init__(self) -> None:
        check_encoding(self.encoding)
        if min(self.members, self.layers, self.width, self.epochs, self.batch_size) < 1 or self.lr <= 0:
            raise ValueError("members, layers, width, epochs, batch_size must be >= 1 and lr > 0")


class _BatchedMlp(torch.nn.Module):
    """`members` independent MLPs evaluated as one: weights [members, fan_in, fan_out]."""

    def __init__(self, members: int, dims: list[int], generator: torch.Generator) -> None:
        super().__init__()
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True):
            bound = 1 / fan_in**0.5  # torch.nn.Linear's default initial range
            w = (torch.rand(members, fan_in, fan_out, generator=generator) * 2 - 1) * bound
            b = (torch.rand(members, 1, fan_out, generator=generator) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [members, batch, fan_in] -> [members, batch]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return x.squeeze(-1)


class MlpEnsemblePredictor(UncertainEncodedPredictor):
    def __init__(
        self, config: MlpEnsembleConfig, benchmark: Benchmark, seed_sequence: np.random.SeedSequence
    ) -> None:
        super().__init__(config.encoding, benchmark)
        self.config = config
        self.generator = torch_generator(seed_sequence)

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        c = self.config
        x = torch.from_numpy(X)
        target = torch.from_numpy(z.astype(np.float32))
        n = len(x)
        with one_torch_thread():
            self.net = _BatchedMlp(c.members, [x.shape[1]] + [c.width] * c.layers + [1], self.generator)
            opt = torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=(0.9, 0.99), fused=True)
            for _ in range(c.epochs):
                order = torch.stack([torch.randperm(n, generator=self.generator) for _ in range(c.members)])
                for start in range(0, n, c.batch_size):
                    idx = order[:, start : start + c.batch_size]
                    # summed over members: each member's gradient is that of its own mean loss
                    loss = (self.net(x[idx]) - target[idx]).abs().mean(1).sum()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()

    def _predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with one_torch_thread(), torch.no_grad():
            x = torch.from_numpy(X).expand(self.config.members, -1, -1)
            preds = self.net(x).double().numpy()
        return preds.mean(0), preds.std(0)


ENTRIES = [
    PredictorEntry(
        "mlp_ensemble", MlpEnsembleConfig, MlpEnsemblePredictor,
        "ensemble of 5 MLPs on the path (or adjacency) encoding, the BANANAS predictor",
    ),
]
