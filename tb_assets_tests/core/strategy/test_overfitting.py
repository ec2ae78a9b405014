"""PBO by CSCV: noise gives about one half, a planted skill near zero, and the vectorised version
equals a loop over every choice."""

from itertools import combinations

import numpy as np
import pytest

from tb_assets.core.errors import TbError
from tb_assets.core.strategy import probability_of_backtest_overfitting
from tb_assets.core.strategy.overfitting import cscv_logits


def test_pure_noise_panels_overfit_half_the_time():
    rng = np.random.default_rng(2024)
    pbo = [probability_of_backtest_overfitting(rng.normal(0, 0.01, (1000, 50))) for _ in range(20)]
    assert np.mean(pbo) == pytest.approx(0.5, abs=0.06)


def test_one_skilled_trial_among_noise_is_not_overfitting():
    rng = np.random.default_rng(7)
    panel = rng.normal(0, 0.01, (1000, 50))
    panel[:, 13] += 0.002  # a per-period Sharpe of 0.2
    assert probability_of_backtest_overfitting(panel) <= 0.05


def slow_logits(panel, n_blocks):
    blocks = np.array_split(np.arange(len(panel)), n_blocks)
    out = []
    for inside in combinations(range(n_blocks), n_blocks // 2):
        rows_in = np.concatenate([blocks[b] for b in inside])
        rows_out = np.concatenate([blocks[b] for b in range(n_blocks) if b not in inside])
        sr_in = panel[rows_in].mean(axis=0) / panel[rows_in].std(axis=0, ddof=1)
        sr_out = panel[rows_out].mean(axis=0) / panel[rows_out].std(axis=0, ddof=1)
        best = int(np.argmax(sr_in))
        rank = 1 + sum(sr_out[j] < sr_out[best] for j in range(panel.shape[1]))  # no ties in continuous data
        omega = rank / (panel.shape[1] + 1)
        out.append(np.log(omega / (1 - omega)))
    return np.array(out)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_logits_equal_a_loop_over_every_choice(seed):
    rng = np.random.default_rng(seed)
    panel = rng.normal(0.0003 * rng.normal(size=9), 0.01, (97, 9))  # blocks of unequal size
    np.testing.assert_allclose(cscv_logits(panel, n_blocks=6), slow_logits(panel, 6), rtol=1e-9)


def test_inputs_that_cannot_be_right_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(TbError, match="at least 2 trials"):
        probability_of_backtest_overfitting(rng.normal(size=(100, 1)))
    with pytest.raises(TbError, match="even"):
        probability_of_backtest_overfitting(rng.normal(size=(100, 5)), n_blocks=5)
    with pytest.raises(TbError, match="cannot make 16 blocks"):
        probability_of_backtest_overfitting(rng.normal(size=(20, 5)))
    panel = rng.normal(size=(100, 5))
    panel[3, 2] = np.nan
    with pytest.raises(TbError, match="NaN"):
        probability_of_backtest_overfitting(panel)
