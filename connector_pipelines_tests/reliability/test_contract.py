"""API answers that break the contract: each becomes a clear record error or a clear failed run.

Against the clients (``httpx.MockTransport``): truncated JSON, missing fields, wrong types, HTML error pages,
empty bodies, on every kind of call. Against the pipeline (a Plenty emulator sending malformed records): the
record's product keeps its last good version in Shopware, its error stays open and visible, and it is read
again until Plenty sends it whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from connector_pipelines.clients.http import ApiClient, ApiError, RetrySettings
from connector_pipelines.clients.plentymarkets import ITEMS_PATH, VARIATIONS_PATH, PlentymarketsClient
from connector_pipelines.clients.plentymarkets_models import SyncItem, SyncVariation
from connector_pipelines.clients.shopify import SHOPIFY_API_VERSION, ShopifyClient
from connector_pipelines.clients.shopware6 import Shopware6Client, SyncOperation, SyncUnit
from connector_pipelines.sandbox import plentymarkets_render
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


def _records_in(answer: Answer, page: int) -> int:
    """Records a lenient reader would take from a page: entries of a bare list, or of an envelope of the
    requested page."""
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return 0
    if answer.status >= 300:
        return 0
    if isinstance(body, list):
        return len(body)
    nodes = body
    for step in ("data", "productVariants", "nodes"):
        nodes = nodes.get(step) if isinstance(nodes, dict) else None
    if isinstance(nodes, list):
        return len(nodes)
    if isinstance(body, dict) and isinstance(body.get("entries"), list) and body.get("page") in (None, page):
        return len(body["entries"])
    return 0


class Server:
    """A MockTransport handler: good answers everywhere, ``answer`` for the call under test."""

    def __init__(self, broken: str, answer: Answer) -> None:
        self.broken, self.answer = broken, answer
        self.records_sent = 0
        self.broken_served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        name = path
        if path == SHOPIFY_GRAPHQL:
            name = orjson.loads(request.content)["operationName"]
        if name == self.broken and self.broken_served < 4:
            self.broken_served += 1
            page = int(request.url.params.get("page", "1"))
            self.records_sent += _records_in(self.answer, page)
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


def _fuzz(call: Call, examples: int, findings: Findings) -> None:
    good = SHOPIFY_GOOD[call.broken] if call.broken in SHOPIFY_GOOD else GOOD[call.broken]

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None)
    @given(answer=broken_answers(good))
    def attempt(answer: Answer) -> None:
        findings.cases += 1
        server = Server(call.broken, answer)
        client = _client(call, server)
        try:
            result = call.run(client)
        except ApiError as exc:
            if not (str(exc).startswith(f"{client.system} ") and exc.detail.strip()):
                findings.crashes.append(f"{call.name}: unclear error {str(exc)!r} for {answer}")
            return
        except Exception as exc:
            findings.crashes.append(f"{call.name}: {type(exc).__name__}: {exc} for {answer}")
            return
        finally:
            client.close()
        reported = len(client.invalid_records) if isinstance(client, PlentymarketsClient) else 0
        if call.records and _returned(result) + reported < server.records_sent:
            findings.drops.append(
                f"{call.name}: {server.records_sent} records sent, {_returned(result)} returned, "
                f"{reported} reported, for {answer}"
            )

    attempt()


def test_broken_api_answers_fail_clearly_or_are_reported(
    long_version: bool, figure: Callable[[str], None]
) -> None:
    findings = Findings()
    for call in CALLS:
        _fuzz(call, 150 if long_version else 40, findings)
    figure(
        f"fuzz: API answers breaking the contract {findings.cases} cases over {len(CALLS)} client calls, "
        f"{len(findings.crashes)} crashes, {len(findings.drops)} silent drops"
    )
    assert not findings.crashes, "\n".join(findings.crashes[:10])
    assert not findings.drops, "\n".join(findings.drops[:10])
