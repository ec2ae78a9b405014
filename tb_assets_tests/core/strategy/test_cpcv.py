"""Combinatorial purged CV: no leak and no needless purge on random label spans (against a slow
obvious version), the split and path counts, and paths that cover every group once."""

from math import comb

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.errors import TbError
from tb_assets.core.strategy import CombinatorialPurgedKFold


def random_labels(rng, n):
    t0 = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, n * 3, n)), unit="h")
    t1 = t0 + pd.to_timedelta(rng.integers(0, 30, n), unit="h")
    return pd.Series(t1, index=t0)


def slow_train(t1: pd.Series, test: np.ndarray) -> np.ndarray:
    """Every non-test event whose label [t0, t1] shares no instant with any test label."""
    start, end = t1.index.to_numpy(), t1.to_numpy()
    keep = []
    for i in range(len(t1)):
        if i in set(test):
            continue
        if not any(start[i] <= end[j] and end[i] >= start[j] for j in test):
            keep.append(i)
    return np.array(keep, dtype=int)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 80), groups=st.integers(3, 7), data=st.data())
def test_no_leak_and_no_needless_purge(seed, n, groups, data):
    k = data.draw(st.integers(1, groups - 1))
    t1 = random_labels(np.random.default_rng(seed), n)
    cv = CombinatorialPurgedKFold(groups, k, t1=t1)
    splits = list(cv.split())
    assert len(splits) == cv.get_n_splits() == comb(groups, k)
    for train, test in splits:
        np.testing.assert_array_equal(train, slow_train(t1, test))


def test_paths_cover_every_group_once_from_splits_that_tested_it():
    t1 = random_labels(np.random.default_rng(1), 60)
    cv = CombinatorialPurgedKFold(6, 2, t1=t1)
    assert cv.get_n_splits() == 15 and cv.n_paths == 5 == 15 * 2 // 6
    paths, tested = cv.path_splits(), cv.test_groups()
    assert paths.shape == (5, 6)
    for p in range(5):
        for g in range(6):
            assert g in tested[paths[p, g]]
    used = {(paths[p, g], g) for p in range(5) for g in range(6)}
    assert len(used) == 5 * 6  # each split's prediction of a group serves one path
    # each path, assembled from its splits' test rows of each group, predicts every event exactly once
    groups, splits = cv.groups(), list(cv.split())
    for p in range(5):
        predicted = np.concatenate([np.intersect1d(splits[paths[p, g]][1], groups[g]) for g in range(6)])
        assert sorted(predicted.tolist()) == list(range(60))


def test_training_between_two_test_blocks_stays_and_the_embargo_follows_each_block():
    t0 = pd.date_range("2024-01-01", periods=30, freq="1h")
    t1 = pd.Series(t0 + pd.Timedelta("30min"), index=t0)  # labels that overlap nothing
    cv = CombinatorialPurgedKFold(3, 2, t1=t1, embargo_pct=0.1)  # 3 events of embargo
    train, test = next(s for s, groups in zip(cv.split(), cv.test_groups()) if groups == (0, 2))
    assert test.tolist() == list(range(10)) + list(range(20, 30))
    assert train.tolist() == list(range(13, 20))  # group 1 minus the 3 events after the first block


def test_bad_settings_are_refused():
    t1 = random_labels(np.random.default_rng(0), 20)
    with pytest.raises(TbError, match="n_test_groups"):
        CombinatorialPurgedKFold(4, 4, t1=t1)
    with pytest.raises(TbError, match="needs t1"):
        CombinatorialPurgedKFold(6, 2)
    with pytest.raises(TbError, match="cannot make 30 groups"):
        list(CombinatorialPurgedKFold(30, 2, t1=t1).split())
