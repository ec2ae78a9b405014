"""Permutation importance in preprocessed space is exactly shuffling the input feature."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tb_assets.core.modeling.evaluation import predicted
from tb_assets.core.modeling.importance import columns_of, permutation_importance
from tb_assets.training.preprocess import build_preprocessor, output_features
from tb_assets_tests.training.frames import FEATURES, GROUPS, partition


@pytest.fixture(scope="module")
def fitted():
    _, features, targets = partition(n=600, signal=0.0, seed=7)
    X = features[FEATURES].to_numpy()[: len(targets)]
    y = targets["bin"].to_numpy()
    pre = build_preprocessor(FEATURES, GROUPS, linear=True, task="classification", p_value_threshold=0.9).fit(X[:400], y[:400])
    model = LogisticRegression().fit(pre.transform(X[:400]), y[:400])
    columns = columns_of(np.array([f for _, f in output_features(pre, FEATURES)]), FEATURES)
    return pre, model, X[400:], y[400:], columns


@settings(max_examples=25, deadline=None)
@given(feature=st.sampled_from(FEATURES), seed=st.integers(0, 2**32 - 1))
def test_shuffling_output_columns_equals_shuffling_the_input_feature(fitted, feature, seed):
    pre, model, X, _, columns = fitted
    order = np.random.default_rng(seed).permutation(len(X))
    shuffled_input = X.copy()
    shuffled_input[:, FEATURES.index(feature)] = X[order, FEATURES.index(feature)]
    slow = predicted(model, pre.transform(shuffled_input))  # the obvious way: shuffle, then preprocess again
    transformed = pre.transform(X)
    fast = transformed.copy()
    fast[:, columns[feature]] = transformed[order][:, columns[feature]]
    np.testing.assert_allclose(predicted(model, fast), slow, rtol=1e-12, atol=0)  # equal up to BLAS summation order


def test_a_pruned_feature_scores_zero_and_a_used_one_is_measured(fitted):
    pre, model, X, y, columns = fitted
    columns = {**columns, "f4": np.array([], dtype="int64")}  # as if pruned
    mean, std = permutation_importance(model, pre.transform(X), y, columns, roc_auc_score, n_repeats=3, seed=0)
    f4 = FEATURES.index("f4")
    assert mean[f4] == 0.0 and std[f4] == 0.0
    assert np.count_nonzero(mean) >= 1 and mean.shape == (len(FEATURES),)
