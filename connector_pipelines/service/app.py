"""The service's ASGI app (FastAPI; the OpenAPI page at ``/docs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from connector_pipelines.service import health, problems, webhooks
from connector_pipelines.service.api import audit, mappings, record_errors, subscriptions, syncs, tenants
from connector_pipelines.service.auth import SigningKeys
from connector_pipelines.service.context import Services
from connector_pipelines.service.dagster import DagsterGateway
from connector_pipelines.service.inbox import InboxWriter
from connector_pipelines.service.metrics import ServiceMetrics
from connector_pipelines.service.ratelimit import TenantLimiter
from connector_pipelines.service.settings import ServiceSettings
from connector_pipelines.service.webhook_tenants import WebhookTenants
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.connections import SYSTEMS
from connector_pipelines.tenants.crypto import Keyring


def build_services(settings: ServiceSettings) -> Services:
    db = Database(settings.database_url)
    keyring = Keyring.from_env()
    # SQLite takes one writer at a time; on PostgreSQL a second one commits while the first waits for its own.
    writers = settings.inbox_writers or (1 if db.dialect == "sqlite" else 2)
    return Services(
        settings=settings,
        db=db,
        keyring=keyring,
        signing_keys=SigningKeys(db, lambda: keyring, ttl_s=settings.secrets_ttl_s),
        webhook_tenants=WebhookTenants(db, lambda: keyring, ttl_s=settings.secrets_ttl_s),
        inbox=InboxWriter(db, writers=writers, batch=settings.inbox_batch),
        dagster=DagsterGateway(settings.dagster_url, settings.dagster_location),
        metrics=ServiceMetrics(db, tuple(SYSTEMS), settings.dead_letter_attempts),
        limiter=TenantLimiter(settings.webhook_rate_per_s, settings.webhook_burst),
    )


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    services = build_services(settings or ServiceSettings.from_env())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.inbox.start()
        try:
            yield
        finally:
            # uvicorn has answered every request by now: what is queued is written, then the writers end.
            services.inbox.stop()
            services.dagster.close()
            services.db.dispose()

    app = FastAPI(
        title="connector_pipelines service",
        description="Signed webhooks in, management API with roles, health and metrics out.",
        version="1",
        lifespan=lifespan,
        # No OpenTelemetry here (Prometheus at /metrics): its per-request provider look-ups are pure cost.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.services = services
    problems.install(app)
    for router in (
        health.router,
        webhooks.router,
        tenants.router,
        syncs.router,
        record_errors.router,
        mappings.router,
        subscriptions.router,
        audit.router,
    ):
        app.include_router(router)
    app.add_middleware(audit.CallsMiddleware, services=services)
    app.add_middleware(webhooks.WebhookEndpoints, services=services)
    app.add_middleware(problems.RequestIdMiddleware)
    return app
