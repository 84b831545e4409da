"""The declaration of a pipeline, in plain Python: its systems, steps, checks, jobs, modes, schedules,
polling and inbox sensors and onboarding. One builder (``pipelines/builder.py``) turns a spec into Dagster
definitions; the CLI, the run-failure sensor, the demo and the benchmarks read the same spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from connector_pipelines.sync.runtime import CheckFunction, StepFunction, SyncMode
from connector_pipelines.tenants.connections import System
from connector_pipelines.tenants.registry import TenantInfo, TenantRegistry

AnySystem = System[Any, Any, Any]


@dataclass(frozen=True)
class CheckSpec:
    """An asset check per tenant. ``run`` evaluates it in a check of its own; without ``run``, the step of
    ``asset`` evaluates it and reports it in ``StepReport.checks[name]``."""

    name: str
    asset: str
    description: str
    run: CheckFunction | None = None
    severity: Literal["error", "warn"] = "error"
    system: AnySystem | None = None  # the system the check reads (its pool)


@dataclass(frozen=True)
class StepSpec:
    """One asset per tenant partition: ``run`` does the work with the system it reads or writes."""

    name: str
    run: StepFunction
    system: AnySystem
    description: str
    deps: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobSpec:
    name: str  # the job is called <pipeline>_<name>
    steps: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class ScheduleSpec:
    """A per-tenant schedule: one run of ``job`` per tenant partition at each tick, in ``mode``.

    ``env`` names the variable that overrides ``cron``; ``due`` (from the tenant's registry entry and the
    tick) narrows the tenants of a tick, raising ValueError for a tenant whose settings are invalid.
    Without ``mode`` the job runs no sync mode and is tagged ``sync_type=<job>``."""

    name: str
    job: str
    cron: str
    description: str
    mode: SyncMode | None = None
    env: str | None = None
    due: Callable[[TenantInfo, datetime], bool] | None = None


@dataclass(frozen=True)
class PollSpec:
    """A per-tenant polling sensor: ``probe`` answers a fingerprint of the tenant's source (a file's
    identity, a cursor); a changed fingerprint requests a run of ``job`` in ``mode``. Ticks keep within a
    time budget and go on with the next tenant at the following tick."""

    name: str
    job: str
    mode: SyncMode
    trigger: str
    description: str
    probe: Callable[[TenantRegistry, str, float], str]  # (registry, tenant, timeout cap) -> fingerprint
    interval_s: int = 60
    budget_s: float = 40.0  # of Dagster's 60 s per evaluation, leaving room for the run requests
    probe_timeout_s: float = 10.0


@dataclass(frozen=True)
class InboxSpec:
    """A per-tenant inbox sensor: verified webhooks of ``source`` with one of ``topics`` waiting in the
    connector service's inbox request a run of ``job`` in ``mode`` for their tenant, with ``priority`` so the
    queue starts it ahead of bulk work. The run's steps read and settle the deliveries
    (``WebhookInboxRepository.take`` / ``settle``)."""

    name: str
    job: str
    source: str  # shopify | erp, as the service stores it
    topics: tuple[str, ...]
    description: str
    mode: SyncMode = SyncMode.WEBHOOK
    priority: int = 10
    interval_s: int = 15


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    description: str
    source: AnySystem
    target: AnySystem
    steps: tuple[StepSpec, ...]
    jobs: tuple[JobSpec, ...]
    modes: Mapping[SyncMode, str]  # mode -> job name
    onboarding: SyncMode
    checks: tuple[CheckSpec, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    sensors: tuple[PollSpec, ...] = field(default=())
    inboxes: tuple[InboxSpec, ...] = ()
    # Checks the source product ids that narrow a run (`sync --product`), raising PermanentError for an id
    # the source cannot have; None: the pipeline cannot narrow a run to single products.
    product_ids: Callable[[Sequence[str]], object] | None = None

    @property
    def systems(self) -> tuple[str, ...]:
        return (self.source.name, self.target.name)

    def job_name(self, job: str) -> str:
        return f"{self.name}_{job}"

    def job_for(self, mode: SyncMode) -> str | None:
        job = self.modes.get(mode)
        return self.job_name(job) if job is not None else None

    def step(self, name: str) -> StepSpec:
        return next(s for s in self.steps if s.name == name)
