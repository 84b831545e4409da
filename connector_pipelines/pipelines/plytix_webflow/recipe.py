"""plytix_webflow in the sandbox: a Plytix account over a generated catalog, and a Webflow e-commerce site.

Convergence is worked out from the two emulators alone: every Plytix variant (or single product) that can be
told apart from its siblings and has a price is one SKU of a live Webflow product, with the parent's label,
its price and compare-at price in minor units and its option values; no live product of the site holds
another SKU, unless that SKU was retired (out of stock: Webflow cannot delete SKUs).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connector_pipelines.sandbox.convergence import ConvergenceReport
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.plytix import PlytixSettings as PlytixEmulatorSettings
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
from connector_pipelines.sandbox.webflow_settings import WebflowSettings as WebflowEmulatorSettings
from connector_pipelines.targets.webflow import WebflowProductWriter, minor_units

WINDOW_S = 60.0


@dataclass(frozen=True)
class ExpectedSku:
    name: str
    price: int
    compare_at: int | None
    options: dict[str, str]


class PlytixWebflowConvergence(ConvergenceReport):
    unit = "SKUs"
    target = "Webflow (live products)"


def _amount(value: Any, currency: str) -> int | None:
    if value is None or value == "":
        return None
    return minor_units(Decimal(str(value)), currency)


def expected_skus(hub: SandboxHub, account: str, currency: str) -> dict[str, ExpectedSku]:
    """SKU -> what Webflow should show, from the Plytix emulator's catalog and families."""
    plytix = hub.plytix[account].emulator
    names = {a.label: a.name for a in plytix.store.attributes.values()}
    axes: dict[str, list[str]] = {}
    for family in plytix.families():
        levels = family["attributes"]
        assert isinstance(levels, list)
        axes[str(family["id"])] = [
            str(a["label"]) for a in levels if isinstance(a, dict) and a["attribute_level"] == "variant_level"
        ]
    products = plytix.catalog()
    children: dict[str, list[dict[str, Any]]] = {}
    for product in products:
        if product.get("_parent_id"):
            children.setdefault(str(product["_parent_id"]), []).append(product)
    out: dict[str, ExpectedSku] = {}
    for product in products:
        if product.get("_parent_id"):
            continue
        variants = sorted(children.get(str(product["id"]), []), key=lambda v: str(v["sku"]))
        labels = axes.get(str(variants[0].get("product_family_id")), []) if variants else []
        taken: set[tuple[str, ...]] = set()
        for row in variants or [product]:
            attributes = row.get("attributes") or {}
            values = tuple(str(attributes.get(label) or "") for label in labels)
            price = _amount(attributes.get("price"), currency)
            if price is None or "" in values or (labels and values in taken):
                continue  # the pipeline records these as errors: they cannot be told apart or priced
            taken.add(values)
            out[str(row["sku"])] = ExpectedSku(
                str(product.get("label") or ""),
                price,
                _amount(attributes.get("compare_at_price"), currency),
                {names.get(label, label): value for label, value in zip(labels, values, strict=True)},
            )
    return out


def check_convergence(hub: SandboxHub, account: str) -> PlytixWebflowConvergence:
    site = hub.webflow[account].emulator
    expected = expected_skus(hub, account, site.settings.default_currency)
    actual: dict[str, ExpectedSku] = {}
    counted: Counter[str] = Counter()
    retired: set[str] = set()
    with site.store.lock:
        stock = {sku_id: dict(doc) for sku_id, doc in site.store.inventory.items()}
    for entry in site.products():
        product = entry["product"]
        if product.get("isArchived") or product.get("isDraft"):
            continue
        fields = product["fieldData"]
        properties = {
            str(p["id"]): (str(p["name"]), {str(e["id"]): str(e["name"]) for e in p.get("enum") or []})
            for p in fields.get("sku-properties") or []
        }
        for sku in entry["skus"]:
            data = sku["fieldData"]
            code = str(data.get("sku") or "")
            level = stock.get(str(sku["id"])) or {}
            if code not in expected and level.get("inventoryType") == "finite" and not level.get("quantity"):
                retired.add(code)
                continue
            counted[code] += 1
            compare = data.get("compare-at-price")
            options = {
                properties[prop][0]: properties[prop][1].get(value, value)
                for prop, value in (data.get("sku-values") or {}).items()
                if prop in properties
            }
            actual[code] = ExpectedSku(
                str(fields.get("name") or ""),
                int(data["price"]["value"]),
                int(compare["value"]) if compare else None,
                options,
            )
    return PlytixWebflowConvergence.compare(
        expected, actual, counted, ("name", "price", "compare_at", "options")
    )


class PlytixWebflowRecipe(SandboxRecipe):
    pipeline = "plytix_webflow"
    title = "Plytix PIM -> Webflow e-commerce"
    source_asset = "plytix_products"
    target_assets = ("webflow_products", "webflow_reference")
    emulated = ("plytix", "webflow")
    deletions_need_full = True
    demo_tenant = "demo-plytix"
    demo_seed = 3
    bench_products = 10_000
    harness_target = {"batch_size": 5}
    # Four products a batch: the run dies after the first batch landed.
    kill = KillPoint(WebflowProductWriter, "upsert", {"webflow": {"batch_size": 4}})

    def add_accounts(
        self, hub: SandboxHub, account: str, catalog: Catalog, *, target_emulator: Any = None
    ) -> None:
        self._registered(hub)
        hub.add_plytix(
            account,
            products=catalog.products,
            variants=catalog.variants,
            seed=catalog.seed,
            realistic_limits=catalog.realistic_limits,
        )
        hub.add_webflow(account, realistic_limits=catalog.realistic_limits, settings=target_emulator)

    def tenant_config(
        self, accounts: Accounts, account: str, *, target: Mapping[str, Any] | None = None
    ) -> TenantConfig:
        plytix, webflow = accounts["plytix"][account], accounts["webflow"][account]
        limits = {
            name: int(plytix[name]) for name in ("requests_per_10s", "requests_per_hour") if plytix.get(name)
        }
        settings: dict[str, dict[str, Any]] = {
            "plytix": {"base_url": plytix["base_url"], **limits},
            "webflow": {"base_url": webflow["base_url"], "site_id": webflow["site_id"], **(target or {})},
        }
        credentials: dict[str, dict[str, Any]] = {
            "plytix": {"api_key": plytix["api_key"], "api_password": plytix["api_password"]},
            "webflow": {"token": webflow["token"]},
        }
        return TenantConfig(settings, credentials)

    def describe(self, accounts: Accounts, account: str) -> str:
        return f"Plytix account at {accounts['plytix'][account]['base_url']}"

    def change(self, hub: SandboxHub, account: str, *, fraction: float, seed: int) -> list[str]:
        return hub.plytix[account].emulator.change_prices(fraction, seed)

    def add_one(self, hub: SandboxHub, account: str, *, seed: int, variants: int) -> str:
        return f"product {hub.plytix[account].emulator.add_product(variants, seed)}"

    def delete_one(self, hub: SandboxHub, account: str) -> Deleted:
        plytix = hub.plytix[account].emulator
        catalog = plytix.catalog()
        first = next(p for p in catalog if not p.get("_parent_id"))  # a parent or a single product
        skus = {str(p["sku"]) for p in catalog if p.get("_parent_id") == first["id"]} or {str(first["sku"])}
        plytix.delete_product(str(first["sku"]))
        return Deleted(f"product {first['sku']}", frozenset(skus))

    def describe_changes(self, changed: list[str], added: str, deleted: Deleted) -> str:
        return f"Plytix changed: {len(changed)} prices, {added} added, {deleted.label} deleted"

    def convergence(self, hub: SandboxHub, account: str) -> PlytixWebflowConvergence:
        return check_convergence(hub, account)

    def target_state(self, hub: SandboxHub, account: str) -> Any:
        site = hub.webflow[account].emulator
        return site.products(), site.items("category")

    def reject_one(self, hub: SandboxHub, account: str) -> None:
        """Webflow refuses the default SKU of the second parent: that product is not created at all."""
        plytix = hub.plytix[account].emulator
        parents = [p for p in plytix.catalog() if p.get("num_variations")]
        first = min(str(p["sku"]) for p in plytix.catalog() if p.get("_parent_id") == parents[1]["id"])
        hub.webflow[account].emulator.reject_sku(first)

    def clear_faults(self, hub: SandboxHub, account: str) -> None:
        hub.webflow[account].emulator.clear_rejections()

    def bench_items(self, get: Get, account: str, catalog: Catalog) -> int:
        state = get(f"/plytix/{account}/__sandbox/state")
        counts = state.get("counts", state)
        return int(counts["variants"]) + int(counts["standalone"])

    def bench_counts(self, get: Get, account: str, counts: StepCounts) -> BenchCounts:
        plytix = get(f"/plytix/{account}/__sandbox/stats")
        webflow = get(f"/webflow/{account}/__sandbox/stats")
        return BenchCounts(
            sum(plytix["calls"].values()),
            sum(webflow["calls"].values()),
            int(webflow["writes"]),
            sum(webflow["calls"].values()),
        )

    def bench_bound_s(self, figures: BenchCounts) -> float:
        """Webflow's rolling minute lets ``limit`` calls through at once, then one as each slot frees: the
        last of n calls cannot start before (ceil(n / limit) - 1) minutes. Plytix's windows likewise."""
        webflow = WebflowEmulatorSettings.realistic().rate_limit_per_minute or 60
        plytix = PlytixEmulatorSettings.realistic()
        bounds = [(math.ceil(figures.target_calls / webflow) - 1) * WINDOW_S]
        for limit, period in ((plytix.rate_per_10s, 10.0), (plytix.rate_per_hour, 3600.0)):
            if limit:
                bounds.append((math.ceil(figures.source_calls / limit) - 1) * period)
        return round(max(0.0, *bounds), 1)

    def bench_note(self, run: str, figures: BenchCounts, counts: StepCounts, wall_s: float) -> str | None:
        bound = self.bench_bound_s(figures)
        waited = float(counts(self.target_asset).get("rate_limit_wait_s", 0.0))
        if not bound:
            return f"{run}: {figures.target_calls} Webflow calls fit in one minute: no wait is needed"
        return (
            f"{run}: {figures.target_calls} Webflow calls, {figures.source_calls} Plytix calls; the limits "
            f"allow them in {bound:.0f} s at best; measured {wall_s:.1f} s = {wall_s / bound:.2f} x "
            f"(the publishing threads waited {waited:.1f} s in all for Webflow's window)"
        )


RECIPE = PlytixWebflowRecipe()
