"""Customers, orders, fulfilments and events of an emulated shop: the records behind ``customers``, ``orders``
and ``events`` (Admin API 2026-07 schema).

Sized for benchmarks (50,000 customers and 100,000 orders of 3 lines each in well under a second of seeding
and a few tens of MB): timestamps are epoch seconds, money is kept in minor units of the shop's currency,
and order lines live in parallel arrays (:class:`LineTable`), read through short-lived views. A line's
number (``gid://shopify/LineItem/<n>``) maps to its array index through the id blocks it was allocated in.
One fulfillment order per order, numbered like the order; its lines are numbered like the order's lines.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector_pipelines.sandbox.shopify_store import Variant

NO_METAFIELDS: tuple[()] = ()


@dataclass(frozen=True, slots=True)
class Address:
    """A mailing address; replaced, never edited, so orders keep the address they were placed with."""

    id: int
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    phone: str | None = None

    @property
    def name(self) -> str | None:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


@dataclass(eq=False, slots=True)
class Customer:
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    created_at: float
    updated_at: float
    addresses: list[Address] = field(default_factory=list)
    default_address: Address | None = None
    tags: tuple[str, ...] = ()
    state: str = "ENABLED"  # CustomerState
    note: str | None = None
    verified_email: bool = True
    tax_exempt: bool = False
    accepts_marketing: bool = False
    locale: str = "en"
    number_of_orders: int = 0
    amount_spent: int = 0  # minor units of the shop's currency
    last_order_id: int | None = None
    metafields: tuple[()] = NO_METAFIELDS

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email or self.phone or ""


@dataclass(frozen=True, slots=True)
class Tracking:
    number: str | None
    company: str | None
    url: str | None


@dataclass(eq=False, slots=True)
class Fulfillment:
    id: int
    order: Order
    sequence: int  # 1 for the order's first fulfilment: its name is "#1001.1"
    created_at: float
    updated_at: float
    location_id: int | None
    lines: dict[int, int]  # line index -> quantity
    tracking: list[Tracking] = field(default_factory=list)
    status: str = "SUCCESS"  # FulfillmentStatus
    notify_customer: bool = False

    @property
    def name(self) -> str:
        return f"{self.order.name}.{self.sequence}"


@dataclass(eq=False, slots=True)
class Order:
    id: int
    number: int
    customer: Customer | None
    email: str | None
    created_at: float
    updated_at: float
    processed_at: float
    line_start: int  # index of the first line in the shop's LineTable
    line_count: int
    currency: str
    presentment_currency: str
    rate: float  # presentment amount = shop amount x rate
    shipping_address: Address | None
    billing_address: Address | None
    tax_rate_bp: int  # basis points (1900 = 19 %)
    shipping: int = 0  # minor units
    financial_status: str = "PAID"  # OrderDisplayFinancialStatus
    fulfillment_status: str = "UNFULFILLED"  # OrderDisplayFulfillmentStatus
    cancelled_at: float | None = None
    cancel_reason: str | None = None
    closed_at: float | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    test: bool = False
    source_name: str = "web"
    location_id: int | None = None  # where its fulfillment order is assigned
    # Fulfilments; a seeded fulfilled order makes its own on first read (see Commerce.fulfillments_of).
    fulfillments: list[Fulfillment] | None = None
    tracking_seed: str | None = None
    metafields: tuple[()] = NO_METAFIELDS

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def lines(self) -> range:
        return range(self.line_start, self.line_start + self.line_count)


@dataclass(frozen=True, slots=True)
class Event:
    """A ``BasicEvent``: what happened to which subject (subjects may be gone: deletions)."""

    id: int
    created_at: float
    subject_type: str  # EventSubjectType
    subject_id: int
    action: str  # create, update, destroy, ...
    message: str


@dataclass(frozen=True, slots=True)
class Change:
    """One change of shop data: recorded as one event and offered to the webhook subscriptions of each of
    its ``topics`` (paying an order is both ``orders/paid`` and ``orders/updated``)."""

    topics: tuple[str, ...]  # ("customers/update",), ...
    subject_type: str
    subject_id: int
    action: str
    message: str
    record: object | None  # the changed record as it is now (None after a deletion)
    at: float


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    """What a line shows of its variant as it was when ordered (shared by the lines of one variant state)."""

    variant_id: int  # 0: no variant (a custom item)
    product_id: int
    sku: str | None
    title: str
    variant_title: str | None
    vendor: str | None
    taxable: bool = True


CUSTOM_ITEM = LineSnapshot(0, 0, None, "Custom item", None, None)


class LineTable:
    """Order lines as parallel arrays; index ``i`` is one line. Ids come in blocks (first id, first index)."""

    def __init__(self) -> None:
        self.order_id = array("q")
        self.snapshot = array("q")  # index into ``snapshots``
        self.quantity = array("q")
        self.unit = array("q")  # minor units, before discounts
        self.discount = array("q")  # the line's total discount
        self.tax = array("q")
        self.fulfilled = array("q")
        self.snapshots: list[LineSnapshot] = [CUSTOM_ITEM]
        self._snapshot_index: dict[LineSnapshot, int] = {CUSTOM_ITEM: 0}
        self._block_ids: list[int] = []
        self._block_index: list[int] = []

    def __len__(self) -> int:
        return len(self.order_id)

    def snapshot_of(self, variant: Variant | None) -> int:
        """The snapshot number of ``variant`` as it is now (one per distinct state)."""
        if variant is None:
            return 0
        product = variant.product
        snap = LineSnapshot(
            variant.id, product.id, variant.sku, product.title, variant.title, product.vendor, variant.taxable
        )
        found = self._snapshot_index.get(snap)
        if found is None:
            found = self._snapshot_index[snap] = len(self.snapshots)
            self.snapshots.append(snap)
        return found

    def view(self, index: int) -> LineSnapshot:
        return self.snapshots[self.snapshot[index]]

    def add_block(self, first_id: int, first_index: int) -> None:
        """Lines from ``first_index`` on are numbered from ``first_id`` (ids ascend with blocks)."""
        self._block_ids.append(first_id)
        self._block_index.append(first_index)

    def id_of(self, index: int) -> int:
        block = bisect.bisect_right(self._block_index, index) - 1
        return self._block_ids[block] + index - self._block_index[block]

    def index_of(self, line_id: int) -> int | None:
        block = bisect.bisect_right(self._block_ids, line_id) - 1
        if block < 0:
            return None
        index = self._block_index[block] + line_id - self._block_ids[block]
        next_start = self._block_index[block + 1] if block + 1 < len(self._block_index) else len(self)
        return index if index < next_start else None

    def append(self, order_id: int, snapshot: int, quantity: int, unit: int, discount: int, tax: int) -> int:
        self.order_id.append(order_id)
        self.snapshot.append(snapshot)
        self.quantity.append(quantity)
        self.unit.append(unit)
        self.discount.append(discount)
        self.tax.append(tax)
        self.fulfilled.append(0)
        return len(self.order_id) - 1


class Commerce:
    """Customers, orders, their lines and the shop's events. Guarded by the shop's lock."""

    def __init__(self) -> None:
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.lines = LineTable()
        self.events: list[Event] = []
        self.fulfillments: dict[int, Fulfillment] = {}
        self.next_order_number = 1001
        self.version = 0  # bumped on every change: sorted views are cached per version
        self._sorted: dict[tuple[str, str], tuple[int, list[Any]]] = {}
        self._lock = threading.Lock()

    def touch(self) -> None:
        self.version += 1

    def sorted_view(
        self, name: str, key: str, items: Callable[[], list[Any]], sort: Callable[[Any], Any]
    ) -> list[Any]:
        """``items()`` sorted by ``sort``, cached until the next change."""
        with self._lock:
            cached = self._sorted.get((name, key))
            if cached is not None and cached[0] == self.version:
                return cached[1]
        ordered = sorted(items(), key=sort)
        with self._lock:
            self._sorted[(name, key)] = (self.version, ordered)
        return ordered

    # lines ------------------------------------------------------------------------------------------------

    def order_of_line(self, line_id: int) -> tuple[Order, int] | None:
        index = self.lines.index_of(line_id)
        if index is None:
            return None
        order = self.orders.get(self.lines.order_id[index])
        return (order, index) if order is not None else None

    def subtotal(self, order: Order) -> int:
        lines = self.lines
        return sum(lines.quantity[i] * lines.unit[i] - lines.discount[i] for i in order.lines)

    def discounts(self, order: Order) -> int:
        return sum(self.lines.discount[i] for i in order.lines)

    def tax(self, order: Order) -> int:
        return sum(self.lines.tax[i] for i in order.lines)

    def total(self, order: Order) -> int:
        return self.subtotal(order) + self.tax(order) + order.shipping

    def quantity(self, order: Order) -> int:
        return sum(self.lines.quantity[i] for i in order.lines)

    # fulfilments ------------------------------------------------------------------------------------------

    def fulfillments_of(self, order: Order) -> list[Fulfillment]:
        if order.fulfillments is None:
            order.fulfillments = []
            if order.tracking_seed is not None:
                # A seeded fulfilled order: its fulfilment is made when first read, numbered like the order.
                lines = {i: self.lines.quantity[i] for i in order.lines}
                tracking = Tracking(order.tracking_seed, "DHL Express", None)
                done = Fulfillment(
                    order.id,
                    order,
                    1,
                    order.updated_at,
                    order.updated_at,
                    order.location_id,
                    lines,
                    [tracking],
                )
                order.fulfillments.append(done)
                self.fulfillments[done.id] = done
        return order.fulfillments

    def fulfillment(self, number: int) -> Fulfillment | None:
        found = self.fulfillments.get(number)
        if found is None:
            order = self.orders.get(number)
            if order is not None and order.tracking_seed is not None:
                self.fulfillments_of(order)
                found = self.fulfillments.get(number)
        return found

    def remaining(self, index: int) -> int:
        return self.lines.quantity[index] - self.lines.fulfilled[index]

    # events -----------------------------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        self.events.append(event)
