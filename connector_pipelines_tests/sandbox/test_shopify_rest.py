"""Shopify emulator, REST Admin over real HTTP: shop and access scopes, lists paged through the ``Link``
header exactly as Shopify formats it, filters kept in the cursor, open orders by default, and the leaky
bucket (``X-Shopify-Shop-Api-Call-Limit``, 429 with ``Retry-After``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"


@pytest.fixture
def shop() -> Iterator[tuple[ShopifyEmulator, httpx.Client]]:
    emulator = ShopifyEmulator()
    emulator.seed(products=7, variants=2, customers=23, orders=30, lines=2)
    server = emulator.serve()
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as http:
        yield emulator, http
    server.stop()


def links(response: httpx.Response) -> dict[str, str]:
    """The Link header read the way the ShopifyAPI package reads it (split on ", ", then on "; ")."""
    header = response.headers.get("link")
    if not header:
        return {}
    out: dict[str, str] = {}
    for part in header.split(", "):
        url, rel = part.split("; ")
        out[re.findall(r'"(.*?)"', rel)[0]] = url.strip("<>")
    return out


def walk(http: httpx.Client, url: str) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = http.get(next_url)
        assert response.status_code == 200, response.text
        key = next(iter(response.json()))
        found += response.json()[key]
        pages += 1
        next_url = links(response).get("next")
    return found, pages


def test_shop_and_access_scopes(shop: tuple[ShopifyEmulator, httpx.Client]) -> None:
    emulator, http = shop
    body = http.get("/admin/api/2026-07/shop.json").json()["shop"]
    assert (body["myshopify_domain"], body["currency"]) == ("sandbox.myshopify.com", "EUR")
    scopes = http.get("/admin/oauth/access_scopes.json").json()["access_scopes"]
    assert [s["handle"] for s in scopes] == list(emulator.settings.access_scopes)
    denied = http.get("/admin/api/2026-07/customers.json", headers={"X-Shopify-Access-Token": "shpat_wrong"})
    assert denied.status_code == 401
    assert denied.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_link_paging_filters_and_open_orders(shop: tuple[ShopifyEmulator, httpx.Client]) -> None:
    emulator, http = shop
    customers, pages = walk(http, "/admin/api/2026-07/customers.json?limit=5")
    assert len(customers) == 23 and pages == 5
    assert [c["id"] for c in customers] == sorted(c["id"] for c in customers)
    first = http.get("/admin/api/2026-07/customers.json?limit=5")
    second = http.get(links(first)["next"])
    assert set(links(second)) == {"previous", "next"}
    back = http.get(links(second)["previous"]).json()["customers"]
    assert [c["id"] for c in back] == [c["id"] for c in first.json()["customers"]]
    sample = customers[0]
    assert sample["admin_graphql_api_id"] == f"gid://shopify/Customer/{sample['id']}"
    assert isinstance(sample["tags"], str) and sample["default_address"]["default"] is True

    state = emulator.shop()
    orders = state.commerce.orders.values()
    open_count = sum(1 for o in orders if o.closed_at is None and o.cancelled_at is None)
    assert len(walk(http, "/admin/api/2026-07/orders.json?limit=7")[0]) == open_count
    everything, _ = walk(
        http, "/admin/api/2026-07/orders.json?status=any&limit=7&fields=id,updated_at,line_items"
    )
    assert len(everything) == 30 and set(everything[0]) == {"id", "updated_at", "line_items"}
    count = http.get("/admin/api/2026-07/orders/count.json?status=any").json()
    assert count == {"count": 30}

    changed = emulator.change_sample("customers", 0.2, seed=1)
    stamp = http.get(f"/admin/api/2026-07/customers/{changed[0].rsplit('/', 1)[1]}.json").json()["customer"][
        "updated_at"
    ]
    recent, _ = walk(
        http, f"/admin/api/2026-07/customers.json?limit=2&updated_at_min={stamp.replace('+', '%2B')}"
    )
    assert sorted(f"gid://shopify/Customer/{c['id']}" for c in recent) == sorted(changed)
    cursor_with_filter = http.get(f"{links(first)['next']}&since_id=1")
    assert cursor_with_filter.status_code == 400
    assert http.get("/admin/api/2026-07/products.json?limit=251").status_code == 400
    product = walk(http, "/admin/api/2026-07/products.json?limit=250")[0][0]
    assert product["variants"][0]["sku"].startswith("SKU-") and product["status"] == "active"


def test_leaky_bucket() -> None:
    emulator = ShopifyEmulator(
        ShopifySettings(rest_throttle_enabled=True, rest_bucket_size=3, rest_leak_rate=0.01)
    )
    server = emulator.serve()
    try:
        with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as http:
            answers = [http.get("/admin/api/2026-07/shop.json") for _ in range(4)]
        assert [a.headers["x-shopify-shop-api-call-limit"] for a in answers] == ["1/3", "2/3", "3/3", "3/3"]
        throttled = answers[-1]
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "2.0"
        assert throttled.json()["errors"].startswith("Exceeded 0.01 calls per second for api client.")
        assert emulator.stats_snapshot()["rest_throttled"] == 1
    finally:
        server.stop()
