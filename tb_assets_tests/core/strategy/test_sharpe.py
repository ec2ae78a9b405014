"""PSR, DSR and MinTRL: the paper's worked example, and the inputs they refuse."""

import math

import numpy as np
import pytest
from scipy import stats

from tb_assets.core.errors import TbError
from tb_assets.core.strategy import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)
from tb_assets.core.strategy.sharpe import return_moments

# Bailey & López de Prado (2014), the worked example: SR 2.5 annualised at 250 periods a year,
# T = 1,250, skew -3, kurtosis 10, N = 100 trials whose annualised Sharpe ratios vary by 0.5
PER_PERIOD_SR, PER_PERIOD_VARIANCE = 2.5 / math.sqrt(250), 0.5 / 250


def test_the_papers_deflated_sharpe_ratio():
    dsr = deflated_sharpe_ratio(PER_PERIOD_SR, 1250, -3.0, 10.0, 100, PER_PERIOD_VARIANCE)
    assert dsr == pytest.approx(0.9004, abs=1e-4)


def test_an_annualised_sharpe_is_refused_not_turned_into_0_99999994():
    with pytest.raises(TbError, match="per-period"):
        deflated_sharpe_ratio(2.5, 1250, -3.0, 10.0, 100, 0.5, annualized=True)
    with pytest.raises(TbError, match="per-period"):
        probabilistic_sharpe_ratio(2.5, 1250, -3.0, 10.0, annualized=True)


def test_excess_kurtosis_and_a_single_trial_are_refused():
    with pytest.raises(TbError, match="excess kurtosis"):
        deflated_sharpe_ratio(PER_PERIOD_SR, 1250, -3.0, 0.5, 100, PER_PERIOD_VARIANCE)
    with pytest.raises(TbError, match="at least 2 trials"):
        deflated_sharpe_ratio(PER_PERIOD_SR, 1250, -3.0, 10.0, 1, PER_PERIOD_VARIANCE)
    with pytest.raises(TbError, match="at least 2 observations"):
        probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0)


def test_psr_is_one_half_at_the_benchmark_and_grows_with_the_track_record():
    assert probabilistic_sharpe_ratio(0.05, 500, 0.0, 3.0, benchmark=0.05) == pytest.approx(0.5)
    short, long = (probabilistic_sharpe_ratio(0.05, n, 0.0, 3.0) for n in (100, 2000))
    assert 0.5 < short < long < 1.0
    # fat left tails make the same Sharpe less believable
    assert probabilistic_sharpe_ratio(0.05, 500, -3.0, 10.0) < probabilistic_sharpe_ratio(0.05, 500, 0.0, 3.0)


def test_expected_maximum_is_the_best_of_n_noise_trials():
    rng = np.random.default_rng(3)
    simulated = rng.normal(0.0, 1.0, (4000, 100)).max(axis=1).mean()  # 2.51 for 100 standard normals
    assert expected_maximum_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.02)
    assert expected_maximum_sharpe(1000, 1.0) > expected_maximum_sharpe(100, 1.0)


def test_minimum_track_record_length_is_where_psr_reaches_the_confidence():
    sr, skew, kurt = 0.08, -1.0, 6.0
    needed = minimum_track_record_length(sr, skew, kurt)
    assert probabilistic_sharpe_ratio(sr, math.ceil(needed), skew, kurt) >= 0.95
    assert probabilistic_sharpe_ratio(sr, math.floor(needed) - 1, skew, kurt) < 0.95
    assert minimum_track_record_length(-0.01, 0.0, 3.0) == math.inf


def test_return_moments_are_the_documented_estimators():
    r = np.random.default_rng(0).standard_t(5, 3000) * 0.01 + 0.0005
    sharpe, n, skew, kurt = return_moments(r)
    assert sharpe == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12) == sharpe_ratio(r)
    assert n == 3000
    assert skew == pytest.approx(stats.skew(r, bias=True), rel=1e-10)
    assert kurt == pytest.approx(stats.kurtosis(r, fisher=False, bias=True), rel=1e-10)
    with pytest.raises(TbError, match="the same"):
        return_moments(np.zeros(10))
