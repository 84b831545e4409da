"""erp_gateway in the sandbox: an ERP (a Logo firm, a Netsis company or CSV files in a folder) and a shop
(Shopware 6 or Shopify) that sells the ERP's items: the ERP's SKUs with no stock and a placeholder price, as
a shop looks before the gateway's first run.

Convergence is worked out from the emulators alone: every ERP SKU the shop sells shows the ERP's available
stock (on hand minus reserved, whole units, never below zero) and its price on the ERP's VAT basis; an SKU
whose stock has not arrived counts as missing, one whose price differs as mismatched. A shop SKU the ERP no
longer lists must be out of stock (sold out, never deleted by the gateway).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, Protocol

from connector_pipelines.clients.shopware6 import shopware_id
from connector_pipelines.sandbox.convergence import ConvergenceReport
from connector_pipelines.sandbox.erp_csv import ErpCsvFolder
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.logo import LogoEmulator
from connector_pipelines.sandbox.netsis import NetsisEmulator
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
from connector_pipelines.sandbox.shopware6 import RejectRule, Shopware6Emulator
from connector_pipelines.sandbox.shopware6_orders import SandboxCustomer, SandboxLine, SandboxOrder
from connector_pipelines.sandbox.shopware6_schema import DEFAULT_CURRENCY_ID, SYSTEM_LANGUAGE_ID, TAX_19_ID
from connector_pipelines.sync.erp_gateway_stock import ShopWriter

ErpName = Literal["logo", "netsis", "erp_csv"]
ShopName = Literal["shopware6", "shopify"]
CENT = Decimal("0.01")
PLACEHOLDER_PRICE = Decimal("1.00")  # what the seeded shop asks before the gateway's first run
SHOP_CURRENCY = "EUR"  # the Shopware emulator's default currency; the sandbox ERPs keep their books in it
SEED_CHUNK = 1000
CARRIER = "Yurtiçi Kargo"


@dataclass(frozen=True)
class ExpectedSku:
    stock: int
    price: Decimal


class GatewayConvergence(ConvergenceReport):
    unit = "SKUs"
    target = "the shop"


# --- the ERP of an account ----------------------------------------------------------------------------------


class ErpDriver(Protocol):
    """What the recipe does with the ERP emulator of one account."""

    def skus(self) -> list[str]: ...

    def available(self) -> dict[str, Decimal]: ...

    def prices(self) -> dict[str, Decimal]: ...

    def change(self, fraction: float, seed: int) -> list[str]: ...

    def set_stock(self, sku: str, quantity: int) -> None: ...

    def add_item(self, seed: int) -> str: ...

    def delete_item(self, sku: str) -> None: ...

    def ship(self, order_number: str, tracking: str) -> str:
        """Ship a whole order the gateway wrote (by the shop's order number); the dispatch number."""
        ...


@dataclass(frozen=True)
class EmulatorDriver:
    """A Logo firm or a Netsis company: the same moves on either, with its price list and item code style."""

    emulator: LogoEmulator | NetsisEmulator
    price_list: str
    code_separator: str  # Logo's codes read NEW.000123, Netsis's NEW-000123

    def skus(self) -> list[str]:
        return self.emulator.skus()

    def available(self) -> dict[str, Decimal]:
        return self.emulator.available(self.emulator.warehouses[0])

    def prices(self) -> dict[str, Decimal]:
        return self.emulator.price_levels(self.price_list)

    def change(self, fraction: float, seed: int) -> list[str]:
        stock = self.emulator.change_stock(fraction, seed)
        prices = self.emulator.change_prices(fraction, seed + 1, self.price_list)
        return sorted({*stock, *prices})

    def set_stock(self, sku: str, quantity: int) -> None:
        self.emulator.set_stock(sku, self.emulator.warehouses[0], quantity)

    def add_item(self, seed: int) -> str:
        rng = random.Random(seed)
        code = f"NEW{self.code_separator}{rng.randrange(10**6):06d}"
        self.emulator.add_item(
            code,
            name=f"Yeni ürün {code}",
            stock={self.emulator.warehouses[0]: Decimal(rng.randrange(1, 100))},
            prices={self.price_list: Decimal(rng.randrange(100, 10_000)) / 100},
        )
        return code

    def delete_item(self, sku: str) -> None:
        self.emulator.delete_item(sku)

    def ship(self, order_number: str, tracking: str) -> str:
        return self.emulator.ship(order_number, tracking, CARRIER)


@dataclass(frozen=True)
class CsvDriver:
    folder: ErpCsvFolder

    def skus(self) -> list[str]:
        return self.folder.skus()

    def available(self) -> dict[str, Decimal]:
        return self.folder.available()

    def prices(self) -> dict[str, Decimal]:
        return self.folder.price_levels()

    def change(self, fraction: float, seed: int) -> list[str]:
        return self.folder.change(fraction, seed)

    def set_stock(self, sku: str, quantity: int) -> None:
        self.folder.set_stock(sku, quantity)

    def add_item(self, seed: int) -> str:
        return self.folder.add_item(seed)

    def delete_item(self, sku: str) -> None:
        self.folder.delete_item(sku)

    def ship(self, order_number: str, tracking: str) -> str:
        raise ValueError("an ERP of CSV files takes no orders, so it ships none")


# --- the shop of an account ---------------------------------------------------------------------------------


class ShopDriver(Protocol):
    """What the recipe does with the shop emulator of one account."""

    def seed(self, skus: list[str]) -> None:
        """Products for these SKUs: no stock, the placeholder price."""
        ...

    def held(self) -> list[tuple[str, int, Decimal | None]]:
        """(SKU, stock, price on the shop's basis) of every product, as often as the shop lists it."""
        ...

    def set_price(self, sku: str, price: Decimal) -> None:
        """The shop's own price of the SKU (on the basis the shop keeps)."""
        ...

    def state(self) -> Any: ...


@dataclass(frozen=True)
class ShopwareDriver:
    emulator: Shopware6Emulator

    def seed(self, skus: list[str]) -> None:
        for start in range(0, len(skus), SEED_CHUNK):
            products = [
                _shopware_product(sku, 0, PLACEHOLDER_PRICE) for sku in skus[start : start + SEED_CHUNK]
            ]
            self._upsert(products)

    def held(self) -> list[tuple[str, int, Decimal | None]]:
        found: list[tuple[str, int, Decimal | None]] = []
        for number, product in self.emulator.products_by_number().items():
            entry = next(
                (p for p in product.get("price") or () if p["currencyId"] == DEFAULT_CURRENCY_ID), None
            )
            gross = Decimal(str(entry["gross"])).quantize(CENT) if entry is not None else None
            found.append((number, int(product.get("stock") or 0), gross))
        return found

    def set_price(self, sku: str, price: Decimal) -> None:
        self._upsert([{"id": shopware_id(sku), "price": [_price(price)]}])

    def state(self) -> Any:
        return self.emulator.products_by_number()

    def _upsert(self, payload: list[dict[str, Any]]) -> None:
        self.emulator.writer.sync(
            {"gateway": {"entity": "product", "action": "upsert", "payload": payload}}, SYSTEM_LANGUAGE_ID
        )


@dataclass(frozen=True)
class ShopifyDriver:
    """A Shopify shop that keeps prices without VAT (``taxesIncluded`` false): its tenants' ERP price lists
    are net ones. Stock is read at the shop's primary location."""

    emulator: ShopifyEmulator

    def seed(self, skus: list[str]) -> None:
        for sku in skus:
            self.emulator.put_product(
                {
                    "title": f"Artikel {sku}",
                    "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
                    "variants": [
                        {
                            "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                            "sku": sku,
                            "price": str(PLACEHOLDER_PRICE),
                        }
                    ],
                }
            )

    def held(self) -> list[tuple[str, int, Decimal | None]]:
        found: list[tuple[str, int, Decimal | None]] = []
        for product in self.emulator.products():
            for variant in _dicts(product.get("variants")):
                inventory = variant.get("inventory")
                levels = list(inventory.values()) if isinstance(inventory, dict) else []
                stock = int(str(levels[0])) if levels else 0
                price = variant.get("price")
                found.append((str(variant.get("sku") or ""), stock, Decimal(str(price)) if price else None))
        return found

    def set_price(self, sku: str, price: Decimal) -> None:
        product = self.emulator.product_by_sku(sku)
        if product is None:
            raise KeyError(f"no product with SKU {sku!r}")
        self.emulator.update_product(str(product["id"]), price=str(price))

    def state(self) -> Any:
        return self.emulator.products()


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _price(gross: Decimal) -> dict[str, Any]:
    net = (gross / Decimal("1.19")).quantize(CENT, rounding=ROUND_HALF_UP)
    return {"currencyId": DEFAULT_CURRENCY_ID, "gross": float(gross), "net": float(net), "linked": True}


def _shopware_product(sku: str, stock: int, gross: Decimal) -> dict[str, Any]:
    return {
        "id": shopware_id(sku),
        "productNumber": sku,
        "name": f"Artikel {sku}",
        "stock": stock,
        "taxId": TAX_19_ID,
        "price": [_price(gross)],
    }


# --- the recipe ---------------------------------------------------------------------------------------------


class ErpGatewayRecipe(SandboxRecipe):
    """The gateway between one kind of ERP and one kind of shop."""

    pipeline = "erp_gateway"
    source_asset = "erp_stock"
    target_assets = ("shop_stock", "shop_prices")
    deletions_need_full = True
    demo_tenant = "demo-gateway"
    demo_seed = 4
    bench_products = 50_000
    kill = KillPoint(ShopWriter, "upsert")

    def __init__(self, erp: ErpName = "logo", shop: ShopName = "shopware6") -> None:
        self.erp, self.shop = erp, shop
        # Shopify keeps prices without VAT in the sandbox: its tenants read a net price list; Shopware keeps
        # both bases, and its tenants read the gross web list.
        self.net = shop == "shopify"
        names = {"logo": "Logo", "netsis": "Netsis", "erp_csv": "CSV files", "shopware6": "Shopware 6"}
        self.title = f"{names[erp]} ERP <-> {names.get(shop, 'Shopify')}: stock, prices, orders"
        self.emulated = tuple(s for s in (erp, shop) if s != "erp_csv")

    # --- sandbox --------------------------------------------------------------------------------------------

    def add_accounts(
        self, hub: SandboxHub, account: str, catalog: Catalog, *, target_emulator: Any = None
    ) -> None:
        self._registered(hub)
        items = catalog.products * catalog.variants
        if self.erp == "logo":
            hub.add_logo(account, items=items, seed=catalog.seed)
        elif self.erp == "netsis":
            hub.add_netsis(account, items=items, seed=catalog.seed)
        else:
            hub.add_erp_csv(account, items=items, seed=catalog.seed)
        if self.shop == "shopify":
            hub.add_shopify(account, realistic_limits=catalog.realistic_limits, settings=target_emulator)
        else:
            hub.add_shopware(account)
        self.shop_of(hub, account).seed(self.erp_of(hub, account).skus())

    def erp_of(self, hub: SandboxHub, account: str) -> ErpDriver:
        if self.erp == "logo":
            emulator = hub.logo[account].emulator
            return EmulatorDriver(emulator, emulator.price_lists[1 if self.net else 0], ".")
        if self.erp == "netsis":
            netsis = hub.netsis[account].emulator
            return EmulatorDriver(netsis, netsis.price_lists[0], "-")
        return CsvDriver(hub.erp_csv[account])

    def shop_of(self, hub: SandboxHub, account: str) -> ShopDriver:
        if self.shop == "shopify":
            return ShopifyDriver(hub.shopify[account].emulator)
        return ShopwareDriver(hub.shopware[account].emulator)

    def tenant_config(
        self, accounts: Accounts, account: str, *, target: Mapping[str, Any] | None = None
    ) -> TenantConfig:
        settings: dict[str, dict[str, Any]] = {}
        credentials: dict[str, dict[str, Any]] = {}
        if self.erp == "logo":
            logo = accounts["logo"][account]
            settings["logo"] = {
                "base_url": logo["base_url"],
                "firm": int(logo["firm"]),
                "client_id": logo["client_id"],
                "warehouse_code": logo["warehouse"],
                "price_list_code": logo["net_price_list" if self.net else "price_list"],
                "local_currency": SHOP_CURRENCY,
                "sql_page_size": 10_000,
                "page_size": 1000,
            }
            credentials["logo"] = {k: logo[k] for k in ("username", "password", "client_secret")}
        elif self.erp == "netsis":
            netsis = accounts["netsis"][account]
            settings["netsis"] = {
                "base_url": netsis["base_url"],
                "dbname": netsis["dbname"],
                "dbuser": netsis["dbuser"],
                "warehouse_code": netsis["warehouse"],
                "price_list_code": netsis["price_list"],
                "prices_include_vat": not self.net,
                "local_currency": SHOP_CURRENCY,
                "sql_page_size": 10_000,
            }
            credentials["netsis"] = {k: netsis[k] for k in ("username", "password", "dbpassword")}
        else:
            folder = accounts["erp_csv"][account]
            settings["erp_csv"] = {
                "warehouse_code": "main",
                "price_list_code": "web",
                "currency": SHOP_CURRENCY,
                "prices_include_vat": not self.net,
                "stock": {"kind": "local", "root": folder["directory"], "path": folder["stock_file"]},
                "prices_file": folder["prices_file"],
            }
        if self.shop == "shopify":
            shopify = accounts["shopify"][account]
            settings["shopify"] = {"shop_url": shopify["shop_url"], **(target or {})}
            credentials["shopify"] = {"access_token": shopify["access_token"]}
        else:
            shop = accounts["shopware6"][account]
            settings["shopware6"] = {"base_url": shop["base_url"], **(target or {})}
            credentials["shopware6"] = {
                "client_id": shop["client_id"],
                "client_secret": shop["client_secret"],
            }
        return TenantConfig(settings, credentials)

    def describe(self, accounts: Accounts, account: str) -> str:
        if self.erp == "erp_csv":
            return f"CSV files in {accounts['erp_csv'][account]['directory']}"
        return f"{self.erp} at {accounts[self.erp][account]['base_url']}"

    # --- changing the source --------------------------------------------------------------------------------

    def change(self, hub: SandboxHub, account: str, *, fraction: float, seed: int) -> list[str]:
        return self.erp_of(hub, account).change(fraction, seed)

    def add_one(self, hub: SandboxHub, account: str, *, seed: int, variants: int) -> str:
        """An item added to the ERP, and the product the merchant lists for it in the shop."""
        sku = self.erp_of(hub, account).add_item(seed)
        self.shop_of(hub, account).seed([sku])
        return f"item {sku}"

    def delete_one(self, hub: SandboxHub, account: str) -> Deleted:
        """An item gone from the ERP; its product stays in the shop until the merchant removes it."""
        erp = self.erp_of(hub, account)
        sku = erp.skus()[0]
        erp.delete_item(sku)
        return Deleted(f"item {sku}", frozenset({sku}))

    def place_orders(self, hub: SandboxHub, account: str, count: int, *, seed: int) -> list[str]:
        """``count`` paid orders of one to three of the ERP's SKUs by a dozen customers; their numbers (or,
        for Shopify, their ids)."""
        rng = random.Random(seed)
        skus = self.erp_of(hub, account).skus()
        placed: list[str] = []
        for n in range(count):
            lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, min(len(skus), rng.randint(1, 3)))]
            email = f"customer{rng.randrange(12)}@example.com"
            if self.shop == "shopify":
                placed.append(hub.shopify[account].emulator.create_order(lines, email=email))
                continue
            order = SandboxOrder(
                order_number=f"B{seed % 1000:03d}{n:06d}",
                customer=SandboxCustomer(email=email),
                lines=tuple(
                    SandboxLine(product_number=sku, quantity=qty, unit_price=PLACEHOLDER_PRICE)
                    for sku, qty in lines
                ),
                currency_iso=SHOP_CURRENCY,
            )
            hub.shopware[account].emulator.add_order(order)
            placed.append(str(order.order_number))
        return placed

    def describe_changes(self, changed: list[str], added: str, deleted: Deleted) -> str:
        return (
            f"ERP changed: stock and prices of {len(changed)} items, {added} added, {deleted.label} deleted"
        )

    # --- checking -------------------------------------------------------------------------------------------

    def expected(self, hub: SandboxHub, account: str) -> dict[str, ExpectedSku]:
        """SKU -> what the shop should show, from the ERP emulator (its web price list includes VAT)."""
        erp = self.erp_of(hub, account)
        prices = erp.prices()
        return {
            sku: ExpectedSku(max(0, math.floor(quantity)), prices[sku].quantize(CENT, rounding=ROUND_HALF_UP))
            for sku, quantity in erp.available().items()
            if sku in prices
        }

    def convergence(self, hub: SandboxHub, account: str) -> GatewayConvergence:
        wanted = self.expected(hub, account)
        seen: Counter[str] = Counter()
        actual: dict[str, ExpectedSku] = {}
        expected: dict[str, ExpectedSku] = {}
        unexpected: list[str] = []
        for sku, stock, gross in self.shop_of(hub, account).held():
            seen[sku] += 1
            want = wanted.get(sku)
            if want is None:
                if stock:
                    unexpected.append(sku)  # the ERP dropped it, the shop still sells it
                continue
            expected[sku] = want
            if stock == want.stock:  # its stock arrived; a price that did not shows as mismatched
                actual[sku] = ExpectedSku(stock, gross if gross is not None else Decimal(-1))
        report = GatewayConvergence.compare(expected, actual, seen, ("stock", "price"))
        report.unexpected = sorted(unexpected)
        report.duplicated = sorted(k for k, n in seen.items() if n > 1)
        return report

    def target_state(self, hub: SandboxHub, account: str) -> Any:
        return self.shop_of(hub, account).state()

    def reject_one(self, hub: SandboxHub, account: str) -> None:
        """Shopware refuses every write of one SKU with stock to send; its price is in the shop already (so
        that only its stock fails, once). The Shopify emulator refuses no single SKU: not for Shopify."""
        if self.shop != "shopware6":
            raise ValueError("only the Shopware emulator refuses the writes of one SKU")
        wanted = self.expected(hub, account)
        sku = next(s for s in sorted(wanted) if wanted[s].stock > 0)
        shop = ShopwareDriver(hub.shopware[account].emulator)
        shop.set_price(sku, wanted[sku].price)
        hub.shopware[account].emulator.add_reject_rule(RejectRule(match_value=sku))

    def clear_faults(self, hub: SandboxHub, account: str) -> None:
        if self.shop == "shopware6":
            hub.shopware[account].emulator.clear_reject_rules()

    # --- benchmark ------------------------------------------------------------------------------------------

    def bench_items(self, get: Get, account: str, catalog: Catalog) -> int:
        if self.erp == "erp_csv":
            return catalog.products * catalog.variants
        return int(get(f"/{self.erp}/{account}/__sandbox/state")["items"])

    def bench_counts(self, get: Get, account: str, counts: StepCounts) -> BenchCounts:
        source = (
            sum(get(f"/{self.erp}/{account}/__sandbox/stats")["calls"].values())
            if self.erp != "erp_csv"
            else 0
        )
        if self.shop == "shopify":
            stats = get(f"/shopify/{account}/__sandbox/stats")
            roots = stats["root_fields"]
            writes = int(stats["bulk_lines"]) + sum(
                int(roots.get(name, 0)) for name in ("inventorySetQuantities", "productVariantsBulkUpdate")
            )
            return BenchCounts(source, int(stats["graphql_calls"]) + int(stats["result_downloads"]), writes)
        shop = get(f"/shopware6/{account}/__sandbox/stats")
        writes = sum(shop["records_written"].values())
        return BenchCounts(source, sum(shop["calls"].values()), writes)

    def bench_note(self, run: str, figures: BenchCounts, counts: StepCounts, wall_s: float) -> str | None:
        return None


RECIPE = ErpGatewayRecipe("logo", "shopware6")
