"""A tenant of any pipeline wired to emulators on loopback (from the pipeline's sandbox recipe), and a Dagster
instance holding its partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from connector_pipelines.pipelines.catalog import pipeline_recipe
from connector_pipelines.runner import RunSummary, run_sync
from connector_pipelines.sandbox.convergence import ConvergenceReport
from connector_pipelines.sandbox.hub import PlentyAccount, SandboxHub, ShopwareAccount
from connector_pipelines.sandbox.recipe import Catalog, SandboxRecipe, register_tenant
from connector_pipelines.store.models import SyncRun
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry

TENANT = "acme"
PIPELINE = "plenty_shopware"


@dataclass
class SandboxTenant:
    """A tenant of ``recipe``'s pipeline on its own emulator accounts of a served hub, with a Dagster instance
    holding its partition."""

    slug: str
    hub: SandboxHub
    recipe: SandboxRecipe
    registry: TenantRegistry
    instance: dg.DagsterInstance

    @property
    def pipeline(self) -> str:
        return self.recipe.pipeline

    def sync(self, mode: SyncMode = SyncMode.DELTA, product_ids: list[str] | None = None) -> RunSummary:
        return run_sync(self.slug, self.pipeline, mode, instance=self.instance, product_ids=product_ids)

    def convergence(self) -> ConvergenceReport:
        return self.recipe.convergence(self.hub, self.slug)

    def store(self) -> TenantStore:
        return TenantStore(self.registry.db, self.slug, self.pipeline)

    def store_runs(self) -> list[SyncRun]:
        with self.registry.db.session() as session:
            return list(session.scalars(select(SyncRun)))

    def event_log_text(self, run_id: str) -> str:
        """Everything the UI can show of a run: messages, errors, metadata (serialized events)."""
        return "\n".join(dg.serialize_value(entry) for entry in self.instance.all_logs(run_id))


def sandbox_tenant(
    hub: SandboxHub,
    registry: TenantRegistry,
    pipeline: str,
    *,
    slug: str = TENANT,
    catalog: Catalog | None = None,
    target: dict[str, Any] | None = None,
    target_emulator: Any = None,
) -> SandboxTenant:
    """A tenant of any pipeline from its recipe: its emulator accounts (``catalog``, 12 x 3 by default),
    registered with the recipe's test settings and ``target`` added, and its partition in a fresh Dagster
    instance."""
    recipe = pipeline_recipe(pipeline)
    recipe.add_accounts(hub, slug, catalog or Catalog(), target_emulator=target_emulator)
    target = {**recipe.harness_target, **(target or {})}
    register_tenant(registry, recipe, hub.accounts(), slug, name=slug.upper(), target=target)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(pipeline, [slug])
    return SandboxTenant(slug, hub, recipe, registry, instance)


@dataclass
class PlentyShopwareTenant(SandboxTenant):
    plenty: PlentyAccount
    shopware: ShopwareAccount


def register(
    hub: SandboxHub,
    registry: TenantRegistry,
    slug: str,
    *,
    shopware: dict[str, Any] | None = None,
) -> tuple[PlentyAccount, ShopwareAccount]:
    """Register ``slug`` for plenty_shopware on its accounts of ``hub`` (added by the caller)."""
    register_tenant(
        registry, pipeline_recipe(PIPELINE), hub.accounts(), slug, name=slug.upper(), target=shopware
    )
    return hub.plenty[slug], hub.shopware[slug]


def make_tenant(
    hub: SandboxHub,
    registry: TenantRegistry,
    *,
    products: int = 12,
    variants: int = 3,
    shopware: dict[str, Any] | None = None,
) -> PlentyShopwareTenant:
    catalog = Catalog(products, variants, seed=7)
    base = sandbox_tenant(hub, registry, PIPELINE, catalog=catalog, target=shopware)
    return PlentyShopwareTenant(**vars(base), plenty=hub.plenty[TENANT], shopware=hub.shopware[TENANT])


@pytest.fixture
def tenant(hub: SandboxHub, sqlite_registry: TenantRegistry) -> PlentyShopwareTenant:
    return make_tenant(hub, sqlite_registry)
