"""Shopify emulator: metafieldsSet / metafieldsDelete and tagsAdd / tagsRemove over real HTTP, validated
against the vendored 2026-07 Admin schema like every other document."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator

TOKEN = "shpat_sandbox_token"
CREATE = """
mutation($input: ProductSetInput!) {
  productSet(input: $input) { product { id variants(first: 5) { nodes { id } } } userErrors { message } }
}"""
SET = """
mutation Set($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields {
      id namespace key type value compareDigest ownerType owner { __typename ... on Product { id } }
    }
    userErrors { field message code elementIndex }
  }
}"""
READ = """
query($id: ID!) {
  product(id: $id) { tags updatedAt metafields(first: 10) { nodes { namespace key type value } } }
}"""
TAGS = """
mutation($id: ID!, $tags: [String!]!) {
  %s(id: $id, tags: $tags) { node { __typename id ... on Product { tags } } userErrors { field message } }
}"""


class Shop:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"X-Shopify-Access-Token": TOKEN})

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = self.http.post(
            "/admin/api/2026-07/graphql.json", json={"query": query, "variables": variables}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def product(self) -> tuple[str, str]:
        body = self.gql(CREATE, {"input": {"title": "Tee", "tags": ["cotton"]}})
        product = body["data"]["productSet"]["product"]
        return product["id"], product["variants"]["nodes"][0]["id"]

    def set(self, *metafields: dict[str, Any]) -> Any:
        body = self.gql(SET, {"metafields": list(metafields)})
        assert "errors" not in body, body
        return body["data"]["metafieldsSet"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ShopifyEmulator, str]]:
    emulator = ShopifyEmulator()
    server = emulator.serve()  # already started
    yield emulator, server.base_url
    server.stop()


@pytest.fixture
def shop(served: tuple[ShopifyEmulator, str]) -> Iterator[Shop]:
    served[0].reset()
    client = Shop(served[1])
    yield client
    client.http.close()


def field(
    owner: str, key: str, value: str, type_: str = "single_line_text_field", **extra: Any
) -> dict[str, Any]:
    return {"ownerId": owner, "namespace": "erp", "key": key, "type": type_, "value": value, **extra}


# -- metafieldsSet -------------------------------------------------------------------------------------------


def test_metafields_set_creates_then_updates_on_products_and_variants(shop: Shop) -> None:
    product, variant = shop.product()
    created = shop.set(
        field(product, "erp_id", "42", "number_integer"),
        field(variant, "color_code", "#FF0000", "color"),
        {"ownerId": product, "key": "synced", "type": "boolean", "value": "true"},  # no namespace: the app's
    )
    assert created["userErrors"] == []
    erp, color, synced = created["metafields"]
    assert (erp["namespace"], erp["key"], erp["type"], erp["value"]) == (
        "erp",
        "erp_id",
        "number_integer",
        "42",
    )
    assert erp["owner"] == {"__typename": "Product", "id": product}
    assert (color["ownerType"], color["owner"]) == ("PRODUCTVARIANT", {"__typename": "ProductVariant"})
    assert synced["namespace"] == "app--1"
    assert erp["compareDigest"] == hashlib.sha256(b"42").hexdigest()
    updated = shop.set(field(product, "erp_id", "43", "number_integer"))
    assert updated["metafields"][0]["id"] == erp["id"]  # same metafield, new value
    nodes = shop.gql(READ, {"id": product})["data"]["product"]["metafields"]["nodes"]
    assert {(n["namespace"], n["key"], n["value"]) for n in nodes} == {
        ("erp", "erp_id", "43"),
        ("app--1", "synced", "true"),
    }


def test_metafields_set_user_errors_use_the_schema_codes_and_write_nothing(shop: Shop) -> None:
    product, _ = shop.product()
    answer = shop.set(
        field(product, "fine", "ok"),
        field(product, "n", "x"),
        field(product, "count", "many", "number_integer"),
        field(product, "kind", "x", "no_such_type"),
        {"ownerId": product, "namespace": "erp", "key": "untyped", "value": "x"},
        field("gid://shopify/Product/999999999", "gone", "x"),
        field(product, "sizes", '["S", "two\\nlines"]', "list.single_line_text_field"),
        field(product, "blank", ""),
        {**field(product, "ns", "x"), "namespace": "ab"},
    )
    assert answer["metafields"] == []
    assert [(e["field"], e["code"]) for e in answer["userErrors"]] == [
        (["metafields", "1", "key"], "TOO_SHORT"),
        (["metafields", "2", "value"], "INVALID_VALUE"),
        (["metafields", "3", "type"], "INVALID_TYPE"),
        (["metafields", "4", "type"], "BLANK"),
        (["metafields", "5", "ownerId"], "INVALID"),
        (["metafields", "6", "value"], "INVALID_VALUE"),
        (["metafields", "7", "value"], "BLANK"),
        (["metafields", "8", "namespace"], "TOO_SHORT"),
    ]
    assert answer["userErrors"][5]["elementIndex"] == 1  # the list element that is not text
    assert answer["userErrors"][0]["elementIndex"] is None
    nodes = shop.gql(READ, {"id": product})["data"]["product"]["metafields"]["nodes"]
    assert nodes == []  # atomic: the valid first input was not written either
    codes = shop.gql('{ __type(name: "MetafieldsSetUserErrorCode") { enumValues { name } } }')["data"][
        "__type"
    ]["enumValues"]
    schema_codes = {c["name"] for c in codes}
    assert {"TOO_SHORT", "INVALID_VALUE", "INVALID_TYPE", "BLANK", "INVALID", "STALE_OBJECT"} <= schema_codes


def test_metafields_set_compare_digest_is_optional_compare_and_set(shop: Shop) -> None:
    product, _ = shop.product()
    # null: only when the metafield does not exist yet
    first = shop.set(field(product, "sku", "A", compareDigest=None))
    assert first["userErrors"] == []
    again = shop.set(field(product, "sku", "B", compareDigest=None))
    assert [e["code"] for e in again["userErrors"]] == ["STALE_OBJECT"]
    digest = first["metafields"][0]["compareDigest"]
    assert shop.set(field(product, "sku", "B", compareDigest=digest))["userErrors"] == []
    stale = shop.set(field(product, "sku", "C", compareDigest=digest))  # digest of "A", value is "B" now
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [
        (["metafields", "0", "compareDigest"], "STALE_OBJECT")
    ]
    malformed = shop.set(field(product, "sku", "C", compareDigest="abc"))
    assert [e["code"] for e in malformed["userErrors"]] == ["INVALID_COMPARE_DIGEST"]
    assert shop.set(field(product, "sku", "C"))["userErrors"] == []  # no compareDigest: no check


def test_metafields_set_takes_at_most_25(shop: Shop) -> None:
    product, _ = shop.product()
    body = shop.gql(SET, {"metafields": [field(product, f"key_{i}", "x") for i in range(26)]})
    assert body["data"]["metafieldsSet"] is None
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert "maximum allowed of 25" in body["errors"][0]["message"]
    assert shop.set(*[field(product, f"key_{i}", "x") for i in range(25)])["userErrors"] == []


def test_metafields_delete(shop: Shop) -> None:
    product, _ = shop.product()
    shop.set(field(product, "erp_id", "1"))
    deleted = shop.gql(
        """mutation($m: [MetafieldIdentifierInput!]!) {
             metafieldsDelete(metafields: $m) {
               deletedMetafields { ownerId namespace key } userErrors { message }
             }
           }""",
        {
            "m": [
                {"ownerId": product, "namespace": "erp", "key": "erp_id"},
                {"ownerId": product, "namespace": "erp", "key": "x"},
            ]
        },
    )["data"]["metafieldsDelete"]
    assert deleted == {
        "deletedMetafields": [{"ownerId": product, "namespace": "erp", "key": "erp_id"}, None],
        "userErrors": [],
    }
    assert shop.gql(READ, {"id": product})["data"]["product"]["metafields"]["nodes"] == []


def test_a_bad_document_is_rejected_by_the_schema(shop: Shop) -> None:
    body = shop.gql(
        'mutation { metafieldsSet(metafields: [{key: "k", value: "v"}]) { userErrors { code } } }'
    )
    assert "ownerId" in body["errors"][0]["message"]


# -- tagsAdd / tagsRemove ------------------------------------------------------------------------------------


def test_tags_add_and_remove_on_products(shop: Shop) -> None:
    product, variant = shop.product()
    before = shop.gql(READ, {"id": product})["data"]["product"]["updatedAt"]
    added = shop.gql(TAGS % "tagsAdd", {"id": product, "tags": ["summer, sale", "Cotton", " new "]})
    payload = added["data"]["tagsAdd"]
    assert payload["userErrors"] == []
    assert payload["node"] == {
        "__typename": "Product",
        "id": product,
        "tags": ["cotton", "summer", "sale", "new"],
    }
    single = shop.gql(TAGS % "tagsAdd", {"id": product, "tags": "outlet"})  # one string stands for a list
    assert single["data"]["tagsAdd"]["node"]["tags"][-1] == "outlet"
    removed = shop.gql(TAGS % "tagsRemove", {"id": product, "tags": ["SALE", "nope", "outlet"]})
    assert removed["data"]["tagsRemove"]["node"]["tags"] == ["cotton", "summer", "new"]
    product_now = shop.gql(READ, {"id": product})["data"]["product"]
    assert product_now["tags"] == ["cotton", "summer", "new"]
    assert product_now["updatedAt"] >= before
    found = shop.gql('{ products(first: 5, query: "tag:summer") { nodes { id } } }')
    assert found["data"]["products"]["nodes"] == [{"id": product}]
    for mutation in ("tagsAdd", "tagsRemove"):
        for target in ("gid://shopify/Product/999999999", variant, "gid://shopify/Order/1"):
            answer = shop.gql(TAGS % mutation, {"id": target, "tags": ["x"]})["data"][mutation]
            assert answer["node"] is None
            assert answer["userErrors"][0]["field"] == ["id"]
    too_long = shop.gql(TAGS % "tagsAdd", {"id": product, "tags": ["x" * 256]})["data"]["tagsAdd"]
    assert too_long["userErrors"][0]["field"] == ["tags"]
    assert shop.gql(READ, {"id": product})["data"]["product"]["tags"] == ["cotton", "summer", "new"]
