"""The system run the way production runs it: schedules and sensors evaluated by dagster-daemon, runs queued
by the QueuedRunCoordinator and executed by a code server, everything stored in PostgreSQL, tenants
registered through the CLI. Checked through the webserver's GraphQL API and a DagsterInstance on the same
storage."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from connector_pipelines.bench.processes import wait_for
from connector_pipelines.pipelines.registry_sensor import REGISTRY_SENSOR_NAME
from connector_pipelines_tests.topology.conftest import TENANTS
from connector_pipelines_tests.topology.processes import PIPELINE, Topology
from connector_pipelines_tests.topology.runs import (
    DELTA_SCHEDULE,
    Run,
    held_back,
    launch_from_launchpad,
    median_timings,
    overlapping,
    partition_keys,
    runs,
    schedule_ticks,
    sensor_ticks,
    summary,
    timings,
)

pytestmark = [pytest.mark.topology, pytest.mark.postgres, pytest.mark.xdist_group("topology")]

# What a user reads off a materialization in the UI, per asset.
PUBLISHED = {"created", "updated", "unchanged", "deleted", "failed", "duration_s", "api_calls_shopware6"}
SNAPSHOT = {"fetched", "changed", "unchanged", "removed", "duration_s", "api_calls_plentymarkets"}


def _by(all_runs: list[Run], tenant: str) -> list[Run]:
    return [r for r in all_runs if r.tenant == tenant]


def _latest_metadata(instance: dg.DagsterInstance, asset: str, tenant: str) -> dict[str, object]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey([PIPELINE, asset]), asset_partitions=[tenant]), limit=1
    ).records
    assert records, f"no materialization of {asset} for {tenant}"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {k: v.value for k, v in materialization.metadata.items()}


def test_daemon_drives_the_tenants(topology: Topology, tmp_path: Path) -> None:
    first, second = TENANTS

    # The registry sensor's first tick adds both partitions and requests one onboarding run per tenant.
    onboarding = wait_for(
        lambda: found if len(found := [r for r in runs(topology) if r.origin == "sensor"]) == 2 else None,
        timeout_s=90,
        what="the onboarding runs of the registry sensor",
        services=topology.services,
    )
    assert {r.tenant for r in onboarding} == set(TENANTS)
    assert all(r.tags["sync_type"] == "full" and r.tags["trigger"] == "onboarding" for r in onboarding)
    assert partition_keys(topology) == sorted(TENANTS)
    added = [
        key
        for tick in sensor_ticks(topology, REGISTRY_SENSOR_NAME)
        for request in tick.partition_requests
        if request["type"] == "ADD_PARTITIONS"
        for key in request["partitionKeys"]
    ]
    assert sorted(added) == sorted(TENANTS)

    # A run launched from the launchpad while the first tenant's onboarding is unfinished must wait for it.
    assert not next(r for r in onboarding if r.tenant == first).finished
    launch_from_launchpad(topology, first, "delta")

    # The delta schedule (every minute here) requests one run per tenant; wait until both have succeeded.
    def delta_runs_done() -> list[Run] | None:
        current = runs(topology)
        scheduled = [r for r in current if r.origin == "schedule" and r.tags["sync_type"] == "delta"]
        done = {r.tenant for r in scheduled if r.finished}
        unfinished = [r for r in current if not r.finished]
        return current if done >= set(TENANTS) and not unfinished else None

    before_removal = wait_for(
        delta_runs_done, timeout_s=180, what="a delta run per tenant", services=topology.services
    )

    failed = [(r.run_id, r.tenant, r.status) for r in before_removal if r.status != "SUCCESS"]
    assert not failed, f"runs did not succeed: {failed}"
    scheduled = [r for r in before_removal if r.origin == "schedule" and r.tags["sync_type"] == "delta"]
    assert all(r.tags["dagster/schedule_name"] == DELTA_SCHEDULE for r in scheduled)
    for tick in {r.tags["dagster/tick"] for r in scheduled}:
        tenants_of_tick = [r.tenant for r in scheduled if r.tags["dagster/tick"] == tick]
        assert sorted(tenants_of_tick) == sorted(TENANTS), f"tick {tick}: one run per tenant"

    for tenant in TENANTS:
        mine = _by(before_removal, tenant)
        assert not overlapping(mine), f"two runs of {tenant} in flight at once"
    assert held_back(_by(before_removal, first)), "the launchpad run should have waited for the onboarding"

    instance = topology.instance()
    for tenant in TENANTS:
        products = _latest_metadata(instance, "shopware_products", tenant)
        assert products["failed"] == 0 and set(products) >= PUBLISHED, products
        snapshot = _latest_metadata(instance, "plenty_products", tenant)
        assert set(snapshot) >= SNAPSHOT, snapshot
    # The delta after the full sync found nothing new to publish.
    latest = _latest_metadata(instance, "shopware_products", second)
    assert latest["created"] == 0 and isinstance(latest["unchanged"], int) and latest["unchanged"] > 0, latest

    # Removing a tenant removes its partition within a sensor interval; later ticks leave it out.
    topology.cli("tenants", "remove", second, "--yes")
    wait_for(
        lambda: True if partition_keys(topology) == [first] else None,
        timeout_s=60,
        what=f"the partition of {second} to go",
        services=topology.services,
    )
    removed_at = time.time()
    later_tick = wait_for(
        lambda: next(
            (t for t in schedule_ticks(topology) if t.timestamp > removed_at and t.status != "STARTED"), None
        ),
        timeout_s=75,
        what="a delta schedule tick after the removal",
        services=topology.services,
    )
    after = runs(topology)
    tick_tenants = {r.tenant for r in after if r.run_id in later_tick.run_ids}
    assert tick_tenants == {first}, tick_tenants
    assert not [r for r in _by(after, second) if r.created > removed_at], f"{second} got a run after removal"

    median = median_timings(timings(instance, [r.run_id for r in before_removal]))
    text = summary(before_removal, TENANTS, median)
    text += (
        f"\n  after removing {second}: its partition is gone; the next delta tick ran {sorted(tick_tenants)}"
    )
    print(text)
    summary_file = tmp_path / "topology-summary.txt"
    summary_file.write_text(text + "\n")
    lines = {line.split(":")[0].strip(): line for line in summary_file.read_text().splitlines()}
    for tenant in TENANTS:
        assert "sensor/full: 1" in lines[tenant] and "schedule/delta: " in lines[tenant], lines[tenant]
        assert "concurrency limit 1 held" in lines[tenant], lines[tenant]
