"""Plentymarkets emulator: the single-item routes of Plenty's REST API (ItemApi in Plenty's OpenAPI),
``GET /rest/items/{itemId}``, ``.../variations`` and ``.../variations/{variationId}``, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connector_pipelines.sandbox.plentymarkets import PlentyEmulator

CREDENTIALS = {"username": "sandbox", "password": "sandbox-password"}
ALL_LISTS = (
    "variationSalesPrices,variationCategories,variationBarcodes,variationClients,variationDefaultCategory,"
    "images,variationSkus"
)


@pytest.fixture
def plenty() -> Iterator[tuple[PlentyEmulator, httpx.Client]]:
    emulator = PlentyEmulator(products=6, variants=3, seed=3)
    with emulator.serve() as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post("/rest/login", json=CREDENTIALS).json()["accessToken"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield emulator, client


def test_item_detail_is_the_list_entry_alone(plenty: tuple[PlentyEmulator, httpx.Client]) -> None:
    emulator, client = plenty
    item_id = next(iter(emulator.catalog.items))
    listed = client.get("/rest/items", params={"id": item_id, "lang": "en", "with": "variations"}).json()
    detail = client.get(f"/rest/items/{item_id}", params={"lang": "en", "with": "variations"})
    assert detail.status_code == 200
    assert detail.json() == listed["entries"][0]  # a bare Item, no page envelope
    assert [t["lang"] for t in detail.json()["texts"]] == ["en"]
    assert "variations" not in client.get(f"/rest/items/{item_id}").json()


def test_item_variations_are_paged_and_filtered(plenty: tuple[PlentyEmulator, httpx.Client]) -> None:
    emulator, client = plenty
    item = next(i for i in emulator.catalog.items.values() if len(i.variation_ids) > 1)
    route = f"/rest/items/{item.id}/variations"
    page = client.get(route, params={"itemsPerPage": 1, "with": "variationSalesPrices"})
    assert page.status_code == 200
    body = page.json()
    assert (body["page"], body["totalsCount"], body["itemsPerPage"]) == (1, len(item.variation_ids), 1)
    assert body["entries"][0]["itemId"] == item.id
    assert "variationSalesPrices" in body["entries"][0]
    everything = client.get(route).json()["entries"]
    assert [v["id"] for v in everything] == sorted(item.variation_ids)
    same = client.get("/rest/items/variations", params={"itemId": item.id}).json()["entries"]
    assert everything == same
    main = client.get(route, params={"isMain": "true"}).json()["entries"]
    assert [v["id"] for v in main] == [item.main_variation_id]
    # No match is still the item's (empty) list, not a 404.
    none = client.get(route, params={"numberExact": "no-such-number"})
    assert (none.status_code, none.json()["totalsCount"], none.json()["entries"]) == (200, 0, [])
    unknown_filter = client.get(route, params={"itemName": "x"})  # not a filter of this route
    assert unknown_filter.status_code == 422


def test_single_variation_of_an_item(plenty: tuple[PlentyEmulator, httpx.Client]) -> None:
    emulator, client = plenty
    item = next(iter(emulator.catalog.items.values()))
    variation_id = item.variation_ids[-1]
    detail = client.get(f"/rest/items/{item.id}/variations/{variation_id}", params={"with": "stock,unit"})
    assert detail.status_code == 200
    listed = client.get("/rest/items/variations", params={"id": variation_id, "with": "stock,unit"}).json()[
        "entries"
    ][0]
    assert detail.json() == listed
    other_item = next(i for i in emulator.catalog.items.values() if i.id != item.id)
    assert client.get(f"/rest/items/{other_item.id}/variations/{variation_id}").status_code == 404


def test_only_unknown_ids_answer_404(plenty: tuple[PlentyEmulator, httpx.Client]) -> None:
    emulator, client = plenty
    item = next(iter(emulator.catalog.items.values()))
    missing_item = max(emulator.catalog.items) + 1000
    missing_variation = max(emulator.catalog.variations) + 1000
    for path in (
        f"/rest/items/{missing_item}",
        f"/rest/items/{missing_item}/variations",
        f"/rest/items/{missing_item}/variations/{item.variation_ids[0]}",
        f"/rest/items/{item.id}/variations/{missing_variation}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == 404
    emulator.delete_item(item.id)
    assert client.get(f"/rest/items/{item.id}").status_code == 404
    # the list routes under /rest/items keep their own meaning
    assert client.get("/rest/items/variations").json()["page"] == 1
    assert client.get("/rest/items/manufacturers").status_code == 200
    # statistics and rate limits see the route, not each id
    calls = emulator.stats().requests
    assert calls["GET /rest/items/{itemId}"] >= 2
    assert calls["GET /rest/items/{itemId}/variations/{variationId}"] >= 2
    # without a token, 401 as everywhere
    assert httpx.get(f"{client.base_url}/rest/items/{item.id}").status_code == 401


def test_sub_lists_of_a_variation_and_item_images(plenty: tuple[PlentyEmulator, httpx.Client]) -> None:
    emulator, client = plenty
    item = next(iter(emulator.catalog.items.values()))
    variation_id = item.variation_ids[0]
    base = f"/rest/items/{item.id}/variations/{variation_id}"
    full = client.get("/rest/items/variations", params={"id": variation_id, "with": ALL_LISTS}).json()
    entry = full["entries"][0]
    for path, relation in (
        ("variation_sales_prices", "variationSalesPrices"),
        ("variation_categories", "variationCategories"),
        ("variation_barcodes", "variationBarcodes"),
        ("variation_clients", "variationClients"),
        ("variation_default_categories", "variationDefaultCategory"),
        ("images", "images"),
        ("variation_skus", "variationSkus"),
    ):
        response = client.get(f"{base}/{path}")
        assert response.status_code == 200, path
        assert response.json() == entry[relation], path  # a bare array, as Plenty's OpenAPI declares
    assert client.get(f"{base}/stock").json()[0]["variationId"] == variation_id  # its own route still
    assert client.get(f"{base}/no_such_list").status_code == 404
    assert (
        client.get(
            f"/rest/items/{item.id}/variations/{max(emulator.catalog.variations) + 1}/images"
        ).status_code
        == 404
    )
    images = client.get(f"/rest/items/{item.id}/images")
    assert images.status_code == 200
    listed = client.get("/rest/items", params={"id": item.id, "with": "itemImages"}).json()["entries"][0]
    assert images.json() == listed["itemImages"]
