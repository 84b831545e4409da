"""`make demo`: the sandbox, a demo tenant per pipeline, and a sequence of syncs with a summary table each.

Everything runs on the embedded defaults: the SQLite connector database under CONNECTOR_HOME, the Dagster
instance of DAGSTER_HOME (so the runs show in `make dev` afterwards), emulators on loopback.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from connector_pipelines import config
from connector_pipelines.pipelines.runs import SyncMode
from connector_pipelines.runner import RunSummary, dagster_instance, run_sync
from connector_pipelines.sandbox.convergence import check_convergence
from connector_pipelines.sandbox.file_servers import add_products, change_prices, delete_products
from connector_pipelines.sandbox.hub import (
    SandboxHub,
    check_erp_shopify_convergence,
    erp_files_shopify_tenant,
)
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.registry import TenantRegistry, UnknownTenantError

PLENTY_TENANT = "demo-plenty"
ERP_TENANT = "demo-erp"
Echo = Callable[[str], None]


def ensure_demo_key(echo: Echo) -> None:
    """The demo needs an encryption key; without one it keeps its own next to its database."""
    if os.environ.get(config.ENCRYPTION_KEY_VAR):
        return
    path = config.connector_home() / "demo-encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
        echo(f"{config.ENCRYPTION_KEY_VAR} is not set: the demo uses its own key in {path}")
    os.environ[config.ENCRYPTION_KEY_VAR] = path.read_text().strip()


def register_plenty_tenant(hub: SandboxHub, registry: TenantRegistry, slug: str) -> None:
    """(Re)register a tenant on this sandbox's accounts: their credentials are new at every start."""
    with contextlib.suppress(UnknownTenantError):
        registry.remove(slug)
    plenty, shopware = hub.plenty[slug], hub.shopware[slug]
    registry.add(
        slug,
        "Demo: Plentymarkets -> Shopware 6",
        ["plenty_shopware"],
        {
            "plentymarkets": {"base_url": hub.base_url("plentymarkets", slug), "lang": "de"},
            "shopware6": {"base_url": hub.base_url("shopware6", slug)},
        },
    )
    registry.set_credentials(
        slug, "plentymarkets", {"username": plenty.username, "password": plenty.password}
    )
    registry.set_credentials(
        slug, "shopware6", {"client_id": shopware.client_id, "client_secret": shopware.client_secret}
    )


def register_erp_tenant(hub: SandboxHub, registry: TenantRegistry, slug: str) -> None:
    """(Re)register an erp_files_shopify tenant on this sandbox's SFTP server and shop."""
    with contextlib.suppress(UnknownTenantError):
        registry.remove(slug)
    settings, credentials = erp_files_shopify_tenant(hub.accounts(), slug)
    registry.add(slug, "Demo: ERP file over SFTP -> Shopify", ["erp_files_shopify"], settings)
    for system, values in credentials.items():
        registry.set_credentials(slug, system, values)


def start_sandbox(products: int, variants: int, seed: int = 1, port: int = 0) -> SandboxHub:
    hub = SandboxHub()
    hub.add_plenty(PLENTY_TENANT, products=products, variants=variants, seed=seed)
    hub.add_shopware(PLENTY_TENANT)
    hub.serve(port=port)
    return hub


@dataclass
class Row:
    step: str
    summary: RunSummary
    converged: str
    source: str = "plenty_products"
    targets: tuple[str, ...] = ("shopware_products", "shopware_reference")


TABLE_HEADER = (
    "| step | run | fetched | created | updated | unchanged | deleted | failed | API calls | seconds"
    " | converged |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
)


def _row_text(row: Row) -> str:
    products = row.summary.counts(row.source)
    shop = next((c for c in map(row.summary.counts, row.targets) if c), {})
    calls = sum(
        v for m in row.summary.materializations.values() for k, v in m.items() if k.startswith("api_calls")
    )
    seconds = sum(m.get("duration_s", 0.0) for m in row.summary.materializations.values())
    cells = [
        row.step,
        "ok" if row.summary.success else "FAILED",
        str(products.get("fetched", "-")),
        str(shop.get("created", "-")),
        str(shop.get("updated", "-")),
        str(shop.get("unchanged", "-")),
        str(shop.get("deleted", "-")),
        str(shop.get("failed", "-")),
        str(calls),
        f"{seconds:.2f}",
        row.converged,
    ]
    return "| " + " | ".join(cells) + " |"


def run_demo(echo: Echo, *, products: int = 60, variants: int = 3) -> bool:
    ensure_demo_key(echo)
    registry = TenantRegistry(Database())
    instance = dagster_instance()
    hub = start_sandbox(products, variants)
    try:
        register_plenty_tenant(hub, registry, PLENTY_TENANT)
        plenty = hub.plenty[PLENTY_TENANT].emulator
        shopware = hub.shopware[PLENTY_TENANT].emulator
        echo(
            f"sandbox on {hub.base_url('plentymarkets', PLENTY_TENANT).rsplit('/', 2)[0]};"
            f" tenant {PLENTY_TENANT}"
        )
        rows: list[Row] = []

        deleted_numbers: set[str] = set()

        def step(label: str, mode: SyncMode) -> None:
            summary = run_sync(PLENTY_TENANT, "plenty_shopware", mode, instance=instance)
            report = check_convergence(plenty, shopware)
            if report.converged:
                state = "yes"
            elif not (report.missing or report.mismatched) and set(report.unexpected) <= deleted_numbers:
                state = "yes, but the deleted item (until a full read)"
            else:
                state = "no"
            rows.append(Row(label, summary, state))
            echo(
                f"  {label}: {'ok' if summary.success else 'FAILED: ' + (summary.error or '')}"
                f" ({report.describe()})"
            )

        step("config", SyncMode.CONFIG)
        rows[-1].converged = "- (reference data only)"
        step("full", SyncMode.FULL)
        changes = plenty.change_random(0.1, seed=42, kinds=("variation", "price", "stock"))
        plenty.add_item()
        gone = next(iter(plenty.catalog.items))
        deleted_numbers.add(f"P-{gone}")
        deleted_numbers.update(
            plenty.catalog.variations[v].number for v in plenty.catalog.items[gone].variation_ids
        )
        plenty.delete_item(gone)
        echo(
            f"  sandbox changed: {len(changes)} variation/price/stock changes, 1 item added,"
            f" item {gone} deleted"
        )
        step("delta (after changes)", SyncMode.DELTA)
        step("delta (nothing changed)", SyncMode.DELTA)
        step("full (detects the deletion)", SyncMode.FULL)
        erp_rows = run_erp_demo(
            echo, hub, products=products, variants=variants, registry=registry, instance=instance
        )
    finally:
        hub.stop()

    echo("")
    echo(f"plenty_shopware, tenant {PLENTY_TENANT}:")
    for line in TABLE_HEADER:
        echo(line)
    for row in rows:
        echo(_row_text(row))
    echo("")
    echo(f"erp_files_shopify, tenant {ERP_TENANT}:")
    for line in TABLE_HEADER:
        echo(line)
    for row in erp_rows:
        echo(_row_text(row))
    home = os.environ.get("DAGSTER_HOME", "(a temporary folder)")
    echo(f"\nRuns are recorded in the Dagster instance at {home}; `make dev` shows them.")
    plenty_ok = all(r.summary.success for r in rows) and rows[-1].converged == "yes"
    return plenty_ok and all(r.summary.success and r.converged == "yes" for r in erp_rows)


def run_erp_demo(
    echo: Echo,
    hub: SandboxHub,
    *,
    products: int,
    variants: int,
    registry: TenantRegistry,
    instance: dg.DagsterInstance,
) -> list[Row]:
    """An ERP file over SFTP into a shop: full, rows changed / added / removed, delta, delta of nothing."""
    shop = hub.add_shopify(ERP_TENANT).emulator
    erp = hub.add_erp_files(ERP_TENANT, products=products, variants=variants, seed=2)
    register_erp_tenant(hub, registry, ERP_TENANT)
    echo(f"ERP file on sftp://{erp.server.host}:{erp.server.port}/{erp.file.name}; tenant {ERP_TENANT}")
    rows: list[Row] = []

    def step(label: str, mode: SyncMode) -> None:
        summary = run_sync(ERP_TENANT, "erp_files_shopify", mode, instance=instance)
        shop.wait_for_bulk()
        report = check_erp_shopify_convergence(erp.file, erp.layout, shop)
        converged = "yes" if report.converged else "no"
        rows.append(Row(label, summary, converged, "erp_file_products", ("shopify_products",)))
        outcome = "ok" if summary.success else f"FAILED: {summary.error or ''}"
        echo(f"  {label}: {outcome} ({report.describe()})")

    step("full", SyncMode.FULL)
    changed = change_prices(erp.file, erp.layout, fraction=0.1, seed=42)
    added = add_products(erp.file, erp.layout, 1, variants=variants, seed=2)
    delete_products(erp.file, erp.layout, ["P000001"])
    echo(f"  file changed: {len(changed)} prices, product {added[0]} added, product P000001 removed")
    step("delta (after changes)", SyncMode.DELTA)
    step("delta (nothing changed)", SyncMode.DELTA)
    return rows
