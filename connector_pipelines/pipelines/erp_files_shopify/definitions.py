"""Everything of the erp_files_shopify pipeline, merged into the code location by ``definitions.py``."""

from __future__ import annotations

import dagster as dg

from connector_pipelines.pipelines.erp_files_shopify.assets import (
    erp_file_products,
    shopify_products,
    shopify_skus,
)
from connector_pipelines.pipelines.erp_files_shopify.checks import checks
from connector_pipelines.pipelines.erp_files_shopify.jobs import reconcile_job, schedules, sync_job
from connector_pipelines.pipelines.erp_files_shopify.sensors import build_file_change_sensor

ONBOARDING_JOB = sync_job

defs = dg.Definitions(
    assets=[erp_file_products, shopify_products, shopify_skus],
    asset_checks=checks,
    jobs=[sync_job, reconcile_job],
    schedules=schedules,
    sensors=[build_file_change_sensor()],
)
