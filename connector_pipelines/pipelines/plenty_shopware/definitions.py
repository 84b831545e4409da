"""Everything of the plenty_shopware pipeline, merged into the code location by ``definitions.py``."""

from __future__ import annotations

import dagster as dg

from connector_pipelines.pipelines.plenty_shopware.assets import config_assets, product_assets
from connector_pipelines.pipelines.plenty_shopware.checks import checks
from connector_pipelines.pipelines.plenty_shopware.jobs import config_job, schedules, sync_job

ONBOARDING_JOB = sync_job

defs = dg.Definitions(
    assets=[*config_assets, *product_assets],
    asset_checks=checks,
    jobs=[sync_job, config_job],
    schedules=schedules,
)
