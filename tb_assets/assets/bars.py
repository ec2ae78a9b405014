"""`bars`: validated OHLCV of a symbol resampled to the partition's timeframe, in DuckDB."""

from typing import Literal

import dagster as dg
from pydantic import Field

from tb_assets.assets.common import WAREHOUSE_IO, markdown_table
from tb_assets.assets.partitions import partition_parts
from tb_assets.assets.pools import SOURCE_POOL
from tb_assets.checks.bars import build_bars_checks
from tb_assets.core.data.resample import GAP_RULE, count_gaps
from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.core.data.validation import SPIKE_FACTOR, shrink_guard
from tb_assets.resources import BarSourceResource, Warehouse


class BarsConfig(dg.Config):
    policy: Literal["repair", "fail"] = Field(
        default="repair",
        description=(
            "What to do with fixable vendor errors (high < low, open/close outside the range, unsorted rows, "
            "exact duplicate rows, missing volume on some rows, prices spike_factor times off the median close of the last 5 bars): "
            "'repair' fixes and counts them in the metadata, 'fail' stops the partition naming the first one."
        ),
    )
    spike_factor: float = Field(
        default=SPIKE_FACTOR,
        description=(
            "A price this many times above or below the median close of the 20 bars around it is a feed error, "
            "not a move (GameStop's January 2021 high was 7.7x); 0 turns the rule off."
        ),
    )
    max_lost_fraction: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description=(
            "Shrink guard: refuse new bars that would drop more than this fraction of the partition's stored bars "
            "(a truncated download replacing years of history). The stored bars stay as they were."
        ),
    )
    allow_shrink: bool = Field(default=False, description="Store the new bars even when the shrink guard objects.")


def build_bars_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=partitions_def,
        io_manager_key=WAREHOUSE_IO,
        kinds={"parquet", "pandas"},
        group_name="bars",
        pool=SOURCE_POOL,
        code_version="1",
    )
    def bars(
        context: dg.AssetExecutionContext, config: BarsConfig, bar_source: BarSourceResource, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        """Validated OHLCV bars of the partition's symbol at its timeframe (UTC, bucket-start labels)."""
        symbol, timeframe = partition_parts(context)
        source = bar_source.source()
        raw = source.load(symbol)
        origin = raw.origin
        out, report, base = bar_source.prepare(raw, timeframe, config.policy, spike_factor=config.spike_factor)
        del raw  # the vendor frame: half a gigabyte at 10 million bars, not needed while the bars are stored
        stored = warehouse.stored_timestamps("bars", symbol, timeframe)
        lost = shrink_guard(
            stored,
            out["ts"],
            max_lost_fraction=config.max_lost_fraction,
            allow=config.allow_shrink,
            where=f"{symbol}|{timeframe} ({origin})",
        )

        if report.repaired_rows:
            context.log.warning(
                f"{symbol}: repaired {report.repaired_rows} row(s) from {origin}: "
                f"{report.ohlc_repaired} OHLC, {report.duplicates_dropped} duplicates dropped, "
                f"{report.reordered_rows} out of order, {report.volume_filled} volume filled, "
                f"{report.spikes_repaired} spikes clipped, {report.spike_bars_dropped} spike bars dropped"
            )
        if lost:
            context.log.warning(f"{symbol}|{timeframe}: {lost} stored bar(s) are not in the new bars (allow_shrink or under the limit)")
        gaps, largest = count_gaps(out["ts"], timeframe)
        return dg.MaterializeResult(
            value=out,
            metadata={
                "rows": len(out),
                "base_rows": report.rows_out,
                "first_ts": dg.MetadataValue.timestamp(out["ts"].iloc[0].to_pydatetime()),
                "last_ts": dg.MetadataValue.timestamp(out["ts"].iloc[-1].to_pydatetime()),
                "gaps": gaps,
                "largest_gap": str(largest),
                "gap_rule": GAP_RULE["intraday" if timeframe in INTRADAY else timeframe],
                "repaired_rows": report.repaired_rows,
                "ohlc_repaired": report.ohlc_repaired,
                "duplicates_dropped": report.duplicates_dropped,
                "reordered_rows": report.reordered_rows,
                "volume_filled": report.volume_filled,
                "spikes_repaired": report.spikes_repaired,
                "spike_bars_dropped": report.spike_bars_dropped,
                "stored_bars_lost": lost,
                "has_volume": report.has_volume,
                "ignored_columns": ", ".join(report.ignored_columns) or "none",
                "source": source.describe(),
                "origin": origin,
                "source_bar_size": str(base),
                "policy": config.policy,
                "preview": dg.MetadataValue.md(markdown_table(out.tail(5))),
            },
        )

    return bars


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `bars` stage: its asset and its checks."""
    return dg.Definitions(assets=[build_bars_asset(partitions_def)], asset_checks=build_bars_checks(partitions_def))
