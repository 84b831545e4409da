"""The step runtime every pipeline shares, in plain Python: the sync modes, what a step is given (its
:class:`StepContext`), what it returns (its :class:`StepReport`), and how it is timed, locked and recorded
(:class:`Step`). The Dagster layer only turns a run into a context and a report into metadata."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel

from connector_pipelines.clients.http import ApiClient
from connector_pipelines.errors import PermanentError
from connector_pipelines.redaction import redact
from connector_pipelines.store.locks import RunLock, RunLockLostError
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.publish import PublishResult, preview_markdown
from connector_pipelines.tenants.connections import System
from connector_pipelines.tenants.registry import TenantRegistry

S = TypeVar("S", bound=BaseModel)
C = TypeVar("C", bound=BaseModel)
H = TypeVar("H")


class SyncMode(StrEnum):
    """What a run does: refresh reference data, sync what changed, sync everything, or only show the plan."""

    CONFIG = "config"
    DELTA = "delta"
    FULL = "full"
    PLAN = "plan"
    # Apply what the webhook inbox holds for the tenant (launched by an inbox sensor, ahead of bulk work).
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class ReadWindow:
    """A date range of a run (run config ``since`` / ``until``, either open): only the source records updated
    in ``[since, until)`` are read. A full run over a window is a backfill of that range (it cannot see
    deletions); a delta over one re-reads it. Times are UTC."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None) -> ReadWindow | None:
        """From ISO 8601 dates (``2026-01-31``: midnight UTC) or times (without an offset: UTC); None when
        both are empty. A bad value raises PermanentError naming it."""
        window = cls(_moment(since, "since"), _moment(until, "until"))
        if window.since is None and window.until is None:
            return None
        if window.since is not None and window.until is not None and window.since >= window.until:
            raise PermanentError(
                f"the date range is empty: since {window.since.isoformat()} is not before until "
                f"{window.until.isoformat()}",
                remedy="give a since before the until",
            )
        return window


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PermanentError(
            f"{name} {text!r} is not an ISO 8601 date or time",
            remedy=f"give {name} as 2026-01-31 or 2026-01-31T12:00:00Z",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class CheckOutcome:
    """The result of a check of a step: passed or not, with counts and a markdown preview."""

    passed: bool
    counts: dict[str, Any] = field(default_factory=dict)
    preview: str = ""


@dataclass
class StepReport:
    counts: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    duration_s: float = 0.0
    preview: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Results of the checks that the step itself evaluates (by check name).
    checks: dict[str, CheckOutcome] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = dict(self.counts)
        for system, calls in self.calls.items():
            meta[f"api_calls_{system}"] = calls
        meta["rate_limit_waits"] = self.rate_limit_waits
        meta["rate_limit_wait_s"] = round(self.rate_limit_wait_s, 3)
        meta["duration_s"] = round(self.duration_s, 3)
        meta.update(self.extra)
        return meta

    def add_publication(self, result: PublishResult, mode: str) -> None:
        """Counts and preview of a publication; in plan mode, the per-record plan (old and new values)."""
        self.counts = {**self.counts, **result.counts()}
        entries = result.plan if mode == SyncMode.PLAN else result.preview
        self.preview = preview_markdown(entries)
        if mode == SyncMode.PLAN:
            self.extra["plan"] = [e.as_json() for e in result.plan]


class Step:
    """Times a step, records it as a sync run, and collects client statistics.

    Each step opens its own clients, so their totals (login and look-ups included) are the step's calls.
    The tenant's run lock is held for the step: two runs started at once take turns step by step (each step
    starts from whatever state the other left) or, after a wait, the later one is refused."""

    def __init__(
        self, store: TenantStore, mode: str, step: str, run_id: str | None, *clients: ApiClient
    ) -> None:
        self.store, self.mode, self.step, self.run_id, self.clients = store, mode, step, run_id, clients
        self.report = StepReport()
        self._lock = RunLock(store)

    def __enter__(self) -> StepReport:
        self._lock.__enter__()
        try:
            self._sync_run = self.store.start_run(self.mode, self.step, self.run_id)
        except BaseException as exc:
            self._lock.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._started = time.monotonic()
        return self.report

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        try:
            self._lock.__exit__(exc_type, exc, None)
        except RunLockLostError as lost:
            self._finish(lost)
            raise
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        report = self.report
        report.duration_s = time.monotonic() - self._started
        for client in self.clients:
            report.calls[client.system] = report.calls.get(client.system, 0) + client.stats.calls
            report.rate_limit_waits += client.stats.rate_limit_waits
            report.rate_limit_wait_s += client.stats.rate_limit_wait_s
        status = "success" if exc is None else "failed"
        error = redact(f"{type(exc).__name__}: {exc}") if exc is not None else None
        self.store.finish_run(self._sync_run, status, report.metadata(), error)


class StepContext:
    """What a step of a pipeline is given: the tenant, the run, its store, and the tenant's systems.

    Clients are opened on first use, once per step, and closed when the step ends (``with`` the context)."""

    def __init__(
        self,
        registry: TenantRegistry,
        *,
        tenant: str,
        pipeline: str,
        mode: SyncMode,
        run_id: str | None,
        product_ids: Sequence[str] = (),
        max_timeout_s: float | None = None,
        window: ReadWindow | None = None,
        skip_existing: bool = False,
    ) -> None:
        self.registry, self.tenant, self.pipeline = registry, tenant, pipeline
        self.mode, self.run_id, self.product_ids = mode, run_id, list(product_ids)
        self.max_timeout_s = max_timeout_s
        # Run options of the pipelines that take them (shopify_ingestion): a date range, and writing only
        # the records the target does not hold yet.
        self.window, self.skip_existing = window, skip_existing
        self._stack = ExitStack()
        self._open: dict[str, object] = {}

    @cached_property
    def store(self) -> TenantStore:
        return TenantStore(self.registry.db, self.tenant, self.pipeline)

    def settings(self, system: System[S, C, H]) -> S:
        return self.registry.settings(self.tenant, system.name, system.settings)

    def open(self, system: System[S, C, H]) -> H:
        """The tenant's client (or source) of ``system``, opened once per step."""
        if system.name not in self._open:
            opened = self.registry.connect(self.tenant, system, max_timeout_s=self.max_timeout_s)
            self._open[system.name] = self._stack.enter_context(opened)
        handle: H = self._open[system.name]  # type: ignore[assignment]
        return handle

    def __enter__(self) -> StepContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


StepFunction = Callable[[StepContext], StepReport]
CheckFunction = Callable[[StepContext], CheckOutcome]
