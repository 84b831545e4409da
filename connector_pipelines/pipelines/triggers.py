"""Per-tenant triggers, built from a pipeline's spec: the run request of one tenant, a per-tenant schedule
(one run per tenant partition at each tick), a per-tenant polling sensor (a fingerprint per tenant, ticks
within a time budget, tenants rotated between ticks, the fingerprints kept in the cursor) and a per-tenant
inbox sensor (webhooks waiting in the connector service's inbox start a prioritised run)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.runs import run_tags, sync_run_config
from connector_pipelines.redaction import redact
from connector_pipelines.store.service import WebhookInboxRepository
from connector_pipelines.sync.runtime import ReadWindow, SyncMode
from connector_pipelines.sync.spec import InboxSpec, PipelineSpec, PollSpec, ScheduleSpec
from connector_pipelines.tenants.registry import TenantRegistry

PRIORITY_TAG = "dagster/priority"


def tenant_run_request(
    job: dg.UnresolvedAssetJobDefinition,
    tenant: str,
    mode: SyncMode | None,
    run_key: str | None,
    trigger: str,
    sync_type: str = "",
    priority: int | None = None,
    window: ReadWindow | None = None,
) -> dg.RunRequest:
    """One run of ``job`` for ``tenant``: its partition, its tags, and the mode (and date range) in the run
    config; ``priority`` (Dagster's run queue: higher starts first) for work that must not wait behind bulk
    runs."""
    tags = run_tags(tenant, mode.value if mode is not None else sync_type, trigger)
    if priority is not None:
        tags[PRIORITY_TAG] = str(priority)
    return dg.RunRequest(
        run_key=run_key,
        job_name=job.name,
        partition_key=tenant,
        run_config=sync_run_config(mode, window=window) if mode is not None else {},
        tags=tags,
    )


def per_tenant_schedule(
    spec: PipelineSpec,
    schedule: ScheduleSpec,
    job: dg.UnresolvedAssetJobDefinition,
    partitions: dg.DynamicPartitionsDefinition,
) -> dg.ScheduleDefinition:
    cron = os.environ.get(schedule.env, schedule.cron) if schedule.env else schedule.cron
    description = schedule.description + (f" (cron overridable with {schedule.env})" if schedule.env else "")
    sync_type = schedule.mode.value if schedule.mode is not None else schedule.job
    due = schedule.due

    def requests(
        context: dg.ScheduleEvaluationContext, registry: TenantRegistry | None
    ) -> Iterator[dg.RunRequest]:
        tick = context.scheduled_execution_time
        tenants = partitions.get_partition_keys(dynamic_partitions_store=context.instance)
        infos = {t.slug: t for t in registry.tenants(enabled_only=True)} if registry is not None else {}
        for tenant in tenants:
            if due is not None:
                info = infos.get(tenant)
                try:
                    if info is None or not due(info, tick):
                        continue
                except ValueError as exc:
                    context.log.warning(f"{tenant}: {exc}; not scheduled")
                    continue
            run_key = f"{sync_type}:{tenant}:{tick.isoformat()}"
            window = ReadWindow(since=tick - schedule.window) if schedule.window is not None else None
            yield tenant_run_request(
                job, tenant, schedule.mode, run_key, "schedule", sync_type, window=window
            )

    decorate = dg.schedule(
        name=spec.job_name(schedule.name),
        cron_schedule=cron,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    if due is None:

        def every_tenant(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
            return requests(context, None)

        return decorate(every_tenant)

    # Only a schedule that asks each tenant's settings needs the connector database.
    def due_tenants(
        context: dg.ScheduleEvaluationContext, connector_db: ConnectorDatabase
    ) -> Iterator[dg.RunRequest]:
        return requests(context, connector_db.registry())

    return decorate(due_tenants)


class PollCursor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seen: dict[str, str] = Field(default_factory=dict, description="tenant -> last fingerprint")
    resume_at: str | None = Field(None, description="tenant the last tick had no time left for")


def _rotated(tenants: list[str], start: str | None) -> list[str]:
    if start not in tenants:
        return tenants
    index = tenants.index(start)
    return tenants[index:] + tenants[:index]


def per_tenant_polling_sensor(
    spec: PipelineSpec,
    poll: PollSpec,
    job: dg.UnresolvedAssetJobDefinition,
    partitions: dg.DynamicPartitionsDefinition,
    *,
    budget_s: float | None = None,
) -> dg.SensorDefinition:
    """``budget_s`` overrides the spec's time budget (tests)."""
    budget = poll.budget_s if budget_s is None else budget_s

    @dg.sensor(
        name=spec.job_name(poll.name),
        job=job,
        minimum_interval_seconds=poll.interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=poll.description,
    )
    def polling_sensor(
        context: dg.SensorEvaluationContext, connector_db: ConnectorDatabase
    ) -> dg.SensorResult:
        cursor = PollCursor.model_validate_json(context.cursor) if context.cursor else PollCursor()
        tenants = sorted(partitions.get_partition_keys(dynamic_partitions_store=context.instance))
        registry = connector_db.registry()
        seen = {t: f for t, f in cursor.seen.items() if t in tenants}
        requests: list[dg.RunRequest] = []
        resume_at: str | None = None
        started = time.monotonic()
        for tenant in _rotated(tenants, cursor.resume_at):
            if time.monotonic() - started > budget:
                resume_at = tenant
                context.log.info(f"time budget spent; the next tick goes on with {tenant}")
                break
            try:
                fingerprint = poll.probe(registry, tenant, poll.probe_timeout_s)
            except Exception as exc:
                # One tenant's unreachable server or broken settings must not stop the others.
                context.log.warning(f"{tenant}: cannot check: {redact(f'{type(exc).__name__}: {exc}')}")
                continue
            if seen.get(tenant) != fingerprint:
                digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
                run_key = f"{poll.trigger}:{tenant}:{digest}"
                requests.append(tenant_run_request(job, tenant, poll.mode, run_key, poll.trigger))
            seen[tenant] = fingerprint
        return dg.SensorResult(
            run_requests=requests, cursor=PollCursor(seen=seen, resume_at=resume_at).model_dump_json()
        )

    return polling_sensor


class InboxCursor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested: dict[str, int] = Field(
        default_factory=dict, description="tenant -> newest delivery id requested"
    )
    at: dict[str, float] = Field(
        default_factory=dict, description="tenant -> when (epoch s) it was requested"
    )


def per_tenant_inbox_sensor(
    spec: PipelineSpec,
    inbox: InboxSpec,
    job: dg.UnresolvedAssetJobDefinition,
    partitions: dg.DynamicPartitionsDefinition,
    *,
    retry_after_s: float = 600.0,
) -> dg.SensorDefinition:
    """A run per tenant with new deliveries waiting; deliveries still waiting ``retry_after_s`` after their
    run was requested (the run failed) are requested again. One grouped query per tick for every tenant."""

    @dg.sensor(
        name=spec.job_name(inbox.name),
        job=job,
        minimum_interval_seconds=inbox.interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=inbox.description,
    )
    def inbox_sensor(context: dg.SensorEvaluationContext, connector_db: ConnectorDatabase) -> dg.SensorResult:
        cursor = InboxCursor.model_validate_json(context.cursor) if context.cursor else InboxCursor()
        tenants = set(partitions.get_partition_keys(dynamic_partitions_store=context.instance))
        waiting = WebhookInboxRepository(connector_db.database()).waiting_for(inbox.source, inbox.topics)
        now = time.time()
        requested = {t: i for t, i in cursor.requested.items() if t in waiting}
        at = {t: a for t, a in cursor.at.items() if t in requested}
        requests: list[dg.RunRequest] = []
        for tenant, (count, newest) in sorted(waiting.items()):
            if tenant not in tenants:
                continue  # a disabled or removed tenant's deliveries wait; its runs would be refused
            stale = now - at.get(tenant, now) > retry_after_s
            if newest <= requested.get(tenant, 0) and not stale:
                continue
            run_key = f"{inbox.name}:{tenant}:{newest}:{int(now) if stale else 0}"
            requests.append(
                tenant_run_request(job, tenant, inbox.mode, run_key, "webhook", priority=inbox.priority)
            )
            context.log.info(f"{tenant}: {count} {inbox.source} webhook(s) waiting; run requested")
            requested[tenant], at[tenant] = newest, now
        return dg.SensorResult(
            run_requests=requests, cursor=InboxCursor(requested=requested, at=at).model_dump_json()
        )

    return inbox_sensor
