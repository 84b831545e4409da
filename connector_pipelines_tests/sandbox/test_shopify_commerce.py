"""Shopify emulator, commerce data over real HTTP: seeded customers and orders read through paged GraphQL
queries, the merchant's changes recorded as events (deletions as ``action: destroy``), lookups of unknown ids,
``shop`` and the app's access scopes, and the product fields a products export selects."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
CUSTOMERS = """
query($after: String, $q: String) {
  customers(first: 40, after: $after, query: $q) {
    nodes { id email firstName lastName phone state tags createdAt updatedAt numberOfOrders
      amountSpent { amount currencyCode } defaultAddress { address1 city zip countryCodeV2 } }
    pageInfo { hasNextPage endCursor }
  }
  customersCount(query: $q) { count precision }
}"""
ORDER = """
query($id: ID!) {
  order(id: $id) {
    id name email createdAt updatedAt processedAt cancelledAt closedAt displayFinancialStatus
    displayFulfillmentStatus currencyCode presentmentCurrencyCode customer { id }
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    subtotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } } totalShippingPriceSet { shopMoney { amount } }
    taxLines { title rate priceSet { shopMoney { amount } } }
    shippingAddress { city countryCodeV2 } billingAddress { city }
    lineItems(first: 10) { nodes { id sku quantity variant { id sku }
      originalUnitPriceSet { shopMoney { amount } } discountedUnitPriceSet { shopMoney { amount } }
      taxLines { priceSet { shopMoney { amount } } } } }
    fulfillments { name status trackingInfo { number company url } }
    fulfillmentOrders(first: 1) { nodes { status
      lineItems(first: 10) { nodes { totalQuantity remainingQuantity } } } }
  }
}"""
EVENTS = """
query($q: String) { events(first: 50, query: $q) { nodes { action createdAt
  ... on BasicEvent { subjectId subjectType subject { __typename } } } } }"""


@pytest.fixture
def shop() -> Iterator[tuple[ShopifyEmulator, httpx.Client]]:
    emulator = ShopifyEmulator(ShopifySettings(location_names={1: "Main"}))
    emulator.seed(products=12, variants=3, customers=100, orders=150, lines=3, seed=3)
    server = emulator.serve()
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as client:
        yield emulator, client
    server.stop()


def gql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post("/admin/api/2026-07/graphql.json", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["extensions"]["cost"]["actualQueryCost"] is not None
    return body["data"]


def all_customers(client: httpx.Client, query: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = gql(client, CUSTOMERS, {"after": after, "q": query})["customers"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def money(value: dict[str, Any]) -> Decimal:
    return Decimal(value["shopMoney"]["amount"])


def test_seeding_is_deterministic_and_fast_to_page_through(
    shop: tuple[ShopifyEmulator, httpx.Client],
) -> None:
    emulator, client = shop
    assert emulator.counts().model_dump() == {
        "products": 12,
        "variants": 36,
        "customers": 100,
        "orders": 150,
        "line_items": 450,
    }
    customers = all_customers(client)
    assert len({c["id"] for c in customers}) == 100
    assert gql(client, CUSTOMERS, {"q": None})["customersCount"] == {"count": 100, "precision": "EXACT"}
    again = ShopifyEmulator()
    again.seed(products=12, variants=3, customers=100, orders=150, lines=3, seed=3)
    first = again.shop().commerce.customers
    assert [c.email for c in first.values()] == [c["email"] for c in customers]
    sample = customers[0]
    assert sample["email"].endswith("@example.com") and sample["defaultAddress"]["city"]
    assert sum(int(c["numberOfOrders"]) for c in customers) <= 150  # guests have no customer


def test_order_money_adds_up_and_lines_name_their_variants(
    shop: tuple[ShopifyEmulator, httpx.Client],
) -> None:
    emulator, client = shop
    state = emulator.shop()
    fulfilled = next(o for o in state.commerce.orders.values() if o.fulfillment_status == "FULFILLED")
    order = gql(client, ORDER, {"id": f"gid://shopify/Order/{fulfilled.id}"})["order"]
    lines = order["lineItems"]["nodes"]
    assert len(lines) == 3 and order["name"].startswith("#")
    subtotal = sum(Decimal(n["discountedUnitPriceSet"]["shopMoney"]["amount"]) * n["quantity"] for n in lines)
    assert abs(money(order["subtotalPriceSet"]) - subtotal) < Decimal("0.05")
    assert money(order["totalPriceSet"]) == (
        money(order["subtotalPriceSet"]) + money(order["totalTaxSet"]) + money(order["totalShippingPriceSet"])
    )
    assert money(order["totalTaxSet"]) == sum(money(t["priceSet"]) for t in order["taxLines"])
    assert order["totalPriceSet"]["presentmentMoney"]["currencyCode"] == "EUR"
    assert all(n["variant"]["sku"] == n["sku"] for n in lines)
    assert order["fulfillments"][0]["status"] == "SUCCESS"
    assert order["fulfillments"][0]["trackingInfo"][0]["number"]
    fulfillment_order = order["fulfillmentOrders"]["nodes"][0]
    assert fulfillment_order["status"] == "CLOSED"
    assert {n["remainingQuantity"] for n in fulfillment_order["lineItems"]["nodes"]} == {0}


def test_changes_bump_updated_at_and_record_events(shop: tuple[ShopifyEmulator, httpx.Client]) -> None:
    emulator, client = shop
    customer = emulator.create_customer(email="ada@example.com", first_name="Ada", address={"city": "Izmir"})
    order = emulator.create_order([("SKU-000001-01", 2)], customer=customer, financial_status="PENDING")
    emulator.pay_order(order)
    emulator.fulfil_order(
        order, tracking_number="1Z999", tracking_company="UPS", tracking_url="https://ups.test/1Z999"
    )
    read = gql(client, ORDER, {"id": order})["order"]
    assert (read["displayFinancialStatus"], read["displayFulfillmentStatus"]) == ("PAID", "FULFILLED")
    assert read["fulfillments"][0]["trackingInfo"] == [
        {"number": "1Z999", "company": "UPS", "url": "https://ups.test/1Z999"}
    ]
    assert read["shippingAddress"]["city"] == "Izmir"
    recent = all_customers(client, f"updated_at:>='{read['createdAt']}'")
    assert [c["email"] for c in recent] == ["ada@example.com"]

    doomed = emulator.create_order([("SKU-000002-02", 1)], financial_status="PENDING")
    emulator.cancel_order(doomed)
    assert gql(client, ORDER, {"id": doomed})["order"]["displayFinancialStatus"] == "VOIDED"
    emulator.delete_order(doomed)
    emulator.delete_customer(customer)
    assert gql(client, ORDER, {"id": doomed})["order"] is None

    deleted = gql(client, EVENTS, {"q": "action:destroy"})["events"]["nodes"]
    assert [(e["subjectType"], e["subjectId"], e["subject"]) for e in deleted] == [
        ("ORDER", doomed, None),
        ("CUSTOMER", customer, None),
    ]
    actions = [e["action"] for e in gql(client, EVENTS, {"q": "subject_type:ORDER"})["events"]["nodes"]]
    assert actions == ["create", "paid", "fulfilled", "create", "cancelled", "destroy"]


def test_unknown_ids_answer_null_not_an_error(shop: tuple[ShopifyEmulator, httpx.Client]) -> None:
    _, client = shop
    query = """{
      customer(id: "gid://shopify/Customer/1") { id } order(id: "gid://shopify/Order/1") { id }
      product(id: "gid://shopify/Product/1") { id }
      productVariant(id: "gid://shopify/ProductVariant/1") { id }
      collection(id: "gid://shopify/Collection/1") { id } draftOrder(id: "gid://shopify/DraftOrder/1") { id }
      location(id: "gid://shopify/Location/99") { id }
      fulfillmentOrder(id: "gid://shopify/FulfillmentOrder/1") { id }
      inventoryItem(id: "gid://shopify/InventoryItem/1") { id } node(id: "gid://shopify/Customer/1") { id }
      webhookSubscription(id: "gid://shopify/WebhookSubscription/1") { id }
      order2: order(id: "gid://shopify/Customer/1") { id }
    }"""
    data = gql(client, query)
    assert set(data.values()) == {None}


def test_shop_and_access_scopes(shop: tuple[ShopifyEmulator, httpx.Client]) -> None:
    emulator, client = shop
    data = gql(
        client,
        """{ shop { id name email myshopifyDomain currencyCode ianaTimezone primaryDomain { url host }
               plan { publicDisplayName shopifyPlus } billingAddress { countryCodeV2 } }
             currentAppInstallation { accessScopes { handle description } app { title } } }""",
    )
    assert data["shop"]["myshopifyDomain"] == "sandbox.myshopify.com"
    assert data["shop"]["primaryDomain"]["url"] == "https://sandbox.myshopify.com"
    handles = [s["handle"] for s in data["currentAppInstallation"]["accessScopes"]]
    assert handles == list(emulator.settings.access_scopes)
    assert "read_customers" in handles


def test_products_export_fields(shop: tuple[ShopifyEmulator, httpx.Client]) -> None:
    emulator, client = shop
    emulator.put_product(
        {
            "title": "Pictured",
            "files": [{"originalSource": "https://images.test/a.png", "contentType": "IMAGE", "alt": "A"}],
        }
    )
    data = gql(
        client,
        """{ products(first: 1, query: "title:Pictured") { nodes {
             id title handle status vendor productType tags createdAt updatedAt publishedAt totalInventory
             priceRangeV2 { minVariantPrice { amount currencyCode } maxVariantPrice { amount } }
             priceRange { minVariantPrice { amount } }
             images(first: 5) { nodes { url altText } }
             media(first: 5) { nodes { mediaContentType ... on MediaImage { image { url } } } }
             featuredMedia { id } collections(first: 5) { nodes { id } } storefrontId
             resourcePublicationsV2(first: 1) { nodes { isPublished } }
             variants(first: 5) { nodes { sku price inventoryQuantity } } } } }""",
    )
    [product] = data["products"]["nodes"]
    assert product["images"]["nodes"][0]["altText"] == "A"
    assert product["media"]["nodes"][0]["mediaContentType"] == "IMAGE"
    assert product["priceRangeV2"]["minVariantPrice"]["currencyCode"] == "EUR"
    assert product["collections"]["nodes"] == []
