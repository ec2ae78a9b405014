"""deploy/: the team profile's instance and the Kubernetes variant, validated as configuration
against Dagster's own schemas (the instance schema, each run launcher's config schema); the Helm
values kept in step with the instance they stand for."""

import re
import shutil

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

from tb_assets.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


@pytest.fixture
def team_env(monkeypatch):
    monkeypatch.setenv("TB_DAGSTER_PG_URL", "postgresql+psycopg2://dagster:pw@127.0.0.1:5432/dagster")
    monkeypatch.setenv("TB_CELERY_BROKER", "redis://127.0.0.1:6379/0")


def launcher_config(folder, tmp_path):
    """The instance file validated by Dagster, and its run launcher's config validated by the launcher's own schema."""
    shutil.copy(folder / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    launcher = config["run_launcher"]
    cls = getattr(__import__(launcher["module"], fromlist=[launcher["class"]]), launcher["class"])
    result = process_config(cls.config_type(), launcher.get("config", {}))
    assert result.success, [e.message for e in result.errors]
    return config, result.value


def test_the_team_instance_is_valid_dagster_configuration(team_env, tmp_path):
    config, launcher = launcher_config(DEPLOY, tmp_path)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "TB_DAGSTER_PG_URL"}
    assert config["run_launcher"]["class"] == "TeamRunLauncher" and launcher["broker"] == "redis://127.0.0.1:6379/0"
    # the workspace reaches the code server by the address tb defaults
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["port"] == {"env": "TB_CODE_SERVER_PORT"}


def test_a_misspelt_launcher_setting_is_caught(team_env, tmp_path):
    (tmp_path / "k8s").mkdir()
    bad = (DEPLOY / "k8s" / "dagster.yaml").read_text().replace("job_namespace:", "job_namespce:")
    (tmp_path / "k8s" / "dagster.yaml").write_text(bad)
    with pytest.raises(AssertionError, match="job_namespce"):
        launcher_config(tmp_path / "k8s", tmp_path)


def test_the_kubernetes_variant_is_valid_configuration(team_env, tmp_path):
    config, launcher = launcher_config(DEPLOY / "k8s", tmp_path)
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert launcher["env_secrets"] == ["tb-secrets"] and launcher["env_config_maps"] == ["tb-settings"]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_helm_values_match_the_kubernetes_instance():
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    instance = yaml.safe_load((DEPLOY / "k8s" / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    helm = values["runLauncher"]["config"]["k8sRunLauncher"]
    from dagster_k8s import K8sRunLauncher

    known = set(K8sRunLauncher.config_type())
    assert {_snake(k) for k in helm} <= known, {_snake(k) for k in helm} - known  # every chart key is a launcher setting
    assert [s["name"] for s in helm["envSecrets"]] == instance["env_secrets"]
    assert [c["name"] for c in helm["envConfigMaps"]] == instance["env_config_maps"]
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "tb_assets.definitions"]
