"""The Dagster resources, one file each: bar source, warehouse IO manager, artifacts, tuning
storage, model registry; `secrets` keeps credentials out of run snapshots."""

from tb_assets.resources.artifacts import ArtifactStore
from tb_assets.resources.bar_source import BarSourceResource
from tb_assets.resources.registry import ModelRegistryResource
from tb_assets.resources.tuning import TuningStorage
from tb_assets.resources.warehouse import ParquetWarehouseIOManager, Warehouse, WarehouseIOManager

__all__ = [
    "ArtifactStore",
    "BarSourceResource",
    "ModelRegistryResource",
    "ParquetWarehouseIOManager",
    "TuningStorage",
    "Warehouse",
    "WarehouseIOManager",
]
