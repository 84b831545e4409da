"""Wire shapes of the Plentymarkets emulator: catalog records rendered as Plenty's REST API returns them.

A :class:`Renderer` serves one request: absolute URLs come from that request's base URL (so the emulator
works behind any host, port or mount prefix) and texts are filtered by its `lang` list. Renderers read
the catalog without locking; callers hold ``catalog.lock``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import partial

import orjson

from connector_pipelines.sandbox.plentymarkets_catalog import (
    GTIN13_BARCODE_ID,
    IMAGE_SIZES,
    LANGUAGES,
    VAT_RATES,
    Attribute,
    AttributeValue,
    Category,
    Image,
    Item,
    LegacyProperty,
    Manufacturer,
    PlentyCatalog,
    SalesPrice,
    StockRow,
    Unit,
    Variation,
    Warehouse,
    Webstore,
    slugify,
)

JSON = dict[str, object]

VARIATION_RELATIONS: frozenset[str] = frozenset(
    {
        "properties",
        "variationProperties",
        "variationBarcodes",
        "variationBundleComponents",
        "variationComponentBundles",
        "variationSalesPrices",
        "marketItemNumbers",
        "variationCategories",
        "variationClients",
        "variationMarkets",
        "variationDefaultCategory",
        "variationSuppliers",
        "variationWarehouses",
        "images",
        "itemImages",
        "variationAttributeValues",
        "variationSkus",
        "variationAdditionalSkus",
        "unit",
        "parent",
        "item",
        "stock",
    }
)
ITEM_RELATIONS: frozenset[str] = frozenset(
    {"itemProperties", "itemCrossSelling", "variations", "itemImages", "itemShippingProfiles", "ebayTitles"}
)

# Variation fields the generated catalog never varies; Plenty sends them on every entry.
_VARIATION_CONSTANTS: JSON = {
    "parentVariationId": None,
    "parentVariationQuantity": None,
    "estimatedAvailableAt": None,
    "priceCalculationId": None,
    "picking": None,
    "stockLimitation": 1,
    "isVisibleIfNetStockIsPositive": False,
    "isInvisibleIfNetStockIsNotPositive": False,
    "isAvailableIfNetStockIsPositive": False,
    "isUnavailableIfNetStockIsNotPositive": False,
    "availableUntil": None,
    "releasedAt": None,
    "extraShippingCharge1": 0,
    "extraShippingCharge2": 0,
    "unitsContained": 1,
    "palletTypeId": None,
    "packingUnits": 0,
    "packingUnitTypeId": 0,
    "transportationCosts": 0,
    "storageCosts": 0,
    "customs": 0,
    "operatingCosts": 0,
    "bundleType": None,
    "automaticClientVisibility": 0,
    "isHiddenInCategoryList": False,
    "defaultShippingCosts": 0,
    "automaticListVisibility": 0,
    "isVisibleInListIfNetStockIsPositive": False,
    "isInvisibleInListIfNetStockIsNotPositive": False,
    "singleItemCount": 0,
    "hasCalculatedBundleWeight": False,
    "hasCalculatedBundleNetWeight": False,
    "hasCalculatedBundlePurchasePrice": False,
    "hasCalculatedBundleMovingAveragePrice": False,
    "salesRank": 0,
}
_ITEM_CONSTANTS: JSON = {
    "stockType": 0,
    "add_cms_page": "0",
    "amazonFedas": "",
    "revenueAccount": 0,
    "couponRestriction": 0,
    "amazonProductType": 0,
    "ebayPresetId": None,
    "ebayCategory": None,
    "ebayCategory2": None,
    "ebayStoreCategory": None,
    "ebayStoreCategory2": None,
    "amazonFbaPlatform": 0,
    "feedback": 0,
    "gimahhot": "0",
    "maximumOrderQuantity": 0,
    "isSubscribable": False,
    "rakutenCategoryId": None,
    "isShippingPackage": False,
    "conditionApi": 0,
    "isSerialNumber": False,
    "isShippableByAmazon": False,
    "ownerId": None,
    "itemType": "default",
    **{f"free{n}": None for n in range(1, 21)},
}
_CARE_TEXTS: tuple[tuple[str, str], ...] = (
    ("Schonwaschgang 30 °C", "Gentle wash 30 °C"),
    ("Nur feucht abwischen", "Wipe clean only"),
    ("Nicht in den Trockner", "Do not tumble dry"),
    ("Chemische Reinigung", "Dry clean only"),
)
_ORIGIN_TEXTS: dict[int, tuple[str, str]] = {
    1: ("Hergestellt in Deutschland", "Made in Germany"),
    2: ("Hergestellt in Österreich", "Made in Austria"),
    4: ("Hergestellt in der Schweiz", "Made in Switzerland"),
}
NEW_PROPERTY_ID = 101
PROPERTY_GROUP_ID = 1


class Renderer:
    """Renders catalog records for one request.

    Objects shared by neighbouring entries (an item's images, the item itself, property and attribute
    definitions) are rendered once per renderer, since a variation page lists all variations of an item
    side by side. With ``fragments`` they are also serialised once and spliced in as ``orjson.Fragment``;
    use that only for output that goes straight to ``orjson.dumps``.
    """

    def __init__(
        self,
        catalog: PlentyCatalog,
        base_url: str,
        langs: tuple[str, ...] | None = None,
        *,
        fragments: bool = False,
    ) -> None:
        self.catalog = catalog
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.langs = langs
        self.fragments = fragments
        self.iso = catalog.time.iso
        self.legacy = catalog.time.legacy
        self._known_langs = self._langs()
        self._shared: dict[tuple[str, int], object] = {}
        self._relations: dict[str, Callable[[Variation, Item, str], object]] = {
            "variationSalesPrices": self._rel_sales_prices,
            "variationCategories": self._rel_categories,
            "variationDefaultCategory": self._rel_default_category,
            "variationAttributeValues": self._rel_attribute_values,
            "variationBarcodes": self._rel_barcodes,
            "variationClients": self._rel_clients,
            "variationMarkets": self._rel_markets,
            "variationSuppliers": self._rel_suppliers,
            "variationWarehouses": self._rel_warehouses,
            "unit": self._rel_unit,
            "stock": self._rel_stock,
            "images": self._rel_images,
            "itemImages": self._rel_item_images,
            "variationProperties": self._rel_variation_properties,
            "properties": self._rel_properties,
            "parent": self._rel_parent,
            "item": self._rel_item,
        }

    def _langs(self, available: Collection[str] = LANGUAGES) -> list[str]:
        if self.langs is None:
            return [lang for lang in LANGUAGES if lang in available]
        return [lang for lang in self.langs if lang in available]

    def _share(self, kind: str, key: int, build: Callable[[], object]) -> object:
        """Render ``build()`` once per renderer (and serialise it once when using fragments)."""
        value = self._shared.get((kind, key))
        if value is None:
            value = build()
            if self.fragments:
                value = orjson.Fragment(orjson.dumps(value))
            self._shared[(kind, key)] = value
        return value

    # -- variations -----------------------------------------------------------------------------------

    def variation_base(self, v: Variation) -> JSON:
        iso = self.iso
        vid = v.id
        updated = iso(v.updated)
        return {
            "id": vid,
            "isMain": v.is_main,
            "mainVariationId": None if v.is_main else self.catalog.items[v.item_id].main_variation_id,
            "itemId": v.item_id,
            "categoryVariationId": vid,
            "marketVariationId": vid,
            "clientVariationId": vid,
            "salesPriceVariationId": vid,
            "supplierVariationId": vid,
            "warehouseVariationId": vid,
            "position": v.position,
            "isActive": v.is_active,
            "number": v.number,
            "model": v.model,
            "externalId": v.external_id,
            "availability": v.availability,
            "purchasePrice": v.purchase_price,
            "createdAt": iso(v.created),
            "updatedAt": updated,
            "relatedUpdatedAt": iso(v.related_updated),
            "mainWarehouseId": v.main_warehouse_id,
            "maximumOrderQuantity": v.maximum_order_quantity,
            "minimumOrderQuantity": v.minimum_order_quantity,
            "intervalOrderQuantity": v.interval_order_quantity,
            "unitCombinationId": self.catalog.unit_combination_id(v),
            "name": v.name,
            "weightG": v.weight_g,
            "weightNetG": v.weight_net_g,
            "widthMM": v.width_mm,
            "lengthMM": v.length_mm,
            "heightMM": v.height_mm,
            "vatId": v.vat_id,
            "mayShowUnitPrice": v.unit_id != 1,
            "movingAveragePrice": v.purchase_price,
            "propertyVariationId": vid,
            "availabilityUpdatedAt": updated,
            "tagVariationId": vid,
            **_VARIATION_CONSTANTS,
        }

    def variation(self, v: Variation, relations: Collection[str]) -> JSON:
        """A `/rest/items/variations` entry with the requested relations (unknown names are ignored)."""
        entry = self.variation_base(v)
        if relations:
            item = self.catalog.items[v.item_id]
            created = entry["createdAt"]
            assert isinstance(created, str)
            handlers = self._relations
            for relation in relations:
                handler = handlers.get(relation)
                if handler is not None:
                    entry[relation] = handler(v, item, created)
                elif relation in VARIATION_RELATIONS:
                    entry[
                        relation
                    ] = []  # skus, additional skus, market numbers, bundles: none in the catalog
        return entry

    def _rel_sales_prices(self, v: Variation, item: Item, created: str) -> object:
        iso = self.iso
        vid = v.id
        overrides = v.price_overrides
        default_price = self.catalog.default_price
        stamp = iso(v.price_ts)
        rows: list[JSON] = []
        for sp_id in v.price_ids:
            row = overrides.get(sp_id) if overrides else None
            if row is None:
                price, updated_at, created_at = default_price(v, sp_id), stamp, stamp
            else:
                price, updated_at, created_at = row.price, iso(row.updated), iso(row.created)
            rows.append(
                {
                    "variationId": vid,
                    "salesPriceId": sp_id,
                    "price": price,
                    "updatedAt": updated_at,
                    "createdAt": created_at,
                }
            )
        return rows

    def _rel_categories(self, v: Variation, item: Item, created: str) -> object:
        vid = v.id
        return [
            {"variationId": vid, "categoryId": cat, "position": 0, "isNeckermannPrimary": False}
            for cat in item.category_ids
        ]

    def _rel_default_category(self, v: Variation, item: Item, created: str) -> object:
        vid, branch = v.id, item.category_ids[0]
        return [
            {"variationId": vid, "branchId": branch, "plentyId": plenty, "manually": True}
            for plenty in item.plenty_ids
        ]

    def _rel_attribute_values(self, v: Variation, item: Item, created: str) -> object:
        values = self.catalog.attribute_values
        return [self._variation_attribute_value(v.id, values[a]) for a in v.attribute_value_ids]

    def _rel_barcodes(self, v: Variation, item: Item, created: str) -> object:
        return [
            {
                "variationId": v.id,
                "barcodeId": GTIN13_BARCODE_ID,
                "code": self.catalog.barcode(v),
                "createdAt": created,
            }
        ]

    def _rel_clients(self, v: Variation, item: Item, created: str) -> object:
        vid = v.id
        return [{"variationId": vid, "plentyId": p, "createdAt": created} for p in item.plenty_ids]

    def _rel_markets(self, v: Variation, item: Item, created: str) -> object:
        return [{"variationId": v.id, "marketId": 1, "createdAt": created}]

    def _rel_suppliers(self, v: Variation, item: Item, created: str) -> object:
        return [
            {
                "id": v.id,
                "variationId": v.id,
                "supplierId": v.supplier_id,
                "purchasePrice": v.purchase_price,
                "minimumPurchase": 0,
                "itemNumber": self.catalog.supplier_number(v),
                "lastPriceQuery": None,
                "deliveryTimeInDays": 3,
                "discount": 0,
                "isDiscountable": False,
                "packagingUnit": 1,
                "updatedAt": created,
            }
        ]

    def _rel_warehouses(self, v: Variation, item: Item, created: str) -> object:
        return [
            {
                "variationId": v.id,
                "warehouseId": row.warehouse_id,
                "warehouseZoneId": 0,
                "storageLocationType": "none",
                "reorderLevel": 0,
                "maximumStock": 0,
                "stockTurnoverInDays": 0,
                "storageLocation": 0,
                "stockBuffer": 0,
                "isBatch": False,
                "isBestBeforeDate": False,
                "createdAt": created,
                "updatedAt": created,
            }
            for row in v.stock
        ]

    def _rel_unit(self, v: Variation, item: Item, created: str) -> object:
        return {
            "unitId": v.unit_id,
            "unitCombinationId": self.catalog.unit_combination_id(v),
            "content": v.unit_content,
        }

    def _rel_stock(self, v: Variation, item: Item, created: str) -> object:
        return [self.variation_stock(v, row) for row in v.stock]

    def _shared_image(self, image_id: int) -> object:
        return self._share("image", image_id, partial(self.image, self.catalog.images[image_id]))

    def _rel_images(self, v: Variation, item: Item, created: str) -> object:
        images = self.catalog.images
        return [self._shared_image(i) for i in v.image_ids if i in images]

    def _rel_item_images(self, v: Variation, item: Item, created: str) -> object:
        return self._share("itemImages", item.id, lambda: [self._shared_image(i) for i in item.image_ids])

    def _rel_parent(self, v: Variation, item: Item, created: str) -> object:
        return None if v.is_main else self.variation_base(self.catalog.variations[item.main_variation_id])

    def _rel_item(self, v: Variation, item: Item, created: str) -> object:
        return self._share("item", item.id, lambda: self.item(item, ()))

    def _variation_attribute_value(self, variation_id: int, value: AttributeValue) -> JSON:
        attribute = self.catalog.attributes[value.attribute_id]
        return {
            "attributeValueSetId": variation_id,
            "attributeId": attribute.id,
            "valueId": value.id,
            "isLinkableToImage": attribute.is_linkable_to_image,
            # Plenty leaves the names out here; clients join /rest/items/attributes for them.
            "attribute": self._share(
                "attribute", attribute.id, lambda: {**self.attribute_base(attribute), "attributeNames": []}
            ),
            "attributeValue": self._share(
                "attributeValue", value.id, lambda: self.attribute_value_base(value)
            ),
        }

    def variation_stock(self, v: Variation, row: StockRow) -> JSON:
        """The `VariationStock` shape (variation relation and the per-variation stock route)."""
        return {
            "itemId": v.item_id,
            "variationId": v.id,
            "warehouseId": row.warehouse_id,
            "reservedListing": 0,
            "reservedBundles": 0,
            "valueOfGoods": round(row.physical * v.purchase_price, 2),
            "purchasePrice": v.purchase_price,
            "physicalStock": row.physical,
            "reservedStock": row.reserved,
            "netStock": row.physical - row.reserved,
            "reorderLevel": 0,
            "deltaReorderLevel": 0,
        }

    def stock_entry(self, v: Variation, row: StockRow) -> JSON:
        """The `Stock` shape of `/rest/stockmanagement/stock` (note: stockNet, not netStock)."""
        return {
            "itemId": v.item_id,
            "variationId": v.id,
            "warehouseId": row.warehouse_id,
            "stockPhysical": row.physical,
            "reservedStock": row.reserved,
            "reservedEbay": 0,
            "reorderDelta": 0,
            "stockNet": row.physical - row.reserved,
            "reordered": 0,
            "warehousePriority": 0,
            "reservedBundle": 0,
            "averagePurchasePrice": v.purchase_price,
            "updatedAt": self.iso(row.updated),
        }

    def _rel_variation_properties(self, v: Variation, item: Item, created: str) -> list[JSON]:
        c = self.catalog
        langs = self._known_langs
        rows: list[JSON] = []
        for prop in c.properties.values():
            names: list[JSON] = []
            selection: list[JSON] = []
            value_int: int | None = None
            value_float: float | None = None
            selection_id: int | None = None
            pv_id = v.id * 10 + prop.id
            kind = prop.value_type
            if kind == "text":
                care = _CARE_TEXTS[(v.id + item.noun) % len(_CARE_TEXTS)]
                names = [
                    {"propertyValueId": pv_id, "lang": lang, "value": care[LANGUAGES.index(lang)]}
                    for lang in langs
                ]
            elif kind == "int":
                value_int = 1 + v.weight_g // 5000
            elif kind == "float":
                if c.units[v.unit_id].code not in ("LTR", "MLT"):
                    continue
                value_float = v.unit_content
            elif kind == "selection":
                if v.id % 2:  # half of the variations carry a sustainability label
                    continue
                selection_id = 1 + v.id // 2 % len(prop.selections)
                texts = prop.selections[selection_id]
                selection = [
                    {
                        "id": selection_id,
                        "propertyId": prop.id,
                        "lang": lang,
                        "name": texts[lang],
                        "description": "",
                    }
                    for lang in langs
                ]
            elif v.id % 5:  # "empty" properties are flags: present on every fifth variation
                continue
            rows.append(
                {
                    "id": pv_id,
                    "itemId": item.id,
                    "propertyId": prop.id,
                    "propertySelectionId": selection_id,
                    "valueInt": value_int,
                    "valueFloat": value_float,
                    "valueFile": None,
                    "surcharge": 0,
                    "updatedAt": created,
                    "createdAt": created,
                    "variationId": v.id,
                    "names": names,
                    "propertySelection": selection,
                    "property": self._share("property", prop.id, partial(self.legacy_property, prop, ())),
                }
            )
        return rows

    def _rel_properties(self, v: Variation, item: Item, created: str) -> object:
        origin = _ORIGIN_TEXTS.get(item.producing_country_id, _ORIGIN_TEXTS[1])
        relation_id = v.id * 10 + 1
        return [
            {
                "id": relation_id,
                "propertyId": NEW_PROPERTY_ID,
                "relationTypeIdentifier": "item",
                "relationTargetId": v.id,
                "selectionRelationId": None,
                "createdAt": created,
                "updatedAt": created,
                "relationValues": [
                    {
                        "id": relation_id * 10 + LANGUAGES.index(lang),
                        "propertyRelationId": relation_id,
                        "lang": lang.upper(),  # the new property system spells languages in upper case
                        "value": origin[LANGUAGES.index(lang)],
                        "description": None,
                        "createdAt": created,
                        "updatedAt": created,
                    }
                    for lang in self._known_langs
                ],
                "propertyRelation": self._share(
                    "propertyRelation", NEW_PROPERTY_ID, self._new_property_relation
                ),
            }
        ]

    def _new_property_relation(self) -> JSON:
        created = self.iso(self.catalog.vat_created)
        return {
            "id": NEW_PROPERTY_ID,
            "cast": "shortText",
            "typeIdentifier": "item",
            "position": 10,
            "createdAt": created,
            "updatedAt": created,
        }

    # -- items ----------------------------------------------------------------------------------------

    def item(self, item: Item, relations: Collection[str]) -> JSON:
        c = self.catalog
        entry: JSON = {
            "id": item.id,
            "position": item.position,
            "manufacturerId": item.manufacturer_id,
            "storeSpecial": item.store_special,
            "condition": item.condition,
            "updatedAt": self.iso(item.updated),
            "createdAt": self.iso(item.created),
            "customsTariffNumber": item.customs_tariff_number,
            "producingCountryId": item.producing_country_id,
            "flagOne": item.flag_one,
            "flagTwo": item.flag_two,
            "ageRestriction": item.age_restriction,
            "mainVariationId": item.main_variation_id,
            **_ITEM_CONSTANTS,
            "texts": self.item_texts(item),
        }
        for relation in relations:
            if relation == "itemImages":
                entry["itemImages"] = [self.image(c.images[i]) for i in item.image_ids]
            elif relation == "variations":
                entry["variations"] = [self.variation_base(c.variations[v]) for v in item.variation_ids]
            elif relation == "itemCrossSelling":
                entry["itemCrossSelling"] = [
                    {"itemId": item.id, "crossItemId": other, "relationship": kind, "isDynamic": False}
                    for other, kind in item.cross_selling
                    if other in c.items
                ]
            elif relation == "itemShippingProfiles":
                entry["itemShippingProfiles"] = [
                    {"id": item.id * 10 + n, "itemId": item.id, "profileId": profile}
                    for n, profile in enumerate((6,) if item.id % 3 else (6, 7))
                ]
            elif relation == "itemProperties":
                entry["itemProperties"] = self._item_properties(item)
            elif relation == "ebayTitles":
                entry["ebayTitles"] = []
        return entry

    def item_texts(self, item: Item) -> list[JSON]:
        texts: list[JSON] = []
        wanted = self.langs if self.langs is not None else LANGUAGES
        for lang in wanted:
            values = self.catalog.item_texts(item, lang)
            if values is not None:
                texts.append({"lang": lang, **values})
        return texts

    def _item_properties(self, item: Item) -> list[JSON]:
        main = self.catalog.variations[item.main_variation_id]
        rows = []
        for row in self._rel_variation_properties(main, item, self.iso(main.created)):
            names = row.pop("names")
            assert isinstance(names, list)
            row["valueTexts"] = [
                {"valueId": row["id"], "lang": n["lang"], "value": n["value"]}
                for n in names
                if isinstance(n, dict)
            ]
            rows.append(row)
        return rows

    # -- images ---------------------------------------------------------------------------------------

    def image(self, image: Image) -> JSON:
        md5, size = self.catalog.image_checksum(image)
        full = IMAGE_SIZES["full"]
        prefix = f"{self.base_url}images/item/images/{image.item_id}/"
        suffix = f"/{image.id}-{image.clean_name}"
        return {
            "id": image.id,
            "itemId": image.item_id,
            "type": "internal",
            "fileType": image.file_type,
            "path": f"S3:{image.item_id}:{image.clean_name}",
            "position": image.position,
            "lastUpdate": self.legacy(image.updated),
            "insert": self.legacy(image.created),
            "md5Checksum": md5,
            "width": full,
            "height": full,
            "size": size,
            "storageProviderId": "2",
            "md5ChecksumOriginal": md5,
            "cleanImageName": image.clean_name,
            "url": f"{prefix}full{suffix}",
            "urlMiddle": f"{prefix}middle{suffix}",
            "urlPreview": f"{prefix}preview{suffix}",
            "urlSecondPreview": f"{prefix}secondPreview{suffix}",
            "documentUploadPath": "",
            "documentUploadPathPreview": "",
            "documentUploadPreviewWidth": 0,
            "documentUploadPreviewHeight": 0,
            "availabilities": [
                {"imageId": image.id, "type": "mandant", "value": p} for p in image.plenty_ids
            ],
            "names": [
                {
                    "imageId": image.id,
                    "lang": lang,
                    "name": image.names[lang][0],
                    "alternate": image.names[lang][1],
                }
                for lang in self._known_langs
            ],
        }

    # -- reference data -------------------------------------------------------------------------------

    def category(self, cat: Category, relations: Collection[str]) -> JSON:
        c = self.catalog
        entry: JSON = {
            "id": cat.id,
            "parentCategoryId": cat.parent_id,
            "level": cat.level,
            "type": cat.type,
            "linklist": "Y",
            "right": cat.right,
            "sitemap": "Y",
            "hasChildren": bool(c.children_of(cat.id)),
        }
        if "details" in relations:
            langs = self.langs if self.langs is not None else (c.options.system_language,)
            entry["details"] = [
                self._category_details(cat, lang, plenty)
                for lang in langs
                if lang in cat.names
                for plenty in cat.plenty_ids
            ]
        if "clients" in relations:
            entry["clients"] = [{"plentyId": p} for p in cat.plenty_ids]
        if "elmarCategories" in relations:
            entry["elmarCategories"] = []
        if "tags" in relations:
            entry["tags"] = []
        return entry

    def category_path(self, cat: Category, lang: str) -> str:
        parts: list[str] = []
        current: Category | None = cat
        while current is not None:
            parts.append(slugify(current.names[lang]))
            current = (
                self.catalog.categories.get(current.parent_id) if current.parent_id is not None else None
            )
        return "/".join(reversed(parts))

    def _category_details(self, cat: Category, lang: str, plenty_id: int) -> JSON:
        name = cat.names[lang]
        keywords = ", ".join(slugify(part) for part in name.split())
        return {
            "categoryId": cat.id,
            "lang": lang,
            "name": name,
            "description": f"<p>{name}</p>",
            "description2": "",
            "shortDescription": name,
            "metaKeywords": keywords,
            "metaDescription": name,
            "nameUrl": slugify(name),
            "metaTitle": name,
            "position": str(cat.position),  # a string on the wire
            "updatedAt": self.iso(cat.updated),
            "updatedBy": "",
            "itemListView": "ItemViewCategoriesList",
            "singleItemView": "ItemViewSingleItem",
            "pageView": "PageDesignContent",
            "fulltext": "N",
            "metaRobots": "ALL",
            "canonicalLink": "",
            "previewUrl": f"{self.base_url}{self.category_path(cat, lang)}/",
            "image": None,
            "imagePath": None,
            "image2": None,
            "image2Path": None,
            "plentyId": plenty_id,
        }

    def attribute_base(self, attribute: Attribute) -> JSON:
        return {
            "id": attribute.id,
            "backendName": attribute.backend_name,
            "position": attribute.position,
            "isSurchargePercental": False,
            "isLinkableToImage": attribute.is_linkable_to_image,
            "amazonAttribute": "",
            "fruugoAttribute": "",
            "pixmaniaAttribute": 0,
            "ottoAttribute": "",
            "googleShoppingAttribute": "",
            "neckermannAtEpAttribute": 0,
            "typeOfSelectionInOnlineStore": attribute.selection_type,
            "laRedouteAttribute": 0,
            "isGroupable": attribute.is_groupable,
            "updatedAt": self.iso(attribute.updated),
        }

    def attribute(self, attribute: Attribute, relations: Collection[str]) -> JSON:
        entry = self.attribute_base(attribute)
        if "names" in relations:
            entry["attributeNames"] = [
                {"attributeId": attribute.id, "lang": lang, "name": attribute.names[lang]}
                for lang in self._langs(attribute.names)
            ]
        with_value_names = "values.valueNames" in relations
        if "values" in relations or with_value_names:
            entry["values"] = [
                self.attribute_value(
                    self.catalog.attribute_values[v], ("names",) if with_value_names else (), "valueNames"
                )
                for v in attribute.value_ids
            ]
        if "maps" in relations:
            entry["maps"] = []
        return entry

    def attribute_value_base(self, value: AttributeValue) -> JSON:
        return {
            "id": value.id,
            "attributeId": value.attribute_id,
            "backendName": value.backend_name,
            "position": value.position,
            "image": "",
            "comment": "",
            "amazonValue": "",
            "ottoValue": "",
            "neckermannAtEpValue": "",
            "laRedouteValue": "",
            "tracdelightValue": "",
            "percentageDistribution": 0,
            "updatedAt": self.iso(value.updated),
        }

    def attribute_value(
        self, value: AttributeValue, relations: Collection[str], names_key: str = "valueNames"
    ) -> JSON:
        entry = self.attribute_value_base(value)
        if "names" in relations:
            entry[names_key] = [
                {"valueId": value.id, "lang": lang, "name": value.names[lang]}
                for lang in self._langs(value.names)
            ]
        if "attribute" in relations:
            entry["attribute"] = self.attribute_base(self.catalog.attributes[value.attribute_id])
        if "marketNames" in relations:
            entry["marketNames"] = []
        if "valueMaps" in relations:
            entry["valueMaps"] = []
        return entry

    def sales_price(self, sp: SalesPrice) -> JSON:
        iso = self.iso
        created, updated = iso(sp.created), iso(sp.updated)

        def link(key: str, value: object) -> JSON:
            return {"salesPriceId": sp.id, key: value, "createdAt": created, "updatedAt": updated}

        return {
            "id": sp.id,
            "position": sp.position,
            "minimumOrderQuantity": sp.minimum_order_quantity,
            "type": sp.type,
            "isCustomerPrice": False,
            "isDisplayedByDefault": True,
            "isLiveConversion": sp.is_live_conversion,
            "createdAt": self.legacy(sp.created),
            "updatedAt": self.legacy(sp.updated),
            "interval": "none",
            "names": [
                {
                    "salesPriceId": sp.id,
                    "lang": lang,
                    "nameInternal": sp.names[lang],
                    "nameExternal": sp.names[lang],
                    "createdAt": created,
                    "updatedAt": updated,
                }
                for lang in self._langs(sp.names)
            ],
            "accounts": [],
            "countries": [link("countryId", country) for country in sp.country_ids],
            "currencies": [link("currency", sp.currency)],
            "customerClasses": [link("customerClassId", cc) for cc in sp.customer_class_ids],
            "referrers": [link("referrerId", ref) for ref in sp.referrer_ids],
            "clients": [link("plentyId", p) for p in sp.plenty_ids],
        }

    def variation_sales_price(self, variation_id: int, sales_price_id: int) -> JSON:
        v = self.catalog.variations[variation_id]
        row = dict(self.catalog.prices(v))[sales_price_id]
        return {
            "variationId": variation_id,
            "salesPriceId": sales_price_id,
            "price": row.price,
            "createdAt": self.iso(row.created),
            "updatedAt": self.iso(row.updated),
        }

    def manufacturer(self, m: Manufacturer, relations: Collection[str]) -> JSON:
        domain = f"https://www.{slugify(m.external_name)}.example"
        entry: JSON = {
            "id": m.id,
            "name": m.name,
            "logo": f"{self.base_url}images/manufacturers/{m.id}.png",
            "url": domain,
            "pixmaniaBrandId": 0,
            "neckermannBrandId": 0,
            "externalName": m.external_name,
            "neckermannAtEpBrandId": 0,
            "street": m.street,
            "houseNo": m.house_no,
            "postcode": m.postcode,
            "town": m.town,
            "countryId": m.country_id,
            "phoneNumber": f"+49 30 {1000000 + m.id}",
            "faxNumber": "",
            "email": f"info@{slugify(m.external_name)}.example",
            "laRedouteBrandId": 0,
            "comment": "",
            "updatedAt": self.iso(m.updated),
            "position": m.position,
            "legalName": m.name,
            "contactUrl": f"{domain}/kontakt",
            "responsibleName": m.name,
            "responsibleStreet": m.street,
            "responsibleHouseNo": m.house_no,
            "responsiblePostCode": m.postcode,
            "responsibleTown": m.town,
            "responsibleCountry": m.country_id,
            "responsibleEmail": f"gpsr@{slugify(m.external_name)}.example",
            "responsibleContactUrl": f"{domain}/gpsr",
            "responsiblePhoneNo": f"+49 30 {2000000 + m.id}",
        }
        for relation in ("commissions", "externals"):
            if relation in relations:
                entry[relation] = []
        return entry

    def unit(self, unit: Unit) -> JSON:
        return {
            "id": unit.id,
            "position": unit.id,
            "unitOfMeasurement": unit.code,
            "isDecimalPlacesAllowed": unit.decimals,
            "updatedAt": self.iso(unit.updated),
            "createdAt": self.iso(unit.created),
            "names": [
                {"unitId": unit.id, "lang": lang, "name": unit.names[lang]}
                for lang in self._langs(unit.names)
            ],
        }

    def legacy_property(self, prop: LegacyProperty, relations: Collection[str]) -> JSON:
        entry: JSON = {
            "id": prop.id,
            "position": prop.position,
            "unit": prop.unit,
            "propertyGroupId": PROPERTY_GROUP_ID,
            "backendName": prop.backend_name,
            "valueType": prop.value_type,
            "isSearchable": True,
            "isOderProperty": False,
            "isShownOnItemPage": True,
            "isShownOnItemList": True,
            "isShownAtCheckout": False,
            "isShownInPdf": False,
            "comment": "",
            "surcharge": 0,
            "isShownAsAdditionalCosts": False,
            "updatedAt": self.iso(prop.updated),
        }
        if "names" in relations:
            entry["names"] = [
                {"propertyId": prop.id, "lang": lang, "name": prop.names[lang], "description": ""}
                for lang in self._langs(prop.names)
            ]
        if "group" in relations:
            entry["group"] = {
                "id": PROPERTY_GROUP_ID,
                "backendName": "Product data",
                "orderPropertyGroupingType": "none",
                "isSurchargePercental": False,
                "ottoComponentGroup": 0,
                "updatedAt": self.iso(prop.updated),
            }
        if "selections" in relations:
            entry["selections"] = [
                {"id": sel_id, "propertyId": prop.id, "lang": lang, "name": names[lang], "description": ""}
                for sel_id, names in prop.selections.items()
                for lang in self._langs(names)
            ]
        if "marketComponents" in relations:
            entry["marketComponents"] = []
        return entry

    def barcodes(self) -> list[JSON]:
        created = self.iso(self.catalog.vat_created)
        return [
            {"id": GTIN13_BARCODE_ID, "name": "GTIN 13", "type": "GTIN_13", "createdAt": created},
            {"id": 2, "name": "UPC", "type": "UPC", "createdAt": created},
            {"id": 3, "name": "ISBN", "type": "ISBN", "createdAt": created},
        ]

    def warehouse(self, w: Warehouse) -> JSON:
        return {
            "id": w.id,
            "name": w.name,
            "note": "",
            "typeId": w.type_id,
            "allocationReferrerIds": [],
            "onStockAvailability": 1,
            "outOfStockAvailability": 5,
            "splitByShippingProfile": False,
            "storageLocationType": "none",
            "storageLocationZone": 0,
            "repairWarehouseId": 3 if w.type_id == 0 else 0,
            "isInventoryModeActive": False,
            "logisticsType": "own",
            "updatedAt": self.iso(w.updated),
            "createdAt": self.iso(w.created),
        }

    def webstore(self, w: Webstore) -> JSON:
        domain = f"{self.base_url}shop/{w.id}"
        return {
            "id": w.id,
            "type": "plentymarkets",
            "storeIdentifier": w.plenty_id,
            "name": w.name,
            "pluginSetId": 1 + w.id,
            "configuration": {
                "name": w.name,
                "webstoreId": w.id,
                "defaultLanguage": w.default_language,
                "languageList": ", ".join(w.languages),
                "defaultCurrency": w.currency,
                "defaultShippingCountryId": w.country_id,
                "displayPriceNetto": 0,
                "currencyConversion": 1,
                "domain": domain,
                "domainSsl": domain,
                "urlLinking": "absolute",
                "categoryLevelLimit": 3,
            },
        }

    def vat_standard(self) -> JSON:
        created = self.iso(self.catalog.vat_created)
        return {
            "id": 1,
            "countryId": 1,
            "taxIdNumber": "DE123456789",
            "startedAt": created,
            "locationId": 1,
            "marginScheme": "none",
            "isRestrictedToDigitalItems": False,
            "invalidFrom": None,
            "createdAt": created,
            "updatedAt": created,
            "vatRates": [
                {"id": vat_id, "name": None, "vatRate": f"{rate:.2f}"} for vat_id, rate in VAT_RATES
            ],
        }
