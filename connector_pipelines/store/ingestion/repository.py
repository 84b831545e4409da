"""The ingestion store: what a tenant's shop holds (customers, orders, products), written in streamed
chunks, guarded by ``updated_at``, with personal data encrypted per tenant.

Public API (``object`` is ``"customers"``, ``"orders"`` or ``"products"``)::

    repo = IngestionRepository(get_ingestion_database(), PiiKeys.from_env())  # tenants.pii.PiiKeys

    # writes: iterables of canonical records (catalog.commerce), streamed in chunks of ``chunk_size``
    # (default 500, one transaction each); mode "write" | "dry_run" (classify only) | "skip_existing"
    repo.upsert_customers(tenant, customers, mode="write") -> WriteCounts
    repo.upsert_orders(tenant, orders, mode="write") -> WriteCounts      # lines replaced with the order
    repo.upsert_products(tenant, products, mode="write") -> WriteCounts  # variants replaced with the product
    repo.delete(tenant, object, deletions) -> WriteCounts   # Deletion(id, deleted_at): soft, tombstones
    WriteCounts: inserted, updated, unchanged, skipped_older, skipped_redacted, skipped_existing, deleted,
                 child_rows, sample [(action, id)], rows_written; ``a + b`` adds up

    # cursors (opaque strings: a high-water mark, a bulk operation id)
    repo.get_cursor(tenant, object) -> str | None;  repo.set_cursor(tenant, object, value)
    repo.cursors(tenant) -> dict[str, str]

    # reads for checks and reconciliation
    repo.count(tenant, table, include_deleted=False) -> int     # table: an object or "order_lines",
                                                                # "variants", "customer_addresses"
    repo.orders_without_lines(tenant) -> OrphanOrders(count, sample)
    repo.last_updated(tenant, object) -> datetime | None          # newest updated_at stored (freshness)
    repo.iter_ids(tenant, object, include_deleted=False) -> Iterator[int]   # a full read's deletions
    repo.live_ids(tenant, object, ids) -> set[int]                # those of ids stored live
    repo.iter_customers(tenant) / iter_orders(tenant) / iter_products(tenant)  # live rows, canonical
    repo.find_customers_by_email(tenant, email) -> list[int]     # keyed hash; nothing decrypted

    # privacy
    repo.customer_data(tenant, customer_id) -> CustomerExport     # customers/data_request
    repo.redact_customer(tenant, customer_id, request_id=..., reason="customers/redact") -> RedactionRecord
    repo.shred_tenant(tenant, request_id=None, reason="shop/redact") -> RedactionRecord  # or "tenant removed"
    repo.redactions(tenant) -> list[RedactionRecord]
    repo.rewrap_data_keys() -> int                                # after a master key rotation

    # analytics: store.ingestion.sales.daily_sales(repo, tenant, timezone="UTC") -> pandas.DataFrame

Write guard: a record replaces the stored row when its ``updated_at`` is newer, or equal and different (a
record read again unchanged is ``unchanged`` and not written); an older one is ``skipped_older``. A deletion
leaves a tombstone whose ``updated_at`` is the deletion time: an update older than that, or as old, cannot
bring the row back; a deletion older than the stored row is ignored.

Customer redaction (``customers/redact``) empties the customer's ciphertexts, email hash and tags, deletes
its addresses and marks the row ``redacted_at``, which no later write undoes. It does this rather than keep a
key per customer: a per-customer key would live in this same database, next to the ciphertexts, so deleting
it would remove nothing a deleted ciphertext does not, and the bulk path would wrap a key per customer.
Orders hold no personal data (only the customer's id) and stay, for the sales figures. Tenant shredding
(``shop/redact``, a removed tenant) destroys the tenant's data key first, so that every ciphertext of the
tenant still around (a replica, a row restored from a backup) is unreadable, then deletes the tenant's rows
and cursors. A backup taken before holds the wrapped key too: shredding reaches it once that backup expires
or the master key it was wrapped with is retired. Both kinds are recorded in ``shopify_redactions`` (what,
when, which request; no personal data).

A repository caches each tenant's opened data key. A write that started under a key that another process
destroyed meanwhile fails instead of continuing under a new key; a new repository creates a new key for a
tenant that is added again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Connection, Row, Table, and_, delete, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from connector_pipelines.catalog.commerce import Customer, Deletion, Order, ProductRecord
from connector_pipelines.store.ingestion import models
from connector_pipelines.store.ingestion.bulk import (
    ChildTable,
    ObjectTable,
    ObjectWriter,
    R,
    WriteCounts,
    WriteMode,
    chunks,
    delete_chunk,
    ids_in,
)
from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.keys import (
    PiiCipher,
    PiiKeyService,
    PiiUnavailableError,
    WrappedKey,
)
from connector_pipelines.store.ingestion.rows import (
    ADDRESS_COLUMNS,
    CUSTOMER_COLUMNS,
    LINE_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
    VARIANT_COLUMNS,
    RowSet,
    customer_rows,
    open_customer,
    order_rows,
    product_rows,
    stored_order,
    stored_product,
)

ObjectName = Literal["customers", "orders", "products"]
TableName = Literal["customers", "orders", "products", "order_lines", "variants", "customer_addresses"]
CHUNK_SIZE = 500  # records per transaction: the backfill stays within 200 MB; 2,000 took 25 MB more
MAX_CHUNK_SIZE = 10_000
_READ_CHUNK = 2000
StoredRow = Row[*tuple[Any, ...]]

_CUSTOMERS = models.table_of(models.Customer)
_ADDRESSES = models.table_of(models.CustomerAddress)
_ORDERS = models.table_of(models.Order)
_LINES = models.table_of(models.OrderLine)
_PRODUCTS = models.table_of(models.Product)
_VARIANTS = models.table_of(models.Variant)
_KEYS = models.table_of(models.DataKey)
_CURSORS = models.table_of(models.SyncCursor)
_REDACTIONS = models.table_of(models.Redaction)

OBJECTS: dict[ObjectName, ObjectTable] = {
    "customers": ObjectTable(
        "customers",
        _CUSTOMERS,
        CUSTOMER_COLUMNS,
        (ChildTable(_ADDRESSES, ADDRESS_COLUMNS, "customer_id", ("tenant", "customer_id", "position")),),
        redactable=True,
    ),
    "orders": ObjectTable(
        "orders",
        _ORDERS,
        ORDER_COLUMNS,
        (ChildTable(_LINES, LINE_COLUMNS, "order_id", ("tenant", "shopify_id")),),
    ),
    "products": ObjectTable(
        "products",
        _PRODUCTS,
        PRODUCT_COLUMNS,
        (ChildTable(_VARIANTS, VARIANT_COLUMNS, "product_id", ("tenant", "shopify_id")),),
    ),
}
# Child table -> (its parent's table, the column naming the parent).
_CHILDREN: dict[TableName, tuple[Table, Table, str]] = {
    "order_lines": (_LINES, _ORDERS, "order_id"),
    "variants": (_VARIANTS, _PRODUCTS, "product_id"),
    "customer_addresses": (_ADDRESSES, _CUSTOMERS, "customer_id"),
}


class OrphanOrders(BaseModel):
    """Live orders without a single line item (an order always has one in Shopify)."""

    count: int
    sample: list[int]


class RedactionRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant: str
    scope: Literal["tenant", "customer"]
    reason: str
    customer_id: int | None
    request_id: str | None
    data_key_id: str | None
    rows: dict[str, int]
    redacted_at: datetime


class CustomerExport(BaseModel):
    """Everything stored about one customer, personal data decrypted: the answer to a data request."""

    tenant: str
    customer: Customer
    customer_deleted_at: datetime | None
    orders: list[Order]
    exported_at: datetime


def _object(name: str) -> ObjectTable:
    if name not in OBJECTS:
        raise ValueError(f"unknown ingestion object {name!r}; expected one of {', '.join(OBJECTS)}")
    return OBJECTS[name]


class IngestionRepository:
    def __init__(self, db: IngestionDatabase, keys: PiiKeyService, *, chunk_size: int = CHUNK_SIZE) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            # SQLite takes at most 32766 parameters in one statement (a chunk's ids are one each).
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")
        self.db = db
        self._keys = keys
        self._chunk_size = chunk_size
        self._ciphers: dict[str, PiiCipher] = {}

    # --- writes ---------------------------------------------------------------------------------------

    def upsert_customers(
        self, tenant: str, records: Iterable[Customer], *, mode: WriteMode = "write"
    ) -> WriteCounts:
        return self._upsert(tenant, "customers", records, mode, _customer_builder)

    def upsert_orders(
        self, tenant: str, records: Iterable[Order], *, mode: WriteMode = "write"
    ) -> WriteCounts:
        return self._upsert(tenant, "orders", records, mode, _order_builder)

    def upsert_products(
        self, tenant: str, records: Iterable[ProductRecord], *, mode: WriteMode = "write"
    ) -> WriteCounts:
        return self._upsert(tenant, "products", records, mode, _product_builder)

    def _upsert(
        self,
        tenant: str,
        name: ObjectName,
        records: Iterable[R],
        mode: WriteMode,
        builder: Callable[[PiiCipher], Callable[[R, bytes, datetime], RowSet]],
    ) -> WriteCounts:
        total = WriteCounts()
        for chunk in chunks(records, self._chunk_size):
            with self.db.session() as session:
                conn = session.connection()
                _without_commit_flush(conn)
                if mode == "dry_run":
                    # Nothing is written, not even a first key: without one, nothing is stored either, and a
                    # throwaway key classifies every record as new.
                    cipher = self._live_cipher(conn, tenant) or self._keys.cipher(
                        tenant, self._keys.new_key(tenant)
                    )
                else:
                    cipher = self._cipher(conn, tenant, create=True)
                writer = ObjectWriter(OBJECTS[name], cipher.digest, builder(cipher))
                total += writer.write_chunk(conn, tenant, chunk, mode)
        return total

    def delete(
        self, tenant: str, name: ObjectName, deletions: Iterable[Deletion], *, mode: WriteMode = "write"
    ) -> WriteCounts:
        spec = _object(name)
        total = WriteCounts()
        for chunk in chunks(deletions, self._chunk_size):
            with self.db.session() as session:
                conn = session.connection()
                _without_commit_flush(conn)
                total += delete_chunk(conn, spec, tenant, chunk, mode)
        return total

    # --- cursors --------------------------------------------------------------------------------------

    def get_cursor(self, tenant: str, name: ObjectName) -> str | None:
        _object(name)
        with self.db.session() as session:
            return session.execute(
                select(_CURSORS.c.value).where(_CURSORS.c.tenant == tenant, _CURSORS.c.object == name)
            ).scalar_one_or_none()

    def set_cursor(self, tenant: str, name: ObjectName, value: str) -> None:
        _object(name)
        with self.db.session() as session:
            conn = session.connection()
            stmt = _insert(conn, _CURSORS).values(
                tenant=tenant, object=name, value=value, updated_at=datetime.now(UTC)
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_CURSORS.c.tenant, _CURSORS.c.object],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                )
            )

    def cursors(self, tenant: str) -> dict[str, str]:
        with self.db.session() as session:
            rows = session.execute(
                select(_CURSORS.c.object, _CURSORS.c.value).where(_CURSORS.c.tenant == tenant)
            )
            return {row.object: row.value for row in rows}

    # --- reads ----------------------------------------------------------------------------------------

    def count(self, tenant: str, table: TableName, *, include_deleted: bool = False) -> int:
        """Rows of one table for the tenant; children count only under live parents unless
        ``include_deleted``. Tombstones of records never stored are not rows of data and never count."""
        if table in _CHILDREN:
            child, parent, column = _CHILDREN[table]
            query = select(func.count()).select_from(child).where(child.c.tenant == tenant)
            if not include_deleted:
                query = query.join(
                    parent, and_(parent.c.tenant == child.c.tenant, parent.c.shopify_id == child.c[column])
                ).where(parent.c.deleted_at.is_(None))
        else:
            t = _object(table).table
            query = select(func.count()).select_from(t).where(t.c.tenant == tenant, _has_data(t))
            if not include_deleted:
                query = query.where(t.c.deleted_at.is_(None))
        with self.db.session() as session:
            return int(session.execute(query).scalar_one())

    def orders_without_lines(self, tenant: str, *, sample: int = 10) -> OrphanOrders:
        no_lines = ~exists().where(
            _LINES.c.tenant == _ORDERS.c.tenant, _LINES.c.order_id == _ORDERS.c.shopify_id
        )
        live = and_(_ORDERS.c.tenant == tenant, _ORDERS.c.deleted_at.is_(None), _has_data(_ORDERS), no_lines)
        with self.db.session() as session:
            count = session.execute(select(func.count()).select_from(_ORDERS).where(live)).scalar_one()
            ids = session.execute(
                select(_ORDERS.c.shopify_id).where(live).order_by(_ORDERS.c.shopify_id).limit(sample)
            ).scalars()
            return OrphanOrders(count=count, sample=list(ids))

    def last_updated(self, tenant: str, name: ObjectName) -> datetime | None:
        t = _object(name).table
        with self.db.session() as session:
            newest: datetime | None = session.execute(
                select(func.max(t.c.updated_at)).where(t.c.tenant == tenant, _has_data(t))
            ).scalar_one()
        return newest

    def iter_ids(self, tenant: str, name: ObjectName, *, include_deleted: bool = False) -> Iterator[int]:
        """Every stored id, ascending, read in chunks (keyset paging: no long-open cursor)."""
        t = _object(name).table
        after = -1
        while True:
            query = select(t.c.shopify_id).where(t.c.tenant == tenant, t.c.shopify_id > after, _has_data(t))
            if not include_deleted:
                query = query.where(t.c.deleted_at.is_(None))
            with self.db.session() as session:
                ids = list(session.execute(query.order_by(t.c.shopify_id).limit(_READ_CHUNK)).scalars())
            yield from ids
            if len(ids) < _READ_CHUNK:
                return
            after = ids[-1]

    def live_ids(self, tenant: str, name: ObjectName, ids: Iterable[int]) -> set[int]:
        """Those of ``ids`` the table holds live."""
        t = _object(name).table
        wanted = sorted(set(ids))
        found: set[int] = set()
        for start in range(0, len(wanted), _READ_CHUNK):
            query = select(t.c.shopify_id).where(
                t.c.tenant == tenant,
                t.c.shopify_id.in_(wanted[start : start + _READ_CHUNK]),
                t.c.deleted_at.is_(None),
                _has_data(t),
            )
            with self.db.session() as session:
                found.update(session.execute(query).scalars())
        return found

    def iter_customers(self, tenant: str) -> Iterator[Customer]:
        """The live customers, ascending by id, personal data opened (empty for a redacted customer)."""
        cipher: PiiCipher | None = None
        for row, addresses in self._iter_live(tenant, "customers"):
            if cipher is None:
                with self.db.session() as session:
                    cipher = self._cipher(session.connection(), tenant, create=False)
            yield _open_customer(cipher, tenant, row, addresses)

    def iter_orders(self, tenant: str) -> Iterator[Order]:
        """The live orders with their lines, ascending by id."""
        for row, lines in self._iter_live(tenant, "orders"):
            yield stored_order(row._mapping, [line._mapping for line in lines])

    def iter_products(self, tenant: str) -> Iterator[ProductRecord]:
        """The live products with their variants, ascending by id."""
        for row, variants in self._iter_live(tenant, "products"):
            yield stored_product(row._mapping, [variant._mapping for variant in variants])

    def _iter_live(self, tenant: str, name: ObjectName) -> Iterator[tuple[StoredRow, list[StoredRow]]]:
        """Live rows with their children, read a chunk per transaction (keyset paging)."""
        spec = OBJECTS[name]
        t = spec.table
        after = -1
        while True:
            with self.db.session() as session:
                conn = session.connection()
                rows = conn.execute(
                    select(t)
                    .where(
                        t.c.tenant == tenant, t.c.shopify_id > after, t.c.deleted_at.is_(None), _has_data(t)
                    )
                    .order_by(t.c.shopify_id)
                    .limit(_READ_CHUNK)
                ).all()
                children = _children_of(conn, spec.children[0], tenant, [r.shopify_id for r in rows])
            for row in rows:
                yield row, children.get(row.shopify_id, [])
            if len(rows) < _READ_CHUNK:
                return
            after = rows[-1].shopify_id

    def find_customers_by_email(self, tenant: str, email: str) -> list[int]:
        """The ids of the tenant's live, unredacted customers with this email (trimmed, any case)."""
        with self.db.session() as session:
            conn = session.connection()
            cipher = self._live_cipher(conn, tenant)
            if cipher is None:
                return []
            c = _CUSTOMERS.c
            return list(
                conn.execute(
                    select(c.shopify_id)
                    .where(
                        c.tenant == tenant, c.email_hash == cipher.email_hash(email), c.deleted_at.is_(None)
                    )
                    .order_by(c.shopify_id)
                ).scalars()
            )

    # --- privacy --------------------------------------------------------------------------------------

    def customer_data(self, tenant: str, customer_id: int) -> CustomerExport:
        """A customer's data request: the customer, its addresses and its orders, decrypted."""
        with self.db.session() as session:
            conn = session.connection()
            row = conn.execute(
                select(_CUSTOMERS).where(
                    _CUSTOMERS.c.tenant == tenant, _CUSTOMERS.c.shopify_id == customer_id
                )
            ).one_or_none()
            if row is None or row.redacted_at is not None or row.created_at is None:
                raise self._gone(conn, tenant, customer_id, row)
            cipher = self._cipher(conn, tenant, create=False)
            addresses = _children_of(conn, OBJECTS["customers"].children[0], tenant, [customer_id])
            customer = _open_customer(cipher, tenant, row, addresses.get(customer_id, []))
            order_rows_ = conn.execute(
                select(_ORDERS)
                .where(_ORDERS.c.tenant == tenant, _ORDERS.c.customer_id == customer_id, _has_data(_ORDERS))
                .order_by(_ORDERS.c.shopify_id)
            ).all()
            lines = _children_of(
                conn, OBJECTS["orders"].children[0], tenant, [o.shopify_id for o in order_rows_]
            )
            orders = [
                stored_order(o._mapping, [line._mapping for line in lines.get(o.shopify_id, [])])
                for o in order_rows_
            ]
        return CustomerExport(
            tenant=tenant,
            customer=customer,
            customer_deleted_at=row.deleted_at,
            orders=orders,
            exported_at=datetime.now(UTC),
        )

    def redact_customer(
        self, tenant: str, customer_id: int, *, request_id: str | None, reason: str = "customers/redact"
    ) -> RedactionRecord:
        """Destroy one customer's personal data and record it; a replay of the same request that finds
        nothing left to destroy records nothing new. A customer never stored gets a redacted tombstone, so
        that a late sync cannot store it."""
        now = datetime.now(UTC)
        with self.db.session() as session:
            conn = session.connection()
            c = _CUSTOMERS.c
            addresses = conn.execute(
                delete(_ADDRESSES).where(
                    _ADDRESSES.c.tenant == tenant, _ADDRESSES.c.customer_id == customer_id
                )
            ).rowcount
            customers = conn.execute(
                update(_CUSTOMERS)
                .where(c.tenant == tenant, c.shopify_id == customer_id, c.redacted_at.is_(None))
                .values(
                    pii=None, email_hash=None, content_hash=None, tags=None, redacted_at=now, synced_at=now
                )
            ).rowcount
            stmt = _insert(conn, _CUSTOMERS).values(
                tenant=tenant, shopify_id=customer_id, updated_at=now, redacted_at=now, synced_at=now
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[c.tenant, c.shopify_id]))
            if customers == 0 and addresses == 0 and request_id is not None:
                earlier = self._redaction_of(conn, tenant, customer_id, request_id)
                if earlier is not None:
                    return earlier
            return self._record(
                conn,
                tenant=tenant,
                scope="customer",
                reason=reason,
                customer_id=customer_id,
                request_id=request_id,
                data_key_id=None,
                rows={"shopify_customers": customers, "shopify_customer_addresses": addresses},
                redacted_at=now,
            )

    def shred_tenant(
        self, tenant: str, *, request_id: str | None = None, reason: str = "shop/redact"
    ) -> RedactionRecord:
        """Destroy the tenant's data key (all its personal data becomes unreadable), then delete its rows and
        cursors, and record it. The key row stays, emptied, so that a ciphertext restored from a backup
        fails with a message saying when the key was destroyed."""
        now = datetime.now(UTC)
        with self.db.session() as session:
            conn = session.connection()
            key_id = conn.execute(
                update(_KEYS)
                .where(_KEYS.c.tenant == tenant, _KEYS.c.wrapped.is_not(None))
                .values(wrapped=None, master_key_id=None, destroyed_at=now)
                .returning(_KEYS.c.key_id)
            ).scalar_one_or_none()
            rows: dict[str, int] = {}
            for table in (_ADDRESSES, _LINES, _VARIANTS, _CUSTOMERS, _ORDERS, _PRODUCTS, _CURSORS):
                rows[str(table.name)] = conn.execute(delete(table).where(table.c.tenant == tenant)).rowcount
            record = self._record(
                conn,
                tenant=tenant,
                scope="tenant",
                reason=reason,
                customer_id=None,
                request_id=request_id,
                data_key_id=key_id,
                rows=rows,
                redacted_at=now,
            )
        self._ciphers.pop(tenant, None)
        return record

    def redactions(self, tenant: str) -> list[RedactionRecord]:
        with self.db.session() as session:
            rows = session.execute(
                select(_REDACTIONS).where(_REDACTIONS.c.tenant == tenant).order_by(_REDACTIONS.c.id)
            ).all()
            return [RedactionRecord.model_validate(row) for row in rows]

    def rewrap_data_keys(self) -> int:
        """Re-wrap every live data key with the current master key (run after rotating
        ``CONNECTOR_ENCRYPTION_KEY`` with the old key in ``CONNECTOR_ENCRYPTION_KEYS_OLD``); no ciphertext
        changes. Returns how many keys were re-wrapped."""
        done = 0
        with self.db.session() as session:
            conn = session.connection()
            rows = conn.execute(
                select(_KEYS).where(
                    _KEYS.c.wrapped.is_not(None), _KEYS.c.master_key_id != self._keys.master_key_id
                )
            ).all()
            now = datetime.now(UTC)
            for row in rows:
                fresh = self._keys.rewrap(row.tenant, WrappedKey(row.key_id, row.master_key_id, row.wrapped))
                conn.execute(
                    update(_KEYS)
                    .where(_KEYS.c.tenant == row.tenant, _KEYS.c.key_id == row.key_id)
                    .values(master_key_id=fresh.master_key_id, wrapped=fresh.blob, rewrapped_at=now)
                )
                done += 1
        return done

    # --- keys -----------------------------------------------------------------------------------------

    def _live_cipher(self, conn: Connection, tenant: str) -> PiiCipher | None:
        """The tenant's opened data key, or None when it has none (never had one, or it was destroyed)."""
        row = self._key_row(conn, tenant)
        if row is None or row.wrapped is None:
            return None
        return self._cipher(conn, tenant, create=False)

    def _cipher(self, conn: Connection, tenant: str, *, create: bool) -> PiiCipher:
        """The tenant's opened data key, read in the caller's transaction (locked against a concurrent
        shredding on PostgreSQL); created when the tenant has none and ``create``."""
        row = self._key_row(conn, tenant)
        cached = self._ciphers.get(tenant)
        if row is None or row.wrapped is None:
            if cached is not None:
                raise PiiUnavailableError(
                    f"the personal-data key {cached.key_id} was destroyed while this process was writing "
                    "(the tenant's data was shredded); nothing more is written under it",
                    tenant=tenant,
                )
            if not create:
                destroyed = f" (destroyed at {row.destroyed_at.isoformat()})" if row is not None else ""
                raise PiiUnavailableError(f"the tenant has no personal-data key{destroyed}", tenant=tenant)
            self._create_key(conn, tenant, replace=row is not None)
            row = self._key_row(conn, tenant)
            assert row is not None
        if cached is not None:
            if cached.key_id == row.key_id:
                return cached
            raise PiiUnavailableError(
                f"the personal-data key changed from {cached.key_id} to {row.key_id} while this process was "
                "writing (the tenant's data was shredded and the tenant added again)",
                tenant=tenant,
            )
        cipher = self._keys.cipher(tenant, WrappedKey(row.key_id, row.master_key_id, row.wrapped))
        self._ciphers[tenant] = cipher
        return cipher

    @staticmethod
    def _key_row(conn: Connection, tenant: str) -> Row[str, str | None, bytes | None, datetime | None] | None:
        query = select(_KEYS.c.key_id, _KEYS.c.master_key_id, _KEYS.c.wrapped, _KEYS.c.destroyed_at).where(
            _KEYS.c.tenant == tenant
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)
        return conn.execute(query).one_or_none()

    def _create_key(self, conn: Connection, tenant: str, *, replace: bool) -> None:
        fresh = self._keys.new_key(tenant)
        values = {
            "key_id": fresh.key_id,
            "master_key_id": fresh.master_key_id,
            "wrapped": fresh.blob,
            "created_at": datetime.now(UTC),
            "rewrapped_at": None,
            "destroyed_at": None,
        }
        if replace:
            # The tenant was shredded and is written to again: a new key, never the destroyed one.
            conn.execute(
                update(_KEYS).where(_KEYS.c.tenant == tenant, _KEYS.c.wrapped.is_(None)).values(**values)
            )
        else:
            # Two writers creating the first key at once: one insert wins, both then read the winner.
            stmt = _insert(conn, _KEYS).values(tenant=tenant, **values)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[_KEYS.c.tenant]))

    # --- privacy helpers ------------------------------------------------------------------------------

    def _gone(
        self, conn: Connection, tenant: str, customer_id: int, row: StoredRow | None
    ) -> PiiUnavailableError:
        what = f"customer {customer_id}"
        if row is not None and row.redacted_at is not None:
            redaction = self._last_redaction(conn, tenant, customer_id)
            return PiiUnavailableError(
                f"{what}'s personal data was destroyed {_when(redaction, row.redacted_at)}", tenant=tenant
            )
        shredded = self._last_redaction(conn, tenant, None)
        if row is None and shredded is not None:
            return PiiUnavailableError(
                f"{what}: the tenant's data was destroyed {_when(shredded, shredded.redacted_at)}",
                tenant=tenant,
            )
        if row is None:
            return PiiUnavailableError(f"{what} is not stored", tenant=tenant)
        return PiiUnavailableError(f"{what} is only a deletion tombstone: no data is stored", tenant=tenant)

    def _last_redaction(
        self, conn: Connection, tenant: str, customer_id: int | None
    ) -> RedactionRecord | None:
        r = _REDACTIONS.c
        scope = r.customer_id == customer_id if customer_id is not None else r.scope == "tenant"
        row = conn.execute(
            select(_REDACTIONS).where(r.tenant == tenant, scope).order_by(r.id.desc()).limit(1)
        ).one_or_none()
        return RedactionRecord.model_validate(row) if row is not None else None

    def _redaction_of(
        self, conn: Connection, tenant: str, customer_id: int, request_id: str
    ) -> RedactionRecord | None:
        r = _REDACTIONS.c
        row = conn.execute(
            select(_REDACTIONS)
            .where(r.tenant == tenant, r.customer_id == customer_id, r.request_id == request_id)
            .limit(1)
        ).one_or_none()
        return RedactionRecord.model_validate(row) if row is not None else None

    @staticmethod
    def _record(conn: Connection, **values: object) -> RedactionRecord:
        conn.execute(_REDACTIONS.insert().values(**values))
        return RedactionRecord.model_validate(values)


def _without_commit_flush(conn: Connection) -> None:
    """PostgreSQL: this chunk's commit does not wait for its WAL to reach the disk (a chunk of a backfill
    commits in less time than a flush takes). Safe for resuming: WAL is written in order, so after a crash
    no later commit (a cursor) survives an earlier one (the rows it stands for) that was lost."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _when(redaction: RedactionRecord | None, at: datetime) -> str:
    if redaction is None:
        return f"at {at.isoformat()}"
    request = f", request {redaction.request_id}" if redaction.request_id else ""
    return f"at {redaction.redacted_at.isoformat()} ({redaction.reason}{request})"


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def _has_data(t: Table) -> ColumnElement[bool]:
    """Not a tombstone of a record never stored (those have no creation time)."""
    return t.c.created_at.is_not(None)


def _children_of(
    conn: Connection, child: ChildTable, tenant: str, parents: list[int]
) -> dict[int, list[StoredRow]]:
    t = child.table
    grouped: dict[int, list[StoredRow]] = {}
    if not parents:
        return grouped
    order = t.c.position if "position" in t.c else t.c.shopify_id
    for row in conn.execute(
        select(t).where(t.c.tenant == tenant, ids_in(conn, t.c[child.parent_column], parents)).order_by(order)
    ):
        grouped.setdefault(row._mapping[child.parent_column], []).append(row)
    return grouped


def _open_customer(cipher: PiiCipher, tenant: str, row: StoredRow, addresses: list[StoredRow]) -> Customer:
    try:
        return open_customer(cipher, row._mapping, [a._mapping for a in addresses])
    except PiiUnavailableError as exc:
        raise PiiUnavailableError(
            f"customer {row._mapping['shopify_id']}: {exc.message}", tenant=tenant
        ) from None


def _customer_builder(cipher: PiiCipher) -> Callable[[Customer, bytes, datetime], RowSet]:
    return lambda record, content_hash, now: customer_rows(cipher, record, content_hash, now)


def _order_builder(cipher: PiiCipher) -> Callable[[Order, bytes, datetime], RowSet]:
    return lambda record, content_hash, now: order_rows(cipher.tenant, record, content_hash, now)


def _product_builder(cipher: PiiCipher) -> Callable[[ProductRecord, bytes, datetime], RowSet]:
    return lambda record, content_hash, now: product_rows(cipher.tenant, record, content_hash, now)
