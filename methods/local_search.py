"""Local search (White, Nolen, Ravi & Wilson, "Local Search is State of the Art for Neural Architecture
Search Benchmarks", 2020), the variant and settings of the BANANAS paper's NB101 table (White, Neiswanger
& Savani, AAAI 2021), which ran it with the authors' code defaults.

The reference is naszilla/naszilla `naszilla/nas_algorithms.py`, `local_search(search_space,
num_init=DEFAULT_NUM_INIT, ..., query_full_nbhd=False, stop_at_minimum=True, ...)` with
`DEFAULT_NUM_INIT = 10`, called without overrides by `naszilla/params.py`, `algo_params('all_algos')`
(`{'algo_name': 'local_search', 'total_queries': queries}`). Step by step, as there:

1. Start: `while len(arch_dicts) < num_init:` query random cells, skipping any already queried
   (`if search_space.get_hash(...) not in query_dict`), until `num_init` (10) new ones; the current cell
   is the best of them (`sorted_arches = sorted(..., key=loss)`, `arch_dict = sorted_arches[0][0]`: the
   first drawn among equals, as the stable sort).
2. Climb: `nbhd = search_space.get_nbhd(arch_dict['spec'])`, every one-edit neighbour in random order
   (`Cell101.adj_neighborhood(shuffle=True)`: `random.shuffle(nbhd)`); `for nbr in nbhd:` a neighbour
   already queried is skipped; the others are queried in turn and, with `query_full_nbhd=False`, the first
   better than the current cell becomes the current cell (`if nbr_dict[loss] < arch_dict[loss]: ...
   arch_dict = nbr_dict; break`) and its neighbourhood is scanned next (`move="first"`). With
   `query_full_nbhd=True` the whole neighbourhood is queried and the search moves to its best cell if that
   beats the current one (`sorted_nbhd = sorted(...)`, `arch_dict = sorted_nbhd[0][0]`): `move="best"`,
   the variant of NASLib's `LocalSearch` (automl/NASLib `naslib/optimizers/discrete/ls/optimizer.py`,
   `new_epoch`: `self.nbhd.pop()` until empty, then `self.chosen = self.best_arch`) and of the paper's
   Algorithm 1.
3. Restart: when a neighbourhood holds no better new cell (`elif not improvement: break`, with
   `stop_at_minimum=True`), the search starts again at step 1 with `num_init` new random cells.

"Better" is a higher search metric (naszilla minimises the validation loss). Differences from naszilla:
the neighbourhood is the space's `neighbors`, the distinct cells one edit away (naszilla lists the same
single edits, on NB101 one edge flipped or one op changed on its 7-vertex matrix, and queries a cell two
edits give once), cells are told apart by the space's key (NB101: the module hash; naszilla: the path
encoding, `get_hash`, which also merges some distinct cells), and the random order comes from the run's
generator. With a constraint,
infeasible cells are skipped like queried ones (never proposed); unconstrained, the first draws are the
random cells random search draws (`space.sample(context.rng)`), so seed i starts from RS's cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic

from suite.api import MethodEntry, SearchContext
from suite.benchmarks.base import A, Observation
from suite.errors import NasreproError

MOVES = ("first", "best")  # naszilla query_full_nbhd=False / True
MAX_DRAWS = 100_000  # random draws without a new feasible cell before a run gives up (a near-exhausted space)


@dataclass(frozen=True)
class LocalSearchConfig:
    initial_random: int = 10  # naszilla num_init: random cells per start
    move: str = "first"  # "first": the first better neighbour (naszilla default); "best": after the whole scan

    def __post_init__(self) -> None:
        if self.initial_random < 1:
            raise ValueError("initial_random must be at least 1")
        if self.move not in MOVES:
            raise ValueError(f"move must be one of {list(MOVES)}, not {self.move!r}")


@dataclass
class _Climb(Generic[A]):
    """One neighbourhood scan: the current cell, its neighbours in random order, the ones evaluated."""

    arch: A
    value: float
    order: list[A]
    next: int = 0
    scanned: list[tuple[A, float]] = field(default_factory=list)


class LocalSearch(Generic[A]):
    def __init__(self, config: LocalSearchConfig, context: SearchContext[A]) -> None:
        self.config = config
        self.context = context
        self.seen: set[str] = set()  # every cell proposed (naszilla's query_dict)
        self.start: list[tuple[A, float]] = []  # the random cells of the current start
        self.climb: _Climb[A] | None = None
        self.moves = 0
        self.local_optima = 0

    def ask(self) -> list[A]:
        while self.climb is not None:
            neighbour = self._next_neighbour(self.climb)
            if neighbour is not None:
                return [neighbour]
            self._scanned_all(self.climb)
        return [self._new_random()]

    def tell(self, archs: list[A], observations: list[Observation]) -> None:
        for arch, obs in zip(archs, observations, strict=True):
            if self.climb is None:
                self.start.append((arch, obs.value))
                if len(self.start) == self.config.initial_random:
                    self._climb_from(*max(self.start, key=lambda cell: cell[1]))  # first among equals
                    self.start = []
                continue
            climb = self.climb
            climb.scanned.append((arch, obs.value))
            if self.config.move == "first" and obs.value > climb.value:
                self.moves += 1
                self._climb_from(arch, obs.value)

    def diagnostics(self) -> dict[str, float]:
        """Per run: improving moves made, and local optima reached (each followed by a restart)."""
        return {"moves": float(self.moves), "local_optima": float(self.local_optima)}

    def _new_random(self) -> A:
        space, rng = self.context.space, self.context.rng
        for _ in range(MAX_DRAWS):
            arch = space.sample(rng)
            if self._fresh(arch):
                return arch
        raise NasreproError(f"local search drew {MAX_DRAWS:,} random cells without a new feasible one")

    def _fresh(self, arch: A) -> bool:
        """Whether a cell may be proposed (new and feasible); marks it as proposed if so."""
        key = self.context.space.key(arch)
        if key in self.seen or not self.context.feasible(arch):
            return False
        self.seen.add(key)
        return True

    def _climb_from(self, arch: A, value: float) -> None:
        neighbours = self.context.space.neighbors(arch)
        order = self.context.rng.permutation(len(neighbours)).tolist()
        self.climb = _Climb(arch, value, [neighbours[i] for i in order])

    def _next_neighbour(self, climb: _Climb[A]) -> A | None:
        while climb.next < len(climb.order):
            neighbour = climb.order[climb.next]
            climb.next += 1
            if self._fresh(neighbour):
                return neighbour
        return None

    def _scanned_all(self, climb: _Climb[A]) -> None:
        """The whole neighbourhood is evaluated: move to its best cell if it is better ("best"), or restart
        at a local optimum (under "first", a better neighbour would already have been moved to)."""
        best = max(climb.scanned, key=lambda cell: cell[1], default=None)  # first among equals
        if best is not None and best[1] > climb.value:
            self.moves += 1
            self._climb_from(*best)
        else:
            self.local_optima += 1
            self.climb = None


ENTRY = MethodEntry(
    "ls", LocalSearchConfig, LocalSearch,
    "local search, White et al. 2020: best of 10 random cells, first-improvement climb, random restarts",
)
