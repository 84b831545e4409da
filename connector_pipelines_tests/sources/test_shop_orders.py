"""Shop order -> ERP order and customer (pure): VAT bases converted explicitly, discounts spread, shipping as
a line when the ERP has an item for it, item codes mapped, and orders that cannot go as record errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector_pipelines.errors import PayloadError
from connector_pipelines.sources.shop_orders import (
    ShopAddress,
    ShopCustomer,
    ShopOrder,
    ShopOrderLine,
    UntranslatableOrderError,
    convert_price,
    customer_input,
    order_input,
)

CREATED = datetime(2026, 7, 1, 10, tzinfo=UTC)
BILLING = ShopAddress(
    first_name="Erika",
    last_name="Mustermann",
    line1="Hauptstr. 1",
    line2="2. OG",
    city="Berlin",
    postal_code="10115",
    region="BE",
    country_code="DE",
    phone="+49 30 1",
)


def order(
    *lines: ShopOrderLine, gross: bool = True, shipping: str = "0", discount: str = "0", **customer: object
) -> ShopOrder:
    return ShopOrder(
        system="shopware6",
        id="abc",
        number="10001",
        created_at=CREATED,
        updated_at=CREATED,
        currency="EUR",
        prices_include_vat=gross,
        customer=ShopCustomer.model_validate(
            {"key": "shopware6:customer:1", "email": "e@example.com", "billing": BILLING, **customer}
        ),
        lines=lines or (line("TEE", "11.90", quantity=2),),
        shipping=Decimal(shipping),
        shipping_vat_rate=Decimal(19),
        discount=Decimal(discount),
        total=Decimal("100"),
        note="ring twice",
    )


def line(sku: str | None, price: str, *, quantity: int = 1, rate: int = 19) -> ShopOrderLine:
    return ShopOrderLine(
        sku=sku, name=f"{sku}", quantity=Decimal(quantity), unit_price=Decimal(price), vat_rate=Decimal(rate)
    )


def test_convert_price_between_bases() -> None:
    assert convert_price(Decimal("11.90"), Decimal(19), from_gross=True, to_gross=False) == Decimal(10)
    assert convert_price(Decimal(10), Decimal(19), from_gross=False, to_gross=True) == Decimal("11.90")
    assert convert_price(Decimal("3.33"), Decimal(19), from_gross=True, to_gross=True) == Decimal("3.33")


def test_the_shops_basis_is_kept_unless_the_erp_wants_another() -> None:
    erp = order_input(order(), "C-1", warehouse_code="01")

    assert erp.prices_include_vat is True
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.vat_rate) for ln in erp.lines] == [
        ("TEE", Decimal(2), Decimal("11.90"), Decimal(19))
    ]
    assert (erp.shop_order_number, erp.customer_code, erp.ordered_at) == ("10001", "C-1", CREATED)
    assert (erp.currency, erp.warehouse_code, erp.note) == ("EUR", "01", "ring twice")


@pytest.mark.parametrize(
    ("gross", "erp_gross", "price", "expected"),
    [
        (True, False, "11.90", "10.0000"),
        (True, False, "9.99", "8.3950"),
        (False, True, "10", "11.9000"),
        (False, False, "10", "10"),
    ],
)
def test_unit_prices_move_to_the_erps_vat_basis(
    gross: bool, erp_gross: bool, price: str, expected: str
) -> None:
    erp = order_input(order(line("TEE", price), gross=gross), "C-1", erp_prices_include_vat=erp_gross)

    assert erp.prices_include_vat is erp_gross
    assert erp.lines[0].unit_price == Decimal(expected)
    assert str(erp.lines[0].unit_price) == expected


def test_shipping_is_a_line_only_when_the_erp_has_an_item_for_it() -> None:
    shipped = order(shipping="5.95")

    without = order_input(shipped, "C-1")
    with_item = order_input(shipped, "C-1", shipping_item_code="KARGO", erp_prices_include_vat=False)

    assert [ln.sku for ln in without.lines] == ["TEE"]
    assert [(ln.sku, ln.unit_price, ln.vat_rate) for ln in with_item.lines[1:]] == [
        ("KARGO", Decimal("5.0000"), Decimal(19))
    ]


def test_an_order_level_discount_is_spread_over_the_lines_by_value() -> None:
    erp = order_input(order(line("A", "30"), line("B", "10", quantity=2), discount="10"), "C-1")

    assert [ln.unit_price for ln in erp.lines] == [Decimal("24.0000"), Decimal("8.0000")]
    assert sum(ln.unit_price * ln.quantity for ln in erp.lines) == Decimal(40)


def test_item_codes_map_shop_skus_to_erp_items() -> None:
    erp = order_input(order(line("TEE", "5"), line("MUG", "7")), "C-1", item_codes={"TEE": "T-100"})

    assert [ln.sku for ln in erp.lines] == ["T-100", "MUG"]


def test_orders_that_cannot_go_are_record_errors() -> None:
    with pytest.raises(UntranslatableOrderError) as no_sku:
        order_input(order(line("TEE", "5"), line(None, "3")), "C-1")
    with pytest.raises(UntranslatableOrderError) as too_much:
        order_input(order(line("TEE", "5"), discount="6"), "C-1")

    assert isinstance(no_sku.value, PayloadError)
    assert no_sku.value.order_number == "10001" and "line 2" in no_sku.value.reason
    assert "exceeds" in too_much.value.reason


def test_the_erp_customer_comes_from_the_shop_customer_and_billing_address() -> None:
    person = customer_input(order(first_name="Erika", last_name="Mustermann", tax_id="DE123"))
    firm = customer_input(order(company="Muster GmbH"))

    assert (person.key, person.name, person.email, person.tax_id) == (
        "shopware6:customer:1",
        "Erika Mustermann",
        "e@example.com",
        "DE123",
    )
    assert (person.address_line1, person.address_line2, person.city, person.postal_code) == (
        "Hauptstr. 1",
        "2. OG",
        "Berlin",
        "10115",
    )
    assert (person.district, person.country_code, person.phone) == ("BE", "DE", "+49 30 1")
    assert (firm.name, firm.company) == ("Muster GmbH", "Muster GmbH")
