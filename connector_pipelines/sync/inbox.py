"""Webhook payloads at rest: the service seals each verified body with the connector's key before it enters
the inbox (a Shopify customer or order webhook carries names, e-mail, phone and addresses, which must not
lie in the database in plain text), and the pipeline step that applies the deliveries opens them.

The associated data binds a sealed body to its tenant, source and delivery id: a row copied to another
tenant or delivery fails to open instead of being applied there."""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import JsonValue

from connector_pipelines.store.service import InboxRow, WebhookInboxRepository
from connector_pipelines.tenants.crypto import DecryptionError, Keyring, Sealed

__all__ = ["Delivery", "open_payload", "seal_payload", "waiting_deliveries"]


def _scope(source: str, delivery_id: str) -> str:
    return f"webhook:{source}:{delivery_id}"


def seal_payload(keyring: Keyring, tenant: str, source: str, delivery_id: str, body: bytes) -> dict[str, str]:
    """The inbox's JSON document for a verified body: the key id and the sealed bytes, base64."""
    sealed = keyring.encrypt(body, tenant, _scope(source, delivery_id))
    return {"key_id": sealed.key_id, "sealed": base64.b64encode(sealed.blob).decode()}


def open_payload(keyring: Keyring, tenant: str, source: str, row: InboxRow) -> dict[str, JsonValue]:
    stored = row.payload
    if not (isinstance(stored, dict) and isinstance(stored.get("sealed"), str) and "key_id" in stored):
        raise DecryptionError(
            f"webhook inbox row {row.id} ({source} {row.topic}) holds no sealed payload",
            tenant=tenant,
            remedy="the delivery was not stored by the connector service; ask the sender to deliver it again",
        )
    sealed = Sealed(str(stored["key_id"]), base64.b64decode(stored["sealed"]))
    try:
        body = keyring.decrypt(sealed, tenant, _scope(source, row.delivery_id))
    except DecryptionError as exc:
        raise DecryptionError(
            f"webhook inbox row {row.id} ({source} {row.topic}) cannot be opened: {exc.message}",
            tenant=tenant,
            remedy=exc.remedy,
        ) from None
    document = orjson.loads(body)
    if not isinstance(document, dict):
        raise DecryptionError(f"webhook inbox row {row.id} is not a JSON object", tenant=tenant)
    return document


@dataclass(frozen=True)
class Delivery:
    """A waiting webhook, opened, as the step applying it reads it."""

    id: int
    topic: str
    delivery_id: str
    event_id: str | None
    triggered_at: datetime | None
    received_at: datetime
    payload: dict[str, JsonValue]


def waiting_deliveries(
    inbox: WebhookInboxRepository,
    keyring: Keyring,
    tenant: str,
    source: str,
    topics: Collection[str],
    *,
    page: int = 1000,
) -> Iterator[Delivery]:
    """The tenant's waiting deliveries of ``topics``, oldest first, a page at a time; the caller settles
    what it applied (``inbox.settle``)."""
    after = 0
    while rows := inbox.take(tenant, source, topics, after_id=after, limit=page):
        for row in rows:
            yield Delivery(
                row.id,
                row.topic,
                row.delivery_id,
                row.event_id,
                row.triggered_at,
                row.received_at,
                open_payload(keyring, tenant, source, row),
            )
        after = rows[-1].id
