"""`tb prune`: earlier artifact versions beyond --keep and old finished runs go; the latest files,
newer versions and unfinished runs stay; --dry-run removes nothing."""

import dagster as dg

from tb_assets.cli import main
from tb_assets.storage.artifacts import write_atomic
from tb_assets.storage.retention import earlier_versions


def test_prune_keeps_the_newest_versions_and_the_latest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    for name in ("TB_ARTIFACTS_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "artifacts" / "production_model" / "SPX" / "1d"
    for i in range(8):  # eight materializations: the latest and seven earlier versions of each file
        for name in ("model.txt", "model_metadata.json"):
            write_atomic(folder / name, f"{name} {i}".encode())
    versions = sorted(p.name for p in folder.iterdir() if p.name not in ("model.txt", "model_metadata.json"))
    assert len(versions) == 14  # the artifact writer kept seven earlier versions of each
    assert main(["prune", "--keep", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove 12 earlier artifact version(s)" in out and len(list(folder.iterdir())) == 16  # nothing removed
    assert main(["prune", "--keep", "1", "--runs-older-than", "0"]) == 0
    left = sorted(p.name for p in folder.iterdir())
    assert (folder / "model.txt").read_text() == "model.txt 7" and (folder / "model_metadata.json").read_text() == "model_metadata.json 7"
    assert len(left) == 4, left  # each file: the latest and its newest earlier version
    kept = [p for p in folder.iterdir() if p.name.startswith("model.2")]
    assert [p.read_text() for p in kept] == ["model.txt 6"]
    assert earlier_versions(folder, 0) and not earlier_versions(folder, 1)


def test_prune_deletes_old_finished_runs_only(tmp_path):
    from tb_assets.runs.retention import prune_runs

    @dg.asset
    def tiny() -> int:
        return 1

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert dg.materialize([tiny], instance=instance).success
        assert len(instance.get_runs()) == 1
        assert prune_runs(instance, 1.0) == [] and len(instance.get_runs()) == 1  # not a day old
        assert len(prune_runs(instance, 0.0, dry_run=True)) == 1 and len(instance.get_runs()) == 1
        assert len(prune_runs(instance, 0.0)) == 1 and instance.get_runs() == []
