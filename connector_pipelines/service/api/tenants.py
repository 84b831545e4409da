"""Tenants: list, create, read, update, enable / disable, remove; credentials and webhook secrets written,
never read back; a connection test of each configured system."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, ValidationError

from connector_pipelines.redaction import redact, register_secrets
from connector_pipelines.service.api.common import Page, PageParams, answers, problems
from connector_pipelines.service.auth import Admin, AnyAdmin, AnyViewer, Operator, Viewer
from connector_pipelines.service.context import Ctx, Services
from connector_pipelines.service.problems import ApiError
from connector_pipelines.service.webhook_tenants import ERP, sealed_system
from connector_pipelines.store.service import WebhookSecretRepository
from connector_pipelines.tenants.registry import (
    RemovalSummary,
    TenantInfo,
    TenantRegistry,
    UnknownTenantError,
)
from connector_pipelines.tenants.systems import secret_values

router = APIRouter(prefix="/api/tenants", tags=["tenants"])

Settings = dict[str, dict[str, JsonValue]]
# Credential values: strings mostly; never echoed, never logged.
Credentials = dict[str, dict[str, str | int | bool | None]]


class TenantOut(BaseModel):
    slug: str
    display_name: str
    enabled: bool
    pipelines: list[str]
    settings: Settings
    credentials_set: list[str] = Field(
        description="systems whose credentials are stored (values never shown)"
    )
    webhook_secrets_set: list[str] = Field(description="webhook sources whose secret is stored")
    created_at: datetime
    updated_at: datetime
    enabled_at: datetime


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str
    display_name: str = ""
    pipelines: list[str] = Field(min_length=1)
    settings: Settings = Field(default_factory=dict, description="{system: {setting: value}}")
    credentials: Credentials = Field(default_factory=dict, description="{system: {field: value}}, write-only")
    enabled: bool = True


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = None
    pipelines: list[str] | None = None
    settings: Settings | None = Field(None, description="merged into the stored settings, per system")
    credentials: Credentials | None = Field(None, description="replaces the named systems' credentials")


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, str | int | bool | None]


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: SecretStr = Field(min_length=24, description="the shared secret the sender signs with")


class SystemCheck(BaseModel):
    system: str
    ok: bool
    detail: str
    seconds: float


class ConnectionReport(BaseModel):
    tenant: str
    ok: bool
    systems: list[SystemCheck]


def _systems_of(pipelines: list[str]) -> list[str]:
    from connector_pipelines.pipelines.catalog import pipeline_specs

    specs = pipeline_specs()
    return list(dict.fromkeys(system for p in pipelines if p in specs for system in specs[p].systems))


def _out(services: Services, info: TenantInfo) -> TenantOut:
    with answers():
        secrets = WebhookSecretRepository(services.db).sources_of(services.registry.tenant_id(info.slug))
    return TenantOut(**info.model_dump(), webhook_secrets_set=sorted(secrets))


def _validated_credentials(credentials: Credentials) -> None:
    """Every system's credentials valid before anything is stored; their secrets are masked from now on."""
    from connector_pipelines.tenants.connections import SYSTEMS

    for system, values in credentials.items():
        if system not in SYSTEMS:
            raise ApiError(422, f"unknown system '{system}'; known: {', '.join(sorted(SYSTEMS))}")
        try:
            register_secrets(secret_values(SYSTEMS[system].credentials.model_validate(values)))
        except ValidationError as exc:
            raise ApiError(422, f"invalid credentials for '{system}': {problems(exc)}") from None


def _store_credentials(services: Services, slug: str, credentials: Credentials) -> None:
    for system, values in credentials.items():
        with answers():
            services.registry.set_credentials(slug, system, dict(values))
    services.webhook_tenants.invalidate()


@router.get("", response_model=Page[TenantOut], summary="The tenants the token covers")
def list_tenants(services: Ctx, principal: AnyViewer, paging: PageParams) -> Page[TenantOut]:
    with answers():
        found = [t for t in services.registry.tenants() if principal.may_access(t.slug)]
    chosen = found[paging.offset : paging.offset + paging.limit]
    return paging.page([_out(services, t) for t in chosen], len(found))


@router.post("", response_model=TenantOut, status_code=201, summary="Register a tenant")
def create_tenant(request: Request, services: Ctx, principal: AnyAdmin, body: TenantCreate) -> TenantOut:
    request.state.audit_tenant = body.slug
    if not principal.may_access(body.slug):
        raise ApiError(403, f"the token does not cover tenant '{body.slug}'")
    registry = services.registry
    with contextlib.suppress(UnknownTenantError):
        registry.get(body.slug)
        raise ApiError(409, f"tenant '{body.slug}' already exists")
    _validated_credentials(body.credentials)
    with answers():
        registry.add(
            body.slug,
            body.display_name,
            body.pipelines,
            dict(body.settings),
            enabled=body.enabled,
            systems=_systems_of(body.pipelines),
        )
    _store_credentials(services, body.slug, body.credentials)
    services.webhook_tenants.invalidate()
    with answers():
        return _out(services, registry.get(body.slug))


@router.get("/{tenant}", response_model=TenantOut, summary="One tenant (credentials never shown)")
def read_tenant(services: Ctx, caller: Viewer) -> TenantOut:
    with answers():
        return _out(services, services.registry.get(caller.tenant))


@router.patch("/{tenant}", response_model=TenantOut, summary="Change name, pipelines, settings, credentials")
def update_tenant(services: Ctx, caller: Admin, body: TenantUpdate) -> TenantOut:
    registry = services.registry
    with answers():
        registry.get(caller.tenant)
    if body.credentials:
        _validated_credentials(body.credentials)
    with answers():
        registry.update(
            caller.tenant,
            display_name=body.display_name,
            pipelines=body.pipelines,
            settings=dict(body.settings) if body.settings is not None else None,
            systems=_systems_of(body.pipelines) if body.pipelines is not None else (),
        )
    if body.credentials:
        _store_credentials(services, caller.tenant, body.credentials)
    services.webhook_tenants.invalidate()
    with answers():
        return _out(services, registry.get(caller.tenant))


def _set_enabled(services: Services, tenant: str, enabled: bool) -> TenantOut:
    with answers():
        return _out(services, services.registry.update(tenant, enabled=enabled))


@router.post("/{tenant}/enable", response_model=TenantOut, summary="Enable: schedules and sensors run it")
def enable_tenant(services: Ctx, caller: Admin) -> TenantOut:
    return _set_enabled(services, caller.tenant, True)


@router.post("/{tenant}/disable", response_model=TenantOut, summary="Disable: nothing runs for it")
def disable_tenant(services: Ctx, caller: Admin) -> TenantOut:
    return _set_enabled(services, caller.tenant, False)


@router.delete("/{tenant}", response_model=RemovalSummary, summary="Remove a tenant and its connector data")
def remove_tenant(services: Ctx, caller: Admin) -> RemovalSummary:
    # Imported here: the ingestion stack (pandas, its own database) loads only when a tenant is removed.
    from connector_pipelines.sync.shopify_webhooks import forget_removed_tenant

    with answers():
        summary = services.registry.removal_summary(caller.tenant)
        forget_removed_tenant(caller.tenant, services.registry.get(caller.tenant).pipelines)
        services.registry.remove(caller.tenant)
    services.webhook_tenants.invalidate()
    return summary


@router.put("/{tenant}/credentials/{system}", status_code=204, summary="Store a system's credentials")
def put_credentials(services: Ctx, caller: Admin, system: str, body: CredentialsIn) -> Response:
    _validated_credentials({system: body.values})
    with answers():
        services.registry.get(caller.tenant)
    _store_credentials(services, caller.tenant, {system: body.values})
    return Response(status_code=204)


@router.put(
    "/{tenant}/webhook-secret", status_code=204, summary="Store the secret ERP webhooks are signed with"
)
def put_webhook_secret(services: Ctx, caller: Admin, body: SecretIn) -> Response:
    secret = body.secret.get_secret_value()
    register_secrets([secret])
    with answers():
        tenant_id = services.registry.tenant_id(caller.tenant)
        sealed = services.keyring.encrypt(secret.encode(), caller.tenant, sealed_system(ERP))
    WebhookSecretRepository(services.db).put(tenant_id, ERP, sealed.key_id, sealed.blob)
    services.webhook_tenants.invalidate()
    return Response(status_code=204)


# --- connection test ---------------------------------------------------------------------------------------

_PROBE_TIMEOUT_S = 15.0


def _own_probe(system: str) -> Callable[[Any], str] | None:
    """A cheap authenticated call for the systems whose registry entry declares no probe."""
    if system == "plytix":
        return lambda client: f"token granted; {len(client.families())} product families visible"
    if system == "webflow":
        return lambda client: f"token accepted; {len(client.sites())} site(s) visible"
    return None


def _check(registry: TenantRegistry, tenant: str, system: str) -> SystemCheck:
    from connector_pipelines import errors
    from connector_pipelines.tenants.connections import SYSTEMS

    found = SYSTEMS.get(system)
    started = time.monotonic()
    probe = (found.probe if found is not None else None) or _own_probe(system)
    if found is None or probe is None:
        return SystemCheck(system=system, ok=False, detail="no connection test for this system", seconds=0.0)
    try:
        with registry.connect(tenant, found, max_timeout_s=_PROBE_TIMEOUT_S) as handle:
            detail, ok = probe(handle), True
    except errors.ConnectorError as exc:
        detail, ok = str(exc), False
    except OSError as exc:
        detail, ok = f"{type(exc).__name__}: {exc.strerror or exc}", False
    return SystemCheck(
        system=system, ok=ok, detail=redact(detail), seconds=round(time.monotonic() - started, 3)
    )


@router.post(
    "/{tenant}/test-connection",
    response_model=ConnectionReport,
    summary="Try each configured system with one cheap authenticated call",
)
def test_connection(services: Ctx, caller: Operator) -> ConnectionReport:
    with answers():
        info = services.registry.get(caller.tenant)
    checks = [_check(services.registry, caller.tenant, system) for system in sorted(info.settings)]
    return ConnectionReport(tenant=caller.tenant, ok=all(c.ok for c in checks), systems=checks)
