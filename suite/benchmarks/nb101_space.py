"""The NAS-Bench-101 cell space (Ying et al., 2019): every valid cell, its official hash, its operators.

A cell is a DAG of at most 7 vertices (input first, output last) and at most 9 edges; each interior
vertex holds conv3x3-bn-relu, conv1x1-bn-relu or maxpool3x3. Vertices off every input->output path are
pruned first, as nasbench's `ModelSpec` does, and a cell is identified by the official module hash
(nasbench `graph_util.hash_module`): md5 labels of (out-degree, in-degree, op), refined once per vertex
from the sorted labels of the in- and out-neighbours, then the md5 of the sorted final labels.

Enumeration (once, cached in `suite.data.cache_dir()`) works on pruned matrices: every n x n
upper-triangular 0/1 matrix with <= 9 edges and all vertices on an input->output path (4,793 for n = 7)
is reduced to an isomorphism-class representative by a vectorised canonical form (the least edge
bitmask over the interior permutations that keep it upper-triangular); labelings of a representative are
reduced by its automorphisms, so each labeled class is md5-hashed once. The cache also keeps, for every
labeled pruned matrix (about 1.2 million), the row of its class: looking up any cell, however its vertices
are numbered, is then a pruning pass plus a binary search, with no md5 at query time.

Each cell is stored in the vertex numbering nasbench's generate_graphs met first (the one the dataset
trained; the parameter count depends on it). An architecture is an int, the cell's row in the table
sorted by hash. Building the table takes about 2.5 minutes on one (shared) core; loading it 0.1 s.

Longer than 400 lines: the enumeration, the official hash, the cell table and the space's operators all
work on the same padded arrays and must agree bit for bit with nasbench; splitting them would spread one
representation over several modules.
"""

from __future__ import annotations

import itertools
import multiprocessing
import operator
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import numpy as np

from suite import data
from suite.benchmarks import cache_files
from suite.benchmarks.base import CellGraph
from suite.errors import InvalidArchitecture

try:  # CPython's built-in md5 is about twice as fast as OpenSSL's for these short strings
    from _md5 import md5 as _md5_new  # type: ignore[import-not-found]  # CPython's private module: no stub
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import md5 as _md5_new

INPUT, OUTPUT = "input", "output"
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")  # official `available_ops` order: hash labels
MAX_VERTICES = 7
MAX_EDGES = 9
N_CELLS = 423_624
CENSUS = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
GRAPH_OPS = (INPUT, OUTPUT, *OPS)  # CellGraph vocabulary, NB201's convention
PAIRS = tuple((i, j) for i in range(MAX_VERTICES) for j in range(i + 1, MAX_VERTICES))  # 21 upper-triangle slots
PAIR_BIT = {pair: b for b, pair in enumerate(PAIRS)}
_BINARY = frozenset((0, 1))
T = TypeVar("T")
R = TypeVar("R")
_BIT = [[PAIR_BIT.get((i, j), -1) for j in range(MAX_VERTICES)] for i in range(MAX_VERTICES)]
UNUSED = -3  # op code of an unused vertex in the padded layout
FORMAT_VERSION = 2  # 2: the cache file is checked by a sha256 beside it
CACHE_NAME = f"nb101_cells_v{FORMAT_VERSION}.npz"

# Parameter counts follow nasbench's model_builder: a stem conv3x3 (3 -> 128) with batch norm, 3 stacks
# of 3 modules (128, 256, 512 channels; max-pool downsampling between stacks), global pooling, dense 10.
STEM_CHANNELS = 128
N_STACKS = 3
MODULES_PER_STACK = 3
N_CLASSES = 10
_KERNEL = {0: 3, 1: 1}  # op code -> conv kernel size; maxpool has no weights


# ---------------------------------------------------------------------------------------------- workers
def parallel_map(fn: Callable[[T], R], jobs: Sequence[T], desc: str) -> list[R]:
    """[fn(job) for job in jobs], in order, on up to one process per available core, with a progress
    bar on stderr. Each job is deterministic and single-threaded, so the result does not depend on the
    number of processes. Processes are spawned (not forked): the parent may hold thread pools."""
    from tqdm import tqdm

    workers = min(len(jobs), _cores())
    bar = tqdm(total=len(jobs), desc=desc, unit="job", file=sys.stderr, mininterval=1.0)
    try:
        if workers <= 1:
            return [_tick(bar, fn(job)) for job in jobs]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return [_tick(bar, out) for out in pool.map(fn, jobs)]
    finally:
        bar.close()


def _tick(bar, value):
    bar.update()
    return value


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------- hashing
def module_hash(matrix, labels) -> str:
    """The official NB101 hash of a pruned cell; `labels`: -1 input, -2 output, else the index in OPS."""
    rows = np.asarray(matrix).tolist()
    return _hash_labelings(rows, [[int(c) for c in labels]])[0]


def _hash_labelings(rows: list[list[int]], labelings: list[list[int]]) -> list[str]:
    """Hashes of one pruned matrix under several labelings. Only the first round's md5s repeat often
    enough to be worth remembering; later rounds' inputs are mostly new, and a memo of them costs more
    than it saves (measured: 20% slower enumeration)."""
    n = len(rows)
    preds = [[w for w in range(n) if rows[w][v]] for v in range(n)]
    succs = [[w for w in range(n) if rows[v][w]] for v in range(n)]
    links = list(zip(range(n), preds, succs, strict=True))
    first: dict[tuple[int, int], str] = {}
    out = []
    for labels in labelings:
        hashes = []
        for v in range(n):
            key = (v, labels[v])
            digest = first.get(key)
            if digest is None:
                digest = first[key] = _md5_new(str((len(succs[v]), len(preds[v]), labels[v])).encode()).hexdigest()
            hashes.append(digest)
        for _ in range(n):  # nasbench refines once per vertex, not to convergence: the digest depends on it
            hashes = [
                _md5_new((
                    "".join(sorted([hashes[w] for w in p])) + "|" + "".join(sorted([hashes[w] for w in q]))
                    + "|" + hashes[v]
                ).encode()).hexdigest()
                for v, p, q in links
            ]
        out.append(_md5_new(str(sorted(hashes)).encode()).hexdigest())
    return out


# ---------------------------------------------------------------------------------------------- pruning
@dataclass(frozen=True)
class Cell:
    """A pruned valid cell: n x n upper-triangular 0/1 matrix, labels (-1 input, -2 output, else OPS index)."""

    matrix: np.ndarray
    labels: tuple[int, ...]

    @property
    def ops(self) -> list[str]:
        return [INPUT if c == -1 else OUTPUT if c == -2 else OPS[c] for c in self.labels]

    def hash(self) -> str:
        return module_hash(self.matrix, self.labels)


_CODES = {INPUT: -1, OUTPUT: -2, **{op: k for k, op in enumerate(OPS)}}


def op_codes(ops) -> list[int]:
    try:
        return [_CODES[op] for op in ops]
    except (KeyError, TypeError):
        bad = next(op for op in ops if not isinstance(op, str) or op not in _CODES)
        raise InvalidArchitecture(f"unknown NAS-Bench-101 operation {bad!r}; known: {', '.join(GRAPH_OPS)}") from None


def check_spec(matrix, ops) -> tuple[list[list[int]], list[int]]:
    """A (matrix, ops) pair as nasbench's ModelSpec accepts it, as lists; InvalidArchitecture otherwise.

    Plain Python on purpose: for a 7 x 7 cell it is several times faster than numpy's per-call cost."""
    try:
        rows = matrix.tolist() if hasattr(matrix, "tolist") else [list(row) for row in matrix]
    except TypeError:
        raise InvalidArchitecture("NAS-Bench-101 matrix must be a square 0/1 array") from None
    ops = list(ops)
    n = len(ops)
    if n < 2 or len(rows) != n or any(not isinstance(row, list) or len(row) != n for row in rows):
        raise InvalidArchitecture(f"NAS-Bench-101 cell needs a square matrix matching its {n} ops")
    if not _BINARY.issuperset(itertools.chain.from_iterable(rows)) or any(
        any(row[: i + 1]) for i, row in enumerate(rows)
    ):
        raise InvalidArchitecture("NAS-Bench-101 matrix must be 0/1 and strictly upper-triangular")
    codes = op_codes(ops)
    if codes[0] != -1 or codes[-1] != -2 or any(c < 0 for c in codes[1:-1]):
        raise InvalidArchitecture("NAS-Bench-101 ops must be input, operations..., output")
    return rows, codes


def prune_lists(rows: list[list[int]], codes: list[int]) -> tuple[int, int, int]:
    """Prune a checked cell given as lists: (n, edge bitmask over PAIRS, label code sum codes[v] 3**(v-1)).

    Vertices not both reachable from the input and reaching the output are dropped (nasbench's rule);
    InvalidArchitecture if nothing connects input to output or the pruned cell is too large."""
    n = len(codes)
    from_input = [False] * n
    from_input[0] = True
    for v in range(n):  # strictly upper-triangular: vertex order is a topological order
        if from_input[v]:
            row = rows[v]
            for w in range(v + 1, n):
                if row[w]:
                    from_input[w] = True
    to_output = [False] * n
    to_output[n - 1] = True
    for v in range(n - 2, -1, -1):
        row = rows[v]
        for w in range(v + 1, n):
            if row[w] and to_output[w]:
                to_output[v] = True
                break
    keep = [v for v in range(n) if from_input[v] and to_output[v]]
    if len(keep) < 2:
        raise InvalidArchitecture("NAS-Bench-101 cell has no path from input to output")
    if len(keep) > MAX_VERTICES:
        raise InvalidArchitecture(f"NAS-Bench-101 cell has {len(keep)} vertices after pruning (max {MAX_VERTICES})")
    mask = 0
    edges = 0
    for a, v in enumerate(keep):
        row = rows[v]
        bits = _BIT[a]
        for b in range(a + 1, len(keep)):
            if row[keep[b]]:
                mask |= 1 << bits[b]
                edges += 1
    if edges > MAX_EDGES:
        raise InvalidArchitecture(f"NAS-Bench-101 cell has {edges} edges after pruning (max {MAX_EDGES})")
    code = 0
    for a in range(len(keep) - 2, 0, -1):
        code = code * 3 + codes[keep[a]]
    return len(keep), mask, code


def lookup_key(n: int, mask: int, code: int) -> int:
    return (n << 32) | (mask << 8) | code  # mask < 2**21, code < 3**5 = 243 < 2**8


# ---------------------------------------------------------------------------------------------- params
def param_count(matrix, labels) -> int:
    """NB101's trainable-parameter count of a pruned cell, given in any vertex numbering.

    nasbench's builder splits the output's channels by vertex order (model_builder.compute_vertex_channels:
    `interior_channels = output_channels // in_degree[num_vertices - 1]`, the remainder `correction` going
    one channel each to the lowest-numbered vertices feeding the output), so two numberings of one cell can
    differ in parameters. NB101 trained, and counts, the numbering nasbench's generate_graphs met first
    (`official_numbering`); other files store other numberings (nb101_subset20k: 100 cells, of
    nb101_test_evox6760: 728, where the builder's count of the stored numbering is not NB101's)."""
    return builder_params(*official_numbering(matrix, labels))


def official_numbering(matrix, labels) -> tuple[np.ndarray, list[int]]:
    """The numbering of a pruned cell that nasbench's generate_graphs met first: of all its topological
    numberings (input first, output last), the least nasbench edge bitmask (edge x->y at bit
    x + y(y-1)/2, `gen_is_edge_fn`), then the least labelling in itertools.product order (vertex 1 most
    significant). Brute force over the interior permutations (at most 120), independent of the cached table
    (whose `_official_forms` finds the same numbering by sorting the enumeration)."""
    m = np.asarray(matrix, dtype=np.int64)
    codes = np.asarray(labels, dtype=np.int64)
    n = len(codes)
    orders, lower, weight, digits = _numberings(n)  # numbering p: new vertex i is old vertex orders[p, i]
    renumbered = m[orders[:, :, None], orders[:, None, :]]
    topological = ~(renumbered & lower).any(axis=(1, 2))
    first = (renumbered * weight).sum(axis=(1, 2)) * 3 ** (n - 2) + codes[orders[:, 1:-1]] @ digits
    best = orders[int(np.argmin(np.where(topological, first, np.iinfo(np.int64).max)))]
    return m[np.ix_(best, best)], codes[best].tolist()


@cache
def _numberings(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    orders = np.array([(0, *p, n - 1) for p in itertools.permutations(range(1, n - 1))], dtype=np.int64)
    x, y = np.indices((n, n))
    weight = np.where(x < y, 1 << (x + y * (y - 1) // 2), 0).astype(np.int64)
    digits = 3 ** np.arange(n - 3, -1, -1, dtype=np.int64)
    return orders, (x >= y).astype(np.int64), weight, digits


def builder_params(matrix, labels) -> int:
    """Trainable parameters of the NB101 network nasbench's model_builder builds from a pruned cell in
    exactly the numbering given (see param_count for why the numbering matters)."""
    n = len(labels)
    rows = np.asarray(matrix).tolist()
    total = 3 * 3 * 3 * STEM_CHANNELS + 2 * STEM_CHANNELS  # stem conv + batch-norm scale and shift
    in_channels = STEM_CHANNELS
    for stack in range(N_STACKS):
        channels = STEM_CHANNELS * 2**stack
        for _ in range(MODULES_PER_STACK):
            total += _module_params(rows, labels, n, in_channels, channels)
            in_channels = channels
    return total + in_channels * N_CLASSES + N_CLASSES


def _conv_bn(kernel: int, c_in: int, c_out: int) -> int:
    return kernel * kernel * c_in * c_out + 2 * c_out  # no bias: batch norm (scale, shift) follows


def _module_params(rows, labels, n: int, c_in: int, c_out: int) -> int:
    if n == 2:
        return _conv_bn(1, c_in, c_out)
    channels = _vertex_channels(rows, n, c_in, c_out)
    total = 0
    for v in range(1, n - 1):
        if rows[0][v]:
            total += _conv_bn(1, c_in, channels[v])  # projection of the module input
        kernel = _KERNEL.get(labels[v])
        if kernel is not None:
            total += _conv_bn(kernel, channels[v], channels[v])
    if rows[0][n - 1]:
        total += _conv_bn(1, c_in, c_out)
    return total


def _vertex_channels(rows, n: int, c_in: int, c_out: int) -> list[int]:
    # The output's channels are split over the vertices feeding it (the first ones get the remainder);
    # any other vertex takes the max over its successors.
    channels = [0] * n
    channels[0], channels[n - 1] = c_in, c_out
    share, extra = divmod(c_out, sum(rows[v][n - 1] for v in range(1, n - 1)))
    for v in range(1, n - 1):
        if rows[v][n - 1]:
            channels[v] = share + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not rows[v][n - 1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if rows[v][w])
    return channels


# ---------------------------------------------------------------------------------------------- table
def bits_to_matrix(n: int, mask: int) -> np.ndarray:
    mat = np.zeros((n, n), dtype=np.int8)
    for b, (i, j) in enumerate(PAIRS):
        if mask >> b & 1:
            mat[i, j] = 1
    return mat


@dataclass(frozen=True)
class CellTable:
    """Every NB101 cell, sorted by hash, and the lookup of every labeled pruned matrix.

    Per cell: `hashes` (S32), `n_vertices`, `edges` (bitmask over PAIRS of a canonical pruned matrix),
    `labels` ([N, 7] int8: -1 input, -2 output, OPS index; 0 past n), `params` (nasbench's count).
    `lookup_keys` (sorted `lookup_key`s) and `lookup_rows` map any pruned labeled matrix to its cell."""

    hashes: np.ndarray
    n_vertices: np.ndarray
    edges: np.ndarray
    labels: np.ndarray
    params: np.ndarray
    lookup_keys: np.ndarray
    lookup_rows: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def index_of_hash(self, digest: str) -> int:
        key = digest.encode("ascii")
        i = int(np.searchsorted(self.hashes, key))
        if i == len(self.hashes) or self.hashes[i] != key:
            raise InvalidArchitecture(f"{digest!r} is not the hash of a NAS-Bench-101 cell")
        return i

    def index_of_key(self, key: int) -> int:
        i = int(self.lookup_keys.searchsorted(key))
        if i == len(self.lookup_keys) or int(self.lookup_keys[i]) != key:
            raise InvalidArchitecture("not a NAS-Bench-101 cell")  # unreachable for a pruned valid cell
        return int(self.lookup_rows[i])

    def cell(self, i: int) -> Cell:
        n = int(self.n_vertices[i])
        return Cell(bits_to_matrix(n, int(self.edges[i])), tuple(int(c) for c in self.labels[i, :n]))

    def padded(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cells of `rows` in the padded 7-vertex layout, for batch encodings: adjacency [N, 7, 7]
        uint8 with the output moved to vertex 6, and ops [N, 7] int64: -1 at the input, -2 at the
        output (the table's label codes), OPS indices on the interior vertices and UNUSED on unused ones."""
        n = self.n_vertices[rows].astype(np.int64)
        edges = self.edges[rows].astype(np.int64)
        adj = np.zeros((len(rows), MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
        for (i, j), b in PAIR_BIT.items():
            on = np.flatnonzero((edges >> b) & 1)
            adj[on, i, np.where(j == n[on] - 1, MAX_VERTICES - 1, j)] = 1
        labels = self.labels[rows].astype(np.int64)
        ops = np.full((len(rows), MAX_VERTICES), UNUSED, dtype=np.int64)
        ops[:, 0], ops[:, -1] = -1, -2
        for v in range(1, MAX_VERTICES - 1):
            live = v < n - 1
            ops[live, v] = labels[live, v]
        return adj, ops

    @staticmethod
    def path() -> Path:
        return data.cache_dir() / CACHE_NAME

    @classmethod
    def load(cls) -> CellTable:
        """The cached table, enumerating the space first if there is no valid cache."""
        path = cls.path()
        arrays = cache_files.load_npz(path, "NB101 cell table")
        if arrays is not None:
            try:
                cells = cls(**{name: arrays[name] for name in cls.__dataclass_fields__})
                if int(arrays["format_version"]) == FORMAT_VERSION and len(cells) == N_CELLS:
                    return cells
            except KeyError:
                pass  # from another version: rebuild below
        data.writable_cache_dir()  # an unwritable cache is refused before enumerating, a complete one only read
        cells = enumerate_cells()
        cells.save(path)
        return cells

    def save(self, path: Path) -> None:
        arrays = {name: getattr(self, name) for name in self.__dataclass_fields__}
        cache_files.save_npz(path, {"format_version": np.array(FORMAT_VERSION), **arrays})


@cache
def table() -> CellTable:
    """The process-wide cell table."""
    return CellTable.load()


def _full_dags(n: int) -> np.ndarray:
    """Sorted edge bitmasks (over PAIRS) of the n-vertex upper-triangular matrices with <= MAX_EDGES edges
    and every vertex on an input->output path: every row but the last and every column but the first is
    nonzero, which in a DAG numbered in topological order is the same thing."""
    pairs = [(i, j) for i, j in PAIRS if j < n]
    local = np.arange(1 << len(pairs), dtype=np.uint32)
    masks = np.zeros_like(local)
    count = np.zeros_like(local)
    for k, pair in enumerate(pairs):
        on = (local >> np.uint32(k)) & np.uint32(1)
        masks |= on << np.uint32(PAIR_BIT[pair])
        count += on
    ok = count <= MAX_EDGES
    for v in range(n - 1):
        ok &= (masks & np.uint32(sum(1 << PAIR_BIT[(v, j)] for j in range(v + 1, n)))) != 0
    for v in range(1, n):
        ok &= (masks & np.uint32(sum(1 << PAIR_BIT[(i, v)] for i in range(v)))) != 0
    return np.sort(masks[ok])


def _permuted(masks: np.ndarray, n: int, perm: tuple[int, ...]) -> np.ndarray:
    """Masks relabelled by vertex v -> perm[v]; NO_MASK where an edge would point backwards."""
    out = np.zeros_like(masks)
    lower = np.zeros(masks.shape, dtype=bool)
    for (i, j), b in PAIR_BIT.items():
        if j < n:
            on = (masks >> np.uint32(b)) & np.uint32(1)
            if perm[i] < perm[j]:
                out |= on << np.uint32(PAIR_BIT[(perm[i], perm[j])])
            else:
                lower |= on.astype(bool)
    return np.where(lower, NO_MASK, out)


NO_MASK = np.uint32(np.iinfo(np.uint32).max)


@dataclass
class _Classes:
    """Labeled classes found so far: (n, representative mask, canonical label code) per class."""

    keys: list[tuple[int, int, int]]
    lookup_keys: list[np.ndarray]
    lookup_classes: list[np.ndarray]


def _enumerate_size(n: int, found: _Classes) -> None:
    masks = _full_dags(n)
    perms = [(0, *p, n - 1) for p in itertools.permutations(range(1, n - 1))]
    images = np.stack([_permuted(masks, n, p) for p in perms])  # [perms, masks]
    best = images.argmin(axis=0)
    canonical = images[best, np.arange(len(masks))]
    interior = n - 2
    n_labelings = len(OPS) ** interior
    # labelings[k, v-1] = label of interior vertex v in labeling k = sum_v label[v] 3**(v-1)
    labelings = (np.arange(n_labelings)[:, None] // 3 ** np.arange(interior)[None, :]) % 3
    # Labeling k moved by perm p (vertex v -> p[v]) has code labelings[k] @ weights[p].
    weights = np.array([[3 ** (p[v] - 1) for v in range(1, n - 1)] for p in perms], dtype=np.int64)
    weights = weights.reshape(len(perms), interior)
    class_of: dict[int, np.ndarray] = {}  # representative -> class id of each of its labelings
    for rep in np.unique(canonical).tolist():
        k = int(np.searchsorted(masks, rep))
        autos = np.flatnonzero(images[:, k] == rep)
        canon_codes = (labelings @ weights[autos].T).min(axis=1)
        codes, inverse = np.unique(canon_codes, return_inverse=True)
        first = len(found.keys)
        found.keys.extend((n, rep, int(c)) for c in codes)
        class_of[rep] = first + inverse.reshape(-1)
    for k, mask in enumerate(masks.tolist()):
        moved = labelings @ weights[best[k]]  # each labeling of `mask`, carried onto the representative
        found.lookup_classes.append(class_of[int(canonical[k])][moved])
        found.lookup_keys.append((n << 32) | (mask << 8) | np.arange(n_labelings, dtype=np.int64))


def _class_params(keys: list[tuple[int, int, int]]) -> list[int]:
    # Parameters are affine in the ops (each conv's size depends only on its vertex's channels), so
    # per matrix: the all-maxpool count plus, per vertex, what each op adds.
    cache_: dict[tuple[int, int], tuple[int, np.ndarray]] = {}
    out = []
    for n, rep, code in keys:
        if (n, rep) not in cache_:
            matrix = bits_to_matrix(n, rep)
            pool = [-1, *[2] * (n - 2), -2]
            base = builder_params(matrix, pool)  # `rep` is already the class's official numbering
            extra = np.zeros((n, len(OPS)), dtype=np.int64)
            for v in range(1, n - 1):
                for op in range(len(OPS)):
                    extra[v, op] = builder_params(matrix, [*pool[:v], op, *pool[v + 1 :]]) - base
            cache_[(n, rep)] = (base, extra)
        base, extra = cache_[(n, rep)]
        out.append(base + sum(int(extra[v, (code // 3 ** (v - 1)) % 3]) for v in range(1, n - 1)))
    return out


def _labels(n: int, code: int) -> list[int]:
    return [-1, *((code // 3**k) % 3 for k in range(n - 2)), -2]


HASH_JOBS = 32  # hashing jobs


def _hash_groups(groups: list[tuple[int, int, list[int]]]) -> list[str]:
    """Module hashes of the labeled classes of some matrices."""
    out: list[str] = []
    for n, rep, codes in groups:
        out.extend(_hash_labelings(bits_to_matrix(n, rep).tolist(), [_labels(n, c) for c in codes]))
    return out


def enumerate_cells() -> CellTable:
    from tqdm import tqdm

    found = _Classes([], [], [])
    for n in tqdm(range(2, MAX_VERTICES + 1), desc="NB101 cells: enumerate", unit="size", file=sys.stderr):
        _enumerate_size(n, found)
    groups = [(n, rep, [code for _, _, code in group])
              for (n, rep), group in itertools.groupby(found.keys, key=lambda key: key[:2])]
    # Jobs of about equal work (labelings), small enough that the workers finish together.
    work = np.cumsum([len(codes) for _, _, codes in groups])
    cut = np.searchsorted(work, np.linspace(0, work[-1], HASH_JOBS + 1)[1:-1])
    chunks = [groups[a:b] for a, b in itertools.pairwise([0, *cut.tolist(), len(groups)]) if b > a]
    hashed = parallel_map(_hash_groups, chunks, "NB101 cells: hash")
    hashes = np.array([digest for chunk in hashed for digest in chunk], dtype="S32")
    order = np.argsort(hashes, kind="stable")  # class id -> table row
    if len(np.unique(hashes)) != len(hashes):
        raise RuntimeError("two non-isomorphic NB101 cells share a module hash; the table would be ambiguous")
    row_of_class = np.empty(len(order), dtype=np.int32)
    row_of_class[order] = np.arange(len(order), dtype=np.int32)
    lookup_keys = np.concatenate(found.lookup_keys)
    lookup_classes = np.concatenate(found.lookup_classes)
    keys = _official_forms(lookup_keys, lookup_classes, len(hashes))[order]
    labels = np.zeros((len(keys), MAX_VERTICES), dtype=np.int8)
    for row, (n, _, code) in enumerate(keys.tolist()):
        labels[row, :n] = _labels(n, code)
    by_key = np.argsort(lookup_keys)
    return CellTable(
        hashes=hashes[order],
        n_vertices=keys[:, 0].astype(np.int8),
        edges=keys[:, 1].astype(np.uint32),
        labels=labels,
        params=np.array(_class_params([tuple(k) for k in keys.tolist()]), dtype=np.int64),
        lookup_keys=lookup_keys[by_key],
        lookup_rows=row_of_class[lookup_classes][by_key],
    )


def _official_forms(lookup_keys: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, edge mask, label code) of each class's member that nasbench's generate_graphs met first.

    nasbench enumerates bitmasks in increasing order with edge x->y at bit x + y(y-1)/2, then labelings
    in itertools.product order, and stores the first graph of each hash. That numbering is the one the
    dataset holds and trained, and it matters beyond the hash: when the output's channels do not split
    evenly, the vertex numbered first gets the extra channel, which changes the parameter count."""
    n = lookup_keys >> 32
    mask = (lookup_keys >> 8) & ((1 << len(PAIRS)) - 1)
    code = lookup_keys & 0xFF
    nasbench_bits = np.zeros_like(mask)
    for (x, y), b in PAIR_BIT.items():
        nasbench_bits |= ((mask >> b) & 1) << (x + y * (y - 1) // 2)
    product_index = np.zeros_like(code)  # interior vertex 1 is the most significant digit
    for k in range(MAX_VERTICES - 2):
        digit = (code // 3**k) % 3
        product_index = np.where(k < n - 2, product_index * 3 + digit, product_index)
    order = np.lexsort(((n << 40) | (nasbench_bits << 8) | product_index, classes))
    first = order[np.r_[True, classes[order][1:] != classes[order][:-1]]]
    if len(first) != n_classes:
        raise RuntimeError("enumeration lost a cell class")
    return np.stack([n[first], mask[first], code[first]], axis=1)


# ---------------------------------------------------------------------------------------------- space
@dataclass(frozen=True)
class MutationConfig:
    """Per-edge flip probability rate/21 (the 7-vertex upper triangle), per-op change probability rate/5."""

    rate: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.rate <= MAX_VERTICES - 2:
            raise ValueError(f"mutation rate must be in (0, {MAX_VERTICES - 2}]")


class Nb101Space:
    """The operators of the NB101 space on int architectures (rows of the hash-sorted table).

    Mutation and neighbours work on the padded 7-vertex form of a cell (pruned vertices first, the
    output last, unused vertices between), as the NB101 and BANANAS code do on 7 x 7 matrices.

    The only cost-like property is `params` (nasbench's count, computed from the cell). Training time is
    not one: it is an output of the oracle (measured by the tabular oracle, predicted by the surrogate
    from the same training runs as the accuracy, and charged by the runner as a query's cost), so a
    method learns it only by querying, like the accuracy."""

    name = "nb101"

    def __init__(self, cells: CellTable | None = None, mutation: MutationConfig = MutationConfig()) -> None:
        self.table = cells if cells is not None else table()
        self.mutation = mutation
        self.size = len(self.table)

    def index(self, arch) -> int:
        try:
            i = operator.index(arch)
        except TypeError:
            raise InvalidArchitecture(f"{arch!r} is not a NAS-Bench-101 architecture (a row number)") from None
        if not 0 <= i < self.size:
            raise InvalidArchitecture(f"{arch!r} is not a NAS-Bench-101 architecture (0..{self.size - 1})")
        return i

    def key(self, arch) -> str:
        return self.table.hashes[self.index(arch)].decode("ascii")

    def cell(self, arch) -> Cell:
        return self.table.cell(self.index(arch))

    def spec(self, arch) -> tuple[np.ndarray, list[str]]:
        """(matrix, ops) of the pruned cell, as nasbench's ModelSpec takes them."""
        cell = self.cell(arch)
        return cell.matrix.copy(), cell.ops

    def from_spec(self, matrix, ops) -> int:
        """The architecture of any (matrix, ops), pruned first; InvalidArchitecture outside the space."""
        return self._lookup(*check_spec(matrix, ops))

    def from_hash(self, digest: str) -> int:
        return self.table.index_of_hash(digest)

    def _lookup(self, rows: list[list[int]], codes: list[int]) -> int:
        return self.table.index_of_key(lookup_key(*prune_lists(rows, codes)))

    def _padded(self, i: int) -> tuple[list[list[int]], list[int], int]:
        n = int(self.table.n_vertices[i])
        mask = int(self.table.edges[i])
        place = [*range(n - 1), MAX_VERTICES - 1]
        rows = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        for b, (a, c) in enumerate(PAIRS):
            if mask >> b & 1:
                rows[place[a]][place[c]] = 1
        codes = [0] * MAX_VERTICES
        for v in range(n):
            codes[place[v]] = int(self.table.labels[i, v])
        return rows, codes, n

    def sample(self, rng: np.random.Generator) -> int:
        """Uniform over the distinct cells."""
        return int(rng.integers(self.size))

    def mutate(self, arch, rng: np.random.Generator) -> int:
        """Flip each of the 21 edges w.p. rate/21 and change each of the 5 ops w.p. rate/5 (to one of the
        other two), until the pruned result is a valid cell different from the parent. Unused vertices
        of the padded cell get uniform ops on every try, so an edge that brings one into the cell brings
        a random operation rather than a fixed default."""
        i = self.index(arch)
        rows0, codes0, n = self._padded(i)
        p_edge = self.mutation.rate / len(PAIRS)
        p_op = self.mutation.rate / (MAX_VERTICES - 2)
        while True:
            rows = [row[:] for row in rows0]
            codes = codes0[:]
            fill = rng.integers(len(OPS), size=MAX_VERTICES - n)
            for v in range(n - 1, MAX_VERTICES - 1):
                codes[v] = int(fill[v - n + 1])
            for b in np.flatnonzero(rng.random(len(PAIRS)) < p_edge).tolist():
                a, c = PAIRS[b]
                rows[a][c] ^= 1
            shifts = rng.integers(1, len(OPS), size=MAX_VERTICES - 2)
            for v in np.flatnonzero(rng.random(MAX_VERTICES - 2) < p_op).tolist():
                codes[v + 1] = (codes[v + 1] + int(shifts[v])) % len(OPS)
            try:
                child = self._lookup(rows, codes)
            except InvalidArchitecture:
                continue
            if child != i:
                return child

    def neighbors(self, arch) -> list[int]:
        """All distinct valid cells one edit away on the padded form: one edge flipped or one op changed."""
        i = self.index(arch)
        rows0, codes0, _ = self._padded(i)
        found: dict[int, None] = {}  # insertion-ordered set: deterministic order
        for a, c in PAIRS:
            rows = [row[:] for row in rows0]
            rows[a][c] ^= 1
            self._add(found, rows, codes0)
        for v in range(1, MAX_VERTICES - 1):
            for op in range(len(OPS)):
                if op != codes0[v]:
                    self._add(found, rows0, [*codes0[:v], op, *codes0[v + 1 :]])
        found.pop(i, None)
        return list(found)

    def costs(self, arch) -> dict[str, float]:
        return {"params": float(self.table.params[self.index(arch)])}

    def cost_table(self) -> dict[str, np.ndarray]:
        """Every cell's costs as arrays (all 423,624 rows of the cell table: checked whole, not sampled)."""
        return {"params": self.table.params.astype(np.float64)}

    def _add(self, found: dict[int, None], rows: list[list[int]], codes: list[int]) -> None:
        try:
            found[self._lookup(rows, codes)] = None
        except InvalidArchitecture:
            pass

    def graph(self, arch) -> CellGraph:
        """The pruned cell: n <= 7 nodes, input node 0, output node n-1, ops indexing GRAPH_OPS."""
        cell = self.cell(arch)
        ops = np.array([0 if c == -1 else 1 if c == -2 else 2 + c for c in cell.labels], dtype=np.int64)
        return CellGraph(cell.matrix.astype(np.uint8), ops, GRAPH_OPS)

    def from_graph(self, graph: CellGraph) -> int:
        """Inverse of graph() for any vertex numbering or unpruned graph; InvalidArchitecture outside."""
        if tuple(graph.op_names) != GRAPH_OPS:
            raise InvalidArchitecture(f"not a NAS-Bench-101 cell graph: op vocabulary {graph.op_names!r}")
        ops = np.asarray(graph.ops)
        if ops.ndim != 1 or not np.isin(ops, np.arange(len(GRAPH_OPS))).all():
            raise InvalidArchitecture("NAS-Bench-101 cell graph has op indices outside GRAPH_OPS")
        return self.from_spec(graph.adjacency, [GRAPH_OPS[o] for o in ops.tolist()])
