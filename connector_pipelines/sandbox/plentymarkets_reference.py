"""Reference data of the Plentymarkets emulator in Plenty's wire shapes: categories, attributes, sales
prices, manufacturers, units, legacy properties, barcodes, warehouses, webstores and VAT.

:class:`ReferenceRenderer` serves one request: absolute URLs come from that request's base URL (so the
emulator works behind any host, port or mount prefix) and texts are filtered by its `lang` list. It reads
the catalog without locking; callers hold ``catalog.lock``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import orjson

from connector_pipelines.sandbox.plentymarkets_catalog import PlentyCatalog
from connector_pipelines.sandbox.plentymarkets_records import (
    GTIN13_BARCODE_ID,
    LANGUAGES,
    VAT_RATES,
    Attribute,
    AttributeValue,
    Category,
    LegacyProperty,
    Manufacturer,
    SalesPrice,
    Unit,
    Warehouse,
    Webstore,
    slugify,
)

JSON = dict[str, object]
PROPERTY_GROUP_ID = 1


class ReferenceRenderer:
    """Renders reference records for one request; holds what every renderer of a request shares."""

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
