"""erp_files_shopify in the sandbox: an SFTP server over a generated catalog file, and a Shopify shop with the
sandbox's locations. Convergence: every row's SKU once in Shopify with its title, prices and options; for a
rich catalog also its images (product media in order, the variant's image), variant metafield and stock per
location."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector_pipelines.sandbox.file_servers import (
    RICH_COLUMNS,
    SANDBOX_LOCATIONS,
    STOCK_COLUMNS,
    ErpFileLayout,
    add_products,
    change_prices,
    delete_products,
    read_rows,
)
from connector_pipelines.sandbox.hub import (
    ErpShopifyConvergence,
    SandboxHub,
    check_erp_shopify_convergence,
    erp_files_shopify_tenant,
)
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
from connector_pipelines.sandbox.shopify import ShopifyEmulator
from connector_pipelines.sandbox.shopify import ShopifySettings as ShopifyEmulatorSettings
from connector_pipelines.targets.shopify import ShopifyWriter


@contextmanager
def _rewritten(file: Path) -> Iterator[None]:
    """A rewrite gets a modification time later than any before, as a rewrite seconds later would: listings
    show whole seconds, so two rewrites of one size in one second would look like one file."""
    before = file.stat().st_mtime
    yield
    stamp = max(before, file.stat().st_mtime) + 2
    os.utime(file, (stamp, stamp))


@dataclass(frozen=True)
class ExpectedExtras:
    """What Shopify should show for a SKU of a rich catalog, beyond the plain fields."""

    images: tuple[str, ...]  # the product's media sources, in order
    image: str | None
    fit: str | None
    stock: tuple[tuple[str, int], ...]  # (location name, available), by name


def expected_extras(file: Path, layout: ErpFileLayout) -> dict[str, ExpectedExtras]:
    """SKU -> images, variant image, variant metafield and stock per location, read from a rich sandbox
    catalog's rows as the sandbox writes them (empty for a plain catalog)."""
    stream = read_rows(file, layout)
    first = next(stream, None)
    if first is None or not any(name in first for name in RICH_COLUMNS):
        return {}  # a plain catalog: nothing more to check (and no second read of a large file)
    rows = [row for row in (first, *stream) if str(row.get("sku") or "").strip()]
    by_parent: dict[str, list[str]] = {}
    for row in rows:
        images = by_parent.setdefault(str(row.get("parent_id")), [])
        urls = row.get("image_urls") or []
        listed = urls if isinstance(urls, list) else [u.strip() for u in str(urls).split("|")]
        for url in [*listed, row.get("variant_image")]:
            if url and str(url) not in images:
                images.append(str(url))
    out: dict[str, ExpectedExtras] = {}
    for row in rows:
        stock = tuple(
            sorted((location, int(str(row[column] or 0))) for column, location in STOCK_COLUMNS.items())
        )
        out[str(row["sku"]).strip()] = ExpectedExtras(
            tuple(by_parent[str(row.get("parent_id"))]),
            str(row.get("variant_image") or "") or None,
            str(row.get("fit") or "") or None,
            stock,
        )
    return out


def actual_extras(shop: ShopifyEmulator) -> tuple[dict[str, ExpectedExtras], Counter[str]]:
    names = {f"gid://shopify/Location/{number}": name for number, name in SANDBOX_LOCATIONS.items()}
    actual: dict[str, ExpectedExtras] = {}
    skus: Counter[str] = Counter()
    for product in shop.products():
        if product["status"] == "ARCHIVED":
            continue
        images = tuple(str(m["source"]) for m in product["media"])
        for variant in product["variants"]:
            sku = str(variant["sku"] or "")
            skus[sku] += 1
            fit = next((m["value"] for m in variant["metafields"] if m["key"] == "fit"), None)
            stock = tuple(sorted((names.get(loc, loc), int(q)) for loc, q in variant["inventory"].items()))
            image = variant["image"]
            actual[sku] = ExpectedExtras(images, str(image) if image else None, fit, stock)
    return actual, skus


def check_convergence(file: Path, layout: ErpFileLayout, shop: ShopifyEmulator) -> ErpShopifyConvergence:
    """The hub's check of the plain fields, and for a rich catalog its images, variant metafield and stock
    per location."""
    report = check_erp_shopify_convergence(file, layout, shop)
    expected = expected_extras(file, layout)
    if expected:
        actual, skus = actual_extras(shop)
        actual = {sku: extras for sku, extras in actual.items() if sku in expected}
        extras = ErpShopifyConvergence.compare(expected, actual, skus, ("images", "image", "fit", "stock"))
        report.mismatched += extras.mismatched
    return report


class ErpFilesShopifyRecipe(SandboxRecipe):
    pipeline = "erp_files_shopify"
    title = "ERP file over SFTP -> Shopify"
    source_asset = "erp_file_products"
    target_assets = ("shopify_products",)
    emulated = ("shopify",)
    demo_tenant = "demo-erp"
    demo_seed = 2
    bench_products = 10_000
    harness_target = {"bulk_threshold": 5, "bulk_poll_interval_s": 0.05}  # bulk mutations from 5 products
    # Direct productSet calls, four products each: a run dies after the first lands.
    kill = KillPoint(ShopifyWriter, "upsert", {"shopify": {"bulk_threshold": 1000, "bulk_batch_size": 4}})

    def add_accounts(
        self, hub: SandboxHub, account: str, catalog: Catalog, *, target_emulator: Any = None
    ) -> None:
        self._registered(hub)
        if target_emulator is None:
            # The sandbox's locations, which rich catalogs stock (plain ones stock none).
            limits = (
                ShopifyEmulatorSettings.realistic() if catalog.realistic_limits else ShopifyEmulatorSettings()
            )
            target_emulator = limits.model_copy(update={"location_names": dict(SANDBOX_LOCATIONS)})
        hub.add_shopify(account, realistic_limits=catalog.realistic_limits, settings=target_emulator)
        hub.add_erp_files(
            account,
            products=catalog.products,
            variants=catalog.variants,
            seed=catalog.seed,
            format=catalog.file_format,
        )

    def tenant_config(
        self, accounts: Accounts, account: str, *, target: Mapping[str, Any] | None = None
    ) -> TenantConfig:
        settings, credentials = erp_files_shopify_tenant(accounts, account, shopify=target)
        return TenantConfig(settings, credentials)

    def describe(self, accounts: Accounts, account: str) -> str:
        erp = accounts["erp_files"][account]
        return f"ERP file on sftp://{erp['host']}:{erp['port']}/{erp['path']}"

    def change(self, hub: SandboxHub, account: str, *, fraction: float, seed: int) -> list[str]:
        erp = hub.erp_files[account]
        with _rewritten(erp.file):
            return change_prices(erp.file, erp.layout, fraction=fraction, seed=seed)

    def add_one(self, hub: SandboxHub, account: str, *, seed: int, variants: int) -> str:
        erp = hub.erp_files[account]
        with _rewritten(erp.file):
            return f"product {add_products(erp.file, erp.layout, 1, variants=variants, seed=seed)[0]}"

    def delete_one(self, hub: SandboxHub, account: str) -> Deleted:
        erp = hub.erp_files[account]
        with _rewritten(erp.file):
            delete_products(erp.file, erp.layout, ["P000001"])
        return Deleted("product P000001")

    def describe_changes(self, changed: list[str], added: str, deleted: Deleted) -> str:
        return f"file changed: {len(changed)} prices, {added} added, {deleted.label} removed"

    def convergence(self, hub: SandboxHub, account: str) -> ErpShopifyConvergence:
        erp, shop = hub.erp_files[account], hub.shopify[account].emulator
        shop.wait_for_bulk()
        return check_convergence(erp.file, erp.layout, shop)

    def target_state(self, hub: SandboxHub, account: str) -> Any:
        return hub.shopify[account].emulator.products()

    def reject_one(self, hub: SandboxHub, account: str) -> None:
        hub.shopify[account].emulator.fail_bulk_lines([2])

    def clear_faults(self, hub: SandboxHub, account: str) -> None:
        hub.shopify[account].emulator.clear_bulk_faults()

    def bench_items(self, get: Get, account: str, catalog: Catalog) -> int:
        return catalog.products * catalog.variants

    def bench_counts(self, get: Get, account: str, counts: StepCounts) -> BenchCounts:
        stats = get(f"/shopify/{account}/__sandbox/stats")
        calls = int(stats["graphql_calls"]) + int(stats["uploads"]) + int(stats["result_downloads"])
        roots = stats["root_fields"]
        # Bulk lines run inside the emulator; direct productSet / productDelete calls are root fields.
        writes = (
            int(stats["bulk_lines"]) + int(roots.get("productSet", 0)) + int(roots.get("productDelete", 0))
        )
        source_calls = int(counts(self.source_asset).get("api_calls_erp_files", 0))
        return BenchCounts(source_calls, calls, writes, int(stats["actual_cost"]))

    def bench_note(self, run: str, figures: BenchCounts, counts: StepCounts, wall_s: float) -> str | None:
        limits = ShopifyEmulatorSettings.realistic()
        waited = float(counts(self.target_asset).get("rate_limit_wait_s", 0.0))
        floor_s = max(figures.cost - limits.bucket_capacity, 0) / limits.restore_rate
        return (
            f"{run}: {figures.cost} Shopify cost points; the bucket ({limits.bucket_capacity:.0f} points, "
            f"{limits.restore_rate:.0f}/s) allows them in {floor_s:.1f} s at best; the run waited "
            f"{waited:.1f} s for the bucket, {wall_s:.1f} s in all"
        )


RECIPE = ErpFilesShopifyRecipe()
