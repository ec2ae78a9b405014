"""The training service's model registry, as a Dagster resource."""

import dagster as dg
from pydantic import Field


class ModelRegistryResource(dg.ConfigurableResource):
    """The training service's model registry: TB_REGISTRY_URL (e.g. postgresql+psycopg2://...,
    shared by every partition and machine), or else SQLite at TB_DATA_DIR/registry.db."""

    path: str = Field(description="SQLite file used when no URL is set (TB_DATA_DIR/registry.db)")
    url: str | None = Field(default=None, description="SQLAlchemy URL of the registry (TB_REGISTRY_URL)")

    def database_url(self) -> str:
        return self.url or f"sqlite:///{self.path}"

    def open(self):
        """A ModelRegistry (tables made on first use); close it when done."""
        from tb_assets.training.registry import ModelRegistry

        return ModelRegistry(self.database_url())

    def describe(self) -> str:
        return "TB_REGISTRY_URL" if self.url else self.path
