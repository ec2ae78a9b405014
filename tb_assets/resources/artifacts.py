"""File artifacts (models, reports, plots) as a Dagster resource."""

import os
from pathlib import PurePosixPath
from urllib.parse import quote

import dagster as dg
from pydantic import Field
from upath import UPath

from tb_assets.storage.urls import as_path, check_writable, is_local, storage_root


class ArtifactStore(dg.ConfigurableResource):
    """File artifacts under TB_DATA_DIR/artifacts/<asset>/<symbol>/<timeframe>/, written atomically.
    Stages read and write them only through the typed records of tb_assets.storage.records."""

    root: str = Field(description="Folder or fsspec URL of all artifacts (TB_ARTIFACTS_URL, default TB_DATA_DIR/artifacts)")
    reports_url: str | None = Field(
        default=None, description="Where `root` is served over HTTP (TB_REPORTS_URL; tb dev serves it on 127.0.0.1): pages become links"
    )

    def link(self, path) -> str | None:
        """A clickable URL of an artifact file when the artifacts are served (a local root under
        reports_url), else None: the UI then shows the path."""
        if self.reports_url is None:
            return None
        root, target = self.root_path, as_path(path)
        if not is_local(root) or not is_local(target):
            return None
        relative = PurePosixPath(os.path.relpath(target.path, root.path))
        if relative.parts and relative.parts[0] == "..":
            return None
        return self.reports_url + quote(str(relative))

    def setup_for_execution(self, context) -> None:
        # checked when a run starts: a read-only mount or a missing bucket fails the run at once, by name
        check_writable(storage_root(self.root), "TB_ARTIFACTS_URL")

    @property
    def root_path(self) -> UPath:
        return storage_root(self.root)
