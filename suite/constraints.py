"""Search constraints such as `flops_m<=100` on a benchmark's final metrics.

A constraint is a property of the cell (FLOPs, latency, parameters), known without training, so a
method may test it before querying; the runner keeps every run's incumbent feasible.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from suite.benchmarks.base import Arch, Benchmark
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
        return f"{self.metric}{self.op}{self.bound:g}"

    def check_benchmark(self, benchmark: Benchmark, example: Arch) -> None:
        metrics = benchmark.final(example)
        if self.metric not in metrics:
            raise NasreproError(
                f"constraint on {self.metric!r}: {benchmark.name} exposes {sorted(metrics)}"
            )

    def feasible(self, benchmark: Benchmark, arch: Arch) -> bool:
        return bool(_OPERATORS[self.op](benchmark.final(arch)[self.metric], self.bound))
