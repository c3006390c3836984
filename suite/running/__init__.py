"""Running and storing: an experiment spec becomes seeded runs (`spec`), each run is executed in a worker
(`runner`, on `executors`: inline, local processes or a Dask cluster) and lands complete or not at all in the
append-only results store (`store`); `verify` re-executes stored runs bit for bit, and `tuning` chooses a
method's settings on a seed stream of its own. Nothing here reads a report or a statistic."""
