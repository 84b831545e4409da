"""`connector-pipelines bench erp_files_shopify`: full, 1 % delta and zero-change delta of a CSV over SFTP."""

from __future__ import annotations

import logging

import dagster as dg

from connector_pipelines.bench.harness import (
    BenchResult,
    Echo,
    SandboxProcess,
    isolated_environment,
    measure,
    report,
)
from connector_pipelines.pipelines.runs import SyncMode
from connector_pipelines.runner import RunSummary, run_sync
from connector_pipelines.sandbox.hub import erp_files_shopify_tenant
from connector_pipelines.sandbox.shopify import ShopifySettings as ShopifyEmulatorSettings
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.registry import TenantRegistry

ACCOUNT = "bench"
PIPELINE = "erp_files_shopify"


def _register(sandbox: SandboxProcess) -> None:
    settings, credentials = erp_files_shopify_tenant(sandbox.accounts, ACCOUNT)
    registry = TenantRegistry(Database())
    registry.add(ACCOUNT, "Benchmark", [PIPELINE], settings)
    for system, values in credentials.items():
        registry.set_credentials(ACCOUNT, system, values)


def _shopify_counts(sandbox: SandboxProcess) -> tuple[int, int, int]:
    """(HTTP calls, products written or deleted, cost points charged) since the last reset."""
    stats = sandbox.get(f"/shopify/{ACCOUNT}/__sandbox/stats")
    calls = int(stats["graphql_calls"]) + int(stats["uploads"]) + int(stats["result_downloads"])
    roots = stats["root_fields"]
    # Bulk lines run inside the emulator; direct productSet / productDelete calls are root fields.
    writes = int(stats["bulk_lines"]) + int(roots.get("productSet", 0)) + int(roots.get("productDelete", 0))
    return calls, writes, int(stats["actual_cost"])


def run_benchmark(
    echo: Echo, *, products: int, variants: int, rate_limits: str, as_json: bool, log: Echo
) -> dict[str, BenchResult]:
    args = [
        "--pipeline",
        PIPELINE,
        "--account",
        ACCOUNT,
        "--products",
        str(products),
        "--variants",
        str(variants),
        "--rate-limits",
        rate_limits,
        "--erp-format",
        "csv",
    ]
    logging.getLogger("connector_pipelines").setLevel(logging.WARNING)
    results: dict[str, BenchResult] = {}
    notes: list[str] = []
    limits = ShopifyEmulatorSettings.realistic()
    with isolated_environment(), SandboxProcess(args) as sandbox:
        _register(sandbox)
        instance = dg.DagsterInstance.ephemeral()
        rows = products * variants
        log(
            f"sandbox ready: {products} products x {variants} variants in a CSV over SFTP; "
            f"rate limits {rate_limits}"
        )

        def run(name: str, mode: SyncMode) -> None:
            sandbox.post(f"/shopify/{ACCOUNT}/__sandbox/stats/reset")
            summary: RunSummary
            summary, wall, peak = measure(
                lambda: run_sync(ACCOUNT, PIPELINE, mode, instance=instance, log_level="WARNING")
            )
            if not summary.success:
                raise RuntimeError(f"{name} failed: {summary.error}")
            calls, writes, cost = _shopify_counts(sandbox)
            source_calls = int(summary.counts("erp_file_products").get("api_calls_erp_files", 0))
            convergence = sandbox.get(f"/__hub/convergence/{PIPELINE}/{ACCOUNT}/{ACCOUNT}")
            results[name] = BenchResult(
                wall_s=round(wall, 3),
                items_per_s=round(rows / wall, 1),
                peak_rss_mb=round(peak, 1),
                source_calls=source_calls,
                target_calls=calls,
                target_writes=writes,
                converged=bool(convergence["converged"]),
            )
            if rate_limits == "realistic":
                waited = float(summary.counts("shopify_products").get("rate_limit_wait_s", 0.0))
                floor_s = max(cost - limits.bucket_capacity, 0) / limits.restore_rate
                notes.append(
                    f"{name}: {cost} Shopify cost points; the bucket ({limits.bucket_capacity:.0f} points, "
                    f"{limits.restore_rate:.0f}/s) allows them in {floor_s:.1f} s at best; the run waited "
                    f"{waited:.1f} s for the bucket, {wall:.1f} s in all"
                )
            log(
                f"{name}: {wall:.2f} s, {source_calls} source calls, {calls} target calls, {writes} target "
                f"writes; {convergence['detail']}"
            )

        run("full", SyncMode.FULL)
        sandbox.post(
            f"/__hub/erp_files/{ACCOUNT}/mutate", {"op": "change_prices", "fraction": 0.01, "seed": 7}
        )
        run("delta_1pct", SyncMode.DELTA)
        run("delta_none", SyncMode.DELTA)
    report(results, as_json=as_json, echo=echo, notes=notes)
    return results
