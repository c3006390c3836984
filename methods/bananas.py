"""BANANAS: Bayesian optimization with neural architectures for NAS (White, Neiswanger & Savani, AAAI 2021).

Each round: fit the predictor on every evaluated cell, make candidates by mutating the best cells,
and query the `batch_size` candidates with the highest independent-Thompson-sampling draw, one draw
from N(mean, std) per candidate: the ensemble's mean and (population) std, naszilla/naszilla
`naszilla/acquisition_functions.py`, `acq_fn`, branch `explore_type == 'its'`
(`samples = np.random.normal(mean, stds)`; `argsort` of losses, here of accuracies descending).

Defaults follow the authors' code, naszilla/naszilla `naszilla/nas_algorithms.py`, `bananas`
(`num_init=10`, `k=10`, `num_arches_to_mutate=1`, `predictor_encoding='trunc_path'`,
`explore_type='its'`) and `naszilla/nas_benchmarks.py`, `Nasbench.get_candidates` (`num=100`,
`patience_factor=5`):

- candidates `best_first` (naszilla `get_candidates`, `acq_opt_type='mutation'`): the best cell is
  mutated 100 times (`int(num / num_arches_to_mutate / max_mutation_rate)`), every new cell (never
  evaluated, not already a candidate) kept; only if that gave fewer than 100 candidates is the next
  best cell mutated 100 times, and so on over at most `patience_factor` (5) best cells
  (`sorted(data)[:num_arches_to_mutate * patience_factor]`). As in naszilla the pool may exceed 100
  (the check is made between parents). `round_robin` is nasrepro's earlier scheme (version 1):
  one mutation of each of the `num_parents` best cells in turn until 100 new cells
  (`num_candidates * patience_factor` attempts at most).
- the truncated path encoding (`path_cutoff`): naszilla's `Cell101.encode('trunc_path')` keeps the
  first 40 path indices (`cutoff = 40`), which are exactly the paths of at most 3 ops (1 + 3 + 9 + 27);
  `Cell201.encode('trunc_path')` keeps 30 (`encode_freq_paths(cutoff=30)`), its paths of 1 and 2 ops
  (5 + 25, counting `none` as a label). `path_cutoff` is passed to the predictor as the encoding's
  `max_paths`, which keeps whole path lengths: on NB101 the same 40 paths, on NB201 the paths of at
  most 2 ops of our vocabulary (21 columns: 1 + 4 + 16, as we never encode paths through `none`).
  NB301 is not truncated further: naszilla's cut there (`Cell301.encode`, cutoff 100) falls inside
  the normal cell's first input paths, which our 14-op path vocabulary has no counterpart of.
  `path_cutoff=0` keeps the encoding's own (full) vocabulary, the earlier behaviour.

The predictor and the encoding are settings: `predictor` names any registered predictor (`encoding`
and `path_cutoff` are passed to those that take them; the GNN reads the graph). A predictor without
an uncertainty makes ITS greedy (std 0). A run with `--predictor P` uses that predictor (built by the
runner) instead. Candidates failing the run's constraint are dropped; the initial random cells are
drawn exactly as random search draws them (one `space.sample(rng)` each, first), so seed i starts
from the same cells as RS and RE (naszilla draws 10 distinct random cells).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

import numpy as np

from predictors.encodings import ENCODINGS
from suite import registry
from suite.api import MethodEntry, Predictor, SearchContext
from suite.benchmarks.base import A, Observation

ACQUISITIONS = ("its", "mean")
# naszilla's trunc_path cutoffs (Cell101.encode, Cell201.encode), by benchmark family
PATH_CUTOFFS = {"nb101": 40, "nb201": 30}


@dataclass(frozen=True)
class BananasConfig:
    initial_random: int = 10
    batch_size: int = 10
    num_candidates: int = 100
    candidates: str = "best_first"  # "round_robin": nasrepro's version-1 scheme
    num_parents: int = 10  # round_robin only: the best cells mutated in turn
    patience_factor: int = 5
    acquisition: str = "its"  # "mean": greedy on the predicted mean (an ablation)
    predictor: str = "mlp_ensemble"
    encoding: str = "path"
    path_cutoff: int = 0  # max_paths of the path encoding; 0: the full vocabulary (per-benchmark defaults)

    def __post_init__(self) -> None:
        if min(self.initial_random, self.batch_size, self.num_candidates, self.num_parents) < 1:
            raise ValueError("initial_random, batch_size, num_candidates and num_parents must be >= 1")
        if self.patience_factor < 1:
            raise ValueError("patience_factor must be >= 1")
        if self.path_cutoff < 0:
            raise ValueError("path_cutoff must be >= 0 (0: no truncation)")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {ACQUISITIONS}, not {self.acquisition!r}")
        if self.candidates not in CANDIDATES:
            raise ValueError(f"candidates must be one of {sorted(CANDIDATES)}, not {self.candidates!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {sorted(ENCODINGS)}, not {self.encoding!r}")
        registry.predictor(self.predictor)


def config_for(benchmark: str) -> BananasConfig:
    return BananasConfig(path_cutoff=PATH_CUTOFFS.get(benchmark.split("-")[0], 0))


class Bananas(Generic[A]):
    def __init__(self, config: BananasConfig, context: SearchContext[A]) -> None:
        self.config = config
        self.context = context
        self.predictor = context.predictor or self._own_predictor()
        self.archs: list[A] = []
        self.values: list[float] = []
        self.seen: set[str] = set()
        self.started = False

    def _own_predictor(self) -> Predictor:
        c, ss = self.config, self.context.seed_sequence
        # stream 3 of the run's seed: apart from rng (the run seed itself), torch_generator (1, ...)
        # and the runner's --predictor (2)
        seeds = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 3))
        fields = {f.name for f in dataclasses.fields(registry.predictor(c.predictor).config_cls)}
        overrides: dict[str, Any] = {"encoding": c.encoding} if "encoding" in fields else {}
        if c.path_cutoff and c.encoding == "path" and "path_cutoff" in fields:
            overrides["path_cutoff"] = c.path_cutoff
        return registry.build_predictor(c.predictor, self.context.space, seeds, overrides)

    def ask(self) -> list[A]:
        bench, rng = self.context.space, self.context.rng
        if not self.started:
            self.started = True
            return [bench.sample(rng) for _ in range(self.config.initial_random)]
        if len(self.archs) < 2:  # too few results to fit a predictor
            return self._random_unseen()
        candidates = CANDIDATES[self.config.candidates](self) or self._random_unseen()
        return self._select(candidates)

    def ranked(self) -> list[A]:
        """Evaluated cells, best first (ties: the earlier evaluated first, as naszilla's stable sort)."""
        return [self.archs[i] for i in np.argsort(-np.asarray(self.values), kind="stable")]

    def offer(self, child: A, found: dict[str, A]) -> None:
        """Keep a mutation if it is new (never evaluated, not yet a candidate) and feasible."""
        key = self.context.space.key(child)
        if key not in self.seen and key not in found and self.context.feasible(child):
            found[key] = child

    def _random_unseen(self) -> list[A]:
        """Fallback when mutation finds nothing new (a tiny or tightly constrained space)."""
        bench, rng = self.context.space, self.context.rng
        found: dict[str, A] = {}
        for _ in range(self.config.num_candidates * self.config.patience_factor):
            arch = bench.sample(rng)
            key = bench.key(arch)
            if key not in self.seen and self.context.feasible(arch):
                found.setdefault(key, arch)
                if len(found) >= self.config.batch_size:
                    break
        return list(found.values()) or [bench.sample(rng)]

    def _select(self, candidates: list[A]) -> list[A]:
        self.predictor.fit(self.archs, np.asarray(self.values))
        if hasattr(self.predictor, "predict_dist"):
            mean, std = self.predictor.predict_dist(candidates)
        else:
            mean, std = self.predictor.predict(candidates), np.zeros(len(candidates))
        score = self.context.rng.normal(mean, std) if self.config.acquisition == "its" else mean
        best = np.argsort(-np.asarray(score), kind="stable")[: self.config.batch_size]
        return [candidates[i] for i in best]

    def tell(self, archs: list[A], observations: list[Observation]) -> None:
        bench = self.context.space
        for arch, obs in zip(archs, observations, strict=True):
            key = bench.key(arch)
            if key in self.seen:  # the runner answers repeats from its cache; learn each cell once
                continue
            self.seen.add(key)
            self.archs.append(arch)
            self.values.append(obs.value)


def best_first(method: Bananas[A]) -> list[A]:
    """naszilla `get_candidates`: 100 mutations of the best cell, the next best only if needed."""
    c, bench, rng = method.config, method.context.space, method.context.rng
    found: dict[str, A] = {}
    for parent in method.ranked()[: c.patience_factor]:
        if len(found) >= c.num_candidates:
            break
        for _ in range(c.num_candidates):
            method.offer(bench.mutate(parent, rng), found)
    return list(found.values())


def round_robin(method: Bananas[A]) -> list[A]:
    """nasrepro version 1: one mutation of each of the `num_parents` best cells in turn."""
    c, bench, rng = method.config, method.context.space, method.context.rng
    parents = method.ranked()[: c.num_parents]
    found: dict[str, A] = {}
    for attempt in range(c.num_candidates * c.patience_factor):
        if len(found) >= c.num_candidates:
            break
        method.offer(bench.mutate(parents[attempt % len(parents)], rng), found)
    return list(found.values())


CANDIDATES: dict[str, Callable[[Bananas[Any]], list[Any]]] = {"best_first": best_first, "round_robin": round_robin}

ENTRY = MethodEntry(
    "bananas", BananasConfig, Bananas,
    "BANANAS, White et al. 2021: path encoding, MLP ensemble, independent Thompson sampling over mutations",
    config_for=config_for,
    # 2: best-first candidates and truncated path encoding as naszilla; the ensemble trained by the
    # hand-derived batched step (equal in distribution to version 1's autograd training, not bitwise);
    # 3: the same step with numpy's BLAS matmuls instead of torch.bmm (1.5x faster; float rounding of
    # the matrix products differs, so trajectories are not bitwise version 2's)
    version=3,
    uses_predictor=True,
)
