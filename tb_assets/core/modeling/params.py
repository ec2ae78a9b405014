"""The chain's documented LightGBM parameter sets and class-balance band: plain values, importable
without LightGBM (the model cards and the assets' configs read them)."""

# Documented defaults when best_params found nothing (a moderate, regularised model).
DEFAULT_PARAMS = dict(
    max_depth=5,
    num_leaves=31,
    min_child_samples=50,
    learning_rate=0.05,
    n_estimators=300,
    reg_alpha=0.01,
    reg_lambda=1.0,
    subsample=0.8,
    colsample_bytree=0.8,
)
# Small and fast: feature selection compares feature sets, it does not tune the model.
SELECTION_PARAMS = dict(
    max_depth=4,
    num_leaves=15,
    min_child_samples=20,
    learning_rate=0.1,
    n_estimators=60,
    reg_alpha=0.0,
    reg_lambda=0.0,
    subsample=0.8,
    colsample_bytree=1.0,
)
BALANCE_BAND = (0.4, 0.6)  # 'auto' balancing applies when the positive rate is outside this
