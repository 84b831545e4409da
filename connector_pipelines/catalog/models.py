"""The canonical catalog: the hub every source translates into and every target translates out of.

Records carry a stable source key (``system:type:id``) and are immutable; their content hash (see
``catalog.hashing``) decides what changed.
"""

from __future__ import annotations

import inspect
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Canonical(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def source_key(system: str, kind: str, ident: str | int) -> str:
    return f"{system}:{kind}:{ident}"


# ``exclude_if`` of fields added after snapshots were first stored: an unused one stays out of the record's
# JSON, so the content hash of every record that does not use it stays what it was.
def _empty(value: object) -> bool:
    return not value


def _is_none(value: object) -> bool:
    return value is None


class Texts(_Canonical):
    """Texts of one language."""

    name: str
    description: str = ""
    short_description: str = ""
    meta_title: str = ""
    meta_description: str = ""
    keywords: str = ""


class Category(_Canonical):
    key: str
    parent_key: str | None = None
    position: int = 0
    names: dict[str, str] = Field(description="language -> name")
    active: bool = True


class OptionValue(_Canonical):
    key: str
    names: dict[str, str]
    position: int = 0


class Option(_Canonical):
    """A variant dimension (Plenty attribute, Shopware property group, Shopify option)."""

    key: str
    names: dict[str, str]
    position: int = 0
    values: tuple[OptionValue, ...] = ()


class Manufacturer(_Canonical):
    key: str
    name: str
    url: str = ""


class Unit(_Canonical):
    key: str
    code: str = Field(description="UN/ECE recommendation 20 code, e.g. C62, KGM")
    names: dict[str, str]


class PriceList(_Canonical):
    """A source price configuration (Plenty sales price): which prices a variant may carry."""

    key: str
    kind: str = Field(description="default | rrp | special_offer")
    currencies: tuple[str, ...] = Field(description="ISO codes; empty = every currency")
    names: dict[str, str] = Field(default_factory=dict)
    min_quantity: int = Field(1, description="tier prices start above 1")
    all_customers: bool = Field(True, description="False for prices limited to customer classes")
    clients: tuple[int, ...] = Field((), description="shops (Plenty clients) it applies to; empty = all")
    customer_classes: tuple[int, ...] = Field(
        (), exclude_if=_empty, description="the customer classes it is limited to (all_customers False)"
    )


class Price(_Canonical):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    gross: Decimal
    net: Decimal | None = Field(None, description="None when the source knows only the shop price")
    list_gross: Decimal | None = Field(None, description="list / recommended retail price, gross")
    min_quantity: int = 1
    customer_group: str | None = Field(
        None, exclude_if=_is_none, description="the source's customer group (class) it is limited to"
    )


class Media(_Canonical):
    key: str
    url: str
    alt: str = ""
    position: int = 0
    checksum: str = Field("", exclude_if=_empty, description="content hash of the file (MD5), when known")


class OptionChoice(_Canonical):
    option_key: str
    value_key: str
    option_name: str = Field("", description="display name, when the source carries it inline")
    value_name: str = ""


class Metafield(_Canonical):
    namespace: str
    key: str
    type: str
    value: str


class LocationStock(_Canonical):
    """Stock at one location: ``location`` as the source names it (a target's location id or name)."""

    location: str
    quantity: int


# Without ``exclude_if`` (pydantic 2.12) the fields added later would be dumped, and every stored hash would
# change: an older pydantic is refused outright.
if "exclude_if" not in inspect.signature(Field).parameters:
    raise ImportError("connector_pipelines needs pydantic >= 2.12 (Field(exclude_if=...)) for stable hashes")


class Variant(_Canonical):
    key: str
    sku: str
    active: bool = True
    barcode: str = ""
    prices: tuple[Price, ...] = ()
    stock: int = 0
    options: tuple[OptionChoice, ...] = ()
    weight_kg: Decimal | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    length_mm: int | None = None
    position: int = 0
    media_keys: tuple[str, ...] = ()
    tier_prices: tuple[Price, ...] = Field(
        (),
        exclude_if=_empty,
        description="prices from a minimum quantity or for one customer group (Shopware advanced prices)",
    )
    metafields: tuple[Metafield, ...] = Field((), exclude_if=_empty)
    stock_by_location: tuple[LocationStock, ...] = Field(
        (), exclude_if=_empty, description="stock per location; empty = ``stock`` is the only figure"
    )


class Product(_Canonical):
    key: str
    texts: dict[str, Texts] = Field(description="language -> texts")
    active: bool = True
    manufacturer_key: str | None = None
    unit_key: str | None = None
    unit_content: Decimal | None = None
    tax_rate: Decimal = Decimal("19")
    category_keys: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    variants: tuple[Variant, ...] = ()
    vendor: str = ""
    product_type: str = ""
    tags: tuple[str, ...] = ()
    metafields: tuple[Metafield, ...] = ()

    def name(self, lang: str) -> str:
        texts = self.texts.get(lang) or next(iter(self.texts.values()), None)
        return texts.name if texts else ""
