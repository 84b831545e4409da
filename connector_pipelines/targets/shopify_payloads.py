"""Canonical catalog -> Shopify payloads, pure: ``productSet`` inputs (options, variants, prices, stock per
location, metafields, files) and the variables of removals, as ``targets/shopify.py`` sends them."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Literal

import orjson

from connector_pipelines.catalog.models import Media, OptionChoice, Product, Variant
from connector_pipelines.clients.http import JsonValue
from connector_pipelines.clients.shopify_models import UserError, product_set_variables
from connector_pipelines.errors import PayloadError

log = logging.getLogger(__name__)

Purpose = Literal["upsert", "delete", "archive", "draft"]

DEFAULT_OPTION = "Title"
DEFAULT_VALUE = "Default Title"
MAX_OPTIONS = 3
MAX_VARIANTS = 2048
MAX_MEDIA = 250  # media per product
MAX_INVENTORY_QUANTITIES = 50_000  # inventoryQuantities across all variants of one productSet
REMOVAL_STATUS = {"archive": "ARCHIVED", "draft": "DRAFT"}


def money(value: Decimal) -> str:
    """Shopify's ``Money`` scalar: a decimal string without exponent."""
    return format(value.normalize(), "f")


def option_name(choice: OptionChoice) -> str:
    return choice.option_name or choice.option_key.rsplit(":", 1)[-1]


def value_name(choice: OptionChoice) -> str:
    return choice.value_name or choice.value_key.rsplit(":", 1)[-1]


def product_options(product: Product) -> list[tuple[str, list[str]]]:
    """Option names with their values, in the order the variants first use them."""
    options: dict[str, list[str]] = {}
    for variant in product.variants:
        for choice in variant.options:
            values = options.setdefault(option_name(choice), [])
            value = value_name(choice)
            if value not in values:
                values.append(value)
    return list(options.items())


def shop_price(variant: Variant) -> tuple[Decimal | None, Decimal | None]:
    """(price, compareAtPrice) of a variant: its base price, the one from a quantity of one."""
    price = next((p for p in variant.prices if p.min_quantity <= 1), None)
    return (price.gross, price.list_gross) if price is not None else (None, None)


LocationResolver = Callable[[str], str]


def location_gid(location: str) -> str:
    """A location the source names by GID; a name needs the shop's locations (:class:`ShopifyWriter`)."""
    if location.startswith("gid://shopify/Location/"):
        return location
    raise PayloadError(f"location {location!r} is a name; it needs the shop's locations to resolve")


def file_input(media: Media) -> dict[str, JsonValue]:
    """``FileSetInput`` of an image by URL (Shopify fetches it)."""
    return {"originalSource": media.url, "contentType": "IMAGE", "alt": media.alt}


def media_digest(product: Product) -> str | None:
    """What the product's images are (URLs, alt texts, order, which variant shows which): None without any.
    Stored with the mapping, it tells whether ``files`` must be sent."""
    if not product.media:
        return None
    images = [[m.url, m.alt] for m in sorted(product.media, key=lambda m: m.position)]
    chosen = [[v.sku, *v.media_keys] for v in product.variants if v.media_keys]
    return hashlib.sha256(orjson.dumps([images, chosen])).hexdigest()[:32]


def variant_input(
    variant: Variant,
    options: Sequence[str],
    *,
    location_id: str | None = None,
    variant_id: str | None = None,
    locations: LocationResolver = location_gid,
    file: dict[str, JsonValue] | None = None,
) -> dict[str, JsonValue]:
    if options == [DEFAULT_OPTION] and not variant.options:
        option_values: list[JsonValue] = [{"optionName": DEFAULT_OPTION, "name": DEFAULT_VALUE}]
    else:
        chosen = {option_name(c): value_name(c) for c in variant.options}
        missing = [name for name in options if name not in chosen]
        if missing:
            raise PayloadError(f"SKU {variant.sku}: no value for option {missing[0]}")
        option_values = [{"optionName": name, "name": chosen[name]} for name in options]
    price, compare_at = shop_price(variant)
    doc: dict[str, JsonValue] = {
        "optionValues": option_values,
        "sku": variant.sku,
        # Explicit nulls clear what an earlier version of the row set.
        "barcode": variant.barcode or None,
        "compareAtPrice": money(compare_at) if compare_at is not None else None,
    }
    if variant_id:
        doc["id"] = variant_id
    if price is not None:
        doc["price"] = money(price)
    item: dict[str, JsonValue] = {}
    if variant.weight_kg is not None:
        item["measurement"] = {"weight": {"value": float(variant.weight_kg), "unit": "KILOGRAMS"}}
    quantities: list[JsonValue] = []
    if variant.stock_by_location:
        seen: set[str] = set()
        for stock in variant.stock_by_location:
            location = locations(stock.location)
            if location in seen:
                raise PayloadError(f"SKU {variant.sku}: stock for location {stock.location} given twice")
            seen.add(location)
            quantities.append({"locationId": location, "name": "available", "quantity": stock.quantity})
    elif location_id:
        quantities.append({"locationId": location_id, "name": "available", "quantity": variant.stock})
    if quantities:
        item["tracked"] = True
        doc["inventoryQuantities"] = quantities
    if item:
        doc["inventoryItem"] = item
    if variant.metafields:
        # Like the product's: sent only when there are some (an empty list removes every metafield).
        doc["metafields"] = [
            {"namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value}
            for m in variant.metafields
        ]
    if file is not None:
        doc["file"] = file
    return doc


def product_input(
    product: Product,
    *,
    language: str | None = None,
    location_id: str | None = None,
    variant_ids: Mapping[str, str] | None = None,
    files: bool = False,
    locations: LocationResolver = location_gid,
) -> dict[str, JsonValue]:
    """``ProductSetInput`` of a canonical product. List fields replace what Shopify has, so the variants sent
    are all the variants the product keeps; metafields are sent only when the product has some (an empty
    list would remove other apps' metafields too). With ``files`` the images are sent in order (an empty list
    removes the product's media) and each variant names its image; without, Shopify keeps the media."""
    texts = (product.texts.get(language) if language else None) or next(iter(product.texts.values()), None)
    if texts is None:
        raise PayloadError("the product has no title")
    if not product.variants:
        raise PayloadError("the product has no variants")
    if len(product.variants) > MAX_VARIANTS:
        raise PayloadError(f"{len(product.variants)} variants; Shopify allows {MAX_VARIANTS}")
    options = product_options(product)
    if len(options) > MAX_OPTIONS:
        raise PayloadError(f"{len(options)} options; Shopify allows {MAX_OPTIONS}")
    if not options:
        options = [(DEFAULT_OPTION, [DEFAULT_VALUE])]
    names = [name for name, _ in options]
    ids = variant_ids or {}
    media = sorted(product.media, key=lambda m: m.position)
    if len(media) > MAX_MEDIA:
        raise PayloadError(f"{len(media)} images; Shopify allows {MAX_MEDIA} per product")
    by_key = {m.key: file_input(m) for m in media} if files else {}
    variant_docs = [
        variant_input(
            v,
            names,
            location_id=location_id,
            variant_id=ids.get(v.sku),
            locations=locations,
            file=next((by_key[k] for k in v.media_keys if k in by_key), None) if by_key else None,
        )
        for v in product.variants
    ]
    quantities = sum(len(v.stock_by_location) or int(bool(location_id)) for v in product.variants)
    if quantities > MAX_INVENTORY_QUANTITIES:
        raise PayloadError(f"{quantities} inventory quantities; Shopify takes {MAX_INVENTORY_QUANTITIES}")
    doc: dict[str, JsonValue] = {
        "title": texts.name,
        "descriptionHtml": texts.description,
        "vendor": product.vendor,
        "productType": product.product_type,
        "tags": list(product.tags),
        "status": "ACTIVE" if product.active else "DRAFT",
        "productOptions": [
            {"name": name, "position": position, "values": [{"name": v} for v in values]}
            for position, (name, values) in enumerate(options, 1)
        ],
        "variants": variant_docs,
    }
    if files:
        doc["files"] = [by_key[m.key] for m in media]
    if product.metafields:
        doc["metafields"] = [
            {"namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value}
            for m in product.metafields
        ]
    return doc


def removal_variables(action: Purpose, product_id: str) -> dict[str, JsonValue]:
    """Variables retiring a product: ``productDelete``, or productSet of the archived / draft status."""
    if action == "delete":
        return {"input": {"id": product_id}}
    return product_set_variables({"status": REMOVAL_STATUS[action]}, {"id": product_id})


def payload_skus(payload: Mapping[str, JsonValue]) -> tuple[str, ...]:
    """The SKUs of a canonical product's JSON, without validating the whole model."""
    return tuple(str(v["sku"]) for v in payload.get("variants") or ())


def describe_errors(user_errors: Sequence[UserError], errors: Sequence[str], skus: Sequence[str]) -> str:
    """One line naming the SKU a Shopify error is about (from ``field``), else the product's SKUs."""
    shown = ", ".join(skus[:3]) + (" …" if len(skus) > 3 else "")
    parts = []
    for error in user_errors:
        path = error.field or []
        index = path[2] if len(path) > 2 and path[:2] == ["input", "variants"] else None
        where = (
            f"SKU {skus[int(index)]}"
            if index is not None and index.isdigit() and int(index) < len(skus)
            else f"SKUs {shown}"
        )
        code = f" [{error.code}]" if error.code else ""
        at = f" ({'.'.join(path)})" if path else ""
        parts.append(f"{where}: {error.message}{code}{at}")
    parts.extend(f"SKUs {shown}: {message}" for message in errors)
    return "; ".join(parts) or f"SKUs {shown}: Shopify answered without a product"
