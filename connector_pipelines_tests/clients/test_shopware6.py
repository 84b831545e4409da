"""Shopware6Client against an httpx.MockTransport fake written from contracts/shopware6.md."""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable

import httpx
import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from connector_pipelines.clients.http import ApiError, AuthError, RetrySettings
from connector_pipelines.clients.shopware6 import (
    DEFAULT_CURRENCY_ID,
    Criteria,
    Filter,
    Shopware6Client,
    ShopwareApiError,
    SyncError,
    SyncOperation,
    SyncRejected,
    SyncUnit,
    shopware_id,
)

BASE = "https://shop.example.com"
CLIENT_ID = "SWIAQWERTYUIOP1234"
SECRET = "sw-secret-Very-Private-42"
TOKENS = [f"eyJ0eXAi.token-{n}-Opaque" for n in range(10)]
TAX_ID = "a" * 32
NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
SQL_DETAIL = (
    "An exception occurred while executing a query: SQLSTATE[23000]: Integrity constraint violation: 1452 "
    "Cannot add or update a child row: a foreign key constraint fails (`shopware`.`product`, CONSTRAINT "
    "`fk.product.tax_id` FOREIGN KEY (`tax_id`) REFERENCES `tax` (`id`))"
)

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": "application/json", **(headers or {})}
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class FakeShopware:
    """Token endpoint, search, search-ids, sync (one transaction, §4.4/§4.6) and media upload."""

    def __init__(self, expires_in: int = 600) -> None:
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.store: dict[str, dict[str, dict[str, JsonValue]]] = {}
        self.taxes = {TAX_ID}
        self.overrides: dict[str, list[httpx.Response]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        queued = self.overrides.get(path)
        if queued:
            return queued.pop(0)
        if path == "/api/oauth/token":
            return self.token(request)
        if request.headers.get("Accept") != "application/json":
            return json_response(415, {"errors": [{"status": "415", "title": "Unsupported Media Type"}]})
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid:
            return json_response(
                401,
                {
                    "errors": [
                        {
                            "code": "9",
                            "status": "401",
                            "title": "Unauthorized",
                            "detail": "Access token is invalid",
                        }
                    ]
                },
            )
        body = orjson.loads(request.content or b"{}")
        if path.startswith("/api/search/"):
            return self.search(path.removeprefix("/api/search/"), body)
        if path.startswith("/api/search-ids/"):
            rows = self.rows(path.removeprefix("/api/search-ids/"))
            return json_response(200, {"total": len(rows), "data": [r["id"] for r in rows]})
        if path == "/api/_action/sync":
            return self.sync(body)
        if path.startswith("/api/_action/media/") and path.endswith("/upload"):
            media_id = path.split("/")[4]
            return httpx.Response(204, headers={"Location": f"{BASE}/api/media/{media_id}"})
        return json_response(404, {"errors": [{"code": "FRAMEWORK__ROUTE_NOT_FOUND", "status": "404"}]})

    def token(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if body != {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}:
            return json_response(
                401,
                {
                    "errors": [
                        {
                            "code": "4",
                            "status": "401",
                            "title": "Client authentication failed",
                            # A careless server echoing the submitted secret: it must not leak anyway.
                            "detail": f"invalid secret {body.get('client_secret')}",
                        }
                    ]
                },
            )
        token = TOKENS[len(self.issued)]
        self.issued.append(token)
        self.valid.add(token)
        return json_response(
            200, {"token_type": "Bearer", "expires_in": self.expires_in, "access_token": token}
        )

    def rows(self, route: str) -> list[dict[str, JsonValue]]:
        entity = route.replace("-", "_")
        return sorted(self.store.get(entity, {}).values(), key=lambda r: str(r["id"]))

    def search(self, route: str, criteria: dict[str, JsonValue]) -> httpx.Response:
        rows = self.rows(route)
        limit = criteria.get("limit", 500)
        page = criteria.get("page", 1)
        assert isinstance(limit, int)
        assert isinstance(page, int)
        if limit > 500:
            return json_response(
                400, {"errors": [{"code": "FRAMEWORK__QUERY_LIMIT_EXCEEDED", "status": "400"}]}
            )
        chunk = rows[(page - 1) * limit : page * limit]
        mode = criteria.get("total-count-mode", 0)
        total = len(rows) if mode in (1, "exact") else len(chunk)
        data = [{**r, "apiAlias": route.replace("-", "_")} for r in chunk]
        return json_response(200, {"total": total, "data": data, "aggregations": []})

    def sync(self, body: dict[str, dict[str, JsonValue]]) -> httpx.Response:
        errors: list[dict[str, JsonValue]] = []
        writes: list[tuple[str, str, dict[str, JsonValue]]] = []
        for key, op in body.items():
            entity, action, payload = op["entity"], op["action"], op.get("payload", [])
            assert isinstance(entity, str)
            assert isinstance(payload, list)
            for index, record in enumerate(payload):
                assert isinstance(record, dict)
                if action == "upsert" and entity == "product":
                    if record.get("taxId") is not None and record["taxId"] not in self.taxes:
                        return json_response(
                            500,
                            {
                                "errors": [
                                    {
                                        "code": "0",
                                        "status": "500",
                                        "title": "Internal Server Error",
                                        "detail": SQL_DETAIL,
                                    }
                                ]
                            },
                        )
                    if record.get("stock") is None:
                        errors.append(
                            {
                                "code": NOT_BLANK,
                                "status": "400",
                                "detail": "This value should not be blank.",
                                "template": "This value should not be blank.",
                                "meta": {"parameters": {"{{ value }}": "null"}},
                                "source": {"pointer": f"/{key}/{index}/stock"},
                            }
                        )
                writes.append((str(action), entity, record))
        if errors:
            return json_response(400, {"errors": errors})
        data: dict[str, list[JsonValue]] = {}
        deleted: dict[str, list[JsonValue]] = {}
        not_found: dict[str, list[JsonValue]] = {}
        for action, entity, record in writes:
            table = self.store.setdefault(entity, {})
            record_id = str(record["id"])
            if action == "upsert":
                table[record_id] = {**table.get(record_id, {}), **record}
                data.setdefault(entity, []).append(record_id)
            elif table.pop(record_id, None) is None:
                not_found.setdefault(entity, []).append(record_id)
            else:
                deleted.setdefault(entity, []).append(record_id)
        return json_response(
            200, {"extensions": [], "data": data or [], "notFound": not_found or [], "deleted": deleted or []}
        )

    def sync_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/api/_action/sync"]


def make_client(
    fake: FakeShopware, *, retry: RetrySettings | None = None, secret: str = SECRET
) -> tuple[Shopware6Client, list[float], FakeClock]:
    sleeps: list[float] = []
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    client = Shopware6Client(
        BASE,
        CLIENT_ID,
        secret,
        transport=httpx.MockTransport(fake),
        sleep=sleep,
        clock=clock,
        rng=random.Random(1),
        retry=retry,
    )
    return client, sleeps, clock


def product(n: int, **overrides: JsonValue) -> dict[str, JsonValue]:
    record: dict[str, JsonValue] = {
        "id": shopware_id("plenty", "item", str(n)),
        "productNumber": f"SW-{n}",
        "stock": 10,
        "taxId": TAX_ID,
        "name": f"Product {n}",
        "price": [{"currencyId": DEFAULT_CURRENCY_ID, "gross": 15, "net": 12.61, "linked": True}],
    }
    record.update(overrides)
    return record


def product_unit(n: int, **overrides: JsonValue) -> SyncUnit:
    parent = product(n, **overrides)
    variant = {
        "id": shopware_id("plenty", "variation", str(n)),
        "parentId": parent["id"],
        "productNumber": f"SW-{n}.1",
        "stock": 3,
    }
    return SyncUnit(
        key=f"item-{n}",
        operations=[
            SyncOperation(entity="product", action="upsert", payload=[parent]),
            SyncOperation(entity="product", action="upsert", payload=[variant]),
            SyncOperation(
                entity="product_visibility",
                action="delete",
                criteria=[Filter.equals("productId", str(parent["id"]))],
            ),
        ],
    )


# --- auth --------------------------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused_with_accept_json() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    client.search("product")
    client.search_ids("product")
    token_calls = [r for r in fake.requests if r.url.path == "/api/oauth/token"]
    assert len(token_calls) == 1
    assert orjson.loads(token_calls[0].content) == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    assert all(r.headers["Accept"] == "application/json" for r in fake.requests)
    assert [r.headers.get("Authorization") for r in fake.requests[1:]] == [f"Bearer {TOKENS[0]}"] * 2
    assert client.stats.calls == 3


def test_token_is_renewed_30s_before_expiry() -> None:
    fake = FakeShopware(expires_in=600)
    client, _, clock = make_client(fake)
    client.search_ids("product")
    clock.now += 600 - 31
    client.search_ids("product")
    assert len(fake.issued) == 1
    clock.now += 2
    client.search_ids("product")
    assert len(fake.issued) == 2
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {TOKENS[1]}"
    assert 401 not in client.stats.by_status


def test_401_fetches_a_new_token_once() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    client.search_ids("product")
    fake.valid.clear()
    client.search_ids("product")
    assert [r.url.path for r in fake.requests] == [
        "/api/oauth/token",
        "/api/search-ids/product",
        "/api/search-ids/product",
        "/api/oauth/token",
        "/api/search-ids/product",
    ]
    assert client.stats.by_status == {200: 4, 401: 1}


def test_bad_secret_is_an_auth_error_without_the_secret() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake, secret="wrong-secret-123456")
    with pytest.raises(AuthError) as info:
        client.search("product")
    assert "Client authentication failed" in str(info.value)
    assert "wrong-secret-123456" not in str(info.value)
    assert b"wrong-secret-123456" not in info.value.body
    assert len(fake.requests) == 1


def test_base_url_must_be_the_shop_root() -> None:
    with pytest.raises(ValueError, match="/api"):
        Shopware6Client(f"{BASE}/api", CLIENT_ID, SECRET)
    with pytest.raises(ValueError, match="credentials"):
        Shopware6Client("https://user:pw@shop.example.com", CLIENT_ID, SECRET)


# --- search ------------------------------------------------------------------------------------------------


class ProductRow(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    product_number: str = Field(alias="productNumber")


def test_search_uses_hyphenated_route_and_typed_criteria() -> None:
    fake = FakeShopware()
    fake.store["product_visibility"] = {"v1": {"id": "v1", "productId": "p1"}}
    client, _, _ = make_client(fake)
    criteria = Criteria(
        filter=[Filter.equals("productId", "p1"), Filter.equals("parentId", None)],
        includes={"product_visibility": ["id", "productId"]},
        limit=5,
    )
    result = client.search("product_visibility", criteria)
    request = fake.requests[-1]
    assert request.url.path == "/api/search/product-visibility"
    assert orjson.loads(request.content) == {
        "filter": [
            {"type": "equals", "field": "productId", "value": "p1"},
            {"type": "equals", "field": "parentId", "value": None},
        ],
        "includes": {"product_visibility": ["id", "productId"]},
        "limit": 5,
    }
    assert result.total == 1
    assert result.data[0].id == "v1"
    assert result.data[0].api_alias == "product_visibility"
    assert result.aggregations == {}


def test_iter_search_pages_until_the_exact_total() -> None:
    fake = FakeShopware()
    fake.store["product"] = {
        f"{i:032x}": {"id": f"{i:032x}", "productNumber": f"SW-{i}"} for i in range(1200)
    }
    client, _, _ = make_client(fake)
    rows = list(client.iter_search("product", Criteria(term="x"), page_size=500, model=ProductRow))
    assert len(rows) == 1200
    assert len({r.id for r in rows}) == 1200
    assert rows[0].product_number == "SW-0"
    bodies = [orjson.loads(r.content) for r in fake.requests if r.url.path == "/api/search/product"]
    assert [(b["page"], b["limit"], b["total-count-mode"]) for b in bodies] == [
        (1, 500, 1),
        (2, 500, 0),
        (3, 500, 0),
    ]
    assert all(b["sort"] == [{"field": "id", "order": "ASC"}] and b["term"] == "x" for b in bodies)


def test_iter_search_exact_multiple_needs_no_extra_request() -> None:
    fake = FakeShopware()
    fake.store["tax"] = {f"{i:032x}": {"id": f"{i:032x}"} for i in range(4)}
    client, _, _ = make_client(fake)
    assert len(list(client.iter_search("tax", page_size=2))) == 4
    assert len([r for r in fake.requests if r.url.path == "/api/search/tax"]) == 2


def test_search_ids() -> None:
    fake = FakeShopware()
    fake.store["product"] = {"p1": {"id": "p1"}, "p2": {"id": "p2"}}
    client, _, _ = make_client(fake)
    result = client.search_ids("product", Criteria(ids=["p1", "p2"]))
    assert (result.total, result.data) == (2, ["p1", "p2"])
    assert orjson.loads(fake.requests[-1].content) == {"ids": ["p1", "p2"]}


def test_5xx_is_retried_then_succeeds_and_stats_count_it() -> None:
    fake = FakeShopware()
    fake.overrides["/api/search-ids/product"] = [
        json_response(503, {"errors": [{"status": "503", "title": "Service Unavailable"}]}),
        json_response(502, {"errors": [{"status": "502", "title": "Bad Gateway"}]}),
    ]
    client, sleeps, _ = make_client(fake)
    assert client.search_ids("product").total == 0
    assert client.stats.retries == 2
    assert client.stats.rate_limit_waits == 0
    assert len(sleeps) == 2
    assert client.stats.calls == 4


def test_429_honours_retry_after() -> None:
    fake = FakeShopware()
    fake.overrides["/api/search-ids/product"] = [
        json_response(
            429,
            {"errors": [{"code": "FRAMEWORK__RATE_LIMIT_EXCEEDED", "status": "429"}]},
            {"Retry-After": "3"},
        )
    ]
    client, sleeps, _ = make_client(fake)
    client.search_ids("product")
    assert sleeps == [3.0]
    assert (client.stats.retries, client.stats.rate_limit_waits, client.stats.rate_limit_wait_s) == (
        1,
        1,
        3.0,
    )


def test_non_retryable_4xx_raises_at_once_with_code_and_detail() -> None:
    fake = FakeShopware()
    fake.overrides["/api/search/product"] = [
        json_response(
            400,
            {
                "errors": [
                    {
                        "code": "FRAMEWORK__INVALID_FILTER_QUERY",
                        "status": "400",
                        "title": "Bad Request",
                        "detail": "Unsupported filter type: bogus",
                        "source": {"pointer": "/filter/0"},
                    }
                ]
            },
        )
    ]
    client, sleeps, _ = make_client(fake)
    with pytest.raises(ShopwareApiError) as info:
        client.search("product")
    assert str(info.value) == (
        "shopware6 POST /api/search/product: HTTP 400: "
        "FRAMEWORK__INVALID_FILTER_QUERY at /filter/0: Unsupported filter type: bogus"
    )
    assert info.value.errors[0].pointer == "/filter/0"
    assert not isinstance(info.value, SyncRejected)
    assert sleeps == []
    assert client.stats.retries == 0


# --- sync --------------------------------------------------------------------------------------------------


def test_sync_sends_keyed_operations_and_parses_the_result() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    result = client.sync(
        [
            SyncOperation(
                entity="product_manufacturer", action="upsert", payload=[{"id": "m1", "name": "ACME"}]
            ),
            SyncOperation(key="products", entity="product", action="upsert", payload=[product(1)]),
            SyncOperation(entity="product", action="upsert", payload=[product(2)]),
        ]
    )
    request = fake.sync_requests()[0]
    body = orjson.loads(request.content)
    assert list(body) == ["upsert-product_manufacturer", "products", "upsert-product"]
    assert body["products"] == {"entity": "product", "action": "upsert", "payload": [product(1)]}
    assert request.headers["sw-skip-trigger-flow"] == "1"
    assert request.headers["indexing-behavior"] == "use-queue-indexing"
    assert result.data == {"product_manufacturer": ["m1"], "product": [product(1)["id"], product(2)["id"]]}
    assert result.not_found == {}
    assert result.deleted == {}


def test_delete_goes_through_sync_without_indexing_header() -> None:
    fake = FakeShopware()
    fake.store["product"] = {"p1": {"id": "p1"}}
    client, _, _ = make_client(fake)
    result = client.delete("product", ["p1", "p2", "p3"], chunk_size=2)
    bodies = [orjson.loads(r.content) for r in fake.sync_requests()]
    assert bodies == [
        {
            "delete-product": {
                "entity": "product",
                "action": "delete",
                "payload": [{"id": "p1"}, {"id": "p2"}],
            }
        },
        {"delete-product": {"entity": "product", "action": "delete", "payload": [{"id": "p3"}]}},
    ]
    assert all("indexing-behavior" not in r.headers for r in fake.sync_requests())
    assert result.deleted == {"product": ["p1"]}
    assert result.not_found == {"product": ["p2", "p3"]}


def test_sync_400_is_parsed_into_typed_errors() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    with pytest.raises(SyncRejected) as info:
        client.sync(
            [
                SyncOperation(
                    key="products", entity="product", action="upsert", payload=[product(1, stock=None)]
                )
            ]
        )
    (error,) = info.value.errors
    assert isinstance(error, SyncError)
    assert (error.code, error.status, error.detail) == (NOT_BLANK, "400", "This value should not be blank.")
    assert error.pointer == "/products/0/stock"
    assert (error.operation_key, error.record_index, error.field) == ("products", 0, "stock")
    assert error.parameters == {"{{ value }}": "null"}
    assert info.value.status == 400
    assert "at /products/0/stock: This value should not be blank." in str(info.value)
    assert client.stats.retries == 0


def test_translation_pointer_and_non_violation_errors_parse() -> None:
    error = SyncError.model_validate(
        {
            "code": "MISSING-SYSTEM-TRANSLATION",
            "status": "400",
            "detail": "Translation required for system language 2fbb5fe2e29a4d70aa5854ce7ce3e20b",
            "source": {"pointer": "/upsert-product/3/translations/2fbb5fe2e29a4d70aa5854ce7ce3e20b"},
        }
    )
    assert (error.operation_key, error.record_index) == ("upsert-product", 3)
    assert error.field == "translations/2fbb5fe2e29a4d70aa5854ce7ce3e20b"
    duplicate = SyncError.model_validate(
        {
            "status": "400",
            "code": "CONTENT__DUPLICATE_PRODUCT_NUMBER",
            "title": "Bad Request",
            "detail": 'Product with number "SW-1" already exists.',
            "meta": {"parameters": {"number": "SW-1"}},
        }
    )
    assert (duplicate.pointer, duplicate.operation_key, duplicate.record_index) == (None, None, None)
    assert duplicate.parameters == {"number": "SW-1"}


def test_sync_units_drops_the_unit_a_pointer_names_and_writes_the_rest() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    units = [product_unit(n) for n in range(10)]
    units[6] = product_unit(6, stock=None)
    report = client.sync_units(units)
    assert report.written == [f"item-{n}" for n in range(10) if n != 6]
    (failed,) = report.failed
    assert failed.key == "item-6"
    assert failed.status == 400
    assert [e.pointer for e in failed.errors] == ["/upsert-product/12/stock"]  # parent + variant per unit
    assert report.requests == 2
    assert not report.ok
    first = orjson.loads(fake.sync_requests()[0].content)
    assert list(first)[:2] == ["upsert-product", "delete-product_visibility-criteria-1"]
    assert len(first["upsert-product"]["payload"]) == 20
    assert first["delete-product_visibility-criteria-1"]["criteria"] == [
        {"type": "equals", "field": "productId", "value": shopware_id("plenty", "item", "0")}
    ]
    assert set(fake.store["product"]) == {
        shopware_id("plenty", kind, str(n)) for n in range(10) if n != 6 for kind in ("item", "variation")
    }


def test_sync_units_bisects_on_the_deterministic_sql_500_without_retrying() -> None:
    fake = FakeShopware()
    client, sleeps, _ = make_client(fake)
    units = [product_unit(n) for n in range(8)]
    units[5] = product_unit(5, taxId="f" * 32)  # unknown foreign key
    report = client.sync_units(units)
    assert report.written == [f"item-{n}" for n in range(8) if n != 5]
    (failed,) = report.failed
    assert failed.key == "item-5"
    assert failed.status == 500
    assert "Integrity constraint violation" in (failed.errors[0].detail or "")
    assert client.stats.retries == 0
    assert sleeps == []
    # [0-7] fails, [0-3] ok, [4-7] fails, [4,5] fails, [4] ok, [5] fails, [6,7] ok
    assert report.requests == 7
    assert client.stats.by_status[500] == 4


def test_sync_units_respects_the_record_budget() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    report = client.sync_units([product_unit(n) for n in range(5)], max_records_per_request=6)
    # each unit is 3 records (parent, variant, one criteria delete)
    assert report.requests == 3
    assert report.ok
    sizes = [len(orjson.loads(r.content)["upsert-product"]["payload"]) for r in fake.sync_requests()]
    assert sizes == [4, 4, 2]


def test_unresolvable_resolver_404_is_a_rejection_but_a_missing_route_is_not() -> None:
    fake = FakeShopware()
    resolver = {
        "errors": [
            {
                "code": "FRAMEWORK__API_INVALID_SYNC_RESOLVERS",
                "status": "404",
                "detail": "Can not resolve foreign key at position /upsert-product/0/parentId. "
                "Reference field: product.parentId",
            }
        ]
    }
    fake.overrides["/api/_action/sync"] = [json_response(404, resolver)]
    client, _, _ = make_client(fake)
    report = client.sync_units([product_unit(1)])
    assert [(f.key, f.status) for f in report.failed] == [("item-1", 404)]
    fake.overrides["/api/_action/sync"] = [
        json_response(404, {"errors": [{"code": "0", "status": "404", "detail": "No route found"}]})
    ]
    with pytest.raises(ShopwareApiError) as info:
        client.sync_units([product_unit(2)])
    assert not isinstance(info.value, SyncRejected)


def test_transient_sql_errors_are_still_retried() -> None:
    fake = FakeShopware()
    deadlock = json_response(
        500,
        {
            "errors": [
                {
                    "status": "500",
                    "detail": "SQLSTATE[40001]: Serialization failure: 1213 Deadlock found",
                }
            ]
        },
    )
    fake.overrides["/api/_action/sync"] = [deadlock]
    client, sleeps, _ = make_client(fake)
    report = client.sync_units([product_unit(1)])
    assert report.ok
    assert client.stats.retries == 1
    assert len(sleeps) == 1


def test_unit_keys_must_be_unique() -> None:
    client, _, _ = make_client(FakeShopware())
    with pytest.raises(ValueError, match="unique"):
        client.sync_units([product_unit(1), product_unit(1)])


def test_operations_are_validated() -> None:
    with pytest.raises(ValueError, match="payload"):
        SyncOperation(entity="product", action="upsert", payload=[])
    with pytest.raises(ValueError, match="action"):
        SyncOperation.model_validate({"entity": "product", "action": "merge", "payload": [{"id": "x"}]})
    with pytest.raises(ValueError, match="entity"):
        SyncOperation(entity="product-visibility", action="delete", payload=[{"id": "x"}])


# --- media and ids -----------------------------------------------------------------------------------------


def test_upload_media_from_url() -> None:
    fake = FakeShopware()
    client, _, _ = make_client(fake)
    media_id = shopware_id("plenty", "image", "19")
    client.upload_media_from_url(media_id, "http://127.0.0.1:8001/images/19.jpg", "102-sessel", "jpg")
    request = fake.requests[-1]
    assert request.url.path == f"/api/_action/media/{media_id}/upload"
    assert dict(request.url.params) == {"extension": "jpg", "fileName": "102-sessel"}
    assert orjson.loads(request.content) == {"url": "http://127.0.0.1:8001/images/19.jpg"}
    assert request.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError, match="32"):
        client.upload_media_from_url("not-an-id", "http://x/y.jpg", "y", "jpg")


def test_duplicated_file_name_is_a_typed_error() -> None:
    fake = FakeShopware()
    media_id = "b" * 32
    fake.overrides[f"/api/_action/media/{media_id}/upload"] = [
        json_response(
            400,
            {
                "errors": [
                    {
                        "status": "400",
                        "code": "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
                        "title": "Bad Request",
                        "detail": "A file with the name 102-sessel.jpg already exists.",
                    }
                ]
            },
        )
    ]
    client, _, _ = make_client(fake)
    with pytest.raises(ShopwareApiError) as info:
        client.upload_media_from_url(media_id, "http://x/y.jpg", "102-sessel", "jpg")
    assert info.value.errors[0].code == "CONTENT__MEDIA_DUPLICATED_FILE_NAME"


def test_shopware_id_is_md5_of_the_joined_parts() -> None:
    assert shopware_id("SW-1") == hashlib.md5(b"SW-1").hexdigest()
    assert shopware_id("plenty", "variation", "1000") == hashlib.md5(b"plenty:variation:1000").hexdigest()
    assert shopware_id("a", "bc") != shopware_id("ab", "c")
    with pytest.raises(ValueError, match="non-empty"):
        shopware_id()


# --- secrets -----------------------------------------------------------------------------------------------


def test_no_secret_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeShopware()
    client, _, _ = make_client(fake, retry=RetrySettings(max_attempts=2))
    errors: list[ApiError] = []
    # An error body that echoes the bearer token back.
    client.search_ids("product")
    fake.overrides["/api/search/product"] = [
        json_response(
            400, {"errors": [{"code": "X", "status": "400", "detail": f"token {TOKENS[0]} refused"}]}
        )
    ]
    fake.overrides["/api/search-ids/product"] = [json_response(503, {"errors": []})] * 2
    for call in (lambda: client.search("product"), lambda: client.search_ids("product")):
        with pytest.raises(ApiError) as info:
            call()
        errors.append(info.value)
    wrong, _, _ = make_client(fake, secret="wrong-secret-123456")
    with pytest.raises(AuthError) as auth_info:
        wrong.search("product")
    errors.append(auth_info.value)
    texts = [repr(client), repr(wrong), repr(vars(client)), repr(vars(wrong)), caplog.text]
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [e.body.decode() for e in errors]
    texts += [str(err) for e in errors if isinstance(e, ShopwareApiError) for err in e.errors]
    for text in texts:
        for secret in (SECRET, "wrong-secret-123456", *TOKENS):
            assert secret not in text
    assert "***" in str(errors[0])
    assert repr(client) == "Shopware6Client(https://shop.example.com)"
