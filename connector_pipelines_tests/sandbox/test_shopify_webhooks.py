"""Shopify emulator, webhooks over real HTTP: subscriptions through the Admin API, deliveries of changes with
Shopify's headers and HMAC, retries with the original payload, deletion of a failing subscription, and the
compliance topics."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
CREATE = """mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri format includeFields apiVersion { handle } }
    userErrors { field message } } }"""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint that records deliveries and answers ``failures[path]`` times with a 500 first."""

    received: list[Received] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        self.received.append(Received(path, dict(request.headers), await request.body()))
        if self.failures.get(path, 0) > 0:
            self.failures[path] -= 1
            return Response(status_code=500)
        return Response(status_code=200)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    sink = Receiver()
    server = EmulatorServer(Starlette(routes=[Route("/{path:path}", sink.handle, methods=["POST"])])).start()
    yield sink, server.base_url
    server.stop()


def make(**settings: Any) -> tuple[ShopifyEmulator, EmulatorServer, httpx.Client]:
    emulator = ShopifyEmulator(ShopifySettings(webhook_retry_delays_s=(0.01, 0.01, 0.01), **settings))
    server = emulator.serve()
    http = httpx.Client(base_url=server.base_url, headers={"X-Shopify-Access-Token": TOKEN})
    return emulator, server, http


def gql(http: httpx.Client, query: str, variables: dict[str, Any]) -> Any:
    body = http.post("/admin/api/2026-07/graphql.json", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body
    return body["data"]


def subscribe(http: httpx.Client, topic: str, uri: str, **extra: Any) -> Any:
    return gql(http, CREATE, {"topic": topic, "sub": {"uri": uri, **extra}})["webhookSubscriptionCreate"]


def test_deliveries_carry_shopifys_headers_and_rest_payloads(receiver: tuple[Receiver, str]) -> None:
    sink, base = receiver
    emulator, server, http = make()
    try:
        emulator.seed(products=2, variants=1)
        created = subscribe(http, "ORDERS_PAID", f"{base}/paid")
        assert created["userErrors"] == []
        assert created["webhookSubscription"]["apiVersion"]["handle"] == "2026-07"
        subscribe(
            http, "ORDERS_PAID", f"{base}/paid-too", includeFields=["id", "updated_at", "financial_status"]
        )
        subscribe(http, "CUSTOMERS_DELETE", f"{base}/gone")
        listed = gql(http, "{ webhookSubscriptions(first: 10, topics: [ORDERS_PAID]) { nodes { uri } } }", {})
        assert sorted(n["uri"] for n in listed["webhookSubscriptions"]["nodes"]) == [
            f"{base}/paid",
            f"{base}/paid-too",
        ]

        customer = emulator.create_customer(email="ada@example.com", first_name="Ada")
        order = emulator.create_order([("SKU-000001-01", 1)], customer=customer, financial_status="PENDING")
        emulator.pay_order(order)
        emulator.delete_customer(customer)
        emulator.wait_for_webhooks()

        [paid] = sink.at("/paid")
        [trimmed] = sink.at("/paid-too")
        headers = paid.headers
        assert headers["x-shopify-topic"] == "orders/paid"
        assert headers["x-shopify-shop-domain"] == "sandbox.myshopify.com"
        assert headers["x-shopify-api-version"] == "2026-07"
        assert headers["x-shopify-triggered-at"].endswith("Z")
        digest = hmac.new(emulator.settings.app_secret.encode(), paid.body, hashlib.sha256).digest()
        assert headers["x-shopify-hmac-sha256"] == base64.b64encode(digest).decode()
        assert headers["x-shopify-event-id"] == trimmed.headers["x-shopify-event-id"]
        assert headers["x-shopify-webhook-id"] != trimmed.headers["x-shopify-webhook-id"]
        payload = orjson.loads(paid.body)
        assert payload["admin_graphql_api_id"] == order
        assert payload["id"] == int(order.rsplit("/", 1)[1])
        assert payload["financial_status"] == "paid"
        assert payload["line_items"][0]["sku"] == "SKU-000001-01"
        assert set(orjson.loads(trimmed.body)) == {"id", "updated_at", "financial_status"}
        [gone] = sink.at("/gone")
        assert orjson.loads(gone.body) == {"id": int(customer.rsplit("/", 1)[1])}
    finally:
        http.close()
        server.stop()


def test_retries_keep_the_delivery_and_failing_subscriptions_are_deleted(
    receiver: tuple[Receiver, str],
) -> None:
    sink, base = receiver
    emulator, server, http = make(webhook_delete_after_failures=1)
    try:
        sink.failures = {"/flaky": 2, "/down": 100}
        subscribe(http, "CUSTOMERS_CREATE", f"{base}/flaky")
        subscribe(http, "CUSTOMERS_CREATE", f"{base}/down")
        emulator.create_customer(email="bob@example.com")
        emulator.wait_for_webhooks()
        flaky = sink.at("/flaky")
        assert len(flaky) == 3
        assert len({r.headers["x-shopify-webhook-id"] for r in flaky}) == 1
        assert len({r.body for r in flaky}) == 1
        assert len({r.headers["x-shopify-triggered-at"] for r in flaky}) == 1
        assert len(sink.at("/down")) == 4  # the first try and three retries
        statuses = [a.status for a in emulator.webhook_attempts() if a.uri.endswith("/flaky")]
        assert statuses == [500, 500, 200]
        remaining = gql(http, "{ webhookSubscriptions(first: 10) { nodes { uri } } }", {})
        assert [n["uri"] for n in remaining["webhookSubscriptions"]["nodes"]] == [f"{base}/flaky"]
    finally:
        http.close()
        server.stop()


def test_subscription_rules_and_compliance_topics(receiver: tuple[Receiver, str]) -> None:
    sink, base = receiver
    emulator, server, http = make()
    try:
        insecure = subscribe(http, "PRODUCTS_UPDATE", "http://example.com/hooks")
        assert insecure["userErrors"][0]["message"] == "Address protocol http:// is not supported"
        first = subscribe(http, "PRODUCTS_UPDATE", f"{base}/p")["webhookSubscription"]
        again = subscribe(http, "PRODUCTS_UPDATE", f"{base}/p")
        assert again["userErrors"][0]["message"] == "Address for this topic has already been taken"
        delete = """mutation($id: ID!) { webhookSubscriptionDelete(id: $id) {
          deletedWebhookSubscriptionId userErrors { message } } }"""
        deleted = gql(http, delete, {"id": first["id"]})["webhookSubscriptionDelete"]
        assert deleted == {"deletedWebhookSubscriptionId": first["id"], "userErrors": []}
        assert gql(http, delete, {"id": first["id"]})["webhookSubscriptionDelete"]["userErrors"]

        customer = emulator.create_customer(email="eve@example.com", phone="+491510000")
        emulator.send_compliance_webhook("customers/redact", f"{base}/redact", customer=customer)
        emulator.send_compliance_webhook("shop/redact", f"{base}/shop")
        emulator.wait_for_webhooks()
        [redact] = sink.at("/redact")
        assert redact.headers["x-shopify-topic"] == "customers/redact"
        body = orjson.loads(redact.body)
        assert body["customer"] == {
            "id": int(customer.rsplit("/", 1)[1]),
            "email": "eve@example.com",
            "phone": "+491510000",
        }
        assert body["shop_domain"] == "sandbox.myshopify.com" and body["orders_to_redact"] == []
        assert set(orjson.loads(sink.at("/shop")[0].body)) == {"shop_id", "shop_domain"}
        with pytest.raises(ValueError, match="not a compliance topic"):
            emulator.send_compliance_webhook("orders/create", f"{base}/x")
    finally:
        http.close()
        server.stop()


def test_duplicated_and_reordered_deliveries(receiver: tuple[Receiver, str]) -> None:
    sink, base = receiver
    emulator, server, http = make(webhook_duplicate_rate=1.0, webhook_reorder=True)
    try:
        emulator.subscribe_webhook("customers/create", f"{base}/dup")
        made = [emulator.create_customer(email=f"c{i}@example.com") for i in range(5)]
        emulator.wait_for_webhooks()
        received = sink.at("/dup")
        assert len(received) == 10  # every delivery twice, with the same webhook id
        by_webhook: dict[str, int] = {}
        for delivery in received:
            by_webhook[delivery.headers["x-shopify-webhook-id"]] = (
                by_webhook.get(delivery.headers["x-shopify-webhook-id"], 0) + 1
            )
        assert sorted(by_webhook.values()) == [2] * 5
        ids = {orjson.loads(d.body)["admin_graphql_api_id"] for d in received}
        assert ids == set(made)
    finally:
        http.close()
        server.stop()
