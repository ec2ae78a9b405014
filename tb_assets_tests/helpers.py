"""Running the project's jobs in tests and reading back what they stored."""

import contextlib
import multiprocessing
from pathlib import Path

import dagster as dg
import duckdb

from tb_assets.assets.model_experiments import RESEARCH_GROUP
from tb_assets.definitions import PIPELINE_JOB
from tb_assets.storage.urls import storage_root
from tb_assets.storage.warehouse import as_utc_ns, read_parquet_sql, read_partition, stored_assets, write_partition

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


# the graph in order: a test of one stage runs the stages up to it
STAGES = ["bars", "features", "targets", "selected_features", "best_params", "production_model"]
# every asset the scheduled refresh and `tb run` materialize, in order
CHAIN = [*STAGES, "shap_report", "strategy_backtest", "strategy_trades", "strategy_report", "signals", "model_health"]


def upto(asset: str) -> list:
    return [dg.AssetKey(a) for a in STAGES[: STAGES.index(asset) + 1]]


def chain(defs) -> list:
    """Every asset but the research group's: what `tb run` runs by default."""
    graph = defs.resolve_asset_graph()
    return [k for k in graph.get_all_asset_keys() if graph.get(k).group_name != RESEARCH_GROUP]


def run(defs, key, run_config=None, selection=None, instance=None):
    """One partition of the pipeline job (by default the chain, as `tb run`), in process; never
    raises on failure."""
    job = defs.resolve_job_def(PIPELINE_JOB)
    selection = chain(defs) if selection is None else selection
    config = {**QUIET, **(run_config or {})}
    return job.execute_in_process(
        partition_key=key,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config=config,
        asset_selection=selection,
    )


def run_checks(defs, key, *names, asset="features", run_config=None, instance=None):
    """Only the named checks of one partition (they read the stored data back)."""
    keys = {dg.AssetCheckKey(dg.AssetKey(asset), n) for n in names}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(), asset_check_selection=keys)
    return job.execute_in_process(
        partition_key=key,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={**QUIET, **(run_config or {})},
    )


def published(settings, asset: str, symbol: str = "SYN1", timeframe: str = "1d") -> Path:
    """The folder of an artifact's published version (what readers open)."""
    from tb_assets.storage.artifacts import artifact_dir
    from tb_assets.storage.versions import published_folder

    return Path(published_folder(artifact_dir(settings.artifacts_dir, asset, symbol, timeframe)).path)


def tamper(settings, sql):
    """Change the stored warehouse behind the project's back (to prove a check notices)."""
    tamper_warehouse(settings.warehouse, sql)


def tamper_warehouse(url: str, sql: str) -> None:
    """Every asset's partitions under `url` as DuckDB tables, `sql` run on them, each partition
    written back with its own columns plus any the statement added."""
    root = storage_root(url)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    own: dict[tuple[str, str, str], list[str]] = {}
    try:
        for asset in stored_assets(root):
            con.execute(f'CREATE TABLE "{asset}" AS SELECT * FROM {read_parquet_sql(root, asset)}')
            for symbol, timeframe in con.execute(f'SELECT DISTINCT symbol, timeframe FROM "{asset}"').fetchall():
                own[asset, symbol, timeframe] = list(read_partition(root, asset, symbol, timeframe).columns)
        union = {asset: {r[0] for r in con.execute(f'DESCRIBE "{asset}"').fetchall()} for asset in {a for a, _, _ in own}}
        con.execute(sql)
        for (asset, symbol, timeframe), columns in own.items():
            frame = as_utc_ns(con.execute(f'SELECT * FROM "{asset}" WHERE symbol = ? AND timeframe = ?', [symbol, timeframe]).fetchdf())
            added = [c for c in frame.columns if c not in union[asset]]
            write_partition(root, asset, symbol, timeframe, frame[columns + added])
    finally:
        con.close()


def stored(settings, symbol, timeframe, table="bars"):
    """A partition of a warehouse table as stored, in time order."""
    return stored_partition(settings.warehouse, symbol, timeframe, table)


def stored_partition(url: str, symbol: str, timeframe: str, table: str = "bars"):
    return read_partition(storage_root(url), table, symbol, timeframe).sort_values("ts").reset_index(drop=True)


def failure_text(result) -> str:
    texts = []
    for e in result.all_events:
        if e.is_step_failure:
            err = e.step_failure_data.error
            while err is not None:
                texts.append(err.message)
                err = err.cause
    return "\n".join(texts)


def metadata(result, asset="bars"):
    (mat,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in mat.metadata.items()}


def checks(result) -> dict:
    return {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}


@contextlib.contextmanager
def spawn_pool(processes: int):
    """A spawn-context process pool that ends by letting its workers finish and exit (close, join).
    `with Pool(...)` terminates them instead, which can leave the pool waiting forever on a queue
    lock a killed worker held (seen once in a full run)."""
    pool = multiprocessing.get_context("spawn").Pool(processes)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


# the planted signal is the past 5-bar return: every feature made of the last few returns carries it
SIGNAL_FEATURES = {
    "ret_5",
    "zret_20",
    "ret_10",
    "mom_10",
    "rsi_14",
    "stoch_k_14",
    "bb_pctb_20",
    "macd_hist",
    "ret_1",
    "dist_sma_10",
    "dist_sma_20",
}
