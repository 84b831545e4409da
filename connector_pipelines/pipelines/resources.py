"""Dagster resources shared by every pipeline: the connector database and what this run should do. The
external systems are opened per step from the tenant registry (``tenants/connections.py``)."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.store.db import Database, get_database
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.tenants.registry import TenantRegistry


class ConnectorDatabase(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The connector database; the URL defaults to CONNECTOR_DATABASE_URL, else the SQLite file."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; empty = environment default")

    def database(self) -> Database:
        return get_database(self.url or None)

    def registry(self) -> TenantRegistry:
        return tenant_registry(self.database())

    def store(self, tenant: str, pipeline: str) -> TenantStore:
        return TenantStore(self.database(), tenant, pipeline)


class SyncRun(dg.ConfigurableResource):  # type: ignore[type-arg]
    """What this run should do; set per run by schedules, sensors, the CLI or the launchpad."""

    mode: Literal["config", "delta", "full", "plan", "webhook"] = Field(
        "delta", description="config | delta | full | plan | webhook (apply the webhook inbox)"
    )
    product_ids: list[str] = Field(
        default_factory=list,
        description="sync only these source products, by the source's id (a number for Plentymarkets)",
    )
    client_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="cap on the HTTP and file clients' timeouts for this run; empty = theirs",
    )
    force: bool = Field(default=False, description="run although the tenant is disabled (`sync --force`)")
    since: str | None = Field(
        default=None,
        description="a date range's start (ISO 8601 date or time, UTC): read only source records updated "
        "since then (full: a backfill of the range); for the pipelines that take one (shopify_ingestion)",
    )
    until: str | None = Field(default=None, description="a date range's end (exclusive), like since")
    skip_existing: bool = Field(
        default=False, description="write only the records the target does not hold yet (shopify_ingestion)"
    )
