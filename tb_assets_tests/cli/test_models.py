"""`tb models`: the registry as tables and JSON, filters, lineage, compare, and clear errors."""

import json

import pytest

from tb_assets.cli import main
from tb_assets.training.registry import ModelRegistry
from tb_assets_tests.training.test_registry import row


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TB_REGISTRY_URL", raising=False)
    with ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}") as reg:
        a, _ = reg.add(row("fp-a", score=0.01, metrics={"r2": 0.01, "rmse": 0.02, "folds": []}, cohort_id="c1"))
        b, _ = reg.add(
            row(
                "fp-b",
                score=-0.02,
                rank_in_cohort=2,
                metrics={"r2": -0.02, "rmse": 0.03, "folds": []},
                cohort_id="c1",
                params={"fit_intercept": False},
            )
        )
        c, _ = reg.add(
            row(
                "fp-c",
                algorithm="lightgbm_classifier",
                task="classification",
                score_name="auc",
                score=0.56,
                metrics={"auc": 0.56, "f1": 0.5, "folds": []},
                cohort_id="c2",
                parent_model_id=a,
                features=["a"],
            )
        )
        d, _ = reg.add(row("fp-d", symbol="IXIC", score=0.0, metrics={"r2": 0.0, "folds": []}, cohort_id="c3", parent_model_id=c))
    return {"a": a, "b": b, "c": c, "d": d}


def tb(capsys, *args) -> tuple[int, str, str]:
    code = main(["models", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def ids_in(table: str) -> list[int]:
    return [int(line.split()[0]) for line in table.splitlines()[2:]]


def test_list_filters_and_sorts(registry, capsys):
    code, out, _ = tb(capsys, "list")
    assert code == 0 and ids_in(out) == [4, 3, 2, 1]  # newest first
    assert ids_in(tb(capsys, "list", "--partition", "SPX|1d")[1]) == [3, 2, 1]
    assert ids_in(tb(capsys, "list", "--algorithm", "lightgbm_classifier")[1]) == [3]
    assert ids_in(tb(capsys, "list", "--metric", "r2")[1]) == [1, 4, 2]  # best first
    assert ids_in(tb(capsys, "list", "--metric", "rmse")[1]) == [1, 2]  # lower is better
    rows = [json.loads(line) for line in tb(capsys, "list", "--json", "--partition", "SPX|1d")[1].splitlines()]
    assert [r["id"] for r in rows] == [3, 2, 1] and rows[0]["parent_model_id"] == 1 and rows[0]["metrics"]["auc"] == 0.56


def test_show_cohort_lineage_and_compare(registry, capsys):
    out = tb(capsys, "show", "3")[1]
    assert "model 3  SPX|1d  lightgbm_classifier" in out and "fingerprint   fp-c" in out and "parent 1" in out
    assert ids_in(tb(capsys, "cohort", "2")[1]) == [1, 2] and ids_in(tb(capsys, "cohort", "c1")[1]) == [1, 2]
    assert ids_in(tb(capsys, "lineage", "3")[1]) == [1, 3, 4]  # its ancestors, itself, its descendants
    out = tb(capsys, "compare", "1", "2")[1]
    assert "param fit_intercept" in out and "True" in out and "False" in out and "r2" in out


def test_errors_name_what_is_wrong(registry, capsys, tmp_path, monkeypatch):
    assert tb(capsys, "show", "42")[0] == 2 and "model 42 is not in the registry" in tb(capsys, "show", "42")[2]
    code, _, err = tb(capsys, "compare", "1")
    assert code == 2 and "expected 2 id(s), got 1" in err
    code, _, err = tb(capsys, "show", "abc")
    assert code == 2 and "'abc' is not a model id" in err
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path / "empty"))
    code, _, err = tb(capsys, "list")
    assert code == 1 and "no registry yet" in err and "model_experiments" in err


def test_a_closed_pipe_ends_quietly(registry, tmp_path):
    import os
    import subprocess
    import sys

    from tb_assets.training.registry import MODELS

    with ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}") as reg, reg.engine.begin() as con:  # ~1 MB of JSON: more than a pipe holds
        con.execute(MODELS.insert(), [{k: v for k, v in vars(row(f"fp-many-{i}")).items() if k != "id"} for i in range(2_000)])
    done = subprocess.run(
        f"'{sys.executable}' -m tb_assets.cli models list -n 0 --json | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert done.stdout.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_production_lists_each_partitions_model_card(tmp_path, monkeypatch, capsys):
    """`tb models production`: the chain's model per partition (holdout AUC and grade, what it was
    trained on, where its params came from), and what to run where there is none."""
    from tb_assets.storage.records import ModelCard

    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    for name in ("TB_SYMBOLS", "TB_TIMEFRAMES", "TB_SOURCE", "TB_ARTIFACTS_URL"):
        monkeypatch.delenv(name, raising=False)
    card = ModelCard(
        training_date="2026-12-06T10:00:00+00:00",
        n_features=2,
        features=["rsi_14", "dist_sma_20"],
        params={"max_depth": 3, "source": "best_params"},
        n_estimators=40,
        train_auc=0.7,
        train_aupr=0.7,
        n_samples=8938,
        positive_rate=0.45,
        date_range=["1991-03-05 00:00:00+00:00", "2026-07-22 00:00:00+00:00"],
        balanced=False,
        scale_pos_weight=None,
        sample_weights_used=True,
        seed=0,
        cv={"n_splits": 5, "embargo_pct": 0.01},
        oof_metrics={"auc": 0.641},
        holdout_metrics={"auc": 0.6374, "n_samples": 1788, "brier_skill": 0.0552},
        library_versions={},
        calibration={"method": "platt", "slope": 0.9, "intercept": 0.01},
    )
    card.save(tmp_path / "artifacts", "VIX", "1d", {})
    code = main(["models", "production", "--json"])
    rows = {r["partition"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert code == 0 and list(rows) == ["SPX|1d", "SPX|1w", "IXIC|1d", "IXIC|1w", "VIX|1d", "VIX|1w"]
    vix = rows["VIX|1d"]
    assert (vix["holdout_auc"], vix["grade"], vix["oof_auc"], vix["events"]) == (0.6374, "acceptable", 0.641, 8938)
    assert vix["params_source"] == "best_params" and vix["trained_on"][0].startswith("1991-03-05")
    folder = tmp_path / "artifacts" / "production_model" / "VIX" / "1d"
    assert vix["card"] == str(folder / "versions" / card.version / "model_metadata.json")
    assert vix["version"] == card.version and vix["unpublished"] is None and rows["SPX|1d"]["card"] is None
    code = main(["models", "production"])
    table = capsys.readouterr().out
    assert code == 0 and "0.6374 (1,788 events)  acceptable  0.0552       platt" in table
    assert "not trained: tb run --partition 'SPX|1d'" in table
    code = main(["models", "production", "--markdown"])
    markdown = capsys.readouterr().out.splitlines()
    assert code == 0 and markdown[0].startswith("| partition | events | out-of-fold AUC | holdout AUC")
    assert "| VIX\\|1d | 8,938 | 0.641 | 0.637 | acceptable | +0.055 | platt | `rsi_14`, `dist_sma_20` |" in markdown  # `|` escaped
    assert "| SPX\\|1d | - | - | not trained | - | - | - | - |" in markdown
    assert main(["models", "list", "--markdown"]) == 2 and "--markdown is for `tb models production`" in capsys.readouterr().err
