"""`keys ...` and `db ...`: the connector key and the connector database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from connector_pipelines.cli.base import INGESTION_PIPELINE, existing_registry, main, user_errors

if TYPE_CHECKING:
    pass


@main.group()
def keys() -> None:
    """Encryption keys of stored credentials."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key for CONNECTOR_ENCRYPTION_KEY."""
    from connector_pipelines.tenants.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
@user_errors
def keys_rotate() -> None:
    """Re-encrypt every credential with CONNECTOR_ENCRYPTION_KEY (old ones readable from ..._KEYS_OLD), and
    re-wrap the shopify_ingestion tenants' data keys with it (their rows stay as they are)."""
    registry = existing_registry()
    changed = registry.rotate_keys()
    click.echo(f"re-encrypted {changed} credential set(s) with the current key")
    if any(INGESTION_PIPELINE in t.pipelines for t in registry.tenants()):
        from connector_pipelines.sync.shopify_ingestion import ingestion_repository

        rewrapped = ingestion_repository().rewrap_data_keys()
        click.echo(f"re-wrapped {rewrapped} personal-data key(s) of the ingestion tables with the new key")


@main.group()
def db() -> None:
    """The connector database."""


@db.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Create the connector database and the ingestion tables (shopify_ingestion's, in the database of
    CONNECTOR_INGESTION_DATABASE_URL, by default the connector database), or apply their migrations (also
    done automatically by every command; a deployment's init step runs this once before anything starts)."""
    from connector_pipelines import config
    from connector_pipelines.store.db import Database
    from connector_pipelines.store.ingestion.db import IngestionDatabase

    database = Database(upgrade=False)
    database.upgrade()
    click.echo(f"database at revision {database.current_revision()} ({config.database_location()})")
    ingestion = IngestionDatabase(upgrade=False)
    ingestion.upgrade()
    click.echo(f"ingestion tables at revision {ingestion.current_revision()}")
