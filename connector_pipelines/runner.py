"""Launching a pipeline run for one tenant from Python (the CLI, the demo, the benchmark).

Runs execute in this process, recorded on the given Dagster instance (by default the one of
``DAGSTER_HOME``), so they show in the UI like any scheduled run and carry the same tags.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from connector_pipelines.pipelines.catalog import pipeline_spec
from connector_pipelines.pipelines.runs import run_tags, sync_run_config
from connector_pipelines.sync.runtime import SyncMode


@dataclass
class RunSummary:
    run_id: str
    success: bool
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None

    def counts(self, asset: str) -> dict[str, Any]:
        return self.materializations.get(asset, {})


def dagster_instance() -> dg.DagsterInstance:
    """The instance of DAGSTER_HOME (created if missing), else a temporary one."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        settings = Path(home) / "dagster.yaml"
        if not settings.exists():
            # A fresh local instance: embedded SQLite storage, and no telemetry banner or reporting.
            settings.write_text("telemetry:\n  enabled: false\n")
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.local_temp(tempfile.mkdtemp(prefix="connector-dagster-"))


def _metadata_value(value: dg.MetadataValue) -> Any:
    return value.value


def run_sync(
    tenant: str,
    pipeline: str,
    mode: SyncMode,
    *,
    instance: dg.DagsterInstance,
    product_ids: list[int] | None = None,
    log_level: str = "INFO",
    force: bool = False,
) -> RunSummary:
    """Run ``pipeline`` for ``tenant`` in ``mode``; ``force`` runs a disabled tenant. Every step checks the
    tenant first (``sync/preflight.py``): a problem fails the run with that one line as its error."""
    from connector_pipelines.definitions import defs

    job_name = pipeline_spec(pipeline).job_for(mode)
    if job_name is None:
        raise ValueError(f"pipeline '{pipeline}' has no '{mode.value}' mode")
    instance.add_dynamic_partitions(pipeline, [tenant])
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=instance,
        partition_key=tenant,
        run_config={
            **sync_run_config(mode, product_ids, force=force),
            "loggers": {"console": {"config": {"log_level": log_level}}},
        },
        tags=run_tags(tenant, mode, "cli"),
        raise_on_error=False,
    )
    return summarize(result)


def summarize(result: dg.ExecuteInProcessResult) -> RunSummary:
    """What a run materialized and checked, and the first step failure's message when it failed."""
    summary = RunSummary(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        name = materialization.asset_key.path[-1]
        summary.materializations[name] = {k: _metadata_value(v) for k, v in materialization.metadata.items()}
    for evaluation in result.get_asset_check_evaluations():
        summary.checks[f"{evaluation.asset_key.path[-1]}:{evaluation.check_name}"] = evaluation.passed
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        if failures and failures[0].step_failure_data is not None:
            data = failures[0].step_failure_data
            # The step boundary's description is the one line; Dagster's message prefixes the class path.
            described = data.user_failure_data.description if data.user_failure_data is not None else None
            summary.error = (described or (data.error.message if data.error else "step failed")).strip()
        else:
            summary.error = "run failed"
    return summary
