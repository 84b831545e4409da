"""The seeded Plentymarkets catalog behind the emulator: records, generator, queries and mutations.

Records keep only what varies per object; anything derivable from an id (barcodes, property values,
default prices, texts) is derived when rendered, so a 100,000-variation catalog builds in about a second
and stays small in memory. Mutations store overrides and move exactly the timestamps Plenty moves.
"""

from __future__ import annotations

import gc
import hashlib
import math
import random
import re
import struct
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable
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
FIRST_ITEM_ID = 100
FIRST_VARIATION_ID = 1000
GTIN13_BARCODE_ID = 1

# -- word lists (de, en) -------------------------------------------------------------------------------

_NOUNS: tuple[tuple[str, str], ...] = (
    ("Sessel", "Armchair"),
    ("Sofa", "Sofa"),
    ("Stuhl", "Chair"),
    ("Tisch", "Table"),
    ("Lampe", "Lamp"),
    ("Regal", "Shelf"),
    ("Jacke", "Jacket"),
    ("Hemd", "Shirt"),
    ("Hose", "Trousers"),
    ("Pullover", "Sweater"),
    ("Schal", "Scarf"),
    ("Mütze", "Beanie"),
    ("Rucksack", "Backpack"),
    ("Tasche", "Bag"),
    ("Sneaker", "Sneaker"),
    ("Decke", "Blanket"),
    ("Kissen", "Cushion"),
    ("Teppich", "Rug"),
    ("Vase", "Vase"),
    ("Becher", "Mug"),
    ("Teller", "Plate"),
    ("Kochtopf", "Cooking pot"),
    ("Pfanne", "Pan"),
    ("Messer", "Knife"),
    ("Armbanduhr", "Wristwatch"),
    ("Sonnenbrille", "Sunglasses"),
    ("Handschuhe", "Gloves"),
    ("Gürtel", "Belt"),
    ("Kleid", "Dress"),
    ("Mantel", "Coat"),
)
_STYLES: tuple[tuple[str, str], ...] = (
    ("Klassik", "Classic"),
    ("Premium", "Premium"),
    ("Vintage", "Vintage"),
    ("Modern", "Modern"),
    ("Outdoor", "Outdoor"),
    ("Öko", "Eco"),
    ("Komfort", "Comfort"),
    ("Urban", "Urban"),
    ("Nordisch", "Nordic"),
    ("Deluxe", "Deluxe"),
)
_LINES: tuple[str, ...] = (
    "Oslo", "Bergen", "Lyon", "Porto", "Verona", "Malmö", "Gent", "Bern", "Graz", "Turku",
    "Aarhus", "Brügge", "Sevilla", "Krakau", "Dublin", "Riga", "Tallinn", "Vigo", "Nantes", "Basel",
    "Salzburg", "Lille", "Cork", "Utrecht", "Bilbao", "Gdansk", "Leipzig", "Como", "Split", "Odense",
    "Lund", "Luzern", "Namur", "Pisa", "Bordeaux", "Kassel", "Trier", "Växjö", "Kiel", "Zadar",
)  # fmt: skip
_MAKER_PREFIXES: tuple[str, ...] = (
    "Nord",
    "Süd",
    "Alpen",
    "Rhein",
    "Elb",
    "Hansa",
    "Berg",
    "Wald",
    "Stern",
    "Licht",
)
_MAKER_SUFFIXES: tuple[str, ...] = ("werk", "haus", "form", "design", "tex", "holz", "linie", "manufaktur")
_MAKER_LEGAL: tuple[str, ...] = ("GmbH", "AG", "KG", "GmbH & Co. KG")
_TOWNS: tuple[tuple[str, str, int], ...] = (
    ("Berlin", "10115", 1),
    ("Hamburg", "20095", 1),
    ("München", "80331", 1),
    ("Kassel", "34117", 1),
    ("Wien", "1010", 2),
    ("Zürich", "8001", 4),
)
_ROOT_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Wohnen", "Living"),
    ("Bekleidung", "Clothing"),
    ("Küche", "Kitchen"),
    ("Accessoires", "Accessories"),
    ("Garten", "Garden"),
    ("Büro", "Office"),
    ("Sport", "Sports"),
    ("Kinder", "Kids"),
)
_SUB_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Neuheiten", "New arrivals"),
    ("Bestseller", "Bestsellers"),
    ("Klassiker", "Classics"),
    ("Damen", "Women"),
    ("Herren", "Men"),
    ("Sale", "Sale"),
    ("Textilien", "Textiles"),
    ("Dekoration", "Decoration"),
    ("Aufbewahrung", "Storage"),
    ("Beleuchtung", "Lighting"),
    ("Möbel", "Furniture"),
    ("Geschenke", "Gifts"),
    ("Basics", "Basics"),
    ("Saison", "Seasonal"),
    ("Nachhaltig", "Sustainable"),
    ("Reise", "Travel"),
)
_COLORS: tuple[tuple[str, str], ...] = (
    ("Schwarz", "Black"),
    ("Weiß", "White"),
    ("Rot", "Red"),
    ("Blau", "Blue"),
    ("Grün", "Green"),
    ("Gelb", "Yellow"),
    ("Grau", "Grey"),
    ("Braun", "Brown"),
    ("Beige", "Beige"),
    ("Rosa", "Pink"),
    ("Lila", "Purple"),
    ("Orange", "Orange"),
)
_SIZES: tuple[tuple[str, str], ...] = tuple((s, s) for s in ("XS", "S", "M", "L", "XL", "XXL", "3XL"))
_MATERIALS: tuple[tuple[str, str], ...] = (
    ("Baumwolle", "Cotton"),
    ("Wolle", "Wool"),
    ("Leder", "Leather"),
    ("Leinen", "Linen"),
    ("Polyester", "Polyester"),
    ("Seide", "Silk"),
)
# (code, de, en, decimals allowed, contents a variation may carry)
_UNITS: tuple[tuple[str, str, str, bool, tuple[float, ...]], ...] = (
    ("C62", "Stück", "piece", False, (1.0,)),
    ("KGM", "Kilogramm", "kilogram", True, (0.5, 1.0, 2.5)),
    ("GRM", "Gramm", "gram", True, (250.0, 500.0)),
    ("LTR", "Liter", "litre", True, (0.5, 1.0)),
    ("MLT", "Milliliter", "millilitre", True, (250.0, 750.0)),
    ("MTR", "Meter", "metre", True, (1.0, 5.0, 10.0)),
    ("CMT", "Zentimeter", "centimetre", True, (50.0,)),
    ("MTK", "Quadratmeter", "square metre", True, (1.0, 2.0)),
    ("PR", "Paar", "pair", False, (1.0,)),
    ("SET", "Set", "set", False, (1.0, 3.0)),
)
VAT_RATES: tuple[tuple[int, float], ...] = ((0, 19.0), (1, 7.0), (2, 0.0), (3, 0.0))
_SUPPLIER_IDS: tuple[int, ...] = (201, 202, 203)
_IMAGE_COUNTS: tuple[int, ...] = (1, 1, 2, 2, 3, 4)
_CROSS_RELATIONS: tuple[str, ...] = ("Similar", "Accessory", "ReplacementPart")
_LOG_PRICE_MIN = math.log(5)
_LOG_PRICE_SPAN = math.log(800) - math.log(5)
CUSTOMER_CLASS_DEALER = 2

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


# -- images ----------------------------------------------------------------------------------------------

IMAGE_SIZES: dict[str, int] = {"full": 64, "middle": 32, "preview": 16, "secondPreview": 8}


def _image_rgb(key: int) -> tuple[int, int, int]:
    digest = hashlib.blake2b(key.to_bytes(8, "big"), digest_size=3).digest()
    return digest[0], digest[1], digest[2]


def png_bytes(key: int, size: int) -> bytes:
    """A solid-colour PNG whose colour depends on ``key``."""
    r, g, b = _image_rgb(key)
    row = b"\x00" + bytes((r, g, b)) * size
    raw = zlib.compress(row * size, 1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def jpeg_bytes(key: int, size: int) -> bytes:
    """A solid-colour baseline JPEG (4:4:4, unit quantisation, DC-only blocks), colour from ``key``.

    A solid block has only a DC coefficient, so a Huffman table with the twelve DC categories (all 4-bit
    codes) and an AC table holding just end-of-block encode it exactly; no imaging library is needed.
    Every block after the first repeats the same DC, so it encodes as 15 zero bits.
    """
    r, g, b = _image_rgb(key)
    ycc = (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )
    first: list[str] = []
    for value in ycc:
        diff = round(8 * (min(255.0, max(0.0, value)) - 128))
        category = abs(diff).bit_length()
        first.append(format(category, "04b"))
        if category:
            first.append(format(diff if diff > 0 else diff + (1 << category) - 1, f"0{category}b"))
        first.append("0")  # AC: end of block
    blocks = (size // 8) * (size // 8)
    stream = "".join(first) + "0" * (15 * (blocks - 1))
    stream += "1" * (-len(stream) % 8)
    scan = int(stream, 2).to_bytes(len(stream) // 8, "big").replace(b"\xff", b"\xff\x00")

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    dc_table = bytes([0x00, 0, 0, 0, 12, *([0] * 12), *range(12)])
    ac_table = bytes([0x10, 1, *([0] * 15), 0x00])
    return b"".join(
        (
            b"\xff\xd8",
            segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xFFFE, f"plenty-sandbox image {key}".encode()),
            segment(0xFFDB, b"\x00" + b"\x01" * 64),
            segment(0xFFC0, struct.pack(">BHHB", 8, size, size, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"),
            segment(0xFFC4, dc_table + ac_table),
            segment(0xFFDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"),
            scan,
            b"\xff\xd9",
        )
    )


def image_bytes(image: Image, size_name: str) -> bytes:
    size = IMAGE_SIZES[size_name]
    key = image.file_of or image.id
    return png_bytes(key, size) if image.file_type == "png" else jpeg_bytes(key, size)


def manufacturer_logo_bytes(manufacturer_id: int) -> bytes:
    return png_bytes(1_000_000 + manufacturer_id, IMAGE_SIZES["middle"])


# -- the catalog ------------------------------------------------------------------------------------------


def _psych_price(value: float, ending: float) -> float:
    return round(max(math.floor(value), 0) + ending, 2)


@dataclass(slots=True)
class _Clock:
    """Hands out the timestamps of one new item: ``created``, then instants after a given start.

    With an ``rng`` the instants are random whole seconds up to ``latest`` (a generated history);
    without one every instant is ``latest`` (an item added now).
    """

    created: float
    latest: float
    rng: random.Random | None = None

    def after_function(self) -> Callable[[float], float]:
        rng, latest = self.rng, self.latest
        if rng is None:
            return lambda start: latest
        r = rng.random
        # start is never below `created`, and start + 1 + r() * (latest - start - 1) stays above start
        return lambda start: float(int(start + 1 + r() * (latest - start - 1)))


class PlentyCatalog:
    """All records of one tenant, generated deterministically from (products, variants, seed).

    Thread-safety: the HTTP server thread and the test or benchmark thread share one catalog; every public
    method takes :attr:`lock`, and renderers hold it while they read.
    """

    def __init__(
        self, products: int = 20, variants: int = 3, seed: int = 1, options: CatalogOptions | None = None
    ) -> None:
        if products < 0 or variants < 1:
            raise ValueError("products must be >= 0 and variants >= 1")
        self.products = products
        self.variants = variants
        self.seed = seed
        self.options = options or CatalogOptions()
        self.time = TimeFormat(self.options.timezone)
        self.lock = threading.RLock()
        self.version = 0
        self.anchor = self.options.anchor.timestamp()

        self.webstores: list[Webstore] = []
        self.categories: dict[int, Category] = {}
        self.attributes: dict[int, Attribute] = {}
        self.attribute_values: dict[int, AttributeValue] = {}
        self.sales_prices: dict[int, SalesPrice] = {}
        self.manufacturers: dict[int, Manufacturer] = {}
        self.units: dict[int, Unit] = {}
        self.warehouses: dict[int, Warehouse] = {}
        self.properties: dict[int, LegacyProperty] = {}
        self.items: dict[int, Item] = {}
        self.variations: dict[int, Variation] = {}
        self.images: dict[int, Image] = {}
        self.vat_created = self.anchor - 4 * 365 * 86400

        self._children: dict[int | None, list[int]] = {}
        self._leaf_categories: list[int] = []
        self._unit_combinations: dict[tuple[int, float], int] = {}
        self._price_id_tuples: dict[tuple[int, ...], tuple[int, ...]] = {}
        # Base prices repeat a lot (psychological price points), so derived prices are memoised.
        self._default_prices: dict[tuple[float, int, int], float] = {}
        self._barcodes: dict[int, str] = {}
        self._next_item_id = FIRST_ITEM_ID
        self._next_variation_id = FIRST_VARIATION_ID
        self._next_image_id = 1
        self._cache: dict[object, tuple[int, object]] = {}

        rng = random.Random(seed)
        self._build_reference_data(rng)
        # Generation allocates millions of objects and no reference cycles; the cyclic GC would only
        # rescan them over and over (a fifth of the build time at 100,000 variations).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(products):
                self._add_item(rng, variants, self._historic_clock(rng))
        finally:
            if gc_was_enabled:
                gc.enable()

    # -- generation -----------------------------------------------------------------------------------

    @property
    def plenty_ids(self) -> tuple[int, ...]:
        return tuple(w.plenty_id for w in self.webstores)

    def _historic_clock(self, rng: random.Random) -> _Clock:
        """Timestamps for a generated item: created up to three years before the anchor, changes after."""
        return _Clock(float(int(self.anchor - rng.uniform(30, 3 * 365) * 86400)), self.anchor, rng)

    def _build_reference_data(self, rng: random.Random) -> None:
        old = self.anchor - 4 * 365 * 86400
        plenty = sorted(rng.sample(range(10000, 99999), 3))
        self.webstores = [
            Webstore(0, plenty[0], "Standard Shop", "de", ("de", "en"), "EUR", 1),
            Webstore(1, plenty[1], "Schweiz Shop", "de", ("de", "en"), "CHF", 4),
            Webstore(2, plenty[2], "UK Shop", "en", ("en",), "GBP", 12),
        ]
        self._build_categories(rng, old)

        next_value = 1
        specs: list[tuple[str, str, str, tuple[tuple[str, str], ...], bool]] = [
            ("color", "Farbe", "Colour", _COLORS, True),
            ("size", "Größe", "Size", _SIZES, False),
            ("material", "Material", "Material", _MATERIALS, False),
        ]
        capacity = len(_COLORS) * len(_SIZES) * len(_MATERIALS)
        extra = 0
        while capacity < self.variants:
            extra += 1
            values = tuple((f"Variante {extra}.{v}", f"Option {extra}.{v}") for v in range(1, 11))
            specs.append((f"option{extra}", f"Ausführung {extra}", f"Edition {extra}", values, False))
            capacity *= len(values)
        for attr_id, (backend, de, en, values, linkable) in enumerate(specs, start=1):
            value_ids: list[int] = []
            for pos, (vde, ven) in enumerate(values, start=1):
                self.attribute_values[next_value] = AttributeValue(
                    next_value, attr_id, ven.lower(), pos, {"de": vde, "en": ven}, old + 3600 * next_value
                )
                value_ids.append(next_value)
                next_value += 1
            self.attributes[attr_id] = Attribute(
                attr_id, backend, attr_id, {"de": de, "en": en}, value_ids, attr_id == 2, linkable,
                "image" if linkable else "dropdown", old + 86400 * attr_id,
            )  # fmt: skip

        all_clients = (-1,)
        referrers: tuple[float, ...] = (0, 1)
        dealer = (CUSTOMER_CLASS_DEALER,)
        # type, names, currency, clients, customer classes, factor on the base price, price ending,
        # share of variations carrying it, minimum order quantity
        price_specs: list[
            tuple[str, str, str, str, tuple[int, ...], tuple[int, ...], float, float, float, int]
        ] = [
            ("default", "Preis", "Price", "EUR", all_clients, (-1,), 1.0, 0.99, 1.0, 1),
            ("rrp", "UVP", "RRP", "EUR", all_clients, (-1,), 1.25, 0.99, 0.7, 1),
            ("default", "Preis CHF", "Price CHF", "CHF", (plenty[1],), (-1,), 1.05, 0.9, 1.0, 1),
            ("default", "Preis GBP", "Price GBP", "GBP", (plenty[2],), (-1,), 0.87, 0.99, 1.0, 1),
            ("specialOffer", "Angebot", "Special offer", "EUR", all_clients, (-1,), 0.8, 0.95, 0.1, 1),
            ("default", "Staffelpreis", "Tier price", "EUR", all_clients, (-1,), 0.92, 0.49, 0.15, 10),
            ("default", "Händlerpreis", "Dealer price", "EUR", all_clients, dealer, 0.75, 0.0, 0.3, 1),
        ]
        for sp_id, (kind, de, en, currency, clients, classes, factor, ending, share, min_qty) in enumerate(
            price_specs, start=1
        ):
            created = old + 600 * sp_id
            self.sales_prices[sp_id] = SalesPrice(
                sp_id, sp_id - 1, kind, min_qty, currency, clients, classes, referrers, (-1,),
                {"de": de, "en": en}, factor, ending, share, False, created, created + 86400,
            )  # fmt: skip

        manufacturer_count = max(3, min(300, self.products // 50 + 3))
        for m_id in range(1, manufacturer_count + 1):
            index = m_id - 1
            prefix = _MAKER_PREFIXES[index % len(_MAKER_PREFIXES)]
            suffix = _MAKER_SUFFIXES[(index // len(_MAKER_PREFIXES)) % len(_MAKER_SUFFIXES)]
            legal = _MAKER_LEGAL[(index // (len(_MAKER_PREFIXES) * len(_MAKER_SUFFIXES))) % len(_MAKER_LEGAL)]
            town, postcode, country = _TOWNS[rng.randrange(len(_TOWNS))]
            brand = f"{prefix}{suffix}"
            self.manufacturers[m_id] = Manufacturer(
                m_id, f"{brand} {legal}", brand, f"{rng.choice(('Haupt', 'Linden', 'Industrie'))}straße",
                str(rng.randint(1, 120)), postcode, town, country, m_id, old + rng.uniform(0, 365) * 86400,
            )  # fmt: skip

        for u_id, (code, de, en, decimals, contents) in enumerate(_UNITS, start=1):
            self.units[u_id] = Unit(
                u_id, code, {"de": de, "en": en}, decimals, contents, old, old + 3600 * u_id
            )
            for content in contents:
                self._unit_combinations[(u_id, content)] = len(self._unit_combinations) + 1

        self.warehouses = {
            1: Warehouse(1, "Hauptlager", 0, old, old + 86400),
            2: Warehouse(2, "Lager Zürich", 0, old + 86400 * 30, old + 86400 * 31),
            3: Warehouse(3, "Reparaturlager", 1, old + 86400 * 60, old + 86400 * 61),
        }

        def prop(pid: int, backend: str, kind: str, unit: str, de: str, en: str) -> LegacyProperty:
            return LegacyProperty(pid, backend, kind, unit, pid * 10, {"de": de, "en": en}, {}, old)

        sustainability = prop(4, "Sustainability", "selection", "", "Nachhaltigkeit", "Sustainability")
        sustainability.selections = {
            1: {"de": "Recycelt", "en": "Recycled"},
            2: {"de": "Bio", "en": "Organic"},
            3: {"de": "Fair gehandelt", "en": "Fair trade"},
        }
        self.properties = {
            1: prop(1, "Care instructions", "text", "", "Pflegehinweis", "Care instructions"),
            2: prop(2, "Weight class", "int", "KGM", "Gewichtsklasse", "Weight class"),
            3: prop(3, "Filling quantity", "float", "LTR", "Füllmenge", "Filling quantity"),
            4: sustainability,
            5: prop(5, "Gift wrapping", "empty", "", "Geschenkverpackung", "Gift wrapping"),
        }

    def _build_categories(self, rng: random.Random, old: float) -> None:
        target = max(8, min(2000, self.products // 20))
        roots = max(2, min(len(_ROOT_CATEGORIES), target // 10))
        per_root = max(1, target // roots)
        second = max(1, min(8, round(math.sqrt(per_root))))
        third = max(1, min(len(_SUB_CATEGORIES), per_root // second))
        next_id = 16
        plenty = self.plenty_ids

        def add(parent: int | None, level: int, names: dict[str, str], position: int, **kw: str) -> int:
            nonlocal next_id
            cat = Category(
                next_id, parent, level, kw.get("type", "item"), kw.get("right", "all"), position, names,
                plenty, old + rng.uniform(0, 3 * 365) * 86400,
            )  # fmt: skip
            self.categories[next_id] = cat
            self._children.setdefault(parent, []).append(next_id)
            next_id += 1
            return cat.id

        for r in range(roots):
            de, en = _ROOT_CATEGORIES[r]
            root = add(None, 1, {"de": de, "en": en}, r + 1)
            for s in range(second):
                sde, sen = _SUB_CATEGORIES[(r + s) % len(_SUB_CATEGORIES)]
                mid = add(root, 2, {"de": f"{de} {sde}", "en": f"{en} {sen}"}, s + 1)
                for t in range(third):
                    tde, ten = _SUB_CATEGORIES[(r + s + t + 1) % len(_SUB_CATEGORIES)]
                    leaf = add(mid, 3, {"de": tde, "en": ten}, t + 1)
                    self._leaf_categories.append(leaf)
        add(None, 1, {"de": "Händlerbereich", "en": "Dealer area"}, roots + 1, right="customer")
        add(None, 1, {"de": "Über uns", "en": "About us"}, roots + 2, type="content")

    def _interned(self, ids: tuple[int, ...]) -> tuple[int, ...]:
        """A few dozen distinct sales-price-id tuples serve all variations."""
        return self._price_id_tuples.setdefault(ids, ids)

    def _add_item(self, rng: random.Random, k: int, clock: _Clock) -> Item:
        # Draws use rng.random() arithmetic instead of randint/choice: five times faster, which matters
        # for 100,000 variations, and just as deterministic.
        r = rng.random
        later = clock.after_function()
        item_id = self._next_item_id
        self._next_item_id += 1
        created = clock.created
        plenty = self.plenty_ids
        clients = tuple(p for i, p in enumerate(plenty) if i == 0 or r() < (0.8 if i == 1 else 0.6))
        leaf = self._leaf_categories
        categories: tuple[int, ...] = (leaf[int(r() * len(leaf))],)
        if r() < 0.2:
            extra = leaf[int(r() * len(leaf))]
            if extra != categories[0]:
                categories = (categories[0], extra)
        attribute_ids, combos = self._attribute_combinations(r, k)

        noun = int(r() * len(_NOUNS))
        noun_de, noun_en = _NOUNS[noun]
        images: list[int] = []
        slug = slugify(noun_en)
        for position in range(_IMAGE_COUNTS[int(r() * len(_IMAGE_COUNTS))]):
            image_id = self._next_image_id
            self._next_image_id += 1
            ext = "png" if r() < 0.2 else "jpg"
            n = position + 1
            names = {
                "de": (f"{noun_de} Bild {n}", f"{noun_de} Ansicht {n}"),
                "en": (f"{noun_en} image {n}", f"{noun_en} view {n}"),
            }
            img_created = later(created)
            self.images[image_id] = Image(
                image_id, item_id, position, ext, f"{item_id}-{slug}-{n}.{ext}", names, clients, img_created,
                later(img_created),
            )  # fmt: skip
            images.append(image_id)

        cross: tuple[tuple[int, str], ...] = ()
        if self.products > 1 and r() < 0.2:
            other = FIRST_ITEM_ID + int(r() * max(self.products, item_id - FIRST_ITEM_ID + 1))
            if other != item_id:
                cross = ((other, _CROSS_RELATIONS[int(r() * len(_CROSS_RELATIONS))]),)

        unit_id = 1 if r() < 0.85 else 2 + int(r() * (len(self.units) - 1))
        contents = self.units[unit_id].contents
        unit_content = contents[int(r() * len(contents))]
        vat_id = 0 if r() < 0.9 else 1
        base_price = _psych_price(math.exp(_LOG_PRICE_MIN + r() * _LOG_PRICE_SPAN), 0.99)
        manufacturer_id = 1 + int(r() * len(self.manufacturers))
        style = int(r() * len(_STYLES))
        line = int(r() * len(_LINES))
        item = Item(
            id=item_id,
            position=(0, 0, 0, 10, 100)[int(r() * 5)],
            manufacturer_id=manufacturer_id,
            flag_one=(0, 0, 0, 1, 2, 5)[int(r() * 6)],
            flag_two=(0, 0, 0, 3, 7)[int(r() * 5)],
            store_special=(0, 0, 0, 0, 1, 2, 3)[int(r() * 7)],
            condition=0,
            age_restriction=18 if r() < 0.05 else 0,
            producing_country_id=(1, 1, 1, 2, 4)[int(r() * 5)],
            customs_tariff_number=str(10000000 + int(r() * 90000000)),
            noun=noun,
            style=style,
            line=line,
            created=created,
            updated=later(created),
            main_variation_id=self._next_variation_id,
            variation_ids=[],
            category_ids=categories,
            plenty_ids=clients,
            image_ids=images,
            attribute_ids=attribute_ids,
            cross_selling=cross,
        )
        self.items[item_id] = item
        optional_prices = [(sp.id, sp.share) for sp in self.sales_prices.values()]
        value_names = self.attribute_values
        for position, combo in enumerate(combos):
            variation_id = self._next_variation_id
            self._next_variation_id += 1
            v_created = later(created)
            related = later(v_created)
            price_ids = self._interned(
                tuple(sp_id for sp_id, share in optional_prices if share >= 1.0 or r() < share)
            )
            physical = 0.0 if r() < 0.1 else float(1 + int(r() * 500))
            stock = [StockRow(1, physical, float(min(int(r() * 6), int(physical))), later(v_created))]
            if r() < 0.4:
                stock.append(StockRow(2, float(int(r() * 81)), 0.0, later(v_created)))
            if r() < 0.05:
                stock.append(StockRow(3, float(1 + int(r() * 3)), 0.0, later(v_created)))
            weight = 50 + int(r() * 25000)
            price = (
                base_price if position == 0 else _psych_price(base_price + (0, 0, 5, 10)[int(r() * 4)], 0.99)
            )
            variation = Variation(
                variation_id, item_id, position == 0, position, position == 0 or r() > 0.02,
                f"A-{item_id:06d}-{position + 1:03d}",
                f"M{noun:02d}{style:02d}-{line:02d}" if r() < 0.5 else "",
                f"EXT-{variation_id}" if r() < 0.3 else "",
                " / ".join(value_names[v].names["en"] for v in combo),
                (1, 1, 1, 2, 5)[int(r() * 5)],
                round(price * (0.35 + r() * 0.2), 2),
                price, price_ids, float(int(v_created + r() * (related - v_created))),
                weight, int(weight * 0.9), 10 + int(r() * 1190), 10 + int(r() * 1190), 5 + int(r() * 895),
                vat_id, unit_id, unit_content, 1, 1.0 if r() < 0.9 else 2.0, 0.0, 0.0,
                v_created, later(v_created), related, combo, (images[position % len(images)],),
                _SUPPLIER_IDS[(manufacturer_id + position) % len(_SUPPLIER_IDS)], stock,
            )  # fmt: skip
            self.variations[variation_id] = variation
            item.variation_ids.append(variation_id)
        return item

    def _attribute_combinations(
        self, r: Callable[[], float], k: int
    ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        """Attributes for an item with ``k`` variations and ``k`` distinct value combinations of them."""
        if k == 1:
            return (), [()]
        base = [1, 2, 3]
        for i in (2, 1):  # Fisher-Yates on the three base attributes
            j = int(r() * (i + 1))
            base[i], base[j] = base[j], base[i]
        chosen: list[int] = []
        capacity = 1
        for attr_id in [*base, *range(4, len(self.attributes) + 1)]:
            chosen.append(attr_id)
            capacity *= len(self.attributes[attr_id].value_ids)
            if capacity >= k:
                break
        attribute_ids = tuple(sorted(chosen))
        value_lists = [self.attributes[a].value_ids for a in attribute_ids]
        picked: dict[int, None] = {}
        while len(picked) < k:
            picked.setdefault(int(r() * capacity))
        combos: list[tuple[int, ...]] = []
        for index in picked:
            digits: list[int] = []
            for values in value_lists:
                index, digit = divmod(index, len(values))
                digits.append(values[digit])
            combos.append(tuple(digits))
        return attribute_ids, combos

    # -- derived data ---------------------------------------------------------------------------------

    def children_of(self, category_id: int | None) -> list[int]:
        return self._children.get(category_id, [])

    def unit_combination_id(self, variation: Variation) -> int:
        return self._unit_combinations.get((variation.unit_id, variation.unit_content), 0)

    def vat_rate(self, vat_id: int) -> float:
        return dict(VAT_RATES).get(vat_id, 0.0)

    def barcode(self, variation: Variation) -> str:
        code = self._barcodes.get(variation.id)
        if code is None:
            code = self._barcodes[variation.id] = gtin13(variation.id, self.seed)
        return code

    def supplier_number(self, variation: Variation) -> str:
        return f"SUP-{variation.supplier_id}-{variation.id}"

    def prices(self, variation: Variation) -> list[tuple[int, PriceRow]]:
        """The variation's sales prices in sales-price-id order: derived defaults plus stored overrides."""
        overrides = variation.price_overrides or {}
        rows: list[tuple[int, PriceRow]] = []
        for sp_id in variation.price_ids:
            row = overrides.get(sp_id)
            if row is None:
                row = PriceRow(self.default_price(variation, sp_id), variation.price_ts, variation.price_ts)
            rows.append((sp_id, row))
        return rows

    def default_price(self, variation: Variation, sales_price_id: int) -> float:
        key = (variation.base_price, sales_price_id, variation.vat_id)
        price = self._default_prices.get(key)
        if price is None:
            sp = self.sales_prices[sales_price_id]
            base = variation.base_price
            price = _psych_price(base * sp.factor, sp.ending) if sp.ending else round(base * sp.factor, 2)
            if not self.options.prices_gross:
                price = round(price / (1 + self.vat_rate(variation.vat_id) / 100), 2)
            self._default_prices[key] = price
        return price

    def item_texts(self, item: Item, lang: str) -> dict[str, str] | None:
        """The item's texts in one language, or None when the item has none in that language."""
        overrides = (item.text_overrides or {}).get(lang)
        if lang not in LANGUAGES:  # a language only a mutation added: what it set, blanks elsewhere
            return {name: overrides.get(name, "") for name in TEXT_FIELDS} if overrides else None
        li = LANGUAGES.index(lang)
        noun = _NOUNS[item.noun][li]
        style = _STYLES[item.style][li]
        line = _LINES[item.line]
        maker = (
            self.manufacturers[item.manufacturer_id].external_name
            if item.manufacturer_id in self.manufacturers
            else ""
        )
        name = f"{noun} »{line}« {style}"
        if li == 0:
            short = f"{noun} aus der Kollektion {style} von {maker}."
            description = (
                f"<p>Der {noun} »{line}« verbindet {style}-Design mit solider Verarbeitung.</p>"
                f"<ul><li>Hersteller: {maker}</li><li>Artikel {item.id}</li></ul>"
            )
            technical = f"<p>Zolltarifnummer {item.customs_tariff_number}</p>"
        else:
            short = f"{noun} from the {style} collection by {maker}."
            description = (
                f"<p>The {noun.lower()} »{line}« combines {style.lower()} design with solid work.</p>"
                f"<ul><li>Manufacturer: {maker}</li><li>Item {item.id}</li></ul>"
            )
            technical = f"<p>Customs tariff number {item.customs_tariff_number}</p>"
        texts = {
            "name1": name,
            "name2": f"{noun} {line}",
            "name3": "",
            "shortDescription": short,
            "metaDescription": f"{name}: {short}",
            "description": description,
            "technicalData": technical,
            "urlPath": f"{slugify(name)}-{item.id}",
            "keywords": ", ".join((noun.lower(), line.lower(), style.lower())),
        }
        if overrides:
            texts.update(overrides)
        return texts

    # -- ordered views and queries --------------------------------------------------------------------

    def _cached(self, key: object, build: Callable[[], object]) -> object:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = build()
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = (self.version, value)
        return value

    def _touch(self) -> None:
        self.version += 1

    def find_variations(self, query: VariationQuery) -> list[int]:
        with self.lock:
            result = self._cached(("variations", query), lambda: self._scan_variations(query))
            assert isinstance(result, list)
            return result

    def _scan_variations(self, q: VariationQuery) -> list[int]:
        variations = self.variations
        if q.ids is not None:
            candidates: Iterable[Variation] = (variations[i] for i in sorted(set(q.ids)) if i in variations)
        elif q.item_ids is not None:
            ids = sorted({v for i in set(q.item_ids) if i in self.items for v in self.items[i].variation_ids})
            candidates = (variations[i] for i in ids)
        elif q.barcode is not None:
            found = variation_id_from_gtin13(q.barcode, self.seed)
            candidates = [variations[found]] if found in variations else []
        else:
            candidates = variations.values()
        checks = self._variation_checks(q)
        if not checks:
            return [v.id for v in candidates]
        return [v.id for v in candidates if all(check(v) for check in checks)]

    def variations_of_item(self, item_id: int, query: VariationQuery) -> list[int] | None:
        """One item's variations matching ``query``, by id; None when the item does not exist. Not cached:
        it touches one item's variations, and per-item keys would evict the cached catalog-wide scans."""
        with self.lock:
            item = self.items.get(item_id)
            if item is None:
                return None
            checks = self._variation_checks(query)
            variations = self.variations
            return [v for v in sorted(item.variation_ids) if all(check(variations[v]) for check in checks)]

    def _variation_checks(self, q: VariationQuery) -> list[Callable[[Variation], bool]]:
        items = self.items
        checks: list[Callable[[Variation], bool]] = []
        if q.ids is not None and q.item_ids is not None:
            item_ids = set(q.item_ids)
            checks.append(lambda v: v.item_id in item_ids)
        if q.barcode is not None and (q.ids is not None or q.item_ids is not None):
            code = q.barcode
            checks.append(lambda v: self.barcode(v) == code)
        if q.is_active is not None:
            active = q.is_active
            checks.append(lambda v: v.is_active is active)
        if q.is_main is not None:
            main = q.is_main
            checks.append(lambda v: v.is_main is main)
        if q.is_bundle:
            checks.append(lambda v: False)  # the generated catalog has no bundles
        if q.plenty_ids is not None:
            wanted = set(q.plenty_ids)
            checks.append(lambda v: not wanted.isdisjoint(items[v.item_id].plenty_ids))
        if q.category_id is not None:
            category = q.category_id
            checks.append(lambda v: category in items[v.item_id].category_ids)
        if q.number_exact is not None:
            number = q.number_exact
            checks.append(lambda v: v.number == number)
        if q.number_fuzzy is not None:
            fuzzy = q.number_fuzzy.replace("%", "")
            checks.append(lambda v: fuzzy in v.number)
        if q.item_name is not None:
            needle = q.item_name.lower()
            checks.append(lambda v: any(needle in n.lower() for n in self._item_names(items[v.item_id])))
        if q.item_description is not None:
            needle = q.item_description.lower()
            checks.append(lambda v: self._item_mentions(items[v.item_id], needle))
        item_fields = {
            name: value
            for name, value in (
                ("flag_one", q.flag_one),
                ("flag_two", q.flag_two),
                ("store_special", q.store_special),
                ("manufacturer_id", q.manufacturer_id),
            )
            if value is not None
        }
        if item_fields:
            checks.append(
                lambda v: all(getattr(items[v.item_id], name) == value for name, value in item_fields.items())
            )
        if q.referrer_ids is not None:
            referrers = set(q.referrer_ids)
            checks.append(lambda v: 1.0 in referrers)  # every generated variation is active for the store
        if q.supplier_id is not None:
            supplier = q.supplier_id
            checks.append(lambda v: v.supplier_id == supplier)
        if q.supplier_number is not None:
            supplier_number = q.supplier_number
            checks.append(lambda v: self.supplier_number(v) == supplier_number)
        if q.sku is not None or q.variation_tag_ids is not None:
            checks.append(lambda v: False)  # the generated catalog has no SKUs and no tags
        if q.stock_warehouse_id is not None:
            warehouse = q.stock_warehouse_id
            checks.append(lambda v: any(r.warehouse_id == warehouse and r.physical > 0 for r in v.stock))
        if q.updated is not None:
            updated = q.updated
            checks.append(lambda v: v.updated in updated)
        if q.created is not None:
            created = q.created
            checks.append(lambda v: v.created in created)
        if q.related_updated is not None:
            related = q.related_updated
            checks.append(lambda v: v.related_updated in related)
        return checks

    def _item_names(self, item: Item) -> list[str]:
        names: list[str] = []
        for lang in LANGUAGES:
            texts = self.item_texts(item, lang)
            if texts:
                names.append(texts["name1"])
        return names

    def _item_mentions(self, item: Item, needle: str) -> bool:
        for lang in LANGUAGES:
            texts = self.item_texts(item, lang)
            if texts and needle in texts["description"].lower():
                return True
        return False

    def find_items(self, query: ItemQuery) -> list[int]:
        with self.lock:
            result = self._cached(("items", query), lambda: self._scan_items(query))
            assert isinstance(result, list)
            return result

    def _scan_items(self, q: ItemQuery) -> list[int]:
        checks = [self._item_check(f) for f in q.all_of]
        groups = [[self._item_check(f) for f in group] for group in q.any_of]
        return [
            item.id
            for item in self.items.values()
            if all(c(item) for c in checks) and all(any(c(item) for c in group) for group in groups)
        ]

    def _item_check(self, f: ItemFilter) -> Callable[[Item], bool]:
        variations = self.variations
        if f.name == "id":
            ids = set(f.ids)
            return lambda it: it.id in ids
        if f.name == "name":
            needle = f.text.lower()
            return lambda it: any(needle in n.lower() for n in self._item_names(it))
        if f.name == "manufacturerId":
            return lambda it: it.manufacturer_id == f.number
        if f.name == "flagOne":
            return lambda it: it.flag_one == f.number
        if f.name == "flagTwo":
            return lambda it: it.flag_two == f.number
        window = f.range or TimeRange(0.0)
        if f.name == "updatedBetween":
            return lambda it: it.updated in window
        if f.name == "variationUpdatedBetween":
            return lambda it: any(variations[v].updated in window for v in it.variation_ids)
        return lambda it: any(variations[v].related_updated in window for v in it.variation_ids)

    def variation_price_rows(
        self,
        variation_ids: tuple[int, ...] | None,
        sales_price_ids: tuple[int, ...] | None,
        updated_at: float | None,
    ) -> list[tuple[int, int]]:
        """(variationId, salesPriceId) pairs for `/rest/items/variations/variation_sales_prices`."""

        def build() -> list[tuple[int, int]]:
            wanted_sp = set(sales_price_ids) if sales_price_ids is not None else None
            if variation_ids is not None:
                source: Iterable[Variation] = (
                    self.variations[i] for i in sorted(set(variation_ids)) if i in self.variations
                )
            else:
                source = self.variations.values()
            rows: list[tuple[int, int]] = []
            for v in source:
                if v.price_overrides is None:  # all prices carry price_ts: decide once per variation
                    if updated_at is None or v.price_ts >= updated_at:
                        rows.extend((v.id, sp) for sp in v.price_ids if wanted_sp is None or sp in wanted_sp)
                    continue
                for sp, row in self.prices(v):
                    if (wanted_sp is None or sp in wanted_sp) and (
                        updated_at is None or row.updated >= updated_at
                    ):
                        rows.append((v.id, sp))
            return rows

        with self.lock:
            result = self._cached(("vsp", variation_ids, sales_price_ids, updated_at), build)
            assert isinstance(result, list)
            return result

    def stock_rows(
        self,
        variation_ids: tuple[int, ...] | None,
        warehouse_ids: tuple[int, ...] | None,
        updated: TimeRange | None,
    ) -> list[tuple[Variation, StockRow]]:
        def build() -> list[tuple[Variation, StockRow]]:
            if variation_ids is not None:
                source: Iterable[Variation] = (
                    self.variations[i] for i in sorted(set(variation_ids)) if i in self.variations
                )
            else:
                source = self.variations.values()
            wanted = set(warehouse_ids) if warehouse_ids is not None else None
            return [
                (v, row)
                for v in source
                for row in v.stock
                if (wanted is None or row.warehouse_id in wanted)
                and (updated is None or row.updated in updated)
            ]

        with self.lock:
            result = self._cached(("stock", variation_ids, warehouse_ids, updated), build)
            assert isinstance(result, list)
            return result

    # -- mutations ------------------------------------------------------------------------------------

    def _now(self) -> float:
        return time.time()

    def _variation(self, variation_id: int) -> Variation:
        variation = self.variations.get(variation_id)
        if variation is None:
            raise KeyError(f"variation {variation_id} does not exist")
        return variation

    def _item(self, item_id: int) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise KeyError(f"item {item_id} does not exist")
        return item

    def update_variation(self, variation_id: int, patch: VariationPatch) -> Change:
        """Change variation fields; moves the variation's `updatedAt` only."""
        with self.lock:
            variation = self._variation(variation_id)
            changes = patch.model_dump(exclude_none=True, by_alias=False)
            if not changes:
                raise ValueError("the patch changes nothing")
            if "vat_id" in changes and changes["vat_id"] not in dict(VAT_RATES):
                raise ValueError(f"vat id {changes['vat_id']} does not exist")
            if "main_warehouse_id" in changes and changes["main_warehouse_id"] not in self.warehouses:
                raise ValueError(f"warehouse {changes['main_warehouse_id']} does not exist")
            for name, value in changes.items():
                setattr(variation, name, value)
            now = self._now()
            variation.updated = now
            self._touch()
            return Change(
                kind="variation_updated", at=now, item_id=variation.item_id, variation_id=variation_id
            )

    def deactivate_variation(self, variation_id: int) -> Change:
        with self.lock:
            change = self.update_variation(variation_id, VariationPatch(is_active=False))
            return change.model_copy(update={"kind": "variation_deactivated"})

    def update_item(self, item_id: int, patch: ItemPatch) -> Change:
        """Change item fields or texts; moves the item's `updatedAt` only (variations keep theirs)."""
        with self.lock:
            item = self._item(item_id)
            fields = patch.model_dump(exclude_none=True, exclude={"texts"})
            if not fields and not patch.texts:
                raise ValueError("the patch changes nothing")
            if "manufacturer_id" in fields and fields["manufacturer_id"] not in self.manufacturers:
                raise ValueError(f"manufacturer {fields['manufacturer_id']} does not exist")
            for name, value in fields.items():
                setattr(item, name, value)
            for lang, text_patch in (patch.texts or {}).items():
                overrides = item.text_overrides if item.text_overrides is not None else {}
                overrides.setdefault(lang, {}).update(text_patch.model_dump(exclude_none=True, by_alias=True))
                item.text_overrides = overrides
            now = self._now()
            item.updated = now
            self._touch()
            return Change(kind="item_updated", at=now, item_id=item_id)

    def set_price(self, variation_id: int, sales_price_id: int, price: float) -> Change:
        """Set one variation sales price.

        Moves that price's `updatedAt` and the variation's `relatedUpdatedAt`, never its `updatedAt`.
        """
        with self.lock:
            variation = self._variation(variation_id)
            if sales_price_id not in self.sales_prices:
                raise KeyError(f"sales price {sales_price_id} does not exist")
            if price < 0:
                raise ValueError("price must not be negative")
            now = self._now()
            current = dict(self.prices(variation)).get(sales_price_id)
            overrides = variation.price_overrides if variation.price_overrides is not None else {}
            overrides[sales_price_id] = PriceRow(round(price, 2), current.created if current else now, now)
            variation.price_overrides = overrides
            if sales_price_id not in variation.price_ids:
                variation.price_ids = self._interned(tuple(sorted((*variation.price_ids, sales_price_id))))
            variation.related_updated = now
            self._touch()
            return Change(
                kind="price_changed",
                at=now,
                item_id=variation.item_id,
                variation_id=variation_id,
                sales_price_id=sales_price_id,
                price=round(price, 2),
            )

    def set_stock(self, variation_id: int, warehouse_id: int, physical_stock: float) -> Change:
        """Set physical stock; moves only the stock row's `updatedAt` (stock is not "related information")."""
        with self.lock:
            variation = self._variation(variation_id)
            if warehouse_id not in self.warehouses:
                raise KeyError(f"warehouse {warehouse_id} does not exist")
            now = self._now()
            for row in variation.stock:
                if row.warehouse_id == warehouse_id:
                    row.physical = float(physical_stock)
                    row.reserved = min(row.reserved, max(row.physical, 0.0))
                    row.updated = now
                    break
            else:
                variation.stock.append(StockRow(warehouse_id, float(physical_stock), 0.0, now))
                variation.stock.sort(key=lambda r: r.warehouse_id)
            self._touch()
            return Change(
                kind="stock_changed",
                at=now,
                item_id=variation.item_id,
                variation_id=variation_id,
                warehouse_id=warehouse_id,
                physical_stock=float(physical_stock),
            )

    def add_item(self, variants: int | None = None) -> Change:
        """Add an item with ``variants`` variations, created now; deterministic per (seed, item id)."""
        with self.lock:
            k = variants or self.variants
            if k < 1 or k > math.prod(len(a.value_ids) for a in self.attributes.values()):
                raise ValueError(f"cannot build {k} distinct attribute combinations")
            rng = random.Random(f"{self.seed}/item/{self._next_item_id}")
            now = float(int(self._now()))
            item = self._add_item(rng, k, _Clock(now, now))
            self._touch()
            return Change(kind="item_added", at=now, item_id=item.id, variation_ids=list(item.variation_ids))

    def delete_item(self, item_id: int) -> Change:
        """Delete an item with its variations, prices, stock and images (Plenty has no deletion feed)."""
        with self.lock:
            item = self._item(item_id)
            for variation_id in item.variation_ids:
                del self.variations[variation_id]
            for image_id in item.image_ids:
                del self.images[image_id]
            del self.items[item_id]
            self._touch()
            return Change(
                kind="item_deleted", at=self._now(), item_id=item_id, variation_ids=list(item.variation_ids)
            )

    def add_image(self, item_id: int, *, file_of: int | None = None) -> Change:
        """Upload an image to an item, after its others and linked to no variation; ``file_of``: the same
        file as that image (the same bytes, another image). Images are related information of the item's
        variations: their `relatedUpdatedAt` moves."""
        with self.lock:
            item = self._item(item_id)
            source = self.images.get(file_of) if file_of is not None else None
            if file_of is not None and source is None:
                raise KeyError(f"image {file_of} does not exist")
            now = self._now()
            image_id = self._next_image_id
            self._next_image_id += 1
            n = len(item.image_ids) + 1
            position = max((self.images[i].position for i in item.image_ids), default=-1) + 1
            file_type = source.file_type if source is not None else "jpg"
            slug = slugify(_NOUNS[item.noun][1])
            names = {"de": (f"Bild {n}", f"Ansicht {n}"), "en": (f"Image {n}", f"View {n}")}
            self.images[image_id] = Image(
                image_id,
                item_id,
                position,
                file_type,
                f"{item_id}-{slug}-{n}.{file_type}",
                names,
                item.plenty_ids,
                now,
                now,
                file_of=(source.file_of or source.id) if source is not None else 0,
            )
            item.image_ids.append(image_id)
            self._touch_related(item, now)
            return Change(kind="image_added", at=now, item_id=item_id, image_id=image_id)

    def delete_image(self, image_id: int) -> Change:
        """Delete an image from its item (and the variations linked to it)."""
        with self.lock:
            image = self.images.pop(image_id, None)
            if image is None:
                raise KeyError(f"image {image_id} does not exist")
            item = self._item(image.item_id)
            item.image_ids.remove(image_id)
            now = self._now()
            for variation_id in item.variation_ids:
                variation = self.variations[variation_id]
                variation.image_ids = tuple(i for i in variation.image_ids if i != image_id)
            self._touch_related(item, now)
            return Change(kind="image_deleted", at=now, item_id=item.id, image_id=image_id)

    def _touch_related(self, item: Item, now: float) -> None:
        for variation_id in item.variation_ids:
            self.variations[variation_id].related_updated = now
        self._touch()

    def move_category(self, category_id: int, parent_id: int | None) -> Change:
        """Re-parent a category; its subtree's levels change, so their details' `updatedAt` moves."""
        with self.lock:
            category = self.categories.get(category_id)
            if category is None:
                raise KeyError(f"category {category_id} does not exist")
            if parent_id is not None:
                if parent_id not in self.categories:
                    raise KeyError(f"category {parent_id} does not exist")
                ancestor: int | None = parent_id
                while ancestor is not None:
                    if ancestor == category_id:
                        raise ValueError("a category cannot move below itself")
                    ancestor = self.categories[ancestor].parent_id
            now = self._now()
            old_parent = category.parent_id
            self._children[old_parent].remove(category_id)
            self._children.setdefault(parent_id, []).append(category_id)
            category.parent_id = parent_id
            base_level = self.categories[parent_id].level + 1 if parent_id is not None else 1
            stack = [(category_id, base_level)]
            while stack:
                current, level = stack.pop()
                self.categories[current].level = level
                self.categories[current].updated = now
                stack.extend((child, level + 1) for child in self._children.get(current, []))
            for parent in (old_parent, parent_id):
                if parent is not None:
                    self.categories[parent].updated = now  # its hasChildren may have flipped
            self._touch()
            return Change(kind="category_moved", at=now, category_id=category_id)

    def change_random(
        self,
        fraction: float,
        seed: int | None = None,
        kinds: tuple[Literal["variation", "item", "price", "stock"], ...] = ("variation", "price", "stock"),
    ) -> list[Change]:
        """Apply one random change to ``fraction`` of the variations; returns the changes in order."""
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        if not kinds:
            raise ValueError("kinds must not be empty")
        with self.lock:
            rng = random.Random(seed if seed is not None else f"{self.seed}/change/{self.version}")
            ids = list(self.variations)
            count = round(len(ids) * fraction)
            changes: list[Change] = []
            for variation_id in sorted(rng.sample(ids, count)):
                variation = self.variations[variation_id]
                kind = kinds[rng.randrange(len(kinds))]
                if kind == "variation":
                    changes.append(
                        self.update_variation(
                            variation_id,
                            VariationPatch(purchase_price=round(variation.purchase_price * 1.05, 2)),
                        )
                    )
                elif kind == "item":
                    item = self.items[variation.item_id]
                    changes.append(
                        self.update_item(item.id, ItemPatch(position=item.position + 1, texts=None))
                    )
                elif kind == "price":
                    current = dict(self.prices(variation))[1].price
                    changes.append(
                        self.set_price(variation_id, 1, _psych_price(current * rng.uniform(0.9, 1.1), 0.99))
                    )
                else:
                    row = variation.stock[0]
                    changes.append(
                        self.set_stock(
                            variation_id, row.warehouse_id, max(row.physical + rng.randint(-5, 20), 0)
                        )
                    )
            return changes

    # -- inspection -----------------------------------------------------------------------------------

    def summary(self) -> CatalogSummary:
        with self.lock:
            return CatalogSummary(
                seed=self.seed,
                products=self.products,
                variants=self.variants,
                version=self.version,
                items=len(self.items),
                variations=len(self.variations),
                active_variations=sum(1 for v in self.variations.values() if v.is_active),
                categories=len(self.categories),
                attributes=len(self.attributes),
                attribute_values=len(self.attribute_values),
                sales_prices=len(self.sales_prices),
                variation_sales_prices=sum(len(v.price_ids) for v in self.variations.values()),
                manufacturers=len(self.manufacturers),
                units=len(self.units),
                warehouses=len(self.warehouses),
                stock_rows=sum(len(v.stock) for v in self.variations.values()),
                images=len(self.images),
                webstores=len(self.webstores),
                plenty_ids=list(self.plenty_ids),
            )

    def image_checksum(self, image: Image) -> tuple[str, int]:
        """MD5 and byte size of the full-size image, computed on first use."""
        if not image.md5:
            data = image_bytes(image, "full")
            image.md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            image.size = len(data)
        return image.md5, image.size
