"""Stock and prices of a Shopware shop for the ERP gateway, against the emulator over HTTP: reads by SKU and
of the whole shop (inheritance resolved), batched writes, per-record failures, VAT bases of prices."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector_pipelines.clients.shopware6 import Shopware6Client, shopware_id
from connector_pipelines.sandbox.server import EmulatorServer
from connector_pipelines.sandbox.shopware6 import RejectRule, Shopware6Emulator
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    SYSTEM_LANGUAGE_ID,
    TAX_7_ID,
    TAX_19_ID,
    USD_CURRENCY_ID,
)
from connector_pipelines.targets.shop_stock import (
    NO_VAT_RATE,
    UNKNOWN_CURRENCY,
    UNKNOWN_SKU,
    PriceUpdate,
    ShopPrice,
    StockUpdate,
    price_differs,
)
from connector_pipelines.targets.shopware6_stock import Shopware6Stock

SEARCH = "POST /api/search/{entity}"


def price(gross: float, net: float, currency: str = DEFAULT_CURRENCY_ID, **extra: Any) -> dict[str, Any]:
    return {"currencyId": currency, "gross": gross, "net": net, "linked": True, **extra}


def product(number: str, stock: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "id": shopware_id(number),
        "productNumber": number,
        "stock": stock,
        "taxId": TAX_19_ID,
        "name": number,
        "price": [price(11.9, 10.0)],
        **fields,
    }


def seed(emulator: Shopware6Emulator, *products: dict[str, Any]) -> None:
    emulator.writer.sync(
        {"products": {"entity": "product", "action": "upsert", "payload": list(products)}}, SYSTEM_LANGUAGE_ID
    )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Shopware6Emulator, EmulatorServer]]:
    emulator = Shopware6Emulator()
    with emulator.serve() as server:
        yield emulator, server


@pytest.fixture
def emulator(served: tuple[Shopware6Emulator, EmulatorServer]) -> Shopware6Emulator:
    served[0].reset()
    served[0].clear_reject_rules()
    served[0].reset_stats()
    return served[0]


@pytest.fixture
def client(
    served: tuple[Shopware6Emulator, EmulatorServer], emulator: Shopware6Emulator
) -> Iterator[Shopware6Client]:
    settings = emulator.settings
    with Shopware6Client(served[1].base_url, settings.client_id, settings.client_secret) as api:
        yield api


@pytest.fixture
def catalog(emulator: Shopware6Emulator) -> Shopware6Emulator:
    """A parent priced in EUR (with a list price) and USD, a variant inheriting it; a book at 7 %."""
    seed(
        emulator,
        product(
            "TEE",
            stock=5,
            price=[
                price(11.9, 10.0, listPrice={"gross": 14.9, "net": 12.52, "linked": True}),
                price(13.0, 10.92, USD_CURRENCY_ID),
            ],
            children=[{"id": shopware_id("TEE.S"), "productNumber": "TEE.S", "stock": 2}],
        ),
        product("BOOK", stock=0, taxId=TAX_7_ID, price=[price(10.7, 10.0)]),
    )
    return emulator


# -- reads --------------------------------------------------------------------------------------------------


def test_reads_stock_and_prices_of_the_skus_asked_for(
    catalog: Shopware6Emulator, client: Shopware6Client
) -> None:
    found = Shopware6Stock(client).current_stock_and_prices(["TEE.S", "BOOK", "NOPE"])

    assert set(found) == {"TEE.S", "BOOK"}
    assert found["TEE.S"].available == 2
    assert found["TEE.S"].price == ShopPrice(
        currency="EUR", gross=Decimal("11.9"), net=Decimal("10.0"), vat_rate=Decimal(19)
    )  # the variant's price and tax are its parent's
    assert found["BOOK"].available == 0 and found["BOOK"].price is not None
    assert found["BOOK"].price.vat_rate == Decimal(7)


def test_reads_prices_in_the_currency_asked_for(catalog: Shopware6Emulator, client: Shopware6Client) -> None:
    found = Shopware6Stock(client, currency="USD").current_stock_and_prices(["TEE", "BOOK"])

    assert found["TEE"].price == ShopPrice(
        currency="USD", gross=Decimal("13.0"), net=Decimal("10.92"), vat_rate=Decimal(19)
    )
    assert found["BOOK"].price is None  # no USD entry of its own


def test_reads_the_whole_shop_page_by_page(emulator: Shopware6Emulator, client: Shopware6Client) -> None:
    seed(emulator, *(product(f"SKU-{i:04}", stock=i) for i in range(620)))
    emulator.reset_stats()

    found = Shopware6Stock(client).current_stock_and_prices()

    assert len(found) == 620 and found["SKU-0619"].available == 619
    assert emulator.stats().calls[SEARCH] == 2 + 2  # two pages of products; currencies and taxes once


# -- stock --------------------------------------------------------------------------------------------------


def test_stock_is_written_in_few_requests(emulator: Shopware6Emulator, client: Shopware6Client) -> None:
    seed(emulator, *(product(f"SKU-{i:04}") for i in range(600)))
    emulator.reset_stats()

    report = Shopware6Stock(client).write_stock(
        StockUpdate(sku=f"SKU-{i:04}", available=i + 10) for i in range(600)
    )

    assert len(report.written) == 600 and not report.failed
    assert report.requests == 3 == emulator.stats().sync_requests  # 250 records per request
    assert emulator.products_by_number()["SKU-0599"]["stock"] == 609


def test_an_unknown_sku_fails_alone_without_a_write(
    catalog: Shopware6Emulator, client: Shopware6Client
) -> None:
    report = Shopware6Stock(client).write_stock(
        [StockUpdate(sku="TEE.S", available=9), StockUpdate(sku="GHOST", available=1)]
    )

    assert report.written == ["TEE.S"]
    assert [(f.sku, f.code) for f in report.failed] == [("GHOST", UNKNOWN_SKU)]
    assert catalog.products_by_number()["TEE.S"]["stock"] == 9


def test_a_record_shopware_refuses_fails_alone(catalog: Shopware6Emulator, client: Shopware6Client) -> None:
    catalog.add_reject_rule(RejectRule(match_field="id", match_value=shopware_id("BOOK"), field="stock"))

    report = Shopware6Stock(client).write_stock(
        [StockUpdate(sku="TEE", available=7), StockUpdate(sku="BOOK", available=3)]
    )

    assert report.written == ["TEE"]
    (failure,) = report.failed
    assert failure.sku == "BOOK" and failure.code == "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
    assert failure.error is not None and "stock" in failure.error
    assert catalog.products_by_number()["TEE"]["stock"] == 7
    assert catalog.products_by_number()["BOOK"]["stock"] == 0


# -- prices -------------------------------------------------------------------------------------------------


def test_a_gross_price_keeps_gross_and_derives_net_with_the_products_rate(
    catalog: Shopware6Emulator, client: Shopware6Client
) -> None:
    stock = Shopware6Stock(client)

    report = stock.write_prices(
        [
            PriceUpdate(sku="TEE", price=Decimal("23.80"), currency="EUR", includes_vat=True),
            PriceUpdate(sku="BOOK", price=Decimal("20.00"), currency="EUR", includes_vat=False),
        ]
    )

    assert sorted(report.written) == ["BOOK", "TEE"]
    products = catalog.products_by_number()
    tee = {p["currencyId"]: p for p in products["TEE"]["price"]}
    assert (tee[DEFAULT_CURRENCY_ID]["gross"], tee[DEFAULT_CURRENCY_ID]["net"]) == (23.8, 20.0)
    assert tee[DEFAULT_CURRENCY_ID]["listPrice"]["gross"] == 14.9  # kept
    assert (tee[USD_CURRENCY_ID]["gross"], tee[USD_CURRENCY_ID]["net"]) == (13.0, 10.92)  # untouched
    book = products["BOOK"]["price"][0]
    assert (book["gross"], book["net"]) == (21.4, 20.0)  # 7 %


def test_a_variant_inheriting_its_price_gets_its_own(
    catalog: Shopware6Emulator, client: Shopware6Client
) -> None:
    stock = Shopware6Stock(client)

    stock.write_prices([PriceUpdate(sku="TEE.S", price=Decimal("9.99"), currency="EUR", includes_vat=True)])

    found = stock.current_stock_and_prices(["TEE", "TEE.S"])
    assert found["TEE.S"].price is not None and found["TEE.S"].price.gross == Decimal("9.99")
    assert found["TEE.S"].price.net == Decimal("8.39")
    assert found["TEE"].price is not None and found["TEE"].price.gross == Decimal("11.9")
    update = PriceUpdate(sku="TEE.S", price=Decimal("8.39"), currency="EUR", includes_vat=False)
    assert not price_differs(found["TEE.S"], update)


def test_price_failures_are_per_record(catalog: Shopware6Emulator, client: Shopware6Client) -> None:
    with catalog.store.lock:
        catalog.store.remove(
            "tax", TAX_7_ID
        )  # BOOK's tax, gone behind the API's back: no rate to derive with

    report = Shopware6Stock(client).write_prices(
        [
            PriceUpdate(sku="TEE", price=Decimal(1), currency="JPY", includes_vat=True),
            PriceUpdate(sku="GHOST", price=Decimal(1), currency="EUR", includes_vat=True),
            PriceUpdate(sku="BOOK", price=Decimal("5.35"), currency="EUR", includes_vat=True),
            PriceUpdate(sku="TEE.S", price=Decimal("5.95"), currency="EUR", includes_vat=True),
        ]
    )

    assert report.written == ["TEE.S"]
    assert {(f.sku, f.code) for f in report.failed} == {
        ("TEE", UNKNOWN_CURRENCY),
        ("GHOST", UNKNOWN_SKU),
        ("BOOK", NO_VAT_RATE),
    }
    assert report.requests == 1
