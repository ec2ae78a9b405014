"""Checks on `strategy_backtest`: no split trains on an event whose label overlaps a test label."""

import dagster as dg
import numpy as np
import pandas as pd

from tb_assets.assets.modeling import artifact_root
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.publication import judged
from tb_assets.core.data.time_index import epoch_ns
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import StrategyBacktest

BACKTEST = dg.AssetKey("strategy_backtest")
BLOCKING = ("strategy_backtest_purged",)


def overlapping_training(t0: np.ndarray, t1: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Training positions whose label [t0, t1] shares an instant with some test label. Test labels
    are merged into disjoint windows first, so the check is O(n log n), not pairwise."""
    order = np.argsort(t0[test], kind="stable")
    starts, ends = t0[test][order], t1[test][order]
    # merge overlapping test intervals into disjoint windows
    window_end = np.maximum.accumulate(ends)
    new = np.r_[True, starts[1:] > window_end[:-1]]
    w_start, w_end = starts[new], np.maximum.reduceat(ends, np.flatnonzero(new))
    # the last window starting at or before each training label's end: does it reach the label's start?
    k = np.searchsorted(w_start, t1[train], side="right") - 1
    hit = (k >= 0) & (w_end[np.maximum(k, 0)] >= t0[train])
    return train[hit]


def build_strategy_backtest_checks(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=BACKTEST,
        partitions_def=partitions_def,
        blocking=True,
        description="The purge, verified on the stored splits: no CPCV split trained on an event whose label [t0, t1] "
        "overlaps any of its test events' labels. Blocking: trades and the strategy report never use a leaking backtest.",
    )
    def strategy_backtest_purged(context: dg.AssetCheckExecutionContext, artifacts: ArtifactStore) -> dg.AssetCheckResult:
        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        record = StrategyBacktest.load(root, symbol, timeframe, review=True)
        events, splits = record.table(StrategyBacktest.PATHS), record.table(StrategyBacktest.SPLITS)
        t0, t1 = epoch_ns(pd.DatetimeIndex(events["ts"])), epoch_ns(pd.DatetimeIndex(events["t1"]))
        leaks, first = 0, None
        for split, part in splits.groupby("split", sort=True):
            rows, is_train = part["row"].to_numpy(), part["train"].to_numpy()
            bad = overlapping_training(t0, t1, rows[is_train], rows[~is_train])
            if len(bad) and first is None:
                first = (int(split), str(events["ts"].iloc[bad[0]]), str(events["t1"].iloc[bad[0]]))
            leaks += len(bad)
        described = (
            f"no split trains on an event overlapping its test labels ({splits['split'].nunique()} splits, {len(events):,} events)"
            if not leaks
            else f"{leaks} training event(s) overlap a test label; first in split {first[0]}: event {first[1]} ending {first[2]}"
        )
        result = dg.AssetCheckResult(
            passed=leaks == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"leaking_training_events": leaks, "splits": int(splits["split"].nunique()), "events": len(events)},
            description=described,
        )
        return judged(context, record, root, symbol, timeframe, result)

    return [strategy_backtest_purged]
