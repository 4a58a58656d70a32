"""`make bench` (`python -m bench`): ItemExchange under load, next to its own baselines.

Seeds a database of its own with COPY, starts the real gateway and workers and the
baseline servers (`bench/baselines/`), drives each scenario with wrk and a Lua script,
checks after the load that no money, item or saga was lost, and writes
`bench/results/latest.{json,md,png}` and the table in `BENCHMARKS.md`.
"""
