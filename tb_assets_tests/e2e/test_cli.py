"""`tb` as a user runs it: subprocesses against a persistent instance in a temp DAGSTER_HOME."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tb_assets.settings import PROJECT_ROOT
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import query_connection
from tb_assets_tests.conftest import minute_bars
from tb_assets_tests.e2e.processes import HANG_GUARD_S
from tb_assets_tests.servers import free_port

pytestmark = pytest.mark.e2e
TB = [sys.executable, "-m", "tb_assets.cli"]
DEMO_START, DEMO_END = "<!-- demo table: tb models production --markdown -->", "<!-- end of demo table -->"
STRATEGY_START, STRATEGY_END = "<!-- strategy table: tb report --markdown -->", "<!-- end of strategy table -->"


def tb(args, env):
    # no time budget: a loaded machine is slow, not wrong (the guard only stops a hang)
    return subprocess.run([*TB, *args], env=env, capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=PROJECT_ROOT)


@pytest.fixture
def env(dagster_home):
    e = {k: v for k, v in os.environ.items() if not k.startswith("TB_") or k == "TB_REAL_DATA"}
    e.update(DAGSTER_HOME=str(dagster_home), TB_DATA_DIR=os.environ["TB_DATA_DIR"])
    return e


def bars_rows(data_dir) -> pd.DataFrame:
    con = query_connection(storage_root(str(Path(data_dir) / "warehouse")))
    try:
        return con.execute("SELECT symbol, timeframe, count(*) AS n FROM bars GROUP BY ALL ORDER BY ALL").fetchdf()
    finally:
        con.close()


def test_help_explains_every_option(env):
    top = tb(["--help"], env)
    assert top.returncode == 0 and "run" in top.stdout and "TB_SOURCE" in top.stdout
    run = tb(["run", "--help"], env)
    for option in ("--select", "--partition", "--config", "--verbose", "SYMBOL|TIMEFRAME", "TB_DATA_DIR"):
        assert option in run.stdout


@pytest.mark.cost(400)
def test_the_readmes_first_command_and_its_demo_table(env):
    """The README's own `tb run`: no --partition means every partition of the settings, the whole
    chain on the six sample partitions (the indices: no edge, a WARN finding; VIX: an edge, every
    check passed). The README's demo table must be exactly what
    `tb models production --markdown` prints for these models: its numbers come from this code."""
    done = tb(["run"], env)  # no --partition: every partition of the settings
    assert done.returncode == 0, done.stderr
    for key in ("SPX|1d", "SPX|1w", "IXIC|1d", "IXIC|1w", "VIX|1d", "VIX|1w"):
        assert f"] {key} ok" in done.stdout
    assert "for 6 partition(s)" in done.stdout and "5,031" in done.stdout and "9,235" in done.stdout
    assert bars_rows(env["TB_DATA_DIR"])["n"].tolist() == [5031, 1044, 5031, 1044, 9235, 1908]
    # the whole chain: 12 assets and 25 checks per partition; no ERROR anywhere, and the indices' weak
    # signal reads as WARN findings (no edge, a DSR that does not survive its trials), not a failure
    table = done.stdout[done.stdout.index("partition  status") :].splitlines()[2:8]
    rows = {row.split()[0]: row for row in table}
    assert rows["SPX|1w"].split()[1:4] == ["ok", "12", "22/25"] and "no edge found" in rows["SPX|1w"]
    assert "dsr_significant" in rows["SPX|1w"]
    assert "pbo (WARN)" in rows["VIX|1d"]  # its tuning trials' pick is overfit (PBO 0.70 in the strategy table)
    assert rows["VIX|1w"].split()[1:4] == ["ok", "12", "25/25"] and "no edge found" not in rows["VIX|1w"]
    assert "FAILED" not in done.stdout and "no ERROR check failed" in done.stdout
    assert "  VIX|1w  features materialized in" in done.stdout  # progress inside a partition
    # the summary names the number to believe and where the model cards are
    assert "holdout AUC" in done.stdout and "model cards" in done.stdout
    assert re.search(r"VIX/1w/versions/\d{8}T\d{12}Z-[0-9a-f]{6}/model_metadata\.json", done.stdout), done.stdout

    demo = tb(["models", "production", "--markdown"], env)
    assert demo.returncode == 0, demo.stderr
    readme = (PROJECT_ROOT / "README.md").read_text()
    start = readme.index(DEMO_START) + len(DEMO_START)
    assert readme[start : readme.index(DEMO_END)].strip() == demo.stdout.strip(), (
        "README.md's demo table is not what this code produces: paste the output of `tb models production --markdown` "
        "after `tb run` on a fresh TB_DATA_DIR between its markers\n" + demo.stdout
    )

    strategy = tb(["report", "--markdown"], env)
    assert strategy.returncode == 0, strategy.stderr
    start = readme.index(STRATEGY_START) + len(STRATEGY_START)
    assert readme[start : readme.index(STRATEGY_END)].strip() == strategy.stdout.strip(), (
        "README.md's strategy table is not what this code produces: paste the output of `tb report --markdown` "
        "after `tb run` on a fresh TB_DATA_DIR between its markers\n" + strategy.stdout
    )

    # a fresh process on the same DAGSTER_HOME (what the UI reads) sees the runs and materializations
    probe = (
        "import dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "runs = i.get_runs(filters=dg.RunsFilter(tags={'tb/launched_by': 'tb run'}))\n"
        "print(len(runs), sorted(r.tags['dagster/partition'] for r in runs))\n"
        "print(sorted(i.get_materialized_partitions(dg.AssetKey('bars'))))\n"
        "print(sorted(i.get_materialized_partitions(dg.AssetKey('shap_report'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert out.returncode == 0, out.stderr
    everything = "['IXIC|1d', 'IXIC|1w', 'SPX|1d', 'SPX|1w', 'VIX|1d', 'VIX|1w']"
    runs, materialized, explained = out.stdout.splitlines()
    assert runs.startswith("6 ") and materialized == everything and explained == everything
    assert (Path(env["TB_DATA_DIR"]) / "history").is_dir()  # instance storage lives under TB_DATA_DIR


def test_failing_partition_is_named_with_its_reason_and_exit_code(env, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    good = minute_bars(30)
    good["ts"] = pd.bdate_range("2024-01-01", periods=30, tz="UTC")
    good.to_csv(raw / "GOOD.csv", index=False)
    good.assign(close=-1.0).to_csv(raw / "BAD.csv", index=False)
    env.update(TB_SOURCE="csv", TB_RAW_DIR=str(raw), TB_TIMEFRAMES="1d")
    parts = tb(["partitions"], env)
    assert parts.stdout.split() == ["BAD|1d", "GOOD|1d"]  # symbols discovered in TB_RAW_DIR
    done = tb(["run", "--select", "bars"], env)
    assert done.returncode == 1
    assert "GOOD|1d ok" in done.stdout and "BAD|1d FAILED" in done.stdout
    assert "BAD|1d: bars: BarsValidationError: BAD (" in done.stderr
    assert "column 'close' has 30 zero or negative price(s), first at 2024-01-01" in done.stderr


@pytest.mark.cost(50)
def test_run_config_file_and_bad_arguments(env, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("ops:\n  bars:\n    config:\n      policy: fail\n")
    ok = tb(["run", "--select", "bars", "--partition", "SPX|1w", "--config", str(config)], env)
    assert ok.returncode == 0, ok.stderr
    assert "for 1 partition(s)" in ok.stdout
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("ops:\n  bars:\n    config:\n      policy: maybe\n      polcy: fail\n")
    bad = tb(["run", "--partition", "SPX|1w", "--config", str(wrong)], env)
    # every problem named before any run starts, not "Error in config for job tb_pipeline"
    assert bad.returncode == 2 and f"{wrong} is not valid run config for tb_pipeline" in bad.stderr, bad.stderr
    assert 'unexpected config entry "polcy" at path root:ops:bars:config' in bad.stderr
    assert "root:ops:bars:config:policy" in bad.stderr and "Traceback" not in bad.stderr
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    unusable = tb(["run", "--select", "bars"], {**env, "TB_DATA_DIR": str(not_a_folder)})
    assert unusable.returncode == 2 and "is a file, not a folder" in unusable.stderr and "Traceback" not in unusable.stderr
    assert "no partition matches 'TSLA|1d'" in tb(["run", "--partition", "TSLA|1d"], env).stderr
    assert "unknown asset(s) nope" in tb(["run", "--select", "nope"], env).stderr
    env["TB_SYMBOLS"] = "../etc"
    broken = tb(["partitions"], env)
    assert broken.returncode == 2 and "invalid symbol '../etc'" in broken.stderr


@pytest.mark.cost(40)
def test_two_runs_of_different_partitions_at_once_both_succeed(env):
    # two processes, two runs at once, one DuckDB file: bars and its check write and read the warehouse
    procs = [
        subprocess.Popen(
            [*TB, "run", "--select", "bars", "--partition", p],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )
        for p in ("SPX|1d", "IXIC|1d")
    ]
    outs = [p.communicate(timeout=HANG_GUARD_S) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, out + err
    assert bars_rows(env["TB_DATA_DIR"])["n"].tolist() == [5031, 5031]


def test_dagster_definitions_validate(env):
    done = subprocess.run(
        [shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.cost(35)
def test_plain_dagster_and_dg_work_from_the_project_root_with_nothing_exported(env):
    bare = {k: v for k, v in env.items() if k not in ("DAGSTER_HOME", "TB_DATA_DIR")}
    bin_dir = Path(sys.executable).parent
    for command in (["dagster", "definitions", "validate"], ["dg", "check", "defs"], ["dg", "list", "defs", "--json"]):
        done = subprocess.run(
            [str(bin_dir / command[0]), *command[1:]], env=bare, capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=PROJECT_ROOT
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
        if command[1] == "list":
            assert "shap_report" in done.stdout and "tb_alerts" in done.stdout


@pytest.mark.cost(30)
def test_runs_from_the_cli_show_in_the_ui(env):
    assert tb(["run", "--select", "bars", "--partition", "SPX|1w"], env).returncode == 0
    port = free_port()
    web = shutil.which("dagster-webserver", path=str(Path(sys.executable).parent)) or "dagster-webserver"
    server = subprocess.Popen(
        [web, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = {"query": "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"}
        deadline = time.time() + HANG_GUARD_S
        runs = None
        while time.time() < deadline and server.poll() is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql", data=json.dumps(query).encode(), headers={"Content-Type": "application/json"}
                )
                runs = json.load(urllib.request.urlopen(req, timeout=5))["data"]["runsOrError"]["results"]
                break
            except OSError:
                time.sleep(1)
        assert runs is not None, "the Dagster webserver did not answer"
        assert len(runs) == 1 and runs[0]["status"] == "SUCCESS"
        assert {"key": "dagster/partition", "value": "SPX|1w"} in runs[0]["tags"]
        # filed under the job (its Runs tab and the Overview timeline), not only in the global list
        job = {
            "query": '{ pipelineOrError(params: {pipelineName: "tb_pipeline", repositoryName: "__repository__", '
            'repositoryLocationName: "tb_assets"}) { ... on Pipeline { runs { runId } } } }'
        }
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql", data=json.dumps(job).encode(), headers={"Content-Type": "application/json"}
        )
        job_runs = json.load(urllib.request.urlopen(req, timeout=30))["data"]["pipelineOrError"]["runs"]
        assert [r["runId"] for r in job_runs] == [runs[0]["runId"]]
    finally:
        server.terminate()
        server.wait(timeout=30)


OPEN = "from tb_assets.runs.instance import open_instance\nwith open_instance() as i:\n    print(len(i.get_runs()))\n"


@pytest.mark.parametrize("round_", range(3))
def test_fresh_instance_opened_by_four_processes_at_once(env, round_):
    """Dagster's SQLite schema creation races on a fresh instance; open_instance serialises it."""
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 0 and out.strip() == "0", err[-2000:]


@pytest.mark.cost(90)
def test_killed_tuning_run_resumes_the_same_study(env, tmp_path):
    """Kill `tb run --select best_params` mid-study; the next run keeps the finished trials."""
    import optuna

    from tb_assets.core.modeling.tuning import rdb_storage  # takes the lock the run takes while creating the tables

    env.update(
        TB_SOURCE="synthetic",
        TB_SYMBOLS="SYN1",
        TB_TIMEFRAMES="1d",
        TB_SYNTHETIC_BARS="1500",
        TB_SYNTHETIC_SIGNAL="0.3",
        TB_CONTEXT_SYMBOLS="none",
    )
    upstream = tb(["run", "--select", "bars,features,targets,selected_features"], env)
    assert upstream.returncode == 0, upstream.stdout + upstream.stderr
    config = tmp_path / "tune.yaml"
    config.write_text("ops:\n  best_params:\n    config: {n_trials: 500, min_auc: 0.0, max_brier: 1.0, max_auc_cv: 10.0}\n")
    storage = f"sqlite:///{env['TB_DATA_DIR']}/optuna/SYN1/1d.db"
    log = tmp_path / "tuning.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*TB, "run", "--select", "best_params", "--config", str(config)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    done_before = []
    deadline = time.time() + HANG_GUARD_S
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(1)
            try:
                study = optuna.load_study(study_name="best_params:SYN1:1d", storage=rdb_storage(storage))
            except (KeyError, Exception):  # the study or the file does not exist yet
                continue
            if sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) >= 3:
                break
    finally:
        exited_early = proc.poll() is not None
        if not exited_early:
            os.killpg(proc.pid, 9)  # a crash: no cleanup, a trial left RUNNING
        proc.wait(timeout=30)
    assert not exited_early, f"the tuning run ended before it could be killed ({proc.returncode}):\n{log.read_text()[-4000:]}"
    study = optuna.load_study(study_name="best_params:SYN1:1d", storage=rdb_storage(storage))
    done_before = [(t.number, t.params) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done_before) >= 3, "the killed run should have finished a few trials"
    assert len(done_before) < 500

    config.write_text(
        f"ops:\n  best_params:\n    config: {{n_trials: {len(done_before) + 2}, min_auc: 0.0, max_brier: 1.0, max_auc_cv: 10.0}}\n"
    )
    resumed = tb(["run", "--select", "best_params", "--config", str(config)], env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    study = optuna.load_study(study_name="best_params:SYN1:1d", storage=rdb_storage(storage))
    complete = [(t.number, t.params) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete[: len(done_before)] == done_before  # the same study: earlier trials kept as they were
    assert len(complete) == len(done_before) + 2
    assert not any(t.state == optuna.trial.TrialState.RUNNING for t in study.trials)  # the stale one was failed
