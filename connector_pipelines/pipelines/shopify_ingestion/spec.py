"""Shopify -> PostgreSQL (SQLite for the demo): customers with encrypted personal data, products with
variants, orders with line items, and the daily sales computed from them."""

from __future__ import annotations

from datetime import timedelta

from connector_pipelines.clients.shopify_export import ObjectName
from connector_pipelines.sync import shopify_ingestion as ingestion
from connector_pipelines.sync.checks import open_record_errors
from connector_pipelines.sync.runtime import StepContext, StepFunction, StepReport, SyncMode
from connector_pipelines.sync.shopify_daily_sales import sales_step
from connector_pipelines.sync.shopify_webhooks import ALL_TOPICS, apply_webhooks
from connector_pipelines.sync.spec import CheckSpec, InboxSpec, JobSpec, PipelineSpec, ScheduleSpec, StepSpec
from connector_pipelines.tenants.connections import System
from connector_pipelines.tenants.systems import ShopifyCredentials, ShopifySettings

SHOPIFY = ingestion.SHOPIFY_SOURCE
# The daily sales read the tables only: their own kind and pool (an aggregation per tenant at a time).
SALES = System(
    SHOPIFY.name, "pandas", "shopify_ingestion_db", ShopifySettings, ShopifyCredentials, SHOPIFY.connect
)
ORDERS_WINDOW = timedelta(days=7)
FRESH = {"customers": timedelta(hours=13), "products": timedelta(hours=49), "orders": timedelta(hours=2)}


def _object_step(obj: ObjectName) -> StepFunction:
    """The object's read in the run's mode, or, in ``webhook`` mode, its waiting webhooks applied."""

    def run(ctx: StepContext) -> StepReport:
        if ctx.mode == SyncMode.WEBHOOK:
            return apply_webhooks(ctx, obj)
        return ingestion.sync_object(ctx, obj)

    return run


def _object_checks(obj: ObjectName) -> tuple[CheckSpec, ...]:
    asset = ingestion.STEPS[obj]
    hours = FRESH[obj].total_seconds() / 3600
    return (
        CheckSpec(
            ingestion.MATCHES_SHOPIFY,
            asset,
            f"The table holds as many live {obj} as Shopify counts ({obj}Count), records waiting with a read "
            "error included (evaluated by the step).",
            severity="warn",
        ),
        CheckSpec(
            "fresh",
            asset,
            f"The last complete read of the {obj} (incremental or full) started within {hours:.0f} h.",
            ingestion.fresh_object(obj, FRESH[obj]),
            severity="warn",
        ),
    )


SPEC = PipelineSpec(
    name=ingestion.PIPELINE,
    description="Shopify -> ingestion tables: bulk backfill, incremental reads, webhooks; personal data "
    "encrypted per tenant.",
    source=SHOPIFY,
    target=SHOPIFY,
    steps=(
        StepSpec(
            "shopify_customers",
            _object_step("customers"),
            SHOPIFY,
            "Customers with their addresses; email, names, phone and addresses encrypted with the tenant's "
            "data key (email also as a keyed hash). Webhook runs apply the privacy topics first.",
        ),
        StepSpec(
            "shopify_products",
            _object_step("products"),
            SHOPIFY,
            "Products with their variants (SKU, price, options, stock).",
        ),
        StepSpec(
            "shopify_orders",
            _object_step("orders"),
            SHOPIFY,
            "Orders with their line items, in the shop's currency.",
            deps=("shopify_customers",),
        ),
        StepSpec(
            "shopify_daily_sales",
            sales_step,
            SALES,
            "Per day and currency: orders, revenue, average order value, new and returning customers "
            "(pandas, from the orders table).",
            deps=("shopify_orders",),
        ),
    ),
    checks=(
        *(c for obj in ingestion.STEPS for c in _object_checks(obj)),
        CheckSpec(
            "every_order_has_lines",
            "shopify_orders",
            "No live order is stored without its line items.",
            ingestion.every_order_has_lines,
        ),
        CheckSpec(
            "open_record_errors",
            "shopify_customers",
            "No record of the shop waits with an unresolved read error (any object).",
            open_record_errors,
            severity="warn",
        ),
    ),
    jobs=(
        JobSpec(
            "sync",
            ("shopify_customers", "shopify_products", "shopify_orders", "shopify_daily_sales"),
            "Every object, then the daily sales; the mode (delta, full, plan, webhook) and the options "
            "(since, until, skip_existing) come from the sync_run resource config.",
        ),
        JobSpec("customers", ("shopify_customers",), "Customers only."),
        JobSpec("products", ("shopify_products",), "Products only."),
        JobSpec("orders", ("shopify_orders", "shopify_daily_sales"), "Orders, then the daily sales."),
    ),
    modes={SyncMode.DELTA: "sync", SyncMode.FULL: "sync", SyncMode.PLAN: "sync", SyncMode.WEBHOOK: "sync"},
    onboarding=SyncMode.FULL,
    schedules=(
        ScheduleSpec(
            "customers_schedule",
            "customers",
            "0 */6 * * *",
            "Customers changed since the last read, every 6 hours, one run per tenant.",
            SyncMode.DELTA,
            env="SHOPIFY_INGESTION_CUSTOMERS_CRON",
        ),
        ScheduleSpec(
            "products_schedule",
            "products",
            "0 2 * * *",
            "Products changed since the last read, daily at 02:00, one run per tenant.",
            SyncMode.DELTA,
            env="SHOPIFY_INGESTION_PRODUCTS_CRON",
        ),
        ScheduleSpec(
            "orders_schedule",
            "orders",
            "*/30 * * * *",
            "Orders updated in the last 7 days read again every 30 minutes (what webhooks missed), one run "
            "per tenant.",
            SyncMode.DELTA,
            env="SHOPIFY_INGESTION_ORDERS_CRON",
            window=ORDERS_WINDOW,
        ),
        ScheduleSpec(
            "full_schedule",
            "sync",
            "0 1 * * 0",
            "A full read of every object weekly, Sunday 01:00 (deletions included), one run per tenant.",
            SyncMode.FULL,
            env="SHOPIFY_INGESTION_FULL_CRON",
        ),
    ),
    inboxes=(
        InboxSpec(
            "webhook_sensor",
            "sync",
            "shopify",
            ALL_TOPICS,
            "Verified Shopify webhooks waiting in the service's inbox: one prioritised run per tenant "
            "applies them (the privacy topics first).",
        ),
    ),
)
