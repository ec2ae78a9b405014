"""Concurrency, uniqueness, return attribution and time decay against hand values and the matrix."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.errors import TbError
from tb_assets.core.labels.weights import (
    average_uniqueness,
    concurrency,
    label_spans,
    return_attribution,
    scale_pos_weight,
    time_decay,
    uniqueness_weights,
)
from tb_assets.core.reference import plain_average_uniqueness

BARS = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")


def spans(pairs):
    return pd.Series([BARS[b] for _, b in pairs], index=pd.DatetimeIndex([BARS[a] for a, _ in pairs]))


def test_hand_example():
    # labels: [0,2], [1,3], [4,4]  -> concurrency 1,2,2,1,1,0
    t1 = spans([(0, 2), (1, 3), (4, 4)])
    assert concurrency(t1, BARS).tolist() == [1, 2, 2, 1, 1, 0]
    u = average_uniqueness(t1, BARS)
    assert u.tolist() == pytest.approx([(1 + 0.5 + 0.5) / 3, (0.5 + 0.5 + 1) / 3, 1.0])
    w = uniqueness_weights(t1, BARS)
    assert w.mean() == pytest.approx(1.0) and w.iloc[2] > w.iloc[0]


def test_bars_and_labels_in_different_time_units():
    t1 = spans([(0, 2), (1, 3), (4, 4)])
    t1_us = pd.Series(pd.DatetimeIndex(t1).as_unit("us"), index=t1.index.as_unit("s"))
    assert concurrency(t1_us, BARS).tolist() == [1, 2, 2, 1, 1, 0]
    assert average_uniqueness(t1, BARS.as_unit("ms")).tolist() == average_uniqueness(t1, BARS).tolist()


def test_return_attribution_by_hand():
    close = pd.Series(np.exp([0.0, 0.01, 0.03, 0.02, 0.05, 0.05]), index=BARS)
    t1 = spans([(0, 2), (1, 3), (4, 4)])
    # log returns of bars 1..5: .01 .02 -.01 .03 0 ; concurrency 1,2,2,1,1,0
    raw = [abs(0.01 / 2 + 0.02 / 2), abs(0.02 / 2 - 0.01 / 1), abs(0.0)]
    expected = np.array(raw) / np.mean(raw)
    np.testing.assert_allclose(return_attribution(t1, close).to_numpy(), expected, atol=1e-12)


def test_time_decay():
    u = pd.Series([1.0, 1.0, 1.0, 1.0])
    assert time_decay(u, 1.0).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert time_decay(u, 0.0).tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert time_decay(u, 0.5).tolist() == pytest.approx([0.625, 0.75, 0.875, 1.0])
    assert time_decay(u, -0.5).tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0])  # the oldest half weighs 0
    with pytest.raises(ValueError):
        time_decay(u, 1.5)


def test_scale_pos_weight():
    assert scale_pos_weight([1, 0, 0, 0]) == 3.0
    assert scale_pos_weight([1, 1, 0], [1.0, 1.0, 4.0]) == 2.0
    assert scale_pos_weight([0, 0]) == 1.0


def test_label_ending_before_it_starts_is_refused():
    bad = pd.Series([BARS[0]], index=pd.DatetimeIndex([BARS[2]]))
    with pytest.raises(ValueError, match="ends before it starts"):
        concurrency(bad, BARS)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_bars=st.integers(2, 60), n_events=st.integers(1, 40))
def test_prefix_sums_match_the_indicator_matrix(seed, n_bars, n_events):
    rng = np.random.default_rng(seed)
    bars = pd.date_range("2024-01-01", periods=n_bars, freq="h", tz="UTC")
    starts = np.sort(rng.integers(0, n_bars, n_events))
    ends = np.minimum(starts + rng.integers(0, 8, n_events), n_bars - 1)
    t1 = pd.Series(bars[ends], index=bars[starts])
    np.testing.assert_allclose(average_uniqueness(t1, bars).to_numpy(), plain_average_uniqueness(t1, bars).to_numpy(), rtol=1e-12)
    alive = np.zeros(n_bars, dtype=int)
    for a, b in zip(starts, ends):
        alive[a : b + 1] += 1
    assert concurrency(t1, bars).tolist() == alive.tolist()


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_bars=st.integers(1, 120),
    n_events=st.integers(1, 60),
    longest=st.sampled_from([3, 16, 17, 40]),
    off_bar=st.booleans(),
)
def test_label_spans_are_the_binary_searches(seed, n_bars, n_events, longest, off_bar):
    """The walking search (a fixed 16-bar count, then galloping) gives what searchsorted gives, for
    short and long labels, ends near the last bar, and times between bars."""
    rng = np.random.default_rng(seed)
    bars = pd.date_range("2024-01-01", periods=n_bars, freq="h", tz="UTC")
    starts = np.sort(rng.integers(0, n_bars, n_events))
    ends = np.minimum(starts + rng.integers(0, longest + 1, n_events), n_bars - 1)
    t0, t1 = bars[starts], bars[ends]
    if off_bar:  # label times a few minutes after a bar: the spans still end on bars <= t1
        t0 = t0 - pd.Timedelta(minutes=int(rng.integers(0, 30)))
        t1 = t1 + pd.Timedelta(minutes=int(rng.integers(0, 59)))
    labels = pd.Series(t1, index=t0)
    start, end = label_spans(labels, bars)
    assert start.tolist() == np.searchsorted(bars.asi8, t0.asi8, side="left").tolist()
    assert end.tolist() == (np.searchsorted(bars.asi8, t1.asi8, side="right") - 1).tolist()
    shuffled = labels.iloc[rng.permutation(len(labels))]  # out of time order: the plain searches
    s2, e2 = label_spans(shuffled, bars)
    assert sorted(zip(s2.tolist(), e2.tolist())) == sorted(zip(start.tolist(), end.tolist()))


def test_label_overlap_is_the_inverse_mean_uniqueness():
    from tb_assets.core.labels.weights import label_overlap

    assert label_overlap([1.0, 1.0]) == 1.0 and label_overlap([0.2, 0.2, 0.2]) == pytest.approx(5.0)
    with pytest.raises(TbError, match="uniqueness must average in"):
        label_overlap([0.0, 0.0])
