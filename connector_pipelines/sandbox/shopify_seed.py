"""Deterministic seeding of an emulated shop (products, customers, orders) and the test helpers that change
its data the way a merchant or a buyer would (each change updates ``updatedAt``, records an event and is
offered to webhook subscriptions).

Seeding builds records directly (not through ``productSet``): 10,000 products with 5 variants, 50,000
customers and 100,000 orders of 3 lines take a few seconds. Seeded records carry no events (they existed
before the app was installed); every later change does. Call everything here with the shop's lock held.
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np

from connector_pipelines.sandbox.shopify_commerce import Address, Customer, Order
from connector_pipelines.sandbox.shopify_store import (
    InventoryItem,
    Option,
    OptionValue,
    Product,
    ShopState,
    Variant,
    iso,
    reserve_ids,
)

_FIRST = """Anna Ben Clara David Elif Felix Greta Hakan Ida Jonas Kerem Lena Mia Noah Olga Paul Rosa Selin Tom
Ute Vera Willem Yusuf Zoe"""
_LAST = """Meyer Schmidt Yilmaz Kaya Smith Jones Dubois Rossi Novak Berg Kraus Demir Weber Fischer Brown
Martin Lopez Sahin Wagner Koch"""
FIRST_NAMES = tuple(_FIRST.split())
LAST_NAMES = tuple(_LAST.split())
PLACES = (
    ("Berlin", "Berlin", "BE", "Germany", "DE", "10115"),
    ("Hamburg", "Hamburg", "HH", "Germany", "DE", "20095"),
    ("Munich", "Bavaria", "BY", "Germany", "DE", "80331"),
    ("Istanbul", "Istanbul", "TR-34", "Turkey", "TR", "34000"),
    ("Izmir", "Izmir", "TR-35", "Turkey", "TR", "35000"),
    ("Vienna", "Vienna", "9", "Austria", "AT", "1010"),
    ("London", "England", "ENG", "United Kingdom", "GB", "EC1A 1BB"),
    ("New York", "New York", "NY", "United States", "US", "10001"),
    ("Paris", "Paris", "75", "France", "FR", "75001"),
    ("Amsterdam", "North Holland", "NH", "Netherlands", "NL", "1012"),
)
STREETS = ("Hauptstrasse", "Bahnhofstrasse", "Ataturk Caddesi", "High Street", "Main Street", "Rue de Rivoli")
TAG_SETS: tuple[tuple[str, ...], ...] = ((), (), ("newsletter",), ("vip",), ("wholesale", "vip"))
SIZES = ("S", "M", "L", "XL", "XXL", "3XL", "4XL", "5XL")
FINANCIAL = (("PAID", 80), ("PENDING", 7), ("AUTHORIZED", 5), ("REFUNDED", 4), ("PARTIALLY_REFUNDED", 4))
TAX_RATE_BP = 1900
SHIPPING = 490
DAY = 86_400.0


def _money(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2))


def cents(amount: str) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


# --- seeding ----------------------------------------------------------------------------------------------


def seed_products(
    shop: ShopState,
    count: int,
    variants: int = 5,
    *,
    seed: int = 0,
    sku_format: str = "SKU-{product:06d}-{variant:02d}",
) -> list[Product]:
    """``count`` products with ``variants`` variants each (option "Size"), stocked at the primary location.

    ``sku_format`` takes ``product`` (1-based number of the seeded product) and ``variant`` (1-based).
    """
    rng = random.Random(f"products-{seed}")
    settings = shop.settings
    start, span = settings.seed_start, settings.seed_span_days * DAY
    primary = shop.primary_location
    first_number = len(shop.products) + 1
    made: list[Product] = []
    for n in range(first_number, first_number + count):
        ids = iter(reserve_ids(2 + 3 * variants))
        created = start + rng.random() * span * 0.5
        updated = iso(min(start + span, created + rng.random() * span * 0.5))
        handle = f"seeded-product-{n:06d}"
        while handle in shop.handles:
            handle += "-1"
        product = Product(
            next(ids),
            f"Product {n:06d}",
            handle,
            iso(created),
            updated,
            description_html=f"<p>Seeded product {n}.</p>",
            vendor=f"Vendor {n % 17}",
            product_type=("Shirts", "Shoes", "Bags", "Hats")[n % 4],
            tags=["seeded", f"group-{n % 10}"],
        )
        values = [
            OptionValue(next(ids), SIZES[i] if i < len(SIZES) else f"Size {i + 1}") for i in range(variants)
        ]
        product.options = [Option(next(ids), "Size", 1, values)]
        for i, value in enumerate(values):
            item = InventoryItem(next(ids))
            variant = Variant(next(ids), product, i + 1, [value], item, product.created_at, updated)
            item.variant = variant
            variant.sku = sku_format.format(product=n, variant=i + 1)
            variant.price = _money(rng.randrange(500, 20_000))
            if primary is not None:
                variant.quantities[primary] = {"available": rng.randrange(0, 100)}
            product.variants.append(variant)
            shop.variants[variant.id] = variant
            shop.inventory_items[item.id] = item
            shop.sku_index.setdefault(variant.sku.casefold(), set()).add(variant.id)
        shop.add_product(product)
        made.append(product)
    shop.commerce.touch()
    return made


def _address(address_id: int, rng: random.Random, first: str, last: str, phone: str | None) -> Address:
    city, province, code, country, country_code, zip_code = rng.choice(PLACES)
    street = f"{rng.choice(STREETS)} {rng.randrange(1, 200)}"
    return Address(
        address_id,
        first,
        last,
        None,
        street,
        None,
        city,
        province,
        code,
        country,
        country_code,
        zip_code,
        phone,
    )


def seed_customers(shop: ShopState, count: int, *, seed: int = 0) -> list[Customer]:
    rng = random.Random(f"customers-{seed}")
    settings = shop.settings
    start, span = settings.seed_start, settings.seed_span_days * DAY
    customers = shop.commerce.customers
    ids = iter(reserve_ids(2 * count))
    offset = len(customers)
    made: list[Customer] = []
    for n in range(offset + 1, offset + count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        phone = f"+49151{n:08d}" if rng.random() < 0.7 else None
        created = start + rng.random() * span * 0.6
        updated = min(start + span, created + rng.random() * span * 0.4)
        customer_id = next(ids)
        address = _address(next(ids), rng, first, last, phone)
        state = "ENABLED" if rng.random() < 0.9 else rng.choice(("DISABLED", "INVITED", "DECLINED"))
        customer = Customer(
            customer_id,
            f"{first}.{last}.{n}@example.com".lower(),
            first,
            last,
            phone,
            created,
            updated,
            [address],
            address,
            tags=rng.choice(TAG_SETS),
            state=state,
            accepts_marketing=rng.random() < 0.4,
        )
        customers[customer_id] = customer
        made.append(customer)
    shop.commerce.touch()
    return made


def seed_orders(shop: ShopState, count: int, lines_per_order: int = 3, *, seed: int = 0) -> list[Order]:
    """``count`` orders of ``lines_per_order`` lines over the shop's variants, by its customers (1 in 20 a
    guest), processed in id order over the seeding span; a mix of financial and fulfilment states.

    The random draws are made for all orders at once (numpy), so 100,000 orders take about a second.
    """
    settings = shop.settings
    commerce = shop.commerce
    lines = commerce.lines
    rng = np.random.default_rng([seed, 7])
    start, span = settings.seed_start, settings.seed_span_days * DAY
    variants = list(shop.variants.values())
    customers = list(commerce.customers.values())
    k = lines_per_order
    # lines: variant, quantity, prices; a line without variants to draw from is a custom item
    if variants:
        pick = rng.integers(0, len(variants), size=(count, k))
        unit_of = np.array([cents(v.price) for v in variants], dtype=np.int64)
        snap_of = np.array([lines.snapshot_of(v) for v in variants], dtype=np.int64)
        unit, snapshot = unit_of[pick], snap_of[pick]
    else:
        unit = np.full((count, k), 1000, dtype=np.int64)
        snapshot = np.zeros((count, k), dtype=np.int64)
    quantity = rng.integers(1, 4, size=(count, k))
    discount = np.where(rng.random((count, k)) < 0.1, quantity * unit // 10, 0)
    tax = np.rint((quantity * unit - discount) * TAX_RATE_BP / 10_000).astype(np.int64)
    # orders: when, by whom, in which state
    processed = start + (np.arange(count) + rng.random(count)) / max(count, 1) * span * 0.9
    updated = np.minimum(start + span, processed + rng.random(count) * 10 * DAY)
    buyer = rng.integers(0, max(len(customers), 1), size=count)
    guest = rng.random(count) < 0.05 if customers else np.ones(count, dtype=bool)
    shipping = np.where(rng.random(count) < 0.7, SHIPPING, 0)
    names = [name for name, _ in FINANCIAL]
    weights = np.array([weight for _, weight in FINANCIAL], dtype=float)
    financial = rng.choice(len(names), size=count, p=weights / weights.sum())
    cancelled = rng.random(count) < 0.03
    fulfilled = (np.array(names)[financial] == "PAID") & ~cancelled & (rng.random(count) < 0.6)
    closed = cancelled | (fulfilled & (rng.random(count) < 0.5))
    totals = (quantity * unit - discount + tax).sum(axis=1) + shipping

    first_line = len(lines)
    order_ids = reserve_ids(count)
    line_ids = reserve_ids(count * k)
    lines.add_block(line_ids.start, first_line)
    for column, values in (
        (lines.order_id, np.repeat(np.asarray(order_ids, dtype=np.int64), k)),
        (lines.snapshot, snapshot.ravel()),
        (lines.quantity, quantity.ravel()),
        (lines.unit, unit.ravel()),
        (lines.discount, discount.ravel()),
        (lines.tax, tax.ravel()),
        (lines.fulfilled, np.where(fulfilled[:, None], quantity, 0).ravel()),
    ):
        column.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())

    made: list[Order] = []
    location = shop.primary_location
    currency = settings.currency_code
    rows = zip(
        order_ids,
        processed.tolist(),
        updated.tolist(),
        buyer.tolist(),
        guest.tolist(),
        shipping.tolist(),
        financial.tolist(),
        cancelled.tolist(),
        fulfilled.tolist(),
        closed.tolist(),
        totals.tolist(),
        strict=True,
    )
    for n, (order_id, at, changed, who, is_guest, ship, status, cancel, done, close, total) in enumerate(
        rows
    ):
        number = commerce.next_order_number
        commerce.next_order_number += 1
        customer = None if is_guest else customers[who]
        address = customer.default_address if customer is not None else None
        order = Order(
            order_id,
            number,
            customer,
            customer.email if customer is not None else f"guest.{number}@example.com",
            at,
            changed,
            at,
            first_line + n * k,
            k,
            currency,
            currency,
            1.0,
            address,
            address,
            TAX_RATE_BP,
            shipping=ship,
            financial_status=names[status],
            location_id=location,
        )
        if cancel:
            order.cancelled_at = changed
            order.cancel_reason = "CUSTOMER"
            order.financial_status = "REFUNDED" if order.financial_status == "PAID" else "VOIDED"
        elif done:
            order.fulfillment_status = "FULFILLED"
            order.tracking_seed = f"00340434{number:010d}"
        if close:
            order.closed_at = changed
        commerce.orders[order_id] = order
        if customer is not None:
            customer.number_of_orders += 1
            if not cancel:
                customer.amount_spent += total
            customer.last_order_id = order_id
        made.append(order)
    commerce.touch()
    return made
