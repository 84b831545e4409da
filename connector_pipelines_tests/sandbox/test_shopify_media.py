"""Shopify emulator: productSet's ``files`` and the variants' ``file`` (media by URL), variant metafields, and
inventory at several locations, as the 2026-07 schema describes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
IMG = "https://img.example.com"
MAIN, BERLIN = "gid://shopify/Location/1", "gid://shopify/Location/2"
SET = """
mutation($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product {
      id mediaCount { count }
      featuredMedia { id }
      featuredImage { altText }
      media(first: 10) {
        nodes {
          id alt mediaContentType status
          ... on MediaImage { image { url altText } originalSource { url } mimeType fileStatus }
        }
      }
      variants(first: 5) {
        nodes {
          sku media(first: 2) { nodes { id } }
          image { url }
          metafields(first: 5) { nodes { namespace key type value } }
          inventoryItem { inventoryLevels(first: 5) {
            nodes { location { id } quantities(names: ["available"]) { quantity } }
          } }
        }
      }
    }
    userErrors { code field message }
  }
}"""
LOCATIONS = "{ locations(first: 5) { nodes { id name isPrimary isActive } } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on MediaImage { alt } } }"


Shop = Callable[..., Any]


@pytest.fixture
def make_shop() -> Iterator[Callable[..., Shop]]:
    servers = []

    def make(**settings: Any) -> Shop:
        emulator = ShopifyEmulator(ShopifySettings(location_names={1: "Main", 2: "Berlin"}, **settings))
        server = emulator.serve()
        servers.append(server)
        client = httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN})

        def gql(query: str, variables: dict[str, Any] | None = None) -> Any:
            response = client.post(
                "/admin/api/2026-07/graphql.json", json={"query": query, "variables": variables or {}}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        gql.emulator = emulator  # type: ignore[attr-defined]
        return gql

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    return make_shop()


def _file(name: str, alt: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"originalSource": f"{IMG}/{name}.jpg", "contentType": "IMAGE"}
    if alt is not None:
        item["alt"] = alt
    return item


def _variant(size: str, **fields: Any) -> dict[str, Any]:
    return {
        "optionValues": [{"optionName": "Size", "name": size}],
        "sku": f"TEE-{size}",
        "price": "9",
    } | fields


def _tee(*variants: dict[str, Any], **fields: Any) -> dict[str, Any]:
    sizes = [{"name": v["optionValues"][0]["name"]} for v in variants]
    return {
        "title": "Tee",
        "productOptions": [{"name": "Size", "values": sizes}],
        "variants": list(variants),
    } | (fields)


def _set(shop: Shop, product: dict[str, Any], product_id: str | None = None) -> dict[str, Any]:
    identifier = {"id": product_id} if product_id else None
    result: dict[str, Any] = shop(SET, {"identifier": identifier, "input": product})["productSet"]
    return result


def test_files_become_the_products_media_in_order_and_variants_show_theirs(shop: Shop) -> None:
    red = _file("red")
    result = _set(
        shop,
        _tee(
            _variant("S", file=red),
            _variant("M"),
            files=[_file("front", "Front"), {"originalSource": f"{IMG}/back.png"}, red],
        ),
    )
    assert result["userErrors"] == []
    product = result["product"]
    media = product["media"]["nodes"]
    assert [m["originalSource"]["url"] for m in media] == [
        f"{IMG}/front.jpg",
        f"{IMG}/back.png",
        f"{IMG}/red.jpg",
    ]
    assert media[0]["alt"] == "Front" and media[1]["alt"] == ""
    assert {(m["mediaContentType"], m["status"], m["fileStatus"]) for m in media} == {
        ("IMAGE", "READY", "READY")
    }
    assert [m["mimeType"] for m in media] == ["image/jpeg", "image/png", "image/jpeg"]
    assert (
        media[0]["image"]["url"].startswith("https://cdn.shopify.com/")
        and media[0]["image"]["altText"] == "Front"
    )
    assert product["mediaCount"] == {"count": 3} and product["featuredMedia"] == {"id": media[0]["id"]}
    small, medium = product["variants"]["nodes"]
    assert small["media"]["nodes"] == [{"id": media[2]["id"]}] and medium["media"]["nodes"] == []
    # The deprecated image fields many clients still read show the same media.
    assert product["featuredImage"] == {"altText": "Front"}
    assert small["image"] == {"url": media[2]["image"]["url"]} and medium["image"] is None
    assert shop(NODE, {"id": media[0]["id"]})["node"] == {"id": media[0]["id"], "alt": "Front"}


def test_files_replace_the_media_and_leaving_them_out_keeps_them(shop: Shop) -> None:
    red = _file("red")
    first = _set(shop, _tee(_variant("S", file=red), files=[_file("front"), red]))["product"]
    product_id = first["id"]
    front, red_id = (m["id"] for m in first["media"]["nodes"])

    kept = _set(shop, _tee(_variant("S", price="10")), product_id)["product"]
    assert [m["id"] for m in kept["media"]["nodes"]] == [front, red_id], "no files: media unchanged"
    assert kept["variants"]["nodes"][0]["media"]["nodes"] == [{"id": red_id}], "no file: the variant's stays"

    by_id = _set(shop, _tee(_variant("S"), files=[{"id": red_id, "alt": "Red"}, _file("side")]), product_id)
    media = by_id["product"]["media"]["nodes"]
    assert media[0]["id"] == red_id and media[0]["alt"] == "Red", "named by id: the same media, updated"
    assert media[1]["id"] not in (front, red_id)
    assert shop(NODE, {"id": front})["node"] is None, "a dropped image no product shows is gone"

    cleared = _set(shop, _tee(_variant("S"), files=[]), product_id)["product"]
    assert cleared["media"]["nodes"] == [] and cleared["variants"]["nodes"][0]["media"]["nodes"] == []
    emulator: ShopifyEmulator = shop.emulator  # type: ignore[attr-defined]
    assert emulator.products()[0]["media"] == [] and emulator.shop().files == {}


def test_files_that_cannot_be_media_are_user_errors_and_write_nothing(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop(max_media_per_product=3)
    result = _set(
        shop,
        _tee(
            _variant("S", file=_file("elsewhere")),
            files=[
                {"originalSource": "ftp://img.example.com/a.jpg"},
                {"originalSource": f"{IMG}/v.mp4", "contentType": "VIDEO"},
                {"alt": "nothing"},
            ],
        ),
    )
    assert result["product"] is None
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        (["input", "files", "0", "originalSource"], "INVALID_INPUT"),
        (["input", "files", "1", "contentType"], "INVALID_INPUT"),
        (["input", "files", "2"], "INVALID_INPUT"),
        (["input", "variants", "0", "file"], "INVALID_INPUT"),
    ]
    unknown = _set(shop, _tee(_variant("S"), files=[{"id": "gid://shopify/MediaImage/1"}]))["userErrors"]
    assert [(e["field"], e["code"]) for e in unknown] == [(["input", "files", "0", "id"], "NOT_FOUND")]
    too_many = _set(shop, _tee(_variant("S"), files=[_file(str(n)) for n in range(4)]))["userErrors"]
    assert too_many[0]["message"] == "A product can have at most 3 media."
    emulator: ShopifyEmulator = shop.emulator  # type: ignore[attr-defined]
    assert emulator.product_count() == 0 and emulator.shop().files == {}


def test_variant_metafields_are_stored_per_variant(shop: Shop) -> None:
    fit = {"namespace": "custom", "key": "fit", "type": "single_line_text_field", "value": "slim"}
    result = _set(shop, _tee(_variant("S", metafields=[fit]), _variant("M")))
    small, medium = result["product"]["variants"]["nodes"]
    assert small["metafields"]["nodes"] == [fit] and medium["metafields"]["nodes"] == []
    wrong = _set(shop, _tee(_variant("S", metafields=[fit | {"type": "number_integer"}])))["userErrors"]
    assert wrong[0]["field"] == ["input", "variants", "0", "metafields", "0", "value"]


def _stock(**at: int) -> list[dict[str, Any]]:
    locations = {"main": MAIN, "berlin": BERLIN}
    return [{"locationId": locations[k], "name": "available", "quantity": q} for k, q in at.items()]


def _levels(variant: dict[str, Any]) -> dict[str, int]:
    nodes = variant["inventoryItem"]["inventoryLevels"]["nodes"]
    return {n["location"]["id"]: n["quantities"][0]["quantity"] for n in nodes}


def test_stock_at_several_locations_and_only_where_a_variant_is_stocked(shop: Shop) -> None:
    assert shop(LOCATIONS)["locations"]["nodes"] == [
        {"id": MAIN, "name": "Main", "isPrimary": True, "isActive": True},
        {"id": BERLIN, "name": "Berlin", "isPrimary": False, "isActive": True},
    ]
    created = _set(
        shop,
        _tee(
            _variant("S", inventoryQuantities=_stock(main=3, berlin=4)),
            _variant("M", inventoryQuantities=_stock(main=1)),
        ),
    )["product"]
    small, medium = created["variants"]["nodes"]
    assert (_levels(small), _levels(medium)) == ({MAIN: 3, BERLIN: 4}, {MAIN: 1}), "new variants: anywhere"

    updated = _set(
        shop,
        _tee(
            _variant("S", inventoryQuantities=_stock(berlin=9)),
            _variant("M", inventoryQuantities=_stock(main=2)),
        ),
        created["id"],
    )["product"]
    assert [_levels(v) for v in updated["variants"]["nodes"]] == [{MAIN: 3, BERLIN: 9}, {MAIN: 2}]

    # "If you're updating an existing variant, then you can only update the quantities at locations where the
    # variant is already stocked." (ProductVariantSetInput.inventoryQuantities)
    refused = _set(
        shop, _tee(_variant("S"), _variant("M", inventoryQuantities=_stock(berlin=5))), created["id"]
    )
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "variants", "1", "inventoryQuantities", "0", "locationId"], "INVALID_INPUT")
    ]
    assert "not stocked at location 'Berlin'" in refused["userErrors"][0]["message"]


def test_stocking_a_new_location_and_the_quantity_limit_are_settings(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop(unstocked_location="stock", max_inventory_quantities=2)
    product = _set(shop, _tee(_variant("S", inventoryQuantities=_stock(main=1))))["product"]
    stocked = _set(shop, _tee(_variant("S", inventoryQuantities=_stock(main=1, berlin=6))), product["id"])
    assert _levels(stocked["product"]["variants"]["nodes"][0]) == {MAIN: 1, BERLIN: 6}
    over = _set(
        shop,
        _tee(
            _variant("S", inventoryQuantities=_stock(main=1, berlin=1)),
            _variant("M", inventoryQuantities=_stock(main=1)),
        ),
    )
    assert [(e["field"], e["code"]) for e in over["userErrors"]] == [
        (["input", "variants"], "INVENTORY_QUANTITIES_LIMIT_EXCEEDED")
    ]
