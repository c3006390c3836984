"""Search constraints such as `flops_m<=100` on a cell's cost-like properties.

A constraint is on a property of the cell known without training (FLOPs, parameters, latency,
recorded training time: `SearchSpace.costs`), so a method may test it before querying and the runner
keeps every run's incumbent feasible. A constraint on an accuracy, search or final, would let a method
read the oracle through its feasibility check, so it is refused: accuracies are never in `costs`.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

import numpy as np

from suite.benchmarks.base import A, SearchSpace
from suite.errors import NasreproError

_OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_PATTERN = re.compile(r"^\s*([\w/.\-]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = _PATTERN.match(text)
        if not match:
            raise NasreproError(f"cannot read constraint {text!r}; write METRIC<=VALUE, e.g. flops_m<=100")
        metric, op, bound = match.groups()
        try:
            return cls(metric, op, float(bound))
        except ValueError:
            raise NasreproError(f"constraint {text!r}: {bound!r} is not a number") from None

    def __str__(self) -> str:
        # Runs store this text and parse it back: the short form only where it is the same number (a bound
        # rounded to 6 digits could exclude the one cell a tight constraint admits). Bounds it represents
        # exactly keep their short form, and so their run ids.
        short = f"{self.bound:g}"
        return f"{self.metric}{self.op}{short if float(short) == self.bound else repr(self.bound)}"

    def check(self, space: SearchSpace[A], example: A) -> None:
        """Refuses a metric that is not a cost-like property of `space`'s cells (`example` is any cell)."""
        allowed = sorted(space.costs(example))
        if self.metric not in allowed:
            raise NasreproError(
                f"constraint on {self.metric!r} refused: constraints apply to cost-like cell properties only, "
                f"and {space.name} exposes {', '.join(allowed) or 'none'}"
            )

    def feasible(self, space: SearchSpace[A], arch: A) -> bool:
        return bool(_OPERATORS[self.op](space.costs(arch)[self.metric], self.bound))

    def feasible_cells(self, cost_table: dict[str, np.ndarray]) -> int:
        """How many cells of an enumerable space (`SearchSpace.cost_table()`) meet the constraint."""
        return int(np.count_nonzero(_OPERATORS[self.op](cost_table[self.metric], self.bound)))
