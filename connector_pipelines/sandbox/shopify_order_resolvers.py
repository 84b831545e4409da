"""How orders answer the Admin API schema's fields: the order and its money (``MoneyBag``s in the shop's and
the presentment currency), its lines, its one fulfillment order and its fulfilments with tracking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_commerce import Commerce, Fulfillment, Order, Tracking
from connector_pipelines.sandbox.shopify_gql import Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_resolve import Args, connection, count, iso_time, money_bag
from connector_pipelines.sandbox.shopify_store import gid

R = Resolver[RequestContext]

# --- views ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineItemView:
    """Line ``index`` of ``order`` (its number is its ``LineItem`` id)."""

    order: Order
    index: int
    id: int


@dataclass(frozen=True, slots=True)
class FulfillmentOrderView:
    """The one fulfillment order of an order (numbered like the order)."""

    order: Order

    @property
    def id(self) -> int:
        return self.order.id


@dataclass(frozen=True, slots=True)
class FulfillmentOrderLineView:
    line: LineItemView

    @property
    def id(self) -> int:
        return self.line.id


@dataclass(frozen=True, slots=True)
class FulfillmentLineView:
    fulfillment: Fulfillment
    line: LineItemView
    quantity: int

    @property
    def id(self) -> int:
        return self.line.id


def line_views(commerce: Commerce, order: Order) -> list[LineItemView]:
    return [LineItemView(order, i, commerce.lines.id_of(i)) for i in order.lines]


# --- Order ------------------------------------------------------------------------------------------------


def bag(order: Order, minor: int) -> dict[str, Json]:
    return money_bag(minor, order.currency, order.presentment_currency, order.rate)


def _set(total: Callable[[Commerce, Order], int]) -> R:
    return lambda o, args, ctx, path: bag(o, total(ctx.shop.commerce, o))


def _zero(order: Order, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    return bag(order, 0)


def _paid(order: Order) -> bool:
    return order.financial_status in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")


def _received(commerce: Commerce, order: Order) -> int:
    return commerce.total(order) if _paid(order) else 0


def _refunded(commerce: Commerce, order: Order) -> int:
    return commerce.total(order) if order.financial_status == "REFUNDED" else 0


def _outstanding(commerce: Commerce, order: Order) -> int:
    if _paid(order) or order.cancelled_at is not None:
        return 0
    return commerce.total(order)


def _capturable(commerce: Commerce, order: Order) -> int:
    return commerce.total(order) if order.financial_status == "AUTHORIZED" else 0


def tax_lines(order: Order, tax: int) -> list[dict[str, Json]]:
    if not tax:
        return []
    rate = order.tax_rate_bp / 10_000
    return [
        {
            "title": "VAT",
            "rate": rate,
            "ratePercentage": rate * 100,
            "priceSet": bag(order, tax),
            "channelLiable": False,
            "source": None,
        }
    ]


def _line_items(order: Order, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    return connection(line_views(ctx.shop.commerce, order), args, ctx)


def _shipping_line(order: Order, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    if not order.shipping:
        return None
    price = bag(order, order.shipping)
    return {
        "id": f"gid://shopify/ShippingLine/{order.id}",
        "title": "Standard",
        "code": "Standard",
        "source": "shopify",
        "custom": False,
        "isRemoved": False,
        "carrierIdentifier": None,
        "deliveryCategory": None,
        "phone": None,
        "shippingRateHandle": None,
        "originalPriceSet": price,
        "discountedPriceSet": price,
        "currentDiscountedPriceSet": price,
        "discountAllocations": [],
        "taxLines": [],
    }


def _fulfillments(order: Order, args: Args, ctx: RequestContext, path: PathLink) -> list[Fulfillment]:
    done = ctx.shop.commerce.fulfillments_of(order)
    first = args.get("first")
    return done[:first] if first is not None else done


def fo_status(commerce: Commerce, order: Order) -> str:
    if order.cancelled_at is not None:
        return "CANCELLED"
    remaining = [commerce.remaining(i) for i in order.lines]
    if not any(remaining):
        return "CLOSED"
    return "IN_PROGRESS" if any(commerce.lines.fulfilled[i] for i in order.lines) else "OPEN"


def _status_url(order: Order, args: Args, ctx: RequestContext, path: PathLink) -> str:
    return f"https://{ctx.shop.name}.myshopify.com/{ctx.shop.number}/orders/{order.id:x}/authenticate"


def _bool(value: Callable[[Order], bool]) -> R:
    return lambda o, args, ctx, path: value(o)


ORDER: dict[str, R] = {
    "id": lambda o, args, ctx, path: gid("Order", o.id),
    "legacyResourceId": lambda o, args, ctx, path: o.id,
    "createdAt": lambda o, args, ctx, path: iso_time(o.created_at),
    "updatedAt": lambda o, args, ctx, path: iso_time(o.updated_at),
    "processedAt": lambda o, args, ctx, path: iso_time(o.processed_at),
    "cancelledAt": lambda o, args, ctx, path: iso_time(o.cancelled_at),
    "closedAt": lambda o, args, ctx, path: iso_time(o.closed_at),
    "closed": _bool(lambda o: o.closed_at is not None),
    "displayFinancialStatus": lambda o, args, ctx, path: o.financial_status,
    "displayFulfillmentStatus": lambda o, args, ctx, path: o.fulfillment_status,
    "currencyCode": lambda o, args, ctx, path: o.currency,
    "presentmentCurrencyCode": lambda o, args, ctx, path: o.presentment_currency,
    "customer": lambda o, args, ctx, path: o.customer,
    "shippingAddress": lambda o, args, ctx, path: o.shipping_address,
    "billingAddress": lambda o, args, ctx, path: o.billing_address,
    "phone": lambda o, args, ctx, path: o.customer.phone if o.customer else None,
    "displayAddress": lambda o, args, ctx, path: o.billing_address or o.shipping_address,
    "billingAddressMatchesShippingAddress": _bool(lambda o: o.billing_address == o.shipping_address),
    "subtotalPriceSet": _set(Commerce.subtotal),
    "currentSubtotalPriceSet": _set(Commerce.subtotal),
    "totalTaxSet": _set(Commerce.tax),
    "currentTotalTaxSet": _set(Commerce.tax),
    "totalDiscountsSet": _set(Commerce.discounts),
    "currentTotalDiscountsSet": _set(Commerce.discounts),
    "totalPriceSet": _set(Commerce.total),
    "currentTotalPriceSet": _set(Commerce.total),
    "originalTotalPriceSet": _set(Commerce.total),
    "totalShippingPriceSet": lambda o, args, ctx, path: bag(o, o.shipping),
    "currentShippingPriceSet": lambda o, args, ctx, path: bag(o, o.shipping),
    "totalReceivedSet": _set(_received),
    "netPaymentSet": _set(lambda c, o: _received(c, o) - _refunded(c, o)),
    "totalRefundedSet": _set(_refunded),
    "totalOutstandingSet": _set(_outstanding),
    "totalCapturableSet": _set(_capturable),
    "totalTipReceivedSet": _zero,
    "totalRefundedShippingSet": _zero,
    "refundDiscrepancySet": _zero,
    "currentCartDiscountAmountSet": _zero,
    "totalCashRoundingAdjustment": lambda o, args, ctx, path: {
        "paymentSet": bag(o, 0),
        "refundSet": bag(o, 0),
    },
    "taxLines": lambda o, args, ctx, path: tax_lines(o, ctx.shop.commerce.tax(o)),
    "currentTaxLines": lambda o, args, ctx, path: tax_lines(o, ctx.shop.commerce.tax(o)),
    "lineItems": _line_items,
    "subtotalLineItemsQuantity": lambda o, args, ctx, path: ctx.shop.commerce.quantity(o),
    "currentSubtotalLineItemsQuantity": lambda o, args, ctx, path: ctx.shop.commerce.quantity(o),
    "shippingLine": _shipping_line,
    "fulfillments": _fulfillments,
    "fulfillmentsCount": lambda o, args, ctx, path: count(len(ctx.shop.commerce.fulfillments_of(o))),
    "fulfillmentOrders": lambda o, args, ctx, path: connection([FulfillmentOrderView(o)], args, ctx),
    "fulfillable": lambda o, args, ctx, path: fo_status(ctx.shop.commerce, o) in ("OPEN", "IN_PROGRESS"),
    "tags": lambda o, args, ctx, path: list(o.tags),
    "confirmed": _bool(lambda o: True),
    "confirmationNumber": lambda o, args, ctx, path: f"C{o.id % 1_000_000_000:09d}",
    "fullyPaid": _bool(_paid),
    "unpaid": _bool(lambda o: o.financial_status in ("PENDING", "AUTHORIZED", "EXPIRED")),
    "canMarkAsPaid": _bool(lambda o: o.financial_status in ("PENDING", "AUTHORIZED") and not o.cancelled_at),
    "capturable": _bool(lambda o: o.financial_status == "AUTHORIZED"),
    "refundable": _bool(lambda o: _paid(o) and o.financial_status != "REFUNDED"),
    "restockable": _bool(lambda o: o.cancelled_at is None),
    "requiresShipping": _bool(lambda o: True),
    "taxesIncluded": _bool(lambda o: False),
    "taxExempt": _bool(lambda o: False),
    "estimatedTaxes": _bool(lambda o: False),
    "dutiesIncluded": _bool(lambda o: False),
    "edited": _bool(lambda o: False),
    "hasTimelineComment": _bool(lambda o: False),
    "merchantEditable": _bool(lambda o: o.cancelled_at is None),
    "merchantEditableErrors": lambda o, args, ctx, path: [],
    "customerAcceptsMarketing": _bool(lambda o: bool(o.customer and o.customer.accepts_marketing)),
    "customerLocale": lambda o, args, ctx, path: "en",
    "discountCodes": lambda o, args, ctx, path: [],
    "paymentGatewayNames": lambda o, args, ctx, path: ["manual"],
    "returnStatus": lambda o, args, ctx, path: "NO_RETURN",
    "statusPageUrl": _status_url,
    "currentTotalWeight": lambda o, args, ctx, path: 0,
    "totalWeight": lambda o, args, ctx, path: 0,
    "transactions": lambda o, args, ctx, path: [],
    "refunds": lambda o, args, ctx, path: [],
    "additionalFees": lambda o, args, ctx, path: [],
    "alerts": lambda o, args, ctx, path: [],
    "customAttributes": lambda o, args, ctx, path: [],
    "disputes": lambda o, args, ctx, path: [],
    "productNetwork": _bool(lambda o: False),
}


# --- LineItem ---------------------------------------------------------------------------------------------


def _line(view: LineItemView, ctx: RequestContext) -> tuple[int, int, int, int]:
    """(quantity, unit, discount, tax) of a line."""
    lines = ctx.shop.commerce.lines
    i = view.index
    return lines.quantity[i], lines.unit[i], lines.discount[i], lines.tax[i]


def _line_set(value: Callable[[int, int, int, int], int]) -> R:
    return lambda v, args, ctx, path: bag(v.order, value(*_line(v, ctx)))


def _line_name(view: LineItemView, args: Args, ctx: RequestContext, path: PathLink) -> str:
    snap = ctx.shop.commerce.lines.view(view.index)
    if snap.variant_title and snap.variant_title != "Default Title":
        return f"{snap.title} - {snap.variant_title}"
    return snap.title


def _snap(attribute: str) -> R:
    return lambda v, args, ctx, path: getattr(ctx.shop.commerce.lines.view(v.index), attribute)


def _unfulfilled(view: LineItemView, ctx: RequestContext) -> int:
    return 0 if view.order.cancelled_at is not None else ctx.shop.commerce.remaining(view.index)


LINE_ITEM: dict[str, R] = {
    "id": lambda v, args, ctx, path: gid("LineItem", v.id),
    "name": _line_name,
    "title": _snap("title"),
    "variantTitle": lambda v, args, ctx, path: (
        None
        if ctx.shop.commerce.lines.view(v.index).variant_title == "Default Title"
        else ctx.shop.commerce.lines.view(v.index).variant_title
    ),
    "sku": _snap("sku"),
    "vendor": _snap("vendor"),
    "taxable": _snap("taxable"),
    "quantity": lambda v, args, ctx, path: _line(v, ctx)[0],
    "currentQuantity": lambda v, args, ctx, path: 0 if v.order.cancelled_at else _line(v, ctx)[0],
    "unfulfilledQuantity": lambda v, args, ctx, path: _unfulfilled(v, ctx),
    "fulfillableQuantity": lambda v, args, ctx, path: _unfulfilled(v, ctx),
    "nonFulfillableQuantity": lambda v, args, ctx, path: 0,
    "refundableQuantity": lambda v, args, ctx, path: _line(v, ctx)[0] if _paid(v.order) else 0,
    "product": lambda v, args, ctx, path: ctx.shop.products.get(
        ctx.shop.commerce.lines.view(v.index).product_id
    ),
    "variant": lambda v, args, ctx, path: ctx.shop.variants.get(
        ctx.shop.commerce.lines.view(v.index).variant_id
    ),
    "originalUnitPriceSet": _line_set(lambda q, u, d, t: u),
    "discountedUnitPriceSet": _line_set(lambda q, u, d, t: u - d // max(q, 1)),
    "discountedUnitPriceAfterAllDiscountsSet": _line_set(lambda q, u, d, t: u - d // max(q, 1)),
    "originalTotalSet": _line_set(lambda q, u, d, t: q * u),
    "discountedTotalSet": _line_set(lambda q, u, d, t: q * u - d),
    "priceAfterAllDiscountsBeforeTaxesSet": _line_set(lambda q, u, d, t: q * u - d),
    "totalDiscountSet": _line_set(lambda q, u, d, t: d),
    "unfulfilledDiscountedTotalSet": lambda v, args, ctx, path: bag(
        v.order, _unfulfilled(v, ctx) * (_line(v, ctx)[1] - _line(v, ctx)[2] // max(_line(v, ctx)[0], 1))
    ),
    "unfulfilledOriginalTotalSet": lambda v, args, ctx, path: bag(
        v.order, _unfulfilled(v, ctx) * _line(v, ctx)[1]
    ),
    "taxLines": lambda v, args, ctx, path: tax_lines(v.order, _line(v, ctx)[3]),
    "requiresShipping": lambda v, args, ctx, path: True,
    "isGiftCard": lambda v, args, ctx, path: False,
    "restockable": lambda v, args, ctx, path: v.order.cancelled_at is None,
    "merchantEditable": lambda v, args, ctx, path: v.order.cancelled_at is None,
    "customAttributes": lambda v, args, ctx, path: [],
    "discountAllocations": lambda v, args, ctx, path: [],
    "duties": lambda v, args, ctx, path: [],
}


# --- fulfilments ------------------------------------------------------------------------------------------


def _tracking(done: Fulfillment, args: Args, ctx: RequestContext, path: PathLink) -> list[dict[str, Json]]:
    items = done.tracking[: args["first"]] if args.get("first") is not None else done.tracking
    return [_tracking_view(t) for t in items]


def _tracking_view(tracking: Tracking) -> dict[str, Json]:
    return {"number": tracking.number, "company": tracking.company, "url": tracking.url}


def _fulfillment_lines(done: Fulfillment, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    lines = ctx.shop.commerce.lines
    views = [
        FulfillmentLineView(done, LineItemView(done.order, i, lines.id_of(i)), quantity)
        for i, quantity in sorted(done.lines.items())
    ]
    return connection(views, args, ctx)


def _location(ctx: RequestContext, location_id: int | None) -> object | None:
    return next((loc for loc in ctx.shop.locations if loc.id == location_id), None)


FULFILLMENT: dict[str, R] = {
    "id": lambda f, args, ctx, path: gid("Fulfillment", f.id),
    "legacyResourceId": lambda f, args, ctx, path: f.id,
    "createdAt": lambda f, args, ctx, path: iso_time(f.created_at),
    "updatedAt": lambda f, args, ctx, path: iso_time(f.updated_at),
    "displayStatus": lambda f, args, ctx, path: "FULFILLED" if f.status == "SUCCESS" else None,
    "trackingInfo": _tracking,
    "order": lambda f, args, ctx, path: f.order,
    "location": lambda f, args, ctx, path: _location(ctx, f.location_id),
    "totalQuantity": lambda f, args, ctx, path: sum(f.lines.values()),
    "fulfillmentLineItems": _fulfillment_lines,
    "fulfillmentOrders": lambda f, args, ctx, path: connection([FulfillmentOrderView(f.order)], args, ctx),
    "requiresShipping": lambda f, args, ctx, path: True,
    "events": lambda f, args, ctx, path: connection([], args, ctx),
}


FULFILLMENT_LINE: dict[str, R] = {
    "id": lambda f, args, ctx, path: gid("FulfillmentLineItem", f.id),
    "lineItem": lambda f, args, ctx, path: f.line,
    "quantity": lambda f, args, ctx, path: f.quantity,
    "originalTotalSet": lambda f, args, ctx, path: bag(f.line.order, f.quantity * _line(f.line, ctx)[1]),
    "discountedTotalSet": lambda f, args, ctx, path: bag(
        f.line.order,
        f.quantity * (_line(f.line, ctx)[1] - _line(f.line, ctx)[2] // max(_line(f.line, ctx)[0], 1)),
    ),
}


def _assigned(view: FulfillmentOrderView, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    location = _location(ctx, view.order.location_id)
    return {
        "location": location,
        "name": getattr(location, "name", "Shop location"),
        "countryCode": "DE",
        "address1": None,
        "address2": None,
        "city": None,
        "province": None,
        "zip": None,
        "phone": None,
    }


def _destination(view: FulfillmentOrderView, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    address = view.order.shipping_address
    if address is None:
        return None
    return {
        "id": f"gid://shopify/FulfillmentOrderDestination/{view.order.id}",
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "company": address.company,
        "countryCode": address.country_code,
        "email": view.order.email,
        "firstName": address.first_name,
        "lastName": address.last_name,
        "phone": address.phone,
        "province": address.province,
        "zip": address.zip,
        "location": None,
    }


def _fo_lines(view: FulfillmentOrderView, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    lines = [FulfillmentOrderLineView(v) for v in line_views(ctx.shop.commerce, view.order)]
    return connection(lines, args, ctx)


def _supported(view: FulfillmentOrderView, args: Args, ctx: RequestContext, path: PathLink) -> list[Json]:
    if fo_status(ctx.shop.commerce, view.order) in ("OPEN", "IN_PROGRESS"):
        return [{"action": "CREATE_FULFILLMENT", "externalUrl": None}]
    return []


FULFILLMENT_ORDER: dict[str, R] = {
    "id": lambda v, args, ctx, path: gid("FulfillmentOrder", v.order.id),
    "orderId": lambda v, args, ctx, path: gid("Order", v.order.id),
    "orderName": lambda v, args, ctx, path: v.order.name,
    "orderProcessedAt": lambda v, args, ctx, path: iso_time(v.order.processed_at),
    "order": lambda v, args, ctx, path: v.order,
    "status": lambda v, args, ctx, path: fo_status(ctx.shop.commerce, v.order),
    "requestStatus": lambda v, args, ctx, path: "UNSUBMITTED",
    "createdAt": lambda v, args, ctx, path: iso_time(v.order.created_at),
    "updatedAt": lambda v, args, ctx, path: iso_time(v.order.updated_at),
    "assignedLocation": _assigned,
    "destination": _destination,
    "lineItems": _fo_lines,
    "supportedActions": _supported,
    "fulfillmentHolds": lambda v, args, ctx, path: [],
    "fulfillments": lambda v, args, ctx, path: connection(
        ctx.shop.commerce.fulfillments_of(v.order), args, ctx
    ),
    "deliveryMethod": lambda v, args, ctx, path: None,
}


FULFILLMENT_ORDER_LINE: dict[str, R] = {
    "id": lambda v, args, ctx, path: gid("FulfillmentOrderLineItem", v.id),
    "lineItem": lambda v, args, ctx, path: v.line,
    "totalQuantity": lambda v, args, ctx, path: _line(v.line, ctx)[0],
    "remainingQuantity": lambda v, args, ctx, path: _unfulfilled(v.line, ctx),
    "sku": lambda v, args, ctx, path: ctx.shop.commerce.lines.view(v.line.index).sku,
    "productTitle": lambda v, args, ctx, path: ctx.shop.commerce.lines.view(v.line.index).title,
    "variantTitle": lambda v, args, ctx, path: ctx.shop.commerce.lines.view(v.line.index).variant_title,
    "vendor": lambda v, args, ctx, path: ctx.shop.commerce.lines.view(v.line.index).vendor,
    "variant": lambda v, args, ctx, path: ctx.shop.variants.get(
        ctx.shop.commerce.lines.view(v.line.index).variant_id
    ),
    "inventoryItemId": lambda v, args, ctx, path: _inventory_item_id(ctx, v),
    "requiresShipping": lambda v, args, ctx, path: True,
    "warnings": lambda v, args, ctx, path: [],
    "financialSummaries": lambda v, args, ctx, path: [],
}


def _inventory_item_id(ctx: RequestContext, view: FulfillmentOrderLineView) -> str | None:
    variant = ctx.shop.variants.get(ctx.shop.commerce.lines.view(view.line.index).variant_id)
    return gid("InventoryItem", variant.inventory_item.id) if variant is not None else None
