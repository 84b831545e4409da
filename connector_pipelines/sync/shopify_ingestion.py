"""The steps of Shopify -> ingestion tables (``shopify_ingestion``) as plain functions, called by the assets.

Each object (customers with addresses, orders with line items, products with variants) is read on its own:

* ``full`` (backfill): a bulk export of everything; what the tables hold and the export does not is deleted
  (as of the export's creation). With a date range (run config ``since`` / ``until``), only what was updated
  in it, and deletions from the shop's ``destroy`` events.
* ``delta`` (incremental): what was updated since the cursor (minus an overlap, for clock skew and the
  search index's lag), counted first: nothing, a few records through paged queries, or many through a
  filtered bulk export; deletions from ``destroy`` events; records whose last read failed are read again.
* ``plan`` (dry run): the same reads, nothing written; the counts and a sample of what would change.
* ``skip_existing`` (run config): only records the tables do not hold yet are written.
* ``webhook``: the tenant's waiting webhooks are applied (``sync/shopify_webhooks.py``).

Writes go through :class:`IngestionRepository`: upserts guarded by ``updated_at`` (a late or replayed record
never overwrites newer data), soft deletes, personal data encrypted. A record that cannot be read is recorded
(its key and what is wrong, never its values) and skipped; the next run reads it again. The cursor moves
only after the writes landed; a bulk export in flight is noted first, so that a run killed while Shopify ran
it adopts it when it is run again, instead of starting over.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from connector_pipelines.catalog.commerce import Customer, Deletion, Order, ProductRecord
from connector_pipelines.clients.http import ApiError, JsonValue, TlsSettings
from connector_pipelines.clients.shopify import BulkOperationInProgress
from connector_pipelines.clients.shopify_export import (
    OBJECTS,
    Exported,
    ObjectName,
    ShopifyExportClient,
    search_since,
)
from connector_pipelines.clients.shopify_models import BulkOperation
from connector_pipelines.sources.shopify import (
    EventNode,
    UnreadableRecord,
    customer_record,
    event_deletion,
    order_record,
    product_record,
)
from connector_pipelines.store.ingestion.bulk import WriteCounts, WriteMode, chunks
from connector_pipelines.store.ingestion.db import get_ingestion_database
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.streams import prefetch
from connector_pipelines.sync.runtime import (
    CheckFunction,
    CheckOutcome,
    ReadWindow,
    Step,
    StepContext,
    StepReport,
    SyncMode,
)
from connector_pipelines.sync.snapshot import read_progress
from connector_pipelines.tenants.connections import SHOPIFY, System
from connector_pipelines.tenants.pii import PiiKeys
from connector_pipelines.tenants.systems import ShopifyCredentials, ShopifySettings

PIPELINE = "shopify_ingestion"
STEPS: dict[ObjectName, str] = {
    "customers": "shopify_customers",
    "products": "shopify_products",
    "orders": "shopify_orders",
}
OVERLAP = timedelta(minutes=5)
ADOPT_WITHIN = timedelta(hours=24)  # a noted export older than this is not adopted (its URL may expire)
RETRY_BATCH = 50  # ids per search when records whose read failed are read again
PREVIEW_ROWS = 20
PROGRESS_EVERY_S = 5.0
MATCHES_SHOPIFY = "matches_shopify_count"
PREFETCH_ORDER: tuple[ObjectName, ...] = ("customers", "products", "orders")  # the sync job's step order

log = logging.getLogger(__name__)
Record = Customer | Order | ProductRecord
T = TypeVar("T")


# --- the tenant's shop and tables ---------------------------------------------------------------------------


def _open_client(
    settings: ShopifySettings, creds: ShopifyCredentials | None, cap_s: float | None
) -> ShopifyExportClient:
    assert creds is not None
    return ShopifyExportClient(
        str(settings.shop_url),
        creds.access_token,
        api_version=settings.api_version,
        timeout_s=120.0 if cap_s is None else min(120.0, cap_s),
        tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
    )


# The tenant's Shopify settings and credentials, opened as the export client (one cost bucket per shop).
SHOPIFY_SOURCE: System[ShopifySettings, ShopifyCredentials, ShopifyExportClient] = System(
    SHOPIFY.name,
    SHOPIFY.kind,
    SHOPIFY.pool,
    ShopifySettings,
    ShopifyCredentials,
    _open_client,
    probe=SHOPIFY.probe,
)


def ingestion_repository() -> IngestionRepository:
    """The tables of ``CONNECTOR_INGESTION_DATABASE_URL`` (default: the connector database), personal data
    under the master key of ``CONNECTOR_ENCRYPTION_KEY``."""
    return IngestionRepository(get_ingestion_database(), PiiKeys.from_env())


class PendingExport(BaseModel):
    """A bulk export submitted and not yet written: adopted by the next read with the same query."""

    operation: str
    query: str  # sha256 of the query text
    created_at: datetime


class ObjectCursor(BaseModel):
    """What the last complete read of one object left (stored as the repository's cursor)."""

    since: datetime | None = None  # when that read started: the next incremental starts there
    pending: PendingExport | None = None
    run: str | None = None  # the Dagster run that made that read

    @classmethod
    def of(cls, repo: IngestionRepository, tenant: str, obj: ObjectName) -> ObjectCursor:
        raw = repo.get_cursor(tenant, obj)
        return cls.model_validate_json(raw) if raw else cls()

    def save(self, repo: IngestionRepository, tenant: str, obj: ObjectName) -> None:
        repo.set_cursor(tenant, obj, self.model_dump_json())


# --- what a run reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadPlan:
    """``full``: everything (what is missing was deleted); otherwise the records updated in
    ``[since, until)``. ``moves_cursor``: the read covers everything since the cursor."""

    full: bool
    since: datetime | None = None
    until: datetime | None = None
    moves_cursor: bool = True

    @property
    def search(self) -> str | None:
        return search_since(self.since, self.until)

    def describe(self) -> str:
        if self.full:
            return "everything"
        since = self.since.isoformat() if self.since else "the beginning"
        return f"updated from {since}" + (f" until {self.until.isoformat()}" if self.until else "")


def plan_read(mode: SyncMode, window: ReadWindow | None, cursor: ObjectCursor) -> ReadPlan:
    """What one object's run reads: a backfill (everything, or the window), or the changes since the cursor
    (or the window). Without a cursor, every read is a backfill."""
    since = cursor.since - OVERLAP if cursor.since is not None else None
    if window is not None:
        covers = since is not None and window.until is None and (window.since or since) <= since
        return ReadPlan(False, window.since, window.until, moves_cursor=covers)
    if mode == SyncMode.FULL or since is None:
        return ReadPlan(True)
    return ReadPlan(False, since)


@dataclass
class ReadStats:
    fetched: int = 0
    how: Literal["none", "pages", "bulk"] = "none"
    started: datetime | None = None  # the moment the data read reflects (a bulk export's creation)


def _decoded(value: bytes | dict[str, JsonValue]) -> dict[str, JsonValue]:
    if isinstance(value, dict):
        return value
    decoded = orjson.loads(value)
    if not isinstance(decoded, dict):
        raise ValueError("a bulk line that is not a JSON object")
    return decoded


def to_record(obj: ObjectName, item: Exported) -> Record:
    """An exported node with its nested nodes -> the canonical record (UnreadableRecord if it cannot be)."""
    try:
        node = _decoded(item.node)
        children = [_decoded(child) for child in item.children]
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise UnreadableRecord(f"shopify:{obj.removesuffix('s')}:?", f"not JSON: {exc}") from None
    if obj == "customers":
        return customer_record(node, children)
    if obj == "orders":
        return order_record(node, children)
    return product_record(node, children)


class ObjectRead:
    """One object's records from the shop as a stream of canonical records: unreadable ones are kept in
    ``problems`` and skipped, a record met twice (a page boundary moving under an update) is passed once."""

    def __init__(self, obj: ObjectName) -> None:
        self.obj = obj
        self.stats = ReadStats()
        self.seen: set[int] = set()
        self.problems: dict[str, UnreadableRecord] = {}
        self._progress = read_progress(obj, log)
        self._progress_at = time.monotonic()

    def records(self, items: Iterable[Exported]) -> Iterator[Record]:
        for item in items:
            self.stats.fetched += 1
            if time.monotonic() - self._progress_at >= PROGRESS_EVERY_S:
                self._progress_at = time.monotonic()
                self._progress(self.stats.fetched)
            try:
                record = to_record(self.obj, item)
            except UnreadableRecord as problem:
                self.problems[problem.key] = problem
                continue
            if record.id in self.seen:
                continue
            self.seen.add(record.id)
            yield record

    def unreadable_ids(self) -> set[int] | None:
        """The ids of the records met but not readable; ``None`` when one of them had no id to tell."""
        ids: set[int] = set()
        for key in self.problems:
            ident = key.rsplit(":", 1)[-1]
            if not ident.isdigit():
                return None
            ids.add(int(ident))
        return ids


def _query_hash(client: ShopifyExportClient, obj: ObjectName, search: str | None) -> str:
    text = f"{client.base_url}\n{OBJECTS[obj].bulk_query(search)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _created_at(operation: BulkOperation) -> datetime:
    return datetime.fromisoformat(operation.created_at.replace("Z", "+00:00")).astimezone(UTC)


def _adoptable(cursor: ObjectCursor, digest: str) -> bool:
    pending = cursor.pending
    return (
        pending is not None
        and pending.query == digest
        and datetime.now(UTC) - pending.created_at < ADOPT_WITHIN
    )


def prefetch_rest(
    client: ShopifyExportClient, repo: IngestionRepository, tenant: str, run: str | None, after: ObjectName
) -> list[ObjectName]:
    """A backfill starts the exports of the objects after this one once this one's result is downloaded:
    while this object is written, Shopify prepares the others (up to five bulk queries per shop run at once
    from 2026-01, so the longest export, orders, does not wait for the object before it to be written). Each
    is noted as pending in its object's cursor, where that object's own read adopts it. Returns the objects
    whose export started: not those read by this run already, nor those with an export pending; none past
    the shop's limit (that object's step submits its own)."""
    started: list[ObjectName] = []
    for obj in PREFETCH_ORDER[PREFETCH_ORDER.index(after) + 1 :]:
        cursor = ObjectCursor.of(repo, tenant, obj)
        if run is not None and cursor.run == run:
            continue
        digest = _query_hash(client, obj, None)
        if _adoptable(cursor, digest):
            continue
        try:
            operation = client.start_export(OBJECTS[obj], None)
        except BulkOperationInProgress:
            break
        pending = PendingExport(operation=operation.id, query=digest, created_at=_created_at(operation))
        cursor.model_copy(update={"pending": pending}).save(repo, tenant, obj)
        started.append(obj)
    return started


def run_export(
    client: ShopifyExportClient,
    settings: ShopifySettings,
    obj: ObjectName,
    search: str | None,
    cursor: ObjectCursor,
    note: Callable[[ObjectCursor], None] | None,
) -> BulkOperation:
    """The object's bulk export for ``search``, finished: the one a killed run left (same query, not failed,
    recent), else a new one, noted through ``note`` before it is waited for (``None``: a dry run notes
    nothing)."""
    digest = _query_hash(client, obj, search)
    pending = cursor.pending
    operation: BulkOperation | None = None
    if pending is not None and _adoptable(cursor, digest):
        try:
            found = client.bulk_operation(pending.operation)
        except ApiError:
            found = None
        if found is not None and found.status in ("CREATED", "RUNNING", "COMPLETED"):
            log.info("%s: adopting bulk export %s (%s) of an earlier run", obj, found.id, found.status)
            operation = found
    if operation is None:
        operation = client.start_export(OBJECTS[obj], search)
        if note is not None:
            pending = PendingExport(operation=operation.id, query=digest, created_at=_created_at(operation))
            note(cursor.model_copy(update={"pending": pending}))
    return client.wait_for_bulk_operation(
        operation.id, poll_interval_s=settings.bulk_poll_interval_s, timeout_s=settings.bulk_timeout_s
    )


def _ids_search(ids: Sequence[int]) -> str:
    return " OR ".join(f"id:{i}" for i in ids)


def _read(
    client: ShopifyExportClient,
    settings: ShopifySettings,
    read: ObjectRead,
    plan: ReadPlan,
    cursor: ObjectCursor,
    note: Callable[[ObjectCursor], None] | None,
    retry: Sequence[int],
    ahead: Callable[[], object] | None = None,
) -> Iterator[Record]:
    """The records of ``plan`` (through a bulk export, or pages when few changed) and those of ``retry``;
    ``ahead`` is called once the export's result is downloaded (to start the next ones)."""
    obj = OBJECTS[read.obj]
    search = plan.search
    read.stats.started = datetime.now(UTC)
    changed = None if plan.full else client.count(obj, search)
    if changed is None or changed >= settings.bulk_threshold:
        operation = run_export(client, settings, read.obj, search, cursor, note)
        read.stats.how, read.stats.started = "bulk", _created_at(operation)
        with client.bulk_result(operation) as items:
            if ahead is not None:
                ahead()  # once the result is here: the shop's work on the next ones slows no download
            yield from read.records(items)
    elif changed:
        read.stats.how = "pages"
        yield from read.records(client.read_pages(obj, search))
    for start in range(0, len(retry), RETRY_BATCH):
        batch = [i for i in retry[start : start + RETRY_BATCH] if i not in read.seen]
        if batch:
            yield from read.records(client.read_pages(obj, _ids_search(batch)))


def in_background(items: Iterator[T], *, batch: int = 100, depth: int = 4) -> Iterator[T]:
    """``items`` produced in a thread of their own (``streams.prefetch``), ``batch`` at a time and at most
    ``depth`` batches ahead: downloading and mapping the next records overlaps with the writes of these
    (their round trips to the database, the database's own work). Batches keep the hand-over cheap; few
    of them keep the records in flight few (a canonical product with its variants is ~12 KB in memory)."""
    for chunk in prefetch(chunks(items, batch), depth=depth):
        yield from chunk


def _failed_ids(store: TenantStore, stage: str, *, dead: bool | None = False) -> list[int]:
    """The source ids of the records whose last read failed (by default not the dead letters: they wait for
    an operator)."""
    ids: list[int] = []
    for error in store.open_errors(stage, dead=dead):
        ident = error.record_key.rsplit(":", 1)[-1]
        if ident.isdigit():
            ids.append(int(ident))
    return sorted(set(ids))


def _write(
    repo: IngestionRepository, tenant: str, obj: ObjectName, records: Iterable[Record], mode: WriteMode
) -> WriteCounts:
    if obj == "customers":
        return repo.upsert_customers(tenant, (r for r in records if isinstance(r, Customer)), mode=mode)
    if obj == "orders":
        return repo.upsert_orders(tenant, (r for r in records if isinstance(r, Order)), mode=mode)
    return repo.upsert_products(tenant, (r for r in records if isinstance(r, ProductRecord)), mode=mode)


def _deletions(
    client: ShopifyExportClient, repo: IngestionRepository, tenant: str, read: ObjectRead, plan: ReadPlan
) -> Iterator[Deletion]:
    """A full read's: every stored live record it did not see, as of the export. Otherwise the shop's
    ``destroy`` events since the read's start.

    A record the full read met but could not read is in the shop: deleted as of the export, it could not come
    back once readable, as its next read is no newer than that tombstone when the shop has not changed it. A
    record it could not even identify could be any of them: that read deletes nothing."""
    if plan.full:
        unreadable = read.unreadable_ids()
        if unreadable is None:
            log.warning("%s: a record without an id could not be read: no deletion from absence", read.obj)
            return
        at = read.stats.started or datetime.now(UTC)
        for stored in repo.iter_ids(tenant, read.obj):
            if stored not in read.seen and stored not in unreadable:
                yield Deletion(id=stored, deleted_at=at)
        return
    for node in client.destroy_events(OBJECTS[read.obj], plan.since):
        try:
            yield event_deletion(EventNode.model_validate(node))
        except (ValidationError, ValueError) as exc:
            log.warning("%s: a destroy event could not be read: %s", read.obj, type(exc).__name__)


def write_mode(mode: SyncMode, skip_existing: bool) -> WriteMode:
    if mode == SyncMode.PLAN:
        return "dry_run"
    return "skip_existing" if skip_existing else "write"


def sync_object(
    ctx: StepContext,
    obj: ObjectName,
    *,
    repo: IngestionRepository | None = None,
) -> StepReport:
    """Read one object of the tenant's shop into the tables, as the run's mode and options say."""
    repo = repo or ingestion_repository()
    settings = ctx.settings(SHOPIFY_SOURCE)
    stage = STEPS[obj]
    client = ctx.open(SHOPIFY_SOURCE)
    mode = write_mode(ctx.mode, ctx.skip_existing)
    with Step(ctx.store, ctx.mode, f"shopify:{obj}", ctx.run_id, client) as report:
        cursor = ObjectCursor.of(repo, ctx.tenant, obj)
        plan = plan_read(ctx.mode, ctx.window, cursor)
        retry = [] if plan.full else _failed_ids(ctx.store, stage)
        note = None if mode == "dry_run" else (lambda c: c.save(repo, ctx.tenant, obj))
        ahead = None
        if plan.full and ctx.mode == SyncMode.FULL and mode != "dry_run":
            ahead = functools.partial(prefetch_rest, client, repo, ctx.tenant, ctx.run_id, obj)
        read = ObjectRead(obj)
        records = in_background(_read(client, settings, read, plan, cursor, note, retry, ahead))
        written = _write(repo, ctx.tenant, obj, records, mode)
        deleted = WriteCounts()
        if mode != "skip_existing":
            deleted = repo.delete(
                ctx.tenant, obj, _deletions(client, repo, ctx.tenant, read, plan), mode=mode
            )
        problems = list(read.problems.values())
        if mode != "dry_run":
            ctx.store.record_errors(
                stage,
                [(p.key, p.reason, {"object": obj, "problem": "unreadable"}) for p in problems],
                ctx.run_id,
            )
            failing = {p.key for p in problems}
            open_keys = [e.record_key for e in ctx.store.open_errors(stage)]
            ctx.store.resolve_errors(
                stage,
                [
                    k
                    for k in open_keys
                    if k not in failing and (plan.full or _read_through(obj, k, read.seen))
                ],
            )
            since = read.stats.started if plan.moves_cursor else cursor.since
            ObjectCursor(since=since, run=ctx.run_id).save(repo, ctx.tenant, obj)
        report.counts = _counts(read, written, deleted, len(problems))
        report.extra.update(
            read=read.stats.how,
            read_scope=plan.describe(),
            write_mode=mode,
            child_rows=written.child_rows,
            rows_written=written.rows_written + deleted.rows_written,
        )
        if mode == "dry_run":
            report.extra["plan"] = _plan_entries(obj, written, deleted)
        report.checks[MATCHES_SHOPIFY] = matches_shopify_count(client, repo, ctx.store, ctx.tenant, obj)
        report.preview = _preview(obj, written, deleted, problems)
    return report


def _read_through(obj: ObjectName, key: str, seen: set[int]) -> bool:
    """Whether the record of an error's key (``shopify:order:42``) was read this time."""
    kind, _, ident = key.removeprefix("shopify:").rpartition(":")
    return kind == obj.removesuffix("s") and ident.isdigit() and int(ident) in seen


def _counts(read: ObjectRead, written: WriteCounts, deleted: WriteCounts, failed: int) -> dict[str, int]:
    return {
        "fetched": read.stats.fetched,
        "created": written.inserted,
        "updated": written.updated,
        "unchanged": written.unchanged,
        "deleted": deleted.deleted,
        "failed": failed,
        "skipped_older": written.skipped_older + deleted.skipped_older,
        "skipped_existing": written.skipped_existing,
        "skipped_redacted": written.skipped_redacted,
    }


_ACTIONS = {"insert": "create", "update": "update", "delete": "delete"}


def _plan_entries(obj: ObjectName, written: WriteCounts, deleted: WriteCounts) -> list[dict[str, str]]:
    kind = obj.removesuffix("s")
    return [
        {"key": f"shopify:{kind}:{ident}", "action": _ACTIONS.get(action, action)}
        for action, ident in written.sample + deleted.sample
    ]


def _preview(
    obj: ObjectName, written: WriteCounts, deleted: WriteCounts, problems: Sequence[UnreadableRecord]
) -> str:
    entries = _plan_entries(obj, written, deleted)
    if not entries and not problems:
        return f"_no {obj} changed_"
    lines = ["| record | change |", "|---|---|"]
    lines += [f"| `{e['key']}` | {e['action']} |" for e in entries[:PREVIEW_ROWS]]
    lines += [f"| `{p.key}` | unreadable: {p.reason[:160]} |" for p in problems[:PREVIEW_ROWS]]
    return "\n".join(lines)


# --- checks -------------------------------------------------------------------------------------------------


def matches_shopify_count(
    client: ShopifyExportClient, repo: IngestionRepository, store: TenantStore, tenant: str, obj: ObjectName
) -> CheckOutcome:
    """The live rows of the object's table against Shopify's own count (customersCount, ordersCount,
    productsCount), records waiting with a read error allowed for (their own check reports them) unless the
    table holds them live (in the version read before). The object's step evaluates it, in every mode: it is
    about the table, whatever the run wrote."""
    shopify = client.count(OBJECTS[obj])
    stored = repo.count(tenant, obj)
    stored_failing = repo.live_ids(tenant, obj, _failed_ids(store, STEPS[obj], dead=None))
    waiting = store.count_open_errors(STEPS[obj]) - len(stored_failing)
    counts = {"shopify": shopify, "stored": stored, "waiting_with_errors": waiting}
    preview = "" if stored + waiting == shopify else f"Shopify holds {shopify} {obj}, the table {stored}"
    return CheckOutcome(stored + waiting == shopify, counts, preview)


def every_order_has_lines(ctx: StepContext) -> CheckOutcome:
    orphans = ingestion_repository().orders_without_lines(ctx.tenant)
    preview = ", ".join(f"`{i}`" for i in orphans.sample)
    return CheckOutcome(orphans.count == 0, {"orders_without_lines": orphans.count}, preview)


def fresh_object(obj: ObjectName, max_age: timedelta) -> CheckFunction:
    """The last complete read of the object (incremental or full) started within ``max_age``."""

    def check(ctx: StepContext) -> CheckOutcome:
        since = ObjectCursor.of(ingestion_repository(), ctx.tenant, obj).since
        age = datetime.now(UTC) - since if since is not None else None
        hours = round(age.total_seconds() / 3600, 2) if age is not None else -1.0
        return CheckOutcome(age is not None and age <= max_age, {"age_hours": hours})

    return check
