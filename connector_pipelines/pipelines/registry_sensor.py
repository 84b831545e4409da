"""The tenant-registry sensor: keeps each pipeline's tenant partitions equal to the registry.

A tenant that is added (or re-enabled) gets its partition and one onboarding run; a tenant that is
disabled, removed or no longer enabled for the pipeline loses its partition (history stays).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import dagster as dg

from connector_pipelines.pipelines.builder import BuiltPipeline, tenant_partitions
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.triggers import tenant_run_request

REGISTRY_SENSOR_NAME = "tenant_registry_sensor"


def build_registry_sensor(
    pipelines: Sequence[BuiltPipeline],
    *,
    minimum_interval_seconds: int = 30,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=REGISTRY_SENSOR_NAME,
        jobs=[p.onboarding_job for p in pipelines],
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
        for built in pipelines:
            pipeline, partitions = built.spec.name, tenant_partitions(built.spec.name)
            wanted = {t.slug: t for t in tenants if pipeline in t.pipelines}
            existing = set(partitions.get_partition_keys(dynamic_partitions_store=context.instance))
            added = sorted(set(wanted) - existing)
            removed = sorted(existing - set(wanted))
            if added:
                partition_requests.append(partitions.build_add_request(added))
            if removed:
                partition_requests.append(partitions.build_delete_request(removed))
            for slug in added:
                # The enable time makes the key unique per onboarding, so a tenant removed and added
                # again (or re-enabled) is onboarded again, while repeated ticks are deduplicated.
                enabled = wanted[slug].enabled_at.isoformat()
                run_key = f"onboard:{pipeline}:{slug}:{enabled}"
                run_requests.append(
                    tenant_run_request(
                        built.onboarding_job, slug, built.spec.onboarding, run_key, "onboarding"
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
