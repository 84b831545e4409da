from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from connector_pipelines.catalog.commerce import Deletion
from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.models import OrderLine, Variant, table_of
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.store.ingestion.rows import (
    ADDRESS_COLUMNS,
    CUSTOMER_COLUMNS,
    LINE_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
    VARIANT_COLUMNS,
)
from connector_pipelines.tenants.crypto import Keyring
from connector_pipelines.tenants.pii import PiiKeys
from connector_pipelines_tests.store.ingestion.records import at, customer, order, product

LINES = table_of(OrderLine)


def _lines(db: IngestionDatabase, tenant: str = "acme") -> dict[int, list[int]]:
    """order id -> its line ids."""
    with db.session() as session:
        rows = session.execute(
            select(LINES.c.order_id, LINES.c.shopify_id)
            .where(LINES.c.tenant == tenant)
            .order_by(LINES.c.shopify_id)
        )
        grouped: dict[int, list[int]] = {}
        for order_id, line_id in rows:
            grouped.setdefault(order_id, []).append(line_id)
        return grouped


def test_row_columns_cover_every_table_column() -> None:
    for columns, model in (
        (CUSTOMER_COLUMNS, "shopify_customers"),
        (ADDRESS_COLUMNS, "shopify_customer_addresses"),
        (ORDER_COLUMNS, "shopify_orders"),
        (LINE_COLUMNS, "shopify_order_lines"),
        (PRODUCT_COLUMNS, "shopify_products"),
        (VARIANT_COLUMNS, "shopify_variants"),
    ):
        table = LINES.metadata.tables[model]
        assert sorted(columns) == sorted(c.name for c in table.columns), model


def test_an_older_update_is_ignored_an_equal_or_newer_one_applied(repo: IngestionRepository) -> None:
    assert repo.upsert_orders("acme", [order(1, updated=10)]).inserted == 1
    older = repo.upsert_orders("acme", [order(1, updated=5, total="99.00")])
    assert (older.skipped_older, older.rows_written) == (1, 0)
    same = repo.upsert_orders("acme", [order(1, updated=10)])
    assert (same.unchanged, same.rows_written) == (1, 0), "read again unchanged: nothing written"
    equal_but_different = repo.upsert_orders("acme", [order(1, updated=10, total="45.00")])
    assert equal_but_different.updated == 1
    newer = repo.upsert_orders("acme", [order(1, updated=11, total="50.00")])
    assert newer.updated == 1
    (stored,) = repo.iter_orders("acme")
    assert stored.total_price == Decimal("50.00")
    assert stored.updated_at == at(11)


def test_the_newest_of_one_record_twice_in_a_chunk_stands(repo: IngestionRepository) -> None:
    counts = repo.upsert_products(
        "acme", [product(1, updated=3, title="new"), product(1, updated=1, title="old"), product(2)]
    )
    assert (counts.inserted, counts.skipped_older) == (2, 1)
    titles = {p.id: p.title for p in repo.iter_products("acme")}
    assert titles == {1: "new", 2: "Tee"}


def test_soft_delete_is_guarded_and_keeps_a_tombstone(repo: IngestionRepository) -> None:
    repo.upsert_orders("acme", [order(1, updated=10), order(2, updated=10)])
    too_old = repo.delete("acme", "orders", [Deletion(id=1, deleted_at=at(5))])
    assert (too_old.skipped_older, too_old.deleted) == (1, 0)
    deleted = repo.delete("acme", "orders", [Deletion(id=1, deleted_at=at(20))])
    assert deleted.deleted == 1
    assert repo.delete("acme", "orders", [Deletion(id=1, deleted_at=at(21))]).unchanged == 1
    assert repo.count("acme", "orders") == 1
    assert repo.count("acme", "orders", include_deleted=True) == 2
    assert repo.count("acme", "order_lines") == 2, "the lines of a deleted order do not count"
    late = repo.upsert_orders("acme", [order(1, updated=15), order(1, updated=20)])
    assert (late.skipped_older, late.rows_written) == (2, 0), "no update as old as the deletion revives it"
    assert list(repo.iter_ids("acme", "orders")) == [2]
    revived = repo.upsert_orders("acme", [order(1, updated=25)])
    assert revived.updated == 1
    assert list(repo.iter_ids("acme", "orders")) == [1, 2]


def test_a_deletion_before_the_create_leaves_a_tombstone(repo: IngestionRepository) -> None:
    counts = repo.delete("acme", "customers", [Deletion(id=7, deleted_at=at(30))])
    assert counts.deleted == 1
    assert repo.count("acme", "customers", include_deleted=True) == 0, "a tombstone is no customer"
    late_create = repo.upsert_customers("acme", [customer(7, updated=29)])
    assert late_create.skipped_older == 1
    assert repo.count("acme", "customers") == 0
    assert list(repo.iter_ids("acme", "customers", include_deleted=True)) == []


def test_children_are_replaced_with_their_parent(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    repo.upsert_orders("acme", [order(1, lines=(11, 12, 13)), order(2, lines=(21,))])
    counts = repo.upsert_orders("acme", [order(1, updated=1, lines=(12, 14))])
    assert (counts.updated, counts.child_rows) == (1, 2)
    assert _lines(ingestion_db) == {1: [12, 14], 2: [21]}
    older = repo.upsert_orders("acme", [order(1, updated=0, lines=(99,))])
    assert older.child_rows == 0
    assert _lines(ingestion_db) == {1: [12, 14], 2: [21]}, "an ignored parent keeps its children"


def test_a_child_moved_to_another_parent_moves(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    repo.upsert_orders("acme", [order(1, lines=(11, 12))])
    counts = repo.upsert_orders("acme", [order(2, lines=(12, 21))])
    assert (counts.inserted, counts.child_rows) == (1, 2)
    assert _lines(ingestion_db) == {1: [11], 2: [12, 21]}
    both = repo.upsert_orders("acme", [order(3, lines=(31,)), order(4, lines=(31, 41))])
    assert both.inserted == 2
    assert _lines(ingestion_db)[4] == [31, 41], "a child under two parents of one chunk: the last one's"


def test_variants_follow_their_product(repo: IngestionRepository, ingestion_db: IngestionDatabase) -> None:
    repo.upsert_products("acme", [product(1, variants=(11, 12, 13))])
    repo.upsert_products("acme", [product(1, updated=1, variants=(13,))])
    variants = table_of(Variant)
    with ingestion_db.session() as session:
        rows = session.execute(select(variants.c.shopify_id, variants.c.options, variants.c.price)).all()
    assert [(r.shopify_id, r.options, r.price) for r in rows] == [
        (13, [{"name": "Size", "value": "0"}], Decimal("19.99"))
    ]
    assert repo.count("acme", "variants") == 1


def test_writes_stream_in_chunks(ingestion_db: IngestionDatabase) -> None:
    repo = IngestionRepository(ingestion_db, PiiKeys(Keyring.from_env()), chunk_size=250)
    first = repo.upsert_orders("acme", (order(i) for i in range(1, 1101)))
    assert (first.inserted, first.child_rows, first.rows_written) == (1100, 2200, 3300)
    again = repo.upsert_orders("acme", (order(i) for i in range(1, 1101)))
    assert (again.unchanged, again.rows_written) == (1100, 0)
    some = repo.upsert_orders("acme", (order(i, updated=1 if i % 100 == 0 else 0) for i in range(1, 1101)))
    assert (some.updated, some.unchanged, some.child_rows) == (11, 1089, 22)
    assert repo.count("acme", "orders") == 1100
    assert repo.count("acme", "order_lines") == 2200
    assert len(list(repo.iter_ids("acme", "orders"))) == 1100
    deleted = repo.delete("acme", "orders", (Deletion(id=i, deleted_at=at(60)) for i in range(1, 601)))
    assert deleted.deleted == 600
    assert repo.count("acme", "orders") == 500


def test_dry_run_counts_and_writes_nothing(repo: IngestionRepository) -> None:
    repo.upsert_orders("acme", [order(1)])
    plan = repo.upsert_orders("acme", [order(1, updated=1), order(2), order(3)], mode="dry_run")
    assert (plan.inserted, plan.updated, plan.child_rows) == (2, 1, 0)
    assert sorted(plan.sample) == [("insert", 2), ("insert", 3), ("update", 1)]
    assert repo.delete("acme", "orders", [Deletion(id=1, deleted_at=at(5))], mode="dry_run").deleted == 1
    assert repo.count("acme", "orders") == 1
    fresh = repo.upsert_customers("globex", [customer(1)], mode="dry_run")
    assert fresh.inserted == 1
    assert repo.count("globex", "customers") == 0
    assert repo.find_customers_by_email("globex", "zelda.quux1@example.org") == [], "not even a key written"


def test_skip_existing_only_inserts(repo: IngestionRepository) -> None:
    repo.upsert_products("acme", [product(1)])
    counts = repo.upsert_products(
        "acme", [product(1, updated=5, title="changed"), product(2)], mode="skip_existing"
    )
    assert (counts.inserted, counts.skipped_existing, counts.updated) == (1, 1, 0)
    titles = sorted(p.title for p in repo.iter_products("acme"))
    assert titles == ["Tee", "Tee"]


def test_tenants_are_isolated(repo: IngestionRepository) -> None:
    repo.upsert_orders("acme", [order(1, total="10.00")])
    repo.upsert_orders("globex", [order(1, total="20.00"), order(2)])
    repo.delete("globex", "orders", [Deletion(id=1, deleted_at=at(60))])
    assert repo.count("acme", "orders") == 1
    assert repo.count("globex", "orders") == 1
    (acme_order,) = repo.iter_orders("acme")
    assert acme_order.total_price == Decimal("10.00")


def test_cursors(repo: IngestionRepository) -> None:
    assert repo.get_cursor("acme", "orders") is None
    repo.set_cursor("acme", "orders", "2026-03-01T00:00:00Z")
    repo.set_cursor("acme", "orders", "2026-03-02T00:00:00Z")
    repo.set_cursor("acme", "customers", "gid://shopify/BulkOperation/1")
    assert repo.get_cursor("acme", "orders") == "2026-03-02T00:00:00Z"
    assert repo.cursors("acme") == {
        "orders": "2026-03-02T00:00:00Z",
        "customers": "gid://shopify/BulkOperation/1",
    }
    assert repo.get_cursor("globex", "orders") is None
    with pytest.raises(ValueError, match="unknown ingestion object 'refunds'"):
        repo.set_cursor("acme", "refunds", "x")  # type: ignore[arg-type]


def test_checks_find_orders_without_lines_and_freshness(repo: IngestionRepository) -> None:
    assert repo.last_updated("acme", "orders") is None
    repo.upsert_orders("acme", [order(1, updated=3), order(2, lines=()), order(3, lines=(), updated=7)])
    orphans = repo.orders_without_lines("acme")
    assert (orphans.count, orphans.sample) == (2, [2, 3])
    repo.delete("acme", "orders", [Deletion(id=3, deleted_at=at(9))])
    assert repo.orders_without_lines("acme").count == 1, "a deleted order is not checked"
    assert repo.last_updated("acme", "orders") == at(9)


def test_text_with_nul_is_stored_as_replacement_character(repo: IngestionRepository) -> None:
    repo.upsert_products("acme", [product(1, title="Tee\x00Shirt")])
    (stored,) = repo.iter_products("acme")
    assert stored.title == "Tee\ufffdShirt"
    assert repo.upsert_products("acme", [product(1, title="Tee\x00Shirt")]).unchanged == 1
