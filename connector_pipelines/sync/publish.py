"""Publishing a snapshot to a target: diff by content hash, write in batches, record what failed.

The target-specific part is a :class:`TargetWriter`; everything else (what to send, when a mapping is
stored, how failures are recorded and retried) is the same for every pipeline. Mappings and published
hashes are written only after the target confirmed, so a run killed at any point resumes where the
target's state is, and a record that failed is sent again on the next run because its published hash
still differs.

:func:`publish` sends what differs from the snapshot; a :class:`StreamPublisher` sends records while a read
is still writing them (the snapshot engine hands each written batch over), so that publishing overlaps a
slow source. Both keep the same bookkeeping; deletions only ever come from :func:`publish`.

A write that dies unanswered may still land. So a writer that :class:`DeclaresIntents` has its records marked
before they are sent (``PENDING``, ``UNCONFIRMED``): a mapping never claims a version the target may no longer
hold, and whatever either version links is on record to be removed later.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import orjson
from pydantic import JsonValue

from connector_pipelines.catalog.diff import Diff, changed_values, diff_hashes
from connector_pipelines.redaction import MASK, redact
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.snapshot import gc_for_streams

# Published hash of a record the target keeps but has deactivated (deletion policy "deactivate").
DEACTIVATED = "deactivated"
# Published hash of a create sent but not confirmed: written before the request, so that a run killed while
# it is in flight leaves the target id on record, and the record is deleted there if the source drops it.
PENDING = "pending"
# Published hash of an update sent but not confirmed (the run died, or no answer came): the target holds this
# version or the one before, so the record is sent again whatever the source says next.
UNCONFIRMED = "unconfirmed"

Action = Literal["create", "update", "delete", "deactivate"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishItem:
    key: str
    content_hash: str
    payload: Any
    published: MappingRow | None

    @property
    def action(self) -> Action:
        return "create" if self.published is None or self.published.content_hash == PENDING else "update"


@dataclass(frozen=True)
class RecordFailure:
    key: str
    reason: str
    payload: Any = None


@dataclass
class WriteOutcome:
    confirmed: list[MappingRow] = field(default_factory=list)
    failed: list[RecordFailure] = field(default_factory=list)


# How long a value in a plan may be, and the field names whose values a plan never shows.
PLAN_VALUE_CHARS = 60
_SECRET_FIELD = re.compile(r"pass(word)?|secret|token|api[-_]?key|credential|authori[sz]ation", re.IGNORECASE)


def plan_value(value: object, limit: int = PLAN_VALUE_CHARS) -> str | None:
    """A value as a plan shows it: text and numbers as they read, anything else as compact JSON; registered
    secrets masked, then cut to ``limit`` characters. None: the field has no value."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict | list | tuple | bool | int | float):
        text = orjson.dumps(value, default=str).decode()
    else:
        text = str(value)  # a decimal, a date: as it reads
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class FieldChange:
    """One field of a planned write: its value in the target now (None: none) and the value the sync would
    write, as display text (:func:`plan_value`)."""

    field: str
    old: str | None
    new: str | None

    @classmethod
    def of(cls, field: str, old: object, new: object) -> FieldChange:
        if _SECRET_FIELD.search(field.rsplit(".", 1)[-1]):
            return cls(field, None if old is None else MASK, None if new is None else MASK)
        return cls(field, plan_value(old), plan_value(new))

    def describe(self) -> str:
        return f"{self.field}: {_shown(self.old)} -> {_shown(self.new)}"


def _shown(value: str | None) -> str:
    return "(none)" if value is None else value


def field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = ""
) -> tuple[FieldChange, ...]:
    """The fields (dotted paths) whose values differ between two documents, with both values."""
    return tuple(FieldChange.of(path, old, new) for path, old, new in changed_values(before, after, prefix))


def new_fields(document: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """The fields of a record to be created, with the values it would get."""
    return tuple(FieldChange.of(name, None, document[name]) for name in sorted(document))


@dataclass(frozen=True)
class PlanEntry:
    key: str
    action: Action
    label: str
    changes: tuple[FieldChange, ...] = ()

    @property
    def changed_fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.changes)

    def as_json(self) -> dict[str, JsonValue]:
        """The entry as run metadata and ``sync --json`` carry it."""
        return {
            "key": self.key,
            "action": self.action,
            "label": self.label,
            "changed_fields": list(self.changed_fields),
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes],
        }


class TargetWriter(Protocol):
    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        """Create or update; confirmed mappings carry the new target ids and hashes. An item neither
        confirmed nor failed is left for the next run (a writer out of time)."""
        ...

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        """Delete or deactivate; confirmed rows are the ones the target no longer shows."""
        ...

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        """What upsert/remove would do, field by field with the target's values and ours (``FieldChange``),
        read from the target; writes nothing."""
        ...


@runtime_checkable
class DeclaresIntents(Protocol):
    """A writer whose records are marked in their mappings before they are sent (the engine stores the rows
    on its own thread, then hands the same items to ``upsert``)."""

    def intents(self, items: Sequence[PublishItem]) -> list[MappingRow]:
        """The mapping rows of ``items`` while they are in flight (:func:`in_flight`); an item left out is
        one ``upsert`` refuses without sending it."""
        ...


def merge_extra(old: JsonValue, new: JsonValue) -> JsonValue:
    """What two versions of a mapping's ``extra`` link together: objects merged key by key, lists joined
    (old items first), anything else the new value."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: merge_extra(old[k], new[k]) if k in old else new[k] for k in new} | {
            k: v for k, v in old.items() if k not in new
        }
    if isinstance(old, list) and isinstance(new, list):
        return [*old, *(v for v in new if v not in old)]
    return old if new is None else new


def in_flight(item: PublishItem, target_id: str, extra: dict[str, Any] | None) -> MappingRow:
    """The mapping row of ``item`` while it is sent: ``PENDING`` for a create, ``UNCONFIRMED`` for an update,
    with what the version sent links (``extra``) added to what the target may hold already."""
    marker = PENDING if item.action == "create" else UNCONFIRMED
    before = item.published.extra if item.published is not None else None
    merged = merge_extra(before, extra)
    return MappingRow(item.key, target_id, marker, merged if isinstance(merged, dict) else None)


@dataclass
class PublishResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    resolved_errors: int = 0
    preview: list[PlanEntry] = field(default_factory=list)
    plan: list[PlanEntry] = field(default_factory=list)
    # Changed records not sent because the deadline passed: they wait for the next run.
    left: int = 0
    # Changed records not sent because they are dead letters: they wait for `errors retry`.
    dead_letters: int = 0

    def counts(self) -> dict[str, int]:
        counts = {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "resolved_errors": self.resolved_errors,
        }
        if self.dead_letters:
            counts["dead_letters"] = self.dead_letters
        return counts


@dataclass(frozen=True)
class PublishSpec:
    snapshot_kind: str
    mapping_kind: str
    error_stage: str
    label: Callable[[Any], str] = lambda payload: ""
    # The id a record gets in the target, for targets that take ids from us: creates are then written down
    # (PENDING) before they are sent.
    target_id: Callable[[str], str] | None = None
    # What shapes the target's payloads besides the records (their format, target settings): mixed into the
    # hashes the target confirms, so that a change publishes every record once more.
    version: str = ""

    def published_hash(self, content_hash: str) -> str:
        """The hash a record's mapping holds once the target confirmed this version of it."""
        if not self.version:
            return content_hash
        return hashlib.sha256(f"{content_hash}:{self.version}".encode()).hexdigest()


PREVIEW_ROWS = 20
IN_FLIGHT = 2
PROGRESS_EVERY_S = 2.0


def plan_diff(store: TenantStore, spec: PublishSpec, keys: set[str] | None = None) -> Diff:
    source = {k: spec.published_hash(v) for k, v in store.record_hashes(spec.snapshot_kind).items()}
    published = store.mapping_hashes(spec.mapping_kind)
    if keys is not None:
        source = {k: v for k, v in source.items() if k in keys}
        published = {k: v for k, v in published.items() if k in keys}
    # The snapshot is the source of truth for what should exist: it only loses records after a complete
    # source read, so whatever it lacks may go from the target.
    diff = diff_hashes(source, published, complete=True)
    diff.delete = [k for k in diff.delete if published[k] != DEACTIVATED]
    return diff


class StreamPublisher:
    """Sends records to the target as they come, two batches in flight (one is built while the other waits
    for the target's answer), and stores what the target confirmed or refused, on the caller's thread.

    :meth:`send` takes ``(key, content hash, payload)`` of snapshot records just written (the snapshot
    engine's ``on_written``) and skips those the target already holds in this version; :meth:`close` sends
    the last batch and waits for the answers. With ``tolerant``, a write that raises stops the stream (with a
    warning) instead of failing the caller: a later :func:`publish` sends what it left. ``on_confirmed`` gets
    each batch the target confirmed, as (item sent, mapping stored), once stored.
    """

    def __init__(
        self,
        store: TenantStore,
        writer: TargetWriter,
        spec: PublishSpec,
        *,
        run_id: str | None,
        batch_size: int,
        tolerant: bool = False,
        deadline: float | None = None,
        progress: Callable[[str], None] | None = None,
        total: int | None = None,
        on_confirmed: Callable[[list[tuple[PublishItem, MappingRow]]], None] | None = None,
    ) -> None:
        self.store, self.writer, self.spec, self.run_id = store, writer, spec, run_id
        self.batch_size, self.tolerant, self.deadline = batch_size, tolerant, deadline
        self.progress, self.total, self.on_confirmed = progress, total, on_confirmed
        self.result = PublishResult()
        self.stopped: str | None = None
        self._batch: list[PublishItem] = []
        self._pending: deque[tuple[list[PublishItem], Future[WriteOutcome]]] = deque()
        self._pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="publish")
        self._started = time.monotonic()
        self._done = 0
        self._queued = 0
        self._reported = (0, self._started)  # records done when progress was last reported, and when
        self._open_errors: set[str] | None = None  # keys with an open error of this stage
        # Dead letters wait for an operator (`errors retry`): no run sends them on its own.
        self._dead = store.dead_letter_keys(spec.error_stage)

    def __enter__(self) -> StreamPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, records: Sequence[tuple[str, str, Any]]) -> None:
        """Queue records for the target; full batches go out at once."""
        if self.stopped is not None or not records:
            return
        published = self.store.mappings_for(self.spec.mapping_kind, [key for key, _, _ in records])
        for key, digest, payload in records:
            self.add(PublishItem(key, self.spec.published_hash(digest), payload, published.get(key)))

    def add(self, item: PublishItem) -> None:
        """Queue one item (its hash already the published one) unless the target holds it already."""
        if self.stopped is not None:
            return
        if item.published is not None and item.published.content_hash == item.content_hash:
            return
        if item.key in self._dead:
            self.result.dead_letters += 1
            return
        self._batch.append(item)
        self._queued += 1
        if len(self._batch) >= self.batch_size:
            self._submit()
        self._settle(IN_FLIGHT)

    def close(self) -> PublishResult:
        """Send what is queued, wait for every answer and stop the workers; the result of the stream."""
        if self._batch and self.stopped is None:
            self._submit()
        try:
            self._settle(0)
        finally:
            self._pool.shutdown(wait=True)
        self._report(final=True)
        return self.result

    @property
    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _submit(self) -> None:
        items, self._batch = self._batch, []
        if self.out_of_time:
            self.result.left += len(items)
            return
        if isinstance(self.writer, DeclaresIntents):
            try:
                intents = self.writer.intents(items)
            except Exception as exc:
                if not self.tolerant:
                    raise
                self._stop(exc)
                return
            self.store.put_mappings(self.spec.mapping_kind, intents)
        elif self.spec.target_id is not None:
            intents = [
                MappingRow(i.key, self.spec.target_id(i.key), PENDING) for i in items if i.published is None
            ]
            self.store.put_mappings(self.spec.mapping_kind, intents)
        self._pending.append((items, self._pool.submit(self.writer.upsert, items)))

    def _settle(self, keep: int) -> None:
        """Record the answers that are in; wait for the oldest while more than ``keep`` batches are out (the
        read then waits for the target)."""
        while self._pending and (len(self._pending) > keep or self._pending[0][1].done()):
            items, future = self._pending.popleft()
            try:
                outcome = future.result()
            except Exception as exc:
                if not self.tolerant:
                    raise
                self._stop(exc)
                continue
            self._record(items, outcome)

    def _stop(self, exc: Exception) -> None:
        if self.stopped is None:
            self.stopped = f"{type(exc).__name__}: {exc}"
            log.warning(
                "publishing while reading stopped (the rest is published afterwards): %s", self.stopped
            )
        self._batch = []

    def _record(self, batch: list[PublishItem], outcome: WriteOutcome) -> None:
        """Store what the target confirmed and record what it refused."""
        store, spec, result = self.store, self.spec, self.result
        by_key = {item.key: item for item in batch}
        store.put_mappings(spec.mapping_kind, outcome.confirmed)
        for row in outcome.confirmed:
            item = by_key[row.source_key]
            if item.action == "create":
                result.created += 1
            else:
                result.updated += 1
            if len(result.preview) < PREVIEW_ROWS:
                result.preview.append(PlanEntry(item.key, item.action, spec.label(item.payload)))
        if self._open_errors is None:
            # Looked up once: most batches close no error, and need no write for it.
            self._open_errors = {e.record_key for e in store.open_errors(spec.error_stage)}
        closed = [r.source_key for r in outcome.confirmed if r.source_key in self._open_errors]
        if closed:
            result.resolved_errors += store.resolve_errors(spec.error_stage, closed)
            self._open_errors.difference_update(closed)
        result.failed += len(outcome.failed)
        store.record_errors(
            spec.error_stage, ((f.key, f.reason, f.payload) for f in outcome.failed), self.run_id
        )
        self._open_errors.update(f.key for f in outcome.failed)
        if self.on_confirmed is not None and outcome.confirmed:
            self.on_confirmed([(by_key[row.source_key], row) for row in outcome.confirmed])
        result.left += len(batch) - len(outcome.confirmed) - len(outcome.failed)
        self._done += len(batch)
        self._report()

    def _report(self, *, final: bool = False) -> None:
        """Progress at most every PROGRESS_EVERY_S (a line is an event of the run's log) and at the end."""
        now = time.monotonic()
        done, when = self._reported
        # A stream knows no total: its records so far are the total so far.
        total = self.total if self.total is not None else self._queued
        if self.progress is None or self._done == done:
            return
        if not final and self._done != total and now - when < PROGRESS_EVERY_S:
            return
        self._reported = (self._done, now)
        rate = self._done / max(now - self._started, 1e-6)
        self.progress(f"{self._done}/{total} records published ({rate:.0f}/s)")


@gc_for_streams()
def publish(
    store: TenantStore,
    writer: TargetWriter,
    spec: PublishSpec,
    *,
    run_id: str | None,
    batch_size: int,
    keys: set[str] | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    exclude: Collection[str] = (),
    deadline: float | None = None,
) -> PublishResult:
    """Send what differs between the snapshot and the target's confirmed state, then remove what the snapshot
    no longer has. ``keys`` narrows it to those records; ``exclude`` keeps records from being sent (not from
    being removed), such as those that failed earlier in the same run; after ``deadline``
    (``time.monotonic()``) nothing more is sent and the rest waits (``PublishResult.left``)."""
    diff = plan_diff(store, spec, keys)
    mappings = store.mappings_for(spec.mapping_kind, diff.update + diff.delete)
    dead = store.dead_letter_keys(spec.error_stage)
    excluded = set(exclude) | dead
    changed = sorted(k for k in (*diff.create, *diff.update) if k not in excluded)
    removals = [mappings[k] for k in diff.delete]

    stream = StreamPublisher(
        store,
        writer,
        spec,
        run_id=run_id,
        batch_size=batch_size,
        deadline=deadline,
        progress=progress,
        total=len(changed),
    )
    with stream:
        plan: list[PlanEntry] = []
        batch: list[PublishItem] = []
        for record in store.iter_records(spec.snapshot_kind, keys=changed, batch=max(batch_size, 100)):
            if stream.out_of_time:
                break
            item = PublishItem(
                record.key, spec.published_hash(record.content_hash), record.payload, mappings.get(record.key)
            )
            if not dry_run:
                stream.add(item)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                plan.extend(writer.plan(batch, []))
                batch = []
        if batch:
            plan.extend(writer.plan(batch, []))
    result = stream.result
    result.unchanged = len(diff.unchanged)
    result.dead_letters = len(dead & {*diff.create, *diff.update})
    result.plan = plan
    if not dry_run:
        result.left = len(changed) - result.created - result.updated - result.failed

    failed_removals: set[str] = set()
    if removals:
        if dry_run:
            result.plan.extend(writer.plan([], removals))
        else:
            outcome = writer.remove(removals)
            gone = [m.source_key for m in outcome.confirmed if m.content_hash != DEACTIVATED]
            kept = [m for m in outcome.confirmed if m.content_hash == DEACTIVATED]
            store.delete_mappings(spec.mapping_kind, gone)
            store.put_mappings(spec.mapping_kind, kept)
            result.deleted += len(outcome.confirmed)
            result.failed += len(outcome.failed)
            failed_removals = {f.key for f in outcome.failed}
            store.record_errors(
                spec.error_stage, ((f.key, f.reason, f.payload) for f in outcome.failed), run_id
            )
            for m in outcome.confirmed[: PREVIEW_ROWS - len(result.preview)]:
                action: Action = "deactivate" if m.content_hash == DEACTIVATED else "delete"
                result.preview.append(PlanEntry(m.source_key, action, m.target_id))
    if not dry_run:
        # A record the source no longer has, and the target no longer shows (or never took), cannot fail
        # again: its open error would stay open forever, naming nothing.
        # Nor can one the target already holds in this version (another run's write landed it).
        alive = {*diff.create, *diff.update, *failed_removals}
        stale = [
            e.record_key
            for e in store.open_errors(spec.error_stage)
            if e.record_key not in alive and (keys is None or e.record_key in keys)
        ]
        result.resolved_errors += store.resolve_errors(spec.error_stage, stale)
    return result


PREVIEW_CHANGES = 6


def preview_markdown(entries: Sequence[PlanEntry], limit: int = PREVIEW_ROWS) -> str:
    if not entries:
        return "_nothing changed_"
    lines = ["| record | action | what | changes |", "|---|---|---|---|"]
    for e in entries[:limit]:
        shown = [_cell(c.describe()) for c in e.changes[:PREVIEW_CHANGES]]
        more = len(e.changes) - PREVIEW_CHANGES
        changes = "<br>".join(shown) + (f"<br>… {more} more" if more > 0 else "")
        lines.append(f"| `{e.key}` | {e.action} | {_cell(e.label)} | {changes} |")
    if len(entries) > limit:
        lines.append(f"| … | {len(entries) - limit} more | | |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text that stays inside one cell of a markdown table."""
    return " ".join(text.replace("|", "\\|").split())
