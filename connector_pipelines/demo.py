"""`make demo`: the sandbox, a demo tenant per pipeline, and a sequence of syncs with a summary table each.

Everything runs on the embedded defaults: the SQLite connector database under CONNECTOR_HOME, the Dagster
instance of DAGSTER_HOME (so the runs show in `make dev` afterwards), emulators on loopback.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from connector_pipelines import config
from connector_pipelines.pipelines.catalog import pipeline_recipes, pipeline_spec, tenant_registry
from connector_pipelines.runner import RunSummary, dagster_instance, run_sync
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog, SandboxRecipe, register_tenant
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry

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


def start_sandbox(products: int, variants: int, port: int = 0) -> SandboxHub:
    """A hub with every pipeline's demo tenant accounts (each recipe's demo seed), serving on ``port``."""
    hub = SandboxHub()
    for recipe in pipeline_recipes().values():
        recipe.add_accounts(hub, recipe.demo_tenant, Catalog(products, variants, seed=recipe.demo_seed))
    hub.serve(port=port)
    return hub


def register_demo_tenants(hub: SandboxHub, registry: TenantRegistry) -> None:
    """(Re)register every demo tenant on this sandbox's accounts: their credentials are new at every start."""
    accounts = hub.accounts()
    for recipe in pipeline_recipes().values():
        register_tenant(registry, recipe, accounts, recipe.demo_tenant, name=f"Demo: {recipe.title}")


@dataclass
class Row:
    step: str
    summary: RunSummary
    converged: str
    source: str
    targets: tuple[str, ...]


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
    registry = tenant_registry()
    instance = dagster_instance()
    hub = start_sandbox(products, variants)
    tables: list[tuple[SandboxRecipe, list[Row]]] = []
    try:
        register_demo_tenants(hub, registry)
        for recipe in pipeline_recipes().values():
            tables.append((recipe, demo_pipeline(echo, hub, recipe, variants=variants, instance=instance)))
    finally:
        hub.stop()

    for recipe, rows in tables:
        echo("")
        echo(f"{recipe.pipeline}, tenant {recipe.demo_tenant}:")
        for line in TABLE_HEADER:
            echo(line)
        for row in rows:
            echo(_row_text(row))
    home = os.environ.get("DAGSTER_HOME", "(a temporary folder)")
    echo(f"\nRuns are recorded in the Dagster instance at {home}; `make dev` shows them.")
    return all(_succeeded(recipe, rows) for recipe, rows in tables)


def _succeeded(recipe: SandboxRecipe, rows: list[Row]) -> bool:
    """Every run succeeded and the target equals the source at the end, and after every step where the
    pipeline can see everything the source did (deletions need a full read in some pipelines)."""
    must_converge = rows[-1:] if recipe.deletions_need_full else rows
    return all(r.summary.success for r in rows) and all(r.converged == "yes" for r in must_converge)


def demo_pipeline(
    echo: Echo, hub: SandboxHub, recipe: SandboxRecipe, *, variants: int, instance: dg.DagsterInstance
) -> list[Row]:
    """Config (where the pipeline has it), full, 10 % changed with one product added and one deleted, delta,
    delta with nothing changed, and a full where only a full read sees the deletion."""
    tenant = recipe.demo_tenant
    spec = pipeline_spec(recipe.pipeline)
    echo(f"{recipe.describe(hub.accounts(), tenant)}; tenant {tenant}")
    rows: list[Row] = []
    lingering: frozenset[str] = frozenset()

    def step(label: str, mode: SyncMode) -> None:
        summary = run_sync(tenant, recipe.pipeline, mode, instance=instance)
        report = recipe.convergence(hub, tenant)
        if mode == SyncMode.CONFIG:
            state = "- (reference data only)"
        elif report.converged:
            state = "yes"
        elif not (report.missing or report.mismatched) and set(report.unexpected) <= lingering:
            state = "yes, but the deleted item (until a full read)"
        else:
            state = "no"
        rows.append(Row(label, summary, state, recipe.source_asset, recipe.target_assets))
        outcome = "ok" if summary.success else f"FAILED: {summary.error or ''}"
        echo(f"  {label}: {outcome} ({report.describe()})")

    if spec.job_for(SyncMode.CONFIG) is not None:
        step("config", SyncMode.CONFIG)
    step("full", SyncMode.FULL)
    changed = recipe.change(hub, tenant, fraction=0.1, seed=42)
    added = recipe.add_one(hub, tenant, seed=recipe.demo_seed, variants=variants)
    deleted = recipe.delete_one(hub, tenant)
    if recipe.deletions_need_full:
        lingering = deleted.target_keys
    echo(f"  {recipe.describe_changes(changed, added, deleted)}")
    step("delta (after changes)", SyncMode.DELTA)
    step("delta (nothing changed)", SyncMode.DELTA)
    if recipe.deletions_need_full:
        step("full (detects the deletion)", SyncMode.FULL)
    return rows
