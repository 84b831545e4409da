from __future__ import annotations

from pathlib import Path

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


def fail_times(store: TenantStore, key: str, times: int, stage: str = "products") -> None:
    for attempt in range(1, times + 1):
        store.record_errors(stage, [(key, f"no price ({attempt})", {"sku": key})], f"run-{attempt}")


def test_a_record_failing_five_attempts_becomes_a_dead_letter(
    stores: tuple[TenantStore, TenantStore],
) -> None:
    acme, globex = stores
    fail_times(acme, "p1", 4)
    fail_times(acme, "p2", 1)
    assert acme.dead_letters() == set() and not any(e.dead for e in acme.open_errors())
    fail_times(acme, "p1", 1)
    (dead,) = acme.open_errors(dead=True)
    assert (dead.record_key, dead.attempts, dead.dead) == ("p1", 5, True)
    assert dead.reason == "no price (1)" and dead.payload == {"sku": "p1"}, "the latest failure's"
    assert [e.record_key for e in acme.open_errors(dead=False)] == ["p2"]
    assert acme.count_open_errors() == 2 and acme.count_open_errors(dead=True) == 1
    assert acme.dead_letters() == {("products", "p1")} and acme.dead_letter_keys("products") == {"p1"}
    assert acme.dead_letter_keys("images") == set() and globex.dead_letters() == set()
    fail_times(acme, "p1", 2)
    assert acme.open_errors(dead=True)[0].attempts == 7, "a dead letter sent anyway stays dead"


def test_retry_rearms_a_dead_letter_for_five_more_attempts(stores: tuple[TenantStore, TenantStore]) -> None:
    acme, _ = stores
    fail_times(acme, "p1", 5)
    fail_times(acme, "p2", 2)
    assert acme.rearm_errors(["p1", "p2", "p9"]) == 1, "only dead letters are re-armed"
    (p1,) = [e for e in acme.open_errors() if e.record_key == "p1"]
    assert (p1.dead, p1.attempts) == (False, 0)
    fail_times(acme, "p1", 4)
    assert acme.dead_letters() == set()
    fail_times(acme, "p1", 1)
    assert acme.dead_letters() == {("products", "p1")}
    assert acme.rearm_errors(["p1"], stage="images") == 0


def test_a_dead_letter_that_goes_through_is_closed_and_counts_afresh(
    stores: tuple[TenantStore, TenantStore],
) -> None:
    acme, _ = stores
    fail_times(acme, "p1", 5)
    assert acme.resolve_errors("products", ["p1"]) == 1
    assert acme.open_errors() == [] and acme.dead_letters() == set()
    fail_times(acme, "p1", 1)
    (again,) = acme.open_errors()
    assert (again.attempts, again.dead) == (1, False)


def test_the_dead_letter_threshold_is_configurable(
    stores: tuple[TenantStore, TenantStore], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_DEAD_LETTER_ATTEMPTS", "2")
    store = TenantStore(db, "acme", PIPELINE)
    assert store.dead_after == 2
    fail_times(store, "p1", 2)
    assert store.dead_letter_keys("products") == {"p1"}
    assert TenantStore(db, "acme", PIPELINE, dead_after=1).dead_after == 1
    monkeypatch.setenv("CONNECTOR_DEAD_LETTER_ATTEMPTS", "zero")
    with pytest.raises(ValueError, match="CONNECTOR_DEAD_LETTER_ATTEMPTS must be a whole number"):
        TenantStore(db, "acme", PIPELINE)


def test_migration_0003_marks_the_records_that_failed_five_times_dead(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    from connector_pipelines.store.db import alembic_config

    old = Database(f"sqlite:///{tmp_path / 'old.db'}", upgrade=False)
    command.upgrade(alembic_config(old.engine), "0002")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (slug, display_name, enabled, pipelines, created_at, updated_at, "
                "enabled_at) VALUES ('acme', '', 1, '[]', '2026-01-01', '2026-01-01', '2026-01-01')"
            )
        )
        for key, attempts, resolved in (("a", 5, 0), ("b", 4, 0), ("c", 9, 1)):
            conn.execute(
                text(
                    "INSERT INTO record_errors (tenant_id, pipeline, stage, record_key, reason, attempts, "
                    "resolved, first_seen, last_seen) VALUES (1, 'p', 's', :key, 'r', :attempts, :resolved, "
                    "'2026-01-01', '2026-01-01')"
                ),
                {"key": key, "attempts": attempts, "resolved": resolved},
            )
    old.upgrade()
    assert TenantStore(old, "acme", "p").dead_letters() == {("s", "a")}
    command.downgrade(alembic_config(old.engine), "0002")
    old.upgrade()
    old.dispose()
