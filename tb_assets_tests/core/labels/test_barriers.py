"""Triple-barrier semantics on hand-built paths, and the numba kernel against a slow version."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.labels.barriers import cusum_filter, daily_volatility, triple_barrier
from tb_assets.core.labels.forward import forward_returns
from tb_assets.core.reference import plain_triple_barrier


def path(prices, freq="D", start="2024-01-01"):
    return pd.Series(prices, index=pd.date_range(start, periods=len(prices), freq=freq, tz="UTC"), dtype="float64")


def label(close, at, trgt=0.02, **kw):
    ev = pd.DatetimeIndex([close.index[i] for i in at])
    return triple_barrier(close, ev, pd.Series(trgt, index=close.index), **kw)


def test_profit_take_first():
    c = path([100, 101, 102, 97, 96, 95])
    out = label(c, [0], vertical=5)
    row = out.iloc[0]
    assert (row.t1, row.label, row.barrier, row.bin) == (c.index[2], 1, "pt", 1)
    assert row.ret == pytest.approx(0.02) and row.trgt == 0.02 and out.index.name == "t0"


def test_stop_loss_first():
    c = path([100, 99, 98, 103, 104, 105])
    row = label(c, [0], vertical=5).iloc[0]
    assert (row.t1, row.label, row.barrier, row.bin) == (c.index[2], -1, "sl", 0)


def test_vertical_barrier_by_bars():
    c = path([100, 100.5, 101, 100.2, 101.5, 99, 90])
    row = label(c, [0], vertical=4).iloc[0]
    assert (row.t1, row.label, row.barrier, row.bin) == (c.index[4], 0, "vertical", 0)
    assert row.ret == pytest.approx(0.015)


def test_touch_exactly_at_the_barrier_counts_and_beats_the_vertical_on_the_same_bar():
    c = path([100, 101, 102, 50])
    row = label(c, [0], vertical=2).iloc[0]  # bar 2 is the vertical and touches +2% exactly
    assert (row.t1, row.barrier, row.label) == (c.index[2], "pt", 1)
    d = path([100, 99, 98])
    assert label(d, [0], vertical=2).iloc[0].barrier == "sl"


def test_disabled_barriers():
    c = path([100, 103, 96, 100, 100])
    no_pt = label(c, [0], pt_sl=(0, 1), vertical=4).iloc[0]
    assert (no_pt.barrier, no_pt.t1) == ("sl", c.index[2])  # +3% ignored
    no_sl = label(path([100, 96, 103]), [0], pt_sl=(1, 0), vertical=2).iloc[0]
    assert (no_sl.barrier, no_sl.t1) == ("pt", pd.Timestamp("2024-01-03", tz="UTC"))
    neither = label(c, [0], pt_sl=(0, 0), vertical=3).iloc[0]
    assert neither.barrier == "vertical" and neither.t1 == c.index[3]
    wide = label(c, [0], pt_sl=(2, 3), vertical=4).iloc[0]  # +4% / -6%: nothing touched
    assert wide.barrier == "vertical"


def test_vertical_by_time_is_the_first_bar_at_or_after():
    days = pd.DatetimeIndex(["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC")  # Thu Fri Mon Tue
    c = pd.Series([100.0, 100.5, 100.2, 100.1], index=days)
    tgt = pd.Series(0.02, index=days)
    out = triple_barrier(c, days[[1]], tgt, vertical=pd.Timedelta(days=1))
    assert out.iloc[0].t1 == days[2]  # Friday + 1 day = Saturday -> Monday
    exact = triple_barrier(c, days[[0]], tgt, vertical=pd.Timedelta(days=1))
    assert exact.iloc[0].t1 == days[1]  # Thursday + 1 day is a bar itself


def test_events_out_of_order_keep_their_own_bars_and_vertical_barriers():
    """Events are labelled in the order given; an event earlier than the one before it finds its
    bar and its time-based vertical barrier afresh (walking on from the later one would put its
    barrier weeks late)."""
    c = path(100 + np.arange(50) * 0.01)  # a slow drift: nothing touches a 50% barrier
    for vertical, late_end, early_end in ((pd.Timedelta(days=3), 33, 8), (3, 33, 8)):
        out = label(c, [30, 5, 6, 40], trgt=0.5, vertical=vertical)
        assert list(out.index) == list(c.index[[30, 5, 6, 40]])
        assert list(out["t1"]) == list(c.index[[late_end, early_end, early_end + 1, 43]]), vertical
        assert (out["barrier"] == "vertical").all()


def test_targets_and_sides_given_on_other_bars_are_aligned_by_time():
    """A target or side Series on another index is read at each event's own bar: bars it does not
    cover have none, so their events do not count (as in AFML's `trgt.loc[t_events]`)."""
    c = path([100, 101, 102, 103, 104, 105, 106])
    target = pd.Series([0.005, 0.005], index=c.index[[3, 1]])  # two bars only, out of order
    out = triple_barrier(c, c.index[:5], target, vertical=2)
    assert list(out.index) == list(c.index[[1, 3]])
    assert list(out["trgt"]) == [0.005, 0.005] and list(out["barrier"]) == ["pt", "pt"]
    side = pd.Series([-1.0], index=c.index[[3]])
    short = triple_barrier(c, c.index[:5], pd.Series(0.005, index=c.index), vertical=2, side=side)
    assert list(short.index) == [c.index[3]] and list(short["barrier"]) == ["sl"] and list(short["bin"]) == [0]


def test_side_and_meta_labels():
    down = path([100, 99, 98, 97])
    short = pd.Series(-1.0, index=down.index)
    row = label(down, [0], vertical=3, side=short).iloc[0]
    assert (row.barrier, row.label, row.bin, row.side) == ("pt", 1, 1, -1.0)  # the short paid
    assert row.ret == pytest.approx(-0.02)  # ret stays the market's simple return
    up = path([100, 101, 102])
    row = label(up, [0], vertical=2, side=pd.Series(-1.0, index=up.index)).iloc[0]
    assert (row.barrier, row.label, row.bin) == ("sl", -1, 0)
    drift = path([100, 100.5, 100.8])  # vertical: meta-label is whether the side paid
    assert label(drift, [0], vertical=2, side=pd.Series(1.0, index=drift.index)).iloc[0].bin == 1
    assert label(drift, [0], vertical=2, side=pd.Series(-1.0, index=drift.index)).iloc[0].bin == 0
    flat_side = label(drift, [0], vertical=2, side=pd.Series(0.0, index=drift.index))
    assert flat_side.empty  # no position, no label


def test_events_whose_outcome_is_unknown_at_the_end_are_dropped():
    c = path([100, 100.5, 101, 100.5, 103])
    out = label(c, [1, 2, 3], vertical=3)
    # event 1: vertical at bar 4 exists; +2.49% touches pt on bar 4. event 2: bar 5 does not exist,
    # no touch by the end -> dropped. event 3: +2.49% at bar 4 -> known although the vertical is beyond.
    assert list(out.index) == [c.index[1], c.index[3]] and (out.barrier == "pt").all()
    no_vertical = label(path([100, 100.5, 101]), [0], vertical=None)
    assert no_vertical.empty


def test_min_ret_and_missing_targets_drop_events():
    c = path([100, 103, 96, 100])
    tgt = pd.Series([0.001, np.nan, 0.02, 0.02], index=c.index)
    out = triple_barrier(c, c.index[:3], tgt, vertical=1, min_ret=0.005)
    assert list(out.index) == [c.index[2]]


def test_bad_inputs():
    c = path([100, 101, 102])
    with pytest.raises(ValueError, match="not bars"):
        triple_barrier(c, pd.DatetimeIndex(["2030-01-01"], tz="UTC"), pd.Series(0.01, index=c.index))
    with pytest.raises(ValueError, match=r"2 event\(s\) are not bars of `close`, first 2024-01-01"):
        triple_barrier(c.iloc[:0], c.index[:2], pd.Series(0.01, index=c.index))  # no bars at all
    assert triple_barrier(c.iloc[:0], c.index[:0], pd.Series(0.01, index=c.index)).empty
    with pytest.raises(ValueError, match="at least 1 bar"):
        label(c, [0], vertical=0)
    with pytest.raises(ValueError, match=">= 0"):
        label(c, [0], pt_sl=(-1, 1))


def test_daily_volatility_uses_the_last_bar_strictly_before_a_day_earlier():
    idx = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 12:00", "2024-01-02 00:00", "2024-01-02 12:00", "2024-01-03 06:00"], tz="UTC")
    c = pd.Series([100.0, 101.0, 102.0, 99.0, 104.0], index=idx)
    v = daily_volatility(c, span=2)
    # 01-02 00:00 - 1 day = 01-01 00:00 -> strictly before: none; 01-02 12:00 -> 01-01 00:00 (100);
    # 01-03 06:00 -> 01-02 00:00 (102)
    assert list(v.index) == [idx[3], idx[4]]
    rets = pd.Series([99 / 100 - 1, 104 / 102 - 1], index=idx[3:])
    pd.testing.assert_series_equal(v, rets.ewm(span=2).std(), check_names=False)


def test_cusum_filter_resets_after_each_event():
    c = pd.Series(np.exp(np.cumsum([0, 0.01, 0.01, 0.01, -0.005, -0.03, 0.002])), index=pd.date_range("2024-01-01", periods=7, tz="UTC"))
    ev = cusum_filter(c, 0.025)
    # +0.03 after bar 3 passes 0.025 -> event at 3, reset; then -0.005 -0.03 = -0.035 -> event at 5
    assert list(ev) == [c.index[3], c.index[5]]
    assert len(cusum_filter(c, 1.0)) == 0


def test_forward_returns():
    c = path([100, 110, 99])
    f = forward_returns(c, 1)
    assert f["fwd_pct_change"].iloc[0] == pytest.approx(0.1) and f["fwd_log_return"].iloc[0] == pytest.approx(np.log(1.1))
    assert f["fwd_raw_change"].iloc[1] == pytest.approx(-11) and f["fwd_direction"].tolist()[:2] == [1.0, 0.0]
    assert f.iloc[-1].isna().all()
    assert forward_returns(path([5, 5, 5]), 2)["fwd_direction"].iloc[0] == 1.0  # future >= current
    # the horizon's last bar: what purging needs (the training service's label ends)
    four = path([5, 6, 7, 8])
    ends = forward_returns(four, 2)["fwd_t1"]
    assert list(ends[:2]) == list(four.index[2:]) and ends[2:].isna().all()


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    n=st.integers(5, 200),
    pt=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    sl=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    vertical=st.one_of(st.none(), st.integers(1, 30), st.sampled_from([pd.Timedelta(days=3), pd.Timedelta(hours=30)])),
    with_side=st.booleans(),
    gappy=st.booleans(),
    on_grid=st.booleans(),
    which_events=st.sampled_from(["scattered", "a run of bars", "out of order"]),
)
def test_kernel_matches_the_slow_version(seed, n, pt, sl, vertical, with_side, gappy, on_grid, which_events):
    """The kernel compares prices with barrier levels and only computes the return near a level;
    prices on a coarse grid with round targets put many bars exactly on a barrier, where the
    textbook return must decide; sides other than +-1 take the return on every bar. Runs of
    64+ consecutive events first compare their next bars in a branch-free window (the `targets`
    default: every bar an event); events out of order find their bars by binary search."""
    rng = np.random.default_rng(seed)
    close = path(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))).round(2))
    if on_grid:
        close = path(np.clip(100 + np.cumsum(rng.choice([-1.0, 0.0, 1.0], n)), 80, None))
    if gappy:  # irregular timestamps, as real bars have
        keep = np.sort(rng.choice(n * 2, size=n, replace=False))
        close.index = pd.date_range("2024-01-01", periods=n * 2, freq="D", tz="UTC")[keep]
    target = pd.Series(rng.choice([0.01, 0.02, 0.03], n) if on_grid else rng.uniform(0.0, 0.03, n), index=close.index)
    events = close.index[np.sort(rng.choice(n, size=max(1, n // 2), replace=False))]
    if which_events == "a run of bars":
        events = close.index[rng.integers(0, max(1, n // 8)) :]
    elif which_events == "out of order":
        events = events[rng.permutation(len(events))]
    target[rng.random(n) < 0.05] = np.nan  # events that do not count, inside the windowed runs too
    side = pd.Series(rng.choice([-1.0, 1.0, 0.5, -2.0] if on_grid else [-1.0, 1.0], n), index=close.index) if with_side else None
    fast = triple_barrier(close, events, target, (pt, sl), vertical, 0.005, side)
    slow = plain_triple_barrier(close, events, target, (pt, sl), vertical, 0.005, side)
    assert list(fast.index) == list(slow.index)
    for col in ("t1", "label", "barrier", "bin"):
        assert list(fast[col]) == list(slow[col]), col
    np.testing.assert_allclose(fast["ret"].to_numpy(float), slow["ret"].to_numpy(float), rtol=1e-12)
