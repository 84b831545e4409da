"""Alembic environment of the ingestion tables: runs on the engine the IngestionDatabase passes in, with its
own version table, so the ingestion tables can live in the connector database or in one of their own."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from connector_pipelines.store.ingestion.models import VERSION_TABLE, IngestionBase

# Not the connector migrations' lock: both environments may upgrade one database at the same time.
MIGRATION_LOCK = 0x73686F7069667969  # "shopifyi"

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=IngestionBase.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
