"""Names shared by the assets of every stage."""

import pandas as pd

from tb_assets.reporting.tables import markdown_table  # noqa: F401  (re-exported: every stage shows tables)

# the IO manager of the tables (bars, features, targets): one Parquet file per partition (tb_assets.storage.warehouse)
WAREHOUSE_IO = "warehouse_io_manager"


def bars_only(bars: pd.DataFrame) -> pd.DataFrame:
    """Stored bars without the partition columns, in time order."""
    return bars.drop(columns=["symbol", "timeframe"], errors="ignore").sort_values("ts").reset_index(drop=True)
