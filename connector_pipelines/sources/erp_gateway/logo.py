"""The Logo connector (Logo Objects REST through :class:`LogoClient`).

Items come from the ``items`` resource; stock per warehouse (``INVENNO``) and prices per price list (a
trading group, ``TRADINGGRP``) from the SQL query route, which an installation may have switched off: then
``stock``/``prices`` raise :class:`ErpFeatureUnavailableError` naming the CSV fallback, and
``test_connection`` says so up front. Orders carry the shop's order number in ``DOC_NUMBER`` and are looked up
by it before every create; the POST is sent once, and a lost answer is settled by looking again. Shipments
are the sales dispatches whose lines point at an order (``ORDER_REFERENCE``), with ``TRACK_NR``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime

from connector_pipelines import errors
from connector_pipelines.clients.logo import (
    LogoArpInput,
    LogoClient,
    LogoRejectedError,
    LogoSalesOrder,
    LogoSalesOrderInput,
    LogoSqlUnavailableError,
)
from connector_pipelines.clients.logo_models import LogoOrderLineInput
from connector_pipelines.sources.erp_gateway.connector import (
    CSV_FALLBACK,
    CustomerInput,
    ErpFeatureUnavailableError,
    ErpItem,
    ErpOrderRef,
    ErpOrderRejectedError,
    OrderInput,
    PriceEntry,
    Shipment,
    StockLevel,
    current_prices,
    customer_code,
)

__all__ = ["LogoConnector"]

SYSTEM = "logo"
# Logo's currency numbers (UNVERIFIED beyond TL: 0 and 160 both appear for the local currency).
CURRENCIES = {1: "USD", 17: "GBP", 20: "EUR"}
_LOCAL = (0, 160)

log = logging.getLogger(__name__)


class LogoConnector:
    """The ERP connector of one Logo firm. ``customer_prefix`` starts every account code the gateway creates
    (``120.`` is the customer range of the Turkish chart of accounts); ``order_status`` is Logo's status of a
    new web order (1 proposal, 4 shippable: UNVERIFIED which a merchant wants)."""

    system = SYSTEM

    def __init__(
        self,
        client: LogoClient,
        *,
        customer_prefix: str = "120.W",
        order_status: int = 1,
        local_currency: str = "TRY",
        default_warehouse: int | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        customer_code("probe", customer_prefix)  # fails early on a prefix that leaves no room
        self.client = client
        self.customer_prefix = customer_prefix
        self.order_status = order_status
        self.local_currency = local_currency
        self.default_warehouse = default_warehouse
        self.today = today

    def test_connection(self) -> str:
        firm, period = self.client.current_firm(), self.client.active_period()
        head = f"Logo firm {firm}, period {period}: connected"
        if self.client.sql_available():
            return f"{head}; SQL query route on: stock and prices can be read"
        return (
            f"{head}; SQL query route OFF: stock and prices cannot be read over Logo REST; "
            f"{CSV_FALLBACK}, or switch on 'SQL servis sorgu parametreleri' in the Logo REST settings"
        )

    def items(self) -> Iterator[ErpItem]:
        for item in self.client.items():
            yield ErpItem(
                sku=item.code.strip(),
                name=item.name,
                vat_rate=item.vat,
                barcode=item.ean_barcode or None,
                unit=item.units[0].unit_code if item.units else None,
                active=item.record_status == 0,
                modified_at=item.modified_at,
            )

    def stock(self, warehouse_code: str, since: datetime | None = None) -> Iterator[StockLevel]:
        """On hand per SKU; ``since``: items with stock movements on or after that day."""
        warehouse = _number(warehouse_code, "warehouse code (Logo INVENNO)")
        changed = since.date() if since is not None else None
        try:
            for row in self.client.stock_levels(warehouse, changed_since=changed):
                yield StockLevel(
                    sku=row.code.strip(),
                    warehouse_code=warehouse_code,
                    on_hand=row.onhand,
                    reserved=row.reserved,
                )
        except LogoSqlUnavailableError as exc:
            raise ErpFeatureUnavailableError(SYSTEM, "stock per warehouse", _sql_off(exc)) from exc

    def prices(self, price_list_code: str, since: datetime | None = None) -> Iterator[PriceEntry]:
        """The current price per SKU in one trading group; ``since``: rows modified on or after that day."""
        changed = since.date() if since is not None else None
        try:
            rows = [
                PriceEntry(
                    sku=row.code.strip(),
                    price_list_code=price_list_code,
                    price=row.price,
                    currency=self._currency(row.currency),
                    includes_vat=row.vat_included,
                    valid_from=row.valid_from.date() if row.valid_from else None,
                    valid_to=row.valid_to.date() if row.valid_to else None,
                )
                for row in self.client.price_rows(price_list_code, changed_since=changed)
            ]
        except LogoSqlUnavailableError as exc:
            raise ErpFeatureUnavailableError(SYSTEM, "prices", _sql_off(exc)) from exc
        yield from current_prices(rows, self.today())

    def find_or_create_customer(self, customer: CustomerInput) -> str:
        code = customer_code(customer.key, self.customer_prefix)
        if self.client.find_arp(code) is not None:
            return code
        arp = LogoArpInput(
            code=code,
            title=(customer.company or customer.name)[:200],
            address1=customer.address_line1 or "",
            address2=customer.address_line2 or "",
            town=customer.district or "",
            city=customer.city or "",
            country_code=customer.country_code or "",
            postal_code=customer.postal_code or "",
            telephone1=customer.phone or "",
            e_mail=customer.email or "",
            tax_id=customer.tax_id or "",
            tax_office=customer.tax_office or "",
            e_comm_id=customer.key[:50],
        )
        try:
            self.client.create_arp(arp)
        except LogoRejectedError:
            if self.client.find_arp(code) is not None:  # created meanwhile by a concurrent run
                return code
            raise
        return code

    def find_order(self, shop_order_number: str) -> ErpOrderRef | None:
        found = self.client.find_sales_orders(shop_order_number)
        if not found:
            return None
        if len(found) > 1:
            log.warning("logo: %d sales orders carry DOC_NUMBER %r", len(found), shop_order_number)
        first = min(found, key=lambda o: o.internal_reference)
        return _ref(shop_order_number, first, created=False)

    def create_order(self, order: OrderInput) -> ErpOrderRef:
        number = order.shop_order_number
        existing = self.find_order(number)
        if existing is not None:
            return existing
        if order.currency.upper() != self.local_currency:
            raise ErpOrderRejectedError(
                SYSTEM,
                number,
                f"currency {order.currency} (the connector posts {self.local_currency} orders)",
            )
        warehouse = (
            _number(order.warehouse_code, "warehouse code")
            if order.warehouse_code
            else self.default_warehouse
        )
        posted = LogoSalesOrderInput(
            doc_number=number,
            arp_code=order.customer_code,
            date=order.ordered_at.date(),
            time=_packed_time(order.ordered_at),
            order_status=self.order_status,
            source_wh=warehouse,
            notes=order.note[:250],
            lines=[
                LogoOrderLineInput(
                    master_code=line.sku,
                    quantity=line.quantity,
                    price=line.unit_price,
                    vat_rate=line.vat_rate,
                    vat_included=order.prices_include_vat,
                    source_wh=warehouse,
                    description=line.name[:250],
                )
                for line in order.lines
            ],
        )
        try:
            saved = self.client.create_sales_order(posted)
        except LogoRejectedError as exc:
            raise ErpOrderRejectedError(SYSTEM, number, exc.detail) from exc
        except errors.TransientError:
            # The answer was lost, not necessarily the order: only a lookup tells.
            found = self.find_order(number)
            if found is None:
                raise
            return found.model_copy(update={"created": True})
        return _ref(number, saved, created=True)

    def shipped_orders(self, since: datetime) -> Iterator[Shipment]:
        """Dispatches modified on or after ``since``'s day, one shipment per order they ship."""
        orders: dict[int, LogoSalesOrder | None] = {}
        for dispatch in self.client.sales_dispatches(modified_since=since.date()):
            refs = sorted({line.order_reference for line in dispatch.transactions if line.order_reference})
            for ref in refs:
                if ref not in orders:
                    orders[ref] = self.client.get_sales_order(ref)
                order = orders[ref]
                if order is None or not order.doc_number:
                    continue  # not an order of the gateway
                yield Shipment(
                    shop_order_number=order.doc_number,
                    erp_order_number=order.number,
                    dispatch_number=dispatch.number,
                    tracking_number=dispatch.track_nr or None,
                    carrier=dispatch.shipping_agent or None,
                    shipped_at=dispatch.date,
                )

    def _currency(self, number: int) -> str:
        if number in _LOCAL:
            return self.local_currency
        return CURRENCIES.get(number, f"LOGO{number}")


def _ref(shop_order_number: str, order: LogoSalesOrder, *, created: bool) -> ErpOrderRef:
    return ErpOrderRef(
        shop_order_number=shop_order_number,
        erp_id=str(order.internal_reference),
        document_number=order.number,
        created=created,
    )


def _number(code: str, what: str) -> int:
    try:
        return int(code.strip())
    except ValueError:
        raise ValueError(f"{what} must be a number, not {code!r}") from None


def _packed_time(moment: datetime) -> int:
    """Logo's TIME: ``h*16777216 + m*65536 + s*256``."""
    return moment.hour * 16777216 + moment.minute * 65536 + moment.second * 256


def _sql_off(exc: LogoSqlUnavailableError) -> str:
    return f"the Logo REST SQL query route is switched off or refused ({exc.detail})"
