"""How the zoo is validated: the same splits for every algorithm and combination of a partition.

- walk_forward: the bars' `data_split` train/test blocks when they carry them (each train block
  scored on the test block after it; train rows whose label reaches into that test block are
  purged), else an expanding window of n_splits test blocks;
- purged_kfold: k contiguous folds, purged on label spans, then embargoed (AFML ch. 7);
- holdout: the last 20% of rows in time order, earlier rows whose label reaches into it purged;
- auto: walk_forward over `data_split` when the bars carry it, else purged_kfold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.cv import PurgedKFold, data_split_splits, holdout_start, purged_holdout, walk_forward_splits
from tb_assets.training.problem import Problem

VALIDATIONS = ("auto", "walk_forward", "purged_kfold", "holdout")
HOLDOUT_SHARE = 0.2

Splits = list[tuple[np.ndarray, np.ndarray]]


def validation_splits(problem: Problem, kind: str, n_splits: int, embargo_pct: float) -> tuple[str, Splits]:
    """(the validation actually used, its (train, test) positions)."""
    if kind not in VALIDATIONS:
        raise TbError(f"validation must be one of {', '.join(VALIDATIONS)}, got {kind!r}")
    if kind == "auto":
        kind = "walk_forward_data_split" if problem.data_split is not None else "purged_kfold"
    elif kind == "walk_forward":
        kind = "walk_forward_data_split" if problem.data_split is not None else "walk_forward_expanding"
    if kind == "walk_forward_data_split":
        splits = data_split_splits(problem.t1, pd.Series(problem.data_split, index=problem.t1.index))
    elif kind == "walk_forward_expanding":
        splits = walk_forward_splits(problem.t1, n_splits, embargo_pct)
    elif kind == "purged_kfold":
        splits = list(PurgedKFold(n_splits, problem.t1, embargo_pct).split())
    else:
        splits = [purged_holdout(problem.t1, holdout_start(problem.t1, HOLDOUT_SHARE))]
    empty = [k for k, (train, test) in enumerate(splits) if len(train) == 0 or len(test) == 0]
    if empty:
        raise TbError(f"{kind} validation: fold(s) {empty} have no training or no test rows left after purging")
    return kind, splits
