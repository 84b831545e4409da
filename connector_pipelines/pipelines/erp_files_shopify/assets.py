"""Assets of the erp_files_shopify pipeline, one set per tenant partition. Thin: the work is in
``connector_pipelines.sync.erp_files_shopify``."""

import dagster as dg

from connector_pipelines.pipelines.partitions import tenant_partitions
from connector_pipelines.pipelines.resources import (
    ConnectorDatabase,
    ErpFilesResource,
    ShopifyResource,
    SyncRun,
)
from connector_pipelines.pipelines.runtime import step_boundary, tenant_of, to_metadata
from connector_pipelines.sync import erp_files_shopify as steps
from connector_pipelines.targets.shopify import ShopifyWriter
from connector_pipelines.tenants.systems import ShopifySettings

PIPELINE = steps.PIPELINE
PARTITIONS = tenant_partitions(PIPELINE)
GROUP = PIPELINE
FILES_POOL = "erp_files"
SHOPIFY_POOL = "shopify_api"


@dg.asset(
    key_prefix=[PIPELINE],
    group_name=GROUP,
    partitions_def=PARTITIONS,
    kinds={"erp_files"},
    pool=FILES_POOL,
    description="Canonical product snapshot of the tenant's ERP file (content hashes, the file's identity).",
)
def erp_file_products(
    context: dg.AssetExecutionContext,
    connector_db: ConnectorDatabase,
    erp_files: ErpFilesResource,
    sync_run: SyncRun,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    tenant = tenant_of(context)
    with step_boundary(context):
        registry = connector_db.registry()
        mapping = erp_files.mapping(registry, tenant)
        with erp_files.source(registry, tenant) as source:
            report = steps.snapshot_file(
                connector_db.store(tenant, PIPELINE),
                source,
                mapping,
                mode=sync_run.mode,
                run_id=context.run.run_id,
            )
    return dg.MaterializeResult(metadata=to_metadata(report.metadata(), report.preview))


@dg.asset(
    key_prefix=[PIPELINE],
    group_name=GROUP,
    partitions_def=PARTITIONS,
    kinds={"shopify"},
    pool=SHOPIFY_POOL,
    deps=[erp_file_products],
    description="Products published to Shopify by SKU: created, updated, and deleted / archived / drafted "
    "when gone from the file; bulk mutations for many changes, direct productSet calls for few.",
)
def shopify_products(
    context: dg.AssetExecutionContext,
    connector_db: ConnectorDatabase,
    erp_files: ErpFilesResource,
    shopify: ShopifyResource,
    sync_run: SyncRun,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    tenant = tenant_of(context)
    with step_boundary(context):
        registry = connector_db.registry()
        settings = registry.settings(tenant, "shopify", ShopifySettings)
        language = erp_files.mapping(registry, tenant).language
        store = connector_db.store(tenant, PIPELINE)
        with shopify.client(registry, tenant) as client:
            writer = ShopifyWriter(client, settings, store, mapping_kind=steps.PRODUCTS, language=language)
            report = steps.publish_products(
                store, writer, settings, mode=sync_run.mode, run_id=context.run.run_id
            )
    return dg.MaterializeResult(metadata=to_metadata(report.metadata(), report.preview))


SKU_RECONCILIATION = "sku_reconciliation"


@dg.asset(
    key_prefix=[PIPELINE],
    group_name=GROUP,
    partitions_def=PARTITIONS,
    kinds={"shopify"},
    pool=SHOPIFY_POOL,
    deps=[shopify_products],
    check_specs=[
        dg.AssetCheckSpec(
            SKU_RECONCILIATION,
            asset=dg.AssetKey([PIPELINE, "shopify_skus"]),
            partitions_def=PARTITIONS,
            description="Every SKU of the file is once in Shopify, and no product of this tenant keeps a SKU "
            "the file dropped.",
        )
    ],
    description="The SKUs Shopify holds, read variant by variant through the whole shop and reconciled with "
    "the snapshot. Costly on a large shop, so its own daily job materializes it, not the syncs.",
)
def shopify_skus(
    context: dg.AssetExecutionContext, connector_db: ConnectorDatabase, shopify: ShopifyResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    tenant = tenant_of(context)
    with step_boundary(context):
        store = connector_db.store(tenant, PIPELINE)
        with shopify.client(connector_db.registry(), tenant) as client:
            report = steps.reconcile_skus(store, client)
            calls = client.stats.calls
    counts = {
        "expected_skus": report.expected,
        "shopify_variants": report.in_shopify,
        "missing": len(report.missing),
        "unexpected": len(report.unexpected),
        "duplicated": len(report.duplicated),
    }
    return dg.MaterializeResult(
        metadata=to_metadata({**counts, "api_calls_shopify": calls}, report.preview()),
        check_results=[
            dg.AssetCheckResult(
                check_name=SKU_RECONCILIATION,
                passed=report.passed,
                metadata=to_metadata(counts, report.preview()),
            )
        ],
    )
