"""The Shopware 6 Admin API emulator over real HTTP: auth, Accept rules, sync, search, CRUD, media, faults."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator, ShopwareSettings
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    GERMAN_LANGUAGE_ID,
    NAVIGATION_CATEGORY_ID,
    STOREFRONT_SALES_CHANNEL_ID,
    SYSTEM_LANGUAGE_ID,
    TAX_7_ID,
    TAX_19_ID,
    USD_CURRENCY_ID,
)

NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def uid(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


COLOR, SIZE = uid("group:color"), uid("group:size")
RED, BLUE, SMALL, LARGE = uid("opt:red"), uid("opt:blue"), uid("opt:s"), uid("opt:l")
CATEGORY = uid("category:shirts")
MANUFACTURER = uid("manufacturer:acme")


def price(gross: float = 19.99, net: float = 16.8, currency: str = DEFAULT_CURRENCY_ID) -> dict[str, Any]:
    return {"currencyId": currency, "gross": gross, "net": net, "linked": True}


def reference_ops() -> dict[str, Any]:
    return {
        "groups": {
            "entity": "property_group",
            "action": "upsert",
            "payload": [
                {
                    "id": COLOR,
                    "name": "Color",
                    "options": [{"id": RED, "name": "Red"}, {"id": BLUE, "name": "Blue"}],
                },
                {
                    "id": SIZE,
                    "name": "Size",
                    "options": [{"id": SMALL, "name": "S"}, {"id": LARGE, "name": "L"}],
                },
            ],
        },
        "categories": {
            "entity": "category",
            "action": "upsert",
            "payload": [{"id": CATEGORY, "parentId": NAVIGATION_CATEGORY_ID, "name": "Shirts"}],
        },
        "manufacturers": {
            "entity": "product_manufacturer",
            "action": "upsert",
            "payload": [{"id": MANUFACTURER, "name": "ACME"}],
        },
    }


def shirt(number: str = "SHIRT", **extra: Any) -> dict[str, Any]:
    pid = uid(f"product:{number}")
    variants = [(RED, SMALL), (RED, LARGE), (BLUE, SMALL)]
    return {
        "id": pid,
        "productNumber": number,
        "stock": 0,
        "taxId": TAX_19_ID,
        "name": f"Shirt {number}",
        "manufacturerId": MANUFACTURER,
        "price": [price(), price(21.99, 18.48, USD_CURRENCY_ID)],
        "categories": [{"id": CATEGORY}],
        "visibilities": [
            {
                "id": uid(pid + STOREFRONT_SALES_CHANNEL_ID),
                "salesChannelId": STOREFRONT_SALES_CHANNEL_ID,
                "visibility": 30,
            }
        ],
        "configuratorSettings": [{"id": uid(pid + o), "optionId": o} for o in (RED, BLUE, SMALL, LARGE)],
        "children": [
            {
                "id": uid(f"{pid}:{i}"),
                "productNumber": f"{number}.{i}",
                "stock": 5 + i,
                "options": [{"id": color}, {"id": size}],
                **({"price": [price(24.99, 21.0)]} if i == 0 else {}),
            }
            for i, (color, size) in enumerate(variants)
        ],
        **extra,
    }


def product_op(*payload: dict[str, Any], key: str = "products") -> dict[str, Any]:
    return {key: {"entity": "product", "action": "upsert", "payload": list(payload)}}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Shopware6Emulator, EmulatorServer]]:
    emulator = Shopware6Emulator()
    with emulator.serve() as server:
        yield emulator, server


@pytest.fixture
def emu(served: tuple[Shopware6Emulator, EmulatorServer]) -> Shopware6Emulator:
    emulator = served[0]
    emulator.reset()
    emulator.reset_stats()
    emulator.clear_reject_rules()
    emulator.faults.clear()
    return emulator


def token(base_url: str, settings: ShopwareSettings) -> str:
    response = httpx.post(
        f"{base_url}/api/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    access: str = response.json()["access_token"]
    return access


@pytest.fixture
def api(emu: Shopware6Emulator, served: tuple[Shopware6Emulator, EmulatorServer]) -> Iterator[httpx.Client]:
    base = served[1].base_url
    headers = {"Authorization": f"Bearer {token(base, emu.settings)}", "Accept": "application/json"}
    with httpx.Client(base_url=base, headers=headers) as client:
        yield client


def sync(api: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    return api.post("/api/_action/sync", json=body, headers=headers)


def seeded(api: httpx.Client, *products: dict[str, Any]) -> None:
    response = sync(api, {**reference_ops(), **product_op(*(products or (shirt(),)))})
    assert response.status_code == 200, response.text


def violation(pointer: str, value: str = "null") -> dict[str, Any]:
    return {
        "code": NOT_BLANK,
        "status": "400",
        "detail": "This value should not be blank.",
        "template": "This value should not be blank.",
        "meta": {"parameters": {"{{ value }}": value}},
        "source": {"pointer": pointer},
    }


# -- authentication ------------------------------------------------------------------------------------------


def test_client_credentials_as_json_form_and_basic(emu: Shopware6Emulator, served: Any) -> None:
    base, s = served[1].base_url, emu.settings
    grant = {"grant_type": "client_credentials", "client_id": s.client_id, "client_secret": s.client_secret}
    answers = [
        httpx.post(f"{base}/api/oauth/token", json=grant),
        httpx.post(f"{base}/api/oauth/token", data=grant),
        httpx.post(
            f"{base}/api/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(s.client_id, s.client_secret),
        ),
    ]
    for response in answers:
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 600
        assert body["access_token"].count(".") == 2
        assert "refresh_token" not in body
    assert emu.stats().tokens_issued == {"client_credentials": 3}


def test_password_and_refresh_token_grants(emu: Shopware6Emulator, served: Any) -> None:
    url = f"{served[1].base_url}/api/oauth/token"
    first = httpx.post(
        url,
        json={
            "grant_type": "password",
            "client_id": "administration",
            "scopes": "write",
            "username": "admin",
            "password": "shopware",
        },
    ).json()
    assert set(first) == {"token_type", "expires_in", "access_token", "refresh_token"}
    refresh = {
        "grant_type": "refresh_token",
        "client_id": "administration",
        "refresh_token": first["refresh_token"],
    }
    second = httpx.post(url, json=refresh)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reused = httpx.post(url, json=refresh)
    assert reused.status_code == 400
    assert reused.json() == {
        "errors": [
            {
                "code": "8",
                "status": "400",
                "title": "The refresh token is invalid.",
                "detail": "Token has been revoked",
            }
        ]
    }
    detail = httpx.get(
        f"{served[1].base_url}/api/tax/{TAX_19_ID}",
        headers={"Authorization": f"Bearer {second.json()['access_token']}", "Accept": "application/json"},
    )
    assert detail.json()["data"]["taxRate"] == 19.0


def test_oauth_errors_are_league_shaped(emu: Shopware6Emulator, served: Any) -> None:
    url = f"{served[1].base_url}/api/oauth/token"
    s = emu.settings
    bad_secret = httpx.post(
        url, json={"grant_type": "client_credentials", "client_id": s.client_id, "client_secret": "x"}
    )
    assert bad_secret.status_code == 401
    assert bad_secret.json() == {
        "errors": [{"code": "4", "status": "401", "title": "Client authentication failed", "detail": None}]
    }
    basic = httpx.post(url, data={"grant_type": "client_credentials"}, auth=(s.client_id, "wrong"))
    assert basic.headers["WWW-Authenticate"] == 'Basic realm="OAuth"'
    wrong_password = httpx.post(
        url,
        json={
            "grant_type": "password",
            "client_id": "administration",
            "username": "admin",
            "password": "nope",
        },
    )
    assert wrong_password.status_code == 400
    assert wrong_password.json()["errors"][0]["title"] == "The user credentials were incorrect."
    unsupported = httpx.post(url, json={"grant_type": "implicit"})
    assert unsupported.status_code == 400
    assert unsupported.json()["errors"][0]["code"] == "2"
    missing_client = httpx.post(url, json={"grant_type": "client_credentials"})
    assert missing_client.json()["errors"][0]["detail"] == "Check the `client_id` parameter"


def test_bearer_missing_malformed_and_expired(emu: Shopware6Emulator, api: httpx.Client) -> None:
    assert api.get(f"/api/tax/{TAX_19_ID}").status_code == 200
    denied = "The resource owner or authorization server denied the request."
    missing = httpx.get(f"{api.base_url}/api/tax", headers={"Accept": "application/json"})
    assert missing.status_code == 401
    assert missing.json() == {
        "errors": [
            {"code": "9", "status": "401", "title": denied, "detail": 'Missing "Authorization" header'}
        ]
    }
    malformed = api.get("/api/tax", headers={"Authorization": "Bearer abc"})
    assert malformed.json()["errors"][0]["detail"] == "The JWT string must have two dots"
    emu.expire_tokens()
    expired = api.get(f"/api/tax/{TAX_19_ID}")
    assert expired.status_code == 401
    assert expired.json()["errors"][0] == {
        "code": "9",
        "status": "401",
        "title": denied,
        "detail": "Access token could not be verified",
    }


def test_token_ttl_and_auth_throttling_are_configurable() -> None:
    emulator = Shopware6Emulator(ShopwareSettings(token_ttl_s=3600, oauth_throttle=True))
    with emulator.serve() as server:
        url = f"{server.base_url}/api/oauth/token"
        assert token(server.base_url, emulator.settings)
        good = {
            "grant_type": "client_credentials",
            "client_id": emulator.settings.client_id,
            "client_secret": emulator.settings.client_secret,
        }
        assert httpx.post(url, json=good).json()["expires_in"] == 3600
        bad = {"grant_type": "password", "client_id": "administration", "username": "admin", "password": "x"}
        statuses = [httpx.post(url, json=bad).status_code for _ in range(11)]
        assert statuses == [400] * 10 + [429]
        throttled = httpx.post(url, json=bad).json()["errors"][0]
        assert throttled["code"] == "FRAMEWORK__AUTH_THROTTLED"
        assert throttled["detail"].startswith("Auth throttled for ")


def test_saas_mode_limits_the_token_endpoint() -> None:
    emulator = Shopware6Emulator(ShopwareSettings(saas_rate_limits=True, saas_token_limit_per_minute=2))
    with emulator.serve() as server:
        assert token(server.base_url, emulator.settings)
        assert token(server.base_url, emulator.settings)
        limited = httpx.post(f"{server.base_url}/api/oauth/token", json={"grant_type": "client_credentials"})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["errors"][0]["code"] == "FRAMEWORK__RATE_LIMIT_EXCEEDED"


# -- Accept header -------------------------------------------------------------------------------------------


def test_accept_header_selects_json_json_api_or_415(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    plain = api.post("/api/search/product", json={"limit": 1, "total-count-mode": "exact"})
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["total"] == 4
    assert plain.json()["data"][0]["apiAlias"] == "product"
    for accept in ("*/*", "application/vnd.api+json"):
        document = api.post("/api/search/product", json={"limit": 2}, headers={"Accept": accept})
        assert document.headers["content-type"].startswith("application/vnd.api+json")
        body = document.json()
        assert set(body) == {"data", "included", "links", "meta", "aggregations"}
        record = body["data"][0]
        assert record["type"] == "product"
        assert record["attributes"]["productNumber"] == "SHIRT"
        assert record["links"]["self"] == f"{api.base_url}/api/product/{record['id']}"
        assert record["relationships"]["configuratorSettings"]["links"]["related"].endswith(
            "/configurator-settings"
        )
        assert body["meta"] == {"totalCountMode": 0, "total": 2}
    request = api.build_request("POST", "/api/search/product", json={})
    del request.headers["Accept"]
    no_accept = api.send(request)
    assert no_accept.status_code == 415
    assert no_accept.json() == {
        "errors": [
            {
                "code": "0",
                "status": "415",
                "title": "Unsupported Media Type",
                "detail": "All provided media types are unsupported. ()",
            }
        ]
    }
    for path, body in (("/api/search-ids/product", {}), ("/api/_action/sync", product_op(shirt("OTHER")))):
        request = api.build_request("POST", path, json=body)
        del request.headers["Accept"]
        assert api.send(request).status_code == 200


def test_missing_accept_can_mean_json() -> None:
    emulator = Shopware6Emulator(ShopwareSettings(accept_required=False))
    with emulator.serve() as server:
        headers = {"Authorization": f"Bearer {token(server.base_url, emulator.settings)}"}
        with httpx.Client(base_url=server.base_url, headers=headers) as client:
            request = client.build_request("GET", "/api/currency")
            del request.headers["Accept"]
            assert client.send(request).json()["total"] == 4


# -- sync: upserts -------------------------------------------------------------------------------------------


def test_sync_upserts_nested_associations_and_reports_by_entity(
    emu: Shopware6Emulator, api: httpx.Client
) -> None:
    response = sync(
        api,
        {**reference_ops(), **product_op(shirt())},
        **{
            "indexing-behavior": "use-queue-indexing",
            "indexing-skip": "product.inheritance,product.stream",
            "sw-skip-trigger-flow": "1",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["extensions"] == []
    assert body["notFound"] == []
    assert body["deleted"] == []
    data = body["data"]
    pid = uid("product:SHIRT")
    assert list(data) == sorted(data)
    assert len(data["product"]) == 4
    assert {"productId": pid, "categoryId": CATEGORY} in data["product_category"]
    assert len(data["product_option"]) == 6
    assert len(data["product_configurator_setting"]) == 4
    assert data["product_visibility"] == [uid(pid + STOREFRONT_SALES_CHANNEL_ID)]
    assert {"productId": pid, "languageId": SYSTEM_LANGUAGE_ID} in data["product_translation"]
    assert len(data["property_group_option"]) == 4

    catalog = emu.products_by_number()
    assert set(catalog) == {"SHIRT", "SHIRT.0", "SHIRT.1", "SHIRT.2"}
    variant = catalog["SHIRT.1"]
    assert variant["parentNumber"] == "SHIRT"
    assert variant["name"] == "Shirt SHIRT"
    assert variant["price"][0]["gross"] == 19.99
    assert catalog["SHIRT.0"]["price"][0]["gross"] == 24.99
    assert sorted(o["name"] for o in variant["options"]) == ["L", "Red"]
    assert {o["group"] for o in variant["options"]} == {"Color", "Size"}
    assert variant["categories"] == [{"id": CATEGORY, "name": "Shirts"}]
    assert variant["visibilities"][0]["visibility"] == 30
    assert catalog["SHIRT"]["childNumbers"] == ["SHIRT.0", "SHIRT.1", "SHIRT.2"]
    assert len(catalog["SHIRT"]["configuratorSettings"]) == 4
    assert catalog["SHIRT"]["manufacturer"] == "ACME"

    stats = emu.stats()
    assert stats.sync_requests == 1
    assert stats.records_written["product"] == 4
    assert stats.indexing_behavior == {"use-queue-indexing": 1}
    assert stats.indexing_skip == {"product.inheritance": 1, "product.stream": 1}
    assert stats.skip_trigger_flow == 1


def test_upsert_never_removes_by_omission(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    slim = {
        "id": uid("product:SHIRT"),
        "stock": 3,
        "categories": [],
        "children": [],
        "configuratorSettings": [],
    }
    assert sync(api, product_op(slim)).status_code == 200
    product = emu.products_by_number()["SHIRT"]
    assert product["stock"] == 3
    assert product["categories"] == [{"id": CATEGORY, "name": "Shirts"}]
    assert len(product["childNumbers"]) == 3
    assert len(product["configuratorSettings"]) == 4


def test_translations_by_language_id_or_locale_and_language_header(
    emu: Shopware6Emulator, api: httpx.Client
) -> None:
    body = {
        "m": {
            "entity": "product_manufacturer",
            "action": "upsert",
            "payload": [
                {
                    "id": MANUFACTURER,
                    "translations": {SYSTEM_LANGUAGE_ID: {"name": "ACME"}, "de-DE": {"name": "ACME GmbH"}},
                }
            ],
        }
    }
    assert sync(api, body).json()["data"]["product_manufacturer_translation"] == [
        {"productManufacturerId": MANUFACTURER, "languageId": SYSTEM_LANGUAGE_ID},
        {"productManufacturerId": MANUFACTURER, "languageId": GERMAN_LANGUAGE_ID},
    ]
    german = api.get(
        f"/api/product-manufacturer/{MANUFACTURER}", headers={"sw-language-id": GERMAN_LANGUAGE_ID}
    )
    assert german.json()["data"]["name"] == "ACME GmbH"
    assert emu.get("product_manufacturer", MANUFACTURER)["name"] == "ACME"  # type: ignore[index]
    unknown = sync(
        api,
        {
            "m": {
                "entity": "unit",
                "action": "upsert",
                "payload": [{"translations": {"xx-XX": {"name": "a"}}}],
            }
        },
    )
    assert unknown.status_code == 412
    assert unknown.json()["errors"][0]["code"] == "FRAMEWORK__LANGUAGE_NOT_FOUND"


# -- sync: validation and the transaction --------------------------------------------------------------------


def test_required_fields_are_all_reported_with_pointers(emu: Shopware6Emulator, api: httpx.Client) -> None:
    response = sync(api, product_op({"id": uid("p"), "productNumber": "X"}))
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            violation("/products/0/taxId"),
            violation("/products/0/price"),
            violation("/products/0/stock"),
            violation(f"/products/0/translations/{SYSTEM_LANGUAGE_ID}/name"),
        ]
    }


def test_variants_may_omit_inherited_fields_but_not_stock(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    ok = {"id": uid("v4"), "parentId": uid("product:SHIRT"), "productNumber": "SHIRT.9", "stock": 1}
    assert sync(api, product_op(ok)).status_code == 200
    missing_stock = {"id": uid("v5"), "parentId": uid("product:SHIRT"), "productNumber": "SHIRT.10"}
    assert sync(api, product_op(missing_stock)).json() == {"errors": [violation("/products/0/stock")]}


def test_other_entities_required_fields(emu: Shopware6Emulator, api: httpx.Client) -> None:
    body = {
        "cat": {"entity": "category", "action": "upsert", "payload": [{"id": uid("c")}]},
        "grp": {"entity": "property_group", "action": "upsert", "payload": [{"id": uid("g")}]},
        "opt": {"entity": "property_group_option", "action": "upsert", "payload": [{"id": uid("o")}]},
        "man": {"entity": "product_manufacturer", "action": "upsert", "payload": [{"id": uid("m")}]},
        "unit": {"entity": "unit", "action": "upsert", "payload": [{"id": uid("u"), "name": "Piece"}]},
    }
    pointers = [e["source"]["pointer"] for e in sync(api, body).json()["errors"]]
    lang = SYSTEM_LANGUAGE_ID
    assert pointers == [
        f"/cat/0/translations/{lang}/name",
        f"/grp/0/translations/{lang}/name",
        "/opt/0/groupId",
        f"/opt/0/translations/{lang}/name",
        f"/man/0/translations/{lang}/name",
        f"/unit/0/translations/{lang}/shortCode",
    ]


def test_uuid_price_and_system_translation_violations(emu: Shopware6Emulator, api: httpx.Client) -> None:
    product = shirt()
    del product["children"]
    bad_id = {**product, "id": "not-a-uuid"}
    usd_only = {
        **product,
        "id": uid("usd"),
        "productNumber": "USD",
        "price": [price(currency=USD_CURRENCY_ID)],
    }
    no_linked = {
        **product,
        "id": uid("nl"),
        "productNumber": "NL",
        "price": [{"currencyId": DEFAULT_CURRENCY_ID, "gross": 1, "net": 1}],
    }
    german_only = {
        **product,
        "id": uid("de"),
        "productNumber": "DE",
        "translations": {"de-DE": {"name": "Hemd"}},
    }
    del german_only["name"]
    errors = sync(api, product_op(bad_id, usd_only, no_linked, german_only)).json()["errors"]
    assert errors == [
        {
            "code": "FRAMEWORK__WRITE_CONSTRAINT_VIOLATION",
            "status": "400",
            "detail": 'The string "not-a-uuid" is not a valid uuid.',
            "template": 'The string "{{ string }}" is not a valid uuid.',
            "meta": {"parameters": {"{{ string }}": "not-a-uuid"}},
            "source": {"pointer": "/products/0/id"},
        },
        {
            "code": "FRAMEWORK__WRITE_CONSTRAINT_VIOLATION",
            "status": "400",
            "detail": "No price for default currency defined",
            "template": "No price for default currency defined",
            "meta": {"parameters": {}},
            "source": {"pointer": "/products/1/price"},
        },
        {
            "code": "2fa2158c-2a7f-484b-98aa-975522539ff8",
            "status": "400",
            "detail": "This field is missing.",
            "template": "This field is missing.",
            "meta": {"parameters": {"{{ field }}": '"linked"'}},
            "source": {"pointer": "/products/2/price/0/linked"},
        },
        {
            "code": "MISSING-SYSTEM-TRANSLATION",
            "status": "400",
            "detail": f"Translation required for system language {SYSTEM_LANGUAGE_ID}",
            "template": "Translation required for system language {{ systemLanguage }}",
            "meta": {"parameters": {"{{ systemLanguage }}": SYSTEM_LANGUAGE_ID}},
            "source": {"pointer": f"/products/3/translations/{SYSTEM_LANGUAGE_ID}"},
        },
    ]


def test_one_bad_record_rolls_back_the_whole_request(emu: Shopware6Emulator, api: httpx.Client) -> None:
    before = emu.count("product"), emu.count("property_group")
    bad = {
        "id": uid("bad"),
        "productNumber": "BAD",
        "stock": "many",
        "taxId": TAX_19_ID,
        "name": "x",
        "price": [price()],
    }
    response = sync(api, {**reference_ops(), **product_op(shirt(), bad)})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "code": "ba785a8c-82cb-4283-967c-3cf342181b40",
            "status": "400",
            "detail": "This value should be of type int.",
            "template": "This value should be of type {{ type }}.",
            "meta": {"parameters": {"{{ value }}": '"many"', "{{ type }}": "int"}},
            "source": {"pointer": "/products/1/stock"},
        }
    ]
    assert (emu.count("product"), emu.count("property_group")) == before
    assert emu.stats().sync_failed == 1


def test_reject_rule_fails_a_batch_for_one_record(emu: Shopware6Emulator, api: httpx.Client) -> None:
    emu.reject_next_sync_record("B", times=2)
    ok = {"taxId": TAX_19_ID, "stock": 1, "price": [price()]}
    batch = [{"id": uid(n), "productNumber": n, "name": n, **ok} for n in ("A", "B", "C")]
    first = sync(api, product_op(*batch))
    assert first.status_code == 400
    assert first.json()["errors"] == [violation("/products/1/productNumber", '"B"')]
    assert emu.count("product") == 0
    assert sync(api, product_op(batch[0], batch[2])).status_code == 200
    assert sync(api, product_op(batch[1])).status_code == 400
    assert sync(api, product_op(batch[1])).status_code == 200
    assert emu.count("product") == 3


def test_duplicate_product_number(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    clash = {
        "id": uid("clash"),
        "productNumber": "shirt",
        "stock": 1,
        "taxId": TAX_19_ID,
        "name": "x",
        "price": [price()],
    }
    response = sync(api, product_op(clash))
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "status": "400",
                "code": "CONTENT__DUPLICATE_PRODUCT_NUMBER",
                "title": "Bad Request",
                "detail": 'Product with number "shirt" already exists.',
                "meta": {"parameters": {"number": "shirt"}},
            }
        ]
    }
    assert emu.get("product", uid("clash")) is None


def test_unknown_foreign_keys_answer_500_with_sql_text(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    unknown = uid("nowhere")
    cases: list[dict[str, Any]] = [
        {"taxId": unknown},
        {"manufacturerId": unknown},
        {"categories": [{"id": unknown}]},
        {"visibilities": [{"id": uid("vis2"), "salesChannelId": unknown, "visibility": 30}]},
        {"price": [price(), price(currency=unknown)]},
    ]
    for extra in cases:
        body = {
            "id": uid("fk"),
            "productNumber": "FK",
            "stock": 1,
            "taxId": TAX_7_ID,
            "name": "fk",
            "price": [price()],
            **extra,
        }
        response = sync(api, product_op(body))
        assert response.status_code == 500, extra
        error = response.json()["errors"][0]
        assert error["code"] == "1452"
        assert error["title"] == "Internal Server Error"
        assert "Integrity constraint violation: 1452 Cannot add or update a child row" in error["detail"]
    assert (
        sync(
            api,
            product_op(
                {
                    **shirt(),
                    "children": [
                        {"id": uid("x"), "productNumber": "X", "stock": 1, "options": [{"id": unknown}]}
                    ],
                }
            ),
        ).status_code
        == 500
    )
    assert emu.get("product", uid("fk")) is None


def test_unknown_fk_status_is_configurable() -> None:
    emulator = Shopware6Emulator(ShopwareSettings(unknown_fk_status=400))
    with emulator.serve() as server:
        headers = {"Authorization": f"Bearer {token(server.base_url, emulator.settings)}"}
        body = product_op(
            {"productNumber": "Z", "stock": 1, "taxId": uid("x"), "name": "z", "price": [price()]}
        )
        assert (
            httpx.post(f"{server.base_url}/api/_action/sync", json=body, headers=headers).status_code == 400
        )


def test_visibility_is_unique_per_product_and_sales_channel(
    emu: Shopware6Emulator, api: httpx.Client
) -> None:
    seeded(api)
    again = {
        "id": uid("product:SHIRT"),
        "visibilities": [{"salesChannelId": STOREFRONT_SALES_CHANNEL_ID, "visibility": 10}],
    }
    response = sync(api, product_op(again))
    assert response.status_code == 500
    assert "1062 Duplicate entry" in response.json()["errors"][0]["detail"]


def test_invalid_operations(emu: Shopware6Emulator, api: httpx.Client) -> None:
    bad_action = sync(api, {"op": {"entity": "product", "action": "replace", "payload": [{}]}})
    assert bad_action.status_code == 400
    assert bad_action.json()["errors"][0] == {
        "status": "400",
        "code": "FRAMEWORK__INVALID_SYNC_OPERATION",
        "title": "Bad Request",
        "detail": 'Invalid sync operation. Missing or invalid "action" argument for operation with key "op". '
        "Supported actions are [upsert, delete]",
        "meta": {"parameters": {}},
    }
    not_a_list = sync(api, [{"entity": "product", "action": "upsert", "payload": {"id": uid("a")}}])
    assert (
        not_a_list.json()["errors"][0]["detail"]
        == "Invalid payload. Should contain a list of associative arrays"
    )
    empty = sync(api, [{"entity": "product", "action": "delete", "payload": []}])
    assert empty.json()["errors"][0]["code"] == "FRAMEWORK__INVALID_SYNC_OPERATION"


# -- sync: resolver and deletes ------------------------------------------------------------------------------


def test_product_number_resolver(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    variant = {
        "id": uid("resolved"),
        "parentId": {"resolver": "product.number", "value": "SHIRT"},
        "productNumber": "SHIRT.R",
        "stock": 2,
    }
    assert sync(api, product_op(variant)).status_code == 200
    assert emu.products_by_number()["SHIRT.R"]["parentNumber"] == "SHIRT"
    missing = {
        **variant,
        "id": uid("r2"),
        "productNumber": "R2",
        "parentId": {"resolver": "product.number", "value": "NOPE"},
    }
    response = sync(api, product_op(missing, key="write"))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "status": "400",
        "code": "FRAMEWORK__API_INVALID_SYNC_RESOLVERS",
        "title": "Bad Request",
        "detail": "Can not resolve foreign key at position write/0/parentId. "
        "Reference field: product.parentId",
        "meta": {"parameters": {"pointer-0": "write/0/parentId", "field-0": "product.parentId"}},
    }
    lenient = {**missing, "parentId": {"resolver": "product.number", "value": "NOPE", "nullOnMissing": True}}
    assert (
        sync(api, product_op({**lenient, "taxId": TAX_19_ID, "name": "n", "price": [price()]})).status_code
        == 200
    )


def test_delete_by_id_cascades_and_reports_not_found(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    pid, ghost = uid("product:SHIRT"), uid("ghost")
    response = sync(
        api, {"drop": {"entity": "product", "action": "delete", "payload": [{"id": pid}, {"id": ghost}]}}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == []
    assert body["notFound"] == {"product": [ghost]}
    assert set(body["deleted"]["product"]) == {pid, uid(f"{pid}:0"), uid(f"{pid}:1"), uid(f"{pid}:2")}
    assert {"productId": pid, "categoryId": CATEGORY} in body["deleted"]["product_category"]
    assert emu.count("product") == 0
    assert emu.count("product_visibility") == emu.count("product_option") == 0
    assert emu.stats().records_deleted["product"] == 4


def test_mapping_deletes_by_payload_criteria_and_filter(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    pid = uid("product:SHIRT")
    child = uid(f"{pid}:0")
    body = {
        "unlink": {
            "entity": "product_category",
            "action": "delete",
            "payload": [{"productId": pid, "categoryId": CATEGORY}],
        },
        "vis": {
            "entity": "product_visibility",
            "action": "delete",
            "criteria": [{"type": "equals", "field": "productId", "value": pid}],
        },
        "opts": {
            "entity": "product_option",
            "action": "delete",
            "filter": [{"type": "equals", "field": "productId", "value": child}],
        },
    }
    response = sync(api, body)
    assert response.status_code == 200
    deleted = response.json()["deleted"]
    assert deleted["product_category"] == [{"productId": pid, "categoryId": CATEGORY}]
    assert deleted["product_visibility"] == [uid(pid + STOREFRONT_SALES_CHANNEL_ID)]
    assert len(deleted["product_option"]) == 2
    product = emu.products_by_number()
    assert product["SHIRT"]["categories"] == []
    assert product["SHIRT.0"]["options"] == []
    assert len(product["SHIRT.1"]["options"]) == 2
    no_filter = sync(
        api, {"x": {"entity": "product_option", "action": "delete", "criteria": [{"type": "nope"}]}}
    )
    assert no_filter.status_code == 400
    empty = sync(
        api, {"x": {"entity": "product_option", "action": "delete", "criteria": [], "payload": [{"a": 1}]}}
    )
    assert empty.status_code == 500
    assert empty.json()["errors"][0]["code"] == "FRAMEWORK__INCONSISTENT_PRIMARY_KEY"


def test_delete_restricted_while_in_use(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    response = sync(api, {"t": {"entity": "tax", "action": "delete", "payload": [{"id": TAX_19_ID}]}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "FRAMEWORK__DELETE_RESTRICTED"
    assert emu.get("tax", TAX_19_ID) is not None


# -- search --------------------------------------------------------------------------------------------------


def numbers(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["productNumber"] for p in response.json()["data"]]


def test_search_filters(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api, shirt(), shirt("POLO"))

    def search(*filters: dict[str, Any], **criteria: Any) -> list[str]:
        return sorted(numbers(api.post("/api/search/product", json={"filter": list(filters), **criteria})))

    assert search({"type": "equals", "field": "productNumber", "value": "polo"}) == ["POLO"]
    assert search({"type": "equalsAny", "field": "productNumber", "value": ["SHIRT", "POLO.1"]}) == [
        "POLO.1",
        "SHIRT",
    ]
    assert search({"type": "equalsAny", "field": "productNumber", "value": "SHIRT|POLO"}) == ["POLO", "SHIRT"]
    assert search({"type": "equals", "field": "parentId", "value": None}) == ["POLO", "SHIRT"]
    assert search({"type": "contains", "field": "name", "value": "t pol"}) == ["POLO"]
    assert search({"type": "prefix", "field": "productNumber", "value": "POLO."}) == [
        "POLO.0",
        "POLO.1",
        "POLO.2",
    ]
    assert search({"type": "suffix", "field": "productNumber", "value": ".2"}) == ["POLO.2", "SHIRT.2"]
    assert search({"type": "range", "field": "stock", "parameters": {"gte": 6, "lt": 7}}) == [
        "POLO.1",
        "SHIRT.1",
    ]
    assert search(
        {
            "type": "multi",
            "operator": "or",
            "queries": [
                {"type": "equals", "field": "productNumber", "value": "SHIRT"},
                {"type": "equals", "field": "productNumber", "value": "POLO"},
            ],
        }
    ) == ["POLO", "SHIRT"]
    assert search(
        {"type": "not", "queries": [{"type": "prefix", "field": "productNumber", "value": "S"}]},
        {"type": "equals", "field": "parentId", "value": None},
    ) == ["POLO"]
    assert search(
        {"type": "equals", "field": "options.group.name", "value": "Size"},
        {"type": "equals", "field": "options.name", "value": "L"},
    ) == ["POLO.1", "SHIRT.1"]
    assert search(ids=[uid("product:POLO"), uid("nothing")]) == ["POLO"]
    unsupported = api.post(
        "/api/search/product", json={"filter": [{"type": "fuzzy", "field": "name", "value": "x"}]}
    )
    assert unsupported.status_code == 400
    assert unsupported.json()["errors"][0]["detail"] == "Unsupported filter type: fuzzy"
    assert unsupported.json()["errors"][0]["source"] == {"pointer": "/filter/0/type"}
    unmapped = api.post(
        "/api/search/product", json={"filter": [{"type": "equals", "field": "nope", "value": 1}]}
    )
    assert unmapped.json()["errors"][0]["code"] == "FRAMEWORK__UNMAPPED_FIELD"
    aggregated = api.post(
        "/api/search/product",
        json={
            "limit": 1,
            "aggregations": [
                {"name": "stock-sum", "type": "sum", "field": "stock"},
                {"name": "parents", "type": "terms", "field": "parentId"},
            ],
        },
    ).json()["aggregations"]
    assert aggregated["stock-sum"]["sum"] == 36
    assert aggregated["stock-sum"]["apiAlias"] == "stock-sum_aggregation"
    assert sorted(b["count"] for b in aggregated["parents"]["buckets"]) == [3, 3]
    not_allowed = api.put("/api/product", json={})
    assert not_allowed.status_code == 405
    assert not_allowed.json()["errors"][0]["status"] == "405"


def test_search_paging_limits_and_total_count_modes(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api, *(shirt(f"P{i:02}") for i in range(10)))
    url = "/api/search/product"
    sort = [{"field": "productNumber", "order": "ASC"}]
    page = api.post(url, json={"limit": 3, "page": 2, "sort": sort}).json()
    assert [p["productNumber"] for p in page["data"]] == ["P00.2", "P01", "P01.0"]
    assert page["total"] == 3
    assert api.post(url, json={"limit": 3, "total-count-mode": 1}).json()["total"] == 40
    assert api.post(url, json={"limit": 3, "total-count-mode": "next-pages"}).json()["total"] == 19
    assert api.post(url, json={"limit": 3, "page": 13, "total-count-mode": 2}).json()["total"] == 4
    assert len(api.post(url, json={}).json()["data"]) == 40
    too_big = api.post(url, json={"limit": 501})
    assert too_big.status_code == 400
    assert too_big.json()["errors"] == [
        {
            "status": "400",
            "code": "FRAMEWORK__QUERY_LIMIT_EXCEEDED",
            "title": "Bad Request",
            "detail": "The limit must be lower than or equal to MAX_LIMIT(=500). Given: 501",
            "meta": {"parameters": {"maxLimit": 500, "limit": 501}},
            "source": {"pointer": "/limit"},
        }
    ]
    assert api.post(url, json={"limit": 0}).json()["errors"][0]["code"] == "FRAMEWORK__INVALID_LIMIT_QUERY"
    descending = api.post(url, json={"limit": 2, "sort": [{"field": "stock", "order": "DESC"}, *sort]})
    assert numbers(descending) == ["P00.2", "P01.2"]


def test_search_includes_associations_and_search_ids(emu: Shopware6Emulator, api: httpx.Client) -> None:
    seeded(api)
    criteria = {
        "filter": [{"type": "equals", "field": "productNumber", "value": "SHIRT"}],
        "includes": {
            "product": [
                "id",
                "productNumber",
                "children",
                "visibilities",
                "options",
                "categories",
                "manufacturer",
            ],
            "category": ["name"],
        },
        "associations": {
            "children": {
                "sort": [{"field": "productNumber", "order": "DESC"}],
                "limit": 2,
                "associations": {"options": {}},
            },
            "visibilities": {},
            "categories": {},
            "manufacturer": {},
        },
    }
    product = api.post("/api/search/product", json=criteria).json()["data"][0]
    assert set(product) == {
        "id",
        "productNumber",
        "children",
        "visibilities",
        "options",
        "categories",
        "manufacturer",
        "apiAlias",
    }
    assert product["options"] is None
    assert [c["productNumber"] for c in product["children"]] == ["SHIRT.2", "SHIRT.1"]
    assert len(product["children"][0]["options"]) == 2
    assert product["categories"] == [{"name": "Shirts", "apiAlias": "category"}]
    assert product["manufacturer"]["apiAlias"] == "product_manufacturer"
    assert product["visibilities"][0]["salesChannelId"] == STOREFRONT_SALES_CHANNEL_ID
    json_api = api.post(
        "/api/search/product", json=criteria, headers={"Accept": "application/vnd.api+json"}
    ).json()
    assert {(i["type"], i["id"]) for i in json_api["included"]} >= {
        ("category", CATEGORY),
        ("product_manufacturer", MANUFACTURER),
    }
    ids = api.post(
        "/api/search-ids/product",
        json={
            "filter": [{"type": "prefix", "field": "productNumber", "value": "SHIRT."}],
            "total-count-mode": 1,
        },
    )
    assert ids.json() == {"total": 3, "data": [uid(f"{uid('product:SHIRT')}:{i}") for i in range(3)]}
    languages = api.post("/api/search/language", json={"associations": {"locale": {}}}).json()["data"]
    assert {lang["locale"]["code"] for lang in languages} == {"en-GB", "de-DE"}
    channel = api.post(
        "/api/search/sales-channel",
        json={"includes": {"sales_channel": ["id", "name", "navigationCategoryId", "accessKey"]}},
    ).json()
    assert channel["data"][0]["navigationCategoryId"] == NAVIGATION_CATEGORY_ID
    currency = api.post(
        "/api/search/currency", json={"filter": [{"type": "equals", "field": "isoCode", "value": "EUR"}]}
    ).json()
    assert currency["data"][0]["id"] == DEFAULT_CURRENCY_ID
    assert currency["data"][0]["isSystemDefault"] is True
    variant = uid(f"{uid('product:SHIRT')}:1")
    inherited = api.get(f"/api/product/{variant}", headers={"sw-inheritance": "1"}).json()["data"]
    assert inherited["name"] == "Shirt SHIRT"
    assert inherited["taxId"] == TAX_19_ID


# -- CRUD ----------------------------------------------------------------------------------------------------


def test_crud_routes(emu: Shopware6Emulator, api: httpx.Client) -> None:
    unit = uid("unit:pc")
    created = api.post("/api/unit", json={"id": unit, "shortCode": "pc", "name": "Piece"})
    assert created.status_code == 204
    assert created.headers["Location"] == f"{api.base_url}/api/unit/{unit}"
    assert api.get(f"/api/unit/{unit}").json()["data"]["shortCode"] == "pc"
    again = api.post("/api/unit", json={"id": unit, "shortCode": "pc", "name": "Piece"})
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "FRAMEWORK__WRITE_TYPE_INTEND_ERROR"
    invalid = api.post("/api/unit", json={"shortCode": "x"})
    assert invalid.json()["errors"] == [violation(f"/0/translations/{SYSTEM_LANGUAGE_ID}/name")]
    patched = api.patch(f"/api/unit/{unit}", json={"name": "Pieces"})
    assert patched.status_code == 204
    assert patched.headers["Location"].endswith(f"/api/unit/{unit}")
    with_body = api.patch(f"/api/unit/{unit}?_response=detail", json={"shortCode": "pcs"})
    assert with_body.status_code == 200
    assert with_body.json()["data"]["name"] == "Pieces"
    listed = api.get("/api/unit", params={"filter[shortCode]": "pcs", "total-count-mode": "1"}).json()
    assert [u["id"] for u in listed["data"]] == [unit]
    assert api.post("/api/unit", json=[{"shortCode": "a"}]).status_code == 400
    assert api.delete(f"/api/unit/{unit}").status_code == 204
    missing = api.get(f"/api/unit/{unit}")
    assert missing.status_code == 404
    assert missing.json() == {
        "errors": [
            {
                "status": "404",
                "code": "FRAMEWORK__RESOURCE_NOT_FOUND",
                "title": "Not Found",
                "detail": f"The unit resource with the following primary key was not found: id({unit})",
                "meta": {"parameters": {"type": "unit", "primaryKey": f"id({unit})"}},
            }
        ]
    }
    assert api.delete(f"/api/unit/{unit}").status_code == 404
    assert api.patch(f"/api/unit/{unit}", json={"name": "x"}).status_code == 400
    assert api.get("/api/no-such-entity").status_code == 404


def test_location_and_links_follow_a_mount_prefix() -> None:
    emulator = Shopware6Emulator()
    outer = Starlette(routes=[Mount("/shopware", app=emulator.app)])
    with EmulatorServer(outer) as server:
        base = f"{server.base_url}/shopware"
        headers = {"Authorization": f"Bearer {token(base, emulator.settings)}", "Accept": "application/json"}
        created = httpx.post(
            f"{base}/api/unit", json={"shortCode": "kg", "name": "Kilogram"}, headers=headers
        )
        assert created.status_code == 204
        assert created.headers["Location"].startswith(f"{base}/api/unit/")
        document = httpx.get(
            f"{base}/api/unit", headers={**headers, "Accept": "application/vnd.api+json"}
        ).json()
        assert document["data"][0]["links"]["self"].startswith(f"{base}/api/unit/")


# -- media ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_host() -> Iterator[str]:
    async def image(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    with EmulatorServer(Starlette(routes=[Route("/img/{name}", image)]), name="images") as server:
        yield server.base_url


def test_media_upload_by_url_bytes_and_duplicate_name(
    emu: Shopware6Emulator, api: httpx.Client, image_host: str
) -> None:
    media, other, third = uid("media:1"), uid("media:2"), uid("media:3")
    sync(
        api,
        {"m": {"entity": "media", "action": "upsert", "payload": [{"id": m} for m in (media, other, third)]}},
    )
    uploaded = api.post(
        f"/api/_action/media/{media}/upload",
        params={"extension": "png", "fileName": "shirt-front"},
        json={"url": f"{image_host}/img/front.png"},
    )
    assert uploaded.status_code == 204
    assert uploaded.headers["Location"] == f"{api.base_url}/api/media/{media}"
    stored = api.get(f"/api/media/{media}").json()["data"]
    assert (stored["fileName"], stored["fileExtension"], stored["mimeType"], stored["fileSize"]) == (
        "shirt-front",
        "png",
        "image/png",
        len(PNG),
    )
    assert httpx.get(stored["url"]).content == PNG
    raw = api.post(
        f"/api/_action/media/{other}/upload",
        params={"extension": "png", "fileName": "shirt-back"},
        content=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert raw.status_code == 204
    duplicate = api.post(
        f"/api/_action/media/{third}/upload",
        params={"extension": "png", "fileName": "shirt-front"},
        json={"url": f"{image_host}/img/front.png"},
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"][0] == {
        "status": "400",
        "code": "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
        "title": "Bad Request",
        "detail": 'A file with the name "shirt-front.png" already exists.',
        "meta": {"parameters": {"fileName": "shirt-front", "fileExtension": "png"}},
    }
    outside = api.post(
        f"/api/_action/media/{third}/upload",
        params={"extension": "png"},
        json={"url": "https://example.com/a.png"},
    )
    assert outside.json()["errors"][0]["code"] == "CONTENT__MEDIA_ILLEGAL_URL"
    product = {**shirt(), "media": [{"id": uid("pm"), "mediaId": media, "position": 1}], "coverId": uid("pm")}
    seeded(api, product)
    assert emu.products_by_number()["SHIRT"]["media"][0]["fileName"] == "shirt-front"
    assert emu.stats().media_uploads == 2


# -- faults and admin ----------------------------------------------------------------------------------------


def test_faults_are_rendered_in_shopware_shape(emu: Shopware6Emulator, api: httpx.Client) -> None:
    admin = f"{api.base_url}/__sandbox"
    assert httpx.post(f"{admin}/faults", json={"storm_429": 1, "retry_after_s": 2}).json()["storm_429"] == 1
    limited = api.get("/api/tax")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["errors"][0] == {
        "status": "429",
        "code": "FRAMEWORK__RATE_LIMIT_EXCEEDED",
        "title": "Too Many Requests",
        "detail": "Too many requests, try again in 2 seconds.",
        "meta": {"parameters": {"seconds": 2}},
    }
    assert api.get("/api/tax").status_code == 200
    httpx.post(f"{admin}/faults", json={"rate_5xx": 1.0, "status_5xx": 502, "path_prefix": "/api/_action"})
    broken = sync(api, product_op(shirt()))
    assert broken.status_code == 502
    assert broken.json()["errors"][0]["status"] == "502"
    assert api.get("/api/tax").status_code == 200
    assert httpx.get(f"{admin}/state").json()["faults"]["status_5xx"] == 502
    assert httpx.post(f"{admin}/faults", json={"rate_5xx": 3}).status_code == 422


def test_admin_routes(emu: Shopware6Emulator, api: httpx.Client) -> None:
    admin = f"{api.base_url}/__sandbox"
    seeded(api)
    state = httpx.get(f"{admin}/state").json()
    assert state["entities"]["product"] == 4
    assert state["entities"]["currency"] == 4
    stats = httpx.get(f"{admin}/stats").json()
    assert stats["calls"]["POST /api/_action/sync"] == 1
    assert stats["records_written_total"] >= 4
    assert httpx.post(f"{admin}/stats/reset").status_code == 204
    assert httpx.get(f"{admin}/stats").json()["sync_requests"] == 0
    rules = httpx.post(
        f"{admin}/reject-rules", json={"match_value": "SHIRT.1", "field": "stock", "message": "nope"}
    )
    assert rules.json()[0]["match_value"] == "SHIRT.1"
    rejected = sync(api, product_op(shirt()))
    assert rejected.json()["errors"][0]["source"]["pointer"] == "/products/0/children/1/stock"
    assert httpx.delete(f"{admin}/reject-rules").json() == []
    assert httpx.post(f"{admin}/reset").status_code == 204
    assert emu.count("product") == 0
    assert emu.count("tax") == 3
