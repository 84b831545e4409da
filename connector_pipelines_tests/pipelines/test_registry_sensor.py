from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import pytest

from connector_pipelines.definitions import defs
from connector_pipelines.pipelines.builder import tenant_partitions
from connector_pipelines.pipelines.registry_sensor import REGISTRY_SENSOR_NAME, SensorCursor
from connector_pipelines.pipelines.resources import ConnectorDatabase
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.sync.test_preflight import CREDENTIALS, SETTINGS

PIPELINE = "plenty_shopware"


def _ready(registry: TenantRegistry, slug: str) -> None:
    registry.add(slug, "", [PIPELINE], SETTINGS)
    for system, values in CREDENTIALS.items():
        registry.set_credentials(slug, system, values)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _tick(instance: dg.DagsterInstance, database_url: str, cursor: str | None = None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def(REGISTRY_SENSOR_NAME)
    context = dg.build_sensor_context(
        instance=instance,
        # Partitioned run requests are resolved against the instance through its ref, as in the daemon.
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"connector_db": ConnectorDatabase(url=database_url)},
        definitions=defs,
    )
    result = sensor.evaluate_tick(context)
    # Apply the partition requests as the daemon would.
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result  # type: ignore[return-value]


def _keys(instance: dg.DagsterInstance) -> list[str]:
    return sorted(tenant_partitions(PIPELINE).get_partition_keys(dynamic_partitions_store=instance))


def test_partitions_follow_the_registry(
    instance: dg.DagsterInstance, registry: TenantRegistry, database_url: str
) -> None:
    _ready(registry, "acme")
    _ready(registry, "globex")
    first = _tick(instance, database_url)
    assert _keys(instance) == ["acme", "globex"]
    onboarding = {r.partition_key: r for r in first.run_requests or []}
    assert set(onboarding) == {"acme", "globex"}
    assert onboarding["acme"].tags["tenant"] == "acme" and onboarding["acme"].tags["sync_type"] == "full"
    assert SensorCursor.read(first.cursor).partitions[PIPELINE] == ["acme", "globex"]

    again = _tick(instance, database_url, first.cursor)
    assert {r.run_key for r in again.run_requests or []} <= {r.run_key for r in first.run_requests or []}
    assert not again.dynamic_partitions_requests

    registry.update("globex", enabled=False)
    _tick(instance, database_url)
    assert _keys(instance) == ["acme"]

    registry.update("globex", enabled=True)
    reenabled = _tick(instance, database_url)
    assert _keys(instance) == ["acme", "globex"]
    new_keys = {r.run_key for r in reenabled.run_requests or []}
    assert len(new_keys) == 1 and not new_keys & {r.run_key for r in first.run_requests or []}

    registry.remove("acme")
    _tick(instance, database_url)
    assert _keys(instance) == ["globex"]


def test_onboarding_waits_for_the_credentials(
    instance: dg.DagsterInstance, registry: TenantRegistry, database_url: str
) -> None:
    """The README's order: add (the tenant is enabled at once), then set-credentials. The tenant gets its
    partition and its onboarding run only once a run could work; until then the cursor says what it waits
    for."""
    registry.add("acme", "", [PIPELINE], SETTINGS)
    registry.set_credentials("acme", "plentymarkets", CREDENTIALS["plentymarkets"])
    waiting = _tick(instance, database_url)
    assert _keys(instance) == [] and not waiting.run_requests and not waiting.dynamic_partitions_requests
    reason = SensorCursor.read(waiting.cursor).waiting[PIPELINE]["acme"]
    assert reason == (
        "tenant 'acme', shopware6: no credentials stored — remedy: store the credentials with "
        "`connector-pipelines tenants set-credentials acme shopware6`"
    )

    registry.set_credentials("acme", "shopware6", CREDENTIALS["shopware6"])
    ready = _tick(instance, database_url, waiting.cursor)
    assert _keys(instance) == ["acme"]
    assert [r.partition_key for r in ready.run_requests or []] == ["acme"]
    assert SensorCursor.read(ready.cursor).waiting[PIPELINE] == {}


def test_a_cursor_of_the_older_shape_reads_as_empty() -> None:
    assert SensorCursor.read(json.dumps({PIPELINE: ["acme"]})) == SensorCursor()
    assert SensorCursor.read("not json") == SensorCursor()
