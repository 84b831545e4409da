"""Shopify orders for the ERP gateway: paid orders since a cursor as canonical :class:`ShopOrder` records, and
shipments written back as fulfillments with tracking numbers.

Paid: ``financial_status:paid``, changed since the cursor (``updated_at``, which a payment moves), oldest
change first; cancelled orders are left out. The order's number is its ``name`` (``#1001``). VAT:
``taxesIncluded`` says whether the prices include it; a line's rate is the sum of its tax lines' percentages.
Unit prices are ``discountedUnitPriceAfterAllDiscountsSet`` (order-level discounts are allocated to lines
by Shopify), quantities ``currentQuantity`` (after removals), money in the shop's currency. A customer's key
is its customer id, a guest's the e-mail address.

Shipping: the order's open fulfillment orders are fulfilled, one ``fulfillmentCreate`` per assigned location,
with the tracking number(s) and carrier of the shipments for that order. An order whose fulfillment orders
are closed is fulfilled already and is not fulfilled again (so a retry after a lost answer does nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import ValidationError

from connector_pipelines.clients.http import JsonValue
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.clients.shopify_orders import (
    FULFILLMENT_CREATE,
    LINES_PER_ORDER,
    ORDER_LINE_ITEMS,
    ORDER_PAGE_SIZE,
    ORDERS_BY_NAME,
    PAID_ORDERS,
    FulfillmentCreateResult,
    ShopifyAddress,
    ShopifyLineItem,
    ShopifyOrder,
    ShopifyOrderFulfillment,
    TaxLine,
    page_of,
    read,
    search_quote,
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

__all__ = ["ShopifyOrders", "shop_order"]

SYSTEM = "shopify"
NAMES_PER_QUERY = 10
FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})


def _tail(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


def _address(address: ShopifyAddress | None) -> ShopAddress | None:
    if address is None:
        return None
    return ShopAddress(
        first_name=address.first_name or "",
        last_name=address.last_name or "",
        company=address.company or None,
        line1=address.address1,
        line2=address.address2 or None,
        city=address.city,
        postal_code=address.zip,
        region=address.province_code or address.province,
        country_code=address.country_code_v2,
        phone=address.phone or None,
    )


def _rate(tax_lines: Sequence[TaxLine]) -> Decimal:
    """A line's VAT rate: the sum of its tax lines' percentages (several taxes may apply)."""
    return sum((t.rate_percentage or Decimal(0) for t in tax_lines), Decimal(0))


def shop_order(order: ShopifyOrder, lines: Sequence[ShopifyLineItem]) -> ShopOrder:
    """The canonical order of a Shopify order and all its lines (raises ``ValueError`` when it cannot be)."""
    customer = order.customer
    email = order.email or (
        customer.default_email_address.email_address if customer and customer.default_email_address else None
    )
    if customer is not None:
        key = f"{SYSTEM}:customer:{_tail(customer.id)}"
    elif email:
        key = f"{SYSTEM}:guest:{email.strip().lower()}"
    else:
        raise ValueError("the order has neither a customer nor an e-mail address")
    billing = _address(order.billing_address)
    shipping = order.shipping_line
    return ShopOrder(
        system=SYSTEM,
        id=order.id,
        number=order.name,
        created_at=order.processed_at,
        updated_at=order.updated_at,
        currency=order.currency_code,
        prices_include_vat=order.taxes_included,
        customer=ShopCustomer(
            key=key,
            email=email,
            first_name=(customer.first_name if customer else None) or (billing.first_name if billing else ""),
            last_name=(customer.last_name if customer else None) or (billing.last_name if billing else ""),
            company=billing.company if billing else None,
            phone=order.phone or None,
            billing=billing,
            shipping=_address(order.shipping_address) or billing,
        ),
        lines=tuple(
            ShopOrderLine(
                sku=line.sku or None,
                name=line.name,
                quantity=Decimal(line.current_quantity),
                unit_price=line.discounted_unit_price_after_all_discounts_set.shop_money.amount,
                vat_rate=_rate(line.tax_lines),
            )
            for line in lines
            if line.current_quantity > 0
        ),
        shipping=shipping.discounted_price_set.shop_money.amount if shipping else Decimal(0),
        shipping_vat_rate=_rate(shipping.tax_lines) if shipping else Decimal(0),
        total=order.current_total_price_set.shop_money.amount,
        note=order.note or "",
    )


class ShopifyOrders:
    """The order side of one Shopify shop (:class:`~connector_pipelines.sources.shop_orders.ShopOrders`)."""

    system = SYSTEM

    def __init__(
        self,
        client: ShopifyClient,
        *,
        notify_customer: bool = False,
        page_size: int = ORDER_PAGE_SIZE,
        lines_per_order: int = LINES_PER_ORDER,
    ) -> None:
        self.client = client
        self.notify_customer = notify_customer
        self.page_size = page_size
        self.lines_per_order = lines_per_order

    def paid_orders_since(self, cursor: datetime | None) -> Iterator[ShopOrder | ShopOrderError]:
        query = "financial_status:paid"
        if cursor is not None:
            if cursor.tzinfo is None:
                raise ValueError("the cursor must be timezone-aware")
            query += f" AND updated_at:>='{cursor.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        variables: dict[str, JsonValue] = {
            "query": query,
            "first": self.page_size,
            "lines": self.lines_per_order,
        }
        after: str | None = None
        while True:
            data = self.client.graphql(PAID_ORDERS, {**variables, "after": after})
            nodes, after = page_of(self.client, "GatewayPaidOrders", data, "orders")
            for node in nodes:
                found = self._order(node)
                if found is not None:
                    yield found
            if after is None:
                return

    def _order(self, node: JsonValue) -> ShopOrder | ShopOrderError | None:
        try:
            order = ShopifyOrder.model_validate(node)
            if order.cancelled_at is not None:
                return None
            lines = list(order.line_items.nodes)
            if order.line_items.page_info.has_next_page:
                lines.extend(self._more_lines(order.id, order.line_items.page_info.end_cursor))
            return shop_order(order, lines)
        except (ValidationError, ValueError) as exc:
            ident = node.get("id") if isinstance(node, dict) else None
            name = node.get("name") if isinstance(node, dict) else None
            return ShopOrderError(
                system=SYSTEM,
                id=str(ident or "?"),
                number=name if isinstance(name, str) else None,
                reason=_reason(exc),
            )

    def _more_lines(self, order_id: str, after: str | None) -> Iterator[ShopifyLineItem]:
        while after is not None:
            data = self.client.graphql(ORDER_LINE_ITEMS, {"id": order_id, "after": after})
            node = data.get("node")
            if not isinstance(node, dict):
                raise ValueError("the order is gone")
            nodes, after = page_of(self.client, "GatewayOrderLines", node, "lineItems")
            for line in nodes:
                yield ShopifyLineItem.model_validate(line)

    # --- shipments -----------------------------------------------------------------------------------------

    def mark_shipped(self, shipments: Iterable[Shipment]) -> list[ShipmentResult]:
        wanted = list(shipments)
        by_order: dict[str, list[Shipment]] = {}
        for shipment in wanted:
            by_order.setdefault(shipment.shop_order_number, []).append(shipment)
        orders = self._orders_by_name(list(by_order))
        outcome = {
            number: self._fulfil(number, orders.get(number), parcels) for number, parcels in by_order.items()
        }
        return [outcome[s.shop_order_number] for s in wanted]

    def _fulfil(
        self, number: str, order: ShopifyOrderFulfillment | None, parcels: Sequence[Shipment]
    ) -> ShipmentResult:
        if order is None:
            return ShipmentResult(
                order_number=number, outcome="not_found", error="no order with this name in Shopify"
            )
        if order.cancelled_at is not None:
            return ShipmentResult(order_number=number, outcome="failed", error="the order is cancelled")
        fulfillment_orders = order.fulfillment_orders.nodes
        open_ones = [f for f in fulfillment_orders if f.status in FULFILLABLE]
        if not open_ones:
            if order.display_fulfillment_status == "FULFILLED" or any(
                f.status == "CLOSED" for f in fulfillment_orders
            ):
                return ShipmentResult(order_number=number, outcome="already_shipped")
            states = ", ".join(sorted({f.status for f in fulfillment_orders})) or "none"
            return ShipmentResult(
                order_number=number,
                outcome="failed",
                error=f"no fulfillment order can be fulfilled (states: {states})",
            )
        by_location: dict[str | None, list[str]] = {}
        for fulfillment_order in open_ones:
            by_location.setdefault(fulfillment_order.location_id, []).append(fulfillment_order.id)
        numbers = list(dict.fromkeys(p.tracking_number for p in parcels if p.tracking_number))
        company = next((p.carrier for p in parcels if p.carrier), None)
        errors: list[str] = []
        for ids in by_location.values():
            fulfillment: dict[str, JsonValue] = {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": i} for i in ids],
                "notifyCustomer": self.notify_customer,
            }
            if numbers:
                tracking: dict[str, JsonValue] = (
                    {"number": numbers[0]} if len(numbers) == 1 else {"numbers": numbers}
                )
                if company:
                    tracking["company"] = company
                fulfillment["trackingInfo"] = tracking
            data = self.client.graphql(FULFILLMENT_CREATE, {"fulfillment": fulfillment})
            result = read(
                self.client,
                "GatewayFulfillmentCreate",
                FulfillmentCreateResult,
                data.get("fulfillmentCreate"),
            )
            errors.extend(e.message for e in result.user_errors)
        if errors:
            return ShipmentResult(order_number=number, outcome="failed", error="; ".join(errors))
        return ShipmentResult(order_number=number, outcome="shipped")

    def _orders_by_name(self, names: Sequence[str]) -> dict[str, ShopifyOrderFulfillment]:
        found: dict[str, ShopifyOrderFulfillment] = {}
        for start in range(0, len(names), NAMES_PER_QUERY):
            batch = names[start : start + NAMES_PER_QUERY]
            query = " OR ".join(f"name:{search_quote(n)}" for n in batch)
            data = self.client.graphql(ORDERS_BY_NAME, {"query": query, "first": 2 * len(batch)})
            nodes, _ = page_of(self.client, "GatewayOrdersByName", data, "orders")
            for node in nodes:
                order = read(self.client, "GatewayOrdersByName", ShopifyOrderFulfillment, node)
                if order.name in batch:
                    found.setdefault(order.name, order)
        return found


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    return str(exc)
