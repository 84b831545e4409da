"""``python -m connector_pipelines.pools``: the pools the deploy step gives a limit, read off the code
location itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.pools import asset_pools, set_pool_limits


def test_every_pool_of_an_asset_or_check_is_listed_once() -> None:
    pools = asset_pools()
    assert pools == sorted(set(pools))
    # plenty_shopware reads Plentymarkets and writes Shopware 6, each through its own pool.
    plenty_shopware = {
        step.op.pool
        for step in [*(defs.assets or []), *(defs.asset_checks or [])]
        if isinstance(step, dg.AssetsDefinition)
        and step.op.pool
        and step.op.name.startswith("plenty_shopware")
    }
    assert {"plentymarkets_api", "shopware6_api"} <= plenty_shopware <= set(pools)


def test_the_module_prints_them_one_a_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "connector_pipelines.pools"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.splitlines() == asset_pools()


def test_set_limit_gives_every_pool_its_limit_in_one_process(tmp_path: Path) -> None:
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert set_pool_limits(instance, 3) == asset_pools()
        storage = instance.event_log_storage
        assert {
            pool: storage.get_concurrency_info(pool).slot_count for pool in asset_pools()
        } == dict.fromkeys(asset_pools(), 3)


def test_set_limit_refuses_storage_without_global_limits() -> None:
    with dg.DagsterInstance.ephemeral() as instance, pytest.raises(SystemExit, match="no concurrency limits"):
        set_pool_limits(instance, 3)
