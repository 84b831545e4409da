"""The Dagster graph is a contract with the people who run it: asset keys, checks, jobs, schedules and
sensors change only on purpose. To accept a deliberate change: UPDATE_SNAPSHOTS=1 make test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from connector_pipelines.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def describe(definitions: dg.Definitions) -> dict[str, object]:
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": getattr(node.partitions_def, "name", None),
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "kinds": sorted(node.kinds),
            "pool": node.pools and sorted(node.pools)[0],
        }
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    jobs = sorted(j.name for j in definitions.resolve_all_job_defs() if not j.name.startswith("__"))
    schedules = {}
    for unresolved in definitions.schedules or []:
        schedule = definitions.resolve_schedule_def(unresolved.name)
        schedules[schedule.name] = {"job": schedule.job_name, "cron": schedule.cron_schedule}
    sensors = sorted(s.name for s in definitions.sensors or [])
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_definitions_match_the_snapshot() -> None:
    current = describe(defs)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "graph changed: UPDATE_SNAPSHOTS=1 make test accepts it"
    )


def test_every_job_uses_the_in_process_executor_and_loads() -> None:
    for job in defs.resolve_all_job_defs():
        assert job.executor_def.name == "in_process", job.name
