"""`strategy_backtest`: combinatorial purged CV paths of the production recipe (AFML ch. 12)."""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from tb_assets.assets.common import markdown_table
from tb_assets.assets.modeling import ThinningConfig, artifact_root, partition_training_data
from tb_assets.assets.partitions import partition_parts
from tb_assets.checks.publication import awaited
from tb_assets.checks.strategy_backtest import BACKTEST, BLOCKING, build_strategy_backtest_checks
from tb_assets.resources import ArtifactStore
from tb_assets.storage.records import ModelCard, StrategyBacktest

# scikit-learn and LightGBM are imported inside the functions that use them: loading the
# definitions stays light (code servers, the daemon's workspace reload every minute, every `tb` command)


class BacktestConfig(ThinningConfig):
    n_groups: int = Field(default=6, ge=2, description="N: contiguous groups the events are cut into (in time order)")
    n_test_groups: int = Field(default=2, ge=1, description="k: groups each split tests; C(N, k) splits, C(N, k) k / N paths")
    n_jobs: int = Field(default=2, description="LightGBM threads")


def build_strategy_backtest_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=partitions_def, deps=["production_model"], kinds={"lightgbm"}, group_name="strategy", code_version="1")
    def strategy_backtest(
        context: dg.AssetExecutionContext, config: BacktestConfig, features: pd.DataFrame, targets: pd.DataFrame, artifacts: ArtifactStore
    ) -> dg.MaterializeResult:
        """The production recipe (the card's params, sample weights and class balance) fitted on each of the
        C(N, k) combinatorial purged splits of every labelled event (purged by each event's own t1, with the
        production model's embargo), its predictions calibrated cross-fitted by group and assembled into
        complete out-of-sample paths. Writes paths.parquet (each event's probability on each path) and
        splits.parquet (what each split trained on and tested: the purge check verifies them)."""
        from sklearn.metrics import roc_auc_score

        from tb_assets.core.modeling.production import ProductionSpec
        from tb_assets.core.strategy.backtest import backtest_paths

        symbol, timeframe = partition_parts(context)
        root = artifact_root(artifacts)
        card = ModelCard.load(root, symbol, timeframe)
        data = partition_training_data(artifacts, symbol, timeframe, features, targets, card.features)
        params = {k: v for k, v in card.params.items() if k != "source"}
        spec = ProductionSpec(
            sample_weights=card.sample_weights_used,
            balanced="true" if card.balanced else "false",  # as the production model decided it
            n_jobs=config.n_jobs,
            seed=card.seed,
            embargo_pct=float(card.cv.get("embargo_pct", 0.01)),
        )
        from tb_assets.core.strategy.cpcv import CombinatorialPurgedKFold

        cv = CombinatorialPurgedKFold(config.n_groups, config.n_test_groups, t1=data.t1, embargo_pct=spec.embargo_pct)
        thin = config.thin(data, list(cv.split(data.X)))
        paths = backtest_paths(data, params, spec, n_groups=config.n_groups, n_test_groups=config.n_test_groups, thin=thin)
        aucs = [float(roc_auc_score(data.y, paths.proba[p])) for p in range(paths.n_paths)]
        table = pd.DataFrame({"ts": data.t1.index, "t1": data.t1.to_numpy(), "y": data.y, "group": paths.group})
        for p in range(paths.n_paths):
            table[f"path_{p}"] = paths.proba[p]
        splits = pd.concat(
            [
                pd.DataFrame(
                    {
                        "split": np.full(len(train) + len(test), s, dtype=np.int16),
                        "row": np.r_[train, test].astype("int32"),
                        "train": np.r_[np.ones(len(train), bool), np.zeros(len(test), bool)],
                    }
                )
                for s, (train, test) in enumerate(paths.splits)
            ],
            ignore_index=True,
        )
        record = StrategyBacktest(
            n_groups=config.n_groups,
            n_test_groups=config.n_test_groups,
            n_splits=len(paths.splits),
            n_paths=paths.n_paths,
            embargo_pct=spec.embargo_pct,
            events=len(data.y),
            test_groups=[list(g) for g in paths.test_groups],
            path_splits=paths.path_splits.tolist(),
            calibration=paths.calibration.as_dict(),
            path_auc=aucs,
            model_sha256=card.artifact_sha256.get(ModelCard.MODEL, ""),
            params=params,
        )
        path = record.save(root, symbol, timeframe, table, splits, awaits=awaited(context, BACKTEST, BLOCKING))
        trained = [len(train) for train, _ in paths.splits]
        purged = [len(data.y) - len(train) - len(test) for train, test in paths.splits]
        overview = pd.DataFrame(
            {"split": range(len(paths.splits)), "test_groups": [str(g) for g in paths.test_groups], "train": trained, "purged": purged}
        )
        return dg.MaterializeResult(
            metadata={
                "splits": len(paths.splits),
                "paths": paths.n_paths,
                "events": len(data.y),
                "path_auc_min": min(aucs),
                "path_auc_mean": float(np.mean(aucs)),
                "path_auc_max": max(aucs),
                "calibration": paths.calibration.method,
                "thinned_to_every": thin,
                "purged_per_split_mean": float(np.mean(purged)),
                "splits_table": dg.MetadataValue.md(markdown_table(overview)),
                "report": dg.MetadataValue.path(str(path)),
                "version": record.version,
            }
        )

    return strategy_backtest


def definitions(partitions_def: dg.PartitionsDefinition) -> dg.Definitions:
    """The `strategy_backtest` stage: its asset and its checks."""
    return dg.Definitions(
        assets=[build_strategy_backtest_asset(partitions_def)], asset_checks=build_strategy_backtest_checks(partitions_def)
    )
