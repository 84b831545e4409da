"""Plytix PIM -> Webflow e-commerce: config cache, product snapshot, categories and products published."""

from __future__ import annotations

from datetime import timedelta

from connector_pipelines.sync import plytix_webflow as steps
from connector_pipelines.sync.checks import fresh, open_record_errors
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.spec import CheckSpec, JobSpec, PipelineSpec, ScheduleSpec, StepSpec
from connector_pipelines.tenants.connections import PLYTIX, WEBFLOW

CONFIG_MAX_AGE = timedelta(hours=36)
RATE_LIMITS = "Calls were paced within the API's rate limit: no answer 429 in the step's last run."

SPEC = PipelineSpec(
    name=steps.PIPELINE,
    description="Plytix PIM -> Webflow e-commerce: products with variant matrices, within both rate limits.",
    source=PLYTIX,
    target=WEBFLOW,
    steps=(
        StepSpec(
            "plytix_config",
            steps.config_step,
            PLYTIX,
            "Attributes, families with their variant-level attributes, and categories cached from Plytix.",
        ),
        StepSpec(
            "plytix_products",
            steps.products_step,
            PLYTIX,
            "Canonical product snapshot: Plytix parents with their variants (and single products), through "
            "the tenant's field mapping, with content hashes.",
            deps=("plytix_config",),
        ),
        StepSpec(
            "webflow_reference",
            steps.reference_step,
            WEBFLOW,
            "The site's currency and collections, and the Plytix categories as items of its category "
            "collection.",
            deps=("plytix_config",),
        ),
        StepSpec(
            "webflow_products",
            steps.webflow_products_step,
            WEBFLOW,
            "Products with their SKUs published to Webflow: created (one call plus one for the other SKUs), "
            "updated with only what changed, archived when gone from Plytix.",
            deps=("plytix_products", "webflow_reference"),
        ),
        StepSpec(
            "webflow_skus",
            steps.skus_step,
            WEBFLOW,
            "The SKUs the site holds, read product by product and reconciled with the snapshot. It reads the "
            "whole site, so its own daily job materializes it, not the syncs.",
            deps=("webflow_products",),
        ),
    ),
    checks=(
        CheckSpec(
            "open_record_errors",
            "webflow_products",
            "No record is waiting with an unresolved error (Plytix variants that cannot be told apart, "
            "Webflow rejections).",
            open_record_errors,
            severity="warn",
        ),
        CheckSpec(
            steps.EVERY_SKU_PRICED,
            "plytix_products",
            "Every variant has a price after mapping.",
            steps.every_sku_priced_check,
            severity="warn",
        ),
        CheckSpec(
            "fresh",
            "plytix_config",
            f"The config cache was refreshed within {CONFIG_MAX_AGE.total_seconds() // 3600:.0f} h.",
            fresh("plytix:config", CONFIG_MAX_AGE),
        ),
        # Evaluated by the steps themselves: they know their clients' answers.
        *(
            CheckSpec(steps.RATE_LIMIT_HEALTH, asset, RATE_LIMITS, severity="warn")
            for asset in ("plytix_config", "plytix_products", "webflow_reference", "webflow_products")
        ),
        CheckSpec(
            steps.SKU_RECONCILIATION,
            "webflow_skus",
            "Every SKU of the snapshot is once on the site, and no live product of this tenant keeps a SKU "
            "Plytix dropped (retired SKUs are out of stock).",
        ),
    ),
    jobs=(
        JobSpec(
            "sync",
            ("plytix_config", "plytix_products", "webflow_reference", "webflow_products"),
            "Config cache, product snapshot and Webflow publication; the mode (delta, full, plan) comes from "
            "the sync_run resource config.",
        ),
        JobSpec(
            "config",
            ("plytix_config", "webflow_reference"),
            "Refresh the cached Plytix configuration and publish the categories to Webflow.",
        ),
        JobSpec("reconcile", ("webflow_skus",), "Read the site's SKUs and reconcile them with the snapshot."),
    ),
    modes={SyncMode.CONFIG: "config", SyncMode.DELTA: "sync", SyncMode.FULL: "sync", SyncMode.PLAN: "sync"},
    onboarding=SyncMode.FULL,
    schedules=(
        ScheduleSpec(
            "sync_schedule",
            "sync",
            "0 0 */2 * *",
            "Every two days at midnight: a full read (archives what Plytix deleted), one run per tenant.",
            SyncMode.FULL,
            env="PLYTIX_WEBFLOW_SYNC_CRON",
        ),
        ScheduleSpec(
            "delta_schedule",
            "sync",
            "30 * * * *",
            "What Plytix changed since the last run, hourly, one run per tenant.",
            SyncMode.DELTA,
            env="PLYTIX_WEBFLOW_DELTA_CRON",
        ),
        ScheduleSpec(
            "config_schedule",
            "config",
            "0 3 * * *",
            "Daily refresh of the config cache and the categories.",
            SyncMode.CONFIG,
            env="PLYTIX_WEBFLOW_CONFIG_CRON",
        ),
        ScheduleSpec(
            "reconcile_schedule",
            "reconcile",
            "30 4 * * *",
            "Daily SKU reconciliation per tenant.",
            env="PLYTIX_WEBFLOW_RECONCILE_CRON",
        ),
    ),
    product_ids=steps.plytix_product_ids,
)
