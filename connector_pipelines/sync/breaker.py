"""Circuit breakers per tenant and external system, kept in the connector database.

A system that keeps failing to answer (transport errors and 5xx after the client's own retries; not 4xx,
not rate limits) is left alone for a while instead of being hammered by every run:

- ``closed``: in use; each connection failure counts, a success resets the count. The ``threshold``-th
  consecutive failure (3) opens the breaker.
- ``open``: :meth:`CircuitBreaker.guard` raises :class:`SkippedSystem` (the reason, and until when) without
  touching the system. After the cool-down (the ERP settings' ``breaker_cooldown_s``, 5 minutes) the next
  guard claims the one probe.
- ``half_open``: one caller probes (the connector's ``test_connection``); others are skipped meanwhile. The
  probe getting through closes the breaker; a connection failure opens it for another cool-down. A probe
  that fails otherwise (refused credentials: the system did answer) closes it and its error goes on.

Several runs in several processes share a breaker through the database; every transition is one
conditional statement (:class:`BreakerRepository`), so a failure counts once and one probe runs.

    breaker = CircuitBreaker(store, "logo", cooldown_s=settings.breaker_cooldown_s)
    breaker.guard(connector.test_connection)      # SkippedSystem while open
    with breaker.watch():                          # counts a connection failure, resets on success
        levels = list(connector.stock(code))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Literal

import httpx
from pydantic import BaseModel

from connector_pipelines import errors
from connector_pipelines.clients.erp_files import FileConnectionError
from connector_pipelines.clients.http import TransientError as ApiUnavailableError
from connector_pipelines.redaction import redact
from connector_pipelines.store.breakers import BreakerRepository, BreakerRow
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import utcnow
from connector_pipelines.store.repositories import TenantStore

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "SkippedSystem",
    "breaker_states",
    "is_connection_failure",
]

THRESHOLD = 3
COOLDOWN_S = 300.0
_ERROR_EXCERPT = 500

State = Literal["closed", "open", "half_open"]
Clock = Callable[[], datetime]


class BreakerState(BaseModel):
    """One breaker as a check, a run's metadata and ``/metrics`` show it."""

    tenant: str
    system: str
    state: State
    failures: int
    opened_at: datetime | None
    retry_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: BreakerRow) -> BreakerState:
        state: State = (
            "open" if row.state == "open" else "half_open" if row.state == "half_open" else "closed"
        )
        return cls(
            tenant=row.tenant,
            system=row.system,
            state=state,
            failures=row.failures,
            opened_at=row.opened_at,
            retry_at=row.retry_at,
            last_error=row.last_error,
        )


class SkippedSystem(errors.ConnectorError):
    """The system is not used by this run: its breaker is open (or another run is probing it). Neither
    transient nor permanent: the step records the skip and goes on; no retry of the run can help before
    ``until``."""

    def __init__(self, tenant: str, system: str, reason: str, until: datetime | None) -> None:
        self.tenant = tenant
        self.system = system
        self.reason = reason
        self.until = until
        then = f"; next probe after {until:%Y-%m-%d %H:%M:%S} UTC" if until is not None else ""
        super().__init__(f"tenant '{tenant}', {system}: skipped: {reason}{then}")


def is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the system could not be reached or failed on its side (transport error or 5xx
    after the client's retries), rather than refusing the request (4xx, rate limits) or our own failure."""
    return isinstance(
        exc, ApiUnavailableError | FileConnectionError | httpx.TransportError | ConnectionError | TimeoutError
    )


def _describe(exc: BaseException) -> str:
    text = " ".join(redact(str(exc) or type(exc).__name__).split())
    return text[:_ERROR_EXCERPT]


class CircuitBreaker:
    """The breaker of ``system`` for the tenant of ``store``."""

    def __init__(
        self,
        store: TenantStore,
        system: str,
        *,
        cooldown_s: float = COOLDOWN_S,
        threshold: int = THRESHOLD,
        clock: Clock = utcnow,
        probe_timeout_s: float | None = None,
    ) -> None:
        if cooldown_s <= 0 or threshold < 1:
            raise ValueError("cooldown_s must be positive and threshold at least 1")
        self.tenant = store.tenant
        self.system = system
        self.cooldown = timedelta(seconds=cooldown_s)
        # A prober that died leaves the breaker half-open: after this long another caller may probe.
        self.probe_timeout = timedelta(seconds=probe_timeout_s if probe_timeout_s is not None else cooldown_s)
        self.threshold = threshold
        self.clock = clock
        self._tenant_id = store.tenant_id
        self._rows = BreakerRepository(store.db)

    def state(self) -> BreakerState:
        row = self._rows.get(self._tenant_id, self.system)
        if row is None:
            return BreakerState(
                tenant=self.tenant,
                system=self.system,
                state="closed",
                failures=0,
                opened_at=None,
                retry_at=None,
                last_error=None,
            )
        return BreakerState.of(row)

    def guard(self, probe: Callable[[], object]) -> None:
        """Return when the system may be used; raise :class:`SkippedSystem` when it may not. After the
        cool-down one caller runs ``probe`` (the connector's test connection) and the breaker follows it."""
        row = self._rows.get(self._tenant_id, self.system)
        if row is None or row.state == BreakerRepository.CLOSED:
            return
        now = self.clock()
        if row.retry_at is not None and now < row.retry_at:
            raise SkippedSystem(self.tenant, self.system, self._reason(row), row.retry_at)
        if not self._rows.claim_probe(self._tenant_id, self.system, now=now, until=now + self.probe_timeout):
            raced = self._rows.get(self._tenant_id, self.system)
            until = raced.retry_at if raced is not None else None
            raise SkippedSystem(self.tenant, self.system, "another run is probing it", until)
        try:
            probe()
        except Exception as exc:
            if not is_connection_failure(exc):
                self._rows.close(self._tenant_id, self.system, self.clock())
                raise
            failed_at = self.clock()
            retry_at = failed_at + self.cooldown
            error = _describe(exc)
            self._rows.reopen(self._tenant_id, self.system, now=failed_at, retry_at=retry_at, error=error)
            raise SkippedSystem(
                self.tenant, self.system, f"circuit breaker open: the probe failed ({error})", retry_at
            ) from exc
        self._rows.close(self._tenant_id, self.system, self.clock())

    def failed(self, exc: BaseException) -> bool:
        """Count ``exc`` if it is a connection failure; returns whether it counted."""
        if not is_connection_failure(exc):
            return False
        now = self.clock()
        self._rows.count_failure(
            self._tenant_id,
            self.system,
            threshold=self.threshold,
            now=now,
            retry_at=now + self.cooldown,
            error=_describe(exc),
        )
        return True

    def succeeded(self) -> None:
        self._rows.count_success(self._tenant_id, self.system, self.clock())

    @contextmanager
    def watch(self) -> Iterator[None]:
        """The block's outcome counts: a connection failure (re-raised) or a success."""
        try:
            yield
        except BaseException as exc:
            self.failed(exc)
            raise
        self.succeeded()

    def _reason(self, row: BreakerRow) -> str:
        if row.state == BreakerRepository.HALF_OPEN:
            return "another run is probing it"
        last = f" (last: {row.last_error})" if row.last_error else ""
        return f"circuit breaker open after {row.failures} consecutive connection failures{last}"


def breaker_states(store: Database | TenantStore) -> list[BreakerState]:
    """Every breaker (of the store's tenant, for a TenantStore): for checks and ``/metrics``."""
    if isinstance(store, TenantStore):
        rows = BreakerRepository(store.db).states(store.tenant_id)
    else:
        rows = BreakerRepository(store).states()
    return [BreakerState.of(row) for row in rows]
