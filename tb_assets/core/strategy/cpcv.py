"""Combinatorial purged cross-validation (López de Prado, AFML ch. 12): backtest paths, not one.

The events, in time order, are cut into N contiguous groups. Every choice of k of them is the
test set of one split (C(N, k) splits), trained on the rest. Each training sample whose label
[t0, t1] overlaps a test block's window is purged, by its own t1, with the same purge and embargo
as the project's PurgedKFold (`core.modeling.cv`), block by block, so training data between two
test blocks stays. Every group is tested in C(N-1, k-1) splits, so the splits' out-of-sample
predictions assemble into C(N, k) * k / N complete backtest paths: path j takes, for each group,
the j-th split that tested it. N = 6, k = 2: 15 splits, 5 paths.

Model-agnostic and scikit-learn shaped: `split(X)` yields positional (train, test) arrays, so any
estimator, search or the project's one fit-and-score path can use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError
from tb_assets.core.modeling.cv import label_intervals, purge_and_embargo


class CombinatorialPurgedKFold:
    """C(n_groups, n_test_groups) purged splits of events whose labels end at `t1` (indexed by t0)."""

    def __init__(self, n_groups: int = 6, n_test_groups: int = 2, t1: pd.Series | None = None, embargo_pct: float = 0.0):
        if n_groups < 2:
            raise TbError(f"CombinatorialPurgedKFold: n_groups must be at least 2, got {n_groups}")
        if not 1 <= n_test_groups < n_groups:
            raise TbError(f"CombinatorialPurgedKFold: n_test_groups must be in [1, {n_groups - 1}], got {n_test_groups}")
        if t1 is None:
            raise TbError("CombinatorialPurgedKFold needs t1 (label end times indexed by label start)")
        if not 0.0 <= embargo_pct < 1.0:
            raise TbError(f"CombinatorialPurgedKFold: embargo_pct must be in [0, 1), got {embargo_pct}")
        self.n_groups, self.n_test_groups, self.t1, self.embargo_pct = n_groups, n_test_groups, t1, embargo_pct

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return comb(self.n_groups, self.n_test_groups)

    @property
    def n_paths(self) -> int:
        return comb(self.n_groups - 1, self.n_test_groups - 1)  # = C(N, k) * k / N

    def test_groups(self) -> list[tuple[int, ...]]:
        """The groups each split tests, in split order."""
        return list(combinations(range(self.n_groups), self.n_test_groups))

    def groups(self) -> list[np.ndarray]:
        """Positions of the events in each group (contiguous, in time order)."""
        n = len(self.t1)
        if n < self.n_groups:
            raise TbError(f"{n} events cannot make {self.n_groups} groups")
        return np.array_split(np.arange(n), self.n_groups)

    def split(self, X=None, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.t1)
        if X is not None and len(X) != n:
            raise TbError(f"X has {len(X)} rows but t1 has {n}")
        parts = self.groups()
        t0, end = label_intervals(self.t1)
        embargo = int(n * self.embargo_pct)
        for tested in self.test_groups():
            test = np.concatenate([parts[g] for g in tested])
            train = np.setdiff1d(np.arange(n), test, assume_unique=True)
            for block in _contiguous_runs(tested):  # adjacent test groups are one window
                train = purge_and_embargo(t0, end, np.concatenate([parts[g] for g in block]), train, embargo)
            yield train, test

    def path_splits(self) -> np.ndarray:
        """(n_paths, n_groups) array: entry [p, g] is the split whose predictions for group g
        belong to path p (the p-th split, in split order, that tested g)."""
        out = np.empty((self.n_paths, self.n_groups), dtype=np.int64)
        seen = np.zeros(self.n_groups, dtype=np.int64)
        for split, tested in enumerate(self.test_groups()):
            for g in tested:
                out[seen[g], g] = split
                seen[g] += 1
        return out


def _contiguous_runs(tested: tuple[int, ...]) -> list[list[int]]:
    runs: list[list[int]] = []
    for g in tested:
        if runs and runs[-1][-1] == g - 1:
            runs[-1].append(g)
        else:
            runs.append([g])
    return runs
