"""A tenant's Shopify webhook subscriptions through its Shopify client.

The Shopify emulator does not model ``webhookSubscriptionCreate`` and friends (it answers NOT_IMPLEMENTED,
which the API passes on as a 502), so the happy path runs against a stand-in shop that validates each document
against the vendored Admin schema and answers as Shopify documents it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from graphql import parse, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.schemas import shopify_schema
from connector_pipelines_tests.service.conftest import Service

GID = "gid://shopify/WebhookSubscription/"


class StandInShop:
    """Webhook subscriptions of one shop, over its Admin GraphQL endpoint."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.app = Starlette(
            routes=[Route("/admin/api/{version}/graphql.json", self.graphql, methods=["POST"])]
        )

    async def graphql(self, request: Request) -> JSONResponse:
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse({"errors": "[API] Invalid API key or access token"}, status_code=401)
        body = await request.json()
        problems = validate(shopify_schema(), parse(body["query"]))
        if problems:
            return JSONResponse({"errors": [{"message": p.message} for p in problems]})
        variables, name = body["variables"], body["operationName"]
        data: dict[str, Any]
        cost = {
            "cost": {
                "requestedQueryCost": 10,
                "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 1990, "restoreRate": 100},
            }
        }
        if name == "WebhookSubscriptionCreate":
            uri = variables["sub"]["uri"]
            if not uri.startswith("https://"):
                data = {
                    "webhookSubscriptionCreate": {
                        "webhookSubscription": None,
                        "userErrors": [
                            {"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}
                        ],
                    }
                }
                return JSONResponse({"data": data, "extensions": cost})
            sid = f"{GID}{len(self.subscriptions) + 1}"
            self.subscriptions[sid] = {"id": sid, "topic": variables["topic"], "uri": uri, "format": "JSON"}
            data = {
                "webhookSubscriptionCreate": {
                    "webhookSubscription": self.subscriptions[sid],
                    "userErrors": [],
                }
            }
        elif name == "WebhookSubscriptionDelete":
            found = self.subscriptions.pop(variables["id"], None)
            errors = [] if found else [{"field": ["id"], "message": "Webhook subscription does not exist"}]
            data = {
                "webhookSubscriptionDelete": {
                    "deletedWebhookSubscriptionId": variables["id"] if found else None,
                    "userErrors": errors,
                }
            }
        else:
            nodes = list(self.subscriptions.values())
            data = {
                "webhookSubscriptions": {
                    "nodes": nodes,
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                }
            }
        return JSONResponse({"data": data, "extensions": cost})


@pytest.fixture
def shop(service: Service) -> Iterator[StandInShop]:
    stand_in = StandInShop("shpat_stand_in")
    with EmulatorServer(stand_in.app, name="stand-in-shop") as server:
        service.add_tenant("acme", shop_url=server.base_url, access_token=stand_in.token)
        yield stand_in


def test_register_list_and_remove(service: Service, shop: StandInShop) -> None:
    admin = service.token("admin")
    created = service.client.post(
        "/api/tenants/acme/webhook-subscriptions",
        json={"topic": "PRODUCTS_UPDATE", "uri": "https://connector.example.com/webhooks/shopify"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": f"{GID}1",
        "topic": "PRODUCTS_UPDATE",
        "uri": "https://connector.example.com/webhooks/shopify",
        "format": "JSON",
    }
    listed = service.client.get("/api/tenants/acme/webhook-subscriptions", headers=service.token("viewer"))
    assert [s["topic"] for s in listed.json()] == ["PRODUCTS_UPDATE"]
    removed = service.client.delete("/api/tenants/acme/webhook-subscriptions/1", headers=admin)
    assert removed.status_code == 204
    assert shop.subscriptions == {}
    again = service.client.delete("/api/tenants/acme/webhook-subscriptions/1", headers=admin)
    assert again.status_code == 422
    assert "does not exist" in again.json()["message"]


def test_the_callback_defaults_to_the_public_url_of_the_service(service: Service, shop: StandInShop) -> None:
    admin = service.token("admin")
    refused = service.client.post(
        "/api/tenants/acme/webhook-subscriptions", json={"topic": "ORDERS_CREATE"}, headers=admin
    )
    assert refused.status_code == 422
    assert "CONNECTOR_SERVICE_PUBLIC_URL" in refused.json()["message"]
    service.services.settings = service.services.settings.model_copy(
        update={"public_url": "https://hooks.example.com"}
    )
    created = service.client.post(
        "/api/tenants/acme/webhook-subscriptions", json={"topic": "ORDERS_CREATE"}, headers=admin
    )
    assert created.json()["uri"] == "https://hooks.example.com/webhooks/shopify"


def test_the_emulator_lacks_subscriptions_and_says_so(service: Service, hub: SandboxHub) -> None:
    account = hub.add_shopify("acme")
    service.add_tenant(
        "acme", shop_url=hub.accounts()["shopify"]["acme"]["shop_url"], access_token=account.access_token
    )
    answer = service.client.post(
        "/api/tenants/acme/webhook-subscriptions",
        json={"topic": "PRODUCTS_UPDATE", "uri": "https://connector.example.com/webhooks/shopify"},
        headers=service.token("admin"),
    )
    assert answer.status_code == 502
    assert "not implemented by the Shopify emulator" in answer.json()["message"]
    assert account.access_token not in answer.text
