"""GA-NAS settings. Chosen on NB201 CIFAR-10 only (see README.md) and kept for every benchmark.

Stand-ins, said here as the specification asks: the generator's and discriminator's GNN is the project's
GIN encoder (predictors/layers.py), not the paper's k-GNN; the paper's own settings are not known to us.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# The names of search.REWARDS and search.PAIRINGS, here so that checking a config needs no torch.
REWARD_NAMES = ("discriminator", "random")
PAIR_NAMES = ("relativistic", "same-set")
# The names of spaces.NB101_DECODERS: how the generator spells an NB101 cell (see spaces.py).
NB101_DECODER_NAMES = ("per-node", "per-edge")


@dataclass(frozen=True)
class GanasConfig:
    # Outer loop (Algorithm 1)
    n_init: int = 30  # |X0|: uniform random cells, the same first draws as random search (same seed)
    top_k: int = 5  # truth-set size k: the best feasible evaluated cells; 5 chosen by `make tune-ganas`
    n_eval: int = 10  # new cells generated and evaluated per outer iteration
    # Inner loop (Algorithm 2)
    inner_rounds: int = 5  # T': discriminator + generator rounds per outer iteration
    rollouts: int = 64  # cells the generator samples per round (the first k of them are the fake set F)
    d_steps: int = 5  # discriminator updates per round
    ppo_epochs: int = 4  # generator updates per round on the same rollouts
    lr_generator: float = 2e-3
    lr_discriminator: float = 2e-3
    ppo_clip: float = 0.2
    entropy_weight: float = 0.01
    baseline_decay: float = 0.9  # exponential moving average of the mean reward
    # Networks
    gnn_dim: int = 32
    gnn_layers: int = 2
    hidden: int = 64  # GRU state of the decoder and width of the MLP heads
    # Proposal: batches drawn from G before giving up on finding a new feasible cell
    max_proposal_batches: int = 64
    # With a run predictor only: G draws pool_factor x n_eval new cells, the predictor picks n_eval
    pool_factor: int = 5
    # Named variants, measurable as ablations (see README.md):
    reward: str = "discriminator"  # "random": U(0,1) noise in place of D's belief (the ablation)
    pairs: str = "relativistic"  # D's pair construction; "same-set": (truth, truth) positives too
    # NB101 only (ignored elsewhere, though part of every run's settings): one joint decision per node,
    # operation and input set (6 GRU steps, version 3), or "per-edge": the operation, then one yes/no
    # decision per incoming edge (26 steps, version 2's)
    nb101_decoder: str = "per-node"

    def __post_init__(self) -> None:
        _check_decoder(self.nb101_decoder)
        if self.reward not in REWARD_NAMES:
            raise ValueError(f"reward must be one of {list(REWARD_NAMES)}, not {self.reward!r}")
        if self.pairs not in PAIR_NAMES:
            raise ValueError(f"pairs must be one of {list(PAIR_NAMES)}, not {self.pairs!r}")
        skip = ("entropy_weight", "baseline_decay", "reward", "pairs", "nb101_decoder")
        positive = [f.name for f in fields(self) if f.name not in skip]
        bad = [name for name in positive if not getattr(self, name) > 0]
        if bad:
            raise ValueError(f"settings {bad} must be positive")
        if self.entropy_weight < 0:
            raise ValueError("entropy_weight must be >= 0")
        if not 0 <= self.baseline_decay < 1:
            raise ValueError("baseline_decay must be in [0, 1)")
        if self.top_k > self.rollouts:
            raise ValueError("top_k (the fake-set size) cannot exceed rollouts")


@dataclass(frozen=True)
class GanasMleConfig:
    """The cross-entropy-method ablation: the same outer loop and generator, fitted by maximum likelihood."""

    n_init: int = 30
    top_k: int = 10
    n_eval: int = 10
    mle_steps: int = 20  # likelihood updates per outer iteration: as many as GA-NAS makes (T' x PPO epochs)
    rollouts: int = 64  # batch size of those updates and of the proposal draws
    lr_generator: float = 2e-3
    gnn_dim: int = 32
    gnn_layers: int = 2
    hidden: int = 64
    max_proposal_batches: int = 64
    pool_factor: int = 5  # with a run predictor only, as in GanasConfig
    nb101_decoder: str = "per-node"  # as in GanasConfig

    def __post_init__(self) -> None:
        _check_decoder(self.nb101_decoder)
        bad = [f.name for f in fields(self) if f.name != "nb101_decoder" and not getattr(self, f.name) > 0]
        if bad:
            raise ValueError(f"settings {bad} must be positive")


def _check_decoder(name: str) -> None:
    if name not in NB101_DECODER_NAMES:
        raise ValueError(f"nb101_decoder must be one of {list(NB101_DECODER_NAMES)}, not {name!r}")


def ganas_config_for(benchmark: str) -> GanasConfig:
    """Every benchmark gets the NB201 CIFAR-10 choice: tuning on the evaluation benchmarks is not allowed."""
    return GanasConfig()


def mle_config_for(benchmark: str) -> GanasMleConfig:
    return GanasMleConfig()
