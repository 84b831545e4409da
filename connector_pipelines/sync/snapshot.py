"""Keeping a source snapshot: canonical records with content hashes in the connector database."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from connector_pipelines.catalog.hashing import content_hash
from connector_pipelines.store.repositories import TenantStore

_WRITE_BATCH = 500
log = logging.getLogger(__name__)
RecordT_co = TypeVar("RecordT_co", bound=BaseModel, covariant=True)
# (key, content hash, record) of records just written to the snapshot.
Written = tuple[str, str, BaseModel]


class SourceReader(Protocol[RecordT_co]):
    """One read of a source, as the snapshot engine takes it (the counterpart of
    :class:`~connector_pipelines.sync.publish.TargetWriter`): canonical records, streamed, and the keys the
    source has but could not translate."""

    def read(self) -> Iterator[RecordT_co]:
        """Stream the canonical records; an exception half-way removes nothing from the snapshot."""
        ...

    def unreadable(self) -> Collection[str]:
        """Asked after the stream ends: keys that keep their last good version instead of looking deleted."""
        ...


# Allocations between two collections of the youngest generation while records stream (Python's default: 700).
# A read holds pages of parsed records ahead of translation (tens of thousands of objects): at 5000, each
# young collection promoted them and the middle generation's passes took a fifth of a full sync's CPU.
STREAM_GC_YOUNG = 50_000
_gc_lock = threading.Lock()
_gc_holders = 0
_gc_thresholds = gc.get_threshold()


@contextmanager
def gc_for_streams() -> Iterator[None]:
    """The garbage collector set for a stream of records, until the last such stream ends. The objects alive
    when it starts (modules, definitions, clients, caches) are kept out of its passes: the records a stream
    allocates survive long enough to set off full collections, each of which rescanned that whole heap (a
    third of a full sync's CPU). And young collections come less often, so that a page of records is gone
    before one, rather than promoted towards the full ones. Nothing is lost: whatever of the frozen heap
    became garbage is collected once it is handed back."""
    global _gc_holders, _gc_thresholds
    with _gc_lock:
        if _gc_holders == 0:
            _gc_thresholds = gc.get_threshold()
            young, *older = _gc_thresholds
            gc.set_threshold(max(young, STREAM_GC_YOUNG), *older)
            gc.freeze()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0:
                gc.unfreeze()
                gc.set_threshold(*_gc_thresholds)


@dataclass
class SnapshotResult:
    fetched: int = 0
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "removed": len(self.removed),
        }


@gc_for_streams()
def update_snapshot(
    store: TenantStore,
    kind: str,
    records: Iterable[BaseModel],
    *,
    key: Callable[[Any], str] = attrgetter("key"),
    complete: bool,
    keep: Callable[[], Collection[str]] = frozenset,
    progress: Callable[[int], None] | None = None,
    on_written: Callable[[list[Written]], None] | None = None,
    batch: int = _WRITE_BATCH,
) -> SnapshotResult:
    """Stream records into the snapshot; only changed ones are written, ``batch`` at a time.

    With ``complete`` (the source was read whole and without error) keys that were not seen are removed:
    that is how deletions are detected for sources without a deletion feed. The removal happens after the
    stream is exhausted, so an exception half-way never removes anything. ``keep`` names records the source
    has but could not translate (asked for after the stream ends): their last good version stays.
    ``on_written`` gets each written batch of changed records (to publish them while the read goes on).
    """
    previous = store.record_hashes(kind)
    seen: set[str] = set()
    result = SnapshotResult()
    pending: list[tuple[str, str, object]] = []
    written: list[Written] = []
    last_progress = time.monotonic()

    def flush() -> None:
        store.put_records(kind, pending)
        pending.clear()
        if on_written is not None and written:
            on_written(list(written))
        written.clear()

    for record in records:
        record_key = key(record)
        seen.add(record_key)
        result.fetched += 1
        document = record.model_dump(mode="json")
        digest = content_hash(document)
        if previous.get(record_key) == digest:
            result.unchanged += 1
        else:
            result.changed.append(record_key)
            pending.append((record_key, digest, document))
            if on_written is not None:
                written.append((record_key, digest, record))
            if len(pending) >= batch:
                flush()
        if progress is not None and time.monotonic() - last_progress > 5:
            progress(result.fetched)
            last_progress = time.monotonic()
    flush()
    if complete:
        result.removed = sorted(set(previous) - seen - set(keep()))
        store.delete_records(kind, result.removed)
    return result


def snapshot_from(
    store: TenantStore,
    kind: str,
    source: SourceReader[BaseModel],
    *,
    complete: bool,
    progress: Callable[[int], None] | None = None,
    on_written: Callable[[list[Written]], None] | None = None,
    batch: int = _WRITE_BATCH,
) -> SnapshotResult:
    """Stream one read of a source into the snapshot (see :func:`update_snapshot`)."""
    return update_snapshot(
        store,
        kind,
        source.read(),
        complete=complete,
        keep=source.unreadable,
        progress=progress,
        on_written=on_written,
        batch=batch,
    )


def read_progress(what: str, logger: logging.Logger = log) -> Callable[[int], None]:
    """A ``progress`` callback logging records read and the rate, in the form the CLI's progress display
    reads (``runner.py``): ``<what> read: <n> records (<rate>/s)``."""
    started = time.monotonic()

    def progress(count: int) -> None:
        rate = count / max(time.monotonic() - started, 1e-6)
        logger.info("%s read: %d records (%.0f/s)", what, count, rate)

    return progress
