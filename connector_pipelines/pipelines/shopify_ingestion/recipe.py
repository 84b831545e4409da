"""shopify_ingestion in the sandbox: a shop that sells (products with variants, five customers and ten orders
of three lines per product), read into the ingestion tables of the connector's environment.

Convergence is worked out from the emulator's own records, not through the pipeline's mapping: every live
customer, order and product of the shop is once in its table with its update time and what identifies it
(the customer's email and names, decrypted; the order's total, currency, customer and line items; the
product's handle, status and variants' SKUs and prices), and no other record is live there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connector_pipelines.catalog.commerce import Customer, Order, ProductRecord
from connector_pipelines.sandbox.convergence import ConvergenceReport
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
from connector_pipelines.store.ingestion.repository import IngestionRepository, ObjectName, TableName
from connector_pipelines.sync.shopify_ingestion import ingestion_repository

# The emulators are the sandbox's: a pipeline process that only registers a tenant needs none of them.
if TYPE_CHECKING:
    from connector_pipelines.sandbox.hub import SandboxHub
    from connector_pipelines.sandbox.shopify_store import ShopState

CUSTOMERS_PER_PRODUCT = 5
ORDERS_PER_PRODUCT = 10
LINES_PER_ORDER = 3
OBJECTS: tuple[ObjectName, ...] = ("customers", "orders", "products")
TABLES: tuple[TableName, ...] = (
    "customers",
    "orders",
    "products",
    "order_lines",
    "variants",
    "customer_addresses",
)


@dataclass(frozen=True)
class Seen:
    """What identifies one record, as the shop has it and as the table has it."""

    updated_at: int  # epoch seconds
    summary: tuple[Any, ...]


class IngestionConvergence(ConvergenceReport):
    unit = "records"
    target = "the ingestion tables"


def _cents(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(Decimal("0.01"))


def expected_records(shop: ShopState) -> dict[str, Seen]:
    """Key -> what the tables should hold, from the emulator's records (under its lock)."""
    out: dict[str, Seen] = {}
    with shop.lock:
        commerce = shop.commerce
        for c in commerce.customers.values():
            out[f"customer:{c.id}"] = Seen(
                int(c.updated_at), (c.email, c.first_name, c.last_name, c.phone, len(c.addresses))
            )
        for o in commerce.orders.values():
            lines = tuple(sorted(commerce.lines.id_of(i) for i in o.lines))
            summary = (o.currency, _cents(commerce.total(o)), o.customer.id if o.customer else None, lines)
            out[f"order:{o.id}"] = Seen(int(o.updated_at), summary)
        for p in shop.products.values():
            variants = tuple(sorted((v.id, v.sku, Decimal(v.price)) for v in p.variants))
            out[f"product:{p.id}"] = Seen(_epoch(p.updated_at), (p.handle, p.status, variants))
    return out


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def live_records(repo: IngestionRepository, tenant: str) -> Iterator[Customer | Order | ProductRecord]:
    yield from repo.iter_customers(tenant)
    yield from repo.iter_orders(tenant)
    yield from repo.iter_products(tenant)


def stored_records(repo: IngestionRepository, tenant: str) -> tuple[dict[str, Seen], Counter[str]]:
    """Key -> what the tables hold (live rows, personal data decrypted), and how often each key is there."""
    out: dict[str, Seen] = {}
    seen: Counter[str] = Counter()
    for record in live_records(repo, tenant):
        key, value = _stored(record)
        out[key] = value
        seen[key] += 1
    return out, seen


def _stored(record: Customer | Order | ProductRecord) -> tuple[str, Seen]:
    stamp = int(record.updated_at.timestamp())
    if isinstance(record, Customer):
        pii = record.pii
        summary: tuple[Any, ...] = (
            pii.email,
            pii.first_name,
            pii.last_name,
            pii.phone,
            len(record.addresses),
        )
        return f"customer:{record.id}", Seen(stamp, summary)
    if isinstance(record, Order):
        lines = tuple(sorted(line.id for line in record.lines))
        return f"order:{record.id}", Seen(
            stamp, (record.currency, record.total_price, record.customer_id, lines)
        )
    variants = tuple(sorted((v.id, v.sku, v.price) for v in record.variants))
    return f"product:{record.id}", Seen(stamp, (record.handle, record.status, variants))


def check_convergence(hub: SandboxHub, account: str, tenant: str | None = None) -> IngestionConvergence:
    expected = expected_records(hub.shopify[account].emulator.shop())
    actual, seen = stored_records(ingestion_repository(), tenant or account)
    return IngestionConvergence.compare(expected, actual, seen, ("updated_at", "summary"))


class ShopifyIngestionRecipe(SandboxRecipe):
    pipeline = "shopify_ingestion"
    title = "Shopify -> ingestion tables"
    source_asset = "shopify_products"
    target_assets = ("shopify_products", "shopify_customers", "shopify_orders")
    emulated = ("shopify",)
    demo_tenant = "demo-ingest"
    demo_seed = 5
    bench_products = 10_000
    # The customers (the first step) are written, then the run dies before the products and orders.
    kill = KillPoint(IngestionRepository, "upsert_customers", {})

    def __init__(self) -> None:
        self._rejected: dict[str, tuple[int, str]] = {}  # account -> (variant id, its real price)

    def add_accounts(
        self, hub: SandboxHub, account: str, catalog: Catalog, *, target_emulator: Any = None
    ) -> None:
        self._registered(hub)
        hub.add_shopify_shop(
            account,
            products=catalog.products,
            variants=catalog.variants,
            customers=catalog.products * CUSTOMERS_PER_PRODUCT,
            orders=catalog.products * ORDERS_PER_PRODUCT,
            lines=LINES_PER_ORDER,
            seed=catalog.seed,
            realistic_limits=catalog.realistic_limits,
            settings=target_emulator,
        )

    def tenant_config(
        self, accounts: Accounts, account: str, *, target: Mapping[str, Any] | None = None
    ) -> TenantConfig:
        shop = accounts["shopify"][account]
        credentials: dict[str, Any] = {"access_token": shop["access_token"]}
        if shop.get("app_secret"):  # signs the shop's webhooks
            credentials["api_secret"] = shop["app_secret"]
        return TenantConfig(
            {"shopify": {"shop_url": shop["shop_url"], **(target or {})}}, {"shopify": credentials}
        )

    def describe(self, accounts: Accounts, account: str) -> str:
        return f"Shopify shop at {accounts['shopify'][account]['shop_url']}"

    def change(self, hub: SandboxHub, account: str, *, fraction: float, seed: int) -> list[str]:
        emulator = hub.shopify[account].emulator
        return [gid for kind in OBJECTS for gid in emulator.change_sample(kind, fraction, seed=seed)]

    def add_one(self, hub: SandboxHub, account: str, *, seed: int, variants: int) -> str:
        sizes = ["S", "M", "L", "XL", "XXL"][: max(1, min(variants, 5))]
        handle = f"added-{seed}"
        product = hub.shopify[account].emulator.put_product(
            {
                "title": f"Added {seed}",
                "handle": handle,
                "productOptions": [{"name": "Size", "values": [{"name": s} for s in sizes]}],
                "variants": [
                    {
                        "optionValues": [{"optionName": "Size", "name": s}],
                        "price": "19.90",
                        "sku": f"ADDED-{seed}-{s}",
                    }
                    for s in sizes
                ],
            }
        )
        return f"product {product['id']}"

    def delete_one(self, hub: SandboxHub, account: str) -> Deleted:
        emulator = hub.shopify[account].emulator
        first = min(emulator.shop().products)
        emulator.delete_product(f"gid://shopify/Product/{first}")
        return Deleted(f"product {first}", frozenset({f"product:{first}"}))

    def describe_changes(self, changed: list[str], added: str, deleted: Deleted) -> str:
        return (
            f"Shopify changed: {len(changed)} customers, orders and products, {added} added, "
            f"{deleted.label} deleted"
        )

    def convergence(self, hub: SandboxHub, account: str) -> IngestionConvergence:
        return check_convergence(hub, account)

    def target_state(self, hub: SandboxHub, account: str) -> Any:
        repo = ingestion_repository()
        records = list(live_records(repo, account))
        counts = {t: repo.count(account, t, include_deleted=True) for t in TABLES}
        return records, counts

    def reject_one(self, hub: SandboxHub, account: str) -> None:
        """The shop's first product gets a negative price on its first variant, which no canonical product
        may hold: the pipeline records the product as unreadable and skips it."""
        shop = hub.shopify[account].emulator.shop()
        with shop.lock:
            variant = shop.products[min(shop.products)].variants[0]
            self._rejected[account] = (variant.id, variant.price)
            variant.price = "-1.00"

    def clear_faults(self, hub: SandboxHub, account: str) -> None:
        found = self._rejected.pop(account, None)
        if found is None:
            return
        shop = hub.shopify[account].emulator.shop()
        with shop.lock:
            variant = shop.variants.get(found[0])
            if variant is not None:
                variant.price = found[1]

    def bench_items(self, get: Get, account: str, catalog: Catalog) -> int:
        """The records seeded: products and variants, customers, orders and their lines."""
        orders = catalog.products * ORDERS_PER_PRODUCT
        customers = catalog.products * CUSTOMERS_PER_PRODUCT
        return catalog.products * (1 + catalog.variants) + customers + orders * (1 + LINES_PER_ORDER)

    def bench_counts(self, get: Get, account: str, counts: StepCounts) -> BenchCounts:
        stats = get(f"/shopify/{account}/__sandbox/stats")
        written = sum(int(counts(a).get("rows_written", 0)) for a in self.target_assets)
        calls = int(stats.get("graphql_calls", 0)) + int(stats.get("result_downloads", 0))
        return BenchCounts(calls, 0, written, calls)

    def bench_note(self, run: str, figures: BenchCounts, counts: StepCounts, wall_s: float) -> str | None:
        return None


RECIPE = ShopifyIngestionRecipe()
