"""The registry on SQLite and on a real PostgreSQL: the same rows, lineage, and the unique
fingerprint settling races between processes."""

import multiprocessing as mp

import pytest
import sqlalchemy as sa

from tb_assets.training.registry import MODELS, ModelRegistry, ModelRow

ROUNDS, RACERS = 4, 4


def row(fingerprint: str, **changes) -> ModelRow:
    base = dict(
        fingerprint=fingerprint,
        symbol="SPX",
        timeframe="1d",
        algorithm="linear_regression",
        task="regression",
        target="log_return",
        lookforward=5,
        cohort_id="c1",
        parent_model_id=None,
        rank_in_cohort=1,
        score_name="r2",
        score=float("nan"),
        params={"fit_intercept": True},
        features=["a", "b"],
        used_features=["a"],
        metrics={"r2": -0.01, "r2_std": float("inf"), "folds": [{"r2": -0.01}]},
        data_options={"validation": "purged_kfold"},
        data_version="v",
        n_rows=10,
    )
    return ModelRow(**{**base, **changes})


def _save(url: str, fingerprint: str, barrier, out) -> None:
    registry = ModelRegistry(url)
    barrier.wait()
    out.put(registry.add(row(fingerprint)))
    registry.close()


def race(url: str) -> None:
    ctx = mp.get_context("spawn")
    for r in range(ROUNDS):
        barrier, out = ctx.Barrier(RACERS), ctx.Queue()
        procs = [ctx.Process(target=_save, args=(url, f"fp-race-{r}", barrier, out)) for _ in range(RACERS)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert len({model_id for model_id, _ in results}) == 1, results
        assert sorted(created for _, created in results) == [False] * (RACERS - 1) + [True], results
    with ModelRegistry(url) as registry, registry.engine.connect() as con:
        counts = con.execute(sa.select(MODELS.c.fingerprint, sa.func.count()).group_by(MODELS.c.fingerprint)).all()
    assert sorted(counts) == [(f"fp-race-{r}", 1) for r in range(ROUNDS)]


def behaves(registry: ModelRegistry) -> None:
    first, created = registry.add(row("fp-1"))
    assert created
    again, created = registry.add(row("fp-1", cohort_id="c2"))
    assert (again, created) == (first, False)
    child, _ = registry.add(row("fp-2", parent_model_id=first, cohort_id="c2", algorithm="lightgbm_regressor"))
    grandchild, _ = registry.add(row("fp-3", parent_model_id=child, cohort_id="c3"))
    assert [r.id for r in registry.lineage(grandchild)] == [first, child, grandchild]
    assert registry.known(["fp-1", "fp-3", "fp-9"]) == {"fp-1": first, "fp-3": grandchild}
    assert [r.id for r in registry.find(cohort_id="c2")] == [child]
    assert [r.id for r in registry.find(algorithm="linear_regression", symbol="SPX")] == [first, grandchild]
    stored = registry.get(first)
    assert stored.score is None and stored.metrics["r2_std"] is None  # NaN and inf are stored as null on both
    assert stored.params == {"fit_intercept": True} and stored.features == ["a", "b"]
    assert stored.created_at.utcoffset().total_seconds() == 0  # UTC on both (SQLite keeps no zone)


def test_the_registry_on_sqlite(tmp_path):
    with ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        behaves(registry)


def test_a_full_grids_worth_of_fingerprints_and_ids_is_looked_up(tmp_path):
    with ModelRegistry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
        with registry.engine.begin() as con:
            con.execute(MODELS.insert(), [{k: v for k, v in vars(row(f"fp-{i}")).items() if k != "id"} for i in range(1_200)])
        fingerprints = [f"fp-{i}" for i in range(40_000)]  # two full 19,208-combination grids asked at once
        known = registry.known(fingerprints)
        assert len(known) == 1_200 and sorted(r.id for r in registry.find(ids=known.values())) == sorted(known.values())


@pytest.mark.cost(20)
def test_processes_saving_one_fingerprint_at_once_leave_one_row_on_sqlite(tmp_path):
    race(f"sqlite:///{tmp_path / 'fresh.db'}")  # a fresh file: table creation races too


@pytest.mark.xdist_group("postgres")
@pytest.mark.cost(20)
def test_the_registry_and_its_races_on_postgresql(postgres):
    with ModelRegistry(postgres.new_database("registry_rows")) as registry:
        behaves(registry)
    race(postgres.new_database("registry_race"))


def test_a_model_saved_by_an_earlier_layout_says_to_retrain_it(tmp_path):
    """zoo-1 pickles name classes that have moved (tb_assets.core.modeling.models): a clear message
    naming the model, its code version and the command, not an unpickling traceback."""
    import hashlib

    from tb_assets.core.errors import TbError
    from tb_assets.training.registry import load_model

    old = b"ctb_assets.core.modeling.models\nLightGBMClassifier\n."  # a pickle of the class where it used to live
    path = tmp_path / "pipeline.joblib"
    path.write_bytes(old)
    saved = row(
        "fp-old", code_version="zoo-1", artifacts={"pipeline.joblib": {"path": str(path), "sha256": hashlib.sha256(old).hexdigest()}}
    )
    with pytest.raises(
        TbError, match=r"saved by code version zoo-1 .* train it again \(tb run --select model_experiments --partition 'SPX\|1d'\)"
    ):
        load_model(saved)
