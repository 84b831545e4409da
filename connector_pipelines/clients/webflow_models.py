"""Typed models of the Webflow Data API v2 objects the client reads and writes: products, SKUs and their
options, prices in minor units, CMS collections and items, sites, publishing results, errors.

Built from ``contracts/webflow.md`` and the spec (``webflow/openapi-spec`` ``openapi/v2.yml``; the same
shapes as the ``webflow`` 2.0.0 SDK's ``webflow/types``). Field names are snake_case in Python, the API's
(camelCase, or hyphenated in ``fieldData``) on the wire; every model keeps unknown fields, so custom CMS
fields survive a round trip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

PublishStatus = Literal["staging", "live"]
InventoryType = Literal["infinite", "finite"]

# ec-product-type values (spec: Physical, Digital, Service, Advanced, in that order).
PRODUCT_TYPE_PHYSICAL = "ff42fee0113744f693a764e3431a9cc2"
PRODUCT_TYPE_DIGITAL = "f22027db68002190aef89a4a2b7ac8a1"
PRODUCT_TYPE_SERVICE = "c599e43b1a1c34d5a323aedf75d3adf6"
PRODUCT_TYPE_ADVANCED = "b6ccc1830db4b1babeb06a9ac5f6dd76"


class WebflowModel(BaseModel):
    """Wire names as aliases; Python names accepted too; unknown (custom) fields kept."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True)

    def to_wire(self) -> dict[str, JsonValue]:
        """The JSON the API expects: wire names, only the fields that were set (so a partial model sends
        only what it changes; a field set to ``None`` is sent as ``null``)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


# --- e-commerce --------------------------------------------------------------------------------------------


class Price(WebflowModel):
    """An amount in minor units: ``Price(value=2499, unit="USD")`` is 24.99 USD."""

    value: int
    unit: str
    currency: str | None = None


class SkuPropertyEnum(WebflowModel):
    """One value of a product option. ``id`` may be left out on create: Webflow then assigns one."""

    id: str | None = None
    name: str
    slug: str


class SkuPropertyList(WebflowModel):
    """A product option (``sku-properties`` entry) with its values; the first value makes the default SKU."""

    id: str | None = None
    name: str
    enum: list[SkuPropertyEnum]


class ProductFieldData(WebflowModel):
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    shippable: bool | None = None
    sku_properties: list[SkuPropertyList] | None = Field(None, alias="sku-properties")
    category: list[str] | None = None
    tax_category: str | None = Field(None, alias="tax-category")
    default_sku: str | None = Field(None, alias="default-sku")
    ec_product_type: str | None = Field(None, alias="ec-product-type")


class SkuFieldData(WebflowModel):
    """SKU fields. ``name``, ``slug`` and ``price`` are required on create; any subset on update."""

    name: str | None = None
    slug: str | None = None
    price: Price | None = None
    compare_at_price: Price | None = Field(None, alias="compare-at-price")
    sku_values: dict[str, str] | None = Field(None, alias="sku-values")
    sku: str | None = None
    main_image: str | None = Field(None, alias="main-image")
    ec_sku_billing_method: Literal["one-time", "subscription"] | None = Field(
        None, alias="ec-sku-billing-method"
    )


class _Stamped(WebflowModel):
    id: str
    cms_locale_id: str | None = Field(None, alias="cmsLocaleId")
    last_published: datetime | None = Field(None, alias="lastPublished")
    last_updated: datetime | None = Field(None, alias="lastUpdated")
    created_on: datetime | None = Field(None, alias="createdOn")


class Product(_Stamped):
    is_archived: bool = Field(False, alias="isArchived")
    is_draft: bool = Field(False, alias="isDraft")
    field_data: ProductFieldData = Field(alias="fieldData")


class Sku(_Stamped):
    field_data: SkuFieldData = Field(alias="fieldData")


class ProductAndSkus(WebflowModel):
    product: Product
    skus: list[Sku]

    @property
    def default_sku(self) -> Sku | None:
        default = self.product.field_data.default_sku
        return next((s for s in self.skus if s.id == default), None)


class InventoryItem(WebflowModel):
    id: str | None = None
    quantity: float | None = None
    inventory_type: InventoryType | None = Field(None, alias="inventoryType")


class EcommerceSettings(WebflowModel):
    site_id: str | None = Field(None, alias="siteId")
    created_on: datetime | None = Field(None, alias="createdOn")
    default_currency: str | None = Field(None, alias="defaultCurrency")


# --- CMS ---------------------------------------------------------------------------------------------------


class CollectionField(WebflowModel):
    id: str
    is_required: bool = Field(False, alias="isRequired")
    is_editable: bool | None = Field(None, alias="isEditable")
    type: str
    slug: str | None = None
    display_name: str | None = Field(None, alias="displayName")
    help_text: str | None = Field(None, alias="helpText")


class Collection(WebflowModel):
    """A collection; ``fields`` is filled by ``GET /collections/{id}`` only (the site list leaves it out)."""

    id: str
    display_name: str | None = Field(None, alias="displayName")
    singular_name: str | None = Field(None, alias="singularName")
    slug: str | None = None
    created_on: datetime | None = Field(None, alias="createdOn")
    last_updated: datetime | None = Field(None, alias="lastUpdated")
    fields: list[CollectionField] = []


class CollectionItem(WebflowModel):
    id: str
    cms_locale_id: str | None = Field(None, alias="cmsLocaleId")
    last_published: datetime | None = Field(None, alias="lastPublished")
    last_updated: datetime | None = Field(None, alias="lastUpdated")
    created_on: datetime | None = Field(None, alias="createdOn")
    is_archived: bool = Field(False, alias="isArchived")
    is_draft: bool = Field(False, alias="isDraft")
    field_data: dict[str, JsonValue] = Field(alias="fieldData")


class ItemWrite(WebflowModel):
    """An item to create (no ``id``) or update (``id`` set): ``fieldData`` by field slug."""

    id: str | None = None
    is_archived: bool | None = Field(None, alias="isArchived")
    is_draft: bool | None = Field(None, alias="isDraft")
    field_data: dict[str, JsonValue] | None = Field(None, alias="fieldData")


class PublishResult(WebflowModel):
    published_item_ids: list[str] = Field(default_factory=list, alias="publishedItemIds")
    errors: list[str] = []


# --- sites -------------------------------------------------------------------------------------------------


class Domain(WebflowModel):
    id: str
    url: str | None = None
    last_published: datetime | None = Field(None, alias="lastPublished")


class Site(WebflowModel):
    id: str
    workspace_id: str | None = Field(None, alias="workspaceId")
    display_name: str | None = Field(None, alias="displayName")
    short_name: str | None = Field(None, alias="shortName")
    created_on: datetime | None = Field(None, alias="createdOn")
    last_published: datetime | None = Field(None, alias="lastPublished")
    last_updated: datetime | None = Field(None, alias="lastUpdated")
    time_zone: str | None = Field(None, alias="timeZone")
    custom_domains: list[Domain] = Field(default_factory=list, alias="customDomains")


class SitePublishResult(WebflowModel):
    custom_domains: list[Domain] = Field(default_factory=list, alias="customDomains")
    publish_to_webflow_subdomain: bool = Field(False, alias="publishToWebflowSubdomain")
    publish_scope: str | None = Field(None, alias="publishScope")


# --- errors and rate limits --------------------------------------------------------------------------------


class ErrorDetail(WebflowModel):
    field: str | None = None
    message: str | None = None


class ErrorBody(WebflowModel):
    """Every error answer: ``{code, message, externalReference, details}``."""

    code: str | None = None
    message: str | None = None
    external_reference: str | None = Field(None, alias="externalReference")
    details: list[ErrorDetail | str] = []

    def describe(self) -> str:
        """One line: ``code: message (field: message; ...)``."""
        parts = [
            d if isinstance(d, str) else ": ".join(x for x in (d.field, d.message) if x) for d in self.details
        ]
        parts = [p for p in parts if p and p not in (self.message or "")]
        more = f" (+{len(parts) - 3} more)" if len(parts) > 3 else ""
        detail = f" ({'; '.join(parts[:3])}{more})" if parts else ""
        head = ": ".join(x for x in (self.code, self.message) if x) or "error"
        return " ".join(f"{head}{detail}".split())


class RateLimitStatus(BaseModel):
    """What this client last saw of its rate limit, and what it cost."""

    limit: int | None = Field(description="requests per minute: the setting, then X-RateLimit-Limit")
    remaining: int | None = Field(description="X-RateLimit-Remaining of the last answer")
    too_many: int = Field(description="429 answers this client received")
    waits: int = Field(description="pauses taken for the rate limit (pacing and Retry-After)")
    wait_s: float
