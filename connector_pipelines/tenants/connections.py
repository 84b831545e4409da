"""The registry of external systems: for each one its settings and credentials models, the Dagster kind and
pool its steps carry, and how its client opens from settings and credentials. Plain Python: the CLI, the
sensors and the steps open a tenant's systems with ``TenantRegistry.connect(tenant, SYSTEM)``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

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

# The clients are imported when a system is opened: the tenant commands of the CLI need the models only.
if TYPE_CHECKING:
    from connector_pipelines.clients.plentymarkets import PlentymarketsClient
    from connector_pipelines.clients.shopify import ShopifyClient
    from connector_pipelines.clients.shopware6 import Shopware6Client
    from connector_pipelines.sources.erp_files import FileSource

S = TypeVar("S", bound=BaseModel)
C = TypeVar("C", bound=BaseModel)
H = TypeVar("H")


@dataclass(frozen=True)
class System(Generic[S, C, H]):
    """One external system. ``connect`` opens its client (or file source) from validated settings and
    credentials (``None`` only where ``credentials_optional``) with an optional cap on its timeouts."""

    name: str
    kind: str  # the Dagster kind tag (its icon in the UI)
    pool: str  # the Dagster pool: how many steps may use this system's API at once, over all tenants
    settings: type[S]
    credentials: type[C]
    connect: Callable[[S, C | None, float | None], AbstractContextManager[H]]
    credentials_optional: bool = False


def _capped(default_s: float, cap_s: float | None) -> float:
    return default_s if cap_s is None else min(default_s, cap_s)


def _plentymarkets(
    settings: PlentymarketsSettings, creds: PlentymarketsCredentials | None, cap_s: float | None
) -> PlentymarketsClient:
    from connector_pipelines.clients.http import TlsSettings
    from connector_pipelines.clients.plentymarkets import PlentymarketsClient

    assert creds is not None
    return PlentymarketsClient(
        settings.base_url,
        creds.username,
        creds.password,
        lang=settings.lang,
        page_size=settings.page_size,
        timeout_s=_capped(60.0, cap_s),
        tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
    )


def _shopware6(
    settings: Shopware6Settings, creds: Shopware6Credentials | None, cap_s: float | None
) -> Shopware6Client:
    from connector_pipelines.clients.http import TlsSettings
    from connector_pipelines.clients.shopware6 import Shopware6Client

    assert creds is not None
    return Shopware6Client(
        settings.base_url,
        creds.client_id,
        creds.client_secret,
        timeout_s=_capped(120.0, cap_s),
        tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
    )


def _shopify(
    settings: ShopifySettings, creds: ShopifyCredentials | None, cap_s: float | None
) -> ShopifyClient:
    from connector_pipelines.clients.http import TlsSettings
    from connector_pipelines.clients.shopify import ShopifyClient

    assert creds is not None
    return ShopifyClient(
        settings.shop_url,
        creds.access_token,
        api_version=settings.api_version,
        sku_batch_size=settings.sku_lookup_batch_size,
        timeout_s=_capped(120.0, cap_s),
        tls=TlsSettings(ca_bundle=settings.tls.ca_bundle),
    )


def _erp_files(
    settings: ErpFilesSettings, creds: ErpFilesCredentials | None, cap_s: float | None
) -> FileSource:
    from connector_pipelines.sources.erp_files import open_source

    if cap_s is not None and settings.timeout_s > cap_s:
        settings = settings.model_copy(update={"timeout_s": cap_s})
    return open_source(settings, creds)


PLENTYMARKETS = System(
    "plentymarkets",
    "plentymarkets",
    "plentymarkets_api",
    PlentymarketsSettings,
    PlentymarketsCredentials,
    _plentymarkets,
)
# Dagster's kind icon is named after the product (shopware), the system after its API version.
SHOPWARE6 = System(
    "shopware6", "shopware", "shopware6_api", Shopware6Settings, Shopware6Credentials, _shopware6
)
SHOPIFY = System("shopify", "shopify", "shopify_api", ShopifySettings, ShopifyCredentials, _shopify)
# Anonymous FTP needs no credentials; a tenant that stored some must be able to read them.
ERP_FILES = System(
    "erp_files",
    "erp_files",
    "erp_files",
    ErpFilesSettings,
    ErpFilesCredentials,
    _erp_files,
    credentials_optional=True,
)

SYSTEMS: dict[str, System[Any, Any, Any]] = {
    s.name: s for s in (PLENTYMARKETS, SHOPWARE6, SHOPIFY, ERP_FILES)
}
