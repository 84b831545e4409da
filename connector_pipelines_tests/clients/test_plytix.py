"""PlytixClient against the Plytix emulator (and, for shapes the emulator never sends, httpx.MockTransport):
paging, lazy token, renewal before expiry and after a 401, pacing, Retry-After, errors and secrets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC

import httpx
import orjson
import pytest

from connector_pipelines.clients.http import ApiError, AuthError, RetrySettings
from connector_pipelines.clients.plytix import PlytixClient, SearchFilter
from connector_pipelines.sandbox.plytix import PlytixEmulator, PlytixSettings
from connector_pipelines.sandbox.server import EmulatorServer

SEARCH_ROUTE = "POST /api/v1/products/search"


class FakeClock:
    """Seconds that move only when slept; shared by the client (clock, sleep) and the emulator (clock)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


Served = tuple[PlytixEmulator, EmulatorServer]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    servers: list[EmulatorServer] = []

    def start(settings: PlytixSettings | None = None, **kwargs: int) -> Served:
        emulator = PlytixEmulator(settings, **kwargs)
        server = emulator.serve().start()
        servers.append(server)
        return emulator, server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    return serve()


def client_for(
    served: Served,
    clock: FakeClock | None = None,
    *,
    page_size: int = 100,
    requests_per_10s: int | None = None,
    requests_per_hour: int | None = None,
) -> PlytixClient:
    emulator, server = served
    clock = clock or FakeClock()
    return PlytixClient(
        server.base_url,
        emulator.settings.api_key,
        emulator.settings.api_password,
        page_size=page_size,
        requests_per_10s=requests_per_10s,
        requests_per_hour=requests_per_hour,
        clock=clock,
        sleep=clock.sleep,
        retry=RetrySettings(base_delay_s=0.0),
    )


def test_search_streams_pages_until_the_total(served: Served) -> None:
    emulator, _ = served
    with client_for(served, page_size=10) as client:
        products = list(client.search_products(attributes=["label", "modified", "attributes.price"]))
    assert [p.sku for p in products] == [str(p["sku"]) for p in emulator.catalog()]
    assert emulator.stats().calls[SEARCH_ROUTE] == 8  # 74 products, pages of 10: no empty 9th page
    variant = next(p for p in products if p.sku == "P000001-01")
    assert variant.parent_id == products[0].id and variant.is_variant
    assert variant.modified is not None and variant.modified.tzinfo is not None
    assert isinstance(variant.attributes["price"], float)
    assert products[0].has_variants and products[0].num_variations == 3
    assert variant.product_family_id is None  # search never returns it


def test_filters_and_order_are_sent_as_plytix_expects(served: Served) -> None:
    emulator, _ = served
    catalog = {str(p["sku"]): p for p in emulator.catalog()}
    with client_for(served) as client:
        parents = list(
            client.search_products(
                [[SearchFilter(field="_is_variation", operator="eq", value=False)]], order="-sku", page_size=7
            )
        )
        assert [p.sku for p in parents] == [f"P{n:06d}" for n in range(20, 0, -1)]
        either = client.search_products(
            [
                [SearchFilter(field="sku", operator="eq", value="p000002-01")],
                [SearchFilter(field="sku", operator="in", value=["P000003-02"])],
            ]
        )
        assert {p.sku for p in either} == {"P000002-01", "P000003-02"}
        since = str(catalog["P000019-03"]["modified"])
        newer = client.search_products([[SearchFilter(field="modified", operator="gt", value=since)]])
        assert [p.sku for p in newer] == ["P000020"]


def test_products_variants_families_categories_attributes_filters(served: Served) -> None:
    emulator, _ = served
    catalog = {str(p["sku"]): p for p in emulator.catalog()}
    parent_id = str(catalog["P000001"]["id"])
    with client_for(served) as client:
        parent = client.get_product(parent_id)
        assert parent is not None and parent.sku == "P000001" and parent.product_type == "PARENT"
        assert parent.thumbnail is not None and parent.thumbnail.url
        assert parent.categories[0].path == ["Clothing", parent.categories[0].name]
        assert client.get_product("5c4ec5afb3bfd10001e45603") is None
        variants = client.variants(parent_id)
        assert [v.sku for v in variants] == ["P000001-01", "P000001-02", "P000001-03"]
        assert all(v.product_family_id == parent.product_family_id for v in variants)
        assert variants[0].attributes["brand"] == parent.attributes["brand"]  # inherited
        assert variants[0].assets[0].url and variants[0].created and variants[0].created.tzinfo == UTC
        assert client.variants("5c4ec5afb3bfd10001e45603") == []

        families = {f.name: f for f in client.families()}
        assert (
            set(families) == {"Apparel", "Accessories", "Simple"} and families["Simple"].total_products == 2
        )
        apparel = client.family_attributes(families["Apparel"].id)
        assert {a.label for a in apparel if a.level == "variant_level"} == {"color", "size"}
        assert {a.key for a in apparel if a.level == "parent_level"} == {
            "attributes.description",
            "attributes.brand",
            "attributes.material",
        }
        assert "status" in {a.key for a in client.family_attributes(families["Apparel"].id, system=True)}

        categories = client.categories()
        by_id = {c.id: c for c in categories}
        leaf = next(c for c in categories if c.name == "Hats")
        assert leaf.parent_id is not None and by_id[leaf.parent_id].name == "Accessories"
        assert leaf.path == ["Accessories", "Hats"] and leaf.order == 1

        attributes = {a.label: a for a in client.attributes()}
        assert attributes["size"].options == ["XS", "S", "M", "L", "XL", "XXL"]
        assert attributes["price"].type_class == "DecimalAttribute" and attributes["price"].options == []

        filters = {f.key: f for f in client.product_filters()}
        assert "in" in filters["attributes.color"].operators and "_is_variation" in filters


def test_token_is_fetched_lazily_once_across_threads(served: Served) -> None:
    emulator, _ = served
    parent_id = str(emulator.catalog()[0]["id"])
    with client_for(served) as client:
        assert emulator.stats().tokens_issued == 0
        threads = [threading.Thread(target=client.get_product, args=(parent_id,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.get_product(parent_id) is not None
    stats = emulator.stats()
    assert stats.tokens_issued == 1 and stats.calls["GET /api/v1/products/{id}"] == 5


def test_token_renewed_before_its_15_minutes_run_out(served: Served) -> None:
    emulator, _ = served
    clock = FakeClock()
    parent_id = str(emulator.catalog()[0]["id"])
    with client_for(served, clock) as client:
        client.get_product(parent_id)
        clock.now += 839
        client.get_product(parent_id)
        assert emulator.stats().tokens_issued == 1
        clock.now += 2  # 841 s: within a minute of the 900 s lifetime
        client.get_product(parent_id)
    stats = emulator.stats()
    assert stats.tokens_issued == 2 and 401 not in stats.by_status


def test_token_renewed_after_a_401(served: Served) -> None:
    emulator, _ = served
    parent_id = str(emulator.catalog()[0]["id"])
    with client_for(served) as client:
        client.get_product(parent_id)
        emulator.expire_tokens()
        assert client.get_product(parent_id) is not None
    stats = emulator.stats()
    assert stats.tokens_issued == 2 and stats.by_status[401] == 1


def test_bad_credentials_are_an_auth_error_without_secrets(served: Served) -> None:
    emulator, server = served
    password = "wrong-Password-0123456789"
    client = PlytixClient(server.base_url, emulator.settings.api_key, password)
    with client, pytest.raises(AuthError) as caught:
        client.get_product("x1")
    message = str(caught.value)
    assert message.startswith(
        "plytix POST /auth/api/get-token: HTTP 401: Plytix refused the API credentials (bad api_key or "
        "api_password): Bad api_key or api_password: Credentials not valid — remedy: "
    )
    assert password not in message and emulator.settings.api_key not in message
    assert "\n" not in message


def test_pacing_keeps_a_small_window_without_a_single_429(serve: Callable[..., Served]) -> None:
    clock = FakeClock()
    emulator, server = serve(PlytixSettings(rate_per_10s=4, rate_per_hour=30))
    emulator.clock = clock
    parent_id = str(emulator.catalog()[0]["id"])
    with client_for((emulator, server), clock, requests_per_10s=4, requests_per_hour=30) as client:
        for _ in range(11):
            client.get_product(parent_id)

        def worker() -> None:
            for _ in range(4):
                client.variants(parent_id)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.stats.rate_limit_waits > 0
    stats = emulator.stats()
    assert stats.too_many == 0 and 429 not in stats.by_status
    assert sum(stats.calls.values()) == 24  # the token request is one of them
    assert clock.now - 1_000_000.0 >= 50  # 24 requests at 4 per 10 s


def test_clients_of_one_account_share_its_windows(serve: Callable[..., Served]) -> None:
    """Each step of a run opens its own client: the next one must know of the calls the last one made."""
    clock = FakeClock()
    emulator, server = serve(PlytixSettings(rate_per_10s=4))
    emulator.clock = clock
    parent_id = str(emulator.catalog()[0]["id"])
    for _ in range(3):
        with client_for((emulator, server), clock, requests_per_10s=4) as client:
            for _ in range(3):
                client.get_product(parent_id)
    stats = emulator.stats()
    assert stats.too_many == 0 and 429 not in stats.by_status
    assert sum(stats.calls.values()) == 12  # three tokens and nine reads, four per 10 s


def test_a_429_waits_retry_after(served: Served) -> None:
    emulator, _ = served
    emulator.faults.configure(
        emulator.faults.config.model_copy(update={"storm_429": 2, "retry_after_s": 2.0})
    )
    clock = FakeClock()
    with client_for(served, clock) as client:
        assert client.get_product(str(emulator.catalog()[0]["id"])) is not None
    assert clock.slept == [2.0, 2.0]
    assert client.stats.rate_limit_waits == 2


def test_errors_are_one_line_naming_the_route_and_message(served: Served) -> None:
    with client_for(served) as client:
        with pytest.raises(ApiError) as caught:
            list(client.search_products(attributes=["attributes.nope"]))
        assert str(caught.value) == (
            "plytix POST /api/v1/products/search: HTTP 422: "
            "Search validation error (attributes: attributes.nope does not exist)"
        )
        with pytest.raises(ApiError) as bad_filter:
            list(client.search_products([[SearchFilter(field="attributes.color", operator="gt", value=1)]]))
        assert "operator gt is not allowed for field attributes.color" in str(bad_filter.value)
        token = client._token.get_secret_value() if client._token else ""
    assert token and token not in str(caught.value)


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"Content-Type": "application/json", **(headers or {})}
    )


def test_separate_auth_host_short_pages_and_redacted_bodies() -> None:
    seen: list[str] = []
    pages = {
        1: [{"id": "a", "sku": "A"}, {"id": "b", "sku": "B"}],
        2: [{"id": "c", "sku": "C", "_parent_id": "a"}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.host}{request.url.path}")
        if request.url.path == "/auth/api/get-token":
            return json_response(200, {"data": [{"access_token": "tok-123456789"}]})
        assert request.headers["Authorization"] == "Bearer tok-123456789"
        if request.url.path == "/api/v1/products/search":
            page = orjson.loads(request.content)["pagination"]["page"]
            return json_response(200, {"data": pages[page], "pagination": {"page": page, "page_size": 2}})
        return json_response(422, {"error": {"msg": "boom for key-SECRET-1 and tok-123456789", "errors": []}})

    client = PlytixClient(
        "https://pim.plytix.test",
        "key-SECRET-1",
        "pass-SECRET-2",
        auth_url="https://auth.plytix.test",
        transport=httpx.MockTransport(handler),
        retry=RetrySettings(max_attempts=1),
        page_size=2,
    )
    products = list(client.search_products())
    assert [p.sku for p in products] == ["A", "B", "C"] and products[2].parent_id == "a"
    assert seen == [
        "POST auth.plytix.test/auth/api/get-token",
        "POST pim.plytix.test/api/v1/products/search",
        "POST pim.plytix.test/api/v1/products/search",
    ]  # page 2 was short: no third page although no total_count was given
    with pytest.raises(ApiError) as caught:
        client.get_product("x")
    assert "SECRET" not in str(caught.value) and "tok-123456789" not in str(caught.value)
    assert "SECRET" not in caught.value.body.decode() and "***" in str(caught.value)
    assert "SECRET" not in repr(vars(client))


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="must not end in /api"):
        PlytixClient("https://pim.plytix.com/api/v1", "k", "p")
    with pytest.raises(ValueError, match="page_size"):
        PlytixClient("https://pim.plytix.com", "k", "p", page_size=101)
    with pytest.raises(ValueError, match="credentials"):
        PlytixClient("https://user:pw@pim.plytix.com", "k", "p")
    with pytest.raises(ValueError, match="rate limits"):
        PlytixClient("https://pim.plytix.com", "k", "p", requests_per_10s=0)
