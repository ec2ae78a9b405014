"""File artifacts (models, reports, plots) as a Dagster resource."""

import dagster as dg
from pydantic import Field
from upath import UPath

from tb_assets.storage.urls import check_writable, storage_root


class ArtifactStore(dg.ConfigurableResource):
    """File artifacts under TB_DATA_DIR/artifacts/<asset>/<symbol>/<timeframe>/, written atomically.
    Stages read and write them only through the typed records of tb_assets.storage.records."""

    root: str = Field(description="Folder or fsspec URL of all artifacts (TB_ARTIFACTS_URL, default TB_DATA_DIR/artifacts)")

    def setup_for_execution(self, context) -> None:
        # checked when a run starts: a read-only mount or a missing bucket fails the run at once, by name
        check_writable(storage_root(self.root), "TB_ARTIFACTS_URL")

    @property
    def root_path(self) -> UPath:
        return storage_root(self.root)
