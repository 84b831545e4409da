"""The canonical catalog: the hub every source translates into and every target translates out of.

Records carry a stable source key (``system:type:id``) and are immutable; their content hash (see
``catalog.hashing``) decides what changed.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Canonical(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def source_key(system: str, kind: str, ident: str | int) -> str:
    return f"{system}:{kind}:{ident}"


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


class Price(_Canonical):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    gross: Decimal
    net: Decimal | None = Field(None, description="None when the source knows only the shop price")
    list_gross: Decimal | None = Field(None, description="list / recommended retail price, gross")
    min_quantity: int = 1


class Media(_Canonical):
    key: str
    url: str
    alt: str = ""
    position: int = 0


class OptionChoice(_Canonical):
    option_key: str
    value_key: str
    option_name: str = Field("", description="display name, when the source carries it inline")
    value_name: str = ""


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


class Metafield(_Canonical):
    namespace: str
    key: str
    type: str
    value: str


Product.model_rebuild()
