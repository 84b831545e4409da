from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.pipelines.catalog import pipeline_of_job
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.run_failure import (
    ALERT_WEBHOOK_VAR,
    RUN_FAILURE_SENSOR_NAME,
    run_failure_alert_sensor,
)
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.store.models import SyncRun
from connector_pipelines.tenants.registry import TenantRegistry

SECRET = "plenty-pass-0815-leaked"
PIPELINE = "plenty_shopware"


@dataclass
class Receiver:
    """A webhook endpoint on loopback that keeps what it was sent and answers with ``status``."""

    status: int = 204
    alerts: list[dict[str, Any]] = field(default_factory=list)

    async def receive(self, request: Request) -> Response:
        self.alerts.append(json.loads(await request.body()))
        return Response(status_code=self.status)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    hook = Receiver()
    with EmulatorServer(Starlette(routes=[Route("/alerts", hook.receive, methods=["POST"])])) as server:
        monkeypatch.setenv(ALERT_WEBHOOK_VAR, f"{server.base_url}/alerts")
        yield hook


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def acme(registry: TenantRegistry) -> TenantRegistry:
    registry.add("acme", "ACME", [PIPELINE])
    registry.set_credentials("acme", "plentymarkets", {"username": "api", "password": SECRET})
    return registry


@dg.op
def log_in() -> None:
    # What a careless client error could look like: the server echoed the password back.
    raise dg.Failure(description=f"login refused for api:{SECRET}")


@dg.job(name=f"{PIPELINE}_sync")
def failing_sync() -> None:
    log_in()


def _fail(
    instance: dg.DagsterInstance, database_url: str, tags: dict[str, str]
) -> dg.RunFailureSensorContext:
    """Fail a run on the instance and build the context the daemon would hand the sensor for it."""
    result = failing_sync.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    assert failure is not None
    return dg.build_run_status_sensor_context(
        sensor_name=RUN_FAILURE_SENSOR_NAME,
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"connector_db": ConnectorDatabase(url=database_url)},
    ).for_run_failure()


def _failures(registry: TenantRegistry) -> list[SyncRun]:
    with registry.db.session() as s:
        return list(s.scalars(select(SyncRun).where(SyncRun.status == "run_failed")))


def test_failure_is_recorded_and_posted_redacted(
    instance: dg.DagsterInstance, acme: TenantRegistry, receiver: Receiver, database_url: str
) -> None:
    context = _fail(instance, database_url, {"tenant": "acme", "sync_type": "delta"})
    run_failure_alert_sensor(context)

    (row,) = _failures(acme)
    assert row.dagster_run_id == context.dagster_run.run_id and row.mode == "delta" and row.step == "run"
    assert row.error is not None and "login refused for api:***" in row.error and SECRET not in row.error

    (alert,) = receiver.alerts
    assert alert == {
        "tenant": "acme",
        "pipeline": PIPELINE,
        "run_id": context.dagster_run.run_id,
        "job": f"{PIPELINE}_sync",
        "sync_type": "delta",
        "error": row.error,
        "recorded": True,
    }

    # The same failure evaluated again (a tick retried after a daemon restart) adds no second row.
    run_failure_alert_sensor(context)
    assert len(_failures(acme)) == 1


@pytest.mark.parametrize("status", [500, None], ids=["webhook-500", "webhook-unreachable"])
def test_a_failing_webhook_is_logged_not_raised(
    instance: dg.DagsterInstance,
    acme: TenantRegistry,
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    status: int | None,
) -> None:
    if status is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        monkeypatch.setenv(ALERT_WEBHOOK_VAR, f"http://127.0.0.1:{closed_port}/alerts?token=hook-token-42")
    else:
        receiver.status = status
    context = _fail(instance, database_url, {"tenant": "acme", "sync_type": "full"})
    capfd.readouterr()
    run_failure_alert_sensor(context)
    assert len(_failures(acme)) == 1
    # The sensor's log goes to the daemon's stderr; the webhook's token never does.
    logged = capfd.readouterr().err
    assert "alert webhook at 127.0.0.1" in logged and "hook-token-42" not in logged


def test_without_webhook_or_tenant(
    instance: dg.DagsterInstance,
    acme: TenantRegistry,
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run of a tenant removed meanwhile is still alerted, just not recorded.
    acme.remove("acme")
    run_failure_alert_sensor(_fail(instance, database_url, {"tenant": "acme", "sync_type": "delta"}))
    # A run launched by hand without tags has no tenant to record it against.
    run_failure_alert_sensor(_fail(instance, database_url, {}))
    assert [(a["tenant"], a["recorded"]) for a in receiver.alerts] == [("acme", False), (None, False)]

    monkeypatch.delenv(ALERT_WEBHOOK_VAR)
    run_failure_alert_sensor(_fail(instance, database_url, {"tenant": "acme"}))
    assert len(receiver.alerts) == 2


def test_pipeline_of_job() -> None:
    assert getattr(pipeline_of_job("plenty_shopware_sync"), "name", None) == PIPELINE
    assert getattr(pipeline_of_job("plenty_shopware_config"), "name", None) == PIPELINE
    assert pipeline_of_job("something_else") is None
