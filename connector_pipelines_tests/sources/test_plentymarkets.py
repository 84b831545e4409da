"""Plenty -> canonical translation, on records shaped like the contract's captured fixtures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector_pipelines.catalog.models import PriceList
from connector_pipelines.clients import plentymarkets_models as plenty
from connector_pipelines.sources.plentymarkets import (
    ProductContext,
    TranslationError,
    to_category,
    to_option,
    to_price_list,
    to_product,
    to_unit,
)

CTX = ProductContext(
    lang="de",
    price_lists={
        1: PriceList(key="plentymarkets:sales_price:1", kind="default", currencies=()),
        2: PriceList(key="plentymarkets:sales_price:2", kind="rrp", currencies=("EUR",)),
        3: PriceList(key="plentymarkets:sales_price:3", kind="default", currencies=("CHF",)),
    },
    vat_rates={0: Decimal("19.00"), 1: Decimal("7.00")},
    sales_warehouses=frozenset({1}),
    barcode_types={0: "GTIN_13", 5: "ASIN"},
)


def _item(**extra: Any) -> plenty.SyncItem:
    doc = {
        "id": 102,
        "manufacturerId": 2,
        "texts": [
            {"lang": "de", "name1": "Sessel", "description": "<p>Leder</p>", "shortDescription": "kurz"},
            {"lang": "en", "name1": "Armchair", "description": "leather"},
        ],
        **extra,
    }
    return plenty.SyncItem.model_validate(doc)


def _variation(
    vid: int, *, main: bool = False, attrs: list[tuple[int, int]] | None = None, **extra: Any
) -> plenty.SyncVariation:
    doc = {
        "id": vid,
        "itemId": 102,
        "isMain": main,
        "isActive": True,
        "number": f"S-{vid}",
        "position": vid,
        "vatId": 0,
        "weightG": 1500,
        "weightNetG": 0,
        "widthMM": 300,
        "variationSalesPrices": [
            {"variationId": vid, "salesPriceId": 1, "price": "119.00"},
            {"variationId": vid, "salesPriceId": 2, "price": "149.00"},
            {"variationId": vid, "salesPriceId": 3, "price": 129.5},
        ],
        "variationCategories": [{"variationId": vid, "categoryId": 17}],
        "variationAttributeValues": [
            {"attributeId": a, "valueId": v, "attributeValueSetId": 1} for a, v in (attrs or [])
        ],
        "variationBarcodes": [
            {"variationId": vid, "barcodeId": 5, "code": "B00X"},
            {"variationId": vid, "barcodeId": 0, "code": "4006381333931"},
        ],
        "unit": {"unitId": 1, "content": 1},
        "stock": [
            {"warehouseId": 1, "netStock": 7, "physicalStock": 9},
            {"warehouseId": 2, "netStock": 100, "physicalStock": 100},
        ],
        **extra,
    }
    return plenty.SyncVariation.model_validate(doc)


def test_single_variation_product() -> None:
    product = to_product(_item(), [_variation(1000, main=True)], CTX)
    assert product.key == "plentymarkets:item:102"
    assert product.texts["de"].name == "Sessel" and product.texts["en"].name == "Armchair"
    assert product.manufacturer_key == "plentymarkets:manufacturer:2"
    assert product.category_keys == ("plentymarkets:category:17",)
    assert product.tax_rate == Decimal("19.00")
    (variant,) = product.variants
    assert variant.sku == "S-1000" and variant.barcode == "4006381333931", "only GTIN/UPC/ISBN barcodes"
    assert variant.stock == 7, "sales warehouses only"
    assert variant.weight_kg == Decimal("1.5"), "weightG when weightNetG is 0"
    eur = next(p for p in variant.prices if p.currency == "EUR")
    assert (eur.gross, eur.net, eur.list_gross) == (Decimal("119.00"), Decimal("100.00"), Decimal("149.00"))
    chf = next(p for p in variant.prices if p.currency == "CHF")
    assert chf.gross == Decimal("129.50") and chf.list_gross is None


def test_variants_only_for_variations_with_attributes() -> None:
    variations = [
        _variation(1000, main=True),
        _variation(1001, attrs=[(2, 21), (1, 11)]),
        _variation(1002, attrs=[(1, 12), (2, 21)]),
    ]
    product = to_product(_item(), variations, CTX)
    assert [v.sku for v in product.variants] == ["S-1001", "S-1002"]
    assert [c.option_key for c in product.variants[0].options] == [
        "plentymarkets:attribute:1",
        "plentymarkets:attribute:2",
    ]
    assert product.variants[1].options[0].value_key == "plentymarkets:attribute_value:12"


def test_untranslatable_items_name_the_reason() -> None:
    with pytest.raises(TranslationError, match="item:102: item has no texts"):
        to_product(_item(texts=[]), [_variation(1000, main=True)], CTX)
    with pytest.raises(TranslationError, match="unknown vatId 9"):
        to_product(_item(), [_variation(1000, main=True, vatId=9)], CTX)
    with pytest.raises(TranslationError, match="none with attribute values"):
        to_product(_item(), [_variation(1000, main=True), _variation(1001)], CTX)
    with pytest.raises(TranslationError, match="variation:1000: variation has no number"):
        to_product(_item(), [_variation(1000, main=True, number="")], CTX)


def test_reference_translations() -> None:
    category = to_category(
        plenty.Category.model_validate(
            {
                "id": 16,
                "parentCategoryId": 3,
                "right": "all",
                "details": [
                    {"lang": "de", "name": "Wohnzimmer", "position": "4"},
                    {"lang": "en", "name": "Living"},
                ],
            }
        )
    )
    assert category.parent_key == "plentymarkets:category:3" and category.position == 4
    assert category.names == {"de": "Wohnzimmer", "en": "Living"}

    option = to_option(
        plenty.Attribute.model_validate(
            {
                "id": 1,
                "backendName": "Couch color",
                "attributeNames": [{"lang": "de", "name": "Farbe"}],
                "values": [
                    {
                        "id": 2,
                        "backendName": "red",
                        "position": 2,
                        "valueNames": [{"lang": "de", "name": "Rot", "valueId": "2"}],
                    },
                    {"id": 1, "backendName": "black", "position": 1, "valueNames": []},
                ],
            }
        )
    )
    assert option.names == {"de": "Farbe"}
    assert [v.names for v in option.values] == [{"de": "black"}, {"de": "Rot"}]

    price_list = to_price_list(
        plenty.SalesPrice.model_validate(
            {"id": 4, "type": "specialOffer", "currencies": [{"currency": "-1"}]}
        )
    )
    assert price_list.kind == "special_offer" and price_list.currencies == ()

    unit = to_unit(
        plenty.Unit.model_validate(
            {"id": 1, "unitOfMeasurement": "C62", "names": [{"lang": "de", "name": "Stück"}]}
        )
    )
    assert unit.code == "C62" and unit.names == {"de": "Stück"}


def test_special_offers_replace_and_tier_dealer_and_foreign_client_prices_are_ignored() -> None:
    lists = {
        **CTX.price_lists,
        3: PriceList(key="plentymarkets:sales_price:3", kind="default", currencies=("CHF",), clients=(7,)),
        4: PriceList(key="plentymarkets:sales_price:4", kind="special_offer", currencies=("EUR",)),
        5: PriceList(key="plentymarkets:sales_price:5", kind="default", currencies=("EUR",), min_quantity=10),
        6: PriceList(
            key="plentymarkets:sales_price:6", kind="default", currencies=("EUR",), all_customers=False
        ),
    }
    ctx = CTX.model_copy(update={"price_lists": lists, "plenty_id": 8})
    prices = [
        {"variationId": 1, "salesPriceId": 1, "price": "119.00"},
        {"variationId": 1, "salesPriceId": 2, "price": "149.00"},
        {"variationId": 1, "salesPriceId": 3, "price": "129.00"},
        {"variationId": 1, "salesPriceId": 4, "price": "99.00"},
        {"variationId": 1, "salesPriceId": 5, "price": "50.00"},
        {"variationId": 1, "salesPriceId": 6, "price": "60.00"},
    ]
    (variant,) = to_product(_item(), [_variation(1, main=True, variationSalesPrices=prices)], ctx).variants
    assert [p.currency for p in variant.prices] == ["EUR"], "CHF belongs to another client"
    (eur,) = variant.prices
    assert (eur.gross, eur.list_gross) == (Decimal("99.00"), Decimal("149.00"))
