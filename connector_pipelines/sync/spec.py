"""The declaration of a pipeline, in plain Python: its systems, steps, checks, jobs, modes, schedules,
polling and inbox sensors and onboarding. One builder (``pipelines/builder.py``) turns a spec into Dagster
definitions; the CLI, the run-failure sensor, the demo and the benchmarks read the same spec."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from connector_pipelines.sync.runtime import CheckFunction, StepFunction, SyncMode
from connector_pipelines.tenants.connections import System
from connector_pipelines.tenants.registry import TenantError, TenantInfo, TenantRegistry

AnySystem = System[Any, Any, Any]


@dataclass(frozen=True)
class SystemChoice:
    """A role of a pipeline that each tenant fills with one of ``options``: the one it has settings for (the
    gateway's ERP: Logo, Netsis or CSV files; its shop: Shopify or Shopware). Steps using it carry ``kind``
    and ``pool`` (fixed per asset in Dagster); they open the tenant's own system (:meth:`for_tenant`)."""

    role: str  # "ERP", "shop": how errors name it
    options: tuple[AnySystem, ...]
    kind: str
    pool: str

    def resolve(self, configured: Collection[str], tenant: str | None = None) -> AnySystem:
        """The option among the systems the tenant has settings for (``configured``); exactly one must be."""
        found = [s for s in self.options if s.name in configured]
        if len(found) != 1:
            names = ", ".join(s.name for s in self.options)
            have = ", ".join(s.name for s in found) or "none"
            raise TenantError(
                f"expected settings for exactly one {self.role} of the pipeline ({names}), found {have}",
                tenant=tenant,
                remedy=f"store the settings of the tenant's {self.role} (one of {names}) and no other",
            )
        return found[0]

    def for_tenant(self, registry: TenantRegistry, tenant: str) -> AnySystem:
        return self.resolve(registry.get(tenant).settings, tenant)


# A step's or check's system: fixed, or chosen per tenant.
SystemRole = AnySystem | SystemChoice


@dataclass(frozen=True)
class CheckSpec:
    """An asset check per tenant. ``run`` evaluates it in a check of its own; without ``run``, the step of
    ``asset`` evaluates it and reports it in ``StepReport.checks[name]``."""

    name: str
    asset: str
    description: str
    run: CheckFunction | None = None
    severity: Literal["error", "warn"] = "error"
    system: SystemRole | None = None  # the system the check reads (its pool)


@dataclass(frozen=True)
class StepSpec:
    """One asset per tenant partition: ``run`` does the work with the system it reads or writes."""

    name: str
    run: StepFunction
    system: SystemRole
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
    Without ``mode`` the job runs no sync mode and is tagged ``sync_type=<job>``. ``window``: each run
    reads the trailing window before its tick (run config ``since``), for pipelines that take a date range."""

    name: str
    job: str
    cron: str
    description: str
    mode: SyncMode | None = None
    env: str | None = None
    due: Callable[[TenantInfo, datetime], bool] | None = None
    window: timedelta | None = None


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
    source: SystemRole
    target: SystemRole
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
        """The systems every tenant of the pipeline has settings for; a role chosen per tenant
        (:class:`SystemChoice`) is none of them: the tenant has one of its options."""
        return tuple(s.name for s in (self.source, self.target) if isinstance(s, System))

    @property
    def choices(self) -> tuple[SystemChoice, ...]:
        return tuple(s for s in (self.source, self.target) if isinstance(s, SystemChoice))

    def system_options(self) -> tuple[AnySystem, ...]:
        """Every system a tenant of the pipeline may use."""
        found: list[AnySystem] = []
        for role in (self.source, self.target):
            found.extend(role.options if isinstance(role, SystemChoice) else (role,))
        return tuple(dict.fromkeys(found))

    def systems_of(self, tenant: TenantInfo) -> tuple[AnySystem, ...]:
        """The systems ``tenant`` uses: the fixed ones and, per choice, the option it has settings for."""
        found = [
            role.resolve(tenant.settings, tenant.slug) if isinstance(role, SystemChoice) else role
            for role in (self.source, self.target)
        ]
        return tuple(dict.fromkeys(found))

    def job_name(self, job: str) -> str:
        return f"{self.name}_{job}"

    def job_for(self, mode: SyncMode) -> str | None:
        job = self.modes.get(mode)
        return self.job_name(job) if job is not None else None

    def step(self, name: str) -> StepSpec:
        return next(s for s in self.steps if s.name == name)
