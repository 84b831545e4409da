"""Tenant-scoped access to the connector database.

A :class:`TenantStore` is opened for one tenant and one pipeline; every query it makes is filtered by that
tenant's id, so code running for tenant A has no way to name tenant B's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector_pipelines import errors
from connector_pipelines.store.db import Database
from connector_pipelines.store.keyed import select_by_keys
from connector_pipelines.store.models import (
    Mapping,
    Record,
    RecordError,
    SyncRun,
    SyncState,
    Tenant,
    utcnow,
)

_CHUNK = 500  # rows per statement: well under SQLite's and psycopg's parameter limits
_RECORDS_SCOPE = "tenant_id = :tenant AND pipeline = :pipeline AND kind = :kind"


def _chunks(rows: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE as one executemany, for SQLite and PostgreSQL."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = [c for c in rows[0] if c not in keys]
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns})
    # One compiled statement, executed per row by the driver (sqlite3 executemany, psycopg pipeline).
    session.execute(stmt, list(rows))


@dataclass(frozen=True)
class MappingRow:
    source_key: str
    target_id: str
    content_hash: str
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredRecord:
    key: str
    content_hash: str
    payload: Any


@dataclass(frozen=True)
class ProductCounts:
    products: int
    variants: int
    single_products: int  # one variant without options: one Shopware product, no parent


@dataclass(frozen=True)
class OpenError:
    stage: str
    record_key: str
    reason: str
    attempts: int
    payload: Any
    last_seen: datetime
    dead: bool = False


class TenantNotRegisteredError(errors.PermanentError, LookupError):
    """The connector database has no tenant of that slug (removed, or never added)."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"unknown tenant '{slug}'",
            tenant=slug,
            remedy=f"see the registered tenants with `{errors.CLI} tenants list`",
        )


DEAD_LETTER_VAR = "CONNECTOR_DEAD_LETTER_ATTEMPTS"
DEAD_LETTER_ATTEMPTS = 5


def dead_letter_attempts() -> int:
    """After how many failed attempts a record error is a dead letter: ``CONNECTOR_DEAD_LETTER_ATTEMPTS``
    (the service reads the same variable), 5 when unset."""
    raw = os.environ.get(DEAD_LETTER_VAR, "").strip()
    if not raw:
        return DEAD_LETTER_ATTEMPTS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{DEAD_LETTER_VAR} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


class TenantStore:
    """Everything one pipeline keeps for one tenant."""

    def __init__(
        self, db: Database, tenant_slug: str, pipeline: str, *, dead_after: int | None = None
    ) -> None:
        self.db = db
        self.tenant = tenant_slug
        self.pipeline = pipeline
        self.dead_after = dead_after if dead_after is not None else dead_letter_attempts()
        if self.dead_after < 1:
            raise ValueError("dead_after must be at least 1")
        with db.session() as s:
            tenant_id = s.scalars(select(Tenant.id).where(Tenant.slug == tenant_slug)).one_or_none()
        if tenant_id is None:
            raise TenantNotRegisteredError(tenant_slug)
        self.tenant_id: int = tenant_id

    def _scope(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "pipeline": self.pipeline}

    def _by_keys(
        self,
        table: FromClause,
        columns: Sequence[ColumnElement[Any]],
        kind: str,
        key: ColumnElement[Any],
        keys: Sequence[str],
    ) -> Select[Any]:
        return select_by_keys(self.db.dialect, table, columns, {**self._scope(), "kind": kind}, key, keys)

    # --- cursors ------------------------------------------------------------------------------------------

    def get_cursor(self, kind: str) -> str | None:
        with self.db.session() as s:
            row = s.get(SyncState, (self.tenant_id, self.pipeline, kind))
            return row.cursor if row else None

    def set_cursor(self, kind: str, cursor: str) -> None:
        with self.db.session() as s:
            upsert(
                s,
                SyncState.__table__,  # type: ignore[arg-type]
                [{**self._scope(), "kind": kind, "cursor": cursor, "updated_at": utcnow()}],
                ("tenant_id", "pipeline", "kind"),
            )

    # --- runs ---------------------------------------------------------------------------------------------

    def start_run(self, mode: str, step: str, dagster_run_id: str | None) -> int:
        with self.db.session() as s:
            run = SyncRun(
                **self._scope(), mode=mode, step=step, dagster_run_id=dagster_run_id, status="running"
            )
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, counts: dict[str, Any], error: str | None = None) -> None:
        with self.db.session() as s:
            s.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id, SyncRun.tenant_id == self.tenant_id)
                .values(status=status, counts=counts, error=error, finished_at=utcnow())
            )

    def last_run(self, step: str, status: str = "success") -> SyncRun | None:
        with self.db.session() as s:
            return s.scalars(
                select(SyncRun)
                .where(
                    SyncRun.tenant_id == self.tenant_id,
                    SyncRun.pipeline == self.pipeline,
                    SyncRun.step == step,
                    SyncRun.status == status,
                )
                .order_by(SyncRun.id.desc())
                .limit(1)
            ).one_or_none()

    # --- record errors ------------------------------------------------------------------------------------

    def record_errors(self, stage: str, errors: Iterable[tuple[str, str, Any]], run_id: str | None) -> int:
        """Record (key, reason, payload) failures; a key failing again counts another attempt (from 1 again
        after it went through). At ``dead_after`` attempts the error becomes a dead letter: runs leave the
        record alone until an operator re-arms it (:meth:`rearm_errors`)."""
        rows = [
            {**self._scope(), "stage": stage, "record_key": key, "reason": reason, "payload": payload}
            for key, reason, payload in errors
        ]
        if not rows:
            return 0
        now = utcnow()
        attempts = case((RecordError.resolved.is_(True), 1), else_=RecordError.attempts + 1)
        dead = or_(
            and_(RecordError.dead.is_(True), RecordError.resolved.is_(False)), attempts >= self.dead_after
        )
        with self.db.session() as s:
            for chunk in _chunks(rows):
                dialect = s.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                stmt = insert(RecordError).values(
                    [
                        {
                            **r,
                            "run_id": run_id,
                            "first_seen": now,
                            "last_seen": now,
                            "attempts": 1,
                            "dead": self.dead_after <= 1,
                        }
                        for r in chunk
                    ]
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "pipeline", "stage", "record_key"],
                    set_={
                        "reason": stmt.excluded.reason,
                        "payload": stmt.excluded.payload,
                        "run_id": stmt.excluded.run_id,
                        "last_seen": now,
                        "resolved": False,
                        "resolved_at": None,
                        "attempts": attempts,
                        "dead": dead,
                    },
                )
                s.execute(stmt)
        return len(rows)

    def resolve_errors(self, stage: str, keys: Iterable[str]) -> int:
        """Close the open errors (dead letters too) of records that have now gone through."""
        keys = list(keys)
        resolved = 0
        with self.db.session() as s:
            for chunk in _chunks(keys):
                result = s.execute(
                    update(RecordError)
                    .where(
                        RecordError.tenant_id == self.tenant_id,
                        RecordError.pipeline == self.pipeline,
                        RecordError.stage == stage,
                        RecordError.resolved.is_(False),
                        RecordError.record_key.in_(chunk),
                    )
                    .values(resolved=True, resolved_at=utcnow(), dead=False)
                )
                resolved += result.rowcount or 0  # type: ignore[attr-defined]
        return resolved

    def _open(self, stage: str | None, run_id: str | None, dead: bool | None) -> list[ColumnElement[bool]]:
        where = [
            RecordError.tenant_id == self.tenant_id,
            RecordError.pipeline == self.pipeline,
            RecordError.resolved.is_(False),
        ]
        if stage is not None:
            where.append(RecordError.stage == stage)
        if run_id is not None:
            where.append(RecordError.run_id == run_id)
        if dead is not None:
            where.append(RecordError.dead.is_(dead))
        return where

    def open_errors(
        self,
        stage: str | None = None,
        limit: int | None = None,
        *,
        run_id: str | None = None,
        dead: bool | None = None,
    ) -> list[OpenError]:
        """The records waiting with an error, newest first; ``run_id``: only those that run recorded;
        ``dead``: only dead letters (True) or only those runs still retry (False)."""
        with self.db.session() as s:
            query = (
                select(RecordError)
                .where(*self._open(stage, run_id, dead))
                .order_by(RecordError.last_seen.desc(), RecordError.id)
            )
            if limit is not None:
                query = query.limit(limit)
            return [
                OpenError(e.stage, e.record_key, e.reason, e.attempts, e.payload, e.last_seen, e.dead)
                for e in s.scalars(query)
            ]

    def count_open_errors(
        self, stage: str | None = None, *, run_id: str | None = None, dead: bool | None = None
    ) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).where(*self._open(stage, run_id, dead))) or 0)

    def dead_letters(self, stage: str | None = None) -> set[tuple[str, str]]:
        """(stage, record key) of the dead letters: records runs must not send again on their own."""
        with self.db.session() as s:
            rows = s.execute(
                select(RecordError.stage, RecordError.record_key).where(*self._open(stage, None, True))
            )
            return {(row_stage, key) for row_stage, key in rows}

    def dead_letter_keys(self, stage: str) -> set[str]:
        """The keys of one stage's dead letters (what a step excludes from its automatic retries)."""
        return {key for _, key in self.dead_letters(stage)}

    def rearm_errors(self, keys: Iterable[str], stage: str | None = None) -> int:
        """Dead letters among these records become ordinary open errors again, their attempts counted
        afresh: runs retry them (``dead_after`` more times). Returns how many were re-armed."""
        keys = list(dict.fromkeys(keys))
        rearmed = 0
        with self.db.session() as s:
            for chunk in _chunks(keys):
                result = s.execute(
                    update(RecordError)
                    .where(*self._open(stage, None, True), RecordError.record_key.in_(chunk))
                    .values(dead=False, attempts=0)
                )
                rearmed += result.rowcount or 0  # type: ignore[attr-defined]
        return rearmed

    # --- mappings -----------------------------------------------------------------------------------------

    def mappings(self, kind: str) -> dict[str, MappingRow]:
        with self.db.session() as s:
            rows = s.execute(
                select(Mapping.source_key, Mapping.target_id, Mapping.content_hash, Mapping.extra).where(
                    Mapping.tenant_id == self.tenant_id,
                    Mapping.pipeline == self.pipeline,
                    Mapping.kind == kind,
                )
            )
            return {r[0]: MappingRow(r[0], r[1], r[2], r[3]) for r in rows}

    def mapping_hashes(self, kind: str) -> dict[str, str]:
        """source key -> published hash: what a diff needs, without decoding every mapping's extra."""
        with self.db.session() as s:
            rows = s.execute(
                select(Mapping.source_key, Mapping.content_hash).where(
                    Mapping.tenant_id == self.tenant_id,
                    Mapping.pipeline == self.pipeline,
                    Mapping.kind == kind,
                )
            )
            return {key: digest for key, digest in rows}

    def mappings_for(self, kind: str, source_keys: Iterable[str]) -> dict[str, MappingRow]:
        keys = list(source_keys)
        out: dict[str, MappingRow] = {}
        table = Mapping.__table__
        columns = [table.c.source_key, table.c.target_id, table.c.content_hash, table.c.extra]
        with self.db.session() as s:
            for chunk in _chunks(keys):
                lookup = self._by_keys(table, columns, kind, table.c.source_key, chunk)
                out.update({r[0]: MappingRow(r[0], r[1], r[2], r[3]) for r in s.execute(lookup)})
        return out

    def put_mappings(self, kind: str, rows: Iterable[MappingRow]) -> None:
        now = utcnow()
        values = [
            {
                **self._scope(),
                "kind": kind,
                "source_key": r.source_key,
                "target_id": r.target_id,
                "content_hash": r.content_hash,
                "extra": r.extra,
                "updated_at": now,
            }
            for r in rows
        ]
        with self.db.session() as s:
            upsert(s, Mapping.__table__, values, ("tenant_id", "pipeline", "kind", "source_key"))  # type: ignore[arg-type]

    def delete_mappings(self, kind: str, source_keys: Iterable[str]) -> None:
        keys = list(source_keys)
        with self.db.session() as s:
            for chunk in _chunks(keys):
                s.execute(
                    delete(Mapping).where(
                        Mapping.tenant_id == self.tenant_id,
                        Mapping.pipeline == self.pipeline,
                        Mapping.kind == kind,
                        Mapping.source_key.in_(chunk),
                    )
                )

    def count_mappings(self, kind: str) -> int:
        with self.db.session() as s:
            return int(
                s.scalar(
                    select(func.count()).where(
                        Mapping.tenant_id == self.tenant_id,
                        Mapping.pipeline == self.pipeline,
                        Mapping.kind == kind,
                    )
                )
                or 0
            )

    # --- cached records (config caches, snapshots) --------------------------------------------------------

    def put_records(self, kind: str, records: Iterable[tuple[str, str, Any]]) -> int:
        """Upsert (key, content_hash, payload) rows."""
        now = utcnow()
        values = [
            {**self._scope(), "kind": kind, "key": k, "content_hash": h, "payload": p, "updated_at": now}
            for k, h, p in records
        ]
        with self.db.session() as s:
            upsert(s, Record.__table__, values, ("tenant_id", "pipeline", "kind", "key"))  # type: ignore[arg-type]
        return len(values)

    def record_hashes(self, kind: str) -> dict[str, str]:
        with self.db.session() as s:
            rows = s.execute(
                select(Record.key, Record.content_hash).where(
                    Record.tenant_id == self.tenant_id, Record.pipeline == self.pipeline, Record.kind == kind
                )
            )
            return {key: digest for key, digest in rows}

    def iter_records(
        self, kind: str, keys: Iterable[str] | None = None, batch: int = _CHUNK
    ) -> Iterator[StoredRecord]:
        """Stream records (all, or the given keys) in key order without loading them all at once."""
        base = and_(Record.tenant_id == self.tenant_id, Record.pipeline == self.pipeline, Record.kind == kind)
        if keys is not None:
            wanted = sorted(set(keys))
            table = Record.__table__
            columns = [table.c.key, table.c.content_hash, table.c.payload]
            for chunk in _chunks(wanted, batch):
                lookup = self._by_keys(table, columns, kind, table.c.key, chunk)
                with self.db.session() as s:
                    found = sorted(s.execute(lookup), key=lambda row: row[0])
                # Yield outside the transaction: the consumer writes to the same database meanwhile.
                yield from (StoredRecord(*r) for r in found)
            return
        last: str | None = None
        while True:
            with self.db.session() as s:
                query = select(Record.key, Record.content_hash, Record.payload).where(base)
                if last is not None:
                    query = query.where(Record.key > last)
                rows = list(s.execute(query.order_by(Record.key).limit(batch)))
            if not rows:
                return
            yield from (StoredRecord(*r) for r in rows)
            last = rows[-1][0]

    def records(self, kind: str) -> dict[str, Any]:
        """All payloads of a (small) kind, such as a config cache."""
        return {r.key: r.payload for r in self.iter_records(kind)}

    def delete_records(self, kind: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        with self.db.session() as s:
            for chunk in _chunks(keys):
                s.execute(
                    delete(Record).where(
                        Record.tenant_id == self.tenant_id,
                        Record.pipeline == self.pipeline,
                        Record.kind == kind,
                        Record.key.in_(chunk),
                    )
                )

    def records_updated_at(self, kind: str) -> datetime | None:
        with self.db.session() as s:
            return s.scalar(
                select(func.max(Record.updated_at)).where(
                    Record.tenant_id == self.tenant_id, Record.pipeline == self.pipeline, Record.kind == kind
                )
            )

    # The checks that run after every sync must not decode a 100,000-variation snapshot in Python: these count
    # over it with the database's JSON functions.

    def product_counts(self, kind: str) -> ProductCounts:
        """Products, variants and single-variant products without options in a canonical snapshot."""
        if self.db.dialect == "postgresql":
            variants = "jsonb_array_length(payload->'variants')"
            first_options = "jsonb_array_length(payload->'variants'->0->'options')"
        else:
            variants = "json_array_length(payload, '$.variants')"
            first_options = "json_array_length(payload, '$.variants[0].options')"
        with self.db.session() as s:
            row = s.execute(
                text(
                    f"SELECT count(*), coalesce(sum({variants}), 0), "
                    f"coalesce(sum(CASE WHEN {variants} = 1 AND {first_options} = 0 THEN 1 ELSE 0 END), 0) "
                    f"FROM records WHERE {_RECORDS_SCOPE}"
                ),
                self._records_scope(kind),
            ).one()
        return ProductCounts(int(row[0]), int(row[1]), int(row[2]))

    def incomplete_products(self, kind: str, currency: str) -> list[str]:
        """Keys of products without a category or with a variant that has no price in ``currency``."""
        if self.db.dialect == "postgresql":
            categories = "jsonb_array_length(payload->'category_keys')"
            unpriced = (
                "EXISTS (SELECT 1 FROM jsonb_array_elements(payload->'variants') v WHERE NOT EXISTS "
                "(SELECT 1 FROM jsonb_array_elements(v->'prices') p WHERE p->>'currency' = :currency))"
            )
        else:
            categories = "json_array_length(payload, '$.category_keys')"
            unpriced = (
                "EXISTS (SELECT 1 FROM json_each(payload, '$.variants') v WHERE NOT EXISTS "
                "(SELECT 1 FROM json_each(v.value, '$.prices') p "
                "WHERE json_extract(p.value, '$.currency') = :currency))"
            )
        with self.db.session() as s:
            keys = s.scalars(
                text(
                    f"SELECT key FROM records WHERE {_RECORDS_SCOPE} AND ({categories} = 0 OR {unpriced}) "
                    "ORDER BY key"
                ),
                {**self._records_scope(kind), "currency": currency},
            ).all()
        return list(keys)

    def _records_scope(self, kind: str) -> dict[str, str | int]:
        return {"tenant": self.tenant_id, "pipeline": self.pipeline, "kind": kind}

    # --- run failures (the run-failure sensor) -------------------------------------------------------------

    RUN_FAILED = "run_failed"

    def record_run_failure(self, mode: str, dagster_run_id: str, error: str) -> int:
        """A Dagster run that failed as a whole, as a ``sync_runs`` row with status ``run_failed``.

        Idempotent per run: a sensor tick evaluated again after a daemon restart records nothing twice."""
        with self.db.session() as s:
            existing = s.scalars(
                select(SyncRun.id).where(
                    SyncRun.tenant_id == self.tenant_id,
                    SyncRun.dagster_run_id == dagster_run_id,
                    SyncRun.status == self.RUN_FAILED,
                )
            ).first()
            if existing is not None:
                return existing
            now = utcnow()
            run = SyncRun(
                **self._scope(),
                mode=mode,
                step="run",
                dagster_run_id=dagster_run_id,
                status=self.RUN_FAILED,
                error=error,
                started_at=now,
                finished_at=now,
            )
            s.add(run)
            s.flush()
            return run.id
