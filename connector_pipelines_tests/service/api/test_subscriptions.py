"""A tenant's Shopify webhook subscriptions through its Shopify client, against the Shopify emulator
(``webhookSubscriptionCreate`` / ``webhookSubscriptionDelete`` / ``webhookSubscriptions`` as the Admin
schema has them)."""

from __future__ import annotations

import pytest

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines_tests.service.conftest import Service

GID = "gid://shopify/WebhookSubscription/"


@pytest.fixture
def shop(service: Service, hub: SandboxHub) -> ShopifyEmulator:
    account = hub.add_shopify("acme")
    service.add_tenant(
        "acme", shop_url=hub.accounts()["shopify"]["acme"]["shop_url"], access_token=account.access_token
    )
    return account.emulator


def test_register_list_and_remove(service: Service, shop: ShopifyEmulator) -> None:
    admin = service.token("admin")
    created = service.client.post(
        "/api/tenants/acme/webhook-subscriptions",
        json={"topic": "PRODUCTS_UPDATE", "uri": "https://connector.example.com/webhooks/shopify"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert subscription["id"].startswith(GID)
    assert {k: v for k, v in subscription.items() if k != "id"} == {
        "topic": "PRODUCTS_UPDATE",
        "uri": "https://connector.example.com/webhooks/shopify",
        "format": "JSON",
    }
    listed = service.client.get("/api/tenants/acme/webhook-subscriptions", headers=service.token("viewer"))
    assert [s["topic"] for s in listed.json()] == ["PRODUCTS_UPDATE"]
    number = subscription["id"].removeprefix(GID)
    removed = service.client.delete(f"/api/tenants/acme/webhook-subscriptions/{number}", headers=admin)
    assert removed.status_code == 204
    assert service.client.get("/api/tenants/acme/webhook-subscriptions", headers=admin).json() == []
    again = service.client.delete(f"/api/tenants/acme/webhook-subscriptions/{number}", headers=admin)
    assert again.status_code == 422
    assert "does not exist" in again.json()["message"]


def test_the_callback_defaults_to_the_public_url_of_the_service(
    service: Service, shop: ShopifyEmulator
) -> None:
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
