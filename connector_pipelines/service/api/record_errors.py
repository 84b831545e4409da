"""Record errors: the tenant's open ones per pipeline, the dead letters (records that failed so often, 5
attempts by default, that runs no longer retry them: they wait here with payload and reason), and sending
one, some or all of them again (which re-arms dead letters)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from connector_pipelines.redaction import redact
from connector_pipelines.service.api.common import Page, PageParams, answers
from connector_pipelines.service.api.syncs import LaunchedRun, launch_sync
from connector_pipelines.service.auth import Operator, Viewer
from connector_pipelines.service.context import Ctx, Services
from connector_pipelines.service.problems import ApiError
from connector_pipelines.sync.runtime import SyncMode

router = APIRouter(prefix="/api/tenants/{tenant}", tags=["record errors"])


class RecordErrorOut(BaseModel):
    pipeline: str
    stage: str
    record_key: str
    reason: str
    attempts: int
    dead: bool = Field(description="a dead letter: runs no longer retry it until it is retried here")
    last_seen: datetime
    payload: JsonValue = Field(description="what was sent for the record")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline: str | None = Field(None, description="only this pipeline's errors")
    stage: str | None = Field(None, description="only errors of this stage")
    keys: list[str] = Field(default_factory=list, description="only these records (none: all that match)")
    dead: bool = Field(False, description="only dead letters")
    launch: bool = Field(False, description="launch a delta sync of each pipeline concerned right away")


class RetriedPipeline(BaseModel):
    pipeline: str
    records: int = Field(description="records whose errors matched")
    cleared: int = Field(description="published records whose hash was cleared, so the next run sends them")
    rearmed: int = Field(description="dead letters that runs retry again")


class RetryOutcome(BaseModel):
    pipelines: list[RetriedPipeline]
    runs: list[LaunchedRun]


def _errors(
    services: Services,
    tenant: str,
    pipeline: str | None,
    stage: str | None,
    keys: list[str],
    *,
    dead_only: bool = False,
) -> list[RecordErrorOut]:
    from connector_pipelines.pipelines.runs import open_record_errors
    from connector_pipelines.store.repositories import TenantStore

    with answers():
        info = services.registry.get(tenant)
    if pipeline is not None and pipeline not in info.pipelines:
        raise ApiError(404, f"tenant '{tenant}' does not sync pipeline '{pipeline}'")
    pipelines = [pipeline] if pipeline else info.pipelines
    found = open_record_errors(services.db, tenant, pipelines, stage=stage, keys=set(keys))
    dead = {
        (name, dead_stage, key)
        for name in pipelines
        for dead_stage, key in TenantStore(services.db, tenant, name).dead_letters(stage)
    }
    if dead_only:
        found = [e for e in found if (e.pipeline, e.stage, e.record_key) in dead]
    # A payload is what a target was sent; a credential echoed into it by a server must not leave here.
    return [
        RecordErrorOut(
            pipeline=e.pipeline,
            stage=e.stage,
            record_key=e.record_key,
            reason=redact(e.reason),
            attempts=e.attempts,
            dead=(e.pipeline, e.stage, e.record_key) in dead,
            last_seen=e.last_seen,
            payload=orjson.loads(redact(orjson.dumps(e.payload).decode())),
        )
        for e in found
    ]


Pipeline = Annotated[str | None, Query(description="only this pipeline's errors")]
Stage = Annotated[str | None, Query(description="only errors of this stage")]


@router.get("/errors", response_model=Page[RecordErrorOut], summary="Open record errors, newest first")
def list_errors(
    services: Ctx, caller: Viewer, paging: PageParams, pipeline: Pipeline = None, stage: Stage = None
) -> Page[RecordErrorOut]:
    return paging.slice(_errors(services, caller.tenant, pipeline, stage, []))


@router.get(
    "/dead-letters",
    response_model=Page[RecordErrorOut],
    summary="Records runs no longer retry (they failed too often), with payload and reason",
)
def dead_letters(
    services: Ctx, caller: Viewer, paging: PageParams, pipeline: Pipeline = None, stage: Stage = None
) -> Page[RecordErrorOut]:
    return paging.slice(_errors(services, caller.tenant, pipeline, stage, [], dead_only=True))


@router.post(
    "/errors/retry",
    response_model=RetryOutcome,
    summary="Send one, some or all records again (dead letters are re-armed)",
)
def retry(services: Ctx, caller: Operator, body: RetryRequest) -> RetryOutcome:
    from connector_pipelines.pipelines.runs import retry_records
    from connector_pipelines.store.repositories import TenantStore

    found = _errors(services, caller.tenant, body.pipeline, body.stage, body.keys, dead_only=body.dead)
    if body.keys and not found:
        raise ApiError(404, "no open record error matches these keys")
    outcome = RetryOutcome(pipelines=[], runs=[])
    for pipeline in dict.fromkeys(e.pipeline for e in found):
        chosen = [e.record_key for e in found if e.pipeline == pipeline]
        with answers():
            store = TenantStore(services.db, caller.tenant, pipeline)
            cleared = retry_records(store, chosen)
            rearmed = store.rearm_errors(chosen, body.stage)
        outcome.pipelines.append(
            RetriedPipeline(pipeline=pipeline, records=len(chosen), cleared=cleared, rearmed=rearmed)
        )
        if body.launch:
            outcome.runs.append(launch_sync(services, caller.tenant, pipeline, SyncMode.DELTA, []))
    return outcome
