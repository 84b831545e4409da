"""The Plytix emulator's records and its deterministic generated catalog.

Attributes, families (with the inheritance level of each attribute), a two-level category tree, assets with
https URLs that are never fetched, and products: parents with variants (``P000001``, ``P000001-01`` …) and
standalone products (every 10th, family ``Simple``). Variants own their variant-level and no-level values
(color, size, price, …) and inherit the parent-level ones (description, brand, material) from the parent.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from connector_pipelines.sandbox.plytix_search import Kind

Level = Literal["parent_level", "variant_level", "no_level"]
LEVELS: tuple[Level, ...] = ("parent_level", "variant_level", "no_level")
STATUSES = ("Draft", "Completed", "Archived")

COLORS = ("Black", "White", "Navy", "Red", "Green", "Grey", "Blue", "Yellow")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
BRANDS = ("Northwind", "Contoso", "Fabrikam", "Tailspin")
MATERIALS = ("Cotton", "Wool", "Polyester", "Linen", "Leather")
ADJECTIVES = ("Classic", "Urban", "Essential", "Organic", "Vintage", "Everyday")
BASE_PRICES = (19.0, 24.9, 29.9, 39.0, 49.9, 59.0, 79.0)
GENERATED_FROM_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00+00:00: generated records predate any run

APPAREL, ACCESSORIES, SIMPLE = "Apparel", "Accessories", "Simple"
# (noun, leaf category) per family.
NOUNS: dict[str, tuple[tuple[str, str], ...]] = {
    APPAREL: (("Tee", "T-Shirts"), ("Polo", "T-Shirts"), ("Hoodie", "Hoodies"), ("Jacket", "Jackets")),
    ACCESSORIES: (("Cap", "Hats"), ("Beanie", "Hats"), ("Tote", "Bags"), ("Backpack", "Bags")),
    SIMPLE: (("Mug", "Kitchen"), ("Bottle", "Kitchen"), ("Notebook", "Stationery"), ("Poster", "Stationery")),
}
CATEGORY_TREE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Clothing", ("T-Shirts", "Hoodies", "Jackets")),
    ("Accessories", ("Hats", "Bags")),
    ("Home", ("Kitchen", "Stationery")),
)

# (label, name, type_class, options)
ATTRIBUTE_DEFS: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("color", "Color", "DropdownAttribute", COLORS),
    ("size", "Size", "DropdownAttribute", SIZES),
    ("price", "Price", "DecimalAttribute", None),
    ("compare_at_price", "Compare at price", "DecimalAttribute", None),
    ("description", "Description", "HtmlAttribute", None),
    ("brand", "Brand", "TextAttribute", None),
    ("material", "Material", "TextAttribute", None),
    ("weight", "Weight (kg)", "DecimalAttribute", None),
    ("images", "Images", "MediaGalleryAttribute", None),
)
_PRODUCT_DATA = ("price", "compare_at_price", "weight", "images")
_SHARED = ("description", "brand", "material")
FAMILY_DEFS: dict[str, dict[str, Level]] = {
    APPAREL: {
        **dict.fromkeys(("color", "size"), "variant_level"),
        **dict.fromkeys(_SHARED, "parent_level"),
        **dict.fromkeys(_PRODUCT_DATA, "no_level"),
    },
    ACCESSORIES: {
        "color": "variant_level",
        **dict.fromkeys(_SHARED, "parent_level"),
        **dict.fromkeys(_PRODUCT_DATA, "no_level"),
    },
    SIMPLE: dict.fromkeys(("color", *_SHARED, *_PRODUCT_DATA), "no_level"),
}
SYSTEM_FAMILY_ATTRIBUTES = ("label", "thumbnail", "status", "categories")

KINDS: dict[str, Kind] = {
    "TextAttribute": "text",
    "MultilineAttribute": "text",
    "HtmlAttribute": "text",
    "UrlAttribute": "text",
    "DropdownAttribute": "dropdown",
    "MultiSelectAttribute": "multiselect",
    "DecimalAttribute": "number",
    "IntAttribute": "int",
    "CompletenessAttribute": "number",
    "DateAttribute": "text",  # YYYY-MM-DD strings compare correctly as text
    "BooleanAttribute": "bool",
    "MediaAttribute": "media",
    "MediaGalleryAttribute": "media",
}


@dataclass(slots=True)
class Attribute:
    id: str
    label: str
    name: str
    type_class: str
    options: tuple[str, ...] | None

    @property
    def kind(self) -> Kind:
        return KINDS.get(self.type_class, "text")

    @property
    def is_media(self) -> bool:
        return self.type_class in ("MediaAttribute", "MediaGalleryAttribute")


@dataclass(slots=True)
class Family:
    id: str
    name: str
    model_id: str
    created_us: int
    modified_us: int
    levels: dict[str, Level]
    parent_labels: frozenset[str] = frozenset()
    parent_order: tuple[str, ...] = ()  # the parent-level labels in the family's order (stable rendering)

    def __post_init__(self) -> None:
        self.parent_order = tuple(k for k, v in self.levels.items() if v == "parent_level")
        self.parent_labels = frozenset(self.parent_order)


@dataclass(slots=True)
class Category:
    id: str
    name: str
    parent_id: str | None
    order: int
    slug: str
    modified_us: int


@dataclass(slots=True)
class Asset:
    id: str
    filename: str
    url: str
    thumbnail: str
    file_size: int
    created_us: int


@dataclass(slots=True)
class Product:
    id: str
    sku: str
    label: str | None
    status: str
    gtin: str | None
    created_us: int
    modified_us: int
    attributes: dict[str, object] = field(default_factory=dict)
    assets: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    thumbnail: str | None = None
    parent_id: str | None = None
    family_id: str | None = None
    variant_ids: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)

    @property
    def level(self) -> int:
        """``product_level``: 0 single, 1 parent, 2 variant."""
        if self.parent_id is not None:
            return 2
        return 1 if self.variant_ids else 0

    @property
    def product_type(self) -> str:
        return ("SINGLE", "PARENT", "VARIANT")[self.level]


def ean13(index: int, variant: int) -> str:
    digits = f"40{index % 10_000_000:07d}{variant % 1000:03d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def family_for(index: int, variants: int) -> str:
    """Every 10th product (and all, with fewer than 2 variants) is standalone; every 10th from the 5th an
    accessory whose variants differ by color only; the rest apparel (color x size)."""
    if variants <= 1 or index % 10 == 0:
        return SIMPLE
    if index % 10 == 5 and variants <= len(COLORS):
        return ACCESSORIES
    return APPAREL


@dataclass(slots=True)
class Tree:
    """One generated product: the parent (or standalone) first, then its variants."""

    products: list[Product]
    assets: list[Asset]


class Builder:
    """Builds product trees; ``new_id`` and ``stamp`` come from the store (ids and timestamps)."""

    def __init__(
        self,
        account_id: str,
        families: dict[str, Family],
        categories: dict[str, Category],
        new_id: Callable[[], str],
    ) -> None:
        self.account_id = account_id
        self.families = families
        self.category_ids = {c.name: c.id for c in categories.values() if c.parent_id is not None}
        self.new_id = new_id

    def asset(self, sku: str, n: int, created_us: int) -> Asset:
        name = f"{sku}-{n}.jpg"
        base = f"https://files.plytix.example/{self.account_id}"
        return Asset(
            self.new_id(),
            name,
            f"{base}/{name}",
            f"{base}/thumb/{name}",
            40_960 + len(sku) * 97 + n,
            created_us,
        )

    def tree(self, index: int, variants: int, rng: random.Random, stamp: Callable[[], int]) -> Tree:
        if variants > len(COLORS) * len(SIZES):
            raise ValueError(f"at most {len(COLORS) * len(SIZES)} variants per product (color x size)")
        kind = family_for(index, variants)
        family = self.families[kind]
        noun, leaf = NOUNS[kind][rng.randrange(len(NOUNS[kind]))]
        adjective = ADJECTIVES[rng.randrange(len(ADJECTIVES))]
        brand = BRANDS[rng.randrange(len(BRANDS))]
        material = MATERIALS[rng.randrange(len(MATERIALS))]
        base_price = BASE_PRICES[rng.randrange(len(BASE_PRICES))]
        with_compare = index % 3 == 0
        sku = f"P{index:06d}"
        label = f"{adjective} {noun} {index}"
        status = "Draft" if index % 7 == 0 else "Completed"
        categories = [self.category_ids[leaf]]
        shared: dict[str, object] = {
            "description": f"<p>{adjective} {noun.lower()} in {material.lower()} by {brand}.</p>",
            "brand": brand,
            "material": material,
        }
        created = stamp()
        first = self.asset(sku, 1, created)
        assets = [first]
        if kind == SIMPLE:
            second = self.asset(sku, 2, created)
            assets.append(second)
            attributes = {
                **shared,
                "color": COLORS[rng.randrange(len(COLORS))],
                "price": base_price,
                "weight": round(0.2 + rng.random(), 2),
                "images": [first.id, second.id],
            }
            if with_compare:
                attributes["compare_at_price"] = round(base_price * 1.25, 2)
            single = Product(
                id=self.new_id(),
                sku=sku,
                label=label,
                status=status,
                gtin=ean13(index, 0),
                created_us=created,
                modified_us=created,
                attributes=attributes,
                assets=[first.id, second.id],
                categories=categories,
                thumbnail=first.id,
                family_id=family.id,
            )
            return Tree([single], assets)

        parent = Product(
            id=self.new_id(),
            sku=sku,
            label=label,
            status=status,
            gtin=None,
            created_us=created,
            modified_us=created,
            attributes={**shared, "images": [first.id]},
            assets=[first.id],
            categories=list(categories),
            thumbnail=first.id,
            family_id=family.id,
        )
        products = [parent]
        if kind == APPAREL:
            picks = sorted(rng.sample(range(len(COLORS) * len(SIZES)), variants))
            combos: list[tuple[str, str | None]] = [
                (COLORS[p // len(SIZES)], SIZES[p % len(SIZES)]) for p in picks
            ]
        else:
            combos = [(COLORS[c], None) for c in sorted(rng.sample(range(len(COLORS)), variants))]
        for number, (color, size) in enumerate(combos, 1):
            variant_sku = f"{sku}-{number:02d}"
            when = stamp()
            image = self.asset(variant_sku, 1, when)
            assets.append(image)
            price = round(base_price + (SIZES.index(size) * 2.0 if size else 0.0), 2)
            own: dict[str, object] = {"color": color}
            if size is not None:
                own["size"] = size
            own["price"] = price
            if with_compare:
                own["compare_at_price"] = round(price * 1.25, 2)
            own["weight"] = round(0.2 + rng.random(), 2)
            own["images"] = [image.id]
            variant_label = f"{label} {color}" + (f" / {size}" if size else "")
            variant = Product(
                id=self.new_id(),
                sku=variant_sku,
                label=variant_label,
                status=status,
                gtin=ean13(index, number),
                created_us=when,
                modified_us=when,
                attributes=own,
                assets=[image.id],
                categories=list(categories),
                thumbnail=image.id,
                parent_id=parent.id,
                family_id=family.id,
            )
            parent.variant_ids.append(variant.id)
            products.append(variant)
        return Tree(products, assets)
