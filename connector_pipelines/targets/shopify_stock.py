"""Stock and prices of a Shopify shop for the ERP gateway, and the whole shop (:class:`ShopifyShop`).

Reads: variants by SKU (``sku:"A" OR sku:"B"`` searches, 50 SKUs a query), or every variant by one bulk
export (for the whole shop, or more than ``bulk_read_threshold`` SKUs; paging when the shop runs its limit of
bulk operations or the export fails), each with its price and ``available`` quantity at the tenant's
location. SKUs are not unique in Shopify: the variant with the lowest id wins, as in
:meth:`ShopifyClient.variants_by_sku`.

Stock: ``inventorySetQuantities`` of ``available``, 250 quantities a call (the array-input limit), with a
fresh ``@idempotent`` key per call (a retried request is not applied twice; the same quantity set again later
is). No compare-and-swap (``changeFromQuantity: null``): the ERP is the source of truth. User errors that name
a quantity fail that SKU and the rest is sent again; errors naming none are isolated by bisection.

Prices: ``productVariantsBulkUpdate`` per product (variants grouped by product, partial updates allowed);
past ``bulk_threshold`` products, the same mutation as one bulk operation (staged JSONL, the machinery of
:class:`ShopifyClient`), falling back to direct calls when the shop runs its limit of bulk operations or the
operation fails. Shopify keeps one amount per variant, with VAT when the shop's ``taxesIncluded``: an ERP
price on the other basis is converted with its VAT rate, and fails that SKU without one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from connector_pipelines.clients.http import JsonValue
from connector_pipelines.clients.shopify import BulkOperationInProgress, ShopifyClient, ShopifyUserErrors
from connector_pipelines.clients.shopify_orders import (
    INVENTORY_SET_QUANTITIES,
    MAX_QUANTITIES_PER_CALL,
    SHOP_TAXES,
    VARIANT_PAGE_SIZE,
    VARIANT_STOCK,
    VARIANTS_BULK_UPDATE,
    VARIANTS_BULK_UPDATE_LINE,
    InventorySetResult,
    ShopSettings,
    StockVariant,
    VariantsBulkUpdateResult,
    iter_jsonl,
    page_of,
    read,
    run_bulk_query,
    search_quote,
    variant_stock_bulk_query,
)
from connector_pipelines.errors import PayloadError
from connector_pipelines.sources.shop_orders import convert_price
from connector_pipelines.sources.shopify_orders import ShopifyOrders
from connector_pipelines.targets.shop_stock import (
    NO_VAT_RATE,
    REJECTED,
    UNKNOWN_CURRENCY,
    UNKNOWN_SKU,
    PriceUpdate,
    RecordResult,
    ShopListing,
    ShopPrice,
    StockUpdate,
    WriteReport,
    to_cents,
)
from connector_pipelines.targets.shopify import LOCATIONS

__all__ = ["ShopifyShop", "ShopifyStock"]

SKU_BATCH = 50
BULK_READ_THRESHOLD = 1000  # SKUs; more are read by one bulk export of every variant (no bucket, no paging)
BULK_THRESHOLD = 100  # products; below it direct calls finish sooner than staging, starting and polling
INVENTORY_REASON = "correction"


@dataclass(frozen=True, slots=True)
class _PriceLine:
    product_id: str
    variants: list[tuple[str, str, str]]  # (SKU, variant id, price)

    def variables(self) -> dict[str, JsonValue]:
        return {
            "productId": self.product_id,
            "variants": [{"id": variant, "price": price} for _, variant, price in self.variants],
        }


class ShopifyStock:
    """The catalog side of one Shopify shop (:class:`~connector_pipelines.targets.shop_stock.ShopStock`).

    ``location``: where stock is read and set (a GID, a numeric id or a location's name); None: the shop's
    first active location."""

    system = "shopify"

    def __init__(
        self,
        client: ShopifyClient,
        *,
        location: str | None = None,
        bulk_threshold: int = BULK_THRESHOLD,
        bulk_read_threshold: int = BULK_READ_THRESHOLD,
        bulk_poll_interval_s: float = 1.0,
    ) -> None:
        self.client = client
        self.location = location
        self.bulk_threshold = bulk_threshold
        self.bulk_read_threshold = bulk_read_threshold
        self.bulk_poll_interval_s = bulk_poll_interval_s
        self._settings: ShopSettings | None = None
        self._location_id: str | None = None
        self._variants: dict[str, StockVariant] = {}

    # --- shop facts ----------------------------------------------------------------------------------------

    def shop_settings(self) -> ShopSettings:
        if self._settings is None:
            data = self.client.graphql(SHOP_TAXES)
            self._settings = read(self.client, "GatewayShop", ShopSettings, data.get("shop"))
        return self._settings

    def location_id(self) -> str:
        if self._location_id is None:
            self._location_id = self._find_location()
        return self._location_id

    def _find_location(self) -> str:
        wanted = self.location
        if wanted and wanted.startswith("gid://shopify/Location/"):
            return wanted
        if wanted and wanted.isdigit():
            return f"gid://shopify/Location/{wanted}"
        after: str | None = None
        while True:
            nodes, after = page_of(
                self.client, "Locations", self.client.graphql(LOCATIONS, {"after": after}), "locations"
            )
            for node in nodes:
                if isinstance(node, dict) and (
                    wanted is None or str(node.get("name")).casefold() == wanted.casefold()
                ):
                    return str(node["id"])
            if after is None:
                break
        raise PayloadError(
            f"the shop has no active location named {wanted!r}"
            if wanted
            else "the shop has no active location",
            system=self.system,
        )

    # --- reads ---------------------------------------------------------------------------------------------

    def current_stock_and_prices(self, skus: Iterable[str] | None = None) -> dict[str, ShopListing]:
        settings = self.shop_settings()
        found = self._read(None if skus is None else list(dict.fromkeys(s for s in skus if s)))
        out: dict[str, ShopListing] = {}
        for sku, variant in found.items():
            amount = variant.price
            price = ShopPrice(
                currency=settings.currency_code,
                gross=amount if settings.taxes_included else None,
                net=None if settings.taxes_included else amount,
            )
            out[sku] = ShopListing(sku=sku, available=variant.available, price=price)
        return out

    def _read(self, skus: Sequence[str] | None) -> dict[str, StockVariant]:
        found: dict[str, StockVariant] | None = None
        if skus is None or len(skus) > self.bulk_read_threshold:
            found = self._bulk_read()
            if found is not None and skus is not None:
                found = {s: found[s] for s in skus if s in found}
        if found is None:
            found = self._search(skus)
        self._variants.update(found)
        return found

    def _search(self, skus: Sequence[str] | None) -> dict[str, StockVariant]:
        found: dict[str, StockVariant] = {}
        if skus is None:
            for variant in self._pages(None, VARIANT_PAGE_SIZE):
                if variant.sku:
                    found.setdefault(variant.sku, variant)  # pages come in id order: the lowest wins
            return found
        for start in range(0, len(skus), SKU_BATCH):
            batch = skus[start : start + SKU_BATCH]
            members = set(batch)
            query = " OR ".join(f"sku:{search_quote(s)}" for s in batch)
            for variant in self._pages(query, min(VARIANT_PAGE_SIZE, 2 * len(batch))):
                # The search is case-insensitive and matches prefixes of words; SKUs are exact.
                if variant.sku in members:
                    found.setdefault(variant.sku, variant)
        return found

    def _bulk_read(self) -> dict[str, StockVariant] | None:
        """Every variant by one bulk export; None when the shop runs its limit of them or the export fails
        (the caller pages instead)."""
        try:
            operation = run_bulk_query(self.client, variant_stock_bulk_query(self.location_id()))
        except BulkOperationInProgress:
            return None
        finished = self.client.wait_for_bulk_operation(
            operation.id, poll_interval_s=self.bulk_poll_interval_s
        )
        if not finished.succeeded:
            return None
        found: dict[str, StockVariant] = {}
        for line in iter_jsonl(self.client, finished.url) if finished.url else ():
            variant = read(self.client, "GatewayBulkQuery", StockVariant, line)
            known = found.get(variant.sku or "")
            if variant.sku and (known is None or _number(variant.id) < _number(known.id)):
                found[variant.sku] = variant
        return found

    def _pages(self, query: str | None, page_size: int) -> Iterator[StockVariant]:
        after: str | None = None
        variables: dict[str, JsonValue] = {"query": query, "location": self.location_id(), "first": page_size}
        while True:
            data = self.client.graphql(VARIANT_STOCK, {**variables, "after": after})
            nodes, after = page_of(self.client, "GatewayVariantStock", data, "productVariants")
            for node in nodes:
                yield read(self.client, "GatewayVariantStock", StockVariant, node)
            if after is None:
                return

    def _resolve(self, skus: Sequence[str]) -> dict[str, StockVariant]:
        missing = [s for s in skus if s not in self._variants]
        if missing:
            self._read(missing)
        return {s: self._variants[s] for s in skus if s in self._variants}

    # --- stock ---------------------------------------------------------------------------------------------

    def write_stock(self, levels: Iterable[StockUpdate]) -> WriteReport:
        wanted = {level.sku: level.available for level in levels}
        variants = self._resolve(list(wanted))
        report = WriteReport(results=[_unknown(s) for s in wanted if s not in variants])
        pending = [
            (sku, variants[sku].inventory_item.id, quantity)
            for sku, quantity in wanted.items()
            if sku in variants
        ]
        for start in range(0, len(pending), MAX_QUANTITIES_PER_CALL):
            self._set_quantities(pending[start : start + MAX_QUANTITIES_PER_CALL], report)
        return report

    def _set_quantities(self, batch: list[tuple[str, str, int]], report: WriteReport) -> None:
        """One call; user errors that name a quantity fail it and the rest goes again, others bisect."""
        location = self.location_id()
        while batch:
            payload: dict[str, JsonValue] = {
                "name": "available",
                "reason": INVENTORY_REASON,
                "quantities": [
                    {
                        "inventoryItemId": item,
                        "locationId": location,
                        "quantity": quantity,
                        "changeFromQuantity": None,
                    }
                    for _, item, quantity in batch
                ],
            }
            data = self.client.graphql(INVENTORY_SET_QUANTITIES, {"input": payload, "key": str(uuid.uuid4())})
            report.requests += 1
            result = read(
                self.client, "GatewayInventorySet", InventorySetResult, data.get("inventorySetQuantities")
            )
            if not result.user_errors:
                report.results.extend(RecordResult.written(sku) for sku, _, _ in batch)
                return
            named = {e.index: e for e in result.user_errors if e.index is not None and e.index < len(batch)}
            if not named:
                if len(batch) == 1:
                    error = result.user_errors[0]
                    report.results.append(
                        RecordResult.failed(batch[0][0], error.code or REJECTED, error.message)
                    )
                    return
                middle = len(batch) // 2
                self._set_quantities(batch[:middle], report)
                batch = batch[middle:]
                continue
            for index, error in named.items():
                report.results.append(
                    RecordResult.failed(batch[index][0], error.code or REJECTED, error.message)
                )
            batch = [entry for index, entry in enumerate(batch) if index not in named]

    # --- prices --------------------------------------------------------------------------------------------

    def write_prices(self, prices: Iterable[PriceUpdate]) -> WriteReport:
        settings = self.shop_settings()
        wanted = {update.sku: update for update in prices}
        variants = self._resolve(list(wanted))
        report = WriteReport()
        by_product: dict[str, list[tuple[str, str, str]]] = {}
        for sku, update in wanted.items():
            variant = variants.get(sku)
            if variant is None:
                report.results.append(_unknown(sku))
                continue
            if update.currency != settings.currency_code:
                report.results.append(
                    RecordResult.failed(
                        sku,
                        UNKNOWN_CURRENCY,
                        f"the shop sells in {settings.currency_code}, not {update.currency}",
                    )
                )
                continue
            amount = update.price
            if update.includes_vat != settings.taxes_included:
                if update.vat_rate is None:
                    basis = "with" if settings.taxes_included else "without"
                    report.results.append(
                        RecordResult.failed(
                            sku, NO_VAT_RATE, f"the shop keeps prices {basis} VAT; no VAT rate given"
                        )
                    )
                    continue
                amount = convert_price(
                    amount, update.vat_rate, from_gross=update.includes_vat, to_gross=settings.taxes_included
                )
            by_product.setdefault(variant.product.id, []).append((sku, variant.id, str(to_cents(amount))))
        lines = [_PriceLine(product, entries) for product, entries in by_product.items()]
        if len(lines) > self.bulk_threshold:
            lines = self._bulk_prices(lines, report)
        for line in lines:
            data = self.client.graphql(VARIANTS_BULK_UPDATE, line.variables())
            report.requests += 1
            answer = read(
                self.client,
                "GatewayVariantPrices",
                VariantsBulkUpdateResult,
                data.get("productVariantsBulkUpdate"),
            )
            _settle_prices(line, answer, report)
        for sku in report.written:
            self._variants.pop(sku, None)  # the next read sees the new price
        return report

    def _bulk_prices(self, lines: list[_PriceLine], report: WriteReport) -> list[_PriceLine]:
        """The lines as one bulk mutation; returns those left for direct calls (all when the shop runs its
        limit of bulk operations or the operation does not complete)."""
        try:
            operation = self.client.run_bulk_mutation(
                VARIANTS_BULK_UPDATE_LINE, (line.variables() for line in lines)
            )
        except (BulkOperationInProgress, ShopifyUserErrors):
            return lines
        report.requests += 1
        finished = self.client.wait_for_bulk_operation(
            operation.id, poll_interval_s=self.bulk_poll_interval_s
        )
        if not finished.succeeded:
            return lines
        answered: set[int] = set()
        if finished.url:
            for result in self.client.iter_bulk_results(finished.url):
                index = result.line_number
                if not 0 <= index < len(lines) or index in answered:
                    continue
                answered.add(index)
                if result.errors or result.payload is None:
                    reason = "; ".join(e.message for e in result.errors) or "no answer for this product"
                    report.results.extend(
                        RecordResult.failed(sku, REJECTED, reason) for sku, _, _ in lines[index].variants
                    )
                    continue
                answer = read(self.client, "GatewayVariantPrices", VariantsBulkUpdateResult, result.payload)
                _settle_prices(lines[index], answer, report)
        return [line for index, line in enumerate(lines) if index not in answered]


def _number(gid: str) -> int:
    tail = gid.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _unknown(sku: str) -> RecordResult:
    return RecordResult.failed(sku, UNKNOWN_SKU, "no variant with this SKU in Shopify")


def _settle_prices(line: _PriceLine, answer: VariantsBulkUpdateResult, report: WriteReport) -> None:
    """With partial updates allowed, the variants an error names failed and the others were written."""
    failed: dict[int, tuple[str, str]] = {}
    unplaced: list[str] = []
    for error in answer.user_errors:
        index = error.index
        if index is not None and index < len(line.variants):
            failed[index] = (error.code or REJECTED, error.message)
        else:
            unplaced.append(error.message)
    for index, (sku, _, _) in enumerate(line.variants):
        if index in failed:
            report.results.append(RecordResult.failed(sku, *failed[index]))
        elif unplaced and not answer.product_variants:
            # an error about the whole call (an unknown product): nothing of it was written
            report.results.append(RecordResult.failed(sku, REJECTED, "; ".join(unplaced)))
        else:
            report.results.append(RecordResult.written(sku))


class ShopifyShop(ShopifyStock, ShopifyOrders):
    """Everything the ERP gateway needs of one Shopify shop (a :class:`~.shop_stock.Shop`)."""

    def __init__(
        self,
        client: ShopifyClient,
        *,
        location: str | None = None,
        bulk_threshold: int = BULK_THRESHOLD,
        notify_customer: bool = False,
    ) -> None:
        ShopifyStock.__init__(self, client, location=location, bulk_threshold=bulk_threshold)
        ShopifyOrders.__init__(self, client, notify_customer=notify_customer)
