"""Writing verified webhooks to the inbox with group commit.

A request hands its delivery to a writer thread and waits; each writer takes every delivery queued at that
moment (up to a batch), inserts them in one transaction and answers each waiting request only after the
commit. Under load the batches grow, so one commit serves many requests; idle, a delivery is written alone at
once. The sender's 2xx therefore always follows the commit: a process killed at any moment loses nothing it
acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from connector_pipelines.redaction import redact
from connector_pipelines.store.db import Database
from connector_pipelines.store.service import DeliveryKey, InboxDelivery, WebhookInboxRepository

log = logging.getLogger(__name__)


class InboxUnavailableError(RuntimeError):
    """The inbox could not store a delivery (database down): the sender should try again later."""


@dataclass(frozen=True)
class Stored:
    """The outcome of one delivery: its inbox row, or ``None`` when it was there already."""

    row_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.row_id is None


@dataclass(frozen=True)
class _Pending:
    delivery: InboxDelivery
    future: asyncio.Future[Stored]
    loop: asyncio.AbstractEventLoop


Outcome = tuple[asyncio.Future[Stored], Stored | BaseException]


def _settle(outcomes: list[Outcome]) -> None:
    for future, outcome in outcomes:
        if future.done():  # the request went away meanwhile
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _answer(batch: list[_Pending], outcomes: list[Stored | BaseException]) -> None:
    """One wake-up of each event loop per batch, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for pending, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(pending.loop, []).append((pending.future, outcome))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle, settled)


def _reason(exc: BaseException) -> str:
    # A DBAPIError's text carries the statement's parameters: whole payloads.
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {str(exc.orig).strip().splitlines()[0]}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class InboxWriter:
    def __init__(self, db: Database, *, writers: int, batch: int) -> None:
        self._db = db
        self._writers = writers
        self._batch = batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run, name=f"inbox-writer-{i}", daemon=True)
            for i in range(self._writers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the writers."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []

    async def store(self, delivery: InboxDelivery) -> Stored:
        """Returns once the delivery is committed (or was there already); raises InboxUnavailableError."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._queue.put(_Pending(delivery, future, loop))
        return await future

    def _run(self) -> None:
        # Each writer keeps its connection: a pool checkout per batch would add a ping's round trip.
        connection: Connection | None = None
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, stopping = [first], False
                while len(batch) < self._batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                connection = self._write(batch, connection)
                if stopping:
                    return
        finally:
            if connection is not None:
                connection.close()

    def _insert(
        self, connection: Connection | None, deliveries: list[InboxDelivery]
    ) -> tuple[Connection, dict[DeliveryKey, int]]:
        """Insert and commit; a kept connection that fails is replaced once (the database restarted)."""
        if connection is not None:
            try:
                return connection, _commit(connection, deliveries)
            except SQLAlchemyError:
                _discard(connection)
        # Autocommit: the one INSERT of a batch is its own transaction, committed before its answer (one round
        # trip instead of three: BEGIN, INSERT, COMMIT).
        connection = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return connection, _commit(connection, deliveries)
        except SQLAlchemyError:
            _discard(connection)
            raise

    def _write(self, batch: list[_Pending], connection: Connection | None) -> Connection | None:
        # Two requests with one delivery id in one batch: the first one stores it, the other is its duplicate.
        firsts: dict[DeliveryKey, _Pending] = {}
        for pending in batch:
            firsts.setdefault(pending.delivery.key, pending)
        try:
            connection, stored = self._insert(connection, [p.delivery for p in firsts.values()])
        except SQLAlchemyError as exc:
            log.error("the inbox could not store %d webhook(s): %s", len(batch), redact(_reason(exc)))
            _answer(batch, [InboxUnavailableError("the inbox is unavailable")] * len(batch))
            return None
        _answer(
            batch,
            [Stored(stored.get(p.delivery.key) if firsts[p.delivery.key] is p else None) for p in batch],
        )
        return connection


def _commit(connection: Connection, deliveries: list[InboxDelivery]) -> dict[DeliveryKey, int]:
    return WebhookInboxRepository.insert(connection, deliveries)


def _discard(connection: Connection) -> None:
    """Close a connection whose transaction failed half-way (its rollback may fail too: it is gone)."""
    with contextlib.suppress(SQLAlchemyError):
        connection.close()
