"""Tables of the ingestion database: what the shops hold, per tenant, for analytics.

Every row carries the tenant's slug (the destination may be another database than the connector database,
so there is no foreign key to ``tenants``) and the source's numeric id; the pair is the primary key. Child
rows (addresses, variants, order lines) are written with their parent in one transaction, and have no
foreign key to it either: checking every child row against its parent would cost a third of a backfill.

Rows are soft-deleted (``deleted_at``): a deleted row stays as a tombstone whose ``updated_at`` is the
deletion time, so a late update cannot bring it back. A tombstone for a record never seen holds only ids and
times, which is why the descriptive columns are nullable.

Personal data lives only in the ``pii`` columns, AES-256-GCM ciphertexts under the tenant's data key
(``shopify_data_keys``, wrapped by the master key), and in ``email_hash``, a keyed hash for lookups.
``content_hash`` is a keyed hash of the whole record: an equal record read again (the overlap of an
incremental read) is recognised without decrypting and not written.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from connector_pipelines.store.models import JsonDoc, UtcDateTime, utcnow

# Own name: the ingestion tables may share a database with the connector's tables and Dagster's storage.
VERSION_TABLE = "shopify_ingestion_alembic_version"

Money = Numeric(18, 4)


class IngestionBase(DeclarativeBase):
    pass


def table_of(model: type[IngestionBase]) -> Table:
    """The model's table, typed as the Table it is (the ORM declares it as any FromClause)."""
    return cast(Table, model.__table__)


def _tenant() -> Mapped[str]:
    return mapped_column(String(63), primary_key=True)


def _source_id() -> Mapped[int]:
    return mapped_column(BigInteger, primary_key=True, autoincrement=False)


class Customer(IngestionBase):
    __tablename__ = "shopify_customers"

    tenant: Mapped[str] = _tenant()
    shopify_id: Mapped[int] = _source_id()
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    redacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    state: Mapped[str | None] = mapped_column(Text)
    verified_email: Mapped[bool | None] = mapped_column(Boolean)
    tax_exempt: Mapped[bool | None] = mapped_column(Boolean)
    tags: Mapped[list[str] | None] = mapped_column(JsonDoc)
    email_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    pii: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_shopify_customers_email_hash", "tenant", "email_hash"),)


class CustomerAddress(IngestionBase):
    __tablename__ = "shopify_customer_addresses"

    tenant: Mapped[str] = _tenant()
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    address_id: Mapped[int | None] = mapped_column(BigInteger)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False)
    country_code: Mapped[str | None] = mapped_column(String(2))
    province_code: Mapped[str | None] = mapped_column(String(10))
    pii: Mapped[bytes | None] = mapped_column(LargeBinary)


class Product(IngestionBase):
    __tablename__ = "shopify_products"

    tenant: Mapped[str] = _tenant()
    shopify_id: Mapped[int] = _source_id()
    title: Mapped[str | None] = mapped_column(Text)
    handle: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    vendor: Mapped[str | None] = mapped_column(Text)
    product_type: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class Variant(IngestionBase):
    __tablename__ = "shopify_variants"

    tenant: Mapped[str] = _tenant()
    shopify_id: Mapped[int] = _source_id()
    product_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    sku: Mapped[str | None] = mapped_column(Text)
    barcode: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    compare_at_price: Mapped[Decimal | None] = mapped_column(Money)
    inventory_quantity: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    options: Mapped[list[dict[str, str]] | None] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_shopify_variants_product", "tenant", "product_id"),
        Index("ix_shopify_variants_sku", "tenant", "sku"),
    )


class Order(IngestionBase):
    __tablename__ = "shopify_orders"

    tenant: Mapped[str] = _tenant()
    shopify_id: Mapped[int] = _source_id()
    name: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    total_price: Mapped[Decimal | None] = mapped_column(Money)
    subtotal_price: Mapped[Decimal | None] = mapped_column(Money)
    total_tax: Mapped[Decimal | None] = mapped_column(Money)
    total_discounts: Mapped[Decimal | None] = mapped_column(Money)
    financial_status: Mapped[str | None] = mapped_column(Text)
    fulfillment_status: Mapped[str | None] = mapped_column(Text)
    test: Mapped[bool | None] = mapped_column(Boolean)
    tags: Mapped[list[str] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_shopify_orders_customer", "tenant", "customer_id"),
        Index("ix_shopify_orders_processed_at", "tenant", "processed_at"),
    )


class OrderLine(IngestionBase):
    __tablename__ = "shopify_order_lines"

    tenant: Mapped[str] = _tenant()
    shopify_id: Mapped[int] = _source_id()
    order_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    variant_title: Mapped[str | None] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(Text)
    vendor: Mapped[str | None] = mapped_column(Text)
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    variant_id: Mapped[int | None] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    total_discount: Mapped[Decimal] = mapped_column(Money, nullable=False)

    __table_args__ = (Index("ix_shopify_order_lines_order", "tenant", "order_id"),)


class SyncCursor(IngestionBase):
    """Where the last complete read of one object stopped (a high-water mark, or the source's own cursor)."""

    __tablename__ = "shopify_sync_cursors"

    tenant: Mapped[str] = _tenant()
    object: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class DataKey(IngestionBase):
    """A tenant's data key, wrapped by the master key. Destroying it (``wrapped`` emptied, ``destroyed_at``
    set) makes every ciphertext of the tenant unreadable; the row stays so that the error can say so."""

    __tablename__ = "shopify_data_keys"

    tenant: Mapped[str] = _tenant()
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    master_key_id: Mapped[str | None] = mapped_column(String(16))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Redaction(IngestionBase):
    """What was destroyed, when and on whose request; never the personal data itself."""

    __tablename__ = "shopify_redactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(63), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    request_id: Mapped[str | None] = mapped_column(Text)
    data_key_id: Mapped[str | None] = mapped_column(String(16))
    rows: Mapped[dict[str, int]] = mapped_column(JsonDoc, nullable=False)
    redacted_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_shopify_redactions_tenant", "tenant", "customer_id"),)
