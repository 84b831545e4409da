"""Run-failure alerting: a failed run is recorded against its tenant in the connector database (a
``sync_runs`` row with status ``run_failed``) and posted as a JSON alert to the webhook in
``CONNECTOR_ALERT_WEBHOOK_URL``.

Neither half may fail the sensor: a tick that raised would be evaluated again and alert twice, and an
unreachable webhook must not cost the failure record (nor a removed tenant the alert).
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx

from connector_pipelines.pipelines.catalog import pipeline_of_job
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.runs import SYNC_TYPE_TAG, TENANT_TAG
from connector_pipelines.redaction import redact
from connector_pipelines.sync.spec import PipelineSpec

ALERT_WEBHOOK_VAR = "CONNECTOR_ALERT_WEBHOOK_URL"
RUN_FAILURE_SENSOR_NAME = "run_failure_alert_sensor"
WEBHOOK_TIMEOUT_S = 10.0


def _register_tenant_secrets(connector_db: ConnectorDatabase, tenant: str, spec: PipelineSpec) -> None:
    """Decrypting a tenant's credentials registers them with the redaction filter. The run redacted its own
    messages, but this process (the code server) has never seen the secrets, so ``redact`` would know none."""
    for system in spec.system_options():
        # A removed tenant, a missing credential or key: nothing of that system to mask, no reason to fail.
        with contextlib.suppress(Exception):
            connector_db.registry().credentials(tenant, system.name, system.credentials)


def _record(
    connector_db: ConnectorDatabase,
    tenant: str,
    pipeline: str,
    mode: str,
    run_id: str,
    message: str,
    log: logging.Logger,
) -> bool:
    try:
        connector_db.store(tenant, pipeline).record_run_failure(mode, run_id, message)
    except LookupError:
        log.warning(f"run {run_id} failed for tenant '{tenant}', which is no longer registered")
        return False
    except Exception as exc:
        log.error(f"could not record the failure of run {run_id}: {type(exc).__name__}")
        return False
    return True


def failure_message(context: dg.RunFailureSensorContext) -> str:
    steps = [
        event.step_failure_data.error.message.strip()
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    return "; ".join(steps) or context.failure_event.message or "run failed"


def post_alert(url: str, alert: dict[str, Any], log: logging.Logger) -> bool:
    """POST the alert; any failure is logged, never raised. The URL itself may carry a token (chat webhooks
    do), so only its host is ever logged."""
    host = urlsplit(url).netloc
    try:
        response = httpx.post(url, json=alert, timeout=WEBHOOK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.warning(f"alert webhook at {host} unreachable: {type(exc).__name__}")
        return False
    if response.status_code >= 300:
        log.warning(f"alert webhook at {host} answered {response.status_code}")
        return False
    return True


@dg.run_failure_sensor(
    name=RUN_FAILURE_SENSOR_NAME,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Records each failed run against its tenant and posts an alert to ${ALERT_WEBHOOK_VAR}.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, connector_db: ConnectorDatabase) -> None:
    run = context.dagster_run
    tenant = run.tags.get(TENANT_TAG)
    spec = pipeline_of_job(run.job_name)
    pipeline = spec.name if spec is not None else None
    mode = run.tags.get(SYNC_TYPE_TAG, "unknown")
    if tenant and spec is not None and pipeline is not None:
        _register_tenant_secrets(connector_db, tenant, spec)
        message = redact(failure_message(context))
        recorded = _record(connector_db, tenant, pipeline, mode, run.run_id, message, context.log)
    else:
        message, recorded = redact(failure_message(context)), False
    alert = {
        "tenant": tenant,
        "pipeline": pipeline,
        "run_id": run.run_id,
        "job": run.job_name,
        "sync_type": mode,
        "error": message,
        "recorded": recorded,
    }
    url = os.environ.get(ALERT_WEBHOOK_VAR)
    if url:
        post_alert(url, alert, context.log)
