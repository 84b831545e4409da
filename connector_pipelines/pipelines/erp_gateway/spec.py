"""ERP (Logo, Netsis or CSV files) <-> shop (Shopify or Shopware 6): stock and prices to the shop by polling
and webhooks, paid orders into the ERP exactly once, shipments back as fulfilments."""

from __future__ import annotations

from connector_pipelines.sync import erp_gateway_orders as orders
from connector_pipelines.sync import erp_gateway_stock as stock
from connector_pipelines.sync.erp_gateway import (
    ERP,
    PIPELINE,
    SHOP,
    SYSTEM_AVAILABLE,
    breaker_check,
    dead_letters_check,
    poll_due,
    record_errors_check,
)
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.spec import (
    CheckSpec,
    InboxSpec,
    JobSpec,
    PipelineSpec,
    ScheduleSpec,
    StepSpec,
)

ASSETS = (
    "erp_items",
    "erp_stock",
    "erp_prices",
    "shop_stock",
    "shop_prices",
    "orders_to_erp",
    "shipments_back",
)
AVAILABLE = (
    "The systems the step uses are available: no circuit breaker open (a skipped system fails this check "
    "and names the reason and the next probe)."
)

SPEC = PipelineSpec(
    name=PIPELINE,
    description="ERP (Logo, Netsis or CSV files) <-> shop (Shopify or Shopware 6): stock and prices to the "
    "shop, paid orders into the ERP exactly once, shipments back.",
    source=ERP,
    target=SHOP,
    steps=(
        StepSpec(
            "erp_items",
            stock.items_step,
            ERP,
            "Item cache of the ERP (names, VAT rates, the SKUs it knows), read whole by full and config runs "
            "and when older than a day.",
        ),
        StepSpec(
            "erp_stock",
            stock.stock_step,
            ERP,
            "Available stock per SKU in the tenant's warehouse, with content hashes: what changed since the "
            "last poll (full: everything), or the SKUs of waiting inventory.changed webhooks.",
        ),
        StepSpec(
            "erp_prices",
            stock.prices_step,
            ERP,
            "The shop price per SKU from the tenant's price list (the one valid today), with its VAT basis "
            "and rate: what changed since the last poll, or the SKUs of waiting product.updated webhooks.",
            deps=("erp_items",),
        ),
        StepSpec(
            "shop_stock",
            stock.stock_target_step,
            SHOP,
            "Stock the shop holds: the SKUs whose ERP stock changed, written in batches; a full run reads "
            "the shop first and writes only what differs there; SKUs gone from the ERP get stock 0.",
            deps=("erp_stock",),
        ),
        StepSpec(
            "shop_prices",
            stock.prices_target_step,
            SHOP,
            "Prices the shop holds: the SKUs whose ERP price changed, on the ERP's VAT basis (converted "
            "where the shop keeps the other one).",
            deps=("erp_prices",),
        ),
        StepSpec(
            "orders_to_erp",
            orders.orders_step,
            ERP,
            "The shop's paid orders since the cursor in the ERP, each exactly once: customer found or "
            "created, lines by SKU, the shop's order number in the ERP document (looked up before any "
            "create).",
            deps=("erp_items",),
        ),
        StepSpec(
            "shipments_back",
            orders.shipments_step,
            SHOP,
            "Orders the ERP shipped, as fulfilments with their tracking numbers in the shop.",
            deps=("orders_to_erp",),
        ),
    ),
    checks=(
        *(CheckSpec(SYSTEM_AVAILABLE, asset, AVAILABLE) for asset in ASSETS),
        CheckSpec(
            stock.STOCK_PARITY,
            "shop_stock",
            f"A random sample of {stock.PARITY_SAMPLE} SKUs read back from the shop: stock and price equal "
            "the ERP's.",
            stock.parity_check,
            system=SHOP,
        ),
        CheckSpec(
            "dead_letters",
            "shop_stock",
            "No record waits as a dead letter (failed five times; retried only on `errors retry`).",
            dead_letters_check,
        ),
        CheckSpec(
            "breaker_state",
            "erp_stock",
            "Every circuit breaker of the tenant (ERP and shop) is closed.",
            breaker_check,
        ),
        CheckSpec(
            "order_backlog_age",
            "orders_to_erp",
            f"The oldest paid order not yet in the ERP waits less than "
            f"{orders.BACKLOG_MAX_AGE.total_seconds() / 60:.0f} minutes, and the orders were read as "
            "recently.",
            orders.backlog_check,
        ),
        CheckSpec(
            "open_record_errors",
            "shop_prices",
            "No record is waiting with an unresolved error (rows the mapping cannot read, shop refusals, "
            "orders the ERP refused).",
            record_errors_check,
            severity="warn",
        ),
    ),
    jobs=(
        JobSpec(
            "sync",
            ASSETS,
            "Everything: items, stock and prices into the shop, orders into the ERP, shipments back; the "
            "mode (delta, full, plan) comes from the sync_run resource config.",
        ),
        JobSpec(
            "stock_prices",
            ("erp_stock", "erp_prices", "shop_stock", "shop_prices"),
            "Stock and prices from the ERP into the shop: the poll (delta), or the SKUs of waiting webhooks.",
        ),
        JobSpec("orders", ("orders_to_erp",), "New paid orders of the shop into the ERP."),
        JobSpec("shipments", ("shipments_back",), "Orders the ERP shipped, back to the shop."),
        JobSpec("config", ("erp_items",), "Refresh the ERP's item cache."),
    ),
    modes={
        SyncMode.CONFIG: "config",
        SyncMode.DELTA: "sync",
        SyncMode.FULL: "sync",
        SyncMode.PLAN: "sync",
        SyncMode.WEBHOOK: "stock_prices",
    },
    onboarding=SyncMode.FULL,
    schedules=(
        ScheduleSpec(
            "stock_prices_poll",
            "stock_prices",
            "* * * * *",
            "Stock and prices polled from the ERP at each tenant's poll_interval_minutes (default 5).",
            SyncMode.DELTA,
            env="ERP_GATEWAY_POLL_CRON",
            due=poll_due,
        ),
        ScheduleSpec(
            "orders_schedule",
            "orders",
            "*/3 * * * *",
            "New paid orders into the ERP every three minutes, one run per tenant.",
            SyncMode.DELTA,
            env="ERP_GATEWAY_ORDERS_CRON",
        ),
        ScheduleSpec(
            "shipments_schedule",
            "shipments",
            "*/15 * * * *",
            "Shipments back to the shop every quarter of an hour, one run per tenant.",
            SyncMode.DELTA,
            env="ERP_GATEWAY_SHIPMENTS_CRON",
        ),
        ScheduleSpec(
            "full_schedule",
            "sync",
            "15 2 * * *",
            "Daily full: items, every stock level and price compared with the shop, orders, shipments.",
            SyncMode.FULL,
            env="ERP_GATEWAY_FULL_CRON",
        ),
    ),
    inboxes=(
        InboxSpec(
            "erp_webhooks",
            "stock_prices",
            stock.ERP_SOURCE,
            (stock.STOCK_TOPIC, stock.PRODUCT_TOPIC),
            "Signed inventory.changed and product.updated webhooks of the tenant's ERP start a run for just "
            "those SKUs, ahead of bulk work.",
            priority=10,
        ),
    ),
)
