"""/metrics reads what every process recorded in the connector database: runs by status, records by action,
API calls and rate-limit waits, open record errors and dead letters, webhooks waiting, circuit breakers."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.breaker import CircuitBreaker
from connector_pipelines_tests.service.conftest import PIPELINE, Service


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_follow_the_connector_database(any_service: Service) -> None:
    any_service.add_tenant("acme")
    store = TenantStore(any_service.services.db, "acme", PIPELINE)
    counts = {"fetched": 10, "created": 4, "updated": 3, "unchanged": 3, "failed": 1, "api_calls_shopify": 7}
    for run_id, status in (("r1", "success"), ("r2", "failed")):
        step = store.start_run("delta", "shopify_products", run_id)
        store.finish_run(step, status, {**counts, "rate_limit_waits": 2, "rate_limit_wait_s": 1.5})
    store.start_run("delta", "erp_file", "r3")  # still running
    for _ in range(5):
        store.record_errors("shopify_products", [("A-1", "price missing", None)], "r2")
    store.record_errors("shopify_products", [("A-2", "price missing", None)], "r2")

    samples = _samples(any_service.client.get("/metrics").text)
    base = (("pipeline", PIPELINE), ("tenant", "acme"))

    def value(name: str, *labels: tuple[str, str]) -> float:
        return samples[(name, tuple(sorted((*base, *labels))))]

    assert samples[("connector_database_up", ())] == 1
    assert [value("connector_runs", ("status", s)) for s in ("success", "failed", "running")] == [1, 1, 1]
    assert value("connector_records_total", ("action", "created")) == 8
    assert value("connector_records_total", ("action", "fetched")) == 20
    assert value("connector_api_calls_total", ("system", "shopify")) == 14
    assert value("connector_rate_limit_waits_total", ("step", "shopify_products")) == 4
    assert value("connector_rate_limit_wait_seconds_total", ("step", "shopify_products")) == 3.0
    assert value("connector_open_record_errors") == 2
    assert value("connector_dead_letters") == 1


def test_metrics_show_each_circuit_breaker_state(any_service: Service) -> None:
    any_service.add_tenant("acme")
    breaker = CircuitBreaker(TenantStore(any_service.services.db, "acme", PIPELINE), "logo", threshold=2)
    breaker.failed(ConnectionError("connection refused"))

    def states() -> dict[str, float]:
        samples = _samples(any_service.client.get("/metrics").text)
        base = (("system", "logo"), ("tenant", "acme"))
        return {
            state: samples[("connector_circuit_breaker_state", tuple(sorted((*base, ("state", state)))))]
            for state in ("closed", "open", "half_open")
        } | {"failures": samples[("connector_circuit_breaker_failures", base)]}

    assert states() == {"closed": 1, "open": 0, "half_open": 0, "failures": 1}
    breaker.failed(ConnectionError("connection refused"))
    assert states() == {"closed": 0, "open": 1, "half_open": 0, "failures": 2}


def test_api_calls_are_counted_by_route_not_path(service: Service) -> None:
    service.add_tenant("acme")
    service.client.get("/api/tenants/acme", headers=service.token("viewer"))
    service.client.get("/api/tenants/nobody", headers=service.token("viewer", "*"))
    text = service.client.get("/metrics").text
    assert (
        'connector_service_requests_total{method="GET",route="/api/tenants/{tenant}",status="200"} 1.0'
        in text
    )
    assert (
        'connector_service_requests_total{method="GET",route="/api/tenants/{tenant}",status="404"} 1.0'
        in text
    )
    assert not re.search(r'route="/api/tenants/acme"', text)
