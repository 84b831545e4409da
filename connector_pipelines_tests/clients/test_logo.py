"""LogoClient against the Logo emulator: the short-lived token renewed before it runs out and after a 401 or
a LoginError, paging that follows a capped page size, the SQL reads (keyset pages, the view/table fallback,
the route switched off), sales orders sent once, dispatches, 429 and faults, pacing, and no secret in any
error."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_pipelines import errors
from connector_pipelines.clients.http import AuthError, RateLimitedError, RetrySettings, TransientError
from connector_pipelines.clients.logo import (
    LogoArpInput,
    LogoClient,
    LogoRejectedError,
    LogoSalesOrderInput,
    LogoSqlError,
    LogoSqlUnavailableError,
)
from connector_pipelines.clients.logo_models import LogoOrderLineInput
from connector_pipelines.sandbox.logo import LogoEmulator, LogoSettings
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig

DAY = 86400.0
START = 1_785_000_000.0  # 2026-07-25, epoch seconds


class FakeClock:
    """Time that moves only when slept or told to, shared by client and emulator: epoch seconds for the
    emulator (its dates), seconds from a zero origin for the client (as time.monotonic counts). Time is kept
    as the small number: sums of epoch values lose sub-microsecond waits to float rounding."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return START + self.elapsed

    def monotonic(self) -> float:
        with self._lock:
            return self.elapsed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.elapsed += seconds

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


Served = tuple[LogoEmulator, EmulatorServer, FakeClock]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    servers: list[EmulatorServer] = []

    def start(settings: LogoSettings | None = None, **sizes: int) -> Served:
        emulator = LogoEmulator(settings, **sizes)
        clock = FakeClock()
        emulator.clock = clock
        server = emulator.serve().start()
        servers.append(server)
        return emulator, server, clock

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    return serve()


def client_for(served: Served, **options: Any) -> LogoClient:
    emulator, server, clock = served
    s = emulator.settings
    password = options.pop("password", s.password)
    kwargs: dict[str, Any] = {
        "firm": s.firm,
        "client_secret": s.client_secret,
        "clock": clock.monotonic,
        "sleep": clock.sleep,
        "retry": RetrySettings(base_delay_s=0.01),
    }
    kwargs.update(options)
    return LogoClient(server.base_url, s.username, password, **kwargs)


def order(doc_number: str = "#1001", **changes: Any) -> LogoSalesOrderInput:
    line = LogoOrderLineInput(
        master_code="M01.000002",
        quantity=Decimal(2),
        price=Decimal("59.90"),
        vat_rate=Decimal(20),
        vat_included=True,
    )
    values: dict[str, Any] = {
        "doc_number": doc_number,
        "arp_code": "120.01.0001",
        "date": date(2026, 7, 25),
        "lines": [line],
    }
    values.update(changes)
    return LogoSalesOrderInput(**values)


# -- tokens --------------------------------------------------------------------------------------------------


def test_token_is_renewed_before_it_runs_out(served: Served) -> None:
    emulator, _, clock = served
    with client_for(served) as client:
        assert client.current_firm() == 1
        clock.advance(95)  # 119 s tokens, renewed 20 s early
        assert client.active_period() == 1
        assert emulator.stats().tokens_issued == 1
        clock.advance(5)
        assert len(list(client.items(page_size=50))) == 50
        stats = emulator.stats()
        assert stats.tokens_issued == 2 and stats.auth_failures == 0  # renewed without ever meeting a 401


def test_a_401_or_a_login_error_gets_a_new_token_once(served: Served) -> None:
    emulator, _, _ = served
    with client_for(served) as client:
        client.current_firm()
        emulator.expire_tokens()
        assert client.current_firm() == 1
        emulator.configure(unauthorized="login_error")
        emulator.expire_tokens()
        assert client.current_firm() == 1
        assert emulator.stats().tokens_issued == 3


def test_close_revokes_the_token(served: Served) -> None:
    emulator, _, _ = served
    client = client_for(served)
    client.current_firm()
    client.close()
    assert emulator.stats().tokens_revoked == 1
    assert emulator.state()["tokens"] == 0


def test_refused_login_is_an_auth_error_without_secrets(served: Served) -> None:
    emulator, _, _ = served
    secret = "Sup3r-Secret-Pass"
    with client_for(served, password=secret) as client, pytest.raises(AuthError) as caught:
        client.current_firm()
    text = str(caught.value)
    assert "logo" in text and "invalid_grant" in text and "tenants set-credentials" in text
    assert secret not in text and emulator.settings.client_secret not in text
    emulator.configure(require_client_basic=True)
    with (
        client_for(served, send_client_basic=False) as client,
        pytest.raises(AuthError, match="invalid_client"),
    ):
        client.current_firm()


# -- lists ---------------------------------------------------------------------------------------------------


def test_items_stream_through_a_server_that_caps_pages(serve: Callable[..., Served]) -> None:
    served = serve(LogoSettings(max_limit=8), items=30)
    emulator, _, _ = served
    with client_for(served) as client:
        items = list(client.items(page_size=100))
    assert [i.code for i in items] == emulator.skus()
    assert emulator.stats().calls["GET /api/v1/items"] == 4  # 8, 8, 8, 6: the capped limit is followed
    assert items[0].modified_at is not None and items[0].modified_at.hour == 9


def test_customers_and_sales_orders(served: Served) -> None:
    emulator, _, _ = served
    with client_for(served) as client:
        assert client.find_arp("120.W.NEW") is None
        created = client.create_arp(
            LogoArpInput(code="120.W.NEW", title="Yeni Müşteri", e_mail="y@example.com")
        )
        assert created.internal_reference == 6 and client.find_arp("120.W.NEW") == created
        with pytest.raises(LogoRejectedError, match=r"customer '120\.W\.NEW'"):
            client.create_arp(LogoArpInput(code="120.W.NEW", title="Again"))
        saved = client.create_sales_order(order(arp_code="120.W.NEW"))
        assert saved.number == "0000000000000001" and saved.doc_number == "#1001"
        assert saved.transactions[0].master_code == "M01.000002" and saved.total_net == Decimal("119.8")
        assert [o.internal_reference for o in client.find_sales_orders("#1001")] == [saved.internal_reference]
        assert client.find_sales_orders("#1002") == []
        assert client.get_sales_order(999) is None
    assert emulator.orders()[0]["ARP_CODE"] == "120.W.NEW"


def test_a_refused_order_names_the_document(served: Served) -> None:
    with client_for(served) as client, pytest.raises(LogoRejectedError) as caught:
        client.create_sales_order(order(arp_code="NOPE"))
    error = caught.value
    assert isinstance(error, errors.PermanentError)
    assert error.document == "sales order DOC_NUMBER '#1001'"
    assert "Logo refused sales order DOC_NUMBER '#1001'" in str(error) and "NOPE" in str(error)


def test_an_order_post_is_sent_once(served: Served) -> None:
    emulator, _, _ = served
    with client_for(served) as client:
        client.current_firm()  # the token first: a fault on /token would be retried
        emulator.faults.configure(FaultConfig(storm_429=1, path_prefix="/api/v1/salesOrders"))
        with pytest.raises(RateLimitedError):
            client.create_sales_order(order())
        emulator.faults.configure(FaultConfig(rate_drop=1.0, path_prefix="/api/v1/salesOrders"))
        with pytest.raises(TransientError):
            client.create_sales_order(order())
        assert emulator.faults.counters.too_many == 1 and emulator.faults.counters.drop == 1
        emulator.faults.clear()
        assert client.get_sales_order(1) is None
        # Other requests keep their retries.
        emulator.faults.configure(FaultConfig(storm_429=2, retry_after_s=3))
        assert client.current_firm() == 1
        assert client.stats.rate_limit_waits == 2


def test_dispatches_with_their_order_references(served: Served) -> None:
    emulator, _, clock = served
    with client_for(served) as client:
        saved = client.create_sales_order(order())
        clock.advance(DAY)
        emulator.ship("#1001", "TRK-77", "Yurtiçi")
        dispatches = list(client.sales_dispatches(modified_since=date(2026, 7, 26)))
        assert len(dispatches) == 1
        assert dispatches[0].track_nr == "TRK-77" and dispatches[0].shipping_agent == "Yurtiçi"
        assert dispatches[0].transactions[0].order_reference == saved.internal_reference
        assert list(client.sales_dispatches(modified_since=date(2026, 7, 27))) == []


# -- SQL -----------------------------------------------------------------------------------------------------


def test_stock_and_prices_in_keyset_pages(serve: Callable[..., Served]) -> None:
    served = serve(items=45)
    emulator, _, _ = served
    with client_for(served, sql_page_size=10) as client:
        stock = list(client.stock_levels(2))
        prices = list(client.price_rows("BAYI"))
    assert {r.code: r.onhand for r in stock} == emulator.stock_levels(2)
    assert {r.code: r.price for r in prices} == emulator.price_levels("BAYI")
    assert all(not r.vat_included and r.currency == 160 for r in prices)
    # 45 rows in pages of 10: 5 pages and one empty page each (plus the stock table probe).
    assert emulator.stats().sql_queries == 6 + 1 + 6


def test_stock_delta_by_movement_day_and_price_delta_by_modification_day(served: Served) -> None:
    emulator, _, clock = served
    clock.advance(10 * DAY)
    changed = emulator.change_stock(0.1, seed=4)
    repriced = emulator.change_prices(0.1, seed=5, price_list="WEB")
    today = date(2026, 8, 4)
    with client_for(served) as client:
        moved = {r.code for r in client.stock_levels(1, changed_since=today)}
        assert moved <= set(changed) and moved
        assert {r.code for r in client.price_rows("WEB", changed_since=today)} == set(repriced)
        assert list(client.stock_levels(1, changed_since=date(2026, 8, 5))) == []


def test_stock_table_falls_back_to_the_lg_table(serve: Callable[..., Served]) -> None:
    served = serve(LogoSettings(stock_view=False), items=5)
    emulator, _, _ = served
    with client_for(served) as client:
        assert {r.code: r.onhand for r in client.stock_levels(0)} == emulator.stock_levels(0)
        with pytest.raises(LogoSqlError) as caught:
            client.query("SELECT NOPE FROM LG_001_ITEMS")
    assert caught.value.number == 207


def test_sql_switched_off(serve: Callable[..., Served]) -> None:
    served = serve(LogoSettings(sql_enabled=False))
    with client_for(served) as client:
        assert client.sql_available() is False
        with pytest.raises(LogoSqlUnavailableError) as caught:
            list(client.price_rows("WEB"))
    text = str(caught.value)
    assert "switched off" in text and "SQL servis sorgu parametreleri" in text and "CSV" in text
    assert isinstance(caught.value, errors.PermanentError)


# -- rate limits, faults, pacing -----------------------------------------------------------------------------


def test_429_and_5xx_are_retried(served: Served) -> None:
    emulator, _, clock = served
    emulator.faults.configure(FaultConfig(storm_429=2, retry_after_s=4))
    with client_for(served) as client:
        assert client.current_firm() == 1
        assert clock.slept == [4.0, 4.0]
        emulator.faults.configure(FaultConfig(rate_5xx=1.0))
        with pytest.raises(TransientError):
            client.active_period()
        emulator.faults.clear()
        assert client.active_period() == 1


def test_the_emulators_rate_limit_is_met_by_pacing(serve: Callable[..., Served]) -> None:
    served = serve(LogoSettings(rate_limit=5, rate_period_s=1.0), items=20)
    emulator, _, clock = served
    with client_for(served, requests_per_second=5, page_size=2) as client:
        assert len(list(client.items())) == 20
    assert emulator.stats().too_many == 0
    assert clock.slept  # the pacer waited, on the injected clock
    assert client.stats.rate_limit_waits > 0


def test_transport_errors_are_retried_then_transient() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    clock = FakeClock()
    client = LogoClient(
        "http://logo.invalid:32001",
        "LOGO",
        "pw",
        firm=1,
        transport=httpx.MockTransport(refuse),
        clock=clock.monotonic,
        sleep=clock.sleep,
        retry=RetrySettings(max_attempts=3, base_delay_s=0.01),
    )
    with client, pytest.raises(TransientError, match="ConnectError after 3 attempts"):
        client.current_firm()
    assert calls == 3
