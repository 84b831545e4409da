"""shopify_ingestion: what the long chaos suite turned up, pinned down."""

from __future__ import annotations

from connector_pipelines.runner import RunSummary, run_sync
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.shopify_ingestion import ingestion_repository
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant, sandbox_tenant

PIPELINE = "shopify_ingestion"


def _full(tenant: SandboxTenant) -> RunSummary:
    summary = run_sync(tenant.slug, PIPELINE, SyncMode.FULL, instance=tenant.instance)
    assert summary.success, summary.error
    return summary


def test_a_product_a_full_read_could_not_read_is_not_deleted_and_comes_back_once_readable(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    """Chaos seed 2 of the long version: a full read met a stored product it could not read (a negative
    price) and took it for one the shop no longer has, soft-deleting it as of the export. The product was not
    updated since, so once it was readable again every later read, full ones included, was older than that
    tombstone and could not bring it back."""
    shop = sandbox_tenant(hub, sqlite_registry, PIPELINE, catalog=Catalog(4, 2, seed=3))
    _full(shop)
    product = min(shop.hub.shopify[shop.slug].emulator.shop().products)
    assert product in set(ingestion_repository().iter_ids(shop.slug, "products"))

    shop.recipe.reject_one(shop.hub, shop.slug)  # the shop's first product: unreadable, not gone
    unreadable = _full(shop)
    assert unreadable.counts("shopify_products")["failed"] == 1
    assert unreadable.counts("shopify_products")["deleted"] == 0, "the shop still has the product"
    assert unreadable.checks["shopify_products:matches_shopify_count"], "held, not counted twice"
    assert product in set(ingestion_repository().iter_ids(shop.slug, "products"))

    shop.recipe.clear_faults(shop.hub, shop.slug)
    _full(shop)
    report = shop.convergence()
    assert report.converged, report.describe()
    assert shop.store().open_errors() == []
