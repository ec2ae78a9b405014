"""The planted-signal chain the modeling and strategy tests share: computed once per worker."""

import dataclasses
import shutil

import dagster as dg
import pytest

from tb_assets.definitions import build_definitions
from tb_assets_tests.conftest import make_settings
from tb_assets_tests.helpers import published, run

# the tests on the planted chain share one session fixture: one xdist group runs them on one worker
PLANTED = pytest.mark.xdist_group("planted")
# few trials, so loosen the pruning a little; the rules themselves are pinned in core/modeling/test_tuning.py
FAST = {
    "ops": {
        "best_params": {"config": {"n_trials": 6, "min_auc": 0.0, "max_brier": 0.3}},
        "selected_features": {"config": {"max_features": 6}},
    }
}


def synthetic(tmp_path, signal):
    settings = make_settings(
        tmp_path,
        source="synthetic",
        symbols=("SYN1",),
        timeframes=("1d",),
        context_symbols=(),
        synthetic_bars=2500,
        synthetic_signal=signal,
    )
    return settings, build_definitions(settings)


def model_dir(settings):
    return published(settings, "production_model")


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """One planted-signal chain shared by the PLANTED tests (one xdist group, so one
    worker computes it), with an untouched copy of its data folder for tests that change data."""
    settings, defs = synthetic(tmp_path_factory.mktemp("planted"), 0.35)
    instance = dg.DagsterInstance.ephemeral()
    result = run(defs, "SYN1|1d", FAST, instance=instance)
    shutil.copytree(settings.data_dir, pristine(settings))
    return settings, defs, instance, result


def pristine(settings):
    return settings.data_dir.with_name(settings.data_dir.name + "_pristine")


def pristine_copy(planted, tmp_path):
    """Settings and definitions on a private copy of the planted chain as first materialized."""
    settings, _, _, _ = planted
    data_dir = shutil.copytree(pristine(settings), tmp_path / "data")
    copied = dataclasses.replace(settings, data_dir=data_dir)
    return copied, build_definitions(copied)
