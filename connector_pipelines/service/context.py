"""What every request of one app shares: settings, database, signing keys, inbox writer, Dagster gateway,
metrics. Built by :func:`connector_pipelines.service.app.create_app`, kept in ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends, Request

from connector_pipelines.service.auth import SigningKeys
from connector_pipelines.service.dagster import DagsterGateway
from connector_pipelines.service.inbox import InboxWriter
from connector_pipelines.service.metrics import ServiceMetrics
from connector_pipelines.service.ratelimit import TenantLimiter
from connector_pipelines.service.settings import ServiceSettings
from connector_pipelines.service.webhook_tenants import WebhookTenants
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.crypto import Keyring

if TYPE_CHECKING:
    from connector_pipelines.tenants.registry import TenantRegistry


@dataclass
class Services:
    settings: ServiceSettings
    db: Database
    keyring: Keyring
    signing_keys: SigningKeys
    webhook_tenants: WebhookTenants
    inbox: InboxWriter
    dagster: DagsterGateway
    metrics: ServiceMetrics
    limiter: TenantLimiter

    @cached_property
    def registry(self) -> TenantRegistry:
        """The tenant registry (the pipelines' catalog is read on first use, not at start-up)."""
        from connector_pipelines.pipelines.catalog import pipeline_specs
        from connector_pipelines.tenants.registry import TenantRegistry

        return TenantRegistry(self.db, lambda: self.keyring, pipelines=pipeline_specs())


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


Ctx = Annotated[Services, Depends(get_services)]
