"""tb_assets: market bars -> leakage-free triple-barrier classifiers, as a Dagster asset graph."""

__version__ = "0.1.0"
