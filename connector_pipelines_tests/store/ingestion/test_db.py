from __future__ import annotations

import pytest
from sqlalchemy import inspect

from connector_pipelines.store.db import Database
from connector_pipelines.store.ingestion.db import (
    INGESTION_DATABASE_URL_VAR,
    IngestionDatabase,
    dispose_ingestion_database,
    get_ingestion_database,
    ingestion_database_url,
)
from connector_pipelines.store.ingestion.models import VERSION_TABLE, IngestionBase


def test_migrations_applied_twice_are_harmless(ingestion_db: IngestionDatabase) -> None:
    ingestion_db.upgrade()
    ingestion_db.upgrade()
    assert ingestion_db.current_revision() == ingestion_db.head_revision() == "0001"
    tables = set(inspect(ingestion_db.engine).get_table_names())
    assert set(IngestionBase.metadata.tables) | {VERSION_TABLE} <= tables


def test_shares_a_database_with_the_connector_tables(database_url: str) -> None:
    connector = Database(database_url)
    ingestion = IngestionDatabase(database_url)
    try:
        assert connector.current_revision() == connector.head_revision()
        assert ingestion.current_revision() == ingestion.head_revision()
        tables = set(inspect(ingestion.engine).get_table_names())
        assert {"tenants", "connector_alembic_version", "shopify_orders", VERSION_TABLE} <= tables
    finally:
        connector.dispose()
        ingestion.dispose()


def test_url_defaults_to_the_connector_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INGESTION_DATABASE_URL_VAR, raising=False)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", "sqlite:////tmp/connector.db")
    assert ingestion_database_url() == "sqlite:////tmp/connector.db"
    monkeypatch.setenv(INGESTION_DATABASE_URL_VAR, "postgresql://analytics@db/warehouse")
    assert ingestion_database_url() == "postgresql://analytics@db/warehouse"


def test_one_database_per_url_in_a_process(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv(INGESTION_DATABASE_URL_VAR, database_url)
    first = get_ingestion_database()
    try:
        assert get_ingestion_database(database_url) is first
        assert first.current_revision() == first.head_revision()
    finally:
        dispose_ingestion_database(database_url)
    assert get_ingestion_database(database_url) is not first
    dispose_ingestion_database(database_url)


@pytest.mark.parametrize("kind", [Database, IngestionDatabase])
def test_the_head_every_open_compares_with_is_the_newest_migration_script(
    kind: type[Database], database_url: str
) -> None:
    db = kind(database_url)
    try:
        assert db.HEAD == db.head_revision() == db.current_revision()
    finally:
        db.engine.dispose()
