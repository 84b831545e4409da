"""Pydantic models of Logo Objects REST answers and requests (``contracts/logo_netsis.md`` §1).

Field names on the wire are Logo Objects' XML tags (``INTERNAL_REFERENCE``, ``MASTER_CODE``); the models
read them by alias and expose Python names. Unknown fields are ignored, except on the rows the gateway
maps (items, stock and price rows), which keep them. Nested collections come as
``{"Meta": …, "items": [...]}`` (only with ``expandLevel=full``) and are read as lists.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

R = TypeVar("R")


def _collection(value: object) -> object:
    """``{"Meta": …, "items": [...]}`` -> the list; a collection sent without items (no expandLevel) -> []."""
    if isinstance(value, dict):
        return value.get("items") or []
    return value if value is not None else []


def _no_empty_date(value: object) -> object:
    # Logo writes "no date" as 1899-12-30 (the OLE zero date).
    if isinstance(value, str) and value.startswith("1899-12-30"):
        return None
    return value


OptionalDate = Annotated[datetime | None, BeforeValidator(_no_empty_date)]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class _Row(BaseModel):
    """A record the gateway maps field by field: every field the answer has is kept (``model_extra``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")


class LogoToken(_Model):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: float | None = None


class LogoErrorBody(_Model):
    """Every error shape seen: ASP.NET ``Message``/``ModelState``/``ExceptionMessage`` and OWIN ``error``."""

    message: str | None = Field(None, alias="Message")
    model_state: dict[str, list[str]] | None = Field(None, alias="ModelState")
    exception_message: str | None = Field(None, alias="ExceptionMessage")
    error: str | None = None
    error_description: str | None = None


class LogoHref(_Model):
    href: str | None = None


class LogoPage(_Model):
    """The ``ResultData`` list envelope; which keys are present varies by version."""

    offset: int | None = None
    count: int | None = None
    total_count: int | None = Field(None, alias="totalCount")
    limit: int | None = None
    next: LogoHref | None = None
    items: list[JsonValue] = []


class LogoQueryResult(_Model, Generic[R]):
    """``{"count": n, "items": [...]}`` of the query route, rows validated as ``R`` in one pass."""

    count: int | None = None
    items: list[R] = []


class LogoUnit(_Model):
    unit_code: str = Field("", alias="UNIT_CODE")
    barcode: str | None = Field(None, alias="BARCODE")


class LogoItem(_Row):
    internal_reference: int = Field(alias="INTERNAL_REFERENCE")
    code: str = Field(alias="CODE")
    name: str = Field("", alias="NAME")
    card_type: int | None = Field(None, alias="CARD_TYPE")
    vat: Decimal | None = Field(None, alias="VAT")
    record_status: int = Field(0, alias="RECORD_STATUS", description="0 active, 1 inactive")
    ean_barcode: str | None = Field(None, alias="EAN_BARCODE")
    group_code: str | None = Field(None, alias="GROUP_CODE")
    date_modified: OptionalDate = Field(None, alias="DATE_MODIFIED")
    hour_modified: int = Field(0, alias="HOUR_MODIFIED")
    min_modified: int = Field(0, alias="MIN_MODIFIED")
    sec_modified: int = Field(0, alias="SEC_MODIFIED")
    units: Annotated[list[LogoUnit], BeforeValidator(_collection)] = Field([], alias="UNITS")

    @property
    def modified_at(self) -> datetime | None:
        """DATE_MODIFIED holds the day; the time is in three more fields."""
        if self.date_modified is None:
            return None
        moment = time(self.hour_modified % 24, self.min_modified % 60, self.sec_modified % 60)
        return datetime.combine(self.date_modified.date(), moment)


class LogoArp(_Model):
    internal_reference: int = Field(alias="INTERNAL_REFERENCE")
    code: str = Field(alias="CODE")
    title: str = Field("", alias="TITLE")
    e_mail: str | None = Field(None, alias="E_MAIL")
    tax_id: str | None = Field(None, alias="TAX_ID")
    record_status: int = Field(0, alias="RECORD_STATUS")


class LogoArpInput(_Model):
    """A new customer account (``POST /Arps``)."""

    code: str
    title: str
    account_type: int = 3  # buyer and seller, Logo's default for trading partners
    address1: str = ""
    address2: str = ""
    town: str = ""
    city: str = ""
    country: str = ""
    country_code: str = ""
    postal_code: str = ""
    telephone1: str = ""
    e_mail: str = ""
    tax_id: str = ""
    tax_office: str = ""
    e_comm_id: str = ""

    def to_body(self) -> dict[str, JsonValue]:
        body: dict[str, JsonValue] = {"INTERNAL_REFERENCE": 0}
        body.update({name.upper(): value for name, value in self.model_dump().items()})
        return body


class LogoLine(_Model):
    """A line of a sales order or dispatch (``TRANSACTIONS.items``)."""

    internal_reference: int | None = Field(None, alias="INTERNAL_REFERENCE")
    type: int = Field(0, alias="TYPE")
    master_code: str = Field("", alias="MASTER_CODE")
    quantity: Decimal = Field(Decimal(0), alias="QUANTITY")
    price: Decimal | None = Field(None, alias="PRICE")
    vat_rate: Decimal | None = Field(None, alias="VAT_RATE")
    source_wh: int | None = Field(None, alias="SOURCE_WH")
    order_reference: int | None = Field(None, alias="ORDER_REFERENCE")


Lines = Annotated[list[LogoLine], BeforeValidator(_collection)]


class LogoSalesOrder(_Model):
    internal_reference: int = Field(alias="INTERNAL_REFERENCE")
    number: str = Field("", alias="NUMBER")
    date: OptionalDate = Field(None, alias="DATE")
    doc_number: str = Field("", alias="DOC_NUMBER")
    arp_code: str = Field("", alias="ARP_CODE")
    order_status: int | None = Field(None, alias="ORDER_STATUS")
    total_net: Decimal | None = Field(None, alias="TOTAL_NET")
    transactions: Lines = Field([], alias="TRANSACTIONS")


class LogoDispatch(_Model):
    internal_reference: int = Field(alias="INTERNAL_REFERENCE")
    number: str = Field("", alias="NUMBER")
    date: OptionalDate = Field(None, alias="DATE")
    doc_number: str = Field("", alias="DOC_NUMBER")
    arp_code: str = Field("", alias="ARP_CODE")
    # UNVERIFIED which of the tracking fields a shipping department fills; TRACK_NR first.
    track_nr: str = Field("", validation_alias=AliasChoices("TRACK_NR", "DOC_TRACKING_NR", "DOC_TRACK_NR"))
    shipping_agent: str = Field("", alias="SHIPPING_AGENT")
    date_modified: OptionalDate = Field(None, alias="DATE_MODIFIED")
    transactions: Lines = Field([], alias="TRANSACTIONS")


class LogoOrderLineInput(_Model):
    master_code: str
    quantity: Decimal = Field(gt=0)
    price: Decimal = Field(ge=0)
    vat_rate: Decimal = Field(ge=0)
    vat_included: bool
    source_wh: int | None = None
    unit_code: str = "ADET"
    description: str = ""

    def to_body(self) -> dict[str, JsonValue]:
        line: dict[str, JsonValue] = {
            "TYPE": 0,  # an item (material) line
            "MASTER_CODE": self.master_code,
            "QUANTITY": float(self.quantity),
            "PRICE": float(self.price),
            "VAT_RATE": float(self.vat_rate),
            "VAT_INCLUDED": 1 if self.vat_included else 0,
            "UNIT_CODE": self.unit_code,
            "UNIT_CONV1": 1,
            "UNIT_CONV2": 1,
        }
        if self.source_wh is not None:
            line["SOURCE_WH"] = self.source_wh
        if self.description:
            line["TRANS_DESCRIPTION"] = self.description
        return line


class LogoSalesOrderInput(_Model):
    """A sales order to post; ``doc_number`` carries the shop's order number (idempotency key)."""

    doc_number: str = Field(min_length=1)
    arp_code: str = Field(min_length=1)
    date: date
    time: int = 0
    order_status: int = 1
    source_wh: int | None = None
    notes: str = ""
    lines: list[LogoOrderLineInput] = Field(min_length=1)

    def to_body(self) -> dict[str, JsonValue]:
        body: dict[str, JsonValue] = {
            "INTERNAL_REFERENCE": 0,
            "NUMBER": "~",  # the next number of the numbering template
            "DATE": self.date.strftime("%d.%m.%Y"),
            "TIME": self.time,
            "ARP_CODE": self.arp_code,
            "DOC_NUMBER": self.doc_number,
            "ORDER_STATUS": self.order_status,
            "CURRSEL_TOTAL": 1,
            "TRANSACTIONS": {"items": [line.to_body() for line in self.lines]},
        }
        if self.source_wh is not None:
            body["SOURCE_WH"] = self.source_wh
        if self.notes:
            body["NOTES1"] = self.notes
        return body


class LogoStockRow(_Row):
    """On hand of one item in one warehouse, summed over STINVTOT's daily rows."""

    stockref: int = Field(alias="STOCKREF")
    code: str = Field(alias="CODE")
    onhand: Decimal = Field(Decimal(0), alias="ONHAND")
    reserved: Decimal = Field(Decimal(0), alias="RESERVED")

    @property
    def key(self) -> int:
        return self.stockref


class LogoPriceRow(_Row):
    """A sales price (``LG_{firm}_PRCLIST``, ``PTYPE = 2``) of one item in one trading group."""

    ref: int = Field(alias="LOGICALREF")
    code: str = Field(alias="CODE")
    price: Decimal = Field(alias="PRICE")
    currency: int = Field(0, alias="CURRENCY")
    vat_included: bool = Field(False, alias="INCVAT")
    valid_from: OptionalDate = Field(None, alias="BEGDATE")
    valid_to: OptionalDate = Field(None, alias="ENDDATE")

    @property
    def key(self) -> int:
        return self.ref
