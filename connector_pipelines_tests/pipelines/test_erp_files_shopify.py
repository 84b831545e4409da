"""erp_files_shopify through Dagster against the sandbox: an SFTP (or FTP, FTPS, or local) ERP file and the
Shopify emulator; every mode, both write paths, bulk failures, throttling, a killed run, bad rows, sensor,
schedule; variant metafields, images by URL and stock per location."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from connector_pipelines.cli import main
from connector_pipelines.clients.erp_files import FileIdentity
from connector_pipelines.clients.http import TransientError
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.builder import tenant_partitions
from connector_pipelines.pipelines.catalog import pipeline_recipe
from connector_pipelines.pipelines.erp_files_shopify.recipe import check_convergence
from connector_pipelines.pipelines.erp_files_shopify.spec import SPEC
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.triggers import PollCursor, per_tenant_polling_sensor
from connector_pipelines.runner import RunSummary
from connector_pipelines.sandbox.file_servers import (
    SANDBOX_LOCATIONS,
    ErpFileLayout,
    FtpSandbox,
    add_products,
    change_prices,
    default_mapping,
    delete_products,
    rename_product,
    rewrite_rows,
    write_erp_catalog,
)
from connector_pipelines.sandbox.hub import ErpShopifyConvergence, SandboxHub, ShopifyAccount
from connector_pipelines.sandbox.recipe import Catalog, TenantConfig, register_config
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings
from connector_pipelines.sources.erp_mapping.config import write_mapping
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import DEAD_LETTER_VAR
from connector_pipelines.sync.erp_files_shopify import READ_STAGE
from connector_pipelines.sync.publish import DEACTIVATED
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.targets.shopify import PENDING_KIND, BulkLedger, PendingOperation, ShopifyWriter
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant, sandbox_tenant

FILE_CHANGE_SENSOR_NAME = "erp_files_shopify_file_change_sensor"
PIPELINE = "erp_files_shopify"
TENANT = "acme"
PRODUCTS = 12
VARIANTS = 3
_HOST_KEY = "SHA256:" + "A" * 43


@dataclass
class ErpTenant(SandboxTenant):
    file: Path
    layout: ErpFileLayout
    shopify: ShopifyAccount
    shop_url: str
    stamp: float = 0.0

    @property
    def emulator(self) -> ShopifyEmulator:
        return self.shopify.emulator

    def convergence(self) -> ErpShopifyConvergence:
        self.emulator.wait_for_bulk()
        return check_convergence(self.file, self.layout, self.emulator)

    def configure(self, **shopify: Any) -> None:
        self.registry.update(self.slug, settings={"shopify": shopify})

    def bump(self) -> None:
        """A modification time later than any before, as a rewrite seconds later gives: listings have whole
        seconds, so two rewrites in one second of the same size would look like one file."""
        self.stamp = max(self.stamp, self.file.stat().st_mtime) + 2
        os.utime(self.file, (self.stamp, self.stamp))


def make_tenant(
    hub: SandboxHub,
    registry: TenantRegistry,
    *,
    slug: str = TENANT,
    shopify: dict[str, Any] | None = None,
    emulator: ShopifySettings | None = None,
) -> ErpTenant:
    """An SFTP account with a 12 x 3 catalog and a shop; bulk mutations from 5 products on."""
    base = sandbox_tenant(
        hub,
        registry,
        PIPELINE,
        slug=slug,
        catalog=Catalog(PRODUCTS, VARIANTS, seed=3),
        target=shopify,
        target_emulator=emulator,
    )
    erp = hub.erp_files[slug]
    return ErpTenant(
        **vars(base),
        file=erp.file,
        layout=erp.layout,
        shopify=hub.shopify[slug],
        shop_url=hub.base_url("shopify", slug),
    )


@pytest.fixture
def tenant(hub: SandboxHub, sqlite_registry: TenantRegistry) -> ErpTenant:
    return make_tenant(hub, sqlite_registry)


def _ok(summary: RunSummary) -> RunSummary:
    assert summary.success, summary.error
    return summary


def _converged(tenant: ErpTenant) -> None:
    report = tenant.convergence()
    assert report.converged, report.describe()


def _rewrite_csv(path: Path, edit: Callable[[list[dict[str, str]]], None]) -> None:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    edit(rows)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --- the write paths ----------------------------------------------------------------------------------------


def test_bulk_full_then_delta_then_nothing_changed(tenant: ErpTenant) -> None:
    run_full_delta_quiet(tenant)


@pytest.mark.postgres
def test_bulk_full_then_delta_then_nothing_changed_on_postgres(
    hub: SandboxHub, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", postgres_url)
    tenant = make_tenant(hub, TenantRegistry(Database(postgres_url)))
    _rewrite_csv(tenant.file, lambda rows: rows[5].update(price="-", inventory="x"))
    tenant.bump()
    assert _ok(tenant.sync(SyncMode.FULL)).counts("erp_file_products")["failed"] == 2
    write_erp_catalog(tenant.file, products=PRODUCTS, variants=VARIANTS, seed=3)
    tenant.bump()
    _ok(tenant.sync())
    tenant.emulator.reset()
    tenant.store().delete_mappings("product", list(tenant.store().mappings("product")))
    run_full_delta_quiet(tenant)


def run_full_delta_quiet(tenant: ErpTenant) -> None:
    full = _ok(tenant.sync(SyncMode.FULL))
    read, shop = full.counts("erp_file_products"), full.counts("shopify_products")
    assert read["fetched"] == PRODUCTS and read["rows"] == PRODUCTS * VARIANTS and read["failed"] == 0
    assert read["file"] == "products.csv" and read["file_size"] == tenant.file.stat().st_size
    assert shop["created"] == PRODUCTS and shop["bulk_operations"] == 1 and shop["direct_calls"] == 0
    assert shop["skus_looked_up"] == 0, "an empty shop needs no SKU look-ups"
    assert full.checks == {
        "erp_file_products:mapping_coverage": True,
        "shopify_products:open_record_errors": True,
    }
    _converged(tenant)
    mapping = next(iter(tenant.store().mappings("product").values()))
    assert mapping.target_id.startswith("gid://shopify/Product/")
    assert set((mapping.extra or {})["variants"]) == {
        s for s in tenant.emulator.variants_by_sku() if s.startswith(mapping.source_key[-7:])
    }

    changed = change_prices(tenant.file, tenant.layout, fraction=0.5, seed=4)
    tenant.bump()
    delta = _ok(tenant.sync())
    products = {sku.rsplit("-", 2)[0] for sku in changed}
    assert delta.counts("erp_file_products")["changed"] == len(products)
    assert delta.counts("shopify_products")["updated"] == len(products)
    assert delta.counts("shopify_products")["created"] == 0
    _converged(tenant)
    ids = {p["id"] for p in tenant.emulator.products()}

    calls = tenant.emulator.stats_snapshot()["graphql_calls"]
    quiet = _ok(tenant.sync())
    assert quiet.counts("erp_file_products")["skipped"] is True
    assert quiet.counts("shopify_products")["unchanged"] == PRODUCTS
    assert tenant.emulator.stats_snapshot()["graphql_calls"] == calls, "nothing unchanged is sent"
    assert {p["id"] for p in tenant.emulator.products()} == ids, "updated in place, never re-created"


def test_direct_calls_and_deletion_by_sku(hub: SandboxHub, sqlite_registry: TenantRegistry) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopify={"bulk_threshold": 1000})
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("shopify_products")["direct_calls"] == PRODUCTS
    assert full.counts("shopify_products")["bulk_operations"] == 0
    _converged(tenant)

    delete_products(tenant.file, tenant.layout, ["P000001", "P000002"])
    tenant.bump()
    delta = _ok(tenant.sync())
    assert delta.counts("erp_file_products")["removed"] == 2
    assert delta.counts("shopify_products")["deleted"] == 2
    assert tenant.emulator.product_count() == PRODUCTS - 2
    assert tenant.emulator.bulk_operations() == []
    _converged(tenant)


@pytest.mark.parametrize(("action", "status"), [("archive", "ARCHIVED"), ("draft", "DRAFT")])
def test_gone_skus_archived_or_drafted(
    hub: SandboxHub, sqlite_registry: TenantRegistry, action: str, status: str
) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopify={"missing_sku_action": action})
    _ok(tenant.sync(SyncMode.FULL))
    sku = _skus(tenant, "P000003")[0]
    delete_products(tenant.file, tenant.layout, ["P000003"])
    tenant.bump()
    assert _ok(tenant.sync()).counts("shopify_products")["deleted"] == 1
    product = tenant.emulator.product_by_sku(sku)
    assert product is not None and product["status"] == status, "kept in Shopify, retired"
    assert tenant.store().mappings("product")["erp_files:product:P000003"].content_hash == DEACTIVATED
    assert _ok(tenant.sync(SyncMode.FULL)).counts("shopify_products")["deleted"] == 0, "retired once"


def _skus(tenant: ErpTenant, parent: str) -> list[str]:
    with tenant.file.open(newline="", encoding="utf-8") as stream:
        return [row["sku"] for row in csv.DictReader(stream) if row["parent_id"] == parent]


def test_products_already_in_shopify_are_matched_by_sku(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopify={"bulk_threshold": 3})
    # The shop already holds two SKUs of product P000001, in a product made by hand.
    skus = _skus(tenant, "P000001")[:2]
    seeded = tenant.emulator.put_product(
        {
            "title": "Hand made",
            "productOptions": [{"name": "Color", "values": [{"name": "Pink"}, {"name": "Lime"}]}],
            "variants": [
                {"optionValues": [{"optionName": "Color", "name": "Pink"}], "sku": skus[0], "price": "1.00"},
                {"optionValues": [{"optionName": "Color", "name": "Lime"}], "sku": skus[1], "price": "1.00"},
            ],
        }
    )
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("shopify_products")["skus_looked_up"] == PRODUCTS * VARIANTS
    assert full.counts("shopify_products")["matched_by_sku"] == 1
    assert tenant.emulator.product_count() == PRODUCTS, "updated, not duplicated"
    assert tenant.store().mappings("product")["erp_files:product:P000001"].target_id == seeded["id"]
    _converged(tenant)

    # A merchant deletes the product in Shopify: its stored GIDs are stale, and its next change re-creates it.
    with ShopifyClient(tenant.shop_url, tenant.shopify.access_token) as client:
        assert client.product_delete(str(seeded["id"])).deleted_product_id == seeded["id"]
    rename_product(tenant.file, tenant.layout, "P000001", "Renamed")
    tenant.bump()
    delta = _ok(tenant.sync())
    assert delta.counts("shopify_products")["stale_retries"] == 1
    assert (
        delta.counts("shopify_products")["updated"] == 1 and delta.counts("shopify_products")["failed"] == 0
    )
    _converged(tenant)


# --- failures, throttling, a killed run ---------------------------------------------------------------------


def test_a_failed_bulk_operation_keeps_what_ran_and_sends_the_rest_again(tenant: ErpTenant) -> None:
    tenant.emulator.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=4)
    first = _ok(tenant.sync(SyncMode.FULL))
    counts = first.counts("shopify_products")
    assert (counts["created"], counts["failed"]) == (PRODUCTS, 0), "what ran is kept, the rest sent again"
    assert (counts["bulk_operations"], counts["bulk_lines_not_run"]) == (2, PRODUCTS - 4)
    assert tenant.emulator.product_count() == PRODUCTS, "sent again, not twinned"
    assert tenant.store().count_open_errors() == 0
    _converged(tenant)


def test_bulk_operations_failing_run_after_run_make_no_dead_letter(
    tenant: ErpTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chaos seed 3 of the long version: bulk operations failed in five runs, each time before the lines of
    the same products ran; every such line counted as a failed attempt of its record, the records became dead
    letters, and the clean full sync at the end left them out (products missing, old prices kept)."""
    monkeypatch.setenv(DEAD_LETTER_VAR, "2")
    faults = tenant.emulator.bulk_faults
    take = faults.take_fail_next

    def every_operation_fails() -> Any:
        tenant.emulator.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=0)
        return take()

    with monkeypatch.context() as outage:
        outage.setattr(faults, "take_fail_next", every_operation_fails)
        runs = [_ok(tenant.sync(mode)) for mode in (SyncMode.FULL, SyncMode.DELTA, SyncMode.DELTA)]
    assert [e for e in tenant.store().open_errors() if e.dead] == [], (
        "no record failed, none is a dead letter"
    )
    for run in runs:
        counts = run.counts("shopify_products")
        assert (counts["created"], counts["failed"]) == (0, 0), "the operations failed, not the records"
        assert counts["bulk_lines_not_run"] == 2 * PRODUCTS, "each line twice: once more after a failure"
    assert tenant.store().open_errors() == []
    assert tenant.emulator.product_count() == 0

    recovered = _ok(tenant.sync())
    assert recovered.counts("shopify_products")["created"] == PRODUCTS
    _converged(tenant)


def test_failing_lines_of_a_bulk_operation_are_isolated(tenant: ErpTenant) -> None:
    tenant.emulator.fail_bulk_lines([2, 7])
    first = _ok(tenant.sync(SyncMode.FULL))
    assert (first.counts("shopify_products")["created"], first.counts("shopify_products")["failed"]) == (
        10,
        2,
    )
    reasons = sorted(e.reason for e in tenant.store().open_errors())
    assert all(r.startswith("SKUs P0000") and "Internal error" in r for r in reasons), reasons
    tenant.emulator.clear_bulk_faults()
    retry = _ok(tenant.sync())
    assert retry.counts("shopify_products")["created"] == 2, "2 changes go the direct way"
    assert retry.counts("shopify_products")["direct_calls"] == 2
    _converged(tenant)


def test_throttled_answers_are_waited_out(hub: SandboxHub, sqlite_registry: TenantRegistry) -> None:
    emulator = ShopifySettings(throttle_enabled=True, bucket_capacity=600, restore_rate=400)
    tenant = make_tenant(
        hub, sqlite_registry, emulator=emulator, shopify={"bulk_threshold": 1000, "bulk_batch_size": 4}
    )
    tenant.emulator.shop().bucket.charge(600)  # another app of this shop has just spent the bucket
    full = _ok(tenant.sync(SyncMode.FULL))
    assert tenant.emulator.stats_snapshot()["throttled"] >= 1
    assert full.counts("shopify_products")["rate_limit_waits"] >= 1
    assert full.counts("shopify_products")["created"] == PRODUCTS
    _converged(tenant)


def test_a_killed_run_is_adopted_not_submitted_twice(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_tenant(
        hub,
        sqlite_registry,
        emulator=ShopifySettings(bulk_start_delay_s=1.0),
        shopify={"bulk_timeout_s": 0.2},
    )
    died = tenant.sync(SyncMode.FULL)
    assert not died.success and "still CREATED" in (died.error or "")
    assert len(tenant.store().get_cursor(PENDING_KIND) or "") > 2, "the operation was written down first"
    assert tenant.store().count_mappings("product") == 0

    tenant.configure(bulk_timeout_s=30)
    resumed = _ok(tenant.sync())
    counts = resumed.counts("shopify_products")
    assert counts["adopted_operations"] == 1 and counts["adopted"] == PRODUCTS
    assert counts["bulk_operations"] == 0 and counts["unchanged"] == PRODUCTS
    assert len(tenant.emulator.bulk_operations()) == 1, "never submitted twice"
    assert tenant.store().get_cursor(PENDING_KIND) == "[]"
    assert tenant.store().count_mappings("product") == PRODUCTS
    _converged(tenant)


@pytest.mark.parametrize("path", ["direct", "bulk"])
def test_a_product_whose_create_answer_was_lost_is_mapped_then_deleted_with_its_record(
    tenant: ErpTenant, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # The write lands in Shopify, then the run dies before it hears back (killed, connection gone). The next
    # run must find what it created, so that dropping the record from the file deletes it there: no orphan.
    tenant.configure(bulk_threshold=1000 if path == "direct" else 5)
    method = "product_set" if path == "direct" else "run_bulk_mutation"
    original = getattr(ShopifyClient, method)

    def lost_answer(self: ShopifyClient, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise RuntimeError("the run died before the answer arrived")

    monkeypatch.setattr(ShopifyClient, method, lost_answer)
    died = tenant.sync(SyncMode.FULL)
    assert not died.success and "before the answer arrived" in (died.error or "")
    monkeypatch.setattr(ShopifyClient, method, original)
    tenant.emulator.wait_for_bulk()
    created = tenant.emulator.products()
    assert created and tenant.store().count_mappings("product") == 0, "nothing was heard of what was created"

    orphan = str(created[0]["variants"][0]["sku"]).rsplit("-", 2)[0]
    delete_products(tenant.file, tenant.layout, [orphan])
    tenant.bump()
    after = _ok(tenant.sync())
    counts = after.counts("shopify_products")
    assert counts["adopted_operations"] == 1 and counts["deleted"] == 1
    assert tenant.store().get_cursor(PENDING_KIND) == "[]"
    _converged(tenant)


@pytest.mark.parametrize("path", ["direct", "bulk"])
def test_an_update_that_landed_unanswered_is_sent_again_after_the_source_reverts(
    tenant: ErpTenant, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The writer answered, the run died before it stored the mappings (the chaos suite's kill point): the
    prices went back to what the mappings name, and the mappings must not make every later run skip them."""
    tenant.configure(bulk_threshold=1000 if path == "direct" else 5)
    _ok(tenant.sync(SyncMode.FULL))
    mapped = tenant.file.read_bytes()
    change_prices(tenant.file, tenant.layout, fraction=1.0, seed=5)
    tenant.bump()
    written = ShopifyWriter.upsert

    def dies_after_writing(writer: ShopifyWriter, items: Any) -> Any:
        written(writer, items)
        raise RuntimeError("killed: Shopify took the batch, the run never heard back")

    with monkeypatch.context() as patched:
        patched.setattr(ShopifyWriter, "upsert", dies_after_writing)
        assert not tenant.sync(SyncMode.FULL).success
    _converged(tenant)  # the new prices landed, though the run never heard back

    tenant.file.write_bytes(mapped)
    tenant.bump()
    _ok(tenant.sync())
    _converged(tenant)


def test_an_adoption_that_fails_midway_keeps_what_it_has_not_stored(
    tenant: ErpTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant.configure(bulk_threshold=1000)
    original = ShopifyClient.product_set

    def lost_answer(self: ShopifyClient, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise RuntimeError("the run died before the answer arrived")

    monkeypatch.setattr(ShopifyClient, "product_set", lost_answer)
    assert not tenant.sync(SyncMode.FULL).success
    monkeypatch.setattr(ShopifyClient, "product_set", original)
    ledger = BulkLedger(tenant.store())
    [direct] = ledger.pending()
    gone = "gid://shopify/BulkOperation/999"
    ledger.add(PendingOperation(submission="s-2", id=gone, purpose="upsert", lines=[]))
    waiting = ShopifyClient.wait_for_bulk_operation

    def down(self: ShopifyClient, *args: Any, **kwargs: Any) -> Any:
        raise TransientError("shopify", "POST", "/graphql.json", 503, "down")

    monkeypatch.setattr(ShopifyClient, "wait_for_bulk_operation", down)
    assert not tenant.sync().success
    # The direct calls' product was stored before their entry left the ledger; the bulk one waits its turn.
    assert tenant.store().count_mappings("product") == 1
    assert [op.submission for op in ledger.pending()] == ["s-2"] and direct.submission != "s-2"
    monkeypatch.setattr(ShopifyClient, "wait_for_bulk_operation", waiting)
    _ok(tenant.sync())  # the operation no longer exists: its (no) records are sent again, the entry goes
    assert ledger.pending() == []
    _converged(tenant)


# --- the file side ------------------------------------------------------------------------------------------


def test_bad_rows_are_isolated_with_file_line_and_column(tenant: ErpTenant) -> None:
    def break_rows(rows: list[dict[str, str]]) -> None:
        rows[1]["price"] = "twelve"  # line 3: a variant of P000001
        rows[10]["sku"] = ""  # line 12: a variant of P000004

    _rewrite_csv(tenant.file, break_rows)
    first = _ok(tenant.sync(SyncMode.FULL))
    read = first.counts("erp_file_products")
    assert read["failed"] == 2 and read["fetched"] == PRODUCTS
    errors = {e.record_key: e for e in tenant.store().open_errors(READ_STAGE)}
    assert set(errors) == {"products.csv:3 price", "products.csv:12 sku"}
    assert errors["products.csv:3 price"].payload["column"] == "price"
    assert "products.csv:3: price:" in errors["products.csv:3 price"].reason
    assert first.counts("shopify_products")["created"] == PRODUCTS, "the rest goes through"
    assert tenant.emulator.variant_count() == PRODUCTS * VARIANTS - 2
    assert first.checks["shopify_products:open_record_errors"] is False

    # A new bad row in a published product holds that product back as it was; Shopify keeps its variant.
    _rewrite_csv(tenant.file, lambda rows: rows[20].update(price="n/a"))
    tenant.bump()
    held = _ok(tenant.sync())
    assert held.counts("erp_file_products")["held_back"] == 3, "P000001 and P000004 still have their bad rows"
    assert tenant.emulator.variant_count() == PRODUCTS * VARIANTS - 2

    write_erp_catalog(tenant.file, products=PRODUCTS, variants=VARIANTS, seed=3)
    tenant.bump()
    fixed = _ok(tenant.sync())
    assert fixed.counts("shopify_products")["updated"] == 2
    assert tenant.store().count_open_errors() == 0, "errors of rows read cleanly are resolved"
    _converged(tenant)


def test_a_malformed_line_holds_deletions_back(tenant: ErpTenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    delete_products(tenant.file, tenant.layout, ["P000005"])
    with tenant.file.open("a", encoding="utf-8") as stream:
        stream.write("P999999,only-two-fields\n")
    tenant.bump()
    delta = _ok(tenant.sync())
    assert delta.counts("erp_file_products")["deletions_held_back"] is True
    assert delta.counts("erp_file_products")["removed"] == 0
    assert delta.counts("shopify_products")["deleted"] == 0


@pytest.mark.parametrize("kind", ["ftp", "legacy_ftp", "implicit_ftps", "local"])
def test_ftp_and_local_sources(
    hub: SandboxHub, sqlite_registry: TenantRegistry, tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    layout = ErpFileLayout(format="ndjson" if kind == "local" else "json")
    old = root / f"products_2025.{layout.format}"
    write_erp_catalog(old, products=2, variants=2, layout=layout)
    os.utime(old, (1_000_000, 1_000_000))
    file = root / f"products_2026.{layout.format}"
    write_erp_catalog(file, products=PRODUCTS, variants=VARIANTS, seed=5, layout=layout)
    fields = {
        "pattern": f"products_*.{layout.format}",
        "mapping_file": str(write_mapping(default_mapping(layout), tmp_path / "mapping.yaml")),
    }
    account = hub.add_shopify(TENANT)
    shop_url = hub.base_url("shopify", TENANT)
    settings: dict[str, Any] = {
        "shopify": {"shop_url": shop_url, "bulk_threshold": 5, "bulk_poll_interval_s": 0.05}
    }
    credentials: dict[str, Any] = {"shopify": {"access_token": account.access_token}}
    with ExitStack() as stack:
        if kind == "local":
            settings["erp_files"] = {"kind": "local", "root": str(root), **layout.format_settings(), **fields}
        else:
            implicit = kind == "implicit_ftps"
            ftp = stack.enter_context(
                FtpSandbox(root, legacy=kind == "legacy_ftp", tls=implicit, implicit=implicit)
            )
            settings["erp_files"] = ftp.settings(layout, **fields).model_dump(mode="json")
            credentials["erp_files"] = {"username": ftp.username, "password": ftp.password}
        register_config(
            sqlite_registry, PIPELINE, TENANT, TenantConfig(settings, credentials), name=TENANT.upper()
        )
        tenant = ErpTenant(
            TENANT,
            hub,
            pipeline_recipe(PIPELINE),
            sqlite_registry,
            dg.DagsterInstance.ephemeral(),
            file=file,
            layout=layout,
            shopify=account,
            shop_url=shop_url,
        )
        full = _ok(tenant.sync(SyncMode.FULL))
        read = full.counts("erp_file_products")
        assert read["file"] == file.name and read["fetched"] == PRODUCTS, "the newest match is read"
        # Old FTP servers tell neither size nor time: the file is known by its content hash.
        assert bool(read["file_sha256"]) is (kind == "legacy_ftp")
        _converged(tenant)
        assert _ok(tenant.sync()).counts("erp_file_products")["skipped"] is True


# --- plan, reconciliation, the mapping check ----------------------------------------------------------------


def test_plan_shows_changed_fields_and_writes_nothing(tenant: ErpTenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    changed = change_prices(tenant.file, tenant.layout, fraction=0.05, seed=9)
    assert changed
    delete_products(tenant.file, tenant.layout, ["P000012"])
    tenant.bump()
    before = tenant.emulator.products()
    plan = _ok(tenant.sync(SyncMode.PLAN))
    entries = {e["key"]: e for e in plan.counts("shopify_products")["plan"]}
    assert entries.pop("erp_files:product:P000012")["action"] == "delete"
    assert entries and all(e["action"] == "update" for e in entries.values())
    assert {f for e in entries.values() for f in e["changed_fields"]} == {
        f"variants.{sku}.price" for sku in changed
    }
    for change in (c for e in entries.values() for c in e["changes"]):
        old, new = Decimal(change["old"]), Decimal(change["new"])
        assert new == (old * Decimal("1.10")).quantize(Decimal("0.01"), ROUND_HALF_UP), change
    assert tenant.emulator.products() == before, "a plan writes nothing"
    assert _ok(tenant.sync()).counts("shopify_products")["deleted"] == 1, (
        "the plan did not consume the change"
    )
    _converged(tenant)


def test_sku_reconciliation_job(tenant: ErpTenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))

    def reconcile() -> tuple[bool, dict[str, Any]]:
        job = defs.resolve_job_def(SPEC.job_name("reconcile"))
        result = job.execute_in_process(instance=tenant.instance, partition_key=TENANT, raise_on_error=False)
        assert result.success
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}

    passed, meta = reconcile()
    assert (
        passed
        and meta["expected_skus"] == PRODUCTS * VARIANTS
        and meta["shopify_variants"] == PRODUCTS * VARIANTS
    )
    sku = _skus(tenant, "P000002")[0]
    tenant.emulator.put_product(
        {
            "title": "Twin",
            "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
            "variants": [{"optionValues": [{"optionName": "Title", "name": "Default Title"}], "sku": sku}],
        }
    )
    passed, meta = reconcile()
    assert not passed and meta["duplicated"] == 1 and meta["missing"] == 0


def test_mapping_check_shows_products_and_every_row_error(tenant: ErpTenant, tmp_path: Path) -> None:
    _rewrite_csv(tenant.file, lambda rows: rows[4].update(price="abc"))
    runner = CliRunner()
    result = runner.invoke(main, ["mapping", "check", TENANT, "--limit", "2"])
    assert result.exit_code == 3, result.output  # rows failed
    assert "36 rows -> 12 products, 35 variants; 1 row error(s)" in result.output
    assert "products.csv:6: price:" in result.output
    assert result.output.count("erp_files:product:") == 2

    local = tmp_path / "local.csv"
    local.write_text("parent_id,sku,title,price\nA,A-1,Mug,3.50\n", encoding="utf-8")
    as_json = runner.invoke(main, ["mapping", "check", TENANT, "--file", str(local), "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert '"products_mapped": 1' in as_json.output and "missing_sources" in as_json.output
    assert tenant.store().count_mappings("product") == 0 and not tenant.store().record_hashes("product")

    missing = runner.invoke(main, ["mapping", "check", TENANT, "--file", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and missing.output.count("\n") == 1 and "nope.csv" in missing.output


# --- sensor and schedule ------------------------------------------------------------------------------------


def _tick(
    tenant: ErpTenant, cursor: str | None, sensor: dg.SensorDefinition | None = None
) -> dg.SensorResult:
    sensor = sensor or defs.resolve_sensor_def(FILE_CHANGE_SENSOR_NAME)
    context = dg.build_sensor_context(
        instance=tenant.instance,
        instance_ref=tenant.instance.get_ref(),
        cursor=cursor,
        definitions=defs,
        resources={"connector_db": ConnectorDatabase(url=tenant.registry.db.url)},
    )
    return sensor.evaluate_tick(context)  # type: ignore[return-value]


def test_file_change_sensor(hub: SandboxHub, sqlite_registry: TenantRegistry) -> None:
    tenant = make_tenant(hub, sqlite_registry)
    unreachable = {
        "kind": "sftp",
        "host": "127.0.0.1",
        "port": 1,
        "path": "p.csv",
        "sftp_host_key": _HOST_KEY,
    }
    sqlite_registry.add("globex", "globex", [PIPELINE], {"erp_files": unreachable})
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PIPELINE, [TENANT, "globex"])
        tenant.instance = instance
        first = _tick(tenant, None)
        (request,) = first.run_requests or []
        assert request.partition_key == TENANT and request.tags["sync_type"] == "delta"
        assert request.tags["trigger"] == "file_change"
        cursor = PollCursor.model_validate_json(first.cursor or "")
        assert set(cursor.seen) == {TENANT}, "an unreachable server is skipped, the others are checked"
        assert FileIdentity.model_validate_json(cursor.seen[TENANT]).size == tenant.file.stat().st_size

        assert not _tick(tenant, first.cursor).run_requests, "unchanged: nothing requested"
        change_prices(tenant.file, tenant.layout, fraction=0.2, seed=1)
        tenant.bump()
        (changed,) = _tick(tenant, first.cursor).run_requests or []
        assert changed.run_key != request.run_key

        (poll,) = SPEC.sensors
        sync_job = dg.define_asset_job(SPEC.job_name(poll.job), selection=dg.AssetSelection.all())
        no_time_sensor = per_tenant_polling_sensor(
            SPEC, poll, sync_job, tenant_partitions(PIPELINE), budget_s=-1
        )
        no_time = _tick(tenant, first.cursor, no_time_sensor)
        assert not no_time.run_requests
        assert PollCursor.model_validate_json(no_time.cursor or "").resume_at == "acme"


def test_schedule_honours_each_tenants_frequency(sqlite_registry: TenantRegistry, tmp_path: Path) -> None:
    for slug, hours in ((TENANT, 24), ("globex", 6)):
        files = {
            "kind": "local",
            "root": str(tmp_path),
            "path": "products.csv",
            "sync_frequency_hours": hours,
        }
        sqlite_registry.add(slug, slug, [PIPELINE], {"erp_files": files})
    schedule = defs.resolve_schedule_def("erp_files_shopify_schedule")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PIPELINE, [TENANT, "globex"])

        def due(hour: int) -> dict[str, str]:
            context = dg.build_schedule_context(
                instance=instance,
                instance_ref=instance.get_ref(),
                repository_def=defs.get_repository_def(),
                scheduled_execution_time=datetime(2026, 3, 2, hour, tzinfo=UTC),
                resources={"connector_db": ConnectorDatabase(url=sqlite_registry.db.url)},
            )
            requests = schedule.evaluate_tick(context).run_requests or []
            return {str(r.partition_key): str(r.run_key) for r in requests}

        assert set(due(0)) == {TENANT, "globex"}, "24 h and 6 h both divide midnight"
        assert set(due(6)) == {"globex"}
        assert due(7) == {}
        assert due(12)["globex"] == "delta:globex:2026-03-02T12:00:00+00:00"


# --- variant metafields, images by URL, stock per location --------------------------------------------------

MAIN, BERLIN = (f"gid://shopify/Location/{n}" for n in SANDBOX_LOCATIONS)
IMAGES = "https://images.example.com"


def make_rich_tenant(
    hub: SandboxHub, registry: TenantRegistry, *, shopify: dict[str, Any] | None = None
) -> ErpTenant:
    """A tenant whose file is a rich catalog (images, a variant metafield ``custom.fit``, stock at the shop's
    two locations, named by name), read with the mapping of it."""
    tenant = make_tenant(hub, registry, shopify=shopify)
    write_erp_catalog(tenant.file, products=PRODUCTS, variants=VARIANTS, seed=3, rich=True)
    write_mapping(default_mapping(tenant.layout, rich=True), hub.erp_files[tenant.slug].mapping_file)
    tenant.bump()
    return tenant


def _media_ids(tenant: ErpTenant) -> dict[str, list[str]]:
    """Parent id -> the ids of its product's media in Shopify."""
    return {
        str(p["variants"][0]["sku"]).split("-")[0]: [str(m["id"]) for m in p["media"]]
        for p in tenant.emulator.products()
    }


def _edit_rows(tenant: ErpTenant, edits: dict[str, Callable[[dict[str, Any]], None]]) -> None:
    """Apply ``edits[sku or parent]`` to the matching rows of the file, which then has a new time."""

    def edit(row: dict[str, Any]) -> dict[str, Any]:
        for key in (str(row["sku"]), str(row["parent_id"])):
            if key in edits:
                edits[key](row)
        return row

    rewrite_rows(tenant.file, tenant.layout, edit)
    tenant.bump()


@pytest.mark.parametrize("path", ["bulk", "direct"])
def test_variant_metafields_images_and_stock_per_location(
    hub: SandboxHub, sqlite_registry: TenantRegistry, path: str
) -> None:
    tenant = make_rich_tenant(hub, sqlite_registry, shopify={"bulk_threshold": 5 if path == "bulk" else 1000})
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("shopify_products")["created"] == PRODUCTS
    _converged(tenant)  # titles, prices, options; media in order, variant images, custom.fit, both locations
    variant = tenant.emulator.variants_by_sku()["P000001-" + _skus(tenant, "P000001")[0].split("-", 1)[1]]
    assert set(variant["inventory"]) == {MAIN, BERLIN}, "stock at both locations, named by name"
    assert [m["key"] for m in variant["metafields"]] == ["fit"] and variant["image"]
    mapping = tenant.store().mappings("product")["erp_files:product:P000001"]
    assert len(str((mapping.extra or {})["media"])) == 32, "the images' digest is kept with the mapping"
    before = _media_ids(tenant)

    first_of = {parent: _skus(tenant, parent)[0] for parent in ("P000004", "P000005")}
    _edit_rows(
        tenant,
        {
            # New order, one image gone, one new: the product's media become exactly these.
            "P000002": lambda row: row.update(
                image_urls=f"{IMAGES}/P000002/new.jpg|" + "|".join(reversed(row["image_urls"].split("|")[:1]))
            ),
            "P000003": lambda row: row.update(image_urls="", variant_image=""),  # every image removed
            first_of["P000004"]: lambda row: row.update(fit="oversized"),
            first_of["P000005"]: lambda row: row.update(stock_berlin="77"),
        },
    )
    changed_prices = change_prices(tenant.file, tenant.layout, fraction=0.5, seed=4)
    tenant.bump()
    delta = _ok(tenant.sync())
    touched = {"P000002", "P000003", "P000004", "P000005"} | {sku.split("-")[0] for sku in changed_prices}
    assert delta.counts("shopify_products")["updated"] == len(touched)
    _converged(tenant)
    after = _media_ids(tenant)
    assert after["P000003"] == [], "removed images are removed"
    assert not set(after["P000002"]) & set(before["P000002"]), "a changed image list is sent again"
    assert {p: ids for p, ids in after.items() if p not in ("P000002", "P000003")} == {
        p: ids for p, ids in before.items() if p not in ("P000002", "P000003")
    }, "unchanged images are not sent again, whatever else of their product changed"
    assert tenant.emulator.variants_by_sku()[first_of["P000005"]]["inventory"][BERLIN] == 77

    calls = tenant.emulator.stats_snapshot()["graphql_calls"]
    quiet = _ok(tenant.sync())
    assert quiet.counts("shopify_products")["unchanged"] == PRODUCTS
    assert tenant.emulator.stats_snapshot()["graphql_calls"] == calls, "nothing unchanged is sent"


def test_plan_shows_variant_metafields_stock_per_location_and_images(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_rich_tenant(hub, sqlite_registry)
    _ok(tenant.sync(SyncMode.FULL))
    fit_sku, stock_sku = _skus(tenant, "P000006")[1], _skus(tenant, "P000007")[0]
    _edit_rows(
        tenant,
        {
            fit_sku: lambda row: row.update(fit="boxy"),
            stock_sku: lambda row: row.update(stock_main="99"),
            "P000008": lambda row: row.update(image_urls=f"{IMAGES}/P000008/only.jpg"),
        },
    )
    before = tenant.emulator.products()
    plan = _ok(tenant.sync(SyncMode.PLAN))
    entries = {e["key"]: set(e["changed_fields"]) for e in plan.counts("shopify_products")["plan"]}
    assert entries["erp_files:product:P000006"] == {f"variants.{fit_sku}.metafields.custom.fit"}
    assert entries["erp_files:product:P000007"] == {f"variants.{stock_sku}.inventory.{MAIN}"}
    assert "media.source" in entries["erp_files:product:P000008"], "the images changed since last sent"
    assert all(f.startswith("media.") for f in entries["erp_files:product:P000008"])
    assert len(entries) == 3
    assert tenant.emulator.products() == before, "a plan writes nothing"
    _ok(tenant.sync())
    _converged(tenant)


def test_the_location_id_setting_and_a_location_column(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_tenant(hub, sqlite_registry, shopify={"location_id": MAIN})
    _ok(tenant.sync(SyncMode.FULL))
    stock = {row["sku"]: int(row["inventory"]) for row in csv.DictReader(tenant.file.open(encoding="utf-8"))}
    shop = tenant.emulator.variants_by_sku()
    assert {sku: shop[sku]["inventory"] for sku in stock} == {sku: {MAIN: q} for sku, q in stock.items()}, (
        "one location, as before"
    )

    # A location column: the row's inventory goes to the location it names (blank: the location_id setting).
    mapping = default_mapping(tenant.layout)
    document = mapping.model_dump(mode="json") | {"inventory_location": "warehouse"}
    write_mapping(type(mapping).model_validate(document), hub.erp_files[tenant.slug].mapping_file)
    (added,) = add_products(tenant.file, tenant.layout, 1, variants=2, seed=5)
    at = {"P000001": "Main warehouse", added: "Berlin store"}
    rewrite_rows(
        tenant.file, tenant.layout, lambda row: row | {"warehouse": at.get(str(row["parent_id"]), "")}
    )
    tenant.bump()
    _ok(tenant.sync())
    stock = {row["sku"]: int(row["inventory"]) for row in csv.DictReader(tenant.file.open(encoding="utf-8"))}
    shop = tenant.emulator.variants_by_sku()
    assert all(shop[sku]["inventory"] == {MAIN: stock[sku]} for sku in _skus(tenant, "P000001"))
    assert all(shop[sku]["inventory"] == {BERLIN: stock[sku]} for sku in _skus(tenant, added)), (
        "new: anywhere"
    )
    _converged(tenant)

    # Stock for a location where the shop's variants are not stocked: Shopify refuses, the record says why.
    _edit_rows(tenant, {"P000002": lambda row: row.update(warehouse="Berlin store")})
    refused = _ok(tenant.sync())
    assert refused.counts("shopify_products")["failed"] == 1
    (error,) = tenant.store().open_errors()
    assert "not stocked at location 'Berlin store'" in error.reason and error.record_key.endswith("P000002")


def test_a_location_the_shop_does_not_have_fails_its_records(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = make_rich_tenant(hub, sqlite_registry)
    rich = default_mapping(tenant.layout, rich=True)
    located = {
        "Hamburg" if name == "Berlin store" else name: rule
        for name, rule in rich.inventory_by_location.items()
    }
    write_mapping(
        rich.model_copy(update={"inventory_by_location": located}), hub.erp_files[tenant.slug].mapping_file
    )
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("shopify_products")["failed"] == PRODUCTS
    assert tenant.emulator.product_count() == 0
    reasons = {e.reason for e in tenant.store().open_errors()}
    assert reasons == {"the shop has no active location named 'Hamburg'"}
