from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.plenty_shopware.spec import SPEC


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("plenty_shopware", ["acme", "globex"])
        yield instance


@pytest.mark.parametrize(
    ("schedule", "mode", "job"),
    [
        ("plenty_shopware_config_schedule", "config", "plenty_shopware_config"),
        ("plenty_shopware_delta_schedule", "delta", "plenty_shopware_sync"),
        ("plenty_shopware_full_schedule", "full", "plenty_shopware_sync"),
    ],
)
def test_one_tagged_run_per_tenant(instance: dg.DagsterInstance, schedule: str, mode: str, job: str) -> None:
    definition = defs.resolve_schedule_def(schedule)
    tick = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    context = dg.build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        scheduled_execution_time=tick,
        repository_def=defs.get_repository_def(),
    )
    requests = list(definition.evaluate_tick(context).run_requests or [])
    assert sorted(r.partition_key or "" for r in requests) == ["acme", "globex"]
    for request in requests:
        assert request.tags["tenant"] == request.partition_key and request.tags["sync_type"] == mode
        assert request.run_config["resources"]["sync_run"]["config"]["mode"] == mode
        assert request.job_name == job
        assert request.run_key == f"{mode}:{request.partition_key}:{tick.isoformat()}"


def test_cron_strings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLENTY_SHOPWARE_DELTA_CRON", "*/5 * * * *")
    schedules = build_pipeline(SPEC).definitions.schedules or []
    delta = next(s for s in schedules if s.name == "plenty_shopware_delta_schedule")
    assert isinstance(delta, dg.ScheduleDefinition) and delta.cron_schedule == "*/5 * * * *"
