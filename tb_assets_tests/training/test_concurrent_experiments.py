"""Two experiments of one partition at once (issue 26.4): before, a model's files were rewritten
after its registry row recorded their SHA-256. Now the second waits for the first's partition lock,
finds every combination registered and trains nothing; every file matches its row."""

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tb_assets.training.registry import ModelRegistry

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from tb_assets.training.experiment import Experiment, ExperimentSpec
    from tb_assets.training.registry import ModelRegistry
    from tb_assets_tests.training.frames import FEATURES, GROUPS, partition

    folder = Path(sys.argv[1])
    bars, features, targets = partition(n=700, seed=9)
    spec = ExperimentSpec("SYN", "1d", algorithms=("lightgbm_classifier", "elasticnet_regression"), n_jobs=1,
                          shap_rows=20, permutation_rows=50, permutation_repeats=1)
    with ModelRegistry(f"sqlite:///{folder / 'registry.db'}") as registry, registry.partition_lock("SYN", "1d"):
        result = Experiment(spec, bars=bars, features=features, targets=targets, catalog=FEATURES, groups=GROUPS,
                            registry=registry, model_folder=lambda fp: folder / "models" / fp[:16]).run()
        report = {"cohorts": [{"cohort_id": c.cohort_id, "model_ids": [r.id for r in c.models]} for c in result.cohorts]}
        (folder / f"experiments-{sys.argv[2]}.json").write_text(json.dumps(report))
    print(result.trained)
""")


@pytest.mark.cost(20)
def test_two_experiments_of_one_partition_land_consistently(tmp_path):
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), str(i)], cwd=root, stdout=subprocess.PIPE, text=True) for i in (1, 2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), outputs
    trained = sorted(int(o.strip().splitlines()[-1]) for o in outputs)
    assert trained[0] == 0 and trained[1] > 0  # one trained, the other waited and found everything registered
    with ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        rows = registry.find()
        assert len({r.fingerprint for r in rows}) == len(rows) == trained[1]
        for row in rows:
            for name, entry in row.artifacts.items():
                assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256"], (row.id, name)
        ids = {r.id for r in rows}
        for i in (1, 2):
            report = __import__("json").loads((tmp_path / f"experiments-{i}.json").read_text())
            assert all(set(c["model_ids"]) <= ids for c in report["cohorts"])
