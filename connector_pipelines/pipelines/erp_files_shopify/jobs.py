"""Jobs and schedules: the sync (hourly ticks, each tenant at its own sync_frequency_hours) and the daily SKU
reconciliation, which reads the whole shop and so stays off the sync path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import dagster as dg
from pydantic import ValidationError

from connector_pipelines.pipelines.erp_files_shopify.assets import (
    PARTITIONS,
    PIPELINE,
    erp_file_products,
    shopify_products,
    shopify_skus,
)
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.runs import SyncMode, run_tags, sync_run_config
from connector_pipelines.tenants.systems import ErpFilesSettings

sync_job = dg.define_asset_job(
    f"{PIPELINE}_sync",
    selection=dg.AssetSelection.assets(erp_file_products, shopify_products),
    description="Read the ERP file into the snapshot and publish the changes to Shopify; the mode (delta, "
    "full, plan) comes from the sync_run resource config.",
)
reconcile_job = dg.define_asset_job(
    f"{PIPELINE}_reconcile",
    selection=dg.AssetSelection.assets(shopify_skus),
    description="Read every variant of the shop and reconcile its SKUs with the snapshot.",
)


def tenant_run_request(tenant: str, mode: SyncMode, run_key: str, trigger: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        job_name=sync_job.name,
        partition_key=tenant,
        run_config=sync_run_config(mode),
        tags={**run_tags(tenant, mode), "trigger": trigger},
    )


def is_due(frequency_hours: int, tick: datetime) -> bool:
    """Whether an hourly tick is one of a tenant's sync times: hours since the epoch divisible by its
    frequency, so a tenant syncing every 6 hours runs at 00, 06, 12 and 18 UTC, whatever the day."""
    return int(tick.timestamp() // 3600) % frequency_hours == 0


@dg.schedule(
    name=f"{PIPELINE}_schedule",
    cron_schedule="0 * * * *",
    job=sync_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly ticks; each tenant gets a delta run when its sync_frequency_hours divides the hour.",
)
def sync_schedule(
    context: dg.ScheduleEvaluationContext, connector_db: ConnectorDatabase
) -> Iterator[dg.RunRequest]:
    tick = context.scheduled_execution_time
    infos = {t.slug: t for t in connector_db.registry().tenants(enabled_only=True)}
    for tenant in PARTITIONS.get_partition_keys(dynamic_partitions_store=context.instance):
        info = infos.get(tenant)
        if info is None or "erp_files" not in info.settings:
            continue
        try:
            settings = ErpFilesSettings.model_validate(info.settings["erp_files"])
        except ValidationError:
            context.log.warning(f"{tenant}: invalid erp_files settings; not scheduled")
            continue
        if is_due(settings.sync_frequency_hours, tick):
            yield tenant_run_request(
                tenant, SyncMode.DELTA, f"schedule:{tenant}:{tick.isoformat()}", "schedule"
            )


@dg.schedule(
    name=f"{PIPELINE}_reconcile_schedule",
    cron_schedule=os.environ.get("ERP_FILES_SHOPIFY_RECONCILE_CRON", "30 4 * * *"),
    job=reconcile_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily SKU reconciliation per tenant (cron overridable with "
    "ERP_FILES_SHOPIFY_RECONCILE_CRON).",
)
def reconcile_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    tick = context.scheduled_execution_time.isoformat()
    for tenant in PARTITIONS.get_partition_keys(dynamic_partitions_store=context.instance):
        yield dg.RunRequest(
            run_key=f"reconcile:{tenant}:{tick}",
            partition_key=tenant,
            tags={**run_tags(tenant, "reconcile"), "trigger": "schedule"},
        )


schedules = [sync_schedule, reconcile_schedule]
