"""The gateway's ERPs by system name, opened as connectors for a tenant.

``open_connector(registry, tenant, "netsis")`` is the tenant's connector, built from its stored settings and
credentials and closed when the block ends. Netsis: connectors of one tenant opened at the same time in a
process (steps of one run) share one login, so the run holds one licence seat, which the last one to close
gives back. Logo: the connector's client renews its short-lived tokens (about two minutes) as it goes.

A new ERP is its connector module (a :class:`MappedConnector`, with :class:`OrderDesk` when it takes orders),
its emulator, its settings model (``tenants/systems.py``) and a line in ``ERP_SYSTEMS``
(``tenants/connections.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connector_pipelines.sources.erp_gateway.connector import ErpConnector
from connector_pipelines.tenants.connections import ERP_SYSTEMS, System
from connector_pipelines.tenants.registry import TenantError, TenantRegistry

__all__ = ["erp_system", "open_connector", "tenant_erp"]

CONNECTORS: dict[str, System[Any, Any, Any]] = {system.name: system for system in ERP_SYSTEMS}


def erp_system(name: str) -> System[Any, Any, Any]:
    """The gateway ERP called ``name``; a clear error naming the known ones otherwise."""
    found = CONNECTORS.get(name)
    if found is None:
        raise TenantError(f"'{name}' is not an ERP of the gateway; known: {', '.join(sorted(CONNECTORS))}")
    return found


def tenant_erp(registry: TenantRegistry, tenant: str) -> str:
    """The ERP system the tenant has settings for (exactly one is expected)."""
    found = [name for name in registry.get(tenant).settings if name in CONNECTORS]
    if len(found) != 1:
        named = ", ".join(found) if found else "none"
        raise TenantError(
            f"expected settings for exactly one ERP of the gateway ({', '.join(sorted(CONNECTORS))}), "
            f"found {named}",
            tenant=tenant,
        )
    return found[0]


@contextmanager
def open_connector(
    registry: TenantRegistry, tenant: str, system: str, *, max_timeout_s: float | None = None
) -> Iterator[ErpConnector]:
    """The tenant's connector of ``system`` (``logo``, ``netsis``, ``erp_csv``), closed afterwards."""
    with registry.connect(tenant, erp_system(system), max_timeout_s=max_timeout_s) as connector:
        opened: ErpConnector = connector
        yield opened
