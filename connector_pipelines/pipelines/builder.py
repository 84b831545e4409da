"""One builder for every pipeline: a :class:`PipelineSpec` becomes partitioned assets (kinds, pools, group,
descriptions, metadata), asset checks, jobs, schedules and polling sensors. Every asset and check body is the
same few lines: the tenant's step context in, the step's report out as metadata."""

# No `from __future__ import annotations`: Dagster reads the context parameters' annotations at runtime.
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.runtime import retry_policy, step_boundary, tenant_of, to_metadata
from connector_pipelines.pipelines.triggers import (
    per_tenant_inbox_sensor,
    per_tenant_polling_sensor,
    per_tenant_schedule,
)
from connector_pipelines.sync.preflight import preflight
from connector_pipelines.sync.runtime import ReadWindow, StepContext, SyncMode
from connector_pipelines.sync.spec import CheckSpec, PipelineSpec, StepSpec

# Partitioned asset checks (one result per tenant) are a preview feature in Dagster 1.13; we rely on them
# deliberately, so their warning would only be noise in every run log.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def tenant_partitions(pipeline: str) -> dg.DynamicPartitionsDefinition:
    """One dynamic partitions definition per pipeline, named after it; the key is the tenant slug."""
    return dg.DynamicPartitionsDefinition(name=pipeline)


@dataclass
class BuiltPipeline:
    spec: PipelineSpec
    definitions: dg.Definitions
    jobs: "dict[str, dg.UnresolvedAssetJobDefinition]"

    @property
    def onboarding_job(self) -> "dg.UnresolvedAssetJobDefinition":
        return self.jobs[self.spec.modes[self.spec.onboarding]]


@contextmanager
def _step_context(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    spec: PipelineSpec,
    connector_db: ConnectorDatabase,
    sync_run: SyncRun | None,
    *,
    force: bool,
) -> Iterator[StepContext]:
    """The tenant's step context (a check's without ``sync_run``: delta, no product selection), inside the
    step boundary and after the preflight checks (tenant registered, enabled unless ``force``, pipeline
    enabled, settings and credentials readable): a problem fails the step at once, without retries (it is a
    PermanentError), with the preflight's one line as the run's error."""
    with step_boundary(context, pipeline=spec.name):
        registry = connector_db.registry()
        tenant = tenant_of(context)
        preflight(registry, tenant, spec, force=force)
        with StepContext(
            registry,
            tenant=tenant,
            pipeline=spec.name,
            mode=SyncMode(sync_run.mode) if sync_run is not None else SyncMode.DELTA,
            run_id=context.run.run_id,
            product_ids=sync_run.product_ids if sync_run is not None else (),
            max_timeout_s=sync_run.client_timeout_s if sync_run is not None else None,
            window=ReadWindow.parse(sync_run.since, sync_run.until) if sync_run is not None else None,
            skip_existing=sync_run.skip_existing if sync_run is not None else False,
        ) as ctx:
            yield ctx


def _asset(
    spec: PipelineSpec, step: StepSpec, partitions: dg.DynamicPartitionsDefinition, inline: list[CheckSpec]
) -> dg.AssetsDefinition:
    key = dg.AssetKey([spec.name, step.name])

    @dg.asset(
        name=step.name,
        key_prefix=[spec.name],
        group_name=spec.name,
        partitions_def=partitions,
        kinds={step.system.kind},
        pool=step.system.pool,
        deps=[dg.AssetKey([spec.name, dep]) for dep in step.deps],
        description=step.description,
        retry_policy=retry_policy(),
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=key, partitions_def=partitions, description=c.description)
            for c in inline
        ],
    )
    def run_step(
        context: dg.AssetExecutionContext, connector_db: ConnectorDatabase, sync_run: SyncRun
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        with _step_context(context, spec, connector_db, sync_run, force=sync_run.force) as ctx:
            report = step.run(ctx)
        return dg.MaterializeResult(
            metadata=to_metadata(report.metadata(), report.preview),
            check_results=[
                dg.AssetCheckResult(
                    check_name=c.name,
                    passed=report.checks[c.name].passed,
                    severity=SEVERITY[c.severity],
                    metadata=to_metadata(report.checks[c.name].counts, report.checks[c.name].preview),
                )
                for c in inline
            ],
        )

    return run_step


def _check(
    spec: PipelineSpec, check: CheckSpec, partitions: dg.DynamicPartitionsDefinition
) -> dg.AssetChecksDefinition:
    run = check.run
    assert run is not None

    @dg.asset_check(
        asset=dg.AssetKey([spec.name, check.asset]),
        name=check.name,
        partitions_def=partitions,
        pool=check.system.pool if check.system is not None else None,
        description=check.description,
    )
    def run_check(
        context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase, sync_run: SyncRun
    ) -> dg.AssetCheckResult:
        # The run's sync_run for its force flag only: a check reads what the steps left, in no mode.
        with _step_context(context, spec, connector_db, None, force=sync_run.force) as ctx:
            outcome = run(ctx)
        return dg.AssetCheckResult(
            passed=outcome.passed,
            severity=SEVERITY[check.severity],
            metadata=to_metadata(outcome.counts, outcome.preview),
        )

    return run_check


def build_pipeline(spec: PipelineSpec) -> BuiltPipeline:
    partitions = tenant_partitions(spec.name)
    inline = [c for c in spec.checks if c.run is None]
    assets = [
        _asset(spec, step, partitions, [c for c in inline if c.asset == step.name]) for step in spec.steps
    ]
    checks = [_check(spec, c, partitions) for c in spec.checks if c.run is not None]
    jobs = {
        job.name: dg.define_asset_job(
            spec.job_name(job.name),
            selection=dg.AssetSelection.assets(*(dg.AssetKey([spec.name, s]) for s in job.steps)),
            description=job.description,
        )
        for job in spec.jobs
    }
    schedules = [per_tenant_schedule(spec, s, jobs[s.job], partitions) for s in spec.schedules]
    sensors = [per_tenant_polling_sensor(spec, p, jobs[p.job], partitions) for p in spec.sensors]
    sensors += [per_tenant_inbox_sensor(spec, i, jobs[i.job], partitions) for i in spec.inboxes]
    definitions = dg.Definitions(
        assets=assets, asset_checks=checks, jobs=list(jobs.values()), schedules=schedules, sensors=sensors
    )
    return BuiltPipeline(spec, definitions, jobs)
