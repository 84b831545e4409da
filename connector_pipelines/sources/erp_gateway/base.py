"""What the ERP connectors share, so that a new ERP is one module with only its own calls.

:class:`MappedConnector`: the reads through the field mapping (a connector supplies its raw rows and its
default rules), capabilities, closing. :class:`OrderDesk`: the exactly-once order flow (look up by the shop's
order number before any create; a lost answer settled by looking again), customers found or created by a
stable code, and shipments from dispatch notes; a connector supplies the ERP calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import ClassVar, Self

from pydantic import BaseModel

from connector_pipelines import errors
from connector_pipelines.clients.http import ClientOptions, TlsSettings
from connector_pipelines.sources.erp_gateway.connector import (
    Capability,
    CustomerInput,
    ErpItem,
    ErpOrderRef,
    ErpOrderRejectedError,
    ErpRowError,
    OrderInput,
    PriceEntry,
    Shipment,
    StockLevel,
    current_prices,
    customer_code,
)
from connector_pipelines.sources.erp_gateway.fields import RawRow, RecordMapper
from connector_pipelines.tenants.systems import ErpFieldMapping, TlsOptions

__all__ = ["DispatchNote", "MappedConnector", "OrderDesk", "http_options", "number_code", "raw_row"]


def raw_row(where: str, record: BaseModel, modified_at: datetime | None = None) -> RawRow:
    """A client's record as the ERP names its fields (the models keep every field the answer had)."""
    return RawRow(where, record.model_dump(mode="json", by_alias=True), modified_at)


def http_options(tls: TlsOptions, cap_s: float | None) -> ClientOptions:
    """The HTTP options of an ERP client: a minute per call at most (less under a sensor's cap), the
    tenant's private CA."""
    timeout_s = 60.0 if cap_s is None else min(60.0, cap_s)
    return {"timeout_s": timeout_s, "tls": TlsSettings(ca_bundle=tls.ca_bundle)}


def number_code(code: str, what: str) -> int:
    """A numeric ERP code (warehouse numbers) given as text."""
    try:
        return int(code.strip())
    except ValueError:
        raise ValueError(f"{what} must be a number, not {code!r}") from None


class MappedConnector(ABC):
    """Reads items, stock and prices as raw rows and maps them; ``default_mapping`` holds the connector's own
    rules for its ERP's field names, ``mapping`` the tenant's overrides. Closing releases the client."""

    system: ClassVar[str]
    # Capabilities this ERP does not have, with the reason shown wherever a flow is skipped for it.
    missing: ClassVar[Mapping[Capability, str]] = {}

    def __init__(
        self,
        default_mapping: ErpFieldMapping,
        mapping: ErpFieldMapping | None,
        *,
        today: Callable[[], date],
    ) -> None:
        self.mapper = RecordMapper(default_mapping, mapping)
        self.today = today

    # --- capabilities --------------------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(c for c in Capability if c not in self.missing)

    def lacks(self, capability: Capability) -> str | None:
        return self.missing.get(capability)

    @property
    def orders(self) -> OrderDesk | None:
        return None

    # --- reads ---------------------------------------------------------------------------------------------

    @abstractmethod
    def test_connection(self) -> str: ...

    @abstractmethod
    def item_rows(self) -> Iterator[RawRow | ErpRowError]:
        """Every item as the ERP names its fields."""

    @abstractmethod
    def stock_rows(self, warehouse_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        """Stock of one warehouse (changed since ``since`` where the ERP can filter)."""

    @abstractmethod
    def price_rows(self, price_list_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        """Price rows of one price list, every validity period (one is chosen per SKU afterwards)."""

    def items(self) -> Iterator[ErpItem | ErpRowError]:
        return self.mapper.items(self.item_rows())

    def stock(self, warehouse_code: str, since: datetime | None = None) -> Iterator[StockLevel | ErpRowError]:
        return self.mapper.stock(self.stock_rows(warehouse_code, since), warehouse_code)

    def prices(
        self, price_list_code: str, since: datetime | None = None
    ) -> Iterator[PriceEntry | ErpRowError]:
        """The current price per SKU; row errors as they come (a SKU's rows must all be seen to choose)."""
        entries: list[PriceEntry] = []
        for found in self.mapper.prices(self.price_rows(price_list_code, since), price_list_code):
            if isinstance(found, ErpRowError):
                yield found
            else:
                entries.append(found)
        yield from current_prices(entries, self.today())

    # --- lifecycle -----------------------------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Release the client (a Netsis session's seat, a file server's connection)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class DispatchNote:
    """A shipping document of the ERP and the orders (ERP keys) its lines ship."""

    number: str
    shipped_at: datetime | None
    tracking_number: str | None
    carrier: str | None
    order_refs: tuple[str, ...]


class OrderDesk(ABC):
    """The order side of an ERP; the ERP's own calls are the abstract methods."""

    system: ClassVar[str]
    # The ERP client's errors for a refused customer: created meanwhile by a concurrent run, or refused.
    rejected: ClassVar[tuple[type[Exception], ...]]
    customer_prefix: str
    local_currency: str

    @property
    def orders(self) -> OrderDesk:
        return self

    @abstractmethod
    def customer_exists(self, code: str) -> bool: ...

    @abstractmethod
    def create_customer(self, code: str, customer: CustomerInput) -> None: ...

    @abstractmethod
    def find_order(self, shop_order_number: str) -> ErpOrderRef | None: ...

    @abstractmethod
    def post_order(self, order: OrderInput) -> ErpOrderRef:
        """Send the order once: its reference (``created`` False when the ERP says it has it already);
        :class:`ErpOrderRejectedError` when refused; a transient error when the answer was lost."""

    @abstractmethod
    def dispatches(self, since: datetime) -> Iterator[DispatchNote]:
        """Dispatch notes recorded on or after ``since``'s day."""

    @abstractmethod
    def shop_order_of(self, order_ref: str) -> tuple[str, str] | None:
        """(shop order number, ERP order number) of an ERP order the gateway wrote; None for others."""

    def find_or_create_customer(self, customer: CustomerInput) -> str:
        code = customer_code(customer.key, self.customer_prefix)
        if self.customer_exists(code):
            return code
        try:
            self.create_customer(code, customer)
        except self.rejected:
            if self.customer_exists(code):  # created meanwhile by a concurrent run
                return code
            raise
        return code

    def create_order(self, order: OrderInput) -> ErpOrderRef:
        number = order.shop_order_number
        existing = self.find_order(number)
        if existing is not None:
            return existing
        if order.currency.upper() != self.local_currency:
            raise ErpOrderRejectedError(
                self.system,
                number,
                f"currency {order.currency} (the connector posts {self.local_currency} orders)",
            )
        try:
            return self.post_order(order)
        except errors.TransientError:
            # The answer was lost, not necessarily the order: only a lookup tells.
            found = self.find_order(number)
            if found is None:
                raise
            return found.model_copy(update={"created": True})

    def shipped_orders(self, since: datetime) -> Iterator[Shipment]:
        """One shipment per order a dispatch note ships; dispatches of orders the gateway did not write are
        left out."""
        orders: dict[str, tuple[str, str] | None] = {}
        for note in self.dispatches(since):
            for ref in note.order_refs:
                if ref not in orders:
                    orders[ref] = self.shop_order_of(ref)
                found = orders[ref]
                if found is None:
                    continue
                shop_number, erp_number = found
                yield Shipment(
                    shop_order_number=shop_number,
                    erp_order_number=erp_number,
                    dispatch_number=note.number,
                    tracking_number=note.tracking_number,
                    carrier=note.carrier,
                    shipped_at=note.shipped_at,
                )
