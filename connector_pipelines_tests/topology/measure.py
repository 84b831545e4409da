"""How many delta runs per minute the daemon sustains on this machine, and what each run costs on top of its
work. A one-off measurement, not a test (several minutes per configuration):

    .venv/bin/python -m connector_pipelines_tests.topology.measure --tenants 24 --pool-limit 4 --pool-limit 40

For each pool limit it starts the production topology (PostgreSQL at CONNECTOR_TEST_PG_DSN or 127.0.0.1)
with the delta schedule every minute, registers the tenants and waits for their onboarding. From then on the
schedule asks for one delta run per tenant and minute, more than the machine runs, so the queue never empties:
the delta runs that finish within the measuring window are the sustained rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from connector_pipelines.bench.processes import wait_for
from connector_pipelines_tests.topology.processes import Topology, running_topology
from connector_pipelines_tests.topology.runs import median_timings, runs, timings

ADMIN_DSN = os.environ.get("CONNECTOR_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _onboarded(topology: Topology, tenant_count: int) -> bool | None:
    full = [r for r in runs(topology) if r.tags.get("sync_type") == "full"]
    return True if len(full) == tenant_count and all(r.finished for r in full) else None


def measure(tenant_count: int, pool_limit: int, window_s: float, work: Path) -> str:
    tenants = [f"tenant-{i:03d}" for i in range(tenant_count)]
    with running_topology(ADMIN_DSN, work, tenants, pool_limit=pool_limit) as topology:
        wait_for(
            lambda: _onboarded(topology, tenant_count),
            timeout_s=1800,
            what="onboarding",
            services=topology.services,
            interval_s=2,
        )
        start = time.time()
        time.sleep(window_s)
        end = time.time()
        current = runs(topology)
        done = [
            r
            for r in current
            if r.tags.get("sync_type") == "delta" and r.ended is not None and start <= r.ended < end
        ]
        backlog = sum(1 for r in current if r.status == "QUEUED")
        failed = sum(1 for r in done if r.status != "SUCCESS")
        median = median_timings(
            timings(topology.instance(), [r.run_id for r in done if r.status == "SUCCESS"])
        )
        return (
            f"tenants={tenant_count} pool_limit={pool_limit}: {len(done)} delta runs finished in "
            f"{end - start:.0f} s = {len(done) / (end - start) * 60:.1f} runs/min (failed {failed}, "
            f"still queued {backlog}); median per run: queued {median.queued:.1f} s, launch -> RUN_START "
            f"{median.launch_to_start:.2f} s, RUN_START -> RUN_SUCCESS {median.start_to_success:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=24)
    parser.add_argument("--window", type=float, default=180.0, help="seconds of sustained load to count")
    parser.add_argument("--pool-limit", type=int, action="append", help="repeatable; default: dagster.yaml's")
    args = parser.parse_args()
    for limit in args.pool_limit or [4]:
        with tempfile.TemporaryDirectory(prefix="measure-") as work:
            print(measure(args.tenants, limit, args.window, Path(work)), flush=True)


if __name__ == "__main__":
    main()
