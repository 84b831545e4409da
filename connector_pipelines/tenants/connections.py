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
    ErpCsvSettings,
    ErpFilesCredentials,
    ErpFilesSettings,
    LogoCredentials,
    LogoSettings,
    NetsisCredentials,
    NetsisSettings,
    PlentymarketsCredentials,
    PlentymarketsSettings,
    PlytixCredentials,
    PlytixSettings,
    ShopifyCredentials,
    ShopifySettings,
    Shopware6Credentials,
    Shopware6Settings,
    WebflowCredentials,
    WebflowSettings,
)

# The clients are imported when a system is opened: the tenant commands of the CLI need the models only.
if TYPE_CHECKING:
    from connector_pipelines.clients.erp_files import FileSource
    from connector_pipelines.clients.plentymarkets import PlentymarketsClient
    from connector_pipelines.clients.plytix import PlytixClient
    from connector_pipelines.clients.shopify import ShopifyClient
    from connector_pipelines.clients.shopware6 import Shopware6Client
    from connector_pipelines.clients.webflow import WebflowClient
    from connector_pipelines.sources.erp_gateway.csv import CsvConnector
    from connector_pipelines.sources.erp_gateway.logo import LogoConnector
    from connector_pipelines.sources.erp_gateway.netsis import NetsisConnector

S = TypeVar("S", bound=BaseModel)
C = TypeVar("C", bound=BaseModel)
H = TypeVar("H")


@dataclass(frozen=True)
class System(Generic[S, C, H]):
    """One external system. ``connect`` opens its client (or file source) from validated settings and
    credentials (``None`` only where ``credentials_optional``) with an optional cap on its timeouts.
    ``probe`` makes one cheap authenticated call through an opened client and says what it saw: it proves
    credentials (``tenants set-credentials --test``)."""

    name: str
    kind: str  # the Dagster kind tag (its icon in the UI)
    pool: str  # the Dagster pool: how many steps may use this system's API at once, over all tenants
    settings: type[S]
    credentials: type[C]
    connect: Callable[[S, C | None, float | None], AbstractContextManager[H]]
    credentials_optional: bool = False
    probe: Callable[[H], str] | None = None


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
    from connector_pipelines.clients.erp_files import open_source

    if cap_s is not None and settings.timeout_s > cap_s:
        settings = settings.model_copy(update={"timeout_s": cap_s})
    return open_source(settings, creds)


def _plytix(settings: PlytixSettings, creds: PlytixCredentials | None, cap_s: float | None) -> PlytixClient:
    from connector_pipelines.clients.plytix import PlytixClient

    assert creds is not None
    return PlytixClient(
        settings.base_url,
        creds.api_key.get_secret_value(),
        creds.api_password.get_secret_value(),
        auth_url=settings.token_url(),
        page_size=settings.page_size,
        requests_per_10s=settings.requests_per_10s,
        requests_per_hour=settings.requests_per_hour,
        timeout_s=_capped(60.0, cap_s),
    )


def _webflow(
    settings: WebflowSettings, creds: WebflowCredentials | None, cap_s: float | None
) -> WebflowClient:
    from connector_pipelines.clients.webflow import WebflowClient

    assert creds is not None
    return WebflowClient(
        settings.base_url,
        creds.token.get_secret_value(),
        rate_limit_per_minute=settings.rate_limit_per_minute,
        timeout_s=_capped(60.0, cap_s),
    )


def _probe_plentymarkets(client: PlentymarketsClient) -> str:
    return f"logged in; {len(client.webstores())} webstore(s) visible"


def _probe_shopware6(client: Shopware6Client) -> str:
    from connector_pipelines.clients.shopware6 import Criteria, TotalCountMode

    found = client.search("sales_channel", Criteria(limit=1, total_count_mode=TotalCountMode.EXACT))
    return f"token granted; {found.total} sales channel(s) visible"


def _probe_shopify(client: ShopifyClient) -> str:
    shop = client.graphql("query ConnectionProbe { shop { name } }")["shop"]
    name = shop.get("name") if isinstance(shop, dict) else None
    return f"token accepted by shop '{name}'"


def _probe_plytix(client: PlytixClient) -> str:
    families = client.families()
    return f"API key accepted: {len(families)} product families"


def _probe_webflow(client: WebflowClient) -> str:
    sites = client.sites()
    names = ", ".join(f"{s.display_name or s.id} ({s.id})" for s in sites[:3])
    return (
        f"token accepted: {len(sites)} site(s): {names}" if sites else "token accepted, but it sees no site"
    )


def _probe_erp_files(source: FileSource) -> str:
    found = source.newest()
    size = f", {found.size} bytes" if found.size is not None else ""
    return f"logged in to {source.location}; newest file {found.path}{size}"


# The ERPs of the gateway open as connectors (sources/erp_gateway), each with its client inside; the probe is
# the connector's test connection.


def _logo(settings: LogoSettings, creds: LogoCredentials | None, cap_s: float | None) -> LogoConnector:
    from connector_pipelines.sources.erp_gateway.logo import open_logo

    return open_logo(settings, creds, cap_s)


def _netsis(
    settings: NetsisSettings, creds: NetsisCredentials | None, cap_s: float | None
) -> NetsisConnector:
    from connector_pipelines.sources.erp_gateway.netsis import open_netsis

    return open_netsis(settings, creds, cap_s)


def _erp_csv(
    settings: ErpCsvSettings, creds: ErpFilesCredentials | None, cap_s: float | None
) -> CsvConnector:
    from connector_pipelines.sources.erp_gateway.csv import open_csv

    return open_csv(settings, creds, cap_s)


def _probe_logo(connector: LogoConnector) -> str:
    return connector.test_connection()


def _probe_netsis(connector: NetsisConnector) -> str:
    return connector.test_connection()


def _probe_erp_csv(connector: CsvConnector) -> str:
    return connector.test_connection()


PLENTYMARKETS = System(
    "plentymarkets",
    "plentymarkets",
    "plentymarkets_api",
    PlentymarketsSettings,
    PlentymarketsCredentials,
    _plentymarkets,
    probe=_probe_plentymarkets,
)
# Dagster's kind icon is named after the product (shopware), the system after its API version.
SHOPWARE6 = System(
    "shopware6",
    "shopware",
    "shopware6_api",
    Shopware6Settings,
    Shopware6Credentials,
    _shopware6,
    probe=_probe_shopware6,
)
SHOPIFY = System(
    "shopify", "shopify", "shopify_api", ShopifySettings, ShopifyCredentials, _shopify, probe=_probe_shopify
)
# Anonymous FTP needs no credentials; a tenant that stored some must be able to read them.
ERP_FILES = System(
    "erp_files",
    "erp_files",
    "erp_files",
    ErpFilesSettings,
    ErpFilesCredentials,
    _erp_files,
    credentials_optional=True,
    probe=_probe_erp_files,
)

PLYTIX = System(
    "plytix", "plytix", "plytix_api", PlytixSettings, PlytixCredentials, _plytix, probe=_probe_plytix
)
WEBFLOW = System(
    "webflow", "webflow", "webflow_api", WebflowSettings, WebflowCredentials, _webflow, probe=_probe_webflow
)

LOGO = System("logo", "logo", "logo_api", LogoSettings, LogoCredentials, _logo, probe=_probe_logo)
NETSIS = System(
    "netsis", "netsis", "netsis_api", NetsisSettings, NetsisCredentials, _netsis, probe=_probe_netsis
)
# Files in a folder or on anonymous FTP need no credentials.
ERP_CSV = System(
    "erp_csv",
    "csv",
    "erp_files",
    ErpCsvSettings,
    ErpFilesCredentials,
    _erp_csv,
    credentials_optional=True,
    probe=_probe_erp_csv,
)
ERP_SYSTEMS = (LOGO, NETSIS, ERP_CSV)  # the ERPs of the gateway: sources/erp_gateway/registry.py opens them

SYSTEMS: dict[str, System[Any, Any, Any]] = {
    s.name: s for s in (PLENTYMARKETS, SHOPWARE6, SHOPIFY, ERP_FILES, PLYTIX, WEBFLOW, *ERP_SYSTEMS)
}
