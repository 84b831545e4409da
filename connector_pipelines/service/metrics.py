"""``/metrics`` in the Prometheus text format (prometheus-client).

Counted in this process: webhooks received, duplicated and rejected, and API calls. Read from the connector
database at each scrape, so every process's work shows (the runs execute elsewhere): runs by tenant, pipeline
and status; the records the steps counted, by action; API calls and rate-limit waits the steps recorded;
open record errors and dead letters; webhooks waiting in the inbox; the circuit breakers' states.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from connector_pipelines.store.breakers import BreakerRepository
from connector_pipelines.store.db import ConnectionLostError, Database
from connector_pipelines.store.service import OperationsReport, WebhookInboxRepository

log = logging.getLogger(__name__)

RECORD_ACTIONS = ("fetched", "created", "updated", "unchanged", "deleted", "failed")
BREAKER_STATES = (BreakerRepository.CLOSED, BreakerRepository.OPEN, BreakerRepository.HALF_OPEN)


class DatabaseCollector(Collector):
    """The connector database's state, aggregated by SQL at every scrape."""

    def __init__(self, db: Database, systems: Sequence[str], dead_letter_attempts: int) -> None:
        self._report = OperationsReport(db)
        self._inbox = WebhookInboxRepository(db)
        self._breakers = BreakerRepository(db)
        self._systems = list(systems)
        self._dead_after = dead_letter_attempts

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("connector_database_up", "Whether the connector database answered the scrape.")
        try:
            metrics = list(self._read())
        except (SQLAlchemyError, ConnectionLostError) as exc:
            log.warning("metrics: the connector database did not answer: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            "connector_runs",
            "Runs recorded in the connector database.",
            labels=["tenant", "pipeline", "status"],
        )
        for run in self._report.runs():
            runs.add_metric([run.tenant, run.pipeline, run.status], run.runs)
        yield runs

        calls = [f"api_calls_{system}" for system in self._systems]
        totals = self._report.step_totals(
            [*RECORD_ACTIONS, *calls, "rate_limit_waits"], ["rate_limit_wait_s"]
        )
        records = CounterMetricFamily(
            "connector_records",
            "Records the steps counted, by action.",
            labels=["tenant", "pipeline", "action"],
        )
        api = CounterMetricFamily(
            "connector_api_calls",
            "Calls the steps made to external APIs.",
            labels=["tenant", "pipeline", "system"],
        )
        waits = CounterMetricFamily(
            "connector_rate_limit_waits",
            "Times a step waited for an API's rate limit.",
            labels=["tenant", "pipeline", "step"],
        )
        waited = CounterMetricFamily(
            "connector_rate_limit_wait_seconds",
            "Seconds steps waited for rate limits.",
            labels=["tenant", "pipeline", "step"],
        )
        by_action: dict[tuple[str, str, str], float] = {}
        by_system: dict[tuple[str, str, str], float] = {}
        for total in totals:
            if total.name in RECORD_ACTIONS:
                key = (total.tenant, total.pipeline, total.name)
                by_action[key] = by_action.get(key, 0.0) + total.value
            elif total.name.startswith("api_calls_"):
                key = (total.tenant, total.pipeline, total.name.removeprefix("api_calls_"))
                by_system[key] = by_system.get(key, 0.0) + total.value
            elif total.name == "rate_limit_waits":
                waits.add_metric([total.tenant, total.pipeline, total.step], total.value)
            else:
                waited.add_metric([total.tenant, total.pipeline, total.step], total.value)
        for labels, value in sorted(by_action.items()):
            records.add_metric(list(labels), value)
        for labels, value in sorted(by_system.items()):
            api.add_metric(list(labels), value)
        yield from (records, api, waits, waited)

        errors = GaugeMetricFamily(
            "connector_open_record_errors", "Records waiting with an error.", labels=["tenant", "pipeline"]
        )
        dead = GaugeMetricFamily(
            "connector_dead_letters",
            f"Open record errors after {self._dead_after} attempts or more.",
            labels=["tenant", "pipeline"],
        )
        for tenant, pipeline, count, dead_count in self._report.open_errors(self._dead_after):
            errors.add_metric([tenant, pipeline], count)
            dead.add_metric([tenant, pipeline], dead_count)
        yield from (errors, dead)

        waiting = GaugeMetricFamily(
            "connector_webhooks_waiting",
            "Webhooks in the inbox, not yet processed.",
            labels=["source", "tenant"],
        )
        for (source, tenant), count in sorted(self._inbox.waiting().items()):
            waiting.add_metric([source, tenant], count)
        yield waiting

        # An enum as Prometheus has it: one series per state, 1 for the breaker's current one.
        breakers = GaugeMetricFamily(
            "connector_circuit_breaker_state",
            "Circuit breaker per tenant and system (1 on the current state).",
            labels=["tenant", "system", "state"],
        )
        failures = GaugeMetricFamily(
            "connector_circuit_breaker_failures",
            "Consecutive connection failures counted by the breaker.",
            labels=["tenant", "system"],
        )
        for row in self._breakers.states():
            for state in BREAKER_STATES:
                breakers.add_metric([row.tenant, row.system, state], 1 if row.state == state else 0)
            failures.add_metric([row.tenant, row.system], row.failures)
        yield from (breakers, failures)


class ServiceMetrics:
    """This app's own registry (tests build several apps in one process)."""

    def __init__(self, db: Database, systems: Sequence[str], dead_letter_attempts: int) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # a *_created series per counter doubles the output
        self.registry = CollectorRegistry(auto_describe=False)
        self.webhooks_received = Counter(
            "connector_webhooks_received",
            "Verified webhooks stored in the inbox.",
            ["source"],
            registry=self.registry,
        )
        self.webhooks_duplicate = Counter(
            "connector_webhooks_duplicate",
            "Verified webhooks already in the inbox (retries, replays).",
            ["source"],
            registry=self.registry,
        )
        self.webhooks_rejected = Counter(
            "connector_webhooks_rejected",
            "Webhooks refused, by reason.",
            ["source", "reason"],
            registry=self.registry,
        )
        self.api_requests = Counter(
            "connector_service_requests",
            "Requests answered by the service, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.registry.register(DatabaseCollector(db, systems, dead_letter_attempts))

    def render(self) -> bytes:
        return generate_latest(self.registry)
