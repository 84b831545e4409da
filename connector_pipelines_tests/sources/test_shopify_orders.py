"""Shopify orders for the ERP gateway, against the emulator over HTTP: paid orders since a cursor as canonical
records (lines past the first page, guests, cancelled and unpaid orders), and shipments written back as
fulfillments with tracking numbers (idempotent, per-record failures)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings
from connector_pipelines.sources.erp_gateway.connector import Shipment
from connector_pipelines.sources.shop_orders import ShopOrder, order_input
from connector_pipelines.sources.shopify_orders import ShopifyOrders

TOKEN = "shpat_sandbox_token"
SEEDED_UNTIL = datetime(2020, 2, 1, tzinfo=UTC)  # seeded orders are placed in January 2020


@pytest.fixture
def emulator() -> ShopifyEmulator:
    shop = ShopifyEmulator(ShopifySettings(seed_start=1_577_836_800.0, seed_span_days=30))
    shop.seed(products=10, variants=2, customers=5, orders=12, lines=3, seed=7)
    return shop


@pytest.fixture
def served(emulator: ShopifyEmulator) -> Iterator[EmulatorServer]:
    server = emulator.serve()
    yield server
    server.stop()


@pytest.fixture
def orders(served: EmulatorServer) -> Iterator[ShopifyOrders]:
    with ShopifyClient(served.base_url, TOKEN) as client:
        yield ShopifyOrders(client)


def read(orders: ShopifyOrders, cursor: datetime | None = None) -> dict[str, ShopOrder]:
    found = list(orders.paid_orders_since(cursor))
    assert all(isinstance(o, ShopOrder) for o in found), found
    return {o.number: o for o in found if isinstance(o, ShopOrder)}


ORDER = """
query TestOrder($id: ID!) { order(id: $id) { name fulfillments { id trackingInfo { number company } } } }"""


def order_of(orders: ShopifyOrders, gid: str) -> dict[str, Any]:
    order: dict[str, Any] = orders.client.graphql(ORDER, {"id": gid})["order"]
    return order


def name_of(orders: ShopifyOrders, gid: str) -> str:
    return str(order_of(orders, gid)["name"])


def ship(number: str, tracking: str | None = "TRK-1", carrier: str | None = "DHL") -> Shipment:
    return Shipment(
        shop_order_number=number,
        erp_order_number=f"E-{number}",
        dispatch_number="D-1",
        tracking_number=tracking,
        carrier=carrier,
    )


# -- paid orders --------------------------------------------------------------------------------------------


def test_paid_orders_become_canonical_orders(emulator: ShopifyEmulator, orders: ShopifyOrders) -> None:
    customer = emulator.create_customer(
        email="erika@example.com",
        first_name="Erika",
        last_name="M",
        address={"city": "Berlin", "country_code": "DE"},
    )
    placed = emulator.create_order(
        [("SKU-000001-01", 2), ("SKU-000002-02", 1)], customer=customer, shipping="4.90"
    )

    order = read(orders, SEEDED_UNTIL)[name_of(orders, placed)]

    assert order.number.startswith("#") and order.id == placed and order.currency == "EUR"
    assert order.customer.key == f"shopify:customer:{customer.rsplit('/', 1)[-1]}"
    assert order.customer.email == "erika@example.com" and order.customer.billing is not None
    assert order.customer.billing.city == "Berlin" and order.customer.billing.country_code == "DE"
    assert [(line.sku, line.quantity) for line in order.lines] == [
        ("SKU-000001-01", Decimal(2)),
        ("SKU-000002-02", Decimal(1)),
    ]
    assert order.prices_include_vat is False  # the emulated shop keeps prices without tax
    assert all(line.vat_rate == Decimal(19) for line in order.lines)
    assert order.shipping == Decimal("4.90")
    goods = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    assert order.total == (goods * Decimal("1.19")).quantize(Decimal("0.01")) + order.shipping
    erp = order_input(order, "C-1", erp_prices_include_vat=True)
    assert erp.lines[0].unit_price == (order.lines[0].unit_price * Decimal("1.19")).quantize(
        Decimal("0.0001")
    )


def test_the_cursor_returns_what_changed_since(emulator: ShopifyEmulator, orders: ShopifyOrders) -> None:
    everything = read(orders)
    placed = emulator.create_order([("SKU-000003-01", 1)], email="new@example.com")

    since = read(orders, SEEDED_UNTIL)

    assert set(since) == {name_of(orders, placed)}
    assert len(everything) >= 1 and name_of(orders, placed) not in everything
    assert since[name_of(orders, placed)].customer.key == "shopify:guest:new@example.com"


def test_an_order_counts_once_it_is_paid_and_not_when_cancelled(
    emulator: ShopifyEmulator, orders: ShopifyOrders
) -> None:
    pending = emulator.create_order([("SKU-000004-01", 1)], email="p@example.com", financial_status="PENDING")
    cancelled = emulator.create_order([("SKU-000005-01", 1)], email="c@example.com")
    emulator.cancel_order(cancelled)

    assert read(orders, SEEDED_UNTIL) == {}

    emulator.pay_order(pending)
    assert set(read(orders, SEEDED_UNTIL)) == {name_of(orders, pending)}


def test_lines_past_the_first_page_are_read_on(emulator: ShopifyEmulator, orders: ShopifyOrders) -> None:
    lines = [(f"SKU-{p:06d}-{v:02d}", 1) for p in range(1, 11) for v in (1, 2)][:17]
    placed = emulator.create_order(lines, email="big@example.com")

    order = read(orders, SEEDED_UNTIL)[name_of(orders, placed)]

    assert [line.sku for line in order.lines] == [sku for sku, _ in lines]


# -- shipments ----------------------------------------------------------------------------------------------


def test_an_order_fulfilled_already_is_not_fulfilled_again(
    emulator: ShopifyEmulator, orders: ShopifyOrders
) -> None:
    placed = emulator.create_order([("SKU-000001-01", 1)], email="a@example.com")
    emulator.fulfil_order(placed, tracking_number="OLD-1")
    number = name_of(orders, placed)

    (result,) = orders.mark_shipped([ship(number)])

    assert (result.order_number, result.outcome, result.ok) == (number, "already_shipped", True)
    assert (
        len(
            emulator.shop().commerce.fulfillments_of(
                emulator.shop().commerce.orders[int(placed.rsplit("/", 1)[-1])]
            )
        )
        == 1
    )


def test_unknown_and_cancelled_orders_fail_alone(emulator: ShopifyEmulator, orders: ShopifyOrders) -> None:
    cancelled = emulator.create_order([("SKU-000001-01", 1)], email="a@example.com")
    emulator.cancel_order(cancelled)
    done = emulator.create_order([("SKU-000001-02", 1)], email="b@example.com")
    emulator.fulfil_order(done)

    results = orders.mark_shipped(
        [ship("#99999"), ship(name_of(orders, cancelled)), ship(name_of(orders, done))]
    )

    assert [(r.outcome, r.ok) for r in results] == [
        ("not_found", False),
        ("failed", False),
        ("already_shipped", True),
    ]
    assert results[1].error == "the order is cancelled"


def test_a_shipment_becomes_a_fulfillment_with_its_tracking_number(
    emulator: ShopifyEmulator, orders: ShopifyOrders
) -> None:
    first = emulator.create_order([("SKU-000001-01", 1), ("SKU-000002-01", 2)], email="a@example.com")
    second = emulator.create_order([("SKU-000003-01", 1)], email="b@example.com")

    results = orders.mark_shipped(
        [ship(name_of(orders, first)), ship(name_of(orders, second), "TRK-2", None)]
    )

    assert [(r.outcome, r.ok) for r in results] == [("shipped", True), ("shipped", True)]
    tracking = [f["trackingInfo"] for f in order_of(orders, first)["fulfillments"]]
    assert tracking == [[{"number": "TRK-1", "company": "DHL"}]]
    assert [f["trackingInfo"][0]["number"] for f in order_of(orders, second)["fulfillments"]] == ["TRK-2"]


def test_shipping_again_creates_no_second_fulfillment(
    emulator: ShopifyEmulator, orders: ShopifyOrders
) -> None:
    placed = emulator.create_order([("SKU-000001-01", 1)], email="a@example.com")
    number = name_of(orders, placed)
    orders.mark_shipped([ship(number)])

    (again,) = orders.mark_shipped([ship(number)])

    assert again.outcome == "already_shipped"
    assert len(order_of(orders, placed)["fulfillments"]) == 1


def test_two_parcels_of_one_order_are_one_fulfillment_with_both_numbers(
    emulator: ShopifyEmulator, orders: ShopifyOrders
) -> None:
    placed = emulator.create_order([("SKU-000001-01", 2)], email="a@example.com")
    number = name_of(orders, placed)

    results = orders.mark_shipped([ship(number, "P-1"), ship(number, "P-2")])

    assert [r.outcome for r in results] == ["shipped", "shipped"]
    (fulfillment,) = order_of(orders, placed)["fulfillments"]
    assert [t["number"] for t in fulfillment["trackingInfo"]] == ["P-1", "P-2"]
