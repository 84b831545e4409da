"""`runs` and `errors ...`: a tenant's run history, record errors and dead letters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import click

from connector_pipelines import errors
from connector_pipelines.cli.base import F, existing_registry, main, user_errors
from connector_pipelines.redaction import redact

if TYPE_CHECKING:
    from connector_pipelines.pipelines.runs import RecordErrorInfo
    from connector_pipelines.tenants.registry import TenantRegistry


def _pipelines_of(pipeline: str | None) -> list[str]:
    from connector_pipelines.pipelines.catalog import pipeline_spec, pipeline_specs

    return [pipeline_spec(pipeline).name] if pipeline else list(pipeline_specs())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


@main.command("runs")
@click.argument("tenant")
@click.option("--pipeline", help="Only this pipeline's runs.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1), help="Runs shown.")
@click.option("--json", "as_json", is_flag=True, help="The runs with their steps as JSON.")
@user_errors
def runs(tenant: str, pipeline: str | None, limit: int, as_json: bool) -> None:
    """A tenant's recent runs, newest first: when, pipeline, mode, status, record counts, the failure.

    Read from the connector database, where every step of every run (scheduled, onboarding, CLI, launched in
    the UI) records its counts and error; the Dagster UI has each run's full log."""
    from connector_pipelines import config
    from connector_pipelines.pipelines.runs import recent_runs

    registry = existing_registry()
    found = recent_runs(
        registry.db,
        registry.tenant_id(tenant),
        pipeline=_pipelines_of(pipeline)[0] if pipeline else None,
        limit=limit,
    )
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in found], indent=2))
        return
    if not found:
        click.echo(f"no runs of {tenant} recorded in {config.database_location()}")
    for run in found:
        totals = ", ".join(f"{k} {v}" for k, v in run.totals().items())
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at else "running"
        status = run.status if run.status != "failed" else "FAILED"
        click.echo(
            f"{_when(run.started_at)}  {run.pipeline:<18} {run.mode:<6} {status:<8} "
            f"{len(run.steps)} steps  {took:<8} {totals}  run {run.run_id or '-'}"
        )
        if run.error:
            click.echo(f"    error: {' '.join(redact(run.error).split())}")


@main.group("errors")
def record_errors() -> None:
    """Records waiting with an error: list them, send them again, or close them."""


def _open_errors(
    tenant: str, pipeline: str | None, stage: str | None, keys: Sequence[str], limit: int | None
) -> tuple[TenantRegistry, list[RecordErrorInfo]]:
    from connector_pipelines.pipelines.runs import open_record_errors

    registry = existing_registry()
    registry.get(tenant)  # names an unknown tenant
    found = open_record_errors(
        registry.db, tenant, _pipelines_of(pipeline), stage=stage, keys=set(keys), limit=limit
    )
    return registry, found


SELECTING = (
    click.argument("tenant"),
    click.option("--pipeline", help="Only this pipeline's errors."),
    click.option("--stage", help="Only errors of this stage (e.g. shopware_products, plentymarkets_read)."),
    click.option("--key", "keys", multiple=True, help="Only this record (its key; repeatable)."),
)


def _selecting(func: F) -> F:
    for decorator in reversed(SELECTING):
        func = decorator(func)
    return func


def _dead_letters(
    registry: TenantRegistry, tenant: str, found: Sequence[RecordErrorInfo]
) -> set[tuple[str, str, str]]:
    """(pipeline, stage, record key) of the dead letters among ``found``: records runs no longer retry."""
    from connector_pipelines.store.repositories import TenantStore

    return {
        (name, stage, key)
        for name in dict.fromkeys(e.pipeline for e in found)
        for stage, key in TenantStore(registry.db, tenant, name).dead_letters()
    }


DEAD_ONLY = click.option(
    "--dead",
    "dead_only",
    is_flag=True,
    help="Only dead letters: records that failed too often to be retried.",
)


@record_errors.command("list")
@_selecting
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Errors shown.")
@DEAD_ONLY
@click.option("--json", "as_json", is_flag=True, help="The errors with their whole payloads as JSON.")
@user_errors
def errors_list(
    tenant: str,
    pipeline: str | None,
    stage: str | None,
    keys: tuple[str, ...],
    limit: int,
    dead_only: bool,
    as_json: bool,
) -> None:
    """The tenant's open record errors, newest first: record, stage, reason, attempts and the payload sent.
    Dead letters (records that failed too often: runs no longer retry them) are marked; `errors retry`
    sends them again."""
    registry, found = _open_errors(tenant, pipeline, stage, keys, None)
    dead = _dead_letters(registry, tenant, found)
    if dead_only:
        found = [e for e in found if (e.pipeline, e.stage, e.record_key) in dead]
    found = found[:limit]
    if as_json:
        listed = [
            {**e.model_dump(mode="json"), "dead": (e.pipeline, e.stage, e.record_key) in dead} for e in found
        ]
        click.echo(redact(json.dumps(listed, indent=2)))
        return
    if not found:
        click.echo(f"no open {'dead letters' if dead_only else 'record errors'} of {tenant}")
    for error in found:
        attempts = (
            f"{error.attempts} attempt{'s' if error.attempts != 1 else ''}, last {_when(error.last_seen)}"
        )
        if (error.pipeline, error.stage, error.record_key) in dead:
            attempts = f"DEAD LETTER: {attempts}; retried no more until `errors retry`"
        click.echo(f"{error.pipeline}  {error.stage}  {error.record_key}  ({attempts})")
        click.echo(f"    reason:  {' '.join(redact(error.reason).split())}")
        if error.payload is not None:
            payload = redact(json.dumps(error.payload, sort_keys=True))
            shown = payload if len(payload) <= 300 else payload[:300] + " ... (--json shows all)"
            click.echo(f"    payload: {shown}")


@record_errors.command("retry")
@_selecting
@DEAD_ONLY
@user_errors
def errors_retry(
    tenant: str, pipeline: str | None, stage: str | None, keys: tuple[str, ...], dead_only: bool
) -> None:
    """Have the next run send these records again, even where their hashes say nothing changed.

    Their published hash is cleared (the next delta sees them changed) and dead letters among them are
    re-armed (runs retry them again); their errors stay open until a run gets them through. Records never
    published are sent by every run anyway."""
    from connector_pipelines.pipelines.runs import retry_records
    from connector_pipelines.store.repositories import TenantStore

    registry, found = _open_errors(tenant, pipeline, stage, keys, None)
    if dead_only:
        dead = _dead_letters(registry, tenant, found)
        found = [e for e in found if (e.pipeline, e.stage, e.record_key) in dead]
    if not found:
        click.echo(f"no open {'dead letters' if dead_only else 'record errors'} of {tenant} match")
        return
    for name in dict.fromkeys(e.pipeline for e in found):
        chosen = [e.record_key for e in found if e.pipeline == name]
        store = TenantStore(registry.db, tenant, name)
        cleared = retry_records(store, chosen)
        rearmed = store.rearm_errors(chosen, stage)
        click.echo(
            f"{name}: {len(chosen)} record(s) will be sent again by the next run ({cleared} published one(s) "
            f"had their published hash cleared, {rearmed} dead letter(s) re-armed); send them now with "
            f"`{errors.CLI} sync {tenant} --pipeline {name}`"
        )


@record_errors.command("discard")
@_selecting
@user_errors
def errors_discard(tenant: str, pipeline: str | None, stage: str | None, keys: tuple[str, ...]) -> None:
    """Close these errors without sending anything: the records stay as they are; one that fails again in
    a later run is listed again."""
    from connector_pipelines.pipelines.runs import discard_errors
    from connector_pipelines.store.repositories import TenantStore

    registry, found = _open_errors(tenant, pipeline, stage, keys, None)
    for name in dict.fromkeys(e.pipeline for e in found):
        closed = discard_errors(
            TenantStore(registry.db, tenant, name), [e for e in found if e.pipeline == name]
        )
        click.echo(f"{name}: closed {closed} record error(s); a record that fails again is listed again")
    if not found:
        click.echo(f"no open record errors of {tenant} match")
