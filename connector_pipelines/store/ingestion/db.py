"""The ingestion database: the connector database's engine and session machinery, with the ingestion tables'
own migrations and version table.

``CONNECTOR_INGESTION_DATABASE_URL`` points it elsewhere (the analytics PostgreSQL); unset, the ingestion
tables live in the connector database.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from connector_pipelines import config
from connector_pipelines.store.db import Database, normalize_url
from connector_pipelines.store.ingestion.models import VERSION_TABLE

INGESTION_DATABASE_URL_VAR = "CONNECTOR_INGESTION_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")


def ingestion_database_url() -> str:
    return os.environ.get(INGESTION_DATABASE_URL_VAR) or config.database_url()


class IngestionDatabase(Database):
    """One ingestion database; ``upgrade`` brings only the ingestion tables to their head revision."""

    MIGRATIONS = MIGRATIONS
    VERSION_TABLE = VERSION_TABLE
    HEAD = "0001"

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        super().__init__(url or ingestion_database_url(), upgrade=upgrade)


_cache: dict[str, IngestionDatabase] = {}
_cache_lock = threading.Lock()


def get_ingestion_database(url: str | None = None) -> IngestionDatabase:
    """A process-wide IngestionDatabase per URL, so every step of a run shares one connection pool."""
    key = normalize_url(url or ingestion_database_url())
    with _cache_lock:
        db = _cache.get(key)
        if db is None:
            db = _cache[key] = IngestionDatabase(key)
        return db


def dispose_ingestion_database(url: str) -> None:
    """Close and forget the process-wide IngestionDatabase of ``url`` (before that database is dropped)."""
    with _cache_lock:
        db = _cache.pop(normalize_url(url), None)
    if db is not None:
        db.dispose()
