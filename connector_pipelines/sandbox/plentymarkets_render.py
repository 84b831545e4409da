"""Wire shapes of the Plentymarkets emulator's items and variations, as Plenty's REST API returns them.

:class:`Renderer` serves one request on top of
:class:`~connector_pipelines.sandbox.plentymarkets_reference.ReferenceRenderer` (same base URL, languages
and locking rules) and adds items, variations with their relations, stock and images.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import cached_property, partial

from connector_pipelines.sandbox.plentymarkets_images import IMAGE_SIZES
from connector_pipelines.sandbox.plentymarkets_records import (
    GTIN13_BARCODE_ID,
    LANGUAGES,
    AttributeValue,
    Image,
    Item,
    StockRow,
    Variation,
)
from connector_pipelines.sandbox.plentymarkets_reference import JSON, ReferenceRenderer

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


class Renderer(ReferenceRenderer):
    """Renders items and variations (and, inherited, the reference records) for one request.

    Objects shared by neighbouring entries (an item's images, the item itself, property and attribute
    definitions) are rendered once per renderer, since a variation page lists all variations of an item
    side by side. With ``fragments`` they are also serialised once and spliced in as ``orjson.Fragment``;
    use that only for output that goes straight to ``orjson.dumps``.
    """

    @cached_property
    def _relations(self) -> dict[str, Callable[[Variation, Item, str], object]]:
        return {
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
