"""The tenant registry: who the merchants are, what they sync, their settings and encrypted credentials."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from connector_pipelines import errors
from connector_pipelines.redaction import register_secrets
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import (
    Mapping,
    Record,
    RecordError,
    SyncRun,
    Tenant,
    TenantCredential,
    TenantSettings,
    utcnow,
)
from connector_pipelines.tenants.connections import SYSTEMS, System
from connector_pipelines.tenants.crypto import Keyring, Sealed
from connector_pipelines.tenants.systems import secret_values

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound=BaseModel)
H = TypeVar("H")


class TenantError(errors.PermanentError, ValueError):
    """A request about tenants that cannot be honoured; the message is meant for the user."""


class UnknownTenantError(TenantError):
    def __init__(self, slug: str) -> None:
        super().__init__(
            f"unknown tenant '{slug}'",
            tenant=slug,
            remedy=f"see the registered tenants with `{errors.CLI} tenants list`, or add it with "
            f"`{errors.CLI} tenants add {slug} --pipeline <pipeline>`",
        )


def check_slug(slug: str) -> str:
    if not SLUG_RE.fullmatch(slug):
        raise TenantError(
            f"invalid tenant slug '{slug}': use 2-63 lowercase letters, digits and hyphens, "
            "starting with a letter or digit"
        )
    return slug


def check_pipelines(pipelines: list[str], known: Collection[str] | None) -> list[str]:
    if known is not None:
        unknown = sorted(set(pipelines) - set(known))
        if unknown:
            raise TenantError(f"unknown pipeline(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return sorted(set(pipelines))


def check_system(system: str) -> str:
    if system not in SYSTEMS:
        raise TenantError(f"unknown system '{system}'; known: {', '.join(sorted(SYSTEMS))}")
    return system


def _validate(
    model: type[M],
    values: dict[str, Any],
    what: str,
    *,
    tenant: str | None = None,
    system: str | None = None,
    remedy: str | None = None,
) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise TenantError(
            f"invalid {what}: {_problems(exc)}", tenant=tenant, system=system, remedy=remedy
        ) from None


def _problems(exc: ValidationError) -> str:
    # Never echo input values: credentials may be among them.
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())


def required_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a settings or credentials model that have no default."""
    return [name for name, info in model.model_fields.items() if info.is_required()]


class TenantInfo(BaseModel):
    """What may be shown about a tenant: never a credential value."""

    slug: str
    display_name: str
    enabled: bool
    pipelines: list[str]
    settings: dict[str, dict[str, Any]]
    credentials_set: list[str]
    created_at: datetime
    updated_at: datetime
    enabled_at: datetime


class RemovalSummary(BaseModel):
    """What removing a tenant deletes from the connector database. Nothing in the tenant's systems changes:
    what the pipelines wrote to its shops stays there."""

    slug: str
    pipelines: list[str]
    settings: list[str]
    credentials: list[str]
    records: int  # cached source data: config caches and product snapshots
    mappings: int  # source record -> target id: the records published to a target
    open_errors: int
    sync_runs: int


class TenantRegistry:
    def __init__(
        self,
        db: Database,
        keyring: Callable[[], Keyring] = Keyring.from_env,
        *,
        pipelines: Collection[str] | None = None,
    ) -> None:
        """``pipelines``: the names a tenant may enable. They are declared above this layer, by the pipelines'
        specs, so the entry points pass them (``pipelines.catalog.tenant_registry``); None checks no name."""
        self.db = db
        self.pipelines = pipelines
        self._keyring_factory = keyring
        self._keyring: Keyring | None = None

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = self._keyring_factory()
        return self._keyring

    # --- reading ------------------------------------------------------------------------------------------

    def _info(self, tenant: Tenant, settings: list[TenantSettings], creds: list[str]) -> TenantInfo:
        return TenantInfo(
            slug=tenant.slug,
            display_name=tenant.display_name,
            enabled=tenant.enabled,
            pipelines=list(tenant.pipelines),
            settings={s.system: s.settings for s in settings},
            credentials_set=sorted(creds),
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
            enabled_at=tenant.enabled_at,
        )

    def tenants(self, *, enabled_only: bool = False) -> list[TenantInfo]:
        with self.db.session() as s:
            query = select(Tenant).order_by(Tenant.slug)
            if enabled_only:
                query = query.where(Tenant.enabled.is_(True))
            tenants = s.scalars(query).all()
            settings = s.scalars(select(TenantSettings)).all()
            creds = s.execute(select(TenantCredential.tenant_id, TenantCredential.system)).all()
        by_tenant: dict[int, list[TenantSettings]] = {}
        for row in settings:
            by_tenant.setdefault(row.tenant_id, []).append(row)
        cred_by_tenant: dict[int, list[str]] = {}
        for tenant_id, system in creds:
            cred_by_tenant.setdefault(tenant_id, []).append(system)
        return [self._info(t, by_tenant.get(t.id, []), cred_by_tenant.get(t.id, [])) for t in tenants]

    def get(self, slug: str) -> TenantInfo:
        with self.db.session() as s:
            tenant = self._tenant(s, slug)
            settings = list(s.scalars(select(TenantSettings).where(TenantSettings.tenant_id == tenant.id)))
            creds = list(
                s.scalars(select(TenantCredential.system).where(TenantCredential.tenant_id == tenant.id))
            )
            return self._info(tenant, settings, creds)

    def tenant_id(self, slug: str) -> int:
        with self.db.session() as s:
            return self._tenant(s, slug).id

    @staticmethod
    def _tenant(session: Any, slug: str) -> Tenant:
        tenant = session.scalars(select(Tenant).where(Tenant.slug == slug)).one_or_none()
        if tenant is None:
            raise UnknownTenantError(slug)
        return tenant  # type: ignore[no-any-return]

    def settings(self, slug: str, system: str, model: type[M]) -> M:
        with self.db.session() as s:
            tenant = self._tenant(s, slug)
            row = s.get(TenantSettings, (tenant.id, system))
        if row is None:
            raise TenantError(
                "no settings stored",
                tenant=slug,
                system=system,
                remedy=errors.update_settings_remedy(slug, system, verb="add"),
            )
        return _validate(
            model,
            row.settings,
            "stored settings",
            tenant=slug,
            system=system,
            remedy=errors.update_settings_remedy(slug, system),
        )

    def credentials(self, slug: str, system: str, model: type[M]) -> M:
        with self.db.session() as s:
            tenant = self._tenant(s, slug)
            row = s.get(TenantCredential, (tenant.id, system))
        if row is None:
            raise TenantError(
                "no credentials stored",
                tenant=slug,
                system=system,
                remedy=errors.set_credentials_remedy(slug, system, verb="store the"),
            )
        plaintext = self.keyring.decrypt(Sealed(row.key_id, row.ciphertext), slug, system)
        creds = _validate(
            model,
            orjson.loads(plaintext),
            "stored credentials",
            tenant=slug,
            system=system,
            remedy=errors.set_credentials_remedy(slug, system),
        )
        register_secrets(secret_values(creds))
        return creds

    @contextmanager
    def connect(
        self, slug: str, system: System[M, C, H], *, max_timeout_s: float | None = None
    ) -> Iterator[H]:
        """The tenant's client (or file source) of ``system``, closed afterwards; ``max_timeout_s`` caps its
        timeouts (a sensor must answer within 60 s)."""
        settings = self.settings(slug, system.name, system.settings)
        creds: C | None = None
        if not system.credentials_optional or system.name in self.get(slug).credentials_set:
            creds = self.credentials(slug, system.name, system.credentials)
        with system.connect(settings, creds, max_timeout_s) as handle:
            yield handle

    # --- writing ------------------------------------------------------------------------------------------

    def add(
        self,
        slug: str,
        display_name: str,
        pipelines: list[str],
        settings: dict[str, dict[str, Any]] | None = None,
        *,
        enabled: bool = True,
        systems: Collection[str] = (),
    ) -> TenantInfo:
        """Register ``slug``. ``systems``: those whose settings must be complete now (the systems of its
        pipelines, which the entry points know from the specs); one whose model needs nothing gets its
        defaults. Every problem is named at once, never a value."""
        check_slug(slug)
        pipelines = check_pipelines(pipelines, self.pipelines)
        validated = self._validate_settings(settings or {}, require=systems, tenant=slug)
        with self.db.session() as s:
            if s.scalars(select(Tenant.id).where(Tenant.slug == slug)).first() is not None:
                raise TenantError(f"tenant '{slug}' already exists")
            tenant = Tenant(
                slug=slug, display_name=display_name or slug, enabled=enabled, pipelines=pipelines
            )
            s.add(tenant)
            s.flush()
            for system, values in validated.items():
                s.add(TenantSettings(tenant_id=tenant.id, system=system, settings=values))
        return self.get(slug)

    def _validate_settings(
        self,
        settings: dict[str, dict[str, Any]],
        *,
        require: Collection[str] = (),
        tenant: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        for system in dict.fromkeys([*settings, *require]):
            model = SYSTEMS[check_system(system)].settings
            values = settings.get(system)
            if values is None:
                required = required_fields(model)
                if required:
                    problems.append(f"settings for '{system}' missing (required: {', '.join(required)})")
                    continue
                values = {}
            try:
                out[system] = model.model_validate(values).model_dump(mode="json")
            except ValidationError as exc:
                problems.append(f"invalid settings for '{system}': {_problems(exc)}")
        if problems:
            remedy = (
                f"give each system's settings in the settings file (their fields: `{errors.CLI} systems`)"
                if require
                else None
            )
            raise TenantError("; ".join(problems), tenant=tenant, remedy=remedy)
        return out

    def missing_settings(self, slug: str, systems: Collection[str]) -> list[str]:
        """Which of ``systems`` have no settings stored for the tenant."""
        with self.db.session() as s:
            tenant = self._tenant(s, slug)
            stored = set(
                s.scalars(select(TenantSettings.system).where(TenantSettings.tenant_id == tenant.id))
            )
        return sorted(set(systems) - stored)

    def update(
        self,
        slug: str,
        *,
        display_name: str | None = None,
        enabled: bool | None = None,
        pipelines: list[str] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        systems: Collection[str] = (),
    ) -> TenantInfo:
        """Change what is given; settings merge into the stored ones. ``systems``: those that must have
        settings afterwards (the systems of the tenant's pipelines, when they change), as in :meth:`add`."""
        if systems:
            missing = [m for m in self.missing_settings(slug, systems) if m not in (settings or {})]
            settings = {**(settings or {}), **self._validate_settings({}, require=missing, tenant=slug)}
        with self.db.session() as s:
            tenant = self._tenant(s, slug)
            if display_name is not None:
                tenant.display_name = display_name
            if enabled is not None and enabled != tenant.enabled:
                tenant.enabled = enabled
                if enabled:
                    tenant.enabled_at = utcnow()
            if pipelines is not None:
                tenant.pipelines = check_pipelines(pipelines, self.pipelines)
            for system, values in (settings or {}).items():
                check_system(system)
                row = s.get(TenantSettings, (tenant.id, system))
                merged = {**(row.settings if row else {}), **values}
                clean = self._validate_settings({system: merged})[system]
                if row is None:
                    s.add(TenantSettings(tenant_id=tenant.id, system=system, settings=clean))
                else:
                    row.settings = clean
                    row.updated_at = utcnow()
            tenant.updated_at = utcnow()
        return self.get(slug)

    def removal_summary(self, slug: str) -> RemovalSummary:
        """What :meth:`remove` would delete (a dry run)."""
        info = self.get(slug)
        with self.db.session() as s:
            tenant_id = self._tenant(s, slug).id

            def count(model: type[Record | Mapping | RecordError | SyncRun], *where: Any) -> int:
                query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where)
                return int(s.scalar(query) or 0)

            return RemovalSummary(
                slug=slug,
                pipelines=info.pipelines,
                settings=sorted(info.settings),
                credentials=info.credentials_set,
                records=count(Record),
                mappings=count(Mapping),
                open_errors=count(RecordError, RecordError.resolved.is_(False)),
                sync_runs=count(SyncRun),
            )

    def remove(self, slug: str) -> None:
        with self.db.session() as s:
            s.delete(self._tenant(s, slug))

    def set_credentials(self, slug: str, system: str, values: dict[str, Any]) -> None:
        check_system(system)
        creds = _validate(SYSTEMS[system].credentials, values, f"credentials for '{system}'")
        plaintext = orjson.dumps(
            {
                k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v)
                for k, v in creds.__dict__.items()
            }
        )
        sealed = self.keyring.encrypt(plaintext, slug, system)
        with self.db.session() as s:
            tenant = self._tenant(s, slug)
            row = s.get(TenantCredential, (tenant.id, system))
            if row is None:
                s.add(
                    TenantCredential(
                        tenant_id=tenant.id, system=system, key_id=sealed.key_id, ciphertext=sealed.blob
                    )
                )
            else:
                row.key_id, row.ciphertext, row.updated_at = sealed.key_id, sealed.blob, utcnow()

    def test_credentials(
        self, slug: str, system: str, values: dict[str, Any], *, timeout_s: float = 30.0
    ) -> str:
        """Prove ``values`` as the tenant's credentials for ``system`` without storing them: open the system
        with the tenant's stored settings and make its probe's one cheap authenticated call. Returns what the
        probe saw; a failure raises the client's error (a ConnectorError naming the system)."""
        found = SYSTEMS[check_system(system)]
        creds = _validate(
            found.credentials, values, f"credentials for '{system}'", tenant=slug, system=system
        )
        register_secrets(secret_values(creds))
        if found.probe is None:
            raise TenantError(
                "no probe is declared for this system, so its credentials cannot be tested",
                tenant=slug,
                system=system,
                remedy="store them without --test",
            )
        settings = self.settings(slug, system, found.settings)
        with found.connect(settings, creds, timeout_s) as handle:
            return found.probe(handle)

    def rotate_keys(self) -> int:
        """Re-encrypt every credential with the current key, all or nothing. Returns how many changed."""
        keyring = self.keyring
        changed = 0
        with self.db.session() as s:
            rows = s.execute(
                select(TenantCredential, Tenant.slug).join(Tenant, Tenant.id == TenantCredential.tenant_id)
            )
            for cred, slug in rows:
                if cred.key_id == keyring.current_id:
                    continue
                plaintext = keyring.decrypt(Sealed(cred.key_id, cred.ciphertext), slug, cred.system)
                sealed = keyring.encrypt(plaintext, slug, cred.system)
                cred.key_id, cred.ciphertext, cred.updated_at = sealed.key_id, sealed.blob, utcnow()
                changed += 1
        return changed
