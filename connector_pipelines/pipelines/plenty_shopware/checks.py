"""Asset checks per tenant partition."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from connector_pipelines.pipelines.plenty_shopware.assets import (
    CONFIG_ASSETS,
    PARTITIONS,
    PIPELINE,
    plenty_products,
    shopware_products,
)
from connector_pipelines.pipelines.resources import ConnectorDatabase, Shopware6Resource
from connector_pipelines.pipelines.runtime import step_boundary, tenant_of, to_metadata
from connector_pipelines.sync import plenty_shopware as steps

CONFIG_MAX_AGE = timedelta(hours=36)


@dg.asset_check(
    asset=shopware_products,
    partitions_def=PARTITIONS,
    description="No record is waiting with an unresolved error (source reads and Shopware writes).",
)
def open_record_errors(
    context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase
) -> dg.AssetCheckResult:
    store = connector_db.store(tenant_of(context), PIPELINE)
    errors = store.open_errors(limit=20)
    total = store.count_open_errors()
    table = "\n".join(f"| `{e.record_key}` | {e.stage} | {e.attempts} | {e.reason[:200]} |" for e in errors)
    preview = f"| record | stage | attempts | reason |\n|---|---|---|---|\n{table}" if errors else ""
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=to_metadata({"open_errors": total}, preview),
    )


@dg.asset_check(
    asset=shopware_products,
    partitions_def=PARTITIONS,
    pool="shopware6_api",
    description="Shopware holds as many products as the source snapshot implies (parents plus variants).",
)
def reconciliation(
    context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase, shopware6: Shopware6Resource
) -> dg.AssetCheckResult:
    tenant = tenant_of(context)
    with step_boundary(context):
        store = connector_db.store(tenant, PIPELINE)
        expected = steps.expected_shopware_products(store)
        with shopware6.client(connector_db.registry(), tenant) as client:
            actual = steps.shopware_product_count(client)
    return dg.AssetCheckResult(
        passed=expected == actual,
        metadata=to_metadata(
            {"expected_products": expected, "shopware_products": actual, "difference": actual - expected}
        ),
    )


@dg.asset_check(
    asset=plenty_products,
    partitions_def=PARTITIONS,
    description="Every variant has a price in the default currency and every product a category.",
)
def required_data_present(
    context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase
) -> dg.AssetCheckResult:
    store = connector_db.store(tenant_of(context), PIPELINE)
    missing = steps.products_missing_price_or_category(store, "EUR")
    preview = "\n".join(f"- `{k}`" for k in missing[:20])
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=to_metadata({"products_missing_data": len(missing)}, preview),
    )


def _freshness_check(kind: str, asset_name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey([PIPELINE, asset_name]),
        name="fresh",
        partitions_def=PARTITIONS,
        description=f"The {kind} cache was refreshed within {CONFIG_MAX_AGE.total_seconds() // 3600:.0f} h.",
    )
    def fresh(context: dg.AssetCheckExecutionContext, connector_db: ConnectorDatabase) -> dg.AssetCheckResult:
        store = connector_db.store(tenant_of(context), PIPELINE)
        last = steps.latest_success(store, f"config:{kind}")
        age = datetime.now(UTC) - last if last else None
        return dg.AssetCheckResult(
            passed=age is not None and age <= CONFIG_MAX_AGE,
            metadata=to_metadata({"age_hours": round(age.total_seconds() / 3600, 2) if age else -1.0}),
        )

    return fresh


checks = [
    open_record_errors,
    reconciliation,
    required_data_present,
    *(_freshness_check(kind, name) for kind, (name, _) in CONFIG_ASSETS.items()),
]
