"""The Webflow Data API v2 emulator over real HTTP with plain httpx: auth and scopes, rate-limit headers and
the 60 s window, products with variants, SKU validation, prices, product updates, CMS items, publishing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.sandbox.webflow import CmsCollection, CmsField, WebflowEmulator, WebflowSettings

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")
ADVANCED = "b6ccc1830db4b1babeb06a9ac5f6dd76"


class FakeClock:
    """Monotonic seconds the test moves on by hand: no test waits on wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """One emulator served over HTTP, a client with its token, and shortcuts."""

    def __init__(self, emulator: WebflowEmulator, base_url: str) -> None:
        self.emulator = emulator
        self.site = emulator.settings.site_id
        self.root = httpx.Client(base_url=base_url, timeout=10)
        self.http = httpx.Client(
            base_url=f"{base_url}/v2",
            headers={"Authorization": f"Bearer {emulator.settings.token}"},
            timeout=10,
        )

    def create_product(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/sites/{self.site}/products", json=body)

    def create_skus(self, product_id: str, skus: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post(f"/sites/{self.site}/products/{product_id}/skus", json={"skus": skus})

    def collection(self, slug: str) -> str:
        return self.emulator.collection_id(slug)


Serve = Callable[..., Api]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers = []

    def start(settings: WebflowSettings | None = None, clock: FakeClock | None = None) -> Api:
        emulator = WebflowEmulator(settings, clock=clock or FakeClock())
        server = emulator.serve().start()
        servers.append(server)
        return Api(emulator, server.base_url)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(serve: Serve) -> Api:
    return serve()


def tee_body(slug: str = "tee", **product: Any) -> dict[str, Any]:
    return {
        "publishStatus": "staging",
        "product": {
            "fieldData": {
                "name": "Colorful T-shirt",
                "slug": slug,
                "description": "Our best seller",
                "sku-properties": [
                    {
                        "id": "color",
                        "name": "Color",
                        "enum": [
                            {"id": "red", "name": "Red", "slug": "red"},
                            {"id": "blue", "name": "Blue", "slug": "blue"},
                        ],
                    },
                    {
                        "id": "size",
                        "name": "Size",
                        "enum": [
                            {"id": "small", "name": "Small", "slug": "small"},
                            {"id": "large", "name": "Large", "slug": "large"},
                        ],
                    },
                ],
                **product,
            }
        },
        "sku": {
            "fieldData": {
                "name": "Colorful T-shirt - Red Small",
                "slug": f"{slug}-red-small",
                "price": {"value": 2499, "unit": "USD", "currency": "USD"},
                "sku": f"{slug.upper()}-RED-S",
            }
        },
    }


def sku(
    slug: str, values: dict[str, str] | None, *, code: str | None = None, price: object = 2499
) -> dict[str, Any]:
    fd: dict[str, Any] = {"name": slug, "slug": slug, "price": {"value": price, "unit": "USD"}}
    if values is not None:
        fd["sku-values"] = values
    if code:
        fd["sku"] = code
    return {"fieldData": fd}


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "externalReference", "details"}
    assert body["code"] == code
    assert body["externalReference"] is None
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [d["field"] for d in body["details"]]


# --- auth, scopes, headers, rate limit ---------------------------------------------------------------------


def test_bearer_token_is_required(api: Api) -> None:
    anonymous = httpx.Client(base_url=api.http.base_url)
    body = error(anonymous.get("/sites"), 401, "not_authorized")
    assert body["message"] == "Request not authorized"
    wrong = anonymous.get("/sites", headers={"Authorization": "Bearer not-the-token"})
    error(wrong, 401, "not_authorized")
    basic = anonymous.get("/sites", headers={"Authorization": f"Basic {api.emulator.settings.token}"})
    error(basic, 401, "not_authorized")
    assert api.http.get("/sites").json()["sites"][0]["id"] == api.site


def test_missing_scope_is_403_naming_it(serve: Serve) -> None:
    api = serve(WebflowSettings(scopes=["cms:read", "sites:read"]))
    body = error(api.http.get(f"/sites/{api.site}/products"), 403, "missing_scopes")
    assert body["message"] == "OAuthForbidden: You are missing the following scopes - ecommerce:read"
    assert api.http.get(f"/sites/{api.site}/collections").status_code == 200
    error(
        api.http.post(f"/sites/{api.site}/publish", json={"publishToWebflowSubdomain": True}),
        403,
        "missing_scopes",
    )


def test_write_scope_grants_read_unless_configured_otherwise(serve: Serve) -> None:
    assert serve(WebflowSettings(scopes=["ecommerce:write"])).http.get("/sites/x/products").status_code == 400
    strict = serve(WebflowSettings(scopes=["ecommerce:write"], write_implies_read=False))
    error(strict.http.get(f"/sites/{strict.site}/products"), 403, "missing_scopes")


def test_rate_limit_headers_on_every_answer(serve: Serve) -> None:
    api = serve(WebflowSettings(rate_limit_per_minute=50))
    answers = [
        api.http.get("/sites"),  # 200
        api.http.get("/sites/nothex"),  # 400
        api.http.get(f"/sites/{'a' * 24}"),  # 404
        api.http.delete(f"/sites/{api.site}/products/{'a' * 24}"),  # no such method
        api.http.get("/no/such/route"),
        httpx.get(f"{api.http.base_url}sites"),  # 401
    ]
    api.emulator.faults.configure(FaultConfig(storm_429=1))
    answers.append(api.http.get("/sites"))
    api.emulator.faults.configure(FaultConfig(rate_5xx=1.0))
    answers.append(api.http.get("/sites"))
    api.emulator.faults.clear()
    for response in answers:
        assert response.headers["X-RateLimit-Limit"] == "50", response.request.url
        assert int(response.headers["X-RateLimit-Remaining"]) >= 0
    assert [r.status_code for r in answers] == [200, 400, 404, 404, 404, 401, 429, 503]
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in answers[:5]] == [49, 48, 47, 46, 45]


def test_rolling_window_answers_429_with_retry_after(serve: Serve) -> None:
    clock = FakeClock()
    api = serve(WebflowSettings(rate_limit_per_minute=3), clock)
    remaining = []
    for _ in range(3):
        response = api.http.get("/sites")
        assert response.status_code == 200
        remaining.append(response.headers["X-RateLimit-Remaining"])
        clock.now += 10
    assert remaining == ["2", "1", "0"]
    refused = api.http.get("/sites")  # at +30 s: the first call frees its slot at +60 s
    body = error(refused, 429, "too_many_requests")
    assert body["message"] == "Too many requests"
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    clock.now += 29.5
    assert api.http.get("/sites").headers["Retry-After"] == "1"  # rounded up
    clock.now += 0.5
    assert api.http.get("/sites").status_code == 200
    assert api.http.get("/sites").status_code == 429  # the second call is still in the window
    stats = api.emulator.stats()
    assert stats.too_many == 3
    assert stats.calls["GET /v2/sites"] == 7
    assert stats.by_status == {"200": 4, "429": 3}


def test_each_token_has_its_own_window(serve: Serve) -> None:
    api = serve(WebflowSettings(rate_limit_per_minute=1, extra_tokens={"second-token": ["sites:read"]}))
    assert api.http.get("/sites").status_code == 200
    assert api.http.get("/sites").status_code == 429
    other = api.http.get("/sites", headers={"Authorization": "Bearer second-token"})
    assert other.status_code == 200


def test_realistic_settings_and_introspection(serve: Serve) -> None:
    settings = WebflowSettings.realistic(per_minute=120, site_name="Acme Shop")
    assert settings.rate_limit_per_minute == 120
    api = serve(settings)
    auth = api.http.get("/token/introspect").json()["authorization"]
    assert auth["rateLimit"] == 120
    assert "ecommerce:write" in auth["scope"].split(",")
    assert auth["authorizedTo"]["siteIds"] == [api.site]
    site = api.http.get(f"/sites/{api.site}").json()
    assert site["displayName"] == "Acme Shop"
    assert HEX24.match(site["id"]) and site["customDomains"][0]["url"] == "shop.example.com"


# --- products and SKUs -------------------------------------------------------------------------------------


def test_create_product_makes_the_default_sku_from_the_first_values(api: Api) -> None:
    response = api.create_product(tee_body())
    assert response.status_code == 200, response.text
    created = response.json()
    product, skus = created["product"], created["skus"]
    fd = product["fieldData"]
    assert HEX24.match(product["id"]) and len(skus) == 1
    assert [p["id"] for p in fd["sku-properties"]] == ["color", "size"]  # caller ids kept
    assert fd["default-sku"] == skus[0]["id"]
    assert fd["ec-product-type"] == ADVANCED
    assert skus[0]["fieldData"]["sku-values"] == {"color": "red", "size": "small"}
    assert skus[0]["fieldData"]["price"] == {"value": 2499, "unit": "USD", "currency": "USD"}
    assert product["lastPublished"] is None and product["isArchived"] is False
    assert api.http.get(f"/sites/{api.site}/products/{product['id']}").json() == created
    assert api.emulator.products() == [created]


def test_missing_ids_are_generated_and_can_be_replaced(serve: Serve) -> None:
    api = serve()
    body = tee_body()
    props = body["product"]["fieldData"]["sku-properties"]
    del props[0]["id"]
    del props[0]["enum"][1]["id"]
    fd = api.create_product(body).json()["product"]["fieldData"]
    color = fd["sku-properties"][0]
    assert (
        HEX32.match(color["id"]) and color["enum"][0]["id"] == "red" and HEX32.match(color["enum"][1]["id"])
    )

    replacing = serve(WebflowSettings(keep_caller_ids=False))
    created = replacing.create_product(tee_body()).json()
    props = created["product"]["fieldData"]["sku-properties"]
    assert all(HEX32.match(p["id"]) and all(HEX32.match(e["id"]) for e in p["enum"]) for p in props)
    assert created["skus"][0]["fieldData"]["sku-values"] == {p["id"]: p["enum"][0]["id"] for p in props}


def test_sku_properties_are_validated(serve: Serve) -> None:
    api = serve(WebflowSettings(max_sku_properties=2, max_enum_values=2))
    body = tee_body()
    props = body["product"]["fieldData"]["sku-properties"]
    props[1]["id"] = "color"  # duplicate property id
    props[0]["enum"][1]["slug"] = "red"  # duplicate value slug
    props.append({"id": "fit", "name": "Fit", "enum": []})  # too many properties, no values
    del props[1]["enum"][0]["name"]
    problems = fields(error(api.create_product(body), 400, "validation_error"))
    base = "product.fieldData.sku-properties"
    assert problems == [
        base,
        f"{base}[0].enum[1].slug",
        f"{base}[1].id",
        f"{base}[1].enum[0].name",
        f"{base}[2].enum",
    ]
    assert api.emulator.products() == []


def test_create_product_requires_product_and_sku_fields(api: Api) -> None:
    body = error(api.create_product({"product": {"fieldData": {"name": "X"}}}), 400, "validation_error")
    assert fields(body) == ["sku"]
    body = tee_body()
    del body["sku"]["fieldData"]["price"]
    body["product"]["fieldData"]["slug"] = "Not A Slug"
    problems = fields(error(api.create_product(body), 400, "validation_error"))
    assert problems == ["product.fieldData.slug", "sku.fieldData.price"]
    error(api.http.post(f"/sites/{api.site}/products", content=b"{not json"), 400, "bad_request")


def test_create_skus_adds_every_combination(api: Api) -> None:
    product_id = api.create_product(tee_body()).json()["product"]["id"]
    skus = [
        sku("tee-red-large", {"color": "red", "size": "large"}, code="TEE-RED-L"),
        sku("tee-blue-small", {"size": "small", "color": "blue"}),
        sku("tee-blue-large", {"color": "blue", "size": "large"}, price=2599.0),
    ]
    response = api.create_skus(product_id, skus)
    assert response.status_code == 200, response.text
    created = response.json()["skus"]
    assert [s["fieldData"]["sku-values"] for s in created] == [
        {"color": "red", "size": "large"},
        {"color": "blue", "size": "small"},
        {"color": "blue", "size": "large"},
    ]
    assert created[2]["fieldData"]["price"]["value"] == 2599
    assert isinstance(created[2]["fieldData"]["price"]["value"], int)  # 2599.0 accepted, kept whole
    listed = api.http.get(f"/sites/{api.site}/products").json()
    assert listed["pagination"] == {"limit": 100, "offset": 0, "total": 1}
    assert len(listed["items"][0]["skus"]) == 4
    stats = api.emulator.stats()
    assert stats.calls["POST /v2/sites/{site_id}/products/{product_id}/skus"] == 1
    assert stats.writes == 2


def test_create_skus_validation_names_every_problem_and_writes_nothing(api: Api) -> None:
    product_id = api.create_product(tee_body()).json()["product"]["id"]
    skus = [
        sku("a", {"color": "red"}),  # missing axis
        sku("b", {"color": "green", "size": "small"}),  # unknown enum id
        sku("c", {"color": "red", "size": "small"}),  # the default SKU's combination
        sku("d", {"color": "blue", "size": "large", "fit": "slim"}),  # unknown property
        sku("e", {"color": "blue", "size": "small"}),
        sku("f", {"color": "blue", "size": "small"}),  # same as e
        sku("g", None),  # no sku-values at all
        sku("e", {"color": "red", "size": "large"}),  # same slug as e
    ]
    body = error(api.create_skus(product_id, skus), 400, "validation_error")
    values = "fieldData.sku-values"
    assert fields(body) == [
        f"skus[0].{values}.size",
        f"skus[1].{values}.color",
        f"skus[2].{values}",
        f"skus[3].{values}.fit",
        f"skus[5].{values}",
        f"skus[6].{values}",
        "skus[7].fieldData.slug",
    ]
    assert "missing a value for sku-property 'Size'" in body["details"][0]["message"]
    assert "'green' is not an enum id" in body["details"][1]["message"]
    assert body["message"].startswith("Validation Error: skus[0].fieldData.sku-values.size")
    assert len(api.emulator.products()[0]["skus"]) == 1


def test_sku_limits_and_products_without_options(serve: Serve) -> None:
    api = serve(WebflowSettings(max_skus_per_request=1))
    product_id = api.create_product(tee_body()).json()["product"]["id"]
    two = [sku("x", {"color": "blue", "size": "small"}), sku("y", {"color": "blue", "size": "large"})]
    assert fields(error(api.create_skus(product_id, two), 400, "validation_error")) == ["skus"]
    plain = tee_body("plain")
    del plain["product"]["fieldData"]["sku-properties"]
    created = api.create_product(plain).json()
    assert "sku-values" not in created["skus"][0]["fieldData"]
    body = error(api.create_skus(created["product"]["id"], [sku("z", {})]), 400, "validation_error")
    assert "no sku-properties" in body["details"][0]["message"]


def test_prices_are_minor_units_in_the_store_currency(api: Api) -> None:
    product_id = api.create_product(tee_body()).json()["product"]["id"]
    bad = [
        sku("a", {"color": "blue", "size": "small"}, price=24.99),
        sku("b", {"color": "blue", "size": "large"}, price=100) | {},
        sku("c", {"color": "red", "size": "large"}, price="100"),
    ]
    bad[1]["fieldData"]["price"]["unit"] = "EUR"
    problems = fields(error(api.create_skus(product_id, bad), 400, "validation_error"))
    assert problems == [
        "skus[0].fieldData.price.value",
        "skus[1].fieldData.price.unit",
        "skus[2].fieldData.price.value",
    ]


def test_update_product_merges_fields_and_replaces_options(api: Api) -> None:
    created = api.create_product(tee_body(shippable=False)).json()
    product_id = created["product"]["id"]
    path = f"/sites/{api.site}/products/{product_id}"
    response = api.http.patch(path, json={"product": {"fieldData": {"name": "Renamed", "custom-note": "x"}}})
    assert response.status_code == 200, response.text
    product = response.json()
    assert set(product) == {
        "id",
        "cmsLocaleId",
        "lastPublished",
        "lastUpdated",
        "createdOn",
        "isArchived",
        "isDraft",
        "fieldData",
    }
    fd = product["fieldData"]
    assert (fd["name"], fd["description"], fd["shippable"], fd["custom-note"]) == (
        "Renamed",
        "Our best seller",
        False,
        "x",
    )

    props = fd["sku-properties"]
    props[0]["enum"].append({"id": "green", "name": "Green", "slug": "green"})
    assert api.http.patch(path, json={"product": {"fieldData": {"sku-properties": props}}}).status_code == 200
    assert (
        api.create_skus(product_id, [sku("tee-green-small", {"color": "green", "size": "small"})]).status_code
        == 200
    )

    props[0]["enum"] = [e for e in props[0]["enum"] if e["id"] != "red"]  # the default SKU is red
    body = error(
        api.http.patch(path, json={"product": {"fieldData": {"sku-properties": props}}}),
        400,
        "validation_error",
    )
    assert "enum value red of sku-property color is used by SKU" in body["details"][0]["message"]

    archived = api.http.patch(path, json={"product": {"isArchived": True}, "publishStatus": "live"}).json()
    assert archived["isArchived"] is True and archived["lastPublished"] is not None
    assert api.emulator.products()[0]["product"]["isArchived"] is True


def test_new_option_gives_existing_skus_its_first_value(api: Api) -> None:
    created = api.create_product(tee_body()).json()
    path = f"/sites/{api.site}/products/{created['product']['id']}"
    props = created["product"]["fieldData"]["sku-properties"]
    props.append(
        {"id": "fit", "name": "Fit", "enum": [{"id": "regular", "name": "Regular", "slug": "regular"}]}
    )
    assert api.http.patch(path, json={"product": {"fieldData": {"sku-properties": props}}}).status_code == 200
    values = api.emulator.products()[0]["skus"][0]["fieldData"]["sku-values"]
    assert values == {"color": "red", "size": "small", "fit": "regular"}


def test_update_sku_merges_and_keeps_combinations_unique(api: Api) -> None:
    created = api.create_product(tee_body()).json()
    product_id, default_id = created["product"]["id"], created["skus"][0]["id"]
    other = api.create_skus(product_id, [sku("tee-blue-large", {"color": "blue", "size": "large"})]).json()[
        "skus"
    ][0]
    path = f"/sites/{api.site}/products/{product_id}/skus/{other['id']}"
    response = api.http.patch(path, json={"sku": {"fieldData": {"price": {"value": 1999.0, "unit": "USD"}}}})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["fieldData"]["price"]["value"] == 1999 and updated["fieldData"]["name"] == "tee-blue-large"
    clash = {"sku": {"fieldData": {"sku-values": {"color": "red", "size": "small"}}}}
    body = error(api.http.patch(path, json=clash), 400, "validation_error")
    assert default_id in body["details"][0]["message"]
    moved = {"sku": {"fieldData": {"sku-values": {"color": "blue", "size": "small"}}}}
    assert api.http.patch(path, json=moved).status_code == 200
    again = api.create_skus(product_id, [sku("tee-blue-large-2", {"color": "blue", "size": "large"})])
    assert again.status_code == 200  # the old combination is free again
    error(
        api.http.patch(f"/sites/{api.site}/products/{product_id}/skus/{'f' * 24}", json=moved),
        404,
        "resource_not_found",
    )


def test_products_and_skus_cannot_be_deleted(serve: Serve) -> None:
    api = serve()
    product_id = api.create_product(tee_body()).json()["product"]["id"]
    sku_id = api.emulator.products()[0]["skus"][0]["id"]
    error(api.http.delete(f"/sites/{api.site}/products/{product_id}"), 404, "resource_not_found")
    error(
        api.http.delete(f"/sites/{api.site}/products/{product_id}/skus/{sku_id}"), 404, "resource_not_found"
    )
    assert len(api.emulator.products()) == 1
    strict = serve(WebflowSettings(unknown_method_status=405))
    answer = strict.http.delete(f"/sites/{strict.site}/products/{product_id}")
    assert answer.status_code == 405 and "PATCH" in answer.headers["Allow"]
    error(
        api.http.delete(f"/collections/{api.collection('product')}/items/{product_id}"),
        400,
        "validation_error",
    )


def test_ecommerce_not_enabled_is_409(serve: Serve) -> None:
    api = serve(WebflowSettings(ecommerce_enabled=False))
    body = error(api.create_product(tee_body()), 409, "ecommerce_not_enabled")
    assert body["message"] == "Ecommerce is not yet initialized"
    error(api.http.get(f"/sites/{api.site}/products"), 409, "ecommerce_not_enabled")
    error(api.http.get(f"/sites/{api.site}/ecommerce/settings"), 409, "ecommerce_not_enabled")
    assert api.http.get(f"/sites/{api.site}/collections").json() == {"collections": []}


def test_ids_and_unknown_resources(api: Api) -> None:
    body = error(api.http.get("/sites/not-an-id/products"), 400, "validation_error")
    assert body["message"] == "Validation Error: Provided ID is invalid"
    error(api.http.get(f"/sites/{'0' * 24}/products"), 404, "resource_not_found")
    error(api.http.get(f"/sites/{api.site}/products/{'0' * 24}"), 404, "resource_not_found")
    error(api.http.get(f"/collections/{'0' * 24}/items"), 404, "resource_not_found")
    error(api.http.get(f"/sites/{api.site}/products", params={"limit": 101}), 400, "validation_error")


def test_paging_counts_products(api: Api) -> None:
    for n in range(5):
        assert api.create_product(tee_body(f"tee-{n}")).status_code == 200
    page = api.http.get(f"/sites/{api.site}/products", params={"offset": 3, "limit": 2}).json()
    assert page["pagination"] == {"limit": 2, "offset": 3, "total": 5}
    assert [i["product"]["fieldData"]["slug"] for i in page["items"]] == ["tee-3", "tee-4"]


def test_duplicate_slugs(serve: Serve) -> None:
    api = serve()
    assert api.create_product(tee_body()).status_code == 200
    body = tee_body()
    body["sku"]["fieldData"]["slug"] = "other"
    assert fields(error(api.create_product(body), 400, "validation_error")) == ["product.fieldData.slug"]
    conflicting = serve(WebflowSettings(duplicate_slug_status=409))
    conflicting.create_product(tee_body())
    body = error(conflicting.create_product(tee_body()), 409, "conflict")
    assert body["message"] == "Conflict: Resource already exists"


def test_rejected_skus_fail_until_cleared(api: Api) -> None:
    api.emulator.reject_sku("TEE-RED-S")
    body = error(api.create_product(tee_body()), 400, "validation_error")
    assert body["details"] == [{"field": "sku.fieldData.sku", "message": "SKU 'TEE-RED-S' was rejected"}]
    api.emulator.clear_rejections()
    product_id = api.create_product(tee_body()).json()["product"]["id"]
    assert api.root.post("/__sandbox/rejections", json={"sku": "TEE-BLUE-L"}).json() == ["TEE-BLUE-L"]
    refused = api.create_skus(product_id, [sku("b", {"color": "blue", "size": "large"}, code="TEE-BLUE-L")])
    assert "TEE-BLUE-L" in error(refused, 400, "validation_error")["message"]
    assert api.root.delete("/__sandbox/rejections").json() == []


def test_inventory(api: Api) -> None:
    created = api.create_product(tee_body()).json()
    path = f"/collections/{api.collection('sku')}/items/{created['skus'][0]['id']}/inventory"
    assert api.http.get(path).json()["inventoryType"] == "infinite"
    assert api.http.patch(path, json={"inventoryType": "finite", "quantity": 7}).json()["quantity"] == 7
    assert (
        api.http.patch(path, json={"inventoryType": "finite", "updateQuantity": -2}).json()["quantity"] == 5
    )
    error(api.http.patch(path, json={"quantity": 1}), 400, "validation_error")
    wrong = f"/collections/{api.collection('product')}/items/{created['skus'][0]['id']}/inventory"
    error(api.http.get(wrong), 404, "resource_not_found")


# --- CMS ---------------------------------------------------------------------------------------------------


def test_ecommerce_collections_exist(api: Api) -> None:
    listed = api.http.get(f"/sites/{api.site}/collections").json()["collections"]
    assert [(c["displayName"], c["slug"]) for c in listed] == [
        ("Products", "product"),
        ("SKUs", "sku"),
        ("Categories", "category"),
    ]
    detail = api.http.get(f"/collections/{api.collection('category')}").json()
    assert [f["slug"] for f in detail["fields"]] == ["name", "slug", "parent-category"]


def test_cms_items_crud_and_publish(api: Api) -> None:
    cid = api.collection("category")
    path = f"/collections/{cid}/items"
    one = api.http.post(
        path, json={"fieldData": {"name": "Shirts", "slug": "shirts"}}, params={"skipInvalidFiles": "true"}
    )
    assert one.status_code == 202, one.text
    shirts = one.json()
    assert shirts["isDraft"] is False and shirts["lastPublished"] is None
    many = api.http.post(
        path,
        json={
            "items": [
                {"fieldData": {"name": "Tees", "slug": "tees", "parent-category": shirts["id"]}},
                {
                    "fieldData": {"name": "Polos", "slug": "polos", "parent-category": shirts["id"]},
                    "isDraft": True,
                },
            ]
        },
    )
    assert many.status_code == 202
    tees, polos = many.json()["items"]
    live = api.http.post(f"{path}/live", json={"fieldData": {"name": "Sale", "slug": "sale"}}).json()
    assert live["lastPublished"] is not None
    bulk = api.http.post(
        f"{path}/bulk", json={"fieldData": [{"name": "A", "slug": "a"}, {"name": "B", "slug": "b"}]}
    )
    assert bulk.status_code == 202 and bulk.json()["items"][0]["cmsLocaleIds"]

    page = api.http.get(path, params={"limit": 2, "offset": 1}).json()
    assert page["pagination"] == {"limit": 2, "offset": 1, "total": 6}
    assert [i["fieldData"]["slug"] for i in page["items"]] == ["tees", "polos"]
    by_slug = api.http.get(path, params={"slug": "tees"}).json()["items"]
    assert [i["id"] for i in by_slug] == [tees["id"]]
    ordered = api.http.get(path, params={"sortBy": "name", "sortOrder": "desc"}).json()["items"]
    assert [i["fieldData"]["name"] for i in ordered] == ["Tees", "Shirts", "Sale", "Polos", "B", "A"]

    updated = api.http.patch(
        path, json={"items": [{"id": tees["id"], "fieldData": {"name": "T-Shirts"}}]}
    ).json()
    assert updated["items"][0]["fieldData"] == {
        "name": "T-Shirts",
        "slug": "tees",
        "parent-category": shirts["id"],
    }
    one_updated = api.http.patch(f"{path}/{polos['id']}", json={"isDraft": False}).json()
    assert one_updated["isDraft"] is False

    published = api.http.post(f"{path}/publish", json={"itemIds": [tees["id"], "0" * 24]})
    assert published.status_code == 202
    assert published.json() == {
        "publishedItemIds": [tees["id"]],
        "errors": [f"Staging item ID {'0' * 24} not found."],
    }
    assert [i["id"] for i in api.http.get(f"{path}/live").json()["items"]] == [tees["id"], live["id"]]

    assert (
        api.http.request(
            "DELETE", path, json={"items": [{"id": tees["id"]}, {"id": polos["id"]}]}
        ).status_code
        == 204
    )
    assert api.http.delete(f"{path}/{live['id']}").status_code == 204
    assert [i["fieldData"]["slug"] for i in api.emulator.items("category")] == ["shirts", "a", "b"]
    assert api.emulator.items(cid) == api.emulator.items("category")
    stats = api.emulator.stats()
    assert stats.calls["POST /v2/collections/{collection_id}/items"] == 2
    assert stats.calls["DELETE /v2/collections/{collection_id}/items/{item_id}"] == 1


def test_cms_item_validation(api: Api) -> None:
    path = f"/collections/{api.collection('category')}/items"
    api.http.post(path, json={"fieldData": {"name": "Shirts", "slug": "shirts"}})
    body = error(
        api.http.post(
            path,
            json={"fieldData": {"name": "", "slug": "shirts", "colour": "red", "parent-category": "f" * 24}},
        ),
        400,
        "validation_error",
    )
    assert fields(body) == [
        "fieldData.name",
        "fieldData.colour",
        "fieldData.parent-category",
        "fieldData.slug",
    ]
    assert body["details"][1]["message"] == "Field not described in schema: 'colour'"
    error(api.http.patch(path, json={"items": [{"id": "f" * 24, "fieldData": {}}]}), 400, "validation_error")
    error(api.http.post(path, params={"skipInvalidFiles": "maybe"}, json={}), 400, "validation_error")
    product = api.create_product(tee_body(category=["a" * 24])).json()
    assert fields(product) == ["product.fieldData.category"]


def test_products_and_skus_are_cms_items_too(serve: Serve) -> None:
    api = serve(WebflowSettings(cms_delete_products=True))
    created = api.create_product(tee_body()).json()
    products = api.http.get(f"/collections/{api.collection('product')}/items").json()
    assert products["items"] == [created["product"]]
    skus = api.emulator.items("sku")
    assert skus[0]["fieldData"]["product"] == created["product"]["id"] and skus[0]["isDraft"] is False
    refused = api.http.post(
        f"/collections/{api.collection('product')}/items", json={"fieldData": {"name": "x", "slug": "x"}}
    )
    error(refused, 400, "validation_error")
    assert (
        api.http.delete(
            f"/collections/{api.collection('product')}/items/{created['product']['id']}"
        ).status_code
        == 204
    )
    assert api.emulator.products() == [] and api.emulator.items("sku") == []


def test_extra_collections(serve: Serve) -> None:
    blog = CmsCollection(
        display_name="Posts",
        singular_name="Post",
        slug="post",
        fields=[CmsField(slug="views", display_name="Views", type="Number")],
    )
    api = serve(WebflowSettings(ecommerce_enabled=False, extra_collections=[blog]))
    path = f"/collections/{api.collection('post')}/items"
    assert (
        api.http.post(path, json={"fieldData": {"name": "Hi", "slug": "hi", "views": 3}}).status_code == 202
    )
    error(
        api.http.post(path, json={"fieldData": {"name": "Ho", "slug": "ho", "views": "many"}}),
        400,
        "validation_error",
    )


# --- publishing --------------------------------------------------------------------------------------------


def test_site_publish_once_per_minute(serve: Serve) -> None:
    clock = FakeClock()
    api = serve(clock=clock)
    path = f"/sites/{api.site}/publish"
    domain = api.http.get(f"/sites/{api.site}/custom_domains").json()["customDomains"][0]
    error(api.http.post(path, json={}), 400, "no_domains")
    error(api.http.post(path, json={"customDomains": ["f" * 24]}), 400, "invalid_domain")
    first = api.http.post(path, json={"customDomains": [domain["id"]], "publishToWebflowSubdomain": True})
    assert first.status_code == 202, first.text
    answer = first.json()
    assert answer["publishScope"] == "site" and answer["customDomains"][0]["lastPublished"] is not None
    clock.now += 45
    second = api.http.post(path, json={"publishToWebflowSubdomain": True})
    error(second, 429, "too_many_requests")
    assert second.headers["Retry-After"] == "15"
    clock.now += 15
    assert api.http.post(path, json={"publishToWebflowSubdomain": True}).status_code == 202
    stats = api.emulator.stats()
    assert (stats.publishes, stats.publish_too_many, stats.too_many) == (2, 1, 0)
    assert stats.writes == 2


def test_site_publish_makes_staged_changes_live(api: Api) -> None:
    api.create_product(tee_body())
    assert (
        api.http.post(f"/sites/{api.site}/publish", json={"publishToWebflowSubdomain": True}).status_code
        == 202
    )
    product = api.emulator.products()[0]
    assert product["product"]["lastPublished"] is not None and product["skus"][0]["lastPublished"] is not None
    assert api.http.get(f"/sites/{api.site}").json()["lastPublished"] is not None


# --- in-process and admin API ------------------------------------------------------------------------------


def test_admin_routes_and_reset(api: Api) -> None:
    api.create_product(tee_body())
    state = api.root.get("/__sandbox/state").json()
    assert state["products"] == 1 and state["skus"] == 1 and state["collections"]["sku"]["items"] == 1
    assert "token" not in state["settings"]
    assert (
        api.root.put("/__sandbox/faults", json={"storm_429": 2, "retry_after_s": 3}).json()["storm_429"] == 2
    )
    storm = api.http.get("/sites")
    assert (storm.status_code, storm.headers["Retry-After"]) == (429, "3")
    assert storm.json()["code"] == "too_many_requests"
    assert api.root.put("/__sandbox/faults", json={}).json()["storm_429"] == 0
    stats = api.root.get("/__sandbox/stats").json()
    assert stats["writes"] == 1 and stats["by_status"]["429"] == 1 and stats["too_many"] == 0
    assert api.root.post("/__sandbox/stats/reset").status_code == 204
    assert api.emulator.stats().calls == {}
    assert api.root.post("/__sandbox/reset").status_code == 204
    assert api.emulator.products() == []
    assert api.create_product(tee_body()).status_code == 200  # slugs are free again
    with pytest.raises(KeyError):
        api.emulator.collection_id("nope")
