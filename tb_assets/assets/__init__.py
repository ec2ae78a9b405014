"""Thin Dagster assets, one module per stage; the statistics live in tb_assets.core."""
