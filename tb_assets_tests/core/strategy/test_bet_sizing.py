"""Bet sizes (AFML ch. 10): the book's values, meta-labels, steps and caps, and the average of
active bets against a slow obvious version."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.errors import TbError
from tb_assets.core.strategy import average_active_sizes, bet_size, discretize_size


def test_sizes_of_the_book():
    sizes = bet_size([0.55, 0.6, 0.75, 0.9])
    np.testing.assert_allclose(sizes, [0.0801, 0.1617, 0.4363, 0.8176], atol=1e-4)
    assert bet_size(0.6).shape == ()


def test_below_one_half_the_bet_takes_the_other_side_with_the_same_size():
    np.testing.assert_allclose(bet_size([0.4, 0.1, 0.5]), [-0.16174, -0.81758, 0.0], atol=1e-5)


def test_meta_labels_bet_nothing_below_one_half_and_keep_the_primary_side():
    sizes = bet_size([0.45, 0.6, 0.6], side=[1, -1, 0])
    np.testing.assert_allclose(sizes, [0.0, -0.16174, 0.0], atol=1e-5)


def test_more_classes_measure_against_one_in_k():
    # K = 3: z = (0.5 - 1/3) / 0.5
    assert bet_size(0.5, n_classes=3, side=1) == pytest.approx(0.26112, abs=1e-5)
    with pytest.raises(TbError, match="give `side`"):
        bet_size(0.5, n_classes=3)


def test_steps_and_caps():
    np.testing.assert_allclose(bet_size([0.6, 0.9], step=0.1), [0.2, 0.8])
    np.testing.assert_allclose(bet_size([0.9, 0.1], cap=0.5), [0.5, -0.5])
    np.testing.assert_allclose(discretize_size([0.04, 0.06, -0.97, 1.2], 0.1), [0.0, 0.1, -1.0, 1.0])


@pytest.mark.parametrize("bad", [1.2, -0.1, np.nan])
def test_impossible_probabilities_are_refused(bad):
    with pytest.raises(TbError, match=r"in \[0, 1\]"):
        bet_size([0.6, bad])


def slow_average(t0, t1, sizes, at):
    out = []
    for t in at:
        active = [s for a, b, s in zip(t0, t1, sizes) if a <= t < b]
        out.append(np.mean(active) if active else 0.0)
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), bets=st.integers(0, 40), bars=st.integers(1, 60))
def test_average_of_active_bets_matches_the_slow_version(seed, bets, bars):
    rng = np.random.default_rng(seed)
    at = pd.date_range("2024-01-01", periods=bars, freq="1h")
    # bets start and end anywhere, on bars or between them, some before or after the bars
    start = pd.Timestamp("2023-12-31 22:00") + pd.to_timedelta(rng.integers(0, (bars + 4) * 60, bets), unit="min")
    end = start + pd.to_timedelta(rng.integers(0, 10 * 60, bets), unit="min")
    sizes = rng.uniform(-1, 1, bets)
    fast = average_active_sizes(start, end, sizes, at)
    np.testing.assert_allclose(fast, slow_average(start, end, sizes, at), atol=1e-12)
