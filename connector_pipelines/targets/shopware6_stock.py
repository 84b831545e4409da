"""Stock and prices of a Shopware 6 shop for the ERP gateway, and the whole shop (:class:`Shopware6Shop`).

Reads go through criteria searches with variant inheritance resolved (a variant without a price of its own
shows its parent's, and its parent's tax), by product number in chunks of 500 or every product page by page.
Writes are sync upserts of ``stock`` or ``price`` by product id, one unit per SKU packed into few requests;
a record Shopware refuses fails alone (the client drops the units its error pointers name and retries the
rest). An SKU the shop does not have fails as ``UNKNOWN_SKU`` without a request.

Prices: Shopware keeps gross and net per currency. The ERP's price is written on its basis and the other is
derived with the product's tax rate (rounded to cents); other currencies' entries and list prices are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError
from pydantic.alias_generators import to_camel

from connector_pipelines.clients.shopware6 import (
    DEFAULT_CURRENCY_ID,
    MAX_LIMIT,
    Criteria,
    Filter,
    Shopware6Client,
    SyncOperation,
    SyncUnit,
)
from connector_pipelines.clients.shopware6_orders import iter_search_inherited
from connector_pipelines.sources.shop_orders import convert_price
from connector_pipelines.sources.shopware6_orders import Shopware6Orders
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

__all__ = ["Shopware6Shop", "Shopware6Stock"]

RECORDS_PER_REQUEST = 250  # small records (id + stock or price); the contract's 50-100 is for whole products
_INCLUDES = {"product": ["id", "productNumber", "stock", "price", "taxId", "parentId"]}


class _PriceEntry(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="allow")

    currency_id: str
    gross: Decimal
    net: Decimal
    linked: bool = False


class _Product(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="ignore")

    id: str
    product_number: str
    stock: int | None = None
    price: list[_PriceEntry] | None = None
    tax_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Known:
    id: str
    tax_rate: Decimal | None
    price: tuple[_PriceEntry, ...]


class Shopware6Stock:
    """The catalog side of one Shopware shop (:class:`~connector_pipelines.targets.shop_stock.ShopStock`).

    ``currency``: the ISO code prices are read and written in (None: the shop's default currency)."""

    system = "shopware6"

    def __init__(
        self,
        client: Shopware6Client,
        *,
        currency: str | None = None,
        records_per_request: int = RECORDS_PER_REQUEST,
    ) -> None:
        self.client = client
        self.currency = currency
        self.records_per_request = records_per_request
        self._currencies: dict[str, str] | None = None  # ISO code -> id
        self._taxes: dict[str, Decimal] | None = None  # tax id -> rate
        self._known: dict[str, _Known] = {}  # SKU -> what the last read found

    # --- reads ---------------------------------------------------------------------------------------------

    def current_stock_and_prices(self, skus: Iterable[str] | None = None) -> dict[str, ShopListing]:
        currency = self._currency_iso()
        currency_id = self._currency_ids().get(currency)
        out: dict[str, ShopListing] = {}
        for product in self._products(None if skus is None else list(dict.fromkeys(skus))):
            known = self._known[product.product_number]
            entry = next((p for p in known.price if p.currency_id == currency_id), None)
            out[product.product_number] = ShopListing(
                sku=product.product_number,
                available=product.stock,
                price=None
                if entry is None
                else ShopPrice(currency=currency, gross=entry.gross, net=entry.net, vat_rate=known.tax_rate),
            )
        return out

    def _products(self, skus: Sequence[str] | None) -> Iterator[_Product]:
        """Products by number (or all), remembered for the writes that follow."""
        taxes = self._tax_rates()
        chunks: Iterable[Criteria]
        if skus is None:
            chunks = [Criteria(includes=_INCLUDES)]
        else:
            chunks = (
                Criteria(
                    filter=[Filter.equals_any("productNumber", list(skus[i : i + MAX_LIMIT]))],
                    includes=_INCLUDES,
                )
                for i in range(0, len(skus), MAX_LIMIT)
            )
        for criteria in chunks:
            for entity in iter_search_inherited(self.client, "product", criteria):
                try:
                    product = _Product.model_validate(entity.model_dump(by_alias=True))
                except ValidationError:
                    continue  # without a number or with a malformed price it matches no SKU
                self._known[product.product_number] = _Known(
                    id=product.id,
                    tax_rate=taxes.get(product.tax_id or ""),
                    price=tuple(product.price or ()),
                )
                yield product

    def _resolve(self, skus: Sequence[str]) -> dict[str, _Known]:
        missing = [s for s in skus if s not in self._known]
        if missing:
            for _ in self._products(missing):
                pass  # reading fills the cache
        return {s: self._known[s] for s in skus if s in self._known}

    # --- writes --------------------------------------------------------------------------------------------

    def write_stock(self, levels: Iterable[StockUpdate]) -> WriteReport:
        wanted = {level.sku: level for level in levels}
        known = self._resolve(list(wanted))
        units: dict[str, list[dict[str, JsonValue]]] = {
            sku: [{"id": known[sku].id, "stock": level.available}]
            for sku, level in wanted.items()
            if sku in known
        }
        report = self._sync(units)
        report.results.extend(_unknown(sku) for sku in wanted if sku not in known)
        return report

    def write_prices(self, prices: Iterable[PriceUpdate]) -> WriteReport:
        wanted = {update.sku: update for update in prices}
        # Fresh reads: the entries of other currencies are written back as they are now.
        for sku in wanted:
            self._known.pop(sku, None)
        known = self._resolve(list(wanted))
        currencies = self._currency_ids()
        failed: list[RecordResult] = []
        units: dict[str, list[dict[str, JsonValue]]] = {}
        for sku, update in wanted.items():
            product = known.get(sku)
            if product is None:
                failed.append(_unknown(sku))
                continue
            currency_id = currencies.get(update.currency)
            if currency_id is None:
                failed.append(
                    RecordResult.failed(sku, UNKNOWN_CURRENCY, f"Shopware has no currency {update.currency}")
                )
                continue
            if product.tax_rate is None:
                failed.append(
                    RecordResult.failed(
                        sku, NO_VAT_RATE, "the product's tax rate is unknown; gross and net need it"
                    )
                )
                continue
            units[sku] = [
                {"id": product.id, "price": _price_list(product, currency_id, update, product.tax_rate)}
            ]
        report = self._sync(units)
        report.results.extend(failed)
        for sku in report.written:
            self._known.pop(sku, None)  # the next read sees the new price
        return report

    def _sync(self, records: Mapping[str, list[dict[str, JsonValue]]]) -> WriteReport:
        if not records:
            return WriteReport()
        units = [
            SyncUnit(key=sku, operations=[SyncOperation(entity="product", action="upsert", payload=payload)])
            for sku, payload in records.items()
        ]
        outcome = self.client.sync_units(units, max_records_per_request=self.records_per_request)
        results = [RecordResult.written(sku) for sku in outcome.written]
        results.extend(
            RecordResult.failed(
                f.key,
                f.errors[0].code if f.errors and f.errors[0].code else REJECTED,
                "; ".join(e.describe() for e in f.errors) or f"HTTP {f.status}",
            )
            for f in outcome.failed
        )
        return WriteReport(results=results, requests=outcome.requests)

    # --- look-ups ------------------------------------------------------------------------------------------

    def _currency_ids(self) -> dict[str, str]:
        if self._currencies is None:
            self._currencies = {
                str((c.model_extra or {}).get("isoCode")): str(c.id)
                for c in self.client.iter_search("currency")
            }
        return self._currencies

    def _currency_iso(self) -> str:
        if self.currency is not None:
            return self.currency
        by_id = {cid: iso for iso, cid in self._currency_ids().items()}
        return by_id.get(DEFAULT_CURRENCY_ID, "EUR")

    def _tax_rates(self) -> dict[str, Decimal]:
        if self._taxes is None:
            self._taxes = {
                str(t.id): Decimal(str(t.model_extra["taxRate"]))
                for t in self.client.iter_search("tax")
                if t.model_extra and t.model_extra.get("taxRate") is not None
            }
        return self._taxes


def _unknown(sku: str) -> RecordResult:
    return RecordResult.failed(sku, UNKNOWN_SKU, "no product with this product number in Shopware")


def _price_list(product: _Known, currency_id: str, update: PriceUpdate, rate: Decimal) -> list[JsonValue]:
    """The product's price entries with the one of ``currency_id`` set to ``update`` (gross and net)."""
    other = to_cents(
        convert_price(update.price, rate, from_gross=update.includes_vat, to_gross=not update.includes_vat)
    )
    gross, net = (update.price, other) if update.includes_vat else (other, update.price)
    entries: list[JsonValue] = []
    replaced = False
    for entry in product.price:
        if entry.currency_id != currency_id:
            entries.append(_entry_json(entry))
            continue
        replaced = True
        entries.append({**_entry_json(entry), "gross": float(gross), "net": float(net)})
    if not replaced:
        entries.append({"currencyId": currency_id, "gross": float(gross), "net": float(net), "linked": False})
    return entries


def _entry_json(entry: _PriceEntry) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {
        "currencyId": entry.currency_id,
        "gross": float(entry.gross),
        "net": float(entry.net),
        "linked": entry.linked,
    }
    for name in ("listPrice", "regulationPrice"):
        value = (entry.model_extra or {}).get(name)
        if isinstance(value, dict):
            out[name] = {k: v for k, v in value.items() if k in ("gross", "net", "linked")}
    return out


class Shopware6Shop(Shopware6Stock, Shopware6Orders):
    """Everything the ERP gateway needs of one Shopware shop (a :class:`~.shop_stock.Shop`)."""

    def __init__(
        self,
        client: Shopware6Client,
        *,
        currency: str | None = None,
        paid_states: Iterable[str] = ("paid",),
        records_per_request: int = RECORDS_PER_REQUEST,
    ) -> None:
        Shopware6Stock.__init__(self, client, currency=currency, records_per_request=records_per_request)
        Shopware6Orders.__init__(self, client, paid_states=paid_states)
