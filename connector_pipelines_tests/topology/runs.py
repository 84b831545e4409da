"""Runs, ticks and partitions of a running topology as the webserver's GraphQL API reports them, and the
per-run timings from the instance's event log."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from connector_pipelines.pipelines.registry_sensor import REGISTRY_SENSOR_NAME
from connector_pipelines_tests.topology.processes import LOCATION, PIPELINE, Topology

REPOSITORY = "__repository__"
DELTA_SCHEDULE = f"{PIPELINE}_delta_schedule"
SYNC_JOB = f"{PIPELINE}_sync"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""

PARTITIONS_QUERY = """
query Partitions($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""

TICKS_QUERY = """
query Ticks($selector: %(selector_type)s!) {
  %(field)s(%(argument)s: $selector) {
    __typename
    ... on %(type)s {
      %(state)s {
        ticks(limit: 20) {
          tickId status timestamp endTimestamp runIds
          dynamicPartitionsRequestResults { partitionsDefName partitionKeys type }
        }
      }
    }
  }
}
"""

LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


@dataclass(frozen=True)
class Run:
    run_id: str
    job: str
    status: str
    tags: dict[str, str]
    created: float
    started: float | None
    ended: float | None

    @property
    def tenant(self) -> str:
        return self.tags.get("tenant", "")

    @property
    def origin(self) -> str:
        """Who launched it: the registry sensor, a schedule, or a person (the launchpad, the CLI)."""
        if "dagster/sensor_name" in self.tags:
            return "sensor"
        if "dagster/schedule_name" in self.tags:
            return "schedule"
        return self.tags.get("trigger", "manual")

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Tick:
    tick_id: str
    status: str
    timestamp: float
    run_ids: list[str]
    partition_requests: list[dict[str, Any]]


def runs(topology: Topology, tags: dict[str, str] | None = None) -> list[Run]:
    """Runs, oldest first."""
    run_filter = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
    result = topology.graphql(RUNS_QUERY, {"filter": run_filter})["runsOrError"]
    if result["__typename"] != "Runs":
        raise RuntimeError(f"runsOrError: {result}")
    found = [
        Run(
            r["runId"],
            r["jobName"],
            r["status"],
            {t["key"]: t["value"] for t in r["tags"]},
            r["creationTime"],
            r["startTime"],
            r["endTime"],
        )
        for r in result["results"]
    ]
    return sorted(found, key=lambda r: r.created)


def partition_keys(topology: Topology, asset: str = "plenty_products") -> list[str]:
    node = topology.graphql(PARTITIONS_QUERY, {"path": [PIPELINE, asset]})["assetNodeOrError"]
    return sorted(node["partitionKeys"])


def _ticks(topology: Topology, kind: str, name: str) -> list[Tick]:
    if kind == "sensor":
        parts = {"selector_type": "SensorSelector", "field": "sensorOrError", "argument": "sensorSelector"}
        parts |= {"type": "Sensor", "state": "sensorState"}
        selector = {"sensorName": name}
    else:
        parts = {
            "selector_type": "ScheduleSelector",
            "field": "scheduleOrError",
            "argument": "scheduleSelector",
        }
        parts |= {"type": "Schedule", "state": "scheduleState"}
        selector = {"scheduleName": name}
    selector |= {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    data = topology.graphql(TICKS_QUERY % parts, {"selector": selector})[parts["field"]]
    return sorted(
        (
            Tick(t["tickId"], t["status"], t["timestamp"], t["runIds"], t["dynamicPartitionsRequestResults"])
            for t in data[parts["state"]]["ticks"]
        ),
        key=lambda t: t.timestamp,
    )


def sensor_ticks(topology: Topology, name: str = REGISTRY_SENSOR_NAME) -> list[Tick]:
    return _ticks(topology, "sensor", name)


def schedule_ticks(topology: Topology, name: str = DELTA_SCHEDULE) -> list[Tick]:
    return _ticks(topology, "schedule", name)


def launch_from_launchpad(topology: Topology, tenant: str, mode: str) -> str:
    """Launch a tenant's sync the way the UI's launchpad does: through the launchRun mutation."""
    tags = {"tenant": tenant, "sync_type": mode, "dagster/partition": tenant, "trigger": "launchpad"}
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": SYNC_JOB},
        "runConfigData": {"resources": {"sync_run": {"config": {"mode": mode}}}},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    result = topology.graphql(LAUNCH_MUTATION, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launchRun: {result}")
    run_id: str = result["run"]["runId"]
    return run_id


def overlapping(tenant_runs: Sequence[Run]) -> list[tuple[str, str]]:
    """Pairs of runs of one tenant whose [start, end] intervals intersect: the tag limit was broken."""
    started = sorted((r for r in tenant_runs if r.started is not None), key=lambda r: r.started or 0.0)
    pairs: list[tuple[str, str]] = []
    for i, first in enumerate(started):
        for second in started[i + 1 :]:
            first_end = first.ended if first.ended is not None else float("inf")
            if (second.started or 0.0) < first_end:
                pairs.append((first.run_id, second.run_id))
    return pairs


def held_back(tenant_runs: Sequence[Run]) -> list[str]:
    """Runs created while another run of the same tenant was unfinished, and started only after it ended."""
    held = []
    for run in tenant_runs:
        for other in tenant_runs:
            if other is run or other.ended is None or run.started is None:
                continue
            if other.created <= run.created < other.ended <= run.started:
                held.append(run.run_id)
                break
    return held


@dataclass(frozen=True)
class Timings:
    """Seconds per run: queue wait, launch (RUN_STARTING) -> RUN_START, RUN_START -> RUN_SUCCESS."""

    queued: float
    launch_to_start: float
    start_to_success: float


def timings(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> list[Timings]:
    wanted = {
        dg.DagsterEventType.RUN_ENQUEUED,
        dg.DagsterEventType.RUN_STARTING,
        dg.DagsterEventType.RUN_START,
        dg.DagsterEventType.RUN_SUCCESS,
    }
    out = []
    for run_id in run_ids:
        at = {
            e.dagster_event.event_type: e.timestamp
            for e in instance.all_logs(run_id, of_type=wanted)
            if e.dagster_event is not None
        }
        if len(at) == len(wanted):
            out.append(
                Timings(
                    at[dg.DagsterEventType.RUN_STARTING] - at[dg.DagsterEventType.RUN_ENQUEUED],
                    at[dg.DagsterEventType.RUN_START] - at[dg.DagsterEventType.RUN_STARTING],
                    at[dg.DagsterEventType.RUN_SUCCESS] - at[dg.DagsterEventType.RUN_START],
                )
            )
    return out


def median_timings(values: Sequence[Timings]) -> Timings:
    return Timings(
        statistics.median(t.queued for t in values),
        statistics.median(t.launch_to_start for t in values),
        statistics.median(t.start_to_success for t in values),
    )


def summary(all_runs: Sequence[Run], tenants: Sequence[str], median: Timings | None) -> str:
    """A few lines per tenant: which runs were launched by whom, and whether the tenant limit held."""
    by_tenant: dict[str, list[Run]] = defaultdict(list)
    for run in all_runs:
        by_tenant[run.tenant].append(run)
    lines = ["production topology: runs per tenant"]
    for tenant in tenants:
        mine = by_tenant.get(tenant, [])
        origins: dict[str, int] = defaultdict(int)
        for run in mine:
            origins[f"{run.origin}/{run.tags.get('sync_type', '?')}"] += 1
        launched = ", ".join(f"{origin}: {count}" for origin, count in sorted(origins.items()))
        statuses = ", ".join(f"{r.status.lower()}" for r in mine)
        limit = "held" if not overlapping(mine) else "BROKEN"
        lines.append(
            f"  {tenant}: {len(mine)} runs ({launched}); statuses: {statuses}; "
            f"concurrency limit 1 {limit}, runs held back by it: {len(held_back(mine))}"
        )
    if median is not None:
        lines.append(
            f"  median per run: queued {median.queued:.2f} s, launch -> RUN_START "
            f"{median.launch_to_start:.2f} s, RUN_START -> RUN_SUCCESS {median.start_to_success:.2f} s"
        )
    return "\n".join(lines)
