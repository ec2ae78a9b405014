"""Files are written with the mode the umask allows: a team's shared storage must let the group
(umask 002) or everyone (022) read models, plots and bars. mkstemp alone makes every file 0600."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from tb_assets.storage.artifacts import write_atomic
from tb_assets.storage.atomic import current_umask
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import write_partition
from tb_assets.training.registry import ModelRegistry, default_url


@contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664)])
def test_warehouse_artifacts_and_registry_take_the_umask(tmp_path, mask, expected):
    with umask(mask):
        assert current_umask() == mask
        bars = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, tz="UTC"), "close": np.arange(3.0)})
        table = write_partition(storage_root(str(tmp_path / "warehouse")), "bars", "SPX", "1d", bars)
        artifact = write_atomic(tmp_path / "artifacts" / "production_model" / "SPX" / "1d" / "model.txt", b"tree")
        write_atomic(artifact.path, b"tree 2")  # a second version: the new file and the one kept beside it
        with ModelRegistry(default_url(tmp_path / "data")):
            pass
    assert mode(table.path) == expected
    versions = sorted(p for p in os.listdir(os.path.dirname(artifact.path)) if p.startswith("model"))
    assert len(versions) == 2
    assert {mode(os.path.join(os.path.dirname(artifact.path), v)) for v in versions} == {expected}
    assert mode(tmp_path / "data" / "registry.db") == expected
