"""Run-level conventions shared by every pipeline: tags and the run config that selects the mode."""

from __future__ import annotations

from connector_pipelines.sync.runtime import SyncMode

TENANT_TAG = "tenant"
SYNC_TYPE_TAG = "sync_type"
TRIGGER_TAG = "trigger"


def run_tags(tenant: str, sync_type: str, trigger: str | None = None) -> dict[str, str]:
    tags = {TENANT_TAG: tenant, SYNC_TYPE_TAG: str(sync_type)}
    if trigger is not None:
        tags[TRIGGER_TAG] = trigger
    return tags


def sync_run_config(
    mode: SyncMode, product_ids: list[int] | None = None, *, force: bool = False
) -> dict[str, object]:
    """Run config selecting the mode (and optionally single products, or a run of a disabled tenant) through
    the sync_run resource."""
    config: dict[str, object] = {"mode": mode.value}
    if product_ids:
        config["product_ids"] = product_ids
    if force:
        config["force"] = True
    return {"resources": {"sync_run": {"config": config}}}
