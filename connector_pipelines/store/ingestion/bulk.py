"""Chunked upserts and soft deletes guarded by ``updated_at``, with child rows replaced with their parent.

Per chunk (one transaction): the stored ``updated_at`` / content hash / tombstone of the chunk's ids are read
in one query and every record is classified (insert, update, unchanged, older, redacted). Only what must be
written is built (encrypted) and written; the SQL upsert repeats the guard, so a concurrent writer that got
there first still wins correctly, and the ids the upsert returns decide which parents' children are
replaced. On PostgreSQL, rows expected to be new (all of a backfill) are copied straight into their table with
``COPY``, the others through ``COPY`` into a temporary table and one ``INSERT ... SELECT ... ON CONFLICT``;
on SQLite they go through multi-row ``INSERT ... ON CONFLICT`` statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, Self, TypeVar, cast

import orjson
import psycopg
from psycopg.types.json import set_json_dumps
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    any_,
    delete,
    literal,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator, TypeEngine

from connector_pipelines.catalog.commerce import Deletion
from connector_pipelines.store.ingestion.rows import Row, RowSet
from connector_pipelines.store.keyed import select_by_keys

WriteMode = Literal["write", "dry_run", "skip_existing"]
SAMPLE_SIZE = 10


class WriteCounts(BaseModel):
    """What a write did (or, in a dry run, would do), per parent record; ``child_rows`` counts the child rows
    (addresses, lines, variants) written with their parents."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_older: int = 0
    skipped_redacted: int = 0
    skipped_existing: int = 0
    deleted: int = 0
    child_rows: int = 0
    sample: list[tuple[str, int]] = []

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.deleted + self.child_rows

    def note(self, action: str, source_id: int) -> None:
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append((action, source_id))

    def __add__(self, other: WriteCounts) -> WriteCounts:
        merged = {
            name: getattr(self, name) + getattr(other, name)
            for name in type(self).model_fields
            if name != "sample"
        }
        return WriteCounts(**merged, sample=(self.sample + other.sample)[:SAMPLE_SIZE])


class Versioned(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def updated_at(self) -> datetime: ...

    def model_dump_json(self) -> str: ...

    @classmethod
    def model_validate_json(cls, json_data: bytes) -> Self: ...


R = TypeVar("R", bound=Versioned)
T = TypeVar("T")


@dataclass(frozen=True)
class ChildTable:
    table: Table
    columns: tuple[str, ...]
    parent_column: str
    conflict: tuple[str, ...]


@dataclass(frozen=True)
class ObjectTable:
    name: str
    table: Table
    columns: tuple[str, ...]
    children: tuple[ChildTable, ...] = ()
    redactable: bool = False


@dataclass(frozen=True)
class _Stored:
    updated_at: datetime
    content_hash: bytes | None
    deleted_at: datetime | None
    redacted_at: datetime | None


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _guard(table: str, redactable: bool) -> str:
    """When an incoming row replaces the stored one: newer, or as new and the stored row is no tombstone."""
    guard = (
        f"(excluded.updated_at > {table}.updated_at OR "
        f"(excluded.updated_at = {table}.updated_at AND {table}.deleted_at IS NULL))"
    )
    return f"{guard} AND {table}.redacted_at IS NULL" if redactable else guard


def ids_in(conn: Connection, column: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL one array parameter, not thousands of parameters to parse."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(ids), postgresql.ARRAY(BigInteger)))
    return column.in_(ids)


def _stored(conn: Connection, spec: ObjectTable, tenant: str, ids: Sequence[int]) -> dict[int, _Stored]:
    t = spec.table
    columns = [t.c.shopify_id, t.c.updated_at, t.c.content_hash, t.c.deleted_at]
    if spec.redactable:
        columns.append(t.c.redacted_at)
    result = conn.execute(
        select_by_keys(conn.dialect.name, t, columns, {"tenant": tenant}, t.c.shopify_id, ids)
    )
    return {row[0]: _Stored(row[1], row[2], row[3], row[4] if spec.redactable else None) for row in result}


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


# psycopg's COPY formats: binary costs a third of text for timestamps and ciphertexts, text is cheaper for
# numerics (psycopg's binary numeric is written in Python); a table is copied in binary when it has either.
def _copy_types(table: Table, columns: Sequence[str]) -> list[str] | None:
    """The PostgreSQL type of each column for a binary ``COPY``, or None to copy as text."""
    types = [_pg_type(table.c[c].type) for c in columns]
    return types if any(t in ("timestamptz", "bytea") for t in types) else None


def _pg_type(sql_type: TypeEngine[Any]) -> str:
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    for python_type, name in _PG_TYPES:
        if isinstance(sql_type, python_type):
            return name
    raise TypeError(f"no COPY type for column type {sql_type!r}")


_PG_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (String, "text"),
    (LargeBinary, "bytea"),
    (Numeric, "numeric"),
    (DateTime, "timestamptz"),
    (JSON, "jsonb"),
)


def _copy(conn: Connection, table: Table, target: str, columns: Sequence[str], rows: list[Row]) -> None:
    """``COPY`` rows (in ``columns`` order, shaped as ``table``) into ``target`` (PostgreSQL)."""
    raw = cast(psycopg.Connection[tuple[object, ...]], conn.connection.driver_connection)
    info = conn.connection.info
    if not info.get("ingestion_json"):
        set_json_dumps(orjson.dumps, context=raw)
        info["ingestion_json"] = True
    types = _copy_types(table, columns)
    options = " (FORMAT BINARY)" if types else ""
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN{options}") as copy,
    ):
        if types:
            copy.set_types(types)
        for row in rows if types else _json_as_text(table, columns, rows):
            copy.write_row(row)


def _staging(conn: Connection, table: Table) -> str:
    """A temporary table shaped like ``table``, emptied at every commit, created once per connection."""
    name = f"_in_{table.name}"
    made = conn.connection.info.setdefault("ingestion_staging", set())
    if name not in made:
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {table.name} INCLUDING DEFAULTS) "
                "ON COMMIT DELETE ROWS"
            )
        )
        made.add(name)
    return name


def _copy_new(conn: Connection, table: Table, columns: Sequence[str], rows: list[Row]) -> bool:
    """PostgreSQL: ``COPY`` rows expected to be new straight into ``table`` (the fast path of a backfill).
    False, with nothing written, when one of them exists after all (a concurrent writer, a child that moved
    to another parent): the caller then upserts them."""
    savepoint = conn.begin_nested()
    try:
        _copy(conn, table, table.name, columns, rows)
    except psycopg.errors.UniqueViolation:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _upsert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: list[Row],
    conflict: Sequence[str],
    where: str | None,
) -> set[int]:
    """Insert or update ``rows``; the ``shopify_id`` of each row written (inserted, or updated because
    ``where`` held)."""
    if not rows:
        return set()
    updates = [c for c in columns if c not in conflict]
    key = table.c[columns[1]]
    if conn.dialect.name == "postgresql":
        staging = _staging(conn, table)
        _copy(conn, table, staging, columns, rows)
        listed = ", ".join(columns)
        sql = (
            f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {staging} "
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in updates)
            + (f" WHERE {where}" if where else "")
            + f" RETURNING {key.name}"
        )
        return set(conn.execute(text(sql)).scalars())
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(conflict),
        set_={c: stmt.excluded[c] for c in updates},
        where=text(where) if where else None,
    )
    params = [dict(zip(columns, row, strict=True)) for row in rows]
    return set(conn.execute(stmt.returning(key), params).scalars())


def _json_as_text(table: Table, columns: Sequence[str], rows: list[Row]) -> list[Row]:
    """Rows with their JSON columns as JSON text, as a text ``COPY`` takes them."""
    json = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    if not json:
        return rows
    out: list[Row] = []
    for row in rows:
        values = list(row)
        for i in json:
            if values[i] is not None:
                values[i] = orjson.dumps(values[i]).decode()
        out.append(tuple(values))
    return out


class ObjectWriter(Generic[R]):
    """Writes one kind of record (customers, orders, products) with its child rows."""

    def __init__(
        self,
        spec: ObjectTable,
        digest: Callable[[bytes], bytes],
        build: Callable[[R, bytes, datetime], RowSet],
    ) -> None:
        self.spec = spec
        self._digest = digest
        self._build = build

    def write_chunk(self, conn: Connection, tenant: str, chunk: list[R], mode: WriteMode) -> WriteCounts:
        counts = WriteCounts()
        latest: dict[int, R] = {}
        for record in chunk:
            seen = latest.get(record.id)
            if seen is not None:
                # The same record twice in one chunk (a replayed webhook): the newer one stands for both.
                counts.skipped_older += 1
                if record.updated_at < seen.updated_at:
                    continue
            latest[record.id] = record
        stored = _stored(conn, self.spec, tenant, list(latest))
        to_write: dict[int, tuple[R, bytes, str]] = {}
        for source_id, record in latest.items():
            payload = record.model_dump_json().encode()
            if b"\\u0000" in payload:
                # PostgreSQL cannot store U+0000 in text: it becomes U+FFFD, the mark of a character that
                # cannot be shown, in the record itself, so that its hash and its rows agree.
                payload = payload.replace(b"\\u0000", b"\\ufffd")
                record = type(record).model_validate_json(payload)
            content_hash = self._digest(payload)
            action = _classify(record, content_hash, stored.get(source_id), mode)
            if action in ("insert", "update"):
                to_write[source_id] = (record, content_hash, action)
            else:
                setattr(counts, action, getattr(counts, action) + 1)
        if mode == "dry_run":
            for source_id, (_record, _hash, action) in to_write.items():
                _count(counts, action, source_id)
            return counts
        now = datetime.now(UTC)
        built = {source_id: self._build(record, h, now) for source_id, (record, h, _a) in to_write.items()}
        fresh = [source_id for source_id, (_r, _h, action) in to_write.items() if action == "insert"]
        upserts = [built[i].parent for i, (_r, _h, action) in to_write.items() if action == "update"]
        written: set[int] = set()
        table, columns = self.spec.table, self.spec.columns
        if (
            fresh
            and conn.dialect.name == "postgresql"
            and _copy_new(conn, table, columns, [built[i].parent for i in fresh])
        ):
            written.update(fresh)
        else:
            upserts.extend(built[i].parent for i in fresh)
        guard = _guard(table.name, self.spec.redactable)
        written |= _upsert_rows(conn, table, columns, upserts, ("tenant", "shopify_id"), guard)
        for source_id, (_record, _hash, action) in to_write.items():
            if source_id in written:
                _count(counts, action, source_id)
            else:
                counts.skipped_older += 1
        replaced = sorted(i for i in written if to_write[i][2] == "update")
        counts.child_rows = self._replace_children(conn, tenant, sorted(written), replaced, built)
        return counts

    def _replace_children(
        self, conn: Connection, tenant: str, written: list[int], replaced: list[int], built: dict[int, RowSet]
    ) -> int:
        """Children of the written parents: those of updated parents deleted, then all inserted (a new
        parent has none to delete)."""
        total = 0
        for child in self.spec.children:
            t = child.table
            if replaced:
                parent = t.c[child.parent_column]
                conn.execute(delete(t).where(t.c.tenant == tenant, ids_in(conn, parent, replaced)))
            rows = [row for i in written for row in built[i].children.get(t.name, ())]
            if child.conflict == ("tenant", "shopify_id") and len({row[1] for row in rows}) < len(rows):
                # A child listed under two parents of one chunk is kept once (the last parent's), so that
                # one statement never touches a row twice.
                rows = list({row[1]: row for row in rows}.values())
            if rows and not (conn.dialect.name == "postgresql" and _copy_new(conn, t, child.columns, rows)):
                _upsert_rows(conn, t, child.columns, rows, child.conflict, None)
            total += len(rows)
        return total


def _count(counts: WriteCounts, action: str, source_id: int) -> None:
    if action == "insert":
        counts.inserted += 1
    else:
        counts.updated += 1
    counts.note(action, source_id)


def _classify(record: Versioned, content_hash: bytes, stored: _Stored | None, mode: WriteMode) -> str:
    if stored is None:
        return "insert"
    if mode == "skip_existing":
        return "skipped_existing"
    if stored.redacted_at is not None:
        return "skipped_redacted"
    if record.updated_at < stored.updated_at:
        return "skipped_older"
    if record.updated_at == stored.updated_at:
        if stored.deleted_at is not None:
            return "skipped_older"
        if stored.content_hash == content_hash:
            return "unchanged"
    return "update"


def delete_chunk(
    conn: Connection, spec: ObjectTable, tenant: str, chunk: list[Deletion], mode: WriteMode
) -> WriteCounts:
    """Soft-delete (tombstone) the chunk's records: a deletion older than the stored row is ignored; a
    deletion of a record never stored leaves a tombstone, so that its late create cannot bring it back."""
    counts = WriteCounts()
    latest: dict[int, Deletion] = {}
    for deletion in chunk:
        seen = latest.get(deletion.id)
        if seen is not None:
            counts.unchanged += 1
            if deletion.deleted_at >= seen.deleted_at:
                continue
        latest[deletion.id] = deletion
    stored = _stored(conn, spec, tenant, list(latest))
    tombstones: list[dict[str, object]] = []
    ids: list[int] = []
    now = datetime.now(UTC)
    for source_id, deletion in latest.items():
        state = stored.get(source_id)
        if state is not None and state.deleted_at is not None:
            counts.unchanged += 1
        elif state is not None and deletion.deleted_at < state.updated_at:
            counts.skipped_older += 1
        elif mode == "dry_run":
            counts.deleted += 1
            counts.note("delete", source_id)
        else:
            ids.append(source_id)
            tombstones.append(
                {
                    "tenant": tenant,
                    "shopify_id": source_id,
                    "updated_at": deletion.deleted_at,
                    "deleted_at": deletion.deleted_at,
                    "synced_at": now,
                }
            )
    if tombstones:
        t = spec.table
        stmt = _insert(conn, t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.tenant, t.c.shopify_id],
            set_={c: stmt.excluded[c] for c in ("updated_at", "deleted_at", "synced_at")},
            where=text(f"excluded.updated_at >= {t.name}.updated_at AND {t.name}.deleted_at IS NULL"),
        )
        written = set(conn.execute(stmt.returning(t.c.shopify_id), tombstones).scalars())
        for source_id in ids:
            if source_id in written:
                counts.deleted += 1
                counts.note("delete", source_id)
            else:
                counts.skipped_older += 1
    return counts
