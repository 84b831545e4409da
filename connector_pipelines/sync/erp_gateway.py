"""What the steps of the ERP gateway share: the tenant's ERP and shop (each chosen per tenant from its
settings), opened behind their circuit breakers, and the checks that read no snapshot.

A step uses a system only through :func:`use_erp` / :func:`use_shop`: the system's breaker is asked first; an
open breaker skips the system (``SystemUse.skipped`` says why, and the step reports it as its failed
``system_available`` check and in its metadata) instead of failing the run; work inside
``use.breaker.watch()`` counts connection failures (three in a row open the breaker) and successes.

The flows live in ``erp_gateway_stock.py`` (items, stock and prices into the shop) and
``erp_gateway_orders.py`` (orders into the ERP, shipments back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector_pipelines.clients.http import ApiClient
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.clients.shopware6 import Shopware6Client
from connector_pipelines.sources.erp_gateway.connector import ErpConnector
from connector_pipelines.sync.breaker import CircuitBreaker, SkippedSystem, breaker_states
from connector_pipelines.sync.checks import open_errors_preview
from connector_pipelines.sync.runtime import CheckOutcome, StepContext, StepReport
from connector_pipelines.sync.spec import AnySystem, SystemChoice
from connector_pipelines.targets.shop_stock import Shop
from connector_pipelines.tenants.connections import ERP_SYSTEMS, SHOPIFY, SHOPWARE6
from connector_pipelines.tenants.registry import TenantInfo
from connector_pipelines.tenants.systems import ErpGatewaySettings, ShopifySettings

PIPELINE = "erp_gateway"
ERP = SystemChoice("ERP", ERP_SYSTEMS, kind="erp", pool="erp_api")
SHOP = SystemChoice("shop", (SHOPIFY, SHOPWARE6), kind="shop", pool="shop_api")
SYSTEM_AVAILABLE = "system_available"
PREVIEW_ROWS = 20


@dataclass
class SystemUse:
    """One system of one step: its breaker, and why it is skipped (None: it may be used)."""

    system: str
    breaker: CircuitBreaker
    skipped: str | None = None


@dataclass
class ErpUse(SystemUse):
    connector: ErpConnector = field(kw_only=True)
    settings: ErpGatewaySettings = field(kw_only=True)

    @property
    def clients(self) -> tuple[ApiClient, ...]:
        """The connector's HTTP client, for the step's call counts (a file connector has none)."""
        client = getattr(self.connector, "client", None)
        return (client,) if isinstance(client, ApiClient) else ()


@dataclass
class ShopUse(SystemUse):
    shop: Shop = field(kw_only=True)
    client: ApiClient = field(kw_only=True)


def erp_settings(ctx: StepContext) -> tuple[AnySystem, ErpGatewaySettings]:
    """The tenant's ERP and its settings."""
    system = ERP.for_tenant(ctx.registry, ctx.tenant)
    settings = ctx.settings(system)
    assert isinstance(settings, ErpGatewaySettings)  # every ERP's settings model extends it
    return system, settings


def _guard(breaker: CircuitBreaker, probe: Any) -> str | None:
    try:
        breaker.guard(probe)
    except SkippedSystem as skipped:
        return str(skipped)
    return None


def erp_connector(ctx: StepContext) -> ErpConnector:
    """The tenant's ERP connector, opened without a call (for what it can do, not to use it)."""
    system, _ = erp_settings(ctx)
    connector: ErpConnector = ctx.open(system)
    return connector


def use_erp(ctx: StepContext) -> ErpUse:
    """The tenant's ERP connector behind its breaker (probed with the connector's test connection)."""
    system, settings = erp_settings(ctx)
    connector: ErpConnector = ctx.open(system)
    breaker = CircuitBreaker(ctx.store, system.name, cooldown_s=settings.breaker_cooldown_s)
    skipped = _guard(breaker, connector.test_connection)
    return ErpUse(system.name, breaker, skipped, connector=connector, settings=settings)


def open_shop(ctx: StepContext) -> tuple[AnySystem, Shop, ApiClient]:
    """The tenant's shop as the gateway uses it, and its client."""
    system = SHOP.for_tenant(ctx.registry, ctx.tenant)
    client = ctx.open(system)
    if isinstance(client, Shopware6Client):
        from connector_pipelines.targets.shopware6_stock import Shopware6Shop

        return system, Shopware6Shop(client), client
    assert isinstance(client, ShopifyClient)
    from connector_pipelines.targets.shopify_stock import ShopifyShop

    settings = ctx.settings(system)
    assert isinstance(settings, ShopifySettings)
    return system, ShopifyShop(client, location=settings.location_id), client


def use_shop(ctx: StepContext) -> ShopUse:
    """The tenant's shop behind its breaker (probed with the system's own credential probe)."""
    system, shop, client = open_shop(ctx)
    _, settings = erp_settings(ctx)
    breaker = CircuitBreaker(ctx.store, system.name, cooldown_s=settings.breaker_cooldown_s)
    probe = system.probe
    skipped = _guard(breaker, (lambda: probe(client)) if probe is not None else (lambda: None))
    return ShopUse(system.name, breaker, skipped, shop=shop, client=client)


def report_availability(report: StepReport, *uses: SystemUse) -> bool:
    """The step's ``system_available`` check and its ``skipped`` metadata; whether every system may be
    used."""
    skipped = [use.skipped for use in uses if use.skipped is not None]
    report.checks[SYSTEM_AVAILABLE] = CheckOutcome(
        not skipped,
        {"systems": [use.system for use in uses], "skipped": len(skipped)},
        "\n".join(f"- {reason}" for reason in skipped),
    )
    if skipped:
        report.extra["skipped"] = "; ".join(skipped)
        report.preview = "\n".join(f"_skipped: {reason}_" for reason in skipped)
    return not skipped


def lacking(report: StepReport, reason: str) -> StepReport:
    """A step whose flow the tenant's ERP cannot do (no orders from CSV files): nothing done, the reason
    in the metadata; not a failure."""
    report.extra["not_supported"] = reason
    report.preview = f"_{reason}_"
    report.checks[SYSTEM_AVAILABLE] = CheckOutcome(True, {"skipped": 0})
    return report


# --- checks that read no snapshot --------------------------------------------------------------------------


def breaker_check(ctx: StepContext) -> CheckOutcome:
    """Every circuit breaker of the tenant is closed."""
    states = breaker_states(ctx.store)
    not_closed = [s for s in states if s.state != "closed"]
    rows = "\n".join(
        f"| {s.system} | {s.state} | {s.failures} | {s.retry_at:%Y-%m-%d %H:%M:%S} | {s.last_error or ''} |"
        if s.retry_at is not None
        else f"| {s.system} | {s.state} | {s.failures} | | {s.last_error or ''} |"
        for s in states
    )
    preview = f"| system | state | failures | next probe | last error |\n|---|---|---|---|---|\n{rows}"
    return CheckOutcome(
        not not_closed,
        {
            "open": sum(s.state == "open" for s in states),
            "half_open": sum(s.state == "half_open" for s in states),
        },
        preview if states else "",
    )


def dead_letters_check(ctx: StepContext) -> CheckOutcome:
    """No record waits as a dead letter (failed too often to be retried on its own)."""
    dead = ctx.store.open_errors(dead=True, limit=PREVIEW_ROWS)
    total = ctx.store.count_open_errors(dead=True)
    rows = "\n".join(f"| `{e.record_key}` | {e.stage} | {e.attempts} | {e.reason[:200]} |" for e in dead)
    preview = f"| record | stage | attempts | reason |\n|---|---|---|---|\n{rows}" if dead else ""
    remedy = f"\n\nretry with `connector-pipelines errors retry {ctx.tenant}`" if dead else ""
    return CheckOutcome(total == 0, {"dead_letters": total}, preview + remedy)


def record_errors_check(ctx: StepContext) -> CheckOutcome:
    total, preview = open_errors_preview(ctx.store)
    return CheckOutcome(total == 0, {"open_errors": total}, preview)


def poll_due(info: TenantInfo, tick: datetime) -> bool:
    """Whether the stock and price poll of the tenant is due at ``tick``: every ``poll_interval_minutes``
    of its ERP's settings, counted from midnight UTC. ValueError when its settings do not say."""
    system = ERP.resolve(info.settings, info.slug)
    try:
        settings = system.settings.model_validate(info.settings[system.name])
    except ValueError as exc:
        raise ValueError(f"{system.name} settings are invalid: {exc}") from None
    assert isinstance(settings, ErpGatewaySettings)
    minutes = tick.hour * 60 + tick.minute
    return minutes % settings.poll_interval_minutes == 0


def sku_list(skus: Sequence[str], limit: int = PREVIEW_ROWS) -> str:
    shown = ", ".join(f"`{s}`" for s in skus[:limit])
    return shown + (" …" if len(skus) > limit else "")
