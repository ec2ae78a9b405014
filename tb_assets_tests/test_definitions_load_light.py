"""Loading the Dagster definitions stays light: every code server, the daemon's workspace reload
(Dagster restarts its code server every minute) and each `tb` command pay for it, while only a run
that executes a modeling step needs scikit-learn, LightGBM, Optuna, SHAP or matplotlib."""

import json
import subprocess
import sys

from tb_assets.settings import PROJECT_ROOT

HEAVY = ("sklearn", "lightgbm", "optuna", "shap", "matplotlib", "xgboost")

PROBE = """
import json, sys
import tb_assets.definitions as d
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
print(json.dumps({{"heavy": heavy, "assets": len(list(d.defs.resolve_all_asset_keys()))}}))
"""


def test_loading_the_definitions_imports_no_modeling_library():
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=repr(set(HEAVY)))], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["assets"] == 13  # the whole chain, the strategy and live layers and the training service were defined ...
    assert loaded["heavy"] == [], f"imported while loading the definitions: {loaded['heavy'][:10]}"  # ... without them


READ_ONLY = """
import json, sys
from tb_assets.cli import main
try:
    main({argv})
except SystemExit:
    pass
loaded = sorted({{m.split(".")[0] for m in sys.modules if m.split(".")[0] in {{"dagster", "sklearn", "lightgbm", "numba"}}}})
print(json.dumps({{"loaded": loaded, "definitions": "tb_assets.definitions" in sys.modules}}))
"""


def test_read_only_commands_load_no_dagster(tmp_path):
    """`tb --help`, `tb partitions`, `tb models`, `tb sql` answer in well under 2 s because they
    import neither Dagster (1-5 s on a busy machine) nor the definitions they do not need."""
    env = {**__import__("os").environ, "TB_DATA_DIR": str(tmp_path)}
    for argv in (["--help"], ["partitions"], ["models", "list"], ["models", "production"], ["report"], ["sql", "select 1"]):
        done = subprocess.run(
            [sys.executable, "-c", READ_ONLY.format(argv=argv)], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, check=False
        )
        assert done.returncode == 0, done.stderr
        loaded = json.loads(done.stdout.strip().splitlines()[-1])
        assert loaded == {"loaded": [], "definitions": False}, (argv, loaded)
