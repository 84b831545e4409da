"""Jobs and schedules: config daily, delta every 15 minutes, full weekly; one run per tenant."""

from __future__ import annotations

import os
from collections.abc import Iterator

import dagster as dg

from connector_pipelines.pipelines.plenty_shopware.assets import (
    PARTITIONS,
    PIPELINE,
    config_assets,
    shopware_reference,
)
from connector_pipelines.pipelines.runs import SyncMode, run_tags, sync_run_config

sync_job = dg.define_asset_job(
    f"{PIPELINE}_sync",
    selection=dg.AssetSelection.groups(PIPELINE),
    description="Config caches, product snapshot and Shopware publication; the mode (delta, full, plan) "
    "comes from the sync_run resource config.",
)
config_job = dg.define_asset_job(
    f"{PIPELINE}_config",
    selection=dg.AssetSelection.assets(*config_assets, shopware_reference),
    description="Refresh the cached Plentymarkets configuration and publish reference data to Shopware.",
)


def tenant_run_request(tenant: str, mode: SyncMode, run_key: str | None, job_name: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        job_name=job_name,
        partition_key=tenant,
        run_config=sync_run_config(mode),
        tags=run_tags(tenant, mode),
    )


def _schedule(
    name: str, env: str, default_cron: str, job: dg.UnresolvedAssetJobDefinition, mode: SyncMode
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        cron_schedule=os.environ.get(env, default_cron),
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"One {mode.value} run per tenant (cron overridable with {env}).",
    )
    def per_tenant(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        tick = context.scheduled_execution_time.isoformat()
        for tenant in PARTITIONS.get_partition_keys(dynamic_partitions_store=context.instance):
            yield tenant_run_request(tenant, mode, f"{mode.value}:{tenant}:{tick}", job.name)

    return per_tenant


schedules = [
    _schedule(
        f"{PIPELINE}_config_schedule", "PLENTY_SHOPWARE_CONFIG_CRON", "0 3 * * *", config_job, SyncMode.CONFIG
    ),
    _schedule(
        f"{PIPELINE}_delta_schedule", "PLENTY_SHOPWARE_DELTA_CRON", "*/15 * * * *", sync_job, SyncMode.DELTA
    ),
    _schedule(f"{PIPELINE}_full_schedule", "PLENTY_SHOPWARE_FULL_CRON", "0 2 * * 0", sync_job, SyncMode.FULL),
]
