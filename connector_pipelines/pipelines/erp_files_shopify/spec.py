"""ERP product files (CSV / JSON / NDJSON on FTP, FTPS, SFTP or a folder) -> Shopify, by SKU."""

from __future__ import annotations

from connector_pipelines.sync import erp_files_shopify as steps
from connector_pipelines.sync.checks import open_record_errors
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.sync.spec import CheckSpec, JobSpec, PipelineSpec, PollSpec, ScheduleSpec, StepSpec
from connector_pipelines.tenants.connections import ERP_FILES, SHOPIFY

SPEC = PipelineSpec(
    name=steps.PIPELINE,
    description="ERP product files -> Shopify by SKU: created, updated, deleted through bulk mutations.",
    source=ERP_FILES,
    target=SHOPIFY,
    steps=(
        StepSpec(
            "erp_file_products",
            steps.file_step,
            ERP_FILES,
            "Canonical product snapshot of the tenant's ERP file (content hashes, the file's identity).",
        ),
        StepSpec(
            "shopify_products",
            steps.shopify_products_step,
            SHOPIFY,
            "Products published to Shopify by SKU: created, updated, and deleted / archived / drafted when "
            "gone from the file; bulk mutations for many changes, direct productSet calls for few.",
            deps=("erp_file_products",),
        ),
        StepSpec(
            "shopify_skus",
            steps.skus_step,
            SHOPIFY,
            "The SKUs Shopify holds, read variant by variant through the whole shop and reconciled with the "
            "snapshot. Costly on a large shop, so its own daily job materializes it, not the syncs.",
            deps=("shopify_products",),
        ),
    ),
    checks=(
        CheckSpec(
            "open_record_errors",
            "shopify_products",
            "No record is waiting with an unresolved error (bad file rows and Shopify rejections).",
            open_record_errors,
            severity="warn",
        ),
        CheckSpec(
            "mapping_coverage",
            "erp_file_products",
            "Every product has a title and every variant a SKU and a price after mapping (measured as the "
            "file is read).",
            steps.mapping_coverage_check,
            severity="warn",
        ),
        # Evaluated by the shopify_skus step itself: it has just read every variant of the shop.
        CheckSpec(
            steps.SKU_RECONCILIATION,
            "shopify_skus",
            "Every SKU of the file is once in Shopify, and no product of this tenant keeps a SKU the file "
            "dropped.",
        ),
    ),
    jobs=(
        JobSpec(
            "sync",
            ("erp_file_products", "shopify_products"),
            "Read the ERP file into the snapshot and publish the changes to Shopify; the mode (delta, full, "
            "plan) comes from the sync_run resource config.",
        ),
        JobSpec(
            "reconcile",
            ("shopify_skus",),
            "Read every variant of the shop and reconcile its SKUs with the snapshot.",
        ),
    ),
    modes={SyncMode.DELTA: "sync", SyncMode.FULL: "sync", SyncMode.PLAN: "sync"},
    onboarding=SyncMode.FULL,
    schedules=(
        ScheduleSpec(
            "schedule",
            "sync",
            "0 * * * *",
            "Hourly ticks; each tenant gets a delta run when its sync_frequency_hours divides the hour.",
            SyncMode.DELTA,
            due=steps.sync_is_due,
        ),
        ScheduleSpec(
            "reconcile_schedule",
            "reconcile",
            "30 4 * * *",
            "Daily SKU reconciliation per tenant.",
            env="ERP_FILES_SHOPIFY_RECONCILE_CRON",
        ),
    ),
    sensors=(
        PollSpec(
            "file_change_sensor",
            "sync",
            SyncMode.DELTA,
            "file_change",
            "Requests a delta sync for each tenant whose ERP file changed (size, mtime or hash).",
            steps.file_fingerprint,
        ),
    ),
)
