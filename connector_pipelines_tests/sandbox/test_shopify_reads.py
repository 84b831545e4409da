"""Shopify emulator: read fields of the 2026-07 schema that clients commonly select and the emulator used to
leave unimplemented (price ranges, inventory levels per location)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
CREATE = """
mutation($input: ProductSetInput!) {
  productSet(input: $input) { product { id } userErrors { message } }
}"""
READ = """
query($id: ID!, $location: ID!) {
  product(id: $id) {
    priceRangeV2 { minVariantPrice { amount currencyCode } maxVariantPrice { amount } }
    compareAtPriceRange { minVariantCompareAtPrice { amount } maxVariantCompareAtPrice { amount } }
    variants(first: 5) { nodes { sku inventoryItem {
      inventoryLevels(first: 5) { nodes { id isActive location { id }
        quantities(names: ["available", "on_hand", "committed"]) { name quantity } } }
      inventoryLevel(locationId: $location) { location { id } quantities(names: ["available"]) { quantity } }
    } } }
  }
}"""


@pytest.fixture
def shop() -> Iterator[httpx.Client]:
    emulator = ShopifyEmulator(ShopifySettings(location_names={1: "Main", 2: "Outlet"}))
    server = emulator.serve()  # already started
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as client:
        yield client
    server.stop()


def gql(client: httpx.Client, query: str, variables: dict[str, Any]) -> Any:
    response = client.post("/admin/api/2026-07/graphql.json", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def variant(name: str, price: str, stock: dict[int, int], compare_at: str | None = None) -> dict[str, Any]:
    return {
        "optionValues": [{"optionName": "Size", "name": name}],
        "sku": f"TEE-{name}",
        "price": price,
        "compareAtPrice": compare_at,
        "inventoryQuantities": [
            {"locationId": f"gid://shopify/Location/{loc}", "name": "available", "quantity": qty}
            for loc, qty in stock.items()
        ],
    }


def test_price_ranges_and_inventory_levels_per_location(shop: httpx.Client) -> None:
    product = {
        "title": "Tee",
        "productOptions": [{"name": "Size", "values": [{"name": "S"}, {"name": "M"}]}],
        "variants": [variant("S", "19.90", {1: 3, 2: 4}, "24.90"), variant("M", "9.50", {})],
    }
    product_id = gql(shop, CREATE, {"input": product})["productSet"]["product"]["id"]
    read = gql(shop, READ, {"id": product_id, "location": "gid://shopify/Location/2"})["product"]
    assert read["priceRangeV2"] == {
        "minVariantPrice": {"amount": "9.50", "currencyCode": "EUR"},
        "maxVariantPrice": {"amount": "19.90"},
    }
    assert read["compareAtPriceRange"] == {
        "minVariantCompareAtPrice": {"amount": "24.90"},
        "maxVariantCompareAtPrice": {"amount": "24.90"},
    }
    small, medium = read["variants"]["nodes"]
    levels = small["inventoryItem"]["inventoryLevels"]["nodes"]
    assert [lvl["location"]["id"] for lvl in levels] == [
        "gid://shopify/Location/1",
        "gid://shopify/Location/2",
    ]
    assert levels[1]["quantities"] == [
        {"name": "available", "quantity": 4},
        {"name": "on_hand", "quantity": 4},
        {"name": "committed", "quantity": 0},
    ]
    assert levels[0]["id"].startswith("gid://shopify/InventoryLevel/1?inventory_item_id=")
    assert small["inventoryItem"]["inventoryLevel"]["quantities"] == [{"quantity": 4}]
    # No quantities given: stocked at the primary location only, with nothing there.
    unstocked = medium["inventoryItem"]
    assert [lvl["location"]["id"] for lvl in unstocked["inventoryLevels"]["nodes"]] == [
        "gid://shopify/Location/1"
    ]
    assert unstocked["inventoryLevel"] is None
