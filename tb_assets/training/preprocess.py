"""What happens to the features before a zoo model sees them: a scikit-learn Pipeline fitted on
training rows only (each fold's own, then all rows for the final model).

1. by feature group (core/features/matrix.GROUPS):
   regime   (categorical): the most frequent value fills gaps; one-hot for linear models, as is for trees
   robust   (heavy-tailed): mean fills gaps, then RobustScaler (median / IQR)
   bounded  (oscillators on a fixed scale): mean fills gaps, nothing else
   standard (returns, z-scores, distances): mean fills gaps, then StandardScaler
2. p-value pruning (core.modeling.prefilter, the chain's selection uses the same test): an F-test
   of each column against the target on the training rows; columns with p >= p_value_threshold are
   dropped (the strongest one is kept if all would go; a perfectly separating one is never dropped).

A child model (`parent_model_id`) starts from its parent's input features and replays, inside each
fold, the p-value pruning of every ancestor (`InheritedPruning`, first step "lineage"): the columns
an ancestor would have dropped on these training rows are set to a constant, which the child's own
pruning then drops. A parent's selection made on all rows would have seen the child's test folds
(a permuted target scored CV AUC 0.512 through it).

Trees do not care about monotone scaling; they get it anyway so that every algorithm reads the
same columns, and a mean filled into a gap is the same number for all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, RobustScaler, StandardScaler

from tb_assets.core.errors import TbError
from tb_assets.core.features.matrix import GROUPS
from tb_assets.core.modeling.prefilter import PValuePruner


def _group_steps(group: str, linear: bool) -> list[tuple[str, object]]:
    if group == "regime":
        fill = SimpleImputer(strategy="most_frequent", keep_empty_features=True)
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        return [("fill", fill), ("onehot", onehot)] if linear else [("fill", fill)]
    steps: list[tuple[str, object]] = [("fill", SimpleImputer(strategy="mean", keep_empty_features=True))]
    if group == "robust":
        steps.append(("scale", RobustScaler()))
    elif group == "standard":
        steps.append(("scale", StandardScaler()))
    return steps


@dataclass(frozen=True)
class InheritedPruning:
    """One ancestor's p-value pruning, replayed on each fold's training rows of its descendants."""

    model_id: int
    linear: bool  # the ancestor's preprocessing (what its F-tests were run on)
    p_value_threshold: float | None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> InheritedPruning:
        return cls(int(doc["model_id"]), bool(doc["linear"]), doc.get("p_value_threshold"))


class LineageSelection(TransformerMixin, BaseEstimator):
    """The ancestors' pruning, in order, fitted on the rows this step is fitted on: `support_` marks
    the input features every ancestor keeps; `transform` sets the others to 0 (a constant: the
    child's pruning drops it), so the columns keep their positions for the group transforms."""

    def __init__(self, features: list[str], groups: dict[str, str], task: str, stages: tuple[InheritedPruning, ...] = ()):
        self.features = features
        self.groups = groups
        self.task = task
        self.stages = stages

    def fit(self, X, y):
        X = np.asarray(X, dtype="float64")
        keep = np.ones(X.shape[1], dtype=bool)
        for stage in self.stages:
            ancestor = build_preprocessor(
                self.features, self.groups, linear=stage.linear, task=self.task, p_value_threshold=stage.p_value_threshold
            ).fit(self._masked(X, keep), y)
            kept = {feature for _, feature in output_features(ancestor, self.features)}
            narrowed = keep & np.array([f in kept for f in self.features])
            keep = narrowed if narrowed.any() else keep  # an ancestor keeps its strongest column: never nothing
        self.support_ = keep
        self.n_features_in_ = X.shape[1]
        return self

    @staticmethod
    def _masked(X: np.ndarray, keep: np.ndarray) -> np.ndarray:
        if keep.all():
            return X
        out = X.copy()
        out[:, ~keep] = 0.0
        return out

    def transform(self, X):
        return self._masked(np.asarray(X, dtype="float64"), self.support_)


def build_preprocessor(
    features: list[str],
    groups: dict[str, str],
    *,
    linear: bool,
    task: str,
    p_value_threshold: float | None,
    lineage: tuple[InheritedPruning, ...] = (),
) -> Pipeline:
    """The unfitted preprocessing of `features` (columns of a float matrix, in this order).
    A feature without a group is scaled as 'standard'. With `lineage`, the ancestors' pruning runs
    first, and the model's own pruning drops what they dropped even when it prunes nothing else."""
    unknown = sorted({g for g in groups.values() if g not in GROUPS})
    if unknown:
        raise TbError(f"unknown feature group(s) {unknown}: expected {GROUPS}")
    parts = []
    for group in GROUPS:
        columns = [i for i, f in enumerate(features) if groups.get(f, "standard") == group]
        if columns:
            parts.append((group, Pipeline(_group_steps(group, linear)), columns))
    columns = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    if not lineage:
        return Pipeline([("columns", columns), ("prune", PValuePruner(p_value_threshold, task))])
    # p < 1 keeps every column that varies: the masked (constant) ones go
    own = PValuePruner(1.0 if p_value_threshold is None else p_value_threshold, task)
    return Pipeline([("lineage", LineageSelection(features, groups, task, tuple(lineage))), ("columns", columns), ("prune", own)])


def output_features(preprocessor: Pipeline, features: list[str]) -> list[tuple[str, str]]:
    """(column name, input feature) of each column a fitted preprocessor outputs, in order: a one-hot
    column is named 'feature=value' and belongs to its feature."""
    columns: ColumnTransformer = preprocessor.named_steps["columns"]
    out: list[tuple[str, str]] = []
    for group, pipe, idx in columns.transformers_:
        if group == "remainder" or pipe == "drop":
            continue
        names = [features[i] for i in idx]
        onehot = pipe.named_steps.get("onehot") if isinstance(pipe, Pipeline) else None
        if onehot is None:
            out.extend((n, n) for n in names)
        else:
            for name, categories in zip(names, onehot.categories_):
                out.extend((f"{name}={c:g}" if isinstance(c, float) else f"{name}={c}", name) for c in categories)
    keep = preprocessor.named_steps["prune"].support_
    if len(keep) != len(out):
        raise TbError(f"preprocessor outputs {len(keep)} columns but {len(out)} were named")
    return [pair for pair, kept in zip(out, keep) if kept]
