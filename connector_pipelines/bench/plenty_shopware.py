"""`connector-pipelines bench plenty_shopware`: full, 1 % delta and zero-change delta on a sandbox catalog."""

from __future__ import annotations

import logging
import math

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
from connector_pipelines.sandbox.plentymarkets import PlentySettings
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.registry import TenantRegistry

ACCOUNT = "bench"
PIPELINE = "plenty_shopware"


def _register(sandbox: SandboxProcess) -> None:
    plenty = sandbox.accounts["plentymarkets"][ACCOUNT]
    shopware = sandbox.accounts["shopware6"][ACCOUNT]
    registry = TenantRegistry(Database())
    registry.add(
        ACCOUNT,
        "Benchmark",
        [PIPELINE],
        {"plentymarkets": {"base_url": plenty["base_url"]}, "shopware6": {"base_url": shopware["base_url"]}},
    )
    registry.set_credentials(
        ACCOUNT, "plentymarkets", {"username": plenty["username"], "password": plenty["password"]}
    )
    registry.set_credentials(
        ACCOUNT, "shopware6", {"client_id": shopware["client_id"], "client_secret": shopware["client_secret"]}
    )


def _counts(sandbox: SandboxProcess) -> tuple[int, int, int, int]:
    """(source calls, source cost units, target calls, target records written or deleted)."""
    plenty = sandbox.get(f"/plentymarkets/{ACCOUNT}/__sandbox/stats")
    shopware = sandbox.get(f"/shopware6/{ACCOUNT}/__sandbox/stats")
    calls = int(plenty["total"])
    # Variation pages cost two units of Plenty's short window under realistic limits.
    units = calls + sum(
        n for route, n in plenty["requests"].items() if route.endswith("/rest/items/variations")
    )
    writes = sum(shopware["records_written"].values()) + sum(shopware["records_deleted"].values())
    return calls, units, sum(shopware["calls"].values()), writes


def _reset(sandbox: SandboxProcess) -> None:
    sandbox.post(f"/plentymarkets/{ACCOUNT}/__sandbox/stats/reset")
    sandbox.post(f"/shopware6/{ACCOUNT}/__sandbox/stats/reset")


def run_benchmark(
    echo: Echo, *, products: int, variants: int, rate_limits: str, as_json: bool, log: Echo
) -> dict[str, BenchResult]:
    args = [
        "--account",
        ACCOUNT,
        "--products",
        str(products),
        "--variants",
        str(variants),
        "--rate-limits",
        rate_limits,
    ]
    logging.getLogger("connector_pipelines").setLevel(logging.WARNING)
    results: dict[str, BenchResult] = {}
    notes: list[str] = []
    with isolated_environment(), SandboxProcess(args) as sandbox:
        _register(sandbox)
        instance = dg.DagsterInstance.ephemeral()
        variations = int(sandbox.get(f"/plentymarkets/{ACCOUNT}/__sandbox/state")["catalog"]["variations"])
        log(f"sandbox ready: {products} products, {variations} variations; rate limits {rate_limits}")

        def run(name: str, mode: SyncMode) -> None:
            _reset(sandbox)
            summary: RunSummary
            summary, wall, peak = measure(
                lambda: run_sync(ACCOUNT, PIPELINE, mode, instance=instance, log_level="WARNING")
            )
            if not summary.success:
                raise RuntimeError(f"{name} failed: {summary.error}")
            calls, units, target_calls, writes = _counts(sandbox)
            converged = bool(sandbox.get(f"/__hub/convergence/{ACCOUNT}/{ACCOUNT}")["converged"])
            results[name] = BenchResult(
                wall_s=round(wall, 3),
                items_per_s=round(variations / wall, 1),
                peak_rss_mb=round(peak, 1),
                source_calls=calls,
                target_calls=target_calls,
                target_writes=writes,
                converged=converged,
            )
            if rate_limits == "realistic":
                limits = PlentySettings.realistic()
                window = limits.short_window
                floor_s = math.floor(max(units - 1, 0) / window.limit) * window.period_s
                if floor_s:
                    # The read is what the window limits; the publication to Shopware follows it.
                    read_s = float(summary.counts("plenty_products").get("duration_s") or 0.0)
                    notes.append(
                        f"{name}: {units} Plenty cost units; the short window ({window.limit} per "
                        f"{window.period_s:.0f} s) allows them in {floor_s:.0f} s at best; "
                        f"measured {wall:.1f} s = {wall / floor_s:.2f} x for the run, of which the "
                        f"products read {read_s:.1f} s = {read_s / floor_s:.2f} x"
                    )
                else:
                    notes.append(f"{name}: {units} Plenty cost units fit in one window: no wait is needed")
            log(f"{name}: {wall:.2f} s, {calls} source calls, {writes} target writes, converged={converged}")

        run("full", SyncMode.FULL)
        sandbox.post(
            f"/plentymarkets/{ACCOUNT}/__sandbox/mutate", {"op": "change_random", "fraction": 0.01, "seed": 7}
        )
        run("delta_1pct", SyncMode.DELTA)
        run("delta_none", SyncMode.DELTA)
    report(results, as_json=as_json, echo=echo, notes=notes)
    return results
