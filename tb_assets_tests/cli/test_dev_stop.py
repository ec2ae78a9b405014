"""`tb dev`'s process group: a second Ctrl-C or SIGTERM while it stops kills what is left, never
leaves the webserver, daemon or code servers running (it used to abort the shutdown)."""

import os
import signal
import subprocess
import sys
import textwrap

import psutil

from tb_assets.cli.dev import process_group_alive
from tb_assets_tests.e2e.processes import HANG_GUARD_S

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"


def test_a_second_signal_while_stopping_kills_the_group(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from tb_assets.cli.dev import run_process_group
        sys.exit(run_process_group([sys.executable, "-c", {STUBBORN!r}], cwd=Path({str(tmp_path)!r}), grace_s=600))
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "ready"  # the child (its own process group) ignores SIGTERM
    child_group = psutil.Process(parent.pid).children()[0].pid  # started in a session of its own: pgid == pid
    parent.send_signal(signal.SIGTERM)  # graceful: the group gets SIGTERM, which it ignores
    assert "tb dev: stopping" in parent.stderr.readline() + parent.stderr.readline()
    assert parent.poll() is None and process_group_alive(child_group)
    parent.send_signal(signal.SIGTERM)  # impatient: no more grace
    code = parent.wait(timeout=HANG_GUARD_S)
    left = process_group_alive(child_group)
    try:  # never leave it behind, whatever is asserted below (it holds our pipes open)
        os.killpg(child_group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    assert not left, "the second signal left the process group running"
    err = parent.stderr.read()
    assert code == 128 + signal.SIGTERM and "Traceback" not in err, err
