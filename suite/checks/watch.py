"""A method watched through the runner's own loop (`suite.running.runner.execute(run, observe=...)`): every
proposed cell checked against the space and recorded, every `tell` compared with the `ask` before it.

Run as `python -m suite.checks.watch RUNSPEC_JSON`, it is the child process of the determinism check: one
watched run, its proposals printed as one JSON line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from suite.api import Method, SearchContext
from suite.benchmarks.base import Arch, Observation, SearchSpace


class InvalidProposal(Exception):
    """A proposed cell that is not a cell of the space."""


class PrefixRefused(Exception):
    """The method failed when told a strict prefix of what it asked (the budget ran out mid-batch)."""


def invalid(space: SearchSpace, arch: Arch) -> str | None:
    """Why `arch` is not a valid cell of `space`, or None: it must be hashable, have a key, and come back
    from its graph as the same cell (the space's own validity check)."""
    try:
        hash(arch)
        key = space.key(arch)
        again = space.key(space.from_graph(space.graph(arch)))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if again == key else f"its graph decodes to another cell ({again}, not {key})"


class Watcher:
    """Wraps the run's method (`wrap` is the runner's `observe`) and keeps what it saw."""

    def __init__(self) -> None:
        self.method: Method | None = None
        self.context: SearchContext | None = None
        self.asks: list[list[str]] = []  # the keys of every ask, in order
        self.charged_before: list[int] = []  # distinct cells proposed before each ask (what the runner charged)
        self.new_cells: list[int] = []  # distinct cells each ask adds
        self.strict_prefixes: list[tuple[int, int]] = []  # (told, asked) of every tell of a strict prefix
        self._seen: set[str] = set()

    def wrap(self, method: Method, context: SearchContext) -> Method:
        self.method, self.context = method, context
        return _Watched(method, context.space, self)

    @property
    def proposed(self) -> int:
        return sum(len(ask) for ask in self.asks)


class _Watched:
    def __init__(self, method: Method, space: SearchSpace, watcher: Watcher) -> None:
        self._method, self._space, self._watcher = method, space, watcher

    def ask(self) -> list[Arch]:
        archs = list(self._method.ask())
        w = self._watcher
        keys = []
        for arch in archs:
            why = invalid(self._space, arch)
            if why is not None:
                raise InvalidProposal(f"ask {len(w.asks) + 1} proposed {arch!r}: {why}")
            keys.append(self._space.key(arch))
        w.charged_before.append(len(w._seen))
        w.new_cells.append(len(set(keys) - w._seen))
        w._seen.update(keys)
        w.asks.append(keys)
        return archs

    def tell(self, archs: list[Arch], observations: list[Observation]) -> None:
        asked = len(self._watcher.asks[-1])
        if len(archs) >= asked:
            self._method.tell(archs, observations)
            return
        self._watcher.strict_prefixes.append((len(archs), asked))
        try:
            self._method.tell(archs, observations)
        except Exception as exc:
            raise PrefixRefused(f"told {len(archs)} of the {asked} cells it asked for: "
                                f"{type(exc).__name__}: {exc}") from exc

    def __getattr__(self, name: str) -> Any:  # what the runner asks of a method besides ask/tell (diagnostics)
        return getattr(self._method, name)


def main(argv: list[str]) -> int:
    from suite.running.runner import execute
    from suite.running.verify import spec_of

    run = spec_of({"spec": json.loads(argv[0])})
    watcher = Watcher()
    try:
        execute(run, observe=watcher.wrap)
    except Exception as exc:  # reported by the parent beside the other process's proposals
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "asks": watcher.asks}))
        return 1
    print(json.dumps({"asks": watcher.asks}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
