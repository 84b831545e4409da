"""erp_gateway through Dagster against the sandbox, for each ERP connector (Logo, Netsis, CSV files) and shop.

Beyond the contract every pipeline keeps (test_contract.py): polls write only what changed; the webhook fast
path (the inbox sensor's prioritised run for just the SKUs of the waiting deliveries); orders into the ERP
exactly once across a run killed after the ERP accepted an order; shipments back with tracking numbers; the
circuit breaker opening, skipping and closing; dead letters; mapping errors as record errors; schedules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import update

from connector_pipelines.clients.http import ApiClient
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.erp_gateway.recipe import ErpGatewayRecipe, ErpName, ShopName
from connector_pipelines.pipelines.erp_gateway.spec import SPEC
from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.runs import retry_records, run_tags, sync_run_config
from connector_pipelines.pipelines.triggers import PRIORITY_TAG
from connector_pipelines.runner import RunSummary, summarize
from connector_pipelines.sandbox.erp_csv import ErpCsvFolder
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.logo import LogoEmulator
from connector_pipelines.sandbox.netsis import NetsisEmulator
from connector_pipelines.sandbox.recipe import Catalog, register_tenant
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator
from connector_pipelines.sandbox.shopware6_orders import SandboxCustomer, SandboxLine, SandboxOrder
from connector_pipelines.sandbox.shopware6_schema import SYSTEM_LANGUAGE_ID
from connector_pipelines.sources.erp_gateway.logo import LogoConnector
from connector_pipelines.sources.erp_gateway.netsis import NetsisConnector
from connector_pipelines.store.models import SystemBreaker
from connector_pipelines.store.service import InboxDelivery, WebhookInboxRepository
from connector_pipelines.sync.breaker import breaker_states
from connector_pipelines.sync.erp_gateway import poll_due
from connector_pipelines.sync.erp_gateway_orders import ORDER_STAGE
from connector_pipelines.sync.erp_gateway_stock import STOCK_TOPIC
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import SandboxTenant

PIPELINE = "erp_gateway"
CONNECTORS: list[ErpName] = ["logo", "netsis", "erp_csv"]
ORDER_ERPS: list[ErpName] = ["logo", "netsis"]
SHOPS: list[ShopName] = ["shopware6", "shopify"]


@dataclass
class GatewayTenant(SandboxTenant):
    recipe: ErpGatewayRecipe

    @property
    def shopware(self) -> Shopware6Emulator:
        return self.hub.shopware[self.slug].emulator

    @property
    def logo(self) -> LogoEmulator:
        return self.hub.logo[self.slug].emulator

    @property
    def netsis(self) -> NetsisEmulator:
        return self.hub.netsis[self.slug].emulator

    @property
    def csv(self) -> ErpCsvFolder:
        return self.hub.erp_csv[self.slug]

    def run(self, job: str, mode: SyncMode = SyncMode.DELTA) -> RunSummary:
        """One run of one of the pipeline's jobs, as a schedule starts it."""
        result = defs.resolve_job_def(SPEC.job_name(job)).execute_in_process(
            instance=self.instance,
            partition_key=self.slug,
            run_config={**sync_run_config(mode), "loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            tags=run_tags(self.slug, mode.value, "test"),
            raise_on_error=False,
        )
        return summarize(result)

    def stock_of(self, sku: str) -> int:
        held = self.recipe.shop_of(self.hub, self.slug).held()
        return next(stock for code, stock, _ in held if code == sku)

    def erp_orders(self) -> list[str]:
        """The shop order number of every sales order in the ERP, as many times as it is there."""
        if self.recipe.erp == "logo":
            return [str(o["DOC_NUMBER"]) for o in self.logo.orders()]
        return [str(o["FatUst"]["EKACK1"]) for o in self.netsis.orders()]  # type: ignore[index,call-overload]

    def ship(self, shop_number: str, tracking: str) -> None:
        if self.recipe.erp == "logo":
            self.logo.ship(shop_number, tracking, "Yurtiçi Kargo")
        else:
            self.netsis.ship(shop_number, tracking, "Yurtiçi Kargo")

    def faults(self, config: FaultConfig) -> None:
        emulator = self.logo if self.recipe.erp == "logo" else self.netsis
        emulator.faults.configure(config)

    def place_order(self, number: str, skus: list[str], email: str = "ayse@example.com") -> str:
        """A paid order of two of each SKU; its number as the shop shows it (Shopify names its own)."""
        if self.recipe.shop == "shopify":
            shop = self.hub.shopify[self.slug]
            order = shop.emulator.create_order([(sku, 2) for sku in skus], email=email)
            with ShopifyClient(self.hub.base_url("shopify", self.slug), shop.access_token) as client:
                found = client.graphql("query OrderName($id: ID!) { order(id: $id) { name } }", {"id": order})
            return str(found["order"]["name"])
        self.shopware.add_order(
            SandboxOrder(
                order_number=number,
                customer=SandboxCustomer(email=email, first_name="Ayse", last_name="Yilmaz"),
                lines=tuple(
                    SandboxLine(product_number=s, quantity=2, unit_price=Decimal("11.90")) for s in skus
                ),
                currency_iso="EUR",
            )
        )
        return number

    def tracking_of(self, number: str) -> list[str]:
        """The tracking numbers the shop shows for an order (none: not shipped)."""
        if self.recipe.shop == "shopify":
            shop = self.hub.shopify[self.slug]
            query = (
                "query Tracking($q: String) { orders(first: 1, query: $q) { nodes { "
                "fulfillments { trackingInfo { number } } } } }"
            )
            with ShopifyClient(self.hub.base_url("shopify", self.slug), shop.access_token) as client:
                found = client.graphql(query, {"q": f"name:{number}"})
            [order] = found["orders"]["nodes"]
            return [t["number"] for f in order["fulfillments"] for t in f["trackingInfo"]]
        delivery = self.shopware.order(number)["deliveries"][0]  # type: ignore[index]
        shipped = delivery["stateMachineState"]["technicalName"] == "shipped"
        return list(delivery["trackingCodes"]) if shipped else []


def gateway_tenant(
    hub: SandboxHub,
    registry: TenantRegistry,
    erp: ErpName,
    shop: ShopName = "shopware6",
    *,
    items: int = 8,
    settings: dict[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> GatewayTenant:
    recipe = ErpGatewayRecipe(erp, shop)
    slug = "acme"
    recipe.add_accounts(hub, slug, Catalog(items, 1, seed=3))
    register_tenant(registry, recipe, hub.accounts(), slug, name="ACME")
    if settings:
        registry.update(slug, settings=settings)
    instance = instance if instance is not None else dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PIPELINE, [slug])
    return GatewayTenant(slug, hub, recipe, registry, instance)


@pytest.fixture(params=[(erp, shop) for erp in CONNECTORS for shop in SHOPS], ids="-".join)
def tenant(request: pytest.FixtureRequest, hub: SandboxHub, sqlite_registry: TenantRegistry) -> GatewayTenant:
    return gateway_tenant(hub, sqlite_registry, *request.param)


@pytest.fixture(params=[(erp, shop) for erp in ORDER_ERPS for shop in SHOPS], ids="-".join)
def order_tenant(
    request: pytest.FixtureRequest, hub: SandboxHub, sqlite_registry: TenantRegistry
) -> GatewayTenant:
    return gateway_tenant(hub, sqlite_registry, *request.param)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients retry at once: a system that keeps failing fails its calls without waiting."""
    monkeypatch.setattr(ApiClient, "backoff_delay", lambda self, attempt: 0.0)


def _ok(summary: RunSummary) -> RunSummary:
    assert summary.success, summary.error
    return summary


def _converged(tenant: GatewayTenant) -> None:
    report = tenant.convergence()
    assert report.converged, report.describe()


def _written(summary: RunSummary, asset: str) -> int:
    counts = summary.counts(asset)
    return int(counts.get("created", 0)) + int(counts.get("updated", 0)) + int(counts.get("deleted", 0))


# --- stock and prices by polling ----------------------------------------------------------------------------


def test_a_poll_writes_only_the_skus_whose_stock_or_price_changed(tenant: GatewayTenant) -> None:
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("shop_stock")["created"] + full.counts("shop_stock")["unchanged"] == 8
    assert all(full.checks.values()), full.checks
    _converged(tenant)

    quiet = _ok(tenant.run("stock_prices"))
    assert (_written(quiet, "shop_stock"), _written(quiet, "shop_prices")) == (0, 0)
    assert quiet.counts("shop_stock")["written"] == 0

    before = tenant.recipe.expected(tenant.hub, tenant.slug)
    assert tenant.recipe.change(tenant.hub, tenant.slug, fraction=0.4, seed=5)
    after = tenant.recipe.expected(tenant.hub, tenant.slug)
    stock_changed = [s for s in after if after[s].stock != before[s].stock]
    prices_changed = [s for s in after if after[s].price != before[s].price]
    assert stock_changed and prices_changed
    poll = _ok(tenant.run("stock_prices"))
    assert poll.counts("shop_stock")["updated"] == len(stock_changed)
    assert poll.counts("shop_prices")["updated"] == len(prices_changed)
    assert poll.counts("shop_stock")["written"] == len(stock_changed), "only the changed SKUs are sent"
    _converged(tenant)


def test_a_full_run_repairs_what_drifted_in_the_shop_and_skips_skus_the_shop_does_not_sell(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    _ok(tenant.sync(SyncMode.FULL))
    sku = tenant.csv.skus()[1]
    drift = [{"id": _product_id(tenant, sku), "stock": 999}]  # sold or edited in the shop meanwhile
    tenant.shopware.writer.sync(
        {"drift": {"entity": "product", "action": "upsert", "payload": drift}}, SYSTEM_LANGUAGE_ID
    )
    extra = tenant.csv.add_item(seed=9)  # an item the shop does not sell

    poll = _ok(tenant.run("stock_prices"))
    assert _written(poll, "shop_stock") == 0, "a poll trusts what it confirmed"
    assert poll.checks["shop_stock:stock_parity"] is False, "the sample (every SKU of 8) finds the drift"
    full = _ok(tenant.sync(SyncMode.FULL))
    # the SKU the shop does not sell is not sampled: the shop has nothing to compare
    assert full.checks["shop_stock:stock_parity"] is True
    stock = full.counts("shop_stock")
    assert stock["drifted"] == 1 and stock["updated"] == 1 and stock["written"] == 1
    assert stock["not_in_shop"] == 1 and stock["failed"] == 0
    assert tenant.stock_of(sku) == tenant.recipe.expected(hub, tenant.slug)[sku].stock
    assert tenant.store().count_open_errors() == 0, f"{extra} is no error: the shop does not sell it"


def _product_id(tenant: GatewayTenant, sku: str) -> str:
    return str(tenant.shopware.products_by_number()[sku]["id"])


def test_an_item_gone_from_the_erp_is_sold_out_in_the_shop_after_a_full_run(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    _ok(tenant.sync(SyncMode.FULL))
    sku = next(s for s, e in tenant.recipe.expected(hub, tenant.slug).items() if e.stock > 0)
    tenant.csv.delete_item(sku)
    _ok(tenant.run("stock_prices"))
    assert tenant.stock_of(sku) > 0, "a delta cannot tell a deletion"
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("shop_stock")["deleted"] == 1
    assert tenant.stock_of(sku) == 0
    _converged(tenant)


# --- the webhook fast path ----------------------------------------------------------------------------------


def _deliver(tenant: GatewayTenant, payload: dict[str, Any], topic: str = STOCK_TOPIC) -> None:
    now = datetime.now(UTC)
    delivery = InboxDelivery(
        tenant.registry.tenant_id(tenant.slug), "erp", topic, f"d-{now.timestamp()}", None, now, payload, now
    )
    with tenant.registry.db.engine.begin() as connection:
        WebhookInboxRepository.insert(connection, [delivery])


def _inbox_tick(tenant: GatewayTenant) -> list[dg.RunRequest]:
    sensor = defs.resolve_sensor_def(SPEC.job_name("erp_webhooks"))
    resources = {"connector_db": ConnectorDatabase(), "sync_run": SyncRun(mode="delta")}
    context = dg.build_sensor_context(
        instance=tenant.instance,
        instance_ref=tenant.instance.get_ref(),
        resources=resources,
        definitions=defs,
    )
    result = sensor.evaluate_tick(context)
    return list(result.run_requests or [])


@pytest.mark.parametrize(("erp", "shop"), [(erp, shop) for erp in CONNECTORS for shop in SHOPS])
def test_an_inventory_webhook_runs_ahead_for_just_its_skus(
    erp: ErpName, shop: ShopName, hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    """Through the inbox sensor (an instance with storage of its own: the sensor reads its partitions)."""
    with dg.instance_for_test() as instance:
        _webhook_fast_path(gateway_tenant(hub, sqlite_registry, erp, shop, instance=instance))


def _webhook_fast_path(tenant: GatewayTenant) -> None:
    _ok(tenant.sync(SyncMode.FULL))
    skus = tenant.recipe.erp_of(tenant.hub, tenant.slug).skus()
    moved, untouched = skus[2], skus[3]
    tenant.recipe.erp_of(tenant.hub, tenant.slug).set_stock(moved, 77)
    tenant.recipe.erp_of(tenant.hub, tenant.slug).set_stock(untouched, 55)  # no webhook: waits for the poll
    _deliver(tenant, {"event": STOCK_TOPIC, "id": "evt-1", "sku": moved, "quantity": 77})

    requests = _inbox_tick(tenant)
    assert [r.partition_key for r in requests] == [tenant.slug]
    request = requests[0]
    assert request.tags[PRIORITY_TAG] == "10" and request.tags["sync_type"] == "webhook"
    assert request.job_name == SPEC.job_name("stock_prices")
    result = defs.resolve_job_def(request.job_name).execute_in_process(
        instance=tenant.instance,
        partition_key=tenant.slug,
        run_config=request.run_config,
        tags=request.tags,
        raise_on_error=False,
    )
    run = _ok(summarize(result))
    assert run.counts("erp_stock")["webhook_skus"] == 1 and run.counts("erp_stock")["changed"] == 1
    assert run.counts("shop_stock")["written"] == 1
    assert tenant.stock_of(moved) == 77 and tenant.stock_of(untouched) != 55
    assert WebhookInboxRepository(tenant.registry.db).waiting_for("erp", (STOCK_TOPIC,)) == {}
    assert _inbox_tick(tenant) == [], "settled: nothing requested again"

    _ok(tenant.run("stock_prices"))
    assert tenant.stock_of(untouched) == 55, "the poll brings the rest"


def test_a_webhook_naming_no_sku_reads_what_changed(hub: SandboxHub, sqlite_registry: TenantRegistry) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    _ok(tenant.sync(SyncMode.FULL))
    sku = tenant.csv.skus()[0]
    tenant.csv.set_stock(sku, 123)
    _deliver(tenant, {"event": STOCK_TOPIC, "id": "evt-2"})
    run = _ok(tenant.run("stock_prices", SyncMode.WEBHOOK))
    assert run.counts("erp_stock")["changed"] == 1 and tenant.stock_of(sku) == 123


# --- orders into the ERP, shipments back --------------------------------------------------------------------


def test_orders_go_into_the_erp_exactly_once_across_a_killed_run(
    order_tenant: GatewayTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = order_tenant
    _ok(tenant.sync(SyncMode.FULL))  # the item cache the order lines are checked against
    skus = tenant.recipe.erp_of(tenant.hub, tenant.slug).skus()
    numbers = [
        tenant.place_order(f"1000{n}", [skus[n], skus[n + 1]], email=f"customer{n % 2}@example.com")
        for n in range(4)
    ]
    connector = LogoConnector if tenant.recipe.erp == "logo" else NetsisConnector
    posted = connector.post_order
    sent = []

    def dies_after_the_second(desk: Any, order: Any) -> Any:
        ref = posted(desk, order)
        sent.append(order.shop_order_number)
        if len(sent) == 2:
            raise RuntimeError("killed: the ERP took the order, the run never heard back")
        return ref

    with monkeypatch.context() as patched:
        patched.setattr(connector, "post_order", dies_after_the_second)
        died = tenant.run("orders")
    assert not died.success and "killed" in (died.error or "")
    assert sorted(tenant.erp_orders()) == sorted(sent) and len(sent) == 2

    again = _ok(tenant.run("orders"))
    counts = again.counts("orders_to_erp")
    assert (counts["created"], counts["found_in_erp"], counts["unchanged"]) == (2, 1, 1)
    assert sorted(tenant.erp_orders()) == sorted(numbers), "each order once, none twice"
    stats = tenant.logo.stats() if tenant.recipe.erp == "logo" else tenant.netsis.stats()
    assert stats.customers_created == 2, "one account per customer, found again for the next order"

    quiet = _ok(tenant.run("orders")).counts("orders_to_erp")
    assert (quiet["created"], quiet["found_in_erp"], quiet["unchanged"]) == (0, 0, 4)
    assert quiet["api_calls_" + tenant.recipe.erp] == 0, "orders on record are not looked up again"


def test_shipped_orders_come_back_as_fulfilments_with_their_tracking_numbers(
    order_tenant: GatewayTenant,
) -> None:
    tenant = order_tenant
    _ok(tenant.sync(SyncMode.FULL))
    skus = tenant.recipe.erp_of(tenant.hub, tenant.slug).skus()
    shipped_one = tenant.place_order("20001", [skus[0]])
    waiting_one = tenant.place_order("20002", [skus[1]])
    _ok(tenant.run("orders"))
    tenant.ship(shipped_one, "YK123456789")

    shipped = _ok(tenant.run("shipments")).counts("shipments_back")
    assert (shipped["fetched"], shipped["created"], shipped["failed"]) == (1, 1, 0)
    assert tenant.tracking_of(shipped_one) == ["YK123456789"]
    assert tenant.tracking_of(waiting_one) == []

    assert _ok(tenant.run("shipments")).counts("shipments_back")["created"] == 0, "each shipment once"


def test_an_order_with_an_item_the_erp_lacks_is_a_record_error_and_the_rest_go(
    order_tenant: GatewayTenant,
) -> None:
    tenant = order_tenant
    _ok(tenant.sync(SyncMode.FULL))
    skus = tenant.recipe.erp_of(tenant.hub, tenant.slug).skus()
    tenant.recipe.shop_of(tenant.hub, tenant.slug).seed(["NOT-IN-ERP"])  # sold, but no ERP item
    refused = tenant.place_order("30001", [skus[0], "NOT-IN-ERP"])
    taken = tenant.place_order("30002", [skus[1]])
    run = _ok(tenant.run("orders")).counts("orders_to_erp")
    assert (run["created"], run["failed"]) == (1, 1)
    [error] = tenant.store().open_errors(ORDER_STAGE)
    assert error.record_key == f"order:{refused}" and "NOT-IN-ERP" in error.reason
    assert error.payload["number"] == refused, "the order waits with its payload"
    assert tenant.erp_orders() == [taken]


def test_the_csv_connector_takes_no_orders_and_says_so(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    run = _ok(tenant.run("orders"))
    assert "cannot take orders" in run.counts("orders_to_erp")["not_supported"]
    assert run.checks["orders_to_erp:order_backlog_age"]


# --- the circuit breaker ------------------------------------------------------------------------------------


def test_the_breaker_opens_after_three_failures_skips_the_erp_and_closes_after_a_probe(
    order_tenant: GatewayTenant, no_backoff: None
) -> None:
    tenant = order_tenant
    erp = tenant.recipe.erp
    _ok(tenant.sync(SyncMode.FULL))
    tenant.faults(FaultConfig(rate_5xx=1.0))
    failed = 0
    while not any(s.state == "open" for s in breaker_states(tenant.store())):
        assert not tenant.run("stock_prices").success
        failed += 1
        assert failed <= 3, "three consecutive connection failures open it"

    skipped = _ok(tenant.run("stock_prices"))
    assert "circuit breaker open" in skipped.counts("erp_stock")["skipped"]
    assert skipped.checks["erp_stock:system_available"] is False
    assert skipped.checks["erp_stock:breaker_state"] is False
    assert skipped.checks["shop_stock:system_available"] is True, "the shop is still used"

    tenant.faults(FaultConfig())
    with tenant.registry.db.session() as session:  # the cool-down has passed
        session.execute(update(SystemBreaker).values(retry_at=datetime.now(UTC) - timedelta(seconds=1)))
    probed = _ok(tenant.run("stock_prices"))
    assert "skipped" not in probed.counts("erp_stock")
    assert probed.checks["erp_stock:system_available"] and probed.checks["erp_stock:breaker_state"]
    assert [s.state for s in breaker_states(tenant.store()) if s.system == erp] == ["closed"]


# --- dead letters and record errors -------------------------------------------------------------------------


def test_a_stock_record_the_shop_keeps_refusing_becomes_a_dead_letter_until_retried(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    tenant.recipe.reject_one(hub, tenant.slug)  # its stock only: its price is in the shop already
    assert _ok(tenant.sync(SyncMode.FULL)).counts("shop_stock")["failed"] == 1
    for attempt in range(2, 6):
        run = _ok(tenant.run("stock_prices"))
        assert run.counts("shop_stock")["failed"] == 1, attempt
    [dead] = tenant.store().open_errors(dead=True)
    assert dead.attempts == 5 and dead.stage == "shop_stock"

    sixth = _ok(tenant.run("stock_prices"))
    assert sixth.counts("shop_stock")["failed"] == 0 and sixth.counts("shop_stock")["dead_letters"] == 1
    assert sixth.checks["shop_stock:dead_letters"] is False

    tenant.recipe.clear_faults(hub, tenant.slug)
    store = tenant.store()
    retry_records(store, [dead.record_key])
    assert store.rearm_errors([dead.record_key]) == 1
    retried = _ok(tenant.run("stock_prices"))
    assert retried.counts("shop_stock")["created"] == 1 and retried.checks["shop_stock:dead_letters"]
    assert tenant.store().count_open_errors() == 0
    _converged(tenant)


def test_an_order_the_erp_keeps_refusing_becomes_a_dead_letter(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "logo")
    _ok(tenant.sync(SyncMode.FULL))
    tenant.place_order("40001", [tenant.logo.skus()[0]])
    tenant.logo.reject_next_order("Stok karti kilitli.", times=5)
    for _ in range(5):
        assert _ok(tenant.run("orders")).counts("orders_to_erp")["failed"] == 1
    [dead] = tenant.store().open_errors(ORDER_STAGE, dead=True)
    assert dead.record_key == "order:40001" and "kilitli" in dead.reason
    rejected = tenant.logo.stats().orders_rejected
    assert _ok(tenant.run("orders")).counts("orders_to_erp")["failed"] == 0
    assert tenant.logo.stats().orders_rejected == rejected and tenant.erp_orders() == [], "left alone"
    backlog = _ok(tenant.run("orders")).checks["orders_to_erp:order_backlog_age"]
    assert backlog is True, "placed a moment ago: not yet too old"

    tenant.store().rearm_errors([dead.record_key])
    assert _ok(tenant.run("orders")).counts("orders_to_erp")["created"] == 1
    assert tenant.erp_orders() == ["40001"] and tenant.store().count_open_errors() == 0


def test_rows_the_mapping_cannot_read_are_record_errors_and_the_rest_goes_through(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    bad = tenant.csv.skus()[2]
    tenant.csv.break_stock(bad, "yedi")
    full = _ok(tenant.sync(SyncMode.FULL))
    assert full.counts("erp_stock")["failed"] == 1 and full.counts("erp_stock")["fetched"] == 7
    [error] = tenant.store().open_errors("erp_stock")
    assert error.record_key == f"stock:{bad}" and "stock" in error.reason
    assert full.checks["shop_prices:open_record_errors"] is False
    _converged(tenant)

    tenant.csv.mend()
    _ok(tenant.run("stock_prices"))
    assert tenant.store().count_open_errors() == 0
    _converged(tenant)


# --- schedules ----------------------------------------------------------------------------------------------


def test_the_poll_is_due_at_each_tenants_own_interval(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    with dg.instance_for_test() as instance:
        settings = {"erp_csv": {"poll_interval_minutes": 15}}
        _poll_schedule(gateway_tenant(hub, sqlite_registry, "erp_csv", settings=settings, instance=instance))


def _poll_schedule(tenant: GatewayTenant) -> None:
    info = tenant.registry.get(tenant.slug)
    ticks = [datetime(2026, 7, 1, 10, minute, tzinfo=UTC) for minute in range(60)]
    assert [t.minute for t in ticks if poll_due(info, t)] == [0, 15, 30, 45]

    schedule = defs.resolve_schedule_def(SPEC.job_name("stock_prices_poll"))
    resources = {"connector_db": ConnectorDatabase()}

    def requested(minute: int) -> list[str]:
        context = dg.build_schedule_context(
            instance=tenant.instance,
            instance_ref=tenant.instance.get_ref(),
            repository_def=defs.get_repository_def(),
            scheduled_execution_time=datetime(2026, 7, 1, 10, minute, tzinfo=UTC),
            resources=resources,
        )
        return [r.partition_key or "" for r in schedule.evaluate_tick(context).run_requests or []]

    assert requested(30) == [tenant.slug] and requested(31) == []


def test_a_tenant_needs_the_settings_of_exactly_one_erp(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    tenant = gateway_tenant(hub, sqlite_registry, "erp_csv")
    sqlite_registry.update(
        tenant.slug,
        settings={
            "netsis": {
                "base_url": "http://127.0.0.1:1",
                "dbname": "X",
                "warehouse_code": "1",
                "price_list_code": "W",
            }
        },
    )
    run = tenant.run("stock_prices")
    assert not run.success
    assert (
        "expected settings for exactly one ERP of the pipeline (logo, netsis, erp_csv), found netsis, erp_csv"
        in (run.error or "")
    )
