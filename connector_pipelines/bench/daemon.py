"""``dagster-daemon run`` on a benchmark's own instance, with one sensor of the project's code location
switched on and every other schedule and sensor switched off, so that the runs the benchmark sees are that
sensor's alone (a schedule's poll of the same tenant would otherwise deliver the same change)."""

from __future__ import annotations

import functools
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from connector_pipelines.bench.harness import interruptible
from connector_pipelines.bench.processes import Service, start_service, wait_for

LOCATION = "connector_pipelines"  # the location name of the repository's workspace.yaml (selector ids use it)
MODULE = "connector_pipelines.definitions"
FINISHED = frozenset({dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED})


@dataclass
class RunningDaemon:
    service: Service
    instance: dg.DagsterInstance

    def runs_since(self, created_after: float) -> list[dg.RunRecord]:
        """The runs the daemon created after this moment (epoch seconds), oldest first."""
        after = datetime.fromtimestamp(created_after, UTC)
        records = self.instance.get_run_records(filters=dg.RunsFilter(created_after=after))
        return sorted(records, key=lambda record: record.create_timestamp)

    def failed_since(self, created_after: float) -> str | None:
        """A clear error for a run created after this moment that failed or was canceled; None otherwise."""
        for record in self.runs_since(created_after):
            run = record.dagster_run
            if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                return f"run {run.run_id} ({run.job_name}) ended {run.status.value}\n{self.service.tail()}"
        return None

    def settled_since(self, created_after: float) -> list[dg.RunRecord] | None:
        """The runs created after this moment once there is one and all finished; an error if one did not
        succeed; None while waiting."""
        records = self.runs_since(created_after)
        if not records or any(r.dagster_run.status not in FINISHED for r in records):
            return None
        if failed := self.failed_since(created_after):
            raise RuntimeError(failed)
        return records


def _instigators(instance: dg.DagsterInstance) -> tuple[list[Any], list[Any]]:
    """The code location's sensors and schedules as the daemon sees them (same location name, hence the same
    selector ids, under which the instance keeps their on/off state)."""
    # Dagster has no public API for this: the UI and `dagster sensor stop` go the same way.
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE), location_name=LOCATION
    )
    # Dagster's own snapshot of each schedule reads a deprecated property: its warning is not ours to act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with origin.create_location(instance) as location:
            (repository,) = location.get_repositories().values()
            return list(repository.get_sensors()), list(repository.get_schedules())


@contextmanager
def running_daemon(
    home: Path, instance: dg.DagsterInstance, sensor: str, *, start_timeout_s: float = 180.0
) -> Iterator[RunningDaemon]:
    """The daemon on ``instance`` (its folder ``home``, DAGSTER_HOME of the daemon and its run workers, which
    inherit this process's environment: the same connector database, key and tenant registry), loading the
    code location from ``connector_pipelines.definitions`` as the repository's workspace.yaml does, with only
    ``sensor`` on. Ready once that sensor's first tick is recorded; stopped with its runs on the way out."""
    # In a thread: loading the code location in the main thread lets Dagster map SIGTERM to SIGINT's handler
    # (ignored in a job started in the background), and the benchmark would no longer stop on SIGTERM.
    sensors, schedules = interruptible(functools.partial(_instigators, instance))
    if sensor not in {s.name for s in sensors}:
        raise ValueError(f"the code location has no sensor {sensor!r}")
    for remote_sensor in sensors:
        if remote_sensor.name == sensor:
            instance.start_sensor(remote_sensor)
        else:
            instance.stop_sensor(
                remote_sensor.get_remote_origin_id(), remote_sensor.selector_id, remote_sensor
            )
    for schedule in schedules:
        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
    from dagster._core.scheduler.instigation import TickStatus

    (selected,) = (s for s in sensors if s.name == sensor)
    workspace = home / "workspace.yaml"
    load = {"python_module": {"module_name": MODULE, "location_name": LOCATION}}
    workspace.write_text(yaml.safe_dump({"load_from": [load]}))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    daemon_bin = Path(sys.executable).parent / "dagster-daemon"
    started = time.time()
    service = start_service("daemon", [str(daemon_bin), "run", "-w", str(workspace)], env, home, cwd=home)
    try:

        def first_tick() -> bool | None:
            ticks = instance.get_ticks(
                selected.get_remote_origin_id(), selected.selector_id, after=started, limit=1
            )
            if not ticks or ticks[0].status == TickStatus.STARTED:
                return None
            if ticks[0].status == TickStatus.FAILURE:
                raise RuntimeError(f"{sensor}'s first tick failed: {ticks[0].error}\n{service.tail()}")
            return True

        wait_for(first_tick, timeout_s=start_timeout_s, what=f"{sensor}'s first tick", services=[service])
        yield RunningDaemon(service, instance)
    finally:
        service.stop()
