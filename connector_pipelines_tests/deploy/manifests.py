"""The deployment files under deploy/ and docker-compose.yml, parsed, for the tests holding them together."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
K8S = REPO / "deploy" / "k8s"
# The chart names what deploy/k8s refers to after the release, installed as `dagster` (the README's command).
RELEASE = "dagster"
CHART_POSTGRES_SECRET = "dagster-postgresql-secret"  # the chart's default global.postgresqlSecretName


@cache
def helm_values() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(HELM_VALUES.read_text())
    return doc


@cache
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return doc


@cache
def dagster_yaml() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "dagster.yaml").read_text())
    return doc


def k8s_objects(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def k8s_object(name: str, kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in k8s_objects(name) if doc["kind"] == kind]
    return found


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


def env_values(spec: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in spec.get("env", []) if "value" in e}


def code_deployment() -> dict[str, Any]:
    (deployment,) = helm_values()["dagster-user-deployments"]["deployments"]
    found: dict[str, Any] = deployment
    return found


def image_name(image: dict[str, Any]) -> str:
    return f"{image['repository']}:{image['tag']}"


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]
