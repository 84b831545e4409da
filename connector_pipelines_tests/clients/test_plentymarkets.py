"""PlentymarketsClient against an httpx.MockTransport fake written from contracts/plentymarkets.md."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import orjson
import pytest

from connector_pipelines.clients.http import ApiError, AuthError, RetrySettings
from connector_pipelines.clients.plentymarkets import (
    InvalidRecordError,
    PlentymarketsClient,
)

USERNAME = "rest-user"
PASSWORD = "pw-Sup3r-S3cret-77"
TOKENS = ["tok-AAAA-1111", "tok-BBBB-2222", "tok-CCCC-3333", "tok-DDDD-4444"]
REFRESH = "refresh-ZZZZ-9999"
BASE = "https://p12345.my.plentysystems.com"

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": "application/json", **(headers or {})}
    )


def login_body(token: str, style: str = "both", expires_in: int = 86400) -> dict[str, object]:
    snake = {"token_type": "Bearer", "expires_in": expires_in, "access_token": token}
    camel = {"tokenType": "Bearer", "expiresIn": expires_in, "accessToken": token}
    if style == "snake":
        return snake
    if style == "camel":
        return camel
    return {
        **snake,
        "refresh_token": REFRESH,
        "concurrent_sessions": 2,
        "max_current_sessions": 40,
        **camel,
        "refreshToken": REFRESH,
    }


def envelope(
    entries: Sequence[object],
    page: int,
    last: int,
    *,
    per_page: object = 100,
    total: int | None = None,
    is_last: bool | None = None,
) -> dict[str, object]:
    return {
        "page": page,
        "totalsCount": total if total is not None else len(entries),
        "isLastPage": page >= last if is_last is None else is_last,
        "lastPageNumber": last,
        "firstOnPage": 1,
        "lastOnPage": len(entries),
        "itemsPerPage": per_page,
        "entries": list(entries),
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakePlenty:
    """Login/refresh/logout plus per-path handlers; records every request."""

    def __init__(self, login_style: str = "both", expires_in: int = 86400) -> None:
        self.login_style = login_style
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []
        self.routes: dict[str, Handler] = {}
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.refresh_ok = True

    def issue(self) -> str:
        token = TOKENS[len(self.issued)]
        self.issued.append(token)
        self.valid.add(token)
        return token

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/rest/login" and request.method == "POST":
            creds = orjson.loads(request.content)
            if creds != {"username": USERNAME, "password": PASSWORD}:
                # A careless server echoing the credentials: they must still not leak.
                return json_response(401, {"error": {"code": 401, "message": f"bad login {creds}"}})
            return json_response(200, login_body(self.issue(), self.login_style, self.expires_in))
        if path == "/rest/login/refresh":
            form = parse_qs(request.content.decode())
            if not self.refresh_ok or form.get("refresh_token") != [REFRESH]:
                return json_response(401, {"error": {"code": 401, "message": "invalid refresh token"}})
            token = self.issue()
            return json_response(
                200,
                {"accessToken": token, "tokenType": "Bearer", "expiresIn": 86400, "refreshToken": REFRESH},
            )
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid:
            return json_response(401, {"error": {"code": 401, "message": "Unauthenticated."}})
        if (request.method, path) == ("POST", "/rest/logout"):
            self.valid.discard(auth.removeprefix("Bearer "))
            return json_response(200, {})
        handler = self.routes.get(path)
        if handler is None:
            return json_response(404, {"error": {"code": 404, "message": "Not found"}})
        return handler(request)

    def data_requests(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


def make_client(
    fake: FakePlenty, *, lang: str = "de", strict: bool = False, retry: RetrySettings | None = None
) -> tuple[PlentymarketsClient, list[float], FakeClock]:
    sleeps: list[float] = []
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    client = PlentymarketsClient(
        BASE,
        USERNAME,
        PASSWORD,
        transport=httpx.MockTransport(fake),
        sleep=sleep,
        clock=clock,
        rng=random.Random(1),
        lang=lang,
        strict=strict,
        retry=retry,
    )
    return client, sleeps, clock


def simple_route(body: object, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: json_response(200, body, headers)


UNIT = {
    "id": 1,
    "position": 1,
    "unitOfMeasurement": "C62",
    "isDecimalPlacesAllowed": False,
    "updatedAt": "2019-02-25T08:08:10+00:00",
    "createdAt": "2014-12-24T00:00:00+00:00",
    "names": [{"unitId": 1, "lang": "de", "name": "Stück"}, {"unitId": 1, "lang": "en", "name": "piece"}],
}


def unit(i: int) -> dict[str, object]:
    return {**UNIT, "id": i}


# --- login ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["both", "camel", "snake"])
def test_login_is_lazy_json_and_reads_either_token_spelling(style: str) -> None:
    fake = FakePlenty(login_style=style)
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, _ = make_client(fake)
    assert fake.requests == []
    assert [u.id for u in client.iter_units()] == [1]
    login, call = fake.requests
    assert login.url.path == "/rest/login"
    assert login.headers["Content-Type"] == "application/json"
    assert orjson.loads(login.content) == {"username": USERNAME, "password": PASSWORD}
    assert call.headers["Authorization"] == f"Bearer {TOKENS[0]}"
    assert all(r.headers["Accept"] == "application/json" for r in fake.requests)


def test_base_url_must_not_contain_rest() -> None:
    with pytest.raises(ValueError, match="/rest"):
        PlentymarketsClient(f"{BASE}/rest", USERNAME, PASSWORD)
    with pytest.raises(ValueError, match="/rest"):
        PlentymarketsClient(f"{BASE}/rest/", USERNAME, PASSWORD)


def test_relogin_on_401_without_refresh_token() -> None:
    fake = FakePlenty(login_style="camel")
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, _ = make_client(fake)
    list(client.iter_units())
    fake.valid.clear()  # the session was dropped server-side
    assert [u.id for u in client.iter_units()] == [1]
    paths = [r.url.path for r in fake.requests]
    assert paths == [
        "/rest/login",
        "/rest/items/units",
        "/rest/items/units",
        "/rest/login",
        "/rest/items/units",
    ]
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {TOKENS[1]}"
    assert client.stats.calls == 5


def test_401_uses_refresh_token_first() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, _ = make_client(fake)
    list(client.iter_units())
    fake.valid.clear()
    list(client.iter_units())
    paths = [r.url.path for r in fake.requests]
    assert paths[-2:] == ["/rest/login/refresh", "/rest/items/units"]
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {TOKENS[1]}"


def test_failed_refresh_falls_back_to_login() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, _ = make_client(fake)
    list(client.iter_units())
    fake.valid.clear()
    fake.refresh_ok = False
    list(client.iter_units())
    paths = [r.url.path for r in fake.requests]
    assert paths[-3:] == ["/rest/login/refresh", "/rest/login", "/rest/items/units"]
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {TOKENS[1]}"


def test_token_is_refreshed_60s_before_expiry() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, clock = make_client(fake)
    list(client.iter_units())
    clock.now += 86400 - 61
    list(client.iter_units())
    assert [r.url.path for r in fake.requests].count("/rest/login/refresh") == 0
    clock.now += 2  # now 59 s before expiry
    list(client.iter_units())
    paths = [r.url.path for r in fake.requests]
    assert paths[-2:] == ["/rest/login/refresh", "/rest/items/units"]
    assert 401 not in client.stats.by_status


def test_bad_credentials_raise_auth_error_without_secrets() -> None:
    fake = FakePlenty()
    client = PlentymarketsClient(BASE, USERNAME, "wrong-password-4321", transport=httpx.MockTransport(fake))
    with pytest.raises(AuthError) as info:
        list(client.iter_units())
    assert info.value.status == 401
    assert "wrong-password-4321" not in str(info.value)
    assert b"wrong-password-4321" not in info.value.body
    assert len(fake.requests) == 1


def test_login_answer_without_token_is_a_clear_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, {"token_type": "Bearer", "refresh_token": REFRESH})

    client = PlentymarketsClient(BASE, USERNAME, PASSWORD, transport=httpx.MockTransport(handler))
    with pytest.raises(AuthError, match="no usable token") as info:
        client.vat_standard()
    assert REFRESH not in str(info.value)


def test_close_logs_out() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, _ = make_client(fake)
    list(client.iter_units())
    client.close()
    assert (fake.requests[-1].method, fake.requests[-1].url.path) == ("POST", "/rest/logout")
    assert fake.valid == set()


def test_logout_only_when_logged_in_and_once() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route(envelope([unit(1)], 1, 1))
    client, _, _ = make_client(fake)
    client.logout()  # not logged in: nothing to do
    assert fake.requests == []
    list(client.iter_units())
    client.logout()
    assert (fake.requests[-1].method, fake.requests[-1].url.path) == ("POST", "/rest/logout")
    assert fake.valid == set()
    count = len(fake.requests)
    client.close()  # already logged out: no further call
    assert len(fake.requests) == count


# --- paging -----------------------------------------------------------------------------------------------


def test_paging_follows_last_page_number_not_short_pages() -> None:
    # The endpoint caps pages at 100 although 250 were asked, and sends itemsPerPage as a string.
    records = [unit(i) for i in range(1, 231)]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = records[(page - 1) * 100 : page * 100]
        return json_response(200, envelope(chunk, page, 3, per_page="100", total=230))

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = handler
    client, _, _ = make_client(fake)
    assert [u.id for u in client.iter_units()] == list(range(1, 231))
    pages = [r.url.params["page"] for r in fake.data_requests("/rest/items/units")]
    assert pages == ["1", "2", "3"]
    assert all(r.url.params["itemsPerPage"] == "250" for r in fake.data_requests("/rest/items/units"))


def test_paging_uses_is_last_page_when_last_page_number_is_absent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        body = envelope([unit(page)], page, 2)
        del body["lastPageNumber"]
        return json_response(200, body)

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = handler
    client, _, _ = make_client(fake)
    assert [u.id for u in client.iter_units()] == [1, 2]


def test_a_different_page_number_in_the_answer_means_past_the_end() -> None:
    # This endpoint never says it is done and clamps an out-of-range page to the last one.
    def handler(request: httpx.Request) -> httpx.Response:
        page = min(int(request.url.params["page"]), 2)
        body = envelope([unit(page * 10), unit(page * 10 + 1)], page, 99, is_last=False)
        del body["lastPageNumber"]
        return json_response(200, body)

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = handler
    client, _, _ = make_client(fake)
    assert [u.id for u in client.iter_units()] == [10, 11, 20, 21]
    assert len(fake.data_requests("/rest/items/units")) == 3


def test_429_mid_pagination_repeats_the_same_page_after_retry_after() -> None:
    throttled = {"done": False}

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == 2 and not throttled["done"]:
            throttled["done"] = True
            return json_response(
                429,
                {"error": {"code": 429, "message": "short period read limit reached"}},
                {"Retry-After": "7"},
            )
        return json_response(200, envelope([unit(page)], page, 3))

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = handler
    client, sleeps, _ = make_client(fake)
    assert [u.id for u in client.iter_units()] == [1, 2, 3]
    assert [r.url.params["page"] for r in fake.data_requests("/rest/items/units")] == ["1", "2", "2", "3"]
    assert sleeps == [7.0]
    assert client.stats.retries == 1
    assert client.stats.rate_limit_waits == 1
    assert client.stats.rate_limit_wait_s == 7.0
    assert client.stats.calls == 5  # login + 4
    assert client.stats.by_status == {200: 4, 429: 1}


def test_429_without_retry_after_waits_the_short_period_decay() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return json_response(
                429,
                {"error": {"code": 429, "message": "short period read limit reached"}},
                {
                    "X-Plenty-Global-Short-Period-Calls-Left": "0",
                    "X-Plenty-Global-Short-Period-Decay": "12",
                },
            )
        return json_response(200, envelope([unit(1)], 1, 1))

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = handler
    client, sleeps, _ = make_client(fake)
    assert [u.id for u in client.iter_units()] == [1]
    assert sleeps == [12.0]  # once: the stale budget does not cause a second pause
    assert client.stats.rate_limit_waits == 1


@pytest.mark.parametrize(
    ("prefix", "lower"),
    [
        ("X-Plenty-Global-Short-Period", False),
        ("X-Plenty-Global-Long-Period", False),
        ("X-Plenty-Route", False),
        ("X-Plenty-Global-Short-Period", True),
    ],
)
def test_pacing_sleeps_the_decay_when_the_budget_is_nearly_spent(prefix: str, lower: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        left = "50" if page == 1 else "2"  # 2 = the default margin: wait before the next call
        headers = {f"{prefix}-Calls-Left": left, f"{prefix}-Decay": "15"}
        if lower:
            headers = {k.lower(): v for k, v in headers.items()}
        return json_response(200, envelope([unit(page)], page, 3), headers)

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = handler
    client, sleeps, _ = make_client(fake)
    assert [u.id for u in client.iter_units()] == [1, 2, 3]
    assert sleeps == [15.0]
    assert client.stats.rate_limit_waits == 1
    assert client.stats.rate_limit_wait_s == 15.0
    assert client.stats.retries == 0


def test_pacing_subtracts_time_already_elapsed() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route(
        envelope([unit(1)], 1, 1),
        {"X-Plenty-Global-Short-Period-Calls-Left": "1", "X-Plenty-Global-Short-Period-Decay": "20"},
    )
    client, sleeps, clock = make_client(fake)
    list(client.iter_units())
    clock.now += 5
    list(client.iter_units())
    assert sleeps == [15.0]


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    answers = iter([503, 500])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers, 200)
        if status != 200:
            return json_response(status, {"error": {"code": status, "message": "Service Unavailable"}})
        return json_response(200, envelope([unit(1)], 1, 1))

    fake = FakePlenty()
    fake.routes["/rest/items/manufacturers"] = handler
    client, sleeps, _ = make_client(fake)
    assert list(client.iter_manufacturers()) != []
    assert client.stats.retries == 2
    assert client.stats.rate_limit_waits == 0
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] <= 0.25
    assert 0.25 <= sleeps[1] <= 0.5
    assert client.stats.calls == 4


def test_5xx_gives_up_after_max_attempts() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = lambda request: json_response(500, {"error": {"code": 500}})
    client, _, _ = make_client(fake, retry=RetrySettings(max_attempts=3))
    with pytest.raises(ApiError, match="still failing after 3 attempts"):
        list(client.iter_units())
    assert client.stats.retries == 2


def test_422_raises_at_once_with_the_server_message() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/variations"] = lambda request: json_response(
        422,
        {
            "error": {
                "code": 422,
                "message": "The given data was invalid.",
                "validation_errors": {"name": ["unknown filter"]},
            }
        },
    )
    client, sleeps, _ = make_client(fake)
    with pytest.raises(ApiError) as info:
        list(client.iter_variations())
    message = str(info.value)
    assert "GET /rest/items/variations: HTTP 422: The given data was invalid." in message
    assert "unknown filter" in message
    assert not isinstance(info.value, AuthError)
    assert len(fake.data_requests("/rest/items/variations")) == 1
    assert sleeps == []


def test_403_is_an_auth_error() -> None:
    fake = FakePlenty()
    fake.routes["/rest/stockmanagement/warehouses"] = lambda request: json_response(
        403, {"error": {"code": 403, "message": "This action is unauthorized."}}
    )
    client, _, _ = make_client(fake)
    with pytest.raises(AuthError, match="unauthorized"):
        client.warehouses()


# --- filters and dates ------------------------------------------------------------------------------------


def test_variation_filters_use_plenty_names_and_encoded_offsets() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/variations"] = simple_route(envelope([], 1, 1))
    client, _, _ = make_client(fake)
    cest = timezone(timedelta(hours=2))
    list(
        client.iter_variations(
            with_=("variationSalesPrices", "stock"),
            updated_between=(datetime(2024, 5, 1, 10, 0, tzinfo=cest), None),
            related_updated_between=(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)),
            item_ids=[102, 103],
            ids=[1000],
            plenty_id=37811,
            is_active=True,
        )
    )
    (request,) = fake.data_requests("/rest/items/variations")
    assert dict(request.url.params) == {
        "lang": "de",
        "with": "variationSalesPrices,stock",
        "updatedBetween": "2024-05-01T10:00:00+02:00",
        "relatedUpdatedBetween": "2024-05-01T00:00:00+00:00,2024-05-02T00:00:00+00:00",
        "plentyId": "37811",
        "isActive": "true",
        "id": "1000",
        "itemId": "102,103",
        "page": "1",
        "itemsPerPage": "250",
    }
    raw = request.url.query.decode()
    assert "updatedBetween=2024-05-01T10%3A00%3A00%2B02%3A00" in raw  # '+' must not become a space


def test_item_and_delta_filters() -> None:
    fake = FakePlenty()
    for path in ("/rest/items", "/rest/stockmanagement/stock", "/rest/categories"):
        fake.routes[path] = simple_route(envelope([], 1, 1))
    client, _, _ = make_client(fake, lang="en")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    list(client.iter_items(with_=("itemImages",), variation_updated_between=(start, None), ids=[1, 2]))
    list(client.iter_stock(start, start + timedelta(hours=1)))
    list(client.iter_categories(updated_at=start))
    items, stock, categories = (
        dict(fake.data_requests(p)[0].url.params)
        for p in ("/rest/items", "/rest/stockmanagement/stock", "/rest/categories")
    )
    assert items["variationUpdatedBetween"] == "2024-01-01T00:00:00+00:00"
    assert (items["id"], items["lang"], items["with"]) == ("1,2", "en", "itemImages")
    assert stock["updatedAtFrom"] == "2024-01-01T00:00:00+00:00"
    assert stock["updatedAtTo"] == "2024-01-01T01:00:00+00:00"
    assert categories == {
        "with": "details,clients",
        "lang": "en",
        "type": "item",
        "updatedAt": "2024-01-01T00:00:00+00:00",
        "page": "1",
        "itemsPerPage": "250",
    }


def test_naive_datetimes_are_refused() -> None:
    client, _, _ = make_client(FakePlenty())
    with pytest.raises(ValueError, match="offset"):
        list(client.iter_variations(updated_between=(datetime(2024, 1, 1), None)))


def test_empty_id_filter_yields_nothing_and_long_lists_are_chunked() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/variations"] = simple_route(envelope([], 1, 1))
    client, _, _ = make_client(fake)
    assert list(client.iter_variations(ids=[])) == []
    assert fake.requests == []
    list(client.iter_variations(ids=list(range(250))))
    chunks = [r.url.params["id"].split(",") for r in fake.data_requests("/rest/items/variations")]
    assert [len(c) for c in chunks] == [100, 100, 50]


# --- models -----------------------------------------------------------------------------------------------

VARIATION = {
    "id": 1000,
    "isMain": True,
    "mainVariationId": None,
    "itemId": 102,
    "position": 0,
    "isActive": True,
    "number": "S-005951-X",
    "model": "model",
    "externalId": "externalId",
    "availability": 5,
    "purchasePrice": 0,
    "createdAt": "2014-12-23T23:00:00+00:00",
    "updatedAt": "2019-02-22T10:46:08+00:00",
    "relatedUpdatedAt": "2019-02-25T08:08:10+00:00",
    "stockLimitation": 1,
    "mainWarehouseId": 1,
    "maximumOrderQuantity": 14.44,
    "minimumOrderQuantity": 15.55,
    "intervalOrderQuantity": 16.66,
    "releasedAt": "2040-01-01 00:00:00",
    "name": "name",
    "weightG": 1,
    "weightNetG": 2,
    "widthMM": 3,
    "lengthMM": 4,
    "heightMM": 5,
    "vatId": 16,
    "unitsContained": 8,
    "mayShowUnitPrice": True,
    "automaticClientVisibility": 0,
    "variationCategories": [
        {"variationId": 1000, "categoryId": 17, "position": 0, "isNeckermannPrimary": True}
    ],
    "variationSalesPrices": [
        {
            "variationId": 1000,
            "salesPriceId": 1,
            "price": 269.99,
            "updatedAt": "2016-09-05T12:25:20+01:00",
            "createdAt": "2016-09-05T12:25:20+01:00",
        }
    ],
    "variationAttributeValues": [
        {
            "attributeValueSetId": 1,
            "attributeId": 1,
            "valueId": 1,
            "isLinkableToImage": False,
            "attribute": {
                "id": 1,
                "backendName": "Couch color",
                "position": 1,
                "isGroupable": False,
                "typeOfSelectionInOnlineStore": "dropdown",
                "attributeNames": [],
            },
            "attributeValue": {"id": 1, "attributeId": 1, "backendName": "black", "position": 1},
        }
    ],
    "variationBarcodes": [
        {
            "variationId": 1000,
            "barcodeId": 0,
            "code": "1231231231231",
            "createdAt": "2016-09-05T12:25:16+01:00",
        }
    ],
    "variationClients": [{"variationId": 1000, "plentyId": 37811, "createdAt": "2016-09-05T12:25:16+01:00"}],
    "variationDefaultCategory": [{"variationId": 1000, "branchId": 17, "plentyId": 37811, "manually": True}],
    "unit": {"unitId": 1, "unitCombinationId": 1, "content": 1},
    "stock": [
        {
            "itemId": 102,
            "variationId": 1000,
            "warehouseId": 1,
            "reservedListing": 0,
            "reservedBundles": 0,
            "valueOfGoods": 0,
            "purchasePrice": 0,
            "physicalStock": 12,
            "reservedStock": 2,
            "netStock": 10,
            "reorderLevel": 0,
            "deltaReorderLevel": 0,
        }
    ],
    "properties": [
        {
            "id": 9,
            "propertyId": 6,
            "relationTypeIdentifier": "item",
            "relationTargetId": 1000,
            "relationValues": [{"id": 16, "propertyRelationId": 9, "lang": "EN", "value": "Changes"}],
            "propertyRelation": {"id": 6, "cast": "text", "propertyGroupId": 1, "position": 50},
        }
    ],
    "itemImages": [
        {
            "id": 19,
            "itemId": 102,
            "type": "internal",
            "fileType": "jpg",
            "position": 0,
            "md5Checksum": "",
            "cleanImageName": "102-sessel-leder-gruen.jpg",
            "url": "https://images.com/full/image.jpg",
            "urlMiddle": "https://images.com/middle/image.jpg",
            "urlPreview": "https://images.com/preview/image.jpg",
            "availabilities": [
                {"imageId": 19, "type": "mandant", "value": 37811},
                {"imageId": 19, "type": "marketplace", "value": 2.01},
            ],
            "names": [{"imageId": 19, "lang": "de", "name": "name", "alternate": "alt"}],
        }
    ],
    "someFutureField": {"ignored": True},
}


def test_variation_with_relations_is_typed() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/variations"] = simple_route(envelope([VARIATION], 1, 1))
    client, _, _ = make_client(fake)
    (v,) = client.iter_variations()
    assert (v.id, v.item_id, v.is_main, v.number) == (1000, 102, True, "S-005951-X")
    assert (v.width_mm, v.length_mm, v.height_mm, v.weight_net_g) == (3, 4, 5, 2)
    assert v.released_at == datetime(2040, 1, 1)
    assert v.related_updated_at == datetime(2019, 2, 25, 8, 8, 10, tzinfo=UTC)
    assert v.variation_sales_prices[0].price == Decimal("269.99")
    assert v.variation_categories[0].category_id == 17
    assert v.variation_default_category[0].branch_id == 17
    assert v.variation_attribute_values[0].attribute_value is not None
    assert v.variation_attribute_values[0].attribute_value.backend_name == "black"
    assert v.variation_barcodes[0].code == "1231231231231"
    assert v.variation_clients[0].plenty_id == 37811
    assert v.unit is not None
    assert v.unit.content == 1
    assert v.stock[0].net_stock == 10
    assert v.properties[0].relation_values[0].value == "Changes"
    assert [a.value for a in v.item_images[0].availabilities] == [37811, 2.01]
    assert v.images == []  # not requested, so empty
    requested = fake.data_requests("/rest/items/variations")[0].url.params["with"].split(",")
    assert {
        "variationSalesPrices",
        "variationDefaultCategory",
        "unit",
        "stock",
        "images",
        "properties",
    } <= set(requested)


def test_item_category_attribute_price_and_reference_models() -> None:
    item = {
        "id": 102,
        "position": 100,
        "manufacturerId": 2,
        "itemType": "default",
        "mainVariationId": 1000,
        "updatedAt": "2019-02-25T08:08:10+00:00",
        "texts": [{"lang": "en", "name1": "1", "shortDescription": "short", "urlPath": "urlpath"}],
    }
    category = {
        "id": 16,
        "parentCategoryId": None,
        "level": 1,
        "type": "item",
        "right": "all",
        "hasChildren": True,
        "details": [
            {
                "categoryId": 16,
                "lang": "de",
                "name": "Wohnzimmer",
                "position": "1",
                "plentyId": 12345,
                "image": None,
            }
        ],
        "clients": [{"plentyId": 12345}],
    }
    attribute = {
        "id": 1,
        "backendName": "Couch color",
        "position": 1,
        "attributeNames": [{"attributeId": 1, "lang": "de", "name": "couch color de"}],
        "values": [
            {
                "id": 1,
                "attributeId": 1,
                "backendName": "lila",
                "valueNames": [{"lang": "de", "name": "lila", "valueId": "1"}],
            }
        ],
    }
    sales_price = {
        "id": 1,
        "position": 0,
        "minimumOrderQuantity": 1,
        "type": "default",
        "createdAt": "2016-09-05 12:24:53",
        "updatedAt": "2016-09-06 10:02:02",
        "names": [{"salesPriceId": 1, "lang": "de", "nameInternal": "Preis", "nameExternal": "Preis"}],
        "accounts": [],
        "countries": [{"salesPriceId": 1, "countryId": -1}],
        "currencies": [{"salesPriceId": 1, "currency": "-1"}],
        "customerClasses": [{"salesPriceId": 1, "customerClassId": -1}],
        "referrers": [{"salesPriceId": 1, "referrerId": 0}, {"salesPriceId": 1, "referrerId": 4.01}],
        "clients": [{"salesPriceId": 1, "plentyId": -1}],
    }
    manufacturer = {"id": 1, "name": "nameA", "countryId": 2, "position": 6, "responsibleName": "ACME GmbH"}
    barcode = {"id": 1, "name": "EAN", "type": "GTIN_13", "createdAt": "2016-09-05T12:25:16+01:00"}
    stock_entry = {
        "itemId": 102,
        "variationId": 1000,
        "warehouseId": 1,
        "stockPhysical": 12,
        "reservedStock": 2,
        "stockNet": 10,
        "updatedAt": "2024-01-01T00:00:00+00:00",
    }
    price_row = {
        "variationId": 1000,
        "salesPriceId": 1,
        "price": "19.90",
        "updatedAt": "2024-01-01T00:00:00+00:00",
    }
    fake = FakePlenty()
    fake.routes.update(
        {
            "/rest/items": simple_route(envelope([item], 1, 1, per_page="100")),
            "/rest/categories": simple_route(envelope([category], 1, 1)),
            "/rest/items/attributes": simple_route(envelope([attribute], 1, 1)),
            "/rest/items/sales_prices": simple_route(envelope([sales_price], 1, 1)),
            "/rest/items/manufacturers": simple_route(envelope([manufacturer], 1, 1, per_page="100")),
            "/rest/items/barcodes": simple_route(envelope([barcode], 1, 1)),
            "/rest/stockmanagement/stock": simple_route(envelope([stock_entry], 1, 1)),
            "/rest/items/variations/variation_sales_prices": simple_route(envelope([price_row], 1, 1)),
            "/rest/vat/standard": simple_route(
                {
                    "id": 1,
                    "countryId": 1,
                    "vatRates": [{"id": 0, "vatRate": "19.00"}, {"id": 1, "vatRate": "7.00"}],
                }
            ),
            "/rest/webstores": simple_route(
                [
                    {
                        "id": 0,
                        "type": "plentymarkets",
                        "storeIdentifier": 12345,
                        "name": "Standard Shop",
                        "pluginSetId": 7,
                        "configuration": {
                            "defaultLanguage": "de",
                            "languageList": "de, en",
                            "defaultCurrency": "EUR",
                        },
                    }
                ]
            ),
            "/rest/stockmanagement/warehouses": simple_route([{"id": 1, "name": "Main", "typeId": 0}]),
            "/rest/items/units": simple_route(envelope([UNIT], 1, 1)),
        }
    )
    client, _, _ = make_client(fake)
    (i,) = client.iter_items()
    assert (i.texts[0].name1, i.texts[0].short_description) == ("1", "short")
    (c,) = client.iter_categories()
    assert (c.details[0].position, c.clients[0].plenty_id) == (1, 12345)
    (a,) = client.iter_attributes()
    assert a.attribute_names[0].name == "couch color de"
    assert a.values[0].value_names[0].value_id == 1
    assert fake.data_requests("/rest/items/attributes")[0].url.params["with"] == "names,values.valueNames"
    (p,) = client.iter_sales_prices()
    assert p.created_at == datetime(2016, 9, 5, 12, 24, 53)
    assert p.currencies[0].currency == "-1"
    assert [r.referrer_id for r in p.referrers] == [0, 4.01]
    assert (p.clients[0].plenty_id, p.customer_classes[0].customer_class_id) == (-1, -1)
    assert p.names[0].name_external == "Preis"
    (m,) = client.iter_manufacturers()
    assert m.responsible_name == "ACME GmbH"
    (b,) = client.iter_barcodes()
    assert b.type == "GTIN_13"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    (s,) = client.iter_stock(start, start + timedelta(days=1))
    assert s.stock_net == 10
    (vp,) = client.iter_variation_sales_prices(updated_at=start)
    assert vp.price == Decimal("19.90")
    vat = client.vat_standard()
    assert {r.id: r.vat_rate for r in vat.vat_rates} == {0: Decimal("19.00"), 1: Decimal("7.00")}
    (w,) = client.webstores()
    assert w.store_identifier == 12345
    assert w.configuration is not None
    assert w.configuration.languages == ["de", "en"]
    (wh,) = client.warehouses()
    assert wh.type_id == 0
    # bare-array endpoints get no paging parameters
    assert "page" not in fake.data_requests("/rest/webstores")[0].url.params
    (u,) = client.iter_units()
    assert u.unit_of_measurement == "C62"
    assert [n.name for n in u.names] == ["Stück", "piece"]


def test_a_bare_array_endpoint_answering_with_an_envelope_is_paged() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        return json_response(200, envelope([{"id": page, "name": f"W{page}", "typeId": 0}], page, 2))

    fake = FakePlenty()
    fake.routes["/rest/stockmanagement/warehouses"] = handler
    client, _, _ = make_client(fake)
    assert [w.id for w in client.warehouses()] == [1, 2]


# --- invalid records --------------------------------------------------------------------------------------


def test_invalid_records_are_skipped_and_reported() -> None:
    bad = {
        **VARIATION,
        "id": 1001,
        "variationSalesPrices": [{"variationId": 1001, "salesPriceId": 1, "price": "n/a"}],
    }
    fake = FakePlenty()
    fake.routes["/rest/items/variations"] = simple_route(
        envelope([VARIATION, bad, {**VARIATION, "id": 1002}], 1, 1)
    )
    client, _, _ = make_client(fake)
    assert [v.id for v in client.iter_variations()] == [1000, 1002]
    (invalid,) = client.invalid_records
    assert (invalid.endpoint, invalid.page, invalid.index, invalid.record_id) == (
        "/rest/items/variations",
        1,
        1,
        "1001",
    )
    assert invalid.errors[0].startswith("variationSalesPrices.0.price:")


def test_strict_client_raises_naming_endpoint_page_and_field() -> None:
    bad = {**VARIATION, "id": "not-a-number"}
    fake = FakePlenty()
    fake.routes["/rest/items/variations"] = simple_route(envelope([bad], 1, 1))
    client, _, _ = make_client(fake, strict=True)
    with pytest.raises(InvalidRecordError) as info:
        list(client.iter_variations())
    message = str(info.value)
    assert "/rest/items/variations page 1 record 0 (id not-a-number)" in message
    assert "id: " in message


def test_a_broken_envelope_raises_naming_the_page() -> None:
    fake = FakePlenty()
    fake.routes["/rest/items/units"] = simple_route({"page": 1, "isLastPage": True})
    client, _, _ = make_client(fake)
    with pytest.raises(
        ApiError, match=r"/rest/items/units: HTTP 200: page 1 is not a page envelope: entries"
    ):
        list(client.iter_units())


# --- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [PASSWORD, REFRESH, *TOKENS]

    def echo(request: httpx.Request) -> httpx.Response:
        # A server that echoes the bearer token in its error body.
        return json_response(
            400, {"error": {"code": 400, "message": f"bad {request.headers['Authorization']}"}}
        )

    fake = FakePlenty()
    fake.routes["/rest/items/units"] = echo
    fake.routes["/rest/items/manufacturers"] = lambda request: json_response(503, {"error": {"code": 503}})
    client, _, _ = make_client(fake, retry=RetrySettings(max_attempts=2))
    errors: list[Exception] = []
    for call in (lambda: list(client.iter_units()), lambda: list(client.iter_manufacturers())):
        with pytest.raises(ApiError) as info:
            call()
        errors.append(info.value)
    # The fake echoes the submitted credentials when it refuses a login.
    wrong = PlentymarketsClient(BASE, USERNAME, "wrong-password-xyz", transport=httpx.MockTransport(fake))
    with pytest.raises(AuthError) as auth_info:
        list(wrong.iter_units())
    errors.append(auth_info.value)
    texts = [repr(client), repr(wrong), repr(vars(client)), caplog.text]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [e.body.decode() for e in errors if isinstance(e, ApiError)]
    for text in texts:
        for secret in [*secrets, "wrong-password-xyz"]:
            assert secret not in text
    assert "***" in str(errors[0])
    assert repr(client) == "PlentymarketsClient(https://p12345.my.plentysystems.com)"


class SlidingWindowPlenty:
    """Plenty's short window as the emulator keeps it: ``limit`` units per ``period`` seconds, sliding, the
    decay rounded up to whole seconds; a call arrives ``latency`` seconds of the fake clock after it was sent,
    is counted then (the count in its answer is as of that moment) and answered ``render`` seconds later (the
    renderings taken in turn: a page takes longer than another).
    Without ``with_limit`` it leaves out the Limit header (a client then cannot count the window's calls)."""

    def __init__(
        self, clock: FakeClock, *, limit: int = 10, period: float = 20.0, with_limit: bool = True
    ) -> None:
        self.clock, self.limit, self.period, self.with_limit = clock, limit, period, with_limit
        self.latency = 0.1
        self.render: Sequence[float] = (0.0,)
        self.calls: list[tuple[float, int]] = []
        self.rejected = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.clock.now += self.latency
        now = self.clock.now
        live = [(t, c) for t, c in self.calls if now - t < self.period]
        cost = 2 if request.url.path.endswith("/variations") else 1
        if sum(c for _, c in live) + cost > self.limit:
            self.rejected += 1
            return json_response(429, {"error": {"code": 429, "message": "short period read limit reached"}})
        self.calls.append((now, cost))
        live.append((now, cost))
        page = int(request.url.params["page"])
        headers = {
            "X-Plenty-Global-Short-Period-Calls-Left": str(self.limit - sum(c for _, c in live)),
            "X-Plenty-Global-Short-Period-Decay": str(math.ceil(self.period - (now - live[0][0]))),
        }
        if self.with_limit:
            headers["X-Plenty-Global-Short-Period-Limit"] = str(self.limit)
        self.clock.now += self.render[len(self.calls) % len(self.render)]
        return json_response(200, envelope([{"id": page, "itemId": page}], page, 40), headers)


def _read_through_the_window(
    *, with_limit: bool = True, render: Sequence[float] = (0.0,)
) -> tuple[float, list[float], SlidingWindowPlenty]:
    fake = FakePlenty()
    client, sleeps, clock = make_client(fake)
    plenty = SlidingWindowPlenty(clock, with_limit=with_limit)
    plenty.render = render
    fake.routes["/rest/items/variations"] = plenty
    started = clock.now
    assert len(list(client.iter_variations(with_=()))) == 40
    return clock.now - started, sleeps, plenty


def test_pacing_by_its_own_calls_waits_no_longer_than_the_window_needs() -> None:
    """Waiting Plenty's rounded-up decay is up to a second late per window, and each window repeats the pace
    of the one before; a client counting its own calls frees the next one when its oldest leaves. 40 calls of
    2 units through a window of 10 (8 of them, with the default margin of 2) take 9 windows of 20 s."""
    counted, _, plenty = _read_through_the_window()
    assert plenty.rejected == 0
    assert 9 * 20.0 <= counted <= 9 * 20.0 + 2.0, "a call's latency per window, no more"
    decayed, sleeps, plenty = _read_through_the_window(with_limit=False)
    assert plenty.rejected == 0 and all(s == int(s) for s in sleeps), "Plenty's whole seconds"
    assert decayed >= counted + 2.0


def test_pacing_keeps_its_own_count_when_plenty_counts_a_call_before_answering_it() -> None:
    """Plenty's count in an answer is as of the call's arrival: a call of ours that left the window while the
    answer was rendered is still in that count. That is no other client's call: the client keeps pacing by
    its own calls instead of falling back to Plenty's whole seconds."""
    counted, _, plenty = _read_through_the_window(render=(0.1, 2.0))
    assert plenty.rejected == 0
    mean_trip = plenty.latency + sum(plenty.render) / len(plenty.render)
    longest_trip = plenty.latency + max(plenty.render)
    # Each of the 9 waits ends about a round trip late (the client counts from the answer); the last window's
    # 4 calls take theirs. Falling back to Plenty's whole seconds took 208 s here.
    assert counted <= 9 * (20.0 + mean_trip) + 4 * longest_trip


def test_pacing_falls_back_to_plentys_decay_when_another_client_spends_the_budget() -> None:
    fake = FakePlenty()
    client, sleeps, clock = make_client(fake)
    plenty = SlidingWindowPlenty(clock)
    plenty.calls.append((clock.now, 3))  # someone else's call in our window: the count does not add up
    fake.routes["/rest/items/variations"] = plenty
    assert len(list(client.iter_variations(with_=()))) == 40
    assert plenty.rejected == 0 and sleeps[0] == int(sleeps[0]), "Plenty's decay, in whole seconds"
