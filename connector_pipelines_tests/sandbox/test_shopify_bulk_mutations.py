"""Shopify emulator, bulk mutations over real HTTP (stage, upload, run, poll, download): any mutation runs in
bulk (prices by ``productVariantsBulkUpdate``, stock by ``inventorySetQuantities`` with a per-line
``@idempotent`` key), except the bulk operation mutations themselves and documents with more than one
connection field (contract §7.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
LOCATION = "gid://shopify/Location/1"
STAGE = """mutation($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) {
  stagedTargets { url parameters { name value } } userErrors { field message } } }"""
RUN = """mutation($mutation: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) {
    bulkOperation { id status } userErrors { code field message } } }"""
POLL = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status errorCode objectCount url } } }"
VARIANTS = """query($q: String!) { productVariants(first: 10, query: $q) { nodes { id sku price
  product { id } inventoryItem { id inventoryLevel(locationId: "gid://shopify/Location/1") {
    quantities(names: ["available"]) { quantity } } } } } }"""
PRICES_LINE = """mutation call($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: true) {
    productVariants { id price } userErrors { code field message } } }"""
STOCK_LINE = """mutation call($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id } userErrors { code field message } } }"""


class Shop:
    def __init__(self, emulator: ShopifyEmulator, http: httpx.Client) -> None:
        self.emulator = emulator
        self.http = http

    def data(self, query: str, variables: dict[str, Any]) -> Any:
        response = self.http.post(
            "/admin/api/2026-07/graphql.json", json={"query": query, "variables": variables}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def stage(self, lines: list[dict[str, Any]]) -> str:
        """The lines uploaded as a JSONL file; its staged upload path."""
        request = {"resource": "BULK_MUTATION_VARIABLES", "filename": "vars.jsonl", "mimeType": "text/jsonl"}
        staged = self.data(STAGE, {"input": [{**request, "httpMethod": "POST"}]})["stagedUploadsCreate"]
        target = staged["stagedTargets"][0]
        fields = {p["name"]: p["value"] for p in target["parameters"]}
        content = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        uploaded = httpx.post(target["url"], data=fields, files={"file": ("vars.jsonl", content)})
        assert uploaded.status_code == 201, uploaded.text
        return str(fields["key"])

    def run(self, mutation: str, path: str) -> Any:
        return self.data(RUN, {"mutation": mutation, "path": path})["bulkOperationRunMutation"]

    def run_lines(self, mutation: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A completed bulk mutation's result lines, by line number."""
        started = self.run(mutation, self.stage(lines))
        assert started["userErrors"] == [], started
        self.emulator.wait_for_bulk()
        finished = self.data(POLL, {"id": started["bulkOperation"]["id"]})["node"]
        assert finished["status"] == "COMPLETED", finished
        assert finished["objectCount"] == str(len(lines))
        download = httpx.get(finished["url"])
        assert download.status_code == 200
        results = [orjson.loads(raw) for raw in download.content.splitlines() if raw.strip()]
        return sorted(results, key=lambda line: int(line["__lineNumber"]))

    def variants(self, sku_prefix: str) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = self.data(VARIANTS, {"q": f"sku:{sku_prefix}*"})["productVariants"][
            "nodes"
        ]
        return sorted(nodes, key=lambda v: str(v["sku"]))


@pytest.fixture
def shop() -> Iterator[Shop]:
    emulator = ShopifyEmulator(ShopifySettings())
    emulator.seed(products=3, variants=2)
    server = emulator.serve()
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as http:
        yield Shop(emulator, http)
    server.stop()


def test_variant_prices_in_bulk(shop: Shop) -> None:
    first, second = shop.variants("SKU-000001"), shop.variants("SKU-000002")
    lines = [
        {
            "productId": first[0]["product"]["id"],
            "variants": [{"id": v["id"], "price": "11.5"} for v in first],
        },
        {
            "productId": second[0]["product"]["id"],
            "variants": [{"id": second[0]["id"], "price": "7"}, {"id": second[1]["id"], "price": "-1"}],
        },
        {"productId": "gid://shopify/Product/1", "variants": [{"id": first[0]["id"], "price": "1"}]},
    ]
    results = shop.run_lines(PRICES_LINE, lines)

    assert [r["__lineNumber"] for r in results] == [0, 1, 2]
    assert results[0]["data"]["productVariantsBulkUpdate"] == {
        "productVariants": [{"id": v["id"], "price": "11.50"} for v in first],
        "userErrors": [],
    }
    partial = results[1]["data"]["productVariantsBulkUpdate"]
    assert partial["productVariants"] == [{"id": second[0]["id"], "price": "7.00"}]
    assert [(e["code"], e["field"]) for e in partial["userErrors"]] == [
        ("GREATER_THAN_OR_EQUAL_TO", ["variants", "1", "price"])
    ]
    unknown = results[2]["data"]["productVariantsBulkUpdate"]
    assert unknown["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"
    assert [v["price"] for v in shop.variants("SKU-000001")] == ["11.50", "11.50"]
    assert shop.variants("SKU-000002")[0]["price"] == "7.00"
    assert shop.variants("SKU-000002")[1]["price"] == second[1]["price"]


def test_stock_in_bulk_with_idempotency_keys_per_line(shop: Shop) -> None:
    variants = shop.variants("SKU-000003")

    def line(key: str, quantity: int) -> dict[str, Any]:
        quantities = [
            {
                "inventoryItemId": v["inventoryItem"]["id"],
                "locationId": LOCATION,
                "quantity": quantity,
                "changeFromQuantity": None,
            }
            for v in variants
        ]
        return {"key": key, "input": {"name": "available", "reason": "correction", "quantities": quantities}}

    results = shop.run_lines(STOCK_LINE, [line("stock-1", 40), line("stock-1", 41), line("stock-2", 42)])

    payloads = [r["data"]["inventorySetQuantities"] for r in results]
    assert payloads[0]["userErrors"] == [] and payloads[0]["inventoryAdjustmentGroup"]["id"]
    # the key of line 0 again with other quantities: refused, as the same request outside a bulk operation
    assert payloads[1]["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert payloads[2]["userErrors"] == []
    levels = [
        v["inventoryItem"]["inventoryLevel"]["quantities"][0]["quantity"] for v in shop.variants("SKU-000003")
    ]
    assert levels == [42, 42]


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (
            "mutation call($path: String!) { "
            'bulkOperationRunMutation(mutation: "x", stagedUploadPath: $path) { bulkOperation { id } } }',
            "Bulk mutations cannot run other bulk operations.",
        ),
        (
            "mutation call($query: String!) { "
            "bulkOperationRunQuery(query: $query) { bulkOperation { id } } }",
            "Bulk mutations cannot run other bulk operations.",
        ),
        (
            "mutation call($input: ProductSetInput!) { productSet(input: $input) { product { "
            "variants(first: 5) { nodes { id } } media(first: 5) { nodes { id } } } } }",
            "Bulk mutations cannot contain more than 1 connection.",
        ),
    ],
)
def test_refused_bulk_mutations(shop: Shop, mutation: str, message: str) -> None:
    refused = shop.run(mutation, shop.stage([{"path": "x"}]))
    assert refused["bulkOperation"] is None
    assert refused["userErrors"] == [{"code": "INVALID_MUTATION", "field": ["mutation"], "message": message}]


def test_one_connection_is_allowed(shop: Shop) -> None:
    mutation = (
        "mutation call($input: ProductSetInput!) { productSet(input: $input) { "
        "product { handle variants(first: 5) { nodes { sku } } } userErrors { field message } } }"
    )
    product = {
        "title": "Bulk Tee",
        "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
        "variants": [{"optionValues": [{"optionName": "Size", "name": "S"}], "price": "5", "sku": "BULK-S"}],
    }
    [result] = shop.run_lines(mutation, [{"input": product}])
    assert result["data"]["productSet"]["product"]["variants"]["nodes"] == [{"sku": "BULK-S"}]
