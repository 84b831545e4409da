"""The REST Admin resource JSON of customers, orders, products and inventory levels (contract §11, §12.3):
the bodies of ``customers.json`` / ``orders.json`` / ``products.json`` and of webhook deliveries.

REST names fields in snake_case, gives ids as numbers (plus ``admin_graphql_api_id``), money as strings,
``tags`` as one comma-separated string, enum values in lower case and times with the shop's offset. Fields
the emulator does not model carry the value a shop without that feature shows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from connector_pipelines.sandbox.shopify_commerce import Address, Commerce, Customer, Fulfillment, Order
from connector_pipelines.sandbox.shopify_gql import Json
from connector_pipelines.sandbox.shopify_resolve import amount
from connector_pipelines.sandbox.shopify_search import instant
from connector_pipelines.sandbox.shopify_store import (
    InventoryItem,
    Location,
    Product,
    ShopState,
    Variant,
    gid,
)

Payload = dict[str, Json]


def rest_time(value: float | str | None) -> str | None:
    """A time as REST writes it: ISO 8601 with the shop's offset (the emulator's shops are on UTC)."""
    at = instant(value)
    if at is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(at))


def _set(minor: int, currency: str) -> Payload:
    money = {"amount": amount(minor), "currency_code": currency}
    return {"shop_money": money, "presentment_money": money}


def address_json(address: Address, customer_id: int | None = None, default: bool | None = None) -> Payload:
    out: Payload = {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province,
        "country": address.country,
        "zip": address.zip,
        "phone": address.phone,
        "name": address.name,
        "province_code": address.province_code,
        "country_code": address.country_code,
    }
    if customer_id is not None:
        out = {"id": address.id, "customer_id": customer_id, **out, "country_name": address.country}
        out["default"] = bool(default)
    return out


def customer_json(shop: ShopState, customer: Customer) -> Payload:
    currency = shop.settings.currency_code
    last = shop.commerce.orders.get(customer.last_order_id or 0)
    consent = "subscribed" if customer.accepts_marketing else "not_subscribed"
    return {
        "id": customer.id,
        "email": customer.email,
        "created_at": rest_time(customer.created_at),
        "updated_at": rest_time(customer.updated_at),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "orders_count": customer.number_of_orders,
        "state": customer.state.lower(),
        "total_spent": amount(customer.amount_spent),
        "last_order_id": last.id if last else None,
        "note": customer.note,
        "verified_email": customer.verified_email,
        "multipass_identifier": None,
        "tax_exempt": customer.tax_exempt,
        "tags": ", ".join(customer.tags),
        "last_order_name": last.name if last else None,
        "currency": currency,
        "phone": customer.phone,
        "addresses": [
            address_json(a, customer.id, a is customer.default_address) for a in customer.addresses
        ],
        "tax_exemptions": [],
        "email_marketing_consent": {
            "state": consent,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
        }
        if customer.email
        else None,
        "sms_marketing_consent": None,
        "admin_graphql_api_id": gid("Customer", customer.id),
        "default_address": (
            address_json(customer.default_address, customer.id, True) if customer.default_address else None
        ),
    }


_FULFILMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}


def _line_json(shop: ShopState, order: Order, index: int) -> Payload:
    commerce = shop.commerce
    lines = commerce.lines
    snap = lines.view(index)
    currency = order.currency
    quantity, unit, discount = lines.quantity[index], lines.unit[index], lines.discount[index]
    remaining = 0 if order.cancelled_at is not None else commerce.remaining(index)
    line_id = lines.id_of(index)
    name = (
        snap.title
        if not snap.variant_title or snap.variant_title == "Default Title"
        else (f"{snap.title} - {snap.variant_title}")
    )
    rate = order.tax_rate_bp / 10_000
    return {
        "id": line_id,
        "admin_graphql_api_id": gid("LineItem", line_id),
        "fulfillable_quantity": remaining,
        "fulfillment_service": "manual",
        "fulfillment_status": "fulfilled"
        if lines.fulfilled[index] >= quantity
        else ("partial" if lines.fulfilled[index] else None),
        "gift_card": False,
        "grams": 0,
        "name": name,
        "price": amount(unit),
        "price_set": _set(unit, currency),
        "product_exists": snap.product_id in shop.products,
        "product_id": snap.product_id or None,
        "properties": [],
        "quantity": quantity,
        "requires_shipping": True,
        "sku": snap.sku,
        "taxable": snap.taxable,
        "title": snap.title,
        "total_discount": amount(discount),
        "total_discount_set": _set(discount, currency),
        "variant_id": snap.variant_id or None,
        "variant_inventory_management": "shopify",
        "variant_title": snap.variant_title,
        "vendor": snap.vendor,
        "tax_lines": [
            {
                "price": amount(lines.tax[index]),
                "rate": rate,
                "title": "VAT",
                "price_set": _set(lines.tax[index], currency),
            }
        ]
        if lines.tax[index]
        else [],
        "duties": [],
        "discount_allocations": [],
    }


def fulfillment_json(shop: ShopState, done: Fulfillment) -> Payload:
    order = done.order
    first = done.tracking[0] if done.tracking else None
    return {
        "id": done.id,
        "admin_graphql_api_id": gid("Fulfillment", done.id),
        "created_at": rest_time(done.created_at),
        "location_id": done.location_id,
        "name": done.name,
        "order_id": order.id,
        "service": "manual",
        "shipment_status": None,
        "status": done.status.lower(),
        "tracking_company": first.company if first else None,
        "tracking_number": first.number if first else None,
        "tracking_numbers": [t.number for t in done.tracking if t.number],
        "tracking_url": first.url if first else None,
        "tracking_urls": [t.url for t in done.tracking if t.url],
        "updated_at": rest_time(done.updated_at),
        "line_items": [{**_line_json(shop, order, i), "quantity": q} for i, q in sorted(done.lines.items())],
    }


def order_json(shop: ShopState, order: Order) -> Payload:
    commerce: Commerce = shop.commerce
    currency = order.currency
    subtotal, tax, discounts = commerce.subtotal(order), commerce.tax(order), commerce.discounts(order)
    total = commerce.total(order)
    lines_total = sum(commerce.lines.quantity[i] * commerce.lines.unit[i] for i in order.lines)
    customer = order.customer
    rate = order.tax_rate_bp / 10_000
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "app_id": None,
        "buyer_accepts_marketing": bool(customer and customer.accepts_marketing),
        "cancel_reason": order.cancel_reason.lower() if order.cancel_reason else None,
        "cancelled_at": rest_time(order.cancelled_at),
        "closed_at": rest_time(order.closed_at),
        "confirmation_number": f"C{order.id % 1_000_000_000:09d}",
        "confirmed": True,
        "contact_email": order.email,
        "created_at": rest_time(order.created_at),
        "currency": currency,
        "current_subtotal_price": amount(subtotal),
        "current_subtotal_price_set": _set(subtotal, currency),
        "current_total_discounts": amount(discounts),
        "current_total_discounts_set": _set(discounts, currency),
        "current_total_price": amount(total),
        "current_total_price_set": _set(total, currency),
        "current_total_tax": amount(tax),
        "current_total_tax_set": _set(tax, currency),
        "customer_locale": "en",
        "email": order.email,
        "estimated_taxes": False,
        "financial_status": order.financial_status.lower(),
        "fulfillment_status": _FULFILMENT.get(order.fulfillment_status),
        "name": order.name,
        "note": order.note,
        "number": order.number - 1000,
        "order_number": order.number,
        "phone": customer.phone if customer else None,
        "presentment_currency": order.presentment_currency,
        "processed_at": rest_time(order.processed_at),
        "source_name": order.source_name,
        "subtotal_price": amount(subtotal),
        "subtotal_price_set": _set(subtotal, currency),
        "tags": ", ".join(order.tags),
        "tax_lines": [{"price": amount(tax), "rate": rate, "title": "VAT", "price_set": _set(tax, currency)}]
        if tax
        else [],
        "taxes_included": False,
        "test": order.test,
        "total_discounts": amount(discounts),
        "total_discounts_set": _set(discounts, currency),
        "total_line_items_price": amount(lines_total),
        "total_line_items_price_set": _set(lines_total, currency),
        "total_price": amount(total),
        "total_price_set": _set(total, currency),
        "total_shipping_price_set": _set(order.shipping, currency),
        "total_tax": amount(tax),
        "total_tax_set": _set(tax, currency),
        "total_weight": 0,
        "updated_at": rest_time(order.updated_at),
        "billing_address": address_json(order.billing_address) if order.billing_address else None,
        "shipping_address": address_json(order.shipping_address) if order.shipping_address else None,
        "customer": _order_customer(shop, customer),
        "line_items": [_line_json(shop, order, i) for i in order.lines],
        "fulfillments": [fulfillment_json(shop, f) for f in commerce.fulfillments_of(order)],
        "shipping_lines": [
            {"code": "Standard", "price": amount(order.shipping), "title": "Standard", "source": "shopify"}
        ]
        if order.shipping
        else [],
        "refunds": [],
    }


def _order_customer(shop: ShopState, customer: Customer | None) -> Payload | None:
    if customer is None:
        return None
    full = customer_json(shop, customer)
    return {
        k: full[k]
        for k in (
            "id",
            "email",
            "created_at",
            "updated_at",
            "first_name",
            "last_name",
            "state",
            "note",
            "verified_email",
            "tags",
            "currency",
            "phone",
            "admin_graphql_api_id",
            "default_address",
        )
    }


def variant_json(variant: Variant) -> Payload:
    options = [v.name for v in variant.option_values] + [None, None, None]
    primary = min(variant.quantities) if variant.quantities else None
    return {
        "id": variant.id,
        "product_id": variant.product.id,
        "title": variant.title,
        "price": variant.price,
        "position": variant.position,
        "inventory_policy": variant.inventory_policy.lower(),
        "compare_at_price": variant.compare_at_price,
        "option1": options[0],
        "option2": options[1],
        "option3": options[2],
        "created_at": rest_time(variant.created_at),
        "updated_at": rest_time(variant.updated_at),
        "taxable": variant.taxable,
        "barcode": variant.barcode,
        "fulfillment_service": "manual",
        "inventory_management": "shopify" if variant.inventory_item.tracked else None,
        "requires_shipping": variant.inventory_item.requires_shipping,
        "sku": variant.sku,
        "weight": 0.0,
        "weight_unit": "kg",
        "inventory_item_id": variant.inventory_item.id,
        "inventory_quantity": variant.inventory_quantity,
        "old_inventory_quantity": variant.inventory_quantity,
        "admin_graphql_api_id": gid("ProductVariant", variant.id),
        "image_id": variant.media[0].id if variant.media else None,
        "location_id": primary,
    }


def product_json(shop: ShopState, product: Product) -> Payload:
    images = [
        {
            "id": media.id,
            "alt": media.alt or None,
            "position": i + 1,
            "product_id": product.id,
            "created_at": rest_time(media.created_at),
            "updated_at": rest_time(media.updated_at),
            "admin_graphql_api_id": gid("ProductImage", media.id),
            "width": None,
            "height": None,
            "src": media.source,
            "variant_ids": [v.id for v in product.variants if media in v.media],
        }
        for i, media in enumerate(product.media)
    ]
    return {
        "id": product.id,
        "title": product.title,
        "body_html": product.description_html,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "created_at": rest_time(product.created_at),
        "handle": product.handle,
        "updated_at": rest_time(product.updated_at),
        "published_at": rest_time(product.created_at) if product.status == "ACTIVE" else None,
        "template_suffix": product.template_suffix,
        "published_scope": "web",
        "tags": ", ".join(product.tags),
        "status": product.status.lower(),
        "admin_graphql_api_id": gid("Product", product.id),
        "variants": [variant_json(v) for v in product.variants],
        "options": [
            {
                "id": o.id,
                "product_id": product.id,
                "name": o.name,
                "position": o.position,
                "values": [v.name for v in o.values],
            }
            for o in product.options
        ],
        "images": images,
        "image": images[0] if images else None,
    }


def inventory_level_json(item: InventoryItem, location: Location, variant: Variant) -> Payload:
    stored = variant.quantities.get(location.id, {})
    return {
        "inventory_item_id": item.id,
        "location_id": location.id,
        "available": stored.get("available", 0),
        "updated_at": rest_time(variant.updated_at),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location.id}?inventory_item_id={item.id}",
    }


def record_json(shop: ShopState, record: object) -> Payload | None:
    """The REST body of a changed record (None for one the emulator has no REST shape for)."""
    if isinstance(record, Customer):
        return customer_json(shop, record)
    if isinstance(record, Order):
        return order_json(shop, record)
    if isinstance(record, Product):
        return product_json(shop, record)
    if isinstance(record, Mapping) and isinstance(record.get("item"), InventoryItem):
        return inventory_level_json(record["item"], record["location"], record["variant"])
    return None
