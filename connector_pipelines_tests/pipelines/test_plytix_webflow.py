"""plytix_webflow through Dagster against the sandbox: the Plytix and Webflow emulators on loopback.

Beyond the contract every pipeline keeps (test_contract.py): few calls by design, only what changed is sent,
deletions archive, a new option value on a live product, bad variants isolated, 429 storms, plan mode, one
product on demand, checks and schedules."""

from __future__ import annotations

from typing import Any

import pytest

from connector_pipelines.clients.http import TransientError
from connector_pipelines.clients.webflow import WebflowClient
from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.plytix_webflow.spec import SPEC
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.plytix import PlytixEmulator
from connector_pipelines.sandbox.recipe import Catalog
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.sandbox.webflow import WebflowEmulator
from connector_pipelines.sources.plytix import product_key, variant_key
from connector_pipelines.sync.plytix_webflow import READ_STAGE
from connector_pipelines.sync.publish import DEACTIVATED
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant, sandbox_tenant

PIPELINE = "plytix_webflow"
PRODUCTS = "webflow_products"


class Tenant(SandboxTenant):
    @property
    def plytix(self) -> PlytixEmulator:
        return self.hub.plytix[self.slug].emulator

    @property
    def webflow(self) -> WebflowEmulator:
        return self.hub.webflow[self.slug].emulator

    def parents(self) -> list[dict[str, Any]]:
        return [p for p in self.plytix.catalog() if p.get("num_variations")]

    def variants_of(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        found = [p for p in self.plytix.catalog() if p.get("_parent_id") == parent["id"]]
        return sorted(found, key=lambda v: str(v["sku"]))

    def webflow_product(self, sku: str) -> dict[str, Any]:
        return next(
            p for p in self.webflow.products() if any(s["fieldData"]["sku"] == sku for s in p["skus"])
        )

    def options(self, label: str) -> list[str]:
        return list(self.plytix.store.attribute_by_label[label].options or ())

    def writes(self) -> dict[str, int]:
        stats = self.webflow.stats()
        return {route: n for route, n in stats.calls.items() if not route.startswith("GET")}


def make_tenant(hub: SandboxHub, registry: TenantRegistry, **target: Any) -> Tenant:
    base = sandbox_tenant(hub, registry, PIPELINE, catalog=Catalog(12, 3, seed=4), target=target or None)
    return Tenant(**vars(base))


@pytest.fixture
def tenant(hub: SandboxHub, sqlite_registry: TenantRegistry) -> Tenant:
    return make_tenant(hub, sqlite_registry)


def _ok(summary: Any) -> Any:
    assert summary.success, summary.error
    return summary


def converged(tenant: Tenant) -> None:
    report = tenant.convergence()
    assert report.converged, report.describe()


def test_a_full_sync_creates_each_product_with_two_calls_at_most(tenant: Tenant) -> None:
    full = _ok(tenant.sync(SyncMode.FULL))
    converged(tenant)
    counts = full.counts(PRODUCTS)
    products = counts["created"]
    assert products == 12 and counts["failed"] == 0
    calls = tenant.webflow.stats().calls
    creates = calls["POST /v2/sites/{site_id}/products"]
    sku_calls = calls.get("POST /v2/sites/{site_id}/products/{product_id}/skus", 0)
    parents = len(tenant.parents())
    assert 0 < parents < products, "the catalog has parents and single products"
    # One create per product (with its default SKU), one call for each parent's other SKUs.
    assert creates == products and sku_calls == parents
    assert counts["webflow_skus_created"] == parents * (3 - 1)
    assert full.checks == {key: True for key in full.checks}, full.checks


def test_a_delta_sends_only_the_changed_skus_and_nothing_when_nothing_changed(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    parent = tenant.parents()[0]
    changed = tenant.variants_of(parent)[1]
    tenant.plytix.set_attribute(str(changed["sku"]), "price", 99.5)
    tenant.webflow.reset_stats()
    delta = _ok(tenant.sync(SyncMode.DELTA))
    assert delta.counts(PRODUCTS)["updated"] == 1
    assert tenant.writes() == {"PATCH /v2/sites/{site_id}/products/{product_id}/skus/{sku_id}": 1}
    converged(tenant)

    tenant.webflow.reset_stats()
    quiet = _ok(tenant.sync(SyncMode.DELTA))
    assert tenant.writes() == {}, "a run with nothing changed writes nothing to Webflow"
    assert quiet.counts(PRODUCTS)["unchanged"] == 12


def test_a_product_gone_from_plytix_is_archived_by_a_full_sync(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    parent = tenant.parents()[0]
    skus = [str(v["sku"]) for v in tenant.variants_of(parent)]
    tenant.plytix.delete_product(str(parent["sku"]))
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts(PRODUCTS)["deleted"] == 1
    archived = tenant.webflow_product(skus[0])["product"]
    assert archived["isArchived"] is True
    mapping = tenant.store().mappings("product")[product_key(str(parent["id"]))]
    assert mapping.content_hash == DEACTIVATED
    converged(tenant)


def test_a_new_option_value_on_a_live_product_is_added_before_its_sku(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    parent = tenant.parents()[0]
    variants = tenant.variants_of(parent)
    size = variants[0]["attributes"]["size"]
    used = {v["attributes"]["color"] for v in variants}
    color = next(c for c in tenant.options("color") if c not in used)
    added = tenant.plytix.add_variant(str(parent["sku"]), {"color": color, "size": size, "price": 30})
    tenant.webflow.reset_stats()
    delta = _ok(tenant.sync(SyncMode.DELTA))
    assert delta.counts(PRODUCTS)["updated"] == 1
    assert tenant.writes() == {
        "PATCH /v2/sites/{site_id}/products/{product_id}": 1,
        "POST /v2/sites/{site_id}/products/{product_id}/skus": 1,
    }
    held = tenant.webflow_product(added)
    colors = next(p for p in held["product"]["fieldData"]["sku-properties"] if p["name"] == "Color")
    assert color in [e["name"] for e in colors["enum"]]
    converged(tenant)


def test_a_bad_variant_is_recorded_with_its_product_and_attribute_while_the_rest_lands(
    tenant: Tenant,
) -> None:
    parent = tenant.parents()[1]
    bad = tenant.variants_of(parent)[2]
    tenant.plytix.clear_attribute(str(bad["sku"]), "size")
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("plytix_products")["failed"] == 1
    assert full.counts(PRODUCTS)["created"] == 12
    (error,) = tenant.store().open_errors(READ_STAGE)
    assert error.record_key == variant_key(str(bad["id"]))
    assert f"product {parent['sku']}" in error.reason and "'size'" in error.reason
    converged(tenant)  # the bad variant cannot be told apart: it is not expected in Webflow either
    assert full.checks["webflow_products:open_record_errors"] is False

    # Once fixed, the variant joins its product and the error is resolved.
    taken = {v["attributes"].get("size") for v in tenant.variants_of(parent) if v["id"] != bad["id"]}
    size = next(s for s in tenant.options("size") if s not in taken)
    tenant.plytix.set_attribute(str(bad["sku"]), "size", size)
    _ok(tenant.sync(SyncMode.DELTA))
    assert tenant.store().open_errors(READ_STAGE) == []
    assert str(bad["sku"]) in {s["fieldData"]["sku"] for s in tenant.webflow_product(str(bad["sku"]))["skus"]}
    converged(tenant)


def test_a_variant_broken_on_a_live_product_keeps_the_products_last_good_version(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    parent = tenant.parents()[0]
    variants = tenant.variants_of(parent)
    tenant.plytix.set_attribute(str(variants[0]["sku"]), "price", 1.0)
    tenant.plytix.clear_attribute(str(variants[1]["sku"]), "color")
    tenant.webflow.reset_stats()
    delta = _ok(tenant.sync(SyncMode.DELTA))
    assert delta.counts("plytix_products")["held_back"] == 1
    assert tenant.writes() == {}, "a half-read product is not published"
    assert len(tenant.webflow_product(str(variants[1]["sku"]))["skus"]) == 3


def test_429_storms_are_survived_and_reported(tenant: Tenant) -> None:
    tenant.webflow.faults.configure(FaultConfig(storm_429=4, retry_after_s=0))
    tenant.plytix.faults.configure(FaultConfig(storm_429=3, retry_after_s=0, path_prefix="/api/v1/products"))
    full = _ok(tenant.sync(SyncMode.FULL))
    converged(tenant)
    assert tenant.webflow.faults.counters.too_many == 4 and tenant.plytix.faults.counters.too_many == 3
    assert tenant.webflow.stats().too_many == 0, "pacing kept within the limit"
    # The checks show where the storms hit: the first Webflow calls (reference step), Plytix's product read.
    health = {
        k.split(":")[0] for k, passed in full.checks.items() if k.endswith("rate_limit_health") and not passed
    }
    assert health == {"webflow_reference", "plytix_products"}
    tenant.webflow.faults.clear()
    tenant.plytix.faults.clear()
    again = _ok(tenant.sync(SyncMode.FULL))
    assert all(passed for k, passed in again.checks.items() if k.endswith("rate_limit_health"))


def test_a_plan_lists_changed_fields_and_writes_nothing(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    parent = tenant.parents()[0]
    changed = tenant.variants_of(parent)[0]
    tenant.plytix.set_attribute(str(changed["sku"]), "price", 77)
    tenant.plytix.set_attribute(str(parent["sku"]), "description", "<p>New</p>")
    before = tenant.recipe.target_state(tenant.hub, tenant.slug)
    plan = _ok(tenant.sync(SyncMode.PLAN))
    (entry,) = plan.counts(PRODUCTS)["plan"]
    assert entry["action"] == "update" and entry["key"] == product_key(str(parent["id"]))
    assert "description" in entry["changed_fields"]
    assert f"sku {changed['sku']}.price.value" in entry["changed_fields"]
    values = {c["field"]: (c["old"], c["new"]) for c in entry["changes"]}
    assert values["description"][1] == "<p>New</p>" != values["description"][0]
    assert values[f"sku {changed['sku']}.price.value"][1] == "7700", "77 in minor units"
    assert tenant.recipe.target_state(tenant.hub, tenant.slug) == before
    delta = _ok(tenant.sync(SyncMode.DELTA))
    assert delta.counts(PRODUCTS)["updated"] == 1
    converged(tenant)


def test_one_product_on_demand(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    parents = tenant.parents()
    first, second = parents[0], parents[1]
    for parent in (first, second):
        tenant.plytix.set_attribute(str(tenant.variants_of(parent)[0]["sku"]), "price", 55)
    # Asked by a variant's id, the whole product is read and published; the other change waits.
    variant = tenant.variants_of(first)[0]
    single = _ok(tenant.sync(SyncMode.DELTA, product_ids=[str(variant["id"])]))
    assert single.counts(PRODUCTS)["updated"] == 1 and single.counts("plytix_products")["fetched"] == 1
    report = tenant.convergence()
    assert report.mismatched and all(str(second["sku"]) in m for m in report.mismatched), report.describe()
    _ok(tenant.sync(SyncMode.DELTA))
    converged(tenant)


def test_site_publishing_publishes_once_after_a_run_that_changed_something(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_tenant(hub, sqlite_registry, publish="site")
    first = _ok(tenant.sync(SyncMode.FULL))
    assert first.counts(PRODUCTS)["site_published"] is True
    assert tenant.webflow.stats().publishes == 1
    quiet = _ok(tenant.sync(SyncMode.DELTA))
    assert quiet.counts(PRODUCTS)["site_published"] is False
    assert tenant.webflow.stats().publishes == 1


def reconcile(tenant: Tenant) -> dict[str, tuple[bool, dict[str, Any]]]:
    job = defs.resolve_job_def(SPEC.job_name("reconcile"))
    result = job.execute_in_process(instance=tenant.instance, partition_key=tenant.slug, raise_on_error=False)
    assert result.success
    return {
        e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
        for e in result.get_asset_check_evaluations()
    }


def test_a_variant_gone_from_plytix_is_retired_out_of_stock_and_reconciliation_holds(tenant: Tenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    passed, counts = reconcile(tenant)["sku_reconciliation"]
    assert passed and counts["expected_skus"] == counts["webflow_skus"] > 0

    parent = tenant.parents()[0]
    gone = tenant.variants_of(parent)[2]
    tenant.plytix.delete_product(str(gone["sku"]))  # a variant: its parent is bumped
    tenant.webflow.reset_stats()
    _ok(tenant.sync(SyncMode.DELTA))
    assert tenant.writes() == {"PATCH /v2/collections/{sku_collection_id}/items/{sku_id}/inventory": 1}
    held = tenant.webflow_product(str(gone["sku"]))
    sku_id = next(s["id"] for s in held["skus"] if s["fieldData"]["sku"] == gone["sku"])
    assert tenant.webflow.store.inventory[sku_id]["quantity"] == 0
    converged(tenant)
    passed, counts = reconcile(tenant)["sku_reconciliation"]
    assert passed and counts["unexpected"] == 0, counts

    # A SKU of this tenant's live product that nobody retired is reported.
    tenant.store().put_mappings(
        "product",
        [
            m.__class__(m.source_key, m.target_id, m.content_hash, {**(m.extra or {}), "retired": []})
            for m in tenant.store().mappings("product").values()
        ],
    )
    passed, counts = reconcile(tenant)["sku_reconciliation"]
    assert not passed and counts["unexpected"] == 1


def test_an_unpriced_variant_fails_the_price_check_and_is_named(tenant: Tenant) -> None:
    parent = tenant.parents()[0]
    unpriced = tenant.variants_of(parent)[1]
    tenant.plytix.clear_attribute(str(unpriced["sku"]), "price")
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.checks["plytix_products:every_sku_priced"] is False
    (error,) = tenant.store().open_errors(READ_STAGE)
    assert str(unpriced["sku"]) in error.reason and "no price" in error.reason
    tenant.plytix.set_attribute(str(unpriced["sku"]), "price", 12.5)
    again = _ok(tenant.sync(SyncMode.DELTA))
    assert again.checks["plytix_products:every_sku_priced"] is True
    converged(tenant)


def test_an_update_that_landed_unanswered_is_sent_again_when_the_source_goes_back(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run dies after Webflow took the new price and before it heard back; then Plytix goes back to the
    # mapped price. The mapping must not vouch for a version Webflow may no longer hold.
    sku = str(tenant.variants_of(tenant.parents()[0])[1]["sku"])
    tenant.plytix.set_attribute(sku, "price", 41)
    _ok(tenant.sync(SyncMode.FULL))
    landed = WebflowClient.update_sku

    def unanswered(self: WebflowClient, *args: Any, **kwargs: Any) -> Any:
        landed(self, *args, **kwargs)
        raise TransientError("webflow", "PATCH", "/skus", None, "connection lost before the answer")

    monkeypatch.setattr(WebflowClient, "update_sku", unanswered)
    tenant.plytix.set_attribute(sku, "price", 51)
    tenant.sync(SyncMode.DELTA)
    held = next(s for s in tenant.webflow_product(sku)["skus"] if s["fieldData"]["sku"] == sku)
    assert held["fieldData"]["price"]["value"] == 5100, "the update landed"

    monkeypatch.setattr(WebflowClient, "update_sku", landed)
    tenant.plytix.set_attribute(sku, "price", 41)
    _ok(tenant.sync(SyncMode.DELTA))
    converged(tenant)
