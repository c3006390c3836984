"""Conversions between nasrepro's DARTS cell pairs and the three public formats of the space.

- `Genotype` (DARTS): `normal`/`reduce` lists of `(op name, input)` pairs, two per node, and the
  concatenated nodes `normal_concat`/`reduce_concat` (always 2..5 in NB301).
- NASLib's compact encoding: `((input, op index) x 8, (input, op index) x 8)`; nasrepro's architecture
  *is* the compact encoding in canonical order, so the conversion only canonicalises.
- The NB301 config dict (ConfigSpace): `<prefix>edge_<cell>_<i>` -> op name for the active edges
  (edges 0-1 feed node 2, 2-4 node 3, 5-8 node 4, 9-13 node 5; edge start_k + j reads input j) and
  `<prefix>inputs_node_<cell>_<k>` -> `"i_j"` for nodes 3..5. Names are written as in the data's
  `config_space.json` (`_COLON_`); the official `:` spelling is accepted on input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from suite.benchmarks.darts_space import CELLS, NODES, OPS, DartsArch, canonical
from suite.errors import InvalidArchitecture

CONCAT = [2, 3, 4, 5]
CONFIG_PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
EDGE_START = {2: 0, 3: 2, 4: 5, 5: 9}  # first config edge index of node k; edge start + j reads input j
N_CONFIG_EDGES = 14
_OP_INDEX = {op: i for i, op in enumerate(OPS)}


class Genotype(NamedTuple):
    """Field-for-field the DARTS `Genotype` namedtuple, so either can stand for the other."""

    normal: list[tuple[str, int]]
    normal_concat: Sequence[int]
    reduce: list[tuple[str, int]]
    reduce_concat: Sequence[int]


def to_genotype(arch: Any) -> Genotype:
    normal, reduce = ([(OPS[op], src) for src, op in cell] for cell in canonical(arch))
    return Genotype(normal, list(CONCAT), reduce, list(CONCAT))


def _op_index(name: Any, where: str) -> int:
    try:
        return _OP_INDEX[name]
    except (KeyError, TypeError):
        raise InvalidArchitecture(f"{where}: unknown operation {name!r}; NB301 has {', '.join(OPS)}") \
            from None


def from_genotype(genotype: Any) -> DartsArch:
    """A DARTS genotype (any object with its four fields) as a canonical cell pair."""
    try:
        normal, normal_concat, reduce, reduce_concat = (
            genotype.normal, genotype.normal_concat, genotype.reduce, genotype.reduce_concat,
        )
    except AttributeError:
        raise InvalidArchitecture(f"not a DARTS Genotype: {genotype!r}") from None
    for name, concat in (("normal_concat", normal_concat), ("reduce_concat", reduce_concat)):
        if list(concat) != CONCAT:
            raise InvalidArchitecture(f"genotype {name} is {list(concat)}; NB301 cells concatenate {CONCAT}")
    cells = []
    for name, cell in zip(CELLS, (normal, reduce), strict=True):
        try:
            cells.append([(src, _op_index(op, f"genotype {name}")) for op, src in cell])
        except (TypeError, ValueError):
            raise InvalidArchitecture(f"genotype {name} is not a list of (op, input) pairs: {cell!r}") \
                from None
    return canonical(cells)


def to_compact(arch: Any) -> DartsArch:
    return canonical(arch)


def from_compact(compact: Any) -> DartsArch:
    """NASLib's compact encoding (tuples or the lists of `make_compact_mutable`), canonicalised."""
    return canonical(compact)


def to_config(arch: Any) -> dict[str, str]:
    config = {}
    for name, cell in zip(CELLS, canonical(arch), strict=True):
        for n, k in enumerate(NODES):
            (a, op_a), (b, op_b) = cell[2 * n], cell[2 * n + 1]
            config[f"{CONFIG_PREFIX}edge_{name}_{EDGE_START[k] + a}"] = OPS[op_a]
            config[f"{CONFIG_PREFIX}edge_{name}_{EDGE_START[k] + b}"] = OPS[op_b]
            if k > 2:
                config[f"{CONFIG_PREFIX}inputs_node_{name}_{k}"] = f"{a}_{b}"
    return config


def from_config(config: Mapping[str, Any]) -> DartsArch:
    """An NB301 config dict (only the active edges, as ConfigSpace gives it) as a canonical cell pair."""
    remaining = {key.replace(":", "_COLON_"): value for key, value in config.items()}
    cells = []
    for name in CELLS:
        cell = []
        for k in NODES:
            inputs_key = f"{CONFIG_PREFIX}inputs_node_{name}_{k}"
            inputs = (0, 1) if k == 2 else _parse_inputs(remaining.pop(inputs_key, None), name, k)
            for src in inputs:
                key = f"{CONFIG_PREFIX}edge_{name}_{EDGE_START[k] + src}"
                if key not in remaining:
                    raise InvalidArchitecture(f"NB301 config: node {k} of the {name} cell reads input {src} "
                                              f"but {key} is missing")
                cell.append((src, _op_index(remaining.pop(key), f"NB301 config {key}")))
        cells.append(cell)
    if remaining:
        raise InvalidArchitecture(f"NB301 config: unexpected or inactive parameters {sorted(remaining)}")
    return canonical(cells)


def _parse_inputs(value: Any, cell: str, k: int) -> tuple[int, int]:
    if value is None:
        raise InvalidArchitecture(f"NB301 config: inputs_node_{cell}_{k} is missing (node {k}'s two inputs)")
    try:
        a, b = (int(v) for v in str(value).split("_"))
        if not 0 <= a < b < k:
            raise ValueError
    except ValueError:
        raise InvalidArchitecture(
            f"NB301 config: inputs_node_{cell}_{k} is {value!r}; expected 'i_j' with 0 <= i < j < {k}"
        ) from None
    return a, b
