"""The ingestion database on SQLite and on PostgreSQL (a fresh database per test, see the top conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.tenants.crypto import Keyring
from connector_pipelines.tenants.pii import PiiKeys


@pytest.fixture
def ingestion_db(database_url: str) -> Iterator[IngestionDatabase]:
    database = IngestionDatabase(database_url)
    yield database
    database.dispose()


@pytest.fixture
def repo(ingestion_db: IngestionDatabase) -> IngestionRepository:
    return IngestionRepository(ingestion_db, PiiKeys(Keyring.from_env()))
