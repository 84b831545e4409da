"""Run-level conventions shared by every pipeline: tags and the run config that selects the mode; and what an
operator reads and does about past runs: the recent runs of a tenant, its open record errors, and sending
those records again.

The connector database is the record an operator reads (``connector-pipelines runs`` / ``errors``): every
step of every run, wherever it ran, is a ``sync_runs`` row with its counts and error, and a run that failed as
a whole gets a ``run_failed`` row from the run-failure sensor. The Dagster instance holds the event logs."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import String, cast, func, select

from connector_pipelines.store.db import Database
from connector_pipelines.store.models import Mapping, SyncRun
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.publish import DEACTIVATED, PENDING
from connector_pipelines.sync.runtime import ReadWindow, SyncMode

TENANT_TAG = "tenant"
SYNC_TYPE_TAG = "sync_type"
TRIGGER_TAG = "trigger"
# The published hash of a record an operator asked to send again: it equals no content hash, so the next
# delta sees the record changed.
RETRY = "retry"


def run_tags(tenant: str, sync_type: str, trigger: str | None = None) -> dict[str, str]:
    tags = {TENANT_TAG: tenant, SYNC_TYPE_TAG: str(sync_type)}
    if trigger is not None:
        tags[TRIGGER_TAG] = trigger
    return tags


def sync_run_config(
    mode: SyncMode,
    product_ids: Sequence[str] = (),
    *,
    force: bool = False,
    window: ReadWindow | None = None,
    skip_existing: bool = False,
) -> dict[str, object]:
    """Run config selecting the mode (and optionally single products, by the source's ids, a run of a
    disabled tenant, a date range, or writing only new records) through the sync_run resource."""
    config: dict[str, object] = {"mode": mode.value}
    if product_ids:
        config["product_ids"] = list(product_ids)
    if force:
        config["force"] = True
    if window is not None and window.since is not None:
        config["since"] = window.since.isoformat()
    if window is not None and window.until is not None:
        config["until"] = window.until.isoformat()
    if skip_existing:
        config["skip_existing"] = True
    return {"resources": {"sync_run": {"config": config}}}


# --- recent runs -------------------------------------------------------------------------------------------

COUNTED = ("fetched", "created", "updated", "unchanged", "deleted", "failed")


class StepRecord(BaseModel):
    step: str
    status: str
    counts: dict[str, Any]
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunRecord(BaseModel):
    """One run of a pipeline for a tenant, from its steps' ``sync_runs`` rows."""

    run_id: str | None  # the Dagster run; None for a step run outside Dagster
    pipeline: str
    mode: str
    status: Literal["running", "success", "failed"]
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    steps: list[StepRecord]

    def totals(self) -> dict[str, int]:
        """The record counts over the run's steps (``fetched`` from the source, the rest at the target)."""
        totals = dict.fromkeys(COUNTED, 0)
        for step in self.steps:
            for name in COUNTED:
                value = step.counts.get(name)
                if isinstance(value, int):
                    totals[name] += value
        return totals


def _run_record(rows: Sequence[SyncRun]) -> RunRecord:
    steps = [r for r in rows if r.status != TenantStore.RUN_FAILED]
    failures = [r for r in rows if r.status in ("failed", TenantStore.RUN_FAILED)]
    if failures:
        status: Literal["running", "success", "failed"] = "failed"
    elif any(r.status == "running" for r in rows):
        status = "running"
    else:
        status = "success"
    # The run-failure sensor's row carries the run's own message; else the first failed step's.
    whole = [r for r in failures if r.status == TenantStore.RUN_FAILED]
    error = (whole or failures)[0].error if failures else None
    finished = [r.finished_at for r in rows if r.finished_at is not None]
    return RunRecord(
        run_id=rows[0].dagster_run_id,
        pipeline=rows[0].pipeline,
        mode=rows[0].mode,
        status=status,
        started_at=min(r.started_at for r in rows),
        finished_at=max(finished) if finished and status != "running" else None,
        error=error,
        steps=[
            StepRecord(
                step=r.step,
                status=r.status,
                counts=r.counts,
                error=r.error,
                started_at=r.started_at,
                finished_at=r.finished_at,
            )
            for r in steps
        ],
    )


def recent_runs(
    db: Database, tenant_id: int, *, pipeline: str | None = None, limit: int = 20
) -> list[RunRecord]:
    """The tenant's ``limit`` most recent runs (of ``pipeline``, else of every pipeline), newest first."""
    # A step recorded outside a Dagster run is a run of its own.
    run_key = func.coalesce(SyncRun.dagster_run_id, "step:" + cast(SyncRun.id, String))
    scope = [SyncRun.tenant_id == tenant_id]
    if pipeline is not None:
        scope.append(SyncRun.pipeline == pipeline)
    with db.session() as s:
        newest = s.execute(
            select(run_key, func.max(SyncRun.id))
            .where(*scope)
            .group_by(run_key)
            .order_by(func.max(SyncRun.id).desc())
            .limit(limit)
        ).all()
        keys = [key for key, _ in newest]
        rows = s.execute(select(run_key, SyncRun).where(*scope, run_key.in_(keys)).order_by(SyncRun.id)).all()
    by_run: dict[str, list[SyncRun]] = {}
    for key, row in rows:
        by_run.setdefault(key, []).append(row)
    return [_run_record(by_run[key]) for key in keys]


# --- record errors -----------------------------------------------------------------------------------------


class RecordErrorInfo(BaseModel):
    """A record waiting with an error: what failed, why, how often, and what was sent."""

    pipeline: str
    stage: str
    record_key: str
    reason: str
    attempts: int
    last_seen: datetime
    payload: Any


def open_record_errors(
    db: Database,
    tenant: str,
    pipelines: Iterable[str],
    *,
    stage: str | None = None,
    keys: Collection[str] = (),
    limit: int | None = None,
) -> list[RecordErrorInfo]:
    """The tenant's open record errors in ``pipelines`` (of ``stage``, of the records ``keys``), newest
    first per pipeline, at most ``limit``."""
    found = [
        RecordErrorInfo(
            pipeline=pipeline,
            stage=e.stage,
            record_key=e.record_key,
            reason=e.reason,
            attempts=e.attempts,
            last_seen=e.last_seen,
            payload=e.payload,
        )
        for pipeline in pipelines
        for e in TenantStore(db, tenant, pipeline).open_errors(stage)
        if not keys or e.record_key in keys
    ]
    return found[:limit] if limit is not None else found


def retry_records(store: TenantStore, keys: Iterable[str]) -> int:
    """Make the next run send these records again, whatever their hashes say: their published hash becomes
    :data:`RETRY`, so the next delta sees them changed. A record the target never confirmed has no published
    hash to clear (the next run sends it anyway, as one not yet published); one whose create is in flight
    (``PENDING``) or that the target keeps deactivated is left as it is. Returns how many were cleared."""
    wanted = list(dict.fromkeys(keys))
    with store.db.session() as s:
        kinds = s.scalars(
            select(Mapping.kind)
            .where(Mapping.tenant_id == store.tenant_id, Mapping.pipeline == store.pipeline)
            .distinct()
        ).all()
    cleared = 0
    for kind in kinds:
        rows = [
            replace(row, content_hash=RETRY)
            for row in store.mappings_for(kind, wanted).values()
            if row.content_hash not in (PENDING, DEACTIVATED, RETRY)
        ]
        store.put_mappings(kind, rows)
        cleared += len(rows)
    return cleared


def discard_errors(store: TenantStore, errors: Iterable[RecordErrorInfo]) -> int:
    """Close these open errors (the records are not touched: one that fails again is listed again)."""
    by_stage: dict[str, list[str]] = {}
    for error in errors:
        by_stage.setdefault(error.stage, []).append(error.record_key)
    return sum(store.resolve_errors(stage, keys) for stage, keys in by_stage.items())
