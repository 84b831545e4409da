"""The official ``webflow`` 2.0.0 SDK against the emulator with only its base URL changed: if Webflow's own
generated client can parse every answer, the emulator speaks the wire format of the spec it was built from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webflow import (
    CollectionItemFieldData,
    CollectionItemPostSingle,
    CollectionItemPostSingleFieldData,
    ProductFieldData,
    Sku,
    SkuFieldData,
    SkuFieldDataPrice,
    SkuPropertyList,
    SkuPropertyListEnumItem,
    Webflow,
)
from webflow.core.api_error import ApiError as SdkApiError
from webflow.environment import WebflowEnvironment
from webflow.errors import BadRequestError, ConflictError, NotFoundError, UnauthorizedError
from webflow.resources.collections.resources.items.types import ItemIDs
from webflow.resources.products.types import ProductSkuCreateProduct, ProductSkuCreateSku

from connector_pipelines.sandbox.webflow import WebflowEmulator, WebflowSettings


@pytest.fixture
def emulator() -> WebflowEmulator:
    return WebflowEmulator(WebflowSettings(rate_limit_per_minute=120))


@pytest.fixture
def sdk(emulator: WebflowEmulator) -> Iterator[Webflow]:
    with emulator.serve() as server:
        url = f"{server.base_url}/v2"
        environment = WebflowEnvironment(base=url, data_api=url, content_delivery_api=url)
        yield Webflow(access_token=emulator.settings.token, environment=environment)


def option(name: str, *values: str) -> SkuPropertyList:
    return SkuPropertyList(
        id=name.lower(),
        name=name,
        enum=[SkuPropertyListEnumItem(id=v.lower(), name=v, slug=v.lower()) for v in values],
    )


def sku_data(slug: str, price: float, **values: str) -> SkuFieldData:
    return SkuFieldData(
        name=slug,
        slug=slug,
        price=SkuFieldDataPrice(value=price, unit="USD", currency="USD"),
        sku_values=values or None,
        sku=slug.upper(),
    )


def test_sites_collections_and_settings(sdk: Webflow, emulator: WebflowEmulator) -> None:
    sites = sdk.sites.list().sites or []
    assert [s.id for s in sites] == [emulator.settings.site_id]
    site = sdk.sites.get(emulator.settings.site_id)
    domains = sdk.sites.get_custom_domain(emulator.settings.site_id).custom_domains or []
    assert site.custom_domains is not None and [d.id for d in site.custom_domains] == [d.id for d in domains]
    collections = sdk.collections.list(emulator.settings.site_id).collections or []
    assert [c.slug for c in collections] == ["product", "sku", "category"]
    detail = sdk.collections.get(emulator.collection_id("category"))
    assert [f.slug for f in detail.fields] == ["name", "slug", "parent-category"]
    assert sdk.ecommerce.get_settings(emulator.settings.site_id).default_currency == "USD"
    assert sdk.token.introspect().authorization is not None


def test_products_and_skus(sdk: Webflow, emulator: WebflowEmulator) -> None:
    site_id = emulator.settings.site_id
    created = sdk.products.create(
        site_id,
        publish_status="staging",
        product=ProductSkuCreateProduct(
            field_data=ProductFieldData(
                name="Colorful T-shirt",
                slug="colorful-t-shirt",
                sku_properties=[option("Color", "Red", "Blue"), option("Size", "Small", "Large")],
            )
        ),
        sku=ProductSkuCreateSku(field_data=sku_data("colorful-t-shirt-red-small", 2499)),
    )
    assert created.product is not None and created.product.id is not None
    product_id = created.product.id
    assert created.skus is not None and created.skus[0].field_data is not None
    assert created.skus[0].field_data.sku_values == {"color": "red", "size": "small"}

    more = sdk.products.create_sku(
        site_id,
        product_id,
        skus=[
            Sku(field_data=sku_data("colorful-t-shirt-blue-large", 2599, color="blue", size="large")),
            Sku(field_data=sku_data("colorful-t-shirt-red-large", 2599, color="red", size="large")),
        ],
    )
    assert [s.field_data.sku_values for s in more.skus if s.field_data] == [
        {"color": "blue", "size": "large"},
        {"color": "red", "size": "large"},
    ]
    target = more.skus[0]
    assert target.id is not None
    updated = sdk.products.update_sku(
        site_id, product_id, target.id, sku=Sku(field_data=sku_data("colorful-t-shirt-blue-large", 1999))
    )
    assert updated.field_data is not None and updated.field_data.price.value == 1999
    assert updated.field_data.sku_values == {"color": "blue", "size": "large"}

    listed = sdk.products.list(site_id, offset=0, limit=100)
    assert listed.pagination is not None and listed.pagination.total == 1
    assert listed.items is not None and listed.items[0].skus is not None and len(listed.items[0].skus) == 3
    got = sdk.products.get(site_id, product_id)
    assert got.product is not None and got.product.field_data is not None
    assert got.product.field_data.default_sku == created.skus[0].id
    # A product read back and sent unchanged (read-only fields included) is accepted as is.
    same = sdk.products.update(site_id, product_id, product=got.product, publish_status="live")
    assert same.field_data == got.product.field_data and same.last_published is not None

    with pytest.raises(BadRequestError) as refused:
        sdk.products.create_sku(
            site_id, product_id, skus=[Sku(field_data=sku_data("dup", 100, color="red", size="small"))]
        )
    assert refused.value.body["code"] == "validation_error"
    with pytest.raises(NotFoundError):
        sdk.products.get(site_id, "0" * 24)


def test_cms_items(sdk: Webflow, emulator: WebflowEmulator) -> None:
    collection_id = emulator.collection_id("category")
    item = sdk.collections.items.create_item(
        collection_id,
        request=CollectionItemPostSingle(
            field_data=CollectionItemPostSingleFieldData(name="Shirts", slug="shirts")
        ),
        skip_invalid_files=True,
    )
    assert item.id is not None and item.field_data.slug == "shirts"
    listed = sdk.collections.items.list_items(collection_id, limit=100)
    assert listed.items is not None and [i.id for i in listed.items] == [item.id]
    assert listed.pagination is not None and listed.pagination.total == 1
    assert isinstance(listed.items[0].field_data, CollectionItemFieldData)
    published = sdk.collections.items.publish_item(collection_id, request=ItemIDs(item_ids=[item.id]))
    assert published.published_item_ids == [item.id] and published.errors == []
    live = sdk.collections.items.list_items_live(collection_id)
    assert live.items is not None and [i.id for i in live.items] == [item.id]


def test_sdk_errors(emulator: WebflowEmulator) -> None:
    disabled = WebflowEmulator(WebflowSettings(ecommerce_enabled=False))
    with disabled.serve() as server:
        url = f"{server.base_url}/v2"
        environment = WebflowEnvironment(base=url, data_api=url, content_delivery_api=url)
        sdk = Webflow(access_token=disabled.settings.token, environment=environment)
        # The SDK would retry a 409 twice with a backoff; no retries keeps the test off the clock.
        with pytest.raises(ConflictError) as conflict:
            sdk.products.list(disabled.settings.site_id, request_options={"max_retries": 0})
        assert conflict.value.body["code"] == "ecommerce_not_enabled"
        anonymous = Webflow(access_token="wrong", environment=environment)
        with pytest.raises(SdkApiError) as refused:
            anonymous.sites.list()
        assert isinstance(refused.value, UnauthorizedError) or refused.value.status_code == 401
