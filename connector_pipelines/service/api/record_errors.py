"""Record errors: the tenant's open ones per pipeline, the dead letters (records that failed N attempts or
more), and sending one or all of them again."""

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
    last_seen: datetime
    payload: JsonValue = Field(description="what was sent for the record")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline: str | None = Field(None, description="only this pipeline's errors")
    stage: str | None = Field(None, description="only errors of this stage")
    keys: list[str] = Field(default_factory=list, description="only these records (none: all that match)")
    launch: bool = Field(False, description="launch a delta sync of each pipeline concerned right away")


class RetriedPipeline(BaseModel):
    pipeline: str
    records: int = Field(description="records whose errors matched")
    cleared: int = Field(description="published records whose hash was cleared, so the next run sends them")


class RetryOutcome(BaseModel):
    pipelines: list[RetriedPipeline]
    runs: list[LaunchedRun]


def _errors(
    services: Services, tenant: str, pipeline: str | None, stage: str | None, keys: list[str]
) -> list[RecordErrorOut]:
    from connector_pipelines.pipelines.runs import open_record_errors

    with answers():
        info = services.registry.get(tenant)
    if pipeline is not None and pipeline not in info.pipelines:
        raise ApiError(404, f"tenant '{tenant}' does not sync pipeline '{pipeline}'")
    found = open_record_errors(
        services.db, tenant, [pipeline] if pipeline else info.pipelines, stage=stage, keys=set(keys)
    )
    # A payload is what a target was sent; a credential echoed into it by a server must not leave here.
    return [
        RecordErrorOut(
            pipeline=e.pipeline,
            stage=e.stage,
            record_key=e.record_key,
            reason=redact(e.reason),
            attempts=e.attempts,
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
    summary="Records that failed the configured number of attempts or more, with payload and reason",
)
def dead_letters(
    services: Ctx, caller: Viewer, paging: PageParams, pipeline: Pipeline = None, stage: Stage = None
) -> Page[RecordErrorOut]:
    dead = services.settings.dead_letter_attempts
    found = [e for e in _errors(services, caller.tenant, pipeline, stage, []) if e.attempts >= dead]
    return paging.slice(found)


@router.post("/errors/retry", response_model=RetryOutcome, summary="Send one, some or all records again")
def retry(services: Ctx, caller: Operator, body: RetryRequest) -> RetryOutcome:
    from connector_pipelines.pipelines.runs import retry_records
    from connector_pipelines.store.repositories import TenantStore

    found = _errors(services, caller.tenant, body.pipeline, body.stage, body.keys)
    if body.keys and not found:
        raise ApiError(404, "no open record error matches these keys")
    outcome = RetryOutcome(pipelines=[], runs=[])
    for pipeline in dict.fromkeys(e.pipeline for e in found):
        chosen = [e.record_key for e in found if e.pipeline == pipeline]
        with answers():
            cleared = retry_records(TenantStore(services.db, caller.tenant, pipeline), chosen)
        outcome.pipelines.append(RetriedPipeline(pipeline=pipeline, records=len(chosen), cleared=cleared))
        if body.launch:
            outcome.runs.append(launch_sync(services, caller.tenant, pipeline, SyncMode.DELTA, []))
    return outcome
