"""`connector-pipelines bench erp_gateway`: the gateway between a Logo firm and a Shopify shop (by default),
the emulators in a child process, the pipeline's runs in this one (``webhook_stock``: in the daemon's).

Runs, each with the keys of every benchmark (``BenchResult``):

* ``stock_prices_full``: the stock and price job in full mode: every SKU's stock and price read from the ERP,
  the whole shop read, and what differs written (the item cache was read before, by a config run).
* ``stock_prices_1pct``: a poll after 1 % of the items changed stock and price.
* ``stock_prices_none``: a poll with nothing changed: it writes nothing.
* ``orders``: ``--orders`` paid orders of the shop into the ERP; the first run dies right after the ERP took
  half of them (before the run heard back), the rerun finishes; both runs are timed, and the ERP must hold
  each order exactly once.
* ``webhook_stock``: the fast path as deployed: ``dagster-daemon run`` on the benchmark's own instance (SQLite
  in its throwaway home; Dagster's queued run coordinator and default run launcher, so each run is a fresh
  worker process), loading ``connector_pipelines.definitions`` with the inbox sensor
  ``erp_gateway_erp_webhooks`` on at its deployment interval (``InboxSpec.interval_s``, 15 s) and every other
  schedule and sensor off (the stock poll would deliver the same change). For each of a few webhooks: one
  ERP item's stock changed, its ``inventory.changed`` delivery committed to the inbox (the service answers
  2xx after that commit), then the shop polled through its API until it shows the ERP's new stock;
  ``p50_s`` / ``p95_s`` of that time: the sensor's wait for its next tick, the run queue, the run worker's
  start and the run itself. The run is left to finish before the next webhook. The runs' calls are counted
  (the benchmark's own reads of the ERP and the shop left out); the peak RSS is this process's.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import math
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from connector_pipelines import config
from connector_pipelines.bench.daemon import running_daemon
from connector_pipelines.bench.harness import (
    BenchResult,
    Echo,
    SandboxProcess,
    interruptible,
    isolated_environment,
    measure,
    report,
)
from connector_pipelines.bench.processes import wait_for
from connector_pipelines.clients.http import ApiClient
from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.pipelines.erp_gateway.recipe import ErpGatewayRecipe, ErpName, ShopName
from connector_pipelines.pipelines.runs import run_tags, sync_run_config
from connector_pipelines.runner import RunSummary, dagster_instance, summarize
from connector_pipelines.sandbox.recipe import Catalog, register_tenant
from connector_pipelines.sources.erp_gateway.connector import ErpRowError
from connector_pipelines.store.service import InboxDelivery, WebhookInboxRepository
from connector_pipelines.sync.erp_gateway import PIPELINE
from connector_pipelines.sync.erp_gateway_stock import ERP_SOURCE, STOCK_TOPIC, StockRecord
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry

ACCOUNT = "bench"
CHANGED_FRACTION, CHANGE_SEED, ORDER_SEED = 0.01, 7, 11
SENSOR = f"{PIPELINE}_erp_webhooks"  # the inbox sensor of the pipeline's spec (InboxSpec "erp_webhooks")
# Each webhook waits up to the sensor's interval (15 s, checked by the daemon every 5 s) plus a run worker's
# start and its run: eight keep the run near three minutes.
WEBHOOKS = 8
# Far above the 45 s target: a lost webhook fails with the daemon's log instead of hanging.
WEBHOOK_TIMEOUT_S = 180.0
POLL_S = 0.25  # the shop's API is polled this often: the resolution of the latencies
ERP_CLOCK_SLACK = timedelta(minutes=1)  # the ERP's change filter is read from a little before the change
GATEWAY_ORDERS = 1000  # the default of --orders for this benchmark


class GatewayBenchResult(BenchResult):
    p50_s: float | None = Field(None, description="webhook_stock: seconds from acknowledgement to the shop")
    p95_s: float | None = None


# --- the sandbox in a child process -------------------------------------------------------------------------


def serve(erp: ErpName, shop: ShopName, skus: int, orders: int, accounts_file: Path) -> None:
    """The child (a ``SandboxProcess``): the accounts, the shop's paid orders, the hub on a free port; one
    JSON line when ready."""
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
        self, recipe: ErpGatewayRecipe, sandbox: SandboxProcess, instance: dg.DagsterInstance
    ) -> None:
        from connector_pipelines.definitions import defs

        self.recipe, self.sandbox, self.instance, self.defs = recipe, sandbox, instance, defs

    def run(self, job: str, mode: SyncMode) -> RunSummary:
        """One run of a job of the pipeline; its steps' durations go to the log."""
        result = self.defs.resolve_job_def(f"{PIPELINE}_{job}").execute_in_process(
            instance=self.instance,
            partition_key=ACCOUNT,
            run_config={
                **sync_run_config(mode),
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
            tags=run_tags(ACCOUNT, mode.value, "bench"),
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


class _ApiReads:
    """The benchmark's own reads through the ERP's and the shop's APIs, as any client of theirs would: the
    stock a webhook's SKUs have in the ERP, and what the shop shows of them. Their calls are counted so that
    the emulators' figures can be left with the runs' calls alone."""

    def __init__(
        self, registry: TenantRegistry, recipe: ErpGatewayRecipe, stack: contextlib.ExitStack
    ) -> None:
        from connector_pipelines.targets.shopify_stock import ShopifyStock
        from connector_pipelines.targets.shopware6_stock import Shopware6Stock
        from connector_pipelines.tenants.connections import SHOPIFY, SHOPWARE6

        self.registry, self.erp = registry, recipe.erp
        self.erp_calls = 0
        # One shop client for every poll: a client per poll would add its token requests to the figures.
        if recipe.shop == "shopify":
            shopify = stack.enter_context(registry.connect(ACCOUNT, SHOPIFY))
            self.shop_client: ApiClient = shopify
            self._shop: ShopifyStock | Shopware6Stock = ShopifyStock(shopify)
        else:
            shopware = stack.enter_context(registry.connect(ACCOUNT, SHOPWARE6))
            self.shop_client = shopware
            self._shop = Shopware6Stock(shopware)

    def shop_stock(self, skus: list[str]) -> dict[str, int]:
        listing = self._shop.current_stock_and_prices(skus)
        return {sku: found.available for sku, found in listing.items() if found.available is not None}

    def erp_stock(self, skus: list[str], since: datetime) -> dict[str, int]:
        """What the shop should show of these SKUs: their ERP stock as the pipeline reads it (changed since
        ``since``, else whole where the ERP's change filter missed them). A connector of its own each time:
        a Netsis session held across the run would take the licence seat the run needs."""
        from connector_pipelines.sources.erp_gateway.registry import erp_system, open_connector

        settings = self.registry.settings(ACCOUNT, self.erp, erp_system(self.erp).settings)
        wanted: dict[str, int] = {}
        with open_connector(self.registry, ACCOUNT, self.erp) as connector:
            for read_since in (since, None):
                for level in connector.stock(settings.warehouse_code, read_since):
                    if not isinstance(level, ErpRowError) and level.sku in skus:
                        wanted[level.sku] = StockRecord.of(level).available
                if len(wanted) == len(set(skus)):
                    break
            client = getattr(connector, "client", None)
            self.erp_calls += client.stats.calls if isinstance(client, ApiClient) else 0
        if missing := sorted(set(skus) - set(wanted)):
            raise RuntimeError(f"the ERP has no stock of {missing}")
        return wanted


def _webhook_stock(
    bench: _Bench, registry_db: Any, dagster_home: Path, skus: int, webhooks: int, log: Echo
) -> tuple[GatewayBenchResult, str]:
    """Each webhook: one item's stock changed in the ERP, its delivery committed to the inbox, then the shop
    polled through its API until it shows the new stock, and the run left to finish before the next one."""
    interval_s = bench.defs.resolve_sensor_def(SENSOR).minimum_interval_seconds
    tenant_id = tenant_registry(registry_db).tenant_id(ACCOUNT)
    latencies: list[float] = []
    requested: list[float] = []  # from the acknowledgement to the sensor's run request
    started: list[float] = []  # to the run worker's start: the request, the queue and the worker's start-up
    with contextlib.ExitStack() as stack:
        reads = _ApiReads(tenant_registry(registry_db), bench.recipe, stack)
        daemon = stack.enter_context(running_daemon(dagster_home, bench.instance, SENSOR))
        bench.reset_stats()

        def one(n: int) -> None:
            since = datetime.now(UTC) - ERP_CLOCK_SLACK
            changed = bench.sandbox.post(
                f"/__hub/{PIPELINE}/{ACCOUNT}/change", {"fraction": 1 / skus, "seed": 1000 + n}
            )["changed"]
            wanted = reads.erp_stock(changed, since)
            now = datetime.now(UTC)
            payload = {"event": STOCK_TOPIC, "id": f"bench-{n}", "skus": changed}
            delivery = InboxDelivery(
                tenant_id, ERP_SOURCE, STOCK_TOPIC, f"bench-{n}-{now.timestamp()}", None, now, payload, now
            )
            requested_after = time.time()
            with registry_db.engine.begin() as connection:
                WebhookInboxRepository.insert(connection, [delivery])
            # The service answers 2xx once this commit returns.
            acknowledged, acknowledged_at = time.perf_counter(), time.time()

            def shop_shows_it() -> bool | None:
                if failed := daemon.failed_since(requested_after):
                    raise RuntimeError(f"webhook {n}: {failed}")
                return True if reads.shop_stock(list(wanted)) == wanted else None

            what = f"webhook {n}: the shop to show the ERP's stock {wanted}"
            try:
                wait_for(
                    shop_shows_it,
                    timeout_s=WEBHOOK_TIMEOUT_S,
                    what=what,
                    services=[daemon.service],
                    interval_s=POLL_S,
                )
            except TimeoutError as exc:
                runs = [
                    f"{r.dagster_run.run_id} {r.dagster_run.status.value}"
                    for r in daemon.runs_since(requested_after)
                ]
                raise RuntimeError(f"{exc}; runs since: {runs or 'none'}\n{daemon.service.tail()}") from None
            latencies.append(time.perf_counter() - acknowledged)
            # The next webhook starts on a quiet tenant: its run cannot queue behind this one's.
            first = wait_for(
                lambda: daemon.settled_since(requested_after),
                timeout_s=WEBHOOK_TIMEOUT_S,
                what=f"webhook {n}'s run to finish",
                services=[daemon.service],
                interval_s=POLL_S,
            )[0]
            requested.append(first.create_timestamp.timestamp() - acknowledged_at)
            started.append((first.start_time or acknowledged_at) - acknowledged_at)
            log(
                f"webhook {n}: the shop showed the stock after {latencies[-1]:.1f} s (run requested after "
                f"{requested[-1]:.1f} s, started after {started[-1]:.1f} s)"
            )

        def all_webhooks() -> None:
            for n in range(webhooks):
                one(n)

        _, wall, peak = measure(all_webhooks)
    figures = bench.recipe.bench_counts(bench.sandbox.get, ACCOUNT, lambda asset: {})
    target_calls = figures.target_calls - reads.shop_client.stats.calls
    ordered = sorted(latencies)
    result = GatewayBenchResult(
        wall_s=round(wall, 3),
        items_per_s=round(webhooks / wall, 2),
        peak_rss_mb=round(peak, 1),
        source_calls=figures.source_calls - reads.erp_calls,
        target_calls=target_calls,
        target_writes=figures.target_writes,
        target_calls_per_product=round(target_calls / webhooks, 2),
        converged=True,  # each webhook's stock was read back from the shop (prices wait for the poll)
        p50_s=round(statistics.median(ordered), 3),
        p95_s=round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 3),
    )
    note = (
        f"webhook_stock: {webhooks} webhooks one after another through `dagster-daemon run` (the bench's "
        "SQLite instance, Dagster's queued run coordinator and default launcher; the inbox sensor alone on, "
        f"at the deployment's {interval_s} s interval); p50 {result.p50_s} s, p95 {result.p95_s} s (of "
        f"{webhooks}: the slowest) from the inbox commit to the shop showing the stock, polled through the "
        f"shop's API every {POLL_S} s; of that, p50 {statistics.median(requested):.1f} s until the sensor "
        f"requested the run and p50 {statistics.median(started):.1f} s until its worker started. Calls are "
        "the runs' (the bench's own reads left out); peak RSS is the polling process's, the runs are the "
        "daemon's run workers."
    )
    return result, note


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
    webhooks: int = WEBHOOKS,
) -> dict[str, GatewayBenchResult]:
    recipe = ErpGatewayRecipe(erp, shop)
    logging.getLogger("connector_pipelines").setLevel(logging.WARNING)
    results: dict[str, GatewayBenchResult] = {}
    notes: list[str] = []
    with (
        isolated_environment(database_url) as home,
        SandboxProcess(
            ["--erp", erp, "--shop", shop, "--skus", str(skus), "--orders", str(orders)],
            command=(sys.executable, "-m", __name__, "serve"),
        ) as sandbox,
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
        # In the run's own thread as every run here: Dagster's run in the main thread would leave SIGTERM
        # mapped to SIGINT's handler, which is "ignore" in a job started in the background.
        config_run = functools.partial(bench.run, "config", SyncMode.CONFIG)
        _, items_s, _ = measure(functools.partial(interruptible, config_run))
        log(f"item cache (config run, not timed below): {items_s:.2f} s")
        results["stock_prices_full"] = _stock_prices(bench, SyncMode.FULL, skus)
        sandbox.post(
            f"/__hub/{PIPELINE}/{ACCOUNT}/change", {"fraction": CHANGED_FRACTION, "seed": CHANGE_SEED}
        )
        results["stock_prices_1pct"] = _stock_prices(bench, SyncMode.DELTA, skus)
        results["stock_prices_none"] = _stock_prices(bench, SyncMode.DELTA, skus)
        results["orders"], note = _orders(bench, orders)
        notes.append(note)
        results["webhook_stock"], note = _webhook_stock(
            bench, registry.db, home / "dagster", skus, webhooks, log
        )
        notes.append(note)
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
