"""The Logo Objects REST emulator over real HTTP (plain httpx): the OWIN token, Bearer rules and expiry,
lists (paging, q, sort, fields, withCount, expandLevel), the SQL query routes and their switch, sales orders
and customers, dispatches, rate limit, faults, admin routes and the in-process API."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connector_pipelines.sandbox.logo import LogoEmulator, LogoSettings
from connector_pipelines.sandbox.server import EmulatorServer

API = "/api/v1"
DAY = 86400.0


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, now: float = 1_785_000_000.0) -> None:  # 2026-07-25
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Plain httpx with a token of the emulator."""

    def __init__(self, emulator: LogoEmulator, server: EmulatorServer) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=server.base_url + API)
        self.token = self.fetch_token().json()["access_token"]

    def basic(self) -> dict[str, str]:
        s = self.emulator.settings
        pair = base64.b64encode(f"{s.client_id}:{s.client_secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}

    def fetch_token(self, **overrides: str) -> httpx.Response:
        s = self.emulator.settings
        form = {
            "grant_type": "password",
            "username": s.username,
            "password": s.password,
            "firmno": str(s.firm),
        }
        form.update(overrides)
        return self.http.post("/token", data=form, headers=self.basic())

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.headers)

    def sql(self, tsql: str) -> httpx.Response:
        return self.get("/queries", tsql=tsql)


Factory = Callable[..., tuple[LogoEmulator, Api]]


@pytest.fixture
def make() -> Iterator[Factory]:
    with contextlib.ExitStack() as stack:

        def factory(
            settings: LogoSettings | None = None, *, clock: FakeClock | None = None, **sizes: int
        ) -> tuple[LogoEmulator, Api]:
            emulator = LogoEmulator(settings, **sizes)
            emulator.clock = clock or FakeClock()
            server = stack.enter_context(emulator.serve())
            api = Api(emulator, server)
            stack.callback(api.http.close)
            return emulator, api

        yield factory


@pytest.fixture
def emu(make: Factory) -> tuple[LogoEmulator, Api]:
    return make()


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "INTERNAL_REFERENCE": 0,
        "NUMBER": "~",
        "DATE": "02.05.2026",
        "TIME": 102581337,
        "ARP_CODE": "120.01.0001",
        "DOC_NUMBER": "#1001",
        "TRANSACTIONS": {
            "items": [
                {"TYPE": 0, "MASTER_CODE": "M01.000002", "QUANTITY": 5, "PRICE": 10, "VAT_RATE": 20},
                {
                    "TYPE": 0,
                    "MASTER_CODE": "M01.000003",
                    "QUANTITY": 1,
                    "PRICE": 12,
                    "VAT_RATE": 20,
                    "VAT_INCLUDED": 1,
                },
            ]
        },
    }
    body.update(overrides)
    return body


# -- token and auth ------------------------------------------------------------------------------------------


def test_token_answers_the_owin_body_with_no_cache_headers(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    response = api.fetch_token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "as:client_id",
        "userName",
        "firmNo",
        ".issued",
        ".expires",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 119
    assert body["firmNo"] == "1"
    assert body[".expires"].endswith(" GMT")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["pragma"] == "no-cache"
    assert emulator.stats().tokens_issued == 2


def test_token_form_keys_any_case_and_json_content_type(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    s = emulator.settings
    # The docs' own sample: a form body sent as application/json, and "Firmno" spelled with a capital.
    raw = f"grant_type=password&UserName={s.username}&Password={s.password}&Firmno={s.firm}"
    response = api.http.post(
        "/token", content=raw.encode(), headers={**api.basic(), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


def test_token_refusals(make: Factory) -> None:
    emulator, api = make()
    wrong = api.fetch_token(password="nope")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert api.fetch_token(firmno="999").json()["error"] == "invalid_grant"
    assert api.fetch_token(grant_type="client_credentials").json() == {"error": "unsupported_grant_type"}
    s = emulator.settings
    form = {"grant_type": "password", "username": s.username, "password": s.password, "firmno": "1"}
    no_basic = api.http.post("/token", data=form)
    assert no_basic.status_code == 400
    assert no_basic.json()["error"] == "invalid_client"
    emulator.configure(require_client_basic=False)
    assert api.http.post("/token", data=form).status_code == 200


def test_bearer_is_trimmed_and_tokens_expire_with_the_clock(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(LogoSettings(token_ttl_s=119), clock=clock)
    twice = api.http.get("/items", headers={"Authorization": f"Bearer  {api.token}"})  # the docs' two spaces
    assert twice.status_code == 200
    clock.advance(118)
    assert api.get("/items").status_code == 200
    clock.advance(2)
    expired = api.get("/items")
    assert expired.status_code == 401
    assert expired.json() == {"Message": "Authorization has been denied for this request."}
    assert api.http.get("/items").status_code == 401
    emulator.configure(unauthorized="login_error")
    login_error = api.get("/items")
    assert login_error.status_code == 400
    assert "LoginError" in login_error.json()["ModelState"]


def test_revoke_ping_istokenvalid_and_methods(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    assert api.get("/methods/CurrentFirm").json() == 1
    assert api.get("/methods/ActivePeriod").json() == 1
    assert api.get("/ping").status_code == 200
    assert api.get("/istokenvalid").json() is True
    assert api.get("/revoke").status_code == 200
    assert api.get("/istokenvalid").status_code == 401
    assert emulator.stats().tokens_revoked == 1


# -- lists ---------------------------------------------------------------------------------------------------


def test_lists_page_by_default_with_links(emu: tuple[LogoEmulator, Api]) -> None:
    _, api = emu
    first = api.get("/items").json()
    assert first["limit"] == 10 and first["count"] == 10 and first["offset"] == 0
    assert "totalCount" not in first
    assert first["Meta"]["href"].endswith("/api/v1/items")
    assert "offset=10" in first["next"]["href"] and "previous" not in first
    record = first["items"][0]
    assert record["Meta"]["href"].endswith("/items/1")
    assert record["UNITS"] == {"Meta": {"href": record["Meta"]["href"] + "/UNITS"}}  # no items without expand
    last = api.get("/items", offset=45, limit=10, withCount="true").json()
    assert last["count"] == 5 and last["totalCount"] == 50 and "next" not in last
    assert "offset=35" in last["previous"]["href"]


def test_max_limit_caps_pages_and_says_so(make: Factory) -> None:
    _, api = make(LogoSettings(max_limit=7, always_count=True))
    page = api.get("/items", limit=100).json()
    assert page["limit"] == 7 and page["count"] == 7 and page["totalCount"] == 50


def test_q_sort_fields_and_expand(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    like = api.get("/items", q="CODE like 'M01.00001*'", limit=50).json()["items"]
    assert [i["CODE"] for i in like] == [f"M01.0000{n}" for n in range(10, 20)]
    either = api.get("/items", q="(CODE eq 'M01.000001' or CODE eq 'M01.000002') and CARD_TYPE eq 1").json()
    assert [i["INTERNAL_REFERENCE"] for i in either["items"]] == [1, 2]
    dated = api.get("/items", q="DATE_MODIFIED gte '05.01.2026'", withCount="true").json()
    assert dated["totalCount"] == 50
    assert api.get("/items", q="DATE_MODIFIED gt '05.01.2026'", withCount="true").json()["totalCount"] == 0
    newest = api.get("/items", sort="CODE desc", limit=1, fields="CODE,NAME").json()["items"][0]
    assert set(newest) == {"Meta", "CODE", "NAME", "UNITS"} and newest["CODE"] == "M01.000050"
    full = api.get("/items/3", expandLevel="full").json()
    assert full["UNITS"]["items"][0]["UNIT_CODE"] == "ADET"
    assert api.get("/items/999").status_code == 404
    bad = api.get("/items", q="NOPE eq 1")
    assert bad.status_code == 400 and "NOPE" in str(bad.json()["ModelState"])
    assert api.get("/nothing").status_code == 404
    prices = api.get("/salesItemPrices", q=f"TRADING_GRP eq '{emulator.price_lists[0]}'", limit=2).json()
    assert prices["items"][0]["CARD_CODE"] == "M01.000001" and prices["items"][0]["VAT_INCL"] == 1


# -- SQL -----------------------------------------------------------------------------------------------------


def test_query_route_sums_daily_stock_rows(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    tsql = (
        "SELECT TOP 5 S.STOCKREF, I.CODE, SUM(S.ONHAND) AS ONHAND, SUM(S.ONHAND) * 2 "
        "FROM LV_001_01_STINVTOT S WITH (NOLOCK) INNER JOIN LG_001_ITEMS I WITH (NOLOCK) "
        "ON I.LOGICALREF = S.STOCKREF WHERE S.INVENNO = 1 GROUP BY S.STOCKREF, I.CODE ORDER BY S.STOCKREF"
    )
    body = api.sql(tsql).json()
    assert body["count"] == 5
    levels = emulator.stock_levels(1)
    for row in body["items"]:
        assert Decimal(str(row["ONHAND"])) == levels[row["CODE"]]
        assert row["Column1"] == row["ONHAND"] * 2  # an unnamed expression
    rows = api.sql("SELECT COUNT(*) AS N FROM LG_001_01_STINVTOT WHERE INVENNO = 1").json()["items"]
    assert rows[0]["N"] > 50  # several daily rows per item: a client must sum
    posted = api.post("/queries", "SELECT TOP 1 CODE FROM LG_001_ITEMS ORDER BY CODE").json()
    assert posted == {"count": 1, "items": [{"CODE": "M01.000001"}]}
    unsafe = api.post("/queries/unsafe?cmdTimeout=60", "SELECT TOP 2 CODE FROM LG_001_ITEMS").json()
    assert list(unsafe) == ["items"] and len(unsafe["items"]) == 2
    offset = api.sql(
        "SELECT CODE FROM LG_001_ITEMS ORDER BY CODE OFFSET 3 ROWS FETCH NEXT 2 ROWS ONLY"
    ).json()
    assert [r["CODE"] for r in offset["items"]] == ["M01.000004", "M01.000005"]


@pytest.mark.parametrize(
    ("tsql", "key"),
    [
        ("SELECT NOPE FROM LG_001_ITEMS", "207"),
        ("SELECT * FROM LG_009_ITEMS", "208"),
        ("SELECT * FROM LG_001_ITEMS LIMIT 1", "102"),
        ("DELETE FROM LG_001_ITEMS", "229"),
        ("SELECT 1; DELETE FROM LG_001_ITEMS", "102"),
    ],
)
def test_query_errors_carry_sql_server_numbers(emu: tuple[LogoEmulator, Api], tsql: str, key: str) -> None:
    _, api = emu
    response = api.sql(tsql)
    assert response.status_code == 400
    assert list(response.json()["ModelState"]) == [key]


def test_sql_switched_off_and_missing_view(make: Factory) -> None:
    emulator, api = make(LogoSettings(stock_view=False))
    assert api.sql("SELECT TOP 1 STOCKREF FROM LV_001_01_STINVTOT").json()["ModelState"].keys() == {"208"}
    assert api.sql("SELECT TOP 1 STOCKREF FROM LG_001_01_STINVTOT").status_code == 200
    emulator.configure(sql_enabled=False)
    off = api.sql("SELECT 1")
    assert off.status_code == 400
    assert off.json()["Message"] == "The request is invalid."
    assert list(off.json()["ModelState"]) == ["LOError"]
    assert emulator.stats().sql_refused == 1
    with pytest.raises(ValueError, match="stock_view"):
        emulator.configure(stock_view=True)


# -- orders, customers, dispatches ---------------------------------------------------------------------------


def test_sales_order_numbering_echo_and_read_back(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    posted = api.post("/salesOrders", order_body())
    assert posted.status_code == 200, posted.text
    echo = posted.json()
    assert echo["NUMBER"] == "~" and echo["INTERNAL_REFERENCE"] == 1 and echo["DATE"] == "2026-05-02T00:00:00"
    full = api.get("/salesOrders/1", expandLevel="full").json()
    assert full["NUMBER"] == "0000000000000001" and full["TYPE"] == 1 and full["DOC_NUMBER"] == "#1001"
    assert full["TOTAL_GROSS"] == 60.0 and full["TOTAL_VAT"] == 12.0 and full["TOTAL_NET"] == 72.0
    lines = full["TRANSACTIONS"]["items"]
    assert [line["LINENO"] for line in lines] == [1, 2] and lines[1]["VAT_AMOUNT"] == 2.0
    second = api.post("/salesOrders", order_body(DATE="2026-05-03")).json()
    assert api.get(f"/salesOrders/{second['INTERNAL_REFERENCE']}").json()["NUMBER"] == "0000000000000002"
    found = api.get("/salesOrders", q="DOC_NUMBER eq '#1001'", fields="INTERNAL_REFERENCE,NUMBER").json()
    assert len(found["items"]) == 2  # the same DOC_NUMBER twice: accepted by default
    assert [o["DOC_NUMBER"] for o in emulator.orders()] == ["#1001", "#1001"]


def test_sales_order_validation(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    bare = api.post("/salesOrders", order_body(TRANSACTIONS=[{"TYPE": 0}]))
    assert bare.status_code == 400
    assert "items" in bare.json()["ModelState"]["ValError0"][0]
    unknown = api.post(
        "/salesOrders",
        order_body(
            ARP_CODE="NOPE",
            TRANSACTIONS={"items": [{"TYPE": 0, "MASTER_CODE": "X", "QUANTITY": 1, "PRICE": 1}]},
        ),
    ).json()["ModelState"]
    assert list(unknown) == ["ValError0", "ValError1"]
    assert "NOPE" in unknown["ValError0"][0] and "X kodlu malzeme" in unknown["ValError1"][0]
    wrong_wh = api.post("/salesOrders", order_body(SOURCE_WH=9)).json()["ModelState"]
    assert "ambar" in wrong_wh["ValError0"][0]
    emulator.configure(reject_duplicate_doc_number=True)
    assert api.post("/salesOrders", order_body()).status_code == 200
    assert api.post("/salesOrders", order_body()).status_code == 400
    emulator.reject_next_order("Kilitli dönem")
    forced = api.post("/salesOrders", order_body(DOC_NUMBER="#2")).json()
    assert forced["ModelState"] == {"LOError:": ["Kilitli dönem"]}
    assert emulator.stats().orders_created == 1
    assert api.http.delete("/salesOrders/1", headers=api.headers).status_code == 200
    assert emulator.orders() == []


def test_customers_are_created_once(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    body = {"CODE": "120.W.1", "TITLE": "Ayşe Kaya", "E_MAIL": "ayse@example.com", "UNKNOWN": 1}
    created = api.post("/Arps", body)
    assert created.status_code == 200 and created.json()["INTERNAL_REFERENCE"] == 6
    assert api.get("/Arps", q="CODE eq '120.W.1'").json()["items"][0]["E_MAIL"] == "ayse@example.com"
    again = api.post("/Arps", body)
    assert again.status_code == 400 and "zaten" in again.json()["ModelState"]["ValError0"][0]
    assert [c["CODE"] for c in emulator.customers()][-1] == "120.W.1"


def test_ship_makes_a_dispatch_and_moves_stock(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(clock=clock)
    api.post("/salesOrders", order_body(SOURCE_WH=1))
    before = emulator.stock_levels(1)["M01.000002"]
    clock.advance(DAY)
    number = emulator.ship("#1001", "TRK-1", "Aras")
    assert number == "0000000000000001"
    dispatch: Any = emulator.dispatches()[0]
    assert dispatch["TYPE"] == 8 and dispatch["TRACK_NR"] == "TRK-1" and dispatch["SHIPPING_AGENT"] == "Aras"
    assert {line["ORDER_REFERENCE"] for line in dispatch["TRANSACTIONS"]["items"]} == {1}
    assert emulator.stock_levels(1)["M01.000002"] == before - 5
    with pytest.raises(ValueError, match="already shipped"):
        emulator.ship("#1001", "TRK-2")
    with pytest.raises(KeyError):
        emulator.ship("#404", "TRK-3")
    api.token = api.fetch_token().json()["access_token"]  # a day later: the old token is long gone
    listed = api.get("/salesDispatches", q="DATE_MODIFIED gte '26.07.2026'", expandLevel="full").json()
    assert [d["NUMBER"] for d in listed["items"]] == ["0000000000000001"]


# -- in-process API ------------------------------------------------------------------------------------------


def test_generated_catalog_is_deterministic_and_changes_are_reported() -> None:
    one, two = LogoEmulator(seed=3, items=30), LogoEmulator(seed=3, items=30)
    assert one.skus() == two.skus() and one.stock_levels(0) == two.stock_levels(0)
    assert one.price_levels("WEB") == two.price_levels("WEB")
    assert one.warehouses == ["0", "1", "2"] and one.price_lists == ["WEB", "BAYI"]
    before = one.stock_levels(2)
    changed = one.change_stock(0.1, seed=7)
    assert changed == two.change_stock(0.1, seed=7) and len(changed) == 3
    after = one.stock_levels(2)
    assert {sku for sku in after if after[sku] != before[sku]} <= set(changed)
    repriced = one.change_prices(0.2, seed=1, price_list="BAYI")
    assert len(repriced) == 6
    assert all(one.price_levels("BAYI")[s] != two.price_levels("BAYI")[s] for s in repriced)
    one.set_stock(changed[0], "1", 42)
    one.set_price(changed[0], "WEB", Decimal("9.99"))
    assert one.stock_levels(1)[changed[0]] == 42 and one.price_levels("WEB")[changed[0]] == Decimal("9.99")
    assert one.stock_levels(-1)[changed[0]] == sum(one.stock_levels(w)[changed[0]] for w in (0, 1, 2))
    with pytest.raises(KeyError):
        one.set_stock("nope", 1, 1)
    one.reset()
    assert one.stock_levels(2) == LogoEmulator(seed=3, items=30).stock_levels(2)


# -- rate limit, faults, admin -------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(LogoSettings(rate_limit=3, rate_period_s=10), clock=clock)
    # The token request took one unit already.
    statuses = [api.get("/items").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = api.get("/items")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    clock.advance(10)
    assert api.get("/items").status_code == 200
    assert emulator.stats().too_many == 2


def test_faults_and_admin_routes(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    admin = httpx.Client(base_url=str(api.http.base_url).removesuffix(API + "/") + "/__sandbox")
    with admin:
        assert admin.put("/faults", json={"storm_429": 1, "retry_after_s": 2}).status_code == 200
        storm = api.get("/items")
        assert storm.status_code == 429 and storm.headers["Retry-After"] == "2"
        admin.put("/faults", json={"rate_5xx": 1.0, "status_5xx": 500})
        broken = api.get("/items")
        assert broken.status_code == 500 and broken.json()["Message"] == "An error has occurred."
        admin.put("/faults", json={})
        assert api.get("/items").status_code == 200
        assert admin.patch("/settings", json={"sql_enabled": False}).json()["sql_enabled"] is False
        assert admin.patch("/settings", json={"firm": 2}).status_code == 422
        assert "password" not in admin.get("/settings").json()
        state = admin.get("/state").json()
        assert state["items"] == 50 and state["warehouses"] == ["0", "1", "2"] and state["tokens"] == 1
        assert admin.get("/stats").json()["calls"]["GET /api/v1/items"] == 1
        assert admin.post("/tokens/expire").status_code == 204
        assert api.get("/items").status_code == 401
        assert admin.post("/stats/reset").status_code == 204
        assert emulator.stats().calls == {}
        api.token = api.fetch_token().json()["access_token"]
        api.post("/salesOrders", order_body())
        assert admin.post("/ship", json={"order_no": "#1001", "tracking": "T"}).json() == {
            "dispatch_number": "0000000000000001"
        }
        assert admin.post("/reset").status_code == 204
        assert emulator.orders() == [] and emulator.dispatches() == []


def test_hrefs_follow_a_mount_prefix() -> None:
    emulator = LogoEmulator(items=3)
    app = Starlette(routes=[Mount("/logo/acme", app=emulator.app)])
    with EmulatorServer(app) as server, httpx.Client(base_url=server.base_url + "/logo/acme" + API) as http:
        s = emulator.settings
        pair = base64.b64encode(f"{s.client_id}:{s.client_secret}".encode()).decode()
        form = {"grant_type": "password", "username": s.username, "password": s.password, "firmno": "1"}
        token = http.post("/token", data=form, headers={"Authorization": f"Basic {pair}"}).json()[
            "access_token"
        ]
        page = http.get("/items", headers={"Authorization": f"Bearer {token}"}).json()
        assert page["items"][0]["Meta"]["href"] == f"{server.base_url}/logo/acme/api/v1/items/1"


def test_added_items_show_in_a_delta_read_and_deleted_ones_are_gone(emu: tuple[LogoEmulator, Api]) -> None:
    emulator, api = emu
    emulator.add_item(
        "NEW.000001",
        name="Yeni Kalem",
        vat=Decimal(10),
        stock={"1": Decimal(7)},
        prices={"WEB": Decimal("12.50"), "BAYI": Decimal(10)},
    )
    assert "NEW.000001" in emulator.skus()
    assert emulator.stock_levels(1)["NEW.000001"] == 7 and emulator.stock_levels(-1)["NEW.000001"] == 7
    assert emulator.available(1)["NEW.000001"] == 7
    assert emulator.price_levels("WEB")["NEW.000001"] == Decimal("12.50")
    today = "2026-07-25T00:00:00"
    moved = api.sql(
        "SELECT I.CODE, SUM(S.ONHAND) AS ONHAND FROM LV_001_01_STINVTOT S INNER JOIN LG_001_ITEMS I "
        f"ON I.LOGICALREF = S.STOCKREF WHERE S.INVENNO = 1 AND S.DATE_ >= '{today}' GROUP BY I.CODE"
    ).json()["items"]
    assert moved == [{"CODE": "NEW.000001", "ONHAND": 7.0}]
    repriced = api.sql(
        f"SELECT CODE, PRICE FROM LG_001_PRCLIST WHERE CAPIBLOCK_MODIFIEDDATE >= '{today}' ORDER BY CODE"
    ).json()["items"]
    assert repriced == [{"CODE": "BAYI.NEW.000001", "PRICE": 10.0}, {"CODE": "WEB.NEW.000001", "PRICE": 12.5}]
    card = api.get("/items", q="CODE eq 'NEW.000001'").json()["items"]
    assert [(c["CODE"], c["NAME"], c["VAT"]) for c in card] == [("NEW.000001", "Yeni Kalem", 10.0)]
    with pytest.raises(ValueError, match="exists"):
        emulator.add_item("NEW.000001")
    with pytest.raises(KeyError, match="9"):
        emulator.add_item("NEW.000002", stock={"9": Decimal(1)})

    emulator.delete_item("NEW.000001")
    assert "NEW.000001" not in emulator.skus()
    assert "NEW.000001" not in emulator.stock_levels(-1) and "NEW.000001" not in emulator.price_levels("WEB")
    left = api.sql("SELECT COUNT(*) AS N FROM LG_001_PRCLIST WHERE CODE LIKE '%NEW.000001'").json()["items"]
    assert left == [{"N": 0}]
    with pytest.raises(KeyError):
        emulator.delete_item("NEW.000001")


def test_available_is_on_hand_minus_reserved() -> None:
    emulator = LogoEmulator(seed=3, items=60)
    on_hand, available = emulator.stock_levels(0), emulator.available(0)
    assert available.keys() == on_hand.keys()
    reserved = {sku: on_hand[sku] - available[sku] for sku in on_hand if on_hand[sku] != available[sku]}
    assert reserved and all(0 < quantity <= 4 for quantity in reserved.values())  # generated 1..4 reserved
    emulator.set_stock(next(iter(reserved)), 0, 100)
    sku = next(iter(reserved))
    assert emulator.available(0)[sku] == 100 - reserved[sku]
