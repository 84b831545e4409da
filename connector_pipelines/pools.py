"""The concurrency pools the code location's assets and checks declare (one per external API), for the
deploy step that gives each its limit before the first run: ``python -m connector_pipelines.pools`` prints
them, one a line.

Left to the instance's default limit, the first runs that claim a pool at the same moment race to create its
row, and on PostgreSQL one of them fails (dagster-io/dagster#33552): docker-compose's init service and the
Kubernetes init Job run ``dagster instance concurrency set <pool> <limit>`` for every pool printed here, so a
pipeline that adds a pool needs no change to either.
"""

from __future__ import annotations

import dagster as dg


def asset_pools() -> list[str]:
    from connector_pipelines.definitions import defs

    # Checks are AssetsDefinitions too; both run as ops that may claim a pool.
    steps = [*(defs.assets or []), *(defs.asset_checks or [])]
    return sorted(
        {pool for step in steps if isinstance(step, dg.AssetsDefinition) and (pool := step.op.pool)}
    )


if __name__ == "__main__":
    print("\n".join(asset_pools()))
