"""Shop prices on a VAT basis and whether an ERP price differs (pure)."""

from __future__ import annotations

from decimal import Decimal

from connector_pipelines.targets.shop_stock import (
    PriceUpdate,
    RecordResult,
    ShopListing,
    ShopPrice,
    WriteReport,
    price_differs,
)

BOTH = ShopPrice(currency="EUR", gross=Decimal("11.90"), net=Decimal("10.00"), vat_rate=Decimal(19))
GROSS_ONLY = ShopPrice(currency="EUR", gross=Decimal("11.90"))
GROSS_WITH_RATE = ShopPrice(currency="EUR", gross=Decimal("11.90"), vat_rate=Decimal(19))


def update(price: str, *, gross: bool = True, currency: str = "EUR") -> PriceUpdate:
    return PriceUpdate(sku="A", price=Decimal(price), currency=currency, includes_vat=gross)


def test_a_price_on_a_basis_is_stored_or_converted_with_the_rate() -> None:
    assert BOTH.on_basis(True) == Decimal("11.90") and BOTH.on_basis(False) == Decimal("10.00")
    assert GROSS_WITH_RATE.on_basis(False) == Decimal("10.00")
    assert GROSS_ONLY.on_basis(True) == Decimal("11.90")
    assert GROSS_ONLY.on_basis(False) is None


def test_prices_are_compared_in_cents_on_the_updates_basis() -> None:
    listing = ShopListing(sku="A", available=1, price=BOTH)

    assert not price_differs(listing, update("11.9"))
    assert not price_differs(listing, update("10.001", gross=False))
    assert price_differs(listing, update("11.91"))
    assert price_differs(listing, update("11.90", currency="USD"))


def test_a_price_the_shop_cannot_state_counts_as_different() -> None:
    assert price_differs(None, update("1"))
    assert price_differs(ShopListing(sku="A", available=1), update("1"))
    assert price_differs(ShopListing(sku="A", price=GROSS_ONLY), update("10.00", gross=False))


def test_a_report_splits_written_and_failed_records() -> None:
    report = WriteReport(
        results=[RecordResult.written("A"), RecordResult.failed("B", "UNKNOWN_SKU", "no such SKU")],
        requests=1,
    )

    assert report.written == ["A"]
    assert [(f.sku, f.code) for f in report.failed] == [("B", "UNKNOWN_SKU")]
