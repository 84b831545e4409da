"""The tenant-registry sensor: keeps each pipeline's tenant partitions equal to the registry.

A tenant that is added (or re-enabled) gets its partition and one onboarding run as soon as a run could
work: its settings and its credentials for every system of the pipeline are stored and readable (the checks
of ``sync/preflight.py``). Until then it waits, and the sensor logs once what it waits for. So a tenant added
before its credentials are set is onboarded after ``set-credentials``, not failed by its first run. A tenant
that is disabled, removed or no longer enabled for the pipeline loses its partition (history stays).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from pydantic import BaseModel, Field, ValidationError

from connector_pipelines.pipelines.builder import BuiltPipeline, tenant_partitions
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.triggers import tenant_run_request
from connector_pipelines.sync.preflight import waiting_for

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
        registry = connector_db.registry()
        tenants = registry.tenants(enabled_only=True)
        partition_requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        run_requests: list[dg.RunRequest] = []
        state: dict[str, list[str]] = {}
        waiting: dict[str, dict[str, str]] = {}
        logged = SensorCursor.read(context.cursor).waiting
        for built in pipelines:
            pipeline, partitions = built.spec.name, tenant_partitions(built.spec.name)
            wanted = {t.slug: t for t in tenants if pipeline in t.pipelines}
            existing = set(partitions.get_partition_keys(dynamic_partitions_store=context.instance))
            # Checked only before a tenant's partition exists: afterwards its runs report what is wrong.
            new = {slug: waiting_for(registry, slug, built.spec) for slug in sorted(set(wanted) - existing)}
            waiting[pipeline] = {slug: reason for slug, reason in new.items() if reason is not None}
            for slug, reason in waiting[pipeline].items():
                if logged.get(pipeline, {}).get(slug) != reason:
                    context.log.info(f"{pipeline}: onboarding of {slug} waits: {reason}")
            added = sorted(slug for slug, reason in new.items() if reason is None)
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
            state[pipeline] = sorted((existing | set(added)) - set(removed))
            if added or removed:
                context.log.info(f"{pipeline}: added {added or '-'}, removed {removed or '-'}")
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=partition_requests,
            cursor=SensorCursor(partitions=state, waiting=waiting).model_dump_json(),
        )

    return tenant_registry_sensor


class SensorCursor(BaseModel):
    """The tenants with a partition, and those waiting to be onboarded with what they wait for (logged once
    per change). A cursor of an older version reads as empty."""

    partitions: dict[str, list[str]] = Field(default_factory=dict)
    waiting: dict[str, dict[str, str]] = Field(default_factory=dict)

    @classmethod
    def read(cls, cursor: str | None) -> SensorCursor:
        try:
            return cls.model_validate_json(cursor or "{}")
        except ValidationError:
            return cls()
