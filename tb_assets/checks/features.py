"""Checks on the stored `features` partition. The leakage checks are blocking."""

import dagster as dg
import numpy as np
import pandas as pd

from tb_assets.assets.common import bars_only, markdown_table
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.history import latest_values
from tb_assets.core.features.lookahead import cut_points, feature_lookahead
from tb_assets.core.features.matrix import price_copies, raw_price_columns
from tb_assets.resources import ArtifactStore, BarSourceResource
from tb_assets.storage.records import FeatureCatalog

MAX_NONFINITE_SHARE = 0.01


def stored_features(features: pd.DataFrame, catalog: FeatureCatalog) -> pd.DataFrame:
    """`ts` + this partition's features, as listed in its catalog (the shared table also holds
    other partitions' columns, NULL here)."""
    return features[["ts", *catalog.features]].sort_values("ts").reset_index(drop=True)


def read_catalog(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> FeatureCatalog:
    symbol, timeframe = partition_parts(context)
    return FeatureCatalog.load(artifacts.root_path, symbol, timeframe)


def build_features_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="features",
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"bars": dg.AssetIn("bars")},
        description="No raw price level reaches the matrix: no column named open/high/low/close/vwap "
        "(with or without a _SYM suffix) and no column equal to one of the bars' prices.",
    )
    def features_no_raw_prices(
        context: dg.AssetCheckExecutionContext, features: pd.DataFrame, bars: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.AssetCheckResult:
        frame = stored_features(features, read_catalog(context, artifacts))
        # every stored column counts here, not only the catalog's
        named = raw_price_columns(c for c in features.columns if c not in ("ts", "symbol", "timeframe"))
        copies = price_copies(frame, bars_only(bars))
        return dg.AssetCheckResult(
            passed=not named and not copies,
            metadata={"named_like_prices": ", ".join(named) or "none", "equal_to_prices": ", ".join(copies) or "none"},
            description=(f"raw prices in the matrix: {', '.join([*named, *copies])}" if named or copies else "no raw price level"),
        )

    @dg.asset_check(
        asset="features",
        partitions_def=partitions_def,
        blocking=True,
        additional_ins={"bars": dg.AssetIn("bars")},
        description="No look-ahead: the full feature set recomputed on prefixes of this partition's bars "
        "(cut at 25% and 50%, context symbols cut too) must equal the full run at and before each cut.",
    )
    def features_no_lookahead(
        context: dg.AssetCheckExecutionContext, bars: pd.DataFrame, bar_source: BarSourceResource
    ) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        primary = bars_only(bars)
        contexts, skipped = bar_source.context_bars(bar_source.context_symbols, symbol, timeframe)
        problems = feature_lookahead(primary, contexts, timeframe)
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={
                "cuts": len(cut_points(primary["ts"])),
                "context_symbols": ", ".join(contexts) or "none",
                "context_skipped": ", ".join(skipped) or "none",
                "problems": "\n".join(problems) or "none",
            },
            description=f"look-ahead in {len(problems)} place(s): {problems[0]}"
            if problems
            else "prefix recomputations equal the full run",
        )

    @dg.asset_check(
        asset="features",
        partitions_def=partitions_def,
        description=f"Every feature is finite on at least {1 - MAX_NONFINITE_SHARE:.0%} of the rows (after warm-up).",
    )
    def features_mostly_finite(
        context: dg.AssetCheckExecutionContext, features: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.AssetCheckResult:
        frame = stored_features(features, read_catalog(context, artifacts)).drop(columns="ts")
        share = pd.Series((~np.isfinite(frame.to_numpy("float64"))).mean(axis=0), index=frame.columns)
        bad = share[share > MAX_NONFINITE_SHARE].sort_values(ascending=False)
        table = bad.rename("non-finite share").reset_index().rename(columns={"index": "feature"})
        return dg.AssetCheckResult(
            passed=bad.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "max_nonfinite_share": float(share.max()) if len(share) else 0.0,
                "columns_over_threshold": dg.MetadataValue.md(markdown_table(table) if len(table) else "none"),
            },
            description=(
                f"{len(bad)} feature(s) non-finite on more than {MAX_NONFINITE_SHARE:.0%} of rows: {', '.join(bad.index[:5])}"
                if len(bad)
                else "every feature mostly finite"
            ),
        )

    @dg.asset_check(
        asset="features",
        partitions_def=partitions_def,
        description="The feature names and dtypes match the previous materialization of this partition; "
        "a change is reported (WARN) so downstream models are retrained knowingly.",
    )
    def features_schema_unchanged(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        schemas = latest_values(context, dg.AssetKey("features"), "schema")
        if len(schemas) < 2:
            return dg.AssetCheckResult(
                passed=True,
                metadata={"compared_with": "nothing: first materialization"},
                description="first materialization: nothing to compare with",
            )
        current, previous = schemas[0], schemas[1]
        added = sorted(set(current) - set(previous))
        removed = sorted(set(previous) - set(current))
        retyped = sorted(c for c in set(current) & set(previous) if current[c] != previous[c])
        return dg.AssetCheckResult(
            passed=not (added or removed or retyped),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "added": ", ".join(added) or "none",
                "removed": ", ".join(removed) or "none",
                "dtype_changed": ", ".join(retyped) or "none",
            },
            description=(
                "schema changed: "
                + "; ".join(
                    f"{what} {', '.join(cols)}" for what, cols in (("added", added), ("removed", removed), ("retyped", retyped)) if cols
                )
                if added or removed or retyped
                else "same names and dtypes as before"
            ),
        )

    return [features_no_raw_prices, features_no_lookahead, features_mostly_finite, features_schema_unchanged]
