"""Plentymarkets -> Shopware 6: cached config, reference data, products published while Plenty is read,
images queued."""

from __future__ import annotations

from datetime import timedelta

from connector_pipelines.sync import plenty_shopware as steps
from connector_pipelines.sync.checks import fresh, open_record_errors
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.spec import CheckSpec, JobSpec, PipelineSpec, ScheduleSpec, StepSpec
from connector_pipelines.tenants.connections import PLENTYMARKETS, SHOPWARE6

CONFIG_MAX_AGE = timedelta(hours=36)
# Config kind -> (asset, description).
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
CONFIG_STEPS = tuple(name for name, _ in CONFIG_ASSETS.values())

SPEC = PipelineSpec(
    name=steps.PIPELINE,
    description="Plentymarkets -> Shopware 6: config caches, product snapshot and Shopware publication.",
    source=PLENTYMARKETS,
    target=SHOPWARE6,
    steps=(
        *(
            StepSpec(name, steps.config_step(kind), PLENTYMARKETS, description)
            for kind, (name, description) in CONFIG_ASSETS.items()
        ),
        StepSpec(
            "plenty_products",
            steps.products_step,
            PLENTYMARKETS,
            "Canonical product snapshot (items with variations, prices, texts, images, stock) with content "
            "hashes; each batch it writes goes to Shopware while Plenty is still read (shopware_products "
            "reports the publication).",
            deps=("plenty_attributes", "plenty_sales_prices", "shopware_reference"),
        ),
        StepSpec(
            "shopware_reference",
            steps.reference_step,
            SHOPWARE6,
            "Reference data published to Shopware: category tree, manufacturers, units, property groups.",
            deps=tuple(CONFIG_ASSETS[kind][0] for kind in steps.REFERENCE_KINDS),
        ),
        StepSpec(
            "shopware_products",
            steps.shopware_products_step,
            SHOPWARE6,
            "Products with variants published to Shopware: created, updated, deleted by content hash "
            "(the run's publication, with what plenty_products sent while reading).",
            deps=("plenty_products", "shopware_reference"),
        ),
        StepSpec(
            "shopware_media",
            steps.media_step,
            SHOPWARE6,
            "Product images uploaded by URL, one request each, within the run's media budget; the rest "
            "stays queued; images no product links any more are deleted.",
            deps=("shopware_products",),
        ),
    ),
    checks=(
        CheckSpec(
            "open_record_errors",
            "shopware_products",
            "No record is waiting with an unresolved error (source reads and Shopware writes).",
            open_record_errors,
            severity="warn",
        ),
        CheckSpec(
            "reconciliation",
            "shopware_products",
            "Shopware holds as many products as the source snapshot implies (parents plus variants).",
            steps.reconciliation_check,
            system=SHOPWARE6,
        ),
        CheckSpec(
            "required_data_present",
            "plenty_products",
            "Every variant has a price in the default currency and every product a category.",
            steps.required_data_check,
            severity="warn",
        ),
        *(
            CheckSpec(
                "fresh",
                name,
                f"The {kind} cache was refreshed within {CONFIG_MAX_AGE.total_seconds() // 3600:.0f} h.",
                fresh(f"config:{kind}", CONFIG_MAX_AGE),
            )
            for kind, (name, _) in CONFIG_ASSETS.items()
        ),
    ),
    jobs=(
        JobSpec(
            "sync",
            (*CONFIG_STEPS, "plenty_products", "shopware_reference", "shopware_products", "shopware_media"),
            "Config caches, product snapshot and Shopware publication; the mode (delta, full, plan) comes "
            "from the sync_run resource config.",
        ),
        JobSpec(
            "config",
            (*CONFIG_STEPS, "shopware_reference"),
            "Refresh the cached Plentymarkets configuration and publish reference data to Shopware.",
        ),
    ),
    modes={SyncMode.CONFIG: "config", SyncMode.DELTA: "sync", SyncMode.FULL: "sync", SyncMode.PLAN: "sync"},
    onboarding=SyncMode.FULL,
    schedules=(
        ScheduleSpec(
            "config_schedule",
            "config",
            "0 3 * * *",
            "Daily refresh of the config caches and reference data, one run per tenant.",
            SyncMode.CONFIG,
            env="PLENTY_SHOPWARE_CONFIG_CRON",
        ),
        ScheduleSpec(
            "delta_schedule",
            "sync",
            "*/15 * * * *",
            "What changed since the last run, every 15 minutes, one run per tenant.",
            SyncMode.DELTA,
            env="PLENTY_SHOPWARE_DELTA_CRON",
        ),
        ScheduleSpec(
            "full_schedule",
            "sync",
            "0 2 * * 0",
            "Weekly full read (detects deletions), one run per tenant.",
            SyncMode.FULL,
            env="PLENTY_SHOPWARE_FULL_CRON",
        ),
    ),
    product_ids=steps.item_ids,
)
