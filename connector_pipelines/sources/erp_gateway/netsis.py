"""The Netsis connector (NetOpenX REST through :class:`NetsisClient`).

Items come from ``Items``; stock per warehouse (``DEPO_KODU``) from ``TBLSTOKPH`` and prices per price group
(``TBLSTOKFIAT.FIYATGRUBU``) through the SQL route. Orders are ftSSip item slips whose 15-character number is
derived from the shop's order number (``prefix`` + the number, or a digest of it), which also goes to
``EKACK1``: the slip is looked up by that number before every create, and Netsis refuses a repeated number,
so a second POST of the same order is recognised as "already there". Shipments are dispatch notes (ftSIrs)
whose lines name the order (``STra_SIPNUM``); the tracking number is in a header field (``EKACK2`` by
default: UNVERIFIED where a merchant keeps it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime

from connector_pipelines import errors
from connector_pipelines.clients.netsis import (
    NetsisArpInput,
    NetsisBusinessError,
    NetsisClient,
    NetsisDuplicateDocumentError,
    NetsisSlip,
    NetsisSlipInput,
)
from connector_pipelines.clients.netsis_models import NetsisSlipLineInput
from connector_pipelines.sources.erp_gateway.connector import (
    CustomerInput,
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

__all__ = ["NetsisConnector", "document_number"]

SYSTEM = "netsis"
SALES_ORDER = 7  # ftSSip
SALES_DISPATCH = 2  # ftSIrs
DOC_LENGTH = 15
# FIYATDOVIZTIPI / DOVIZTIP: 0 is the local currency (UNVERIFIED beyond that; Netsis' currency table varies).
CURRENCIES = {1: "USD", 2: "EUR"}


def document_number(shop_order_number: str, prefix: str) -> str:
    """The 15-character FATIRS_NO of a shop order: ``prefix`` and the order number (letters and digits)
    padded with zeros, or a digest of it when it does not fit. The same order always gets the same number."""
    room = DOC_LENGTH - len(prefix)
    if room < 8:
        raise ValueError("the document prefix leaves too little room (at most 7 characters)")
    plain = re.sub(r"[^0-9A-Za-z]", "", shop_order_number).upper()
    if not plain or len(plain) > room:
        plain = hashlib.sha256(shop_order_number.encode()).hexdigest()[:room].upper()
    return prefix + plain.rjust(room, "0")


class NetsisConnector:
    """The ERP connector of one Netsis company. ``document_prefix`` starts every order number the gateway
    creates (agree it with accounting); ``tipi`` is the header's TIPI (UNVERIFIED: 2 or 7)."""

    system = SYSTEM

    def __init__(
        self,
        client: NetsisClient,
        *,
        customer_prefix: str = "120.W",
        document_prefix: str = "WEB",
        default_warehouse: int | None = None,
        prices_include_vat: bool = True,
        local_currency: str = "TRY",
        tipi: int = 2,
        shop_number_field: str = "EKACK1",
        tracking_field: str = "EKACK2",
        carrier_field: str = "EKACK3",
        today: Callable[[], date] = date.today,
    ) -> None:
        customer_code("probe", customer_prefix)
        document_number("probe", document_prefix)
        self.client = client
        self.customer_prefix = customer_prefix
        self.document_prefix = document_prefix
        self.default_warehouse = default_warehouse
        self.prices_include_vat = prices_include_vat
        self.local_currency = local_currency
        self.tipi = tipi
        self.shop_number_field = shop_number_field
        self.tracking_field = tracking_field
        self.carrier_field = carrier_field
        self.today = today

    def test_connection(self) -> str:
        version = self.client.version()
        self.client.query("SELECT TOP 1 STOK_KODU FROM TBLSTSABIT")  # logs in (takes the seat) and reads
        return f"Netsis NetOpenX {version}: connected; login, items and the SQL route work"

    def items(self) -> Iterator[ErpItem]:
        for item in self.client.items():
            yield ErpItem(
                sku=item.code,
                name=item.name,
                vat_rate=item.vat_rate,
                barcode=item.barcode or None,
                unit=item.unit or None,
                active=(item.locked or "H") != "E",
                modified_at=item.modified,
            )

    def stock(self, warehouse_code: str, since: datetime | None = None) -> Iterator[StockLevel]:
        """Balance per SKU. TBLSTOKPH has no change date, so ``since`` cannot filter: every read is whole."""
        warehouse = _number(warehouse_code)
        for row in self.client.stock_balances(warehouse):
            yield StockLevel(sku=row.code, warehouse_code=warehouse_code, on_hand=row.balance)

    def prices(self, price_list_code: str, since: datetime | None = None) -> Iterator[PriceEntry]:
        changed = since.date() if since is not None else None
        rows = [
            PriceEntry(
                sku=row.code,
                price_list_code=price_list_code,
                price=row.price,
                currency=self.local_currency
                if row.currency_type == 0
                else CURRENCIES.get(row.currency_type, f"NETSIS{row.currency_type}"),
                includes_vat=self.prices_include_vat,
                valid_from=row.valid_from.date() if row.valid_from else None,
                valid_to=row.valid_to.date() if row.valid_to else None,
            )
            for row in self.client.price_rows(price_list_code, changed_since=changed)
        ]
        yield from current_prices(rows, self.today())

    def find_or_create_customer(self, customer: CustomerInput) -> str:
        code = customer_code(customer.key, self.customer_prefix)
        if self.client.find_arp(code) is not None:
            return code
        address = " ".join(p for p in (customer.address_line1, customer.address_line2) if p)
        arp = NetsisArpInput(
            code=code,
            name=(customer.company or customer.name)[:100],
            tax_number=customer.tax_id or "",
            tax_office=customer.tax_office or "",
            city=customer.city or "",
            district=customer.district or "",
            phone=customer.phone or "",
            address=address[:200],
            postal_code=customer.postal_code or "",
            country_code=customer.country_code or "",
        )
        try:
            self.client.create_arp(arp)
        except NetsisBusinessError:
            if self.client.find_arp(code) is not None:  # created meanwhile by a concurrent run
                return code
            raise
        return code

    def find_order(self, shop_order_number: str) -> ErpOrderRef | None:
        number = document_number(shop_order_number, self.document_prefix)
        slip = self.client.get_item_slip(SALES_ORDER, number)
        if slip is None:
            return None
        stored = slip.header.field(self.shop_number_field)
        if stored and stored != shop_order_number:
            raise ErpOrderRejectedError(
                SYSTEM,
                shop_order_number,
                f"document {number} belongs to shop order {stored!r} (number clash)",
            )
        return ErpOrderRef(shop_order_number=shop_order_number, erp_id=number, document_number=number)

    def create_order(self, order: OrderInput) -> ErpOrderRef:
        shop_number = order.shop_order_number
        existing = self.find_order(shop_number)
        if existing is not None:
            return existing
        if order.currency.upper() != self.local_currency:
            raise ErpOrderRejectedError(
                SYSTEM,
                shop_number,
                f"currency {order.currency} (the connector posts {self.local_currency} orders)",
            )
        warehouse = _number(order.warehouse_code) if order.warehouse_code else self.default_warehouse
        if warehouse is None:
            raise ErpOrderRejectedError(SYSTEM, shop_number, "no warehouse: set the order's or a default one")
        number = document_number(shop_number, self.document_prefix)
        slip = NetsisSlipInput(
            doc_type=SALES_ORDER,
            number=number,
            customer_code=order.customer_code,
            date=order.ordered_at,
            vat_included=order.prices_include_vat,
            tipi=self.tipi,
            note=order.note[:100],
            extra={self.shop_number_field: shop_number[:50]},
            lines=[
                NetsisSlipLineInput(
                    stock_code=line.sku,
                    quantity=line.quantity,
                    net_price=line.unit_price,
                    gross_price=line.unit_price,  # no discounts: gross (before) and net (after) agree
                    vat_rate=line.vat_rate,
                    warehouse=warehouse,
                )
                for line in order.lines
            ],
        )
        created = ErpOrderRef(
            shop_order_number=shop_number, erp_id=number, document_number=number, created=True
        )
        try:
            self.client.create_item_slip(slip)
        except NetsisDuplicateDocumentError:
            # Saved by an earlier attempt whose answer was lost (or by a retried POST of this one).
            return created.model_copy(update={"created": False})
        except NetsisBusinessError as exc:
            raise ErpOrderRejectedError(SYSTEM, shop_number, f"[{exc.code}] {exc.desc}") from exc
        except errors.TransientError:
            if self.find_order(shop_number) is None:
                raise
        return created

    def shipped_orders(self, since: datetime) -> Iterator[Shipment]:
        """Dispatch notes recorded on or after ``since``'s day, one shipment per order they ship."""
        orders: dict[str, NetsisSlip | None] = {}
        for dispatch in self.client.item_slips(SALES_DISPATCH, q=f"KAYITTARIHI >= '{since:%Y-%m-%d}'"):
            for number in sorted({line.order_number for line in dispatch.lines if line.order_number}):
                if number not in orders:
                    orders[number] = self.client.get_item_slip(SALES_ORDER, number)
                order = orders[number]
                shop_number = order.header.field(self.shop_number_field) if order is not None else ""
                if not shop_number:
                    continue  # not an order of the gateway
                yield Shipment(
                    shop_order_number=shop_number,
                    erp_order_number=number,
                    dispatch_number=dispatch.header.number,
                    tracking_number=dispatch.header.field(self.tracking_field) or None,
                    carrier=dispatch.header.field(self.carrier_field) or None,
                    shipped_at=dispatch.header.date,
                )


def _number(code: str) -> int:
    try:
        return int(code.strip())
    except ValueError:
        raise ValueError(f"a Netsis warehouse code (DEPO_KODU) is a number, not {code!r}") from None
