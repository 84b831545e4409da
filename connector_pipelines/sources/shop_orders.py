"""The order side of a shop for the ERP gateway, for either shop: paid orders read since a cursor, as
canonical records, and shipments written back.

:class:`ShopOrder` is what both shops' orders become: number, customer with a stable key and the order's
addresses, lines with SKU, quantity, unit price and VAT rate, the currency, and whether the prices include VAT
(Shopify ``taxesIncluded``; Shopware ``taxStatus`` gross, or net / tax-free). Money is on that one basis
throughout an order; :func:`order_input` converts to the basis the ERP expects, explicitly, and is pure.

Per-record failures never sink a batch: an order that cannot be read comes back as a :class:`ShopOrderError`
in the stream, a shipment that cannot be written as a failed :class:`ShipmentResult`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from connector_pipelines.errors import PayloadError
from connector_pipelines.sources.erp_gateway.connector import CustomerInput, OrderInput, OrderLine, Shipment

__all__ = [
    "ShipmentResult",
    "ShopAddress",
    "ShopCustomer",
    "ShopOrder",
    "ShopOrderError",
    "ShopOrderLine",
    "ShopOrders",
    "UntranslatableOrderError",
    "convert_price",
    "customer_input",
    "order_input",
]

UNIT_PRICE_PLACES = Decimal("0.0001")  # unit prices the translator derives (VAT basis, discounts)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ShopAddress(_Record):
    first_name: str = ""
    last_name: str = ""
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country_code: str | None = Field(None, description="ISO 3166-1 alpha-2")
    phone: str | None = None
    tax_id: str | None = None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()


class ShopCustomer(_Record):
    """``key`` is stable across orders: ``<system>:customer:<id>`` for an account, ``<system>:guest:<e-mail>``
    (lower case) for a guest; the ERP account code is derived from it."""

    key: str = Field(min_length=1)
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    company: str | None = None
    phone: str | None = None
    tax_id: str | None = None
    billing: ShopAddress | None = None
    shipping: ShopAddress | None = None

    @property
    def name(self) -> str:
        person = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        billing = self.billing.name if self.billing else ""
        return self.company or (self.billing.company if self.billing else None) or person or billing


class ShopOrderLine(_Record):
    sku: str | None = Field(description="None for a line without one (a custom item): the order cannot go")
    name: str = ""
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal = Field(
        ge=0, description="per unit after the line's own discounts, order's VAT basis"
    )
    vat_rate: Decimal = Field(ge=0, description="a percentage (19 for 19 %)")


class ShopOrder(_Record):
    system: Literal["shopify", "shopware6"]
    id: str = Field(description="the shop's id of the order (Shopify GID, Shopware hex id)")
    number: str = Field(min_length=1, description="the number people see; stored in the ERP document")
    created_at: datetime
    updated_at: datetime = Field(description="the latest change the cursor follows (payment included)")
    currency: str = Field(min_length=3, max_length=3)
    prices_include_vat: bool
    customer: ShopCustomer
    lines: tuple[ShopOrderLine, ...] = Field(min_length=1)
    shipping: Decimal = Field(Decimal(0), ge=0, description="shipping charged, the order's VAT basis")
    shipping_vat_rate: Decimal = Field(Decimal(0), ge=0)
    discount: Decimal = Field(
        Decimal(0), ge=0, description="order-level discount not in the line prices, the order's VAT basis"
    )
    total: Decimal = Field(ge=0, description="what the customer pays, VAT included")
    note: str = ""


class ShopOrderError(_Record):
    """An order the shop returned that cannot become a :class:`ShopOrder`."""

    system: str
    id: str
    number: str | None = None
    reason: str

    @property
    def key(self) -> str:
        return f"order:{self.number or self.id}"


ShipmentOutcome = Literal["shipped", "already_shipped", "not_found", "failed"]


class ShipmentResult(_Record):
    order_number: str
    outcome: ShipmentOutcome
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("shipped", "already_shipped")


class ShopOrders(Protocol):
    """One shop of one tenant, order side. ``system`` names it (``shopify``, ``shopware6``)."""

    system: str

    def paid_orders_since(self, cursor: datetime | None) -> Iterator[ShopOrder | ShopOrderError]:
        """Paid orders changed at or after ``cursor`` (every paid order when None), oldest change first where
        the shop can sort so. Orders may repeat across calls: the ERP side is idempotent by order number;
        advance the cursor to the largest ``updated_at`` seen."""
        ...

    def mark_shipped(self, shipments: Iterable[Shipment]) -> list[ShipmentResult]:
        """Record each shipment on its order (by ``shop_order_number``) with its tracking number; one result
        per shipment, in order. Idempotent: an order shipped already is not shipped again."""
        ...


# --- translation to the ERP's order ------------------------------------------------------------------------


class UntranslatableOrderError(PayloadError):
    """A shop order that cannot become an ERP order as it is (a line without SKU, a VAT basis that cannot be
    converted): a record error, the rest of the batch goes on."""

    def __init__(self, order_number: str, reason: str) -> None:
        self.order_number = order_number
        self.reason = reason
        super().__init__(
            f"order {order_number!r}: {reason}",
            remedy="correct the order in the shop or the gateway's settings, then retry it",
        )


def convert_price(amount: Decimal, vat_rate: Decimal, *, from_gross: bool, to_gross: bool) -> Decimal:
    """``amount`` on the other VAT basis (unchanged when the bases agree): gross = net x (1 + rate/100)."""
    if from_gross == to_gross:
        return amount
    factor = 1 + vat_rate / 100
    return amount * factor if to_gross else amount / factor


def customer_input(order: ShopOrder) -> CustomerInput:
    """The ERP customer of an order: the shop customer's stable key, name, contact and billing address."""
    customer = order.customer
    address = customer.billing or customer.shipping or ShopAddress()
    name = customer.name or customer.email or customer.key
    return CustomerInput(
        key=customer.key,
        name=name,
        email=customer.email,
        phone=customer.phone or address.phone,
        company=customer.company or address.company,
        tax_id=customer.tax_id or address.tax_id,
        address_line1=address.line1,
        address_line2=address.line2,
        district=address.region,
        city=address.city,
        postal_code=address.postal_code,
        country_code=address.country_code,
    )


def order_input(
    order: ShopOrder,
    customer_code: str,
    *,
    erp_prices_include_vat: bool | None = None,
    item_codes: Mapping[str, str] | None = None,
    shipping_item_code: str | None = None,
    warehouse_code: str | None = None,
) -> OrderInput:
    """The ERP order of a shop order.

    * ``erp_prices_include_vat``: the basis the ERP expects; None keeps the shop's. A converted unit price is
      rounded to 4 places (the ERP computes the totals).
    * ``item_codes``: shop SKU -> ERP item code where they differ (otherwise the SKU is the item code).
    * ``shipping_item_code``: the ERP item shipping costs are booked on; None leaves shipping out.
    * An order-level discount is spread over the product lines in proportion to their value.

    Raises :class:`UntranslatableOrderError` (a record error)."""
    include_vat = order.prices_include_vat if erp_prices_include_vat is None else erp_prices_include_vat
    codes = item_codes or {}
    goods = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    if order.discount > goods:
        raise UntranslatableOrderError(
            order.number, f"the discount {order.discount} exceeds the goods {goods}"
        )
    keep = (1 - order.discount / goods) if goods else Decimal(1)
    lines: list[OrderLine] = []
    for index, line in enumerate(order.lines, start=1):
        if not line.sku:
            raise UntranslatableOrderError(
                order.number, f"line {index} ({line.name or 'unnamed'}) has no SKU"
            )
        unit = line.unit_price * keep if order.discount else line.unit_price
        unit = convert_price(unit, line.vat_rate, from_gross=order.prices_include_vat, to_gross=include_vat)
        lines.append(
            OrderLine(
                sku=codes.get(line.sku, line.sku),
                quantity=line.quantity,
                unit_price=_places(unit, line.unit_price),
                vat_rate=line.vat_rate,
                name=line.name,
            )
        )
    if order.shipping and shipping_item_code:
        shipping = convert_price(
            order.shipping, order.shipping_vat_rate, from_gross=order.prices_include_vat, to_gross=include_vat
        )
        lines.append(
            OrderLine(
                sku=shipping_item_code,
                quantity=Decimal(1),
                unit_price=_places(shipping, order.shipping),
                vat_rate=order.shipping_vat_rate,
                name="Shipping",
            )
        )
    return OrderInput(
        shop_order_number=order.number,
        customer_code=customer_code,
        ordered_at=order.created_at,
        currency=order.currency,
        prices_include_vat=include_vat,
        warehouse_code=warehouse_code,
        note=order.note,
        lines=tuple(lines),
    )


def _places(value: Decimal, original: Decimal) -> Decimal:
    """A derived price to 4 places; one that was not derived keeps its own."""
    if value == original:
        return value
    return value.quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP)
