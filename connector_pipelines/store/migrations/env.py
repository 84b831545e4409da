"""Alembic environment: runs on the engine the Database passes in (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from connector_pipelines.store.models import VERSION_TABLE, Base

# Any constant: processes starting at once on a fresh PostgreSQL database (the webserver, the daemon, two
# runs) take turns here; the later ones then find the schema at head and do nothing.
MIGRATION_LOCK = 0x636F6E6E6563746F  # "connecto"

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
