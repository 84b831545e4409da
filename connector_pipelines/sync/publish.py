"""Publishing a snapshot to a target: diff by content hash, write in batches, record what failed.

The target-specific part is a :class:`TargetWriter`; everything else (what to send, when a mapping is
stored, how failures are recorded and retried) is the same for every pipeline. Mappings and published
hashes are written only after the target confirmed, so a run killed at any point resumes where the
target's state is, and a record that failed is sent again on the next run because its published hash
still differs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from connector_pipelines.catalog.diff import Diff, diff_hashes
from connector_pipelines.store.repositories import MappingRow, TenantStore

# Published hash of a record the target keeps but has deactivated (deletion policy "deactivate").
DEACTIVATED = "deactivated"
# Published hash of a create sent but not confirmed: written before the request, so that a run killed while
# it is in flight leaves the target id on record, and the record is deleted there if the source drops it.
PENDING = "pending"

Action = Literal["create", "update", "delete", "deactivate"]


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


@dataclass(frozen=True)
class PlanEntry:
    key: str
    action: Action
    label: str
    changed_fields: tuple[str, ...] = ()


class TargetWriter(Protocol):
    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        """Create or update; confirmed mappings carry the new target ids and hashes."""
        ...

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        """Delete or deactivate; confirmed rows are the ones the target no longer shows."""
        ...

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        """What upsert/remove would do, field by field, read from the target; writes nothing."""
        ...


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

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "resolved_errors": self.resolved_errors,
        }


@dataclass(frozen=True)
class PublishSpec:
    snapshot_kind: str
    mapping_kind: str
    error_stage: str
    label: Callable[[Any], str] = lambda payload: ""
    # The id a record gets in the target, for targets that take ids from us: creates are then written down
    # (PENDING) before they are sent.
    target_id: Callable[[str], str] | None = None


PREVIEW_ROWS = 20
IN_FLIGHT = 2


def plan_diff(store: TenantStore, spec: PublishSpec, keys: set[str] | None = None) -> Diff:
    source = store.record_hashes(spec.snapshot_kind)
    published = store.mapping_hashes(spec.mapping_kind)
    if keys is not None:
        source = {k: v for k, v in source.items() if k in keys}
        published = {k: v for k, v in published.items() if k in keys}
    # The snapshot is the source of truth for what should exist: it only loses records after a complete
    # source read, so whatever it lacks may go from the target.
    diff = diff_hashes(source, published, complete=True)
    diff.delete = [k for k in diff.delete if published[k] != DEACTIVATED]
    return diff


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
) -> PublishResult:
    diff = plan_diff(store, spec, keys)
    result = PublishResult(unchanged=len(diff.unchanged))
    mappings = store.mappings_for(spec.mapping_kind, diff.update + diff.delete)
    changed = sorted(diff.create + diff.update)
    removals = [mappings[k] for k in diff.delete]

    started = time.monotonic()
    done = 0
    # Two batches in flight: one is built while the other waits for the target's answer.
    with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="publish") as pool:
        pending: deque[tuple[list[PublishItem], Future[WriteOutcome]]] = deque()

        def settle(keep: int) -> None:
            nonlocal done
            while len(pending) > keep:
                settled, future = pending.popleft()
                _record(store, spec, settled, future.result(), result, run_id)
                done += len(settled)
                if progress is not None:
                    rate = done / max(time.monotonic() - started, 1e-6)
                    progress(f"{done}/{len(changed)} records published ({rate:.0f}/s)")

        def submit(items: list[PublishItem]) -> None:
            if dry_run:
                result.plan.extend(writer.plan(items, []))
                return
            if spec.target_id is not None:
                intents = [
                    MappingRow(i.key, spec.target_id(i.key), PENDING) for i in items if i.published is None
                ]
                store.put_mappings(spec.mapping_kind, intents)
            pending.append((items, pool.submit(writer.upsert, items)))
            settle(IN_FLIGHT - 1)

        batch: list[PublishItem] = []
        for record in store.iter_records(spec.snapshot_kind, keys=changed, batch=max(batch_size, 100)):
            batch.append(
                PublishItem(record.key, record.content_hash, record.payload, mappings.get(record.key))
            )
            if len(batch) >= batch_size:
                submit(batch)
                batch = []
        if batch:
            submit(batch)
        settle(0)

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
        alive = {*diff.create, *diff.update, *diff.unchanged, *failed_removals}
        stale = [
            e.record_key
            for e in store.open_errors(spec.error_stage)
            if e.record_key not in alive and (keys is None or e.record_key in keys)
        ]
        result.resolved_errors += store.resolve_errors(spec.error_stage, stale)
    return result


def _record(
    store: TenantStore,
    spec: PublishSpec,
    batch: list[PublishItem],
    outcome: WriteOutcome,
    result: PublishResult,
    run_id: str | None,
) -> None:
    """Store what the target confirmed and record what it refused."""
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
    result.resolved_errors += store.resolve_errors(
        spec.error_stage, [r.source_key for r in outcome.confirmed]
    )
    result.failed += len(outcome.failed)
    store.record_errors(spec.error_stage, ((f.key, f.reason, f.payload) for f in outcome.failed), run_id)


def preview_markdown(entries: Sequence[PlanEntry], limit: int = PREVIEW_ROWS) -> str:
    if not entries:
        return "_nothing changed_"
    lines = ["| record | action | what | changed fields |", "|---|---|---|---|"]
    for e in entries[:limit]:
        fields_ = ", ".join(e.changed_fields[:8]) + (" …" if len(e.changed_fields) > 8 else "")
        lines.append(f"| `{e.key}` | {e.action} | {e.label} | {fields_} |")
    if len(entries) > limit:
        lines.append(f"| … | {len(entries) - limit} more | | |")
    return "\n".join(lines)
