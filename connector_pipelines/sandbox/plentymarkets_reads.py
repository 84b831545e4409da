"""The read routes of the Plentymarkets emulator: items, variations and their sub-lists, reference data,
categories, stock, stores and VAT, with Plenty's filters and page envelope."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar
from urllib.parse import parse_qsl, unquote_plus
from zoneinfo import ZoneInfo

import orjson
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from connector_pipelines.sandbox.plentymarkets_access import Session
from connector_pipelines.sandbox.plentymarkets_catalog import PlentyCatalog
from connector_pipelines.sandbox.plentymarkets_params import ApiError, Params, json_response
from connector_pipelines.sandbox.plentymarkets_records import (
    ItemFilter,
    ItemQuery,
    StockRow,
    TimeRange,
    Variation,
    VariationQuery,
)
from connector_pipelines.sandbox.plentymarkets_reference import JSON
from connector_pipelines.sandbox.plentymarkets_render import Renderer
from connector_pipelines.sandbox.plentymarkets_settings import (
    R_ATTRIBUTE_VALUES,
    R_ATTRIBUTES,
    R_BARCODES,
    R_CATEGORIES,
    R_ITEM_VARIATIONS,
    R_ITEMS,
    R_MANUFACTURERS,
    R_PROPERTIES,
    R_SALES_PRICES,
    R_STOCK,
    R_UNITS,
    R_VARIATION_SALES_PRICES,
    R_VARIATION_STOCK,
    R_VARIATIONS,
    R_VAT,
    R_WAREHOUSES,
    R_WEBSTORES,
    PlentySettings,
)

# Sub-lists of one variation (bare arrays in Plenty's OpenAPI) -> the `with` relation that renders the same
VARIATION_LISTS: dict[str, str] = {
    "images": "images",
    "market_ident_numbers": "marketItemNumbers",
    "variation_additional_skus": "variationAdditionalSkus",
    "variation_barcodes": "variationBarcodes",
    "variation_bundles": "variationBundleComponents",
    "variation_categories": "variationCategories",
    "variation_clients": "variationClients",
    "variation_component_bundles": "variationComponentBundles",
    "variation_default_categories": "variationDefaultCategory",
    "variation_markets": "variationMarkets",
    "variation_properties": "variationProperties",
    "variation_sales_prices": "variationSalesPrices",
    "variation_skus": "variationSkus",
    "variation_suppliers": "variationSuppliers",
    "variation_warehouses": "variationWarehouses",
}

VARIATION_FILTERS: frozenset[str] = frozenset(
    {
        "id",
        "itemId",
        "variationTagId",
        "itemName",
        "flagOne",
        "flagTwo",
        "storeSpecial",
        "categoryId",
        "isMain",
        "isActive",
        "barcode",
        "numberExact",
        "numberFuzzy",
        "isBundle",
        "plentyId",
        "referrerId",
        "supplierNumber",
        "sku",
        "manufacturerId",
        "updatedBetween",
        "createdBetween",
        "relatedUpdatedBetween",
        "itemDescription",
        "stockWarehouseId",
        "supplierId",
    }
)
_VARIATION_PARAMS = VARIATION_FILTERS | {"with", "lang", "page", "itemsPerPage"}
# GET /rest/items/{itemId}/variations: the filters Plenty's OpenAPI lists for that route
ITEM_VARIATION_FILTERS: frozenset[str] = frozenset(
    {
        "isMain",
        "isActive",
        "barcode",
        "numberExact",
        "numberFuzzy",
        "isBundle",
        "supplierNumber",
        "manufacturerId",
        "updatedBetween",
        "createdBetween",
        "relatedUpdatedBetween",
    }
)
_ITEM_VARIATION_PARAMS = ITEM_VARIATION_FILTERS | {"with", "lang", "page", "itemsPerPage"}
_STOCK_COLUMNS: frozenset[str] = frozenset(
    {
        "itemId",
        "variationId",
        "warehouseId",
        "stockPhysical",
        "reservedStock",
        "reservedEbay",
        "reorderDelta",
        "stockNet",
        "reordered",
        "warehousePriority",
        "reservedBundle",
        "averagePurchasePrice",
        "updatedAt",
    }
)

T = TypeVar("T")
ItemNumberFilter = Literal["manufacturerId", "flagOne", "flagTwo"]
ItemPeriodFilter = Literal["updatedBetween", "variationUpdatedBetween", "variationRelatedUpdatedBetween"]
# `or=(a=1&b=2)` / `or[]=(...)`, the parentheses possibly percent-encoded
_OR_PARAM = re.compile(r"(?:^|(?<=&))or(?:\[\]|%5B%5D)?=(\(|%28)(.*?)(?:\)|%29)(?=&|$)", re.IGNORECASE)


def _path_int(request: Request, name: str) -> int:
    value = str(request.path_params[name])
    if not value.isdigit():
        raise ApiError(404, "Not Found")
    return int(value)


def base_url_of(request: Request) -> str:
    """The emulator's own absolute base URL, mount prefix included (``request.base_url`` drops it)."""
    scope = request.scope
    return str(URL(scope={**scope, "path": scope.get("root_path", "") + "/", "query_string": b""}))


class ReadRoutes:
    """The GET routes over one catalog; each renders with a :class:`Renderer` of its own request."""

    def __init__(self, catalog: PlentyCatalog, settings: PlentySettings, tz: ZoneInfo) -> None:
        self.catalog = catalog
        self.settings = settings
        self.tz = tz

    def _params(self, pairs: Sequence[tuple[str, str]]) -> Params:
        return Params(pairs, self.settings, self.tz)

    def _items_per_page(self, params: Params, route: str) -> int:
        requested = params.integer("itemsPerPage")
        per_page = (
            requested if requested is not None and requested > 0 else self.settings.default_items_per_page
        )
        cap = self.settings.items_per_page_caps.get(route, self.settings.max_items_per_page)
        return min(per_page, cap)

    def _page(self, params: Params, route: str, rows: Sequence[T], render: Callable[[T], object]) -> Response:
        if route in self.settings.bare_array_routes:
            return json_response([render(r) for r in rows])
        per_page = self._items_per_page(params, route)
        total = len(rows)
        last = max(1, math.ceil(total / per_page))
        page = max(1, params.integer("page") or 1)
        if page > last and self.settings.out_of_range_page == "clamp":
            page = last  # the contract infers Plenty answers a different page; PSC detects it by `page`
        start = (page - 1) * per_page
        # Serialising each entry at once lets its temporary dicts die young: a page full of live dicts
        # would be promoted and drag the cyclic GC through the whole catalog (2x slower at 100k).
        entries = (
            [orjson.Fragment(orjson.dumps(render(r))) for r in rows[start : start + per_page]]
            if page <= last
            else []
        )
        as_string = self.settings.items_per_page_as_string
        stringly = as_string is True or (isinstance(as_string, list) and route in as_string)
        return json_response(
            {
                "page": page,
                "totalsCount": total,
                "isLastPage": page >= last,
                "lastPageNumber": last,
                "firstOnPage": start + 1 if entries else 0,
                "lastOnPage": start + len(entries) if entries else 0,
                "itemsPerPage": str(per_page) if stringly else per_page,
                "entries": entries,
            }
        )

    def _renderer(self, request: Request, params: Params) -> Renderer:
        return Renderer(self.catalog, base_url_of(request), params.langs(), fragments=True)

    # -- item routes --------------------------------------------------------------------------------------

    async def variations(self, request: Request, params: Params, session: Session | None) -> Response:
        params.reject_unknown(_VARIATION_PARAMS)
        sku = params.raw("sku")
        query = VariationQuery(
            ids=params.ints("id"),
            item_ids=params.ints("itemId"),
            is_active=params.boolean("isActive"),
            is_main=params.boolean("isMain"),
            is_bundle=params.boolean("isBundle"),
            plenty_ids=params.ints("plentyId"),
            category_id=params.integer("categoryId"),
            barcode=params.raw("barcode"),
            number_exact=params.raw("numberExact"),
            number_fuzzy=params.raw("numberFuzzy"),
            item_name=params.raw("itemName"),
            item_description=params.raw("itemDescription"),
            flag_one=params.integer("flagOne"),
            flag_two=params.integer("flagTwo"),
            store_special=params.integer("storeSpecial"),
            manufacturer_id=params.integer("manufacturerId"),
            referrer_ids=params.floats("referrerId"),
            supplier_id=params.integer("supplierId"),
            supplier_number=params.raw("supplierNumber"),
            sku=sku,
            variation_tag_ids=params.ints("variationTagId"),
            stock_warehouse_id=params.integer("stockWarehouseId"),
            updated=params.between("updatedBetween"),
            created=params.between("createdBetween"),
            related_updated=params.between("relatedUpdatedBetween"),
        )
        relations = params.relations()
        renderer = self._renderer(request, params)
        catalog = self.catalog
        with catalog.lock:
            ids = catalog.find_variations(query)
            variations = catalog.variations
            return self._page(
                params, R_VARIATIONS, ids, lambda vid: renderer.variation(variations[vid], relations)
            )

    def _item_filters(self, params: Params) -> tuple[ItemFilter, ...]:
        filters: list[ItemFilter] = []
        ids = params.ints("id")
        if ids is not None:
            filters.append(ItemFilter("id", ids=ids))
        name = params.raw("name")
        if name is not None:
            filters.append(ItemFilter("name", text=name))
        numeric: tuple[ItemNumberFilter, ...] = ("manufacturerId", "flagOne", "flagTwo")
        for number_key in numeric:
            number = params.integer(number_key)
            if number is not None:
                filters.append(ItemFilter(number_key, number=number))
        periods: tuple[ItemPeriodFilter, ...] = (
            "updatedBetween",
            "variationUpdatedBetween",
            "variationRelatedUpdatedBetween",
        )
        for period_key in periods:
            window = params.between(period_key)
            if window is not None:
                filters.append(ItemFilter(period_key, range=window))
        return tuple(filters)

    async def items(self, request: Request, params: Params, session: Session | None) -> Response:
        # `or=(a=1&b=2)` carries a query string of its own, often with unencoded '&': cut it out of the
        # raw query before the ordinary parse. Unknown filter names are ignored, as on the live API.
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        groups: list[tuple[ItemFilter, ...]] = []

        def take_or(match: re.Match[str]) -> str:
            inner = parse_qsl(unquote_plus(match[2]), keep_blank_values=True)
            group = self._item_filters(self._params(inner))
            if group:
                groups.append(group)
            return ""

        rest = _OR_PARAM.sub(take_or, raw_query)
        params = self._params(parse_qsl(rest, keep_blank_values=True))
        query = ItemQuery(all_of=self._item_filters(params), any_of=tuple(groups))
        relations = params.relations()
        renderer = self._renderer(request, params)
        catalog = self.catalog
        with catalog.lock:
            ids = catalog.find_items(query)
            items = catalog.items
            return self._page(params, R_ITEMS, ids, lambda item_id: renderer.item(items[item_id], relations))

    async def item(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            item = self.catalog.items.get(item_id)
            if item is None:
                raise ApiError(404, "Item not found.")
            return json_response(renderer.item(item, relations))

    async def item_variations(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        params.reject_unknown(_ITEM_VARIATION_PARAMS)
        query = VariationQuery(
            item_ids=(item_id,),
            is_active=params.boolean("isActive"),
            is_main=params.boolean("isMain"),
            is_bundle=params.boolean("isBundle"),
            barcode=params.raw("barcode"),
            number_exact=params.raw("numberExact"),
            number_fuzzy=params.raw("numberFuzzy"),
            manufacturer_id=params.integer("manufacturerId"),
            supplier_number=params.raw("supplierNumber"),
            updated=params.between("updatedBetween"),
            created=params.between("createdBetween"),
            related_updated=params.between("relatedUpdatedBetween"),
        )
        relations = params.relations()
        renderer = self._renderer(request, params)
        catalog = self.catalog
        with catalog.lock:
            ids = catalog.variations_of_item(item_id, query)
            if ids is None:
                raise ApiError(404, "Item not found.")
            variations = catalog.variations
            return self._page(
                params, R_ITEM_VARIATIONS, ids, lambda vid: renderer.variation(variations[vid], relations)
            )

    async def item_variation(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        variation_id = _path_int(request, "variationId")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            if item_id not in self.catalog.items:
                raise ApiError(404, "Item not found.")
            variation = self.catalog.variations.get(variation_id)
            if variation is None or variation.item_id != item_id:
                raise ApiError(404, "Variation not found.")
            return json_response(renderer.variation(variation, relations))

    async def item_images(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            item = self.catalog.items.get(item_id)
            if item is None:
                raise ApiError(404, "Item not found.")
            return json_response(renderer.item(item, ("itemImages",))["itemImages"])

    async def variation_list(self, request: Request, params: Params, session: Session | None) -> Response:
        relation = VARIATION_LISTS.get(str(request.path_params["list"]))
        if relation is None:
            raise ApiError(404, "Not Found")
        item_id = _path_int(request, "itemId")
        variation_id = _path_int(request, "variationId")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            variation = self.catalog.variations.get(variation_id)
            if variation is None or variation.item_id != item_id:
                raise ApiError(404, "Variation not found.")
            return json_response(renderer.variation(variation, (relation,))[relation])

    async def variation_stock(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        variation_id = _path_int(request, "variationId")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            variation = self.catalog.variations.get(variation_id)
            if variation is None or variation.item_id != item_id:
                raise ApiError(404, "Variation not found.")
            return self._page(
                params,
                R_VARIATION_STOCK,
                variation.stock,
                lambda row: renderer.variation_stock(variation, row),
            )

    async def variation_sales_prices(
        self, request: Request, params: Params, session: Session | None
    ) -> Response:
        variation_ids, sales_price_ids = params.ints("variationId"), params.ints("salesPriceId")
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = self.catalog.variation_price_rows(variation_ids, sales_price_ids, updated_at)
            return self._page(
                params, R_VARIATION_SALES_PRICES, rows, lambda r: renderer.variation_sales_price(*r)
            )

    async def attributes(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        relations = params.relations(keep_nested=True)
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                a for a in self.catalog.attributes.values() if updated_at is None or a.updated >= updated_at
            ]
            return self._page(params, R_ATTRIBUTES, rows, lambda a: renderer.attribute(a, relations))

    async def attribute_values(self, request: Request, params: Params, session: Session | None) -> Response:
        attribute = self.catalog.attributes.get(_path_int(request, "attributeId"))
        if attribute is None:
            raise ApiError(404, "Attribute not found.")
        updated_at = params.date("updatedAt")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            values = [self.catalog.attribute_values[v] for v in attribute.value_ids]
            rows = [v for v in values if updated_at is None or v.updated >= updated_at]
            return self._page(
                params, R_ATTRIBUTE_VALUES, rows, lambda v: renderer.attribute_value(v, relations)
            )

    async def sales_prices(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                p for p in self.catalog.sales_prices.values() if updated_at is None or p.updated >= updated_at
            ]
            return self._page(params, R_SALES_PRICES, rows, renderer.sales_price)

    async def manufacturers(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        name = (params.raw("name") or "").lower()
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                m
                for m in self.catalog.manufacturers.values()
                if (updated_at is None or m.updated >= updated_at) and name in m.name.lower()
            ]
            return self._page(params, R_MANUFACTURERS, rows, lambda m: renderer.manufacturer(m, relations))

    async def units(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [u for u in self.catalog.units.values() if updated_at is None or u.updated >= updated_at]
            return self._page(params, R_UNITS, rows, renderer.unit)

    async def barcodes(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        stale = updated_at is not None and updated_at > self.catalog.vat_created
        return self._page(params, R_BARCODES, [] if stale else renderer.barcodes(), lambda b: b)

    async def properties(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                p for p in self.catalog.properties.values() if updated_at is None or p.updated >= updated_at
            ]
            return self._page(params, R_PROPERTIES, rows, lambda p: renderer.legacy_property(p, relations))

    # -- categories, stock, stores, VAT -------------------------------------------------------------------

    async def categories(self, request: Request, params: Params, session: Session | None) -> Response:
        types = params.strings("type")
        parent_id, level = params.integer("parentId"), params.integer("level")
        plenty_ids = params.ints("plentyId")
        name = (params.raw("name") or "").lower()
        keywords = (params.raw("metaKeywords") or "").lower()
        linklist = params.boolean("linklist")
        tag_ids = params.ints("tagId")
        updated_at = params.date("updatedAt")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                cat
                for cat in self.catalog.categories.values()
                if (types is None or cat.type in types)
                and (parent_id is None or cat.parent_id == parent_id)
                and (level is None or cat.level == level)
                and (plenty_ids is None or not set(plenty_ids).isdisjoint(cat.plenty_ids))
                and (not name or any(name in n.lower() for n in cat.names.values()))
                and (not keywords or any(keywords in n.lower() for n in cat.names.values()))
                and linklist is not False
                and tag_ids is None
                and (updated_at is None or cat.updated >= updated_at)
            ]
            return self._page(params, R_CATEGORIES, rows, lambda cat: renderer.category(cat, relations))

    async def stock(self, request: Request, params: Params, session: Session | None) -> Response:
        start, end = params.date("updatedAtFrom"), params.date("updatedAtTo")
        window = (
            TimeRange(start if start is not None else 0.0, end)
            if start is not None or end is not None
            else None
        )
        columns = params.strings("columns")
        if columns is not None and not set(columns) <= _STOCK_COLUMNS:
            raise ApiError(
                422,
                "The given data was invalid.",
                [f"Unknown columns: {sorted(set(columns) - _STOCK_COLUMNS)}"],
            )
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = self.catalog.stock_rows(params.ints("variationId"), params.ints("warehouseId"), window)

            def render(pair: tuple[Variation, StockRow]) -> JSON:
                entry = renderer.stock_entry(*pair)
                return {c: entry[c] for c in columns} if columns else entry

            return self._page(params, R_STOCK, rows, render)

    async def warehouses(self, request: Request, params: Params, session: Session | None) -> Response:
        renderer = self._renderer(request, params)
        return self._page(params, R_WAREHOUSES, list(self.catalog.warehouses.values()), renderer.warehouse)

    async def webstores(self, request: Request, params: Params, session: Session | None) -> Response:
        renderer = self._renderer(request, params)
        return self._page(params, R_WEBSTORES, self.catalog.webstores, renderer.webstore)

    async def vat(self, request: Request, params: Params, session: Session | None) -> Response:
        return self._page(params, R_VAT, [self._renderer(request, params).vat_standard()], lambda v: v)

    async def vat_standard(self, request: Request, params: Params, session: Session | None) -> Response:
        return json_response(self._renderer(request, params).vat_standard())
