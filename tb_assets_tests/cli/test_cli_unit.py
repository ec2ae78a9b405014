"""The parts of `tb` that need no Dagster run: partition patterns, the summary, `tb dev`."""

import sys

import pandas as pd
import pytest

from tb_assets import cli
from tb_assets.cli import dev, requests
from tb_assets.cli.run import format_summary
from tb_assets.runs.launch import PartitionOutcome, merge_findings

KEYS = ["SPX|1d", "SPX|1w", "IXIC|1d", "IXIC|1w"]


@pytest.mark.parametrize(
    "patterns,expected",
    [
        (None, KEYS),
        (["SPX|1d"], ["SPX|1d"]),
        (["spx"], ["SPX|1d", "SPX|1w"]),
        (["*|1w"], ["SPX|1w", "IXIC|1w"]),
        (["IXIC|1d,SPX|1w"], ["SPX|1w", "IXIC|1d"]),
        (["IXIC|*", "SPX|1d"], ["SPX|1d", "IXIC|1d", "IXIC|1w"]),
    ],
)
def test_partition_patterns(patterns, expected):
    assert requests.select_partitions(KEYS, patterns) == expected


def test_pattern_matching_nothing_names_the_defined_partitions():
    with pytest.raises(requests.UsageError, match=r"no partition matches 'AAPL'.*SPX\|1d, SPX\|1w"):
        requests.select_partitions(KEYS, ["AAPL"])


def test_summary_table_keeps_errors_apart_from_warn_findings():
    ok = PartitionOutcome(
        "SPX|1d",
        ok=True,
        seconds=1.23,
        assets=7,
        checks_passed=15,
        checks_total=17,
        rows=5031,
        findings=["no edge found (metrics below Acceptable)"],
        holdout_auc=0.6374,
        model_card="/data/artifacts/production_model/SPX/1d/model_metadata.json",
    )
    bad = PartitionOutcome("IXIC|1w", ok=False, seconds=0.5, errors=["bars: boom"])
    regressed = PartitionOutcome("VIX|1d", ok=True, seconds=2.0, errors=["production_model_no_regression failed"])
    lines = format_summary([ok, bad, regressed]).splitlines()
    assert lines[0].split() == [
        "partition",
        "status",
        "assets",
        "checks",
        "bars",
        "rows",
        "seconds",
        "holdout",
        "AUC",
        "ERROR",
        "WARN",
        "findings",
    ]
    # the number to believe, with its grade, and where the model card is
    assert lines[2].split()[:9] == ["SPX|1d", "ok", "7", "15/17", "5,031", "1.2", "0.637", "(acceptable)", "-"]
    assert lines[3].split()[5] == "-"  # no bars rows, no production model: no holdout AUC
    assert lines[2].endswith("no edge found (metrics below Acceptable)")
    assert lines[3].split()[:2] == ["IXIC|1w", "FAILED"] and "bars: boom" in lines[3]
    assert lines[4].split()[:2] == ["VIX|1d", "ERROR"] and "production_model_no_regression failed" in lines[4]
    assert lines[-1].split() == ["SPX|1d", "/data/artifacts/production_model/SPX/1d/model_metadata.json"]
    for row, status in zip(lines[2:5], ("ok", "FAILED", "ERROR")):  # every row's status starts under the header's
        assert row.index(status) == lines[0].index("status")
    assert ok.clean and not bad.clean and not regressed.clean


def test_findings_of_one_kind_merge():
    assert merge_findings(
        ["no edge found (every tuning trial was pruned)", "no edge found (metrics below Acceptable)", "skewed labels", "skewed labels"]
    ) == ["no edge found (every tuning trial was pruned; metrics below Acceptable)", "skewed labels"]


def test_tb_dev_passes_options_through_to_dagster_dev(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(dev, "run_process_group", lambda cmd, cwd: seen.update(argv=cmd, cwd=cwd) or 0)
    assert cli.main(["dev", "-p", "3001", "-h", "0.0.0.0"]) == 0  # -h is dagster dev's host, not help
    argv = seen["argv"]
    assert argv[:4] == [sys.executable, "-m", "dagster", "dev"]
    assert argv[-4:] == ["-p", "3001", "-h", "0.0.0.0"]
    assert argv[argv.index("-w") + 1].endswith("workspace.yaml")


def test_unknown_option_of_tb_run_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--bogus"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_tb_bench_json_has_the_documented_fields(capsys):
    assert cli.main(["bench", "--json", "--only", "aroon_1m"]) == 0
    (row,) = __import__("json").loads(capsys.readouterr().out)
    assert row["name"] == "aroon_1m"
    for key in ("seconds", "peak_mb", "baseline_seconds", "speedup"):
        assert isinstance(row[key], float) and row[key] > 0, key
    assert row["speedup"] == pytest.approx(row["baseline_seconds"] / row["seconds"])


def test_tb_bench_table_list_and_unknown_names(capsys):
    assert cli.main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "features_1m:" in listed and "aroon_1m:" in listed
    assert cli.main(["bench", "--only", "nope"]) == 2
    assert "unknown benchmark(s) nope" in capsys.readouterr().err
    from tb_assets.bench.runner import format_table

    table = format_table([{"name": "x", "seconds": 1.5, "peak_mb": 100.0, "target_seconds": 5.0, "meets_target": True}])
    assert table.splitlines()[2].split() == ["x", "1.500", "100", "<=", "5", "s", "yes"]


def test_process_table_and_group_liveness_read_proc():
    import os
    import subprocess
    import sys

    from tb_assets.cli.dev import process_group_alive, process_table

    assert (os.getpid(), "R", os.getppid(), os.getpgrp()) in process_table()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        assert process_group_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_group_alive(child.pid)  # reaped: the group is gone


def test_the_zoo_benchmarks_partition_is_what_the_zoo_reads():
    """tb bench's zoo_quick builds its own partition: it must hold what the training service reads
    (the targets table's forward targets and weights), or the benchmark breaks unseen."""
    from tb_assets.bench.zoo import zoo_partition
    from tb_assets.training.problem import build_problem

    bars, features, groups, targets = zoo_partition(600, 8)
    for task, target in (("regression", "log_return"), ("classification", "direction"), ("classification", "bin")):
        problem = build_problem(bars, features, targets, list(groups), task=task, target=target)
        assert len(problem.y) > 400 and problem.weight.mean() == pytest.approx(1.0)


def test_a_full_disk_is_a_message_not_a_traceback(monkeypatch, capsys):
    """A full disk surfaced as a 72-line SQLite traceback: `tb` now says what happened, from an
    ENOSPC OSError or a database's "database or disk is full", however deep the cause."""
    import errno
    import sqlite3

    from tb_assets import cli

    def full_sqlite(args):
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise RuntimeError("dagster could not store the event") from exc

    def full_file(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/warehouse/bars/part-0.parquet")

    for func, expected in ((full_sqlite, "the disk holding TB_DATA_DIR"), (full_file, "the disk is full (/data/warehouse")):
        monkeypatch.setattr("tb_assets.cli.partitions.cmd_partitions", func)
        assert cli.main(["partitions"]) == 1
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and "intact" in err
    assert cli.disk_full(ValueError("x")) is None  # anything else is raised as before


def test_the_bars_benchmarks_input_is_clean_minute_bars_across_its_chunks(tmp_path):
    """tb bench's bars_10m writes its Parquet input a chunk at a time: the bars must be what a vendor's
    clean minute file is (no repair, no gap where two chunks meet), or the row measures repairs."""
    from tb_assets.bench.bars import write_minute_bars
    from tb_assets.core.data.bars import prepare_bars
    from tb_assets.sources import make_source

    write_minute_bars(tmp_path, bars=2_500, chunk=1_000)
    raw = make_source("parquet", raw_dir=str(tmp_path)).load("BIG")
    bars, report, base = prepare_bars(raw.frame, symbol="BIG", origin=raw.origin, timeframe="1m")
    assert len(bars) == 2_500 and report.repaired_rows == 0 and base == pd.Timedelta("1min")
    assert (bars["ts"].diff().iloc[1:] == pd.Timedelta("1min")).all()
    assert (bars["open"].iloc[1:].to_numpy() == bars["close"].iloc[:-1].to_numpy()).all()  # chunks continue the walk


def test_artifact_links_only_for_served_local_files(tmp_path):
    from tb_assets.resources import ArtifactStore

    page = tmp_path / "strategy_report" / "VIX" / "1d" / "versions" / "v 1" / "tearsheet.html"
    served = ArtifactStore(root=str(tmp_path), reports_url="http://127.0.0.1:3100/")
    assert served.link(page) == "http://127.0.0.1:3100/strategy_report/VIX/1d/versions/v%201/tearsheet.html"
    assert served.link(tmp_path.parent / "elsewhere.html") is None  # outside the served folder
    assert ArtifactStore(root=str(tmp_path)).link(page) is None  # not served: the UI shows the path
    assert (
        ArtifactStore(root="memory://bucket/artifacts", reports_url="http://127.0.0.1:3100/").link("memory://bucket/artifacts/x.html")
        is None
    )


def test_the_artifact_server_serves_files_on_loopback_and_nothing_else(tmp_path):
    import urllib.error
    import urllib.request

    from tb_assets.cli.report_server import serve_artifacts
    from tb_assets_tests.servers import free_port

    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "page.html").write_text("<p>hello</p>")
    (tmp_path.parent / "secret.txt").write_text("not yours")
    server, base = serve_artifacts(tmp_path / "inside", free_port())
    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(base + "page.html", timeout=10) as answer:
            assert answer.read() == b"<p>hello</p>"
        for path, code in (("", 403), ("../secret.txt", 404), ("%2e%2e/secret.txt", 404)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == code, path
    finally:
        server.shutdown()
        server.server_close()
