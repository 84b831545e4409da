"""The writes an ERP gateway makes besides ``productSet``: stock (``inventorySetQuantities``,
``inventoryAdjustQuantities``), prices (``productVariantsBulkUpdate``) and shipments (``fulfillmentCreate``),
per the 2026-07 schema.

Each mutation validates all of its input first and writes nothing when any ``userErrors`` come back. The
inventory mutations take ``@idempotent(key:)`` (mandatory from 2026-04, setting ``idempotency``): a repeated
key with the same input answers the first result without applying it again; with other input it is
``IDEMPOTENCY_KEY_PARAMETER_MISMATCH``. ``changeFromQuantity`` must be given (``null`` skips the
compare-and-swap). Error messages are not in the schema and are UNVERIFIED; the codes are the schema's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import orjson

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_changes import emit, fulfil, product_written
from connector_pipelines.sandbox.shopify_commerce import Order, Tracking
from connector_pipelines.sandbox.shopify_gql import FieldError, Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_products import apply_metafields, check_metafields
from connector_pipelines.sandbox.shopify_resolve import Args, Table, iso_time, path_keys
from connector_pipelines.sandbox.shopify_store import (
    InventoryItem,
    Location,
    ShopState,
    Variant,
    gid,
    iso,
    next_id,
    parse_gid,
)

UserError = dict[str, Json]
R = Resolver[RequestContext]
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_canceled",
        "movement_created",
        "movement_received",
        "movement_updated",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
ADJUSTABLE = frozenset(
    {"available", "damaged", "quality_control", "reserved", "safety_stock", "incoming", "on_hand"}
)
QUANTITY_LIMIT = 1_000_000_000
IDEMPOTENT_FROM = "2026-04"


def _error(path: list[str], message: str, code: str | None) -> UserError:
    return {"field": path, "message": message, "code": code}


# --- idempotency --------------------------------------------------------------------------------------------


def _idempotent(name: str, run: Callable[[Args, RequestContext], dict[str, Json]]) -> R:
    def resolve(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
        keys = path_keys(path)
        key = ctx.idempotency_keys.get(str(keys[-1])) if keys else None
        if key is None:
            version = ctx.api_version
            newer = version == "unstable" or version >= IDEMPOTENT_FROM
            if ctx.settings.idempotency == "by_version" and newer:
                raise FieldError(
                    f"The @idempotent directive is required for {name} from API version {IDEMPOTENT_FROM}.",
                    {"code": "BAD_REQUEST"},
                )
            return run(args, ctx)
        if not key.strip():
            raise FieldError("The idempotency key cannot be an empty string.", {"code": "BAD_REQUEST"})
        fingerprint = orjson.dumps([name, args], option=orjson.OPT_SORT_KEYS)
        found = ctx.shop.idempotency.get(key)
        if found is not None:
            if found[0] != fingerprint:
                message = "The idempotency key was used before with different parameters."
                error = _error(["input"], message, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
                return {"inventoryAdjustmentGroup": None, "userErrors": [error]}
            return found[1]
        payload = run(args, ctx)
        if not payload["userErrors"]:
            ctx.shop.idempotency[key] = (fingerprint, payload)
        return payload

    return resolve


# --- inventory ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustmentGroup:
    """An ``InventoryAdjustmentGroup``: the changes one inventory mutation made."""

    id: int
    created_at: float
    reason: str
    reference_document_uri: str | None
    changes: list[_Change]


@dataclass(frozen=True)
class _Change:
    item: InventoryItem
    location: Location
    name: str
    delta: int
    after: int
    ledger: str | None = None


def _stored(variant: Variant, location: int) -> dict[str, int]:
    return variant.quantities.setdefault(location, {})


def _on_hand(stored: dict[str, int]) -> int:
    return stored.get("on_hand", stored.get("available", 0) + stored.get("committed", 0))


def _quantity(stored: dict[str, int], name: str) -> int:
    return _on_hand(stored) if name == "on_hand" else stored.get(name, 0)


def _uri_ok(value: str | None) -> bool:
    if value is None:
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def _common_checks(data: dict[str, Json], errors: list[UserError]) -> None:
    if data["reason"] not in REASONS:
        errors.append(
            _error(["input", "reason"], f"The reason '{data['reason']}' is not valid.", "INVALID_REASON")
        )
    if not _uri_ok(data.get("referenceDocumentUri")):
        errors.append(
            _error(
                ["input", "referenceDocumentUri"],
                "The reference document URI is not valid.",
                "INVALID_REFERENCE_DOCUMENT",
            )
        )


def _target(
    shop: ShopState, item_id: str, location_id: str, here: list[str], errors: list[UserError]
) -> tuple[InventoryItem, Location] | None:
    parsed = parse_gid(item_id, "InventoryItem")
    item = shop.inventory_items.get(parsed[1]) if parsed else None
    location = shop.location(location_id)
    if item is None or item.variant is None:
        errors.append(
            _error(
                [*here, "inventoryItemId"],
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            )
        )
        return None
    if location is None:
        errors.append(
            _error([*here, "locationId"], "The specified location could not be found.", "INVALID_LOCATION")
        )
        return None
    if location.id not in item.variant.stocked_at(shop.primary_location):
        errors.append(
            _error(
                [*here, "locationId"],
                f"The item is not stocked at the location '{location.name}'.",
                "ITEM_NOT_STOCKED_AT_LOCATION",
            )
        )
        return None
    return item, location


def _cas(
    stored: dict[str, int],
    name: str,
    entry: dict[str, Json],
    here: list[str],
    errors: list[UserError],
    code: str | None,
) -> bool:
    if "changeFromQuantity" not in entry:
        errors.append(
            _error(
                [*here, "changeFromQuantity"],
                "changeFromQuantity is required: pass the quantity you expect, or null to skip the check.",
                code,
            )
        )
        return False
    expected = entry["changeFromQuantity"]
    if expected is not None and expected != _quantity(stored, name):
        errors.append(
            _error(
                [*here, "changeFromQuantity"],
                f"The quantity changed: expected {expected}, found {_quantity(stored, name)}.",
                "CHANGE_FROM_QUANTITY_STALE",
            )
        )
        return False
    return True


def _set(shop: ShopState, stored: dict[str, int], name: str, value: int) -> list[tuple[str, int, int]]:
    """Set quantity ``name``; returns (name, delta, after) of every quantity that moved."""
    before_on_hand = _on_hand(stored)
    if name == "available":
        delta = value - stored.get("available", 0)
        stored["available"] = value
        if "on_hand" in stored:
            stored["on_hand"] += delta
        return [("available", delta, value), ("on_hand", delta, before_on_hand + delta)]
    delta = value - before_on_hand
    stored["available"] = stored.get("available", 0) + delta
    if "on_hand" in stored:
        stored["on_hand"] = value
    return [("on_hand", delta, value), ("available", delta, stored["available"])]


def _inventory_set(args: Args, ctx: RequestContext) -> dict[str, Json]:
    shop = ctx.shop
    data = args["input"]
    errors: list[UserError] = []
    name = data["name"]
    if name not in ("available", "on_hand"):
        errors.append(
            _error(
                ["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            )
        )
    _common_checks(data, errors)
    planned: list[tuple[InventoryItem, Location, int]] = []
    seen: set[tuple[int, int]] = set()
    for i, entry in enumerate(data["quantities"]):
        here = ["input", "quantities", str(i)]
        found = _target(shop, entry["inventoryItemId"], entry["locationId"], here, errors)
        if found is None:
            continue
        item, location = found
        if (item.id, location.id) in seen:
            errors.append(
                _error(
                    here,
                    "The same inventory item and location appear twice.",
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                )
            )
            continue
        seen.add((item.id, location.id))
        quantity = entry["quantity"]
        if quantity > QUANTITY_LIMIT or quantity < -QUANTITY_LIMIT:
            code = "INVALID_QUANTITY_TOO_HIGH" if quantity > 0 else "INVALID_QUANTITY_TOO_LOW"
            errors.append(_error([*here, "quantity"], "The quantity is out of range.", code))
            continue
        assert item.variant is not None
        if name in ("available", "on_hand") and _cas(
            _stored(item.variant, location.id), name, entry, here, errors, "COMPARE_QUANTITY_REQUIRED"
        ):
            planned.append((item, location, quantity))
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    changes: list[_Change] = []
    for item, location, quantity in planned:
        assert item.variant is not None
        moved = _set(shop, _stored(item.variant, location.id), name, quantity)
        changes += [_Change(item, location, n, delta, after) for n, delta, after in moved]
        _inventory_changed(ctx, item, location)
    return {"inventoryAdjustmentGroup": _group(ctx, data, changes), "userErrors": []}


def _inventory_adjust(args: Args, ctx: RequestContext) -> dict[str, Json]:
    shop = ctx.shop
    data = args["input"]
    errors: list[UserError] = []
    name = data["name"]
    if name not in ADJUSTABLE:
        errors.append(
            _error(["input", "name"], f"The quantity name '{name}' is not valid.", "INVALID_QUANTITY_NAME")
        )
    _common_checks(data, errors)
    planned: list[tuple[InventoryItem, Location, int, str | None]] = []
    for i, entry in enumerate(data["changes"]):
        here = ["input", "changes", str(i)]
        found = _target(shop, entry["inventoryItemId"], entry["locationId"], here, errors)
        if found is None:
            continue
        item, location = found
        ledger = entry.get("ledgerDocumentUri")
        if name != "available" and (
            ledger is None or not _uri_ok(ledger) or ledger.startswith("gid://shopify/")
        ):
            errors.append(
                _error(
                    [*here, "ledgerDocumentUri"],
                    "A ledger document URI is required for this quantity name.",
                    "INVALID_LEDGER_DOCUMENT",
                )
            )
            continue
        assert item.variant is not None
        stored = _stored(item.variant, location.id)
        after = _quantity(stored, name) + entry["delta"]
        if after > QUANTITY_LIMIT or after < -QUANTITY_LIMIT:
            code = "INVALID_QUANTITY_TOO_HIGH" if after > 0 else "INVALID_QUANTITY_TOO_LOW"
            errors.append(_error([*here, "delta"], "The resulting quantity is out of range.", code))
            continue
        if _cas(stored, name, entry, here, errors, None):
            planned.append((item, location, entry["delta"], ledger))
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    changes: list[_Change] = []
    for item, location, delta, ledger in planned:
        assert item.variant is not None
        stored = _stored(item.variant, location.id)
        if name in ("available", "on_hand"):
            moved = _set(shop, stored, name, _quantity(stored, name) + delta)
            changes += [_Change(item, location, n, d, after, ledger) for n, d, after in moved]
        else:
            stored[name] = stored.get(name, 0) + delta
            changes.append(_Change(item, location, name, delta, stored[name], ledger))
        _inventory_changed(ctx, item, location)
    return {"inventoryAdjustmentGroup": _group(ctx, data, changes), "userErrors": []}


def _inventory_changed(ctx: RequestContext, item: InventoryItem, location: Location) -> None:
    variant = item.variant
    assert variant is not None
    variant.updated_at = iso(ctx.now)
    level = {"item": item, "location": location, "variant": variant}
    message = f"Inventory of {variant.sku or variant.title} at {location.name} was updated."
    emit(
        ctx.shop,
        ("inventory_levels/update",),
        ("PRODUCT_VARIANT", variant.id),
        "inventory_update",
        message,
        level,
        ctx.now,
    )


def _group(ctx: RequestContext, data: dict[str, Json], changes: list[_Change]) -> AdjustmentGroup:
    return AdjustmentGroup(next_id(), ctx.now, data["reason"], data.get("referenceDocumentUri"), changes)


def _group_changes(group: AdjustmentGroup, args: Args, ctx: RequestContext, path: PathLink) -> list[Json]:
    items = set(args.get("inventoryItemIds") or ())
    locations = set(args.get("locationIds") or ())
    names = set(args.get("quantityNames") or ())
    out: list[Json] = []
    for change in group.changes:
        if items and gid("InventoryItem", change.item.id) not in items:
            continue
        if locations and gid("Location", change.location.id) not in locations:
            continue
        if names and change.name not in names:
            continue
        out.append(
            {
                "name": change.name,
                "delta": change.delta,
                "quantityAfterChange": change.after,
                "item": change.item,
                "location": change.location,
                "ledgerDocumentUri": change.ledger,
            }
        )
    return out


# --- productVariantsBulkUpdate ------------------------------------------------------------------------------


def _variants_bulk_update(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    shop = ctx.shop
    product = shop.product(args["productId"])
    if product is None:
        error = _error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        return {"product": None, "productVariants": None, "userErrors": [error]}
    errors: list[UserError] = []
    planned: list[tuple[Variant, dict[str, Json], Any]] = []
    for i, data in enumerate(args["variants"]):
        here = ["variants", str(i)]
        before = len(errors)
        variant = _own_variant(shop, product.id, data, here, errors)
        for key in ("price", "compareAtPrice"):
            if data.get(key) is not None and Decimal(data[key]) < 0:
                errors.append(
                    _error(
                        [*here, key], f"{key} must be greater than or equal to 0", "GREATER_THAN_OR_EQUAL_TO"
                    )
                )
        if data.get("inventoryQuantities"):
            errors.append(
                _error(
                    [*here, "inventoryQuantities"],
                    "Inventory quantities can only be provided during create. To update inventory for "
                    "existing variants, use inventoryAdjustQuantities.",
                    "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE",
                )
            )
        metafields = None
        if variant is not None and data.get("metafields") is not None:
            metafields = check_metafields(
                data["metafields"], variant.metafields, [*here, "metafields"], errors, ctx.settings.app_id
            )
        if variant is not None and len(errors) == before:
            planned.append((variant, data, metafields))
    if errors and not args.get("allowPartialUpdates"):
        return {"product": None, "productVariants": None, "userErrors": errors}
    stamp = iso(ctx.now)
    for variant, data, metafields in planned:
        _apply_variant(shop, variant, data, stamp)
        if metafields is not None:
            variant.metafields = apply_metafields(metafields, "PRODUCTVARIANT", stamp, variant)
    if planned:
        product.updated_at = stamp
        product_written(shop, product, False, ctx.now)
    return {"product": product, "productVariants": [v for v, _, _ in planned], "userErrors": errors}


def _own_variant(
    shop: ShopState, product_id: int, data: dict[str, Json], here: list[str], errors: list[UserError]
) -> Variant | None:
    if data.get("id") is None:
        errors.append(
            _error([*here, "id"], "Product variant is missing ID attribute", "PRODUCT_VARIANT_ID_MISSING")
        )
        return None
    variant = shop.variant(data["id"])
    if variant is None:
        errors.append(
            _error([*here, "id"], "Product variant does not exist", "PRODUCT_VARIANT_DOES_NOT_EXIST")
        )
        return None
    if variant.product.id != product_id:
        errors.append(
            _error(
                [*here, "id"], "Product variant does not belong to this product", "MUST_BE_FOR_THIS_PRODUCT"
            )
        )
        return None
    return variant


def _apply_variant(shop: ShopState, variant: Variant, data: dict[str, Json], stamp: str) -> None:
    for key, attribute in (
        ("price", "price"),
        ("barcode", "barcode"),
        ("inventoryPolicy", "inventory_policy"),
        ("taxable", "taxable"),
        ("taxCode", "tax_code"),
        ("showUnitPrice", "show_unit_price"),
        ("requiresComponents", "requires_components"),
    ):
        if data.get(key) is not None or (key == "barcode" and key in data):
            setattr(variant, attribute, data[key])
    if "compareAtPrice" in data:
        variant.compare_at_price = data["compareAtPrice"]
    inventory = data.get("inventoryItem") or {}
    item = variant.inventory_item
    if "sku" in inventory:
        old = variant.sku
        variant.sku = inventory["sku"]
        shop.index_variant(variant, old, False, time.monotonic())
    if inventory.get("tracked") is not None:
        item.tracked = inventory["tracked"]
    if inventory.get("requiresShipping") is not None:
        item.requires_shipping = inventory["requiresShipping"]
    if "cost" in inventory:
        item.cost = inventory["cost"]
    variant.updated_at = stamp


# --- fulfillmentCreate ------------------------------------------------------------------------------------


def _fulfillment_create(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    shop = ctx.shop
    data = args["fulfillment"]
    errors: list[UserError] = []
    order: Order | None = None
    quantities: dict[int, int] = {}
    for i, group in enumerate(data["lineItemsByFulfillmentOrder"]):
        here = ["fulfillment", "lineItemsByFulfillmentOrder", str(i)]
        parsed = parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder")
        found = shop.commerce.orders.get(parsed[1]) if parsed else None
        if found is None:
            errors.append(
                {"field": [*here, "fulfillmentOrderId"], "message": "Fulfillment order does not exist."}
            )
            continue
        if order is not None and found is not order:
            errors.append({"field": here, "message": "All fulfillment orders must belong to the same order."})
            continue
        order = found
        if found.cancelled_at is not None or all(shop.commerce.remaining(x) == 0 for x in found.lines):
            status = "cancelled" if found.cancelled_at is not None else "closed"
            errors.append(
                {
                    "field": here,
                    "message": f"Fulfillment order {group['fulfillmentOrderId']} has an unfulfillable "
                    f"status= {status}.",
                }
            )
            continue
        _pick_lines(shop, found, group.get("fulfillmentOrderLineItems"), here, quantities, errors)
    if not data["lineItemsByFulfillmentOrder"]:
        errors.append(
            {
                "field": ["fulfillment", "lineItemsByFulfillmentOrder"],
                "message": "Line items by fulfillment order can't be blank.",
            }
        )
    if errors or order is None:
        return {"fulfillment": None, "userErrors": errors}
    tracking = _tracking(data.get("trackingInfo"))
    done = fulfil(
        shop, order, quantities, ctx.now, tracking=tracking, notify_customer=bool(data.get("notifyCustomer"))
    )
    return {"fulfillment": done, "userErrors": []}


def _pick_lines(
    shop: ShopState,
    order: Order,
    items: list[dict[str, Json]] | None,
    here: list[str],
    quantities: dict[int, int],
    errors: list[UserError],
) -> None:
    commerce = shop.commerce
    if items is None:  # the whole fulfillment order
        for index in order.lines:
            if commerce.remaining(index) > 0:
                quantities[index] = commerce.remaining(index)
        return
    for j, item in enumerate(items):
        there = [*here, "fulfillmentOrderLineItems", str(j)]
        parsed = parse_gid(item["id"], "FulfillmentOrderLineItem")
        found = commerce.order_of_line(parsed[1]) if parsed else None
        if found is None or found[0] is not order:
            errors.append({"field": [*there, "id"], "message": "Fulfillment order line item does not exist."})
            continue
        index = found[1]
        wanted = item["quantity"] + quantities.get(index, 0)
        if item["quantity"] <= 0 or wanted > commerce.remaining(index):
            message = (
                f"Invalid quantity {item['quantity']}: {commerce.remaining(index)} remain to be fulfilled."
            )
            errors.append({"field": [*there, "quantity"], "message": message})
            continue
        quantities[index] = wanted


def _tracking(data: dict[str, Json] | None) -> list[Tracking]:
    if not data:
        return []
    numbers = list(data.get("numbers") or ([data["number"]] if data.get("number") else []))
    urls = list(data.get("urls") or ([data["url"]] if data.get("url") else []))
    company = data.get("company")
    if not numbers:
        return [Tracking(None, company, urls[0])] if urls else []
    return [Tracking(n, company, urls[i] if i < len(urls) else None) for i, n in enumerate(numbers)]


MUTATION: dict[str, R] = {
    "inventorySetQuantities": _idempotent("inventorySetQuantities", _inventory_set),
    "inventoryAdjustQuantities": _idempotent("inventoryAdjustQuantities", _inventory_adjust),
    "productVariantsBulkUpdate": _variants_bulk_update,
    "fulfillmentCreate": _fulfillment_create,
}


def writes_table() -> Table:
    return {
        "Mutation": MUTATION,
        "InventoryAdjustmentGroup": {
            "id": lambda g, args, ctx, path: gid("InventoryAdjustmentGroup", g.id),
            "createdAt": lambda g, args, ctx, path: iso_time(g.created_at),
            "changes": _group_changes,
        },
    }
