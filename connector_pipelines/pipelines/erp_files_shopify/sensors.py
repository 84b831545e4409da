"""The file-change sensor: one listing per tenant per tick; a tenant whose file changed gets a delta run.

The cursor is JSON of each tenant's last seen :class:`FileIdentity` (size and modification time, or a content
hash where the server tells neither). Sensor ticks time out after 60 s, so a tick stops checking when its
budget is spent and the next tick goes on from there; a server that does not answer is given a short timeout.
"""

from __future__ import annotations

import hashlib
import time

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from connector_pipelines.pipelines.erp_files_shopify.assets import PARTITIONS, PIPELINE
from connector_pipelines.pipelines.erp_files_shopify.jobs import sync_job, tenant_run_request
from connector_pipelines.pipelines.resources import ConnectorDatabase, ErpFilesResource
from connector_pipelines.pipelines.runs import SyncMode
from connector_pipelines.redaction import redact
from connector_pipelines.sources.erp_files import FileIdentity

FILE_CHANGE_SENSOR_NAME = f"{PIPELINE}_file_change_sensor"
TICK_BUDGET_S = 40.0  # of Dagster's 60 s per evaluation, leaving room for the run requests
SOURCE_TIMEOUT_S = 10.0


class FileCursor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, FileIdentity] = Field(default_factory=dict)
    resume_at: str | None = Field(None, description="tenant the last tick had no time left for")


def _run_key(tenant: str, identity: FileIdentity) -> str:
    digest = hashlib.sha256(identity.model_dump_json().encode()).hexdigest()[:16]
    return f"file:{tenant}:{digest}"


def _rotated(tenants: list[str], start: str | None) -> list[str]:
    if start not in tenants:
        return tenants
    index = tenants.index(start)
    return tenants[index:] + tenants[:index]


def build_file_change_sensor(
    *, minimum_interval_seconds: int = 60, budget_s: float = TICK_BUDGET_S
) -> dg.SensorDefinition:
    @dg.sensor(
        name=FILE_CHANGE_SENSOR_NAME,
        job=sync_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a delta sync for each tenant whose ERP file changed (size, mtime or hash).",
    )
    def file_change_sensor(
        context: dg.SensorEvaluationContext, connector_db: ConnectorDatabase, erp_files: ErpFilesResource
    ) -> dg.SensorResult:
        cursor = FileCursor.model_validate_json(context.cursor) if context.cursor else FileCursor()
        tenants = sorted(PARTITIONS.get_partition_keys(dynamic_partitions_store=context.instance))
        registry = connector_db.registry()
        files = {t: i for t, i in cursor.files.items() if t in tenants}
        requests: list[dg.RunRequest] = []
        resume_at: str | None = None
        started = time.monotonic()
        for tenant in _rotated(tenants, cursor.resume_at):
            if time.monotonic() - started > budget_s:
                resume_at = tenant
                context.log.info(f"time budget spent; the next tick goes on with {tenant}")
                break
            try:
                with erp_files.source(registry, tenant, max_timeout_s=SOURCE_TIMEOUT_S) as source:
                    identity = source.identity()
            except Exception as exc:
                # One tenant's unreachable server or broken settings must not stop the others.
                context.log.warning(
                    f"{tenant}: cannot check the file: {redact(f'{type(exc).__name__}: {exc}')}"
                )
                continue
            if files.get(tenant) != identity:
                requests.append(
                    tenant_run_request(tenant, SyncMode.DELTA, _run_key(tenant, identity), "file_change")
                )
            files[tenant] = identity
        return dg.SensorResult(
            run_requests=requests,
            cursor=FileCursor(files=files, resume_at=resume_at).model_dump_json(),
        )

    return file_change_sensor
