"""``python -m connector_pipelines.pools``: the pools the deploy step gives a limit, read off the code
location itself."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from connector_pipelines.definitions import defs
from connector_pipelines.pools import asset_pools


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
