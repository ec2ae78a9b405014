"""What a zoo model is scored on, per validation fold and as the mean over folds.

regression:     r2, mse, mae, rmse, rmse_price (the price the predicted change implies against the
                real future close), direction_accuracy (sign of the prediction against the outcome's)
classification: auc, log_loss, accuracy, precision, recall, f1 (at 0.5), confusion matrix
The cohort ranks by PRIMARY: out-of-sample R² or AUC.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from tb_assets.training.problem import price_from_change

PRIMARY = {"regression": "r2", "classification": "auc"}
LOWER_IS_BETTER = {"mse", "mae", "rmse", "rmse_price", "log_loss"}


def regression_scores(y: np.ndarray, pred: np.ndarray, close: np.ndarray, future_close: np.ndarray, transform: str) -> dict:
    mse = float(skm.mean_squared_error(y, pred))
    price = price_from_change(close, pred, transform)
    return {
        "r2": float(skm.r2_score(y, pred)),
        "mse": mse,
        "mae": float(skm.mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(mse)),
        "rmse_price": float(np.sqrt(np.mean((price - future_close) ** 2))),
        "direction_accuracy": float(np.mean((pred >= 0) == (y >= 0))),
    }


def classification_scores(y: np.ndarray, proba: np.ndarray) -> dict:
    label = (proba >= 0.5).astype("int64")
    tn, fp, fn, tp = skm.confusion_matrix(y, label, labels=[0, 1]).ravel()
    return {
        "auc": float(skm.roc_auc_score(y, proba)),
        "log_loss": float(skm.log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(skm.accuracy_score(y, label)),
        "precision": float(skm.precision_score(y, label, zero_division=0)),
        "recall": float(skm.recall_score(y, label, zero_division=0)),
        "f1": float(skm.f1_score(y, label, zero_division=0)),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def mean_scores(folds: list[dict]) -> dict:
    """Mean of each number over folds (and its std as `<name>_std`); confusion matrices summed."""
    out: dict = {}
    for name in folds[0]:
        if name == "confusion_matrix":
            out[name] = np.sum([f[name] for f in folds], axis=0).tolist()
            continue
        values = np.array([f[name] for f in folds], dtype="float64")
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std(ddof=0))
    return out


def better(metric: str, a: float, b: float) -> bool:
    """Whether `a` beats `b` on `metric`."""
    return a < b if metric in LOWER_IS_BETTER else a > b
