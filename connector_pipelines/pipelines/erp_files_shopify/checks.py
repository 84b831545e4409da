"""Asset checks per tenant partition; they read the connector database only and run with every sync. (The
SKU reconciliation reads the whole shop: it is the check of the ``shopify_skus`` asset, run daily.)"""

import dagster as dg

from connector_pipelines.pipelines.erp_files_shopify.assets import (
    PARTITIONS,
    PIPELINE,
    erp_file_products,
    shopify_products,
)
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.pipelines.runtime import tenant_of, to_metadata
from connector_pipelines.sync import erp_files_shopify as steps


@dg.asset_check(
    asset=shopify_products,
    partitions_def=PARTITIONS,
    description="No record is waiting with an unresolved error (bad file rows and Shopify rejections).",
)
def open_record_errors(
    context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase
) -> dg.AssetCheckResult:
    total, preview = steps.open_errors_preview(connector_db.store(tenant_of(context), PIPELINE))
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=to_metadata({"open_errors": total}, preview),
    )


@dg.asset_check(
    asset=erp_file_products,
    partitions_def=PARTITIONS,
    description="Every product has a title and every variant a SKU and a price after mapping (measured as "
    "the file is read).",
)
def mapping_coverage(
    context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase
) -> dg.AssetCheckResult:
    coverage = steps.mapping_coverage(connector_db.store(tenant_of(context), PIPELINE))
    preview = "\n".join(
        f"- {name}: {count} product(s), e.g. {', '.join(f'`{k}`' for k in coverage.examples[name][:10])}"
        for name, count in coverage.missing.items()
        if count
    )
    counts = {f"missing_{name.replace('.', '_')}": count for name, count in coverage.missing.items()}
    return dg.AssetCheckResult(
        passed=coverage.complete,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=to_metadata({"products": coverage.products, **counts}, preview),
    )


checks = [open_record_errors, mapping_coverage]
