"""Shopify emulator, bulk export (``bulkOperationRunQuery``) over real HTTP: the status flow and its three
ways of polling, JSONL with ``__parentId`` lines behind a signed download URL naming the file, search filters,
the concurrency limit, invalid queries and injected failures; and the third-party ``gql`` client against the
emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXTransport

from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.schemas import shopify_schema

TOKEN = "shpat_sandbox_token"
RUN = """mutation($query: String!, $group: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $group) {
    bulkOperation { id status createdAt } userErrors { code field message } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on BulkOperation {
  id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt } } }"""
CUSTOMERS = """{ customers { edges { node { id email defaultAddress { city }
  addressesV2 { edges { node { id city } } } } } } }"""
ORDERS = """{ orders(query: "%s") { edges { node { id name updatedAt totalPriceSet { shopMoney { amount } }
  lineItems { edges { node { id sku quantity } } } } } } }"""


class Shop:
    def __init__(self, emulator: ShopifyEmulator, http: httpx.Client) -> None:
        self.emulator = emulator
        self.http = http

    def gql(self, query: str, variables: dict[str, Any] | None = None, version: str = "2026-07") -> Any:
        response = self.http.post(
            f"/admin/api/{version}/graphql.json", json={"query": query, "variables": variables}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def run(self, query: str, *, group: bool = False, version: str = "2026-07") -> Any:
        return self.gql(RUN, {"query": query, "group": group}, version)["bulkOperationRunQuery"]

    def finished(self, op_id: str) -> Any:
        self.emulator.wait_for_bulk()
        node = self.gql(NODE, {"id": op_id})["node"]
        assert node["status"] in ("COMPLETED", "FAILED", "CANCELED")
        return node

    def lines(self, url: str) -> list[dict[str, Any]]:
        response = httpx.get(url)
        assert response.status_code == 200
        return [orjson.loads(line) for line in response.content.splitlines()]


@pytest.fixture
def shop() -> Iterator[Shop]:
    emulator = ShopifyEmulator()
    emulator.seed(products=10, variants=2, customers=25, orders=40, lines=3)
    server = emulator.serve()
    with httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN}) as http:
        yield Shop(emulator, http)
    server.stop()


def test_export_flow_jsonl_and_download(shop: Shop) -> None:
    shop.emulator.hold_bulk_operations()
    started = shop.run(CUSTOMERS)
    assert started["userErrors"] == []
    op = started["bulkOperation"]
    assert op["status"] == "CREATED"
    created = datetime.fromisoformat(op["createdAt"].replace("Z", "+00:00"))
    assert abs((created - datetime.now(UTC)).total_seconds()) < 60
    polled = shop.gql(
        "query($id: ID!) { bulkOperation(id: $id) { status } currentBulkOperation { id status } }",
        {"id": op["id"]},
    )
    assert polled["bulkOperation"]["status"] == "CREATED"
    assert polled["currentBulkOperation"]["id"] == op["id"]
    shop.emulator.release_bulk_operations()

    done = shop.finished(op["id"])
    assert done["status"] == "COMPLETED"
    assert (done["objectCount"], done["rootObjectCount"]) == ("50", "25")
    query = parse_qs(urlsplit(done["url"]).query)
    assert query["response-content-disposition"][0].startswith('attachment; filename="bulk-')
    download = httpx.get(done["url"])
    assert download.headers["content-disposition"] == query["response-content-disposition"][0]
    assert int(done["fileSize"]) == len(download.content)
    lines = shop.lines(done["url"])
    customers = [line for line in lines if "__parentId" not in line]
    addresses = [line for line in lines if "__parentId" in line]
    assert len(customers) == 25 and len(addresses) == 25
    assert {a["__parentId"] for a in addresses} == {c["id"] for c in customers}
    assert lines[:25] == customers  # without groupObjects, children come after every parent
    assert "addressesV2" not in customers[0] and customers[0]["defaultAddress"]["city"]
    tampered = done["url"].replace("sig=", "sig=0")
    assert httpx.get(tampered).status_code == 403


def test_filters_grouping_and_concurrency(shop: Shop) -> None:
    state = shop.emulator.shop()
    orders = sorted(state.commerce.orders.values(), key=lambda o: o.updated_at)
    cut = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(orders[30].updated_at))
    expected = {
        f"gid://shopify/Order/{o.id}" for o in orders if int(o.updated_at) >= int(orders[30].updated_at)
    }
    op = shop.run(ORDERS % f"updated_at:>='{cut}'", group=True)["bulkOperation"]
    lines = shop.lines(shop.finished(op["id"])["url"])
    roots = [line for line in lines if "__parentId" not in line]
    assert {r["id"] for r in roots} == expected
    parent = None
    for line in lines:  # grouped: each line item follows its order
        if "__parentId" in line:
            assert line["__parentId"] == parent
        else:
            parent = line["id"]

    shop.emulator.hold_bulk_operations()
    ids = [shop.run(CUSTOMERS)["bulkOperation"]["id"] for _ in range(5)]
    sixth = shop.run(CUSTOMERS)
    assert sixth["bulkOperation"] is None
    assert sixth["userErrors"][0]["code"] == "LIMIT_REACHED"
    older = shop.run(CUSTOMERS, version="2025-10")["userErrors"][0]
    assert older["code"] == "OPERATION_IN_PROGRESS"
    cancel = """mutation($id: ID!) {
      bulkOperationCancel(id: $id) { bulkOperation { status } userErrors { message } } }"""
    assert shop.gql(cancel, {"id": ids[0]})["bulkOperationCancel"]["bulkOperation"]["status"] == "CANCELING"
    shop.emulator.release_bulk_operations()
    assert shop.finished(ids[0])["status"] == "CANCELED"
    assert {shop.finished(i)["status"] for i in ids[1:]} == {"COMPLETED"}


def test_invalid_queries_and_failures(shop: Shop) -> None:
    no_connection = shop.run("{ shop { name } }")["userErrors"][0]
    assert (no_connection["code"], no_connection["field"]) == ("INVALID", ["query"])
    broken = shop.run("{ customers { edges { node { nope } } } }")["userErrors"][0]
    assert broken["code"] == "INVALID" and "nope" in broken["message"]
    too_deep = shop.run(
        "{ customers { edges { node { id orders { edges { node { id lineItems { edges { node { id "
        "variant { id } } } } fulfillmentOrders { edges { node { id lineItems { edges { node { id } } } } "
        "} } } } } } } } }"
    )["userErrors"][0]
    assert "nested" in too_deep["message"]

    shop.emulator.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=1)
    op = shop.run(CUSTOMERS)["bulkOperation"]
    failed = shop.finished(op["id"])
    assert (failed["status"], failed["errorCode"], failed["url"]) == ("FAILED", "INTERNAL_SERVER_ERROR", None)
    assert len(shop.lines(failed["partialDataUrl"])) == int(failed["objectCount"]) > 0

    empty = shop.run('{ customers(query: "email:nobody@nowhere.test") { edges { node { id } } } }')
    nothing = shop.finished(empty["bulkOperation"]["id"])
    assert (nothing["status"], nothing["objectCount"], nothing["url"]) == ("COMPLETED", "0", None)


def test_gql_client_conformance(shop: Shop) -> None:
    """The ``gql`` library (client-side validation against the same schema) reads and exports."""
    url = f"{str(shop.http.base_url).rstrip('/')}/admin/api/2026-07/graphql.json"
    transport = HTTPXTransport(url=url, headers={"X-Shopify-Access-Token": TOKEN})
    orders = "query($n: Int!) { orders(first: $n) { nodes { id lineItems(first: 5) { nodes { sku } } } } }"
    export = "{ products { edges { node { id variants { edges { node { sku } } } } } } }"
    with Client(transport=transport, schema=shopify_schema()) as session:
        page = session.execute(GraphQLRequest(orders, variable_values={"n": 3}))
        assert len(page["orders"]["nodes"]) == 3
        started = session.execute(GraphQLRequest(RUN, variable_values={"query": export, "group": False}))
    done = shop.finished(started["bulkOperationRunQuery"]["bulkOperation"]["id"])
    assert (done["objectCount"], done["rootObjectCount"]) == ("30", "10")
