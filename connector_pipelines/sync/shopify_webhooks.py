"""Shopify webhooks of a tenant, applied from the connector service's inbox (a run in ``webhook`` mode).

The service verified each delivery (HMAC of the raw body with the app's secret, the shop domain names a
tenant) and stored it sealed, once per ``X-Shopify-Webhook-Id``; an unknown shop or a bad signature never
got that far. Each object's step takes its topics, oldest first, and applies them in ``updated_at`` order
through the same guarded upserts as the reads: a replayed or late delivery never overwrites newer data, a
delete leaves a tombstone that a late update cannot undo. A payload that cannot be read is recorded as the
record's error (the next incremental read fetches the record itself) and settled like the others.

The mandatory privacy topics go with the customers step, first:

* ``shop/redact`` crypto-shreds the tenant's tables (its data key is destroyed, its rows deleted, the
  redaction recorded); deliveries of any topic that fired before it are dropped, not applied.
* ``customers/redact`` destroys the customer's personal data (and any export made for it).
* ``customers/data_request`` writes the customer's decrypted export for the operator, as a file readable by
  the connector's user only: ``CONNECTOR_HOME/privacy/<tenant>/customer-<id>-<request>.json``
  (``connector-pipelines tenants customer-data`` prints it again on demand).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from connector_pipelines import config
from connector_pipelines.catalog.commerce import Customer, Deletion, Order, ProductRecord
from connector_pipelines.clients.shopify_export import ObjectName
from connector_pipelines.sources.shopify import (
    CustomerDataRequest,
    CustomerRedact,
    UnreadableRecord,
    customer_from_webhook,
    deletion_from_webhook,
    describe_invalid,
    order_from_webhook,
    product_from_webhook,
)
from connector_pipelines.store.ingestion.bulk import WriteCounts
from connector_pipelines.store.ingestion.keys import PiiUnavailableError
from connector_pipelines.store.ingestion.repository import IngestionRepository, RedactionRecord
from connector_pipelines.store.service import WebhookInboxRepository
from connector_pipelines.sync.inbox import Delivery, waiting_deliveries
from connector_pipelines.sync.runtime import Step, StepContext, StepReport
from connector_pipelines.sync.shopify_ingestion import (
    MATCHES_SHOPIFY,
    PIPELINE,
    SHOPIFY_SOURCE,
    STEPS,
    Record,
    ingestion_repository,
    matches_shopify_count,
)

SOURCE = "shopify"
TOPICS: dict[ObjectName, tuple[str, ...]] = {
    "customers": ("customers/create", "customers/update", "customers/delete"),
    "products": ("products/create", "products/update", "products/delete"),
    "orders": (
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/delete",
    ),
}
SHOP_REDACT = "shop/redact"
CUSTOMER_REDACT = "customers/redact"
DATA_REQUEST = "customers/data_request"
PRIVACY_TOPICS = (DATA_REQUEST, CUSTOMER_REDACT, SHOP_REDACT)
ALL_TOPICS = (*TOPICS["customers"], *TOPICS["products"], *TOPICS["orders"], *PRIVACY_TOPICS)
PAGE = 1000

log = logging.getLogger(__name__)


def privacy_folder(tenant: str) -> Path:
    return config.connector_home() / "privacy" / tenant


def export_path(tenant: str, customer_id: int, request: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request)[:80]
    return privacy_folder(tenant) / f"customer-{customer_id}-{safe}.json"


def write_export(repo: IngestionRepository, tenant: str, customer_id: int, request: str) -> Path:
    """The customer's decrypted data as a file only the connector's user can read; raises
    PiiUnavailableError when nothing readable is stored (never stored, redacted, or the tenant shredded)."""
    export = repo.customer_data(tenant, customer_id)
    path = export_path(tenant, customer_id, request)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(export.model_dump_json(indent=2))
    return path


def forget_exports(tenant: str, customer_id: int | None = None) -> int:
    """Remove the exports made for one customer, or all of the tenant's (``None``); how many were there."""
    folder = privacy_folder(tenant)
    if not folder.exists():
        return 0
    if customer_id is None:
        count = sum(1 for _ in folder.glob("*.json"))
        shutil.rmtree(folder)
        return count
    found = list(folder.glob(f"customer-{customer_id}-*.json"))
    for path in found:
        path.unlink()
    return len(found)


def forget_removed_tenant(tenant: str, pipelines: Sequence[str]) -> RedactionRecord | None:
    """What removing a tenant does to its ingestion data, wherever it is removed (CLI, management API):
    crypto-shredded when it ran shopify_ingestion; None otherwise."""
    return forget_tenant(tenant) if PIPELINE in pipelines else None


def forget_tenant(tenant: str, *, reason: str = "tenant removed") -> RedactionRecord:
    """A removed tenant's ingestion data destroyed: its data key (so every ciphertext, backups included, is
    unreadable), its rows and cursors, and the exports made for it; the redaction is recorded."""
    record = ingestion_repository().shred_tenant(tenant, reason=reason)
    forget_exports(tenant)
    return record


@dataclass
class Applied:
    """What one step made of its deliveries."""

    deliveries: int = 0
    upserted: WriteCounts = field(default_factory=WriteCounts)
    deleted: WriteCounts = field(default_factory=WriteCounts)
    dropped: int = 0  # fired before the shop was redacted
    superseded: int = 0  # a newer delivery of the same record came in the same page
    problems: list[UnreadableRecord] = field(default_factory=list)
    privacy: list[dict[str, str | int | bool]] = field(default_factory=list)


def _when(row: Delivery) -> datetime:
    moment = row.triggered_at or row.received_at
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _request_of(row: Delivery) -> str:
    return row.event_id or row.delivery_id


def _shredded_at(repo: IngestionRepository, tenant: str) -> datetime | None:
    times = [r.redacted_at for r in repo.redactions(tenant) if r.scope == "tenant"]
    return max(times) if times else None


def _pages(
    ctx: StepContext, inbox: WebhookInboxRepository, topics: Sequence[str]
) -> Iterator[list[Delivery]]:
    """The tenant's waiting deliveries of ``topics``, opened, oldest first, a page at a time."""
    page: list[Delivery] = []
    for delivery in waiting_deliveries(inbox, ctx.registry.keyring, ctx.tenant, SOURCE, topics, page=PAGE):
        page.append(delivery)
        if len(page) >= PAGE:
            yield page
            page = []
    if page:
        yield page


def _shred(repo: IngestionRepository, tenant: str, row: Delivery, applied: Applied) -> None:
    record = repo.shred_tenant(tenant, request_id=_request_of(row), reason=SHOP_REDACT)
    removed = forget_exports(tenant)
    applied.privacy.append({"topic": row.topic, "rows": sum(record.rows.values()), "exports": removed})


def _customer_privacy(repo: IngestionRepository, tenant: str, row: Delivery, applied: Applied) -> None:
    """``customers/redact`` or ``customers/data_request``."""
    request = _request_of(row)
    try:
        if row.topic == CUSTOMER_REDACT:
            redact = CustomerRedact.model_validate(row.payload)
            repo.redact_customer(tenant, redact.customer.id, request_id=request, reason=CUSTOMER_REDACT)
            removed = forget_exports(tenant, redact.customer.id)
            applied.privacy.append({"topic": row.topic, "customer": redact.customer.id, "exports": removed})
            return
        asked = CustomerDataRequest.model_validate(row.payload)
    except ValidationError as exc:
        applied.problems.append(
            UnreadableRecord(f"shopify:{row.topic}:{row.delivery_id}", describe_invalid(exc))
        )
        return
    ident = asked.data_request.id if asked.data_request is not None else request
    try:
        path = write_export(repo, tenant, asked.customer.id, str(ident))
    except PiiUnavailableError as exc:
        applied.privacy.append(
            {"topic": row.topic, "customer": asked.customer.id, "exported": False, "reason": exc.message}
        )
        return
    log.info("data request of customer %d: exported to %s", asked.customer.id, path)
    applied.privacy.append(
        {"topic": row.topic, "customer": asked.customer.id, "exported": True, "file": str(path)}
    )


def _records(
    obj: ObjectName, rows: Sequence[Delivery], applied: Applied
) -> tuple[list[Record], list[Deletion]]:
    kind = obj.removesuffix("s")
    upserts: list[Record] = []
    deletions: list[Deletion] = []
    for row in rows:
        try:
            if row.topic.endswith("/delete"):
                deletions.append(deletion_from_webhook(kind, row.payload, _when(row)))
            elif obj == "customers":
                upserts.append(customer_from_webhook(row.payload))
            elif obj == "orders":
                upserts.append(order_from_webhook(row.payload))
            else:
                upserts.append(product_from_webhook(row.payload))
        except UnreadableRecord as problem:
            applied.problems.append(problem)
    return upserts, deletions


def _newest(records: list[Record]) -> list[Record]:
    """One record per id (the newest), in ``updated_at`` order."""
    latest: dict[int, Record] = {}
    for record in records:
        seen = latest.get(record.id)
        if seen is None or record.updated_at >= seen.updated_at:
            latest[record.id] = record
    return sorted(latest.values(), key=lambda r: (r.updated_at, r.id))


def _upsert(repo: IngestionRepository, tenant: str, obj: ObjectName, records: list[Record]) -> WriteCounts:
    if obj == "customers":
        return repo.upsert_customers(tenant, [r for r in records if isinstance(r, Customer)])
    if obj == "orders":
        return repo.upsert_orders(tenant, [r for r in records if isinstance(r, Order)])
    return repo.upsert_products(tenant, [r for r in records if isinstance(r, ProductRecord)])


def apply_webhooks(
    ctx: StepContext, obj: ObjectName, *, repo: IngestionRepository | None = None
) -> StepReport:
    """Apply the tenant's waiting webhooks of one object (the customers step: the privacy topics first)."""
    repo = repo or ingestion_repository()
    inbox = WebhookInboxRepository(ctx.registry.db)
    topics = TOPICS[obj] + (PRIVACY_TOPICS if obj == "customers" else ())
    applied = Applied()
    with Step(ctx.store, ctx.mode, f"shopify:{obj}:webhooks", ctx.run_id) as report:
        for rows in _pages(ctx, inbox, topics):
            applied.deliveries += len(rows)
            known = len(applied.problems)
            # shop/redact first: what fired before it is dropped, not applied.
            for row in rows:
                if row.topic == SHOP_REDACT:
                    _shred(repo, ctx.tenant, row, applied)
            shredded = _shredded_at(repo, ctx.tenant)
            changes = [r for r in rows if r.topic not in PRIVACY_TOPICS]
            live = [r for r in changes if shredded is None or _when(r) > shredded]
            applied.dropped += len(changes) - len(live)
            upserts, deletions = _records(obj, live, applied)
            newest = _newest(upserts)
            applied.superseded += len(upserts) - len(newest)
            applied.upserted += _upsert(repo, ctx.tenant, obj, newest)
            applied.deleted += repo.delete(ctx.tenant, obj, sorted(deletions, key=lambda d: d.deleted_at))
            # Then the customers' own requests, on the data as these deliveries left it.
            for row in rows:
                if row.topic in (CUSTOMER_REDACT, DATA_REQUEST):
                    _customer_privacy(repo, ctx.tenant, row, applied)
            ctx.store.record_errors(
                STEPS[obj],
                [
                    (p.key, p.reason, {"object": obj, "problem": "unreadable webhook"})
                    for p in applied.problems[known:]
                ],
                ctx.run_id,
            )
            inbox.settle([r.id for r in rows])
        report.counts = {
            "deliveries": applied.deliveries,
            "created": applied.upserted.inserted,
            "updated": applied.upserted.updated,
            "unchanged": applied.upserted.unchanged,
            "deleted": applied.deleted.deleted,
            "failed": len(applied.problems),
            "skipped_older": applied.upserted.skipped_older
            + applied.deleted.skipped_older
            + applied.superseded,
            "skipped_redacted": applied.upserted.skipped_redacted,
            "dropped_before_shop_redact": applied.dropped,
        }
        report.extra["rows_written"] = applied.upserted.rows_written + applied.deleted.rows_written
        client = ctx.open(SHOPIFY_SOURCE)
        report.checks[MATCHES_SHOPIFY] = matches_shopify_count(client, repo, ctx.store, ctx.tenant, obj)
        if applied.privacy:
            report.extra["privacy"] = applied.privacy
        report.preview = _preview(applied)
    return report


def _preview(applied: Applied) -> str:
    if not applied.deliveries:
        return "_no webhook waiting_"
    lines = [f"{applied.deliveries} webhook(s) applied"]
    lines += [
        f"- {entry['topic']}: {', '.join(f'{k}={v}' for k, v in entry.items() if k != 'topic')}"
        for entry in applied.privacy
    ]
    lines += [f"- `{p.key}`: {p.reason[:160]}" for p in applied.problems[:20]]
    return "\n".join(lines)
