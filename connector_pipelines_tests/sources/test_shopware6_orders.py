"""Shopware orders for the ERP gateway, against the emulator over HTTP: paid orders since a cursor as
canonical records (VAT basis, customers, discounts, payments turning paid later), bad orders as record
errors, and shipments written back (tracking codes, the ship transition, idempotence, per-record failures)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connector_pipelines.clients.shopware6 import Shopware6Client
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopware6 import SandboxOrder, Shopware6Emulator
from connector_pipelines.sandbox.shopware6_order_schema import MACHINES, TRANSACTION_STATE
from connector_pipelines.sandbox.shopware6_orders import SandboxAddress, SandboxCustomer, SandboxLine
from connector_pipelines.sandbox.shopware6_schema import SYSTEM_LANGUAGE_ID, seed_id
from connector_pipelines.sources.erp_gateway.connector import Shipment
from connector_pipelines.sources.shop_orders import ShopOrder, ShopOrderError, order_input
from connector_pipelines.sources.shopware6_orders import Shopware6Orders

NOW = datetime.now(UTC)
TEE = SandboxLine(product_number="TEE", quantity=2, unit_price=Decimal("11.90"))
BOOK = SandboxLine(product_number="BOOK", unit_price=Decimal("10.70"), tax_rate=Decimal(7))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Shopware6Emulator, EmulatorServer]]:
    emulator = Shopware6Emulator()
    with emulator.serve() as server:
        yield emulator, server


@pytest.fixture
def emulator(served: tuple[Shopware6Emulator, EmulatorServer]) -> Shopware6Emulator:
    served[0].reset()
    served[0].reset_stats()
    return served[0]


@pytest.fixture
def orders(
    served: tuple[Shopware6Emulator, EmulatorServer], emulator: Shopware6Emulator
) -> Iterator[Shopware6Orders]:
    settings = emulator.settings
    with Shopware6Client(served[1].base_url, settings.client_id, settings.client_secret) as client:
        yield Shopware6Orders(client)


def place(emulator: Shopware6Emulator, number: str, *, days_ago: int = 0, **fields: object) -> str:
    spec = SandboxOrder.model_validate(
        {"order_number": number, "lines": (TEE,), "ordered_at": NOW - timedelta(days=days_ago), **fields}
    )
    return emulator.add_order(spec)


def read(orders: Shopware6Orders, cursor: datetime | None = None) -> dict[str, ShopOrder]:
    found = list(orders.paid_orders_since(cursor))
    assert all(isinstance(o, ShopOrder) for o in found), found
    return {o.number: o for o in found if isinstance(o, ShopOrder)}


def ship(number: str, tracking: str | None = "TRK-1") -> Shipment:
    return Shipment(
        shop_order_number=number,
        erp_order_number=f"E-{number}",
        dispatch_number="D-1",
        tracking_number=tracking,
    )


# -- paid orders --------------------------------------------------------------------------------------------


def test_paid_orders_become_canonical_orders(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    place(
        emulator,
        "1001",
        lines=(TEE, BOOK),
        customer=SandboxCustomer(
            customer_id=seed_id("customer:erika"), company="Muster GmbH", vat_ids=("DE1",)
        ),
        shipping=SandboxAddress(street="Lager 5", city="Hamburg", zipcode="20095"),
        customer_comment="ring twice",
    )
    place(emulator, "1002", paid=False)

    (order,) = read(orders).values()

    assert (order.number, order.currency, order.prices_include_vat, order.note) == (
        "1001",
        "EUR",
        True,
        "ring twice",
    )
    assert [(line.sku, line.quantity, line.unit_price, line.vat_rate) for line in order.lines] == [
        ("TEE", Decimal(2), Decimal("11.9"), Decimal(19)),
        ("BOOK", Decimal(1), Decimal("10.7"), Decimal(7)),
    ]
    assert (order.shipping, order.shipping_vat_rate, order.total) == (
        Decimal("4.9"),
        Decimal(19),
        Decimal("39.4"),
    )
    customer = order.customer
    assert customer.key == f"shopware6:customer:{seed_id('customer:erika')}"
    assert (customer.company, customer.tax_id, customer.email) == ("Muster GmbH", "DE1", "erika@example.com")
    assert (
        customer.billing is not None
        and customer.billing.city == "Berlin"
        and customer.billing.country_code == "DE"
    )
    assert customer.shipping is not None and customer.shipping.line1 == "Lager 5"


def test_a_net_order_says_its_prices_exclude_vat(
    emulator: Shopware6Emulator, orders: Shopware6Orders
) -> None:
    place(emulator, "1", tax_status="net")
    place(emulator, "2", tax_status="tax-free")

    found = read(orders)

    assert not found["1"].prices_include_vat and found["1"].lines[0].vat_rate == 19
    assert found["1"].total == Decimal("34.15")
    assert not found["2"].prices_include_vat and found["2"].lines[0].vat_rate == 0
    erp = order_input(found["1"], "C1", erp_prices_include_vat=True)
    assert erp.lines[0].unit_price == Decimal("14.1610")  # 11.90 net + 19 %


def test_a_guest_is_known_by_the_e_mail_address(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    place(emulator, "1", customer=SandboxCustomer(email="Guest@Example.com"))

    assert read(orders)["1"].customer.key == "shopware6:guest:guest@example.com"


def test_the_cursor_follows_orders_and_payments(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    place(emulator, "old-paid", days_ago=30)
    unpaid = place(emulator, "old-unpaid", days_ago=30, paid=False)
    place(emulator, "new", days_ago=1)
    cursor = NOW - timedelta(days=10)

    assert set(read(orders, cursor)) == {"new"}
    assert set(read(orders)) == {"old-paid", "new"}

    payment = next(iter(emulator.store.referencing("order_transaction", "orderId", unpaid)))
    emulator.transition("order_transaction", payment, "pay")

    after = read(orders, cursor)
    assert set(after) == {"new", "old-unpaid"}
    assert after["old-unpaid"].updated_at > cursor > after["old-unpaid"].created_at


def test_the_latest_payment_decides(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    order_id = place(emulator, "1", days_ago=2)
    retry = {
        "id": seed_id("retry"),
        "orderId": order_id,
        "paymentMethodId": seed_id("payment-method:invoice"),
        "stateId": MACHINES[TRANSACTION_STATE].state_id("open"),
        "amount": {
            "unitPrice": 28.7,
            "totalPrice": 28.7,
            "quantity": 1,
            "calculatedTaxes": [],
            "taxRules": [],
        },
    }
    emulator.writer.sync(
        {"t": {"entity": "order_transaction", "action": "upsert", "payload": [retry]}}, SYSTEM_LANGUAGE_ID
    )

    assert read(orders) == {}


def test_promotions_are_an_order_level_discount(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    order_id = place(emulator, "1")
    promotion = {
        "orderId": order_id,
        "identifier": "promo",
        "type": "promotion",
        "label": "5 EUR off",
        "quantity": 1,
        "position": 2,
        "states": [],
        "price": {
            "unitPrice": -5.0,
            "totalPrice": -5.0,
            "quantity": 1,
            "calculatedTaxes": [],
            "taxRules": [],
        },
    }
    emulator.writer.sync(
        {"l": {"entity": "order_line_item", "action": "upsert", "payload": [promotion]}}, SYSTEM_LANGUAGE_ID
    )

    order = read(orders)["1"]

    assert [line.sku for line in order.lines] == ["TEE"] and order.discount == Decimal(5)


def test_an_order_that_cannot_be_read_is_a_record_error(
    emulator: Shopware6Emulator, orders: Shopware6Orders
) -> None:
    broken = place(emulator, "broken", days_ago=1)
    place(emulator, "fine")
    customer = next(iter(emulator.store.referencing("order_customer", "orderId", broken)))
    emulator.writer.sync(
        {"d": {"entity": "order_customer", "action": "delete", "payload": [{"id": customer}]}},
        SYSTEM_LANGUAGE_ID,
    )

    found = list(orders.paid_orders_since(None))

    errors = [o for o in found if isinstance(o, ShopOrderError)]
    assert [o.number for o in found if isinstance(o, ShopOrder)] == ["fine"]
    assert [(e.number, e.key) for e in errors] == [("broken", "order:broken")]
    assert "customer" in errors[0].reason


# -- shipments ----------------------------------------------------------------------------------------------


def delivery(emulator: Shopware6Emulator, number: str) -> tuple[str, list[str]]:
    order = emulator.order(number)
    assert order is not None
    first = order["deliveries"][0]
    return first["stateMachineState"]["technicalName"], first["trackingCodes"]


def test_a_shipment_adds_the_tracking_code_and_ships_the_delivery(
    emulator: Shopware6Emulator, orders: Shopware6Orders
) -> None:
    for number in ("1", "2", "3"):
        place(emulator, number)
    emulator.reset_stats()

    results = orders.mark_shipped([ship("1", "A"), ship("2", "B"), ship("3", None)])

    assert [(r.order_number, r.outcome) for r in results] == [
        ("1", "shipped"),
        ("2", "shipped"),
        ("3", "shipped"),
    ]
    assert delivery(emulator, "1") == ("shipped", ["A"])
    assert delivery(emulator, "3") == ("shipped", [])
    assert emulator.stats().sync_requests == 1  # every tracking code in one request


def test_shipping_again_changes_nothing(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    place(emulator, "1")
    orders.mark_shipped([ship("1", "A")])
    emulator.reset_stats()

    (again,) = orders.mark_shipped([ship("1", "A")])

    assert again.outcome == "already_shipped" and again.ok
    assert delivery(emulator, "1") == ("shipped", ["A"])
    assert emulator.stats().sync_requests == 0
    assert not any("_action/order_delivery" in route for route in emulator.stats().calls)


def test_two_parcels_of_one_order_add_both_codes_and_ship_once(
    emulator: Shopware6Emulator, orders: Shopware6Orders
) -> None:
    place(emulator, "1")

    results = orders.mark_shipped([ship("1", "A"), ship("1", "B")])

    assert [r.outcome for r in results] == ["shipped", "shipped"]
    assert delivery(emulator, "1") == ("shipped", ["A", "B"])


def test_shipments_that_cannot_go_fail_alone(emulator: Shopware6Emulator, orders: Shopware6Orders) -> None:
    for number in ("returned", "cancelled", "fine"):
        place(emulator, number)
    returned = emulator.order("returned")
    cancelled = emulator.order("cancelled")
    assert returned is not None and cancelled is not None
    emulator.transition("order_delivery", returned["deliveries"][0]["id"], "ship")
    emulator.transition("order_delivery", returned["deliveries"][0]["id"], "retour")
    emulator.transition("order_delivery", cancelled["deliveries"][0]["id"], "cancel")

    results = orders.mark_shipped([ship("returned"), ship("cancelled"), ship("unknown"), ship("fine")])

    assert [(r.order_number, r.outcome, r.ok) for r in results] == [
        ("returned", "failed", False),
        ("cancelled", "failed", False),
        ("unknown", "not_found", False),
        ("fine", "shipped", True),
    ]
    assert results[0].error is not None and "returned" in results[0].error
    assert delivery(emulator, "fine") == ("shipped", ["TRK-1"])
