"""The concurrency pools the code location's assets and checks declare (one per external API), for the
deploy step that gives each its limit before the first run: ``python -m connector_pipelines.pools`` prints
them, one a line; ``python -m connector_pipelines.pools --set-limit N`` gives each the limit N on the
instance of ``DAGSTER_HOME``.

Left to the instance's default limit, the first runs that claim a pool at the same moment race to create its
row, and on PostgreSQL one of them fails (dagster-io/dagster#33552): docker-compose's init service and the
Kubernetes init Job set every pool's limit here, so a pipeline that adds a pool needs no change to either.
One process sets them all: a ``dagster instance concurrency set`` per pool started a Dagster process each.
"""

from __future__ import annotations

import argparse
import sys

import dagster as dg


def asset_pools() -> list[str]:
    from connector_pipelines.definitions import defs

    # Checks are AssetsDefinitions too; both run as ops that may claim a pool.
    steps = [*(defs.assets or []), *(defs.asset_checks or [])]
    return sorted(
        {pool for step in steps if isinstance(step, dg.AssetsDefinition) and (pool := step.op.pool)}
    )


def set_pool_limits(instance: dg.DagsterInstance, limit: int) -> list[str]:
    """Every pool's limit on ``instance``; the pools set. Refuses storage without global limits (SQLite) and
    a code location that declares no pool, as an empty list would leave the race open."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        raise SystemExit(
            "this Dagster instance's storage keeps no concurrency limits: use PostgreSQL, and run "
            "`dagster instance migrate` first"
        )
    pools = asset_pools()
    if not pools:
        raise SystemExit("the code location declares no pool")
    for pool in pools:
        storage.set_concurrency_slots(pool, limit)
    return pools


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connector_pipelines.pools", description=__doc__)
    parser.add_argument("--set-limit", type=int, metavar="N", help="give every pool the limit N")
    args = parser.parse_args(argv)
    if args.set_limit is None:
        print("\n".join(asset_pools()))
        return
    with dg.DagsterInstance.get() as instance:
        for pool in set_pool_limits(instance, args.set_limit):
            print(f"{pool}: {args.set_limit}")


if __name__ == "__main__":
    main(sys.argv[1:])
