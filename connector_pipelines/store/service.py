"""The connector service's side of the connector database: the webhook inbox, webhook secrets, the audit log,
mapping versions, the API's signing keys and the operations report behind ``/metrics``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from connector_pipelines import errors
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import (
    AuditEntry,
    MappingVersion,
    RecordError,
    SigningKey,
    SyncRun,
    Tenant,
    TenantCredential,
    TenantSettings,
    WebhookInbox,
    WebhookSecret,
    utcnow,
)
from connector_pipelines.store.repositories import upsert

DeliveryKey = tuple[str, int, str]  # source, tenant id, delivery id


@dataclass(frozen=True)
class InboxDelivery:
    """A verified webhook on its way into the inbox."""

    tenant_id: int
    source: str
    topic: str
    delivery_id: str
    event_id: str | None
    triggered_at: datetime | None
    payload: Any
    received_at: datetime

    @property
    def key(self) -> DeliveryKey:
        return (self.source, self.tenant_id, self.delivery_id)


@dataclass(frozen=True)
class InboxRow:
    """A waiting delivery as a consuming step reads it."""

    id: int
    topic: str
    delivery_id: str
    event_id: str | None
    triggered_at: datetime | None
    payload: Any
    received_at: datetime


class WebhookInboxRepository:
    """The durable inbox of verified webhooks (every tenant: the service writes for whoever sent)."""

    WAITING = "waiting"
    PROCESSED = "processed"

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def insert(connection: Connection, deliveries: Sequence[InboxDelivery]) -> dict[DeliveryKey, int]:
        """Store the deliveries with one statement on the caller's connection (the service's inbox writer
        keeps its own); returns the new row id of each one stored. A delivery already in the inbox (a retry,
        a replay) is left out of the answer and not stored again."""
        if not deliveries:
            return {}
        rows = [
            {
                "tenant_id": d.tenant_id,
                "source": d.source,
                "topic": d.topic,
                "delivery_id": d.delivery_id,
                "event_id": d.event_id,
                "triggered_at": d.triggered_at,
                "payload": d.payload,
                "received_at": d.received_at,
                "status": WebhookInboxRepository.WAITING,
            }
            for d in deliveries
        ]
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(WebhookInbox)
            .on_conflict_do_nothing(index_elements=["source", "tenant_id", "delivery_id"])
            .returning(WebhookInbox.id, WebhookInbox.source, WebhookInbox.tenant_id, WebhookInbox.delivery_id)
        )
        # One INSERT ... VALUES (...), (...) RETURNING per chunk (SQLAlchemy's insertmanyvalues).
        found = connection.execute(stmt, rows).all()
        return {(source, tenant_id, delivery_id): row_id for row_id, source, tenant_id, delivery_id in found}

    def waiting(self) -> dict[tuple[str, str], int]:
        """(source, tenant slug) -> deliveries waiting to be processed."""
        with self.db.session() as s:
            rows = s.execute(
                select(WebhookInbox.source, Tenant.slug, func.count())
                .join(Tenant, Tenant.id == WebhookInbox.tenant_id)
                .where(WebhookInbox.status == self.WAITING)
                .group_by(WebhookInbox.source, Tenant.slug)
            ).all()
        return {(source, slug): int(count) for source, slug, count in rows}

    def count_waiting(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).where(WebhookInbox.status == self.WAITING)) or 0)

    def waiting_for(self, source: str, topics: Collection[str]) -> dict[str, tuple[int, int]]:
        """Tenant slug -> (deliveries of ``topics`` waiting, the newest one's id): what an inbox sensor asks
        at each tick, in one grouped query."""
        with self.db.session() as s:
            rows = s.execute(
                select(Tenant.slug, func.count(), func.max(WebhookInbox.id))
                .join(Tenant, Tenant.id == WebhookInbox.tenant_id)
                .where(
                    WebhookInbox.status == self.WAITING,
                    WebhookInbox.source == source,
                    WebhookInbox.topic.in_(list(topics)),
                )
                .group_by(Tenant.slug)
            ).all()
        return {slug: (int(count), int(newest)) for slug, count, newest in rows}

    def take(
        self, tenant: str, source: str, topics: Collection[str], *, after_id: int = 0, limit: int = 1000
    ) -> list[InboxRow]:
        """The tenant's waiting deliveries of ``topics`` after ``after_id``, oldest first (page with the
        last id). Reading does not settle them: a run killed before :meth:`settle` reads them again."""
        with self.db.session() as s:
            rows = s.execute(
                select(
                    WebhookInbox.id,
                    WebhookInbox.topic,
                    WebhookInbox.delivery_id,
                    WebhookInbox.event_id,
                    WebhookInbox.triggered_at,
                    WebhookInbox.payload,
                    WebhookInbox.received_at,
                )
                .join(Tenant, Tenant.id == WebhookInbox.tenant_id)
                .where(
                    Tenant.slug == tenant,
                    WebhookInbox.status == self.WAITING,
                    WebhookInbox.source == source,
                    WebhookInbox.topic.in_(list(topics)),
                    WebhookInbox.id > after_id,
                )
                .order_by(WebhookInbox.id)
                .limit(limit)
            ).all()
        return [InboxRow(*row) for row in rows]

    def settle(self, ids: Collection[int]) -> int:
        """Mark deliveries processed (applied, or recorded as record errors by the step that read them)."""
        if not ids:
            return 0
        with self.db.session() as s:
            result = s.execute(
                update(WebhookInbox)
                .where(WebhookInbox.id.in_(list(ids)), WebhookInbox.status == self.WAITING)
                .values(status=self.PROCESSED, processed_at=utcnow())
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def delivery_ids(self, source: str) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(WebhookInbox.delivery_id).where(WebhookInbox.source == source)))


@dataclass(frozen=True)
class SealedSecret:
    """A tenant's sealed secret as stored: decrypting it is the caller's (tenants/crypto.py)."""

    tenant_id: int
    slug: str
    key_id: str
    ciphertext: bytes


@dataclass(frozen=True)
class ShopifyTenantRow:
    """A tenant with Shopify settings, and its sealed Shopify credentials when stored."""

    tenant_id: int
    slug: str
    settings: dict[str, Any]
    credentials: SealedSecret | None


class WebhookSecretRepository:
    """Sealed webhook secrets per tenant and source, and what identifies a Shopify webhook's tenant."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, tenant_id: int, source: str, key_id: str, ciphertext: bytes) -> None:
        with self.db.session() as s:
            upsert(
                s,
                WebhookSecret.__table__,  # type: ignore[arg-type]
                [
                    {
                        "tenant_id": tenant_id,
                        "source": source,
                        "key_id": key_id,
                        "ciphertext": ciphertext,
                        "updated_at": utcnow(),
                    }
                ],
                ("tenant_id", "source"),
            )

    def sources_of(self, tenant_id: int) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(WebhookSecret.source).where(WebhookSecret.tenant_id == tenant_id)))

    def sealed(self, source: str) -> list[SealedSecret]:
        with self.db.session() as s:
            rows = s.execute(
                select(WebhookSecret.tenant_id, Tenant.slug, WebhookSecret.key_id, WebhookSecret.ciphertext)
                .join(Tenant, Tenant.id == WebhookSecret.tenant_id)
                .where(WebhookSecret.source == source)
            ).all()
        return [SealedSecret(*row) for row in rows]

    def shopify_tenants(self, system: str = "shopify") -> list[ShopifyTenantRow]:
        with self.db.session() as s:
            rows = s.execute(
                select(
                    Tenant.id,
                    Tenant.slug,
                    TenantSettings.settings,
                    TenantCredential.key_id,
                    TenantCredential.ciphertext,
                )
                .join(TenantSettings, TenantSettings.tenant_id == Tenant.id)
                .outerjoin(
                    TenantCredential,
                    and_(TenantCredential.tenant_id == Tenant.id, TenantCredential.system == system),
                )
                .where(TenantSettings.system == system)
            ).all()
        return [
            ShopifyTenantRow(
                tenant_id,
                slug,
                settings,
                SealedSecret(tenant_id, slug, key_id, blob) if key_id is not None else None,
            )
            for tenant_id, slug, settings, key_id, blob in rows
        ]


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    role: str | None
    method: str
    path: str
    tenant: str | None
    status_code: int
    request_id: str


class AuditLogRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, record: AuditRecord) -> None:
        with self.db.session() as s:
            s.add(
                AuditEntry(
                    at=record.at,
                    actor=record.actor,
                    role=record.role,
                    method=record.method,
                    path=record.path,
                    tenant=record.tenant,
                    status_code=record.status_code,
                    request_id=record.request_id,
                )
            )

    def entries(
        self, *, tenants: Sequence[str] | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditRecord], int]:
        """Newest first; ``tenants``: only calls on these tenants (None: every call)."""
        where = [AuditEntry.tenant.in_(tenants)] if tenants is not None else []
        with self.db.session() as s:
            total = int(s.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0)
            rows = s.scalars(
                select(AuditEntry).where(*where).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
            ).all()
        return [
            AuditRecord(r.at, r.actor, r.role, r.method, r.path, r.tenant, r.status_code, r.request_id)
            for r in rows
        ], total


@dataclass(frozen=True)
class MappingVersionRecord:
    version: int
    content: str
    digest: str
    actor: str
    created_at: datetime


class MappingVersionConflictError(errors.TransientError, RuntimeError):
    """Another writer stored the same version number first."""


class MappingVersionRepository:
    """The version history of one tenant's mapping of one pipeline."""

    def __init__(self, db: Database, tenant_id: int, pipeline: str) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.pipeline = pipeline

    def _scope(self) -> list[Any]:
        return [MappingVersion.tenant_id == self.tenant_id, MappingVersion.pipeline == self.pipeline]

    @staticmethod
    def _record(row: MappingVersion) -> MappingVersionRecord:
        return MappingVersionRecord(row.version, row.content, row.digest, row.actor, row.created_at)

    def latest(self) -> MappingVersionRecord | None:
        with self.db.session() as s:
            row = s.scalars(
                select(MappingVersion).where(*self._scope()).order_by(MappingVersion.version.desc()).limit(1)
            ).one_or_none()
            return self._record(row) if row is not None else None

    def get(self, version: int) -> MappingVersionRecord | None:
        with self.db.session() as s:
            row = s.scalars(
                select(MappingVersion).where(*self._scope(), MappingVersion.version == version)
            ).one_or_none()
            return self._record(row) if row is not None else None

    def add(self, content: str, digest: str, actor: str, *, expected: int | None) -> int:
        """Store the next version after ``expected`` (the latest version the writer saw; 0 = none yet).
        Raises MappingVersionConflictError when another version came first."""
        with self.db.session() as s:
            latest = s.scalar(select(func.max(MappingVersion.version)).where(*self._scope())) or 0
            if expected is not None and expected != latest:
                raise MappingVersionConflictError(
                    f"the mapping is at version {latest}, not {expected}: read it again"
                )
            version = int(latest) + 1
            s.add(
                MappingVersion(
                    tenant_id=self.tenant_id,
                    pipeline=self.pipeline,
                    version=version,
                    content=content,
                    digest=digest,
                    actor=actor,
                )
            )
            try:
                s.flush()
            except IntegrityError:
                raise MappingVersionConflictError(
                    f"version {version} of the mapping was stored meanwhile: read it again"
                ) from None
        return version

    def versions(self, *, limit: int = 50, offset: int = 0) -> tuple[list[MappingVersionRecord], int]:
        with self.db.session() as s:
            total = int(s.scalar(select(func.count()).select_from(MappingVersion).where(*self._scope())) or 0)
            rows = s.scalars(
                select(MappingVersion)
                .where(*self._scope())
                .order_by(MappingVersion.version.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [self._record(r) for r in rows], total


@dataclass(frozen=True)
class SealedSigningKey:
    kid: str
    key_id: str
    ciphertext: bytes
    created_at: datetime
    retired_at: datetime | None


class SigningKeyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, kid: str, key_id: str, ciphertext: bytes) -> None:
        with self.db.session() as s:
            s.add(SigningKey(kid=kid, key_id=key_id, ciphertext=ciphertext, created_at=utcnow()))

    def keys(self, *, active_only: bool = True) -> list[SealedSigningKey]:
        """Newest first."""
        query = select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)
        if active_only:
            query = query.where(SigningKey.retired_at.is_(None))
        with self.db.session() as s:
            return [
                SealedSigningKey(k.kid, k.key_id, k.ciphertext, k.created_at, k.retired_at)
                for k in s.scalars(query)
            ]

    def retire(self, kid: str) -> bool:
        with self.db.session() as s:
            result = s.execute(
                update(SigningKey)
                .where(SigningKey.kid == kid, SigningKey.retired_at.is_(None))
                .values(retired_at=utcnow())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunCount:
    tenant: str
    pipeline: str
    status: str
    runs: int


@dataclass(frozen=True)
class StepTotal:
    tenant: str
    pipeline: str
    step: str
    name: str  # a count of the steps' records (created, ...), api_calls_<system>, rate_limit_waits, ...
    value: float


class OperationsReport:
    """What the service's metrics read from the connector database, over every tenant: runs by status,
    the counts the steps recorded, open record errors."""

    FAILED = ("failed", "run_failed")

    def __init__(self, db: Database) -> None:
        self.db = db

    def runs(self) -> list[RunCount]:
        """Runs per tenant, pipeline and status; a run is its steps' rows (one Dagster run id), failed when
        one failed, running while one runs."""
        run_key = func.coalesce(SyncRun.dagster_run_id, "step:" + cast(SyncRun.id, String))
        rank = func.max(case((SyncRun.status.in_(self.FAILED), 2), (SyncRun.status == "running", 1), else_=0))
        per_run = (
            select(SyncRun.tenant_id, SyncRun.pipeline, rank.label("rank"))
            .group_by(SyncRun.tenant_id, SyncRun.pipeline, run_key)
            .subquery()
        )
        status = case((per_run.c.rank == 2, "failed"), (per_run.c.rank == 1, "running"), else_="success")
        with self.db.session() as s:
            rows = s.execute(
                select(Tenant.slug, per_run.c.pipeline, status, func.count())
                .join(per_run, per_run.c.tenant_id == Tenant.id)
                .group_by(Tenant.slug, per_run.c.pipeline, status)
            ).all()
        return [RunCount(slug, pipeline, st, int(n)) for slug, pipeline, st, n in rows]

    def step_totals(self, integers: Sequence[str], decimals: Sequence[str] = ()) -> list[StepTotal]:
        """Sums of the named numbers in the steps' recorded counts, per tenant, pipeline and step."""
        columns = [func.sum(SyncRun.counts[name].as_integer()) for name in integers]
        columns += [func.sum(SyncRun.counts[name].as_float()) for name in decimals]
        names = [*integers, *decimals]
        with self.db.session() as s:
            rows = s.execute(
                select(Tenant.slug, SyncRun.pipeline, SyncRun.step, *columns)
                .join(Tenant, Tenant.id == SyncRun.tenant_id)
                .group_by(Tenant.slug, SyncRun.pipeline, SyncRun.step)
            ).all()
        return [
            StepTotal(row[0], row[1], row[2], name, float(value))
            for row in rows
            for name, value in zip(names, row[3:], strict=True)
            if value is not None
        ]

    def open_errors(self, dead_after: int) -> list[tuple[str, str, int, int]]:
        """(tenant, pipeline, open record errors, of which dead letters: ``dead_after`` attempts or more)."""
        with self.db.session() as s:
            rows = s.execute(
                select(
                    Tenant.slug,
                    RecordError.pipeline,
                    func.count(),
                    func.sum(case((RecordError.attempts >= dead_after, 1), else_=0)),
                )
                .join(Tenant, Tenant.id == RecordError.tenant_id)
                .where(RecordError.resolved.is_(False))
                .group_by(Tenant.slug, RecordError.pipeline)
            ).all()
        return [(slug, pipeline, int(n), int(dead or 0)) for slug, pipeline, n, dead in rows]
