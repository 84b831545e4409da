"""shopify_ingestion's webhooks, end to end: the Shopify emulator delivers to the connector service, which
verifies and stores them; the inbox sensor requests a run; the run applies them. Forged deliveries and
deliveries for unknown or removed shops never reach the tables; replays and late deliveries change nothing;
the privacy topics export, redact and shred; and no plaintext personal data is left in the database, the
logs or the run's metadata."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
from fastapi.testclient import TestClient

from connector_pipelines.catalog.commerce import CustomerPii
from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.shopify_ingestion.spec import SPEC
from connector_pipelines.runner import RunSummary, run_sync
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.sandbox.shopify_rest_payloads import customer_json, order_json
from connector_pipelines.service.app import create_app
from connector_pipelines.service.settings import ServiceSettings
from connector_pipelines.store.service import WebhookInboxRepository
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.shopify_ingestion import ingestion_repository
from connector_pipelines.sync.shopify_webhooks import export_path, forget_tenant
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant, sandbox_tenant

PIPELINE = "shopify_ingestion"


@dataclass
class Setup:
    tenant: SandboxTenant
    service: TestClient
    database_url: str

    @property
    def emulator(self) -> ShopifyEmulator:
        return self.tenant.hub.shopify[self.tenant.slug].emulator

    @property
    def secret(self) -> str:
        return self.tenant.hub.accounts()["shopify"][self.tenant.slug]["app_secret"]

    def sync(self, mode: SyncMode) -> RunSummary:
        summary = run_sync(self.tenant.slug, PIPELINE, mode, instance=self.tenant.instance)
        assert summary.success, summary.error
        return summary

    def post(
        self,
        topic: str,
        payload: dict[str, Any],
        delivery: str,
        *,
        secret: str | None = None,
        shop: str | None = None,
        fired: str = "2026-07-01T12:00:00Z",
    ) -> int:
        body = orjson.dumps(payload)
        digest = hmac.new((secret or self.secret).encode(), body, hashlib.sha256).digest()
        response = self.service.post(
            "/webhooks/shopify",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
                "X-Shopify-Shop-Domain": shop or f"{self.tenant.slug}.myshopify.com",
                "X-Shopify-Webhook-Id": delivery,
                "X-Shopify-Event-Id": f"event-{delivery}",
                "X-Shopify-Triggered-At": fired,
            },
        )
        return int(response.status_code)


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture
def setup(
    hub: SandboxHub, sqlite_registry: TenantRegistry, tmp_path: Path, refused_url: str
) -> Iterator[Setup]:
    """A tenant on its own seeded shop, backfilled, and the connector service on the same database."""
    tenant = sandbox_tenant(hub, sqlite_registry, PIPELINE, catalog=Catalog(4, 2, seed=11))
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    app = create_app(ServiceSettings(database_url=url, dagster_url=refused_url, secrets_ttl_s=0))
    with TestClient(app) as client:
        made = Setup(tenant, client, url)
        made.sync(SyncMode.FULL)
        yield made


def test_the_emulator_delivers_to_the_service_and_a_run_applies_the_webhooks(setup: Setup) -> None:
    app = create_app(ServiceSettings(database_url=setup.database_url, secrets_ttl_s=0))
    services = app.state.services
    services.inbox.start()
    server = EmulatorServer(app, name="service").start()
    try:
        emulator = setup.emulator
        for topic in (
            "customers/create",
            "customers/update",
            "orders/updated",
            "products/update",
            "products/delete",
        ):
            emulator.subscribe_webhook(topic, f"{server.base_url}/webhooks/shopify")
        created = emulator.create_customer(email="new.buyer@example.com", first_name="Nora", last_name="Neu")
        emulator.change_sample("orders", 0.25, seed=3)
        emulator.change_sample("products", 0.5, seed=3)
        doomed = max(emulator.shop().products)
        emulator.delete_product(f"gid://shopify/Product/{doomed}")
        emulator.wait_for_webhooks()
    finally:
        server.stop()
        services.inbox.stop()  # what the app's lifespan does when it ends
        services.dagster.close()
        services.db.dispose()
    attempts = emulator.webhook_attempts()
    assert attempts and all(a.status == 200 for a in attempts)

    tick = _inbox_tick(setup)
    assert [r.partition_key for r in tick.run_requests or []] == [setup.tenant.slug]

    applied = setup.sync(SyncMode.WEBHOOK)
    assert applied.counts("shopify_customers")["created"] == 1
    assert applied.counts("shopify_products")["deleted"] == 1
    assert applied.counts("shopify_orders")["updated"] > 0
    report = setup.tenant.convergence()
    assert report.converged, report.describe()
    assert (
        WebhookInboxRepository(setup.tenant.registry.db).waiting_for("shopify", SPEC.inboxes[0].topics) == {}
    )
    assert ingestion_repository().find_customers_by_email(setup.tenant.slug, "NEW.buyer@example.com") == [
        int(created.rsplit("/", 1)[1])
    ]


def _inbox_tick(setup: Setup) -> dg.SensorResult:
    resources = {
        "connector_db": ConnectorDatabase(url=setup.database_url),
        "sync_run": SyncRun(mode="webhook"),
    }
    definitions = dg.Definitions.merge(build_pipeline(SPEC).definitions, dg.Definitions(resources=resources))
    sensor = definitions.resolve_sensor_def(SPEC.job_name(SPEC.inboxes[0].name))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PIPELINE, [setup.tenant.slug])
        context = dg.build_sensor_context(
            instance=instance, instance_ref=instance.get_ref(), resources=resources, definitions=definitions
        )
        return sensor.evaluate_tick(context)  # type: ignore[return-value]


def _customer(setup: Setup, **changes: Any) -> dict[str, Any]:
    shop = setup.emulator.shop()
    with shop.lock:
        payload = customer_json(shop, shop.commerce.customers[min(shop.commerce.customers)])
    return {**payload, **changes}


def test_forged_and_unknown_shop_deliveries_never_reach_the_tables(setup: Setup) -> None:
    before = setup.tenant.recipe.target_state(setup.tenant.hub, setup.tenant.slug)
    payload = _customer(setup, first_name="Mallory", updated_at="2030-01-01T00:00:00Z")
    assert setup.post("customers/update", payload, "forged-1", secret="not-the-app-secret") == 401
    assert setup.post("customers/update", payload, "forged-2", shop="elsewhere.myshopify.com") == 404
    applied = setup.sync(SyncMode.WEBHOOK)
    assert applied.counts("shopify_customers")["deliveries"] == 0
    assert setup.tenant.recipe.target_state(setup.tenant.hub, setup.tenant.slug) == before


def test_replayed_and_late_deliveries_change_nothing(setup: Setup) -> None:
    newer = _customer(setup, first_name="Second", updated_at="2030-01-02T00:00:00Z")
    older = _customer(setup, first_name="First", updated_at="2030-01-01T00:00:00Z")
    assert setup.post("customers/update", newer, "d-2") == 200
    assert setup.post("customers/update", newer, "d-2") == 200  # Shopify's retry: stored once
    first = setup.sync(SyncMode.WEBHOOK).counts("shopify_customers")
    assert (first["deliveries"], first["updated"]) == (1, 1)

    assert setup.post("customers/update", older, "d-1") == 200  # out of order: fired before d-2
    assert setup.post("customers/update", newer, "d-3") == 200  # the same payload, delivered again
    late = setup.sync(SyncMode.WEBHOOK).counts("shopify_customers")
    assert (late["deliveries"], late["updated"], late["skipped_older"], late["unchanged"]) == (2, 0, 1, 1)
    customer = next(
        c for c in ingestion_repository().iter_customers(setup.tenant.slug) if c.id == newer["id"]
    )
    assert customer.pii.first_name == "Second"


def test_a_delete_webhook_leaves_a_tombstone_a_late_update_cannot_undo(setup: Setup) -> None:
    shop = setup.emulator.shop()
    with shop.lock:
        order = order_json(shop, shop.commerce.orders[min(shop.commerce.orders)])
    assert setup.post("orders/delete", {"id": order["id"]}, "del-1", fired="2030-01-01T00:00:00Z") == 200
    assert setup.post("orders/updated", order, "upd-1") == 200  # delivered late, fired before the delete
    applied = setup.sync(SyncMode.WEBHOOK).counts("shopify_orders")
    assert applied["deleted"] == 1 and applied["updated"] == 0
    assert order["id"] not in set(ingestion_repository().iter_ids(setup.tenant.slug, "orders"))


def test_privacy_webhooks_export_redact_and_shred(setup: Setup) -> None:
    slug = setup.tenant.slug
    repo = ingestion_repository()
    customer = _customer(setup)
    ident = int(customer["id"])
    request = {"shop_domain": f"{slug}.myshopify.com", "customer": {"id": ident}, "data_request": {"id": 77}}
    assert setup.post("customers/data_request", request, "priv-1") == 200
    applied = setup.sync(SyncMode.WEBHOOK)
    exported = export_path(slug, ident, "77")
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    assert orjson.loads(exported.read_bytes())["customer"]["pii"]["email"] == customer["email"]
    assert applied.counts("shopify_customers")["privacy"][0]["exported"] is True

    redact = {"shop_domain": f"{slug}.myshopify.com", "customer": {"id": ident}, "orders_to_redact": []}
    assert setup.post("customers/redact", redact, "priv-2") == 200
    setup.sync(SyncMode.WEBHOOK)
    assert not exported.exists()
    redacted = next(c for c in repo.iter_customers(slug) if c.id == ident)
    assert redacted.pii == CustomerPii() and redacted.addresses == ()
    assert [(r.scope, r.customer_id) for r in repo.redactions(slug)] == [("customer", ident)]

    assert setup.post("shop/redact", {"shop_domain": f"{slug}.myshopify.com"}, "priv-3") == 200
    shredded = setup.sync(SyncMode.WEBHOOK).counts("shopify_customers")
    assert shredded["privacy"][0]["topic"] == "shop/redact"
    assert repo.count(slug, "orders") == 0 and repo.count(slug, "customers") == 0
    assert [r.scope for r in repo.redactions(slug)] == ["customer", "tenant"]


def test_a_removed_tenant_is_shredded_and_its_shop_refused(setup: Setup) -> None:
    slug = setup.tenant.slug
    record = forget_tenant(slug)
    setup.tenant.registry.remove(slug)
    assert record.reason == "tenant removed" and record.data_key_id
    assert setup.post("customers/update", _customer(setup), "after-removal") == 404
    repo = ingestion_repository()
    assert repo.count(slug, "customers", include_deleted=True) == 0
    assert repo.count(slug, "orders", include_deleted=True) == 0


def test_no_plaintext_personal_data_in_the_database_logs_or_metadata(
    setup: Setup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    assert setup.post("customers/update", _customer(setup, updated_at="2030-01-01T00:00:00Z"), "pii-1") == 200
    summary = setup.sync(SyncMode.WEBHOOK)
    shop = setup.emulator.shop()
    with shop.lock:
        personal = {
            value
            for c in shop.commerce.customers.values()
            for value in (
                c.email,
                c.phone,
                f"{c.first_name} {c.last_name}",
                c.last_name,
                *(a.address1 for a in c.addresses),
            )
            if value and len(value) >= 5
        }
    assert personal
    with sqlite3.connect(tmp_path / "connector.db") as conn:
        dump = "\n".join(conn.iterdump())  # the inbox included: the service seals what it stores
    runs = "\n".join(setup.tenant.event_log_text(run_id) for run_id in (summary.run_id,))
    everything = {"database": dump, "run events": runs, "logs": caplog.text}
    leaks = {where: sorted(v for v in personal if v in text) for where, text in everything.items()}
    assert leaks == {"database": [], "run events": [], "logs": []}
    assert "shopify_customers" in dump.lower() or "shopify_customers" in runs
