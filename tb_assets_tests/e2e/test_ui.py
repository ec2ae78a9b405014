"""The UI in a real browser (Debian's chromium driven by Playwright, no browser download), on a
real `tb dev`; and `tb dev` stopping cleanly."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from tb_assets.cli.dev import process_group_alive, process_table
from tb_assets_tests.conftest import LAUNCH_ARGS
from tb_assets_tests.e2e.processes import Process, wait_for
from tb_assets_tests.servers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(dagster_home):
    e = {k: v for k, v in os.environ.items() if not k.startswith("TB_")}
    e.update(
        DAGSTER_HOME=str(dagster_home),
        TB_DATA_DIR=os.environ["TB_DATA_DIR"],
        TB_SOURCE="synthetic",
        TB_SYMBOLS="SYN1",
        TB_TIMEFRAMES="1d",
        TB_SYNTHETIC_BARS="600",
        TB_CONTEXT_SYMBOLS="none",
        TB_AUTOMATION="off",
        OMP_WAIT_POLICY="PASSIVE",
    )
    return e


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    return [child for child, _, parent, _ in process_table() if parent == pid]


@pytest.mark.cost(70)
def test_materialize_a_partition_in_the_browser_then_tb_dev_stops_cleanly(env, chromium, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("TB_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    port, reports_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "tb-dev.log"
    # tb dev serves the artifacts on 127.0.0.1 too: the tearsheet links in run metadata open with a click
    probe = Path(env["TB_DATA_DIR"]) / "artifacts" / "probe.html"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text("<p>served</p>")
    env["TB_REPORTS_PORT"] = str(reports_port)
    dev = Process([sys.executable, "-m", "tb_assets.cli", "dev", "-h", "127.0.0.1", "-p", str(port)], env, log).start()
    try:
        wait_for(lambda: answers(f"{base}/server_info"), "the webserver to answer", alive=dev)
        assert f"tearsheets and plots at http://127.0.0.1:{reports_port}/" in log.read_text(errors="replace")
        assert answers(f"http://127.0.0.1:{reports_port}/probe.html")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # a loaded 2-core machine (the cluster test beside this one) renders slowly: wait for what
            # the page shows, however long it takes, not for a stopwatch
            page.set_default_timeout(180_000)
            # the asset graph: every stage's group
            page.goto(f"{base}/asset-groups", wait_until="networkidle")
            for group in ("bars", "features", "targets", "modeling", "explain"):
                page.get_by_text(group, exact=True).first.wait_for()
            page.screenshot(path=str(shots / "graph.png"))

            # an asset, then Materialize for its one partition
            page.goto(f"{base}/assets/bars", wait_until="networkidle")
            page.get_by_text("refresh on 30 22 * * 1-5 (UTC)", exact=False).first.wait_for()  # its automation condition
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Partition selection").wait_for()
            page.wait_for_load_state("networkidle")  # the partition keys arrive after the dialog opens
            one = dialog.get_by_text("1 partition", exact=True)
            for _ in range(20):  # keys that arrive after a click leave the selection empty: click again then
                for button in dialog.get_by_role("button", name="All", exact=True).all():  # symbol, timeframe
                    button.click()
                try:
                    one.wait_for(timeout=15_000)
                    break
                except PlaywrightTimeout:
                    continue
            one.wait_for()
            page.screenshot(path=str(shots / "materialize-dialog.png"))
            dialog.get_by_role("button", name="Launch 1 run").click()

            instance = dg.DagsterInstance.get()
            run = wait_for(lambda: next((r for r in instance.get_runs() if r.is_finished), None), "the run to finish", alive=dev)
            assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == "SYN1|1d"

            # its metadata and its check result on the page
            page.goto(f"{base}/assets/bars?partition=SYN1%7C1d", wait_until="networkidle")
            page.get_by_text("rows", exact=True).first.wait_for()
            page.get_by_text("600", exact=True).first.wait_for()  # rows of 600 daily bars
            page.screenshot(path=str(shots / "asset-metadata.png"))
            page.goto(f"{base}/assets/bars?view=checks", wait_until="networkidle")
            page.get_by_text("bars_valid_ohlcv", exact=True).first.wait_for()
            page.get_by_text(re.compile("Passed|Succeeded")).first.wait_for()
            page.screenshot(path=str(shots / "asset-checks.png"))
            # the run sits in the job's run list in the UI
            page.goto(f"{base}/runs/{run.run_id}", wait_until="networkidle")
            page.get_by_text("Success", exact=False).first.wait_for()
            page.screenshot(path=str(shots / "run.png"))
            browser.close()

        assert " DEBUG " not in log.read_text(errors="replace")  # the console is not flooded with run DEBUG lines
        # a user's SIGTERM (or Ctrl-C) to `tb dev` takes the webserver, the daemon and the code servers down
        [dagster_dev] = children(dev.proc.pid)
        os.kill(dev.proc.pid, signal.SIGTERM)
        code = dev.proc.wait(timeout=120)
        assert code == 128 + signal.SIGTERM
        time.sleep(1)
        assert not process_group_alive(dagster_dev), "something of `dagster dev` survived tb dev"
    finally:
        dev.stop()
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "asset-checks.png",
        "asset-metadata.png",
        "graph.png",
        "materialize-dialog.png",
        "run.png",
    ]
