"""The code location: every pipeline found by the catalog, built from its spec, merged with the shared
resources, the tenant-registry sensor and the run-failure alert sensor."""

from __future__ import annotations

import dagster as dg

from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.catalog import pipeline_specs
from connector_pipelines.pipelines.registry_sensor import build_registry_sensor
from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.run_failure import run_failure_alert_sensor


def build_definitions() -> dg.Definitions:
    pipelines = [build_pipeline(spec) for spec in pipeline_specs().values()]
    shared = dg.Definitions(
        sensors=[build_registry_sensor(pipelines), run_failure_alert_sensor],
        resources={"connector_db": ConnectorDatabase(), "sync_run": SyncRun(mode="delta")},
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(shared, *(p.definitions for p in pipelines))


defs = build_definitions()
