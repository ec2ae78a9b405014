"""`tb run`'s runs: real runs of the project's job, one per partition, each in its own process,
side by side up to the instance's run concurrency, without a daemon.

Each run carries the code location's origin (location `tb_assets`, as workspace.yaml names it),
so the UI files it under the job's Runs tab and the Overview timeline like a run launched from
the UI; `dagster api execute_run` executes it, the command Dagster's own run launcher uses.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil
from dagster import serialize_value

from tb_assets.runs.dagster_internals import (
    ExecuteRunArgs,
    LoadableTargetOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
    ReconstructableRepository,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
    create_execution_plan,
)
from tb_assets.runs.dead_runs import fail_dead_runs
from tb_assets.runs.events import check_failure, failed_blocking_checks, first_line, step_failure_reason, stored_run_events
from tb_assets.runs.pool_waits import SlotWaitNotices
from tb_assets.runs.stranded_steps import StrandedSteps
from tb_assets.settings import PROJECT_ROOT

LOCATION = "tb_assets"  # workspace.yaml's location_name
STRANDED_LOOK_S = 5.0  # how often a waiting run's pool is checked for a step stranded beside a free slot
STOP_GRACE_S = 10.0  # an interrupted worker's time to end its step (a Parquet write lands whole or not at all)
REPOSITORY = "__repository__"  # the repository Dagster makes of a Definitions object
DEFS_MODULE, DEFS_ATTRIBUTE = "tb_assets.definitions", "defs"

PROGRESS_EVENTS = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,  # its `summary` metadata, when it has one
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_SUCCESS,
}


def origins(job_name: str):
    """(python origin the run worker loads the job from, remote origin the UI files the run under)."""
    recon = ReconstructableRepository.for_module(DEFS_MODULE, DEFS_ATTRIBUTE, working_directory=str(PROJECT_ROOT))
    python_origin = recon.get_reconstructable_job(job_name).get_python_origin()
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=DEFS_MODULE, attribute=DEFS_ATTRIBUTE, working_directory=str(PROJECT_ROOT)
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name=LOCATION)
    remote_origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, REPOSITORY), job_name=job_name)
    return python_origin, remote_origin


def create_partition_run(
    instance: dg.DagsterInstance, job: dg.JobDefinition, key: str, assets: list | None, run_config: dict, tags: dict
) -> dg.DagsterRun:
    """A NOT_STARTED run of `job` (or its `assets`) for one partition; raises DagsterError on bad run config."""
    config = run_config
    target = job.get_subset(asset_selection=set(assets)) if assets else job
    run_tags = {**job.run_tags, **job.partitions_def.get_tags_for_partition_key(key), **tags}
    plan = create_execution_plan(target, run_config=config, instance_ref=instance.get_ref(), tags=run_tags)
    python_origin, remote_origin = origins(job.name)
    return instance.create_run_for_job(
        job_def=target,
        execution_plan=plan,
        run_config=config,
        tags=run_tags,
        asset_selection=set(assets) if assets else None,
        remote_job_origin=remote_origin,
        job_code_origin=python_origin,
    )


def start_run_worker(instance: dg.DagsterInstance, run: dg.DagsterRun, output) -> subprocess.Popen:
    """`dagster api execute_run` for `run`; its console goes to `output` (a file, or None to share ours)."""
    args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=instance.get_ref(), set_exit_code_on_failure=True)
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", "api", "execute_run", serialize_value(args)],
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        cwd=PROJECT_ROOT,
        preexec_fn=die_with_parent,
    )


def die_with_parent() -> None:
    """In the worker, before it starts: Linux sends it SIGTERM when the `tb` process that started it
    dies, however it dies (a kill -9 of `tb run` left its worker running to the end, writing)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker outlives a killed parent, as before
        return
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(1)


@dataclass
class PartitionOutcome:
    key: str
    run_id: str = ""
    ok: bool = False
    seconds: float = 0.0
    assets: int = 0
    checks_passed: int = 0
    checks_total: int = 0
    rows: int | None = None
    errors: list[str] = field(default_factory=list)  # failed ERROR checks, the run's failure
    findings: list[str] = field(default_factory=list)  # failed WARN checks, in words
    holdout_auc: float | None = None  # the production model's, on the untouched holdout: the number to believe
    model_card: str | None = None  # where the production model's card (model_metadata.json) is

    @property
    def holdout(self) -> str:
        """'0.637 (acceptable)', or '-' when no production model was trained with a holdout."""
        if self.holdout_auc is None:
            return "-"
        from tb_assets.core.modeling.grades import grade

        return f"{self.holdout_auc:.3f} ({grade('auc', self.holdout_auc)})"

    @property
    def clean(self) -> bool:
        return self.ok and not self.errors


# what a failed WARN check means for the person reading the summary
FINDINGS = {
    "best_params_found": "no edge found (every tuning trial was pruned)",
    "production_model_grades": "no edge found (metrics below Acceptable)",
    "production_model_holdout_confirms": "holdout weaker than cross-validation",
    "targets_positive_rate": "skewed labels",
    "features_mostly_finite": "sparse features",
    "features_schema_unchanged": "feature set changed",
    "shap_ranking_stable": "feature ranking moved",
}


class ProgressLines:
    """Turns a run's events into one line per finished asset or check, with its time (and the
    asset's own one-line `summary` metadata, when it has one)."""

    def __init__(self):
        self._checks: dict[str, str] = {}  # step key -> its check's outcome, until the step ends
        self._summaries: dict[str, str] = {}  # step key -> its materialization's summary, until the step ends

    def line(self, event: dg.DagsterEvent) -> str | None:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            summary = event.event_specific_data.materialization.metadata.get("summary")
            if summary is not None:
                self._summaries[event.step_key] = str(summary.value)
            return None
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                self._checks[event.step_key] = f"check {evaluation.check_name} passed"
            else:  # what it found: a failed check with no reason sent users to the UI
                found = check_failure(evaluation).split(": ", 1)
                self._checks[event.step_key] = f"check {evaluation.check_name} failed ({evaluation.severity.value})" + (
                    f": {found[1]}" if len(found) == 2 else ""
                )
            return None
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            seconds = event.event_specific_data.duration_ms / 1000
            if event.step_key in self._checks:
                return f"{self._checks.pop(event.step_key)} in {seconds:.1f}s"
            summary = self._summaries.pop(event.step_key, None)
            return f"{event.step_key} materialized in {seconds:.1f}s" + (f": {summary}" if summary else "")
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            if event.step_key in self._checks:
                return f"{self._checks.pop(event.step_key)} (blocking: the partition's downstream assets do not run)"
            return f"{event.step_key} FAILED"
        return None


def merge_findings(findings: list[str]) -> list[str]:
    """'no edge found (a)', 'no edge found (b)' -> 'no edge found (a; b)'; order kept, repeats dropped."""
    merged: dict[str, list[str]] = {}
    for finding in findings:
        lead, _, why = finding.partition(" (")
        reasons = merged.setdefault(lead, [])
        why = why.rstrip(")")
        if why and why not in reasons:
            reasons.append(why)
    return [f"{lead} ({'; '.join(r)})" if r else lead for lead, r in merged.items()]


def outcome_of(instance: dg.DagsterInstance, key: str, run_id: str, seconds: float) -> PartitionOutcome:
    run = instance.get_run_by_id(run_id)
    events = stored_run_events(instance, run_id)
    out = PartitionOutcome(key=key, run_id=run_id, ok=run is not None and run.status == dg.DagsterRunStatus.SUCCESS, seconds=seconds)
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            out.assets += 1
            mat = event.step_materialization_data.materialization
            if mat.asset_key == dg.AssetKey("bars") and "rows" in mat.metadata:
                out.rows = int(mat.metadata["rows"].value)
            if mat.asset_key == dg.AssetKey("production_model"):
                if "holdout_auc" in mat.metadata:
                    out.holdout_auc = float(mat.metadata["holdout_auc"].value)
                if "model_metadata" in mat.metadata:
                    out.model_card = str(mat.metadata["model_metadata"].value)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            out.checks_total += 1
            if evaluation.passed:
                out.checks_passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.ERROR:
                out.errors.append(check_failure(evaluation, width=120))
            else:
                out.findings.append(FINDINGS.get(evaluation.check_name, f"{evaluation.check_name} (WARN)"))
    out.findings = merge_findings(out.findings)
    if not out.ok and not failed_blocking_checks(events):  # else the failed check is the reason, listed already
        out.errors.insert(0, step_failure_reason(events))
    return out


def run_partitions(
    instance: dg.DagsterInstance,
    job: dg.JobDefinition,
    keys: list[str],
    assets: list | None,
    run_config: dict,
    *,
    concurrency: int,
    tags: dict,
    log_dir: Path | None,
    on_event: Callable[[str, str], None],
    on_done: Callable[[PartitionOutcome], None],
    on_notice: Callable[[str], None],
) -> list[PartitionOutcome]:
    """Create one run per partition and execute them, `concurrency` at a time; report each step,
    check and finished partition as it happens, and (`on_notice`) who holds a pool slot a run has
    waited long for. Bad run config fails every partition with its message. Each worker's console
    goes to `log_dir`/<run id>.log (None: to ours). Interrupted (Ctrl-C, or SIGTERM turned into
    KeyboardInterrupt by the caller), it stops its workers, marks their runs canceled and frees
    their slots: no run is left executing or holding a slot on its own."""
    runner = _Runner(instance, job, assets, run_config, tags, log_dir, on_event, on_done, on_notice)
    try:
        runner.drive(list(keys), concurrency)
    finally:
        runner.stop_all()
    return [runner.outcomes[k] for k in keys]


def stop_process_tree(pid: int, grace_s: float) -> None:
    """SIGTERM to a run worker and every process it started (Dagster turns it into an interrupt of
    the step), SIGKILL to whatever still runs after `grace_s` (a worker waiting for a pool slot
    does not listen). Killing the worker alone would leave its children running on their own."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=30)


@dataclass
class _Active:
    run: dg.DagsterRun
    proc: subprocess.Popen
    started: float
    lines: ProgressLines
    cursor: str | None = None


@dataclass
class _Runner:
    instance: dg.DagsterInstance
    job: dg.JobDefinition
    assets: list | None
    run_config: dict
    tags: dict
    log_dir: Path | None
    on_event: Callable[[str, str], None]
    on_done: Callable[[PartitionOutcome], None]
    on_notice: Callable[[str], None]
    outcomes: dict[str, PartitionOutcome] = field(default_factory=dict)
    active: dict[str, _Active] = field(default_factory=dict)

    def drive(self, waiting: list[str], concurrency: int) -> None:
        stranded, next_look = StrandedSteps(self.instance), time.monotonic() + STRANDED_LOOK_S
        waits = SlotWaitNotices(self.instance)
        while waiting or self.active:
            while waiting and len(self.active) < concurrency:
                self.start(waiting.pop(0))
            for key in list(self.active):
                self.poll(key)
            if time.monotonic() >= next_look:
                for pool, run_id, step in stranded.look():
                    self.on_notice(
                        f"step {step} of run {run_id} waited beside a free {pool} pool slot (a Dagster race): handed it the slot"
                    )
                self.look_at_waits(waits)
                next_look = time.monotonic() + STRANDED_LOOK_S
            time.sleep(0.5)

    def look_at_waits(self, waits: SlotWaitNotices) -> None:
        """Name who holds a slot our runs have waited for; a holder whose worker is gone (killed
        while we waited) is failed and its slots freed, as at start."""
        partitions = {a.run.run_id: key for key, a in self.active.items()}
        due = waits.look(set(partitions))
        if not due:
            return
        for dead in fail_dead_runs(self.instance):
            self.on_notice(dead.message)
        for wait in due:
            self.on_notice(waits.line(wait, partitions[wait.run_id]))

    def finish(self, outcome: PartitionOutcome) -> None:
        self.outcomes[outcome.key] = outcome
        self.on_done(outcome)

    def start(self, key: str) -> None:
        try:
            run = create_partition_run(self.instance, self.job, key, self.assets, self.run_config, self.tags)
        except dg.DagsterError as exc:  # bad run config and the like: nothing ran
            self.finish(PartitionOutcome(key, errors=[first_line(str(exc))]))
            return
        output = open(self.log_dir / f"{run.run_id}.log", "w") if self.log_dir is not None else None  # noqa: SIM115
        self.active[key] = _Active(run, start_run_worker(self.instance, run, output), time.monotonic(), ProgressLines())
        if output is not None:
            output.close()  # the worker holds its own handle

    def poll(self, key: str) -> None:
        a = self.active[key]
        connection = self.instance.get_records_for_run(a.run.run_id, cursor=a.cursor, of_type=PROGRESS_EVENTS)
        for record in connection.records:
            line = a.lines.line(record.event_log_entry.dagster_event)
            if line:
                self.on_event(key, line)
        a.cursor = connection.cursor
        if a.proc.poll() is None or connection.has_more:
            return
        stored = self.instance.get_run_by_id(a.run.run_id)
        if stored is not None and not stored.is_finished:  # the worker died before recording an end
            where = f"; its output: {self.log_dir / (a.run.run_id + '.log')}" if self.log_dir is not None else ""
            self.instance.report_run_failed(stored, f"run worker exited with code {a.proc.returncode}{where}")
            self.instance.event_log_storage.free_concurrency_slots_for_run(a.run.run_id)  # no slot outlives its run
        del self.active[key]
        self.finish(outcome_of(self.instance, key, a.run.run_id, time.monotonic() - a.started))

    def stop_all(self) -> None:
        if self.active:
            self.on_notice(f"stopping {len(self.active)} run(s)")
        for a in self.active.values():
            if a.proc.poll() is None:
                stop_process_tree(a.proc.pid, STOP_GRACE_S)
            a.proc.wait()
            stored = self.instance.get_run_by_id(a.run.run_id)
            if stored is not None and not stored.is_finished:
                self.instance.report_run_canceled(stored, "tb run was interrupted")
            self.instance.event_log_storage.free_concurrency_slots_for_run(a.run.run_id)
