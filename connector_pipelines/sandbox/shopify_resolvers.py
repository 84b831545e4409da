"""Resolvers: how the emulator's records answer the fields of the Admin API schema.

Leaf fields whose snake_case name is an attribute of the record need no entry (see ``Executor``); everything
else is listed here. Fields of the schema not listed (and not attributes) answer null, or an error
``NOT_IMPLEMENTED`` when non-null, so a client notices what the emulator does not model.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from graphql import (
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_changes import product_deleted, product_written
from connector_pipelines.sandbox.shopify_commerce_resolvers import TYPE_NAMES as COMMERCE_TYPES
from connector_pipelines.sandbox.shopify_commerce_resolvers import commerce_node, commerce_table
from connector_pipelines.sandbox.shopify_edits import (
    compare_digest,
    metafields_delete,
    metafields_set,
    tags_add,
    tags_remove,
)
from connector_pipelines.sandbox.shopify_gql import FieldError, Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_media import image_view, mime_type
from connector_pipelines.sandbox.shopify_products import ProductSet, parameterize, product_delete
from connector_pipelines.sandbox.shopify_resolve import (
    Args,
    Table,
    by_id,
    connection,
    count,
    path_keys,
    searched,
)
from connector_pipelines.sandbox.shopify_shop_resolvers import shop_table, shop_view
from connector_pipelines.sandbox.shopify_store import (
    BulkOperationRecord,
    Connection,
    Edge,
    InventoryItem,
    Location,
    MediaImage,
    Metafield,
    Option,
    OptionValue,
    Product,
    ProductOperationRecord,
    ShopState,
    SortKey,
    Variant,
    gid,
    next_id,
    parse_gid,
)
from connector_pipelines.sandbox.shopify_webhooks import Subscription, webhooks_table
from connector_pipelines.sandbox.shopify_writes import writes_table


@dataclass(frozen=True, slots=True)
class InventoryLevelView:
    """One inventory item at one location (``id`` is the location's, which orders the connection)."""

    id: int
    item: InventoryItem
    location: Location


_TYPE_NAMES: dict[type, str] = {
    **COMMERCE_TYPES,
    InventoryLevelView: "InventoryLevel",
    Subscription: "WebhookSubscription",
    Product: "Product",
    Variant: "ProductVariant",
    BulkOperationRecord: "BulkOperation",
    InventoryItem: "InventoryItem",
    Location: "Location",
    Metafield: "Metafield",
    MediaImage: "MediaImage",
}


def type_name_of(value: object) -> str:
    if isinstance(value, ProductOperationRecord):
        return value.kind
    if isinstance(value, dict) and "__typename" in value:
        return str(value["__typename"])
    return _TYPE_NAMES[type(value)]


# --- lookups ----------------------------------------------------------------------------------------------


def find_node(shop: ShopState, value: str) -> object | None:
    parsed = parse_gid(value)
    if parsed is None:
        raise FieldError(
            f"Invalid global id '{value}'",
            {"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"},
        )
    kind, number = parsed
    if kind == "Product":
        return shop.products.get(number)
    if kind == "ProductVariant":
        return shop.variants.get(number)
    if kind == "BulkOperation":
        return shop.bulk_operations.get(number)
    if kind in ("ProductSetOperation", "ProductDeleteOperation"):
        op = shop.operations.get(number)
        return op if op is not None and op.kind == kind else None
    if kind == "Location":
        return shop.location(value)
    if kind == "MediaImage":
        return shop.files.get(number)
    if kind == "InventoryItem":
        return shop.inventory_items.get(number)
    if kind == "ProductOption":
        return next(
            (option_view(o, p) for p in shop.products.values() for o in p.options if o.id == number), None
        )
    if kind == "Metafield":
        product_fields = (m for p in shop.products.values() for m in p.metafields)
        variant_fields = (m for v in shop.variants.values() for m in v.metafields)
        return next((m for m in itertools.chain(product_fields, variant_fields) if m.id == number), None)
    if kind == "WebhookSubscription":
        return shop.webhooks.get(number)
    return commerce_node(shop, kind, number)


_PRODUCT_SORT: dict[str, Callable[[Product], SortKey]] = {
    "TITLE": lambda p: (p.title.casefold(), p.id),
    "CREATED_AT": lambda p: (p.created_at, p.id),
    "UPDATED_AT": lambda p: (p.updated_at, p.id),
    "PRODUCT_TYPE": lambda p: (p.product_type.casefold(), p.id),
    "VENDOR": lambda p: (p.vendor.casefold(), p.id),
    "INVENTORY_TOTAL": lambda p: (sum(v.inventory_quantity for v in p.variants), p.id),
}
_VARIANT_SORT: dict[str, Callable[[Variant], SortKey]] = {
    "SKU": lambda v: ((v.sku or "").casefold(), v.id),
    "TITLE": lambda v: (v.title.casefold(), v.id),
    "NAME": lambda v: (f"{v.product.title} - {v.title}".casefold(), v.id),
    "FULL_TITLE": lambda v: (f"{v.product.title} - {v.title}".casefold(), v.id),
    "POSITION": lambda v: (v.position, v.id),
    "INVENTORY_QUANTITY": lambda v: (v.inventory_quantity, v.id),
    "INVENTORY_POLICY": lambda v: (v.inventory_policy, v.id),
}


def _sorted(
    items: list[Any], sorts: dict[str, Callable[[Any], SortKey]], sort_key: str | None
) -> tuple[list[Any], Callable[[Any], SortKey]]:
    key = sorts.get(sort_key or "ID")
    if key is None:
        return items, by_id  # insertion order is id order; unmodelled keys (RELEVANCE, ...) sort by id
    return sorted(items, key=key), key


# --- QueryRoot ----------------------------------------------------------------------------------------------


def _products(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Connection:
    found = searched(args, ctx, path, lambda w: ctx.shop.search_products(args.get("query"), w))
    items, key = _sorted(found, _PRODUCT_SORT, args.get("sortKey"))
    return connection(items, args, ctx, key)


def _product_variants(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Connection:
    found = searched(args, ctx, path, lambda w: ctx.shop.search_variants(args.get("query"), w, ctx.monotonic))
    items, key = _sorted(found, _VARIANT_SORT, args.get("sortKey"))
    return connection(items, args, ctx, key)


def _products_count(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    found = searched(args, ctx, path, lambda w: ctx.shop.search_products(args.get("query"), w))
    return count(len(found), args.get("limit"))


def _variants_count(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    found = searched(args, ctx, path, lambda w: ctx.shop.search_variants(args.get("query"), w, ctx.monotonic))
    return count(len(found), args.get("limit"))


def _node(_: object, args: Args, ctx: RequestContext, path: PathLink) -> object | None:
    return find_node(ctx.shop, args["id"])


def _nodes(_: object, args: Args, ctx: RequestContext, path: PathLink) -> list[object | None]:
    ids = args["ids"]
    if len(ids) > ctx.settings.max_array_input:
        raise FieldError(f"The ids argument accepts at most {ctx.settings.max_array_input} items.")
    return [find_node(ctx.shop, i) for i in ids]


def _identified(shop: ShopState, identifier: Args) -> Product | None:
    if identifier.get("id") is not None:
        return shop.product(identifier["id"])
    if identifier.get("handle") is not None:
        return shop.handles.get(parameterize(identifier["handle"]))
    custom = identifier.get("customId") or {}
    namespace = custom.get("namespace") or f"app--{shop.settings.app_id}"
    return next(
        (
            p
            for p in shop.products.values()
            for m in p.metafields
            if (m.namespace, m.key, m.value) == (namespace, custom.get("key"), custom.get("value"))
        ),
        None,
    )


def _bulk_operations(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Connection:
    query = args.get("query") or ""
    ops = list(ctx.shop.bulk_operations.values())
    for term in query.split():
        name, _sep, value = term.partition(":")
        if name == "status":
            ops = [op for op in ops if op.status.casefold() == value.casefold()]
        elif name == "operation_type":
            ops = [op for op in ops if op.type.casefold() == value.casefold()]
        elif name == "id":
            ops = [op for op in ops if str(op.id) == value.rsplit("/", 1)[-1]]
        else:
            ctx.search.append(
                {
                    "path": path_keys(path),
                    "query": query,
                    "warnings": [{"field": name, "message": "Invalid search field for this query."}],
                }
            )
    return connection(ops, args, ctx, lambda op: (op.created_at, op.id))


def _current_bulk(_: object, args: Args, ctx: RequestContext, path: PathLink) -> BulkOperationRecord | None:
    ops = list(ctx.shop.iter_bulk(args.get("type") or "QUERY"))
    return ops[-1] if ops else None


def _operation(_: object, args: Args, ctx: RequestContext, path: PathLink) -> ProductOperationRecord | None:
    node = find_node(ctx.shop, args["id"])
    return node if isinstance(node, ProductOperationRecord) else None


def _kind(*kinds: str) -> Resolver[RequestContext]:
    """A root field that looks one record up by ``id``: null when there is none of that kind."""

    def lookup(_: object, args: Args, ctx: RequestContext, path: PathLink) -> object | None:
        node = find_node(ctx.shop, args["id"]) if args.get("id") is not None else None
        return node if node is not None and type_name_of(node) in kinds else None

    return lookup


QUERY: dict[str, Resolver[RequestContext]] = {
    "products": _products,
    "productVariants": _product_variants,
    "productsCount": _products_count,
    "productVariantsCount": _variants_count,
    "product": _kind("Product"),
    "productVariant": _kind("ProductVariant"),
    "productByIdentifier": lambda _, args, ctx, path: _identified(ctx.shop, args["identifier"]),
    "productByHandle": lambda _, args, ctx, path: ctx.shop.handles.get(parameterize(args["handle"])),
    "node": _node,
    "nodes": _nodes,
    "bulkOperation": _kind("BulkOperation"),
    "bulkOperations": _bulk_operations,
    "currentBulkOperation": _current_bulk,
    "productOperation": _operation,
    "location": _kind("Location"),
    "locations": lambda _, args, ctx, path: connection(list(ctx.shop.locations), args, ctx),
}


# --- Mutation -----------------------------------------------------------------------------------------------


def _product_set(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    writer = ProductSet(ctx.shop, ctx.now, ctx.monotonic)
    before = len(ctx.shop.products)
    product = writer.run(args.get("identifier"), args["input"])
    if product is not None:
        product_written(ctx.shop, product, len(ctx.shop.products) > before, ctx.now)
    if args.get("synchronous", True):
        return {"product": product, "productSetOperation": None, "userErrors": writer.errors}
    # Asynchronous mode: the work is done already; the operation reports CREATED now, COMPLETE when polled.
    record = ProductOperationRecord(next_id(), "ProductSetOperation", product, writer.errors)
    ctx.shop.operations[record.id] = record
    started = {"__typename": "ProductSetOperation", "id": gid(record.kind, record.id), "status": "CREATED"}
    return {
        "product": None,
        "productSetOperation": {**started, "product": None, "userErrors": []},
        "userErrors": [],
    }


def _product_delete(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    product = ctx.shop.product(args["input"]["id"])
    deleted, errors = product_delete(ctx.shop, args["input"]["id"])
    if product is not None and deleted is not None:
        product_deleted(ctx.shop, product.id, product.title, ctx.now)
    payload: dict[str, Json] = {
        "deletedProductId": deleted,
        "productDeleteOperation": None,
        "userErrors": errors,
    }
    payload["shop"] = shop_view(ctx.shop)
    if not args.get("synchronous", True):
        record = ProductOperationRecord(next_id(), "ProductDeleteOperation", None, errors, deleted)
        ctx.shop.operations[record.id] = record
        payload["deletedProductId"] = None
        payload["productDeleteOperation"] = {
            "__typename": record.kind,
            "id": gid(record.kind, record.id),
            "status": "CREATED",
            "deletedProductId": None,
            "product": None,
            "userErrors": [],
        }
    return payload


def _staged_uploads(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    inputs = args["input"]
    errors = [
        {"field": ["input", str(i), "fileSize"], "message": "File size is too large."}
        for i, item in enumerate(inputs)
        if item.get("fileSize") is not None and item["fileSize"] > ctx.settings.bulk_jsonl_max_bytes
    ]
    if errors:
        return {"stagedTargets": [], "userErrors": errors}
    return {"stagedTargets": ctx.bulk.stage(ctx.shop, inputs, ctx.base_url), "userErrors": []}


def _run_mutation(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    op, errors = ctx.bulk.start_mutation(
        ctx, args["mutation"], args["stagedUploadPath"], args.get("clientIdentifier")
    )
    return {"bulkOperation": op, "userErrors": errors}


def _run_query(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    if ctx.exports is None:
        raise FieldError("Bulk mutations cannot run other bulk operations.")
    op, errors = ctx.exports.start(ctx, args["query"], bool(args.get("groupObjects")))
    return {"bulkOperation": op, "userErrors": errors}


def _cancel(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    node = find_node(ctx.shop, args["id"])
    if not isinstance(node, BulkOperationRecord):
        return {
            "bulkOperation": None,
            "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}],
        }
    return {"bulkOperation": node, "userErrors": ctx.bulk.cancel(node)}


def _tagged(
    change: Callable[[ShopState, str, list[str], float], dict[str, Json]], args: Args, ctx: RequestContext
) -> dict[str, Json]:
    """tagsAdd / tagsRemove; a product whose tags changed is reported as updated."""
    product = ctx.shop.product(args["id"])
    before = list(product.tags) if product is not None else None
    payload = change(ctx.shop, args["id"], args["tags"], ctx.now)
    if product is not None and not payload["userErrors"] and product.tags != before:
        product_written(ctx.shop, product, False, ctx.now)
    return payload


MUTATION: dict[str, Resolver[RequestContext]] = {
    "productSet": _product_set,
    "productDelete": _product_delete,
    "stagedUploadsCreate": _staged_uploads,
    "bulkOperationRunMutation": _run_mutation,
    "bulkOperationRunQuery": _run_query,
    "bulkOperationCancel": _cancel,
    "metafieldsSet": lambda _, args, ctx, path: metafields_set(ctx.shop, args["metafields"], ctx.now),
    "metafieldsDelete": lambda _, args, ctx, path: metafields_delete(ctx.shop, args["metafields"]),
    "tagsAdd": lambda _, args, ctx, path: _tagged(tags_add, args, ctx),
    "tagsRemove": lambda _, args, ctx, path: _tagged(tags_remove, args, ctx),
}


# --- objects ------------------------------------------------------------------------------------------------


def _id(kind: str) -> Resolver[RequestContext]:
    return lambda record, args, ctx, path: gid(kind, record.id)


def _legacy(record: Any, args: Args, ctx: RequestContext, path: PathLink) -> int:
    return int(record.id)


def _metafields(record: Any, args: Args, ctx: RequestContext, path: PathLink) -> Connection:
    items: list[Metafield] = record.metafields
    if args.get("namespace"):
        items = [m for m in items if m.namespace == args["namespace"]]
    if args.get("keys"):
        keys = set(args["keys"])
        items = [m for m in items if f"{m.namespace}.{m.key}" in keys]
    return connection(items, args, ctx)


def _metafield(record: Any, args: Args, ctx: RequestContext, path: PathLink) -> Metafield | None:
    namespace = args.get("namespace") or f"app--{ctx.settings.app_id}"
    return next((m for m in record.metafields if (m.namespace, m.key) == (namespace, args["key"])), None)


def _plain_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html)).strip()


def _description(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> str:
    text = _plain_text(product.description_html)
    limit = args.get("truncateAt")
    return text[:limit] + "..." if limit and len(text) > limit else text


def _product_variants_of(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> Connection:
    items, key = _sorted(product.variants, _VARIANT_SORT, args.get("sortKey"))
    return connection(items, args, ctx, key)


def _has_only_default(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> bool:
    options = product.options
    return (
        len(options) == 1
        and options[0].name == "Title"
        and [v.name for v in options[0].values] == ["Default Title"]
    )


def _option_values(option: Option, product: Product) -> list[dict[str, Json]]:
    used = {id(v) for variant in product.variants for v in variant.option_values}
    return [_option_value(v, id(v) in used) for v in option.values]


def _option_value(value: OptionValue, has_variants: bool) -> dict[str, Json]:
    return {
        "__typename": "ProductOptionValue",
        "id": gid("ProductOptionValue", value.id),
        "name": value.name,
        "hasVariants": has_variants,
        "linkedMetafieldValue": None,
        "swatch": None,
    }


def option_view(option: Option, product: Product) -> dict[str, Json]:
    """A ProductOption; its values need the product to tell whether variants use them."""
    return {
        "__typename": "ProductOption",
        "id": gid("ProductOption", option.id),
        "name": option.name,
        "position": option.position,
        "values": [v.name for v in option.values],
        "optionValues": _option_values(option, product),
        "linkedMetafield": None,
    }


def _product_options(
    product: Product, args: Args, ctx: RequestContext, path: PathLink
) -> list[dict[str, Json]]:
    options = product.options[: args["first"]] if args.get("first") is not None else product.options
    return [option_view(o, product) for o in options]


def _money(amount: str) -> dict[str, Json]:
    return {"amount": amount, "currencyCode": "EUR"}  # the shop's currency (QueryRoot.shop)


def _price_range(product: Product, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    prices = sorted((v.price for v in product.variants), key=Decimal) or ["0.0"]
    return {"minVariantPrice": _money(prices[0]), "maxVariantPrice": _money(prices[-1])}


def _compare_at_range(
    product: Product, args: Args, ctx: RequestContext, path: PathLink
) -> dict[str, Json] | None:
    prices = sorted((v.compare_at_price for v in product.variants if v.compare_at_price), key=Decimal)
    if not prices:
        return None  # no variant has a compare-at price (UNVERIFIED: Shopify may answer zeros)
    return {"minVariantCompareAtPrice": _money(prices[0]), "maxVariantCompareAtPrice": _money(prices[-1])}


def _media(record: Product | Variant, args: Args, ctx: RequestContext, path: PathLink) -> Connection:
    """Media in their order (sort key POSITION, the default; the emulator orders every sort key so)."""
    positions = {m.id: i for i, m in enumerate(record.media)}
    return connection(list(record.media), args, ctx, lambda m: (positions[m.id], m.id))


def _featured_image(record: Product | Variant, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    return image_view(ctx.shop, record.media[0]) if record.media else None


PRODUCT: dict[str, Resolver[RequestContext]] = {
    "id": _id("Product"),
    "legacyResourceId": _legacy,
    "description": _description,
    "variants": _product_variants_of,
    "variantsCount": lambda p, args, ctx, path: count(len(p.variants)),
    "totalVariants": lambda p, args, ctx, path: len(p.variants),
    "totalInventory": lambda p, args, ctx, path: sum(v.inventory_quantity for v in p.variants),
    "tracksInventory": lambda p, args, ctx, path: any(v.inventory_item.tracked for v in p.variants),
    "hasOnlyDefaultVariant": _has_only_default,
    "hasOutOfStockVariants": lambda p, args, ctx, path: any(v.inventory_quantity <= 0 for v in p.variants),
    "isGiftCard": lambda p, args, ctx, path: p.gift_card,
    "options": _product_options,
    "metafields": _metafields,
    "metafield": _metafield,
    "seo": lambda p, args, ctx, path: {"title": p.seo_title, "description": p.seo_description},
    "publishedAt": lambda p, args, ctx, path: p.created_at if p.status == "ACTIVE" else None,
    "onlineStoreUrl": lambda p, args, ctx, path: None,
    "priceRangeV2": _price_range,
    "compareAtPriceRange": _compare_at_range,
    "media": _media,
    "featuredMedia": lambda p, args, ctx, path: p.media[0] if p.media else None,
    "mediaCount": lambda p, args, ctx, path: count(len(p.media)),
    "featuredImage": _featured_image,
}


def _selected_options(
    variant: Variant, args: Args, ctx: RequestContext, path: PathLink
) -> list[dict[str, Json]]:
    names = {id(v): o.name for o in variant.product.options for v in o.values}
    return [
        {"name": names.get(id(v), ""), "value": v.name, "optionValue": _option_value(v, True)}
        for v in variant.option_values
    ]


def _available(variant: Variant, args: Args, ctx: RequestContext, path: PathLink) -> bool:
    if variant.product.status != "ACTIVE":
        return False
    tracked = variant.inventory_item.tracked
    return not tracked or variant.inventory_policy == "CONTINUE" or variant.inventory_quantity > 0


VARIANT: dict[str, Resolver[RequestContext]] = {
    "id": _id("ProductVariant"),
    "legacyResourceId": _legacy,
    "displayName": lambda v, args, ctx, path: f"{v.product.title} - {v.title}",
    "product": lambda v, args, ctx, path: v.product,
    "inventoryItem": lambda v, args, ctx, path: v.inventory_item,
    "selectedOptions": _selected_options,
    "availableForSale": _available,
    "sellableOnlineQuantity": lambda v, args, ctx, path: v.inventory_quantity,
    "metafields": _metafields,
    "metafield": _metafield,
    "media": _media,
    "image": _featured_image,
}


def _variant_of(item: InventoryItem) -> Variant:
    assert item.variant is not None, "inventory items are created with their variant"
    return item.variant


def _levels(item: InventoryItem, ctx: RequestContext) -> list[InventoryLevelView]:
    """Where the item is stocked: locations with quantities, else the shop's first (primary) location."""
    stocked = _variant_of(item).quantities
    locations = [loc for loc in ctx.shop.locations if loc.id in stocked] or ctx.shop.locations[:1]
    return [InventoryLevelView(loc.id, item, loc) for loc in locations]


def _level(item: InventoryItem, args: Args, ctx: RequestContext, path: PathLink) -> InventoryLevelView | None:
    wanted = ctx.shop.location(args["locationId"])
    return next((lvl for lvl in _levels(item, ctx) if wanted is not None and lvl.location is wanted), None)


def _quantities(level: InventoryLevelView, args: Args, ctx: RequestContext, path: PathLink) -> list[Json]:
    stored = _variant_of(level.item).quantities.get(level.location.id, {})
    on_hand = stored.get("on_hand", stored.get("available", 0) + stored.get("committed", 0))
    base = f"gid://shopify/InventoryQuantity/{level.location.id}?inventory_item_id={level.item.id}"
    return [
        {
            "id": f"{base}&name={name}",
            "name": name,
            "quantity": on_hand if name == "on_hand" else stored.get(name, 0),
            "updatedAt": _variant_of(level.item).updated_at,
        }
        for name in args["names"]
    ]


INVENTORY_LEVEL: dict[str, Resolver[RequestContext]] = {
    "id": lambda lvl, args, ctx, path: (
        f"gid://shopify/InventoryLevel/{lvl.location.id}?inventory_item_id={lvl.item.id}"
    ),
    "location": lambda lvl, args, ctx, path: lvl.location,
    "item": lambda lvl, args, ctx, path: lvl.item,
    "isActive": lambda lvl, args, ctx, path: True,
    "canDeactivate": lambda lvl, args, ctx, path: True,
    "createdAt": lambda lvl, args, ctx, path: _variant_of(lvl.item).created_at,
    "updatedAt": lambda lvl, args, ctx, path: _variant_of(lvl.item).updated_at,
    "quantities": _quantities,
}


INVENTORY_ITEM: dict[str, Resolver[RequestContext]] = {
    "inventoryLevels": lambda i, args, ctx, path: connection(_levels(i, ctx), args, ctx),
    "inventoryLevel": _level,
    "id": _id("InventoryItem"),
    "legacyResourceId": _legacy,
    "sku": lambda i, args, ctx, path: _variant_of(i).sku,
    "variant": lambda i, args, ctx, path: _variant_of(i),
    "createdAt": lambda i, args, ctx, path: _variant_of(i).created_at,
    "updatedAt": lambda i, args, ctx, path: _variant_of(i).updated_at,
    "unitCost": lambda i, args, ctx, path: (
        None if i.cost is None else {"amount": i.cost, "currencyCode": "EUR"}
    ),
    "duplicateSkuCount": lambda i, args, ctx, path: max(
        0, len(ctx.shop.sku_index.get((_variant_of(i).sku or "").casefold(), ())) - 1
    ),
}


def _json_value(metafield: Metafield, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    kind = metafield.type
    if kind.startswith("list.") or kind in (
        "json",
        "rating",
        "weight",
        "volume",
        "dimension",
        "money",
        "link",
        "rich_text_field",
    ):
        return orjson.loads(metafield.value)
    if kind == "number_integer":
        return int(metafield.value)
    if kind == "number_decimal":
        return metafield.value
    if kind == "boolean":
        return metafield.value == "true"
    return metafield.value


METAFIELD: dict[str, Resolver[RequestContext]] = {
    "id": _id("Metafield"),
    "legacyResourceId": _legacy,
    "jsonValue": _json_value,
    "compareDigest": lambda m, args, ctx, path: compare_digest(m),
    "owner": lambda m, args, ctx, path: m.owner,
    "sizeInBytes": lambda m, args, ctx, path: len(m.value.encode()),
}


def _media_image_view(image: MediaImage, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    return image_view(ctx.shop, image)


MEDIA_IMAGE: dict[str, Resolver[RequestContext]] = {
    "id": _id("MediaImage"),
    "mediaContentType": lambda m, args, ctx, path: "IMAGE",
    "fileStatus": lambda m, args, ctx, path: m.status,
    "mediaErrors": lambda m, args, ctx, path: [],
    "mediaWarnings": lambda m, args, ctx, path: [],
    "fileErrors": lambda m, args, ctx, path: [],
    "image": _media_image_view,
    "preview": lambda m, args, ctx, path: {"image": image_view(ctx.shop, m), "status": m.status},
    # Shopify answers a short-lived URL of its copy of the original; the emulator, the source it was given.
    "originalSource": lambda m, args, ctx, path: {"url": m.source, "fileSize": None},
    "mimeType": lambda m, args, ctx, path: mime_type(m.filename),
}


def _bulk_url(partial: bool) -> Resolver[RequestContext]:
    return lambda op, args, ctx, path: ctx.bulk.result_url(ctx.base_url, ctx.shop, op, partial=partial)


BULK_OPERATION: dict[str, Resolver[RequestContext]] = {
    "id": _id("BulkOperation"),
    "url": _bulk_url(False),
    "partialDataUrl": _bulk_url(True),
}


def _operation_fields(kind: str) -> dict[str, Resolver[RequestContext]]:
    return {
        "id": lambda op, args, ctx, path: gid(kind, op.id),
        "product": lambda op, args, ctx, path: op.product,
        "userErrors": lambda op, args, ctx, path: op.user_errors,
    }


def _connection_fields() -> dict[str, Resolver[RequestContext]]:
    return {
        "nodes": lambda c, args, ctx, path: c.nodes,
        "edges": lambda c, args, ctx, path: c.edges,
        "pageInfo": lambda c, args, ctx, path: c.page_info,
    }


def _edge_node(edge: Edge, args: Args, ctx: RequestContext, path: PathLink) -> object:
    return edge.node


def _merge(table: Table, more: Table) -> None:
    for type_name, fields in more.items():
        table[type_name] = {**table.get(type_name, {}), **fields}


def _lookups_by_id(schema: GraphQLSchema, query: dict[str, Resolver[RequestContext]]) -> None:
    """Every other root field that finds one record by ``id`` answers null for an id it does not know."""
    root = schema.query_type
    assert root is not None
    for name, field_def in root.fields.items():
        if name in query or "id" not in field_def.args or isinstance(field_def.type, GraphQLNonNull):
            continue
        named = get_named_type(field_def.type)
        if isinstance(named, GraphQLObjectType):
            query[name] = _kind(named.name)
        elif isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            query[name] = _kind(*(t.name for t in schema.get_possible_types(named)))


def build_resolvers(schema: GraphQLSchema) -> Table:
    table: Table = {
        "QueryRoot": dict(QUERY),
        "Mutation": dict(MUTATION),
        "Product": PRODUCT,
        "ProductVariant": VARIANT,
        "InventoryItem": INVENTORY_ITEM,
        "InventoryLevel": INVENTORY_LEVEL,
        "Metafield": METAFIELD,
        "BulkOperation": BULK_OPERATION,
        "ProductSetOperation": _operation_fields("ProductSetOperation"),
        "ProductDeleteOperation": _operation_fields("ProductDeleteOperation"),
        "Location": {
            "id": _id("Location"),
            "isActive": lambda loc, args, ctx, path: True,
            "isPrimary": lambda loc, args, ctx, path: loc.id == ctx.shop.primary_location,
        },
        "MediaImage": MEDIA_IMAGE,
    }
    _merge(table, shop_table())
    _merge(table, commerce_table())
    _merge(table, writes_table())
    _merge(table, webhooks_table())
    for owner in ("Customer", "Order"):
        _merge(table, {owner: {"metafields": _metafields, "metafield": _metafield}})
    _lookups_by_id(schema, table["QueryRoot"])
    # Every connection and edge type answers from Connection/Edge records.
    connection_fields = _connection_fields()
    for name, type_ in schema.type_map.items():
        if not isinstance(type_, GraphQLObjectType):
            continue
        if name.endswith("Connection") and "pageInfo" in type_.fields:
            table[name] = connection_fields
        elif name.endswith("Edge") and "node" in type_.fields:
            table[name] = {"node": _edge_node}
    return table
