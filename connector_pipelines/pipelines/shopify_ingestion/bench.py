"""`connector-pipelines bench shopify_ingestion`: a backfill, an incremental after 1 % of every object
changed, and an incremental with nothing changed, of one shop served by the sandbox in a child process.

The shop is seeded with ``--customers``, ``--orders`` (three line items each) and ``--products`` (with
``--variants``). The tables are a throwaway database on ``--database-url``'s server, else those of
``CONNECTOR_INGESTION_DATABASE_URL`` (under a tenant of the benchmark's own, shredded afterwards), else a
throwaway SQLite file. Per run: wall seconds, rows written per second (a record is a row of any table), the
peak RSS of this process, the calls Shopify answered (GraphQL and result downloads), the rows written, and
whether the tables equal the shop, judged by the sandbox from the emulator's records.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
from collections.abc import Iterator

import dagster as dg
from pydantic import BaseModel

from connector_pipelines.bench.harness import (
    Echo,
    SandboxProcess,
    interruptible,
    isolated_environment,
    measure,
)
from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.pipelines.shopify_ingestion.recipe import LINES_PER_ORDER, RECIPE
from connector_pipelines.runner import RunSummary, load_job, run_sync
from connector_pipelines.sandbox.recipe import register_tenant
from connector_pipelines.store.ingestion.db import INGESTION_DATABASE_URL_VAR
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.shopify_ingestion import STEPS, ingestion_repository

RUNS = (
    ("backfill", SyncMode.FULL),
    ("incremental_1pct", SyncMode.DELTA),
    ("incremental_none", SyncMode.DELTA),
)
CHANGED_FRACTION, CHANGE_SEED = 0.01, 7


class IngestionBenchResult(BaseModel):
    wall_s: float
    records_per_s: float
    peak_rss_mb: float
    source_calls: int
    rows_written: int
    converged: bool


@contextlib.contextmanager
def _shredded_afterwards(tenant: str, own_tables: bool) -> Iterator[None]:
    """Tables the benchmark does not own (``CONNECTOR_INGESTION_DATABASE_URL``) lose its tenant at the end."""
    try:
        yield
    finally:
        if not own_tables:
            ingestion_repository().shred_tenant(tenant, reason="benchmark finished")


def run_ingestion_benchmark(
    echo: Echo,
    *,
    customers: int,
    orders: int,
    products: int,
    variants: int,
    rate_limits: str,
    as_json: bool,
    log: Echo,
    database_url: str | None = None,
) -> dict[str, IngestionBenchResult]:
    account = f"bench-{secrets.token_hex(3)}"
    args = ["--pipeline", RECIPE.pipeline, "--account", account, "--products", "0"]
    args += ["--rate-limits", rate_limits]
    logging.getLogger("connector_pipelines").setLevel(logging.WARNING)
    results: dict[str, IngestionBenchResult] = {}
    own_tables = database_url is not None or not os.environ.get(INGESTION_DATABASE_URL_VAR)
    with (
        isolated_environment(database_url),
        SandboxProcess(args) as sandbox,
        _shredded_afterwards(account, own_tables),
    ):
        seeded = sandbox.post(
            f"/shopify/{account}/__sandbox/seed",
            {
                "products": products,
                "variants": variants,
                "customers": customers,
                "orders": orders,
                "lines": LINES_PER_ORDER,
            },
        )
        registry = tenant_registry()
        register_tenant(registry, RECIPE, sandbox.accounts, account, name="Benchmark")
        registry.db.dispose()  # the runs use the process-wide pool of that database
        instance = dg.DagsterInstance.ephemeral()
        log(f"sandbox ready: {RECIPE.describe(sandbox.accounts, account)}: {json.dumps(seeded)}")
        for _, mode in RUNS:
            load_job(RECIPE.pipeline, mode)  # loaded before a run starts, as a run worker does: not timed
        for name, mode in RUNS:
            if name == "incremental_1pct":
                body = {"fraction": CHANGED_FRACTION, "seed": CHANGE_SEED}
                sandbox.post(f"/__hub/{RECIPE.pipeline}/{account}/change", body)
            sandbox.post(f"/shopify/{account}/__sandbox/stats/reset")
            run = functools.partial(
                run_sync, account, RECIPE.pipeline, mode, instance=instance, log_level="WARNING"
            )
            summary: RunSummary
            summary, wall, peak = measure(functools.partial(interruptible, run))
            if not summary.success:
                raise RuntimeError(f"{name} failed: {summary.error}")
            stats = sandbox.get(f"/shopify/{account}/__sandbox/stats")
            written = sum(int(summary.counts(step).get("rows_written", 0)) for step in STEPS.values())
            convergence = sandbox.get(f"/__hub/{RECIPE.pipeline}/{account}/convergence")
            results[name] = IngestionBenchResult(
                wall_s=round(wall, 3),
                records_per_s=round(written / wall, 1),
                peak_rss_mb=round(peak, 1),
                source_calls=int(stats.get("graphql_calls", 0)) + int(stats.get("result_downloads", 0)),
                rows_written=written,
                converged=bool(convergence["converged"]),
            )
            log(f"{name}: {wall:.2f} s, {written} rows written; {convergence['detail']}")
    _report(results, as_json=as_json, echo=echo)
    return results


def _report(results: dict[str, IngestionBenchResult], *, as_json: bool, echo: Echo) -> None:
    if as_json:
        echo(json.dumps({name: r.model_dump() for name, r in results.items()}))
        return
    header = ["run", *IngestionBenchResult.model_fields]
    echo("| " + " | ".join(header) + " |")
    echo("|" + "---|" * len(header))
    for name, r in results.items():
        cells = [name, *(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.model_dump().values())]
        echo("| " + " | ".join(cells) + " |")
