"""A step failing because the instance's database could not be reached marks its run for Dagster's
retry; any other step failure does not (a failed blocking check must not run and alert twice)."""

import dagster as dg
import psycopg2
import pytest
import sqlalchemy

from tb_assets.runs.outage_retry import REASON_TAG, RETRY_TAG, database_outage, retry_after_database_outage


def refused() -> Exception:
    try:
        try:
            raise psycopg2.OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')
        except psycopg2.OperationalError as exc:
            raise sqlalchemy.exc.OperationalError("INSERT INTO event_logs", {}, exc) from exc
    except sqlalchemy.exc.OperationalError as exc:
        try:
            raise RuntimeError("too many retries for DB connection") from exc
        except RuntimeError as outer:
            return outer


@pytest.mark.parametrize(
    "error, outage",
    [
        (refused(), True),
        (psycopg2.OperationalError("server closed the connection unexpectedly"), True),
        (ValueError("permuted-label AUC 0.71 is not 0.5 +/- 0.06"), False),
        (psycopg2.OperationalError('relation "runs" does not exist'), False),  # reachable, but wrong: not an outage
        (None, False),
    ],
)
def test_only_an_unreachable_database_counts_as_an_outage(error, outage):
    assert (database_outage(error) is not None) is outage


@pytest.mark.parametrize("error, retried", [(refused(), True), (ValueError("a real bug"), False)])
def test_the_hook_marks_a_run_cut_by_the_database_for_a_retry(error, retried):
    @dg.asset(hooks={retry_after_database_outage})
    def cut() -> int:
        raise error

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([cut], instance=instance, raise_on_error=False)
    assert not result.success
    tags = instance.get_run_by_id(result.run_id).tags
    assert (tags.get(RETRY_TAG) == "true") is retried
    assert ("too many retries for DB connection" in tags.get(REASON_TAG, "")) is retried
