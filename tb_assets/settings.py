"""The environment-variable contract (DESIGN §3), read once when definitions load.

Everything has a default so the project runs offline with no configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tb_assets.cluster.settings import profile
from tb_assets.core.data.symbols import parse_symbol_list
from tb_assets.core.data.timeframes import parse_timeframe_list
from tb_assets.core.errors import ConfigError
from tb_assets.sources.kinds import DEFAULT_UNIVERSE, SOURCE_KINDS


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding dagster.yaml: the checkout the package was installed from (editable
    install), else the nearest one above the working directory, else the working directory."""
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "dagster.yaml").is_file():
        return package_parent
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dagster.yaml").is_file() and (folder / "workspace.yaml").is_file():
            return folder
    return here


PROJECT_ROOT = find_project_root()

DATE_ORDERS = ("auto", "dmy", "mdy")  # TB_DATE_ORDER: decided from the data, or day or month first
DEFAULT_TIMEFRAMES = "1d,1w"
# UTC, weekdays after the US close: the daily bars of the day are final
DEFAULT_REFRESH_CRON = "30 22 * * 1-5"
DEFAULT_UI_URL = "http://localhost:3000"
SENSOR_LOOP_S = 5  # dagster-daemon evaluates due sensors every 5 seconds (dagster/_daemon/sensor.py)


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (TB_ALERT_*); the outbox TB_DATA_DIR/alerts.jsonl always gets them."""

    webhook: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    email_to: tuple[str, ...] = ()
    email_from: str = "tb-alerts@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    warn: bool = False  # WARN-severity findings alert too
    ui_url: str = DEFAULT_UI_URL
    interval_s: int = 30  # how often the daemon looks for new failures (the alert sensor's interval)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    source: str
    raw_dir: str | None
    symbols: tuple[str, ...]
    timeframes: tuple[str, ...]
    context_symbols: tuple[str, ...]
    source_tz: str
    synthetic_freq: str
    synthetic_bars: int
    synthetic_seed: int
    synthetic_signal: float
    optuna_storage: str | None = None
    registry_url: str | None = None  # TB_REGISTRY_URL; None: SQLite at TB_DATA_DIR/registry.db
    refresh_cron: str = DEFAULT_REFRESH_CRON
    automation: bool = True
    executor: str = "in_process"
    alerts: AlertSettings = AlertSettings()
    date_order: str = "auto"
    raw_allow_links: bool = False
    warehouse_url: str | None = None  # TB_WAREHOUSE_URL; None: TB_DATA_DIR/warehouse
    artifacts_url: str | None = None  # TB_ARTIFACTS_URL; None: TB_DATA_DIR/artifacts
    reports_url: str | None = None  # TB_REPORTS_URL: where the artifacts are served over HTTP (tb dev sets it)
    signals_freshness: str | None = None  # TB_SIGNALS_FRESHNESS: "FAIL[,WARN]" windows; None: from the finest timeframe
    new_data_interval_s: int = 60  # TB_NEW_DATA_INTERVAL: how often the new-data sensor looks at TB_RAW_DIR

    @property
    def partition_keys(self) -> list[str]:
        """The SYMBOL|TIMEFRAME keys these settings define, in the partition definition's order
        (symbols first): `tb partitions` lists them without loading the definitions."""
        return [f"{symbol}|{timeframe}" for symbol in self.symbols for timeframe in self.timeframes]

    @property
    def warehouse(self) -> str:
        """Folder or fsspec URL of the Parquet warehouse (one file per asset and partition)."""
        return self.warehouse_url or str(self.data_dir / "warehouse")

    @property
    def views_path(self) -> Path:
        """A DuckDB file of views over the warehouse's Parquet, for any DuckDB client (`tb sql` refreshes it)."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def artifacts(self) -> str:
        """Folder or fsspec URL of the file artifacts (models, reports, plots)."""
        return self.artifacts_url or str(self.artifacts_dir)

    @property
    def optuna_dir(self) -> Path:
        return self.data_dir / "optuna"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else default


def _number(name: str, default: str, kind: type):
    text = _env(name, default)
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a valid {kind.__name__}") from None


MAX_SYNTHETIC_BARS = 50_000_000  # a century of one-minute session bars: beyond it a typo, not a test


def _bounded(name: str, default: str, kind: type, low, high):
    value = _number(name, default, kind)
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: it must be between {low:,} and {high:,}")
    return value


def data_dir() -> Path:
    """TB_DATA_DIR, else the project's ./data: the one default every reader of the variable uses
    (settings, the instance's storage in dagster.yaml, `tb`), so plain `dagster dev` needs no exports."""
    return Path(_env("TB_DATA_DIR", str(PROJECT_ROOT / "data"))).expanduser().resolve()


def load_settings() -> Settings:
    source = (_env("TB_SOURCE", "sample") or "sample").lower()
    if source not in SOURCE_KINDS:
        raise ConfigError(f"TB_SOURCE={source!r}: choose from {', '.join(SOURCE_KINDS)}")
    raw_dir = _env("TB_RAW_DIR")
    default_symbols, default_context = _default_universe(source, raw_dir)
    symbols = parse_symbol_list(_env("TB_SYMBOLS", default_symbols) or "", what="TB_SYMBOLS")
    context_text = _env("TB_CONTEXT_SYMBOLS", default_context)
    no_context = not context_text or context_text.lower() == "none"
    context = [] if no_context else parse_symbol_list(context_text, what="TB_CONTEXT_SYMBOLS")
    return Settings(
        data_dir=data_dir(),
        source=source,
        raw_dir=raw_dir,
        symbols=tuple(symbols),
        timeframes=tuple(parse_timeframe_list(_env("TB_TIMEFRAMES", DEFAULT_TIMEFRAMES))),
        context_symbols=tuple(context),
        source_tz=_time_zone("TB_SOURCE_TZ", "UTC"),
        date_order=_choice("TB_DATE_ORDER", "auto", DATE_ORDERS),  # how to read 03/04/2024 (core.data reads it)
        raw_allow_links=_switch("TB_RAW_ALLOW_LINKS", False),
        synthetic_freq=_env("TB_SYNTHETIC_FREQ", "1d"),
        synthetic_bars=_bounded("TB_SYNTHETIC_BARS", "5000", int, 2, MAX_SYNTHETIC_BARS),
        synthetic_seed=_bounded("TB_SYNTHETIC_SEED", "0", int, 0, 2**63 - 1),
        synthetic_signal=_number("TB_SYNTHETIC_SIGNAL", "0.0", float),
        optuna_storage=_database_url("TB_OPTUNA_STORAGE"),
        registry_url=_database_url("TB_REGISTRY_URL"),
        refresh_cron=_cron("TB_REFRESH_CRON", DEFAULT_REFRESH_CRON),
        automation=_switch("TB_AUTOMATION", True),
        # a team's runs take a process per step (a step's memory freed before the next, an OOM kills one step);
        # a laptop's run keeps its steps in one process (no per-step start-up on two cores)
        executor=_choice("TB_EXECUTOR", "multiprocess" if profile() == "team" else "in_process", ("in_process", "multiprocess")),
        alerts=load_alert_settings(),
        warehouse_url=_env("TB_WAREHOUSE_URL"),
        artifacts_url=_env("TB_ARTIFACTS_URL"),
        reports_url=_http_url("TB_REPORTS_URL"),
        signals_freshness=_freshness("TB_SIGNALS_FRESHNESS"),
        new_data_interval_s=_sensor_interval("TB_NEW_DATA_INTERVAL", 60),
    )


def _freshness(name: str) -> str | None:
    """'FAIL' or 'FAIL,WARN' as pandas durations (e.g. '3d,2h'), the warning window the shorter."""
    text = _env(name)
    if text is None:
        return None
    import pandas as pd  # only when set: loading the settings stays light

    try:
        windows = [pd.Timedelta(part.strip()) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{name}={text!r}: expected FAIL or FAIL,WARN durations such as '3d' or '3d,2h'") from None
    if len(windows) > 2 or any(w <= pd.Timedelta(0) for w in windows) or (len(windows) == 2 and windows[1] >= windows[0]):
        raise ConfigError(f"{name}={text!r}: one or two positive durations, the warning window shorter than the failing one")
    return text


def _http_url(name: str) -> str | None:
    """An http(s) URL ending in '/', or None when the variable is unset."""
    text = _env(name)
    if text is None:
        return None
    if not text.lower().startswith(("http://", "https://")):
        raise ConfigError(f"{name}: expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/") + "/"


def _database_url(name: str) -> str | None:
    """A SQLAlchemy URL checked now (form and driver), not when tuning first reaches it; the
    message never repeats it (it may hold a password)."""
    text = _env(name)
    if text is None:
        return None
    import sqlalchemy

    try:
        sqlalchemy.engine.make_url(text).get_dialect().import_dbapi()  # the driver is installed
    except (sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:  # before ArgumentError, its base class
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which we do not install
        raise ConfigError(
            f"{name}: no driver for {text.split(':', 1)[0]!r} ({exc}): write postgresql+psycopg2://... "
            "(installed), sqlite:///..., or install the driver your URL names"
        ) from None
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(
            f"{name} is not a database URL: expected e.g. postgresql+psycopg2://user:password@host:5432/db or sqlite:////abs/path/optuna.db"
        ) from None
    return text


def _time_zone(name: str, default: str) -> str:
    """A time zone name checked now, not when the first naive timestamp meets it mid-run."""
    text = _env(name, default) or default
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={text!r} is not a time zone: use an IANA name such as America/New_York, Europe/London or UTC") from None
    return text


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    text = (_env(name, default) or default).lower()
    if text not in choices:
        raise ConfigError(f"{name}={text!r}: choose from {', '.join(choices)}")
    return text


def _switch(name: str, default: bool) -> bool:
    text = _env(name)
    if text is None:
        return default
    if text.lower() in ("1", "on", "true", "yes"):
        return True
    if text.lower() in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name}={text!r}: use on or off")


# (lowest, highest, names) of the five cron fields: minute, hour, day of month, month, day of week
_CRON_FIELDS = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    (0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)


def is_cron(text: str) -> bool:
    """Whether `text` is a five-field cron expression (numbers, names, ranges, lists and steps in
    each field's bounds). Checked here without importing Dagster, so reading the settings stays
    fast for commands that never load the definitions; the definitions check it again with
    Dagster's own parser (`dagster_cron_problem`)."""
    fields = text.split()
    if len(fields) != 5:
        return False

    def value(token: str, low: int, high: int, names: tuple) -> int | None:
        if token.upper() in names:
            return names.index(token.upper()) + (low if low == 1 else 0)
        return int(token) if token.isdigit() and low <= int(token) <= high else None

    for field_text, (low, high, names) in zip(fields, _CRON_FIELDS):
        for item in field_text.split(","):
            span, _, stride = item.partition("/")
            if stride and not (stride.isdigit() and int(stride) > 0):
                return False
            if span == "*":
                continue
            ends = span.split("-")
            if len(ends) > 2 or any(value(end, low, high, names) is None for end in ends):
                return False
    return True


def dagster_cron_problem(text: str) -> str | None:
    """What Dagster's cron parser refuses in `text` (e.g. the 30th of February), or None."""
    from tb_assets.runs.dagster_internals import is_valid_cron_string

    return None if is_valid_cron_string(text) else f"TB_REFRESH_CRON={text!r} is not a cron expression Dagster can schedule"


def _cron(name: str, default: str) -> str:
    text = _env(name, default)
    if not is_cron(text):
        raise ConfigError(
            f"{name}={text!r} is not a cron expression: five fields, minute hour day-of-month month "
            f"day-of-week, in UTC (default {default!r})"
        )
    return text


def load_alert_settings() -> AlertSettings:
    smtp = _env("TB_ALERT_SMTP")
    host, port = None, 25
    if smtp:
        host, _, port_text = smtp.rpartition(":") if ":" in smtp else (smtp, "", "25")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"TB_ALERT_SMTP={smtp!r}: expected host:port, e.g. smtp.example.com:587")
        port = int(port_text)
    to = tuple(a.strip() for a in (_env("TB_ALERT_EMAIL_TO") or "").split(",") if a.strip())
    if host and not to:
        raise ConfigError("TB_ALERT_SMTP is set but TB_ALERT_EMAIL_TO is not: name who gets the e-mails")
    if to and not host:
        raise ConfigError("TB_ALERT_EMAIL_TO is set but TB_ALERT_SMTP is not: name the mail server (host:port)")
    for address in to:
        if "@" not in address:
            raise ConfigError(f"TB_ALERT_EMAIL_TO: {address!r} is not an e-mail address")
    webhook = _env("TB_ALERT_WEBHOOK")
    if webhook and not webhook.lower().startswith(("http://", "https://")):  # the value is a secret: not repeated
        raise ConfigError("TB_ALERT_WEBHOOK: expected an http:// or https:// URL")
    return AlertSettings(
        webhook=webhook,
        smtp_host=host,
        smtp_port=port,
        email_to=to,
        email_from=_env("TB_ALERT_EMAIL_FROM", AlertSettings.email_from),
        smtp_starttls=_switch("TB_ALERT_SMTP_STARTTLS", False),
        smtp_user=_env("TB_ALERT_SMTP_USER"),
        warn=_switch("TB_ALERT_WARN", False),
        ui_url=(_env("TB_UI_URL", DEFAULT_UI_URL) or DEFAULT_UI_URL).rstrip("/"),
        interval_s=_alert_interval(),
    )


def _alert_interval() -> int:
    return _sensor_interval("TB_ALERT_INTERVAL", AlertSettings.interval_s)


def _sensor_interval(name: str, default: int) -> int:
    seconds = _number(name, str(default), int)
    if seconds < SENSOR_LOOP_S:
        # the daemon visits its sensors every 5 s: a shorter interval would only look like one
        raise ConfigError(f"{name}={seconds}: at least {SENSOR_LOOP_S} seconds (how often the daemon runs sensors)")
    return seconds


def _default_universe(source: str, raw_dir: str | None) -> tuple[str, str]:
    """Default primary and context symbols for a source when TB_SYMBOLS is not set."""
    if source in DEFAULT_UNIVERSE:
        primary, context = DEFAULT_UNIVERSE[source]
        return ",".join(primary), ",".join(context)
    # parquet / csv: every symbol found in TB_RAW_DIR
    if not raw_dir:
        raise ConfigError(f"TB_SOURCE={source} needs TB_RAW_DIR, the folder that holds your {source} files")
    from tb_assets.sources import make_source

    found = make_source(source, raw_dir=raw_dir).list_symbols() or []
    if not found:
        raise ConfigError(f"TB_RAW_DIR={raw_dir!r} holds no {source} data; set TB_SYMBOLS or add files")
    return ",".join(found), ""


REPORTS_PORT = 3100  # where `tb dev` serves the artifacts: fixed, so links written into run metadata stay valid


def apply_default_environment() -> Path:
    """Set DAGSTER_HOME and TB_DATA_DIR for this process when the user did not.

    dagster.yaml reads TB_DATA_DIR; the instance lives in the project root (DESIGN §3), or in
    deploy/ under TB_PROFILE=team (PostgreSQL and Celery; its settings are checked here).
    """
    from tb_assets.cluster.settings import apply_team_defaults, deploy_dir, profile

    team = profile() == "team"
    os.environ.setdefault("DAGSTER_HOME", str(deploy_dir(PROJECT_ROOT) if team else PROJECT_ROOT))
    if team:
        apply_team_defaults()
    folder = data_dir()
    os.environ["TB_DATA_DIR"] = str(folder)
    usable_data_dir(folder)
    if not os.environ.get("TB_ARTIFACTS_URL"):
        # local artifacts: runs of every tb command link their tearsheets where `tb dev` serves them
        os.environ.setdefault("TB_REPORTS_URL", f"http://127.0.0.1:{os.environ.get('TB_REPORTS_PORT') or REPORTS_PORT}/")
    return folder


def usable_data_dir(folder: Path) -> Path:
    """TB_DATA_DIR made if missing; a ConfigError when it cannot hold the project's files."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"TB_DATA_DIR={str(folder)!r} is a file, not a folder: point it at a folder (it is made if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"TB_DATA_DIR={str(folder)!r} cannot be made: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"TB_DATA_DIR={str(folder)!r} is not writable by this user: the warehouse, runs and artifacts go there")
    return folder
