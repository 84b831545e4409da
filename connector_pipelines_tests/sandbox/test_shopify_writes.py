"""Shopify emulator, the writes an ERP gateway makes, over real HTTP: stock (``inventorySetQuantities`` with
compare-and-swap and ``@idempotent``, ``inventoryAdjustQuantities``), prices (``productVariantsBulkUpdate``)
and shipments (``fulfillmentCreate`` from an order's fulfillment order, with tracking)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
LOCATION = "gid://shopify/Location/1"
VARIANT = """query($q: String!) { productVariants(first: 1, query: $q) { nodes { id price updatedAt
  product { id } inventoryItem { id inventoryLevel(locationId: "gid://shopify/Location/1") {
    quantities(names: ["available", "on_hand"]) { name quantity } } } } } }"""
SET = """mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri
      changes(quantityNames: ["available"]) { name delta quantityAfterChange item { id } location { id } } }
    userErrors { code field message } } }"""
UNKEYED = SET.replace(", $key: String!", "").replace(" @idempotent(key: $key)", "")
ADJUST = """mutation($input: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: "adjust-1") {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
    userErrors { code field message } } }"""
PRICES = """mutation($product: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $product, variants: $variants) {
    product { id updatedAt } productVariants { id price compareAtPrice }
    userErrors { code field message } } }"""
FULFILMENT_ORDER = """query($id: ID!) { order(id: $id) { displayFulfillmentStatus updatedAt
  fulfillmentOrders(first: 1) { nodes { id status
    lineItems(first: 5) { nodes { id sku remainingQuantity } } } } } }"""
FULFIL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id name status trackingInfo { number company url }
    fulfillmentLineItems(first: 5) { nodes { quantity lineItem { sku } } } }
  userErrors { field message } } }"""


class Shop:
    def __init__(self, emulator: ShopifyEmulator, http: httpx.Client) -> None:
        self.emulator = emulator
        self.http = http

    def post(self, query: str, variables: dict[str, Any], version: str = "2026-07") -> Any:
        response = self.http.post(
            f"/admin/api/{version}/graphql.json", json={"query": query, "variables": variables}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any], version: str = "2026-07") -> Any:
        body = self.post(query, variables, version)
        assert "errors" not in body, body
        return body["data"]

    def variant(self, sku: str) -> Any:
        [found] = self.data(VARIANT, {"q": f"sku:{sku}"})["productVariants"]["nodes"]
        return found


@pytest.fixture
def shop() -> Iterator[Shop]:
    emulator = ShopifyEmulator(ShopifySettings(location_names={1: "Main", 2: "Outlet"}))
    emulator.seed(products=4, variants=2)
    server = emulator.serve()
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as http:
        yield Shop(emulator, http)
    server.stop()


def stock(variant: dict[str, Any]) -> dict[str, int]:
    levels = variant["inventoryItem"]["inventoryLevel"]["quantities"]
    return {q["name"]: q["quantity"] for q in levels}


def test_set_quantities_compare_and_swap_and_idempotency(shop: Shop) -> None:
    variant = shop.variant("SKU-000001-01")
    item = variant["inventoryItem"]["id"]
    before = stock(variant)["available"]
    wanted: dict[str, Any] = {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://erp-gateway/StockSync/42",
        "quantities": [
            {"inventoryItemId": item, "locationId": LOCATION, "quantity": 77, "changeFromQuantity": before}
        ],
    }
    first = shop.data(SET, {"input": wanted, "key": "sync-42"})["inventorySetQuantities"]
    assert first["userErrors"] == []
    assert first["inventoryAdjustmentGroup"]["changes"] == [
        {
            "name": "available",
            "delta": 77 - before,
            "quantityAfterChange": 77,
            "item": {"id": item},
            "location": {"id": LOCATION},
        }
    ]
    assert stock(shop.variant("SKU-000001-01")) == {"available": 77, "on_hand": 77}
    replay = shop.data(SET, {"input": wanted, "key": "sync-42"})["inventorySetQuantities"]
    assert replay == first  # the same key and input: the first answer, applied once
    other = {**wanted, "quantities": [{**wanted["quantities"][0], "quantity": 5, "changeFromQuantity": None}]}
    mismatch = shop.data(SET, {"input": other, "key": "sync-42"})["inventorySetQuantities"]["userErrors"]
    assert mismatch[0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"

    stale = {**wanted, "quantities": [{**wanted["quantities"][0], "quantity": 1, "changeFromQuantity": 3}]}
    errors = shop.data(SET, {"input": stale, "key": "sync-43"})["inventorySetQuantities"]["userErrors"]
    assert errors[0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    missing = {**wanted, "quantities": [{"inventoryItemId": item, "locationId": LOCATION, "quantity": 1}]}
    errors = shop.data(SET, {"input": missing, "key": "sync-44"})["inventorySetQuantities"]["userErrors"]
    assert errors[0]["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    elsewhere = {
        **wanted,
        "quantities": [{**wanted["quantities"][0], "locationId": "gid://shopify/Location/2"}],
    }
    errors = shop.data(SET, {"input": elsewhere, "key": "sync-45"})["inventorySetQuantities"]["userErrors"]
    assert errors[0]["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"
    bad = {**wanted, "name": "incoming", "reason": "because"}
    codes = {
        e["code"]
        for e in shop.data(SET, {"input": bad, "key": "sync-46"})["inventorySetQuantities"]["userErrors"]
    }
    assert {"INVALID_NAME", "INVALID_REASON"} <= codes
    assert stock(shop.variant("SKU-000001-01"))["available"] == 77

    without_key = shop.post(UNKEYED, {"input": wanted})
    assert without_key["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    older = shop.data(UNKEYED, {"input": other}, version="2026-01")
    assert older["inventorySetQuantities"]["userErrors"] == []


def test_adjust_quantities(shop: Shop) -> None:
    variant = shop.variant("SKU-000002-02")
    before = stock(variant)["available"]
    change = {
        "inventoryItemId": variant["inventoryItem"]["id"],
        "locationId": LOCATION,
        "delta": -2,
        "changeFromQuantity": None,
    }
    wanted = {"name": "available", "reason": "received", "changes": [change]}
    result = shop.data(ADJUST, {"input": wanted})["inventoryAdjustQuantities"]
    assert result["userErrors"] == []
    assert result["inventoryAdjustmentGroup"]["changes"][0] == {
        "name": "available",
        "delta": -2,
        "quantityAfterChange": before - 2,
    }
    damaged = {"name": "damaged", "reason": "damaged", "changes": [change]}
    shop.data(ADJUST.replace("adjust-1", "adjust-2"), {"input": damaged})
    errors = shop.data(ADJUST.replace("adjust-1", "adjust-2b"), {"input": damaged})[
        "inventoryAdjustQuantities"
    ]["userErrors"]
    assert errors[0]["code"] == "INVALID_LEDGER_DOCUMENT"


def test_variant_prices_in_bulk(shop: Shop) -> None:
    variant = shop.variant("SKU-000003-01")
    product = variant["product"]["id"]
    updated = shop.data(
        PRICES,
        {"product": product, "variants": [{"id": variant["id"], "price": "12.5", "compareAtPrice": "15"}]},
    )["productVariantsBulkUpdate"]
    assert updated["userErrors"] == []
    assert updated["productVariants"] == [{"id": variant["id"], "price": "12.50", "compareAtPrice": "15.00"}]
    assert shop.variant("SKU-000003-01")["updatedAt"] >= variant["updatedAt"]
    foreign = shop.variant("SKU-000004-01")["id"]
    errors = shop.data(PRICES, {"product": product, "variants": [{"id": foreign, "price": "-1"}]})[
        "productVariantsBulkUpdate"
    ]["userErrors"]
    assert {e["code"] for e in errors} == {"MUST_BE_FOR_THIS_PRODUCT", "GREATER_THAN_OR_EQUAL_TO"}
    assert shop.variant("SKU-000003-01")["price"] == "12.50"
    missing = shop.data(PRICES, {"product": "gid://shopify/Product/1", "variants": []})[
        "productVariantsBulkUpdate"
    ]
    assert missing["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"


def test_fulfillment_create_with_tracking(shop: Shop) -> None:
    order = shop.emulator.create_order([("SKU-000001-01", 2), ("SKU-000002-01", 1)])
    fulfillment_order = shop.data(FULFILMENT_ORDER, {"id": order})["order"]["fulfillmentOrders"]["nodes"][0]
    assert fulfillment_order["status"] == "OPEN"
    first_line = fulfillment_order["lineItems"]["nodes"][0]
    partial = shop.data(
        FULFIL,
        {
            "f": {
                "lineItemsByFulfillmentOrder": [
                    {
                        "fulfillmentOrderId": fulfillment_order["id"],
                        "fulfillmentOrderLineItems": [{"id": first_line["id"], "quantity": 1}],
                    }
                ],
                "trackingInfo": {
                    "number": "00340434",
                    "company": "DHL Express",
                    "url": "https://dhl.test/00340434",
                },
                "notifyCustomer": True,
            }
        },
    )["fulfillmentCreate"]
    assert partial["userErrors"] == []
    assert partial["fulfillment"]["trackingInfo"] == [
        {"number": "00340434", "company": "DHL Express", "url": "https://dhl.test/00340434"}
    ]
    after = shop.data(FULFILMENT_ORDER, {"id": order})["order"]
    assert after["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    too_many = {"id": first_line["id"], "quantity": 5}
    errors = shop.data(
        FULFIL,
        {
            "f": {
                "lineItemsByFulfillmentOrder": [
                    {"fulfillmentOrderId": fulfillment_order["id"], "fulfillmentOrderLineItems": [too_many]}
                ]
            }
        },
    )["fulfillmentCreate"]["userErrors"]
    assert errors[0]["field"][-1] == "quantity"
    rest = shop.data(
        FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fulfillment_order["id"]}]}}
    )
    assert {
        n["quantity"] for n in rest["fulfillmentCreate"]["fulfillment"]["fulfillmentLineItems"]["nodes"]
    } == {1}
    done = shop.data(FULFILMENT_ORDER, {"id": order})["order"]
    assert done["displayFulfillmentStatus"] == "FULFILLED"
    assert done["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    unknown = shop.data(
        FULFIL,
        {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1"}]}},
    )
    assert unknown["fulfillmentCreate"]["userErrors"][0]["message"] == "Fulfillment order does not exist."
