"""The circuit breakers' rows (``sync/breaker.py`` holds the logic). Every change is one conditional
statement, so that runs in several processes racing on one breaker agree: a failure counts once, one probe
claims a half-open breaker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from connector_pipelines.store.db import Database
from connector_pipelines.store.models import SystemBreaker, Tenant


@dataclass(frozen=True)
class BreakerRow:
    tenant: str
    system: str
    state: str
    failures: int
    opened_at: datetime | None
    retry_at: datetime | None
    last_error: str | None
    updated_at: datetime


class BreakerRepository:
    """The rows of every tenant's breakers."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _key(tenant_id: int, system: str) -> list[ColumnElement[bool]]:
        return [SystemBreaker.tenant_id == tenant_id, SystemBreaker.system == system]

    def _rows(self, where: Sequence[ColumnElement[bool]]) -> list[BreakerRow]:
        with self.db.session() as s:
            rows = s.execute(
                select(Tenant.slug, SystemBreaker)
                .join(Tenant, Tenant.id == SystemBreaker.tenant_id)
                .where(*where)
                .order_by(Tenant.slug, SystemBreaker.system)
            ).all()
        return [
            BreakerRow(
                slug, b.system, b.state, b.failures, b.opened_at, b.retry_at, b.last_error, b.updated_at
            )
            for slug, b in rows
        ]

    def get(self, tenant_id: int, system: str) -> BreakerRow | None:
        found = self._rows(self._key(tenant_id, system))
        return found[0] if found else None

    def states(self, tenant_id: int | None = None) -> list[BreakerRow]:
        """Every breaker (of one tenant), by tenant and system."""
        return self._rows([SystemBreaker.tenant_id == tenant_id] if tenant_id is not None else [])

    def count_failure(
        self, tenant_id: int, system: str, *, threshold: int, now: datetime, retry_at: datetime, error: str
    ) -> None:
        """One more consecutive failure; the one that reaches ``threshold`` opens a closed breaker until
        ``retry_at``."""
        with self.db.session() as s:
            dialect = s.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            s.execute(
                insert(SystemBreaker)
                .values(tenant_id=tenant_id, system=system, state=self.CLOSED, failures=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=["tenant_id", "system"])
            )
            failures = SystemBreaker.failures + 1
            trips = and_(SystemBreaker.state == self.CLOSED, failures >= threshold)
            s.execute(
                update(SystemBreaker)
                .where(*self._key(tenant_id, system))
                .values(
                    failures=failures,
                    last_error=error,
                    updated_at=now,
                    state=case((trips, self.OPEN), else_=SystemBreaker.state),
                    opened_at=case((trips, now), else_=SystemBreaker.opened_at),
                    retry_at=case((trips, retry_at), else_=SystemBreaker.retry_at),
                )
            )

    def count_success(self, tenant_id: int, system: str, now: datetime) -> None:
        """The failures of a closed breaker are no longer consecutive."""
        with self.db.session() as s:
            s.execute(
                update(SystemBreaker)
                .where(
                    *self._key(tenant_id, system),
                    SystemBreaker.state == self.CLOSED,
                    SystemBreaker.failures > 0,
                )
                .values(failures=0, updated_at=now)
            )

    def claim_probe(self, tenant_id: int, system: str, *, now: datetime, until: datetime) -> bool:
        """Whether this caller may probe: an open breaker whose cool-down is over, or a half-open one whose
        prober has not finished by ``retry_at`` (it died), becomes half-open until ``until`` for it alone."""
        with self.db.session() as s:
            result = s.execute(
                update(SystemBreaker)
                .where(
                    *self._key(tenant_id, system),
                    SystemBreaker.state.in_((self.OPEN, self.HALF_OPEN)),
                    SystemBreaker.retry_at <= now,
                )
                .values(state=self.HALF_OPEN, retry_at=until, updated_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def close(self, tenant_id: int, system: str, now: datetime) -> None:
        """The probe got through: the breaker closes with no failures counted."""
        with self.db.session() as s:
            s.execute(
                update(SystemBreaker)
                .where(*self._key(tenant_id, system), SystemBreaker.state == self.HALF_OPEN)
                .values(
                    state=self.CLOSED,
                    failures=0,
                    opened_at=None,
                    retry_at=None,
                    last_error=None,
                    updated_at=now,
                )
            )

    def reopen(self, tenant_id: int, system: str, *, now: datetime, retry_at: datetime, error: str) -> None:
        """The probe failed: open again until ``retry_at``."""
        with self.db.session() as s:
            s.execute(
                update(SystemBreaker)
                .where(*self._key(tenant_id, system), SystemBreaker.state == self.HALF_OPEN)
                .values(
                    state=self.OPEN,
                    failures=SystemBreaker.failures + 1,
                    opened_at=now,
                    retry_at=retry_at,
                    last_error=error,
                    updated_at=now,
                )
            )
