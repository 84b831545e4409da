"""`make demo`: the sandbox, a demo tenant per pipeline, and a sequence of syncs with a summary table each.

The demo (and `make dev`, which shows its runs) works in its own connector home, ``CONNECTOR_HOME/demo``: its
own SQLite connector database, encryption key and Dagster instance. Its tenants point at a sandbox that lives
only as long as the demo runs, so they never mix with the operator's tenants, database or runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from connector_pipelines import config
from connector_pipelines.pipelines.catalog import pipeline_recipes, pipeline_spec, tenant_registry
from connector_pipelines.pipelines.erp_gateway.recipe import ErpGatewayRecipe
from connector_pipelines.runner import RunSummary, dagster_instance, run_sync
from connector_pipelines.sandbox.convergence import ConvergenceReport
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog, SandboxRecipe, register_tenant
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines.tenants.registry import TenantRegistry

Echo = Callable[[str], None]
KEY_FILE = "demo-encryption.key"


@contextmanager
def demo_environment() -> Iterator[Path]:
    """For the block, this process (and what it starts) uses the demo's connector home: its database, its
    own key (kept next to it) and its Dagster instance, whatever the operator's environment says."""
    home = config.demo_home()
    home.mkdir(parents=True, exist_ok=True)
    key_file = home / KEY_FILE
    if not key_file.exists():
        key_file.write_text(generate_key())
        key_file.chmod(0o600)
    names = (
        config.HOME_VAR,
        config.DATABASE_URL_VAR,
        config.ENCRYPTION_KEY_VAR,
        config.OLD_KEYS_VAR,
        config.DAGSTER_HOME_VAR,
    )
    saved = {name: os.environ.get(name) for name in names}
    os.environ[config.HOME_VAR] = str(home)
    os.environ[config.ENCRYPTION_KEY_VAR] = key_file.read_text().strip()
    os.environ[config.DAGSTER_HOME_VAR] = str(home / "dagster")
    os.environ.pop(config.DATABASE_URL_VAR, None)
    os.environ.pop(config.OLD_KEYS_VAR, None)
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_sandbox(products: int, variants: int, port: int = 0) -> SandboxHub:
    """A hub with every pipeline's demo tenant accounts (each recipe's demo seed), serving on ``port``.
    A port that is taken raises OSError, with nothing left running."""
    hub = SandboxHub()
    try:
        for recipe in pipeline_recipes().values():
            recipe.add_accounts(hub, recipe.demo_tenant, Catalog(products, variants, seed=recipe.demo_seed))
        hub.serve(port=port)
    except BaseException:
        hub.stop()
        raise
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


def _target_counts(summary: RunSummary, targets: tuple[str, ...]) -> dict[str, object]:
    return next((c for c in map(summary.counts, targets) if c), {})


def _row_text(row: Row) -> str:
    products = row.summary.counts(row.source)
    shop = _target_counts(row.summary, row.targets)
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
    tables: list[tuple[SandboxRecipe, list[Row]]] = []
    with demo_environment() as home:
        echo(
            f"The demo works in {home}: its own connector database, key and Dagster instance. "
            "Your tenants and runs are not touched."
        )
        registry = tenant_registry()
        instance = dagster_instance()
        hub = start_sandbox(products, variants)
        try:
            register_demo_tenants(hub, registry)
            for recipe in pipeline_recipes().values():
                tables.append(
                    (recipe, demo_pipeline(echo, hub, recipe, variants=variants, instance=instance))
                )
        finally:
            hub.stop()

    for recipe, rows in tables:
        echo("")
        echo(f"{recipe.pipeline}, tenant {recipe.demo_tenant}:")
        for line in TABLE_HEADER:
            echo(line)
        for row in rows:
            echo(_row_text(row))
    echo(
        f"\nThe runs are recorded in the demo's Dagster instance ({home / 'dagster'}); `make dev` shows them."
    )
    return all(_succeeded(recipe, rows) for recipe, rows in tables)


def _succeeded(recipe: SandboxRecipe, rows: list[Row]) -> bool:
    """Every run succeeded and the target equals the source at the end, and after every step where the
    pipeline can see everything the source did (deletions need a full read in some pipelines)."""
    must_converge = rows[-1:] if recipe.deletions_need_full else rows
    return all(r.summary.success for r in rows) and all(r.converged == "yes" for r in must_converge)


def what_it_proves(
    mode: SyncMode, summary: RunSummary, state: str, report: ConvergenceReport, sent: dict[str, object]
) -> str:
    """One line on what a demo step showed, in words: what was sent, and whether the target now holds what
    the source says (judged from the emulators' own states, not from the pipeline)."""
    if not summary.success:
        return f"FAILED: {summary.error or 'see the run in `make dev`'}"
    if mode == SyncMode.CONFIG:
        return "ok: the source's reference data (categories, options, ...) cached and published"
    written = {k: sent.get(k, 0) for k in ("created", "updated", "deleted")}
    if any(written.values()):
        what = "sent " + ", ".join(f"{v} {k}" for k, v in written.items() if v)
    else:
        what = f"nothing to send ({sent.get('unchanged', 0)} unchanged)"
    if state == "yes":
        verdict = f"the target holds exactly what the source says ({report.describe()})"
    elif state.startswith("yes, but"):
        verdict = (
            "the target holds what the source says but for the deleted item, which only a full read sees"
        )
    else:
        verdict = f"the target DIFFERS from the source: {report.describe()}"
    return f"{'ok' if state != 'no' else 'NOT CONVERGED'}: {what}; {verdict}"


def demo_pipeline(
    echo: Echo, hub: SandboxHub, recipe: SandboxRecipe, *, variants: int, instance: dg.DagsterInstance
) -> list[Row]:
    """Config (where the pipeline has it), full, 10 % changed with one product added and one deleted, delta,
    delta with nothing changed, and a full where only a full read sees the deletion."""
    tenant = recipe.demo_tenant
    spec = pipeline_spec(recipe.pipeline)
    echo(f"{recipe.pipeline} ({recipe.title}): {recipe.describe(hub.accounts(), tenant)}; tenant {tenant}")
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
        sent = _target_counts(summary, recipe.target_assets)
        echo(f"  {label}: {what_it_proves(mode, summary, state, report, sent)}")

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
    if isinstance(recipe, ErpGatewayRecipe) and recipe.erp != "erp_csv":
        gateway_orders(echo, hub, recipe, instance)
    return rows


def gateway_orders(
    echo: Echo, hub: SandboxHub, recipe: ErpGatewayRecipe, instance: dg.DagsterInstance
) -> None:
    """The gateway's other direction: the shop's paid orders into the ERP, and a shipment back."""
    tenant = recipe.demo_tenant
    placed = recipe.place_orders(hub, tenant, 3, seed=recipe.demo_seed)
    echo(f"  the shop took {len(placed)} paid orders: {', '.join(placed)}")
    summary = run_sync(tenant, recipe.pipeline, SyncMode.DELTA, instance=instance)
    orders = summary.counts("orders_to_erp")
    echo(
        f"  delta (orders): {'ok' if summary.success else 'FAILED'}: {orders.get('created', 0)} orders "
        f"created in the ERP, {orders.get('failed', 0)} failed"
    )
    dispatch = recipe.erp_of(hub, tenant).ship(placed[0], "YK1234567890")
    summary = run_sync(tenant, recipe.pipeline, SyncMode.DELTA, instance=instance)
    shipped = summary.counts("shipments_back")
    echo(
        f"  the ERP shipped order {placed[0]} (dispatch {dispatch}); delta (shipments): "
        f"{'ok' if summary.success else 'FAILED'}: {shipped.get('created', 0)} fulfilment(s) with tracking "
        "numbers in the shop"
    )
