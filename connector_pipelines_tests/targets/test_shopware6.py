"""Canonical -> Shopware payloads (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector_pipelines.catalog.models import Category, OptionChoice, Price, Product, Texts, Variant
from connector_pipelines.clients.shopware6 import shopware_id
from connector_pipelines.errors import PayloadError
from connector_pipelines.targets.shopware6 import (
    DEFAULT_CURRENCY_ID,
    ShopwareContext,
    category_payload,
    product_payload,
    stale_link_operations,
)

CTX = ShopwareContext(
    tenant="acme",
    lang="de",
    sales_channel_id="a" * 32,
    navigation_category_id="b" * 32,
    currency_ids={"EUR": DEFAULT_CURRENCY_ID, "CHF": "c" * 32},
    default_currency="EUR",
    tax_ids={Decimal("19"): "d" * 32},
)
REFS = {
    "category": {"plentymarkets:category:1"},
    "manufacturer": {"plentymarkets:manufacturer:2"},
    "unit": set(),
    "option_value": {"v:red", "v:blue", "v:s"},
}


def _variant(sku: str, options: tuple[str, ...] = (), price: str = "11.90") -> Variant:
    return Variant(
        key=f"plentymarkets:variation:{sku}",
        sku=sku,
        stock=3,
        prices=(
            Price(currency="EUR", gross=Decimal(price), net=Decimal("10.00"), list_gross=Decimal("14.90")),
            Price(currency="CHF", gross=Decimal("12.50"), net=None),
            Price(currency="USD", gross=Decimal("13.00"), net=Decimal("11.00")),
        ),
        options=tuple(OptionChoice(option_key=f"o:{v}", value_key=v) for v in options),
    )


def _product(*variants: Variant, categories: tuple[str, ...] = ("plentymarkets:category:1",)) -> Product:
    return Product(
        key="plentymarkets:item:7",
        texts={"de": Texts(name="Tisch", description="<p>Holz</p>")},
        manufacturer_key="plentymarkets:manufacturer:2",
        tax_rate=Decimal("19.00"),
        category_keys=categories,
        variants=variants,
    )


def test_single_product() -> None:
    payload = product_payload(_product(_variant("T-1")), CTX, REFS)
    parent = payload.parent
    assert parent["id"] == shopware_id("acme", "plentymarkets:item:7") and payload.children == []
    assert parent["productNumber"] == "T-1" and parent["taxId"] == "d" * 32 and parent["stock"] == 3
    assert parent["manufacturerId"] == shopware_id("acme", "plentymarkets:manufacturer:2")
    prices = {p["currencyId"]: p for p in parent["price"]}
    assert set(prices) == {DEFAULT_CURRENCY_ID, "c" * 32}, "currencies the shop lacks are left out"
    assert prices[DEFAULT_CURRENCY_ID]["listPrice"]["gross"] == 14.90
    assert prices["c" * 32]["net"] == 10.50, "net derived from the tax rate when the source has none"
    (visibility,) = parent["visibilities"]
    assert visibility["id"] == shopware_id(parent["id"], "a" * 32) and visibility["visibility"] == 30


def test_variants_with_configurator() -> None:
    payload = product_payload(
        _product(_variant("T-1", ("v:red", "v:s")), _variant("T-2", ("v:blue", "v:s"))), CTX, REFS
    )
    assert payload.parent["productNumber"] == "P-7" and payload.parent["stock"] == 6
    assert [c["productNumber"] for c in payload.children] == ["T-1", "T-2"]
    assert all(c["parentId"] == payload.parent["id"] for c in payload.children)
    option_ids = {s["optionId"] for s in payload.parent["configuratorSettings"]}
    assert option_ids == {shopware_id("acme", v) for v in ("v:red", "v:blue", "v:s")}
    assert set(payload.extra["children"]) == {c["id"] for c in payload.children}


@pytest.mark.parametrize(
    ("product", "message"),
    [
        (
            _product(Variant(key="k", sku="T-9", prices=(Price(currency="CHF", gross=Decimal(1)),))),
            "no price in the shop's default currency EUR",
        ),
        (
            _product(_variant("T-1", ("v:green",)), _variant("T-2", ("v:red",))),
            "option value\\(s\\) v:green not in Shopware yet",
        ),
        (_product(_variant("T-1")).model_copy(update={"tax_rate": Decimal("5")}), "no tax with rate 5%"),
        (
            _product(_variant("T-1")).model_copy(update={"unit_key": "plentymarkets:unit:9"}),
            "unit plentymarkets:unit:9 is not in Shopware yet",
        ),
    ],
)
def test_payload_errors_are_specific(product: Product, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        product_payload(product, CTX, REFS)


def test_unmapped_categories_are_left_out() -> None:
    payload = product_payload(
        _product(_variant("T-1"), categories=("plentymarkets:category:1", "plentymarkets:category:404")),
        CTX,
        REFS,
    )
    assert payload.parent["categories"] == [{"id": shopware_id("acme", "plentymarkets:category:1")}]


def test_stale_links_are_deleted_explicitly() -> None:
    before = product_payload(
        _product(_variant("T-1", ("v:red", "v:s")), _variant("T-2", ("v:blue", "v:s"))), CTX, REFS
    )
    after = product_payload(
        _product(_variant("T-1", ("v:blue", "v:s")), categories=()).model_copy(
            update={"variants": (_variant("T-1", ("v:blue", "v:s")), _variant("T-3", ("v:red", "v:s")))}
        ),
        CTX,
        REFS,
    )
    ops = {op.entity: op for op in stale_link_operations(str(after.parent["id"]), after, before.extra)}
    assert ops["product_category"].payload == [
        {"productId": after.parent["id"], "categoryId": shopware_id("acme", "plentymarkets:category:1")}
    ]
    assert ops["product"].payload == [{"id": shopware_id("acme", "plentymarkets:variation:T-2")}]
    t1 = shopware_id("acme", "plentymarkets:variation:T-1")
    assert ops["product_option"].payload == [{"productId": t1, "optionId": shopware_id("acme", "v:red")}]
    assert "product_configurator_setting" not in ops, "every option is still used"
    assert stale_link_operations(str(after.parent["id"]), after, None) == []


def test_category_under_navigation_root() -> None:
    root = category_payload(Category(key="plentymarkets:category:1", names={"de": "Möbel"}), CTX)
    child = category_payload(
        Category(
            key="plentymarkets:category:2", parent_key="plentymarkets:category:1", names={"en": "Chairs"}
        ),
        CTX,
    )
    assert root["parentId"] == "b" * 32 and root["name"] == "Möbel"
    assert child["parentId"] == root["id"] and child["name"] == "Chairs"
