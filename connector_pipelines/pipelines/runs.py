"""Run-level conventions shared by every pipeline: tags, modes."""

from __future__ import annotations

from enum import StrEnum

TENANT_TAG = "tenant"
SYNC_TYPE_TAG = "sync_type"


class SyncMode(StrEnum):
    CONFIG = "config"
    DELTA = "delta"
    FULL = "full"
    PLAN = "plan"


def run_tags(tenant: str, sync_type: str) -> dict[str, str]:
    return {TENANT_TAG: tenant, SYNC_TYPE_TAG: str(sync_type)}


def sync_run_config(mode: SyncMode, product_ids: list[int] | None = None) -> dict[str, object]:
    """Run config selecting the mode (and optionally single products) through the sync_run resource."""
    config: dict[str, object] = {"mode": mode.value}
    if product_ids:
        config["product_ids"] = product_ids
    return {"resources": {"sync_run": {"config": config}}}
