"""Typed models of the Plentymarkets REST records the client reads (items, variations, categories, prices,
stock, ...), with field types tolerant of Plenty's mixed encodings, and :class:`InvalidRecord`, the report of
a record that failed validation and was skipped.

Built from ``contracts/plentymarkets.md``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

# --- field types tolerant of Plenty's mixed encodings -----------------------------------------------------


def _blank_to_none(value: object) -> object:
    # Called for every numeric field of every record: isspace() spares strip()'s copy.
    if isinstance(value, str) and (not value or value.isspace()):
        return None
    return value


def _no_date_to_none(value: object) -> object:
    # MySQL "zero dates" and empty strings both mean "not set".
    if isinstance(value, str) and (not value.strip() or value.startswith("0000-00-00")):
        return None
    return value


def _number_to_str(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Timestamp = Annotated[datetime | None, BeforeValidator(_no_date_to_none)]
"""ISO-8601 with offset, or the legacy ``Y-m-d H:i:s`` (naive) some fields use; empty/zero dates -> None."""
OptInt = Annotated[int | None, BeforeValidator(_blank_to_none)]
OptFloat = Annotated[float | None, BeforeValidator(_blank_to_none)]
NumStr = Annotated[str, BeforeValidator(_number_to_str)]

# --- models -----------------------------------------------------------------------------------------------


class PlentyModel(BaseModel):
    """Plenty records: camelCase on the wire, unknown fields ignored, ids accepted as numbers or strings."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)


class ItemText(PlentyModel):
    lang: str
    name1: str = ""
    name2: str = ""
    name3: str = ""
    short_description: str = ""
    meta_description: str = ""
    description: str = ""
    technical_data: str = ""
    url_path: str = ""
    keywords: str = ""


class ImageName(PlentyModel):
    image_id: OptInt = None
    lang: str
    name: str = ""
    alternate: str = ""


class ImageAvailability(PlentyModel):
    image_id: OptInt = None
    type: str
    value: int | float  # plentyId for "mandant", referrer id (e.g. 2.01) for "marketplace"


class ItemImage(PlentyModel):
    """``itemImages`` of an item or variation, and the variation-linked ``images`` (same shape)."""

    id: int
    item_id: OptInt = None
    type: str | None = None
    file_type: str | None = None
    position: OptInt = None
    md5_checksum: str | None = None
    clean_image_name: str | None = None
    url: str
    url_middle: str | None = None
    url_preview: str | None = None
    updated_at: Timestamp = None
    availabilities: list[ImageAvailability] = Field(default_factory=list)
    names: list[ImageName] = Field(default_factory=list)


class ItemCrossSelling(PlentyModel):
    item_id: int
    cross_item_id: int
    relationship: str | None = None
    is_dynamic: bool | None = None


class VariationSalesPrice(PlentyModel):
    """A price of one variation for one sales-price configuration (relation and price-delta endpoint)."""

    variation_id: int
    sales_price_id: int
    price: Decimal
    created_at: Timestamp = None
    updated_at: Timestamp = None


class VariationCategory(PlentyModel):
    variation_id: OptInt = None
    category_id: int
    position: OptInt = None
    is_neckermann_primary: bool | None = None


def _object_to_list(value: object) -> object:
    return [value] if isinstance(value, dict) else value


class VariationDefaultCategory(PlentyModel):
    variation_id: OptInt = None
    branch_id: int
    plenty_id: OptInt = None
    manually: bool | None = None


class AttributeName(PlentyModel):
    attribute_id: OptInt = None
    lang: str
    name: str = ""


class AttributeValueName(PlentyModel):
    value_id: OptInt = None  # sometimes a string on the wire ("1")
    lang: str
    name: str = ""


class AttributeValue(PlentyModel):
    id: int
    attribute_id: OptInt = None
    backend_name: str = ""
    position: OptInt = None
    image: str | None = None
    comment: str | None = None
    updated_at: Timestamp = None
    value_names: list[AttributeValueName] = Field(default_factory=list)


class Attribute(PlentyModel):
    """An attribute (configurator dimension) with ``attributeNames`` and ``values[].valueNames``."""

    id: int
    backend_name: str = ""
    position: OptInt = None
    is_groupable: bool | None = None
    type_of_selection_in_online_store: str | None = None
    updated_at: Timestamp = None
    attribute_names: list[AttributeName] = Field(default_factory=list)
    values: list[AttributeValue] = Field(default_factory=list)


class VariationAttributeValue(PlentyModel):
    attribute_value_set_id: OptInt = None
    attribute_id: int
    value_id: int
    is_linkable_to_image: bool | None = None
    attribute: Attribute | None = None
    attribute_value: AttributeValue | None = None


class VariationBarcode(PlentyModel):
    variation_id: OptInt = None
    barcode_id: int
    code: NumStr
    created_at: Timestamp = None


class VariationClient(PlentyModel):
    variation_id: OptInt = None
    plenty_id: int
    created_at: Timestamp = None


class VariationUnit(PlentyModel):
    unit_id: int
    unit_combination_id: OptInt = None
    content: OptFloat = None


class VariationStock(PlentyModel):
    """Stock of a variation in one warehouse (``with=stock``; note ``netStock``, not ``stockNet``)."""

    item_id: OptInt = None
    variation_id: OptInt = None
    warehouse_id: int
    physical_stock: float = 0
    reserved_stock: float = 0
    net_stock: float = 0
    reserved_listing: OptFloat = None
    reserved_bundles: OptFloat = None
    value_of_goods: OptFloat = None
    purchase_price: OptFloat = None
    reorder_level: OptFloat = None
    delta_reorder_level: OptFloat = None


class PropertyRelationValue(PlentyModel):
    id: OptInt = None
    property_relation_id: OptInt = None
    lang: str | None = None
    value: str | None = None


class PropertyRelationInfo(PlentyModel):
    id: OptInt = None
    cast: str | None = None
    property_group_id: OptInt = None
    position: OptInt = None


class PropertyRelation(PlentyModel):
    """The new property system's ``properties`` relation of a variation."""

    id: OptInt = None
    property_id: int
    relation_type_identifier: str | None = None
    relation_target_id: OptInt = None
    relation_values: list[PropertyRelationValue] = Field(default_factory=list)
    property_relation: PropertyRelationInfo | None = None


class Variation(PlentyModel):
    """A variation of ``/rest/items/variations``. Relations not requested with ``with`` stay empty."""

    id: int
    item_id: int
    is_main: bool = False
    main_variation_id: OptInt = None
    position: OptInt = None
    is_active: bool = True
    number: NumStr = ""
    model: str | None = None
    external_id: str | None = None
    name: str | None = None
    availability: OptInt = None
    purchase_price: OptFloat = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    related_updated_at: Timestamp = None
    released_at: Timestamp = None
    stock_limitation: OptInt = None
    main_warehouse_id: OptInt = None
    maximum_order_quantity: OptFloat = None
    minimum_order_quantity: OptFloat = None
    interval_order_quantity: OptFloat = None
    weight_g: OptFloat = None
    weight_net_g: OptFloat = None
    width_mm: OptFloat = Field(None, alias="widthMM")
    length_mm: OptFloat = Field(None, alias="lengthMM")
    height_mm: OptFloat = Field(None, alias="heightMM")
    vat_id: OptInt = None
    units_contained: OptFloat = None
    may_show_unit_price: bool | None = None
    automatic_client_visibility: OptInt = None
    variation_sales_prices: list[VariationSalesPrice] = Field(default_factory=list)
    variation_categories: list[VariationCategory] = Field(default_factory=list)
    variation_default_category: Annotated[
        list[VariationDefaultCategory], BeforeValidator(_object_to_list)
    ] = []
    variation_attribute_values: list[VariationAttributeValue] = Field(default_factory=list)
    variation_barcodes: list[VariationBarcode] = Field(default_factory=list)
    variation_clients: list[VariationClient] = Field(default_factory=list)
    unit: VariationUnit | None = None
    stock: list[VariationStock] = Field(default_factory=list)
    images: list[ItemImage] = Field(default_factory=list)
    item_images: list[ItemImage] = Field(default_factory=list)
    properties: list[PropertyRelation] = Field(default_factory=list)


class PriceRef(PlentyModel):
    sales_price_id: int
    price: Decimal


class CategoryRef(PlentyModel):
    category_id: int


class BarcodeRef(PlentyModel):
    barcode_id: int
    code: NumStr


class AttributeValueRef(PlentyModel):
    attribute_id: int
    value_id: int


class StockLevel(PlentyModel):
    warehouse_id: int
    net_stock: float = 0


class ImageRef(PlentyModel):
    id: int


class SyncVariation(PlentyModel):
    """The fields a catalog sync reads, for ``iter_variations(model=SyncVariation)``.

    Pydantic skips every other key of the raw page without building Python objects for it, which makes a
    250-variation page validate about five times faster than :class:`Variation`: the difference between a
    minute and twenty seconds on a 100,000-variation catalog.
    """

    id: int
    item_id: int
    is_main: bool = False
    position: OptInt = None
    is_active: bool = True
    number: NumStr = ""
    vat_id: OptInt = None
    weight_g: OptFloat = None
    weight_net_g: OptFloat = None
    width_mm: OptFloat = Field(None, alias="widthMM")
    length_mm: OptFloat = Field(None, alias="lengthMM")
    height_mm: OptFloat = Field(None, alias="heightMM")
    variation_sales_prices: list[PriceRef] = Field(default_factory=list)
    variation_categories: list[CategoryRef] = Field(default_factory=list)
    variation_attribute_values: list[AttributeValueRef] = Field(default_factory=list)
    variation_barcodes: list[BarcodeRef] = Field(default_factory=list)
    unit: VariationUnit | None = None
    stock: list[StockLevel] = Field(default_factory=list)
    images: list[ImageRef] = Field(default_factory=list)


class ImageSummary(PlentyModel):
    id: int
    url: str
    position: OptInt = None
    md5_checksum: str | None = None  # of the file: images with equal content are uploaded once
    names: list[ImageName] = Field(default_factory=list)
    availabilities: list[ImageAvailability] = Field(default_factory=list)


class SyncItem(PlentyModel):
    """The fields of an item a catalog sync reads (see :class:`SyncVariation` for why)."""

    id: int
    manufacturer_id: OptInt = None
    texts: list[ItemText] = Field(default_factory=list)
    item_images: list[ImageSummary] = Field(default_factory=list)


class Item(PlentyModel):
    """An item of ``/rest/items`` with its ``texts`` (one per requested language)."""

    id: int
    position: OptInt = None
    item_type: str = "default"
    main_variation_id: OptInt = None
    manufacturer_id: OptInt = None
    stock_type: OptInt = None
    store_special: OptInt = None
    condition: OptInt = None
    flag_one: OptInt = None
    flag_two: OptInt = None
    age_restriction: OptInt = None
    producing_country_id: OptInt = None
    customs_tariff_number: str | None = None
    maximum_order_quantity: OptFloat = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    texts: list[ItemText] = Field(default_factory=list)
    item_images: list[ItemImage] = Field(default_factory=list)
    item_cross_selling: list[ItemCrossSelling] = Field(default_factory=list)
    variations: list[Variation] = Field(default_factory=list)


class CategoryDetail(PlentyModel):
    """One row per (``lang``, ``plentyId``); ``position`` is a string on the wire."""

    category_id: OptInt = None
    lang: str
    plenty_id: OptInt = None
    name: str = ""
    name_url: str = ""
    description: str = ""
    description2: str = ""
    short_description: str = ""
    meta_title: str = ""
    meta_description: str = ""
    meta_keywords: str = ""
    meta_robots: str | None = None
    canonical_link: str | None = None
    position: OptInt = None
    updated_at: Timestamp = None
    image: str | None = None
    image_path: str | None = None
    image2: str | None = None
    image2_path: str | None = None


class CategoryClient(PlentyModel):
    plenty_id: int


class Category(PlentyModel):
    id: int
    parent_category_id: OptInt = None
    level: OptInt = None
    type: str | None = None
    linklist: str | None = None
    right: str | None = None
    sitemap: str | None = None
    has_children: bool | None = None
    details: list[CategoryDetail] = Field(default_factory=list)
    clients: list[CategoryClient] = Field(default_factory=list)


class SalesPriceName(PlentyModel):
    sales_price_id: OptInt = None
    lang: str
    name_internal: str = ""
    name_external: str = ""


class SalesPriceCurrency(PlentyModel):
    sales_price_id: OptInt = None
    currency: NumStr  # ISO code, or "-1" for all


class SalesPriceClient(PlentyModel):
    sales_price_id: OptInt = None
    plenty_id: int  # -1 = all clients


class SalesPriceCustomerClass(PlentyModel):
    sales_price_id: OptInt = None
    customer_class_id: int  # -1 = all classes


class SalesPriceReferrer(PlentyModel):
    sales_price_id: OptInt = None
    referrer_id: float  # referrers such as 4.01 are not integers


class SalesPriceCountry(PlentyModel):
    sales_price_id: OptInt = None
    country_id: int


class SalesPrice(PlentyModel):
    """A sales-price configuration (``/rest/items/sales_prices``): ``type`` is default, rrp, specialOffer."""

    id: int
    position: OptInt = None
    type: str = "default"
    minimum_order_quantity: OptFloat = None
    is_customer_price: bool | None = None
    is_displayed_by_default: bool | None = None
    is_live_conversion: bool | None = None
    interval: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    names: list[SalesPriceName] = Field(default_factory=list)
    currencies: list[SalesPriceCurrency] = Field(default_factory=list)
    clients: list[SalesPriceClient] = Field(default_factory=list)
    customer_classes: list[SalesPriceCustomerClass] = Field(default_factory=list)
    referrers: list[SalesPriceReferrer] = Field(default_factory=list)
    countries: list[SalesPriceCountry] = Field(default_factory=list)


class Manufacturer(PlentyModel):
    id: int
    name: str = ""
    external_name: str | None = None
    logo: str | None = None
    url: str | None = None
    street: str | None = None
    house_no: NumStr | None = None
    postcode: NumStr | None = None
    town: str | None = None
    country_id: OptInt = None
    phone_number: str | None = None
    fax_number: str | None = None
    email: str | None = None
    comment: str | None = None
    position: OptInt = None
    updated_at: Timestamp = None
    legal_name: str | None = None
    contact_url: str | None = None
    responsible_name: str | None = None
    responsible_street: str | None = None
    responsible_house_no: NumStr | None = None
    responsible_post_code: NumStr | None = None
    responsible_town: str | None = None
    responsible_country: NumStr | None = None
    responsible_email: str | None = None
    responsible_contact_url: str | None = None
    responsible_phone_no: str | None = None


class UnitName(PlentyModel):
    unit_id: OptInt = None
    lang: str
    name: str = ""


class Unit(PlentyModel):
    id: int
    position: OptInt = None
    unit_of_measurement: str = ""  # UN/ECE code: C62, KGM, LTR, ...
    is_decimal_places_allowed: bool | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    names: list[UnitName] = Field(default_factory=list)


class BarcodeType(PlentyModel):
    """A barcode definition (``/rest/items/barcodes``); ``variationBarcodes.barcodeId`` points here."""

    id: int
    name: str = ""
    type: str = ""  # GTIN_13, GTIN_128, UPC, ISBN, ...
    created_at: Timestamp = None


class StockEntry(PlentyModel):
    """A row of ``/rest/stockmanagement/stock`` (note ``stockNet``, not ``netStock``)."""

    item_id: OptInt = None
    variation_id: int
    warehouse_id: int
    stock_physical: float = 0
    reserved_stock: float = 0
    stock_net: float = 0
    reserved_ebay: OptFloat = None
    reorder_delta: OptFloat = None
    reordered: OptFloat = None
    reserved_bundle: OptFloat = None
    warehouse_priority: OptFloat = None
    average_purchase_price: OptFloat = None
    updated_at: Timestamp = None


class Warehouse(PlentyModel):
    id: int
    name: str = ""
    type_id: OptInt = None  # 0 = sales warehouse
    note: str | None = None
    logistics_type: str | None = None
    is_inventory_mode_active: bool | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class WebstoreConfiguration(PlentyModel):
    default_language: str | None = None
    language_list: str | None = None
    default_currency: str | None = None

    @property
    def languages(self) -> list[str]:
        return [lang.strip() for lang in (self.language_list or "").split(",") if lang.strip()]


class Webstore(PlentyModel):
    id: int
    type: str | None = None
    store_identifier: int  # the plentyId
    name: str = ""
    plugin_set_id: OptInt = None
    configuration: WebstoreConfiguration | None = None


class VatRate(PlentyModel):
    id: int
    vat_rate: Decimal  # "19.00" on the wire
    name: str | None = None


class VatStandard(PlentyModel):
    """``/rest/vat/standard``: a variation's ``vatId`` indexes ``vat_rates`` by ``id``."""

    id: OptInt = None
    country_id: OptInt = None
    location_id: OptInt = None
    started_at: Timestamp = None
    invalid_from: Timestamp = None
    vat_rates: list[VatRate] = Field(default_factory=list)


class InvalidRecord(BaseModel):
    """A record that failed validation and was skipped."""

    endpoint: str
    page: int
    index: int
    record_id: str | None
    item_id: int | None = Field(None, description="the record's itemId, when it has a usable one")
    errors: list[str] = Field(description="'<json field path>: <reason>', without the offending values")

    def describe(self) -> str:
        ident = f" (id {self.record_id})" if self.record_id is not None else ""
        return f"{self.endpoint} page {self.page} record {self.index}{ident}: {'; '.join(self.errors)}"
