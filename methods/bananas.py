"""BANANAS: Bayesian optimization with neural architectures for NAS (White, Neiswanger & Savani, AAAI 2021).

Each round: fit the predictor on every evaluated cell, make candidates by mutating the best cells,
and query the `batch_size` candidates with the highest independent-Thompson-sampling draw, one draw
from N(mean, std) per candidate (ITS: the ensemble's mean and spread, naszilla `acq_fn('its')`).

Defaults from the paper and its code (naszilla `nas_algorithms.bananas` and `get_candidates`):
`num_init=10` random cells, `k=10` queries per round, 100 candidates from mutations of the 10 best
cells (`num_best_arches=10`; `patience_factor=5` caps the attempts), never a cell already evaluated
or already a candidate, ITS acquisition, the path encoding and an ensemble of 5 MLPs
(predictors/mlp_ensemble.py holds the network defaults). One difference: naszilla mutates the best
cell until it has 100 candidates and then moves on to the next; we go round the 10 best in turn, one
mutation each, which spreads the candidates over the 10 parents as the paper describes.

The predictor and the encoding are settings: `predictor` names any registered predictor (`encoding`
is passed to those that take one; the GNN reads the graph). A predictor without an uncertainty makes
ITS greedy (std 0). A run with `--predictor P` uses that predictor (built by the runner) instead.
Candidates failing the run's constraint are dropped; the initial random cells are drawn exactly as
random search draws them (one `space.sample(rng)` each, first), so seed i starts from the same
cells as RS and RE.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import predictors
from methods.base import MethodEntry, SearchContext
from predictors.encodings import ENCODINGS
from suite.benchmarks.base import Arch, Observation

ACQUISITIONS = ("its", "mean")


@dataclass(frozen=True)
class BananasConfig:
    initial_random: int = 10
    batch_size: int = 10
    num_candidates: int = 100
    num_parents: int = 10
    patience_factor: int = 5
    acquisition: str = "its"  # "mean": greedy on the predicted mean (an ablation)
    predictor: str = "mlp_ensemble"
    encoding: str = "path"

    def __post_init__(self) -> None:
        if min(self.initial_random, self.batch_size, self.num_candidates, self.num_parents) < 1:
            raise ValueError("initial_random, batch_size, num_candidates and num_parents must be >= 1")
        if self.patience_factor < 1:
            raise ValueError("patience_factor must be >= 1")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {ACQUISITIONS}, not {self.acquisition!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {sorted(ENCODINGS)}, not {self.encoding!r}")
        predictors.get(self.predictor)


class Bananas:
    def __init__(self, config: BananasConfig, context: SearchContext) -> None:
        self.config = config
        self.context = context
        self.predictor = context.predictor or self._own_predictor()
        self.archs: list[Arch] = []
        self.values: list[float] = []
        self.seen: set[str] = set()
        self.started = False

    def _own_predictor(self) -> predictors.Predictor:
        c, ss = self.config, self.context.seed_sequence
        # stream 3 of the run's seed: apart from rng (the run seed itself), torch_generator (1, ...)
        # and the runner's --predictor (2)
        seeds = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 3))
        fields = {f.name for f in dataclasses.fields(predictors.get(c.predictor).config_cls)}
        overrides = {"encoding": c.encoding} if "encoding" in fields else {}
        return predictors.build(c.predictor, self.context.space, seeds, overrides)

    def ask(self) -> list[Arch]:
        bench, rng = self.context.space, self.context.rng
        if not self.started:
            self.started = True
            return [bench.sample(rng) for _ in range(self.config.initial_random)]
        if len(self.archs) < 2:  # too few results to fit a predictor
            return self._random_unseen()
        candidates = self._candidates() or self._random_unseen()
        return self._select(candidates)

    def _candidates(self) -> list[Arch]:
        c, bench, rng = self.config, self.context.space, self.context.rng
        order = np.argsort(-np.asarray(self.values), kind="stable")[: c.num_parents]
        parents = [self.archs[i] for i in order]
        found: dict[str, Arch] = {}
        for attempt in range(c.num_candidates * c.patience_factor):
            if len(found) >= c.num_candidates:
                break
            child = bench.mutate(parents[attempt % len(parents)], rng)
            key = bench.key(child)
            if key not in self.seen and key not in found and self.context.feasible(child):
                found[key] = child
        return list(found.values())

    def _random_unseen(self) -> list[Arch]:
        """Fallback when mutation finds nothing new (a tiny or tightly constrained space)."""
        bench, rng = self.context.space, self.context.rng
        found: dict[str, Arch] = {}
        for _ in range(self.config.num_candidates * self.config.patience_factor):
            arch = bench.sample(rng)
            key = bench.key(arch)
            if key not in self.seen and self.context.feasible(arch):
                found.setdefault(key, arch)
                if len(found) >= self.config.batch_size:
                    break
        return list(found.values()) or [bench.sample(rng)]

    def _select(self, candidates: list[Arch]) -> list[Arch]:
        self.predictor.fit(self.archs, np.asarray(self.values))
        if hasattr(self.predictor, "predict_dist"):
            mean, std = self.predictor.predict_dist(candidates)
        else:
            mean, std = self.predictor.predict(candidates), np.zeros(len(candidates))
        score = self.context.rng.normal(mean, std) if self.config.acquisition == "its" else mean
        best = np.argsort(-np.asarray(score), kind="stable")[: self.config.batch_size]
        return [candidates[i] for i in best]

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        bench = self.context.space
        for arch, obs in zip(archs, observations, strict=True):
            key = bench.key(arch)
            if key in self.seen:  # the runner answers repeats from its cache; learn each cell once
                continue
            self.seen.add(key)
            self.archs.append(arch)
            self.values.append(obs.value)


ENTRY = MethodEntry(
    "bananas", BananasConfig, Bananas,
    "BANANAS, White et al. 2021: path encoding, MLP ensemble, independent Thompson sampling over mutations",
    uses_predictor=True,
)
