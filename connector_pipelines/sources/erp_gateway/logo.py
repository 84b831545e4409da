"""The Logo connector (Logo Objects REST through :class:`LogoClient`).

Items come from the ``items`` resource; stock per warehouse (``INVENNO``) and prices per price list (a
trading group, ``TRADINGGRP``) from the SQL query route, which an installation may have switched off: then
``stock``/``prices`` raise :class:`ErpFeatureUnavailableError` naming the CSV fallback, and
``test_connection`` says so up front. Orders carry the shop's order number in ``DOC_NUMBER`` and are looked up
by it before every create; the POST is sent once, and a lost answer is settled by looking again. Shipments
are the sales dispatches whose lines point at an order (``ORDER_REFERENCE``), with ``TRACK_NR``. Tokens live
about two minutes; the client renews them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import ClassVar

from connector_pipelines.clients.logo import (
    LogoArpInput,
    LogoClient,
    LogoRejectedError,
    LogoSalesOrder,
    LogoSalesOrderInput,
    LogoSqlUnavailableError,
)
from connector_pipelines.clients.logo_models import LogoOrderLineInput
from connector_pipelines.sources.erp_gateway.base import (
    DispatchNote,
    MappedConnector,
    OrderDesk,
    http_options,
    number_code,
    raw_row,
)
from connector_pipelines.sources.erp_gateway.connector import (
    CSV_FALLBACK,
    CustomerInput,
    ErpFeatureUnavailableError,
    ErpOrderRef,
    ErpOrderRejectedError,
    ErpRowError,
    OrderInput,
    customer_code,
)
from connector_pipelines.sources.erp_gateway.fields import RawRow
from connector_pipelines.tenants.systems import ErpFieldMapping, LogoCredentials, LogoSettings

__all__ = ["LogoConnector", "default_mapping", "open_logo"]

SYSTEM = "logo"
# Logo's currency numbers (UNVERIFIED beyond TL: 0 and 160 both appear for the local currency).
CURRENCIES = {1: "USD", 17: "GBP", 20: "EUR"}
_LOCAL = (0, 160)

log = logging.getLogger(__name__)


def default_mapping(local_currency: str) -> ErpFieldMapping:
    """Logo's own field names: item cards, and the columns of the stock and price queries."""
    currencies = {str(n): local_currency for n in _LOCAL} | {str(n): c for n, c in CURRENCIES.items()}
    return ErpFieldMapping.model_validate(
        {
            "items": {
                "sku": {"source": "CODE", "transforms": ["trim"]},
                "name": "NAME",
                "vat_rate": "VAT",
                "barcode": "EAN_BARCODE",
                "unit": "UNITS[0].UNIT_CODE",
                "active": {
                    "source": "RECORD_STATUS",
                    "transforms": [{"default": "0"}, {"map": {"0": "true", "1": "false"}}],
                },
            },
            "stock": {
                "sku": {"source": "CODE", "transforms": ["trim"]},
                "on_hand": "ONHAND",
                "reserved": "RESERVED",
            },
            "prices": {
                "sku": {"source": "CODE", "transforms": ["trim"]},
                "price": "PRICE",
                "currency": {"source": "CURRENCY", "transforms": [{"default": "0"}, {"map": currencies}]},
                "includes_vat": {"source": "INCVAT", "transforms": [{"default": "false"}]},
                "valid_from": "BEGDATE",
                "valid_to": "ENDDATE",
            },
        }
    )


class LogoConnector(OrderDesk, MappedConnector):
    """The ERP connector of one Logo firm. ``customer_prefix`` starts every account code the gateway creates
    (``120.`` is the customer range of the Turkish chart of accounts); ``order_status`` is Logo's status of a
    new web order (1 proposal, 4 shippable: UNVERIFIED which a merchant wants)."""

    system = SYSTEM
    rejected: ClassVar[tuple[type[Exception], ...]] = (LogoRejectedError,)

    def __init__(
        self,
        client: LogoClient,
        *,
        mapping: ErpFieldMapping | None = None,
        customer_prefix: str = "120.W",
        order_status: int = 1,
        local_currency: str = "TRY",
        default_warehouse: int | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        customer_code("probe", customer_prefix)  # fails early on a prefix that leaves no room
        super().__init__(default_mapping(local_currency), mapping, today=today)
        self.client = client
        self.customer_prefix = customer_prefix
        self.order_status = order_status
        self.local_currency = local_currency
        self.default_warehouse = default_warehouse

    def close(self) -> None:
        self.client.close()

    def test_connection(self) -> str:
        firm, period = self.client.current_firm(), self.client.active_period()
        head = f"Logo firm {firm}, period {period}: connected"
        if self.client.sql_available():
            return f"{head}; SQL query route on: stock and prices can be read"
        return (
            f"{head}; SQL query route OFF: stock and prices cannot be read over Logo REST; "
            f"{CSV_FALLBACK}, or switch on 'SQL servis sorgu parametreleri' in the Logo REST settings"
        )

    # --- reads ---------------------------------------------------------------------------------------------

    def item_rows(self) -> Iterator[RawRow | ErpRowError]:
        for item in self.client.items():
            yield raw_row(f"Logo items ref {item.internal_reference}", item, item.modified_at)

    def stock_rows(self, warehouse_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        """On hand per SKU; ``since``: items with stock movements on or after that day."""
        warehouse = number_code(warehouse_code, "warehouse code (Logo INVENNO)")
        changed = since.date() if since is not None else None
        try:
            for row in self.client.stock_levels(warehouse, changed_since=changed):
                yield raw_row(f"Logo stock STOCKREF {row.stockref}", row)
        except LogoSqlUnavailableError as exc:
            raise ErpFeatureUnavailableError(SYSTEM, "stock per warehouse", _sql_off(exc)) from exc

    def price_rows(self, price_list_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        """Price rows of one trading group; ``since``: rows modified on or after that day."""
        changed = since.date() if since is not None else None
        try:
            for row in self.client.price_rows(price_list_code, changed_since=changed):
                yield raw_row(f"Logo PRCLIST ref {row.ref}", row)
        except LogoSqlUnavailableError as exc:
            raise ErpFeatureUnavailableError(SYSTEM, "prices", _sql_off(exc)) from exc

    # --- orders --------------------------------------------------------------------------------------------

    def customer_exists(self, code: str) -> bool:
        return self.client.find_arp(code) is not None

    def create_customer(self, code: str, customer: CustomerInput) -> None:
        self.client.create_arp(
            LogoArpInput(
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
        )

    def find_order(self, shop_order_number: str) -> ErpOrderRef | None:
        found = self.client.find_sales_orders(shop_order_number)
        if not found:
            return None
        if len(found) > 1:
            log.warning("logo: %d sales orders carry DOC_NUMBER %r", len(found), shop_order_number)
        first = min(found, key=lambda o: o.internal_reference)
        return _ref(shop_order_number, first, created=False)

    def post_order(self, order: OrderInput) -> ErpOrderRef:
        number = order.shop_order_number
        warehouse = (
            number_code(order.warehouse_code, "warehouse code")
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
        return _ref(number, saved, created=True)

    def dispatches(self, since: datetime) -> Iterator[DispatchNote]:
        for dispatch in self.client.sales_dispatches(modified_since=since.date()):
            refs = sorted({line.order_reference for line in dispatch.transactions if line.order_reference})
            yield DispatchNote(
                number=dispatch.number,
                shipped_at=dispatch.date,
                tracking_number=dispatch.track_nr or None,
                carrier=dispatch.shipping_agent or None,
                order_refs=tuple(str(ref) for ref in refs),
            )

    def shop_order_of(self, order_ref: str) -> tuple[str, str] | None:
        order = self.client.get_sales_order(int(order_ref))
        if order is None or not order.doc_number:
            return None
        return order.doc_number, order.number


def open_logo(
    settings: LogoSettings, credentials: LogoCredentials | None, cap_s: float | None
) -> LogoConnector:
    """The connector of a tenant's Logo firm, with its own client (closed with the connector)."""
    assert credentials is not None  # Logo's credentials are not optional: the registry always passes them
    client = LogoClient(
        settings.base_url,
        credentials.username,
        credentials.password,
        firm=settings.firm,
        period=settings.period,
        client_id=settings.client_id,
        client_secret=credentials.client_secret,
        send_client_basic=settings.send_client_basic,
        api_path=settings.api_path,
        page_size=settings.page_size,
        sql_page_size=settings.sql_page_size,
        requests_per_second=settings.requests_per_second,
        **http_options(settings.tls, cap_s),
    )
    return LogoConnector(
        client,
        mapping=settings.mapping,
        customer_prefix=settings.customer_prefix,
        order_status=settings.order_status,
        local_currency=settings.local_currency,
        default_warehouse=settings.default_warehouse,
    )


def _ref(shop_order_number: str, order: LogoSalesOrder, *, created: bool) -> ErpOrderRef:
    return ErpOrderRef(
        shop_order_number=shop_order_number,
        erp_id=str(order.internal_reference),
        document_number=order.number,
        created=created,
    )


def _packed_time(moment: datetime) -> int:
    """Logo's TIME: ``h*16777216 + m*65536 + s*256``."""
    return moment.hour * 16777216 + moment.minute * 65536 + moment.second * 256


def _sql_off(exc: LogoSqlUnavailableError) -> str:
    return f"the Logo REST SQL query route is switched off or refused ({exc.detail})"
