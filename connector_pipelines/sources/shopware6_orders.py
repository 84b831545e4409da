"""Shopware 6 orders for the ERP gateway: paid orders since a cursor as canonical :class:`ShopOrder` records,
and shipments written back as tracking codes on the order's delivery plus the delivery's ``ship`` transition.

Paid: the order's latest payment (``order_transaction``) is in one of ``paid_states`` (``paid``). The cursor
follows the latest change of the order or of a payment (a payment turning ``paid`` changes the payment, not
the order). VAT: ``price.taxStatus`` ``gross`` means every price includes VAT, ``net`` none does,
``tax-free`` none is charged (rates 0). Promotions and credits are order-level discounts. A customer's key is
its Shopware customer id (a guest checkout gets one of its own too), else the e-mail address.

Shipping: the order's first delivery that is not cancelled gets the tracking number (once: a code it carries
already is not added again) and is shipped. A delivery that is shipped already is not shipped again (Shopware
answers such a transition with the current state anyway); one that cannot be shipped (returned, cancelled)
fails that shipment only. The carrier is the delivery's shipping method in Shopware, so it is not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import ValidationError

from connector_pipelines.clients.shopware6 import (
    MAX_LIMIT,
    Criteria,
    Filter,
    RangeParameters,
    Shopware6Client,
    ShopwareApiError,
    Sort,
    SyncOperation,
    SyncUnit,
)
from connector_pipelines.clients.shopware6_orders import (
    ShopwareAddress,
    ShopwareDelivery,
    ShopwareOrder,
    ShopwareOrderDeliveries,
    TaxRule,
    transition,
)
from connector_pipelines.sources.erp_gateway.connector import Shipment
from connector_pipelines.sources.shop_orders import (
    ShipmentResult,
    ShopAddress,
    ShopCustomer,
    ShopOrder,
    ShopOrderError,
    ShopOrderLine,
)

__all__ = ["ORDER_ASSOCIATIONS", "Shopware6Orders", "shop_order"]

SYSTEM = "shopware6"
ORDER_PAGE_SIZE = 100  # orders come with their lines, addresses, deliveries and payments
DISCOUNT_TYPES = frozenset({"promotion", "credit", "discount"})
SHIPPABLE = frozenset({"open", "shipped_partially"})
_STATE = {"stateMachineState": Criteria()}
_ADDRESS = Criteria(associations={"country": Criteria()})
ORDER_ASSOCIATIONS: dict[str, Criteria] = {
    "currency": Criteria(),
    "orderCustomer": Criteria(),
    "billingAddress": _ADDRESS,
    "lineItems": Criteria(),
    "deliveries": Criteria(associations={**_STATE, "shippingOrderAddress": _ADDRESS}),
    "transactions": Criteria(associations=dict(_STATE)),
}


def _stamp(moment: datetime) -> str:
    """Shopware's storage format (``2024-10-24T10:00:00.000+00:00``)."""
    if moment.tzinfo is None:
        raise ValueError("the cursor must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _address(address: ShopwareAddress | None) -> ShopAddress | None:
    if address is None:
        return None
    second = ", ".join(p for p in (address.additional_address_line1, address.additional_address_line2) if p)
    return ShopAddress(
        first_name=address.first_name,
        last_name=address.last_name,
        company=address.company or None,
        line1=address.street,
        line2=second or None,
        city=address.city,
        postal_code=address.zipcode,
        country_code=address.country.iso if address.country else None,
        phone=address.phone_number or None,
        tax_id=address.vat_id or None,
    )


def _rate(rules: Sequence[TaxRule], tax_free: bool) -> Decimal:
    """A line's VAT rate: its (first) tax rule's; a product line has one."""
    return Decimal(0) if tax_free or not rules else rules[0].tax_rate


def shop_order(order: ShopwareOrder) -> ShopOrder:
    """The canonical order of a Shopware order (raises ``ValueError`` when it cannot be one)."""
    status = order.price.tax_status
    tax_free = status == "tax-free"
    lines: list[ShopOrderLine] = []
    discount = Decimal(0)
    for item in order.line_items:
        if item.price is None:
            continue
        if item.type in DISCOUNT_TYPES or item.price.total_price < 0:
            discount -= item.price.total_price
            continue
        if item.type == "container":
            continue  # its price is the sum of its children, which are lines of their own
        lines.append(
            ShopOrderLine(
                sku=item.product_number,
                name=item.label,
                quantity=Decimal(item.quantity),
                unit_price=item.price.unit_price,
                vat_rate=_rate(item.price.tax_rules, tax_free),
            )
        )
    customer = order.order_customer
    if customer is None:
        raise ValueError("the order has no customer")
    if customer.customer_id:
        key = f"{SYSTEM}:customer:{customer.customer_id}"
    elif customer.email:
        key = f"{SYSTEM}:guest:{customer.email.strip().lower()}"
    else:
        raise ValueError("the order's customer has neither an id nor an e-mail address")
    delivery = next(iter(order.deliveries), None)
    shipping = order.shipping_costs
    number = order.order_number or order.id
    return ShopOrder(
        system=SYSTEM,
        id=order.id,
        number=number,
        created_at=order.order_date_time,
        updated_at=order.changed_at,
        currency=order.currency.iso_code,
        prices_include_vat=status == "gross",
        customer=ShopCustomer(
            key=key,
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            company=customer.company or None,
            tax_id=next(iter(customer.vat_ids or []), None),
            billing=_address(order.billing_address),
            shipping=_address(delivery.shipping_order_address if delivery else None)
            or _address(order.billing_address),
        ),
        lines=tuple(lines),
        shipping=shipping.total_price if shipping else Decimal(0),
        shipping_vat_rate=_rate(shipping.tax_rules, tax_free) if shipping else Decimal(0),
        discount=discount,
        total=order.price.total_price,
        note=order.customer_comment or "",
    )


class Shopware6Orders:
    """The order side of one Shopware shop (:class:`~connector_pipelines.sources.shop_orders.ShopOrders`)."""

    system = SYSTEM

    def __init__(
        self,
        client: Shopware6Client,
        *,
        paid_states: Iterable[str] = ("paid",),
        page_size: int = ORDER_PAGE_SIZE,
    ) -> None:
        self.client = client
        self.paid_states = frozenset(paid_states)
        self.page_size = page_size

    def paid_orders_since(self, cursor: datetime | None) -> Iterator[ShopOrder | ShopOrderError]:
        filters = [
            Filter.equals_any("transactions.stateMachineState.technicalName", sorted(self.paid_states))
        ]
        if cursor is not None:
            since = RangeParameters(gte=_stamp(cursor))
            filters.append(
                Filter.multi(
                    "OR",
                    [
                        Filter.range("createdAt", since),
                        Filter.range("updatedAt", since),
                        Filter.range("transactions.createdAt", since),
                        Filter.range("transactions.updatedAt", since),
                    ],
                )
            )
        criteria = Criteria(
            filter=filters,
            associations=ORDER_ASSOCIATIONS,
            sort=[Sort(field="createdAt"), Sort(field="id")],
        )
        for entity in self.client.iter_search("order", criteria, page_size=self.page_size):
            raw = entity.model_dump(by_alias=True)
            try:
                order = ShopwareOrder.model_validate(raw)
                if order.payment_state not in self.paid_states:
                    continue  # an earlier payment was paid, the latest is not (refunded, chargeback)
                yield shop_order(order)
            except (ValidationError, ValueError) as exc:
                yield ShopOrderError(
                    system=SYSTEM,
                    id=str(entity.id),
                    number=raw.get("orderNumber") if isinstance(raw.get("orderNumber"), str) else None,
                    reason=_reason(exc),
                )

    def mark_shipped(self, shipments: Iterable[Shipment]) -> list[ShipmentResult]:
        wanted = list(shipments)
        orders = self._orders_by_number(sorted({s.shop_order_number for s in wanted}))
        results: dict[int, ShipmentResult] = {}
        chosen: dict[int, ShopwareDelivery] = {}
        codes: dict[str, list[str]] = {}  # delivery id -> tracking codes after this run
        for index, shipment in enumerate(wanted):
            number = shipment.shop_order_number
            order = orders.get(number)
            if order is None:
                results[index] = ShipmentResult(
                    order_number=number, outcome="not_found", error="no order with this number in Shopware"
                )
                continue
            delivery = next((d for d in order.deliveries if d.state != "cancelled"), None)
            if delivery is None:
                results[index] = ShipmentResult(
                    order_number=number,
                    outcome="failed",
                    error="the order has no delivery that is not cancelled",
                )
                continue
            chosen[index] = delivery
            current = codes.setdefault(delivery.id, list(delivery.tracking_codes))
            if shipment.tracking_number and shipment.tracking_number not in current:
                current.append(shipment.tracking_number)
        before = {d.id: d.tracking_codes for d in chosen.values()}
        failed_codes = self._write_tracking_codes({d: c for d, c in codes.items() if c != before[d]})
        shipped: dict[str, ShipmentResult] = {}
        for index, delivery in chosen.items():
            number = wanted[index].shop_order_number
            if delivery.id in failed_codes:
                results[index] = ShipmentResult(
                    order_number=number, outcome="failed", error=failed_codes[delivery.id]
                )
            elif delivery.id in shipped:
                results[index] = shipped[delivery.id].model_copy(update={"order_number": number})
            else:
                results[index] = shipped[delivery.id] = self._ship(number, delivery)
        return [results[i] for i in range(len(wanted))]

    def _ship(self, number: str, delivery: ShopwareDelivery) -> ShipmentResult:
        if delivery.state == "shipped":
            return ShipmentResult(order_number=number, outcome="already_shipped")
        if delivery.state not in SHIPPABLE:
            return ShipmentResult(
                order_number=number,
                outcome="failed",
                error=f"the delivery is {delivery.state or 'in an unknown state'} and cannot be shipped",
            )
        try:
            transition(self.client, "order_delivery", delivery.id, "ship")
        except ShopwareApiError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return ShipmentResult(order_number=number, outcome="failed", error=exc.detail)
            raise
        return ShipmentResult(order_number=number, outcome="shipped")

    def _write_tracking_codes(self, codes: dict[str, list[str]]) -> dict[str, str]:
        """Tracking codes of many deliveries in few sync requests; returns the ones Shopware refused, why."""
        if not codes:
            return {}
        units = [
            SyncUnit(
                key=delivery_id,
                operations=[
                    SyncOperation(
                        entity="order_delivery",
                        action="upsert",
                        payload=[{"id": delivery_id, "trackingCodes": list(tracking)}],
                    )
                ],
            )
            for delivery_id, tracking in codes.items()
        ]
        report = self.client.sync_units(units)
        return {
            failure.key: "; ".join(e.describe() for e in failure.errors) or f"HTTP {failure.status}"
            for failure in report.failed
        }

    def _orders_by_number(self, numbers: Sequence[str]) -> dict[str, ShopwareOrderDeliveries]:
        found: dict[str, ShopwareOrderDeliveries] = {}
        associations = {"deliveries": Criteria(associations=dict(_STATE))}
        for start in range(0, len(numbers), MAX_LIMIT):
            chunk = list(numbers[start : start + MAX_LIMIT])
            criteria = Criteria(filter=[Filter.equals_any("orderNumber", chunk)], associations=associations)
            for entity in self.client.iter_search("order", criteria):
                order = ShopwareOrderDeliveries.model_validate(entity.model_dump(by_alias=True))
                if order.order_number is not None:
                    found.setdefault(order.order_number, order)
        return found


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    return str(exc)
