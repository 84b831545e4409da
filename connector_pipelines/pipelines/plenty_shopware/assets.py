"""Assets of the plenty_shopware pipeline, one set per tenant partition. Thin: the work is in
``connector_pipelines.sync.plenty_shopware``."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from connector_pipelines.clients.shopware6 import Shopware6Client
from connector_pipelines.pipelines.partitions import tenant_partitions
from connector_pipelines.pipelines.resources import (
    ConnectorDatabase,
    PlentymarketsResource,
    Shopware6Resource,
    SyncRun,
)
from connector_pipelines.pipelines.runtime import step_boundary, tenant_of, to_metadata
from connector_pipelines.sources.plentymarkets import PlentyReader
from connector_pipelines.sync import plenty_shopware as steps
from connector_pipelines.targets.shopware6 import ShopwareContext
from connector_pipelines.tenants.systems import PlentymarketsSettings, Shopware6Settings

PIPELINE = steps.PIPELINE
PARTITIONS = tenant_partitions(PIPELINE)
GROUP = PIPELINE
PLENTY_POOL = "plentymarkets_api"
SHOPWARE_POOL = "shopware6_api"

CONFIG_ASSETS = {
    "category": ("plenty_categories", "Category tree (details, clients) cached from Plentymarkets."),
    "option": ("plenty_attributes", "Attributes with their values and names: the variant dimensions."),
    "price_list": (
        "plenty_sales_prices",
        "Sales price configurations: which price is which currency and kind.",
    ),
    "manufacturer": ("plenty_manufacturers", "Manufacturers cached from Plentymarkets."),
    "unit": ("plenty_units", "Units of measure (UN/ECE codes) cached from Plentymarkets."),
}


def asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([PIPELINE, name])


@contextmanager
def _plenty(
    connector_db: ConnectorDatabase, plentymarkets: PlentymarketsResource, tenant: str
) -> Iterator[tuple[PlentyReader, PlentymarketsSettings]]:
    """The tenant's Plenty reader (its client closed afterwards) and settings."""
    registry = connector_db.registry()
    settings = registry.settings(tenant, "plentymarkets", PlentymarketsSettings)
    with plentymarkets.client(registry, tenant) as client:
        yield PlentyReader(client, lang=settings.lang, plenty_id=settings.plenty_id), settings


@contextmanager
def _shopware(
    connector_db: ConnectorDatabase, shopware6: Shopware6Resource, tenant: str
) -> Iterator[tuple[Shopware6Client, ShopwareContext, Shopware6Settings]]:
    """The tenant's Shopware client (closed afterwards), the context its writers need, and its settings."""
    registry = connector_db.registry()
    plenty = registry.settings(tenant, "plentymarkets", PlentymarketsSettings)
    settings = registry.settings(tenant, "shopware6", Shopware6Settings)
    with shopware6.client(registry, tenant) as client:
        yield client, steps.shopware_context(client, tenant, plenty, settings), settings


def _config_asset(kind: str, name: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        key_prefix=[PIPELINE],
        group_name=GROUP,
        partitions_def=PARTITIONS,
        kinds={"plentymarkets"},
        pool=PLENTY_POOL,
        description=description,
    )
    def config_cache(
        context: dg.AssetExecutionContext,
        connector_db: ConnectorDatabase,
        plentymarkets: PlentymarketsResource,
        sync_run: SyncRun,
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        tenant = tenant_of(context)
        with step_boundary(context), _plenty(connector_db, plentymarkets, tenant) as (reader, _):
            report = steps.refresh_config(
                connector_db.store(tenant, PIPELINE),
                reader,
                kind,
                mode=sync_run.mode,
                run_id=context.run.run_id,
            )
        return dg.MaterializeResult(metadata=to_metadata(report.metadata(), report.preview))

    return config_cache


config_assets = [
    _config_asset(kind, name, description) for kind, (name, description) in CONFIG_ASSETS.items()
]


@dg.asset(
    key_prefix=[PIPELINE],
    group_name=GROUP,
    partitions_def=PARTITIONS,
    kinds={"plentymarkets"},
    pool=PLENTY_POOL,
    deps=[asset_key("plenty_attributes"), asset_key("plenty_sales_prices")],
    description="Canonical product snapshot (items with variations, prices, stock) with content hashes.",
)
def plenty_products(
    context: dg.AssetExecutionContext,
    connector_db: ConnectorDatabase,
    plentymarkets: PlentymarketsResource,
    sync_run: SyncRun,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    tenant = tenant_of(context)
    with step_boundary(context), _plenty(connector_db, plentymarkets, tenant) as (reader, settings):
        report = steps.snapshot_products(
            connector_db.store(tenant, PIPELINE),
            reader,
            settings,
            mode=sync_run.mode,
            run_id=context.run.run_id,
            item_ids=sync_run.product_ids or None,
        )
    return dg.MaterializeResult(metadata=to_metadata(report.metadata(), report.preview))


@dg.asset(
    key_prefix=[PIPELINE],
    group_name=GROUP,
    partitions_def=PARTITIONS,
    kinds={"shopware"},
    pool=SHOPWARE_POOL,
    deps=[asset_key(CONFIG_ASSETS[k][0]) for k in steps.REFERENCE_KINDS],
    description="Reference data published to Shopware: category tree, manufacturers, units, property groups.",
)
def shopware_reference(
    context: dg.AssetExecutionContext,
    connector_db: ConnectorDatabase,
    shopware6: Shopware6Resource,
    sync_run: SyncRun,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    tenant = tenant_of(context)
    with step_boundary(context), _shopware(connector_db, shopware6, tenant) as (client, ctx, _):
        report = steps.publish_reference(
            connector_db.store(tenant, PIPELINE),
            client,
            ctx,
            mode=sync_run.mode,
            run_id=context.run.run_id,
        )
    return dg.MaterializeResult(metadata=to_metadata(report.metadata(), report.preview))


@dg.asset(
    key_prefix=[PIPELINE],
    group_name=GROUP,
    partitions_def=PARTITIONS,
    kinds={"shopware"},
    pool=SHOPWARE_POOL,
    deps=[plenty_products, shopware_reference],
    description="Products with variants published to Shopware: created, updated, deleted by content hash.",
)
def shopware_products(
    context: dg.AssetExecutionContext,
    connector_db: ConnectorDatabase,
    shopware6: Shopware6Resource,
    sync_run: SyncRun,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    tenant = tenant_of(context)
    with step_boundary(context), _shopware(connector_db, shopware6, tenant) as (client, ctx, settings):
        report = steps.publish_products(
            connector_db.store(tenant, PIPELINE),
            client,
            ctx,
            settings,
            mode=sync_run.mode,
            run_id=context.run.run_id,
            item_ids=sync_run.product_ids or None,
        )
    return dg.MaterializeResult(metadata=to_metadata(report.metadata(), report.preview))


product_assets = [plenty_products, shopware_reference, shopware_products]
