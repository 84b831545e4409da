"""shopify_ingestion through Dagster against the sandbox's shop: backfill, incremental (pages or a filtered
bulk export), a date range, a dry run, skip_existing, deletions (destroy events, and absence from a full
read), a run killed while Shopify ran its exports, THROTTLED and 429 storms, and a master key rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from connector_pipelines.cli import main
from connector_pipelines.clients.shopify_export import ExportObject, ShopifyExportClient
from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.pipelines.shopify_ingestion.recipe import LINES_PER_ORDER
from connector_pipelines.runner import RunSummary, run_sync
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.sandbox.shopify import ShopifySettings as EmulatorSettings
from connector_pipelines.sync.runtime import ReadWindow, SyncMode
from connector_pipelines.sync.shopify_ingestion import ObjectCursor, ingestion_repository
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant, sandbox_tenant

PIPELINE = "shopify_ingestion"
PRODUCTS, VARIANTS = 8, 3
STEPS = ("shopify_customers", "shopify_products", "shopify_orders")


def _shop(
    hub: SandboxHub, registry: TenantRegistry, *, emulator: EmulatorSettings | None = None, **target: Any
) -> SandboxTenant:
    catalog = Catalog(PRODUCTS, VARIANTS, seed=3)
    return sandbox_tenant(hub, registry, PIPELINE, catalog=catalog, target=target, target_emulator=emulator)


@pytest.fixture
def shop(hub: SandboxHub, sqlite_registry: TenantRegistry) -> SandboxTenant:
    """40 customers, 80 orders of 3 lines and 8 products of 3 variants, in the tenant's own shop."""
    return _shop(hub, sqlite_registry)


def _emulator(tenant: SandboxTenant) -> ShopifyEmulator:
    return tenant.hub.shopify[tenant.slug].emulator


def _ok(summary: RunSummary) -> RunSummary:
    assert summary.success, summary.error
    return summary


def _run(tenant: SandboxTenant, mode: SyncMode, **options: Any) -> RunSummary:
    return _ok(run_sync(tenant.slug, PIPELINE, mode, instance=tenant.instance, **options))


def _converged(tenant: SandboxTenant) -> None:
    report = tenant.convergence()
    assert report.converged, report.describe()


def _written(summary: RunSummary, step: str) -> dict[str, int]:
    counts = summary.counts(step)
    return {k: int(counts.get(k, 0)) for k in ("created", "updated", "deleted", "failed")}


def test_a_backfill_fills_every_table_and_shows_the_daily_sales(shop: SandboxTenant) -> None:
    full = _run(shop, SyncMode.FULL)
    assert _written(full, "shopify_customers")["created"] == PRODUCTS * 5
    assert _written(full, "shopify_products")["created"] == PRODUCTS
    orders = full.counts("shopify_orders")
    assert orders["created"] == PRODUCTS * 10 and orders["child_rows"] == PRODUCTS * 10 * LINES_PER_ORDER
    assert all(full.counts(step)["read"] == "bulk" for step in STEPS)
    assert all(full.checks.values()), full.checks
    assert {"shopify_orders:every_order_has_lines", "shopify_products:matches_shopify_count"} <= set(
        full.checks
    )
    sales = full.counts("shopify_daily_sales")
    assert sales["recomputed"] and sales["orders"] > 0
    assert str(sales["preview"]).startswith("| day | currency | orders | revenue | average_order_value")
    assert sum(int(t["orders"]) for t in sales["totals"].values()) == sales["orders"]
    _converged(shop)
    repo = ingestion_repository()
    assert all(ObjectCursor.of(repo, shop.slug, obj).pending is None for obj in ("customers", "orders"))

    again = _run(shop, SyncMode.DELTA)
    assert not again.counts("shopify_daily_sales")["recomputed"], "no order changed: the figures stand"


def test_an_incremental_reads_what_changed_through_pages_or_a_bulk_export(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    paged = _shop(hub, sqlite_registry)
    _run(paged, SyncMode.FULL)
    changed = _emulator(paged).change_sample("orders", 0.25, seed=4)
    delta = _run(paged, SyncMode.DELTA)
    assert delta.counts("shopify_orders")["read"] == "pages"
    assert _written(delta, "shopify_orders") == {
        "created": 0,
        "updated": len(changed),
        "deleted": 0,
        "failed": 0,
    }
    assert delta.counts("shopify_customers")["read"] == "none", "nothing changed: nothing read"
    _converged(paged)

    sqlite_registry.update(paged.slug, settings={"shopify": {"bulk_threshold": 5}})
    changed = _emulator(paged).change_sample("customers", 0.5, seed=5)
    delta = _run(paged, SyncMode.DELTA)
    assert delta.counts("shopify_customers")["read"] == "bulk"
    assert _written(delta, "shopify_customers")["updated"] == len(changed)
    _converged(paged)


def _customer_without_orders(emulator: ShopifyEmulator) -> int:
    """Shopify deletes only customers without orders."""
    state = emulator.shop()
    ordered = {o.customer.id for o in state.commerce.orders.values() if o.customer is not None}
    return min(set(state.commerce.customers) - ordered)


def _midpoint(emulator: ShopifyEmulator) -> datetime:
    stamps = sorted(int(o.updated_at) for o in emulator.shop().commerce.orders.values())
    return datetime.fromtimestamp(stamps[len(stamps) // 2], UTC)


def test_a_date_range_backfills_only_the_records_updated_in_it(shop: SandboxTenant) -> None:
    emulator = _emulator(shop)
    since = _midpoint(emulator)
    wanted = {o.id for o in emulator.shop().commerce.orders.values() if o.updated_at >= since.timestamp()}
    ranged = _run(shop, SyncMode.FULL, window=ReadWindow(since=since))
    assert ranged.counts("shopify_orders")["read_scope"] == f"updated from {since.isoformat()}"
    repo = ingestion_repository()
    assert set(repo.iter_ids(shop.slug, "orders")) == wanted
    assert ObjectCursor.of(repo, shop.slug, "orders").since is None, "a range is not a complete read"
    _run(shop, SyncMode.DELTA)  # without a cursor: everything
    _converged(shop)


def test_a_dry_run_writes_nothing_and_leaves_the_work_to_the_next_run(shop: SandboxTenant) -> None:
    _run(shop, SyncMode.FULL)
    emulator = _emulator(shop)
    changed = emulator.change_sample("products", 0.5, seed=6)
    first = _customer_without_orders(emulator)
    emulator.delete_customer(f"gid://shopify/Customer/{first}")
    before = shop.recipe.target_state(shop.hub, shop.slug)

    plan = _run(shop, SyncMode.PLAN)
    assert shop.recipe.target_state(shop.hub, shop.slug) == before, "a dry run writes nothing"
    products = plan.counts("shopify_products")
    assert products["write_mode"] == "dry_run" and products["updated"] == len(changed)
    assert {e["action"] for e in products["plan"]} == {"update"}
    assert plan.counts("shopify_customers")["plan"] == [
        {"key": f"shopify:customer:{first}", "action": "delete"}
    ]
    assert not shop.convergence().converged

    delta = _run(shop, SyncMode.DELTA)
    assert _written(delta, "shopify_products")["updated"] == len(changed)
    assert _written(delta, "shopify_customers")["deleted"] == 1
    _converged(shop)


def test_skip_existing_writes_only_what_the_tables_do_not_hold(shop: SandboxTenant) -> None:
    _run(shop, SyncMode.FULL)
    emulator = _emulator(shop)
    emulator.change_sample("products", 0.5, seed=7)
    added = shop.recipe.add_one(shop.hub, shop.slug, seed=8, variants=2)
    skipping = _run(shop, SyncMode.FULL, skip_existing=True)
    products = skipping.counts("shopify_products")
    assert (products["created"], products["updated"], products["skipped_existing"]) == (1, 0, PRODUCTS)
    report = shop.convergence()
    assert not report.missing and report.mismatched, "existing products were left as they were"
    assert added.startswith("product gid://shopify/Product/")
    _run(shop, SyncMode.DELTA)
    _converged(shop)


def test_deletions_come_from_destroy_events_and_from_a_full_read(shop: SandboxTenant) -> None:
    _run(shop, SyncMode.FULL)
    emulator = _emulator(shop)
    state = emulator.shop()
    customer, order = _customer_without_orders(emulator), min(state.commerce.orders)
    emulator.delete_customer(f"gid://shopify/Customer/{customer}")
    emulator.delete_order(f"gid://shopify/Order/{order}")
    delta = _run(shop, SyncMode.DELTA)
    assert _written(delta, "shopify_customers")["deleted"] == 1
    assert _written(delta, "shopify_orders")["deleted"] == 1
    _converged(shop)
    assert ingestion_repository().count(shop.slug, "orders", include_deleted=True) == PRODUCTS * 10

    # Gone without an event (as after events expired): only a full read sees it.
    with state.lock:
        vanished = max(state.commerce.orders)
        del state.commerce.orders[vanished]
        state.commerce.touch()
    assert _written(_run(shop, SyncMode.DELTA), "shopify_orders")["deleted"] == 0
    assert _written(_run(shop, SyncMode.FULL), "shopify_orders")["deleted"] == 1
    _converged(shop)


def test_a_run_killed_while_shopify_ran_its_exports_adopts_them(
    shop: SandboxTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("killed while the bulk export ran")

    with monkeypatch.context() as patched:
        patched.setattr(ShopifyExportClient, "wait_for_bulk_operation", killed)
        died = run_sync(shop.slug, PIPELINE, SyncMode.FULL, instance=shop.instance)
    assert not died.success and "killed" in (died.error or "")
    repo = ingestion_repository()
    # The customers and products steps ran (the orders step waits for the customers): each noted its export
    # before it waited for it.
    noted = [ObjectCursor.of(repo, shop.slug, obj).pending for obj in ("customers", "products")]
    assert ObjectCursor.of(repo, shop.slug, "orders").pending is None
    emulator = _emulator(shop)
    submitted = {str(op["id"]) for op in emulator.bulk_operations()}
    assert {p.operation for p in noted if p is not None} == submitted and len(submitted) == 2

    _run(shop, SyncMode.FULL)
    started = [op for op in emulator.bulk_operations() if str(op["id"]) not in submitted]
    assert len(started) == 1, "the exports of the killed run were adopted: only the orders' is new"
    _converged(shop)
    for obj in ("customers", "products", "orders"):
        assert ObjectCursor.of(repo, shop.slug, obj).pending is None


def test_throttled_answers_and_429_storms_are_survived(
    hub: SandboxHub, sqlite_registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = EmulatorSettings(throttle_enabled=True, bucket_capacity=700, restore_rate=1000)
    shop = _shop(hub, sqlite_registry, emulator=settings)
    emulator = _emulator(shop)
    emulator.faults.configure(FaultConfig(storm_429=4, retry_after_s=0, path_prefix="/admin/api"))
    _run(shop, SyncMode.FULL)
    emulator.change_sample("customers", 0.2, seed=9)
    emulator.change_sample("orders", 0.2, seed=9)
    emulator.faults.configure(FaultConfig(storm_429=3, retry_after_s=0, path_prefix="/admin/api"))
    # Each paged read meets an empty bucket with a cost it has not learned yet: Shopify answers THROTTLED.
    paged = ShopifyExportClient.read_pages

    def on_an_empty_bucket(client: ShopifyExportClient, obj: ExportObject, search: str | None) -> Any:
        emulator.shop().bucket.charge(settings.bucket_capacity)
        return paged(client, obj, search)

    monkeypatch.setattr(ShopifyExportClient, "read_pages", on_an_empty_bucket)
    delta = _run(shop, SyncMode.DELTA)
    assert delta.counts("shopify_orders")["read"] == "pages"
    assert emulator.stats_snapshot()["throttled"] >= 2
    assert emulator.faults.counters.too_many == 7
    _converged(shop)


def test_a_master_key_rotation_rewraps_data_keys_and_rewrites_no_row(
    shop: SandboxTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    _run(shop, SyncMode.FULL)
    repo = ingestion_repository()
    before = [c.pii for c in repo.iter_customers(shop.slug)]
    old = os.environ["CONNECTOR_ENCRYPTION_KEY"]
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", old)
    assert tenant_registry(shop.registry.db).rotate_keys() == 1  # a new registry: it reads the new key
    assert ingestion_repository().rewrap_data_keys() == 1
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEYS_OLD")
    rotated = ingestion_repository()
    assert [c.pii for c in rotated.iter_customers(shop.slug)] == before
    _emulator(shop).change_sample("customers", 0.2, seed=10)
    _run(shop, SyncMode.DELTA)
    _converged(shop)


def test_the_cli_takes_the_issue_s_mode_names_exports_a_customer_and_shreds_a_removed_tenant(
    shop: SandboxTenant, tmp_path: Path
) -> None:
    cli = CliRunner()

    def sync(*args: str) -> dict[str, Any]:
        result = cli.invoke(main, ["sync", shop.slug, "--pipeline", PIPELINE, "--json", *args])
        assert result.exit_code == 0, result.output
        return dict(orjson.loads(result.stdout))

    dry = sync("--mode", "dry_run")
    assert dry["steps"]["shopify_orders"]["write_mode"] == "dry_run"
    assert {e["action"] for e in dry["plan"]} == {"create"}
    assert ingestion_repository().count(shop.slug, "orders") == 0
    since = _midpoint(_emulator(shop)).isoformat()
    ranged = sync("--mode", "backfill", "--since", since)
    assert ranged["steps"]["shopify_orders"]["read_scope"].startswith("updated from")
    skipping = sync("--mode", "skip_existing")
    assert skipping["steps"]["shopify_orders"]["write_mode"] == "skip_existing"
    assert sync("--mode", "incremental")["success"]
    _converged(shop)

    customer = min(_emulator(shop).shop().commerce.customers)
    target = tmp_path / "export.json"
    exported = cli.invoke(
        main, ["tenants", "customer-data", shop.slug, str(customer), "--output", str(target)]
    )
    assert exported.exit_code == 0, exported.output
    assert orjson.loads(target.read_bytes())["customer"]["id"] == customer

    removed = cli.invoke(main, ["tenants", "remove", shop.slug, "--yes"])
    assert removed.exit_code == 0, removed.output
    assert "crypto-shredded its ingestion data" in removed.output
    assert ingestion_repository().count(shop.slug, "customers", include_deleted=True) == 0
    assert [r.reason for r in ingestion_repository().redactions(shop.slug)] == ["tenant removed"]
