"""The Netsis NetOpenX REST emulator over real HTTP (plain httpx): the token and its licence seat, lists with
their envelope, the SQL routes, item slips (document numbers, duplicates, business errors as HTTP 200),
dispatches, rate limit, faults, admin routes and the in-process API."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.netsis import NetsisEmulator, NetsisSettings
from connector_pipelines.sandbox.server import EmulatorServer

API = "/api/v2"


class FakeClock:
    def __init__(self, now: float = 1_785_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    def __init__(self, emulator: NetsisEmulator, server: EmulatorServer) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=server.base_url + API)
        self.token = self.login().json()["access_token"]

    def form(self, **overrides: str) -> dict[str, str]:
        s = self.emulator.settings
        form = {
            "grant_type": "password",
            "username": s.username,
            "password": s.password,
            "dbname": s.dbname,
            "dbuser": s.dbuser,
            "dbpassword": s.dbpassword,
            "branchcode": str(s.branch_code),
        }
        form.update(overrides)
        return form

    def login(self, **overrides: str) -> httpx.Response:
        return self.http.post("/token", data=self.form(**overrides))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers)

    def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        return self.http.post(path, json=body, params=params, headers=self.headers)


Factory = Callable[..., tuple[NetsisEmulator, Api]]


@pytest.fixture
def make() -> Iterator[Factory]:
    with contextlib.ExitStack() as stack:

        def factory(
            settings: NetsisSettings | None = None, *, clock: FakeClock | None = None, **sizes: int
        ) -> tuple[NetsisEmulator, Api]:
            emulator = NetsisEmulator(settings, **sizes)
            emulator.clock = clock or FakeClock()
            server = stack.enter_context(emulator.serve())
            api = Api(emulator, server)
            stack.callback(api.http.close)
            return emulator, api

        yield factory


@pytest.fixture
def emu(make: Factory) -> tuple[NetsisEmulator, Api]:
    return make()


def slip(number: str = "WEB000000001001", **header: Any) -> dict[str, Any]:
    return {
        "FaturaTip": 7,
        "KayitliNumaraOtomatikGuncellensin": False,
        "FatUst": {
            "FATIRS_NO": number,
            "CariKod": "120.01.001",
            "Tarih": "2026-07-29 00:00:00",
            "TIPI": 2,
            "KDV_DAHILMI": True,
            "EKACK1": "#1001",
            **header,
        },
        "Kalems": [
            {
                "StokKodu": "ST01-00007",
                "Sira": 1,
                "DEPO_KODU": 10,
                "STra_GCMIK": 2,
                "STra_NF": 120.0,
                "STra_KDV": 20,
            },
        ],
    }


def failure(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 200, response.text  # Netsis: business errors are HTTP 200
    body = response.json()
    assert body["IsSuccessful"] is False
    return str(body["ErrorCode"]), str(body["ErrorDesc"])


# -- token and seats -----------------------------------------------------------------------------------------


def test_token_form_any_case_get_and_jlogin(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    emulator.release_seats()
    s = emulator.settings
    capital = {"grant_type": "password", "username": s.username, "password": s.password, "DbName": s.dbname}
    capital |= {"DbUser": s.dbuser, "DbPassword": s.dbpassword, "BranchCode": "0", "DbType": "0"}
    answer = api.http.post("/token", data=capital)
    assert answer.status_code == 200
    assert set(answer.json()) == {"access_token", "token_type", "expires_in"}
    assert answer.json()["expires_in"] == 1200
    emulator.release_seats()
    as_get = api.http.request(
        "GET",
        "/token",
        content=str(httpx.QueryParams(api.form())).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert as_get.status_code == 200
    emulator.release_seats()
    jlogin = {
        "BranchCode": 0,
        "NetsisUser": s.username,
        "NetsisPassword": s.password,
        "DbType": "vtMSSQL",
        "DbName": s.dbname,
        "DbUser": s.dbuser,
        "DbPassword": s.dbpassword,
    }
    assert api.http.post("/token", json=jlogin).status_code == 200


def test_bad_login_and_dbtype_crash(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    wrong = api.login(password="nope")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant" and "Login failed" in wrong.json()["error_description"]
    assert api.login(dbname="OTHER").status_code == 400
    emulator.configure(dbtype_crashes=True)
    assert api.login(dbtype="0").status_code == 500
    assert emulator.stats().auth_failures == 2


def test_one_seat_per_token_until_revoke_or_expiry(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(clock=clock)
    refused = api.login()
    assert refused.status_code == 401
    assert "SsoMaxUserCountExceeded" in refused.json()["error_description"]
    assert emulator.sessions() == 1
    assert api.get("/revoke").json() == {"IsSuccessful": True}
    assert emulator.sessions() == 0
    api.token = api.login().json()["access_token"]
    clock.advance(1199)
    assert api.login().status_code == 401
    clock.advance(2)  # the token expired: its seat is free again
    assert api.get("/Items").status_code == 401
    assert api.login().status_code == 200
    stats = emulator.stats()
    assert stats.logins_refused == 2 and stats.tokens_revoked == 1


def test_more_seats_and_the_refusal_status(make: Factory) -> None:
    _, api = make(NetsisSettings(seats=2, seat_refusal_status=400))
    assert api.login().status_code == 200
    third = api.login()
    assert third.status_code == 400 and "SsoMaxUserCountExceeded" in third.text


def test_public_routes_need_no_token(emu: tuple[NetsisEmulator, Api]) -> None:
    _, api = emu
    assert api.http.get("/public/Ping").json()["IsSuccessful"] is True
    assert api.http.post("/public/Version").json()["Data"] == "9.0.67.0"
    assert api.http.get("/Items").status_code == 401


# -- lists ---------------------------------------------------------------------------------------------------


def test_items_envelope_nested_groups_and_raw_codes(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    page = api.get("/Items").json()
    assert {k: page[k] for k in ("Offset", "Limit", "TotalCount", "IsSuccessful")} == {
        "Offset": 0,
        "Limit": 20,
        "TotalCount": 50,
        "IsSuccessful": True,
    }
    assert "offset=20" in page["Next"]["Href"] and page["Previous"] is None
    first = page["Data"][0]
    assert set(first) == {"StokTemelBilgi", "StokEkBilgi"}
    basic = first["StokTemelBilgi"]
    assert basic["Stok_Kodu"] == " ST01-00014"  # codes carry stray blanks and TABs
    assert basic["KDV_Orani"] in (1.0, 10.0, 20.0)
    levels = emulator.stock_levels(0)
    assert Decimal(str(basic["Miktar"])) == levels["ST01-00014"]
    tab = api.get("/Items", q="STOK_KODU = 'ST01-00007\t'").json()["Data"]
    assert [i["StokTemelBilgi"]["Stok_Kodu"] for i in tab] == ["ST01-00007\t"]
    flat = api.get("/Items/PrimInfo", limit=2, sort="STOK_KODU DESC").json()["Data"]
    assert flat[0]["Stok_Kodu"] == "ST01-00050" and "Miktar" in flat[0] and "StokTemelBilgi" not in flat[0]
    one = api.get("/Items/ST01-00007").json()
    assert one["IsSuccessful"] and one["Data"]["StokTemelBilgi"]["Stok_Kodu"] == "ST01-00007\t"
    assert failure(api.get("/Items/NOPE"))[0] == "101"
    assert emulator.skus()[:2] == ["ST01-00001", "ST01-00002"] and len(emulator.skus()) == 50


def test_arps_q_fields_and_missing_records(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    found = api.get("/ARPs", q="CARI_KOD='120.01.001'", limit=1, fields="CARI_KOD,CARI_ISIM").json()
    assert found["TotalCount"] == 1
    assert found["Data"][0]["CariTemelBilgi"] == {"CARI_KOD": "120.01.001", "CARI_ISIM": "Bayi 1 Tic. A.Ş."}
    assert api.get("/ARPs/120.01.002").json()["Data"]["CariTemelBilgi"]["CARI_KOD"] == "120.01.002"
    assert failure(api.get("/ARPs/NOPE"))[1].startswith("NOPE")
    code, desc = failure(api.get("/ARPs", q="NOPE = 1"))
    assert code == "207" and "NOPE" in desc
    emulator.configure(missing_record="404")
    assert api.get("/ARPs/NOPE").status_code == 404
    created = api.post("/ARPs", {"CariTemelBilgi": {"CARI_KOD": "120.W.1", "CARI_ISIM": "Ali"}})
    assert created.json()["Data"]["CariTemelBilgi"]["CARI_TIP"] == "A"
    assert (
        failure(api.post("/ARPs", {"CariTemelBilgi": {"CARI_KOD": "120.W.1", "CARI_ISIM": "Ali"}}))[0]
        == "101"
    )
    assert failure(api.post("/ARPs", {"CariTemelBilgi": {"CARI_KOD": "X" * 16, "CARI_ISIM": "Long"}}))
    customers: Any = emulator.customers()
    assert customers[-1]["CariTemelBilgi"]["CARI_KOD"] == "120.W.1"


# -- SQL -----------------------------------------------------------------------------------------------------


def test_queries_and_the_route_setting(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    tsql = (
        "SELECT TOP 3 STOK_KODU, DEPO_KODU, (TOP_GIRIS_MIK - TOP_CIKIS_MIK) FROM TBLSTOKPH WITH (NOLOCK) "
        "WHERE DEPO_KODU = 10 ORDER BY STOK_KODU"
    )
    answer = api.get("/Queries", tsql=tsql).json()
    assert answer["IsSuccessful"] is True and len(answer["Data"]) == 3
    row = answer["Data"][0]
    assert set(row) == {"STOK_KODU", "DEPO_KODU", "Column1"}
    assert Decimal(str(row["Column1"])) == emulator.stock_levels(10)[row["STOK_KODU"].strip()]
    assert api.get("/Query", tsql=tsql).json()["Data"] == answer["Data"]
    assert failure(api.get("/Queries", tsql="DELETE FROM TBLSTSABIT"))[0] == "229"
    emulator.configure(query_routes="Query")
    assert api.get("/Queries", tsql=tsql).status_code == 404
    assert api.post("/Query", tsql).json()["IsSuccessful"] is True


# -- item slips ----------------------------------------------------------------------------------------------


def test_order_slip_saved_read_back_and_duplicate_refused(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    saved = api.post("/ItemSlips", slip())
    assert saved.status_code == 200 and saved.json()["IsSuccessful"] is True
    data = saved.json()["Data"]
    assert data["FatUst"]["FATIRS_NO"] == "WEB000000001001" and data["FatUst"]["EKACK1"] == "#1001"
    assert data["FatUst"]["GENELTOPLAM"] == 240.0 and data["Kalems"][0]["StokKodu"] == "ST01-00007\t"
    code, desc = failure(api.post("/ItemSlips", slip()))
    assert code == "101" and desc == "WEB000000001001 Nolu Evrak Daha önceden kaydedilmiş."
    read = api.get("/ItemSlips/ftSSip;WEB000000001001;").json()
    assert read["Data"]["FatUst"]["Tarih"] == "2026-07-29T00:00:00"
    assert api.get("/ItemSlips/7;WEB000000001001;120.01.001").json()["IsSuccessful"] is True
    assert failure(api.get("/ItemSlips/ftSSip;WEB000000009999;"))[0] == "101"
    orders: Any = emulator.orders()
    assert [o["FatUst"]["EKACK1"] for o in orders] == ["#1001"]
    stats = emulator.stats()
    assert stats.slips_created == 1 and stats.duplicates_rejected == 1
    assert api.http.delete("/ItemSlips/ftSSip;WEB000000001001;", headers=api.headers).json()["IsSuccessful"]
    assert emulator.orders() == []


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"FatUst": {"FATIRS_NO": "SHORT"}}, "204", "15 karakter"),
        ({"FatUst": {"CariKod": "NOPE"}}, "101", "Cari Kod"),
        ({"Kalems": [{"StokKodu": "NOPE", "DEPO_KODU": 10, "STra_GCMIK": 1}]}, "101", "Stok Kodu"),
        ({"Kalems": [{"StokKodu": "ST01-00001", "DEPO_KODU": 0, "STra_GCMIK": 1}]}, "101", "Depo Kodu"),
        ({"Kalems": []}, "101", "kalem"),
        ({"FaturaTip": "ftAmbarG"}, "101", "belge tipi"),
    ],
)
def test_slip_business_errors_are_http_200(
    emu: tuple[NetsisEmulator, Api], change: dict[str, Any], code: str, text: str
) -> None:
    _, api = emu
    body = slip()
    for key, value in change.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    got_code, desc = failure(api.post("/ItemSlips", body))
    assert got_code == code and text in desc


def test_doc_type_forms_numbering_echo_and_forced_errors(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    by_name = slip()
    del by_name["FaturaTip"]
    by_name["docType"] = "ftSSip"
    assert api.post("/ItemSlips", by_name, docType="ftSSip").json()["IsSuccessful"]
    auto = slip("IGNORED")
    auto["KayitliNumaraOtomatikGuncellensin"] = True
    auto["Seri"] = "A"
    assert api.post("/ItemSlips", auto).json()["Data"]["FatUst"]["FATIRS_NO"] == "A00000000000001"
    assert api.post("/ItemSlips/NewNumber", {"DocumentType": "ftSSip", "Code": "A"}).json()["Data"] == (
        "A00000000000002"
    )
    emulator.configure(echo_slip=False)
    assert api.post("/ItemSlips", slip("WEB000000001002")).json() == {
        "IsSuccessful": True,
        "ErrorCode": None,
        "ErrorDesc": None,
    }
    emulator.reject_next_slip("Risk limiti asildi", code="305")
    assert failure(api.post("/ItemSlips", slip("WEB000000001003"))) == ("305", "Risk limiti asildi")
    emulator.reject_next_slip(None)
    assert api.post("/ItemSlips", slip("WEB000000001003")).content == b"null"
    assert len(emulator.orders()) == 3


def test_ship_makes_a_dispatch_note(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(clock=clock)
    api.post("/ItemSlips", slip())
    before = emulator.stock_levels(10)["ST01-00007"]
    number = emulator.ship("#1001", "TRK-9", "Aras")
    assert number == "IRS000000000001"
    assert emulator.stock_levels(10)["ST01-00007"] == before - 2
    dispatch: Any = emulator.dispatches()[0]
    assert dispatch["FatUst"]["EKACK2"] == "TRK-9" and dispatch["FatUst"]["EKACK3"] == "Aras"
    assert dispatch["Kalems"][0]["STra_SIPNUM"] == "WEB000000001001"
    listed = api.get("/ItemSlips", docType="ftSIrs", q="KAYITTARIHI >= '2026-07-25'").json()
    assert [d["FatUst"]["FATIRS_NO"] for d in listed["Data"]] == ["IRS000000000001"]
    assert api.get("/ItemSlips", docType="ftSIrs", q="KAYITTARIHI >= '2026-07-26'").json()["Data"] == []
    with pytest.raises(ValueError, match="already shipped"):
        emulator.ship("WEB000000001001", "TRK-10")
    with pytest.raises(KeyError):
        emulator.ship("#404", "TRK-11")


# -- in-process API, rate limit, faults, admin ---------------------------------------------------------------


def test_generated_catalog_is_deterministic_and_changes_are_reported() -> None:
    one, two = NetsisEmulator(seed=5, items=40), NetsisEmulator(seed=5, items=40)
    assert one.skus() == two.skus() and one.stock_levels(20) == two.stock_levels(20)
    assert one.warehouses == ["10", "20", "30"] and one.price_lists == ["WEB", "BAYI"]
    changed = one.change_stock(0.25, seed=1)
    assert changed == two.change_stock(0.25, seed=1) and len(changed) == 10
    assert one.stock_levels(0) == {s: sum(one.stock_levels(w)[s] for w in (10, 20, 30)) for s in one.skus()}
    repriced = one.change_prices(0.1, seed=2)
    assert all(one.price_levels("WEB")[s] != two.price_levels("WEB")[s] for s in repriced)
    one.set_price(repriced[0], "WEB", Decimal("12.5"))
    one.set_stock(repriced[0], "20", 3)
    assert one.price_levels("WEB")[repriced[0]] == Decimal("12.50") and one.stock_levels(20)[repriced[0]] == 3
    one.reset()
    assert one.price_levels("WEB") == NetsisEmulator(seed=5, items=40).price_levels("WEB")


def test_rate_limit_faults_and_admin_routes(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(NetsisSettings(rate_limit=2, rate_period_s=5), clock=clock)
    assert api.get("/Items").status_code == 200
    limited = api.get("/Items")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "5"
    clock.advance(5)
    admin = httpx.Client(base_url=str(api.http.base_url).removesuffix(API + "/") + "/__sandbox")
    with admin:
        admin.patch("/settings", json={"rate_limit": None})
        admin.put("/faults", json={"rate_5xx": 1.0})
        assert api.get("/Items").status_code == 503
        admin.put("/faults", json={})
        assert admin.get("/state").json()["sessions"] == 1
        assert admin.post("/seats/release").status_code == 204
        assert api.get("/Items").status_code == 401
        api.token = api.login().json()["access_token"]
        api.post("/ItemSlips", slip())
        assert admin.post("/ship", json={"order_no": "#1001", "tracking": "T"}).json()["dispatch_number"]
        assert admin.get("/stats").json()["slips_created"] == 1
        assert "dbpassword" not in admin.get("/settings").json()
        assert admin.post("/tokens/expire").status_code == 204
        assert emulator.sessions() == 0
        assert admin.post("/reset").status_code == 204
        assert emulator.orders() == [] and emulator.dispatches() == []


def test_added_items_show_in_a_delta_read_and_deleted_ones_are_gone(emu: tuple[NetsisEmulator, Api]) -> None:
    emulator, api = emu
    emulator.add_item(
        "NEW-000001",
        name="Yeni Vida",
        vat=Decimal(10),
        stock={"20": Decimal(7)},
        prices={"WEB": Decimal("12.50"), "BAYI": Decimal(10)},
    )
    assert "NEW-000001" in emulator.skus()
    assert emulator.stock_levels(20)["NEW-000001"] == 7 and emulator.stock_levels(10)["NEW-000001"] == 0
    assert emulator.stock_levels(0)["NEW-000001"] == 7
    assert emulator.price_levels("BAYI")["NEW-000001"] == 10
    card = api.get("/Items/NEW-000001").json()["Data"]["StokTemelBilgi"]
    assert (card["Stok_Adi"], card["KDV_Orani"], card["Satis_Fiat1"]) == ("Yeni Vida", 10.0, 12.5)
    repriced = api.get(
        "/Queries",
        tsql="SELECT STOKKODU, FIYAT1 FROM TBLSTOKFIAT "
        "WHERE FIYATGRUBU = 'WEB' AND DUZELTMETARIHI >= '2026-07-25'",
    ).json()["Data"]
    assert repriced == [{"STOKKODU": "NEW-000001", "FIYAT1": 12.5}]
    with pytest.raises(ValueError, match="exists"):
        emulator.add_item("NEW-000001")
    with pytest.raises(KeyError, match="KAMPANYA"):
        emulator.add_item("NEW-000002", prices={"KAMPANYA": Decimal(1)})

    emulator.delete_item("NEW-000001")
    assert "NEW-000001" not in emulator.skus() and "NEW-000001" not in emulator.stock_levels(0)
    assert "NEW-000001" not in emulator.price_levels("WEB")
    assert api.get("/Items/NEW-000001").json()["IsSuccessful"] is False
    emulator.delete_item("ST01-00007")  # a stored code with a trailing TAB, by its trimmed SKU
    assert "ST01-00007" not in emulator.skus() and "ST01-00007" not in emulator.stock_levels(10)
    with pytest.raises(KeyError):
        emulator.delete_item("NEW-000001")
