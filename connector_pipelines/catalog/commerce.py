"""Canonical commerce records for ingestion: customers (with addresses), orders (with lines), products (with
variants), as a source system holds them, keyed by the source's numeric id.

Ingestion writes rows, not a publishable catalog: ``catalog.models.Product`` is the publishing model (texts
per language, prices per currency with net and gross, keys by source key) and carries neither the source's
numeric id nor its ``updated_at``, which every ingestion upsert is guarded by. So products and variants have
their own flat records here (``ProductRecord``, ``VariantRecord``); ``source_key`` names them as everywhere.

Money is ``Decimal`` in the shop's currency (Shopify's ``shopMoney``); times are timezone-aware. Which fields
are personal data is declared by the records themselves (``Customer.pii`` and ``Address.pii``): the store
encrypts exactly those and keeps the rest in plain columns. Orders carry no personal data of their own, only
the customer's id: an order's email, phone and addresses are the customer's and stay with the customer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from connector_pipelines.catalog.models import source_key

# Bounds are those of the columns the records are stored in (64-bit ids, 32-bit counts, money with 14 digits
# before the point), so that a record out of range fails validation on its own, not the batch it is in.
SourceId = Annotated[
    int, Field(gt=0, lt=2**63, description="the source's numeric id (Shopify: legacyResourceId)")
]
Count = Annotated[int, Field(ge=-(2**31), lt=2**31)]
Quantity = Annotated[int, Field(ge=0, lt=2**31)]
Money = Annotated[Decimal, Field(ge=0, lt=Decimal("1e14"))]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _unique_ids(parent: str, parent_id: int, child: str, ids: list[int]) -> None:
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{parent} {parent_id} lists {child} id(s) {twice} more than once")


class AddressPii(_Record):
    """The personal part of an address: encrypted at rest."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    zip: str | None = None
    country: str | None = None
    phone: str | None = None


class Address(_Record):
    """A mailing address of a customer. Only the country and province codes are kept in plain text (coarse
    enough for analytics); everything else is ``pii``."""

    id: SourceId | None = None
    default: bool = False
    country_code: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    province_code: str | None = Field(None, max_length=10)
    pii: AddressPii = AddressPii()


class CustomerPii(_Record):
    """The personal part of a customer: encrypted at rest; the email is also kept as a keyed hash."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class Customer(_Record):
    id: SourceId
    created_at: AwareDatetime
    updated_at: AwareDatetime
    state: str = Field("ENABLED", description="Shopify CustomerState: ENABLED, DISABLED, INVITED, DECLINED")
    verified_email: bool = False
    tax_exempt: bool = False
    tags: tuple[str, ...] = ()
    pii: CustomerPii = CustomerPii()
    addresses: tuple[Address, ...] = ()

    @property
    def key(self) -> str:
        return source_key("shopify", "customer", self.id)


class OrderLine(_Record):
    id: SourceId
    title: str
    quantity: Quantity
    unit_price: Money = Field(description="original unit price, shop currency")
    total_discount: Money = Decimal(0)
    sku: str | None = None
    variant_title: str | None = None
    vendor: str | None = None
    product_id: SourceId | None = None
    variant_id: SourceId | None = None


class Order(_Record):
    id: SourceId
    name: str = Field(description="the shop's order name, e.g. #1001")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    processed_at: AwareDatetime = Field(description="when the sale happened; left out, it is created_at")
    currency: CurrencyCode
    total_price: Money
    subtotal_price: Money | None = None
    total_tax: Money | None = None
    total_discounts: Money | None = None
    financial_status: str | None = Field(None, description="e.g. PAID, PENDING, REFUNDED")
    fulfillment_status: str | None = Field(None, description="e.g. FULFILLED, UNFULFILLED")
    cancelled_at: AwareDatetime | None = None
    customer_id: SourceId | None = None
    test: bool = False
    tags: tuple[str, ...] = ()
    lines: tuple[OrderLine, ...] = ()

    @property
    def key(self) -> str:
        return source_key("shopify", "order", self.id)

    @model_validator(mode="after")
    def _lines_once(self) -> Order:
        _unique_ids("order", self.id, "line", [line.id for line in self.lines])
        return self

    @model_validator(mode="before")
    @classmethod
    def _processed_when_created(cls, data: object) -> object:
        # Shopify's processedAt defaults to createdAt; filled in here, a stored order reads back equal.
        if isinstance(data, dict) and data.get("processed_at") is None and "created_at" in data:
            return {**data, "processed_at": data["created_at"]}
        return data


class SelectedOption(_Record):
    name: str
    value: str


class VariantRecord(_Record):
    id: SourceId
    title: str = ""
    sku: str | None = None
    barcode: str | None = None
    price: Money
    compare_at_price: Money | None = None
    inventory_quantity: Count | None = None
    position: Quantity = 0
    options: tuple[SelectedOption, ...] = ()
    updated_at: AwareDatetime | None = None


class ProductRecord(_Record):
    id: SourceId
    title: str
    handle: str
    status: str = Field("ACTIVE", description="Shopify ProductStatus: ACTIVE, ARCHIVED, DRAFT")
    vendor: str = ""
    product_type: str = ""
    tags: tuple[str, ...] = ()
    created_at: AwareDatetime
    updated_at: AwareDatetime
    variants: tuple[VariantRecord, ...] = ()

    @property
    def key(self) -> str:
        return source_key("shopify", "product", self.id)

    @model_validator(mode="after")
    def _variants_once(self) -> ProductRecord:
        _unique_ids("product", self.id, "variant", [variant.id for variant in self.variants])
        return self


class Deletion(_Record):
    """A record the source no longer has: from its events, a delete webhook, or a full read that missed it.
    ``deleted_at`` guards like ``updated_at``: a deletion older than the stored row is ignored, and the
    tombstone keeps a late update from bringing the row back."""

    id: SourceId
    deleted_at: AwareDatetime
