"""The permuted-label sentinel and the plausibility ceiling, without Dagster."""

import numpy as np
import pandas as pd

from tb_assets.core.modeling.cv import PurgedKFold
from tb_assets.core.modeling.evaluation import Folds, cv_metrics
from tb_assets.core.modeling.leakage import permuted_label_auc, plausible_ceiling, sentinel_problems
from tb_assets.core.modeling.models import LightGBMClassifier
from tb_assets.core.modeling.params import DEFAULT_PARAMS


def test_permuted_labels_score_a_coin_where_the_real_ones_do_not():
    rng = np.random.default_rng(1)
    n = 2000
    X = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * X["signal"]))).astype(int).to_numpy()
    t = pd.date_range("2015-01-01", periods=n, freq="D", tz="UTC")
    splits = list(PurgedKFold(5, pd.Series(t + pd.Timedelta(days=2), index=t), 0.01).split(X))
    model = LightGBMClassifier({**DEFAULT_PARAMS, "n_estimators": 60})
    real = cv_metrics(model, Folds.build(X, y, None, splits)).auc
    permuted = permuted_label_auc(model, X, y, None, splits, seed=0)
    assert real > 0.75 and abs(permuted - 0.5) < 0.05
    assert permuted_label_auc(model, X, y, None, splits, seed=0) == permuted  # seeded: repeatable
    assert permuted_label_auc(model, X, y, None, splits, seed=1) != permuted


def test_sentinel_rules():
    assert plausible_ceiling("1d") == 0.80 and plausible_ceiling("1w") == 0.80 and plausible_ceiling("5m") == 0.75
    assert plausible_ceiling("1h", daily=0.9, intraday=0.7) == 0.7
    assert sentinel_problems(0.52, {"out-of-fold": 0.6, "holdout": 0.58}, tolerance=0.06, ceiling=0.8, timeframe="1d") == []
    problems = sentinel_problems(0.62, {"out-of-fold": 0.6, "holdout": 0.85}, tolerance=0.06, ceiling=0.8, timeframe="1d")
    assert problems == ["permuted-label AUC 0.620 is not 0.5 +/- 0.06",
                        "holdout AUC 0.850 is implausibly high for 1d bars (> 0.8): look for leakage"]
    assert sentinel_problems(0.43, {}, tolerance=0.06, ceiling=0.8, timeframe="1d")  # below the band too
