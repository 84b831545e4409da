"""The ERP connectors (Logo, Netsis) behind one interface, against their emulators: test connection, items,
stock and prices (deltas where the ERP can filter), customers found or created, orders created exactly once
(looked up first; a lost answer; a run killed after the ERP accepted; a repeated document number), refused
orders, shipments back, Logo without its SQL route, 429 storms."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from connector_pipelines import errors
from connector_pipelines.clients.http import RetrySettings
from connector_pipelines.clients.logo import LogoClient
from connector_pipelines.clients.netsis import NetsisClient, NetsisSlipInput
from connector_pipelines.clients.netsis_models import NetsisSlipLineInput
from connector_pipelines.sandbox.logo import LogoEmulator, LogoSettings
from connector_pipelines.sandbox.netsis import NetsisEmulator, NetsisSettings
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig
from connector_pipelines.sources.erp_gateway.connector import (
    Capability,
    CustomerInput,
    ErpConnector,
    ErpFeatureUnavailableError,
    ErpItem,
    ErpOrderRejectedError,
    ErpRowError,
    OrderInput,
    OrderLine,
    PriceEntry,
    StockLevel,
    current_prices,
    customer_code,
)
from connector_pipelines.sources.erp_gateway.logo import LogoConnector
from connector_pipelines.sources.erp_gateway.netsis import NetsisConnector, document_number

R = TypeVar("R", ErpItem, StockLevel, PriceEntry)

START = 1_785_000_000.0  # 2026-07-25 17:20 UTC
TODAY = date(2026, 7, 25)
DAY = 86400.0


class FakeClock:
    """Epoch seconds for the emulator, seconds from zero for the client; kept as the small number."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return START + self.elapsed

    def monotonic(self) -> float:
        with self._lock:
            return self.elapsed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.elapsed += seconds


class LosingTransport(httpx.HTTPTransport):
    """Delivers the first POST to ``path`` and then loses its answer, as a dropped connection does after the
    server has saved the order."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.lost = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path == self.path and not self.lost:
            self.lost = True
            response.read()
            response.close()
            raise httpx.ReadError("connection lost", request=request)
        return response


@dataclass
class Erp:
    name: str
    emulator: LogoEmulator | NetsisEmulator
    server: EmulatorServer
    clock: FakeClock
    connector: LogoConnector | NetsisConnector
    warehouse: str
    price_list: str
    order_route: str

    def orders_posted(self) -> int:
        return self.emulator.stats().calls.get(self.order_route, 0)

    def stored_orders(self) -> int:
        return len(self.emulator.orders())


Factory = Callable[..., Erp]


@pytest.fixture
def make() -> Iterator[Factory]:
    with contextlib.ExitStack() as stack:

        def factory(
            name: str,
            settings: LogoSettings | NetsisSettings | None = None,
            *,
            transport: httpx.BaseTransport | None = None,
            items: int = 30,
        ) -> Erp:
            clock = FakeClock()
            options: dict[str, Any] = {
                "clock": clock.monotonic,
                "sleep": clock.sleep,
                "retry": RetrySettings(base_delay_s=0.01),
                "transport": transport,
            }
            if name == "logo":
                assert settings is None or isinstance(settings, LogoSettings)
                logo = LogoEmulator(settings, items=items)
                logo.clock = clock
                server = stack.enter_context(logo.serve())
                s = logo.settings
                logo_client = LogoClient(
                    server.base_url,
                    s.username,
                    s.password,
                    firm=s.firm,
                    client_secret=s.client_secret,
                    **options,
                )
                stack.callback(logo_client.close)
                connector: LogoConnector | NetsisConnector = LogoConnector(logo_client, today=lambda: TODAY)
                return Erp(name, logo, server, clock, connector, "1", "WEB", "POST /api/v1/salesOrders")
            assert settings is None or isinstance(settings, NetsisSettings)
            netsis = NetsisEmulator(settings, items=items)
            netsis.clock = clock
            server = stack.enter_context(netsis.serve())
            n = netsis.settings
            netsis_client = NetsisClient(
                server.base_url, n.username, n.password, dbname=n.dbname, dbpassword=n.dbpassword, **options
            )
            stack.callback(netsis_client.close)
            connector = NetsisConnector(netsis_client, default_warehouse=10, today=lambda: TODAY)
            return Erp(name, netsis, server, clock, connector, "10", "WEB", "POST /api/v2/ItemSlips")

        yield factory


ERPS = ["logo", "netsis"]


def records(found: Iterable[R | ErpRowError], model: type[R]) -> list[R]:
    """The records of a read that must have no row error."""
    rows = list(found)
    assert [r for r in rows if isinstance(r, ErpRowError)] == []
    return [r for r in rows if isinstance(r, model)]


def sku_of(erp: Erp, index: int = 2) -> str:
    return erp.emulator.skus()[index]


def order_for(erp: Erp, number: str = "#1001", **changes: Any) -> OrderInput:
    customer = erp.connector.find_or_create_customer(CustomerInput(key="cust-42", name="Ayşe Kaya"))
    values: dict[str, Any] = {
        "shop_order_number": number,
        "customer_code": customer,
        "ordered_at": datetime(2026, 7, 25, 14, 5, tzinfo=UTC),
        "lines": (
            OrderLine(
                sku=sku_of(erp), quantity=Decimal(2), unit_price=Decimal("59.90"), vat_rate=Decimal(20)
            ),
        ),
        "warehouse_code": erp.warehouse,
    }
    values.update(changes)
    return OrderInput(**values)


# -- the interface -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ERPS)
def test_both_connectors_satisfy_the_interface(make: Factory, name: str) -> None:
    connector: ErpConnector = make(name).connector
    assert connector.system == name
    assert connector.capabilities == frozenset(Capability) and connector.lacks(Capability.ORDERS) is None
    assert connector.orders is not None


@pytest.mark.parametrize("name", ERPS)
def test_connection_items_stock_and_prices(make: Factory, name: str) -> None:
    erp = make(name)
    connector = erp.connector
    assert "connected" in connector.test_connection()
    items = records(connector.items(), ErpItem)
    assert sorted(i.sku for i in items) == erp.emulator.skus()
    assert all(i.vat_rate in (1, 10, 20) for i in items)
    stock = records(connector.stock(erp.warehouse), StockLevel)
    assert {s.sku: s.on_hand for s in stock} == erp.emulator.stock_levels(erp.warehouse)
    assert {s.warehouse_code for s in stock} == {erp.warehouse}
    prices = records(connector.prices(erp.price_list), PriceEntry)
    assert {p.sku: p.price for p in prices} == erp.emulator.price_levels(erp.price_list)
    assert {(p.currency, p.includes_vat, p.price_list_code) for p in prices} == {("TRY", True, "WEB")}


def test_logo_deltas_filter_by_day(make: Factory) -> None:
    erp = make("logo")
    erp.clock.sleep(2 * DAY)
    moved = set(erp.emulator.change_stock(0.2, seed=1))
    repriced = set(erp.emulator.change_prices(0.2, seed=2, price_list="WEB"))
    since = datetime(2026, 7, 27, 0, 0)
    stock = {s.sku for s in erp.connector.stock("1", since=since)}
    assert stock and stock <= moved
    assert {p.sku for p in erp.connector.prices("WEB", since=since)} == repriced
    assert list(erp.connector.prices("WEB", since=datetime(2026, 7, 28))) == []


def test_netsis_stock_reads_are_whole_and_price_deltas_filter(make: Factory) -> None:
    erp = make("netsis")
    erp.clock.sleep(2 * DAY)
    repriced = set(erp.emulator.change_prices(0.2, seed=2, price_list="WEB"))
    since = datetime(2026, 7, 27)
    assert len(list(erp.connector.stock("10", since=since))) == 30  # TBLSTOKPH has no change date
    assert {p.sku for p in erp.connector.prices("WEB", since=since)} == repriced


def test_logo_without_sql_says_so_and_names_the_csv_fallback(make: Factory) -> None:
    erp = make("logo", LogoSettings(sql_enabled=False))
    report = erp.connector.test_connection()
    assert "SQL query route OFF" in report and "CSV" in report
    for read in (lambda: list(erp.connector.stock("1")), lambda: list(erp.connector.prices("WEB"))):
        with pytest.raises(ErpFeatureUnavailableError) as caught:
            read()
        error = caught.value
        assert isinstance(error, errors.PermanentError) and error.system == "logo"
        assert "switched off" in str(error) and "CSV" in str(error)
    # Items and orders do not need SQL.
    assert len(list(erp.connector.items())) == 30
    assert erp.connector.create_order(order_for(erp)).created is True


# -- customers and orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ERPS)
def test_customers_are_found_or_created_once(make: Factory, name: str) -> None:
    erp = make(name)
    customer = CustomerInput(key="shop-customer-7", name="Ali Veli", email="ali@example.com", city="İzmir")
    code = erp.connector.find_or_create_customer(customer)
    assert code == customer_code("shop-customer-7", "120.W") and len(code) == 15
    assert erp.connector.find_or_create_customer(customer) == code
    assert erp.emulator.stats().customers_created == 1


@pytest.mark.parametrize("name", ERPS)
def test_orders_are_created_once_and_found_after_a_kill(make: Factory, name: str) -> None:
    erp = make(name)
    order = order_for(erp)
    assert erp.connector.find_order("#1001") is None
    created = erp.connector.create_order(order)
    assert created.created is True and created.shop_order_number == "#1001"
    again = erp.connector.create_order(order)
    assert again.created is False and again.erp_id == created.erp_id
    assert again.document_number == created.document_number
    # A run killed after the ERP accepted the order: the next run's connector finds it.
    if isinstance(erp.connector, LogoConnector):
        fresh: LogoConnector | NetsisConnector = LogoConnector(erp.connector.client, today=lambda: TODAY)
    else:
        fresh = NetsisConnector(erp.connector.client, default_warehouse=10, today=lambda: TODAY)
    assert fresh.create_order(order).erp_id == created.erp_id
    assert erp.orders_posted() == 1 and erp.stored_orders() == 1


@pytest.mark.parametrize("name", ERPS)
def test_a_lost_answer_creates_no_duplicate(make: Factory, name: str) -> None:
    path = "/api/v1/salesOrders" if name == "logo" else "/api/v2/ItemSlips"
    transport = LosingTransport(path)
    erp = make(name, transport=transport)
    ref = erp.connector.create_order(order_for(erp))
    assert transport.lost and erp.stored_orders() == 1
    if name == "logo":
        # The POST is never repeated: the lookup after the lost answer finds the order.
        assert erp.orders_posted() == 1 and ref.created is True
    else:
        # The client repeats the POST; Netsis refuses the repeated number, which means "already there".
        assert isinstance(erp.emulator, NetsisEmulator)
        assert erp.orders_posted() == 2 and erp.emulator.stats().duplicates_rejected == 1
    assert erp.connector.find_order("#1001") == ref.model_copy(update={"created": False})


def test_netsis_finds_an_order_by_its_document_number(make: Factory) -> None:
    erp = make("netsis")
    assert isinstance(erp.connector, NetsisConnector)
    client = erp.connector.client
    number = document_number("#2001", "WEB")
    assert number == "WEB000000002001"
    line = NetsisSlipLineInput(
        stock_code=sku_of(erp),
        quantity=Decimal(1),
        net_price=Decimal(1),
        gross_price=Decimal(1),
        vat_rate=Decimal(20),
        warehouse=10,
    )
    slip = NetsisSlipInput(
        number=number, customer_code="120.01.001", date=datetime(2026, 7, 25), vat_included=True, lines=[line]
    )
    client.create_item_slip(slip.model_copy(update={"extra": {"EKACK1": "#2001"}}))
    ref = erp.connector.create_order(order_for(erp, "#2001"))
    assert ref.created is False and ref.erp_id == number and erp.orders_posted() == 1
    client.create_item_slip(slip.model_copy(update={"number": "WEB000000002002", "extra": {"EKACK1": "#X"}}))
    with pytest.raises(ErpOrderRejectedError, match="number clash"):
        erp.connector.create_order(order_for(erp, "#2002"))


@pytest.mark.parametrize("name", ERPS)
def test_a_refused_order_is_a_record_error_naming_it(make: Factory, name: str) -> None:
    erp = make(name)
    bad = order_for(
        erp,
        "#3001",
        lines=(OrderLine(sku="NO-SUCH", quantity=Decimal(1), unit_price=Decimal(1), vat_rate=Decimal(20)),),
    )
    with pytest.raises(ErpOrderRejectedError) as caught:
        erp.connector.create_order(bad)
    error = caught.value
    assert isinstance(error, errors.PermanentError) and error.shop_order_number == "#3001"
    assert f"order '#3001' refused by {name}" in str(error) and "NO-SUCH" in str(error)
    with pytest.raises(ErpOrderRejectedError, match="currency EUR"):
        erp.connector.create_order(order_for(erp, "#3002", currency="EUR"))
    assert erp.stored_orders() == 0


# -- shipments -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ERPS)
def test_shipped_orders_come_back_with_tracking(make: Factory, name: str) -> None:
    erp = make(name)
    created = erp.connector.create_order(order_for(erp))
    erp.connector.create_order(order_for(erp, "#1002"))
    erp.clock.sleep(DAY)
    erp.emulator.ship("#1001", "TRK-123", "Aras")
    shipments = list(erp.connector.shipped_orders(datetime(2026, 7, 26)))
    assert len(shipments) == 1
    shipment = shipments[0]
    assert shipment.shop_order_number == "#1001" and shipment.erp_order_number == created.document_number
    assert shipment.tracking_number == "TRK-123" and shipment.carrier == "Aras"
    assert shipment.shipped_at is not None and shipment.shipped_at.date() == date(2026, 7, 26)
    assert list(erp.connector.shipped_orders(datetime(2026, 7, 27))) == []


def test_shipments_of_orders_the_gateway_did_not_write_are_skipped(make: Factory) -> None:
    erp = make("logo")
    assert isinstance(erp.connector, LogoConnector)
    own = order_for(erp)
    erp.connector.create_order(own)
    # An order keyed in at the ERP itself: no shop order number in DOC_NUMBER.
    keyed_in = {
        "NUMBER": "~",
        "DATE": "25.07.2026",
        "ARP_CODE": own.customer_code,
        "TRANSACTIONS": {"items": [{"TYPE": 0, "MASTER_CODE": sku_of(erp), "QUANTITY": 1, "PRICE": 5}]},
    }
    erp.connector.client.post_json("/api/v1/salesOrders", json=keyed_in)
    erp.emulator.ship("0000000000000002", "TRK-F")
    erp.emulator.ship("#1001", "TRK-1")
    assert [s.tracking_number for s in erp.connector.shipped_orders(datetime(2026, 7, 25))] == ["TRK-1"]


# -- storms and scale ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ERPS)
def test_reads_ride_out_a_429_storm(make: Factory, name: str) -> None:
    erp = make(name)
    erp.connector.test_connection()
    erp.emulator.faults.configure(FaultConfig(storm_429=3, retry_after_s=2))
    assert len(list(erp.connector.stock(erp.warehouse))) == 30
    assert erp.emulator.faults.counters.too_many == 3


@pytest.mark.slow
def test_logo_reads_50000_skus_stock_and_prices_in_few_calls(make: Factory) -> None:
    erp = make("logo", items=50_000)
    stock = list(erp.connector.stock("1"))
    prices = list(erp.connector.prices("WEB"))
    assert len(stock) == len(prices) == 50_000
    # 5,000 rows a page, an empty page to end each read, and one probe for the stock table.
    assert erp.emulator.stats().sql_queries == 11 + 11 + 1


# -- helpers -------------------------------------------------------------------------------------------------


def test_codes_and_document_numbers_are_stable_and_fit() -> None:
    assert customer_code("A@Example.com ", "120.W") == customer_code("a@example.com", "120.W")
    assert len(customer_code("x" * 500, "120.W")) == 15
    with pytest.raises(ValueError, match="prefix"):
        customer_code("x", "TOO-LONG-PREFIX")
    assert document_number("SW-10023", "WEB") == "WEB00000SW10023"
    long = document_number("ORDER-2026-0000123456", "WEB")
    assert (
        len(long) == 15 and long == document_number("ORDER-2026-0000123456", "WEB") and long.startswith("WEB")
    )
    assert document_number("###", "W") != document_number("##", "W")


def test_current_prices_choose_the_row_valid_today() -> None:
    def entry(price: str, start: date | None, end: date | None) -> PriceEntry:
        return PriceEntry(
            sku="A",
            price_list_code="WEB",
            price=Decimal(price),
            currency="TRY",
            includes_vat=True,
            valid_from=start,
            valid_to=end,
        )

    rows = [
        entry("10", date(2026, 1, 1), None),
        entry("8", date(2026, 7, 1), date(2026, 7, 31)),
        entry("7", date(2026, 8, 1), None),
        entry("5", date(2025, 1, 1), date(2025, 12, 31)),
    ]
    assert [p.price for p in current_prices(rows, TODAY)] == [Decimal("8")]
    assert [p.price for p in current_prices(rows, date(2026, 9, 1))] == [Decimal("7")]
