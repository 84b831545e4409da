"""Dagster resources shared by every pipeline."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from connector_pipelines.clients.http import TlsSettings
from connector_pipelines.clients.plentymarkets import PlentymarketsClient
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.clients.shopware6 import Shopware6Client
from connector_pipelines.sources.erp_files import FileSource, open_source
from connector_pipelines.sources.erp_mapping import MappingConfig, load_mapping, mapping_path
from connector_pipelines.store.db import Database, get_database
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.tenants.registry import TenantError, TenantRegistry
from connector_pipelines.tenants.systems import (
    ErpFilesCredentials,
    ErpFilesSettings,
    PlentymarketsCredentials,
    PlentymarketsSettings,
    ShopifyCredentials,
    ShopifySettings,
    Shopware6Credentials,
    Shopware6Settings,
)


class ConnectorDatabase(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The connector database; the URL defaults to CONNECTOR_DATABASE_URL, else the SQLite file."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; empty = environment default")

    def database(self) -> Database:
        return get_database(self.url or None)

    def registry(self) -> TenantRegistry:
        return TenantRegistry(self.database())

    def store(self, tenant: str, pipeline: str) -> TenantStore:
        return TenantStore(self.database(), tenant, pipeline)


class SyncRun(dg.ConfigurableResource):  # type: ignore[type-arg]
    """What this run should do; set per run by schedules, sensors, the CLI or the launchpad."""

    mode: Literal["config", "delta", "full", "plan"] = Field(
        "delta", description="config | delta | full | plan"
    )
    product_ids: list[int] = Field(default_factory=list, description="sync only these source products")


class PlentymarketsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the Plentymarkets client of the tenant being run, from the registry."""

    timeout_s: float = 60.0

    def client(self, registry: TenantRegistry, tenant: str) -> PlentymarketsClient:
        settings = registry.settings(tenant, "plentymarkets", PlentymarketsSettings)
        creds = registry.credentials(tenant, "plentymarkets", PlentymarketsCredentials)
        return PlentymarketsClient(
            settings.base_url,
            creds.username,
            creds.password,
            lang=settings.lang,
            page_size=settings.page_size,
            timeout_s=self.timeout_s,
            tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
        )


class Shopware6Resource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the Shopware 6 Admin API client of the tenant being run, from the registry."""

    timeout_s: float = 120.0

    def client(self, registry: TenantRegistry, tenant: str) -> Shopware6Client:
        settings = registry.settings(tenant, "shopware6", Shopware6Settings)
        creds = registry.credentials(tenant, "shopware6", Shopware6Credentials)
        return Shopware6Client(
            settings.base_url,
            creds.client_id,
            creds.client_secret,
            timeout_s=self.timeout_s,
            tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
        )


class ShopifyResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the Shopify Admin GraphQL client of the tenant being run, from the registry."""

    timeout_s: float = 120.0

    def client(self, registry: TenantRegistry, tenant: str) -> ShopifyClient:
        settings = registry.settings(tenant, "shopify", ShopifySettings)
        creds = registry.credentials(tenant, "shopify", ShopifyCredentials)
        return ShopifyClient(
            settings.shop_url,
            creds.access_token,
            api_version=settings.api_version,
            sku_batch_size=settings.sku_lookup_batch_size,
            timeout_s=self.timeout_s,
            tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
        )


class ErpFilesResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the file source (local folder, FTP, FTPS, SFTP) of the tenant being run, and its mapping."""

    def source(
        self, registry: TenantRegistry, tenant: str, *, max_timeout_s: float | None = None
    ) -> FileSource:
        """The tenant's source; ``max_timeout_s`` caps its timeouts (a sensor must answer within 60 s)."""
        settings = registry.settings(tenant, "erp_files", ErpFilesSettings)
        if max_timeout_s is not None and settings.timeout_s > max_timeout_s:
            settings = settings.model_copy(update={"timeout_s": max_timeout_s})
        creds: ErpFilesCredentials | None = None
        if settings.kind != "local":
            try:
                creds = registry.credentials(tenant, "erp_files", ErpFilesCredentials)
            except TenantError:
                if "erp_files" in registry.get(tenant).credentials_set:
                    raise  # stored but unreadable: say so
                creds = None  # none stored: anonymous FTP
        return open_source(settings, creds)

    def mapping(self, registry: TenantRegistry, tenant: str) -> MappingConfig:
        settings = registry.settings(tenant, "erp_files", ErpFilesSettings)
        if not settings.mapping_file:
            raise TenantError(f"tenant '{tenant}' has no mapping_file in its erp_files settings")
        return load_mapping(mapping_path(settings.mapping_file))
