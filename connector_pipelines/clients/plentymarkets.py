"""Plentymarkets (PlentyONE) REST client: login, paging through the quirks of the page envelope, pacing by
the ``X-Plenty-*`` headers, and typed models of what the product sync reads.

Built from ``contracts/plentymarkets.md``. Record validation policy: a record that does not validate is
skipped and reported (logged, and appended to :attr:`PlentymarketsClient.invalid_records` naming the
endpoint, page, index, id and JSON field), so one malformed variation cannot stop a whole run; callers that
must not act on a partial read (the cleanup run) check that list. ``strict=True`` raises
:class:`InvalidRecordError` instead. A page whose *envelope* does not validate always raises.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar, Unpack

import httpx
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from connector_pipelines.clients.http import (
    ApiClient,
    ApiError,
    AuthError,
    ClientOptions,
    RateLimitedError,
    decode_json,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 250
ITEMS_PATH = "/rest/items"
VARIATIONS_PATH = "/rest/items/variations"
_ID_CHUNK = 100  # ids per request for id-list filters, keeps URLs far below server limits
_RENEW_BEFORE_S = 60.0

# --- field types tolerant of Plenty's mixed encodings -----------------------------------------------------


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
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
    names: list[ImageName] = Field(default_factory=list)


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


class InvalidRecordError(ApiError):
    """A record did not validate and the client is strict."""


class _LoginAnswer(BaseModel):
    """Login and refresh answers: the login body carries both spellings, the refresh body only camelCase."""

    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr = Field(validation_alias=AliasChoices("accessToken", "access_token"))
    refresh_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("refreshToken", "refresh_token")
    )
    expires_in: float = Field(86400.0, gt=0, validation_alias=AliasChoices("expiresIn", "expires_in"))

    @field_validator("access_token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("empty access token")
        return value


class _PageEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)

    page: OptInt = None
    totals_count: OptInt = None
    is_last_page: bool | None = None
    last_page_number: OptInt = None
    items_per_page: OptInt = None  # a string on some endpoints
    entries: list[object]  # validated record by record


class _ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str | None = None
    validation_errors: object = None


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error: _ErrorDetail | str | None = None
    message: str | None = None
    validation_errors: object = None


# --- the client -------------------------------------------------------------------------------------------

ItemRelation = Literal[
    "itemProperties",
    "itemProperties.valueTexts",
    "itemCrossSelling",
    "variations",
    "itemImages",
    "itemShippingProfiles",
    "ebayTitles",
]
VariationRelation = Literal[
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
]
DEFAULT_VARIATION_RELATIONS: tuple[VariationRelation, ...] = (
    "variationSalesPrices",
    "variationCategories",
    "variationDefaultCategory",
    "variationAttributeValues",
    "variationBarcodes",
    "variationClients",
    "unit",
    "stock",
    "images",
    "itemImages",
    "properties",
)
Between = tuple[datetime, datetime | None]
"""``(start, end)``; ``end=None`` means "until now"."""

ModelT = TypeVar("ModelT", bound=BaseModel)
VariationT = TypeVar("VariationT", Variation, SyncVariation)
ItemT = TypeVar("ItemT", Item, SyncItem)
Params = dict[str, str | int]


@dataclass
class _Window:
    """One rate-limit budget as the last response reported it."""

    calls_left: int
    resets_at: float


class PlentymarketsClient(ApiClient):
    """Client of one Plenty system. ``base_url`` is the host (``https://pNNNNN.my.plentysystems.com``);
    the client adds ``/rest``. Logs in lazily on the first call; renews the token (refresh if a refresh token
    was issued, else login) shortly before expiry and once after a 401. Paces itself by the
    ``X-Plenty-*`` headers, keeping ``rate_limit_margin`` calls of every budget in reserve."""

    system = "plentymarkets"

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | SecretStr,
        *,
        lang: str = "de",
        page_size: int = MAX_PAGE_SIZE,
        rate_limit_margin: int = 2,
        strict: bool = False,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_base_url(base_url)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        super().__init__(base_url, **options)
        self.username = username
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self.add_secret(self._password)
        self.lang = lang
        self.page_size = page_size
        self.rate_limit_margin = rate_limit_margin
        self.strict = strict
        self.invalid_records: list[InvalidRecord] = []
        self._access: SecretStr | None = None
        self._refresh: SecretStr | None = None
        self._renew_at = 0.0
        self._short: _Window | None = None
        self._long: _Window | None = None
        self._routes: dict[str, _Window] = {}

    # --- authentication --------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        if self._access is None:
            self._login()
        elif self.clock() >= self._renew_at:
            self._renew()
        assert self._access is not None
        return {"Authorization": f"Bearer {self._access.get_secret_value()}"}

    def reauthenticate(self) -> None:
        self._renew()

    def _renew(self) -> None:
        if self._refresh is not None:
            try:
                self._refresh_token(self._refresh)
            except ApiError as exc:
                log.info("plentymarkets token refresh failed (%s); logging in again", exc.status)
                self._refresh = None
            else:
                return
        self._login()

    def _login(self) -> None:
        response = self.request(
            "POST",
            "/rest/login",
            json={"username": self.username, "password": self._password.get_secret_value()},
            authenticated=False,
        )
        self._store_token(response, "/rest/login")

    def _refresh_token(self, refresh: SecretStr) -> None:
        response = self.request(
            "POST",
            "/rest/login/refresh",
            data={"refresh_token": refresh.get_secret_value()},
            authenticated=False,
        )
        self._store_token(response, "/rest/login/refresh")

    def _store_token(self, response: httpx.Response, path: str) -> None:
        try:
            answer = _LoginAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            # The pydantic message would quote the body, which may hold tokens: name the fields only.
            fields = ", ".join(sorted({str(e["loc"][0]) if e["loc"] else "body" for e in exc.errors()}))
            raise AuthError(
                self.system, "POST", path, response.status_code, f"no usable token in the answer ({fields})"
            ) from None
        self.add_secret(answer.access_token)
        self.add_secret(answer.refresh_token)
        self._access = answer.access_token
        if answer.refresh_token is not None:
            self._refresh = answer.refresh_token
        # Short test lifetimes would otherwise renew on every call.
        self._renew_at = self.clock() + answer.expires_in - min(_RENEW_BEFORE_S, answer.expires_in / 2)

    def logout(self) -> None:
        """End the session (Plenty limits concurrent sessions). ``POST /rest/logout``; falls back to
        ``DELETE /rest/login`` when that route does not exist."""
        if self._access is None:
            return
        try:
            response = self.request("POST", "/rest/logout", ok_statuses=frozenset({404, 405}))
            if response.status_code in (404, 405):
                self.request("DELETE", "/rest/login")
        finally:
            self._access = None
            self._refresh = None

    def close(self) -> None:
        try:
            self.logout()
        except ApiError as exc:
            log.warning("plentymarkets logout failed: %s", exc)
        finally:
            super().close()

    # --- pacing ----------------------------------------------------------------------------------------

    def after_response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            # The retry waits Retry-After (or the decay); older budgets are stale after that.
            self._short = self._long = None
            self._routes.pop(response.request.url.path, None)
            return
        headers = response.headers
        now = self.clock()
        self._short = _window(headers, "X-Plenty-Global-Short-Period", now) or self._short
        self._long = _window(headers, "X-Plenty-Global-Long-Period", now) or self._long
        route = _window(headers, "X-Plenty-Route", now)
        if route is not None:
            self._routes[response.request.url.path] = route

    def before_request(self, method: str, path: str) -> None:
        windows = [self._short, self._long, self._routes.get(path)]
        now = self.clock()
        delay = max(
            (w.resets_at - now for w in windows if w is not None and w.calls_left <= self.rate_limit_margin),
            default=0.0,
        )
        if delay <= 0:
            return
        if delay > self.retry.max_retry_after_s:
            raise RateLimitedError(
                self.system, method, path, None, f"rate-limit budget spent for {delay:.0f}s, above the limit"
            )
        log.info("plentymarkets budget nearly spent; pausing %.1fs before %s %s", delay, method, path)
        self.wait(delay, rate_limit=True)
        self._short = self._long = None
        self._routes.pop(path, None)

    def retry_delay(self, response: httpx.Response) -> float | None:
        retry_after = super().retry_delay(response)
        if retry_after is not None or response.status_code != 429:
            return retry_after
        return _header_float(response.headers, "X-Plenty-Global-Short-Period-Decay")

    def describe_error(self, response: httpx.Response) -> str:
        try:
            body = _ErrorBody.model_validate_json(response.content)
        except ValidationError:
            return super().describe_error(response)
        detail = body.error if isinstance(body.error, _ErrorDetail) else None
        message = (detail.message if detail else None) or (
            body.error if isinstance(body.error, str) else body.message
        )
        if not message:
            return super().describe_error(response)
        validation = (detail.validation_errors if detail else None) or body.validation_errors
        if validation:
            message = f"{message}; validation errors: {str(validation)[:300]}"
        return message

    # --- reading -----------------------------------------------------------------------------------------

    def _paged(self, path: str, params: Params, model: type[ModelT]) -> Iterator[ModelT]:
        """Page through an envelope: stop on ``isLastPage``/``lastPageNumber`` (never on a short page, as
        some endpoints cap ``itemsPerPage``), or when Plenty answers another page than the one asked for
        (out of range). A bare array is taken as the complete list."""
        page = 1
        while True:
            response = self.request(
                "GET", path, params={**params, "page": page, "itemsPerPage": self.page_size}
            )
            typed = _typed_page(model, response.content)
            if typed is not None:
                # Fast path: the whole page validated in pydantic-core straight from the bytes.
                if typed.page is not None and typed.page != page:
                    return
                yield from typed.entries
                if _is_last(typed, page):
                    return
                page += 1
                continue
            body = decode_json(response, self.system)
            if isinstance(body, list):
                yield from self._validated(body, model, path, page)
                return
            try:
                envelope = _PageEnvelope.model_validate(body)
            except ValidationError as exc:
                raise ApiError(
                    self.system, "GET", path, 200, f"page {page} is not a page envelope: {_fields(exc)}"
                ) from None
            if envelope.page is not None and envelope.page != page:
                return
            yield from self._validated(envelope.entries, model, path, page)
            if _is_last(envelope, page):
                return
            page += 1

    def _list(self, path: str, model: type[ModelT]) -> list[ModelT]:
        """A bare-array endpoint; a page envelope is accepted too (and paged through)."""
        body = self.get_json(path)
        if isinstance(body, list):
            return list(self._validated(body, model, path, 1))
        return list(self._paged(path, {}, model))

    def _validated(
        self, records: Iterable[object], model: type[ModelT], path: str, page: int
    ) -> Iterator[ModelT]:
        for index, record in enumerate(records):
            try:
                yield model.model_validate(record)
            except ValidationError as exc:
                invalid = InvalidRecord(
                    endpoint=path,
                    page=page,
                    index=index,
                    record_id=_record_id(record),
                    item_id=_item_id(record),
                    errors=[
                        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
                    ],
                )
                if self.strict:
                    raise InvalidRecordError(self.system, "GET", path, None, invalid.describe()) from None
                log.warning("plentymarkets skipped an invalid record: %s", invalid.describe())
                self.invalid_records.append(invalid)

    def _lang(self, lang: str | Sequence[str] | None) -> str:
        if lang is None:
            return self.lang
        return lang if isinstance(lang, str) else ",".join(lang)

    def iter_items(
        self,
        *,
        with_: Sequence[ItemRelation] = (),
        lang: str | Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
        updated_between: Between | None = None,
        variation_updated_between: Between | None = None,
        variation_related_updated_between: Between | None = None,
        manufacturer_id: int | None = None,
        model: type[ItemT] = Item,  # type: ignore[assignment]
    ) -> Iterator[ItemT]:
        """``GET /rest/items``. This endpoint ignores unknown filter names (a typo returns everything), so
        only these typed filters are offered."""
        params: Params = {"lang": self._lang(lang)}
        if with_:
            params["with"] = ",".join(with_)
        _put_between(params, "updatedBetween", updated_between)
        _put_between(params, "variationUpdatedBetween", variation_updated_between)
        _put_between(params, "variationRelatedUpdatedBetween", variation_related_updated_between)
        if manufacturer_id is not None:
            params["manufacturerId"] = manufacturer_id
        for chunk_params in _id_chunks(params, ("id", ids)):
            yield from self._paged(ITEMS_PATH, chunk_params, model)

    def iter_variations(
        self,
        *,
        with_: Sequence[VariationRelation] = DEFAULT_VARIATION_RELATIONS,
        lang: str | Sequence[str] | None = None,
        updated_between: Between | None = None,
        related_updated_between: Between | None = None,
        item_ids: Sequence[int] | None = None,
        ids: Sequence[int] | None = None,
        plenty_id: int | Sequence[int] | None = None,
        is_active: bool | None = None,
        model: type[VariationT] = Variation,  # type: ignore[assignment]
    ) -> Iterator[VariationT]:
        """``GET /rest/items/variations``. ``related_updated_between`` catches price, category, client,
        barcode and image changes, not stock (use :meth:`iter_stock`). An empty ``ids``/``item_ids`` list
        yields nothing (Plenty would ignore the filter)."""
        params: Params = {"lang": self._lang(lang)}
        if with_:
            params["with"] = ",".join(with_)
        _put_between(params, "updatedBetween", updated_between)
        _put_between(params, "relatedUpdatedBetween", related_updated_between)
        if plenty_id is not None:
            params["plentyId"] = _comma([plenty_id] if isinstance(plenty_id, int) else plenty_id)
        if is_active is not None:
            params["isActive"] = "true" if is_active else "false"
        for chunk_params in _id_chunks(params, ("id", ids), ("itemId", item_ids)):
            yield from self._paged(VARIATIONS_PATH, chunk_params, model)

    def iter_categories(
        self,
        *,
        updated_at: datetime | None = None,
        lang: str | Sequence[str] | None = None,
        type_: str | None = "item",
        plenty_id: int | None = None,
    ) -> Iterator[Category]:
        """``GET /rest/categories?with=details,clients``; ``updated_at`` = changed after that time."""
        params: Params = {"with": "details,clients", "lang": self._lang(lang)}
        if type_ is not None:
            params["type"] = type_
        if plenty_id is not None:
            params["plentyId"] = plenty_id
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/categories", params, Category)

    def iter_attributes(self, *, updated_at: datetime | None = None) -> Iterator[Attribute]:
        params: Params = {"with": "names,values.valueNames"}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/attributes", params, Attribute)

    def iter_sales_prices(self, *, updated_at: datetime | None = None) -> Iterator[SalesPrice]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/sales_prices", params, SalesPrice)

    def iter_variation_sales_prices(
        self,
        *,
        updated_at: datetime | None = None,
        variation_id: int | None = None,
        sales_price_id: int | None = None,
    ) -> Iterator[VariationSalesPrice]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        if variation_id is not None:
            params["variationId"] = variation_id
        if sales_price_id is not None:
            params["salesPriceId"] = sales_price_id
        yield from self._paged("/rest/items/variations/variation_sales_prices", params, VariationSalesPrice)

    def iter_manufacturers(self, *, updated_at: datetime | None = None) -> Iterator[Manufacturer]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/manufacturers", params, Manufacturer)

    def iter_units(self, *, updated_at: datetime | None = None) -> Iterator[Unit]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/units", params, Unit)

    def iter_barcodes(self, *, updated_at: datetime | None = None) -> Iterator[BarcodeType]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/barcodes", params, BarcodeType)

    def iter_stock(
        self,
        updated_from: datetime,
        updated_to: datetime,
        *,
        variation_id: int | None = None,
    ) -> Iterator[StockEntry]:
        """``GET /rest/stockmanagement/stock?updatedAtFrom=&updatedAtTo=``: rows changed in the window."""
        params: Params = {}
        _put_date(params, "updatedAtFrom", updated_from)
        _put_date(params, "updatedAtTo", updated_to)
        if variation_id is not None:
            params["variationId"] = variation_id
        yield from self._paged("/rest/stockmanagement/stock", params, StockEntry)

    def warehouses(self) -> list[Warehouse]:
        return self._list("/rest/stockmanagement/warehouses", Warehouse)

    def webstores(self) -> list[Webstore]:
        return self._list("/rest/webstores", Webstore)

    def vat_standard(self) -> VatStandard:
        path = "/rest/vat/standard"
        try:
            return VatStandard.model_validate(self.get_json(path))
        except ValidationError as exc:
            raise ApiError(self.system, "GET", path, 200, f"unexpected answer: {_fields(exc)}") from None


# --- helpers ----------------------------------------------------------------------------------------------


class _TypedPage(_PageEnvelope, Generic[ModelT]):
    entries: list[ModelT]  # type: ignore[assignment]


_page_adapters: dict[type[BaseModel], TypeAdapter[_TypedPage[Any]]] = {}


def _typed_page(model: type[ModelT], content: bytes) -> _TypedPage[ModelT] | None:
    """The page validated whole, or None when any part is off (then records are validated one by one, so a
    bad record is reported and skipped instead of failing the page)."""
    adapter = _page_adapters.get(model)
    if adapter is None:
        adapter = _page_adapters[model] = TypeAdapter(_TypedPage[model])  # type: ignore[valid-type]
    try:
        return adapter.validate_json(content)
    except ValidationError:
        return None


def _is_last(envelope: _PageEnvelope, page: int) -> bool:
    if envelope.is_last_page or not envelope.entries:
        return True
    return envelope.last_page_number is not None and page >= envelope.last_page_number


def _check_base_url(base_url: str) -> None:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http(s) URL of the Plenty host")
    if url.userinfo:
        raise ValueError("base_url must not carry credentials")
    if "rest" in url.path.strip("/").split("/"):
        raise ValueError(f"base_url must not contain /rest, the client adds it: {url.host}{url.path}")


def w3c(value: datetime) -> str:
    """ISO-8601 with an explicit offset, e.g. ``2019-02-22T10:46:08+00:00`` (httpx encodes ``+``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no UTC offset; Plenty needs an explicit one")
    return value.isoformat(timespec="seconds")


def _put_date(params: Params, name: str, value: datetime | None) -> None:
    if value is not None:
        params[name] = w3c(value)


def _put_between(params: Params, name: str, between: Between | None) -> None:
    if between is None:
        return
    start, end = between
    params[name] = w3c(start) if end is None else f"{w3c(start)},{w3c(end)}"


def _comma(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


def _id_chunks(params: Params, *filters: tuple[str, Sequence[int] | None]) -> Iterator[Params]:
    """``params`` once per combination of id chunks; nothing at all when a given id list is empty."""
    given = [(name, ids) for name, ids in filters if ids is not None]
    chunked = [
        [(name, _comma(ids[i : i + _ID_CHUNK])) for i in range(0, len(ids), _ID_CHUNK)] for name, ids in given
    ]
    for combination in itertools.product(*chunked):
        yield {**params, **dict(combination)}


def _header_float(headers: httpx.Headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def _window(headers: httpx.Headers, prefix: str, now: float) -> _Window | None:
    calls_left = _header_float(headers, f"{prefix}-Calls-Left")
    decay = _header_float(headers, f"{prefix}-Decay")
    if calls_left is None or decay is None:
        return None
    return _Window(calls_left=int(calls_left), resets_at=now + max(decay, 0.0))


def _record_id(record: object) -> str | None:
    if isinstance(record, dict):
        for key in ("id", "variationId"):
            if record.get(key) is not None:
                return str(record[key])
    return None


def _item_id(record: object) -> int | None:
    value = record.get("itemId") if isinstance(record, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _fields(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
