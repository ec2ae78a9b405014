"""Tuning: pruning rules, the all-pruned message, resuming a study, atomic artifacts."""

import os

import numpy as np
import optuna
import pandas as pd
import pytest

from tb_assets.core.modeling.cv import PurgedKFold
from tb_assets.core.modeling.estimators.lightgbm import lgb_params
from tb_assets.core.modeling.metrics import FoldMetrics
from tb_assets.core.modeling.tuning import AllTrialsPruned, PruningRules, TuningSpec, open_study, storage_url, tune
from tb_assets.storage.artifacts import write_atomic
from tb_assets_tests.helpers import spawn_pool


def fm(auc, brier=0.24):
    return FoldMetrics(auc, 0.5, brier, 0.5, 0.0)


def test_pruning_rules():
    r = PruningRules()
    assert r.broken([fm(0.60)]) is None
    assert r.broken([fm(0.60), fm(0.53)]) == "min_auc"
    assert r.broken([fm(0.60, brier=0.27)]) == "max_brier"
    wild = [fm(0.56), fm(0.95)]
    assert r.broken(wild) is None  # CV > 0.20 but only two folds so far
    assert r.broken([*wild, fm(0.56)]) == "max_auc_cv"
    assert PruningRules(min_auc=0.5).broken([fm(0.53)]) is None


def test_num_leaves_capped_by_depth():
    p = lgb_params(
        dict(
            max_depth=3,
            num_leaves=100,
            min_child_samples=20,
            learning_rate=0.1,
            reg_alpha=0.1,
            reg_lambda=0.1,
            subsample=0.8,
            colsample_bytree=0.8,
        )
    )
    assert p["num_leaves"] == 8 and p["bagging_freq"] == 1


def data(n=800, signal=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-signal * X["a"]))).astype(int)
    t = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    return X, y, list(PurgedKFold(4, pd.Series(t + pd.Timedelta(days=2), index=t)).split())


@pytest.mark.parametrize("rules,word", [(PruningRules(min_auc=0.99), "min_auc"), (PruningRules(max_brier=0.01), "max_brier")])
def test_every_trial_pruned_says_which_rule_and_how_to_relax(tmp_path, rules, word):
    X, y, splits = data()
    with pytest.raises(AllTrialsPruned) as err:
        tune(X, y, None, splits, TuningSpec(storage=storage_url(tmp_path / "s.db"), study_name="s", n_trials=3, rules=rules))
    assert "3 trial(s): a fold" in str(err.value) and f"{word}=" in str(err.value)
    assert err.value.counts == {"pruned": 3} and err.value.pruned_by == {word: 3}


def test_resume_keeps_finished_trials_and_fails_stale_ones(tmp_path):
    X, y, splits = data()
    url = storage_url(tmp_path / "study.db")
    first = tune(X, y, None, splits, TuningSpec(storage=url, study_name="p", n_trials=3, rules=PruningRules(min_auc=0.0)))
    before = [(t.number, t.params) for t in first.study.trials]
    # a crash leaves a trial RUNNING
    stale = open_study(url, "p", resume=True, seed=0)[0].ask()
    again = tune(X, y, None, splits, TuningSpec(storage=url, study_name="p", n_trials=5, rules=PruningRules(min_auc=0.0)))
    trials = again.study.trials
    assert [(t.number, t.params) for t in trials[:3]] == before  # the same study, earlier trials kept
    assert trials[stale.number].state == optuna.trial.TrialState.FAIL
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == 5 and again.metrics.auc > 0.6
    assert again.restarted is None
    fresh = tune(X, y, None, splits, TuningSpec(storage=url, study_name="p", n_trials=2, resume=False, rules=PruningRules(min_auc=0.0)))
    assert len(fresh.study.trials) == 2 and fresh.restarted == "resume=False"


def test_a_study_resumes_only_on_the_same_problem(tmp_path):
    X, y, splits = data()
    url = storage_url(tmp_path / "study.db")
    loose = PruningRules(min_auc=0.0)
    tune(X, y, None, splits, TuningSpec(storage=url, study_name="p", n_trials=2, rules=loose))
    assert tune(X, y, None, splits, TuningSpec(storage=url, study_name="p", n_trials=2, rules=loose)).restarted is None
    # one label changed: the stored trials were scored on other data, so they cannot be the best of this one
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    changed = tune(X, y2, None, splits, TuningSpec(storage=url, study_name="p", n_trials=2, rules=loose))
    assert changed.restarted and "changed" in changed.restarted and len(changed.study.trials) == 2
    other_rules = tune(X, y2, None, splits, TuningSpec(storage=url, study_name="p", n_trials=2, rules=PruningRules(min_auc=0.01)))
    assert other_rules.restarted and len(other_rules.study.trials) == 2


def test_every_complete_trial_hands_over_its_out_of_fold_predictions(tmp_path):
    """The strategy layer scores every trial's out-of-sample returns (PBO, the DSR's variance): each
    complete trial's predictions must be what its own params predict on each fold's test rows."""
    from tb_assets.core.modeling.estimators.contract import fit
    from tb_assets.core.modeling.estimators.lightgbm import LightGBMClassifier
    from tb_assets.core.modeling.tuning import fold_of_rows

    X, y, splits = data()
    kept = {}
    spec = TuningSpec(
        storage=storage_url(tmp_path / "s.db"),
        study_name="p",
        n_trials=4,
        rules=PruningRules(min_auc=0.58),
        keep_predictions=lambda fingerprint, number, predictions: kept.setdefault(number, (fingerprint, predictions)),
    )
    result = tune(X, y, None, splits, spec)
    complete = {t.number for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert set(kept) == complete and complete
    assert {fp for fp, _ in kept.values()} == {result.fingerprint}
    folds = fold_of_rows(splits, len(y))
    assert (folds >= 0).all() and sorted(set(folds)) == [0, 1, 2, 3]
    number = min(complete)
    trial = result.study.trials[number]
    predictions = kept[number][1]
    assert np.isfinite(predictions).all()
    train, test = splits[2]
    model = fit(LightGBMClassifier(trial.params, seed=0, threads=1), X.iloc[train], y[train], None)
    np.testing.assert_allclose(predictions[test], model.predict_proba(X.iloc[test])[:, 1], atol=1e-12)


def test_a_pruned_trial_hands_over_the_folds_it_reached():
    """The DSR counts pruned trials: their predictions of the folds they finished are out of sample too."""
    X, y, splits = data()
    kept = {}
    spec = TuningSpec(
        storage="sqlite:///:memory:",
        study_name="p",
        n_trials=3,
        rules=PruningRules(min_auc=0.99),
        keep_predictions=lambda fingerprint, number, predictions: kept.setdefault(number, predictions),
    )
    with pytest.raises(AllTrialsPruned):
        tune(X, y, None, splits, spec)
    assert sorted(kept) == [0, 1, 2]
    first_fold = splits[0][1]
    for predictions in kept.values():  # pruned at fold 0: its rows predicted, every other row NaN
        assert np.isfinite(predictions[first_fold]).all()
        assert np.isnan(np.delete(predictions, first_fold)).all()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "model.txt"
    write_atomic(target, b"version 1")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"version 2 that never lands")
    monkeypatch.undo()
    assert target.read_bytes() == b"version 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.txt"]  # no temp file left behind
    write_atomic(target, b"version 2")
    kept = [p for p in tmp_path.iterdir() if p.name != "model.txt"]
    assert target.read_bytes() == b"version 2" and len(kept) == 1 and kept[0].read_bytes() == b"version 1"


def open_one(args):
    url, name = args
    try:
        open_study(url, name, resume=True, seed=0)
        return "ok"
    except Exception as exc:  # reported, so the assertion shows what went wrong
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def test_partitions_starting_together_on_a_fresh_sqlite_file(tmp_path):
    """Partitions sharing one SQLite file (TB_OPTUNA_STORAGE), or a run and a reader of the same
    partition, create Optuna's tables at once on first use: "table studies already exists",
    "UNIQUE constraint failed: alembic_version" (9 of 10 rounds of 4 failed before the lock file)."""
    with spawn_pool(4) as pool:
        for round_ in range(3):
            url = storage_url(tmp_path / f"fresh{round_}.db")
            outcomes = pool.map(open_one, [(url, f"best_params:SYM{i}:1d") for i in range(4)])
            assert outcomes == ["ok"] * 4, outcomes
            assert len(optuna.get_all_study_names(url)) == 4
