"""Feature selection: the prefilter keeps what carries signal, forward selection finds it."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tb_assets.core.modeling.cv import PurgedKFold
from tb_assets.core.modeling.selection import SelectionSpec, cv_auc, f_test_prefilter, forward_select, select_features, standardise


def data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"noise_{i}" for i in range(6)])
    X["strong"] = rng.normal(size=n)
    X["weak"] = rng.normal(size=n)
    X["copy_of_strong"] = X["strong"] + rng.normal(0, 0.05, n)
    logit = 1.5 * X["strong"] + 0.5 * X["weak"]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    t = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    splits = list(PurgedKFold(4, pd.Series(t, index=t)).split())
    return X, y, splits


def test_prefilter_matches_the_textbook_f_test_and_keeps_the_best_when_all_fail():
    X, y, _ = data()
    kept, table = f_test_prefilter(X, y, 0.05)
    assert {"strong", "weak", "copy_of_strong"} <= set(kept) and table["feature"].iloc[0] in ("strong", "copy_of_strong")
    # with two groups the F-test is the squared two-sample t-test (pooled variance)
    z = standardise(X)["weak"]
    t_stat, p = stats.ttest_ind(z[y == 1], z[y == 0])
    row = table.set_index("feature").loc["weak"]
    assert row["f_stat"] == pytest.approx(t_stat**2) and row["p_value"] == pytest.approx(p)
    assert row["std_coef"] == pytest.approx(np.mean(z * (y - y.mean())))
    const = f_test_prefilter(X.assign(flat=1.0), y, 0.05)[1].set_index("feature").loc["flat"]
    assert const["p_value"] == 1.0 and const["f_stat"] == 0.0
    noise_only = X[[c for c in X.columns if c.startswith("noise")]]
    kept, table = f_test_prefilter(noise_only, y, 1e-12)
    assert kept == [table["feature"].iloc[0]]


def test_standardise_imputes_and_survives_constants():
    X = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [2.0, 2.0, 2.0], "c": [np.inf, 1.0, 0.0]})
    Z = standardise(X)
    assert Z["a"].tolist() == pytest.approx([-1.224744871, 0.0, 1.224744871]) and (Z["b"] == 0).all() and np.isfinite(Z.to_numpy()).all()


def test_forward_selection_finds_the_signal_and_skips_redundant_copies():
    X, y, splits = data()
    chosen, history, scored = forward_select(X, y, splits, SelectionSpec(epsilon=0.002, n_jobs=2))
    # every step scores each remaining candidate, the step that stops included: the trials a DSR counts
    assert scored == sum(X.shape[1] - k for k in range(min(len(chosen) + 1, X.shape[1])))
    assert chosen[0] in ("strong", "copy_of_strong") and "weak" in chosen
    assert not {"strong", "copy_of_strong"} <= set(chosen[:2])  # the copy adds nothing once one is in
    assert list(history["step"]) == list(range(1, len(chosen) + 1))
    assert (history["gain"] > 0.002).all() and history["auc"].is_monotonic_increasing
    assert history["auc"].iloc[0] == pytest.approx(cv_auc(X[[chosen[0]]].to_numpy(), y, splits))
    capped, _, _ = forward_select(X, y, splits, SelectionSpec(max_features=1))
    assert capped == chosen[:1]


def test_selection_on_noise_keeps_one_feature_and_records_why():
    X, y, splits = data()
    y = np.random.default_rng(5).integers(0, 2, len(y))  # labels unrelated to X
    res = select_features(X, y, splits, SelectionSpec(epsilon=0.02))
    assert len(res.selected) == 1 and res.history.empty and res.selected[0] == res.candidates[0]


def test_a_feature_that_is_the_label_ranks_first_in_the_prefilter_never_dropped():
    """Constant within each class: f_classif's within-class variance cancels to a hair below 0 and it
    reports F < 0 / p nan; that is perfect separation (a leak) and must lead the table with p = 0."""
    X, y, _ = data()
    leak = X.assign(leak=y.astype(float))
    for rows in (slice(None), slice(0, 793)):  # both sizes seen in practice (one gave F = -8e16)
        kept, table = f_test_prefilter(leak.iloc[rows], y[rows], 0.05)
        assert table["feature"].iloc[0] == "leak" and "leak" in kept
        assert table["p_value"].iloc[0] == 0.0 and table["f_stat"].iloc[0] == np.inf


def test_the_zoo_pruning_keeps_a_perfect_separator_as_selection_does():
    """One p-value filter for the chain and the training service: the zoo's pruning inside each fold
    (PValuePruner, on preprocessed columns) keeps the feature that is the label, where it once mapped
    its nan p-value to 1 and dropped it."""
    from sklearn.preprocessing import StandardScaler

    from tb_assets.core.modeling.prefilter import PValuePruner, univariate_tests

    X, y, _ = data()
    for rows in (slice(None), slice(0, 793)):
        leak = X.assign(leak=y.astype(float)).iloc[rows]
        scaled = StandardScaler().fit_transform(leak)  # what the zoo's pruning sees (its preprocessing scales first)
        pruner = PValuePruner(0.05, "classification").fit(scaled, y[rows])
        assert pruner.support_[-1] and pruner.pvalues_[-1] == 0.0  # the old pruner: p 1.0, dropped
        assert univariate_tests(leak.to_numpy(), y[rows])[1][-1] == 0.0  # unscaled: the same verdict
    constant = PValuePruner(0.05, "regression").fit(np.column_stack([np.ones(50), np.arange(50.0)]), np.arange(50.0))
    assert constant.pvalues_[0] == 1.0 and list(constant.support_) == [False, True]
