"""Stock and prices of a Shopify shop for the ERP gateway, against the emulator over HTTP: reads by SKU and of
the whole shop at the tenant's location, and the documents the gateway sends, validated against the vendored
2026-07 schema."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from graphql import parse, validate

from connector_pipelines.clients import shopify_orders
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.clients.shopify_orders import variant_stock_bulk_query
from connector_pipelines.errors import PayloadError
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopify import ShopifyEmulator, ShopifySettings
from connector_pipelines.schemas import shopify_schema
from connector_pipelines.targets.shop_stock import (
    NO_VAT_RATE,
    UNKNOWN_CURRENCY,
    UNKNOWN_SKU,
    PriceUpdate,
    ShopPrice,
    StockUpdate,
    price_differs,
)
from connector_pipelines.targets.shopify_stock import ShopifyStock

TOKEN = "shpat_sandbox_token"
DOCUMENTS = [
    "SHOP_TAXES",
    "VARIANT_STOCK",
    "BULK_QUERY",
    "INVENTORY_SET_QUANTITIES",
    "VARIANTS_BULK_UPDATE",
    "VARIANTS_BULK_UPDATE_LINE",
    "PAID_ORDERS",
    "ORDER_LINE_ITEMS",
    "ORDERS_BY_NAME",
    "FULFILLMENT_CREATE",
]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_documents_validate_against_the_schema(name: str) -> None:
    errors = validate(shopify_schema(), parse(getattr(shopify_orders, name)))

    assert [e.message for e in errors] == []


@pytest.fixture
def emulator() -> ShopifyEmulator:
    shop = ShopifyEmulator(ShopifySettings(location_names={1: "Main", 2: "Outlet"}))
    shop.seed(products=130, variants=2, seed=5)
    return shop


@pytest.fixture
def client(emulator: ShopifyEmulator) -> Iterator[ShopifyClient]:
    server: EmulatorServer = emulator.serve()
    with ShopifyClient(server.base_url, TOKEN) as api:
        yield api
    server.stop()


def test_reads_stock_and_prices_of_the_skus_asked_for(client: ShopifyClient) -> None:
    found = ShopifyStock(client).current_stock_and_prices(["SKU-000001-01", "sku-000001-02", "NOPE"])

    assert set(found) == {"SKU-000001-01"}  # SKUs are exact; the search is not
    listing = found["SKU-000001-01"]
    assert listing.available is not None and listing.available >= 0
    assert listing.price is not None
    assert listing.price.currency == "EUR" and listing.price.gross is None  # the shop keeps net prices
    assert listing.price.net is not None and listing.price.net > 0


def test_the_bulk_exports_inner_query_validates() -> None:
    document = variant_stock_bulk_query("gid://shopify/Location/1")

    assert [e.message for e in validate(shopify_schema(), parse(document))] == []


def test_reads_the_whole_shop_by_one_bulk_export(client: ShopifyClient) -> None:
    calls = client.stats.calls

    found = ShopifyStock(client, bulk_poll_interval_s=0.01).current_stock_and_prices()

    assert len(found) == 260 and found["SKU-000130-02"].available is not None
    assert client.stats.calls - calls < 10  # shop, location, start, a few polls, the download; no pages


def test_a_failed_export_falls_back_to_pages(emulator: ShopifyEmulator, client: ShopifyClient) -> None:
    emulator.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=10)

    found = ShopifyStock(client, bulk_poll_interval_s=0.01).current_stock_and_prices()

    assert len(found) == 260


def test_many_skus_are_read_by_the_export_too(client: ShopifyClient) -> None:
    skus = ["SKU-000001-01", "SKU-000090-02", "NOPE"]

    found = ShopifyStock(client, bulk_read_threshold=2, bulk_poll_interval_s=0.01).current_stock_and_prices(
        skus
    )

    assert set(found) == {"SKU-000001-01", "SKU-000090-02"}


def test_reads_stock_at_the_location_named(emulator: ShopifyEmulator, client: ShopifyClient) -> None:
    main = ShopifyStock(client).current_stock_and_prices(["SKU-000002-01"])
    outlet = ShopifyStock(client, location="outlet").current_stock_and_prices(["SKU-000002-01"])
    by_id = ShopifyStock(client, location="2").current_stock_and_prices(["SKU-000002-01"])

    assert main["SKU-000002-01"].available is not None
    assert outlet["SKU-000002-01"].available is None  # not stocked there
    assert by_id == outlet


def test_an_unknown_location_is_a_clear_error(client: ShopifyClient) -> None:
    with pytest.raises(PayloadError, match="no active location named 'Nowhere'"):
        ShopifyStock(client, location="Nowhere").current_stock_and_prices(["SKU-000001-01"])


def test_an_erp_price_is_compared_on_the_shops_basis(client: ShopifyClient) -> None:
    listing = ShopifyStock(client).current_stock_and_prices(["SKU-000003-01"])["SKU-000003-01"]
    assert listing.price is not None and listing.price.net is not None
    net = listing.price.net

    assert not price_differs(
        listing, PriceUpdate(sku="SKU-000003-01", price=net, currency="EUR", includes_vat=False)
    )
    assert price_differs(
        listing, PriceUpdate(sku="SKU-000003-01", price=net, currency="EUR", includes_vat=True)
    )
    assert ShopPrice(currency="EUR", net=net).on_basis(True) is None  # no rate: unknown, so written
    assert Decimal(net) == net


# -- writes -------------------------------------------------------------------------------------------------

AVAILABLE = """
query TestAvailable($query: String!, $location: ID!) {
  productVariants(first: 50, query: $query) {
    nodes {
      sku price
      inventoryItem {
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { quantity } }
      }
    }
  }
}"""
PRODUCT_OF = """
query TestProduct($query: String!) {
  productVariants(first: 1, query: $query) { nodes { product { id } } }
}"""


def shop_state(client: ShopifyClient, skus: list[str]) -> dict[str, tuple[int | None, str]]:
    """SKU -> (available at the first location, price), read straight from the shop."""
    query = " OR ".join(f'sku:"{s}"' for s in skus)
    data = client.graphql(AVAILABLE, {"query": query, "location": "gid://shopify/Location/1"})
    out = {}
    for node in data["productVariants"]["nodes"]:
        level = node["inventoryItem"]["inventoryLevel"]
        available = next((q["quantity"] for q in level["quantities"]), None) if level else None
        out[node["sku"]] = (available, node["price"])
    return out


def test_stock_is_set_in_calls_of_at_most_250(client: ShopifyClient) -> None:
    skus = [f"SKU-{p:06d}-{v:02d}" for p in range(1, 131) for v in (1, 2)]
    stock = ShopifyStock(client)

    report = stock.write_stock(StockUpdate(sku=sku, available=i % 7) for i, sku in enumerate(skus))

    assert len(report.written) == 260 and not report.failed
    assert report.requests == 2
    assert {sku: quantity for sku, (quantity, _) in shop_state(client, skus[:3]).items()} == {
        skus[0]: 0,
        skus[1]: 1,
        skus[2]: 2,
    }
    assert stock.current_stock_and_prices([skus[-1]])[skus[-1]].available == 259 % 7


def test_an_unknown_sku_fails_alone(client: ShopifyClient) -> None:
    report = ShopifyStock(client).write_stock(
        [StockUpdate(sku="SKU-000001-01", available=3), StockUpdate(sku="GHOST", available=1)]
    )

    assert report.written == ["SKU-000001-01"]
    assert [(f.sku, f.code) for f in report.failed] == [("GHOST", UNKNOWN_SKU)]
    assert shop_state(client, ["SKU-000001-01"])["SKU-000001-01"][0] == 3


def test_prices_go_per_product_on_the_shops_basis(client: ShopifyClient) -> None:
    stock = ShopifyStock(client)

    report = stock.write_prices(
        [
            PriceUpdate(sku="SKU-000001-01", price=Decimal("10.00"), currency="EUR", includes_vat=False),
            PriceUpdate(
                sku="SKU-000001-02",
                price=Decimal("11.90"),
                currency="EUR",
                includes_vat=True,
                vat_rate=Decimal(19),
            ),
            PriceUpdate(sku="SKU-000002-01", price=Decimal("11.90"), currency="EUR", includes_vat=True),
            PriceUpdate(sku="SKU-000002-02", price=Decimal("5"), currency="USD", includes_vat=False),
        ]
    )

    assert report.written == ["SKU-000001-01", "SKU-000001-02"]
    assert {(f.sku, f.code) for f in report.failed} == {
        ("SKU-000002-01", NO_VAT_RATE),
        ("SKU-000002-02", UNKNOWN_CURRENCY),
    }
    assert report.requests == 1  # both variants of one product in one call
    found = shop_state(client, ["SKU-000001-01", "SKU-000001-02"])
    assert {sku: Decimal(price) for sku, (_, price) in found.items()} == {
        "SKU-000001-01": Decimal(10),
        "SKU-000001-02": Decimal(10),
    }


def test_many_products_go_as_one_bulk_mutation(emulator: ShopifyEmulator, client: ShopifyClient) -> None:
    skus = [f"SKU-{p:06d}-01" for p in range(1, 6)]
    stock = ShopifyStock(client, bulk_threshold=2, bulk_poll_interval_s=0.01)
    stock.current_stock_and_prices(skus)  # the variants known: the write itself makes no read
    emulator.fail_bulk_lines([1])  # the line of the second product fails as a whole

    report = stock.write_prices(
        PriceUpdate(sku=sku, price=Decimal(f"{i + 1}.50"), currency="EUR", includes_vat=False)
        for i, sku in enumerate(skus)
    )

    assert report.requests == 1  # the bulk mutation
    assert sorted(report.written) == [s for s in skus if s != "SKU-000002-01"]
    assert [(f.sku, f.code) for f in report.failed] == [("SKU-000002-01", "REJECTED")]
    expected = {sku: Decimal(f"{i + 1}.50") for i, sku in enumerate(skus) if sku != "SKU-000002-01"}
    found = shop_state(client, list(expected))
    assert {sku: Decimal(price) for sku, (_, price) in found.items()} == expected


def test_many_products_fall_back_to_direct_calls_when_the_bulk_operation_fails(
    emulator: ShopifyEmulator, client: ShopifyClient
) -> None:
    skus = [f"SKU-{p:06d}-01" for p in range(1, 6)]
    stock = ShopifyStock(client, bulk_threshold=2, bulk_poll_interval_s=0.01)
    emulator.fail_next_bulk_operation("INTERNAL_SERVER_ERROR", after_lines=0)

    report = stock.write_prices(
        PriceUpdate(sku=sku, price=Decimal(f"{i + 1}.50"), currency="EUR", includes_vat=False)
        for i, sku in enumerate(skus)
    )

    # the failed bulk operation, then one productVariantsBulkUpdate a product
    assert sorted(report.written) == skus and report.requests == 6
    assert {sku: Decimal(price) for sku, (_, price) in shop_state(client, skus).items()} == {
        sku: Decimal(f"{i + 1}.50") for i, sku in enumerate(skus)
    }


def test_a_product_gone_since_the_read_fails_its_skus_only(
    emulator: ShopifyEmulator, client: ShopifyClient
) -> None:
    stock = ShopifyStock(client)
    listing = stock.current_stock_and_prices(["SKU-000001-01", "SKU-000002-01"])
    assert set(listing) == {"SKU-000001-01", "SKU-000002-01"}
    gone = client.graphql(PRODUCT_OF, {"query": "sku:SKU-000002-01"})["productVariants"]["nodes"][0][
        "product"
    ]["id"]
    emulator.delete_product(gone)

    report = stock.write_prices(
        [
            PriceUpdate(sku="SKU-000001-01", price=Decimal(7), currency="EUR", includes_vat=False),
            PriceUpdate(sku="SKU-000002-01", price=Decimal(7), currency="EUR", includes_vat=False),
        ]
    )

    assert report.written == ["SKU-000001-01"]
    assert [f.sku for f in report.failed] == ["SKU-000002-01"]


def test_quantities_the_shop_refuses_fail_alone(client: ShopifyClient) -> None:
    report = ShopifyStock(client, location="Outlet").write_stock(
        [StockUpdate(sku="SKU-000001-01", available=3), StockUpdate(sku="SKU-000001-02", available=4)]
    )

    assert report.written == []
    assert {(f.sku, f.code) for f in report.failed} == {
        ("SKU-000001-01", "ITEM_NOT_STOCKED_AT_LOCATION"),
        ("SKU-000001-02", "ITEM_NOT_STOCKED_AT_LOCATION"),
    }
    assert report.requests == 1
