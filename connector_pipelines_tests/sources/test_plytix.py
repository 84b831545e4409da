"""Plytix rows -> canonical products: options from the family's variant-level attributes, the field mapping,
and the variants that cannot go (no axis value, a combination taken, no SKU or price) named with their
product and attribute."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector_pipelines.sources.erp_mapping.config import FieldRule
from connector_pipelines.sources.plytix import (
    AttributeInfo,
    FamilyInfo,
    PlytixConfig,
    PlytixTranslator,
    category_key,
    option_key,
    product_key,
    variant_key,
)
from connector_pipelines.tenants.systems import PlytixMapping

APPAREL = "f" * 24
CONFIG = PlytixConfig.of(
    [
        AttributeInfo(key=option_key("color"), label="color", name="Color"),
        AttributeInfo(key=option_key("size"), label="size", name="Size"),
    ],
    [FamilyInfo(key=f"plytix:family:{APPAREL}", name="Apparel", variant_attributes=("color", "size"))],
)


def translator(mapping: PlytixMapping | None = None, config: PlytixConfig = CONFIG) -> PlytixTranslator:
    return PlytixTranslator(mapping or PlytixMapping(), config, currency="EUR", language="en")


def parent(**extra: Any) -> dict[str, Any]:
    return {
        "id": "p1",
        "sku": "P1",
        "label": "Shirt",
        "attributes": {"description": "<p>Soft</p>"},
        "categories": [{"id": "c1", "name": "Tops"}],
        "assets": [{"id": "a1", "url": "https://files.example/p1.jpg"}],
        "num_variations": 2,
        **extra,
    }


def variant(ident: str, sku: str, **attributes: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "sku": sku,
        "product_family_id": APPAREL,
        "parent_id": "p1",
        "attributes": {"description": "<p>Soft</p>", "price": 19.9, **attributes},
    }


def test_a_parent_with_variants_becomes_one_product_with_the_family_axes_as_options() -> None:
    rows = [variant("v2", "P1-02", color="Red", size="L"), variant("v1", "P1-01", color="Blue", size="M")]
    product, problems = translator().product(parent(), rows)
    assert not problems
    assert product is not None
    assert product.key == product_key("p1")
    assert product.texts["en"].name == "Shirt" and product.texts["en"].description == "<p>Soft</p>"
    assert product.category_keys == (category_key("c1"),)
    assert [m.url for m in product.media] == ["https://files.example/p1.jpg"]
    # Sorted by SKU: the first variant (Webflow's default SKU) does not move when Plytix reorders them.
    assert [v.sku for v in product.variants] == ["P1-01", "P1-02"]
    first = product.variants[0]
    assert first.key == variant_key("v1")
    assert [(c.option_name, c.value_name) for c in first.options] == [("Color", "Blue"), ("Size", "M")]
    assert first.prices[0].gross == Decimal("19.9") and first.prices[0].currency == "EUR"


def test_a_single_product_is_one_variant_without_options() -> None:
    single = {**parent(num_variations=0), "attributes": {"price": "5.50", "compare_at_price": 7}}
    product, problems = translator().product(single)
    assert not problems and product is not None
    (only,) = product.variants
    assert only.sku == "P1" and only.key == product_key("p1") and only.options == ()
    assert only.prices[0].gross == Decimal("5.50") and only.prices[0].list_gross == Decimal("7")


@pytest.mark.parametrize(
    ("bad", "problem", "words"),
    [
        (variant("v2", "P1-02", color="Red"), "axis", ["P1-02", "'size'", "no value"]),
        (variant("v2", "P1-02", color="Blue", size="M"), "duplicate", ["P1-02", "color=Blue", "P1-01"]),
        (variant("v2", "P1-02", color="Red", size="L", price=None), "price", ["P1-02", "no price"]),
        (variant("v2", "", color="Red", size="L"), "sku", ["v2", "no SKU"]),
        (variant("v2", "P1-02", color=["Red", "Blue"], size="L"), "axis", ["several values", "'color'"]),
    ],
)
def test_a_bad_variant_is_named_with_its_product_and_attribute_and_the_rest_goes_through(
    bad: dict[str, Any], problem: str, words: list[str]
) -> None:
    good = variant("v1", "P1-01", color="Blue", size="M")
    product, problems = translator().product(parent(), [good, bad])
    assert product is not None and [v.sku for v in product.variants] == ["P1-01"]
    (found,) = problems
    assert found.problem == problem and found.key == variant_key("v2") and found.product == product_key("p1")
    assert "product P1 (p1)" in found.reason
    for word in words:
        assert word in found.reason


def test_variants_of_an_unknown_family_or_one_without_variant_attributes_are_refused_whole() -> None:
    rows = [variant("v1", "P1-01", color="Blue", size="M")]
    unknown = PlytixConfig.of([], [])
    product, problems = translator(config=unknown).product(parent(), rows)
    assert product is None and problems[0].problem == "family" and "run the config job" in problems[0].reason
    flat = PlytixConfig.of([], [FamilyInfo(key=f"plytix:family:{APPAREL}", name="Simple")])
    product, problems = translator(config=flat).product(parent(), rows)
    assert product is None and "no variant-level attribute" in problems[0].reason


def test_the_field_mapping_reads_system_fields_attributes_and_templates() -> None:
    mapping = PlytixMapping.model_validate(
        {
            "fields": {
                "name": {"source": "label", "transforms": [{"template": "{label} by {attributes.brand}"}]},
                "price": {"source": "attributes.list_price", "transforms": ["decimal"]},
                "images": "thumbnail",
            },
            "product_fields": {"material": "attributes.material"},
        }
    )
    row: dict[str, Any] = {
        "id": "s1",
        "sku": "S1",
        "label": "Cap",
        "thumbnail": {"id": "t", "url": "https://files.example/t.jpg"},
        "attributes": {"brand": "Acme", "list_price": "12.00", "material": "Wool"},
    }
    product, problems = translator(mapping).product(row)
    assert not problems and product is not None
    assert product.texts["en"].name == "Cap by Acme"
    assert product.variants[0].prices[0].gross == Decimal("12.00")
    assert [m.url for m in product.media] == ["https://files.example/t.jpg"]
    assert [(m.key, m.value) for m in product.metafields] == [("material", "Wool")]
    assert set(mapping.attributes()) >= {"label", "attributes.list_price", "attributes.brand", "thumbnail"}


def test_a_product_without_a_name_or_with_an_unreadable_value_is_refused() -> None:
    product, problems = translator().product({**parent(num_variations=0), "label": " "})
    assert product is None and problems[0].problem == "name" and "(label)" in problems[0].reason
    priced = {**parent(num_variations=0), "attributes": {"price": "12,5"}}
    product, problems = translator().product(priced)
    assert product is None and problems[0].problem == "value"


def test_a_mapping_must_map_name_and_price() -> None:
    with pytest.raises(ValueError, match="must map price"):
        PlytixMapping(fields={"name": FieldRule(source="label")})
