"""The audit trail: every mutating call of the management API (refused ones too) is written to ``audit_log``
before its answer leaves; admins read it here (a tenant-scoped admin: its tenants' entries)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector_pipelines.service.api.common import Page, PageParams
from connector_pipelines.service.auth import AnyAdmin, Principal
from connector_pipelines.service.context import Ctx, Services
from connector_pipelines.service.problems import request_id
from connector_pipelines.store.db import ConnectionLostError
from connector_pipelines.store.service import AuditLogRepository, AuditRecord

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/audit", tags=["audit"])

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditOut(BaseModel):
    at: datetime
    actor: str
    role: str | None
    method: str
    path: str
    tenant: str | None
    status_code: int
    request_id: str


@router.get("", response_model=Page[AuditOut], summary="Mutating calls, newest first")
def audit_log(services: Ctx, principal: AnyAdmin, paging: PageParams) -> Page[AuditOut]:
    tenants = sorted(principal.tenants) if principal.tenants is not None else None
    found, total = AuditLogRepository(services.db).entries(
        tenants=tenants, limit=paging.limit, offset=paging.offset
    )
    return paging.page([AuditOut(**vars(r)) for r in found], total)


def _route(scope: Scope) -> str:
    """The route's template (``/api/tenants/{tenant}``), not the path: bounded label values."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "(unmatched)"


class CallsMiddleware:
    """Counts every answer by route and status, and writes the audit entry of each mutating API call before
    its answer starts."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        audited = scope["method"] in MUTATING and scope["path"].startswith("/api/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.services.metrics.api_requests.labels(scope["method"], _route(scope), str(status)).inc()
                if audited:
                    await anyio.to_thread.run_sync(self._audit, scope, status)
            await send(message)

        await self.app(scope, receive, sending)

    def _audit(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        known = principal if isinstance(principal, Principal) else None
        tenant = scope.get("path_params", {}).get("tenant") or state.get("audit_tenant")
        record = AuditRecord(
            at=datetime.now(UTC),
            actor=known.subject if known else "(unauthenticated)",
            role=known.role.value if known else None,
            method=scope["method"],
            path=scope["path"][:500],
            tenant=tenant[:63] if isinstance(tenant, str) else None,
            status_code=status,
            request_id=request_id(scope),
        )
        try:
            AuditLogRepository(self.services.db).write(record)
        except (SQLAlchemyError, ConnectionLostError) as exc:
            # The call has happened: its answer goes out; the gap in the trail is logged.
            log.error(
                "audit entry lost (%s %s by %s, %d): %s",
                record.method,
                record.path,
                record.actor,
                status,
                type(exc).__name__,
            )
