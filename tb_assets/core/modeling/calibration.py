"""Probabilities that are measured, not assumed: a calibrator fitted on purged out-of-fold predictions.

Undoing the class weight (`estimators.class_weight`) puts a balanced model's mean back near the
positive rate only as far as boosting converged, and a tuned model of few trees is not a
probability at all. Bets are sized from the probability, so it is calibrated from data:

- candidates: `none` (the model's probability as it is), `platt` (a logistic fit on its log-odds:
  slope and intercept, Platt 1999) and `isotonic` (a monotone step function, Zadrozny & Elkan 2002);
- the choice: the lowest Brier score on the out-of-fold predictions, each candidate *cross-fitted*
  (fitted on the other folds' predictions, scored on the fold's own), so the choice is itself out
  of sample; ties keep the simpler candidate;
- the chosen calibrator is refitted on all the out-of-fold predictions and stored with the model
  (a JSON-able record in the model card), and applied wherever a probability leaves the model.

Rows are unweighted: the calibrator estimates P(class 1) per event, which is what sizes a bet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import expit, logit

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.evaluation import Folds, score_folds
from tb_assets.core.modeling.metrics import CVMetrics, fold_metrics, summarize

METHODS = ("none", "platt", "isotonic")  # in order of simplicity: a tie keeps the earlier
EDGE = 1e-4  # probabilities are kept inside [EDGE, 1 - EDGE]: a bet is never sized from a certainty


def _log_odds(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(p, dtype="float64"), EDGE, 1.0 - EDGE))


@dataclass(frozen=True)
class Calibration:
    """A fitted calibrator: `apply(p)` maps a model's probabilities to calibrated ones."""

    method: str = "none"
    slope: float = 1.0  # platt: p' = expit(slope * logit(p) + intercept)
    intercept: float = 0.0
    knots: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())  # isotonic: (p, p') interpolated
    oof_brier: dict = field(default_factory=dict)  # each candidate's cross-fitted Brier: why `method` won
    n_predictions: int = 0  # the out-of-fold predictions it was fitted on

    def apply(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype="float64")
        if self.method == "none":
            out = p
        elif self.method == "platt":
            out = expit(self.slope * _log_odds(p) + self.intercept)
        elif self.method == "isotonic":
            x, y = self.knots
            out = np.interp(p, x, y)  # constant beyond the end knots
        else:
            raise TbError(f"unknown calibration method {self.method!r}: expected one of {', '.join(METHODS)}")
        return np.clip(out, EDGE, 1.0 - EDGE)

    def as_dict(self) -> dict:
        doc = asdict(self)
        doc["knots"] = [list(k) for k in self.knots]
        return doc

    @classmethod
    def from_dict(cls, doc: dict | None) -> Calibration:
        """The calibrator a model card stores (None: a card from before calibration, applied as 'none')."""
        if not doc:
            return cls()
        knots = doc.get("knots") or [[], []]
        return cls(
            method=doc["method"],
            slope=float(doc.get("slope", 1.0)),
            intercept=float(doc.get("intercept", 0.0)),
            knots=(tuple(knots[0]), tuple(knots[1])),
            oof_brier=dict(doc.get("oof_brier", {})),
            n_predictions=int(doc.get("n_predictions", 0)),
        )

    def describe(self) -> str:
        scores = ", ".join(f"{m} {b:.4f}" for m, b in self.oof_brier.items())
        return f"{self.method} (out-of-fold Brier, cross-fitted: {scores})" if scores else self.method


def fit_calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Calibration:
    """One candidate fitted on predictions `p` with outcomes `y`."""
    p, y = np.asarray(p, dtype="float64"), np.asarray(y)
    if method == "none":
        return Calibration("none", n_predictions=len(p))
    if len(np.unique(y)) < 2:  # nothing to calibrate against: the model's probability as it is
        return Calibration("none", n_predictions=len(p))
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, solver="newton-cholesky").fit(_log_odds(p)[:, None], y)  # C large: unpenalised; Newton: 2 params
        return Calibration("platt", slope=float(lr.coef_[0, 0]), intercept=float(lr.intercept_[0]), n_predictions=len(p))
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return Calibration("isotonic", knots=(tuple(iso.X_thresholds_.tolist()), tuple(iso.y_thresholds_.tolist())), n_predictions=len(p))
    raise TbError(f"unknown calibration method {method!r}: expected one of {', '.join(METHODS)}")


def cross_fitted(method: str, p: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Each fold's predictions calibrated by `method` fitted on the other folds' predictions."""
    p, y, fold = np.asarray(p, dtype="float64"), np.asarray(y), np.asarray(fold)
    out = np.empty(len(p))
    for k in np.unique(fold):
        mine = fold == k
        out[mine] = fit_calibrator(method, p[~mine], y[~mine]).apply(p[mine])
    return out


def choose_calibration(
    p: np.ndarray, y: np.ndarray, fold: np.ndarray, methods: tuple[str, ...] = METHODS
) -> tuple[Calibration, np.ndarray]:
    """The calibrator with the lowest cross-fitted Brier on out-of-fold predictions `p` (fold `fold`
    of each), refitted on all of them; and the chosen method's cross-fitted probabilities (what the
    out-of-fold metrics are read on: honest for the calibration step too)."""
    p, y, fold = np.asarray(p, dtype="float64"), np.asarray(y), np.asarray(fold)
    if len(np.unique(fold)) < 2:
        raise TbError("calibration needs out-of-fold predictions from at least two folds")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise TbError(f"unknown calibration method(s) {', '.join(unknown)}: expected {', '.join(METHODS)}")
    candidates = {m: cross_fitted(m, p, y, fold) for m in methods}
    briers = {m: float(np.mean((q - y) ** 2)) for m, q in candidates.items()}
    best = min(methods, key=lambda m: (round(briers[m], 12), methods.index(m)))
    fitted = fit_calibrator(best, p, y)
    chosen = Calibration(fitted.method, fitted.slope, fitted.intercept, fitted.knots, briers, len(p))
    return chosen, candidates[best]


@dataclass
class OutOfFold:
    """A recipe's purged out-of-fold predictions, the calibrator chosen and fitted on them, and the
    fold metrics read on its cross-fitted probabilities."""

    calibration: Calibration
    rows: np.ndarray  # positions of the scored rows (fold by fold)
    fold: np.ndarray  # the fold of each
    raw: np.ndarray  # the model's probabilities
    proba: np.ndarray  # the chosen calibrator's cross-fitted probabilities
    metrics: CVMetrics  # over the folds, of `proba`


def calibrate_out_of_fold(recipe, X, y, weight, splits, *, threads: int = 1) -> OutOfFold:
    """`recipe` (any classifier of the one fit contract) on purged `splits`, its out-of-fold
    predictions calibrated (`choose_calibration`) and scored fold by fold (`metrics.fold_metrics`)."""
    y = np.asarray(y)
    scored = score_folds(recipe, Folds.build(X, y, weight, splits, bin_now=False, threads=threads), scorer=lambda y, p: None)
    rows = np.concatenate([f.test for f in scored])
    fold = np.concatenate([np.full(len(f.test), f.fold) for f in scored])
    raw = np.concatenate([f.prediction for f in scored])
    calibration, proba = choose_calibration(raw, y[rows], fold)
    metrics = summarize([fold_metrics(y[rows][fold == f.fold], proba[fold == f.fold]) for f in scored])
    return OutOfFold(calibration, rows, fold, raw, proba, metrics)


class CalibratedClassifier:
    """A fitted binary classifier and its calibrator: `predict_proba` gives calibrated probabilities;
    everything else (its booster, raw_score, feature names) is the model's."""

    def __init__(self, model, calibration: Calibration):
        self.model = model
        self.calibration = calibration

    def predict_proba(self, X) -> np.ndarray:
        p = self.calibration.apply(self.model.predict_proba(X)[:, 1])
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype("int64")

    def __getattr__(self, name):  # the model's own attributes (booster_, raw_score, classes_...)
        if name in ("model", "calibration"):
            raise AttributeError(name)
        return getattr(self.model, name)
