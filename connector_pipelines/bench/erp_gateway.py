"""`connector-pipelines bench erp_gateway`: the gateway between a Logo firm and a Shopify shop (by default),
the emulators in a child process, the pipeline's runs in this one.

Runs, each with the keys of every benchmark (``BenchResult``):

* ``stock_prices_full``: the stock and price job in full mode: every SKU's stock and price read from the ERP,
  the whole shop read, and what differs written (the item cache was read before, by a config run).
* ``stock_prices_1pct``: a poll after 1 % of the items changed stock and price.
* ``stock_prices_none``: a poll with nothing changed: it writes nothing.
* ``orders``: ``--orders`` paid orders of the shop into the ERP; the first run dies right after the ERP took
  half of them (before the run heard back), the rerun finishes; both runs are timed, and the ERP must hold
  each order exactly once.
* ``webhook_stock``: one ERP item's stock changed, its ``inventory.changed`` webhook acknowledged (committed
  to the inbox, as the service does before it answers), then the inbox sensor's tick and its prioritised run,
  until the shop shows the new stock; ``p50_s`` / ``p95_s`` of that time over several webhooks. Measured in
  this process: the sensor is evaluated and its run executed at once, so a deployment adds the sensor's
  interval (15 s) and the daemon's run launch on top.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import httpx
from pydantic import Field

from connector_pipelines import config
from connector_pipelines.bench.harness import (
    BenchResult,
    Echo,
    interruptible,
    isolated_environment,
    measure,
    report,
)
from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.pipelines.erp_gateway.recipe import ErpGatewayRecipe, ErpName, ShopName
from connector_pipelines.pipelines.runs import run_tags, sync_run_config
from connector_pipelines.runner import RunSummary, dagster_instance, summarize
from connector_pipelines.sandbox.recipe import Catalog, register_tenant
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.store.service import InboxDelivery, WebhookInboxRepository
from connector_pipelines.sync.erp_gateway import PIPELINE
from connector_pipelines.sync.erp_gateway_stock import ERP_SOURCE, STOCK, STOCK_TOPIC
from connector_pipelines.sync.runtime import SyncMode

ACCOUNT = "bench"
CHANGED_FRACTION, CHANGE_SEED, ORDER_SEED = 0.01, 7, 11
WEBHOOKS = 12
GATEWAY_ORDERS = 1000  # the default of --orders for this benchmark


class GatewayBenchResult(BenchResult):
    p50_s: float | None = Field(None, description="webhook_stock: seconds from acknowledgement to the shop")
    p95_s: float | None = None


# --- the sandbox in a child process -------------------------------------------------------------------------


class GatewaySandbox:
    """This module's ``serve`` in a child process: a hub with one ERP account and one shop account."""

    def __init__(self, erp: ErpName, shop: ShopName, *, skus: int, orders: int) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="connector-bench-gateway-")
        accounts_file = Path(self._dir.name) / "accounts.json"
        command = [sys.executable, "-m", __name__, "serve", "--erp", erp, "--shop", shop]
        command += ["--skus", str(skus), "--orders", str(orders), "--accounts-file", str(accounts_file)]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox did not start (exit code {self._process.wait()})")
        self.base_url: str = json.loads(line)["base_url"]
        self.accounts: dict[str, dict[str, dict[str, str]]] = json.loads(accounts_file.read_text())
        self.http = httpx.Client(base_url=self.base_url, timeout=600)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._dir.cleanup()

    def __enter__(self) -> GatewaySandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(erp: ErpName, shop: ShopName, skus: int, orders: int, accounts_file: Path) -> None:
    """The child: the accounts, the shop's paid orders, the hub on a free port; one JSON line when ready."""
    from connector_pipelines.sandbox.hub import SandboxHub

    hub = SandboxHub()
    recipe = ErpGatewayRecipe(erp, shop)
    recipe.add_accounts(hub, ACCOUNT, Catalog(skus, 1, seed=1))
    recipe.place_orders(hub, ACCOUNT, orders, seed=ORDER_SEED)
    server = hub.serve(port=0)
    accounts_file.write_text(json.dumps(hub.accounts()))
    accounts_file.chmod(0o600)
    print(json.dumps({"base_url": server.base_url}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    hub.stop()


# --- the runs -----------------------------------------------------------------------------------------------


class _Bench:
    def __init__(
        self, recipe: ErpGatewayRecipe, sandbox: GatewaySandbox, instance: dg.DagsterInstance
    ) -> None:
        from connector_pipelines.definitions import defs

        self.recipe, self.sandbox, self.instance, self.defs = recipe, sandbox, instance, defs

    def run(self, job: str, mode: SyncMode, tags: dict[str, str] | None = None) -> RunSummary:
        """One run of a job of the pipeline; its steps' durations go to the log."""
        result = self.defs.resolve_job_def(f"{PIPELINE}_{job}").execute_in_process(
            instance=self.instance,
            partition_key=ACCOUNT,
            run_config={
                **sync_run_config(mode),
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
            tags=tags or run_tags(ACCOUNT, mode.value, "bench"),
            raise_on_error=False,
        )
        summary = summarize(result)
        if not summary.success:
            raise RuntimeError(f"{job} ({mode.value}) failed: {summary.error}")
        return summary

    def reset_stats(self) -> None:
        for system in self.recipe.emulated:
            self.sandbox.post(f"/{system}/{ACCOUNT}/__sandbox/stats/reset")

    def converged(self) -> bool:
        return bool(self.sandbox.get(f"/__hub/{PIPELINE}/{ACCOUNT}/convergence")["converged"])

    def erp_orders(self) -> int:
        return int(self.sandbox.get(f"/{self.recipe.erp}/{ACCOUNT}/__sandbox/state")["orders"])


def _stock_prices(bench: _Bench, mode: SyncMode, items: int) -> GatewayBenchResult:
    bench.reset_stats()
    summary, wall, peak = measure(functools.partial(interruptible, lambda: bench.run("stock_prices", mode)))
    figures = bench.recipe.bench_counts(bench.sandbox.get, ACCOUNT, summary.counts)
    published = sum(
        int(summary.counts(asset).get(k, 0))
        for asset in ("shop_stock", "shop_prices")
        for k in ("created", "updated", "deleted")
    )
    return GatewayBenchResult(
        wall_s=round(wall, 3),
        items_per_s=round(items / wall, 1),
        peak_rss_mb=round(peak, 1),
        source_calls=figures.source_calls,
        target_calls=figures.target_calls,
        target_writes=figures.target_writes,
        target_calls_per_product=round(figures.target_calls / published, 2) if published else 0.0,
        converged=bench.converged(),
    )


def _orders(bench: _Bench, count: int) -> tuple[GatewayBenchResult, str]:
    """Two runs: the first dies after the ERP took half the orders, the second finishes."""
    from connector_pipelines.sources.erp_gateway.logo import LogoConnector
    from connector_pipelines.sources.erp_gateway.netsis import NetsisConnector

    connector = LogoConnector if bench.recipe.erp == "logo" else NetsisConnector
    posted = connector.post_order
    taken = 0

    def killed_half_way(desk: Any, order: Any) -> Any:
        nonlocal taken
        ref = posted(desk, order)
        taken += 1
        if taken == max(1, count // 2):
            raise RuntimeError("killed: the ERP took the order, the run never heard back")
        return ref

    def both() -> RunSummary:
        setattr(connector, "post_order", killed_half_way)  # noqa: B010 - the kill point, undone below
        try:
            bench.run("orders", SyncMode.DELTA)
        except RuntimeError as died:
            if "killed" not in str(died):
                raise
        finally:
            setattr(connector, "post_order", posted)  # noqa: B010
        return bench.run("orders", SyncMode.DELTA)

    bench.reset_stats()
    summary, wall, peak = measure(functools.partial(interruptible, both))
    counts = summary.counts("orders_to_erp")
    in_erp = bench.erp_orders()
    shop_calls = int(counts.get(f"api_calls_{bench.recipe.shop}", 0))
    erp_calls = int(counts.get(f"api_calls_{bench.recipe.erp}", 0))
    result = GatewayBenchResult(
        wall_s=round(wall, 3),
        items_per_s=round(count / wall, 1),
        peak_rss_mb=round(peak, 1),
        source_calls=shop_calls,
        target_calls=erp_calls,
        target_writes=int(counts.get("created", 0)) + taken,
        target_calls_per_product=round(erp_calls / count, 2) if count else 0.0,
        converged=in_erp == count,
    )
    note = (
        f"orders: the first run died after the ERP took {taken} orders; the rerun created "
        f"{counts.get('created', 0)}, found {counts.get('found_in_erp', 0)} already there, skipped "
        f"{counts.get('unchanged', 0)} on record; the ERP holds {in_erp} orders of {count} (each once: "
        f"{'yes' if in_erp == count else 'NO'}). Shop and ERP calls are the rerun's."
    )
    return result, note


def _webhook_stock(bench: _Bench, registry_db: Any, skus: int) -> GatewayBenchResult:
    from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun

    sensor = bench.defs.resolve_sensor_def(f"{PIPELINE}_erp_webhooks")
    resources = {"connector_db": ConnectorDatabase(), "sync_run": SyncRun(mode="delta")}
    tenant_id = tenant_registry(registry_db).tenant_id(ACCOUNT)
    store = TenantStore(registry_db, ACCOUNT, PIPELINE)
    latencies: list[float] = []
    bench.reset_stats()

    def one(n: int) -> None:
        changed = bench.sandbox.post(
            f"/__hub/{PIPELINE}/{ACCOUNT}/change", {"fraction": 1 / skus, "seed": 1000 + n}
        )["changed"]
        acknowledged = time.perf_counter()
        now = datetime.now(UTC)
        payload = {"event": STOCK_TOPIC, "id": f"bench-{n}", "skus": changed}
        delivery = InboxDelivery(
            tenant_id, ERP_SOURCE, STOCK_TOPIC, f"bench-{n}-{now.timestamp()}", None, now, payload, now
        )
        with registry_db.engine.begin() as connection:
            WebhookInboxRepository.insert(connection, [delivery])
        context = dg.build_sensor_context(
            instance=bench.instance,
            instance_ref=bench.instance.get_ref(),
            resources=resources,
            definitions=bench.defs,
        )
        for request in sensor.evaluate_tick(context).run_requests or []:
            bench.run("stock_prices", SyncMode.WEBHOOK, dict(request.tags))
        wanted = {r.key: int(r.payload["available"]) for r in store.iter_records(STOCK, keys=changed)}
        if _shop_stock(bench, list(wanted)) != wanted:
            raise RuntimeError(f"webhook {n}: the shop does not show the ERP's stock of {sorted(wanted)}")
        latencies.append(time.perf_counter() - acknowledged)

    _, wall, peak = measure(functools.partial(interruptible, lambda: _each(one, WEBHOOKS)))
    figures = bench.recipe.bench_counts(bench.sandbox.get, ACCOUNT, lambda asset: {})
    ordered = sorted(latencies)
    return GatewayBenchResult(
        wall_s=round(wall, 3),
        items_per_s=round(WEBHOOKS / wall, 2),
        peak_rss_mb=round(peak, 1),
        source_calls=figures.source_calls,
        target_calls=figures.target_calls,
        target_writes=figures.target_writes,
        target_calls_per_product=round(figures.target_calls / WEBHOOKS, 2),
        converged=True,  # each webhook's stock was read back from the shop (prices wait for the poll)
        p50_s=round(statistics.median(ordered), 3),
        p95_s=round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 3),
    )


def _each(step: Callable[[int], None], times: int) -> None:
    for n in range(times):
        step(n)


def _shop_stock(bench: _Bench, skus: list[str]) -> dict[str, int]:
    """The shop's stock of these SKUs, read through the shop's API as any client would."""
    from connector_pipelines.tenants.connections import SHOPIFY, SHOPWARE6

    registry = tenant_registry()
    if bench.recipe.shop == "shopify":
        from connector_pipelines.targets.shopify_stock import ShopifyStock

        with registry.connect(ACCOUNT, SHOPIFY) as shopify:
            listing = ShopifyStock(shopify).current_stock_and_prices(skus)
    else:
        from connector_pipelines.targets.shopware6_stock import Shopware6Stock

        with registry.connect(ACCOUNT, SHOPWARE6) as shopware:
            listing = Shopware6Stock(shopware).current_stock_and_prices(skus)
    return {sku: found.available for sku, found in listing.items() if found.available is not None}


def run_gateway_benchmark(
    echo: Echo,
    *,
    skus: int,
    orders: int,
    as_json: bool,
    log: Echo,
    database_url: str | None = None,
    erp: ErpName = "logo",
    shop: ShopName = "shopify",
) -> dict[str, GatewayBenchResult]:
    recipe = ErpGatewayRecipe(erp, shop)
    logging.getLogger("connector_pipelines").setLevel(logging.WARNING)
    results: dict[str, GatewayBenchResult] = {}
    notes: list[str] = []
    with (
        isolated_environment(database_url) as home,
        GatewaySandbox(erp, shop, skus=skus, orders=orders) as sandbox,
    ):
        registry = tenant_registry()
        register_tenant(registry, recipe, sandbox.accounts, ACCOUNT, name="Benchmark")
        registry.db.dispose()
        instance = dagster_instance(home / "dagster")
        instance.add_dynamic_partitions(PIPELINE, [ACCOUNT])
        bench = _Bench(recipe, sandbox, instance)
        log(
            f"sandbox ready: {recipe.describe(sandbox.accounts, ACCOUNT)} -> {shop}, {skus} SKUs, {orders} "
            f"paid orders; connector database {config.database_location()}"
        )
        _, items_s, _ = measure(lambda: bench.run("config", SyncMode.CONFIG))
        log(f"item cache (config run, not timed below): {items_s:.2f} s")
        results["stock_prices_full"] = _stock_prices(bench, SyncMode.FULL, skus)
        sandbox.post(
            f"/__hub/{PIPELINE}/{ACCOUNT}/change", {"fraction": CHANGED_FRACTION, "seed": CHANGE_SEED}
        )
        results["stock_prices_1pct"] = _stock_prices(bench, SyncMode.DELTA, skus)
        results["stock_prices_none"] = _stock_prices(bench, SyncMode.DELTA, skus)
        results["orders"], note = _orders(bench, orders)
        notes.append(note)
        results["webhook_stock"] = _webhook_stock(bench, registry.db, skus)
        notes.append(
            f"webhook_stock: {WEBHOOKS} webhooks one after another; p50 {results['webhook_stock'].p50_s} s, "
            f"p95 {results['webhook_stock'].p95_s} s from the inbox commit to the shop showing the stock, "
            "with the inbox sensor evaluated and its run executed in this process (no daemon: a deployment "
            "adds the sensor interval and the run launch)"
        )
        for name, result in results.items():
            log(f"{name}: {result.wall_s:.2f} s, {result.target_writes} writes, converged {result.converged}")
        instance.dispose()
    # The table shows the keys every benchmark has (the webhook percentiles are in the notes); JSON shows all.
    common = set(BenchResult.model_fields)
    shown: dict[str, BenchResult] = {
        name: r if as_json else BenchResult.model_validate(r.model_dump(include=common))
        for name, r in results.items()
    }
    report(shown, as_json=as_json, echo=echo, notes=notes)
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="the benchmark's sandbox (started by the benchmark)")
    serving.add_argument("--erp", choices=["logo", "netsis", "erp_csv"], default="logo")
    serving.add_argument("--shop", choices=["shopify", "shopware6"], default="shopify")
    serving.add_argument("--skus", type=int, required=True)
    serving.add_argument("--orders", type=int, required=True)
    serving.add_argument("--accounts-file", type=Path, required=True)
    args = parser.parse_args(argv)
    erp: Literal["logo", "netsis", "erp_csv"] = args.erp
    shop: Literal["shopify", "shopware6"] = args.shop
    serve(erp, shop, args.skus, args.orders, args.accounts_file)


if __name__ == "__main__":
    main(sys.argv[1:])
