"""Records of the Plentymarkets emulator's catalog and the values that describe them.

Records keep only what varies per object; anything derivable from an id (barcodes, property values,
default prices, texts) is derived when rendered. Mutation requests, their results and the parsed query
filters are plain values here too, so every layer above can share them.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

LANGUAGES: tuple[str, ...] = ("de", "en")
TEXT_FIELDS: tuple[str, ...] = (
    "name1",
    "name2",
    "name3",
    "shortDescription",
    "metaDescription",
    "description",
    "technicalData",
    "urlPath",
    "keywords",
)
GTIN13_BARCODE_ID = 1
VAT_RATES: tuple[tuple[int, float], ...] = ((0, 19.0), (1, 7.0), (2, 0.0), (3, 0.0))

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_UMLAUTS)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def gtin13(variation_id: int, seed: int) -> str:
    """A valid GTIN-13 that encodes the variation id, so the barcode filter needs no index."""
    body = f"4{seed % 1000:03d}{variation_id:08d}"
    total = sum(map(int, body[0::2])) + 3 * sum(map(int, body[1::2]))
    return body + str((10 - total % 10) % 10)


def variation_id_from_gtin13(code: str, seed: int) -> int | None:
    if len(code) != 13 or not code.isdigit() or code[1:4] != f"{seed % 1000:03d}" or code[0] != "4":
        return None
    variation_id = int(code[4:12])
    return variation_id if gtin13(variation_id, seed) == code else None


# -- timestamps ----------------------------------------------------------------------------------------


class TimeFormat:
    """Renders epoch seconds the way Plenty does, in the tenant's time zone, with a per-hour offset cache."""

    CACHE_SIZE = 1 << 18

    def __init__(self, tz_name: str) -> None:
        self._tz = ZoneInfo(tz_name)
        self._offsets: dict[int, tuple[int, str]] = {}
        # A variation page repeats the same instants many times (createdAt in half its relations).
        self._iso: dict[int, str] = {}

    def _offset(self, seconds: int) -> tuple[int, str]:
        hour = seconds // 3600
        cached = self._offsets.get(hour)
        if cached is None:
            delta = datetime.fromtimestamp(hour * 3600, self._tz).utcoffset() or timedelta(0)
            off = int(delta.total_seconds())
            sign = "+" if off >= 0 else "-"
            cached = (off, f"{sign}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}")
            self._offsets[hour] = cached
        return cached

    def iso(self, ts: float) -> str:
        seconds = int(ts)
        text = self._iso.get(seconds)
        if text is None:
            if len(self._iso) >= self.CACHE_SIZE:
                self._iso.clear()
            off, suffix = self._offset(seconds)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds + off)) + suffix
            self._iso[seconds] = text
        return text

    def legacy(self, ts: float) -> str:
        """The `Y-m-d H:i:s` local-time format some older Plenty fields still use."""
        iso = self.iso(ts)
        return iso[:10] + " " + iso[11:19]

    @property
    def zone(self) -> ZoneInfo:
        return self._tz


# -- records -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Webstore:
    id: int
    plenty_id: int
    name: str
    default_language: str
    languages: tuple[str, ...]
    currency: str
    country_id: int


@dataclass(slots=True)
class Category:
    id: int
    parent_id: int | None
    level: int
    type: str
    right: str
    position: int
    names: dict[str, str]
    plenty_ids: tuple[int, ...]
    updated: float


@dataclass(slots=True)
class Attribute:
    id: int
    backend_name: str
    position: int
    names: dict[str, str]
    value_ids: list[int]
    is_groupable: bool
    is_linkable_to_image: bool
    selection_type: str
    updated: float


@dataclass(slots=True)
class AttributeValue:
    id: int
    attribute_id: int
    backend_name: str
    position: int
    names: dict[str, str]
    updated: float


@dataclass(slots=True)
class SalesPrice:
    id: int
    position: int
    type: str
    minimum_order_quantity: float
    currency: str
    plenty_ids: tuple[int, ...]
    customer_class_ids: tuple[int, ...]
    referrer_ids: tuple[float, ...]
    country_ids: tuple[int, ...]
    names: dict[str, str]
    factor: float
    ending: float
    share: float
    is_live_conversion: bool
    created: float
    updated: float


@dataclass(slots=True)
class Manufacturer:
    id: int
    name: str
    external_name: str
    street: str
    house_no: str
    postcode: str
    town: str
    country_id: int
    position: int
    updated: float


@dataclass(slots=True)
class Unit:
    id: int
    code: str
    names: dict[str, str]
    decimals: bool
    contents: tuple[float, ...]
    created: float
    updated: float


@dataclass(slots=True)
class Warehouse:
    id: int
    name: str
    type_id: int
    created: float
    updated: float


@dataclass(slots=True)
class LegacyProperty:
    id: int
    backend_name: str
    value_type: str
    unit: str
    position: int
    names: dict[str, str]
    selections: dict[int, dict[str, str]]
    updated: float


@dataclass(slots=True)
class Image:
    id: int
    item_id: int
    position: int
    file_type: str
    clean_name: str
    names: dict[str, tuple[str, str]]
    plenty_ids: tuple[int, ...]
    created: float
    updated: float
    md5: str = ""
    size: int = 0
    file_of: int = 0  # the image whose file this one shows (a copy uploaded twice); 0: its own


@dataclass(slots=True)
class PriceRow:
    price: float
    created: float
    updated: float


@dataclass(slots=True)
class StockRow:
    warehouse_id: int
    physical: float
    reserved: float
    updated: float


@dataclass(slots=True)
class Item:
    id: int
    position: int
    manufacturer_id: int
    flag_one: int
    flag_two: int
    store_special: int
    condition: int
    age_restriction: int
    producing_country_id: int
    customs_tariff_number: str
    noun: int
    style: int
    line: int
    created: float
    updated: float
    main_variation_id: int
    variation_ids: list[int]
    category_ids: tuple[int, ...]
    plenty_ids: tuple[int, ...]
    image_ids: list[int]
    attribute_ids: tuple[int, ...]
    cross_selling: tuple[tuple[int, str], ...]
    text_overrides: dict[str, dict[str, str]] | None = None


@dataclass(slots=True)
class Variation:
    id: int
    item_id: int
    is_main: bool
    position: int
    is_active: bool
    number: str
    model: str
    external_id: str
    name: str
    availability: int
    purchase_price: float
    base_price: float
    price_ids: tuple[int, ...]
    price_ts: float
    weight_g: int
    weight_net_g: int
    width_mm: int
    length_mm: int
    height_mm: int
    vat_id: int
    unit_id: int
    unit_content: float
    main_warehouse_id: int
    minimum_order_quantity: float
    maximum_order_quantity: float
    interval_order_quantity: float
    created: float
    updated: float
    related_updated: float
    attribute_value_ids: tuple[int, ...]
    image_ids: tuple[int, ...]
    supplier_id: int
    stock: list[StockRow]
    price_overrides: dict[int, PriceRow] | None = None


# -- mutation requests and results -----------------------------------------------------------------------


class _Patch(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class VariationPatch(_Patch):
    """Variation fields a mutation may change; every one of them bumps the variation's `updatedAt`."""

    number: str | None = None
    model: str | None = None
    external_id: str | None = Field(None, alias="externalId")
    name: str | None = None
    is_active: bool | None = Field(None, alias="isActive")
    position: int | None = None
    availability: int | None = Field(None, ge=1, le=10)
    purchase_price: float | None = Field(None, alias="purchasePrice", ge=0)
    weight_g: int | None = Field(None, alias="weightG", ge=0)
    weight_net_g: int | None = Field(None, alias="weightNetG", ge=0)
    width_mm: int | None = Field(None, alias="widthMM", ge=0)
    length_mm: int | None = Field(None, alias="lengthMM", ge=0)
    height_mm: int | None = Field(None, alias="heightMM", ge=0)
    vat_id: int | None = Field(None, alias="vatId")
    main_warehouse_id: int | None = Field(None, alias="mainWarehouseId")
    minimum_order_quantity: float | None = Field(None, alias="minimumOrderQuantity", ge=0)
    maximum_order_quantity: float | None = Field(None, alias="maximumOrderQuantity", ge=0)
    interval_order_quantity: float | None = Field(None, alias="intervalOrderQuantity", ge=0)


class ItemTextPatch(_Patch):
    name1: str | None = None
    name2: str | None = None
    name3: str | None = None
    short_description: str | None = Field(None, alias="shortDescription")
    meta_description: str | None = Field(None, alias="metaDescription")
    description: str | None = None
    technical_data: str | None = Field(None, alias="technicalData")
    url_path: str | None = Field(None, alias="urlPath")
    keywords: str | None = None


class ItemPatch(_Patch):
    """Item fields and texts a mutation may change; every one of them bumps the item's `updatedAt`."""

    manufacturer_id: int | None = Field(None, alias="manufacturerId")
    flag_one: int | None = Field(None, alias="flagOne", ge=0)
    flag_two: int | None = Field(None, alias="flagTwo", ge=0)
    store_special: int | None = Field(None, alias="storeSpecial", ge=0)
    position: int | None = None
    customs_tariff_number: str | None = Field(None, alias="customsTariffNumber")
    age_restriction: int | None = Field(None, alias="ageRestriction", ge=0)
    texts: dict[str, ItemTextPatch] | None = None


ChangeKind = Literal[
    "variation_updated",
    "item_updated",
    "price_changed",
    "stock_changed",
    "item_added",
    "item_deleted",
    "variation_deactivated",
    "category_moved",
    "image_added",
    "image_deleted",
]


class Change(BaseModel):
    """One mutation and the timestamp it wrote (epoch seconds)."""

    kind: ChangeKind
    at: float
    item_id: int | None = None
    variation_id: int | None = None
    variation_ids: list[int] = Field(default_factory=list)
    sales_price_id: int | None = None
    warehouse_id: int | None = None
    category_id: int | None = None
    image_id: int | None = None
    price: float | None = None
    physical_stock: float | None = None


class CatalogSummary(BaseModel):
    seed: int
    products: int
    variants: int
    version: int
    items: int
    variations: int
    active_variations: int
    categories: int
    attributes: int
    attribute_values: int
    sales_prices: int
    variation_sales_prices: int
    manufacturers: int
    units: int
    warehouses: int
    stock_rows: int
    images: int
    webstores: int
    plenty_ids: list[int]


# -- queries ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: float
    end: float | None = None

    def __contains__(self, ts: float) -> bool:
        return ts >= self.start and (self.end is None or ts <= self.end)


@dataclass(frozen=True, slots=True)
class VariationQuery:
    """The variation filters of `GET /rest/items/variations`, already parsed and validated."""

    ids: tuple[int, ...] | None = None
    item_ids: tuple[int, ...] | None = None
    is_active: bool | None = None
    is_main: bool | None = None
    is_bundle: bool | None = None
    plenty_ids: tuple[int, ...] | None = None
    category_id: int | None = None
    barcode: str | None = None
    number_exact: str | None = None
    number_fuzzy: str | None = None
    item_name: str | None = None
    item_description: str | None = None
    flag_one: int | None = None
    flag_two: int | None = None
    store_special: int | None = None
    manufacturer_id: int | None = None
    referrer_ids: tuple[float, ...] | None = None
    supplier_id: int | None = None
    supplier_number: str | None = None
    sku: str | None = None
    variation_tag_ids: tuple[int, ...] | None = None
    stock_warehouse_id: int | None = None
    updated: TimeRange | None = None
    created: TimeRange | None = None
    related_updated: TimeRange | None = None


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """One `/rest/items` filter; `or=(...)` groups are tuples of these."""

    name: Literal[
        "id",
        "name",
        "manufacturerId",
        "flagOne",
        "flagTwo",
        "updatedBetween",
        "variationUpdatedBetween",
        "variationRelatedUpdatedBetween",
    ]
    ids: tuple[int, ...] = ()
    text: str = ""
    number: int = 0
    range: TimeRange | None = None


@dataclass(frozen=True, slots=True)
class ItemQuery:
    all_of: tuple[ItemFilter, ...] = ()
    any_of: tuple[tuple[ItemFilter, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogOptions:
    timezone: str = "Europe/Berlin"
    anchor: datetime = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    prices_gross: bool = True
    system_language: str = "de"
