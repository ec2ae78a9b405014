"""No credential is stored or shown: a password in every setting that can carry one, the chain run
with them (tuning on a real PostgreSQL through the password-carrying URL), then `tb dev` and a
training-service run launched through Dagster's GraphQL client (its registry on PostgreSQL); none of
the secrets may be found in any file under TB_DATA_DIR or DAGSTER_HOME, nor in the UI's GraphQL
answers (runs, their config and event logs, the resources, the Launchpad's default config)."""

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from tb_assets.resources.secrets import CREDENTIAL_SETTINGS
from tb_assets_tests.e2e.processes import Process, wait_for
from tb_assets_tests.e2e.test_cli import env, tb  # noqa: F401 (env: the persistent instance fixture)
from tb_assets_tests.e2e.test_ui import answers
from tb_assets_tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("postgres")]  # the session's PostgreSQL server

REPOSITORY = '{repositoryName: "__repository__", repositoryLocationName: "tb_assets"}'
PIPELINE = '{pipelineName: "tb_pipeline", repositoryName: "__repository__", repositoryLocationName: "tb_assets"}'
METADATA = (
    "metadataEntries { label ... on TextMetadataEntry { text } ... on MarkdownMetadataEntry { mdStr } "
    "... on PathMetadataEntry { path } ... on UrlMetadataEntry { url } ... on JsonMetadataEntry { jsonString } }"
)


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    answer = json.load(urllib.request.urlopen(request, timeout=60))
    assert "errors" not in answer, answer["errors"]  # a query the UI cannot answer proves nothing
    return answer["data"]


@pytest.mark.cost(100)
def test_no_credential_is_stored_or_shown(env, postgres, tmp_path):
    secrets = {name: f"S3cret-{name.lower()}-7f3a" for name in CREDENTIAL_SETTINGS}
    url = postgres.new_database("secrets").replace(
        "postgresql+psycopg2://postgres@", f"postgresql+psycopg2://postgres:{secrets['TB_OPTUNA_STORAGE']}@"
    )
    env.update(
        TB_SOURCE="synthetic",
        TB_SYMBOLS="SYN1",
        TB_TIMEFRAMES="1d",
        TB_SYNTHETIC_BARS="1000",
        TB_CONTEXT_SYMBOLS="none",
        TB_OPTUNA_STORAGE=url,
        TB_REGISTRY_URL=url.replace(secrets["TB_OPTUNA_STORAGE"], secrets["TB_REGISTRY_URL"]),
        TB_ALERT_WEBHOOK=f"http://127.0.0.1:{free_port()}/hooks/{secrets['TB_ALERT_WEBHOOK']}",
        TB_ALERT_SMTP=f"127.0.0.1:{free_port()}",
        TB_ALERT_EMAIL_TO="quant@example.com",
        TB_ALERT_SMTP_USER=secrets["TB_ALERT_SMTP_USER"],
        TB_ALERT_SMTP_PASSWORD=secrets["TB_ALERT_SMTP_PASSWORD"],
    )
    config = tmp_path / "tune.yaml"
    config.write_text("ops:\n  best_params:\n    config: {n_trials: 3, min_auc: 0.0, max_brier: 1.0, max_auc_cv: 10.0}\n")
    chain = tb(["run", "--select", "bars,features,targets,selected_features,best_params", "--config", str(config)], env)
    assert chain.returncode == 0, chain.stdout + chain.stderr

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dev = Process([sys.executable, "-m", "tb_assets.cli", "dev", "-h", "127.0.0.1", "-p", str(port)], env, tmp_path / "dev.log")
    with dev:
        wait_for(lambda: answers(f"{base}/server_info"), "the webserver to answer", alive=dev)
        runs = graphql(base, "{ runsOrError { ... on Runs { results { runId runConfigYaml tags { key value } } } } }")
        run_ids = [r["runId"] for r in runs["runsOrError"]["results"]]
        assert len(run_ids) == 1
        shown = [json.dumps(runs)]
        for run_id in run_ids:
            shown.append(
                json.dumps(
                    graphql(
                        base,
                        f'{{ logsForRun(runId: "{run_id}") {{ ... on EventConnection {{ events {{ '
                        f"... on MessageEvent {{ message }} ... on MaterializationEvent {{ {METADATA} }} "
                        f"}} }} }} }}",
                    )
                )
            )
        resources = graphql(
            base,
            f"{{ allTopLevelResourceDetailsOrError(repositorySelector: {REPOSITORY}) {{ "
            "... on ResourceDetailsList { results { name configuredValues { key value type } } } } }",
        )
        shown.append(json.dumps(resources))
        shown.append(
            json.dumps(
                graphql(base, f"{{ runConfigSchemaOrError(selector: {PIPELINE}) {{ ... on RunConfigSchema {{ rootDefaultYaml }} }} }}")
            )
        )
        shown.append(
            json.dumps(
                graphql(
                    base, "{ assetNodes { assetKey { path } description metadataEntries { label ... on TextMetadataEntry { text } } } }"
                )
            )
        )
        configured = {
            r["name"]: {v["key"]: v for v in r["configuredValues"]} for r in resources["allTopLevelResourceDetailsOrError"]["results"]
        }
        # what the UI shows instead: the variable's name
        assert configured["tuning_storage"]["storage_url"] == {"key": "storage_url", "value": "TB_OPTUNA_STORAGE", "type": "ENV_VAR"}
        assert configured["model_registry"]["url"] == {"key": "url", "value": "TB_REGISTRY_URL", "type": "ENV_VAR"}
        assert configured["notifier"]["webhook"]["type"] == "ENV_VAR"
        assert configured["notifier"]["smtp_password"]["value"] == "TB_ALERT_SMTP_PASSWORD"

        # the training service launched from Python as the README shows (Dagster's GraphQL client), its
        # registry on PostgreSQL through the password-carrying TB_REGISTRY_URL
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        experiment = client.submit_job_execution(
            "tb_pipeline",
            asset_selection=["model_experiments"],
            run_config={
                "ops": {"model_experiments": {"config": {"algorithms": ["linear_regression", "lightgbm_classifier"], "n_jobs": 1}}}
            },
            tags={"dagster/partition": "SYN1|1d", "dagster/partition/symbol": "SYN1", "dagster/partition/timeframe": "1d"},
        )
        status = wait_for(
            lambda: (s := client.get_run_status(experiment).value) in ("SUCCESS", "FAILURE", "CANCELED") and s,
            "the experiment run to end",
            alive=dev,
        )
        assert status == "SUCCESS", dev.text()[-4000:]
        events = graphql(
            base,
            f'{{ logsForRun(runId: "{experiment}") {{ ... on EventConnection {{ events {{ '
            "... on AssetCheckEvaluationEvent { evaluation { checkName success } } } } } }",
        )
        evaluated = {e["evaluation"]["checkName"]: e["evaluation"]["success"] for e in events["logsForRun"]["events"] if e}
        assert evaluated == {
            "model_experiments_permutation_sentinel": True,
            "model_experiments_no_raw_prices": True,
            "model_experiments_no_regression": True,
        }

    answers_text = "\n".join(shown)
    assert "best_params" in answers_text and "tb_pipeline" in answers_text  # the answers hold the runs and the chain
    for name, secret in secrets.items():
        assert secret not in answers_text, f"{name} is shown by the UI's GraphQL"
    stored = [p for folder in (Path(env["TB_DATA_DIR"]), Path(env["DAGSTER_HOME"])) for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "runs.db" for p in stored) and any(p.suffix == ".parquet" for p in stored)
    for path in stored:
        data = path.read_bytes()
        for name, secret in secrets.items():
            assert secret.encode() not in data, f"{name} is stored in {path}"
    # the chain really went through the password-carrying URL: the study is on the server
    import optuna

    assert optuna.get_all_study_names(url) == ["best_params:SYN1:1d"]
    # ... and the experiment's models are in the PostgreSQL registry: one row per combination of its two grids
    from tb_assets.training.registry import ModelRegistry

    with ModelRegistry(env["TB_REGISTRY_URL"]) as registry:
        rows = registry.find(symbol="SYN1", timeframe="1d")
    assert sorted(r.algorithm for r in rows) == ["lightgbm_classifier", "lightgbm_classifier", "linear_regression"]
    assert all(Path(entry["path"]).exists() for r in rows for entry in r.artifacts.values())
