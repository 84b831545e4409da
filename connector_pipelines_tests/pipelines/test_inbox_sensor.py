"""The per-tenant inbox sensor: waiting webhooks of a pipeline's topics request one prioritised run per
tenant; nothing new, nothing requested; a request left unserved is requested again; other topics, other
sources and tenants without a partition are left alone. The steps' side: take in order, settle once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest

from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.plytix_webflow.spec import SPEC
from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.triggers import PRIORITY_TAG, InboxCursor
from connector_pipelines.store.db import Database
from connector_pipelines.store.service import InboxDelivery, WebhookInboxRepository
from connector_pipelines.sync.spec import InboxSpec
from connector_pipelines.tenants.registry import TenantRegistry

INBOX = InboxSpec("inbox_sensor", "sync", "erp", ("inventory.changed",), "Stock webhooks.", priority=7)
SPEC_WITH_INBOX = dataclasses.replace(SPEC, inboxes=(INBOX,))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _deliver(
    db: Database, registry: TenantRegistry, tenant: str, topic: str, n: int, source: str = "erp"
) -> None:
    tenant_id = registry.tenant_id(tenant)
    now = datetime.now(UTC)
    deliveries = [
        InboxDelivery(
            tenant_id, source, topic, f"{tenant}-{topic}-{i}-{now.timestamp()}", None, None, {"i": i}, now
        )
        for i in range(n)
    ]
    with db.engine.begin() as connection:
        WebhookInboxRepository.insert(connection, deliveries)


def _tick(instance: dg.DagsterInstance, database_url: str, cursor: str | None) -> dg.SensorResult:
    resources = {"connector_db": ConnectorDatabase(url=database_url), "sync_run": SyncRun(mode="delta")}
    definitions = dg.Definitions.merge(
        build_pipeline(SPEC_WITH_INBOX).definitions, dg.Definitions(resources=resources)
    )
    sensor = definitions.resolve_sensor_def(SPEC.job_name(INBOX.name))
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources=resources,
        definitions=definitions,
    )
    return sensor.evaluate_tick(context)  # type: ignore[return-value]


def test_waiting_webhooks_request_one_prioritised_run_per_tenant(
    instance: dg.DagsterInstance, db: Database, registry: TenantRegistry, database_url: str
) -> None:
    for tenant in ("acme", "globex", "initech"):
        registry.add(tenant, "", [SPEC.name], {})
    instance.add_dynamic_partitions(SPEC.name, ["acme", "globex"])
    _deliver(db, registry, "acme", "inventory.changed", 3)
    _deliver(db, registry, "acme", "order.created", 2)  # not a topic of this sensor
    _deliver(db, registry, "globex", "inventory.changed", 1, source="shopify")  # another source
    _deliver(db, registry, "initech", "inventory.changed", 1)  # no partition: not requested

    first = _tick(instance, database_url, None)
    requests = first.run_requests or []
    assert [r.partition_key for r in requests] == ["acme"]
    assert requests[0].tags[PRIORITY_TAG] == "7"
    assert requests[0].tags["sync_type"] == "webhook" and requests[0].tags["trigger"] == "webhook"
    assert requests[0].run_config == {"resources": {"sync_run": {"config": {"mode": "webhook"}}}}

    assert not (_tick(instance, database_url, first.cursor).run_requests or [])

    _deliver(db, registry, "acme", "inventory.changed", 1)
    again = _tick(instance, database_url, first.cursor).run_requests or []
    assert len(again) == 1 and again[0].run_key != requests[0].run_key

    # Deliveries a failed run left waiting are requested again once the retry delay has passed.
    cursor = InboxCursor.model_validate_json(first.cursor or "")
    stale = cursor.model_copy(update={"at": {"acme": 0.0}}).model_dump_json()
    assert [r.partition_key for r in _tick(instance, database_url, stale).run_requests or []] == ["acme"]


def test_steps_take_in_order_and_settle_once(db: Database, registry: TenantRegistry) -> None:
    registry.add("acme", "", [SPEC.name], {})
    registry.add("globex", "", [SPEC.name], {})
    _deliver(db, registry, "acme", "inventory.changed", 5)
    _deliver(db, registry, "globex", "inventory.changed", 2)
    inbox = WebhookInboxRepository(db)

    first = inbox.take("acme", "erp", ("inventory.changed",), limit=3)
    rest = inbox.take("acme", "erp", ("inventory.changed",), after_id=first[-1].id)
    assert [r.payload["i"] for r in first + rest] == [0, 1, 2, 3, 4]
    assert inbox.settle([r.id for r in first]) == 3
    assert inbox.settle([r.id for r in first]) == 0  # already settled
    assert [r.payload["i"] for r in inbox.take("acme", "erp", ("inventory.changed",))] == [3, 4]
    assert inbox.waiting_for("erp", ("inventory.changed",)) == {
        "acme": (2, rest[-1].id),
        "globex": (2, inbox.take("globex", "erp", ("inventory.changed",))[-1].id),
    }
