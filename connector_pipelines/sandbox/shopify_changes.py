"""Changes to a shop's data as a merchant, a buyer or an app makes them: each updates ``updatedAt``, records
one event (``events``; deletions as ``action: destroy``) and is offered to the webhook subscriptions of its
topics (contract §12.1). The emulator's test helpers and its mutations (``fulfillmentCreate``, ...) both go
through here. Call everything with the shop's lock held.

Event actions are UNVERIFIED beyond ``create`` / ``update`` / ``destroy``: Shopify names others per subject;
the emulator uses ``paid``, ``cancelled``, ``fulfilled`` and ``closed`` for orders.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Literal

from connector_pipelines.sandbox.shopify_commerce import (
    Address,
    Change,
    Customer,
    Fulfillment,
    Order,
    Tracking,
)
from connector_pipelines.sandbox.shopify_products import product_delete
from connector_pipelines.sandbox.shopify_seed import TAX_RATE_BP, cents
from connector_pipelines.sandbox.shopify_store import (
    Product,
    ShopState,
    Variant,
    gid,
    iso,
    next_id,
    parse_gid,
    reserve_ids,
)

CUSTOMER_FIELDS = frozenset({"email", "first_name", "last_name", "phone", "tags", "state", "note"})
ADDRESS_FIELDS = frozenset(Address.__dataclass_fields__) - {"id"}
ChangeKind = Literal["customers", "orders", "products"]


class ChangeError(LookupError):
    """A test helper named a record that does not exist, or a change that does not apply."""


def emit(
    shop: ShopState,
    topics: tuple[str, ...],
    subject: tuple[str, int],
    action: str,
    message: str,
    record: object | None,
    now: float,
) -> None:
    shop.changed(Change(topics, subject[0], subject[1], action, message, record, now))


def _number(value: str | int, kind: str) -> int:
    if isinstance(value, int):
        return value
    parsed = parse_gid(value, kind)
    if parsed is None:
        raise ChangeError(f"not a {kind} id: {value!r}")
    return parsed[1]


def customer_of(shop: ShopState, value: str | int) -> Customer:
    found = shop.commerce.customers.get(_number(value, "Customer"))
    if found is None:
        raise ChangeError(f"no customer {value!r} in shop {shop.name!r}")
    return found


def order_of(shop: ShopState, value: str | int) -> Order:
    found = shop.commerce.orders.get(_number(value, "Order"))
    if found is None:
        raise ChangeError(f"no order {value!r} in shop {shop.name!r}")
    return found


# --- customers --------------------------------------------------------------------------------------------


def _new_address(fields: Mapping[str, str | None]) -> Address:
    unknown = set(fields) - ADDRESS_FIELDS
    if unknown:
        raise ChangeError(f"unknown address fields: {sorted(unknown)}")
    return Address(next_id(), **fields)


def create_customer(
    shop: ShopState,
    now: float,
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    phone: str | None = None,
    tags: Sequence[str] = (),
    state: str = "ENABLED",
    note: str | None = None,
    address: Mapping[str, str | None] | None = None,
) -> Customer:
    if not (email or phone or first_name or last_name):
        raise ChangeError("a customer needs a name, an email address or a phone number")
    made = _new_address(address) if address is not None else None
    customer = Customer(
        next_id(),
        email,
        first_name,
        last_name,
        phone,
        now,
        now,
        [made] if made else [],
        made,
        tuple(tags),
        state,
        note,
    )
    shop.commerce.customers[customer.id] = customer
    emit(
        shop,
        ("customers/create",),
        ("CUSTOMER", customer.id),
        "create",
        "Customer was created.",
        customer,
        now,
    )
    return customer


def update_customer(
    shop: ShopState,
    value: str | int,
    now: float,
    changes: Mapping[str, object],
) -> Customer:
    """``changes``: any of email, first_name, last_name, phone, tags, state, note, and ``address`` (a mapping
    of address fields that replaces the default address)."""
    customer = customer_of(shop, value)
    unknown = set(changes) - CUSTOMER_FIELDS - {"address"}
    if unknown:
        raise ChangeError(f"unknown customer fields: {sorted(unknown)}")
    for name, new in changes.items():
        if name == "address":
            assert isinstance(new, Mapping)
            address = _new_address(new)
            kept = [a for a in customer.addresses if a is not customer.default_address]
            customer.addresses = [address, *kept]
            customer.default_address = address
        elif name == "tags":
            assert isinstance(new, Sequence)
            customer.tags = tuple(str(t) for t in new)
        else:
            setattr(customer, name, new)
    customer.updated_at = now
    emit(
        shop,
        ("customers/update",),
        ("CUSTOMER", customer.id),
        "update",
        "Customer was updated.",
        customer,
        now,
    )
    return customer


def delete_customer(shop: ShopState, value: str | int, now: float) -> None:
    """Delete a customer; its orders stay, without a customer (Shopify only deletes customers without
    orders, a test may still want the deletion of one that has some)."""
    customer = customer_of(shop, value)
    del shop.commerce.customers[customer.id]
    for order in shop.commerce.orders.values():
        if order.customer is customer:
            order.customer = None
    emit(
        shop, ("customers/delete",), ("CUSTOMER", customer.id), "destroy", "Customer was deleted.", None, now
    )


# --- orders -----------------------------------------------------------------------------------------------


def _variant(shop: ShopState, ref: str | int) -> Variant:
    if isinstance(ref, int):
        found = shop.variants.get(ref)
    elif ref.startswith("gid://"):
        found = shop.variant(ref)
    else:
        ids = sorted(shop.sku_index.get(ref.casefold(), ()))
        found = shop.variants.get(ids[0]) if ids else None
    if found is None:
        raise ChangeError(f"no variant {ref!r} (a SKU, a variant id or GID)")
    return found


def _stock(variant: Variant, location: int | None, available: int, committed: int) -> None:
    if location is None:
        return
    quantities = variant.quantities.setdefault(location, {})
    quantities["available"] = quantities.get("available", 0) + available
    quantities["committed"] = quantities.get("committed", 0) + committed


def create_order(
    shop: ShopState,
    now: float,
    lines: Sequence[tuple[str | int, int]],
    *,
    customer: str | int | None = None,
    email: str | None = None,
    financial_status: str = "PAID",
    shipping: str = "0.00",
    tags: Sequence[str] = (),
    note: str | None = None,
) -> Order:
    """An order of ``lines`` (SKU, variant id or GID, quantity) at the variants' current prices; stock moves
    from available to committed at the primary location."""
    if not lines:
        raise ChangeError("an order needs at least one line")
    buyer = customer_of(shop, customer) if customer is not None else None
    commerce = shop.commerce
    table = commerce.lines
    variants = [(_variant(shop, ref), quantity) for ref, quantity in lines]
    order_id = next_id()
    line_ids = reserve_ids(len(variants))
    table.add_block(line_ids.start, len(table))
    first = len(table)
    for variant, quantity in variants:
        unit = cents(variant.price)
        tax = round(quantity * unit * TAX_RATE_BP / 10_000)
        table.append(order_id, table.snapshot_of(variant), quantity, unit, 0, tax)
        _stock(variant, shop.primary_location, -quantity, quantity)
    address = buyer.default_address if buyer is not None else None
    order = Order(
        order_id,
        commerce.next_order_number,
        buyer,
        email or (buyer.email if buyer else None),
        now,
        now,
        now,
        first,
        len(variants),
        shop.settings.currency_code,
        shop.settings.currency_code,
        1.0,
        address,
        address,
        TAX_RATE_BP,
        shipping=cents(shipping),
        financial_status=financial_status,
        tags=tuple(tags),
        note=note,
        location_id=shop.primary_location,
        fulfillments=[],
    )
    commerce.next_order_number += 1
    commerce.orders[order.id] = order
    if buyer is not None:
        buyer.number_of_orders += 1
        buyer.amount_spent += commerce.total(order)
        buyer.last_order_id = order.id
        buyer.updated_at = now
    topics = ("orders/create", "orders/paid") if financial_status == "PAID" else ("orders/create",)
    emit(shop, topics, ("ORDER", order.id), "create", f"Order {order.name} was placed.", order, now)
    return order


def pay_order(shop: ShopState, value: str | int, now: float) -> Order:
    order = order_of(shop, value)
    if order.cancelled_at is not None:
        raise ChangeError(f"order {order.name} is cancelled")
    order.financial_status = "PAID"
    order.updated_at = now
    message = f"Order {order.name} was paid."
    emit(shop, ("orders/paid", "orders/updated"), ("ORDER", order.id), "paid", message, order, now)
    return order


def cancel_order(shop: ShopState, value: str | int, now: float, reason: str = "CUSTOMER") -> Order:
    """Cancel (and close) an order: a paid one is refunded, an unpaid one voided; committed stock returns."""
    order = order_of(shop, value)
    if order.cancelled_at is not None:
        raise ChangeError(f"order {order.name} is already cancelled")
    commerce = shop.commerce
    order.financial_status = "REFUNDED" if order.financial_status in ("PAID", "PARTIALLY_PAID") else "VOIDED"
    order.cancelled_at = order.closed_at = order.updated_at = now
    order.cancel_reason = reason
    for index in order.lines:
        variant = shop.variants.get(commerce.lines.view(index).variant_id)
        remaining = commerce.remaining(index)
        if variant is not None and remaining:
            _stock(variant, order.location_id, remaining, -remaining)
    if order.customer is not None:
        order.customer.amount_spent -= commerce.total(order)
    message = f"Order {order.name} was cancelled."
    emit(shop, ("orders/cancelled", "orders/updated"), ("ORDER", order.id), "cancelled", message, order, now)
    return order


def close_order(shop: ShopState, value: str | int, now: float) -> Order:
    order = order_of(shop, value)
    order.closed_at = order.updated_at = now
    emit(
        shop,
        ("orders/updated",),
        ("ORDER", order.id),
        "closed",
        f"Order {order.name} was closed.",
        order,
        now,
    )
    return order


def fulfil(
    shop: ShopState,
    order: Order,
    quantities: Mapping[int, int],
    now: float,
    *,
    tracking: Sequence[Tracking] = (),
    notify_customer: bool = False,
) -> Fulfillment:
    """Fulfil ``quantities`` (line index -> quantity, each within what remains) of ``order``."""
    commerce = shop.commerce
    table = commerce.lines
    existing = commerce.fulfillments_of(order)
    done = Fulfillment(
        next_id(),
        order,
        len(existing) + 1,
        now,
        now,
        order.location_id,
        dict(quantities),
        list(tracking),
        notify_customer=notify_customer,
    )
    existing.append(done)
    commerce.fulfillments[done.id] = done
    for index, quantity in quantities.items():
        table.fulfilled[index] += quantity
        variant = shop.variants.get(table.view(index).variant_id)
        if variant is not None:
            _stock(variant, order.location_id, 0, -quantity)
    complete = all(commerce.remaining(i) == 0 for i in order.lines)
    order.fulfillment_status = "FULFILLED" if complete else "PARTIALLY_FULFILLED"
    order.updated_at = now
    topic = "orders/fulfilled" if complete else "orders/partially_fulfilled"
    message = (
        f"Order {order.name} was fulfilled." if complete else f"Order {order.name} was partially fulfilled."
    )
    emit(shop, (topic, "orders/updated"), ("ORDER", order.id), "fulfilled", message, order, now)
    return done


def fulfil_order(
    shop: ShopState,
    value: str | int,
    now: float,
    *,
    tracking_number: str | None = None,
    tracking_company: str | None = None,
    tracking_url: str | None = None,
) -> Fulfillment:
    """Fulfil everything that remains of an order, with one tracking number."""
    order = order_of(shop, value)
    remaining = {i: shop.commerce.remaining(i) for i in order.lines if shop.commerce.remaining(i) > 0}
    if not remaining:
        raise ChangeError(f"order {order.name} has nothing left to fulfil")
    tracking = [Tracking(tracking_number, tracking_company, tracking_url)] if tracking_number else []
    return fulfil(shop, order, remaining, now, tracking=tracking)


def delete_order(shop: ShopState, value: str | int, now: float) -> None:
    order = order_of(shop, value)
    commerce = shop.commerce
    del commerce.orders[order.id]
    for done in order.fulfillments or ():
        commerce.fulfillments.pop(done.id, None)
    if order.customer is not None:
        order.customer.number_of_orders -= 1
        if order.cancelled_at is None:
            order.customer.amount_spent -= commerce.total(order)
    emit(
        shop,
        ("orders/delete",),
        ("ORDER", order.id),
        "destroy",
        f"Order {order.name} was deleted.",
        None,
        now,
    )


# --- products ---------------------------------------------------------------------------------------------


def product_written(shop: ShopState, product: Product, created: bool, now: float) -> None:
    """A product was created or updated (productSet, tagsAdd, a variant's price, ...)."""
    if created:
        emit(
            shop,
            ("products/create",),
            ("PRODUCT", product.id),
            "create",
            "Product was created.",
            product,
            now,
        )
    else:
        emit(
            shop,
            ("products/update",),
            ("PRODUCT", product.id),
            "update",
            "Product was updated.",
            product,
            now,
        )


def product_deleted(shop: ShopState, product_id: int, title: str, now: float) -> None:
    message = f"Product {title} was deleted."
    emit(shop, ("products/delete",), ("PRODUCT", product_id), "destroy", message, None, now)


def update_product(
    shop: ShopState,
    value: str,
    now: float,
    *,
    title: str | None = None,
    price: str | None = None,
    status: str | None = None,
) -> Product:
    """Change a product's title or status, or every variant's price (as the merchant would in the admin)."""
    product = shop.product(value)
    if product is None:
        raise ChangeError(f"no product {value!r} in shop {shop.name!r}")
    stamp = iso(now)
    if title is not None:
        product.title = title
    if status is not None:
        product.status = status
    for variant in product.variants:
        if price is not None:
            variant.price = price
            variant.updated_at = stamp
    product.updated_at = stamp
    product_written(shop, product, False, now)
    return product


def delete_product(shop: ShopState, value: str, now: float) -> None:
    product = shop.product(value)
    if product is None:
        raise ChangeError(f"no product {value!r} in shop {shop.name!r}")
    product_delete(shop, value)
    product_deleted(shop, product.id, product.title, now)


def change_sample(shop: ShopState, kind: ChangeKind, fraction: float, seed: int, now: float) -> list[str]:
    """Update a deterministic ``fraction`` of the shop's customers (note), orders (note) or products (price
    +1 %); returns their GIDs. For incremental-sync benchmarks."""
    if not 0 < fraction <= 1:
        raise ChangeError("fraction must be in (0, 1]")
    rng = random.Random(f"{kind}-{seed}")
    if kind == "customers":
        ids = sorted(shop.commerce.customers)
    elif kind == "orders":
        ids = sorted(shop.commerce.orders)
    else:
        ids = sorted(shop.products)
    chosen = sorted(rng.sample(ids, max(1, round(len(ids) * fraction)))) if ids else []
    for number in chosen:
        if kind == "customers":
            update_customer(shop, number, now, {"note": f"changed {seed}"})
        elif kind == "orders":
            order = shop.commerce.orders[number]
            order.note = f"changed {seed}"
            order.updated_at = now
            emit(shop, ("orders/updated",), ("ORDER", number), "update", "Order was updated.", order, now)
        else:
            product = shop.products[number]
            first = product.variants[0].price if product.variants else "0.00"
            update_product(shop, gid("Product", number), now, price=str(cents(first) * 101 // 100 / 100))
    singular = {"customers": "Customer", "orders": "Order", "products": "Product"}[kind]
    return [gid(singular, number) for number in chosen]
