"""A step left waiting beside a free pool slot (Dagster's claim race) gets the slot; a step
waiting for a slot that another step holds does not."""

import dagster as dg

from tb_assets.runs.stranded_steps import StrandedSteps, build_stranded_steps_sensor, stranded_now


def claimed(storage, run_id: str) -> bool:
    return storage.claim_concurrency_slot("bar_source", run_id, "bars").is_claimed


def test_a_step_stranded_beside_a_free_slot_gets_it_and_a_fair_wait_is_left_alone(dagster_home):
    instance = dg.DagsterInstance.get()
    storage = instance.event_log_storage
    storage.set_concurrency_slots("bar_source", 1)
    assert claimed(storage, "run-a")
    assert not claimed(storage, "run-b")  # a fair wait: run-a holds the only slot
    looks = StrandedSteps(instance)
    assert looks.look() == [] and looks.look() == [] and stranded_now(instance) == set()

    # the race: run-c saw the slot taken, run-a freed it, and only then was run-c's wait written
    storage.free_concurrency_slot_for_step("run-a", "bars")  # hands the slot to run-b, as it should
    assert claimed(storage, "run-b")
    storage.free_concurrency_slot_for_step("run-b", "bars")
    storage.add_pending_step(concurrency_key="bar_source", run_id="run-c", step_key="bars", priority=0, should_assign=False)
    assert not claimed(storage, "run-c")  # stranded: the slot is free and nobody will hand it over
    assert stranded_now(instance) == {("bar_source", "run-c", "bars")}

    looks = StrandedSteps(instance)
    assert looks.look() == []  # once could be a hand-over in progress
    assert looks.look() == [("bar_source", "run-c", "bars")]
    assert claimed(storage, "run-c")
    assert stranded_now(instance) == set() and looks.look() == []


def test_the_sensor_repairs_a_stranded_step_of_a_run_no_tb_run_watches(dagster_home):
    instance = dg.DagsterInstance.get()
    storage = instance.event_log_storage
    storage.set_concurrency_slots("bar_source", 1)
    storage.add_pending_step(concurrency_key="bar_source", run_id="run-d", step_key="bars", priority=0, should_assign=False)
    sensor = build_stranded_steps_sensor()
    first = dg.build_sensor_context(instance=instance)
    assert "1 step(s) wait beside a free slot" in sensor(first).skip_message  # one look: maybe a hand-over in progress
    assert stranded_now(instance) == {("bar_source", "run-d", "bars")}
    second = dg.build_sensor_context(instance=instance, cursor=first.cursor)  # the daemon keeps the cursor
    assert "handed 1 stranded step(s)" in sensor(second).skip_message
    assert claimed(storage, "run-d") and stranded_now(instance) == set()
