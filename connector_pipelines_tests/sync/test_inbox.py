"""Sealed webhook payloads read back by the step that applies them: opened, oldest first, page after page,
each tenant's only; a row without a sealed payload is a clear error, not applied."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from connector_pipelines.store.db import Database
from connector_pipelines.store.service import InboxDelivery, WebhookInboxRepository
from connector_pipelines.sync.inbox import seal_payload, waiting_deliveries
from connector_pipelines.tenants.crypto import DecryptionError, Keyring, generate_key
from connector_pipelines.tenants.registry import TenantRegistry

TOPICS = ("customers/update",)


def _store(
    db: Database, registry: TenantRegistry, keyring: Keyring, tenant: str, payloads: list[dict[str, object]]
) -> None:
    now = datetime.now(UTC)
    deliveries = []
    for i, payload in enumerate(payloads):
        delivery_id = f"{tenant}-{i}"
        sealed = seal_payload(keyring, tenant, "shopify", delivery_id, orjson.dumps(payload))
        deliveries.append(
            InboxDelivery(
                registry.tenant_id(tenant), "shopify", TOPICS[0], delivery_id, None, None, sealed, now
            )
        )
    with db.engine.begin() as connection:
        WebhookInboxRepository.insert(connection, deliveries)


def test_deliveries_are_opened_in_order_across_pages(db: Database, registry: TenantRegistry) -> None:
    keyring = Keyring(base64.b64decode(generate_key()))
    for tenant in ("acme", "globex"):
        registry.add(tenant, "", [], {})
    _store(db, registry, keyring, "acme", [{"id": i, "email": f"c{i}@example.com"} for i in range(5)])
    _store(db, registry, keyring, "globex", [{"id": 99, "email": "other@example.com"}])
    inbox = WebhookInboxRepository(db)

    read = list(waiting_deliveries(inbox, keyring, "acme", "shopify", TOPICS, page=2))
    assert [d.payload["id"] for d in read] == [0, 1, 2, 3, 4]
    assert all(d.topic == TOPICS[0] for d in read)
    inbox.settle([d.id for d in read[:3]])
    assert [d.payload["id"] for d in waiting_deliveries(inbox, keyring, "acme", "shopify", TOPICS)] == [3, 4]

    stranger = Keyring(base64.b64decode(generate_key()))
    with pytest.raises(DecryptionError, match="cannot be opened"):
        list(waiting_deliveries(inbox, stranger, "globex", "shopify", TOPICS))


def test_a_row_not_sealed_by_the_service_is_refused(db: Database, registry: TenantRegistry) -> None:
    registry.add("acme", "", [], {})
    delivery = InboxDelivery(
        registry.tenant_id("acme"),
        "shopify",
        TOPICS[0],
        "d-1",
        None,
        None,
        {"email": "x@example.com"},
        datetime.now(UTC),
    )
    with db.engine.begin() as connection:
        WebhookInboxRepository.insert(connection, [delivery])
    keyring = Keyring(base64.b64decode(generate_key()))
    with pytest.raises(DecryptionError, match="holds no sealed payload"):
        list(waiting_deliveries(WebhookInboxRepository(db), keyring, "acme", "shopify", TOPICS))
