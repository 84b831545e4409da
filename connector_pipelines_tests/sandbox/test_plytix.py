"""The Plytix PIM v1 emulator over real HTTP (plain httpx): auth, search, products and variants, families,
categories, assets, errors, rate limits, faults, stats and in-process changes."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connector_pipelines.sandbox.plytix import PlytixEmulator, PlytixSettings
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig

SEARCH = "/api/v1/products/search"


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """A plain httpx client with a token of the emulator."""

    def __init__(self, emulator: PlytixEmulator, server: EmulatorServer) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=server.base_url)
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        s = self.emulator.settings
        response = self.http.post(
            "/auth/api/get-token", json={"api_key": s.api_key, "api_password": s.api_password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["data"][0]["access_token"]
        return token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.headers, **kwargs)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.http.patch(path, json=body, headers=self.headers)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(path, headers=self.headers)

    def search(self, body: Any) -> dict[str, Any]:
        response = self.post(SEARCH, body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def skus(self, filters: Any, **pagination: Any) -> list[str]:
        body = {"filters": filters, "pagination": {"page_size": 100, **pagination}}
        return [row["sku"] for row in self.search(body)["data"]]


Factory = Callable[..., tuple[PlytixEmulator, Api]]


@pytest.fixture
def make() -> Iterator[Factory]:
    with contextlib.ExitStack() as stack:

        def factory(
            settings: PlytixSettings | None = None,
            *,
            clock: FakeClock | None = None,
            products: int = 20,
            variants: int = 3,
        ) -> tuple[PlytixEmulator, Api]:
            emulator = PlytixEmulator(settings, products=products, variants=variants)
            if clock is not None:
                emulator.clock = clock
            server = stack.enter_context(emulator.serve())
            api = Api(emulator, server)
            stack.callback(api.http.close)
            return emulator, api

        yield factory


@pytest.fixture
def emu(make: Factory) -> tuple[PlytixEmulator, Api]:
    return make()


def by_sku(emulator: PlytixEmulator) -> dict[str, dict[str, Any]]:
    return {str(p["sku"]): p for p in emulator.catalog()}


# -- authentication ---------------------------------------------------------------------------------------


def test_token_endpoint_answers_per_contract(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    bad = api.http.post(
        "/auth/api/get-token", json={"api_key": emulator.settings.api_key, "api_password": "x"}
    )
    assert bad.status_code == 401
    assert bad.json() == {
        "error": {
            "msg": "Bad api_key or api_password: Credentials not valid",
            "errors": [{"field": "http_status_code", "msg": 401}],
        }
    }
    malformed = api.http.post(
        "/auth/api/get-token", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["msg"].startswith("Failed to decode JSON object")
    assert api.http.post("/auth/api/get-token", json={"api_password": "x"}).status_code == 400
    assert emulator.stats().tokens_issued == 1


def test_bearer_rules_missing_lowercase_unknown(emu: tuple[PlytixEmulator, Api]) -> None:
    _, api = emu
    body = {"pagination": {"page_size": 1}}
    missing = api.http.post(SEARCH, json=body)
    assert missing.status_code == 401
    assert missing.json() == {"error": {"msg": "Missing Authorization Header"}}
    lower = api.http.post(SEARCH, json=body, headers={"Authorization": f"bearer {api.token}"})
    assert lower.status_code == 401
    assert "Bearer" in lower.json()["error"]["msg"]
    unknown = api.http.post(SEARCH, json=body, headers={"Authorization": "Bearer None"})
    assert unknown.status_code == 401
    assert api.post(SEARCH, body).status_code == 200


def test_tokens_expire_after_their_ttl_and_on_demand(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(PlytixSettings(token_ttl_s=60), clock=clock)
    assert api.post(SEARCH, {}).status_code == 200
    clock.advance(59.9)
    assert api.post(SEARCH, {}).status_code == 200
    clock.advance(0.2)
    expired = api.post(SEARCH, {})
    assert expired.status_code == 401
    assert expired.json()["error"]["msg"] == "Token has expired"
    api.token = api.fetch_token()
    assert api.post(SEARCH, {}).status_code == 200
    emulator.expire_tokens()
    assert api.post(SEARCH, {}).status_code == 401
    assert emulator.stats().auth_failures == 2


# -- search -----------------------------------------------------------------------------------------------


def test_search_without_attributes_returns_ids_and_skus(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    answer = api.search({})
    assert answer["pagination"] == {"count": 25, "order": None, "page": 1, "page_size": 25, "total_count": 74}
    first, variant = answer["data"][0], answer["data"][1]
    assert first == {"id": first["id"], "sku": "P000001", "num_variations": 3, "attributes": {}}
    assert variant["_parent_id"] == first["id"]
    assert set(variant) == {"id", "sku", "_parent_id", "num_variations", "attributes"}
    assert len(emulator.catalog()) == 74


def test_attribute_selection_inherits_and_never_returns_the_family(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    body = {
        "filters": [[{"field": "sku", "operator": "like", "value": "p000001"}]],
        "attributes": ["label", "modified", "attributes.color", "attributes.brand", "product_family_id"],
    }
    rows = {row["sku"]: row for row in api.search(body)["data"]}
    parent, variant = rows["P000001"], rows["P000001-01"]
    assert "product_family_id" not in parent
    assert parent["label"].endswith(" 1")
    assert parent["modified"].endswith("+00:00")
    assert "color" not in parent["attributes"]
    assert variant["attributes"]["brand"] == parent["attributes"]["brand"]  # inherited (parent_level)
    assert variant["attributes"]["color"] in (
        "Black",
        "White",
        "Navy",
        "Red",
        "Green",
        "Grey",
        "Blue",
        "Yellow",
    )
    assert by_sku(emulator)["P000001-01"]["product_family_id"]  # GET has it


def test_attribute_limit_page_size_and_unknown_names_are_422(make: Factory) -> None:
    _, api = make(PlytixSettings(search_attribute_limit=3))
    three = ["label", "attributes.color", "attributes.size"]
    assert api.post(SEARCH, {"attributes": ["id", "sku", *three]}).status_code == 200
    over = api.post(SEARCH, {"attributes": [*three, "status"]})
    assert over.status_code == 422
    assert over.json()["error"] == {
        "msg": "Schema validation error",
        "errors": [{"field": "schema", "msg": "columns limit exceeded, current limit is 3"}],
    }
    assert api.post(SEARCH, {"attributes": ["attributes.nope"]}).status_code == 422
    assert api.post(SEARCH, {"attributes": ["relationships.gift_basket"]}).status_code == 422
    assert api.post(SEARCH, {"pagination": {"page_size": 101}}).status_code == 422
    assert api.post(SEARCH, {"pagination": {"page_size": 0}}).status_code == 422
    assert api.post(SEARCH, {"pagination": {"page": 0}}).status_code == 422
    assert api.post(SEARCH, {"pagination": {"page_size": 100}}).status_code == 200
    for bad in (
        [[{"field": "nope", "operator": "eq", "value": 1}]],
        [[{"field": "attributes.color", "operator": "like", "value": "re"}]],  # not allowed on dropdowns
        [[{"field": "attributes.price", "operator": "gt", "value": "cheap"}]],
        [[{"field": "attributes.price", "operator": "bte", "value": [1]}]],
        [[{"field": "modified", "operator": "gt", "value": "yesterday"}]],
        [[{"field": "sku", "operator": "in", "value": "P000001"}]],
        [[{"field": "sku", "operator": "contains", "value": "P"}]],
    ):
        response = api.post(SEARCH, {"filters": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"]["errors"][0]["field"] == "filters"


def test_operators_and_or_of_and_groups(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    catalog = by_sku(emulator)
    variant = catalog["P000002-01"]
    color = variant["attributes"]["color"]
    price = variant["attributes"]["price"]

    def where(*groups: list[dict[str, Any]]) -> set[str]:
        return set(api.skus(list(groups)))

    def expect(check: Callable[[dict[str, Any]], bool]) -> set[str]:
        return {sku for sku, p in catalog.items() if check(p)}

    attrs: Callable[[dict[str, Any]], dict[str, Any]] = lambda p: p["attributes"]  # noqa: E731
    assert where([{"field": "label", "operator": "eq", "value": variant["label"].upper()}]) == {"P000002-01"}
    assert where([{"field": "sku", "operator": "!eq", "value": "p000001"}]) == set(catalog) - {"P000001"}
    assert where([{"field": "sku", "operator": "in", "value": ["p000001", "P000002"]}]) == {
        "P000001",
        "P000002",
    }
    assert where([{"field": "attributes.color", "operator": "in", "value": [color]}]) == expect(
        lambda p: attrs(p).get("color") == color
    )
    assert where([{"field": "attributes.color", "operator": "in", "value": [color.lower()]}]) == set()
    assert where([{"field": "attributes.color", "operator": "!in", "value": [color]}]) == expect(
        lambda p: attrs(p).get("color") != color
    )
    assert where([{"field": "attributes.price", "operator": "gt", "value": price}]) == expect(
        lambda p: attrs(p).get("price", 0) > price
    )
    assert where([{"field": "attributes.price", "operator": "bte", "value": [price, price + 10]}]) == expect(
        lambda p: price <= attrs(p).get("price", -1) <= price + 10
    )
    assert where([{"field": "attributes.size", "operator": "!exists"}]) == expect(
        lambda p: "size" not in attrs(p)
    )
    assert where([{"field": "_is_variation", "operator": "eq", "value": False}]) == expect(
        lambda p: p["_parent_id"] is None
    )
    assert where([{"field": "product_level", "operator": "eq", "value": 0}]) == {"P000010", "P000020"}
    assert where([{"field": "attributes.description", "operator": "like", "value": "IN "}]) == set(catalog)
    assert where(
        [
            {
                "field": ["label", "attributes.brand"],
                "operator": "text_search",
                "value": variant["label"].lower(),
            }
        ]
    ) == {"P000002-01"}
    # (variants of P000002 AND the color) OR (the standalone products)
    combined = where(
        [
            {"field": "sku", "operator": "like", "value": "P000002-"},
            {"field": "attributes.color", "operator": "eq", "value": color},
        ],
        [
            {"field": "_has_variations", "operator": "eq", "value": False},
            {"field": "_is_variation", "operator": "eq", "value": False},
        ],
    )
    assert combined == {"P000002-01", "P000010", "P000020"} | {
        sku for sku, p in catalog.items() if sku.startswith("P000002-") and attrs(p)["color"] == color
    }


def test_modified_compares_as_instants(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    catalog = by_sku(emulator)
    cut = catalog["P000005"]["modified"]  # ISO with +00:00
    after = {sku for sku, p in catalog.items() if p["modified"] > cut}
    assert set(api.skus([[{"field": "modified", "operator": "gt", "value": cut}]])) == after
    same_instant_elsewhere = cut.replace("+00:00", "+02:00")
    shifted = set(api.skus([[{"field": "modified", "operator": "gt", "value": same_instant_elsewhere}]]))
    assert shifted == set(catalog)  # two hours earlier: everything generated after it
    assert api.skus([[{"field": "modified", "operator": "lt", "value": "2020-01-01"}]]) == []
    day = api.skus([[{"field": "modified", "operator": "eq", "value": cut[:10]}]])
    assert len(day) == len(catalog)
    window = [[{"field": "modified", "operator": "bte", "value": [cut, cut]}]]
    assert api.skus(window) == ["P000005"]
    recent = [[{"field": "modified", "operator": "last_days", "value": 1}]]
    assert api.skus(recent) == []
    changed = emulator.change_prices(0.1, seed=3)
    assert set(api.skus(recent)) == set(changed)
    assert api.skus([[{"field": "modified", "operator": "gt", "value": cut}]], order="-modified")[
        : len(changed)
    ] == list(reversed(changed))


def test_pagination_order_and_428(make: Factory) -> None:
    _, api = make(PlytixSettings(order_limit=50))
    pages = [api.search({"pagination": {"page": n, "page_size": 30}}) for n in (1, 2, 3, 4)]
    assert [p["pagination"]["count"] for p in pages] == [30, 30, 14, 0]
    assert {p["pagination"]["total_count"] for p in pages} == {74}
    assert len({r["id"] for p in pages for r in p["data"]}) == 74
    too_many = api.post(SEARCH, {"pagination": {"order": "sku"}})
    assert too_many.status_code == 428
    assert too_many.json()["error"]["errors"][0]["field"] == "pagination.order"
    parents = [[{"field": "_is_variation", "operator": "eq", "value": False}]]
    ordered = api.search(
        {"filters": parents, "attributes": ["attributes.brand"], "pagination": {"order": "-sku"}}
    )
    assert ordered["pagination"]["order"] == "-sku"
    assert [r["sku"] for r in ordered["data"]] == [f"P{n:06d}" for n in range(20, 0, -1)]
    assert api.post(SEARCH, {"pagination": {"order": "nope"}}).status_code == 422


# -- products and variants --------------------------------------------------------------------------------


def test_get_product_variant_assets_and_categories(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    catalog = by_sku(emulator)
    parent = catalog["P000001"]
    answer = api.get(f"/api/v1/products/{parent['id']}").json()
    assert answer == {"data": [parent]}
    assert parent["product_family_id"] and parent["num_variations"] == 3 and parent["_parent_id"] is None
    assert (
        parent["thumbnail"]["url"]
        == f"https://files.plytix.example/{emulator.settings.account_id}/P000001-1.jpg"
    )
    assert parent["categories"][0]["path"][0] == "Clothing"
    variants = api.get(f"/api/v1/products/{parent['id']}/variants").json()["data"]
    assert [v["sku"] for v in variants] == ["P000001-01", "P000001-02", "P000001-03"]
    for variant in variants:
        assert variant == catalog[variant["sku"]]
        assert variant["product_type"] == "VARIANT" and variant["_parent_id"] == parent["id"]
        assert variant["product_family_id"] == parent["product_family_id"]
        assert variant["attributes"]["description"] == parent["attributes"]["description"]
        assert isinstance(variant["attributes"]["price"], float)
        assert variant["attributes"]["images"][0]["url"].endswith(f"{variant['sku']}-1.jpg")
    assert api.get(f"/api/v1/products/{catalog['P000010']['id']}/variants").json() == {"data": []}
    assets = api.get(f"/api/v1/products/{parent['id']}/assets").json()["data"]
    assert assets == parent["assets"]
    categories = api.get(f"/api/v1/products/{parent['id']}/categories").json()["data"]
    assert categories[0]["path"] == parent["categories"][0]["path"] and categories[0]["parents_ids"]
    everything = api.get(f"/api/v1/products/{parent['id']}", params={"all_attributes": "true"}).json()[
        "data"
    ][0]
    assert everything["attributes"]["size"] is None and "price" in everything["attributes"]


def test_missing_things_are_404_in_the_envelope(emu: tuple[PlytixEmulator, Api]) -> None:
    _, api = emu
    missing = api.get("/api/v1/products/5c4ec5afb3bfd10001e45603")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "msg": "No results found for 5c4ec5afb3bfd10001e45603",
            "errors": [{"field": "id", "msg": "product does not exist"}],
        }
    }
    for path in (
        "/api/v1/products/nope/variants",
        "/api/v1/product_families/nope",
        "/api/v1/attributes/product/nope",
        "/api/v1/assets/nope",
    ):
        assert api.get(path).status_code == 404, path
    route = api.get("/api/v2/whatever")
    assert route.status_code == 404 and set(route.json()["error"]) == {"msg", "errors"}
    method = api.http.put(SEARCH, headers=api.headers)
    assert method.status_code == 405 and "not allowed" in method.json()["error"]["msg"]


def test_create_update_delete_and_add_variant(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    created = api.post("/api/v1/products", {"sku": "NEW-1", "label": "New", "attributes": {"price": 9.5}})
    assert created.status_code == 201, created.text
    product = created.json()["data"][0]
    assert product["product_type"] == "SINGLE" and product["attributes"] == {"price": 9.5}
    duplicate = api.post("/api/v1/products", {"sku": "NEW-1"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "error": {
            "msg": "product data validation failed",
            "errors": [{"field": "sku", "msg": "A product with the same SKU already exists"}],
        }
    }
    assert api.post("/api/v1/products", {"sku": "X", "attributes": {"color": "Purple"}}).status_code == 422
    assert api.post("/api/v1/products", {"sku": "X", "attributes": {"nope": 1}}).status_code == 422
    patched = api.patch(
        f"/api/v1/products/{product['id']}", {"label": "Renamed", "attributes": {"price": "10.5"}}
    )
    assert patched.status_code == 200
    assert patched.json()["data"][0]["label"] == "Renamed"
    assert patched.json()["data"][0]["attributes"]["price"] == 10.5
    assert patched.json()["data"][0]["modified"] > product["modified"]
    variant = api.post(
        f"/api/v1/products/{product['id']}/variants",
        {"variant": {"sku": "NEW-1-A", "attributes": {"color": "Red", "price": 11.0}}},
    )
    assert variant.status_code == 201
    assert variant.json()["data"][0]["_parent_id"] == product["id"]
    assert api.get(f"/api/v1/products/{product['id']}").json()["data"][0]["num_variations"] == 1
    variant_id = variant.json()["data"][0]["id"]
    assert api.delete(f"/api/v1/products/{product['id']}").status_code == 204
    assert api.get(f"/api/v1/products/{variant_id}").status_code == 404  # a parent takes its variants
    assert "NEW-1-A" not in by_sku(emulator)


def test_families_levels_attributes_categories_assets_filters(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    families = api.post("/api/v1/product_families/search", {"attributes": ["name", "total_products"]}).json()
    names = {f["name"]: f for f in families["data"]}
    assert set(names) == {"Apparel", "Accessories", "Simple"}
    assert names["Simple"]["total_products"] == 2
    apparel = names["Apparel"]["id"]
    assert api.get(f"/api/v1/product_families/{apparel}").json()["data"][0]["name"] == "Apparel"
    levels = {
        a["label"]: a["attribute_level"]
        for a in api.get(f"/api/v1/product_families/{apparel}/attributes").json()["data"]
    }
    assert {k for k, v in levels.items() if v == "variant_level"} == {"color", "size"}
    assert {k for k, v in levels.items() if v == "parent_level"} == {"description", "brand", "material"}
    assert levels["price"] == "no_level"
    everything = api.get(f"/api/v1/product_families/{apparel}/all_attributes").json()["data"]
    assert {"label", "status", "categories", "thumbnail"} <= {a["label"] for a in everything}
    accessories: dict[str, Any] = next(f for f in emulator.families() if f["name"] == "Accessories")
    variant_level = [a["label"] for a in accessories["attributes"] if a["attribute_level"] == "variant_level"]
    assert variant_level == ["color"]

    attributes = api.post(
        "/api/v1/attributes/product/search",
        {"attributes": ["label", "type_class", "options"], "pagination": {"page_size": 100}},
    ).json()["data"]
    by_label = {a["label"]: a for a in attributes}
    assert by_label["color"]["type_class"] == "DropdownAttribute" and "Red" in by_label["color"]["options"]
    assert by_label["images"]["type_class"] == "MediaGalleryAttribute"
    assert "options" not in by_label["price"]
    one = api.get(f"/api/v1/attributes/product/{by_label['size']['id']}").json()["data"][0]
    assert one["label"] == "size" and one["options"][0] == "XS"

    roots = api.post(
        "/api/v1/categories/product/search",
        {"filters": [[{"field": "parent_id", "operator": "!exists"}]], "attributes": ["name", "n_children"]},
    ).json()["data"]
    assert [(c["name"], c["n_children"]) for c in roots] == [("Clothing", 3), ("Accessories", 2), ("Home", 2)]
    leaves = api.post(
        "/api/v1/categories/product/search",
        {"filters": [[{"field": "parent_id", "operator": "exists"}]], "attributes": ["path", "order"]},
    ).json()["data"]
    assert all(len(c["path"]) == 2 for c in leaves) and leaves[0]["order"] == "1"

    assets = api.post(
        "/api/v1/assets/search",
        {
            "filters": [[{"field": "filename", "operator": "like", "value": "P000001-01"}]],
            "attributes": ["url"],
        },
    ).json()["data"]
    assert len(assets) == 1 and assets[0]["url"].startswith("https://files.plytix.example/")
    asset = api.get(f"/api/v1/assets/{assets[0]['id']}").json()["data"][0]
    assert asset["filename"] == "P000001-01-1.jpg" and asset["file_type"] == "IMAGES"

    filters = api.get("/api/v1/filters/product").json()["data"][0]
    keys = {f["key"]: f for f in filters["attributes"]}
    assert keys["attributes.color"]["operators"] == ["exists", "!exists", "eq", "!eq", "in", "!in"]
    assert "bte" in keys["modified"]["operators"] and "last_days" in keys["modified"]["operators"]
    assert {p["key"] for p in filters["properties"]} == {"_is_variation", "_has_variations"}


# -- rate limits, faults, stats ----------------------------------------------------------------------------


def test_ten_second_window_answers_429_with_retry_after(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(PlytixSettings(rate_per_10s=3), clock=clock)  # the token request took one
    assert api.post(SEARCH, {}).status_code == 200
    assert api.post(SEARCH, {}).status_code == 200
    refused = api.post(SEARCH, {})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"  # the oldest slot frees 10 s after it was taken
    assert refused.json()["error"]["msg"] == "Rate limit exceeded"
    assert refused.json()["error"]["retry_after"] == 10
    clock.advance(7.6)
    again = api.post(SEARCH, {})
    assert again.status_code == 429 and again.headers["Retry-After"] == str(math.ceil(10 - 7.6))
    clock.advance(2.4)
    assert api.post(SEARCH, {}).status_code == 200
    stats = emulator.stats()
    assert stats.too_many == 2 and stats.by_status[429] == 2


def test_hour_window_counts_every_request_including_auth(make: Factory) -> None:
    clock = FakeClock()
    emulator, api = make(
        PlytixSettings(
            rate_per_hour=3, token_ttl_s=7200, retry_after_header=False, retry_after_in_body=False
        ),
        clock=clock,
    )
    clock.advance(100)
    assert api.get("/api/v1/nowhere").status_code == 404  # counts as well
    assert api.post(SEARCH, {}).status_code == 200
    refused = api.post(SEARCH, {})
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers and "retry_after" not in refused.json()["error"]
    clock.advance(3500)
    assert api.post(SEARCH, {}).status_code == 200  # the token's slot (taken at t=0) is free again
    assert api.http.get("/__sandbox/state").status_code == 200  # admin routes are not counted
    assert emulator.stats().too_many == 1


def test_mounted_under_a_prefix_like_the_sandbox_hub() -> None:
    emulator = PlytixEmulator(PlytixSettings(rate_per_10s=100), products=2, variants=2)
    app = Starlette(routes=[Mount("/plytix/acme", app=emulator.app)])
    with EmulatorServer(app) as server, httpx.Client(base_url=f"{server.base_url}/plytix/acme") as http:
        s = emulator.settings
        token = http.post("/auth/api/get-token", json={"api_key": s.api_key, "api_password": s.api_password})
        headers = {"Authorization": f"Bearer {token.json()['data'][0]['access_token']}"}
        assert http.post(SEARCH, json={}, headers=headers).json()["pagination"]["total_count"] == 6
        created = http.post("/api/v1/products", json={"sku": "M-1"}, headers=headers)
        assert created.headers["Location"].endswith(
            f"/plytix/acme/api/v1/products/{created.json()['data'][0]['id']}"
        )
        assert http.get("/__sandbox/stats").json()["calls"][f"POST {SEARCH}"] == 1
        emulator.faults.configure(FaultConfig(storm_429=1))
        assert http.post(SEARCH, json={}, headers=headers).status_code == 429


def test_realistic_limits() -> None:
    settings = PlytixSettings.realistic()
    assert (settings.rate_per_10s, settings.rate_per_hour) == (50, 5000)
    assert PlytixSettings().rate_per_10s is None


def test_faults_come_in_the_envelope(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    config = api.http.put("/__sandbox/faults", json={"storm_429": 1, "retry_after_s": 2.5})
    assert config.status_code == 200 and config.json()["storm_429"] == 1
    storm = api.post(SEARCH, {})
    assert storm.status_code == 429 and storm.headers["Retry-After"] == "3"
    assert storm.json()["error"]["msg"] == "Rate limit exceeded"
    api.http.put("/__sandbox/faults", json={"rate_5xx": 1.0, "status_5xx": 502})
    failed = api.post(SEARCH, {})
    assert failed.status_code == 502 and "Injected" in failed.json()["error"]["msg"]
    assert api.http.get("/__sandbox/faults").json()["rate_5xx"] == 1.0
    emulator.faults.clear()
    assert api.post(SEARCH, {}).status_code == 200
    assert emulator.stats().too_many == 0  # injected 429s are the fault plan's, not the limits'


def test_admin_state_and_stats(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    state = api.http.get("/__sandbox/state").json()
    assert {
        k: state[k] for k in ("products", "parents", "variants", "standalone", "families", "categories")
    } == {
        "products": 74,
        "parents": 18,
        "variants": 54,
        "standalone": 2,
        "families": 3,
        "categories": 10,
    }
    assert "api_password" not in state["settings"]
    api.post(SEARCH, {})
    api.get("/api/v1/products/nope")
    stats = api.http.get("/__sandbox/stats").json()
    assert stats["calls"] == {
        "POST /auth/api/get-token": 1,
        "POST /api/v1/products/search": 1,
        "GET /api/v1/products/{id}": 1,
    }
    assert stats["tokens_issued"] == 1 and stats["by_status"] == {"200": 2, "404": 1}
    assert api.http.post("/__sandbox/stats/reset").status_code == 204
    assert emulator.stats().calls == {}
    assert api.http.post("/__sandbox/tokens/expire").status_code == 204
    assert api.post(SEARCH, {}).status_code == 401


# -- the generated catalog and in-process changes ---------------------------------------------------------


def test_generated_catalog_shape() -> None:
    emulator = PlytixEmulator(products=30, variants=4, seed=7)
    catalog = by_sku(emulator)
    families = {f["id"]: f["name"] for f in emulator.families()}
    parents = [p for p in catalog.values() if p["num_variations"]]
    assert len(parents) == 27 and len(catalog) == 27 * 5 + 3
    for parent in parents:
        variants = [catalog[f"{parent['sku']}-{n:02d}"] for n in range(1, 5)]
        combos = {(v["attributes"]["color"], v["attributes"].get("size")) for v in variants}
        assert len(combos) == 4  # distinct color x size (color alone for accessories)
        family = families[str(parent["product_family_id"])]
        assert family in ("Apparel", "Accessories")
        assert all(("size" in v["attributes"]) == (family == "Apparel") for v in variants)
        assert all(isinstance(v["attributes"]["price"], float) for v in variants)
        assert "price" not in parent["attributes"]
    for sku in ("P000010", "P000020", "P000030"):
        assert (
            catalog[sku]["num_variations"] == 0
            and families[str(catalog[sku]["product_family_id"])] == "Simple"
        )
        assert isinstance(catalog[sku]["attributes"]["price"], float)
    again = by_sku(PlytixEmulator(products=30, variants=4, seed=7))
    assert {k: (v["id"], v["attributes"]) for k, v in again.items()} == {
        k: (v["id"], v["attributes"]) for k, v in catalog.items()
    }
    singles = PlytixEmulator(products=5, variants=1).catalog()
    assert [p["sku"] for p in singles] == [f"P00000{n}" for n in range(1, 6)]
    assert all(p["product_type"] == "SINGLE" for p in singles)


def test_in_process_changes_bump_modified(emu: tuple[PlytixEmulator, Api]) -> None:
    emulator, api = emu
    before = by_sku(emulator)
    latest = max(p["modified"] for p in before.values())
    changed = emulator.change_prices(0.25, seed=11)
    assert changed == emulator.__class__(products=20, variants=3).change_prices(
        0.25, seed=11
    )  # deterministic
    after = by_sku(emulator)
    stamps = [after[sku]["modified"] for sku in changed]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps) and stamps[0] > latest
    assert all(after[s]["attributes"]["price"] != before[s]["attributes"]["price"] for s in changed)
    delta = api.skus([[{"field": "modified", "operator": "gt", "value": latest}]])
    assert delta == changed

    mark = max(stamps)
    emulator.set_attribute("P000003", "description", "<p>New words</p>")
    touched = set(api.skus([[{"field": "modified", "operator": "gt", "value": mark}]]))
    assert touched == {"P000003", "P000003-01", "P000003-02", "P000003-03"}  # the heirs of the value
    assert by_sku(emulator)["P000003-02"]["attributes"]["description"] == "<p>New words</p>"

    emulator.set_attribute("P000003-01", "brand", "Own brand")
    overwritten = by_sku(emulator)["P000003-01"]
    assert overwritten["attributes"]["brand"] == "Own brand" and overwritten["overwritten_attributes"] == [
        "brand"
    ]
    emulator.clear_attribute("P000003-01", "brand")
    assert by_sku(emulator)["P000003-01"]["attributes"]["brand"] == before["P000003"]["attributes"]["brand"]
    with pytest.raises(ValueError, match="label does not exist"):
        emulator.set_attribute("P000003", "nope", 1)

    sku = emulator.add_variant("P000004", {"color": "Red", "size": "XXL", "price": 99.0})
    assert sku == "P000004-04"
    catalog = by_sku(emulator)
    assert catalog["P000004"]["num_variations"] == 4 and catalog["P000004"]["modified"] > mark
    emulator.delete_product("P000004-01")
    assert by_sku(emulator)["P000004"]["num_variations"] == 3

    new_parent = emulator.add_product(variants=2, seed=5)
    assert new_parent == "P000021"
    catalog = by_sku(emulator)
    assert {"P000021-01", "P000021-02"} <= set(catalog)
    assert catalog["P000021"]["created"] > mark
    emulator.delete_product(new_parent)
    assert not any(s.startswith("P000021") for s in by_sku(emulator))
    with pytest.raises(KeyError):
        emulator.delete_product("P999999")
