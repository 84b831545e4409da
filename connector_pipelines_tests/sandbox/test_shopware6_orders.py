"""The Shopware 6 emulator's orders over real HTTP: order entities written and validated through the sync API,
computed price fields, the state machines and their transition routes, and the seeding helper."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopware6 import SandboxOrder, Shopware6Emulator
from connector_pipelines.sandbox.shopware6_order_schema import (
    DELIVERY_STATE,
    MACHINES,
    ORDER_STATE,
    TRANSACTION_STATE,
    country_id,
)
from connector_pipelines.sandbox.shopware6_orders import SandboxLine, TaxStatus
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    STOREFRONT_SALES_CHANNEL_ID,
    SYSTEM_LANGUAGE_ID,
    seed_id,
)

NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
ORDER_ID = seed_id("test:order")
ADDRESS_ID = seed_id("test:address")
DELIVERY_ID = seed_id("test:delivery")
ROUNDING = {"decimals": 2, "interval": 0.01, "roundForNet": True}
LINE_PRICE = {
    "unitPrice": 11.9,
    "quantity": 2,
    "totalPrice": 23.8,
    "calculatedTaxes": [{"tax": 3.8, "taxRate": 19.0, "price": 23.8}],
    "taxRules": [{"taxRate": 19.0, "percentage": 100.0}],
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Shopware6Emulator, EmulatorServer]]:
    emulator = Shopware6Emulator()
    with emulator.serve() as server:
        yield emulator, server


@pytest.fixture
def emulator(served: tuple[Shopware6Emulator, EmulatorServer]) -> Shopware6Emulator:
    served[0].reset()
    return served[0]


@pytest.fixture
def api(
    served: tuple[Shopware6Emulator, EmulatorServer], emulator: Shopware6Emulator
) -> Iterator[httpx.Client]:
    server = served[1]
    settings = emulator.settings
    token = httpx.post(
        f"{server.base_url}/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client


def order_record(**changes: Any) -> dict[str, Any]:
    """An order as an importer writes one through the sync API (not a checkout)."""
    record: dict[str, Any] = {
        "id": ORDER_ID,
        "orderNumber": "SW-1",
        "orderDateTime": "2026-07-01T10:00:00.000+00:00",
        "currencyId": DEFAULT_CURRENCY_ID,
        "currencyFactor": 1.0,
        "languageId": SYSTEM_LANGUAGE_ID,
        "salesChannelId": STOREFRONT_SALES_CHANNEL_ID,
        "billingAddressId": ADDRESS_ID,
        "stateId": MACHINES[ORDER_STATE].state_id("open"),
        "itemRounding": ROUNDING,
        "totalRounding": ROUNDING,
        "price": {
            "netPrice": 20.0,
            "totalPrice": 23.8,
            "rawTotal": 23.8,
            "positionPrice": 23.8,
            "taxStatus": "gross",
            "calculatedTaxes": [],
            "taxRules": [],
        },
        "orderCustomer": {"email": "a@example.com", "firstName": "A", "lastName": "B"},
        "addresses": [
            {
                "id": ADDRESS_ID,
                "countryId": country_id("TR"),
                "firstName": "A",
                "lastName": "B",
                "street": "Cadde 1",
                "city": "Istanbul",
            }
        ],
        "lineItems": [
            {
                "identifier": "x",
                "label": "Tee",
                "quantity": 2,
                "position": 1,
                "states": ["is-physical"],
                "type": "product",
                "payload": {"productNumber": "TEE"},
                "price": LINE_PRICE,
            }
        ],
        "deliveries": [
            {
                "id": DELIVERY_ID,
                "shippingOrderAddressId": ADDRESS_ID,
                "shippingMethodId": seed_id("shipping-method:standard"),
                "stateId": MACHINES[DELIVERY_STATE].state_id("open"),
                "shippingDateEarliest": "2026-07-01T10:00:00.000+00:00",
                "shippingDateLatest": "2026-07-03T10:00:00.000+00:00",
            }
        ],
    }
    record.update(changes)
    return record


def sync(api: httpx.Client, entity: str, payload: list[dict[str, Any]]) -> httpx.Response:
    return api.post(
        "/api/_action/sync", json={"write": {"entity": entity, "action": "upsert", "payload": payload}}
    )


def read_order(api: httpx.Client, **criteria: Any) -> dict[str, Any]:
    body = {
        "ids": [ORDER_ID],
        "associations": {
            "orderCustomer": {},
            "lineItems": {},
            "billingAddress": {"associations": {"country": {}}},
            "deliveries": {"associations": {"stateMachineState": {}}},
        },
        **criteria,
    }
    response = api.post("/api/search/order", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"][0]
    return data


# -- writing orders ---------------------------------------------------------------------------------------


def test_an_order_written_by_sync_reads_back_with_its_parts_and_computed_fields(api: httpx.Client) -> None:
    assert sync(api, "order", [order_record()]).status_code == 200

    order = read_order(api)

    assert order["amountTotal"] == 23.8 and order["amountNet"] == 20.0 and order["taxStatus"] == "gross"
    assert order["orderDate"].startswith("2026-07-01")
    assert order["orderCustomer"]["email"] == "a@example.com"  # one-to-one: an object, not a list
    assert order["billingAddress"]["country"]["iso"] == "TR"
    line = order["lineItems"][0]
    assert (line["unitPrice"], line["totalPrice"], line["position"]) == (11.9, 23.8, 1)
    delivery = order["deliveries"][0]
    assert delivery["trackingCodes"] == [] and delivery["stateMachineState"]["technicalName"] == "open"


def test_an_order_without_a_number_gets_the_next_one_of_its_number_range(api: httpx.Client) -> None:
    record = order_record()
    del record["orderNumber"]

    assert sync(api, "order", [record]).status_code == 200

    assert read_order(api)["orderNumber"] == "10000"


def test_order_writes_are_validated_like_the_dal_does(api: httpx.Client) -> None:
    line = {**order_record()["lineItems"][0], "price": {"unitPrice": "x", "quantity": 2}}
    record = order_record(lineItems=[line], orderCustomer={"email": "a@example.com", "firstName": "A"})
    del record["currencyFactor"]

    response = sync(api, "order", [record])

    assert response.status_code == 400
    found = {(e["source"]["pointer"], e["code"]) for e in response.json()["errors"]}
    assert ("/write/0/currencyFactor", NOT_BLANK) in found
    assert ("/write/0/orderCustomer/lastName", NOT_BLANK) in found
    assert ("/write/0/lineItems/0/price/totalPrice", NOT_BLANK) in found
    assert any(p == "/write/0/lineItems/0/price/unitPrice" for p, _ in found)
    assert api.post("/api/search-ids/order", json={}).json()["total"] == 0  # one transaction: nothing written


def test_a_state_changes_only_by_transition_but_tracking_codes_are_plain_fields(api: httpx.Client) -> None:
    assert sync(api, "order", [order_record()]).status_code == 200
    shipped = MACHINES[DELIVERY_STATE].state_id("shipped")

    refused = sync(api, "order_delivery", [{"id": DELIVERY_ID, "stateId": shipped}])
    tracked = sync(api, "order_delivery", [{"id": DELIVERY_ID, "trackingCodes": ["TRK-1"]}])

    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["source"]["pointer"] == "/write/0/stateId"
    assert "via a state-transition" in error["detail"]
    assert tracked.status_code == 200
    assert read_order(api)["deliveries"][0]["trackingCodes"] == ["TRK-1"]


def test_an_unknown_country_is_the_sql_error_of_its_foreign_key(api: httpx.Client) -> None:
    address = {**order_record()["addresses"][0], "countryId": seed_id("country:XX")}

    response = sync(api, "order", [order_record(addresses=[address])])

    assert response.status_code == 500
    assert "fk.order_address.country_id" in response.json()["errors"][0]["detail"]


# -- state machines ---------------------------------------------------------------------------------------


def test_the_state_machines_are_seeded_as_the_migrations_build_them(api: httpx.Client) -> None:
    response = api.post(
        "/api/search/state-machine",
        json={
            "filter": [{"type": "equals", "field": "technicalName", "value": DELIVERY_STATE}],
            "associations": {"states": {}, "transitions": {}},
        },
    )
    machine = response.json()["data"][0]

    states = {s["technicalName"] for s in machine["states"]}
    assert states == {"open", "shipped", "shipped_partially", "returned", "returned_partially", "cancelled"}
    assert machine["initialStateId"] == MACHINES[DELIVERY_STATE].state_id("open")
    assert len(machine["transitions"]) == len(MACHINES[DELIVERY_STATE].transitions)


def test_ship_moves_the_delivery_and_answers_the_state_reached(api: httpx.Client) -> None:
    sync(api, "order", [order_record()])

    response = api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship", json={"sendMail": False})

    assert response.status_code == 200
    assert response.json()["technicalName"] == "shipped"
    assert response.json()["id"] == MACHINES[DELIVERY_STATE].state_id("shipped")
    assert read_order(api)["deliveries"][0]["stateMachineState"]["technicalName"] == "shipped"


def test_a_repeated_transition_is_unnecessary_and_answers_the_current_state(api: httpx.Client) -> None:
    sync(api, "order", [order_record()])
    api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship")
    before = read_order(api)["deliveries"][0]["updatedAt"]

    again = api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship")

    assert again.status_code == 200 and again.json()["technicalName"] == "shipped"
    assert read_order(api)["deliveries"][0]["updatedAt"] == before  # nothing written


def test_an_illegal_transition_names_the_possible_ones(api: httpx.Client) -> None:
    sync(api, "order", [order_record()])
    api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship")
    api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/retour")

    response = api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship_partially")

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "SYSTEM__ILLEGAL_STATE_TRANSITION"
    assert error["meta"]["parameters"]["possibleTransitions"] == ["reopen"]


def test_cancel_is_allowed_from_every_state_before_6_7(api: httpx.Client) -> None:
    sync(api, "order", [order_record()])
    api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship")
    api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/retour")

    response = api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/cancel")

    assert response.json()["technicalName"] == "cancelled"


def test_a_transition_of_an_unknown_entity_is_a_400(api: httpx.Client) -> None:
    response = api.post(f"/api/_action/order/{seed_id('nothing')}/state/process")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID"


def test_the_generic_state_machine_routes_list_and_take_transitions(api: httpx.Client) -> None:
    sync(api, "order", [order_record()])

    listed = api.get(f"/api/_action/state-machine/order/{ORDER_ID}/state").json()["transitions"]
    taken = api.post(f"/api/_action/state-machine/order/{ORDER_ID}/state/process")

    assert sorted(t["actionName"] for t in listed) == ["cancel", "process"]
    assert taken.status_code == 200
    assert taken.json()["data"]["technicalName"] == "in_progress"
    assert taken.json()["data"]["apiAlias"] == "state_machine_state"


def test_transitions_need_a_token(served: tuple[Shopware6Emulator, EmulatorServer]) -> None:
    response = httpx.post(f"{served[1].base_url}/api/_action/order/{ORDER_ID}/state/process")

    assert response.status_code == 401


# -- seeding ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "net", "total", "tax"),
    [
        ("gross", "24.12", "28.70", "4.58"),
        ("net", "28.70", "34.15", "5.45"),
        ("tax-free", "28.70", "28.70", "0"),
    ],
)
def test_seeded_orders_carry_the_totals_the_cart_would_compute(
    emulator: Shopware6Emulator, status: TaxStatus, net: str, total: str, tax: str
) -> None:
    line = SandboxLine(product_number="TEE", quantity=2, unit_price=Decimal("11.90"))
    emulator.add_order(SandboxOrder(order_number="1", tax_status=status, lines=(line,)))

    order = emulator.order("1")

    assert order is not None
    assert Decimal(str(order["amountNet"])) == Decimal(net)
    assert Decimal(str(order["amountTotal"])) == Decimal(total)
    assert sum(Decimal(str(t["tax"])) for t in order["price"]["calculatedTaxes"]) == Decimal(tax)
    assert order["shippingTotal"] == 4.9 and order["positionPrice"] == 23.8


def test_seeded_orders_start_open_and_paid_unless_told(emulator: Shopware6Emulator) -> None:
    line = SandboxLine(product_number="TEE", unit_price=Decimal(5))
    emulator.add_order(SandboxOrder(order_number="1", lines=(line,)))
    emulator.add_order(SandboxOrder(order_number="2", lines=(line,), paid=False))

    first, second = emulator.order("1"), emulator.order("2")

    assert first is not None and second is not None
    assert first["stateMachineState"]["technicalName"] == "open"
    assert first["deliveries"][0]["stateMachineState"]["technicalName"] == "open"
    assert first["transactions"][0]["stateMachineState"]["technicalName"] == "paid"
    assert second["transactions"][0]["stateMachineState"]["technicalName"] == "open"
    payment = emulator.transition("order_transaction", second["transactions"][0]["id"], "pay")
    assert payment["technicalName"] == "paid"
    assert MACHINES[TRANSACTION_STATE].state_id("paid") == payment["id"]


def test_json_api_renders_the_order_customer_as_a_to_one_relationship(api: httpx.Client) -> None:
    sync(api, "order", [order_record()])

    response = api.get(
        f"/api/order/{ORDER_ID}",
        params={"associations[orderCustomer][]": ""},
        headers={"Accept": "application/vnd.api+json"},
    )

    assert response.status_code == 200
    document = response.json()
    customer = document["data"]["relationships"]["orderCustomer"]["data"]
    assert customer["type"] == "order_customer"
    assert [i["attributes"]["email"] for i in document["included"] if i["id"] == customer["id"]] == [
        "a@example.com"
    ]
    assert document["data"]["relationships"]["lineItems"]["data"] == []  # not loaded


def test_transitions_work_under_the_hubs_mount_prefix(hub: SandboxHub) -> None:
    account = hub.add_shopware("acme")
    base = hub.base_url("shopware6", "acme")
    token = httpx.post(
        f"{base}/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": account.client_id,
            "client_secret": account.client_secret,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=base, headers=headers) as api:
        assert sync(api, "order", [order_record()]).status_code == 200
        shipped = api.post(f"/api/_action/order_delivery/{DELIVERY_ID}/state/ship")
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["technicalName"] == "shipped"
        assert read_order(api)["deliveries"][0]["stateMachineState"]["technicalName"] == "shipped"
