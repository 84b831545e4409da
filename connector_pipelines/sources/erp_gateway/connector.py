"""The ERP connector interface: what the gateway needs from any ERP, as plain records.

Reads: items, stock per warehouse, prices per price list (``since``: only what changed, where the ERP can
filter, at the ERP's granularity, often a day; otherwise everything, and the caller keeps what differs).
Every read goes through the tenant's field mapping and yields, per source row, the record or an
:class:`ErpRowError` naming SKU, field and row: a bad row is recorded and skipped, the rest goes through.

Orders (:class:`ErpOrders`, ``connector.orders``; ``None`` for an ERP that cannot take orders, which
``capabilities`` and :meth:`ErpConnector.lacks` say with the reason): a customer account found or created by a
stable key, and sales orders created exactly once: the shop's order number is stored in the ERP document and
looked up before any create, so a run killed after the ERP accepted an order finds it instead of creating it
again. Shipments: orders the ERP shipped, with their tracking number.

Errors: :class:`ErpFeatureUnavailableError` when the ERP cannot serve a read at all (Logo without its SQL
route), :class:`ErpOrderRejectedError` when the ERP refused an order (a record error, not a run failure).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from connector_pipelines import errors

__all__ = [
    "CSV_FALLBACK",
    "Capability",
    "CustomerInput",
    "ErpConnector",
    "ErpFeatureUnavailableError",
    "ErpItem",
    "ErpOrderRef",
    "ErpOrderRejectedError",
    "ErpOrders",
    "ErpRowError",
    "OrderInput",
    "OrderLine",
    "PriceEntry",
    "RecordKind",
    "Shipment",
    "StockLevel",
    "current_prices",
    "customer_code",
]

CSV_FALLBACK = (
    "read stock and prices from CSV files instead (the generic CSV connector: stock and price files)"
)


class Capability(StrEnum):
    ITEMS = "items"
    STOCK = "stock"
    PRICES = "prices"
    ORDERS = "orders"
    SHIPMENTS = "shipments"


RecordKind = Literal["item", "stock", "price"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErpItem(_Record):
    sku: str = Field(min_length=1, description="the ERP's item code, trimmed")
    name: str = ""
    vat_rate: Decimal | None = Field(None, description="a percentage (20 for 20 %)")
    barcode: str | None = None
    unit: str | None = None
    active: bool = True
    modified_at: datetime | None = None


class StockLevel(_Record):
    sku: str = Field(min_length=1)
    warehouse_code: str
    on_hand: Decimal
    reserved: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class PriceEntry(_Record):
    sku: str = Field(min_length=1)
    price_list_code: str
    price: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=8, description="ISO 4217 where the ERP's code is known")
    includes_vat: bool
    valid_from: date | None = None
    valid_to: date | None = None


class ErpRowError(_Record):
    """A source row that could not be mapped: which record (SKU when known), which field, where, why."""

    kind: RecordKind
    sku: str | None = Field(description="the row's SKU, when it could be read")
    field: str = Field(description="the gateway field (and the source field it reads, when it has one)")
    row: str = Field(description="where the row is: 'stock.csv:12', 'Logo items ref 17'")
    reason: str
    payload: dict[str, JsonValue] | None = Field(None, description="the row as read")

    @property
    def key(self) -> str:
        """The record key of its record error: by SKU, so the next run's success closes it."""
        return f"{self.kind}:{self.sku}" if self.sku else f"{self.kind}@{self.row}"

    def __str__(self) -> str:
        what = f"{self.kind} {self.sku!r}" if self.sku else self.kind
        return f"{self.row}: {what}: {self.field}: {self.reason}"


class CustomerInput(_Record):
    """A shop customer. ``key`` is stable on the shop side (customer id, or e-mail for guests): the ERP
    account code is derived from it, so the same customer always finds the same account."""

    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    tax_id: str | None = None
    tax_office: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    district: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country_code: str | None = None


class OrderLine(_Record):
    sku: str = Field(min_length=1, description="the ERP item code")
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    vat_rate: Decimal = Field(ge=0, description="a percentage")
    name: str = ""


class OrderInput(_Record):
    shop_order_number: str = Field(min_length=1)
    customer_code: str = Field(min_length=1, description="from find_or_create_customer")
    ordered_at: datetime
    currency: str = "TRY"
    prices_include_vat: bool = True
    warehouse_code: str | None = Field(None, description="the connector's default when None")
    note: str = ""
    lines: tuple[OrderLine, ...] = Field(min_length=1)


class ErpOrderRef(_Record):
    shop_order_number: str
    erp_id: str = Field(
        description="the ERP's key of the document (Logo INTERNAL_REFERENCE, Netsis FATIRS_NO)"
    )
    document_number: str = Field(description="the number people see in the ERP")
    created: bool = Field(False, description="this call created it (False: it was there already)")


class Shipment(_Record):
    shop_order_number: str
    erp_order_number: str
    dispatch_number: str
    tracking_number: str | None = None
    carrier: str | None = None
    shipped_at: datetime | None = None


class ErpOrders(Protocol):
    """The order side of an ERP that takes orders."""

    def find_or_create_customer(self, customer: CustomerInput) -> str:
        """The ERP account code of the customer, created when missing."""
        ...

    def find_order(self, shop_order_number: str) -> ErpOrderRef | None: ...

    def create_order(self, order: OrderInput) -> ErpOrderRef:
        """The order in the ERP: found by its shop order number, else created (exactly once)."""
        ...

    def shipped_orders(self, since: datetime) -> Iterator[Shipment]: ...


class ErpConnector(Protocol):
    """One ERP of one tenant. ``system`` names it (``logo``, ``netsis``, ``erp_csv``); closing it releases its
    client (and, for Netsis, the session's licence seat once no other connector of the tenant uses it)."""

    @property
    def system(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    def lacks(self, capability: Capability) -> str | None:
        """Why this ERP cannot do ``capability`` (a sentence for run metadata), or None when it can."""
        ...

    @property
    def orders(self) -> ErpOrders | None:
        """The order side; None when the ERP cannot take orders (:meth:`lacks` says why)."""
        ...

    def test_connection(self) -> str:
        """A one-line report of what works (and what does not, and what to do about it)."""
        ...

    def items(self) -> Iterator[ErpItem | ErpRowError]: ...

    def stock(
        self, warehouse_code: str, since: datetime | None = None
    ) -> Iterator[StockLevel | ErpRowError]: ...

    def prices(
        self, price_list_code: str, since: datetime | None = None
    ) -> Iterator[PriceEntry | ErpRowError]: ...

    def close(self) -> None: ...


class ErpFeatureUnavailableError(errors.PermanentError):
    """The ERP cannot serve this read on this installation; the message says why and what to do."""

    def __init__(self, system: str, feature: str, reason: str, *, remedy: str = CSV_FALLBACK) -> None:
        self.feature = feature
        super().__init__(f"{feature} cannot be read from {system}: {reason}", system=system, remedy=remedy)


class ErpOrderRejectedError(errors.PermanentError):
    """The ERP refused an order (unknown item, customer or warehouse; bad data): a record error."""

    def __init__(self, system: str, shop_order_number: str, reason: str) -> None:
        self.shop_order_number = shop_order_number
        self.reason = reason
        super().__init__(
            f"order {shop_order_number!r} refused by {system}: {reason}",
            system=system,
            remedy="correct the order or the ERP's master data (item, customer, warehouse), then retry it",
        )


def customer_code(key: str, prefix: str) -> str:
    """The ERP account code of a shop customer: ``prefix`` and a digest of ``key``, 15 characters at most
    (Netsis' CARI_KOD limit) and the same for the same key on every run."""
    room = 15 - len(prefix)
    if room < 8:
        raise ValueError("the customer code prefix leaves too little room (at most 7 characters)")
    return prefix + hashlib.sha256(key.strip().lower().encode()).hexdigest()[:room].upper()


def current_prices(entries: Iterable[PriceEntry], today: date) -> Iterator[PriceEntry]:
    """One price per SKU: among the rows valid today, the one that started last (a later row overrides)."""
    chosen: dict[str, PriceEntry] = {}
    for entry in entries:
        if (entry.valid_from and entry.valid_from > today) or (entry.valid_to and entry.valid_to < today):
            continue
        best = chosen.get(entry.sku)
        if best is None or (entry.valid_from or date.min) >= (best.valid_from or date.min):
            chosen[entry.sku] = entry
    yield from chosen.values()
