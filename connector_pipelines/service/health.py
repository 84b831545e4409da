"""``/health`` (the process answers), ``/health/ready`` (it can do its work) and ``/metrics``."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connector_pipelines.service.context import Ctx
from connector_pipelines.service.dagster import DagsterRequestError, DagsterUnavailableError
from connector_pipelines.store.db import ConnectionLostError
from connector_pipelines.store.service import WebhookInboxRepository

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: list[Check]


@router.get("/health", response_model=Alive, summary="The process answers")
async def health() -> Alive:
    return Alive()


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="Database, Dagster webserver, daemon heartbeats and inbox backlog are fine",
)
def ready(services: Ctx, response: Response) -> Readiness:
    checks: list[Check] = []
    try:
        with services.db.session() as s:
            s.execute(text("SELECT 1"))
        backlog = WebhookInboxRepository(services.db).count_waiting()
        checks.append(Check(name="database", ok=True, detail=services.db.dialect))
        limit = services.settings.inbox_backlog_max
        checks.append(
            Check(name="inbox_backlog", ok=backlog < limit, detail=f"{backlog} waiting (limit {limit})")
        )
    except (SQLAlchemyError, ConnectionLostError) as exc:
        checks.append(Check(name="database", ok=False, detail=f"no answer ({type(exc).__name__})"))
    try:
        found = services.dagster.health()
        checks.append(Check(name="dagster_webserver", ok=True, detail=f"Dagster {found.version}"))
        max_age = services.settings.daemon_heartbeat_max_age_s
        now = time.time()
        for daemon in found.daemons:
            if not daemon.required:
                continue
            beat = daemon.lastHeartbeatTime
            age = now - beat if beat is not None else None
            fresh = age is not None and age <= max_age
            detail = f"last heartbeat {age:.0f} s ago" if age is not None else "no heartbeat"
            checks.append(Check(name=f"daemon:{daemon.daemonType}", ok=fresh, detail=detail))
    except (DagsterUnavailableError, DagsterRequestError) as exc:
        checks.append(Check(name="dagster_webserver", ok=False, detail=str(exc)))
    ok = all(c.ok for c in checks)
    response.status_code = 200 if ok else 503
    return Readiness(ready=ok, checks=checks)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: Ctx) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
