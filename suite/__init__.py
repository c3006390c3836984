"""nasrepro's harness: benchmarks, runner, results store, statistics and reports."""

__version__ = "0.1.0"
