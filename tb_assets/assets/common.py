"""Names shared by the assets of every stage."""

WAREHOUSE_IO = "warehouse_io_manager"
# DuckDB allows one writing process: every asset that touches the warehouse joins this pool,
# whose limit is 1 in dagster.yaml, so parallel runs queue instead of failing on the lock.
DUCKDB_POOL = "duckdb"
# The warehouse IO manager replaces exactly one partition's rows through these columns.
PARTITION_EXPR = {"symbol": "symbol", "timeframe": "timeframe"}


def markdown_table(df, max_rows: int = 10, float_format: str = "{:.4g}") -> str:
    """A small markdown table for metadata previews (no tabulate dependency)."""
    head = df.head(max_rows)
    cols = [str(c) for c in head.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.itertuples(index=False):
        cells = [float_format.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
