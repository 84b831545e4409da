"""The inbox answers a webhook only after its row is committed, stores a delivery once even when two copies
arrive together, and answers 503 (nothing stored, the sender retries) when the database fails."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import OperationalError

from connector_pipelines.service import inbox as inbox_module
from connector_pipelines.service.inbox import InboxUnavailableError, InboxWriter
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import Tenant, WebhookInbox
from connector_pipelines.store.service import DeliveryKey, InboxDelivery, WebhookInboxRepository
from connector_pipelines_tests.service.conftest import Service, product_update, shopify_headers


def _tenant(db: Database) -> int:
    with db.session() as s:
        tenant = Tenant(slug="acme", display_name="Acme", pipelines=[])
        s.add(tenant)
        s.flush()
        return tenant.id


def _delivery(tenant_id: int, delivery_id: str) -> InboxDelivery:
    return InboxDelivery(
        tenant_id=tenant_id,
        source="shopify",
        topic="products/update",
        delivery_id=delivery_id,
        event_id=None,
        triggered_at=None,
        payload={"id": 1},
        received_at=datetime.now(UTC),
    )


def _rows(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WebhookInbox)) or 0)


def test_the_answer_waits_for_the_commit(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_id = _tenant(db)
    entered, release = threading.Event(), threading.Event()
    real_insert = WebhookInboxRepository.insert

    def held_insert(connection: Connection, deliveries: Sequence[InboxDelivery]) -> dict[DeliveryKey, int]:
        entered.set()
        release.wait()
        return real_insert(connection, deliveries)

    monkeypatch.setattr(WebhookInboxRepository, "insert", staticmethod(held_insert))
    writer = InboxWriter(db, writers=1, batch=10)
    writer.start()

    async def scenario() -> None:
        storing = asyncio.create_task(writer.store(_delivery(tenant_id, "d1")))
        await asyncio.to_thread(entered.wait)
        await asyncio.sleep(0)
        assert not storing.done()  # the writer holds the insert: no answer yet
        assert _rows(db) == 0
        release.set()
        outcome = await storing
        assert outcome.row_id is not None and not outcome.duplicate
        assert _rows(db) == 1  # committed when the answer came

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        writer.stop()


def test_two_copies_in_one_batch_are_stored_once(db: Database) -> None:
    tenant_id = _tenant(db)
    writer = InboxWriter(db, writers=1, batch=10)

    async def scenario() -> list[bool]:
        # Queued before the writer starts: both land in its first batch.
        copies = [asyncio.create_task(writer.store(_delivery(tenant_id, "same"))) for _ in range(2)]
        await asyncio.sleep(0)
        writer.start()
        return [(await c).duplicate for c in copies]

    try:
        assert asyncio.run(scenario()) == [False, True]
    finally:
        writer.stop()
    assert _rows(db) == 1


def test_stop_writes_what_is_queued(db: Database) -> None:
    tenant_id = _tenant(db)
    writer = InboxWriter(db, writers=2, batch=3)

    async def scenario() -> None:
        pending = [asyncio.create_task(writer.store(_delivery(tenant_id, f"d{n}"))) for n in range(7)]
        await asyncio.sleep(0)
        writer.start()
        await asyncio.to_thread(writer.stop)
        assert not any(outcome.duplicate for outcome in await asyncio.gather(*pending))

    asyncio.run(scenario())
    assert _rows(db) == 7


def test_a_failing_database_answers_503_and_stores_nothing(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = service.add_tenant("acme")

    def broken(connection: Connection, deliveries: Sequence[InboxDelivery]) -> dict[DeliveryKey, int]:
        raise OperationalError(
            "INSERT INTO webhook_inbox ...", {"payload": "secret"}, Exception("server closed")
        )

    monkeypatch.setattr(inbox_module, "_commit", broken)
    body = product_update()
    answer = service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    assert answer.status_code == 503
    assert answer.json()["code"] == "unavailable"
    assert _rows(service.services.db) == 0
    monkeypatch.undo()
    again = service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    assert again.status_code == 200  # the sender's retry goes through on a fresh connection
    assert _rows(service.services.db) == 1


def test_an_unavailable_inbox_raises_for_every_waiting_request(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    writer = InboxWriter(db, writers=1, batch=10)
    writer.start()
    try:
        # No tenant 999: the foreign key refuses the row.
        with pytest.raises(InboxUnavailableError):
            asyncio.run(writer.store(_delivery(999, "d1")))
    finally:
        writer.stop()
        db.dispose()
