from __future__ import annotations

import pytest

from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.store.db import Database
from connector_pipelines.store.keyed import select_by_keys
from connector_pipelines.store.models import Mapping
from connector_pipelines.store.repositories import MappingRow, TenantStore

PIPELINE = "plenty_shopware"


def test_rows_are_found_by_their_keys_within_the_scope_only(db: Database) -> None:
    tenants = tenant_registry(db)
    tenants.add("acme", "", [PIPELINE])
    tenants.add("globex", "", [PIPELINE])
    acme, globex = TenantStore(db, "acme", PIPELINE), TenantStore(db, "globex", PIPELINE)
    acme.put_mappings("product", [MappingRow(f"v{i}", f"acme-{i}", "h") for i in range(10)])
    globex.put_mappings("product", [MappingRow("v1", "globex-1", "h")])
    table = Mapping.__table__
    scope = {"tenant_id": acme.tenant_id, "pipeline": PIPELINE, "kind": "product"}
    lookup = select_by_keys(
        db.dialect,
        table,
        [table.c.source_key, table.c.target_id],
        scope,
        table.c.source_key,
        ["v1", "v7", "x"],
    )
    with db.session() as s:
        assert sorted(tuple(row) for row in s.execute(lookup)) == [("v1", "acme-1"), ("v7", "acme-7")]


def test_a_key_longer_than_the_column_finds_nothing_rather_than_the_key_it_begins_with(db: Database) -> None:
    tenant_registry(db).add("acme", "", [PIPELINE])
    store = TenantStore(db, "acme", PIPELINE)
    stored = "k" * 300  # as long as the column allows
    store.put_mappings("product", [MappingRow(stored, "id", "h")])
    assert store.mappings_for("product", [stored + "-longer"]) == {}
    assert list(store.mappings_for("product", [stored])) == [stored]


@pytest.mark.postgres
def test_on_postgresql_each_key_is_a_primary_key_lookup_in_a_table_without_statistics(
    postgres_url: str,
) -> None:
    db = Database(postgres_url)
    try:
        tenant_registry(db).add("acme", "", [PIPELINE])
        store = TenantStore(db, "acme", PIPELINE)
        # A first full sync fills the table; PostgreSQL has no statistics of it yet.
        store.put_mappings("product", [MappingRow(f"v{i}", f"id{i}", "h") for i in range(2_000)])
        table = Mapping.__table__
        scope = {"tenant_id": store.tenant_id, "pipeline": PIPELINE, "kind": "product"}
        lookup = select_by_keys(
            db.dialect, table, [table.c.target_id], scope, table.c.source_key, ["v1", "v2"]
        )
        compiled = lookup.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
        with db.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}", compiled.params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        # `source_key IN (...)` here is a filter over the tenant's 2,000 rows (25 ms at 120,000).
        index_condition = next(line for line in plan.splitlines() if "Index Cond" in line)
        assert "source_key" in index_condition, plan
        assert "Rows Removed by Filter" not in plan, plan
    finally:
        db.dispose()
