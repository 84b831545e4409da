"""A tenant wired to emulators on loopback, and a Dagster instance holding its partition."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from connector_pipelines.pipelines.runs import SyncMode
from connector_pipelines.runner import RunSummary, run_sync
from connector_pipelines.sandbox.convergence import ConvergenceReport, check_convergence
from connector_pipelines.sandbox.hub import PlentyAccount, SandboxHub, ShopwareAccount
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import SyncRun
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.tenants.registry import TenantRegistry

TENANT = "acme"
PIPELINE = "plenty_shopware"


@dataclass
class PlentyShopwareTenant:
    slug: str
    hub: SandboxHub
    plenty: PlentyAccount
    shopware: ShopwareAccount
    registry: TenantRegistry
    instance: dg.DagsterInstance

    def sync(self, mode: SyncMode, product_ids: list[int] | None = None) -> RunSummary:
        return run_sync(self.slug, PIPELINE, mode, instance=self.instance, product_ids=product_ids)

    def convergence(self) -> ConvergenceReport:
        return check_convergence(self.plenty.emulator, self.shopware.emulator)

    def store(self) -> TenantStore:
        return TenantStore(self.registry.db, self.slug, PIPELINE)

    def store_runs(self) -> list[SyncRun]:
        with self.registry.db.session() as session:
            return list(session.scalars(select(SyncRun)))

    def event_log_text(self, run_id: str) -> str:
        """Everything the UI can show of a run: messages, errors, metadata (serialized events)."""
        return "\n".join(dg.serialize_value(entry) for entry in self.instance.all_logs(run_id))


def register(
    hub: SandboxHub,
    registry: TenantRegistry,
    slug: str,
    *,
    shopware: dict[str, Any] | None = None,
) -> tuple[PlentyAccount, ShopwareAccount]:
    plenty = hub.plenty[slug]
    shop = hub.shopware[slug]
    registry.add(
        slug,
        slug.upper(),
        [PIPELINE],
        {
            "plentymarkets": {"base_url": hub.base_url("plentymarkets", slug)},
            "shopware6": {"base_url": hub.base_url("shopware6", slug), **(shopware or {})},
        },
    )
    registry.set_credentials(
        slug, "plentymarkets", {"username": plenty.username, "password": plenty.password}
    )
    registry.set_credentials(
        slug, "shopware6", {"client_id": shop.client_id, "client_secret": shop.client_secret}
    )
    return plenty, shop


@pytest.fixture
def hub() -> Iterator[SandboxHub]:
    sandbox = SandboxHub()
    sandbox.serve()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sqlite_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> TenantRegistry:
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    return TenantRegistry(Database(url))


def make_tenant(
    hub: SandboxHub,
    registry: TenantRegistry,
    *,
    products: int = 12,
    variants: int = 3,
    shopware: dict[str, Any] | None = None,
) -> PlentyShopwareTenant:
    hub.add_plenty(TENANT, products=products, variants=variants, seed=7)
    hub.add_shopware(TENANT)
    plenty, shop = register(hub, registry, TENANT, shopware=shopware)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PIPELINE, [TENANT])
    return PlentyShopwareTenant(TENANT, hub, plenty, shop, registry, instance)


@pytest.fixture
def tenant(hub: SandboxHub, sqlite_registry: TenantRegistry) -> PlentyShopwareTenant:
    return make_tenant(hub, sqlite_registry)
