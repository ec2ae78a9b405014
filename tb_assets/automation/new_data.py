"""The new-data sensor: when a symbol's files change, score that symbol's new bars.

It runs the live job (bars, then the champion's signals for the new bars) for the symbol's
partitions; retraining is the scheduled refresh's, never a new file's.

Watches the parquet/csv files in TB_RAW_DIR; the cursor holds one digest per symbol of its files'
names, sizes and modification times, so a changed, added or removed file is noticed without
reading a byte of data. A change to a context symbol refreshes every partition (its indicators
are in every primary's features). The first tick only records the digests (the cron refresh covers what
was there before). Sample and synthetic sources have no files: the sensor does nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from tb_assets.resources import BarSourceResource

NEW_DATA_SENSOR = "tb_new_data"


def files_digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed between listing and stat: counts as a change next time
            continue
        h.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def build_new_data_sensor(job_name: str, partitions_def: dg.MultiPartitionsDefinition, interval_s: int = 60) -> dg.SensorDefinition:
    symbols = partitions_def.get_partitions_def_for_dimension("symbol").get_partition_keys()
    timeframes = partitions_def.get_partitions_def_for_dimension("timeframe").get_partition_keys()

    @dg.sensor(
        name=NEW_DATA_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="For TB_SOURCE=parquet/csv: when a symbol's files in TB_RAW_DIR change (names, sizes, modification "
        "times), runs bars and signals (the champion's signals for the new bars, no retraining) for that symbol's "
        "partitions. Does nothing for the sample and synthetic sources.",
    )
    def tb_new_data(context: dg.SensorEvaluationContext, bar_source: BarSourceResource):
        source = bar_source.source()
        if source.name not in ("parquet", "csv"):
            return dg.SkipReason(f"the {source.name} source has no files to watch")
        seen = json.loads(context.cursor) if context.cursor else None
        watched = sorted({*symbols, *(s.upper() for s in bar_source.context_symbols)})
        digests = {symbol: files_digest(source.watched_files(symbol)) for symbol in watched}
        context.update_cursor(json.dumps(digests))
        if seen is None:
            return dg.SkipReason(f"recorded the files of {len(digests)} symbol(s); changes from now on start runs")
        changed = {s for s in watched if seen.get(s) != digests[s]}
        if not changed:
            return dg.SkipReason("no symbol's files changed")
        context.log.info(f"files changed for {', '.join(sorted(changed))}")
        if changed & {s.upper() for s in bar_source.context_symbols}:
            changed = set(symbols)  # a context symbol feeds every primary's features
        return [
            dg.RunRequest(
                run_key=f"{symbol}|{timeframe}:{digests[symbol]}",
                partition_key=dg.MultiPartitionKey({"symbol": symbol, "timeframe": timeframe}),
                tags={"tb/launched_by": "new-data sensor"},
            )
            for symbol in symbols
            if symbol in changed
            for timeframe in timeframes
        ]

    return tb_new_data
