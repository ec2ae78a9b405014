"""The parts of `tb` that need no Dagster run: partition patterns, the summary, `tb dev`."""

import sys

import pytest

from tb_assets import cli

KEYS = ["SPX|1d", "SPX|1w", "IXIC|1d", "IXIC|1w"]


@pytest.mark.parametrize(
    "patterns,expected",
    [(None, KEYS), (["SPX|1d"], ["SPX|1d"]), (["spx"], ["SPX|1d", "SPX|1w"]), (["*|1w"], ["SPX|1w", "IXIC|1w"]),
     (["IXIC|1d,SPX|1w"], ["SPX|1w", "IXIC|1d"]), (["IXIC|*", "SPX|1d"], ["SPX|1d", "IXIC|1d", "IXIC|1w"])],
)
def test_partition_patterns(patterns, expected):
    assert cli.select_partitions(KEYS, patterns) == expected


def test_pattern_matching_nothing_names_the_defined_partitions():
    with pytest.raises(cli.UsageError, match=r"no partition matches 'AAPL'.*SPX\|1d, SPX\|1w"):
        cli.select_partitions(KEYS, ["AAPL"])


def test_summary_table_aligns_and_shows_failures():
    text = cli.format_summary(
        [cli.PartitionOutcome("SPX|1d", True, 1.23, 1, 1, 1, 5031), cli.PartitionOutcome("IXIC|1w", False, 0.5, detail="bars: boom")]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["partition", "status", "assets", "checks", "bars", "rows", "seconds", "detail"]
    assert lines[2].split() == ["SPX|1d", "ok", "1", "1/1", "5,031", "1.2"]
    assert lines[3].split()[:2] == ["IXIC|1w", "FAILED"] and lines[3].endswith("bars: boom")
    for row in lines[2:]:  # every row's status starts under the header's
        assert row.index("ok" if "SPX" in row else "FAILED") == lines[0].index("status")


def test_tb_dev_passes_options_through_to_dagster_dev(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli.os, "chdir", lambda path: seen.setdefault("cwd", path))
    monkeypatch.setattr(cli.os, "execvp", lambda prog, argv: seen.setdefault("argv", argv))
    cli.main(["dev", "-p", "3001", "--host", "0.0.0.0"])
    argv = seen["argv"]
    assert argv[:4] == [sys.executable, "-m", "dagster", "dev"]
    assert argv[-4:] == ["-p", "3001", "--host", "0.0.0.0"]
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
    from tb_assets.bench import format_table

    table = format_table([{"name": "x", "seconds": 1.5, "peak_mb": 100.0, "target_seconds": 5.0, "meets_target": True}])
    assert table.splitlines()[2].split() == ["x", "1.500", "100", "<=", "5", "s", "yes"]
