"""Tables of the connector database. Every table but ``tenants`` is keyed by tenant first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Own name, so the connector tables can share a database with Dagster's storage (which uses alembic too).
VERSION_TABLE = "connector_alembic_version"

JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite would hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def tenant_fk() -> ForeignKey:
    return ForeignKey("tenants.id", ondelete="CASCADE")


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    pipelines: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    enabled_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class TenantSettings(Base):
    __tablename__ = "tenant_settings"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    system: Mapped[str] = mapped_column(String(40), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class TenantCredential(Base):
    __tablename__ = "tenant_credentials"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    system: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class SyncState(Base):
    """Cursors (high-water marks) per tenant, pipeline and kind."""

    __tablename__ = "sync_state"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(tenant_fk(), nullable=False)
    pipeline: Mapped[str] = mapped_column(String(40), nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)
    step: Mapped[str] = mapped_column(String(80), nullable=False)
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    counts: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_sync_runs_tenant_pipeline", "tenant_id", "pipeline", "started_at"),)


class RecordError(Base):
    """A record that could not be synced; kept open until a later run gets it through."""

    __tablename__ = "record_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(tenant_fk(), nullable=False)
    pipeline: Mapped[str] = mapped_column(String(40), nullable=False)
    stage: Mapped[str] = mapped_column(String(40), nullable=False)
    record_key: Mapped[str] = mapped_column(String(300), nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    resolved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # A dead letter: failed so often that runs no longer retry it; only an operator's retry re-arms it.
    dead: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("tenant_id", "pipeline", "stage", "record_key", name="uq_record_errors_key"),
        Index("ix_record_errors_open", "tenant_id", "pipeline", "resolved"),
    )


class SystemBreaker(Base):
    """The circuit breaker of one tenant's external system: ``closed`` (in use; ``failures`` counts the
    consecutive connection failures), ``open`` (skipped until ``retry_at``, then one probe may run) or
    ``half_open`` (a probe is running; another may take over after ``retry_at``)."""

    __tablename__ = "circuit_breakers"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    system: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="closed")
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class Mapping(Base):
    """Source key -> target id, with the content hash last confirmed by the target."""

    __tablename__ = "mappings"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(200), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class Record(Base):
    """Cached source data in canonical form: config caches and product snapshots."""

    __tablename__ = "records"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[Any] = mapped_column(JsonDoc, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


# --- the connector service (connector_pipelines/service) ----------------------------------------------------

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for a busy inbox.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookInbox(Base):
    """A verified webhook, committed before the sender got its 2xx; the pipelines' sensors drain it."""

    __tablename__ = "webhook_inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(tenant_fk(), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # shopify | erp
    topic: Mapped[str] = mapped_column(String(120), nullable=False)
    # The sender's delivery id (X-Shopify-Webhook-Id) or, for ERP events, the signature: unique per source and
    # tenant, so a retried or replayed delivery is never stored twice.
    delivery_id: Mapped[str] = mapped_column(String(200), nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(200))
    triggered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    payload: Mapped[Any] = mapped_column(JsonDoc, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="waiting")
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("source", "tenant_id", "delivery_id", name="uq_webhook_inbox_delivery"),
        Index("ix_webhook_inbox_status", "status", "received_at"),
        Index("ix_webhook_inbox_tenant", "tenant_id", "status", "id"),
    )


class WebhookSecret(Base):
    """A tenant's shared secret for signed webhooks of one source, sealed like its credentials."""

    __tablename__ = "webhook_secrets"

    tenant_id: Mapped[int] = mapped_column(tenant_fk(), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class AuditEntry(Base):
    """A mutating call of the management API: who, what, on which tenant, with which answer. The tenant is
    its slug, not a key: the trail outlives a removed tenant."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(500), nullable=False)
    tenant: Mapped[str | None] = mapped_column(String(63))
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (Index("ix_audit_log_tenant", "tenant", "at"), Index("ix_audit_log_at", "at"))


class MappingVersion(Base):
    """One version of a tenant's field mapping, as written through the service: content, author, time."""

    __tablename__ = "mapping_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(tenant_fk(), nullable=False)
    pipeline: Mapped[str] = mapped_column(String(40), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "pipeline", "version", name="uq_mapping_versions_version"),
    )


class SigningKey(Base):
    """A key that signs the service's API tokens (HS256), sealed with the connector's encryption key. The
    newest active key signs; every active key verifies; a retired key verifies nothing any more."""

    __tablename__ = "service_signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
