"""Canonical products -> Webflow field data (pure): minor units, the first variant's values first in every
option (so Webflow's default SKU is a real variant), options merged without losing what SKUs use, and what
Webflow cannot take named."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector_pipelines.catalog.models import Media, OptionChoice, Price, Product, Texts, Variant
from connector_pipelines.errors import PayloadError
from connector_pipelines.targets.webflow import (
    WebflowContext,
    desired,
    merged_properties,
    minor_units,
    sku_values,
    slugify,
)
from connector_pipelines.tenants.systems import WebflowSettings

SETTINGS = WebflowSettings(site_id="a" * 24)
CTX = WebflowContext("a" * 24, "USD", {"plytix:category:c1": "item-1"}, "skus", SETTINGS)


def choice(option: str, value: str) -> OptionChoice:
    return OptionChoice(
        option_key=option, value_key=f"{option}:{value}", option_name=option, value_name=value
    )


def variant(sku: str, price: str, *choices: OptionChoice, compare: str | None = None) -> Variant:
    amount = Price(currency="USD", gross=Decimal(price), list_gross=Decimal(compare) if compare else None)
    return Variant(key=f"v:{sku}", sku=sku, prices=(amount,), options=choices)


def product(*variants: Variant) -> Product:
    return Product(
        key="plytix:product:p1",
        texts={"en": Texts(name="Colorful T-shirt", description="<p>Soft</p>")},
        category_keys=("plytix:category:c1", "plytix:category:unmapped"),
        media=(Media(key="m", url="https://files.example/1.jpg"),),
        variants=variants,
    )


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("24.99", "USD", 2499), ("1500", "JPY", 1500), ("1.234", "KWD", 1234), ("0.005", "EUR", 1)],
)
def test_prices_are_in_the_currencys_minor_unit(amount: str, currency: str, minor: int) -> None:
    assert minor_units(Decimal(amount), currency) == minor


def test_the_first_variants_values_come_first_so_the_default_sku_is_that_variant() -> None:
    want = desired(
        product(
            variant("TEE-1", "24.99", choice("Color", "Red"), choice("Size", "L"), compare="29.99"),
            variant("TEE-2", "24.99", choice("Color", "Blue"), choice("Size", "S")),
            variant("TEE-3", "26", choice("Color", "Red"), choice("Size", "S")),
        ),
        CTX,
    )
    assert want.properties == [("Color", ["Red", "Blue"]), ("Size", ["L", "S"])]
    assert want.default_sku == "TEE-1"
    assert want.fields["category"] == ["item-1"]
    assert want.fields["name"] == "Colorful T-shirt" and want.fields["slug"].startswith("colorful-t-shirt-")
    first = want.skus["TEE-1"]
    assert first["price"] == {"value": 2499, "unit": "USD", "currency": "USD"}
    assert first["compare-at-price"]["value"] == 2999
    assert (
        first["main-image"] == "https://files.example/1.jpg" and first["name"] == "Colorful T-shirt - Red L"
    )
    assert want.values["TEE-2"] == {"Color": "Blue", "Size": "S"}
    properties = merged_properties([], want.properties)
    assert [e["name"] for e in properties[0]["enum"]] == ["Red", "Blue"]
    assert sku_values(properties, want.values["TEE-2"]) == {"color": "blue", "size": "s"}


def test_what_webflow_cannot_take_is_a_payload_error_naming_it() -> None:
    four = [choice(name, "x") for name in ("A", "B", "C", "D")]
    with pytest.raises(PayloadError, match=r"4 options \(A, B, C, D\); Webflow allows 3"):
        desired(product(variant("X", "1", *four)), CTX)
    many = [variant(f"X{i}", "1", choice("Color", f"c{i}")) for i in range(101)]
    with pytest.raises(PayloadError, match="option 'Color' has 101 values; Webflow allows 100"):
        desired(product(*many), CTX)
    euros = Variant(key="v", sku="E1", prices=(Price(currency="EUR", gross=Decimal(1)),))
    with pytest.raises(PayloadError, match="SKU E1: price in EUR, the store sells in USD"):
        desired(product(euros), CTX)
    with pytest.raises(PayloadError, match="SKU N1 has no price"):
        desired(product(Variant(key="v", sku="N1")), CTX)


def test_a_new_value_is_appended_and_held_values_and_ids_are_kept() -> None:
    held = [
        {
            "id": "31b77fa66fa376c2c0abb458d5be39fb",
            "name": "Color",
            "enum": [
                {"id": "e1", "name": "Red", "slug": "red"},
                {"id": "e2", "name": "Blue", "slug": "blue"},
            ],
        }
    ]
    merged = merged_properties(held, [("Color", ["Blue", "Green"])])
    assert [(e["id"], e["name"]) for e in merged[0]["enum"]] == [
        ("e1", "Red"),
        ("e2", "Blue"),
        ("green", "Green"),
    ]
    assert merged[0]["id"] == "31b77fa66fa376c2c0abb458d5be39fb"
    assert merged_properties(held, [("Color", ["Red"])]) == held
    with pytest.raises(PayloadError, match=r"options changed from \(Color\) to \(Size\)"):
        merged_properties(held, [("Size", ["M"])])


def test_enum_ids_stay_distinct_when_names_slug_alike() -> None:
    (prop,) = merged_properties([], [("Size", ["XL", "xl", "X L"])])
    assert [e["id"] for e in prop["enum"]] == ["xl", "xl-2", "x-l"]
    assert slugify("Ärmel & Kragen!") == "armel-kragen" and slugify("!!!") == "item"
