"""Shopify records -> canonical commerce records (``catalog.commerce``), as pure functions.

Two shapes come in. The Admin GraphQL API (bulk export lines and paged queries) answers camelCase nodes with
GIDs, money as ``MoneyBag`` and enums in upper case; webhooks carry the REST resource JSON of their topic
(numeric ids, money as strings, ``tags`` as one comma-separated string, enums in lower case, contract
§12.3). Both become the same canonical record, so that a record read once through each has one content hash:
times in UTC, enums in the GraphQL spelling, tags as a tuple in the shop's order.

Every input is validated by a pydantic model at this boundary. A record that does not validate raises
:class:`UnreadableRecord`, whose reason names the fields and what is wrong with them, never their values
(they may be personal data): the caller records it and goes on with the next record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from connector_pipelines.catalog.commerce import (
    Address,
    AddressPii,
    Customer,
    CustomerPii,
    Deletion,
    Order,
    OrderLine,
    ProductRecord,
    SelectedOption,
    VariantRecord,
)
from connector_pipelines.clients.http import JsonValue


class UnreadableRecord(ValueError):
    """A source record that cannot become a canonical record; ``key`` names it (``shopify:order:123``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def describe_invalid(exc: ValidationError) -> str:
    """Where and what, without the values: ``lines.2.unit_price: Input should be greater than or equal to
    0``."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'record'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


_GID_PREFIX = "gid://shopify/"


def legacy_id(gid: str) -> int:
    """``gid://shopify/Order/123`` -> 123 (``gid://shopify/MailingAddress/9?model_name=...`` -> 9)."""
    head, _, tail = gid.rpartition("/")
    digits = tail.partition("?")[0]
    if not head.startswith(_GID_PREFIX) or not digits.isdigit():
        raise ValueError(f"not a Shopify GID: {gid[:80]!r}")
    return int(digits)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


# --- GraphQL nodes ------------------------------------------------------------------------------------------
#
# Bulk lines and page nodes come as decoded JSON (``Node``). They are reshaped into the canonical record's
# fields and validated once, by the canonical model itself: at several hundred thousand records a backfill,
# a second model per node would double the cost. A node missing a field or holding the wrong type fails
# that validation, or the reshaping, with the field named.

Node = Mapping[str, JsonValue]


def _gid(value: JsonValue) -> int:
    if not isinstance(value, str):
        raise ValueError(f"an id is {type(value).__name__}, not a GID")
    # The plain GID of every bulk line, read without legacy_id's general parsing: a backfill reads a
    # million of them.
    cut = value.rfind("/")
    if cut >= len(_GID_PREFIX) and value.startswith(_GID_PREFIX):
        digits = value[cut + 1 :]
        if digits.isascii() and digits.isdigit():
            return int(digits)
    return legacy_id(value)


def _ref(node: Node, name: str) -> int | None:
    """``customer { id }`` -> the customer's number (None when the reference is null)."""
    ref = node.get(name)
    return _gid(ref["id"]) if isinstance(ref, dict) else None


def _money(node: Node, name: str) -> JsonValue:
    """``totalPriceSet { shopMoney { amount } }`` -> the amount (None when the field is null)."""
    bag = node.get(name)
    return bag["shopMoney"]["amount"] if isinstance(bag, dict) else None


def _sorted_tags(value: JsonValue) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"tags is {type(value).__name__}, not a list")
    return sorted(str(tag) for tag in value)


def _key(kind: str, node: Node) -> str:
    try:
        return f"shopify:{kind}:{_gid(node.get('id'))}"
    except ValueError:
        return f"shopify:{kind}:?"


def _unreadable(kind: str, node: Node, exc: Exception) -> UnreadableRecord:
    if isinstance(exc, ValidationError):
        return UnreadableRecord(_key(kind, node), describe_invalid(exc))
    if isinstance(exc, KeyError):
        return UnreadableRecord(_key(kind, node), f"field {exc} missing")
    return UnreadableRecord(_key(kind, node), f"unexpected shape ({type(exc).__name__}: {exc})")


def _address(node: Node, default: int | None) -> dict[str, JsonValue]:
    ident = _gid(node["id"])
    return {
        "id": ident,
        "default": ident == default,
        "country_code": node.get("countryCodeV2"),
        "province_code": node.get("provinceCode"),
        "pii": {
            "first_name": node.get("firstName"),
            "last_name": node.get("lastName"),
            "company": node.get("company"),
            "address1": node.get("address1"),
            "address2": node.get("address2"),
            "city": node.get("city"),
            "province": node.get("province"),
            "zip": node.get("zip"),
            "country": node.get("country"),
            "phone": node.get("phone"),
        },
    }


def customer_record(node: Node, addresses: Sequence[Node]) -> Customer:
    """A customer node with its ``addressesV2`` nodes."""
    try:
        email = node.get("defaultEmailAddress")
        phone = node.get("defaultPhoneNumber")
        default = _ref(node, "defaultAddress")
        return Customer.model_validate(
            {
                "id": _gid(node["id"]),
                "created_at": node["createdAt"],
                "updated_at": node["updatedAt"],
                "state": node["state"],
                "verified_email": node.get("verifiedEmail", False),
                "tax_exempt": node.get("taxExempt", False),
                "tags": _sorted_tags(node.get("tags")),
                "pii": {
                    "email": email["emailAddress"] if isinstance(email, dict) else None,
                    "first_name": node.get("firstName"),
                    "last_name": node.get("lastName"),
                    "phone": phone["phoneNumber"] if isinstance(phone, dict) else None,
                },
                "addresses": [_address(a, default) for a in addresses],
            }
        )
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        raise _unreadable("customer", node, exc) from None


def _line(node: Node) -> dict[str, JsonValue]:
    return {
        "id": _gid(node["id"]),
        "title": node["title"],
        "quantity": node["quantity"],
        "unit_price": node["originalUnitPriceSet"]["shopMoney"]["amount"],
        "total_discount": _money(node, "totalDiscountSet") or "0",
        "sku": node.get("sku"),
        "variant_title": node.get("variantTitle"),
        "vendor": node.get("vendor"),
        "product_id": _ref(node, "product"),
        "variant_id": _ref(node, "variant"),
    }


def order_record(node: Node, lines: Sequence[Node]) -> Order:
    """An order node with its ``lineItems`` nodes. Money is the shop's (``shopMoney``)."""
    try:
        total = node["totalPriceSet"]["shopMoney"]
        return Order.model_validate(
            {
                "id": _gid(node["id"]),
                "name": node["name"],
                "created_at": node["createdAt"],
                "updated_at": node["updatedAt"],
                "processed_at": node.get("processedAt"),
                "currency": total.get("currencyCode") or node["currencyCode"],
                "total_price": total["amount"],
                "subtotal_price": _money(node, "subtotalPriceSet"),
                "total_tax": _money(node, "totalTaxSet"),
                "total_discounts": _money(node, "totalDiscountsSet"),
                "financial_status": node.get("displayFinancialStatus"),
                "fulfillment_status": node.get("displayFulfillmentStatus"),
                "cancelled_at": node.get("cancelledAt"),
                "customer_id": _ref(node, "customer"),
                "test": node.get("test", False),
                "tags": _sorted_tags(node.get("tags")),
                "lines": sorted((_line(line) for line in lines), key=lambda line: int(str(line["id"]))),
            }
        )
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        raise _unreadable("order", node, exc) from None


def _variant(node: Node) -> dict[str, JsonValue]:
    return {
        "id": _gid(node["id"]),
        "title": node.get("title") or "",
        "sku": node.get("sku"),
        "barcode": node.get("barcode"),
        "price": node["price"],
        "compare_at_price": node.get("compareAtPrice"),
        "inventory_quantity": node.get("inventoryQuantity"),
        "position": node.get("position") or 0,
        "options": node.get("selectedOptions") or (),
        "updated_at": node.get("updatedAt"),
    }


def product_record(node: Node, variants: Sequence[Node]) -> ProductRecord:
    """A product node with its ``variants`` nodes."""
    try:
        return ProductRecord.model_validate(
            {
                "id": _gid(node["id"]),
                "title": node["title"],
                "handle": node["handle"],
                "status": node["status"],
                "vendor": node.get("vendor") or "",
                "product_type": node.get("productType") or "",
                "tags": _sorted_tags(node.get("tags")),
                "created_at": node["createdAt"],
                "updated_at": node["updatedAt"],
                "variants": sorted(
                    (_variant(v) for v in variants),
                    key=lambda v: (int(str(v["position"])), int(str(v["id"]))),
                ),
            }
        )
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        raise _unreadable("product", node, exc) from None


class EventNode(BaseModel):
    """A ``destroy`` event of the events connection."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    id: str
    created_at: AwareDatetime
    action: str
    subject_id: str
    subject_type: str


def event_deletion(node: EventNode) -> Deletion:
    """A ``destroy`` event -> the deletion of its subject, at the event's time."""
    return Deletion(id=legacy_id(node.subject_id), deleted_at=_utc(node.created_at))


# --- webhook payloads (REST resource JSON) --------------------------------------------------------------


class _Rest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def _tags(value: str | None) -> tuple[str, ...]:
    return tuple(sorted(t.strip() for t in (value or "").split(",") if t.strip()))


_FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED"}


class RestAddress(_Rest):
    id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None
    default: bool = False


class RestCustomer(_Rest):
    id: int
    created_at: AwareDatetime
    updated_at: AwareDatetime
    state: str = "enabled"
    verified_email: bool = False
    tax_exempt: bool = False
    tags: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    addresses: list[RestAddress] = Field(default_factory=list)


class RestRef(_Rest):
    id: int


class RestLineItem(_Rest):
    id: int
    title: str
    quantity: int
    price: Decimal
    total_discount: Decimal = Decimal(0)
    sku: str | None = None
    variant_title: str | None = None
    vendor: str | None = None
    product_id: int | None = None
    variant_id: int | None = None


class RestOrder(_Rest):
    id: int
    name: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    currency: str
    total_price: Decimal
    subtotal_price: Decimal | None = None
    total_tax: Decimal | None = None
    total_discounts: Decimal | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    test: bool = False
    tags: str | None = None
    customer: RestRef | None = None
    line_items: list[RestLineItem] = Field(default_factory=list)


class RestOption(_Rest):
    name: str
    position: int


class RestVariant(_Rest):
    id: int
    title: str = ""
    sku: str | None = None
    barcode: str | None = None
    price: Decimal
    compare_at_price: Decimal | None = None
    inventory_quantity: int | None = None
    position: int = 0
    option1: str | None = None
    option2: str | None = None
    option3: str | None = None
    updated_at: AwareDatetime | None = None


class RestProduct(_Rest):
    id: int
    title: str
    handle: str
    status: str = "active"
    vendor: str | None = None
    product_type: str | None = None
    tags: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    variants: list[RestVariant] = Field(default_factory=list)
    options: list[RestOption] = Field(default_factory=list)


class RestDeleted(_Rest):
    """``customers/delete``, ``orders/delete``, ``products/delete``: the id, perhaps little more."""

    id: int


class PrivacyCustomer(_Rest):
    id: int


class CustomerRedact(_Rest):
    """``customers/redact``: the customer and the orders whose personal data must go."""

    customer: PrivacyCustomer
    orders_to_redact: list[int] = Field(default_factory=list)


class DataRequestId(_Rest):
    id: int


class CustomerDataRequest(_Rest):
    """``customers/data_request``: a customer asked the shop for their data."""

    customer: PrivacyCustomer
    orders_requested: list[int] = Field(default_factory=list)
    data_request: DataRequestId | None = None


def _rest_key(kind: str, payload: object) -> str:
    ident = payload.get("id") if isinstance(payload, dict) else None
    return f"shopify:{kind}:{ident if isinstance(ident, int) else '?'}"


def customer_from_webhook(payload: object) -> Customer:
    try:
        rest = RestCustomer.model_validate(payload)
        return Customer(
            id=rest.id,
            created_at=_utc(rest.created_at),
            updated_at=_utc(rest.updated_at),
            state=rest.state.upper(),
            verified_email=rest.verified_email,
            tax_exempt=rest.tax_exempt,
            tags=_tags(rest.tags),
            pii=CustomerPii(
                email=rest.email, first_name=rest.first_name, last_name=rest.last_name, phone=rest.phone
            ),
            addresses=tuple(
                Address(
                    id=a.id,
                    default=a.default,
                    country_code=a.country_code,
                    province_code=a.province_code,
                    pii=AddressPii(
                        first_name=a.first_name,
                        last_name=a.last_name,
                        company=a.company,
                        address1=a.address1,
                        address2=a.address2,
                        city=a.city,
                        province=a.province,
                        zip=a.zip,
                        country=a.country,
                        phone=a.phone,
                    ),
                )
                for a in rest.addresses
            ),
        )
    except ValidationError as exc:
        raise UnreadableRecord(_rest_key("customer", payload), describe_invalid(exc)) from None


def order_from_webhook(payload: object) -> Order:
    try:
        rest = RestOrder.model_validate(payload)
        fulfillment = _FULFILLMENT.get(rest.fulfillment_status, (rest.fulfillment_status or "").upper())
        return Order(
            id=rest.id,
            name=rest.name,
            created_at=_utc(rest.created_at),
            updated_at=_utc(rest.updated_at),
            processed_at=_utc_or_none(rest.processed_at),
            currency=rest.currency,
            total_price=rest.total_price,
            subtotal_price=rest.subtotal_price,
            total_tax=rest.total_tax,
            total_discounts=rest.total_discounts,
            financial_status=rest.financial_status.upper() if rest.financial_status else None,
            fulfillment_status=fulfillment,
            cancelled_at=_utc_or_none(rest.cancelled_at),
            customer_id=rest.customer.id if rest.customer is not None else None,
            test=rest.test,
            tags=_tags(rest.tags),
            lines=tuple(
                OrderLine(
                    id=line.id,
                    title=line.title,
                    quantity=line.quantity,
                    unit_price=line.price,
                    total_discount=line.total_discount,
                    sku=line.sku,
                    variant_title=line.variant_title,
                    vendor=line.vendor,
                    product_id=line.product_id,
                    variant_id=line.variant_id,
                )
                for line in sorted(rest.line_items, key=lambda line: line.id)
            ),
        )
    except ValidationError as exc:
        raise UnreadableRecord(_rest_key("order", payload), describe_invalid(exc)) from None


def product_from_webhook(payload: object) -> ProductRecord:
    try:
        rest = RestProduct.model_validate(payload)
        names = {o.position: o.name for o in rest.options}
        return ProductRecord(
            id=rest.id,
            title=rest.title,
            handle=rest.handle,
            status=rest.status.upper(),
            vendor=rest.vendor or "",
            product_type=rest.product_type or "",
            tags=_tags(rest.tags),
            created_at=_utc(rest.created_at),
            updated_at=_utc(rest.updated_at),
            variants=tuple(
                VariantRecord(
                    id=v.id,
                    title=v.title,
                    sku=v.sku,
                    barcode=v.barcode,
                    price=v.price,
                    compare_at_price=v.compare_at_price,
                    inventory_quantity=v.inventory_quantity,
                    position=v.position,
                    options=tuple(
                        SelectedOption(name=names.get(i, f"Option{i}"), value=value)
                        for i, value in enumerate((v.option1, v.option2, v.option3), start=1)
                        if value is not None
                    ),
                    updated_at=_utc_or_none(v.updated_at),
                )
                for v in sorted(rest.variants, key=lambda v: (v.position, v.id))
            ),
        )
    except ValidationError as exc:
        raise UnreadableRecord(_rest_key("product", payload), describe_invalid(exc)) from None


def deletion_from_webhook(kind: str, payload: object, at: datetime) -> Deletion:
    """A delete webhook -> the deletion of its record at ``at`` (when the event fired)."""
    try:
        return Deletion(id=RestDeleted.model_validate(payload).id, deleted_at=_utc(at))
    except ValidationError as exc:
        raise UnreadableRecord(_rest_key(kind, payload), describe_invalid(exc)) from None
