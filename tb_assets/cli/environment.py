"""The environment variables every `tb` command's help lists."""

from __future__ import annotations

EPILOG_ENV = """environment variables (all optional):
  TB_DATA_DIR         where everything is written (default ./data in the project)
  TB_WAREHOUSE_URL    folder or fsspec URL of the Parquet warehouse (default TB_DATA_DIR/warehouse)
  TB_ARTIFACTS_URL    folder or fsspec URL of models, reports, plots (default TB_DATA_DIR/artifacts)
  TB_PROFILE          local (default) | team: instance deploy/ (PostgreSQL TB_DAGSTER_PG_URL, Celery
                      workers on Redis TB_CELERY_BROKER); see tb cluster --help
  TB_SOURCE           sample | parquet | csv | synthetic (default sample)
  TB_RAW_DIR          input folder for parquet/csv
  TB_SYMBOLS          comma list of primary symbols (default: the source's universe)
  TB_TIMEFRAMES       comma list of 1m,5m,15m,30m,1h,4h,1d,1w (default 1d,1w)
  TB_CONTEXT_SYMBOLS  comma list of context symbols
  TB_SOURCE_TZ        time zone of naive timestamps in your files (default UTC)
  TB_EXECUTOR         in_process (default: a run's steps in one process) | multiprocess
  TB_REFRESH_CRON     when the daemon refreshes every partition (cron, UTC; default 30 22 * * 1-5)
  TB_AUTOMATION       on | off: whether that refresh is declared running (default on)
  TB_ALERT_WEBHOOK    Slack-compatible webhook for alerts; TB_ALERT_SMTP host:port with
                      TB_ALERT_EMAIL_TO / _FROM / TB_ALERT_SMTP_STARTTLS / _USER / _PASSWORD for e-mail
  TB_ALERT_WARN       1: failed WARN checks alert too;  TB_UI_URL: where alert links point
  TB_ALERT_INTERVAL   seconds between the daemon's looks for new failures (default 30)
  TB_REPORTS_PORT     where tb dev serves the artifacts (tearsheets, plots) on 127.0.0.1 (default 3100);
                      TB_REPORTS_URL: the base URL run metadata links them at
"""
