"""The code location: every pipeline's definitions, the shared resources, the tenant-registry sensor and the
run-failure alert sensor."""

from __future__ import annotations

import dagster as dg

from connector_pipelines.pipelines.erp_files_shopify import definitions as erp_files_shopify
from connector_pipelines.pipelines.plenty_shopware import definitions as plenty_shopware
from connector_pipelines.pipelines.registry_sensor import build_registry_sensor
from connector_pipelines.pipelines.resources import (
    ConnectorDatabase,
    ErpFilesResource,
    PlentymarketsResource,
    ShopifyResource,
    Shopware6Resource,
    SyncRun,
)
from connector_pipelines.pipelines.run_failure import run_failure_alert_sensor


def build_definitions() -> dg.Definitions:
    onboarding = {
        "plenty_shopware": plenty_shopware.ONBOARDING_JOB,
        "erp_files_shopify": erp_files_shopify.ONBOARDING_JOB,
    }
    shared = dg.Definitions(
        sensors=[build_registry_sensor(onboarding), run_failure_alert_sensor],
        resources={
            "connector_db": ConnectorDatabase(),
            "sync_run": SyncRun(mode="delta"),
            "plentymarkets": PlentymarketsResource(),
            "shopware6": Shopware6Resource(),
            "shopify": ShopifyResource(),
            "erp_files": ErpFilesResource(),
        },
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(shared, plenty_shopware.defs, erp_files_shopify.defs)


defs = build_definitions()
