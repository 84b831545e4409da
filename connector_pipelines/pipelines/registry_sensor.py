"""The tenant-registry sensor: keeps each pipeline's tenant partitions equal to the registry.

A tenant that is added (or re-enabled) gets its partition and one onboarding run; a tenant that is
disabled, removed or no longer enabled for the pipeline loses its partition (history stays).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import dagster as dg

from connector_pipelines.pipelines.partitions import PIPELINE_PARTITIONS
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.runs import SyncMode, run_tags

REGISTRY_SENSOR_NAME = "tenant_registry_sensor"


def build_registry_sensor(
    onboarding_jobs: Mapping[str, dg.UnresolvedAssetJobDefinition],
    *,
    minimum_interval_seconds: int = 30,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=REGISTRY_SENSOR_NAME,
        jobs=list(onboarding_jobs.values()),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds and removes tenant partitions as tenants change; onboards each new tenant.",
    )
    def tenant_registry_sensor(
        context: dg.SensorEvaluationContext, connector_db: ConnectorDatabase
    ) -> dg.SensorResult:
        tenants = connector_db.registry().tenants(enabled_only=True)
        partition_requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        run_requests: list[dg.RunRequest] = []
        state: dict[str, list[str]] = {}
        for pipeline, partitions in PIPELINE_PARTITIONS.items():
            wanted = {t.slug: t for t in tenants if pipeline in t.pipelines}
            existing = set(partitions.get_partition_keys(dynamic_partitions_store=context.instance))
            added = sorted(set(wanted) - existing)
            removed = sorted(existing - set(wanted))
            if added:
                partition_requests.append(partitions.build_add_request(added))
            if removed:
                partition_requests.append(partitions.build_delete_request(removed))
            job = onboarding_jobs.get(pipeline)
            if job is not None:
                for slug in added:
                    # The enable time makes the key unique per onboarding, so a tenant removed and added
                    # again (or re-enabled) is onboarded again, while repeated ticks are deduplicated.
                    enabled = wanted[slug].enabled_at.isoformat()
                    run_requests.append(
                        dg.RunRequest(
                            run_key=f"onboard:{pipeline}:{slug}:{enabled}",
                            job_name=job.name,
                            partition_key=slug,
                            tags={**run_tags(slug, SyncMode.FULL), "trigger": "onboarding"},
                        )
                    )
            state[pipeline] = sorted(wanted)
            if added or removed:
                context.log.info(f"{pipeline}: added {added or '-'}, removed {removed or '-'}")
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=partition_requests,
            cursor=json.dumps(state, sort_keys=True),
        )

    return tenant_registry_sensor
