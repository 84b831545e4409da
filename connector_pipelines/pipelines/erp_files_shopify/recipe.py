"""erp_files_shopify in the sandbox: an SFTP server over a generated catalog file, and a Shopify shop."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connector_pipelines.sandbox.file_servers import add_products, change_prices, delete_products
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
        return check_erp_shopify_convergence(erp.file, erp.layout, shop)

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
