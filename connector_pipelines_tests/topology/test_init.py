"""docker-compose's init, run by the topology before any other process: Dagster's schema created once, and
every pool's limit set before the first run claims it."""

from __future__ import annotations

import pytest

from connector_pipelines.pools import asset_pools
from connector_pipelines_tests.topology.processes import Topology, default_pool_limit

pytestmark = [pytest.mark.topology, pytest.mark.postgres, pytest.mark.xdist_group("topology")]


def test_every_pool_has_its_limit_before_the_first_run(topology: Topology) -> None:
    storage = topology.instance().event_log_storage
    for pool in asset_pools():
        info = storage.get_concurrency_info(pool)
        assert (info.slot_count, info.using_default_limit) == (default_pool_limit(), False), pool


def test_no_process_raced_to_create_the_schema(topology: Topology) -> None:
    for service in topology.services:
        log = service.log.read_text(errors="replace")
        assert "already exists" not in log, f"{service.name}: {service.tail()}"
