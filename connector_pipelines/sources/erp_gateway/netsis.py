"""The Netsis connector (NetOpenX REST through :class:`NetsisClient`).

Items come from ``Items``; stock per warehouse (``DEPO_KODU``) from ``TBLSTOKPH`` and prices per price group
(``TBLSTOKFIAT.FIYATGRUBU``) through the SQL route. Orders are ftSSip item slips whose 15-character number is
derived from the shop's order number (``prefix`` + the number, or a digest of it), which also goes to
``EKACK1``: the slip is looked up by that number before every create, and Netsis refuses a repeated number,
so a second POST of the same order is recognised as "already there". Shipments are dispatch notes (ftSIrs)
whose lines name the order (``STra_SIPNUM``); the tracking number is in a header field (``EKACK2`` by
default: UNVERIFIED where a merchant keeps it).

A Netsis login holds a licence seat and a second login of the same user is refused: every connector of a
tenant in a process shares one session (the client's), and the last one closed revokes the token.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import ClassVar

from connector_pipelines.clients.netsis import (
    NetsisArpInput,
    NetsisBusinessError,
    NetsisClient,
    NetsisDuplicateDocumentError,
    NetsisSlipInput,
)
from connector_pipelines.clients.netsis_models import NetsisSlipLineInput
from connector_pipelines.sources.erp_gateway.base import (
    DispatchNote,
    MappedConnector,
    OrderDesk,
    http_options,
    number_code,
    raw_row,
)
from connector_pipelines.sources.erp_gateway.connector import (
    CustomerInput,
    ErpOrderRef,
    ErpOrderRejectedError,
    ErpRowError,
    OrderInput,
    customer_code,
)
from connector_pipelines.sources.erp_gateway.fields import RawRow
from connector_pipelines.tenants.systems import ErpFieldMapping, NetsisCredentials, NetsisSettings

__all__ = ["NetsisConnector", "default_mapping", "document_number", "open_netsis"]

SYSTEM = "netsis"
SALES_ORDER = 7  # ftSSip
SALES_DISPATCH = 2  # ftSIrs
DOC_LENGTH = 15
# FIYATDOVIZTIPI / DOVIZTIP: 0 is the local currency (UNVERIFIED beyond that; Netsis' currency table varies).
CURRENCIES = {1: "USD", 2: "EUR"}
WAREHOUSE = "warehouse code (Netsis DEPO_KODU)"


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


def default_mapping(local_currency: str, prices_include_vat: bool) -> ErpFieldMapping:
    """Netsis' own field names: stock cards (``StokTemelBilgi`` flattened), TBLSTOKPH and TBLSTOKFIAT."""
    currencies = {"0": local_currency} | {str(n): c for n, c in CURRENCIES.items()}
    code = {"transforms": ["trim"]}  # codes can carry stray blanks and TABs
    return ErpFieldMapping.model_validate(
        {
            "items": {
                "sku": {"source": "Stok_Kodu", **code},
                "name": "Stok_Adi",
                "vat_rate": "KDV_Orani",
                "barcode": "Barkod1",
                "unit": "Olcu_Br1",
                "active": {
                    "source": "Kilit",
                    "transforms": ["trim", "upper", {"default": "H"}, {"map": {"E": "false", "H": "true"}}],
                },
            },
            "stock": {"sku": {"source": "STOK_KODU", **code}, "on_hand": "BAKIYE"},
            "prices": {
                "sku": {"source": "STOKKODU", **code},
                "price": "FIYAT1",
                "currency": {
                    "source": "FIYATDOVIZTIPI",
                    "transforms": [{"default": "0"}, {"map": currencies}],
                },
                "includes_vat": {"transforms": [{"default": str(prices_include_vat).lower()}]},
                "valid_from": "BASTAR",
                "valid_to": "BITTAR",
            },
        }
    )


class NetsisConnector(OrderDesk, MappedConnector):
    """The ERP connector of one Netsis company. ``document_prefix`` starts every order number the gateway
    creates (agree it with accounting); ``tipi`` is the header's TIPI (UNVERIFIED: 2 or 7)."""

    system = SYSTEM
    rejected: ClassVar[tuple[type[Exception], ...]] = (NetsisBusinessError,)

    def __init__(
        self,
        client: NetsisClient,
        *,
        mapping: ErpFieldMapping | None = None,
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
        super().__init__(default_mapping(local_currency, prices_include_vat), mapping, today=today)
        self.client = client
        self.customer_prefix = customer_prefix
        self.document_prefix = document_prefix
        self.default_warehouse = default_warehouse
        self.local_currency = local_currency
        self.tipi = tipi
        self.shop_number_field = shop_number_field
        self.tracking_field = tracking_field
        self.carrier_field = carrier_field

    def close(self) -> None:
        """Leave the tenant's shared session; the last connector to leave frees the licence seat."""
        self.client.close()

    def test_connection(self) -> str:
        version = self.client.version()
        self.client.query("SELECT TOP 1 STOK_KODU FROM TBLSTSABIT")  # logs in (takes the seat) and reads
        return f"Netsis NetOpenX {version}: connected; login, items and the SQL route work"

    # --- reads ---------------------------------------------------------------------------------------------

    def item_rows(self) -> Iterator[RawRow | ErpRowError]:
        for item in self.client.items():
            yield raw_row(f"Netsis Items {item.code!r}", item, item.modified)

    def stock_rows(self, warehouse_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        """Balance per SKU. TBLSTOKPH has no change date, so ``since`` cannot filter: every read is whole."""
        warehouse = number_code(warehouse_code, WAREHOUSE)
        for row in self.client.stock_balances(warehouse):
            yield raw_row(f"Netsis TBLSTOKPH {row.code!r}", row)

    def price_rows(self, price_list_code: str, since: datetime | None) -> Iterator[RawRow | ErpRowError]:
        changed = since.date() if since is not None else None
        for row in self.client.price_rows(price_list_code, changed_since=changed):
            yield raw_row(f"Netsis TBLSTOKFIAT {row.code!r}", row)

    # --- orders --------------------------------------------------------------------------------------------

    def customer_exists(self, code: str) -> bool:
        return self.client.find_arp(code) is not None

    def create_customer(self, code: str, customer: CustomerInput) -> None:
        address = " ".join(p for p in (customer.address_line1, customer.address_line2) if p)
        self.client.create_arp(
            NetsisArpInput(
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
        )

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

    def post_order(self, order: OrderInput) -> ErpOrderRef:
        shop_number = order.shop_order_number
        warehouse = (
            number_code(order.warehouse_code, WAREHOUSE) if order.warehouse_code else self.default_warehouse
        )
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
        return created

    def dispatches(self, since: datetime) -> Iterator[DispatchNote]:
        for dispatch in self.client.item_slips(SALES_DISPATCH, q=f"KAYITTARIHI >= '{since:%Y-%m-%d}'"):
            header = dispatch.header
            yield DispatchNote(
                number=header.number,
                shipped_at=header.date,
                tracking_number=header.field(self.tracking_field) or None,
                carrier=header.field(self.carrier_field) or None,
                order_refs=tuple(sorted({line.order_number for line in dispatch.lines if line.order_number})),
            )

    def shop_order_of(self, order_ref: str) -> tuple[str, str] | None:
        order = self.client.get_item_slip(SALES_ORDER, order_ref)
        shop_number = order.header.field(self.shop_number_field) if order is not None else ""
        return (shop_number, order_ref) if shop_number else None


def open_netsis(
    settings: NetsisSettings, credentials: NetsisCredentials | None, cap_s: float | None
) -> NetsisConnector:
    """The connector of a tenant's Netsis company. Its client joins the tenant's session in this process
    (one login, one licence seat) and leaves it when the connector closes."""
    assert credentials is not None  # Netsis' credentials are not optional: the registry always passes them
    client = NetsisClient(
        settings.base_url,
        credentials.username,
        credentials.password,
        dbname=settings.dbname,
        dbuser=settings.dbuser,
        dbpassword=credentials.dbpassword,
        branch_code=settings.branch_code,
        dbtype=settings.dbtype,
        api_path=settings.api_path,
        page_size=settings.page_size,
        sql_page_size=settings.sql_page_size,
        requests_per_second=settings.requests_per_second,
        **http_options(settings.tls, cap_s),
    )
    return NetsisConnector(
        client,
        mapping=settings.mapping,
        customer_prefix=settings.customer_prefix,
        document_prefix=settings.document_prefix,
        default_warehouse=settings.default_warehouse,
        prices_include_vat=settings.prices_include_vat,
        local_currency=settings.local_currency,
        tipi=settings.tipi,
        shop_number_field=settings.shop_number_field,
        tracking_field=settings.tracking_field,
        carrier_field=settings.carrier_field,
    )
