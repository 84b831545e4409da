"""A sync launched through the API is a run in the Dagster instance, with a scheduled run's tags, and once it
ran, the metrics and the run history show it.

Dagster's own GraphQL app (what ``dagster-webserver`` serves) is served in this process for a test instance
whose run launcher executes a launched run at once, in memory, on the pipelines' definitions; the service
reaches it over HTTP through the Dagster GraphQL client, as it reaches a real webserver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster_webserver.app import create_app_from_workspace_process_context
from fastapi.testclient import TestClient

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.service.app import create_app
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import sandbox_tenant
from connector_pipelines_tests.service.conftest import Service, make_settings

LOCATION = "connector_pipelines"
PIPELINE = "erp_files_shopify"


@pytest.fixture
def dagster() -> Iterator[tuple[dg.DagsterInstance, str]]:
    """A test instance and the URL of its GraphQL API; a launched run executes before the launch answers."""
    overrides = {
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
        "run_launcher": {
            "module": "dagster._core.launcher.sync_in_memory_run_launcher",
            "class": "SyncInMemoryRunLauncher",
        },
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="connector_pipelines.definitions", attribute="defs"),
            location_name=LOCATION,
        )
        with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin), version="") as workspace:
            app = create_app_from_workspace_process_context(workspace)
            with EmulatorServer(app, name="dagster-webserver") as server:
                yield instance, server.base_url


@pytest.fixture
def service(
    hub: SandboxHub, sqlite_registry: TenantRegistry, dagster: tuple[dg.DagsterInstance, str], tmp_path: Path
) -> Iterator[Service]:
    sandbox_tenant(hub, sqlite_registry, PIPELINE)  # tenant "acme" on emulators
    settings = make_settings(sqlite_registry.db.url, dagster[1], dagster_location=LOCATION)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Service(client, app.state.services, tmp_path / "files")


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def test_a_sync_launched_through_the_api_runs_in_dagster_with_its_tags(
    service: Service, dagster: tuple[dg.DagsterInstance, str]
) -> None:
    instance = dagster[0]
    before = service.client.get("/metrics").text
    assert _metric(before, "connector_runs", tenant="acme", pipeline=PIPELINE, status="success") == 0

    launched = service.client.post(
        "/api/tenants/acme/sync",
        json={"pipeline": PIPELINE, "mode": "full"},
        headers=service.token("operator"),
    )
    assert launched.status_code == 202, launched.text
    run_id = launched.json()["run_id"]

    run = instance.get_run_by_id(run_id)
    assert run is not None
    assert run.job_name == "erp_files_shopify_sync"
    assert {k: run.tags[k] for k in ("tenant", "sync_type", "trigger", "dagster/partition")} == {
        "tenant": "acme",
        "sync_type": "full",
        "trigger": "api",
        "dagster/partition": "acme",
    }
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert instance.get_dynamic_partitions(PIPELINE) == ["acme"]

    status = service.client.get(f"/api/tenants/acme/runs/{run_id}", headers=service.token("viewer")).json()
    assert status["status"] == "SUCCESS"
    assert status["tags"]["tenant"] == "acme"
    assert {s["status"] for s in status["steps"]} == {"success"}

    history = service.client.get("/api/tenants/acme/runs", headers=service.token("viewer")).json()
    assert [(r["run_id"], r["status"], r["mode"]) for r in history["items"]] == [(run_id, "success", "full")]
    created = history["items"][0]["totals"]["created"]
    assert created > 0

    after = service.client.get("/metrics").text
    assert _metric(after, "connector_runs", tenant="acme", pipeline=PIPELINE, status="success") == 1
    assert (
        _metric(after, "connector_records_total", tenant="acme", pipeline=PIPELINE, action="created")
        == created
    )
    assert _metric(after, "connector_api_calls_total", tenant="acme", pipeline=PIPELINE, system="shopify") > 0


def test_a_run_of_another_tenant_is_not_shown(
    service: Service, dagster: tuple[dg.DagsterInstance, str]
) -> None:
    launched = service.client.post(
        "/api/tenants/acme/sync",
        json={"pipeline": PIPELINE, "mode": "plan"},
        headers=service.token("operator"),
    ).json()
    service.registry.add("beta", "Beta", [], {})
    elsewhere = service.client.get(
        f"/api/tenants/beta/runs/{launched['run_id']}", headers=service.token("viewer", ["beta"])
    )
    assert elsewhere.status_code == 404


def test_a_sync_the_pipeline_cannot_do_is_refused_before_dagster(service: Service) -> None:
    operator = service.token("operator")
    wrong_mode = service.client.post(
        "/api/tenants/acme/sync", json={"pipeline": PIPELINE, "mode": "config"}, headers=operator
    )
    other_pipeline = service.client.post(
        "/api/tenants/acme/sync", json={"pipeline": "plenty_shopware"}, headers=operator
    )
    assert (wrong_mode.status_code, other_pipeline.status_code) == (422, 422)
    service.client.post("/api/tenants/acme/disable", headers=service.token("admin"))
    disabled = service.client.post("/api/tenants/acme/sync", json={"pipeline": PIPELINE}, headers=operator)
    assert disabled.status_code == 409


def test_readiness_sees_the_webserver_and_the_missing_daemon(service: Service) -> None:
    answer = service.client.get("/health/ready")
    assert answer.status_code == 503  # no daemon runs beside this test instance
    checks = {c["name"]: c for c in answer.json()["checks"]}
    assert checks["database"]["ok"] and checks["inbox_backlog"]["ok"] and checks["dagster_webserver"]["ok"]
    assert checks["daemon:SCHEDULER"] == {"name": "daemon:SCHEDULER", "ok": False, "detail": "no heartbeat"}
    assert service.client.get("/health").json() == {"status": "ok"}
