"""`sync`: one pipeline run for one tenant, and how its outcome is printed."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from connector_pipelines import errors
from connector_pipelines.cli.base import UserError, existing_registry, main, user_errors
from connector_pipelines.redaction import redact

if TYPE_CHECKING:
    from connector_pipelines.runner import RunSummary
    from connector_pipelines.store.repositories import OpenError


SUMMARY_FIELDS = ("fetched", "changed", "created", "updated", "unchanged", "deleted", "failed", "duration_s")


def print_run(summary: RunSummary) -> None:
    click.echo(f"run {summary.run_id}: {'success' if summary.success else 'FAILED'}")
    for asset, meta in summary.materializations.items():
        counts = ", ".join(f"{k}={meta[k]}" for k in SUMMARY_FIELDS if k in meta)
        calls = ", ".join(
            f"{k.removeprefix('api_calls_')} calls={v}" for k, v in meta.items() if k.startswith("api_calls_")
        )
        click.echo(f"  {asset:<22} {counts}{'; ' + calls if calls else ''}")
    for check, passed in summary.checks.items():
        click.echo(f"  check {check}: {'passed' if passed else 'FAILED'}")


def plan_entries(summary: RunSummary) -> list[dict[str, Any]]:
    """The per-record plan of a plan-mode run: each step's ``plan`` metadata, with the step's name."""
    return [
        {"asset": asset, **entry}
        for asset, meta in summary.materializations.items()
        for entry in meta.get("plan") or []
    ]


PLAN_CHANGES_SHOWN = 12


def print_plan(entries: list[dict[str, Any]]) -> None:
    """Each record to change, then each changed field with the target's value and the one a sync writes."""
    actions: dict[str, int] = {}
    for entry in entries:
        actions[entry["action"]] = actions.get(entry["action"], 0) + 1
    counted = ", ".join(f"{n} to {action}" for action, n in sorted(actions.items())) or "nothing to change"
    click.echo(f"plan: {counted} (nothing was written)")
    for entry in entries:
        label = f" {entry['label']!r}" if entry.get("label") else ""
        click.echo(redact(f"  {entry['asset']}  {entry['action']:<10} {entry['key']}{label}".rstrip()))
        changes = entry.get("changes") or []
        for change in changes[:PLAN_CHANGES_SHOWN]:
            old, new = (change[side] if change[side] is not None else "(none)" for side in ("old", "new"))
            click.echo(redact(f"      {change['field']}: {old} -> {new}"))
        if len(changes) > PLAN_CHANGES_SHOWN:
            click.echo(f"      ... and {len(changes) - PLAN_CHANGES_SHOWN} more field(s)")


RUN_FAILED_EXIT = 1
# The mode names of shopify_ingestion (issue 14) -> (shared mode, skip existing records).
MODE_ALIASES = {
    "backfill": ("full", False),
    "incremental": ("delta", False),
    "dry_run": ("plan", False),
    "skip_existing": ("full", True),
}
RECORDS_REJECTED_EXIT = 3
REJECTED_SHOWN = 20
SYNC_EXIT_CODES = """\b
Exit codes:
  0  the run succeeded and no record was rejected
  1  the run failed (its error is the last line on stderr)
  2  a user error before any run: bad arguments, or the tenant, its settings, credentials or the
     encryption key are not ready (one line on stderr naming tenant, system and remedy); nothing is run
  3  the run succeeded but records were rejected: they are listed with their reason"""


def print_rejected(tenant: str, records: list[OpenError], total: int) -> None:
    """The records a run rejected, one line each (at most REJECTED_SHOWN), and how many more there are."""
    click.echo(f"{total} record(s) rejected by this run:")
    for record in records:
        reason = " ".join(redact(record.reason).split())
        click.echo(f"  {record.stage} {record.record_key}: {reason[:300]}")
    if total > len(records):
        click.echo(f"  ... and {total - len(records)} more")
    click.echo(f"their payloads: `{errors.CLI} errors list {tenant}`")


def echo_err(line: str) -> None:
    """A line on stderr, where what is not the command's result goes (the benchmark's log)."""
    click.echo(line, err=True)


@main.command("sync", epilog=SYNC_EXIT_CODES)
@click.argument("tenant")
@click.option("--pipeline", required=True, help="Pipeline to run, e.g. plenty_shopware.")
@click.option(
    "--mode",
    type=click.Choice(["config", "delta", "full", "plan", "webhook", *MODE_ALIASES]),
    default="delta",
    show_default=True,
    help="webhook: apply the tenant's waiting webhooks now. backfill = full, incremental = delta, dry_run = "
    "plan, skip_existing = full writing only new records (shopify_ingestion's names).",
)
@click.option(
    "--since", help="A date range's start (ISO 8601, UTC): only records updated since (shopify_ingestion)."
)
@click.option("--until", help="A date range's end, exclusive (shopify_ingestion).")
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Write only records the target does not hold yet (shopify_ingestion).",
)
@click.option(
    "--product",
    "product_ids",
    multiple=True,
    help="Sync only this product, by its id in the source (repeatable).",
)
@click.option("--force", is_flag=True, help="Run even though the tenant is disabled.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The outcome as one JSON object: counts per step, checks, the plan, rejected records.",
)
@user_errors
def sync(
    tenant: str,
    pipeline: str,
    mode: str,
    since: str | None,
    until: str | None,
    skip_existing: bool,
    product_ids: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Run one sync for a tenant, recorded on the Dagster instance of DAGSTER_HOME (else
    CONNECTOR_HOME/dagster), so it shows in the UI like any run. Progress shows on stderr while it runs;
    `--mode plan` lists what a sync would change, record by record, and writes nothing.

    Before the run, the tenant is checked: registered, enabled (unless --force), the pipeline enabled for
    it, settings and credentials of the pipeline's systems present and readable, and --product ids valid
    for the pipeline's source."""
    from connector_pipelines.errors import PermanentError
    from connector_pipelines.pipelines.catalog import pipeline_spec
    from connector_pipelines.runner import dagster_instance, run_sync, showing_progress
    from connector_pipelines.store.repositories import TenantStore
    from connector_pipelines.sync.preflight import check_product_ids, preflight
    from connector_pipelines.sync.runtime import ReadWindow, SyncMode

    registry = existing_registry()
    spec = pipeline_spec(pipeline)
    shared, skips = MODE_ALIASES.get(mode, (mode, False))
    mode, skip_existing = shared, skip_existing or skips
    try:
        preflight(registry, tenant, spec, force=force)
        check_product_ids(spec, product_ids)
        window = ReadWindow.parse(since, until)
    except PermanentError as exc:
        raise UserError(str(exc)) from None
    if spec.job_for(SyncMode(mode)) is None:
        raise UserError(
            f"pipeline '{pipeline}' has no '{mode}' mode (modes: {', '.join(sorted(spec.modes))})"
        )
    with showing_progress(sys.stderr):
        summary = run_sync(
            tenant,
            pipeline,
            SyncMode(mode),
            instance=dagster_instance(),
            product_ids=list(product_ids),
            force=force,
            window=window,
            skip_existing=skip_existing,
        )
    store = TenantStore(registry.db, tenant, pipeline)
    rejected = store.count_open_errors(run_id=summary.run_id) if summary.success else 0
    shown = store.open_errors(limit=REJECTED_SHOWN, run_id=summary.run_id) if rejected else []
    if as_json:
        steps = {a: {k: v for k, v in m.items() if k != "plan"} for a, m in summary.materializations.items()}
        doc = {
            "run_id": summary.run_id,
            "success": summary.success,
            "error": summary.error,
            "steps": steps,
            "checks": summary.checks,
            "plan": plan_entries(summary) if mode == SyncMode.PLAN else None,
            "rejected": {
                "total": rejected,
                "records": [
                    {"stage": r.stage, "record_key": r.record_key, "reason": r.reason} for r in shown
                ],
            },
        }
        click.echo(redact(json.dumps(doc, indent=2, default=str)))
    else:
        print_run(summary)
        if mode == SyncMode.PLAN and summary.success:
            print_plan(plan_entries(summary))
        if rejected:
            print_rejected(tenant, shown, rejected)
    if not summary.success:
        click.echo(f"error: {redact(summary.error or 'run failed')}", err=True)
        sys.exit(RUN_FAILED_EXIT)
    if rejected:
        sys.exit(RECORDS_REJECTED_EXIT)
