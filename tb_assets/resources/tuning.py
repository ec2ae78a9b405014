"""Where Optuna studies live, as a Dagster resource."""

from pathlib import Path

import dagster as dg
from pydantic import Field


class TuningStorage(dg.ConfigurableResource):
    """Where Optuna studies live: a URL shared by every partition (TB_OPTUNA_STORAGE, e.g.
    postgresql+psycopg2://...), or else one SQLite file per partition under TB_DATA_DIR/optuna,
    so concurrent partitions never share a locked file."""

    root: str = Field(description="Folder of the per-partition SQLite studies (TB_DATA_DIR/optuna)")
    storage_url: str | None = Field(default=None, description="Optuna storage URL for all partitions (TB_OPTUNA_STORAGE)")

    def url(self, symbol: str, timeframe: str) -> str:
        if self.storage_url:
            return self.storage_url
        path = Path(self.root) / symbol / f"{timeframe}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    @staticmethod
    def study_name(symbol: str, timeframe: str) -> str:
        return f"best_params:{symbol}:{timeframe}"

    def describe(self, symbol: str, timeframe: str) -> str:
        return "TB_OPTUNA_STORAGE" if self.storage_url else self.url(symbol, timeframe)
