"""The catalog side of a shop for the ERP gateway, for either shop: stock and prices read by SKU, and written
for the SKUs whose values differ (the caller passes only those; implementations batch them).

Prices carry their VAT basis explicitly. A shop keeps one basis or both: Shopware stores gross and net per
currency (and the product's tax rate); Shopify stores one amount, with VAT when the shop's ``taxesIncluded``,
without otherwise, and knows no rate per product. :meth:`ShopPrice.on_basis` and :func:`price_differs`
compare an ERP price with what the shop has on the ERP's basis; a write converts with the VAT rate where the
bases differ, and fails that record (not the batch) where it cannot.

:class:`Shop` is everything the gateway needs of a shop: this side and :class:`ShopOrders`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from connector_pipelines.sources.shop_orders import ShopOrders, convert_price

__all__ = [
    "PriceUpdate",
    "RecordResult",
    "Shop",
    "ShopListing",
    "ShopPrice",
    "ShopStock",
    "StockUpdate",
    "WriteReport",
    "price_differs",
    "to_cents",
]

CENT = Decimal("0.01")
# Codes of per-record failures the implementations report themselves (shop user-error codes pass through).
UNKNOWN_SKU = "UNKNOWN_SKU"
NO_VAT_RATE = "NO_VAT_RATE"
UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
REJECTED = "REJECTED"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class ShopPrice(_Record):
    """A price as the shop keeps it. ``gross`` / ``net``: None where the shop does not store that basis."""

    currency: str
    gross: Decimal | None = None
    net: Decimal | None = None
    vat_rate: Decimal | None = Field(None, description="a percentage; None where the shop has no rate")

    def on_basis(self, includes_vat: bool) -> Decimal | None:
        """The price with (or without) VAT: stored, or converted with the rate; None when neither works."""
        stored = self.gross if includes_vat else self.net
        if stored is not None:
            return stored
        other = self.net if includes_vat else self.gross
        if other is None or self.vat_rate is None:
            return None
        return to_cents(
            convert_price(other, self.vat_rate, from_gross=not includes_vat, to_gross=includes_vat)
        )


class ShopListing(_Record):
    """What the shop has for one SKU: available stock (None where the shop does not track it) and price."""

    sku: str
    available: int | None = None
    price: ShopPrice | None = None


class StockUpdate(_Record):
    sku: str = Field(min_length=1)
    available: int = Field(description="the quantity the shop may sell")


class PriceUpdate(_Record):
    sku: str = Field(min_length=1)
    price: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    includes_vat: bool
    vat_rate: Decimal | None = Field(None, ge=0, description="needed where the shop keeps the other basis")


class RecordResult(_Record):
    sku: str
    ok: bool
    code: str | None = Field(None, description="the shop's error code, or UNKNOWN_SKU, NO_VAT_RATE, ...")
    error: str | None = None

    @classmethod
    def written(cls, sku: str) -> RecordResult:
        return cls(sku=sku, ok=True)

    @classmethod
    def failed(cls, sku: str, code: str, error: str) -> RecordResult:
        return cls(sku=sku, ok=False, code=code, error=error)


class WriteReport(BaseModel):
    """One result per record passed in, in no particular order; ``requests``: calls the write made."""

    results: list[RecordResult] = []
    requests: int = 0

    @property
    def written(self) -> list[str]:
        return [r.sku for r in self.results if r.ok]

    @property
    def failed(self) -> list[RecordResult]:
        return [r for r in self.results if not r.ok]


def price_differs(listing: ShopListing | None, update: PriceUpdate) -> bool:
    """Whether writing ``update`` would change the shop's price, compared in cents on the update's basis (a
    price the shop cannot state on that basis counts as different)."""
    if listing is None or listing.price is None or listing.price.currency != update.currency:
        return True
    current = listing.price.on_basis(update.includes_vat)
    return current is None or to_cents(current) != to_cents(update.price)


class ShopStock(Protocol):
    """One shop of one tenant, catalog side. ``system`` names it (``shopify``, ``shopware6``)."""

    system: str

    def current_stock_and_prices(self, skus: Iterable[str] | None = None) -> dict[str, ShopListing]:
        """What the shop has for ``skus`` (every SKU of the shop when None); SKUs it lacks are absent."""
        ...

    def write_stock(self, levels: Iterable[StockUpdate]) -> WriteReport: ...

    def write_prices(self, prices: Iterable[PriceUpdate]) -> WriteReport: ...


class Shop(ShopStock, ShopOrders, Protocol):
    """A shop as the ERP gateway uses it: stock and prices in, paid orders out, shipments back."""
