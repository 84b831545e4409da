"""The Plentymarkets emulator over real HTTP: auth, paging, relations, filters, limits, faults, mutations."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connector_pipelines.sandbox.plentymarkets import PlentyEmulator
from connector_pipelines.sandbox.plentymarkets_catalog import PlentyCatalog
from connector_pipelines.sandbox.plentymarkets_params import parse_date
from connector_pipelines.sandbox.plentymarkets_records import gtin13
from connector_pipelines.sandbox.plentymarkets_render import VARIATION_RELATIONS, Renderer
from connector_pipelines.sandbox.plentymarkets_settings import PlentySettings, RateWindow
from connector_pipelines.sandbox.server import EmulatorServer

CREDENTIALS = {"username": "sandbox", "password": "sandbox-password"}
ALL_WITH = ",".join(sorted(VARIATION_RELATIONS))


def login(client: httpx.Client, prefix: str = "") -> str:
    response = client.post(f"{prefix}/rest/login", json=CREDENTIALS)
    assert response.status_code == 200, response.text
    token: str = response.json()["accessToken"]
    return token


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@pytest.fixture(scope="module")
def emulator() -> PlentyEmulator:
    return PlentyEmulator(products=30, variants=3, seed=5)


@pytest.fixture(scope="module")
def server(emulator: PlentyEmulator) -> Iterator[EmulatorServer]:
    with emulator.serve() as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as c:
        c.headers["Authorization"] = f"Bearer {login(c)}"
        yield c


@pytest.fixture
def fresh() -> Iterator[tuple[PlentyEmulator, httpx.Client]]:
    """A private emulator for tests that mutate state or change settings."""
    emu = PlentyEmulator(products=12, variants=3, seed=11)
    with emu.serve() as srv, httpx.Client(base_url=srv.base_url, timeout=10) as c:
        c.headers["Authorization"] = f"Bearer {login(c)}"
        yield emu, c


def serve_with(settings: PlentySettings, **kw: int) -> tuple[PlentyEmulator, EmulatorServer]:
    emu = PlentyEmulator(settings, **kw)
    return emu, emu.serve().start()


# -- authentication ----------------------------------------------------------------------------------------


def test_login_accepts_json_form_and_query_and_answers_both_spellings(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.base_url) as c:
        answers = [
            c.post("/rest/login", json=CREDENTIALS),
            c.post("/rest/login", data=CREDENTIALS),
            c.post(f"/rest/login?username={CREDENTIALS['username']}&password={CREDENTIALS['password']}"),
        ]
        for response in answers:
            assert response.status_code == 200
            body = response.json()
            assert body["token_type"] == body["tokenType"] == "Bearer"
            assert body["expires_in"] == body["expiresIn"] == 86400
            assert body["access_token"] == body["accessToken"]
            assert body["refresh_token"] == body["refreshToken"]
            assert body["max_current_sessions"] >= body["concurrent_sessions"] >= 1
            assert response.headers["content-type"] == "application/json"
            ok = c.get("/rest/webstores", headers={"Authorization": f"Bearer {body['access_token']}"})
            assert ok.status_code == 200
        bad = c.post("/rest/login", json={"username": "sandbox", "password": "wrong"})
        assert bad.status_code == 401
        # league/oauth2-server's invalidCredentials, not the REST error envelope
        assert bad.json() == {
            "error": "invalid_credentials",
            "message": "The user credentials were incorrect.",
        }
        missing = c.post("/rest/login", json={"username": "sandbox"})
        assert missing.status_code == 400
        assert missing.json()["error"] == "invalid_request"
        assert missing.json()["hint"] == "Check the `password` parameter"


def test_missing_invalid_and_expired_tokens_get_401() -> None:
    emu, srv = serve_with(PlentySettings(token_ttl_s=0.3), products=3, variants=1)
    try:
        with httpx.Client(base_url=srv.base_url) as c:
            assert c.get("/rest/items").status_code == 401
            assert c.get("/rest/items", headers={"Authorization": "Bearer nope"}).status_code == 401
            token = login(c)
            assert c.post("/rest/login", json=CREDENTIALS).json()["expires_in"] == 1
            auth = {"Authorization": f"Bearer {token}"}
            assert c.get("/rest/items", headers=auth).status_code == 200
            time.sleep(0.4)
            expired = c.get("/rest/items", headers=auth)
            assert expired.status_code == 401
            assert "X-Plenty-Global-Short-Period-Limit" in expired.headers
            token = login(c)
            emu.expire_tokens()
            assert c.get("/rest/items", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    finally:
        srv.stop()


def test_refresh_by_json_form_or_bearer_and_logout(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.base_url) as c:
        first = c.post("/rest/login", json=CREDENTIALS).json()
        by_json = c.post("/rest/login/refresh", json={"refresh_token": first["refresh_token"]})
        assert by_json.status_code == 200
        assert set(by_json.json()) == {"accessToken", "tokenType", "expiresIn", "refreshToken"}
        # the refresh token rotates: the old one is spent
        assert (
            c.post("/rest/login/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
        )
        by_form = c.post("/rest/login/refresh", data={"refresh_token": by_json.json()["refreshToken"]})
        assert by_form.status_code == 200
        token = by_form.json()["accessToken"]
        by_bearer = c.post("/rest/login/refresh", headers={"Authorization": f"Bearer {token}"})
        assert by_bearer.status_code == 200
        assert c.post("/rest/login/refresh").status_code == 401

        auth = {"Authorization": f"Bearer {login(c)}"}
        # DELETE /rest/login is not a route of the real API (only POST /rest/login is)
        assert c.delete("/rest/login", headers=auth).status_code == 404
        assert c.post("/rest/logout", headers=auth).status_code == 200
        assert c.get("/rest/webstores", headers=auth).status_code == 401


# -- paging ------------------------------------------------------------------------------------------------


def test_page_envelope_default_cap_and_clamp(client: httpx.Client) -> None:
    first = client.get("/rest/items/variations").json()
    assert {k: first[k] for k in ("page", "totalsCount", "isLastPage", "lastPageNumber", "itemsPerPage")} == {
        "page": 1,
        "totalsCount": 90,
        "isLastPage": False,
        "lastPageNumber": 2,
        "itemsPerPage": 50,
    }
    assert (first["firstOnPage"], first["lastOnPage"], len(first["entries"])) == (1, 50, 50)
    second = client.get("/rest/items/variations", params={"page": 2}).json()
    assert (second["isLastPage"], second["firstOnPage"], second["lastOnPage"]) == (True, 51, 90)
    capped = client.get("/rest/items/variations", params={"itemsPerPage": 1000}).json()
    assert (capped["itemsPerPage"], len(capped["entries"])) == (250, 90)
    clamped = client.get("/rest/items/variations", params={"page": 9, "itemsPerPage": 40}).json()
    assert (clamped["page"], clamped["isLastPage"], len(clamped["entries"])) == (3, True, 10)
    ids = [
        e["id"]
        for p in (1, 2)
        for e in client.get("/rest/items/variations", params={"page": p}).json()["entries"]
    ]
    assert ids == sorted(set(ids)) and len(ids) == 90


def test_page_quirks_are_configurable() -> None:
    settings = PlentySettings(
        out_of_range_page="empty", items_per_page_as_string=["/rest/items"], max_items_per_page=20
    )
    _, srv = serve_with(settings, products=25, variants=1)
    try:
        with httpx.Client(base_url=srv.base_url) as c:
            c.headers["Authorization"] = f"Bearer {login(c)}"
            items = c.get("/rest/items", params={"itemsPerPage": 100, "page": 7}).json()
            assert (items["itemsPerPage"], items["page"], items["entries"], items["lastPageNumber"]) == (
                "20",
                7,
                [],
                2,
            )
            assert c.get("/rest/items/variations").json()["itemsPerPage"] == 20
    finally:
        srv.stop()


def test_contract_open_points_are_settings() -> None:
    settings = PlentySettings(
        error_style="flat",
        login_encodings=["json"],
        refresh_body_keys="both",
        bare_array_routes=[],
        max_sessions=1,
        session_overflow="reject",
        logout_routes=["delete_login"],
        login_error_style="contract",
        prices_gross=False,
    )
    emu, srv = serve_with(settings, products=3, variants=1)
    try:
        with httpx.Client(base_url=srv.base_url) as c:
            form = c.post("/rest/login", data=CREDENTIALS)  # form logins switched off
            assert (form.status_code, form.json()) == (401, {"code": 401, "message": "Missing credentials."})
            wrong = c.post("/rest/login", json={**CREDENTIALS, "password": "wrong"})
            assert wrong.json() == {"code": 401, "message": "Invalid credentials."}
            token = login(c)
            assert c.post("/rest/login", json=CREDENTIALS).status_code == 401  # the one session is taken
            auth = {"Authorization": f"Bearer {token}"}
            refreshed = c.post("/rest/login/refresh", headers=auth).json()
            assert refreshed["access_token"] == refreshed["accessToken"]
            auth = {"Authorization": f"Bearer {refreshed['accessToken']}"}
            assert c.get("/rest/webstores", headers=auth).json()["totalsCount"] == 3
            bad = c.get("/rest/items/variations", params={"nope": 1}, headers=auth).json()
            assert bad["code"] == 422 and bad["validation_errors"]
            variation = emu.catalog.variations[1000]
            net = c.get(
                "/rest/items/variations", params={"id": 1000, "with": "variationSalesPrices"}, headers=auth
            )
            price = net.json()["entries"][0]["variationSalesPrices"][0]["price"]
            gross = PlentyCatalog(3, 1, 1).default_price(variation, 1)
            assert price == round(gross / (1 + emu.catalog.vat_rate(variation.vat_id) / 100), 2)
            assert c.post("/rest/logout", headers=auth).status_code == 404  # only DELETE /rest/login is on
            assert c.delete("/rest/login", headers=auth).status_code == 200
            assert c.get("/rest/webstores", headers=auth).status_code == 401
    finally:
        srv.stop()


# -- relations and languages -------------------------------------------------------------------------------


def test_with_includes_requested_relations_and_omits_the_rest(
    client: httpx.Client, server: EmulatorServer
) -> None:
    plain = client.get("/rest/items/variations", params={"itemsPerPage": 1}).json()["entries"][0]
    assert not VARIATION_RELATIONS & plain.keys()
    full = client.get("/rest/items/variations", params={"with": ALL_WITH, "itemsPerPage": 3}).json()[
        "entries"
    ]
    for entry in full:
        assert entry.keys() >= VARIATION_RELATIONS
        assert entry["variationSalesPrices"] and entry["variationCategories"] and entry["stock"]
        assert entry["variationBarcodes"][0]["code"] == gtin13(entry["id"], 5)
        assert entry["itemImages"][0]["url"].startswith(f"{server.base_url}/images/")
        assert (entry["parent"] is None) == entry["isMain"]
    some = client.get(
        "/rest/items/variations", params={"with": "unit,variationClients", "itemsPerPage": 1}
    ).json()
    assert VARIATION_RELATIONS & some["entries"][0].keys() == {"unit", "variationClients"}
    assert set(some["entries"][0]["unit"]) == {"unitId", "unitCombinationId", "content"}


def test_lang_filters_texts_names_and_details(client: httpx.Client) -> None:
    items = client.get("/rest/items", params={"itemsPerPage": 2}).json()["entries"]
    assert [t["lang"] for t in items[0]["texts"]] == ["de", "en"]
    english = client.get("/rest/items", params={"lang": "en", "itemsPerPage": 2}).json()["entries"]
    assert [t["lang"] for t in english[0]["texts"]] == ["en"]
    categories = client.get("/rest/categories", params={"with": "details,clients"}).json()["entries"]
    assert {d["lang"] for c in categories for d in c["details"]} == {"de"}  # system language by default
    assert all(isinstance(d["position"], str) for c in categories for d in c["details"])
    both = client.get("/rest/categories", params={"with": "details", "lang": "de,en", "type": "item"}).json()
    assert {d["lang"] for c in both["entries"] for d in c["details"]} == {"de", "en"}
    assert {c["type"] for c in both["entries"]} == {"item"}
    attributes = client.get(
        "/rest/items/attributes", params={"with": "names,values.valueNames", "lang": "en"}
    )
    color = attributes.json()["entries"][0]
    assert [n["lang"] for n in color["attributeNames"]] == ["en"]
    assert color["values"] and [n["lang"] for n in color["values"][0]["valueNames"]] == ["en"]
    values = client.get(f"/rest/items/attributes/{color['id']}/values", params={"with": "names"}).json()
    assert values["totalsCount"] == len(color["values"]) and "valueNames" in values["entries"][0]


# -- filters -----------------------------------------------------------------------------------------------


def test_unknown_variation_filter_is_422_but_items_ignore_it(client: httpx.Client) -> None:
    bad = client.get("/rest/items/variations", params={"name": "x"})
    assert bad.status_code == 422
    assert bad.json()["error"]["validation_errors"]
    assert client.get("/rest/items", params={"nmae": "typo"}).json()["totalsCount"] == 30
    assert client.get("/rest/items/variations", params={"isActive": "maybe"}).status_code == 422


def test_variation_filters(client: httpx.Client, emulator: PlentyEmulator) -> None:
    catalog = emulator.catalog
    mains = client.get("/rest/items/variations", params={"isMain": "true", "itemsPerPage": 250}).json()
    assert mains["totalsCount"] == 30 and all(e["isMain"] for e in mains["entries"])
    by_item = client.get("/rest/items/variations", params={"itemId": "100,101"}).json()["entries"]
    assert {e["itemId"] for e in by_item} == {100, 101} and len(by_item) == 6
    by_id = client.get("/rest/items/variations", params={"id": "1000,1004"}).json()["entries"]
    assert [e["id"] for e in by_id] == [1000, 1004]
    barcode = client.get("/rest/items/variations", params={"barcode": gtin13(1007, 5)}).json()["entries"]
    assert [e["id"] for e in barcode] == [1007]
    second_client = catalog.plenty_ids[2]
    visible = client.get(
        "/rest/items/variations", params={"plentyId": second_client, "itemsPerPage": 250}
    ).json()
    expected = [
        v.id for v in catalog.variations.values() if second_client in catalog.items[v.item_id].plenty_ids
    ]
    assert [e["id"] for e in visible["entries"]] == expected
    number = client.get("/rest/items/variations", params={"numberExact": "A-000102-002"}).json()["entries"]
    assert [(e["itemId"], e["position"]) for e in number] == [(102, 1)]


def test_delta_filter_date_formats(client: httpx.Client, emulator: PlentyEmulator) -> None:
    stamps = sorted(v.updated for v in emulator.catalog.variations.values())
    start = stamps[60]
    expected = sum(1 for s in stamps if s >= start)
    iso = emulator.catalog.time.iso(start)
    assert "+" in iso
    variants = [
        f"updatedBetween={int(start)}",
        f"updatedBetween={quote(iso)}",
        f"updatedBetween={iso}",  # unencoded '+' arrives as a space
        f"updatedBetween={quote(iso)},{int(time.time())}",
        f"updatedBetween={quote(datetime.fromtimestamp(start).astimezone().isoformat())}",
    ]
    for query in variants:
        body = client.get(f"/rest/items/variations?{query}&itemsPerPage=250").json()
        assert body["totalsCount"] == expected, query
    bounded = client.get(
        "/rest/items/variations", params={"updatedBetween": f"{int(stamps[0])},{int(start) - 1}"}
    )
    assert bounded.json()["totalsCount"] == 90 - expected
    for name, attr in (("createdBetween", "created"), ("relatedUpdatedBetween", "related_updated")):
        values = sorted(getattr(v, attr) for v in emulator.catalog.variations.values())
        got = client.get("/rest/items/variations", params={name: int(values[45])}).json()["totalsCount"]
        assert got == sum(1 for x in values if x >= values[45])
    assert client.get("/rest/items/variations", params={"updatedBetween": "yesterday-ish"}).status_code == 422
    items = client.get("/rest/items", params={"variationUpdatedBetween": int(start)}).json()["entries"]
    assert {e["id"] for e in items} == {
        v.item_id for v in emulator.catalog.variations.values() if v.updated >= start
    }


def test_parse_date_leniency_is_configurable() -> None:
    tz = PlentyCatalog(1, 1).time.zone
    assert parse_date("2024-03-01T10:00:00 01:00", tz=tz) == parse_date("2024-03-01T09:00:00Z", tz=tz)
    with pytest.raises(ValueError, match="invalid date"):
        parse_date("2024-03-01T10:00:00 01:00", tz=tz, plus_as_space=False)
    assert parse_date("1700000000", tz=tz) == 1_700_000_000
    assert abs(parse_date("-1 day", tz=tz) - (time.time() - 86400)) < 5
    strict = PlentyEmulator(PlentySettings(accept_open_between=False), products=2, variants=1)
    with strict.serve() as srv, httpx.Client(base_url=srv.base_url) as c:
        auth = {"Authorization": f"Bearer {login(c)}"}
        assert c.get("/rest/items/variations?updatedBetween=1", headers=auth).status_code == 422
        assert c.get("/rest/items/variations?updatedBetween=1,2", headers=auth).status_code == 200


def test_items_or_filter(client: httpx.Client, emulator: PlentyEmulator) -> None:
    query = f"or=(id=100&flagOne={emulator.catalog.items[105].flag_one})&itemsPerPage=250"
    ids = {e["id"] for e in client.get(f"/rest/items?{query}").json()["entries"]}
    flag = emulator.catalog.items[105].flag_one
    assert ids == {i.id for i in emulator.catalog.items.values() if i.id == 100 or i.flag_one == flag}
    encoded = client.get(f"/rest/items?or={quote('(id=100&id=101)')}").json()["entries"]
    assert {e["id"] for e in encoded} == {100, 101}


def test_reference_endpoints(client: httpx.Client, emulator: PlentyEmulator) -> None:
    for path in (
        "/rest/webstores",
        "/rest/stockmanagement/warehouses",
        "/rest/items/100/variations/1000/stock",
    ):
        assert isinstance(client.get(path).json(), list), path
    assert client.get("/rest/items/101/variations/1000/stock").status_code == 404
    vat = client.get("/rest/vat/standard").json()
    assert vat["vatRates"][0] == {"id": 0, "name": None, "vatRate": "19.00"}
    prices = {p["id"]: p for p in client.get("/rest/items/sales_prices").json()["entries"]}
    assert {p["type"] for p in prices.values()} == {"default", "rrp", "specialOffer"}
    assert (
        prices[1]["clients"][0]["plentyId"] == -1 and prices[1]["customerClasses"][0]["customerClassId"] == -1
    )
    assert {p["currencies"][0]["currency"] for p in prices.values()} == {"EUR", "CHF", "GBP"}
    assert {"names", "referrers", "countries"} <= prices[3].keys()
    units = client.get("/rest/items/units").json()["entries"]
    assert units[0]["unitOfMeasurement"] == "C62"
    assert client.get("/rest/items/barcodes").json()["entries"][0]["type"] == "GTIN_13"
    assert client.get("/rest/items/manufacturers").json()["totalsCount"] == len(
        emulator.catalog.manufacturers
    )
    vsp = client.get("/rest/items/variations/variation_sales_prices", params={"variationId": 1000}).json()
    assert {e["salesPriceId"] for e in vsp["entries"]} == set(emulator.catalog.variations[1000].price_ids)
    stock = client.get(
        "/rest/stockmanagement/stock", params={"columns[0]": "variationId", "columns[1]": "stockNet"}
    )
    assert set(stock.json()["entries"][0]) == {"variationId", "stockNet"}
    assert client.get("/rest/no/such/route").status_code == 404


# -- rate limits and faults ----------------------------------------------------------------------------------


def test_rate_limit_headers_and_429_when_exhausted() -> None:
    settings = PlentySettings.realistic(short_window=RateWindow(limit=6, period_s=20))
    emu, srv = serve_with(settings, products=3, variants=1)
    try:
        with httpx.Client(base_url=srv.base_url) as c:
            c.headers["Authorization"] = f"Bearer {login(c)}"
            first = c.get("/rest/items/variations")
            assert first.headers["X-Plenty-Global-Short-Period-Calls-Left"] == "4"  # variations cost 2
            assert first.headers["X-Plenty-Global-Long-Period-Limit"] == "166000"
            assert "X-Plenty-Route-Calls-Left" in first.headers and "X-Plenty-Route-Decay" in first.headers
            assert c.get("/rest/items").headers["X-Plenty-Global-Short-Period-Calls-Left"] == "3"
            assert c.get("/rest/items/variations").status_code == 200
            limited = c.get("/rest/items/variations")
            assert limited.status_code == 429
            assert 1 <= int(limited.headers["Retry-After"]) <= 20
            assert limited.json() == {"error": {"code": 429, "message": "short period read limit reached"}}
            assert emu.stats().rate_limited == 1
    finally:
        srv.stop()


def test_fault_injection_answers_in_plenty_shape(fresh: tuple[PlentyEmulator, httpx.Client]) -> None:
    emu, c = fresh
    assert c.post("/__sandbox/faults", json={"storm_429": 2, "retry_after_s": 3}).status_code == 200
    for _ in range(2):
        storm = c.get("/rest/items/variations")
        assert storm.status_code == 429
        assert storm.headers["Retry-After"] == "3"
        assert storm.headers["X-Plenty-Global-Short-Period-Calls-Left"] == "0"
        assert storm.json()["error"]["message"] == "short period read limit reached"
    assert c.get("/rest/items/variations").status_code == 200
    c.post("/__sandbox/faults", json={"rate_5xx": 1.0, "status_5xx": 503, "path_prefix": "/rest/items/manu"})
    assert c.get("/rest/items").status_code == 200
    outage = c.get("/rest/items/manufacturers")
    assert outage.status_code == 503 and outage.json()["error"]["code"] == 503
    assert c.get("/__sandbox/faults").json()["rate_5xx"] == 1.0
    emu.faults.clear()
    assert c.get("/rest/items/manufacturers").status_code == 200
    assert emu.stats().faults == {"429": 2, "5xx": 1, "slow": 0, "drop": 0}


# -- mutations -----------------------------------------------------------------------------------------------


def get_variation(
    c: httpx.Client, variation_id: int, with_: str = "variationSalesPrices,stock"
) -> dict[str, Any]:
    entries = c.get("/rest/items/variations", params={"id": variation_id, "with": with_}).json()["entries"]
    assert len(entries) == 1
    entry: dict[str, Any] = entries[0]
    return entry


def test_mutations_move_the_timestamps_plenty_moves(fresh: tuple[PlentyEmulator, httpx.Client]) -> None:
    emu, c = fresh
    before = get_variation(c, 1001)
    since = int(time.time())

    emu.update_variation(1001, name="Renamed")
    renamed = get_variation(c, 1001)
    assert renamed["name"] == "Renamed" and ts(renamed["updatedAt"]) >= since
    assert renamed["relatedUpdatedAt"] == before["relatedUpdatedAt"]
    changed = c.get("/rest/items/variations", params={"updatedBetween": since}).json()["entries"]
    assert [e["id"] for e in changed] == [1001]

    emu.set_price(1002, 12.34)
    priced = get_variation(c, 1002)
    assert ts(priced["relatedUpdatedAt"]) >= since
    assert next(p for p in priced["variationSalesPrices"] if p["salesPriceId"] == 1)["price"] == 12.34
    assert ts(priced["updatedAt"]) < since
    vsp = c.get("/rest/items/variations/variation_sales_prices", params={"updatedAt": since}).json()[
        "entries"
    ]
    assert [(p["variationId"], p["salesPriceId"], p["price"]) for p in vsp] == [(1002, 1, 12.34)]
    related = c.get("/rest/items/variations", params={"relatedUpdatedBetween": since}).json()["entries"]
    assert [e["id"] for e in related] == [1002]

    untouched = get_variation(c, 1003)
    emu.set_stock(1003, 77)
    stocked = get_variation(c, 1003)
    assert next(s for s in stocked["stock"] if s["warehouseId"] == 1)["physicalStock"] == 77
    assert (stocked["updatedAt"], stocked["relatedUpdatedAt"]) == (
        untouched["updatedAt"],
        untouched["relatedUpdatedAt"],
    )
    now = datetime.fromtimestamp(since).astimezone().isoformat()
    stock = c.get("/rest/stockmanagement/stock", params={"updatedAtFrom": now}).json()["entries"]
    assert [(s["variationId"], s["stockPhysical"]) for s in stock] == [(1003, 77)]

    emu.update_item(101, texts={"en": {"name1": "Fresh name"}})
    item = c.get("/rest/items", params={"updatedBetween": since, "lang": "en"}).json()["entries"]
    assert [(i["id"], i["texts"][0]["name1"]) for i in item] == [(101, "Fresh name")]


def test_add_delete_deactivate_move_and_random(fresh: tuple[PlentyEmulator, httpx.Client]) -> None:
    emu, c = fresh
    added = emu.add_item(variants=4)
    new = c.get(
        "/rest/items/variations", params={"itemId": added.item_id, "with": "variationAttributeValues"}
    )
    entries = new.json()["entries"]
    assert [e["id"] for e in entries] == added.variation_ids
    assert sum(e["isMain"] for e in entries) == 1
    combos = {tuple(a["valueId"] for a in e["variationAttributeValues"]) for e in entries}
    assert len(combos) == 4

    deleted = emu.delete_item(100)
    assert c.get("/rest/items", params={"id": 100}).json()["totalsCount"] == 0
    assert c.get("/rest/items/variations", params={"id": deleted.variation_ids[0]}).json()["entries"] == []

    emu.deactivate_variation(1004)
    assert get_variation(c, 1004)["isActive"] is False

    leaf = next(cat for cat in emu.catalog.categories.values() if cat.level == 3)
    emu.move_category(leaf.id, None)
    moved = c.get("/rest/categories", params={"level": 1, "with": "details"}).json()["entries"]
    assert leaf.id in {cat["id"] for cat in moved}

    result = c.post("/__sandbox/mutate", json={"op": "change_random", "fraction": 0.25, "seed": 3}).json()
    assert len(result["changes"]) == round(len(emu.catalog.variations) * 0.25)
    assert {ch["kind"] for ch in result["changes"]} <= {"variation_updated", "price_changed", "stock_changed"}
    http_price = c.post("/__sandbox/mutate", json={"op": "set_price", "variation_id": 1005, "price": 5})
    assert http_price.json()["changes"][0]["kind"] == "price_changed"
    assert c.post("/__sandbox/mutate", json={"op": "delete_item", "item_id": 100}).status_code == 404
    assert c.post("/__sandbox/mutate", json={"op": "nope"}).status_code == 422

    state = c.get("/__sandbox/state").json()["catalog"]
    assert (state["items"], state["variations"]) == (12, 12 * 3 + 1)
    stats = c.get("/__sandbox/stats").json()
    assert stats["requests"]["GET /rest/items/variations"] >= 3
    assert c.post("/__sandbox/stats/reset").json()["total"] == 0


# -- catalog -------------------------------------------------------------------------------------------------


def test_catalog_is_deterministic_and_consistent() -> None:
    def rendered(seed: int) -> list[dict[str, object]]:
        catalog = PlentyCatalog(25, 4, seed)
        renderer = Renderer(catalog, "http://sandbox/")
        return [renderer.variation(v, VARIATION_RELATIONS) for v in catalog.variations.values()]

    assert rendered(3) == rendered(3)
    assert rendered(3) != rendered(4)

    catalog = PlentyCatalog(40, 5, 9)
    now = time.time()
    for item in catalog.items.values():
        variations = [catalog.variations[v] for v in item.variation_ids]
        assert sum(v.is_main for v in variations) == 1 and variations[0].id == item.main_variation_id
        assert len({v.attribute_value_ids for v in variations}) == 5
        assert all(len(v.attribute_value_ids) == len(item.attribute_ids) for v in variations)
        assert item.created < item.updated <= now
        for v in variations:
            assert v.created < v.updated <= now and v.created < v.related_updated <= now
            code = catalog.barcode(v)
            assert sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(code)) % 10 == 0
    assert max(c.level for c in catalog.categories.values()) >= 3
    assert len({v.number for v in catalog.variations.values()}) == len(catalog.variations)


def test_images_are_served_under_a_mount_prefix() -> None:
    emu = PlentyEmulator(products=4, variants=2, seed=2)
    outer = Starlette(routes=[Mount("/tenants/a", app=emu.app)])
    with EmulatorServer(outer) as srv, httpx.Client(base_url=f"{srv.base_url}/tenants/a") as c:
        c.headers["Authorization"] = f"Bearer {login(c)}"
        entry = c.get("/rest/items/variations", params={"with": "itemImages", "itemsPerPage": 1}).json()[
            "entries"
        ][0]
        image = entry["itemImages"][0]
        assert image["url"].startswith(f"{srv.base_url}/tenants/a/images/item/images/")
        png = image["fileType"] == "png"
        for key in ("url", "urlMiddle", "urlPreview", "urlSecondPreview"):
            response = httpx.get(image[key])
            assert response.status_code == 200
            assert response.headers["content-type"] == ("image/png" if png else "image/jpeg")
            assert response.content.startswith(b"\x89PNG" if png else b"\xff\xd8")
        full = httpx.get(image["url"]).content
        assert len(full) == image["size"] and hashlib.md5(full).hexdigest() == image["md5Checksum"]
        assert httpx.get(image["url"].replace("/full/", "/huge/")).status_code == 404
        logo = c.get("/rest/items/manufacturers").json()["entries"][0]["logo"]
        assert httpx.get(logo).headers["content-type"] == "image/png"


def test_images_uploaded_and_deleted_are_related_changes_of_the_variations(
    fresh: tuple[PlentyEmulator, httpx.Client],
) -> None:
    emu, c = fresh
    item = emu.catalog.items[101]
    since = int(time.time())
    first = item.image_ids[0]
    added = emu.add_image(101, file_of=first)
    related = c.get("/rest/items/variations", params={"relatedUpdatedBetween": since}).json()["entries"]
    assert {e["itemId"] for e in related} == {101}, "images are related information"
    images = {
        i["id"]: i
        for i in c.get("/rest/items", params={"id": 101, "with": "itemImages"}).json()["entries"][0][
            "itemImages"
        ]
    }
    copy, original = images[added.image_id or 0], images[first]
    assert copy["md5Checksum"] == original["md5Checksum"] and copy["url"] != original["url"]
    assert httpx.get(copy["url"]).content == httpx.get(original["url"]).content
    assert copy["position"] == max(i["position"] for i in images.values())

    linked = next(v for v in item.variation_ids if first in emu.catalog.variations[v].image_ids)
    emu.delete_image(first)
    assert first not in {
        i["id"]
        for i in c.get("/rest/items", params={"id": 101, "with": "itemImages"}).json()["entries"][0][
            "itemImages"
        ]
    }
    assert get_variation(c, linked, "images")["images"] == []
    assert httpx.get(original["url"]).status_code == 404
    with pytest.raises(KeyError):
        emu.delete_image(first)
