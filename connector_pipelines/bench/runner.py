"""`connector-pipelines bench PIPELINE`: a full sync, a delta after 1 % of the source changed and a delta
with nothing changed, on the pipeline's sandbox catalog in a child process. The pipeline's recipe says how its
emulators count calls and writes and what its realistic rate limits allow; the loop is the same for all."""

from __future__ import annotations

import functools
import logging
from typing import Any

import dagster as dg

from connector_pipelines import config
from connector_pipelines.bench.harness import (
    BenchResult,
    Echo,
    SandboxProcess,
    interruptible,
    isolated_environment,
    measure,
    report,
)
from connector_pipelines.pipelines.catalog import pipeline_recipe, tenant_registry
from connector_pipelines.runner import RunSummary, load_job, run_sync
from connector_pipelines.sandbox.recipe import Catalog, register_tenant
from connector_pipelines.sync.runtime import SyncMode

ACCOUNT = "bench"
RUNS = (("full", SyncMode.FULL), ("delta_1pct", SyncMode.DELTA), ("delta_none", SyncMode.DELTA))
CHANGED_FRACTION, CHANGE_SEED = 0.01, 7


def run_benchmark(
    pipeline: str,
    echo: Echo,
    *,
    products: int,
    variants: int,
    rate_limits: str,
    as_json: bool,
    log: Echo,
    database_url: str | None = None,
) -> dict[str, BenchResult]:
    """``database_url``: the server whose throwaway database holds the connector tables (default: a SQLite
    file in a throwaway home)."""
    recipe = pipeline_recipe(pipeline)
    catalog = Catalog(products, variants, realistic_limits=rate_limits == "realistic")
    args = ["--pipeline", pipeline, "--account", ACCOUNT, "--products", str(products)]
    args += ["--variants", str(variants), "--rate-limits", rate_limits, "--erp-format", catalog.file_format]
    logging.getLogger("connector_pipelines").setLevel(logging.WARNING)
    results: dict[str, BenchResult] = {}
    notes: list[str] = []
    with isolated_environment(database_url), SandboxProcess(args) as sandbox:
        registry = tenant_registry()
        register_tenant(registry, recipe, sandbox.accounts, ACCOUNT, name="Benchmark")
        registry.db.dispose()  # the runs use the process-wide pool of that database
        run_options: dict[str, Any] = {"instance": dg.DagsterInstance.ephemeral(), "log_level": "WARNING"}
        items = recipe.bench_items(sandbox.get, ACCOUNT, catalog)
        log(
            f"sandbox ready: {recipe.describe(sandbox.accounts, ACCOUNT)}, {products} products, {items} "
            f"variants; rate limits {rate_limits}; connector database {config.database_location()}"
        )
        for _, mode in RUNS:
            load_job(pipeline, mode)  # the code location is loaded before a run starts, not timed with it
        for name, mode in RUNS:
            if name == "delta_1pct":
                body = {"fraction": CHANGED_FRACTION, "seed": CHANGE_SEED}
                sandbox.post(f"/__hub/{pipeline}/{ACCOUNT}/change", body)
            for system in recipe.emulated:
                sandbox.post(f"/{system}/{ACCOUNT}/__sandbox/stats/reset")
            summary: RunSummary
            run = functools.partial(run_sync, ACCOUNT, pipeline, mode, **run_options)
            summary, wall, peak = measure(functools.partial(interruptible, run))
            if not summary.success:
                raise RuntimeError(f"{name} failed: {summary.error}")
            figures = recipe.bench_counts(sandbox.get, ACCOUNT, summary.counts)
            convergence = sandbox.get(f"/__hub/{pipeline}/{ACCOUNT}/convergence")
            target = summary.counts(recipe.target_asset)
            published = sum(int(target.get(k, 0)) for k in ("created", "updated", "deleted"))
            results[name] = BenchResult(
                wall_s=round(wall, 3),
                items_per_s=round(items / wall, 1),
                peak_rss_mb=round(peak, 1),
                source_calls=figures.source_calls,
                target_calls=figures.target_calls,
                target_writes=figures.target_writes,
                target_calls_per_product=round(figures.target_calls / published, 2) if published else 0.0,
                converged=bool(convergence["converged"]),
                bound_s=recipe.bench_bound_s(figures) if catalog.realistic_limits else None,
            )
            if catalog.realistic_limits and (note := recipe.bench_note(name, figures, summary.counts, wall)):
                notes.append(note)
            log(
                f"{name}: {wall:.2f} s, {figures.source_calls} source calls, {figures.target_calls} target "
                f"calls, {figures.target_writes} target writes; {convergence['detail']}"
            )
    report(results, as_json=as_json, echo=echo, notes=notes)
    return results
