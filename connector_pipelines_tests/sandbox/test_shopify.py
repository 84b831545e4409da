"""Shopify emulator over real HTTP: auth, schema validation, productSet/productDelete, search, pagination,
cost throttling, staged uploads and the bulk concurrency rule."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings

TOKEN = "shpat_sandbox_token"
PRODUCT_SET = """
mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product {
      id handle title status tags descriptionHtml
      options(first: 3) { name optionValues { name hasVariants } }
      variants(first: 10) { nodes { id sku price compareAtPrice selectedOptions { name value } } }
      metafields(first: 5) { nodes { namespace key type value } }
    }
    userErrors { code field message }
  }
}"""
VARIANTS = """
query Variants($q: String!) {
  productVariants(first: 10, query: $q) { nodes { sku product { handle } } }
}"""


def tee(**overrides: Any) -> dict[str, Any]:
    product: dict[str, Any] = {
        "title": "Classic Tee",
        "handle": "classic-tee",
        "descriptionHtml": "<p>Soft cotton</p>",
        "tags": ["cotton", "summer"],
        "productOptions": [
            {"name": "Color", "values": [{"name": "Red"}, {"name": "Blue"}]},
            {"name": "Size", "values": [{"name": "S"}, {"name": "M"}]},
        ],
        "variants": [
            {
                "optionValues": [{"optionName": "Color", "name": "Red"}, {"optionName": "Size", "name": "S"}],
                "price": "19.9",
                "compareAtPrice": "24.99",
                "sku": "TEE-RED-S",
            },
            {
                "optionValues": [
                    {"optionName": "Color", "name": "Blue"},
                    {"optionName": "Size", "name": "M"},
                ],
                "price": "19.99",
                "sku": "TEE-BLU-M",
            },
        ],
        "metafields": [{"namespace": "sync", "key": "erp_id", "type": "number_integer", "value": "42"}],
    }
    product.update(overrides)
    return product


class Shop:
    def __init__(self, emulator: ShopifyEmulator, server: EmulatorServer) -> None:
        self.emulator = emulator
        self.server = server
        self.http = httpx.Client(base_url=server.base_url)

    def post(self, body: Any, *, token: str | None = TOKEN, version: str = "2026-07") -> httpx.Response:
        headers = {"X-Shopify-Access-Token": token} if token else {}
        return self.http.post(f"/admin/api/{version}/graphql.json", json=body, headers=headers)

    def gql(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        response = self.post({"query": query, "variables": variables}, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    def product_set(self, product: dict[str, Any], identifier: dict[str, Any] | None = None) -> Any:
        body = self.gql(PRODUCT_SET, {"input": product, "identifier": identifier})
        assert "errors" not in body, body
        return body["data"]["productSet"]


@pytest.fixture
def make_shop() -> Iterator[Callable[..., Shop]]:
    """An emulator with its own settings and server (for tests that change settings)."""
    shops: list[Shop] = []

    def make(**settings: Any) -> Shop:
        emulator = ShopifyEmulator(ShopifySettings(**settings))
        shops.append(Shop(emulator, emulator.serve()))
        return shops[-1]

    yield make
    for shop in shops:
        shop.close()


@pytest.fixture(scope="module")
def default_shop() -> Iterator[Shop]:
    emulator = ShopifyEmulator()
    shop = Shop(emulator, emulator.serve())
    yield shop
    shop.close()


@pytest.fixture
def shop(default_shop: Shop) -> Shop:
    """The shared default emulator, emptied (data, faults, statistics)."""
    default_shop.emulator.reset()
    default_shop.emulator.reset_stats()
    return default_shop


def test_missing_or_wrong_token_is_401_with_shopifys_body(shop: Shop) -> None:
    for token in (None, "shpat_wrong"):
        response = shop.post({"query": "{ shop { name } }"}, token=token)
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
        assert response.headers["www-authenticate"] == 'Basic Realm="Shopify API Authentication"'


def test_bad_documents_are_rejected_the_graphql_ruby_way(shop: Shop) -> None:
    body = shop.gql("query Broken { products(first: 1) { nodes { id nonExistingField } } }")
    assert "data" not in body
    [error] = body["errors"]
    assert error["message"] == "Field 'nonExistingField' doesn't exist on type 'Product'"
    assert error["path"] == ["query Broken", "products", "nodes", "nonExistingField"]
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Product",
        "fieldName": "nonExistingField",
    }
    assert error["locations"] == [{"line": 1, "column": 48}]
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0

    missing = shop.gql("{ product { id } }")["errors"][0]
    assert missing["message"] == "Field 'product' is missing required arguments: id"
    assert missing["extensions"]["code"] == "missingRequiredArguments"
    assert (
        shop.gql("{ products(first: 1) { nodes { id } }")["errors"][0]["message"]
        == "Unexpected end of document"
    )
    literal = shop.gql('{ products(first: "a") { nodes { id } } }')["errors"][0]
    assert (
        literal["message"]
        == "Argument 'first' on Field 'products' has an invalid value (\"a\"). Expected type 'Int'."
    )

    variables = shop.gql(PRODUCT_SET, {"input": tee(variants=[{"sku": "X", "price": "abc"}])})["errors"][0]
    assert variables["message"] == (
        "Variable $input of type ProductSetInput! was provided invalid value for "
        'variants.0.price (Could not coerce value "abc" to Money), '
        "variants.0.optionValues (Expected value to not be null)"
    )
    assert variables["extensions"]["problems"][1]["path"] == ["variants", 0, "optionValues"]
    one_of = shop.gql(
        PRODUCT_SET, {"input": tee(), "identifier": {"handle": "a", "id": "gid://shopify/Product/1"}}
    )
    assert one_of["errors"][0]["extensions"]["problems"] == [
        {
            "path": [],
            "explanation": "`ProductSetIdentifiers` is a OneOf type, "
            "so only one argument may be given (instead of 2)",
        }
    ]
    assert shop.emulator.product_count() == 0


def test_versions_fall_forward_and_unknown_paths_404(shop: Shop) -> None:
    old = shop.post({"query": "{ shop { name } }"}, version="2024-01")
    assert old.status_code == 200
    assert old.headers["x-shopify-api-version"] == "2025-10"
    assert old.json()["data"]["shop"]["name"] == "sandbox"
    assert shop.post({"query": "{ shop { name } }"}, version="2099-01").status_code == 404
    recent = shop.gql('{ bulkOperation(id: "gid://shopify/BulkOperation/1") { id } }', version="2025-10")
    assert recent["errors"][0]["message"] == "Field 'bulkOperation' doesn't exist on type 'QueryRoot'"
    assert shop.http.get("/admin/api/2026-07/no/such/route").json() == {"errors": "Not Found"}
    assert shop.post({"variables": {}}).status_code == 400


def test_product_set_creates_then_replaces_list_fields(shop: Shop) -> None:
    created = shop.product_set(tee(), {"handle": "classic-tee"})
    assert created["userErrors"] == []
    product = created["product"]
    assert product["handle"] == "classic-tee"
    assert [v["sku"] for v in product["variants"]["nodes"]] == ["TEE-RED-S", "TEE-BLU-M"]
    assert product["variants"]["nodes"][0]["price"] == "19.90"
    assert product["options"][1]["optionValues"] == [
        {"name": "S", "hasVariants": True},
        {"name": "M", "hasVariants": True},
    ]
    red_id = product["variants"]["nodes"][0]["id"]

    # Upsert by handle: omitted fields stay, list fields replace (the blue variant and the tag go away).
    update = {
        "title": "Classic Tee 2",
        "tags": ["basics"],
        "variants": [tee()["variants"][0] | {"price": "21"}],
    }
    updated = shop.product_set(update, {"handle": "classic-tee"})["product"]
    assert updated["id"] == product["id"]
    assert updated["title"] == "Classic Tee 2"
    assert updated["descriptionHtml"] == "<p>Soft cotton</p>"
    assert updated["tags"] == ["basics"]
    assert [(v["id"], v["sku"], v["price"]) for v in updated["variants"]["nodes"]] == [
        (red_id, "TEE-RED-S", "21.00")
    ]
    assert updated["metafields"]["nodes"] == [
        {"namespace": "sync", "key": "erp_id", "type": "number_integer", "value": "42"}
    ]
    cleared = shop.product_set({"metafields": []}, {"id": product["id"]})["product"]
    assert cleared["metafields"]["nodes"] == []
    assert shop.emulator.variant_count() == 1
    assert shop.emulator.product_by_sku("TEE-RED-S")["title"] == "Classic Tee 2"  # type: ignore[index]


def test_product_set_user_errors_write_nothing(shop: Shop) -> None:
    shop.product_set(tee())
    bad_value = tee(handle="other")
    bad_value["variants"][1]["optionValues"][1]["name"] = "XL"
    bad_value["metafields"][0]["value"] = "forty-two"
    result = shop.product_set(bad_value)
    assert result["product"] is None
    assert {(e["code"], tuple(e["field"])) for e in result["userErrors"]} == {
        ("OPTION_VALUE_DOES_NOT_EXIST", ("input", "variants", "1", "optionValues", "1")),
        ("INVALID_METAFIELD", ("input", "metafields", "0", "value")),
    }
    taken = shop.product_set(tee(title="Other"), {"handle": "fresh"})
    assert taken["userErrors"][0]["code"] == "HANDLE_NOT_UNIQUE"
    assert shop.emulator.product_count() == 1

    missing = tee(handle="third")
    missing["variants"][0]["optionValues"] = [{"optionName": "Color", "name": "Red"}]
    assert shop.product_set(missing)["userErrors"][0]["code"] == "PRODUCT_OPTIONS_INPUT_MISSING"


def test_option_error_code_and_sku_precedence_are_settings(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop(missing_option_value_code="OPTION_VALUES_MISSING", sku_precedence="reject_conflict")
    missing = tee()
    missing["variants"][0]["optionValues"] = [{"optionName": "Color", "name": "Red"}]
    assert shop.product_set(missing)["userErrors"][0]["code"] == "OPTION_VALUES_MISSING"
    conflict = tee()
    conflict["variants"][0]["inventoryItem"] = {"sku": "OTHER"}
    assert shop.product_set(conflict)["userErrors"][0]["code"] == "INVALID_INPUT"


def test_product_delete(shop: Shop) -> None:
    product_id = shop.product_set(tee())["product"]["id"]
    query = """mutation($id: ID!) {
      productDelete(input: {id: $id}) { deletedProductId userErrors { field message } } }"""
    assert shop.gql(query, {"id": product_id})["data"]["productDelete"] == {
        "deletedProductId": product_id,
        "userErrors": [],
    }
    again = shop.gql(query, {"id": product_id})["data"]["productDelete"]
    assert again == {
        "deletedProductId": None,
        "userErrors": [{"field": ["id"], "message": "Product does not exist"}],
    }
    assert shop.gql(VARIANTS, {"q": "sku:TEE-RED-S"})["data"]["productVariants"]["nodes"] == []


def test_sku_search_with_or_quotes_and_warnings(shop: Shop) -> None:
    shop.product_set(tee())
    spaced = tee(handle="spaced", title="Spaced")
    spaced["variants"][0]["sku"] = "TEE RED S"
    spaced["variants"][1]["sku"] = "OTHER"
    shop.product_set(spaced)
    body = shop.gql(VARIANTS, {"q": 'sku:TEE-RED-S OR sku:"TEE RED S" OR sku:missing unknown:x'})
    nodes = body["data"]["productVariants"]["nodes"]
    assert sorted(n["sku"] for n in nodes) == ["TEE RED S", "TEE-RED-S"]
    warning = body["extensions"]["search"][0]
    assert warning["warnings"] == [{"field": "unknown", "message": "Invalid search field for this query."}]
    filtered = shop.gql(VARIANTS, {"q": "product_id:0 OR (sku:OTHER -title:nothing)"})["data"][
        "productVariants"
    ]
    assert [n["sku"] for n in filtered["nodes"]] == ["OTHER"]


def test_sku_index_lag(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop(sku_index_lag_s=0.3)
    shop.product_set(tee())
    assert shop.gql(VARIANTS, {"q": "sku:TEE-RED-S"})["data"]["productVariants"]["nodes"] == []
    time.sleep(0.35)
    assert len(shop.gql(VARIANTS, {"q": "sku:TEE-RED-S"})["data"]["productVariants"]["nodes"]) == 1


def test_cursor_pagination(shop: Shop) -> None:
    for i in range(5):
        shop.emulator.put_product({"title": f"P{i}", "handle": f"p{i}"})
    query = """query($first: Int, $last: Int, $after: String, $before: String, $reverse: Boolean) {
      products(first: $first, last: $last, after: $after, before: $before, reverse: $reverse,
               sortKey: TITLE) {
        edges { cursor node { handle } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

    def page(**variables: Any) -> tuple[list[str], dict[str, Any]]:
        data = shop.gql(query, variables)["data"]["products"]
        return [e["node"]["handle"] for e in data["edges"]], data["pageInfo"]

    handles, info = page(first=2)
    assert handles == ["p0", "p1"]
    assert (info["hasNextPage"], info["hasPreviousPage"]) == (True, False)
    handles, info = page(first=2, after=info["endCursor"])
    assert handles == ["p2", "p3"]
    assert (info["hasNextPage"], info["hasPreviousPage"]) == (True, True)
    assert page(last=2)[0] == ["p3", "p4"]
    assert page(first=2, reverse=True)[0] == ["p4", "p3"]
    assert page(last=1, before=info["startCursor"])[0] == ["p1"]
    error = shop.gql("{ products { nodes { id } } }")
    assert error["data"] is None
    assert error["errors"][0]["message"] == "you must provide one of first or last"


def test_node_lookups_and_unimplemented_fields(shop: Shop) -> None:
    product = shop.product_set(tee())["product"]
    ids = [product["id"], product["variants"]["nodes"][0]["id"], "gid://shopify/Product/1"]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
    nodes = shop.gql(query, {"ids": ids})["data"]["nodes"]
    assert nodes == [
        {"__typename": "Product", "id": ids[0]},
        {"__typename": "ProductVariant", "id": ids[1]},
        None,
    ]
    invalid = shop.gql('{ node(id: "nope") { id } }')["errors"][0]
    assert invalid["message"] == "Invalid global id 'nope'"
    collections = shop.gql("{ collections(first: 1) { nodes { id } } }")["errors"][0]
    assert collections["extensions"]["code"] == "NOT_IMPLEMENTED"


def test_cost_limit_and_throttling(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop(throttle_enabled=True, bucket_capacity=100, restore_rate=10, throttled_status=429)
    too_big = shop.gql("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }")
    assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    query = "{ products(first: 30) { nodes { id } } }"  # requested 32
    costs = [shop.gql(query)["extensions"]["cost"] for _ in range(3)]
    assert costs[0]["requestedQueryCost"] == 32
    assert costs[0]["actualQueryCost"] == 2
    throttled = shop.post({"query": "{ products(first: 200) { nodes { id } } }"})
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 100


def test_staged_upload_form_rules(shop: Shop) -> None:
    staged = shop.gql(
        """mutation($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) {
             stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }""",
        {
            "input": [
                {
                    "resource": "BULK_MUTATION_VARIABLES",
                    "filename": "v.jsonl",
                    "mimeType": "text/jsonl",
                    "httpMethod": "POST",
                }
            ]
        },
    )["data"]["stagedUploadsCreate"]
    target = staged["stagedTargets"][0]
    assert target["url"] == f"{shop.server.base_url}/__staged-uploads/"
    assert target["resourceUrl"] is None
    fields = {p["name"]: p["value"] for p in target["parameters"]}
    ok = httpx.post(target["url"], data=fields, files={"file": ("v.jsonl", b'{"input": {}}\n')})
    assert ok.status_code == 201
    assert f"<Key>{fields['key']}</Key>" in ok.text
    forged = httpx.post(target["url"], data={**fields, "x-goog-signature": "0" * 32}, files={"file": b"x"})
    assert forged.status_code == 403
    assert "<Code>AccessDenied</Code>" in forged.text
    shop.emulator.settings.bulk_jsonl_max_bytes = 10
    too_big = httpx.post(target["url"], data=fields, files={"file": ("v.jsonl", b"x" * 11)})
    assert too_big.status_code == 400
    assert "<Code>EntityTooLarge</Code>" in too_big.text
    shop.emulator.settings.bulk_jsonl_max_bytes = ShopifySettings().bulk_jsonl_max_bytes


def test_one_bulk_mutation_at_a_time_before_2026_01(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop(bulk_start_delay_s=0.2)
    state = shop.emulator.shop()
    from connector_pipelines.sandbox.shopify_store import StagedUpload

    state.staged["k"] = StagedUpload("k", "BULK_MUTATION_VARIABLES", "POST", "", b"{}\n")
    mutation = 'mutation($mutation: String!) { bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: "k") { bulkOperation { id status } userErrors { code field message } } }'  # noqa: E501
    inner = "mutation call($input: ProductSetInput!) { productSet(input: $input) { product { id } } }"
    first = shop.gql(mutation, {"mutation": inner}, version="2025-10")["data"]["bulkOperationRunMutation"]
    assert first["bulkOperation"]["status"] == "CREATED"
    second = shop.gql(mutation, {"mutation": inner}, version="2025-10")["data"]["bulkOperationRunMutation"]
    assert second["bulkOperation"] is None
    assert second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    assert first["bulkOperation"]["id"] in second["userErrors"][0]["message"]
    invalid = shop.gql(mutation, {"mutation": "query { shop { name } }"})["data"]["bulkOperationRunMutation"]
    assert invalid["userErrors"][0]["code"] == "INVALID_MUTATION"
    shop.emulator.wait_for_bulk()

    state.staged["k"].data = b"\n"  # no lines: no objects, and no result url
    empty = shop.gql(mutation, {"mutation": inner})["data"]["bulkOperationRunMutation"]["bulkOperation"]
    shop.emulator.wait_for_bulk()
    poll = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status objectCount url } } }"
    assert shop.gql(poll, {"id": empty["id"]})["data"]["node"] == {
        "status": "COMPLETED",
        "objectCount": "0",
        "url": None,
    }


def test_app_mounted_under_a_prefix_hands_out_prefixed_urls() -> None:
    emulator = ShopifyEmulator()
    server = EmulatorServer(Starlette(routes=[Mount("/shopify/acme", app=emulator.app)])).start()
    try:
        base = f"{server.base_url}/shopify/acme"
        response = httpx.post(
            f"{base}/admin/api/2026-07/graphql.json",
            json={
                "query": """mutation { stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES,
                  filename: "v", mimeType: "text/jsonl", httpMethod: POST}]) { stagedTargets { url } } }"""
            },
            headers={"X-Shopify-Access-Token": TOKEN},
        )
        assert (
            response.json()["data"]["stagedUploadsCreate"]["stagedTargets"][0]["url"]
            == f"{base}/__staged-uploads/"
        )
    finally:
        server.stop()


def test_admin_routes_and_injected_faults(shop: Shop) -> None:
    config = FaultConfig(storm_429=1, retry_after_s=2)
    assert shop.http.put("/__sandbox/faults", content=config.model_dump_json()).status_code == 200
    throttled = shop.post({"query": "{ shop { name } }"})
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "2"
    assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    shop.http.put("/__sandbox/faults", content=FaultConfig(rate_5xx=1).model_dump_json())
    failed = shop.post({"query": "{ shop { name } }"})
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    shop.http.put("/__sandbox/faults", content=FaultConfig().model_dump_json())
    shop.product_set(tee())
    stats = shop.http.get("/__sandbox/stats").json()
    assert stats["graphql_calls"] == 1
    assert stats["root_fields"] == {"productSet": 1}
    assert stats["faults_injected"] == 2
    state = shop.http.get("/__sandbox/state").json()
    assert state["shops"]["sandbox"]["products"][0]["handle"] == "classic-tee"
    assert shop.http.post("/__sandbox/stats/reset").json()["graphql_calls"] == 0
    assert orjson.loads(shop.http.post("/__sandbox/reset").content) == {}
    assert shop.emulator.product_count() == 0
