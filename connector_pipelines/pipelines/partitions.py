"""One dynamic partitions definition per pipeline; the partition key is the tenant slug."""

from __future__ import annotations

import dagster as dg

from connector_pipelines.tenants.systems import PIPELINE_SYSTEMS

PIPELINE_PARTITIONS: dict[str, dg.DynamicPartitionsDefinition] = {
    name: dg.DynamicPartitionsDefinition(name=name) for name in PIPELINE_SYSTEMS
}


def tenant_partitions(pipeline: str) -> dg.DynamicPartitionsDefinition:
    return PIPELINE_PARTITIONS[pipeline]
