"""deploy/helm/values.yaml for the official Dagster chart: the same code location, instance settings and
secrets as docker-compose.yml and dagster.yaml, and (where the chart's schema is at hand) valid for the chart.

The chart's ``values.schema.json`` is Dagster's (Apache-2.0) and is not kept in this repository: the schema
test reads it from ``shared/schemas/dagster-helm-1.13/values.schema.json`` beside the checkout, or from the
file named by DAGSTER_HELM_VALUES_SCHEMA, and skips with that reason where neither exists.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from connector_pipelines_tests.deploy.helm_schema import problems
from connector_pipelines_tests.deploy.manifests import (
    REPO,
    code_deployment,
    compose,
    dagster_yaml,
    helm_values,
    image_name,
    option,
)

SCHEMA_VAR = "DAGSTER_HELM_VALUES_SCHEMA"
SHARED_SCHEMA = REPO.parent / "shared" / "schemas" / "dagster-helm-1.13" / "values.schema.json"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {_camel(k): _camel_keys(v) for k, v in node.items()}
    return [_camel_keys(v) for v in node] if isinstance(node, list) else node


def test_the_code_server_is_the_projects_code_location() -> None:
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    deployment = code_deployment()
    args = [str(a) for a in deployment["dagsterApiGrpcArgs"]]
    assert option(args, "-m") == tool["module_name"]
    # The chart names the location after the deployment; a different --location-name would confuse the two.
    assert option(args, "--location-name") == deployment["name"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", deployment["name"]), "a Kubernetes name"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_the_code_server_and_its_runs_get_composes_environment() -> None:
    deployment = code_deployment()
    env = {e["name"]: str(e["value"]) for e in deployment["env"]}
    user_code = compose()["services"]["user_code"]["environment"]
    secrets = {"CONNECTOR_DATABASE_URL", "CONNECTOR_ENCRYPTION_KEY", "CONNECTOR_ENCRYPTION_KEYS_OLD"}
    secrets |= {"CONNECTOR_ALERT_WEBHOOK_URL"}
    # What compose sets from .env comes from the Secret; every other variable is set here, to the same value.
    plain = {
        k: v for k, v in user_code.items() if k.startswith(("CONNECTOR_", "PLENTY_")) and k not in secrets
    }
    for name, value in plain.items():
        default = re.fullmatch(r"\$\{\w+:-(.*)\}", str(value))
        assert env.get(name) == (default[1] if default else str(value)), name
    assert [s["name"] for s in deployment["envSecrets"]] == ["connector-secrets"]
    home = env["CONNECTOR_HOME"]
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    (claim,) = [v for v in deployment["volumes"] if mounts.get(v["name"]) == home]
    assert claim["persistentVolumeClaim"]["claimName"] == "connector-home"


def test_one_image_for_every_dagster_process() -> None:
    values = helm_values()
    images = {
        image_name(values["dagsterWebserver"]["image"]),
        image_name(values["dagsterDaemon"]["image"]),
        image_name(code_deployment()["image"]),
    }
    assert len(images) == 1, images
    # Runs start from the code server's image (no image of their own in the launcher).
    assert "image" not in values["runLauncher"]["config"]["k8sRunLauncher"]


def test_runs_are_kubernetes_jobs_and_the_image_can_launch_them() -> None:
    launcher = helm_values()["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    # Each run's pod loads the instance, and so dagster_k8s, from the project's image: the Dockerfile adds it
    # at the release line of the installed dagster-postgres (0.29 for Dagster 1.13).
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    found = re.search(r'"dagster-k8s==(\d+\.\d+)\.\*"', dockerfile)
    assert found, "the Dockerfile installs dagster-k8s"
    assert version("dagster-postgres").startswith(found[1] + "."), (found[1], version("dagster-postgres"))


def test_postgres_is_external_with_dagster_yamls_driver() -> None:
    values = helm_values()
    postgres = values["postgresql"]
    assert postgres["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert postgres["postgresqlScheme"] == dagster_yaml()["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["migrate"]["enabled"] is True


def test_the_instance_behaves_like_dagster_yaml() -> None:
    values, instance = helm_values(), dagster_yaml()
    daemon = values["dagsterDaemon"]
    queue = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    runs = instance["concurrency"]["runs"]
    coordinator = instance["run_coordinator"]["config"]
    assert daemon["runCoordinator"]["type"] == instance["run_coordinator"]["class"]
    assert queue["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert queue["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    assert queue["dequeueUseThreads"] == coordinator["dequeue_use_threads"]
    assert queue["dequeueNumWorkers"] == coordinator["dequeue_num_workers"]
    assert daemon["runMonitoring"] == _camel_keys(instance["run_monitoring"])
    assert daemon["runRetries"] == _camel_keys(instance["run_retries"])
    assert daemon["sensors"] == _camel_keys(instance["sensors"])
    assert daemon["schedules"] == _camel_keys(instance["schedules"])
    retention = values["retention"]
    assert retention["schedule"] == _camel_keys(instance["retention"]["schedule"])
    # The chart wants every tick status named; `started` is kept forever as dagster.yaml leaves it.
    sensor_days = dict(retention["sensor"]["purgeAfterDays"])
    assert sensor_days.pop("started") == -1
    assert sensor_days == instance["retention"]["sensor"]["purge_after_days"]
    assert values["telemetry"] == instance["telemetry"]
    pools = values["additionalInstanceConfig"]["concurrency"]["pools"]
    assert pools == instance["concurrency"]["pools"]


def _chart_schema() -> dict[str, Any]:
    named = os.environ.get(SCHEMA_VAR)
    path = Path(named) if named else SHARED_SCHEMA
    if not path.is_file():
        pytest.skip(
            f"the Dagster chart's values.schema.json (dagster-io/dagster, helm/dagster/, release 1.13) is "
            f"not at {path}; put it there or name it in {SCHEMA_VAR}"
        )
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_the_values_pass_the_charts_schema() -> None:
    schema = _chart_schema()
    assert problems(schema, helm_values()) == []
    # The same check refuses what the chart would: a launcher it does not know, a key it does not take.
    broken = json.loads(json.dumps(helm_values()))
    broken["runLauncher"]["type"] = "KubernetesRunLauncher"
    broken["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxRuns"] = 20
    paths = {p.path for p in problems(schema, broken)}
    assert ".runLauncher.type" in paths, paths
    assert ".dagsterDaemon.runCoordinator.config.queuedRunCoordinator" in paths, paths
