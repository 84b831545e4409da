"""Plenty -> canonical translation, on records shaped like the contract's captured fixtures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector_pipelines.catalog.hashing import content_hash
from connector_pipelines.catalog.models import Media, Price, PriceList, Product, Texts, Variant
from connector_pipelines.clients import plentymarkets_models as plenty
from connector_pipelines.sources.plentymarkets import (
    ProductContext,
    TranslationError,
    iso_language,
    plenty_language,
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
    assert variant.tier_prices == (
        Price(currency="EUR", gross=Decimal("50.00"), net=Decimal("42.02"), min_quantity=10),
    ), "the tier price becomes an advanced price; the dealer list has no customer class to name"


def test_tier_and_customer_class_prices_become_tier_prices() -> None:
    lists = {
        **CTX.price_lists,
        5: PriceList(key="plentymarkets:sales_price:5", kind="default", currencies=("EUR",), min_quantity=10),
        6: PriceList(key="plentymarkets:sales_price:6", kind="default", currencies=(), min_quantity=50),
        7: PriceList(
            key="plentymarkets:sales_price:7",
            kind="default",
            currencies=("EUR", "CHF"),
            all_customers=False,
            customer_classes=(2, 3),
        ),
        8: PriceList(
            key="plentymarkets:sales_price:8", kind="special_offer", currencies=("EUR",), min_quantity=10
        ),
        9: PriceList(key="plentymarkets:sales_price:9", kind="rrp", currencies=("EUR",), min_quantity=10),
        10: PriceList(
            key="plentymarkets:sales_price:10",
            kind="default",
            currencies=("EUR",),
            min_quantity=5,
            clients=(7,),
        ),
    }
    ctx = CTX.model_copy(update={"price_lists": lists, "plenty_id": 8})
    prices = [
        {"variationId": 1, "salesPriceId": 1, "price": "119.00"},
        {"variationId": 1, "salesPriceId": 5, "price": "110.00"},
        {"variationId": 1, "salesPriceId": 6, "price": "100.00"},
        {"variationId": 1, "salesPriceId": 7, "price": "90.00"},
        {"variationId": 1, "salesPriceId": 8, "price": "105.00"},
        {"variationId": 1, "salesPriceId": 9, "price": "10.00"},
        {"variationId": 1, "salesPriceId": 10, "price": "1.00"},
    ]
    (variant,) = to_product(_item(), [_variation(1, main=True, variationSalesPrices=prices)], ctx).variants
    assert [p.gross for p in variant.prices] == [Decimal("119.00")], "the shop price is the plain one"
    tiers = {(p.customer_group, p.currency, p.min_quantity): (p.gross, p.net) for p in variant.tier_prices}
    assert tiers == {
        # the lower of the default and special-offer lists from 10; an all-currency list is the default's
        (None, "EUR", 10): (Decimal("105.00"), Decimal("88.24")),
        (None, "EUR", 50): (Decimal("100.00"), Decimal("84.03")),
        ("2", "CHF", 1): (Decimal("90.00"), Decimal("75.63")),
        ("2", "EUR", 1): (Decimal("90.00"), Decimal("75.63")),
        ("3", "CHF", 1): (Decimal("90.00"), Decimal("75.63")),
        ("3", "EUR", 1): (Decimal("90.00"), Decimal("75.63")),
    }, "no rrp tiers, nothing of another client's list"


def test_customer_classes_of_a_sales_price() -> None:
    dealer = to_price_list(
        plenty.SalesPrice.model_validate(
            {"id": 7, "customerClasses": [{"customerClassId": 3}, {"customerClassId": 2}]}
        )
    )
    assert (dealer.all_customers, dealer.customer_classes) == (False, (2, 3))
    everyone = to_price_list(
        plenty.SalesPrice.model_validate(
            {"id": 1, "customerClasses": [{"customerClassId": -1}, {"customerClassId": 2}]}
        )
    )
    assert (everyone.all_customers, everyone.customer_classes) == (True, ())


def test_images_with_checksums_for_the_tenants_client_and_variant_images() -> None:
    def image(image_id: int, position: int, clients: tuple[int, ...] = ()) -> dict[str, Any]:
        return {
            "id": image_id,
            "url": f"https://cdn/item/images/102/full/{image_id}-sessel.jpg",
            "position": position,
            "md5Checksum": f"{image_id:032x}",
            "names": [{"lang": "de", "name": f"Bild {image_id}", "alternate": f"Alt {image_id}"}],
            "availabilities": [{"type": "mandant", "value": c} for c in clients],
        }

    item = _item(itemImages=[image(19, 1), image(18, 0, clients=(8, 9)), image(17, 2, clients=(7,))])
    variation = _variation(1000, main=True, images=[{"id": 17}, {"id": 18}])
    product = to_product(item, [variation], CTX.model_copy(update={"plenty_id": 8}))
    assert [(m.key, m.position, m.alt, m.checksum) for m in product.media] == [
        ("plentymarkets:image:18", 0, "Alt 18", f"{18:032x}"),
        ("plentymarkets:image:19", 1, "Alt 19", f"{19:032x}"),
    ], "ordered by position; image 17 belongs to another client"
    assert product.variants[0].media_keys == ("plentymarkets:image:18",)


def test_texts_are_keyed_by_iso_language_codes() -> None:
    item = _item(texts=[{"lang": "cz", "name1": "Křeslo"}, {"lang": "de", "name1": "Sessel"}])
    product = to_product(item, [_variation(1000, main=True)], CTX)
    assert set(product.texts) == {"cs", "de"}
    assert (iso_language("cz"), plenty_language("cs"), plenty_language("fr")) == ("cs", "cz", "fr")


def test_new_fields_leave_the_hashes_of_records_without_them_as_they_were() -> None:
    """Hashes taken with the models before tier prices, customer classes and image checksums existed."""
    product = Product(
        key="plentymarkets:item:102",
        texts={"de": Texts(name="Sessel", description="<p>Leder</p>"), "en": Texts(name="Armchair")},
        manufacturer_key="plentymarkets:manufacturer:2",
        category_keys=("plentymarkets:category:17",),
        media=(Media(key="plentymarkets:image:19", url="https://img/19.jpg", alt="alt", position=0),),
        variants=(
            Variant(
                key="plentymarkets:variation:1000",
                sku="S-1000",
                prices=(
                    Price(
                        currency="EUR",
                        gross=Decimal("119.00"),
                        net=Decimal("100.00"),
                        list_gross=Decimal("149.00"),
                    ),
                ),
                stock=7,
                media_keys=("plentymarkets:image:19",),
            ),
        ),
    )
    dealer = PriceList(
        key="plentymarkets:sales_price:7", kind="default", currencies=("EUR",), all_customers=False
    )
    assert content_hash(product) == "afb765250b3694ee8c24ca9fffaec8c203712cc04fb1d60f70581dde47c19bb6"
    assert content_hash(dealer) == "2dc9cef2f025437b7be83653c75a3ade7156c9acf4300607ee3b76c244b8f558"
    stored = Product.model_validate(product.model_dump(mode="json"))
    assert stored == product and content_hash(stored) == content_hash(product)
    tiered = product.variants[0].model_copy(
        update={"tier_prices": (Price(currency="EUR", gross=Decimal(1), customer_group="2"),)}
    )
    assert Variant.model_validate(tiered.model_dump(mode="json")) == tiered, "new fields round-trip"
