"""Monitoring: drift judged against the feature's own history, change detection, realized decay."""

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter
from scipy.special import expit

from tb_assets.core.errors import TbError
from tb_assets.core.live.change import ChangeSpec, detect_change, log_losses, page_hinkley
from tb_assets.core.live.drift import DriftSpec, domain_shift, feature_drift, historical_windows, max_t
from tb_assets.core.live.realized import decay_verdict, realized_performance


def ar1(rng, phi, n, k):
    """k independent stationary AR(1) series of n points: x_t = phi x_(t-1) + e_t."""
    shocks = rng.standard_normal((n, k))
    shocks[0] /= np.sqrt(1 - phi**2)  # the stationary start
    return lfilter([1.0], [1.0, -phi], shocks, axis=0)


def split(x, n):
    columns = [f"f{i}" for i in range(x.shape[1])]
    return pd.DataFrame(x[:n], columns=columns), pd.DataFrame(x[n:], columns=columns)


@pytest.mark.parametrize("phi", [0.9, 0.99])
def test_autocorrelated_features_that_did_not_drift_page_nobody(phi):
    """No-drift AR(1) features, 100 windows (fixed seeds): the history-calibrated rule fires in at most
    5% of them, while an i.i.d. KS test and Evidently's default rule, measured beside it, fire in nearly all."""
    fires = ks = evidently = 0
    for seed in range(100):
        reference, current = split(ar1(np.random.default_rng([seed, int(phi * 100)]), phi, 10_500, 4), 10_000)
        drift = feature_drift(reference, current, DriftSpec(window=500))
        assert drift.n_windows == 20
        fires += drift.drifted
        ks += drift.iid_ks_drifted
        evidently += drift.evidently_drifted
    assert fires <= 5, fires  # 2 of 100 at either phi
    assert ks >= 90 and evidently >= 90, (ks, evidently)  # 100 of 100 each


def test_a_shifted_feature_is_found_and_named():
    found = 0
    for seed in range(20):
        x = ar1(np.random.default_rng(seed), 0.9, 10_500, 4)
        x[10_000:, 2] += 2.0 / np.sqrt(1 - 0.81)  # two stationary standard deviations
        drift = feature_drift(*split(x, 10_000), DriftSpec(window=500))
        found += drift.drifted and drift.table.sort_values("z").iloc[-1]["feature"] == "f2"
    assert found >= 19


def test_historical_windows_never_overlap_and_too_little_history_judges_nothing():
    starts = historical_windows(10_000, DriftSpec(window=500))
    assert len(starts) == 20 and (np.diff(starts) >= 500).all()
    assert len(historical_windows(100_000, DriftSpec(window=100, max_windows=50))) == 50
    short = feature_drift(*split(np.random.default_rng(0).standard_normal((5_100, 2)) + 5, 5_000), DriftSpec(window=500))
    assert short.n_windows == 10 and not short.drifted and "19 are needed" in short.describe()
    with pytest.raises(TbError, match="at least 10 rows"):
        DriftSpec(window=5)


def test_max_t_is_exact_for_exchangeable_windows():
    """Under the null every window is alike, so the current one is the top scorer 1 time in (m + 1)."""
    rng = np.random.default_rng(1)
    top = sum(max_t(rng.standard_normal((19, 5)), rng.standard_normal(5))[1] <= 0.05 for _ in range(4000))
    assert abs(top / 4000 - 1 / 20) < 0.012


def test_page_hinkley_matches_its_definition_and_alarms_on_a_shift():
    x = np.random.default_rng(2).normal(1.0, 0.1, 50)
    m = np.cumsum(x - 1.0 - 0.01)
    expected = [m[t] - min(0.0, m[: t + 1].min()) for t in range(50)]
    np.testing.assert_allclose(page_hinkley(x, 1.0, 0.01), expected)
    baseline = np.random.default_rng(3).normal(0.69, 0.2, 500)
    quiet = detect_change(np.random.default_rng(4).normal(0.69, 0.2, 300), baseline)
    shifted = detect_change(
        np.r_[np.random.default_rng(5).normal(0.69, 0.2, 100), np.random.default_rng(6).normal(0.9, 0.2, 200)], baseline
    )
    assert not quiet.fired and shifted.fired and 100 <= shifted.first_alarm < 160


def stream(rng, n, flipped):
    """Events of a calibrated model p = expit(1.2 x); a flipped world pays the other side."""
    p = expit(1.2 * rng.standard_normal(n))
    y = (rng.random(n) < (1 - p if flipped else p)).astype("int64")
    return y, p


def test_a_concept_flip_is_called_decay_within_200_events_and_unchanged_data_is_not():
    flips = quiet = 0
    for seed in range(20):
        rng = np.random.default_rng([seed, 28])
        hold_y, hold_p = stream(rng, 500, False)
        for flipped in (True, False):
            y, p = stream(rng, 200, flipped)
            change = detect_change(log_losses(y, p), log_losses(hold_y, hold_p), spec=ChangeSpec(seed=seed))
            decayed, said = decay_verdict(realized_performance(y, p, hold_y, hold_p, 1.0), change)
            if flipped:
                flips += decayed
            else:
                quiet += decayed
    assert flips >= 19 and quiet <= 1, (flips, quiet)


def test_decay_needs_both_the_detector_and_the_auc_bound():
    rng = np.random.default_rng(7)
    hold_y, hold_p = stream(rng, 500, False)
    y, p = stream(rng, 20, True)
    decayed, said = decay_verdict(
        realized_performance(y, p, hold_y, hold_p, 1.0), detect_change(log_losses(y, p), log_losses(hold_y, hold_p))
    )
    assert not decayed and "30 are needed" in said
    y, p = stream(rng, 400, True)
    realized = realized_performance(y, p, hold_y, hold_p, 1.0)
    assert realized.row("auc").worse and realized.row("log_loss").worse
    decayed, said = decay_verdict(realized, detect_change(log_losses(y, p), log_losses(hold_y, hold_p)))
    assert decayed and said.startswith("the model has decayed: realized AUC")
    # the same events with labels so overlapping that 400 hold about 4 outcomes: the bound no longer says worse
    assert not realized_performance(y, p, hold_y, hold_p, 100.0).row("auc").worse


def test_the_domain_classifier_is_judged_against_its_own_history_too():
    """At phi = 0.99 a classifier tells any two periods apart (AUC near 0.9 on unchanged data): ranked among
    historical windows it says nothing changed; a shifted feature it finds."""
    quiet = domain_shift(*split(ar1(np.random.default_rng([0, 7]), 0.99, 10_500, 4), 10_000), DriftSpec(window=500))
    assert quiet.auc > 0.85 and quiet.p_value > 0.05 and len(quiet.history) == 20
    x = ar1(np.random.default_rng(5), 0.9, 10_500, 4)
    x[10_000:, 1] += 2.0 / np.sqrt(1 - 0.81)
    shifted = domain_shift(*split(x, 10_000), DriftSpec(window=500))
    assert shifted.p_value <= 0.05 and shifted.auc > 0.9 and "historical windows reach a median" in shifted.describe()
