"""Dagster concurrency pools (a name here, a limit in dagster.yaml)."""

# DuckDB allows one writing process: every asset and check that touches the warehouse joins this
# pool, whose limit is 1 in dagster.yaml, so parallel runs queue instead of failing on the lock.
# Its own light module: every Dagster process imports it through the instance (instance.py).
DUCKDB_POOL = "duckdb"
