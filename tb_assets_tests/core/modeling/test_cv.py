"""Purged k-fold: no training label shares a bar with the test window, nothing purged needlessly."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from tb_assets.core.modeling.cv import PurgedKFold, data_split_splits, holdout_start, purged_holdout, walk_forward_splits


def labels(n, horizon, seed=0):
    rng = np.random.default_rng(seed)
    bars = pd.date_range("2020-01-01", periods=n + 40, freq="D", tz="UTC")
    t0 = np.arange(n)
    t1 = t0 + rng.integers(0, horizon + 1, n)
    return pd.Series(bars[t1], index=bars[t0])


def overlaps(t1, i, start, end):
    return t1.index[i] <= end and t1.iloc[i] >= start


def test_popular_bug_window_from_a_label_end_is_not_made():
    # sample 4 starts before the test block (t0 = day 4) and ends inside it (day 6);
    # the first test sample starts on day 5 and ends on day 9. A window built from the first
    # test *end* (day 9) would keep sample 4; its label shares days 5-6 with the test labels.
    days = pd.date_range("2020-01-01", periods=20, freq="D", tz="UTC")
    t0 = days[:10]
    t1 = pd.Series([days[min(i + 2, 19)] for i in range(10)], index=t0)
    t1.iloc[5] = days[9]
    kf = PurgedKFold(2, t1)
    train, test = next(iter(kf.split()))
    assert list(test) == [0, 1, 2, 3, 4]
    train, test = list(kf.split())[1]
    assert list(test) == [5, 6, 7, 8, 9]
    assert 4 not in train and 3 not in train  # 3 ends on day 5: touches the closed window
    assert list(train) == [0, 1, 2]


def test_label_ending_exactly_at_the_window_start_is_purged_closed_intervals():
    days = pd.date_range("2020-01-01", periods=10, freq="D", tz="UTC")
    t1 = pd.Series([days[1], days[3], days[3], days[4]], index=days[[0, 1, 3, 4]])
    train, test = list(PurgedKFold(2, t1).split())[1]
    assert list(test) == [2, 3] and list(train) == [0]  # sample 1 ends on day 3 = first test t0


def test_embargo_drops_the_samples_right_after_the_test_window():
    t1 = pd.Series(
        pd.date_range("2020-01-01", periods=100, freq="D", tz="UTC"), index=pd.date_range("2020-01-01", periods=100, freq="D", tz="UTC")
    )
    train, test = list(PurgedKFold(5, t1, embargo_pct=0.05).split())[1]
    assert list(test) == list(range(20, 40))
    assert set(range(40, 45)).isdisjoint(train) and 45 in train and 19 in train


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(10, 200),
    horizon=st.integers(0, 15),
    k=st.integers(2, 6),
    emb=st.sampled_from([0.0, 0.01, 0.05]),
)
def test_no_overlap_and_no_needless_purge(seed, n, horizon, k, emb):
    t1 = labels(n, horizon, seed)
    kf = PurgedKFold(k, t1, embargo_pct=emb)
    seen = []
    for train, test in kf.split(np.zeros((n, 1))):
        seen.extend(test)
        start, end = t1.index[test].min(), t1.iloc[test].max()
        assert not any(overlaps(t1, i, start, end) for i in train)
        assert set(train).isdisjoint(test)
        after = [i for i in range(n) if t1.index[i] > end][: int(n * emb)]
        for i in set(range(n)) - set(train) - set(test):
            assert overlaps(t1, i, start, end) or i in after, f"sample {i} purged needlessly"
    assert sorted(seen) == list(range(n))  # every sample is tested exactly once


def test_sklearn_compatible():
    t1 = labels(120, 5)
    X = np.random.default_rng(0).normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    scores = cross_val_score(DecisionTreeClassifier(max_depth=2, random_state=0), X, y, cv=PurgedKFold(4, t1, 0.01))
    assert len(scores) == 4 and PurgedKFold(4, t1).get_n_splits() == 4
    with pytest.raises(ValueError, match="rows"):
        list(PurgedKFold(3, t1).split(np.zeros((10, 1))))


def test_walk_forward_expands_and_never_trains_on_the_future():
    t1 = labels(60, 4)
    folds = walk_forward_splits(t1, 3)
    assert len(folds) == 3
    sizes = []
    for train, test in folds:
        assert train.max() < test.min()
        start = t1.index[test].min()
        assert (t1.iloc[train] < start).all()  # purged: no training label reaches the test window
        sizes.append(len(train))
    assert sizes == sorted(sizes)


def test_data_split_blocks():
    t1 = labels(30, 2)
    split = pd.Series(["train"] * 10 + ["test"] * 5 + ["train"] * 10 + ["test"] * 5, index=t1.index)
    folds = data_split_splits(t1, split)
    assert [list(te) for _, te in folds] == [list(range(10, 15)), list(range(25, 30))]
    for train, test in folds:
        assert (t1.iloc[train] < t1.index[test].min()).all()
    with pytest.raises(ValueError, match="no train block"):
        data_split_splits(t1, pd.Series("train", index=t1.index))


def test_holdout_is_the_tail_and_development_is_purged_against_it():
    t1 = labels(100, 5, seed=3)
    start = holdout_start(t1, 0.2)
    assert start == t1.index[80]
    development, holdout = purged_holdout(t1, start)
    assert list(holdout) == list(range(80, 100))
    # every development label ends before the holdout starts; every sample dropped reached into it
    assert (t1.iloc[development] < start).all()
    dropped = sorted(set(range(80)) - set(development))
    assert dropped and all(t1.iloc[i] >= start for i in dropped)


def test_holdout_boundary_is_a_time_so_appended_bars_join_the_holdout():
    t1 = labels(100, 5, seed=4)
    start = holdout_start(t1, 0.2)
    longer = labels(130, 5, seed=4)  # same first 100 starts, 30 more events later
    development, holdout = purged_holdout(longer, start)
    assert holdout[0] == 80 and len(holdout) == 50 and development.max() < 80


def test_time_units_may_differ_between_index_and_values():
    # pandas 2 keeps DuckDB's microseconds: comparing raw asi8 across units would put every
    # sample in the development set (the bug this pins)
    t1 = labels(50, 3)
    t1_us = pd.Series(pd.DatetimeIndex(t1).as_unit("us"), index=t1.index.as_unit("us"))
    start = holdout_start(t1, 0.2)
    assert [list(a) for a in purged_holdout(t1_us, start)] == [list(a) for a in purged_holdout(t1, start)]
    mixed = pd.Series(pd.DatetimeIndex(t1).as_unit("s"), index=t1.index.as_unit("ns"))
    assert [(list(a), list(b)) for a, b in PurgedKFold(3, mixed).split()] == [(list(a), list(b)) for a, b in PurgedKFold(3, t1).split()]


def test_holdout_needs_room():
    t1 = labels(10, 2)
    for bad in (0.0, -0.1, 1.0):
        with pytest.raises(ValueError, match="holdout_pct"):
            holdout_start(t1, bad)
    with pytest.raises(ValueError, match="cannot keep"):
        holdout_start(t1, 0.01)
