"""What can be checked before a run of a pipeline for a tenant, without a network call: the tenant is
registered and enabled, the pipeline is enabled for it, and every system of the pipeline (source and target;
of a role chosen per tenant, the option it has settings for) has valid settings and credentials that decrypt
with the configured key.

The CLI runs :func:`preflight` before it launches a run (a problem is a user error: no run is recorded), and
every step and check of a run runs it again first (``pipelines/builder.py``), so that a scheduled run fails at
once, without retries, with the same one line. The first problem raises a :class:`errors.PermanentError`
(most often a :class:`TenantError`) whose ``str`` is one line naming tenant, system and remedy. The registry
sensor onboards a tenant only once it passes (:func:`waiting_for`), so that a tenant added before its
credentials are stored is not failed by its own first run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from connector_pipelines import errors
from connector_pipelines.sync.spec import PipelineSpec
from connector_pipelines.tenants.connections import System
from connector_pipelines.tenants.registry import TenantError, TenantInfo, TenantRegistry


def preflight(
    registry: TenantRegistry, tenant: str, spec: PipelineSpec, *, force: bool = False
) -> TenantInfo:
    """Check ``tenant``'s registration, state, pipeline, settings and credentials for ``spec``; return its
    registry entry. ``force`` lets a disabled tenant pass (``sync --force``). Reads the connector database
    only."""
    info = registry.get(tenant)  # UnknownTenantError: names the tenant and how to add it
    if not info.enabled and not force:
        raise TenantError(
            "disabled",
            tenant=tenant,
            remedy=f"enable it with `{errors.CLI} tenants update {tenant} --enable`, or run it once anyway "
            f"with `{errors.CLI} sync {tenant} --pipeline {spec.name} --force`",
        )
    if spec.name not in info.pipelines:
        wanted = " ".join(f"--pipeline {p}" for p in sorted({*info.pipelines, spec.name}))
        raise TenantError(
            f"pipeline '{spec.name}' is not enabled for the tenant "
            f"(its pipelines: {', '.join(info.pipelines) or 'none'})",
            tenant=tenant,
            remedy=f"enable it with `{errors.CLI} tenants update {tenant} {wanted}`",
        )
    systems = spec.systems_of(info)
    reading = [s.name for s in systems if _reads_credentials(s, info)]
    if reading:
        # Set and well formed; a wrong key shows below, when the credentials fail to decrypt.
        with _naming(tenant, reading[0]):
            registry.keyring  # noqa: B018 - reading the key is the check
    for system in systems:
        registry.settings(tenant, system.name, system.settings)
        if system.name in reading:
            with _naming(tenant, system.name):
                registry.credentials(tenant, system.name, system.credentials)
    return info


def waiting_for(registry: TenantRegistry, tenant: str, spec: PipelineSpec) -> str | None:
    """What ``tenant`` still lacks before a run of ``spec`` can work (the preflight's one line), or None."""
    try:
        preflight(registry, tenant, spec)
    except errors.PermanentError as exc:
        return str(exc)
    return None


def check_product_ids(spec: PipelineSpec, product_ids: Sequence[str]) -> None:
    """Single products are something the pipeline can sync, and their ids are ids of its source."""
    if not product_ids:
        return
    if spec.product_ids is None:
        raise errors.PermanentError(
            f"pipeline '{spec.name}' cannot sync single products", remedy="leave out --product"
        )
    spec.product_ids(product_ids)


def _reads_credentials(system: System[Any, Any, Any], info: TenantInfo) -> bool:
    """Whether a run reads the system's credentials: always, unless they are optional and none are stored."""
    return not system.credentials_optional or system.name in info.credentials_set


@contextmanager
def _naming(tenant: str, system: str) -> Iterator[None]:
    """A permanent error raised inside gets the tenant and system it did not name (the key's errors)."""
    try:
        yield
    except errors.PermanentError as exc:
        exc.add_context(tenant=tenant, system=system)
        raise
