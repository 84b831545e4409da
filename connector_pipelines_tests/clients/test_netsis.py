"""NetsisClient against the Netsis emulator: one session (one licence seat) shared by the clients of a
tenant and given back at close, a refused login, renewal that frees the seat first, business errors on HTTP
200 as typed errors naming the document, the repeated document number, paging, the SQL route and its
fallback, 429 and faults."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_pipelines import errors
from connector_pipelines.clients.http import AuthError, RetrySettings, TransientError
from connector_pipelines.clients.netsis import (
    NetsisArpInput,
    NetsisBusinessError,
    NetsisClient,
    NetsisDuplicateDocumentError,
    NetsisSeatBusyError,
    NetsisSlipInput,
)
from connector_pipelines.clients.netsis_models import NetsisSlipLineInput
from connector_pipelines.sandbox.netsis import NetsisEmulator, NetsisSettings
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig

START = 1_785_000_000.0  # 2026-07-25, epoch seconds


class FakeClock:
    """Epoch seconds for the emulator, seconds from zero for the client; kept as the small number."""

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


Served = tuple[NetsisEmulator, EmulatorServer, FakeClock]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    servers: list[EmulatorServer] = []

    def start(settings: NetsisSettings | None = None, **sizes: int) -> Served:
        emulator = NetsisEmulator(settings, **sizes)
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


def client_for(served: Served, **options: Any) -> NetsisClient:
    emulator, server, clock = served
    s = emulator.settings
    password = options.pop("password", s.password)
    kwargs: dict[str, Any] = {
        "dbname": s.dbname,
        "dbuser": s.dbuser,
        "dbpassword": s.dbpassword,
        "clock": clock.monotonic,
        "sleep": clock.sleep,
        "retry": RetrySettings(base_delay_s=0.01),
    }
    kwargs.update(options)
    return NetsisClient(server.base_url, s.username, password, **kwargs)


def order_slip(number: str = "WEB000000001001", **changes: Any) -> NetsisSlipInput:
    line = NetsisSlipLineInput(
        stock_code="ST01-00007",
        quantity=Decimal(2),
        net_price=Decimal(120),
        gross_price=Decimal(120),
        vat_rate=Decimal(20),
        warehouse=10,
    )
    values: dict[str, Any] = {
        "number": number,
        "customer_code": "120.01.001",
        "date": datetime(2026, 7, 25, 14, 30),
        "vat_included": True,
        "extra": {"EKACK1": "#1001"},
        "lines": [line],
    }
    values.update(changes)
    return NetsisSlipInput(**values)


def raw_login(emulator: NetsisEmulator, server: EmulatorServer) -> httpx.Response:
    s = emulator.settings
    form = {"grant_type": "password", "username": s.username, "password": s.password, "dbname": s.dbname}
    form |= {"dbuser": s.dbuser, "dbpassword": s.dbpassword, "branchcode": "0"}
    return httpx.post(f"{server.base_url}/api/v2/token", data=form)


# -- the session and its seat --------------------------------------------------------------------------------


def test_clients_of_a_tenant_share_one_session_and_free_the_seat_at_close(served: Served) -> None:
    emulator, server, _ = served
    first, second = client_for(served), client_for(served)
    assert first.find_arp("120.01.001") is not None
    assert second.find_arp("120.01.002") is not None
    assert emulator.stats().tokens_issued == 1 and emulator.sessions() == 1
    assert raw_login(emulator, server).status_code == 401  # someone else: the seat is taken
    first.close()
    assert emulator.sessions() == 1  # the second client still uses it
    assert second.find_arp("120.01.003") is not None
    second.close()
    assert emulator.sessions() == 0 and emulator.stats().tokens_revoked == 1
    assert raw_login(emulator, server).status_code == 200
    with pytest.raises(RuntimeError, match="closed"):
        first.find_arp("120.01.001")


def test_a_seat_held_elsewhere_is_a_transient_error(served: Served) -> None:
    emulator, server, clock = served
    assert raw_login(emulator, server).status_code == 200
    with client_for(served, login_attempts=3, login_retry_s=2.0) as client:
        with pytest.raises(NetsisSeatBusyError) as caught:
            client.find_arp("120.01.001")
        error = caught.value
        assert isinstance(error, errors.TransientError)
        assert "licence seat" in str(error) and emulator.settings.password not in str(error)
        assert clock.slept == [2.0, 4.0] and emulator.stats().logins_refused == 3
        emulator.release_seats()
        assert client.find_arp("120.01.001") is not None


def test_renewal_revokes_before_logging_in_again(served: Served) -> None:
    emulator, _, clock = served
    with client_for(served) as client:
        client.find_arp("120.01.001")
        clock.sleep(1150)  # 1200 s tokens, renewed 60 s early
        client.find_arp("120.01.001")
        stats = emulator.stats()
        assert stats.tokens_issued == 2 and stats.tokens_revoked == 1 and stats.logins_refused == 0
        emulator.expire_tokens()  # expired on the server: a 401, and the seat is free again
        assert client.find_arp("120.01.002") is not None
        assert emulator.stats().tokens_issued == 3


def test_bad_credentials_are_an_auth_error(served: Served) -> None:
    emulator, _, _ = served
    with client_for(served, password="wrong-pass") as client, pytest.raises(AuthError) as caught:
        client.find_arp("120.01.001")
    assert "invalid_grant" in str(caught.value) and "wrong-pass" not in str(caught.value)
    emulator.configure(dbtype_crashes=True)
    with client_for(served) as client:
        assert client.find_arp("120.01.001") is not None  # dbtype is left out by default


# -- reads ---------------------------------------------------------------------------------------------------


def test_items_page_and_codes_are_trimmed(serve: Callable[..., Served]) -> None:
    served = serve(NetsisSettings(max_limit=6), items=20)
    emulator, _, _ = served
    with client_for(served, page_size=50) as client:
        items = list(client.items())
        assert client.version() == "9.0.67.0"
    assert sorted(i.code for i in items) == emulator.skus()
    assert any(i.raw_code != i.code for i in items)
    assert emulator.stats().calls["GET /api/v2/Items"] == 4  # 6, 6, 6, 2: the capped limit is followed
    assert all(i.vat_rate in (Decimal(1), Decimal(10), Decimal(20)) for i in items)


def test_stock_in_keyset_pages_and_price_groups(serve: Callable[..., Served]) -> None:
    served = serve(items=23)
    emulator, _, _ = served
    with client_for(served, sql_page_size=5) as client:
        stock = list(client.stock_balances(20))
        prices = client.price_rows("BAYI")
        assert {r.code: r.balance for r in stock} == emulator.stock_levels(20)
        assert {r.code: r.price for r in prices} == emulator.price_levels("BAYI")
        emulator.change_prices(0.2, seed=3, price_list="BAYI")
        emulator.clock = lambda: START + 2 * 86400
        emulator.change_prices(0.2, seed=4, price_list="BAYI")
        recent = {r.code for r in client.price_rows("BAYI", changed_since=date(2026, 7, 27))}
        assert 0 < len(recent) <= 5
    assert emulator.stats().sql_queries == 6 + 2  # 23 rows in pages of 5, then an empty one; prices twice


def test_query_route_falls_back_to_query(serve: Callable[..., Served]) -> None:
    served = serve(NetsisSettings(query_routes="Query"), items=5)
    with client_for(served) as client:
        assert client.query("SELECT COUNT(*) AS N FROM TBLSTSABIT") == [{"N": 5}]
        assert client.query("SELECT COUNT(*) FROM TBLCASABIT") == [{"Column1": 5}]
        with pytest.raises(NetsisBusinessError, match=r"the SQL query: \[207\]"):
            client.query("SELECT NOPE FROM TBLSTSABIT")


def test_customers(served: Served) -> None:
    with client_for(served) as client:
        assert client.find_arp("120.W.NEW") is None
        created = client.create_arp(NetsisArpInput(code="120.W.NEW", name="Yeni Bayi", city="Ankara"))
        assert created.code == "120.W.NEW" and client.find_arp("120.W.NEW") == created
        with pytest.raises(NetsisBusinessError, match=r"customer '120\.W\.NEW'"):
            client.create_arp(NetsisArpInput(code="120.W.NEW", name="Again"))


# -- slips ---------------------------------------------------------------------------------------------------


def test_orders_duplicates_and_business_errors(served: Served) -> None:
    emulator, _, _ = served
    with client_for(served) as client:
        assert client.get_item_slip(7, "WEB000000001001") is None
        saved = client.create_item_slip(order_slip())
        assert saved.header.number == "WEB000000001001" and saved.header.field("EKACK1") == "#1001"
        assert saved.lines[0].code == "ST01-00007"
        with pytest.raises(NetsisDuplicateDocumentError) as duplicate:
            client.create_item_slip(order_slip())
        assert duplicate.value.document == "ftSSip 'WEB000000001001'" and duplicate.value.code == "101"
        with pytest.raises(NetsisBusinessError) as bad_depot:
            client.create_item_slip(
                order_slip(
                    "WEB000000001002", lines=[order_slip().lines[0].model_copy(update={"warehouse": 99})]
                )
            )
        assert isinstance(bad_depot.value, errors.PermanentError)
        assert "Netsis refused ftSSip 'WEB000000001002'" in str(bad_depot.value)
        assert "Kalem Depo Kodu" in str(bad_depot.value)
        emulator.reject_next_slip(None)
        with pytest.raises(NetsisBusinessError, match="empty answer"):
            client.create_item_slip(order_slip("WEB000000001003"))
        read = client.get_item_slip(7, "WEB000000001001")
        assert read is not None and read.header.customer_code == "120.01.001"
    assert len(emulator.orders()) == 1


def test_a_slip_is_read_back_when_the_answer_has_no_data(serve: Callable[..., Served]) -> None:
    served = serve(NetsisSettings(echo_slip=False, missing_record="404"))
    with client_for(served) as client:
        saved = client.create_item_slip(order_slip())
        assert saved.header.number == "WEB000000001001"
        assert client.get_item_slip(7, "WEB000000009999") is None


def test_dispatch_notes_name_their_orders(served: Served) -> None:
    emulator, _, _ = served
    with client_for(served) as client:
        client.create_item_slip(order_slip())
        emulator.ship("#1001", "TRK-5")
        dispatches = list(client.item_slips(2, q="KAYITTARIHI >= '2026-07-25'"))
        assert [d.header.field("EKACK2") for d in dispatches] == ["TRK-5"]
        assert dispatches[0].lines[0].order_number == "WEB000000001001"
        assert list(client.item_slips(2, q="KAYITTARIHI >= '2026-07-26'")) == []


# -- rate limits and faults ----------------------------------------------------------------------------------


def test_429_and_5xx_are_retried(served: Served) -> None:
    emulator, _, clock = served
    emulator.faults.configure(FaultConfig(storm_429=2, retry_after_s=3, path_prefix="/api/v2/ARPs"))
    with client_for(served) as client:
        assert client.find_arp("120.01.001") is not None
        assert clock.slept == [3.0, 3.0] and client.stats.rate_limit_waits == 2
        emulator.faults.configure(FaultConfig(rate_5xx=1.0, path_prefix="/api/v2/ARPs"))
        with pytest.raises(TransientError):
            client.find_arp("120.01.001")
        emulator.faults.clear()
        # POSTs are retried like any request: Netsis refuses a repeated document number.
        emulator.faults.configure(FaultConfig(rate_drop=1.0, path_prefix="/api/v2/ItemSlips"))
        with pytest.raises(TransientError):
            client.create_item_slip(order_slip())
    assert emulator.orders() == []


def test_pacing_meets_the_emulators_rate_limit(serve: Callable[..., Served]) -> None:
    served = serve(NetsisSettings(rate_limit=4, rate_period_s=1.0), items=12)
    emulator, _, clock = served
    with client_for(served, requests_per_second=4, page_size=2) as client:
        assert len(list(client.items())) == 12
    assert emulator.stats().too_many == 0 and clock.slept
