"""Versions, not files: a save is one version folder; readers open the one LATEST names; a version
guarded by blocking checks goes live only when every one of them passed; a writer killed mid-save
leaves the published version whole; earlier versions are bounded; local, no hard links, fsspec."""

import json
import os
import uuid

import pytest
from upath import UPath

from tb_assets.core.errors import TbError
from tb_assets.storage import versions
from tb_assets.storage.records import ModelCard, Selection
from tb_assets.storage.retention import prune_artifacts
from tb_assets.storage.versions import KEEP_FILE, KEEP_VERSIONS
from tb_assets_tests.storage.test_records import card

GUARDS = ("production_model_features_match", "production_model_leakage_sentinels")


def save_model(root, text: bytes, awaits=()) -> ModelCard:
    c = card()
    c.save(root, "SPX", "1d", {"model.txt": text}, awaits=awaits)
    return c


def model_text(root) -> bytes:
    loaded = ModelCard.load(root, "SPX", "1d")
    return loaded.verified(root, "SPX", "1d", "model.txt").read_bytes()


def test_a_guarded_version_goes_live_only_when_every_blocking_check_passed(tmp_path):
    first = save_model(tmp_path, b"good tree")
    partition = first.partition_folder(tmp_path, "SPX", "1d")
    assert versions.latest(partition) == first.version and versions.candidate(partition) is None
    second = save_model(tmp_path, b"new tree", awaits=GUARDS)
    # the new version is complete but waits: readers still open the first, checks judge the second
    assert model_text(tmp_path) == b"good tree"
    assert versions.candidate(partition).awaits == GUARDS
    review = ModelCard.load(tmp_path, "SPX", "1d", review=True)
    assert review.version == second.version and review.verified(tmp_path, "SPX", "1d", "model.txt").read_bytes() == b"new tree"
    one = versions.judge(partition, second.version, GUARDS[0], True, "ok")
    assert not one.published and one.waiting_for == (GUARDS[1],) and model_text(tmp_path) == b"good tree"
    both = versions.judge(partition, second.version, GUARDS[1], True, "ok")
    assert both.published and both.latest == second.version
    assert model_text(tmp_path) == b"new tree" and versions.candidate(partition) is None


def test_a_version_failing_a_blocking_check_never_goes_live_and_is_kept(tmp_path):
    first = save_model(tmp_path, b"good tree")
    partition = first.partition_folder(tmp_path, "SPX", "1d")
    leaking = save_model(tmp_path, b"leaking tree", awaits=GUARDS)
    passed = versions.judge(partition, leaking.version, GUARDS[0], True, "ok")
    refused = versions.judge(partition, leaking.version, GUARDS[1], False, "permuted-label AUC 0.71")
    assert not passed.published and not refused.published and refused.refused_by == (GUARDS[1],)
    assert refused.latest == first.version and model_text(tmp_path) == b"good tree"
    # kept beside the latest for inspection, with the verdicts on it
    kept = versions.version_folder(partition, leaking.version)
    assert (kept / "model.txt").read_bytes() == b"leaking tree"
    assert versions.verdicts(partition, leaking.version)[GUARDS[1]]["description"] == "permuted-label AUC 0.71"
    # the check run again on the kept version, now passing (say a bound was loosened), publishes it
    assert versions.judge(partition, leaking.version, GUARDS[1], True, "ok").published
    assert model_text(tmp_path) == b"leaking tree"


def test_a_superseded_candidate_is_never_published_by_a_late_verdict(tmp_path):
    first = save_model(tmp_path, b"first")
    partition = first.partition_folder(tmp_path, "SPX", "1d")
    older = save_model(tmp_path, b"older candidate", awaits=GUARDS)
    newer = save_model(tmp_path, b"newer candidate", awaits=GUARDS)
    for name in GUARDS:
        assert not versions.judge(partition, older.version, name, True, "ok").published
    assert model_text(tmp_path) == b"first" and versions.candidate(partition).version == newer.version


def test_a_writer_killed_mid_save_leaves_the_published_version_whole(tmp_path, monkeypatch):
    save_model(tmp_path, b"good tree")
    selection = Selection(["a"], 0.2, None, 8, 2)
    selection.save(tmp_path, "SPX", "1d")
    writes = 0
    real = versions.replace_atomically

    def dies_on_the_second_write(path, data, before_replace=None):
        nonlocal writes
        writes += 1
        if writes % 2 == 0:
            raise KeyboardInterrupt("killed")  # the process dies here: nothing after runs
        return real(path, data, before_replace)

    import tb_assets.storage.records as records

    monkeypatch.setattr(records, "replace_atomically", dies_on_the_second_write)
    with pytest.raises(KeyboardInterrupt):
        save_model(tmp_path, b"half written tree")
    with pytest.raises(KeyboardInterrupt):
        Selection(["b", "c"], 0.2, None, 8, 2).save(tmp_path, "SPX", "1d")
    assert model_text(tmp_path) == b"good tree" and Selection.names(tmp_path, "SPX", "1d") == ["a"]
    # the half version is there, named by no pointer, and pruned like any earlier one
    partition = ModelCard.partition_folder(tmp_path, "SPX", "1d")
    assert len(versions.all_versions(partition)) == 2
    monkeypatch.undo()
    assert prune_artifacts(tmp_path, keep=0).versions and len(versions.all_versions(partition)) == 1


def test_publishing_bounds_the_kept_versions_and_spares_latest_candidate_and_keep(tmp_path):
    saved = [save_model(tmp_path, f"tree {i}".encode()) for i in range(KEEP_VERSIONS + 4)]
    partition = saved[0].partition_folder(tmp_path, "SPX", "1d")
    kept = versions.all_versions(partition)
    assert kept == [s.version for s in saved[-(KEEP_VERSIONS + 1) :]]  # the latest and the newest KEEP_VERSIONS before it
    protected = kept[0]
    (versions.version_folder(partition, protected) / KEEP_FILE).write_text("champion of SPX|1d")
    waiting = save_model(tmp_path, b"candidate", awaits=GUARDS)
    report = prune_artifacts(tmp_path, keep=0, dry_run=True)
    assert report.versions and len(versions.all_versions(partition)) == KEEP_VERSIONS + 2  # a dry run removes nothing
    prune_artifacts(tmp_path, keep=0)
    assert versions.all_versions(partition) == sorted([protected, saved[-1].version, waiting.version])
    assert model_text(tmp_path) == f"tree {KEEP_VERSIONS + 3}".encode()


def test_the_flat_layout_of_earlier_releases_is_still_read(tmp_path):
    c = card()
    folder = tmp_path / "production_model" / "SPX" / "1d"
    folder.mkdir(parents=True)
    (folder / "model.txt").write_bytes(b"old tree")
    import hashlib

    c.artifact_sha256 = {"model.txt": hashlib.sha256(b"old tree").hexdigest()}
    (folder / "model_metadata.json").write_text(json.dumps({k: v for k, v in c.__dict__.items() if not k.startswith("_")}))
    loaded = ModelCard.load(tmp_path, "SPX", "1d")
    assert loaded.version is None and model_text(tmp_path) == b"old tree"
    save_model(tmp_path, b"new tree")  # the first versioned save takes over
    assert model_text(tmp_path) == b"new tree" and (folder / "model.txt").read_bytes() == b"old tree"


def test_versions_work_without_hard_links_and_on_an_fsspec_url(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    save_model(tmp_path, b"one")
    save_model(tmp_path, b"two", awaits=GUARDS)
    assert model_text(tmp_path) == b"one"
    root = UPath(f"memory://versions-{uuid.uuid4().hex}")
    first = save_model(root, b"remote one")
    second = save_model(root, b"remote two", awaits=GUARDS)
    partition = first.partition_folder(root, "SPX", "1d")
    assert model_text(root) == b"remote one"
    for name in GUARDS:
        versions.judge(partition, second.version, name, True, "ok")
    assert model_text(root) == b"remote two" and versions.latest(partition) == second.version


def test_publishing_a_version_that_is_not_there_is_refused(tmp_path):
    with pytest.raises(TbError, match="version nope does not exist"):
        versions.publish(tmp_path / "production_model" / "SPX" / "1d", "nope")
    with pytest.raises(ValueError, match="published at once"):
        versions.propose(tmp_path, "v", [])
