"""How customers, their addresses and the shop's events answer the Admin API schema's fields, and the
``QueryRoot`` fields that read commerce data (``customers``, ``orders``, ``events``, their counts and
lookups); orders, their lines and fulfilments answer in ``shopify_order_resolvers``.

Fields the emulator does not model answer what a shop without that feature shows (empty lists, zero money,
``false``); non-null fields nobody models are left to the executor's NOT_IMPLEMENTED error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_commerce import (
    Address,
    Commerce,
    Customer,
    Event,
    Fulfillment,
    Order,
)
from connector_pipelines.sandbox.shopify_gql import Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_order_resolvers import (
    FULFILLMENT,
    FULFILLMENT_LINE,
    FULFILLMENT_ORDER,
    FULFILLMENT_ORDER_LINE,
    LINE_ITEM,
    ORDER,
    FulfillmentLineView,
    FulfillmentOrderLineView,
    FulfillmentOrderView,
    LineItemView,
    fo_status,
)
from connector_pipelines.sandbox.shopify_resolve import (
    Args,
    Table,
    by_id,
    connection,
    count,
    filtered_connection,
    iso_time,
    money,
    predicate,
)
from connector_pipelines.sandbox.shopify_search import Search, SearchField
from connector_pipelines.sandbox.shopify_store import ShopState, SortKey, gid

R = Resolver[RequestContext]
DAY = 86_400.0


TYPE_NAMES: dict[type, str] = {
    Customer: "Customer",
    Order: "Order",
    Address: "MailingAddress",
    Event: "BasicEvent",
    Fulfillment: "Fulfillment",
    LineItemView: "LineItem",
    FulfillmentOrderView: "FulfillmentOrder",
    FulfillmentOrderLineView: "FulfillmentOrderLineItem",
    FulfillmentLineView: "FulfillmentLineItem",
}


def commerce_node(shop: ShopState, kind: str, number: int) -> object | None:
    """``node(id:)`` for the commerce kinds (None: not one of them, or not found)."""
    commerce = shop.commerce
    if kind == "Customer":
        return commerce.customers.get(number)
    if kind == "Order":
        return commerce.orders.get(number)
    if kind in ("LineItem", "FulfillmentOrderLineItem"):
        found = commerce.order_of_line(number)
        if found is None:
            return None
        line = LineItemView(found[0], found[1], number)
        return line if kind == "LineItem" else FulfillmentOrderLineView(line)
    if kind == "FulfillmentOrder":
        order = commerce.orders.get(number)
        return FulfillmentOrderView(order) if order is not None else None
    if kind == "Fulfillment":
        return commerce.fulfillment(number)
    if kind == "BasicEvent":
        return _event(commerce, number)
    if kind == "MailingAddress":
        return next((a for c in commerce.customers.values() for a in c.addresses if a.id == number), None)
    return None


def _event(commerce: Commerce, number: int) -> Event | None:
    events = commerce.events
    lo, hi = 0, len(events)
    while lo < hi:  # events are appended in id order
        mid = (lo + hi) // 2
        if events[mid].id < number:
            lo = mid + 1
        else:
            hi = mid
    return events[lo] if lo < len(events) and events[lo].id == number else None


# --- search fields ----------------------------------------------------------------------------------------


def _customer_search(now: Callable[[], float]) -> Search[Customer]:
    return Search(
        {
            "email": SearchField("token", lambda c: (c.email,)),
            "first_name": SearchField("text", lambda c: (c.first_name,)),
            "last_name": SearchField("text", lambda c: (c.last_name,)),
            "phone": SearchField("text", lambda c: (c.phone,)),
            "id": SearchField("id", lambda c: (c.id,)),
            "state": SearchField("text", lambda c: (c.state,)),
            "tag": SearchField("text", lambda c: c.tags),
            "tag_not": SearchField("text", lambda c: c.tags, comma_list=True, negated=True),
            "accepts_marketing": SearchField("bool", lambda c: (c.accepts_marketing,)),
            "country": SearchField(
                "text", lambda c: [x for a in c.addresses for x in (a.country, a.country_code)]
            ),
            "orders_count": SearchField("number", lambda c: (c.number_of_orders,)),
            "total_spent": SearchField("number", lambda c: (c.amount_spent / 100,)),
            "created_at": SearchField("time", lambda c: (c.created_at,)),
            "customer_date": SearchField("time", lambda c: (c.created_at,)),
            "updated_at": SearchField("time", lambda c: (c.updated_at,)),
        },
        lambda c: (c.first_name, c.last_name, c.email, c.phone),
        now=now,
    )


def _status(order: Order) -> tuple[str, ...]:
    """``status:`` values an order answers to (open, closed, cancelled, not_closed)."""
    if order.cancelled_at is not None:
        return ("cancelled", "closed") if order.closed_at is not None else ("cancelled", "not_closed")
    return ("closed",) if order.closed_at is not None else ("open", "not_closed")


def _order_search(commerce: Commerce, now: Callable[[], float]) -> Search[Order]:
    lines = commerce.lines

    def skus(order: Order) -> list[str | None]:
        return [lines.view(i).sku for i in order.lines]

    return Search(
        {
            "name": SearchField("text", lambda o: (o.name, str(o.number))),
            "email": SearchField("token", lambda o: (o.email,)),
            "id": SearchField("id", lambda o: (o.id,)),
            "customer_id": SearchField("id", lambda o: (o.customer.id,) if o.customer else ()),
            "financial_status": SearchField("text", lambda o: (o.financial_status,), comma_list=True),
            "fulfillment_status": SearchField(
                "text", lambda o: (_fulfillment_filter(o.fulfillment_status),), comma_list=True
            ),
            "status": SearchField("text", _status),
            "sku": SearchField("text", skus),
            "tag": SearchField("text", lambda o: o.tags),
            "tag_not": SearchField("text", lambda o: o.tags, comma_list=True, negated=True),
            "test": SearchField("bool", lambda o: (o.test,)),
            "source_name": SearchField("text", lambda o: (o.source_name,)),
            "created_at": SearchField("time", lambda o: (o.created_at,)),
            "updated_at": SearchField("time", lambda o: (o.updated_at,)),
            "processed_at": SearchField("time", lambda o: (o.processed_at,)),
            "current_total_price": SearchField("number", lambda o: (commerce.total(o) / 100,)),
        },
        lambda o: (
            o.name,
            o.email,
            *(skus(o)),
            *((o.customer.first_name, o.customer.last_name) if o.customer else ()),
        ),
        now=now,
    )


def _fulfillment_filter(status: str) -> str:
    # The query names: shipped, partial, unshipped, unfulfilled, fulfilled (as well as the enum's own).
    return {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "UNFULFILLED": "unfulfilled"}.get(
        status, status.lower()
    )


def _event_search(now: Callable[[], float]) -> Search[Event]:
    return Search(
        {
            "action": SearchField("text", lambda e: (e.action,)),
            "subject_type": SearchField("text", lambda e: (e.subject_type,), comma_list=True),
            "id": SearchField("id", lambda e: (e.id,)),
            "created_at": SearchField("time", lambda e: (e.created_at,)),
            "comments": SearchField("bool", lambda e: (False,)),
        },
        lambda e: (e.message,),
        now=now,
    )


def _now(ctx: RequestContext) -> Callable[[], float]:
    return lambda: ctx.now


def customer_matcher(ctx: RequestContext, args: Args, path: PathLink) -> Callable[[Customer], bool] | None:
    return predicate(_customer_search(_now(ctx)), args, ctx, path)


def order_matcher(ctx: RequestContext, args: Args, path: PathLink) -> Callable[[Order], bool] | None:
    return predicate(_order_search(ctx.shop.commerce, _now(ctx)), args, ctx, path)


# --- sorting ----------------------------------------------------------------------------------------------

_CUSTOMER_SORT: dict[str, Callable[[Customer], SortKey]] = {
    "CREATED_AT": lambda c: (c.created_at, c.id),
    "UPDATED_AT": lambda c: (c.updated_at, c.id),
    "NAME": lambda c: (c.display_name.casefold(), c.id),
    "LOCATION": lambda c: ((c.default_address.city or "") if c.default_address else "", c.id),
}


def _order_sorts(commerce: Commerce) -> dict[str, Callable[[Order], SortKey]]:
    return {
        "PROCESSED_AT": lambda o: (o.processed_at, o.id),
        "CREATED_AT": lambda o: (o.created_at, o.id),
        "UPDATED_AT": lambda o: (o.updated_at, o.id),
        "ORDER_NUMBER": lambda o: (o.number, o.id),
        "FINANCIAL_STATUS": lambda o: (o.financial_status, o.id),
        "FULFILLMENT_STATUS": lambda o: (o.fulfillment_status, o.id),
        "CUSTOMER_NAME": lambda o: (o.customer.display_name.casefold() if o.customer else "", o.id),
        "TOTAL_PRICE": lambda o: (commerce.total(o), o.id),
        "CURRENT_TOTAL_PRICE": lambda o: (commerce.total(o), o.id),
        "TOTAL_ITEMS_QUANTITY": lambda o: (commerce.quantity(o), o.id),
    }


def sorted_records(
    commerce: Commerce,
    name: str,
    records: dict[int, Any],
    sorts: dict[str, Callable[[Any], SortKey]],
    sort_key: str | None,
) -> tuple[list[Any], Callable[[Any], SortKey]]:
    key = sorts.get(sort_key or "ID")
    if key is None:  # ID, or a key the emulator orders by id (RELEVANCE, ...)
        return list(records.values()), by_id
    return commerce.sorted_view(name, sort_key or "", lambda: list(records.values()), key), key


# --- QueryRoot ----------------------------------------------------------------------------------------------


def _customers(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    commerce = ctx.shop.commerce
    test = customer_matcher(ctx, args, path)
    items, key = sorted_records(
        commerce, "customers", commerce.customers, _CUSTOMER_SORT, args.get("sortKey")
    )
    return filtered_connection(items, key, test, args, ctx)


def _orders(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    commerce = ctx.shop.commerce
    test = order_matcher(ctx, args, path)
    sort = args.get("sortKey") or "PROCESSED_AT"
    items, key = sorted_records(commerce, "orders", commerce.orders, _order_sorts(commerce), sort)
    return filtered_connection(items, key, test, args, ctx)


def _events(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    test = predicate(_event_search(_now(ctx)), args, ctx, path)
    return filtered_connection(ctx.shop.commerce.events, by_id, test, args, ctx)


def _counted(records: Callable[[RequestContext], Any], matcher: Callable[..., Any]) -> R:
    def resolve(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
        test = matcher(ctx, args, path)
        items = records(ctx)
        limit = args.get("limit")
        total = len(items) if test is None else sum(1 for r in items if test(r))
        return count(total, limit)

    return resolve


def _events_count(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    test = predicate(_event_search(_now(ctx)), args, ctx, path)
    events = ctx.shop.commerce.events
    return count(len(events) if test is None else sum(1 for e in events if test(e)), 10_000)


def _customer_by_identifier(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Customer | None:
    identifier = args["identifier"]
    customers = ctx.shop.commerce.customers.values()
    if identifier.get("id") is not None:
        return ctx.shop.commerce.customers.get(_number(identifier["id"]))
    if identifier.get("emailAddress") is not None:
        wanted = identifier["emailAddress"].casefold()
        return next((c for c in customers if (c.email or "").casefold() == wanted), None)
    if identifier.get("phoneNumber") is not None:
        return next((c for c in customers if c.phone == identifier["phoneNumber"]), None)
    return None


def _number(value: str) -> int:
    tail = value.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _fulfillment_orders(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    orders = ctx.shop.commerce.orders.values()
    include_closed = bool(args.get("includeClosed"))
    views = [
        FulfillmentOrderView(o)
        for o in orders
        if include_closed or fo_status(ctx.shop.commerce, o) != "CLOSED"
    ]
    return connection(views, args, ctx)


QUERY: dict[str, R] = {
    "customers": _customers,
    "orders": _orders,
    "events": _events,
    "customersCount": _counted(lambda ctx: list(ctx.shop.commerce.customers.values()), customer_matcher),
    "ordersCount": _counted(lambda ctx: list(ctx.shop.commerce.orders.values()), order_matcher),
    "eventsCount": _events_count,
    "customerByIdentifier": _customer_by_identifier,
    "fulfillmentOrders": _fulfillment_orders,
}


# --- Customer ---------------------------------------------------------------------------------------------


def _currency(ctx: RequestContext) -> str:
    return ctx.settings.currency_code


def _lifetime(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> str:
    days = max(0, int((ctx.now - customer.created_at) // DAY))
    if days < 1:
        return "less than a day"
    if days < 31:
        return f"{days} days"
    months = days // 30
    return f"about {months} months" if months < 12 else f"about {days // 365} years"


def _customer_orders(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> Any:
    commerce = ctx.shop.commerce
    test = order_matcher(ctx, args, path)
    mine = [o for o in commerce.orders.values() if o.customer is customer and (test is None or test(o))]
    sort = _order_sorts(commerce).get(args.get("sortKey") or "ID", by_id)
    return connection(sorted(mine, key=sort), args, ctx, sort)


def _subject_events(kind: str) -> R:
    def resolve(record: Any, args: Args, ctx: RequestContext, path: PathLink) -> Any:
        test = predicate(_event_search(_now(ctx)), args, ctx, path)
        mine = [
            e
            for e in ctx.shop.commerce.events
            if e.subject_type == kind and e.subject_id == record.id and (test is None or test(e))
        ]
        return connection(mine, args, ctx)

    return resolve


def _email_address(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    if not customer.email:
        return None
    return {
        "emailAddress": customer.email,
        "marketingState": "SUBSCRIBED" if customer.accepts_marketing else "NOT_SUBSCRIBED",
        "marketingOptInLevel": "SINGLE_OPT_IN" if customer.accepts_marketing else None,
        "marketingUpdatedAt": iso_time(customer.updated_at) if customer.accepts_marketing else None,
        "marketingUnsubscribeUrl": f"https://{ctx.shop.name}.myshopify.com/unsubscribe?c={customer.id}",
        "openTrackingLevel": "UNKNOWN",
        "openTrackingUrl": f"https://{ctx.shop.name}.myshopify.com/open?c={customer.id}",
        "sourceLocation": None,
        "validFormat": "@" in customer.email,
    }


def _email_consent(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    if not customer.email:
        return None
    return {
        "marketingState": "SUBSCRIBED" if customer.accepts_marketing else "NOT_SUBSCRIBED",
        "marketingOptInLevel": "SINGLE_OPT_IN" if customer.accepts_marketing else None,
        "consentUpdatedAt": iso_time(customer.updated_at) if customer.accepts_marketing else None,
        "sourceLocation": None,
    }


def _phone_number(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    if not customer.phone:
        return None
    return {
        "phoneNumber": customer.phone,
        "whatsAppMarketingConsent": {"marketingState": "NOT_SUBSCRIBED", "consentUpdatedAt": None},
    }


def _sms_consent(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    if not customer.phone:
        return None
    return {
        "marketingState": "NOT_SUBSCRIBED",
        "marketingOptInLevel": "UNKNOWN",
        "consentUpdatedAt": None,
        "consentCollectedFrom": None,
        "sourceLocation": None,
    }


def _addresses(customer: Customer, args: Args, ctx: RequestContext, path: PathLink) -> list[Address]:
    first = args.get("first")
    return customer.addresses[:first] if first is not None else customer.addresses


CUSTOMER: dict[str, R] = {
    "id": lambda c, args, ctx, path: gid("Customer", c.id),
    "legacyResourceId": lambda c, args, ctx, path: c.id,
    "createdAt": lambda c, args, ctx, path: iso_time(c.created_at),
    "updatedAt": lambda c, args, ctx, path: iso_time(c.updated_at),
    "amountSpent": lambda c, args, ctx, path: money(c.amount_spent, _currency(ctx)),
    "addresses": _addresses,
    "addressesV2": lambda c, args, ctx, path: connection(c.addresses, args, ctx),
    "defaultAddress": lambda c, args, ctx, path: c.default_address,
    "defaultEmailAddress": _email_address,
    "defaultPhoneNumber": _phone_number,
    "emailMarketingConsent": _email_consent,
    "smsMarketingConsent": _sms_consent,
    "lastOrder": lambda c, args, ctx, path: ctx.shop.commerce.orders.get(c.last_order_id or 0),
    "orders": _customer_orders,
    "events": _subject_events("CUSTOMER"),
    "canDelete": lambda c, args, ctx, path: c.number_of_orders == 0,
    "dataSaleOptOut": lambda c, args, ctx, path: False,
    "lifetimeDuration": _lifetime,
    "validEmailAddress": lambda c, args, ctx, path: bool(c.email and "@" in c.email),
    "hasTimelineComment": lambda c, args, ctx, path: False,
    "productSubscriberStatus": lambda c, args, ctx, path: "NEVER_SUBSCRIBED",
    "taxExemptions": lambda c, args, ctx, path: [],
    "companyContactProfiles": lambda c, args, ctx, path: [],
    "identityProviderSubjects": lambda c, args, ctx, path: [],
    "mergeable": lambda c, args, ctx, path: {"isMergeable": True, "errorFields": [], "reason": None},
    "statistics": lambda c, args, ctx, path: {"predictedSpendTier": None, "rfmGroup": None},
    "image": lambda c, args, ctx, path: {
        "__typename": "Image",
        "id": None,
        "url": f"https://cdn.shopify.com/s/images/avatars/customer-{c.id}.png",
        "altText": None,
        "width": None,
        "height": None,
    },
    "unsubscribeUrl": lambda c, args, ctx, path: (
        f"https://{ctx.shop.name}.myshopify.com/unsubscribe?c={c.id}"
    ),
}


def _formatted(address: Address, args: Args, ctx: RequestContext, path: PathLink) -> list[str]:
    parts: list[str | None] = []
    if args.get("withName"):
        parts.append(address.name)
    if args.get("withCompany", True):
        parts.append(address.company)
    area = " ".join(p for p in (address.zip, address.city) if p)
    parts += [address.address1, address.address2, area, address.country]
    return [p for p in parts if p]


ADDRESS: dict[str, R] = {
    "id": lambda a, args, ctx, path: f"{gid('MailingAddress', a.id)}?model_name=CustomerAddress",
    "countryCodeV2": lambda a, args, ctx, path: a.country_code,
    "countryCode": lambda a, args, ctx, path: a.country_code,
    "formatted": _formatted,
    "formattedArea": lambda a, args, ctx, path: (
        ", ".join(p for p in (a.city, a.province_code, a.country) if p) or None
    ),
    "coordinatesValidated": lambda a, args, ctx, path: False,
}


# --- events -----------------------------------------------------------------------------------------------


def _subject(event: Event, args: Args, ctx: RequestContext, path: PathLink) -> object | None:
    commerce = ctx.shop.commerce
    if event.subject_type == "CUSTOMER":
        return commerce.customers.get(event.subject_id)
    if event.subject_type == "ORDER":
        return commerce.orders.get(event.subject_id)
    if event.subject_type == "PRODUCT":
        return ctx.shop.products.get(event.subject_id)
    return None


_SUBJECT_KINDS = {
    "CUSTOMER": "Customer",
    "ORDER": "Order",
    "PRODUCT": "Product",
    "PRODUCT_VARIANT": "ProductVariant",
}

EVENT: dict[str, R] = {
    "id": lambda e, args, ctx, path: gid("BasicEvent", e.id),
    "createdAt": lambda e, args, ctx, path: iso_time(e.created_at),
    "subjectId": lambda e, args, ctx, path: gid(_SUBJECT_KINDS.get(e.subject_type, "Unknown"), e.subject_id),
    "subject": _subject,
    "appTitle": lambda e, args, ctx, path: None,
    "attributeToApp": lambda e, args, ctx, path: False,
    "attributeToUser": lambda e, args, ctx, path: False,
    "criticalAlert": lambda e, args, ctx, path: False,
    "hasAdditionalContent": lambda e, args, ctx, path: False,
}


def commerce_table() -> Table:
    return {
        "QueryRoot": QUERY,
        "Customer": CUSTOMER,
        "MailingAddress": ADDRESS,
        "Order": {**ORDER, "events": _subject_events("ORDER")},
        "LineItem": LINE_ITEM,
        "Fulfillment": FULFILLMENT,
        "FulfillmentLineItem": FULFILLMENT_LINE,
        "FulfillmentOrder": FULFILLMENT_ORDER,
        "FulfillmentOrderLineItem": FULFILLMENT_ORDER_LINE,
        "BasicEvent": EVENT,
    }
