from __future__ import annotations

import pytest

from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.tenants.registry import TenantRegistry

PIPELINE = "plenty_shopware"


@pytest.fixture
def stores(registry: TenantRegistry, db: Database) -> tuple[TenantStore, TenantStore]:
    registry.add("acme", "", [PIPELINE])
    registry.add("globex", "", [PIPELINE])
    return TenantStore(db, "acme", PIPELINE), TenantStore(db, "globex", PIPELINE)


def test_migrations_applied_twice_are_harmless(db: Database) -> None:
    db.upgrade()
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    assert Database(db.url).current_revision() == db.head_revision()


def test_unknown_tenant(db: Database) -> None:
    with pytest.raises(LookupError, match="unknown tenant 'ghost'"):
        TenantStore(db, "ghost", PIPELINE)


def test_cursors(stores: tuple[TenantStore, TenantStore]) -> None:
    acme, globex = stores
    assert acme.get_cursor("items") is None
    acme.set_cursor("items", "2026-01-01T00:00:00+00:00")
    acme.set_cursor("items", "2026-02-01T00:00:00+00:00")
    assert acme.get_cursor("items") == "2026-02-01T00:00:00+00:00"
    assert globex.get_cursor("items") is None


def test_record_errors_count_attempts_and_resolve(stores: tuple[TenantStore, TenantStore]) -> None:
    acme, globex = stores
    acme.record_errors("products", [("p1", "no price", {"id": 1}), ("p2", "bad", None)], "run-1")
    acme.record_errors("products", [("p1", "still no price", {"id": 1})], "run-2")
    errors = {e.record_key: e for e in acme.open_errors("products")}
    assert errors["p1"].attempts == 2 and errors["p1"].reason == "still no price"
    assert errors["p2"].attempts == 1
    assert globex.count_open_errors() == 0
    assert acme.resolve_errors("products", ["p1"]) == 1
    assert [e.record_key for e in acme.open_errors()] == ["p2"]
    acme.record_errors("products", [("p1", "again", None)], "run-3")
    assert acme.count_open_errors("products") == 2, "a resolved error that recurs is open again"


def test_mappings(stores: tuple[TenantStore, TenantStore]) -> None:
    acme, globex = stores
    acme.put_mappings("product", [MappingRow("p1", "id1", "h1"), MappingRow("p2", "id2", "h2", {"n": 1})])
    acme.put_mappings("product", [MappingRow("p1", "id1", "h1b")])
    assert acme.mappings("product")["p1"].content_hash == "h1b"
    assert acme.mappings_for("product", ["p2", "p9"])["p2"].extra == {"n": 1}
    assert globex.mappings("product") == {}
    acme.delete_mappings("product", ["p1"])
    assert set(acme.mappings("product")) == {"p2"} and acme.count_mappings("product") == 1


def test_records_stream_in_batches(stores: tuple[TenantStore, TenantStore]) -> None:
    acme, globex = stores
    acme.put_records("product", [(f"k{i:04d}", f"h{i}", {"i": i}) for i in range(1203)])
    globex.put_records("product", [("k0001", "other", {"i": -1})])
    streamed = list(acme.iter_records("product", batch=100))
    assert [r.key for r in streamed] == sorted(f"k{i:04d}" for i in range(1203))
    assert streamed[1].payload == {"i": 1}
    assert [r.payload for r in acme.iter_records("product", keys=["k0005", "k0001", "zz"])] == [
        {"i": 1},
        {"i": 5},
    ]
    assert acme.record_hashes("product")["k0001"] == "h1"
    acme.delete_records("product", ["k0001"])
    assert "k0001" not in acme.record_hashes("product")
    assert globex.records("product") == {"k0001": {"i": -1}}


def test_runs(stores: tuple[TenantStore, TenantStore]) -> None:
    acme, globex = stores
    run = acme.start_run("full", "products", "dagster-run-1")
    acme.finish_run(run, "success", {"created": 3})
    last = acme.last_run("products")
    assert last is not None and last.counts == {"created": 3} and last.finished_at is not None
    assert globex.last_run("products") is None


def test_removing_a_tenant_removes_its_rows(
    registry: TenantRegistry, stores: tuple[TenantStore, TenantStore], db: Database
) -> None:
    acme, globex = stores
    acme.put_records("product", [("k", "h", {})])
    globex.put_records("product", [("k", "h", {})])
    registry.remove("acme")
    registry.add("acme", "", [PIPELINE])
    assert TenantStore(db, "acme", PIPELINE).record_hashes("product") == {}
    assert globex.record_hashes("product") == {"k": "h"}


def test_product_counts_and_gaps_are_counted_in_the_database(stores: tuple[TenantStore, TenantStore]) -> None:
    from decimal import Decimal

    from connector_pipelines.catalog.models import OptionChoice, Price, Product, Texts, Variant

    def product(
        key: str, variants: int, *, options: bool, currency: str = "EUR", category: bool = True
    ) -> dict:  # type: ignore[type-arg]
        choice = (OptionChoice(option_key="o", value_key="v"),) if options else ()
        return Product(
            key=key,
            texts={"de": Texts(name=key)},
            category_keys=("c",) if category else (),
            variants=tuple(
                Variant(
                    key=f"{key}-{i}",
                    sku=f"{key}-{i}",
                    options=choice,
                    prices=(Price(currency=currency, gross=Decimal(1)),),
                )
                for i in range(variants)
            ),
        ).model_dump(mode="json")

    acme, globex = stores
    acme.put_records(
        "product",
        [
            ("single", "h", product("single", 1, options=False)),
            ("multi", "h", product("multi", 3, options=True)),
            ("chf-only", "h", product("chf-only", 2, options=True, currency="CHF")),
            ("no-category", "h", product("no-category", 1, options=False, category=False)),
        ],
    )
    globex.put_records("product", [("other", "h", product("other", 5, options=True))])
    counts = acme.product_counts("product")
    assert (counts.products, counts.variants, counts.single_products) == (4, 7, 2)
    assert acme.incomplete_products("product", "EUR") == ["chf-only", "no-category"]
    assert acme.mapping_hashes("product") == {}
    acme.put_mappings("product", [MappingRow("multi", "t", "h1", {"variants": {"a": "b"}})])
    assert acme.mapping_hashes("product") == {"multi": "h1"} and globex.mapping_hashes("product") == {}
