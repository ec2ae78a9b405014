"""The environment-variable contract (DESIGN §3)."""

import re

import pandas as pd
import pytest

from tb_assets.core.errors import ConfigError
from tb_assets.resources.secrets import CREDENTIAL_SETTINGS
from tb_assets.settings import PROJECT_ROOT, load_settings

ALL = [
    "TB_DATA_DIR",
    "TB_WAREHOUSE_URL",
    "TB_ARTIFACTS_URL",
    "TB_PROFILE",
    "TB_SOURCE",
    "TB_RAW_DIR",
    "TB_SYMBOLS",
    "TB_TIMEFRAMES",
    "TB_CONTEXT_SYMBOLS",
    "TB_SOURCE_TZ",
    "TB_SYNTHETIC_FREQ",
    "TB_SYNTHETIC_BARS",
    "TB_SYNTHETIC_SEED",
    "TB_SYNTHETIC_SIGNAL",
    "TB_REFRESH_CRON",
    "TB_AUTOMATION",
    "TB_ALERT_WEBHOOK",
    "TB_ALERT_SMTP",
    "TB_ALERT_EMAIL_TO",
    "TB_ALERT_EMAIL_FROM",
    "TB_ALERT_SMTP_STARTTLS",
    "TB_ALERT_SMTP_USER",
    "TB_ALERT_WARN",
    "TB_UI_URL",
    "TB_ALERT_INTERVAL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ALL:
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_no_configuration():
    s = load_settings()
    assert s.source == "sample" and s.symbols == ("SPX", "IXIC", "VIX") and s.timeframes == ("1d", "1w")
    assert s.context_symbols == ("VIX",) and s.data_dir == PROJECT_ROOT / "data"
    assert s.warehouse == str(PROJECT_ROOT / "data" / "warehouse") and s.views_path == PROJECT_ROOT / "data" / "warehouse.duckdb"


def test_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("TB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TB_SOURCE", "Synthetic")
    monkeypatch.setenv("TB_SYMBOLS", "aaa, bbb")
    monkeypatch.setenv("TB_TIMEFRAMES", "1h,5m")
    monkeypatch.setenv("TB_SYNTHETIC_SIGNAL", "0.25")
    s = load_settings()
    assert (s.source, s.symbols, s.timeframes, s.synthetic_signal) == ("synthetic", ("AAA", "BBB"), ("5m", "1h"), 0.25)
    assert s.context_symbols == ("SYN0",) and s.data_dir == tmp_path
    assert s.warehouse == str(tmp_path / "warehouse")  # follows TB_DATA_DIR unless set
    assert s.artifacts == str(tmp_path / "artifacts")
    monkeypatch.setenv("TB_WAREHOUSE_URL", "s3://team-bucket/tb/warehouse")
    monkeypatch.setenv("TB_ARTIFACTS_URL", "file:///mnt/shared/tb/artifacts")
    s = load_settings()
    assert (s.warehouse, s.artifacts) == ("s3://team-bucket/tb/warehouse", "file:///mnt/shared/tb/artifacts")


def test_context_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("TB_CONTEXT_SYMBOLS", "none")
    assert load_settings().context_symbols == ()


def test_raw_dir_symbols_discovered(monkeypatch, tmp_path):
    for sym in ("msft", "AAPL"):
        pd.DataFrame({"Date": ["2024-01-02"], "Open": [1], "High": [1], "Low": [1], "Close": [1]}).to_csv(
            tmp_path / f"{sym}.csv", index=False
        )
    monkeypatch.setenv("TB_SOURCE", "csv")
    monkeypatch.setenv("TB_RAW_DIR", str(tmp_path))
    assert load_settings().symbols == ("AAPL", "MSFT")


def test_a_stray_file_in_the_input_folder_is_listed_and_ignored(monkeypatch, tmp_path, capsys):
    """One `AAA (1).csv` (a browser's second download) used to stop every command with an invalid
    symbol: files and folders whose names are not symbols are now ignored and listed."""
    from tb_assets.cli import main
    from tb_assets.sources import make_source

    frame = pd.DataFrame({"Date": ["2024-01-02"], "Open": [1], "High": [1], "Low": [1], "Close": [1]})
    for name in ("SPX.csv", "AAA (1).csv", "notes b.csv"):
        frame.to_csv(tmp_path / name, index=False)
    monkeypatch.setenv("TB_SOURCE", "csv")
    monkeypatch.setenv("TB_RAW_DIR", str(tmp_path))
    monkeypatch.setenv("TB_TIMEFRAMES", "1d")
    monkeypatch.setenv("TB_CONTEXT_SYMBOLS", "none")
    assert load_settings().symbols == ("SPX",)
    assert make_source("csv", raw_dir=str(tmp_path)).ignored_entries() == ["AAA (1).csv", "notes b.csv"]
    assert main(["partitions"]) == 0
    out = capsys.readouterr()
    assert out.out.split() == ["SPX|1d"] and "ignored AAA (1).csv in TB_RAW_DIR" in out.err
    hive = tmp_path / "pq"
    for folder in ("symbol=ES", "symbol=ES copy"):
        (hive / folder).mkdir(parents=True)
        frame.to_parquet(hive / folder / "part-0.parquet")
    source = make_source("parquet", raw_dir=str(hive))
    assert source.list_symbols() == ["ES"] and source.ignored_entries() == ["symbol=ES copy"]


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("TB_SOURCE", "s3", "TB_SOURCE='s3'"),
        ("TB_SYMBOLS", "SPX,a/b", "invalid symbol 'a/b'"),
        ("TB_TIMEFRAMES", "1d,3d", "unsupported timeframe '3d'"),
        ("TB_SYNTHETIC_BARS", "many", "TB_SYNTHETIC_BARS='many' is not a valid int"),
        ("TB_SYNTHETIC_BARS", "100000000000", "TB_SYNTHETIC_BARS=100000000000 is out of range: it must be between 2 and 50,000,000"),
        ("TB_SYNTHETIC_SEED", "-1", "TB_SYNTHETIC_SEED=-1 is out of range"),
        ("TB_CONTEXT_SYMBOLS", "VIX;x", "invalid symbol"),
        ("TB_REFRESH_CRON", "30 25 * * 1-5", "TB_REFRESH_CRON='30 25 * * 1-5' is not a cron expression"),
        ("TB_REFRESH_CRON", "daily", "five fields"),
        ("TB_AUTOMATION", "maybe", "TB_AUTOMATION='maybe': use on or off"),
        ("TB_ALERT_SMTP", "mail.example.com:99999", "TB_ALERT_SMTP='mail.example.com:99999': expected host:port"),
        ("TB_ALERT_SMTP", "mail.example.com:smtp", "expected host:port"),
        ("TB_ALERT_EMAIL_TO", "quant@example.com", "TB_ALERT_EMAIL_TO is set but TB_ALERT_SMTP is not"),
        ("TB_ALERT_WEBHOOK", "hooks.slack.com/x", "TB_ALERT_WEBHOOK: expected an http"),
        ("TB_SOURCE_TZ", "Mars/Olympus", "TB_SOURCE_TZ='Mars/Olympus' is not a time zone"),
        ("TB_DATE_ORDER", "ymd", "TB_DATE_ORDER='ymd': choose from auto, dmy, mdy"),
        ("TB_OPTUNA_STORAGE", "pg://u:pw@h/db", "TB_OPTUNA_STORAGE: no driver for 'pg'"),
        ("TB_OPTUNA_STORAGE", "postgresql://u:pw@h/db", "No module named 'psycopg'): write postgresql+psycopg2://"),
        ("TB_OPTUNA_STORAGE", "a password alone", "TB_OPTUNA_STORAGE is not a database URL"),
        ("TB_REGISTRY_URL", "mysql://u:pw@h/db", "TB_REGISTRY_URL: no driver for 'mysql'"),
        ("TB_ALERT_WARN", "2", "TB_ALERT_WARN='2'"),
        ("TB_ALERT_INTERVAL", "1", "TB_ALERT_INTERVAL=1: at least 5 seconds"),
        ("TB_ALERT_INTERVAL", "1m", "TB_ALERT_INTERVAL='1m' is not a valid int"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_settings()
    if name in CREDENTIAL_SETTINGS:  # a secret is never repeated, not even in an error
        assert value not in str(error.value) and "pw" not in str(error.value)


def test_file_sources_need_a_raw_dir(monkeypatch):
    monkeypatch.setenv("TB_SOURCE", "parquet")
    with pytest.raises(ConfigError, match="TB_SOURCE=parquet needs TB_RAW_DIR"):
        load_settings()


def test_project_root_is_the_checkout_with_dagster_yaml(tmp_path):
    from tb_assets.settings import find_project_root

    assert (PROJECT_ROOT / "dagster.yaml").is_file() and (PROJECT_ROOT / "workspace.yaml").is_file()
    assert find_project_root(tmp_path) == PROJECT_ROOT  # an editable install wins over the cwd


def test_operations_defaults_and_overrides(monkeypatch):
    s = load_settings()
    assert s.refresh_cron == "30 22 * * 1-5" and s.automation is True
    assert s.alerts.webhook is None and s.alerts.smtp_host is None and not s.alerts.warn and s.alerts.ui_url == "http://localhost:3000"
    assert s.alerts.interval_s == 30
    monkeypatch.setenv("TB_REFRESH_CRON", "0 6 * * *")
    monkeypatch.setenv("TB_AUTOMATION", "off")
    monkeypatch.setenv("TB_ALERT_SMTP", "mail.example.com:587")
    monkeypatch.setenv("TB_ALERT_EMAIL_TO", "a@example.com, b@example.com")
    monkeypatch.setenv("TB_ALERT_SMTP_STARTTLS", "on")
    monkeypatch.setenv("TB_ALERT_WARN", "1")
    monkeypatch.setenv("TB_UI_URL", "https://dagster.example/")
    monkeypatch.setenv("TB_ALERT_INTERVAL", "10")
    s = load_settings()
    assert s.refresh_cron == "0 6 * * *" and s.automation is False
    a = s.alerts
    assert (a.smtp_host, a.smtp_port, a.email_to, a.smtp_starttls, a.warn, a.ui_url, a.interval_s) == (
        "mail.example.com",
        587,
        ("a@example.com", "b@example.com"),
        True,
        True,
        "https://dagster.example",
        10,
    )


def test_smtp_without_recipients_is_an_error(monkeypatch):
    monkeypatch.setenv("TB_ALERT_SMTP", "127.0.0.1:2525")
    with pytest.raises(ConfigError, match="TB_ALERT_EMAIL_TO is not"):
        load_settings()


def test_a_cron_only_dagster_refuses_stops_the_definitions(tmp_path):
    """The settings check a cron's shape without loading Dagster (fast read-only commands); the 30th
    of February passes that and must still be refused, by Dagster's parser, when the definitions load."""
    import dataclasses

    import pytest

    from tb_assets.core.errors import ConfigError
    from tb_assets.definitions import build_definitions
    from tb_assets.settings import is_cron
    from tb_assets_tests.conftest import make_settings

    assert is_cron("0 6 30 2 *") and is_cron("*/15 9-16 * JAN-MAR MON,FRI") and not is_cron("0 24 * * *")
    with pytest.raises(ConfigError, match=r"TB_REFRESH_CRON='0 6 30 2 \*' is not a cron expression Dagster can schedule"):
        build_definitions(dataclasses.replace(make_settings(tmp_path), refresh_cron="0 6 30 2 *"))


def test_the_signals_freshness_policy_follows_the_finest_timeframe_or_the_setting(monkeypatch, tmp_path):
    import dataclasses
    from datetime import timedelta

    from tb_assets.automation.freshness import freshness_windows, signals_freshness
    from tb_assets_tests.conftest import make_settings

    sample = make_settings(tmp_path)
    assert freshness_windows(sample) is None and signals_freshness(sample) is None  # no feed to go stale
    files = dataclasses.replace(sample, source="parquet", raw_dir=str(tmp_path), timeframes=("1h", "1d"))
    assert freshness_windows(files) == (timedelta(hours=3, days=3), timedelta(hours=3, days=1))
    monkeypatch.setenv("TB_SIGNALS_FRESHNESS", "2h,30min")
    assert load_settings().signals_freshness == "2h,30min"
    said = dataclasses.replace(files, signals_freshness="2h,30min")
    assert freshness_windows(said) == (timedelta(hours=2), timedelta(minutes=30))
    policy = signals_freshness(said)
    assert policy.fail_window.to_timedelta() == timedelta(hours=2)
    for bad in ("soon", "30min,2h", "0s", "1h,1h"):
        monkeypatch.setenv("TB_SIGNALS_FRESHNESS", bad)
        with pytest.raises(ConfigError, match="TB_SIGNALS_FRESHNESS"):
            load_settings()
