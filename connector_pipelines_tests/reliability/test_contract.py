"""API answers that break the contract: each becomes a clear record error or a clear failed run.

Against the client of every system of the catalog's pipelines (``httpx.MockTransport``): truncated JSON,
missing fields, wrong types, HTML error pages, empty bodies, on every kind of call; the good answers around
the broken one are written here (Plentymarkets, Shopware, Shopify) or recorded from the system's emulator
(Plytix, Webflow). Against the pipeline (a Plenty emulator sending malformed records): the
record's product keeps its last good version in Shopware, its error stays open and visible, and it is read
again until Plenty sends it whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from connector_pipelines.clients.http import ApiClient, ApiError, RetrySettings
from connector_pipelines.clients.plentymarkets import ITEMS_PATH, VARIATIONS_PATH, PlentymarketsClient
from connector_pipelines.clients.plentymarkets_models import SyncItem, SyncVariation
from connector_pipelines.clients.plytix import PlytixClient
from connector_pipelines.clients.shopify import SHOPIFY_API_VERSION, ShopifyClient
from connector_pipelines.clients.shopware6 import Shopware6Client, SyncOperation, SyncUnit
from connector_pipelines.clients.webflow import WebflowClient
from connector_pipelines.sandbox import plentymarkets_render
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sources.plentymarkets import key
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant

pytestmark = pytest.mark.reliability

Render = Callable[[Any, Any, Collection[str]], Any]


@contextmanager
def malformed(monkeypatch: pytest.MonkeyPatch, method: str, record_id: int, field: str) -> Iterator[None]:
    """While open, the Plenty emulator renders record ``record_id`` (an item, a variation, a category)
    with ``field`` of the wrong type."""
    original: Render = getattr(plentymarkets_render.Renderer, method)

    def render(self: Any, record: Any, relations: Collection[str]) -> Any:
        entry = original(self, record, relations)
        if record.id == record_id:
            entry[field] = {"not": "what the contract says"}
        return entry

    with monkeypatch.context() as patched:
        patched.setattr(plentymarkets_render.Renderer, method, render)
        yield


def _onboard(tenant: PlentyShopwareTenant) -> None:
    for mode in (SyncMode.CONFIG, SyncMode.FULL):
        run = tenant.sync(mode)
        assert run.success, run.error
    assert tenant.convergence().converged, tenant.convergence().describe()


def _open(tenant: PlentyShopwareTenant) -> dict[str, str]:
    return {e.record_key: e.reason for e in tenant.store().open_errors()}


@pytest.mark.parametrize(
    ("method", "field", "what"),
    [("item", "manufacturerId", "the item"), ("variation", "isActive", "one variation")],
)
def test_a_malformed_product_record_keeps_its_product_and_stays_visible(
    plenty_shopware: PlentyShopwareTenant, monkeypatch: pytest.MonkeyPatch, method: str, field: str, what: str
) -> None:
    tenant = plenty_shopware
    _onboard(tenant)
    catalog = tenant.plenty.emulator.catalog
    item = catalog.items[min(catalog.items)]
    variation = catalog.variations[item.variation_ids[-1]]
    tenant.plenty.emulator.set_stock(variation.id, 4242)
    record_id = item.id if method == "item" else variation.id
    with malformed(monkeypatch, method, record_id, field):
        for mode in (SyncMode.FULL, SyncMode.DELTA):
            run = tenant.sync(mode)
            assert run.success, f"{mode}: {run.error}"
            errors = _open(tenant)
            assert list(errors) == [key("item", item.id)], f"{mode}: {what} malformed: {errors}"
            assert field in errors[key("item", item.id)], "the reason names the field"
            report = tenant.convergence()
            # Shopware keeps the last good version: only the change made meanwhile is missing.
            assert not report.missing and not report.unexpected, report.describe()
            differing = {m.split(":")[0] for m in report.mismatched}
            assert differing == {variation.number, f"P-{item.id}"}, report.describe()
    run = tenant.sync(SyncMode.DELTA)
    assert run.success, run.error
    assert _open(tenant) == {}, "read whole again, the error is resolved"
    assert tenant.convergence().converged, tenant.convergence().describe()


def test_a_malformed_category_is_kept_and_reported(
    plenty_shopware: PlentyShopwareTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = plenty_shopware
    _onboard(tenant)
    store = tenant.store()
    categories = store.records("category")
    category_id = min(tenant.plenty.emulator.catalog.categories)
    shopware_categories = tenant.shopware.emulator.count("category")
    with malformed(monkeypatch, "category", category_id, "parentCategoryId"):
        run = tenant.sync(SyncMode.CONFIG)
        assert run.success, run.error
        assert run.counts("plenty_categories")["removed"] == 0, "malformed is not gone"
        assert run.counts("plenty_categories")["failed"] == 1
        assert list(_open(tenant)) == [key("category", category_id)]
        assert store.records("category") == categories
        assert tenant.shopware.emulator.count("category") == shopware_categories
    assert tenant.sync(SyncMode.CONFIG).success
    assert _open(tenant) == {}


# --- the clients against answers that break the contract --------------------------------------------------

PLENTY = "https://plenty.example.com"
SHOPWARE = "https://shop.example.com"
SHOPIFY = "https://acme.myshopify.com"
SHOPIFY_GRAPHQL = f"/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
HTML_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
SKU_NODE: dict[str, JsonValue] = {
    "id": "gid://shopify/ProductVariant/1",
    "sku": "A-1",
    "price": "9.90",
    "barcode": None,
    "product": {"id": "gid://shopify/Product/1", "handle": "a", "status": "ACTIVE"},
}

# Good answers per path: every call but the one under test gets these.
GOOD: dict[str, JsonValue] = {
    "/rest/login": {"accessToken": "plenty-access", "refreshToken": "plenty-refresh", "expiresIn": 3600},
    "/rest/logout": {},
    ITEMS_PATH: {
        "page": 1,
        "isLastPage": True,
        "entries": [{"id": 1, "manufacturerId": 2, "texts": [{"lang": "de", "name1": "Hemd"}]}],
    },
    VARIATIONS_PATH: {
        "page": 1,
        "isLastPage": True,
        "entries": [{"id": 10, "itemId": 1, "number": "A-1", "isActive": True, "stock": []}],
    },
    "/rest/stockmanagement/warehouses": [{"id": 1, "name": "Hauptlager", "typeId": 0}],
    "/rest/vat/standard": {"id": 1, "vatRates": [{"id": 0, "vatRate": "19.00"}]},
    "/api/oauth/token": {"token_type": "Bearer", "expires_in": 600, "access_token": "shopware-access"},
    "/api/search/product": {"total": 1, "data": [{"id": "a" * 32, "productNumber": "A-1"}]},
    "/api/search-ids/product": {"total": 1, "data": ["a" * 32]},
    "/api/_action/sync": {"data": {"product": ["a" * 32]}, "notFound": [], "deleted": []},
}
SHOPIFY_GOOD: dict[str, JsonValue] = {
    "ProductDelete": {
        "data": {"productDelete": {"deletedProductId": "gid://shopify/Product/1", "userErrors": []}}
    },
    "ProductVariants": {
        "data": {
            "productVariants": {"nodes": [SKU_NODE], "pageInfo": {"hasNextPage": False, "endCursor": None}}
        }
    },
    "BulkOperation": {
        "data": {
            "node": {
                "id": "gid://shopify/BulkOperation/1",
                "status": "COMPLETED",
                "type": "MUTATION",
                "createdAt": "2026-01-01T00:00:00Z",
                "objectCount": "1",
                "rootObjectCount": "1",
            }
        }
    },
}


def _upsert() -> list[SyncOperation]:
    return [SyncOperation(entity="product", action="upsert", payload=[{"id": "a" * 32}])]


@dataclass(frozen=True)
class Call:
    """One client call; the answer to ``broken`` (a path, or a GraphQL operation name) is replaced."""

    name: str
    broken: str
    run: Callable[[Any], object]
    records: bool = False  # the answer is a list of records: each must come back or be reported


CALLS = [
    Call("plenty login", "/rest/login", lambda c: c.warehouses()),
    Call("plenty items", ITEMS_PATH, lambda c: list(c.iter_items(model=SyncItem)), records=True),
    Call(
        "plenty variations",
        VARIATIONS_PATH,
        lambda c: list(c.iter_variations(model=SyncVariation, item_ids=[1])),
        records=True,
    ),
    Call("plenty warehouses", "/rest/stockmanagement/warehouses", lambda c: c.warehouses(), records=True),
    Call("plenty vat", "/rest/vat/standard", lambda c: c.vat_standard()),
    Call("shopware token", "/api/oauth/token", lambda c: c.search("product")),
    Call("shopware search", "/api/search/product", lambda c: c.search("product")),
    Call("shopware search-ids", "/api/search-ids/product", lambda c: c.search_ids("product")),
    Call("shopware sync", "/api/_action/sync", lambda c: c.sync(_upsert())),
    Call(
        "shopware sync units",
        "/api/_action/sync",
        lambda c: c.sync_units([SyncUnit(key="p1", operations=_upsert())]),
    ),
    Call("shopify product delete", "ProductDelete", lambda c: c.product_delete("gid://shopify/Product/1")),
    Call("shopify variants by sku", "ProductVariants", lambda c: c.variants_by_sku(["A-1"]), records=True),
    Call(
        "shopify bulk operation", "BulkOperation", lambda c: c.bulk_operation("gid://shopify/BulkOperation/1")
    ),
]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


def _paths(value: JsonValue, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for name, child in value.items():
            found += _paths(child, (*prefix, name))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(
    value: JsonValue, path: tuple[str | int, ...], new: JsonValue | None, *, drop: bool
) -> JsonValue:
    """``value`` with the node at ``path`` replaced by ``new`` (or removed)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(head, str):
        copy = dict(value)
        if drop and not rest:
            del copy[head]
        else:
            copy[head] = _replace(value[head], rest, new, drop=drop)
        return copy
    assert isinstance(value, list) and isinstance(head, int)
    items = list(value)
    if drop and not rest:
        del items[head]
    else:
        items[head] = _replace(value[head], rest, new, drop=drop)
    return items


JSON_VALUES: st.SearchStrategy[JsonValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # what JSON (orjson) carries
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def broken_answers(draw: st.DrawFn, good: JsonValue) -> Answer:
    """What a server may send instead of ``good``: cut short, empty, an HTML page, other JSON, a field of
    the wrong type or missing; with a success or an error status."""
    good_bytes = orjson.dumps(good)
    kind = draw(st.sampled_from(["truncated", "empty", "html", "json", "wrong type", "missing field"]))
    status = draw(st.sampled_from([200, 200, 200, 201, 400, 404, 422, 500, 503]))
    content_type = "application/json"
    if kind == "truncated":
        body = good_bytes[: draw(st.integers(0, len(good_bytes) - 1))]
    elif kind == "empty":
        body = b""
    elif kind == "html":
        body, content_type = HTML_PAGE, "text/html"
    elif kind == "json":
        body = orjson.dumps(draw(JSON_VALUES))
    else:
        path = draw(st.sampled_from(_paths(good)))
        new = draw(JSON_VALUES) if kind == "wrong type" else None
        body = orjson.dumps(_replace(good, path, new, drop=kind == "missing field"))
    return Answer(status, body, content_type)


def _records_in(answer: Answer, page: int) -> list[JsonValue]:
    """Records a lenient reader would take from a page: entries of a bare list, or of an envelope of the
    requested page."""
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return []
    if answer.status >= 300:
        return []
    if isinstance(body, list):
        return body
    nodes = body
    for step in ("data", "productVariants", "nodes"):
        nodes = nodes.get(step) if isinstance(nodes, dict) else None
    if isinstance(nodes, list):
        return nodes
    if isinstance(body, dict) and isinstance(body.get("entries"), list) and body.get("page") in (None, page):
        return list(body["entries"])
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return list(body["items"])
    return []


class Sent:
    """The distinct records a server sent: a page served again (a client paging on past a broken cursor)
    sends no new record."""

    def __init__(self) -> None:
        self._records: set[bytes] = set()

    def add(self, records: list[JsonValue]) -> None:
        self._records.update(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)

    @property
    def records_sent(self) -> int:
        return len(self._records)


class Server(Sent):
    """A MockTransport handler: good answers everywhere, ``answer`` for the call under test."""

    def __init__(self, broken: str, answer: Answer) -> None:
        super().__init__()
        self.broken, self.answer = broken, answer
        self.broken_served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        name = path
        if path == SHOPIFY_GRAPHQL:
            name = orjson.loads(request.content)["operationName"]
        if name == self.broken and self.broken_served < 4:
            self.broken_served += 1
            page = int(request.url.params.get("page", "1"))
            self.add(_records_in(self.answer, page))
            return httpx.Response(
                self.answer.status,
                content=self.answer.body,
                headers={"content-type": self.answer.content_type},
            )
        good = SHOPIFY_GOOD[name] if path == SHOPIFY_GRAPHQL else GOOD.get(path, {"page": 2, "entries": []})
        return httpx.Response(200, json=good)


def _client(call: Call, server: Server) -> ApiClient:
    options: dict[str, Any] = {
        "transport": httpx.MockTransport(server),
        "retry": RetrySettings(max_attempts=2, base_delay_s=0),
        "sleep": lambda _s: None,
    }
    system = call.name.split()[0]
    if system == "plenty":
        return PlentymarketsClient(PLENTY, "api-user", "api-password", **options)
    if system == "shopware":
        return Shopware6Client(SHOPWARE, "SWIACLIENT", "client-secret", **options)
    return ShopifyClient(SHOPIFY, "shpat_token", **options)


def _returned(result: object) -> int:
    return len(result) if isinstance(result, list | dict) else 1


@dataclass
class Findings:
    cases: int = 0
    crashes: list[str] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)


class Served(Protocol):
    @property
    def records_sent(self) -> int: ...


def _fuzz(
    name: str,
    good: JsonValue,
    connect: Callable[[Answer], tuple[ApiClient, Served]],
    run: Callable[[Any], object],
    records: bool,
    examples: int,
    findings: Findings,
) -> None:
    @settings(max_examples=examples, derandomize=True, deadline=None, database=None)
    @given(answer=broken_answers(good))
    def attempt(answer: Answer) -> None:
        findings.cases += 1
        client, server = connect(answer)
        try:
            result = run(client)
        except ApiError as exc:
            if not (str(exc).startswith(f"{client.system} ") and exc.detail.strip()):
                findings.crashes.append(f"{name}: unclear error {str(exc)!r} for {answer}")
            return
        except Exception as exc:
            findings.crashes.append(f"{name}: {type(exc).__name__}: {exc} for {answer}")
            return
        finally:
            client.close()
        reported = len(client.invalid_records) if isinstance(client, PlentymarketsClient) else 0
        if records and _returned(result) + reported < server.records_sent:
            findings.drops.append(
                f"{name}: {server.records_sent} records sent, {_returned(result)} returned, "
                f"{reported} reported, for {answer}"
            )

    attempt()


def _fuzz_call(call: Call, examples: int, findings: Findings) -> None:
    def connect(answer: Answer) -> tuple[ApiClient, Served]:
        server = Server(call.broken, answer)
        return _client(call, server), server

    good = SHOPIFY_GOOD[call.broken] if call.broken in SHOPIFY_GOOD else GOOD[call.broken]
    _fuzz(call.name, good, connect, call.run, call.records, examples, findings)


# --- clients whose good answers are their emulators' own (Plytix, Webflow) ----------------------------------

Answers = dict[tuple[str, str], tuple[int, bytes, str]]  # (method, path) -> status, body, content type


class Recorder(httpx.BaseTransport):
    """A real transport that keeps the last answer to every (method, path)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.answers: Answers = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        kind = response.headers.get("content-type", "application/json")
        self.answers[(request.method, request.url.path)] = (response.status_code, body, kind)
        return httpx.Response(response.status_code, content=body, headers={"content-type": kind})


class Replay(Sent):
    """A MockTransport handler: the recorded answers everywhere, ``answer`` for the request under test (by
    method and the end of its path)."""

    def __init__(self, answers: Answers, method: str, suffix: str, answer: Answer) -> None:
        super().__init__()
        self.answers, self.method, self.suffix, self.answer = answers, method, suffix, answer
        self.broken_served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == self.method and path.endswith(self.suffix) and self.broken_served < 4:
            self.broken_served += 1
            self.add(_records_in(self.answer, 1))
            return httpx.Response(
                self.answer.status,
                content=self.answer.body,
                headers={"content-type": self.answer.content_type},
            )
        status, body, kind = self.answers.get((request.method, path), (404, b"{}", "application/json"))
        return httpx.Response(status, content=body, headers={"content-type": kind})


@dataclass(frozen=True)
class LiveCall:
    """One client call; the answer to the request ``method`` ``…suffix`` is replaced."""

    name: str
    method: str
    suffix: str
    run: Callable[[Any, Mapping[str, str]], object]
    records: bool = False


PLYTIX_CALLS = [
    LiveCall("plytix token", "POST", "/auth/api/get-token", lambda c, ids: c.attributes()),
    LiveCall(
        "plytix products", "POST", "/api/v1/products/search", lambda c, ids: list(c.search_products()), True
    ),
    LiveCall("plytix product", "GET", "/products/{product}", lambda c, ids: c.get_product(ids["product"])),
    LiveCall("plytix variants", "GET", "/variants", lambda c, ids: c.variants(ids["product"]), True),
    LiveCall("plytix attributes", "POST", "/attributes/product/search", lambda c, ids: c.attributes(), True),
    LiveCall("plytix families", "POST", "/product_families/search", lambda c, ids: c.families(), True),
    LiveCall(
        "plytix family attributes",
        "GET",
        "/attributes",
        lambda c, ids: c.family_attributes(ids["family"]),
        True,
    ),
    LiveCall("plytix categories", "POST", "/categories/product/search", lambda c, ids: c.categories(), True),
]
# Listing products and items (the paged calls) is left out until the defect pinned by
# test_a_page_whose_pagination_is_not_an_object_fails_clearly is fixed.
WEBFLOW_CALLS = [
    LiveCall("webflow collections", "GET", "/collections", lambda c, ids: c.collections(ids["site"]), True),
    LiveCall(
        "webflow create product",
        "POST",
        "/products",
        lambda c, ids: c.create_product(ids["site"], {"name": "Hemd", "slug": "hemd-2"}, NEW_SKU),
    ),
    LiveCall(
        "webflow update sku",
        "PATCH",
        "/skus/{sku}",
        lambda c, ids: c.update_sku(ids["site"], ids["product"], ids["sku"], {"name": "Hemd M"}),
    ),
]
NEW_SKU: dict[str, JsonValue] = {
    "name": "Hemd",
    "slug": "hemd-sku",
    "price": {"value": 1990, "unit": "USD", "currency": "USD"},
    "sku": "H-1",
}


@dataclass(frozen=True)
class Live:
    """What the fuzzing of one emulated system needs: how its client is opened (on a transport), the ids its
    calls take, and the emulator's answers to every call."""

    open: Callable[[httpx.BaseTransport], ApiClient]
    ids: Mapping[str, str]
    answers: Answers


def _live_systems(hub: SandboxHub) -> dict[str, Live]:
    """Plytix and Webflow accounts, each call made once against its emulator, the answers kept."""
    hub.add_plytix("fuzz", products=3, variants=2)
    site = hub.add_webflow("fuzz")
    accounts = hub.accounts()
    plytix, webflow = accounts["plytix"]["fuzz"], accounts["webflow"]["fuzz"]
    options: dict[str, Any] = {
        "retry": RetrySettings(max_attempts=2, base_delay_s=0),
        "sleep": lambda _s: None,
    }

    def open_plytix(transport: httpx.BaseTransport) -> ApiClient:
        return PlytixClient(
            plytix["base_url"], plytix["api_key"], plytix["api_password"], transport=transport, **options
        )

    def open_webflow(transport: httpx.BaseTransport) -> ApiClient:
        return WebflowClient(webflow["base_url"], webflow["token"], transport=transport, **options)

    parent = next(p for p in hub.plytix["fuzz"].emulator.catalog() if p.get("num_variations"))
    with WebflowClient(webflow["base_url"], webflow["token"], **options) as setup:
        created = setup.create_product(
            site.site_id, {"name": "Hemd", "slug": "hemd"}, {**NEW_SKU, "sku": "H-0", "slug": "hemd-0"}
        )
    systems = {
        "plytix": Live(
            open_plytix, {"product": str(parent["id"]), "family": str(parent["product_family_id"])}, {}
        ),
        "webflow": Live(
            open_webflow,
            {
                "site": site.site_id,
                "product": created.product.id,
                "sku": created.skus[0].id,
                "collection": site.emulator.collection_id("category"),
            },
            {},
        ),
    }
    for system, calls in (("plytix", PLYTIX_CALLS), ("webflow", WEBFLOW_CALLS)):
        live = systems[system]
        for call in calls:
            recorder = Recorder()
            with live.open(recorder) as client:
                call.run(client, live.ids)
            live.answers.update(recorder.answers)
    return systems


@pytest.mark.parametrize(
    "answer",
    [
        Answer(
            201, b'{"items":[{"id":"6b13edbb6665704ffcbcfbef","fieldData":{"name":"Neu"', "application/json"
        ),
        Answer(200, HTML_PAGE, "text/html"),
    ],
    ids=["cut short", "html"],
)
def test_a_broken_answer_to_an_item_write_fails_clearly(answer: Answer) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            answer.status, content=answer.body, headers={"content-type": answer.content_type}
        )

    client = WebflowClient("https://api.webflow.com/v2", "token", transport=httpx.MockTransport(reply))
    with client, pytest.raises(ApiError, match=r"^webflow POST /collections/c1/items"):
        client.create_items("c1", [{"fieldData": {"name": "Neu", "slug": "neu"}}])


@pytest.mark.parametrize("listing", ["list_products", "list_items"])
def test_a_page_whose_pagination_is_not_an_object_fails_clearly(listing: str) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [], "pagination": [[True]]})

    client = WebflowClient("https://api.webflow.com/v2", "token", transport=httpx.MockTransport(reply))
    with client, pytest.raises(ApiError, match=r"^webflow GET /"):
        list(getattr(client, listing)("6b13f741314d30a74c67f1b1"))


def _fuzz_live(call: LiveCall, live: Live, examples: int, findings: Findings) -> None:
    suffix = call.suffix.format(**live.ids)
    good_key = next(k for k in live.answers if k[0] == call.method and k[1].endswith(suffix))
    good = orjson.loads(live.answers[good_key][1] or b"null")

    def connect(answer: Answer) -> tuple[ApiClient, Served]:
        server = Replay(live.answers, call.method, suffix, answer)
        return live.open(httpx.MockTransport(server)), server

    _fuzz(
        call.name, good, connect, lambda client: call.run(client, live.ids), call.records, examples, findings
    )


def test_broken_api_answers_fail_clearly_or_are_reported(
    long_version: bool, figure: Callable[[str], None], hub: SandboxHub
) -> None:
    findings = Findings()
    examples = 150 if long_version else 40
    for call in CALLS:
        _fuzz_call(call, examples, findings)
    systems = _live_systems(hub)
    for system, calls in (("plytix", PLYTIX_CALLS), ("webflow", WEBFLOW_CALLS)):
        for live_call in calls:
            _fuzz_live(live_call, systems[system], examples, findings)
    count = len(CALLS) + len(PLYTIX_CALLS) + len(WEBFLOW_CALLS)
    figure(
        f"fuzz: API answers breaking the contract {findings.cases} cases over {count} client calls, "
        f"{len(findings.crashes)} crashes, {len(findings.drops)} silent drops"
    )
    assert not findings.crashes, "\n".join(findings.crashes[:10])
    assert not findings.drops, "\n".join(findings.drops[:10])
