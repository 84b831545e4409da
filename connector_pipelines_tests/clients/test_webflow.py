"""WebflowClient against the Webflow emulator: typed models, paging, chunking, typed one-line errors,
pacing by the rolling window (a shared fake clock: nothing sleeps), Retry-After, 409 not retried."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from pydantic import JsonValue

from connector_pipelines import errors
from connector_pipelines.clients.http import AuthError, RetrySettings
from connector_pipelines.clients.webflow import (
    EcommerceNotEnabledError,
    WebflowClient,
    WebflowNotFoundError,
    WebflowValidationError,
    _Pacer,
)
from connector_pipelines.clients.webflow_models import (
    ItemWrite,
    Price,
    ProductFieldData,
    SkuFieldData,
    SkuPropertyEnum,
    SkuPropertyList,
)
from connector_pipelines.sandbox.server import EmulatorServer, FaultConfig
from connector_pipelines.sandbox.webflow import WebflowEmulator, WebflowSettings


class FakeTime:
    """One clock for the emulator's windows and the client; the client's sleeps move it on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Setup:
    def __init__(self, emulator: WebflowEmulator, server: EmulatorServer, time: FakeTime) -> None:
        self.emulator = emulator
        self.server = server
        self.time = time
        self.site = emulator.settings.site_id

    def client(
        self,
        token: str | None = None,
        *,
        rate_limit_per_minute: int | None = None,
        retry: RetrySettings | None = None,
    ) -> WebflowClient:
        return WebflowClient(
            f"{self.server.base_url}/v2",
            token or self.emulator.settings.token,
            rate_limit_per_minute=rate_limit_per_minute,
            retry=retry,
            clock=self.time,
            sleep=self.time.sleep,
        )


Start = Callable[..., Setup]


@pytest.fixture
def start() -> Iterator[Start]:
    servers: list[EmulatorServer] = []

    def run(settings: WebflowSettings | None = None) -> Setup:
        time = FakeTime()
        emulator = WebflowEmulator(settings, clock=time)
        server = emulator.serve().start()
        servers.append(server)
        return Setup(emulator, server, time)

    yield run
    for server in servers:
        server.stop()


@pytest.fixture
def setup(start: Start) -> Setup:
    return start()


def tee(slug: str = "tee") -> ProductFieldData:
    return ProductFieldData(
        name="Tee",
        slug=slug,
        sku_properties=[
            SkuPropertyList(
                name="Color",
                enum=[SkuPropertyEnum(name="Red", slug="red"), SkuPropertyEnum(name="Blue", slug="blue")],
            ),
            SkuPropertyList(
                id="size",
                name="Size",
                enum=[
                    SkuPropertyEnum(id="s", name="S", slug="s"),
                    SkuPropertyEnum(id="l", name="L", slug="l"),
                ],
            ),
        ],
    )


def default_sku(slug: str = "tee-red-s") -> SkuFieldData:
    return SkuFieldData(name="Tee red S", slug=slug, price=Price(value=2499, unit="USD"), sku=slug.upper())


# --- products and SKUs -------------------------------------------------------------------------------------


def test_create_product_with_variants(setup: Setup) -> None:
    client = setup.client()
    created = client.create_product(setup.site, tee(), default_sku())
    color, size = created.product.field_data.sku_properties or []
    assert len(color.id or "") == 32 and size.id == "size"  # generated where none was given
    default = created.default_sku
    assert default is not None and default.field_data.sku_values == {color.id: color.enum[0].id, "size": "s"}
    assert default.field_data.price == Price(value=2499, unit="USD", currency="USD")

    red, blue = color.enum[0].id, color.enum[1].id
    assert red is not None and blue is not None and color.id is not None
    variants = [
        SkuFieldData(name=f"v{n}", slug=f"tee-{n}", price=Price(value=2599, unit="USD"), sku_values=values)
        for n, values in enumerate(
            [{color.id: blue, "size": "s"}, {color.id: blue, "size": "l"}, {color.id: red, "size": "l"}]
        )
    ]
    skus = client.create_skus(setup.site, created.product.id, variants, chunk_size=2)
    assert [s.field_data.slug for s in skus] == ["tee-0", "tee-1", "tee-2"]
    assert setup.emulator.stats().calls["POST /v2/sites/{site_id}/products/{product_id}/skus"] == 2

    cheaper = client.update_sku(
        setup.site, created.product.id, skus[0].id, SkuFieldData(price=Price(value=1999, unit="USD"))
    )
    assert cheaper.field_data.price is not None and cheaper.field_data.price.value == 1999
    assert cheaper.field_data.name == "v0"  # unchanged fields stay

    renamed = client.update_product(
        setup.site, created.product.id, ProductFieldData(name="Tee 2"), is_archived=True
    )
    assert renamed.field_data.name == "Tee 2" and renamed.is_archived
    assert renamed.field_data.sku_properties == created.product.field_data.sku_properties
    custom = client.update_product(setup.site, created.product.id, {"care-label": "30°C"})
    assert custom.field_data.model_extra == {"care-label": "30°C"}

    fetched = client.get_product(setup.site, created.product.id)
    assert fetched is not None and len(fetched.skus) == 4
    assert client.get_product(setup.site, "0" * 24) is None


def test_list_products_pages_by_100(setup: Setup) -> None:
    client = setup.client()
    for n in range(205):
        client.create_product(
            setup.site, ProductFieldData(name=f"P{n}", slug=f"p-{n}"), default_sku(f"p-{n}-sku")
        )
    listed = list(client.list_products(setup.site))
    assert [p.product.field_data.slug for p in listed] == [f"p-{n}" for n in range(205)]
    assert setup.emulator.stats().calls["GET /v2/sites/{site_id}/products"] == 3


def test_sku_validation_is_one_typed_line(setup: Setup) -> None:
    client = setup.client()
    created = client.create_product(setup.site, tee(), default_sku())
    bad = [SkuFieldData(name="x", slug="x", price=Price(value=1, unit="USD"), sku_values={"size": "xl"})]
    with pytest.raises(WebflowValidationError) as caught:
        client.create_skus(setup.site, created.product.id, bad)
    exc = caught.value
    assert isinstance(exc, errors.PermanentError) and exc.status == 400 and exc.code == "validation_error"
    message = str(exc)
    assert "\n" not in message
    assert message.startswith("webflow POST /sites/")
    assert "validation_error" in message and "skus[0].fieldData.sku-values" in message and "(+" in message
    with pytest.raises(WebflowNotFoundError):
        client.update_sku(setup.site, created.product.id, "0" * 24, SkuFieldData(name="y"))


def test_ecommerce_not_enabled_is_not_retried(start: Start) -> None:
    setup = start(WebflowSettings(ecommerce_enabled=False))
    client = setup.client()
    with pytest.raises(EcommerceNotEnabledError) as caught:
        client.ecommerce_settings(setup.site)
    assert isinstance(caught.value, errors.PermanentError)
    assert "ecommerce_not_enabled" in str(caught.value) and "remedy: enable Ecommerce" in str(caught.value)
    assert client.stats.calls == 1 and client.stats.retries == 0 and setup.time.sleeps == []
    assert setup.emulator.stats().calls == {"GET /v2/sites/{site_id}/ecommerce/settings": 1}


def test_token_never_in_errors(setup: Setup) -> None:
    secret = "wf-token-Very-Private-0123456789abcdef"
    client = setup.client(secret)
    with pytest.raises(AuthError) as caught:
        client.site(setup.site)
    assert caught.value.status == 401 and "not_authorized" in str(caught.value)
    assert secret not in str(caught.value) and secret.encode() not in caught.value.body
    assert secret not in repr(client) and secret not in str(vars(client))
    good = setup.client()
    with pytest.raises(WebflowValidationError) as invalid:
        good.get_product(setup.site, "not-an-id")
    assert setup.emulator.settings.token not in str(invalid.value)


# --- pacing ------------------------------------------------------------------------------------------------


def test_pacing_bursts_then_follows_the_window_without_429(start: Start) -> None:
    setup = start(WebflowSettings(rate_limit_per_minute=5))
    client = setup.client()  # no limit given: learned from X-RateLimit-Limit
    began = setup.time.now
    for _ in range(23):
        client.site(setup.site)
    stats = setup.emulator.stats()
    assert stats.too_many == 0 and stats.by_status == {"200": 23}
    status = client.rate_limit_status()
    assert (status.limit, status.too_many) == (5, 0)
    assert len(setup.time.sleeps) == 4  # a burst of 5, then one pause per window
    # As fast as the limit allows: call 6 waits for call 1's slot, ..., call 21 for call 16's.
    assert 4 * 60 <= setup.time.now - began < 4 * 60 + 1
    assert status.waits == 4


def test_configured_limit_paces_from_the_first_call(start: Start) -> None:
    setup = start(WebflowSettings(rate_limit_per_minute=3))
    client = setup.client(rate_limit_per_minute=3)
    for _ in range(7):
        client.site(setup.site)
    assert setup.emulator.stats().too_many == 0
    assert len(setup.time.sleeps) == 2


def test_remaining_zero_pauses_when_others_share_the_token(start: Start) -> None:
    setup = start(WebflowSettings(rate_limit_per_minute=5))
    other = httpx.Client(headers={"Authorization": f"Bearer {setup.emulator.settings.token}"})
    for _ in range(4):  # another process spends most of the budget
        assert other.get(f"{setup.server.base_url}/v2/sites").status_code == 200
    client = setup.client()
    client.site(setup.site)  # answered with X-RateLimit-Remaining: 0
    assert client.rate_limit_status().remaining == 0
    client.site(setup.site)
    assert setup.emulator.stats().too_many == 0
    assert setup.time.sleeps and setup.time.sleeps[0] >= 60


def test_retry_after_is_honoured_after_a_429_storm(setup: Setup) -> None:
    setup.emulator.faults.configure(FaultConfig(storm_429=3, retry_after_s=7))
    client = setup.client()
    assert client.site(setup.site).id == setup.site
    assert setup.time.sleeps == [7, 7, 7]
    assert client.rate_limit_status().too_many == 3 and client.stats.retries == 3


def test_429_storm_longer_than_the_retries_is_transient(setup: Setup) -> None:
    setup.emulator.faults.configure(FaultConfig(storm_429=10, retry_after_s=1))
    client = setup.client(retry=RetrySettings(max_attempts=3))
    with pytest.raises(errors.TransientError):
        client.site(setup.site)


def test_pacer_never_hands_out_more_slots_than_the_limit() -> None:
    pacer = _Pacer(7)
    results: list[float] = []
    lock = threading.Lock()

    def reserve() -> None:
        wait = pacer.reserve(0.0)
        with lock:
            results.append(wait)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(0.0) == 7
    for _ in range(7):
        pacer.answered(1.0, None)
    assert pacer.reserve(60.5) > 0  # answered at 1.0: the slots free at 61.0, not earlier
    assert pacer.reserve(61.0) == 0


# --- CMS, inventory, publishing ----------------------------------------------------------------------------


def test_cms_items_roundtrip(setup: Setup) -> None:
    client = setup.client()
    collections = {c.slug: c.id for c in client.collections(setup.site)}
    categories = collections["category"]
    assert [f.slug for f in client.collection(categories).fields] == ["name", "slug", "parent-category"]
    items = [{"name": f"C{n}", "slug": f"c-{n}"} for n in range(149)]
    created = client.create_items(
        categories, [*items, ItemWrite(field_data={"name": "Last", "slug": "last"}, is_draft=True)]
    )
    assert len(created) == 150 and created[-1].is_draft
    assert setup.emulator.stats().calls["POST /v2/collections/{collection_id}/items"] == 2
    live = client.create_items(categories, [{"name": "Live", "slug": "live"}], live=True)
    assert live[0].last_published is not None

    listed = list(client.list_items(categories))
    assert len(listed) == 151 and listed[0].field_data == {"name": "C0", "slug": "c-0"}
    updated = client.update_items(
        categories,
        [ItemWrite(id=i.id, field_data={"name": f"{i.field_data['name']}!"}) for i in listed[:101]],
    )
    assert len(updated) == 101 and updated[0].field_data["name"] == "C0!"
    with pytest.raises(ValueError, match="id"):
        client.update_items(categories, [ItemWrite(field_data={"name": "x"})])

    result = client.publish_items(categories, [created[0].id, created[-1].id, "0" * 24])
    assert result.published_item_ids == [created[0].id]
    assert len(result.errors) == 2

    client.delete_items(categories, [i.id for i in listed[:120]])
    assert len(setup.emulator.items("category")) == 31


def test_site_inventory_and_publishing(setup: Setup) -> None:
    client = setup.client()
    site = client.site(setup.site)
    assert site.custom_domains and client.sites()[0].id == site.id
    assert client.ecommerce_settings(setup.site).default_currency == "USD"
    created = client.create_product(setup.site, tee(), default_sku())
    sku_collection = setup.emulator.collection_id("sku")
    sku_id = created.skus[0].id
    assert client.update_inventory(sku_collection, sku_id, 12).quantity == 12
    assert client.inventory(sku_collection, sku_id).inventory_type == "finite"
    assert client.update_inventory(sku_collection, sku_id, None).inventory_type == "infinite"

    first = client.publish_site(setup.site, custom_domains=[site.custom_domains[0].id])
    assert first.publish_scope == "site" and first.custom_domains[0].last_published is not None
    client.publish_site(setup.site)  # the one-per-minute limit answers 429; the client waits it out
    assert setup.time.sleeps == [60]
    assert setup.emulator.stats().publishes == 2


def test_base_url_checks() -> None:
    with pytest.raises(ValueError, match="credentials"):
        WebflowClient("https://user:pw@api.webflow.com/v2", "t")
    with pytest.raises(ValueError, match="http"):
        WebflowClient("api.webflow.com/v2", "t")
    with pytest.raises(ValueError, match="positive"):
        WebflowClient("https://api.webflow.com/v2", "t", rate_limit_per_minute=0)


def test_wire_named_mappings_are_accepted_too(setup: Setup) -> None:
    client = setup.client()
    sizes: list[JsonValue] = [{"id": "s", "name": "S", "slug": "s"}, {"id": "l", "name": "L", "slug": "l"}]
    fields: dict[str, JsonValue] = {
        "name": "Mug",
        "slug": "mug",
        "sku-properties": [{"id": "size", "name": "Size", "enum": sizes}],
    }
    price: dict[str, JsonValue] = {"value": 900, "unit": "USD"}
    created = client.create_product(setup.site, fields, {"name": "Mug S", "slug": "mug-s", "price": price})
    product_id = created.product.id
    large: dict[str, JsonValue] = {
        "name": "Mug L",
        "slug": "mug-l",
        "price": price,
        "sku": "MUG-L",
        "sku-values": {"size": "l"},
    }
    [sku] = client.create_skus(setup.site, product_id, [large])
    assert sku.field_data.sku == "MUG-L" and sku.field_data.sku_values == {"size": "l"}
    renamed = client.update_sku(setup.site, product_id, sku.id, {"name": "Mug Large"})
    assert renamed.field_data.name == "Mug Large" and renamed.field_data.sku == "MUG-L"

    categories = setup.emulator.collection_id("category")
    [item] = client.create_items(
        categories, [{"fieldData": {"name": "Cups", "slug": "cups"}, "isDraft": True}]
    )
    assert item.is_draft and item.field_data == {"name": "Cups", "slug": "cups"}
    [changed] = client.update_items(
        categories, [{"id": item.id, "fieldData": {"name": "Mugs"}, "isDraft": False}]
    )
    assert changed.field_data["name"] == "Mugs" and not changed.is_draft
    with pytest.raises(ValueError, match="id"):
        client.update_items(categories, [{"fieldData": {"name": "x"}}])
