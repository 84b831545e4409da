"""plenty_shopware in the sandbox: a Plentymarkets account with a generated catalog and a Shopware shop."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from connector_pipelines.sandbox.convergence import ConvergenceReport, check_convergence
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.plentymarkets_seed import CUSTOMER_CLASS_DEALER
from connector_pipelines.sandbox.plentymarkets_settings import PlentySettings
from connector_pipelines.sandbox.recipe import (
    Accounts,
    BenchCounts,
    Catalog,
    Deleted,
    Get,
    KillPoint,
    SandboxRecipe,
    StepCounts,
    TenantConfig,
)
from connector_pipelines.targets.shopware6 import ProductWriter
from connector_pipelines.tenants.systems import Shopware6Settings

# The sandbox shop's rule for the Plenty catalog's dealer class, and the rule of quantity prices.
DEALER_RULE = "Dealer customers"
TIER_RULE = Shopware6Settings.model_fields["tier_price_rule"].default
# Images uploaded per run on the sandbox: enough for the demo's catalog, a slice of a benchmark's.
MEDIA_BUDGET_S = 0.5
IMAGE_ROUTE = "GET /images/{path}"  # Plenty's image files: served by its CDN, not its REST API


class PlentyShopwareRecipe(SandboxRecipe):
    pipeline = "plenty_shopware"
    title = "Plentymarkets -> Shopware 6"
    source_asset = "plenty_products"
    target_assets = ("shopware_products", "shopware_reference")
    emulated = ("plentymarkets", "shopware6")
    deletions_need_full = True
    demo_tenant = "demo-plenty"
    demo_seed = 1
    bench_products = 20_000
    # Tests upload every image in the run that links it.
    harness_target = {"media_budget_s": 600.0}
    kill = KillPoint(ProductWriter, "upsert", {"shopware6": {"batch_size": 4}})

    def add_accounts(
        self, hub: SandboxHub, account: str, catalog: Catalog, *, target_emulator: Any = None
    ) -> None:
        self._registered(hub)
        hub.add_plenty(
            account,
            products=catalog.products,
            variants=catalog.variants,
            seed=catalog.seed,
            realistic_limits=catalog.realistic_limits,
        )
        hub.add_shopware(account).emulator.add_rule(DEALER_RULE, priority=20)

    def tenant_config(
        self, accounts: Accounts, account: str, *, target: Mapping[str, Any] | None = None
    ) -> TenantConfig:
        plenty, shopware = accounts["plentymarkets"][account], accounts["shopware6"][account]
        return TenantConfig(
            {
                "plentymarkets": {"base_url": plenty["base_url"]},
                "shopware6": {
                    "base_url": shopware["base_url"],
                    "customer_group_rules": {str(CUSTOMER_CLASS_DEALER): DEALER_RULE},
                    "media_budget_s": MEDIA_BUDGET_S,
                    **(target or {}),
                },
            },
            {
                "plentymarkets": {"username": plenty["username"], "password": plenty["password"]},
                "shopware6": {"client_id": shopware["client_id"], "client_secret": shopware["client_secret"]},
            },
        )

    def describe(self, accounts: Accounts, account: str) -> str:
        return f"sandbox on {accounts['plentymarkets'][account]['base_url'].rsplit('/', 2)[0]}"

    def change(self, hub: SandboxHub, account: str, *, fraction: float, seed: int) -> list[str]:
        changes = hub.plenty[account].emulator.change_random(fraction, seed=seed)
        return [f"{c.kind}:{c.variation_id or c.item_id}" for c in changes]

    def add_one(self, hub: SandboxHub, account: str, *, seed: int, variants: int) -> str:
        return f"item {hub.plenty[account].emulator.add_item().item_id}"

    def delete_one(self, hub: SandboxHub, account: str) -> Deleted:
        plenty = hub.plenty[account].emulator
        gone = next(iter(plenty.catalog.items))
        numbers = {plenty.catalog.variations[v].number for v in plenty.catalog.items[gone].variation_ids}
        plenty.delete_item(gone)
        return Deleted(f"item {gone}", frozenset({f"P-{gone}", *numbers}))

    def describe_changes(self, changed: list[str], added: str, deleted: Deleted) -> str:
        changes = f"{len(changed)} variation/price/stock changes"
        return f"sandbox changed: {changes}, 1 item added, {deleted.label} deleted"

    def convergence(self, hub: SandboxHub, account: str) -> ConvergenceReport:
        return check_convergence(
            hub.plenty[account].emulator,
            hub.shopware[account].emulator,
            rules={TIER_RULE: None, DEALER_RULE: CUSTOMER_CLASS_DEALER},
        )

    def target_state(self, hub: SandboxHub, account: str) -> Any:
        return hub.shopware[account].emulator.entities("product")

    def reject_one(self, hub: SandboxHub, account: str) -> None:
        victim = next(iter(hub.plenty[account].emulator.catalog.variations.values()))
        hub.shopware[account].emulator.reject_next_sync_record(victim.number, times=20)

    def clear_faults(self, hub: SandboxHub, account: str) -> None:
        hub.shopware[account].emulator.clear_reject_rules()

    def bench_items(self, get: Get, account: str, catalog: Catalog) -> int:
        return int(get(f"/plentymarkets/{account}/__sandbox/state")["catalog"]["variations"])

    def bench_counts(self, get: Get, account: str, counts: StepCounts) -> BenchCounts:
        plenty = get(f"/plentymarkets/{account}/__sandbox/stats")
        shopware = get(f"/shopware6/{account}/__sandbox/stats")
        calls = int(plenty["total"]) - int(plenty["requests"].get(IMAGE_ROUTE, 0))
        # Variation pages cost two units of Plenty's short window under realistic limits.
        units = calls + sum(
            n for route, n in plenty["requests"].items() if route.endswith("/rest/items/variations")
        )
        writes = sum(shopware["records_written"].values()) + sum(shopware["records_deleted"].values())
        return BenchCounts(calls, sum(shopware["calls"].values()), writes, units)

    def bench_bound_s(self, figures: BenchCounts) -> float:
        """Plenty's short window lets ``limit`` cost units through per period: the last of n units cannot
        start before floor((n - 1) / limit) periods (the Shopware side has no limit here)."""
        window = PlentySettings.realistic().short_window
        return math.floor(max(figures.cost - 1, 0) / window.limit) * window.period_s

    def bench_note(self, run: str, figures: BenchCounts, counts: StepCounts, wall_s: float) -> str | None:
        window = PlentySettings.realistic().short_window
        units = figures.cost
        floor_s = self.bench_bound_s(figures)
        if not floor_s:
            return f"{run}: {units} Plenty cost units fit in one window: no wait is needed"
        # The read is what the window limits; the products are published while it goes on.
        read_s = float(counts(self.source_asset).get("duration_s") or 0.0)
        return (
            f"{run}: {units} Plenty cost units; the short window ({window.limit} per "
            f"{window.period_s:.0f} s) allows them in {floor_s:.0f} s at best; "
            f"measured {wall_s:.1f} s = {wall_s / floor_s:.2f} x for the run, of which the "
            f"products read (publishing meanwhile) {read_s:.1f} s = {read_s / floor_s:.2f} x"
        )


RECIPE = PlentyShopwareRecipe()
