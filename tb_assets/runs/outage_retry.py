"""A run cut by the instance's database going away is retried; a run whose step really failed is not.

`run_retries` (dagster.yaml, deploy/dagster.yaml) retries crashed runs but not step failures
(`retry_on_asset_or_op_failure: false`: a failed blocking check fails again, and would alert
twice). A PostgreSQL restart under a run surfaces as a step failure too (Dagster's own retries of
a lost connection last about a second), so such a run stayed failed. This failure hook, on every
asset, marks a run whose step failed because the database could not be reached with Dagster's
per-run `dagster/retry_on_asset_or_op_failure` tag (waiting for the database to come back to
write it), before the run records its failure: the retry daemon then launches it again (from the
failed step). Any other step failure is left as it is.
"""

from __future__ import annotations

import time

import dagster as dg

RETRY_TAG = "dagster/retry_on_asset_or_op_failure"  # Dagster's per-run override of run_retries
REASON_TAG = "tb/retry_reason"
WAIT_FOR_DATABASE_S = 15 * 60
# what a lost or refused database connection says (psycopg2, SQLAlchemy, dagster-postgres, SQLite)
OUTAGE_WORDS = (
    "connection refused",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "could not connect to server",
    "too many retries for db connection",
    "connection already closed",
    "ssl connection has been closed unexpectedly",
)


def database_outage(exc: BaseException | None) -> str | None:
    """The first line of the error in `exc`'s chain that says the database could not be reached, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).strip().lower()
        if any(word in text for word in OUTAGE_WORDS):
            return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"[:300]
        exc = exc.__cause__ or exc.__context__
    return None


@dg.failure_hook(name="tb_retry_after_database_outage")
def retry_after_database_outage(context: dg.HookContext) -> None:
    reason = database_outage(context.op_exception)
    if reason is None:
        return
    deadline = time.monotonic() + WAIT_FOR_DATABASE_S
    while True:
        try:
            context.instance.add_run_tags(context.run_id, {RETRY_TAG: "true", REASON_TAG: reason})
            context.log.warning(f"the instance's database could not be reached ({reason}): this run will be retried")
            return
        except Exception:  # still away (each driver raises its own kinds)
            if time.monotonic() > deadline:
                raise
            time.sleep(5)
