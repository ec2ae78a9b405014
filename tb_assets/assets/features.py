"""`features`: the model's input matrix per partition, from information available at each bar."""

from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import WAREHOUSE_IO, bars_only, markdown_table
from tb_assets.assets.partitions import partition_parts
from tb_assets.assets.pools import SOURCE_POOL
from tb_assets.checks.features import build_features_checks
from tb_assets.core.errors import TbError
from tb_assets.core.features.matrix import GROUPS, FeatureMatrix, FeatureOptions, build_feature_matrix
from tb_assets.resources import ArtifactStore, BarSourceResource
from tb_assets.storage.records import FeatureCatalog


class DataOptions(dg.Config):
    feature_set: Literal["core", "full"] = Field(
        default="full", description="'core': a compact matrix of the most used indicators; 'full': every indicator"
    )
    groups: list[str] = Field(default=[], description="Keep only these feature groups (empty: all): regime, robust, bounded, standard")
    context_symbols: list[str] | None = Field(
        default=None, description="Context symbols for this run (default: TB_CONTEXT_SYMBOLS); [] for none"
    )


class FeaturesConfig(dg.Config):
    data_options: DataOptions = Field(default_factory=DataOptions, description="Which features to build")
    context_policy: Literal["repair", "fail"] = Field(
        default="repair", description="Validation policy for context symbols' bars (as `bars` policy)"
    )


def feature_options(config: FeaturesConfig) -> FeatureOptions:
    return FeatureOptions(feature_set=config.data_options.feature_set, groups=tuple(config.data_options.groups))


def build_features_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        io_manager_key=WAREHOUSE_IO,
        kinds={"parquet", "pandas"},
        group_name="features",
        pool=SOURCE_POOL,
        code_version="1",
    )
    def features(
        context: dg.AssetExecutionContext,
        config: FeaturesConfig,
        bars: pd.DataFrame,
        bar_source: BarSourceResource,
        artifacts: ArtifactStore,
    ) -> dg.MaterializeResult:
        """Indicators of the symbol and of its context symbols (suffixed _SYM), regimes and calendar,
        using bars <= t only; never raw prices. The feature list and groups go to feature_catalog.json."""
        symbol, timeframe = partition_parts(context)
        symbols = config.data_options.context_symbols
        symbols = bar_source.context_symbols if symbols is None else symbols
        contexts, skipped = bar_source.context_bars(symbols, symbol, timeframe, config.context_policy)
        fm = build_feature_matrix(bars_only(bars), contexts, timeframe=timeframe, options=feature_options(config), context_skipped=skipped)
        for sym, why in fm.context_skipped.items():
            context.log.warning(f"context symbol {sym} skipped for {symbol}|{timeframe}: {why}")
        if fm.frame.empty:
            raise TbError(
                f"{symbol}|{timeframe}: no feature rows: {len(bars)} bars, {fm.warmup_rows} needed for warm-up"
                + (f", then the join with {', '.join(fm.context_used)} left none" if fm.context_used else "")
            )

        catalog = FeatureCatalog(
            symbol=symbol,
            timeframe=timeframe,
            features=fm.features,
            groups=fm.groups,
            context_used=fm.context_used,
            context_skipped=fm.context_skipped,
            rows=len(fm.frame),
            first_ts=str(fm.frame["ts"].iloc[0]),
            last_ts=str(fm.frame["ts"].iloc[-1]),
        )
        path = catalog.save(artifacts.root_path)
        out = fm.frame.copy()
        out.insert(0, "timeframe", timeframe)
        out.insert(0, "symbol", symbol)
        return dg.MaterializeResult(value=out, metadata=feature_metadata(fm, len(bars), path))

    return features


def feature_metadata(fm: FeatureMatrix, n_bars: int, catalog_path) -> dict:
    values = fm.frame[fm.features]
    nonfinite = (~np.isfinite(values.to_numpy("float64"))).mean(axis=0)
    share = pd.Series(nonfinite, index=fm.features).sort_values(ascending=False)
    by_group = {g: [f for f, grp in fm.groups.items() if grp == g] for g in GROUPS}
    group_md = "\n".join(f"- **{g}** ({len(fs)}): {', '.join(fs) or '-'}" for g, fs in by_group.items())
    null_md = markdown_table(share.head(10).rename("non-finite share").reset_index().rename(columns={"index": "feature"}))
    skipped = "; ".join(f"{s}: {why}" for s, why in fm.context_skipped.items()) or "none"
    return {
        "rows": len(fm.frame),
        "n_features": len(fm.features),
        **{f"n_{g}": len(fs) for g, fs in by_group.items()},
        "features_by_group": dg.MetadataValue.md(group_md),
        "max_nonfinite_share": float(share.iloc[0]) if len(share) else 0.0,
        "nonfinite_share": dg.MetadataValue.md(null_md),
        "context_used": ", ".join(fm.context_used) or "none",
        "context_skipped": skipped,
        "volume_indicators_left_out": ", ".join(fm.volume_missing) or "none",
        "warmup_rows": fm.warmup_rows,
        "rows_lost_in_join": fm.rows_before_join - len(fm.frame),
        "bars_in": n_bars,
        "first_ts": dg.MetadataValue.timestamp(fm.frame["ts"].iloc[0].to_pydatetime()),
        "last_ts": dg.MetadataValue.timestamp(fm.frame["ts"].iloc[-1].to_pydatetime()),
        "schema": dg.MetadataValue.json({c: str(t) for c, t in fm.frame.dtypes.items()}),
        "catalog": dg.MetadataValue.path(str(catalog_path)),
        "preview": dg.MetadataValue.md(markdown_table(fm.frame.tail(5)[["ts", *fm.features[:8]]])),
    }


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `features` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_features_asset(partitions_def)], asset_checks=build_features_checks(partitions_def))
