"""shopify_ingestion's schedules: customers every 6 hours, products daily at 02:00, orders every 30 minutes
over the last 7 days (the run's date range starts 7 days before its tick), a full read weekly on Sunday at
01:00; one tagged run per tenant, crons overridable by environment variables. And its inbox sensor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.shopify_ingestion.spec import SPEC
from connector_pipelines.pipelines.triggers import PRIORITY_TAG
from connector_pipelines.sync.shopify_webhooks import ALL_TOPICS, PRIVACY_TOPICS

TICK = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # a Sunday


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SPEC.name, ["acme", "globex"])
        yield instance


def _schedule(name: str) -> dg.ScheduleDefinition:
    schedules = build_pipeline(SPEC).definitions.schedules or []
    found = next(s for s in schedules if s.name == SPEC.job_name(name))
    assert isinstance(found, dg.ScheduleDefinition)
    return found


@pytest.mark.parametrize(
    ("name", "cron", "mode", "job", "since"),
    [
        ("customers_schedule", "0 */6 * * *", "delta", "customers", None),
        ("products_schedule", "0 2 * * *", "delta", "products", None),
        ("orders_schedule", "*/30 * * * *", "delta", "orders", TICK - timedelta(days=7)),
        ("full_schedule", "0 1 * * 0", "full", "sync", None),
    ],
)
def test_one_tagged_run_per_tenant(
    instance: dg.DagsterInstance, name: str, cron: str, mode: str, job: str, since: datetime | None
) -> None:
    schedule = defs.resolve_schedule_def(SPEC.job_name(name))
    assert schedule.cron_schedule == cron
    context = dg.build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        scheduled_execution_time=TICK,
        repository_def=defs.get_repository_def(),
    )
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert sorted(r.partition_key or "" for r in requests) == ["acme", "globex"]
    for request in requests:
        assert request.job_name == SPEC.job_name(job)
        assert request.tags["tenant"] == request.partition_key and request.tags["sync_type"] == mode
        config = request.run_config["resources"]["sync_run"]["config"]
        assert config["mode"] == mode
        assert config.get("since") == (since.isoformat() if since else None)


def test_cron_strings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CUSTOMERS", "PRODUCTS", "ORDERS", "FULL"):
        monkeypatch.setenv(f"SHOPIFY_INGESTION_{variable}_CRON", "*/5 * * * *")
    for name in ("customers_schedule", "products_schedule", "orders_schedule", "full_schedule"):
        assert _schedule(name).cron_schedule == "*/5 * * * *"


def test_the_inbox_sensor_covers_every_topic_of_the_issue() -> None:
    (inbox,) = SPEC.inboxes
    assert inbox.source == "shopify" and inbox.mode.value == "webhook" and inbox.interval_s <= 60
    assert set(inbox.topics) == set(ALL_TOPICS) and set(PRIVACY_TOPICS) <= set(inbox.topics)
    assert {"orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"} <= set(inbox.topics)
    assert inbox.priority > 0 and PRIORITY_TAG == "dagster/priority"
