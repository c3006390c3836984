"""predictors.common.fused_adam_step: torch's private fused Adam kernel where it takes the public optimiser's
steps, `torch.optim.Adam(fused=True)` itself otherwise, with the same weights either way.

tests/test_ganas.py keeps the equality test of GA-NAS's FusedAdam against torch.optim.Adam on the
installed torch; here the same comparison runs with the kernel missing and with a kernel that differs.
"""

import importlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from methods.ganas.adam import FusedAdam
from predictors import common
from predictors.layers import build_module


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    """The probe's answer is cached per process: forget it around each test (monkeypatched torch)."""
    common._kernel_is_public_adam.cache_clear()
    yield
    common._kernel_is_public_adam.cache_clear()


def _fused_adam_equals_torch_adam() -> bool:
    """GA-NAS's FusedAdam and torch.optim.Adam(fused=True) on copies of one network, 12 steps, every 4th
    leaving a layer without gradient (skipped, not counted): the same weights bit for bit?"""

    def net() -> torch.nn.Sequential:
        return build_module(
            lambda: torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2)),
            torch.Generator().manual_seed(0),
        )

    ours, theirs = net(), net()
    opt_ours = FusedAdam(ours.parameters(), 3e-3)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=3e-3, fused=True)
    x = torch.randn(32, 5, generator=torch.Generator().manual_seed(1))
    for step in range(12):
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            out = model(x) if step % 4 else model[1](model[0](x)).sum(1)
            (out**2).mean().backward()
            opt.step()
    assert not torch.equal(ours[0].weight, net()[0].weight)  # the steps moved the weights
    return all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters(), strict=True))


def test_the_installed_torch_takes_the_kernel_path(monkeypatch):
    """torch 2.13 (the Makefile's): the private kernel passes the probe, and it is what runs."""
    calls = []
    kernel = common._kernel_step
    monkeypatch.setattr(common, "_kernel_step", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    assert _fused_adam_equals_torch_adam()
    assert common._kernel_is_public_adam() and len(calls) > 12  # the probe's 3 steps, then the 12 of the test


class _RenamedKernel:
    """`torch` as torch/optim/adam.py sees it in a torch whose kernel is no longer `torch._fused_adam_`."""

    def __init__(self, kernel) -> None:
        self._fused_adam_ = kernel

    def __getattr__(self, name: str):
        return getattr(torch, name)


def test_without_the_private_kernel_the_public_optimiser_steps(monkeypatch):
    adam_module = importlib.import_module("torch.optim.adam")  # the module (torch.optim.adam the name is not)
    monkeypatch.setattr(adam_module, "torch", _RenamedKernel(torch._fused_adam_))
    monkeypatch.delattr(torch, "_fused_adam_")
    assert not common._kernel_is_public_adam()
    public = []
    step = common._public_step
    monkeypatch.setattr(common, "_public_step", lambda *a, **k: public.append(1) or step(*a, **k))
    assert _fused_adam_equals_torch_adam()
    assert len(public) == 12  # every step of FusedAdam went through torch.optim.Adam


def test_a_kernel_that_steps_otherwise_is_not_used(monkeypatch):
    """A torch whose kernel takes other arguments or computes otherwise than its optimiser's call of it
    (simulated: our call of it with twice the learning rate) fails the probe; the public path runs."""
    kernel = common._kernel_step
    monkeypatch.setattr(common, "_kernel_step", lambda *a, lr, **k: kernel(*a, lr=2 * lr, **k))
    assert not common._kernel_is_public_adam()
    assert _fused_adam_equals_torch_adam()


def test_a_kernel_with_another_signature_is_not_used(monkeypatch):
    def renamed(*args, amsgrad, lr, beta1, beta2, weight_decay, epsilon, maximize):  # `eps` renamed
        raise AssertionError("not reached: the call fails on its arguments first")

    monkeypatch.setattr(torch, "_fused_adam_", renamed)
    assert not common._kernel_is_public_adam()


def test_the_bananas_ensemble_trains_to_the_same_bits_on_the_public_path(monkeypatch):
    """The MLP ensemble's step (flat buffers made in inference mode) gives the same weights whichever path."""
    from predictors.mlp_ensemble import BatchedMlp

    def trained() -> np.ndarray:
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(20, 6, generator=gen).round().numpy()
        y = torch.randn(20, generator=gen).numpy()
        with torch.inference_mode():
            net = BatchedMlp(3, [6, 5, 5, 1], gen, 0.01)
            net.fit(x, y, 3, 8, gen)
        return net.flat.copy()

    monkeypatch.setattr(common, "_kernel_is_public_adam", lambda: True)
    kernel = trained()
    monkeypatch.setattr(common, "_kernel_is_public_adam", lambda: False)
    public = trained()
    assert np.array_equal(kernel, public)
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        start = BatchedMlp(3, [6, 5, 5, 1], gen, 0.01).flat
    assert not np.array_equal(start, public)  # training moved the weights
