"""Syncs: launch a run through Dagster (as a schedule would), read a run's status, and a tenant's run history
with the counts its steps recorded in the connector database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, cast, func, select

from connector_pipelines.redaction import redact
from connector_pipelines.service.api.common import Page, PageParams, answers
from connector_pipelines.service.auth import Operator, Viewer
from connector_pipelines.service.context import Ctx, Services
from connector_pipelines.service.problems import ApiError
from connector_pipelines.store.models import SyncRun
from connector_pipelines.sync.runtime import SyncMode

router = APIRouter(prefix="/api/tenants/{tenant}", tags=["syncs"])

TRIGGER = "api"


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline: str
    mode: SyncMode = SyncMode.DELTA
    product_id: str | None = Field(
        None, min_length=1, max_length=100, description="only this source product (by the source's id)"
    )


class LaunchedRun(BaseModel):
    run_id: str
    tenant: str
    pipeline: str
    mode: SyncMode
    job: str
    tags: dict[str, str]


class StepOut(BaseModel):
    step: str
    status: str
    counts: dict[str, Any]
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunOut(BaseModel):
    run_id: str | None
    pipeline: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    totals: dict[str, int]
    steps: list[StepOut]


class RunStatus(BaseModel):
    run_id: str
    status: str = Field(description="Dagster's: QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ...")
    job: str
    tags: dict[str, str]
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepOut] = Field(description="what the run's steps recorded in the connector database")


def launch_sync(
    services: Services, tenant: str, pipeline: str, mode: SyncMode, product_ids: list[str]
) -> LaunchedRun:
    """A run of the pipeline's job for ``mode``, for the tenant's partition, with a schedule's tags."""
    from connector_pipelines.pipelines.catalog import pipeline_spec
    from connector_pipelines.pipelines.runs import run_tags, sync_run_config

    with answers():
        info = services.registry.get(tenant)
    if pipeline not in info.pipelines:
        raise ApiError(
            422, f"tenant '{tenant}' does not sync pipeline '{pipeline}' (its: {', '.join(info.pipelines)})"
        )
    if not info.enabled:
        raise ApiError(409, f"tenant '{tenant}' is disabled: enable it first")
    job = pipeline_spec(pipeline).job_for(mode)
    if job is None:
        raise ApiError(422, f"pipeline '{pipeline}' has no '{mode.value}' mode")
    tags = run_tags(tenant, mode.value, TRIGGER)
    with answers():
        services.dagster.add_partition(pipeline, tenant)
        run_id = services.dagster.launch(job, tenant, sync_run_config(mode, product_ids), tags)
    return LaunchedRun(run_id=run_id, tenant=tenant, pipeline=pipeline, mode=mode, job=job, tags=tags)


@router.post("/sync", response_model=LaunchedRun, status_code=202, summary="Launch a sync run in Dagster")
def sync(services: Ctx, caller: Operator, body: SyncRequest) -> LaunchedRun:
    products = [body.product_id] if body.product_id else []
    return launch_sync(services, caller.tenant, body.pipeline, body.mode, products)


def _step(row: Any) -> StepOut:
    return StepOut(
        step=row.step,
        status=row.status,
        counts=row.counts,
        error=redact(row.error) if row.error else None,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


@router.get("/runs", response_model=Page[RunOut], summary="The tenant's runs, newest first, with counts")
def runs(
    services: Ctx,
    caller: Viewer,
    paging: PageParams,
    pipeline: Annotated[str | None, Query(description="only this pipeline's runs")] = None,
) -> Page[RunOut]:
    from connector_pipelines.pipelines.runs import recent_runs

    with answers():
        tenant_id = services.registry.tenant_id(caller.tenant)
    found = recent_runs(services.db, tenant_id, pipeline=pipeline, limit=paging.offset + paging.limit)
    chosen = found[paging.offset :]
    items = [
        RunOut(
            run_id=r.run_id,
            pipeline=r.pipeline,
            mode=r.mode,
            status=r.status,
            started_at=r.started_at,
            finished_at=r.finished_at,
            error=redact(r.error) if r.error else None,
            totals=r.totals(),
            steps=[_step(s) for s in r.steps],
        )
        for r in chosen
    ]
    return paging.page(items, _count_runs(services, tenant_id, pipeline))


def _count_runs(services: Services, tenant_id: int, pipeline: str | None) -> int:
    """Runs as ``recent_runs`` groups them: the steps of one Dagster run, or a step run outside Dagster."""
    run_key = func.coalesce(SyncRun.dagster_run_id, "step:" + cast(SyncRun.id, String))
    where = [SyncRun.tenant_id == tenant_id] + ([SyncRun.pipeline == pipeline] if pipeline else [])
    with services.db.session() as s:
        return int(s.scalar(select(func.count(func.distinct(run_key))).where(*where)) or 0)


def _moment(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


@router.get("/runs/{run_id}", response_model=RunStatus, summary="A run's status in Dagster, and its steps")
def run_status(services: Ctx, caller: Viewer, run_id: str) -> RunStatus:
    from connector_pipelines.pipelines.runs import TENANT_TAG

    with answers():
        tenant_id = services.registry.tenant_id(caller.tenant)
        found = services.dagster.run(run_id)
    if found is None or found.tag(TENANT_TAG) != caller.tenant:
        raise ApiError(404, f"no run {run_id} of tenant '{caller.tenant}'")
    with services.db.session() as s:
        rows = s.scalars(
            select(SyncRun)
            .where(SyncRun.tenant_id == tenant_id, SyncRun.dagster_run_id == run_id)
            .order_by(SyncRun.id)
        ).all()
        steps = [_step(r) for r in rows]
    return RunStatus(
        run_id=found.runId,
        status=found.status,
        job=found.jobName,
        tags={t.key: t.value for t in found.tags},
        started_at=_moment(found.startTime),
        finished_at=_moment(found.endTime),
        steps=steps,
    )
