"""Optuna studies on a real PostgreSQL server (TB_OPTUNA_STORAGE): resume, parallel trials, and
many partitions starting at once on a fresh database."""

import optuna
import pytest
from optuna.trial import TrialState

from tb_assets.core.modeling.tuning import PruningRules, TuningSpec, tune
from tb_assets_tests.core.modeling.test_tuning import data, open_one
from tb_assets_tests.helpers import spawn_pool

pytestmark = pytest.mark.xdist_group("postgres")  # one PostgreSQL server (a session fixture) for every test that needs one
LOOSE = PruningRules(min_auc=0.0, max_brier=1.0, max_auc_cv=10.0)  # parallel trials sample non-deterministically: prune none


def test_study_on_postgres_runs_trials_in_parallel_and_resumes(postgres):
    url = postgres.new_database("resume")
    X, y, splits = data()
    first = tune(
        X, y, None, splits, TuningSpec(storage=url, study_name="best_params:SYN1:1d", n_trials=4, n_jobs=2, threads=1, rules=LOOSE)
    )
    assert [t.state for t in first.study.trials] == [TrialState.COMPLETE] * 4, [(t.state, t.user_attrs) for t in first.study.trials]
    before = sorted((t.number, tuple(sorted(t.params.items()))) for t in first.study.trials)
    again = tune(
        X, y, None, splits, TuningSpec(storage=url, study_name="best_params:SYN1:1d", n_trials=6, n_jobs=2, threads=1, rules=LOOSE)
    )
    trials = again.study.trials
    assert again.restarted is None and len(trials) == 6
    assert sorted((t.number, tuple(sorted(t.params.items()))) for t in trials if t.number < 4) == before
    # what a second machine sees: the same study, from the server
    assert len(optuna.load_study(study_name="best_params:SYN1:1d", storage=url).trials) == 6


def test_partitions_starting_together_on_a_fresh_postgres(postgres):
    """Optuna creates its tables on first use; six partitions doing so at once on an empty database
    collided in pg_type (4 of 4 rounds had failures before the advisory lock)."""
    with spawn_pool(6) as pool:
        for round_ in range(2):
            url = postgres.new_database(f"fresh{round_}")
            outcomes = pool.map(open_one, [(url, f"best_params:SYM{i}:1d") for i in range(6)])
            assert outcomes == ["ok"] * 6, outcomes
            assert len(optuna.get_all_study_names(url)) == 6
