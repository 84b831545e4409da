"""Shopware 6 Admin API calls the ERP gateway needs beyond :mod:`connector_pipelines.clients.shopware6`:
criteria searches that resolve variant inheritance (``sw-inheritance: 1``: a variant's inherited price and
tax), state transitions of orders, deliveries and payments, and the order records as the API renders them.

Transitions (``POST /api/_action/<entity>/<id>/state/<action>``) answer the state reached; asking for a state
the entity is in already is not an error in Shopware (an *unnecessary* transition answers the current state),
so a repeated ``ship`` is harmless. An illegal one is a 400 ``SYSTEM__ILLEGAL_STATE_TRANSITION``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from pydantic.alias_generators import to_camel

from connector_pipelines.clients.http import ApiError
from connector_pipelines.clients.shopware6 import (
    MAX_LIMIT,
    Criteria,
    Entity,
    SearchResult,
    Shopware6Client,
    Sort,
    TotalCountMode,
    entity_route,
)

__all__ = [
    "ILLEGAL_TRANSITION",
    "ShopwareAddress",
    "ShopwareDelivery",
    "ShopwareLineItem",
    "ShopwareOrder",
    "ShopwareOrderDeliveries",
    "ShopwareState",
    "StatefulEntity",
    "TaxRule",
    "iter_search_inherited",
    "search_inherited",
    "transition",
]

ILLEGAL_TRANSITION = "SYSTEM__ILLEGAL_STATE_TRANSITION"
StatefulEntity = Literal["order", "order_delivery", "order_transaction"]
_INHERIT = {"sw-inheritance": "1"}


def search_inherited(client: Shopware6Client, entity: str, criteria: Criteria) -> SearchResult[Entity]:
    """One ``POST /api/search/<entity>`` with variant inheritance resolved."""
    path = f"/api/search/{entity_route(entity)}"
    response = client.request("POST", path, json=criteria.to_body(), headers=_INHERIT)
    try:
        return SearchResult[Entity].model_validate_json(response.content)
    except ValidationError as exc:
        raise ApiError(client.system, "POST", path, response.status_code, _fields(exc)) from None


def iter_search_inherited(
    client: Shopware6Client, entity: str, criteria: Criteria, *, page_size: int = MAX_LIMIT
) -> Iterator[Entity]:
    """Every match page by page, inheritance resolved; sorted by id unless ``criteria`` sorts."""
    if not 1 <= page_size <= MAX_LIMIT:
        raise ValueError(f"page_size must be between 1 and {MAX_LIMIT}")
    base = criteria if criteria.sort is not None else criteria.model_copy(update={"sort": [Sort(field="id")]})
    page, seen = 1, 0
    total: int | None = None
    while True:
        mode = TotalCountMode.EXACT if page == 1 else TotalCountMode.NONE
        result = search_inherited(
            client,
            entity,
            base.model_copy(update={"page": page, "limit": page_size, "total_count_mode": mode}),
        )
        total = result.total if total is None else total
        yield from result.data
        seen += len(result.data)
        if len(result.data) < page_size or seen >= total:
            return
        page += 1


class ShopwareState(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="ignore")

    id: str
    technical_name: str


def transition(client: Shopware6Client, entity: StatefulEntity, entity_id: str, action: str) -> ShopwareState:
    """Take the state transition ``action`` (``ship``, ``pay``, ``process``, ...); no mail is sent."""
    path = f"/api/_action/{entity}/{entity_id}/state/{action}"
    response = client.request("POST", path, json={"sendMail": False})
    try:
        return ShopwareState.model_validate_json(response.content)
    except ValidationError as exc:
        raise ApiError(client.system, "POST", path, response.status_code, _fields(exc)) from None


# --- order records -----------------------------------------------------------------------------------------


class _Read(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="ignore")


class _Country(_Read):
    iso: str | None = None


class ShopwareAddress(_Read):
    first_name: str = ""
    last_name: str = ""
    company: str | None = None
    street: str | None = None
    additional_address_line1: str | None = None
    additional_address_line2: str | None = None
    zipcode: str | None = None
    city: str | None = None
    phone_number: str | None = None
    vat_id: str | None = None
    country: _Country | None = None


class TaxRule(_Read):
    tax_rate: Decimal


class ShopwareCalculatedPrice(_Read):
    unit_price: Decimal
    total_price: Decimal
    quantity: int = 1
    tax_rules: list[TaxRule] = []


class _CartPrice(_Read):
    total_price: Decimal
    net_price: Decimal
    tax_status: Literal["gross", "net", "tax-free"]


class ShopwareLineItem(_Read):
    id: str
    type: str | None = None
    label: str = ""
    quantity: int
    parent_id: str | None = None
    payload: dict[str, JsonValue] | None = None
    price: ShopwareCalculatedPrice | None = None

    @property
    def product_number(self) -> str | None:
        number = (self.payload or {}).get("productNumber")
        return number if isinstance(number, str) and number else None


class _StateRef(_Read):
    technical_name: str


class ShopwareDelivery(_Read):
    id: str
    tracking_codes: list[str] = []
    state_machine_state: _StateRef | None = None
    shipping_order_address: ShopwareAddress | None = None
    shipping_costs: ShopwareCalculatedPrice | None = None

    @property
    def state(self) -> str | None:
        return self.state_machine_state.technical_name if self.state_machine_state else None


class _Transaction(_Read):
    id: str
    created_at: datetime
    updated_at: datetime | None = None
    state_machine_state: _StateRef | None = None


class _OrderCustomer(_Read):
    customer_id: str | None = None
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    company: str | None = None
    vat_ids: list[str] | None = None


class _Currency(_Read):
    iso_code: str


class ShopwareOrder(_Read):
    id: str
    order_number: str | None = None
    order_date_time: datetime
    created_at: datetime
    updated_at: datetime | None = None
    price: _CartPrice
    shipping_costs: ShopwareCalculatedPrice | None = None
    customer_comment: str | None = None
    currency: _Currency
    order_customer: _OrderCustomer | None = None
    billing_address: ShopwareAddress | None = None
    line_items: list[ShopwareLineItem] = Field(default_factory=list)
    deliveries: list[ShopwareDelivery] = Field(default_factory=list)
    transactions: list[_Transaction] = Field(default_factory=list)

    @property
    def payment_state(self) -> str | None:
        """The state of the latest payment (a retried payment adds one; the last one counts)."""
        if not self.transactions:
            return None
        latest = max(self.transactions, key=lambda t: t.created_at)
        return latest.state_machine_state.technical_name if latest.state_machine_state else None

    @property
    def changed_at(self) -> datetime:
        stamps = [self.created_at, self.updated_at]
        for payment in self.transactions:
            stamps.extend((payment.created_at, payment.updated_at))
        return max(s for s in stamps if s is not None)


class ShopwareOrderDeliveries(_Read):
    """An order loaded with its deliveries only (where shipments go)."""

    id: str
    order_number: str | None = None
    deliveries: list[ShopwareDelivery] = Field(default_factory=list)


def _fields(exc: ValidationError) -> str:
    return "unexpected answer: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
