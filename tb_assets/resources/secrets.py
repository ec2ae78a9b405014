"""Settings that can carry a credential: TB_OPTUNA_STORAGE and TB_REGISTRY_URL (database passwords), TB_ALERT_WEBHOOK
(the URL is the token), TB_ALERT_SMTP_USER and TB_ALERT_SMTP_PASSWORD, TB_WAREHOUSE_URL and TB_ARTIFACTS_URL (an
object store's URL with its key).

Dagster stores a resource's configured values in every run's job snapshot (TB_DATA_DIR/history)
and the UI shows them; a `dg.EnvVar` is stored and shown as the variable's name and read from the
environment where the run executes. Messages show these values only through `redact_url`.
"""

from __future__ import annotations

import os

import dagster as dg

from tb_assets.storage.databases import redact_url  # noqa: F401  (re-exported: where messages show URLs)

CREDENTIAL_SETTINGS = (
    "TB_OPTUNA_STORAGE",
    "TB_REGISTRY_URL",
    "TB_ALERT_WEBHOOK",
    "TB_ALERT_SMTP_USER",
    "TB_ALERT_SMTP_PASSWORD",
    "TB_WAREHOUSE_URL",
    "TB_ARTIFACTS_URL",
)


def from_environment(name: str, value: str | None) -> dg.EnvVar | str | None:
    """`dg.EnvVar(name)` when `value` is what the environment holds under `name` (the normal case:
    settings come from the environment); `value` itself when code passed another one (tests)."""
    if value and (os.environ.get(name) or "").strip() == value:
        return dg.EnvVar(name)
    return value
