"""Canonical -> Shopify payloads (pure), checked against the vendored Admin schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from connector_pipelines.catalog.diff import changed_fields
from connector_pipelines.catalog.models import (
    LocationStock,
    Media,
    Metafield,
    OptionChoice,
    Price,
    Product,
    Texts,
    Variant,
)
from connector_pipelines.clients.shopify import BULK_PRODUCT_DELETE, BULK_PRODUCT_SET
from connector_pipelines.clients.shopify import PRODUCT_SET as PRODUCT_SET_DOCUMENT
from connector_pipelines.clients.shopify_models import UserError, VariantRef, product_set_variables
from connector_pipelines.errors import PayloadError
from connector_pipelines.schemas import shopify_schema
from connector_pipelines.targets.shopify import LOCATIONS, Target, choose_target
from connector_pipelines.targets.shopify_payloads import (
    describe_errors,
    media_digest,
    money,
    product_input,
    removal_variables,
)
from connector_pipelines.targets.shopify_plan import (
    PLAN_PRODUCTS,
    PLAN_VARIANTS,
    comparable_current,
    comparable_input,
    variant_details,
)


def _choice(option: str, value: str) -> OptionChoice:
    return OptionChoice(
        option_key=f"erp_files:option:{option}",
        value_key=f"erp_files:option_value:{option}:{value}",
        option_name=option,
        value_name=value,
    )


def _variant(
    sku: str, *options: tuple[str, str], price: str = "19.90", compare: str | None = None
) -> Variant:
    return Variant(
        key=f"erp_files:variant:{sku}",
        sku=sku,
        prices=(
            Price(
                currency="EUR",
                gross=Decimal(price),
                list_gross=Decimal(compare) if compare else None,
            ),
        ),
        options=tuple(_choice(o, v) for o, v in options),
        stock=7,
        weight_kg=Decimal("0.250"),
    )


def _product(
    *variants: Variant,
    active: bool = True,
    metafields: tuple[Metafield, ...] = (),
    media: tuple[Media, ...] = (),
) -> Product:
    return Product(
        key="erp_files:product:P1",
        texts={"en": Texts(name="Classic Tee", description="<p>Soft</p>")},
        active=active,
        vendor="Acme",
        product_type="Shirts",
        tags=("cotton", "summer"),
        metafields=metafields,
        media=media,
        variants=variants,
    )


def _image(name: str, position: int, alt: str = "") -> Media:
    url = f"https://img.example.com/{name}.jpg"
    return Media(key=url, url=url, alt=alt, position=position)


FIT = Metafield(namespace="custom", key="fit", type="single_line_text_field", value="slim")
LOCATION_IDS = {"Main warehouse": "gid://shopify/Location/1", "Berlin store": "gid://shopify/Location/2"}


def _coerces(document: str, variables: dict[str, Any]) -> None:
    """The variables fit the document's variable definitions in the real schema (as Shopify checks them)."""
    schema = shopify_schema()
    ast = parse(document)
    assert validate(schema, ast) == []
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
    assert not isinstance(coerced, list), coerced


def test_options_variants_prices_and_status() -> None:
    product = _product(
        _variant("TEE-RED-S", ("Color", "Red"), ("Size", "S"), compare="24.90"),
        _variant("TEE-BLU-S", ("Color", "Blue"), ("Size", "S"), price="21.5"),
        _variant("TEE-RED-M", ("Color", "Red"), ("Size", "M")),
        active=False,
    )
    doc = product_input(product)
    assert doc["title"] == "Classic Tee" and doc["descriptionHtml"] == "<p>Soft</p>"
    assert doc["status"] == "DRAFT" and doc["tags"] == ["cotton", "summer"]
    assert doc["productOptions"] == [
        {"name": "Color", "position": 1, "values": [{"name": "Red"}, {"name": "Blue"}]},
        {"name": "Size", "position": 2, "values": [{"name": "S"}, {"name": "M"}]},
    ]
    first, second, _ = doc["variants"]
    assert first["optionValues"] == [
        {"optionName": "Color", "name": "Red"},
        {"optionName": "Size", "name": "S"},
    ]
    assert (first["price"], first["compareAtPrice"]) == ("19.9", "24.9")
    assert (second["price"], second["compareAtPrice"]) == ("21.5", None), "no compare price clears it"
    assert first["barcode"] is None and first["sku"] == "TEE-RED-S"
    assert first["inventoryItem"] == {"measurement": {"weight": {"value": 0.25, "unit": "KILOGRAMS"}}}
    assert "inventoryQuantities" not in first, "stock is synced only with a location"
    assert "metafields" not in doc, "an empty list would remove every metafield"
    _coerces(BULK_PRODUCT_SET, product_set_variables(doc))
    _coerces(PRODUCT_SET_DOCUMENT, product_set_variables(doc, {"id": "gid://shopify/Product/1"}))


def test_a_product_without_options_gets_shopifys_default_option() -> None:
    doc = product_input(_product(_variant("MUG-1")))
    assert doc["productOptions"] == [{"name": "Title", "position": 1, "values": [{"name": "Default Title"}]}]
    assert doc["variants"][0]["optionValues"] == [{"optionName": "Title", "name": "Default Title"}]
    _coerces(BULK_PRODUCT_SET, product_set_variables(doc))


def test_metafields_inventory_and_known_variant_ids() -> None:
    material = Metafield(namespace="custom", key="material", type="single_line_text_field", value="Cotton")
    product = _product(_variant("TEE-RED-S", ("Color", "Red")), metafields=(material,))
    doc = product_input(
        product,
        location_id="gid://shopify/Location/1",
        variant_ids={"TEE-RED-S": "gid://shopify/ProductVariant/9"},
    )
    assert doc["metafields"] == [
        {"namespace": "custom", "key": "material", "type": "single_line_text_field", "value": "Cotton"}
    ]
    variant = doc["variants"][0]
    assert variant["id"] == "gid://shopify/ProductVariant/9"
    assert variant["inventoryQuantities"] == [
        {"locationId": "gid://shopify/Location/1", "name": "available", "quantity": 7}
    ]
    assert variant["inventoryItem"]["tracked"] is True
    _coerces(BULK_PRODUCT_SET, product_set_variables(doc, {"id": "gid://shopify/Product/1"}))


def test_products_shopify_cannot_hold_are_refused() -> None:
    four = [("A", "1"), ("B", "1"), ("C", "1"), ("D", "1")]
    with pytest.raises(PayloadError, match="4 options"):
        product_input(_product(_variant("X-1", *four)))
    with pytest.raises(PayloadError, match="no variants"):
        product_input(_product())


def test_removals_and_the_plan_document_fit_the_schema() -> None:
    _coerces(BULK_PRODUCT_DELETE, removal_variables("delete", "gid://shopify/Product/1"))
    archived = removal_variables("archive", "gid://shopify/Product/1")
    assert archived["input"] == {"status": "ARCHIVED"}
    _coerces(BULK_PRODUCT_SET, archived)
    _coerces(BULK_PRODUCT_SET, removal_variables("draft", "gid://shopify/Product/1"))


def test_money_has_no_exponent() -> None:
    assert [money(Decimal(v)) for v in ("1E+2", "19.90", "0.00", "1234.5")] == ["100", "19.9", "0", "1234.5"]


def test_errors_name_the_sku_of_the_variant() -> None:
    skus = ["A-1", "A-2", "A-3", "A-4"]
    price = UserError(
        field=["input", "variants", "1", "price"], message="must be at least 0", code="INVALID_VARIANT"
    )
    title = UserError(field=["input", "title"], message="Title can't be blank", code="MISSING_FIELD_REQUIRED")
    text = describe_errors([price, title], ["Internal error"], skus)
    assert text.startswith("SKU A-2: must be at least 0 [INVALID_VARIANT] (input.variants.1.price)")
    assert "SKUs A-1, A-2, A-3 …: Title can't be blank" in text
    assert text.endswith("SKUs A-1, A-2, A-3 …: Internal error")


def _shopify_product(**changes: Any) -> dict[str, Any]:
    """A product as PLAN_PRODUCTS answers it."""
    node: dict[str, Any] = {
        "title": "Classic Tee",
        "descriptionHtml": "<p>Soft</p>",
        "vendor": "Acme",
        "productType": "Shirts",
        "tags": ["summer", "cotton"],
        "status": "ACTIVE",
        "options": [{"name": "Color", "values": ["Red"]}],
        "metafields": {
            "nodes": [
                {"namespace": "custom", "key": "material", "value": "Cotton"},
                {"namespace": "other", "key": "x", "value": "y"},
            ]
        },
        "media": {"nodes": []},
        "variants": {
            "nodes": [
                {
                    "id": "gid://shopify/ProductVariant/9",
                    "sku": "TEE-RED-S",
                    "price": "19.90",
                    "compareAtPrice": "24.90",
                    "barcode": None,
                    "selectedOptions": [{"name": "Color", "value": "Red"}],
                }
            ]
        },
    }
    return node | changes


def test_the_plan_compares_like_with_like() -> None:
    material = Metafield(namespace="custom", key="material", type="single_line_text_field", value="Cotton")
    product = _product(_variant("TEE-RED-S", ("Color", "Red"), compare="24.90"), metafields=(material,))
    doc = product_input(product)
    shopify = _shopify_product()
    ours = comparable_input(doc)
    assert comparable_current(shopify, ours) == ours
    assert "inventory" not in ours["variants"]["TEE-RED-S"] and "media" not in ours, "only what is sent"
    shopify["variants"]["nodes"][0]["price"] = "17.00"
    shopify["title"] = "Old Tee"
    theirs = comparable_current(shopify, ours)
    assert theirs != ours and theirs["variants"]["TEE-RED-S"]["price"] == Decimal("17")


def test_the_plan_compares_variant_metafields_stock_per_location_and_images() -> None:
    variant = _variant("TEE-RED-S", ("Color", "Red"), compare="24.90").model_copy(
        update={
            "metafields": (FIT,),
            "stock_by_location": (LocationStock(location="gid://shopify/Location/2", quantity=4),),
        }
    )
    product = _product(variant, media=(_image("front", 0, "Front"), _image("back", 1)))
    digest = media_digest(product)
    ours = comparable_input(product_input(product, files=True), media=digest)
    assert ours["variants"]["TEE-RED-S"]["inventory"] == {"gid://shopify/Location/2": 4}
    assert ours["variants"]["TEE-RED-S"]["metafields"] == {"custom.fit": "slim"}
    assert ours["media"] == {"count": 2, "alts": ["Front", ""], "source": digest}

    details = variant_details(
        {
            "sku": "TEE-RED-S",
            "metafields": {"nodes": [{"namespace": "custom", "key": "fit", "value": "slim"}]},
            "inventoryItem": {
                "inventoryLevels": {
                    "nodes": [
                        {"location": {"id": "gid://shopify/Location/1"}, "quantities": [{"quantity": 9}]},
                        {"location": {"id": "gid://shopify/Location/2"}, "quantities": [{"quantity": 4}]},
                    ]
                }
            },
        }
    )
    shop = _shopify_product(media={"nodes": [{"alt": "Front"}, {"alt": ""}]})
    same = comparable_current(shop, ours, variant_details={"TEE-RED-S": details}, media=digest)
    assert same == ours, "the other location's stock and the unsent metafields are not compared"
    details["metafields"] = {"custom.fit": "regular"}
    details["inventory"] = {"gid://shopify/Location/2": 1}
    theirs = comparable_current(shop, ours, variant_details={"TEE-RED-S": details}, media="older")
    assert set(changed_fields(theirs, ours)) == {
        "variants.TEE-RED-S.metafields.custom.fit",
        "variants.TEE-RED-S.inventory.gid://shopify/Location/2",
        "media.source",
    }


def test_variant_metafields_and_stock_per_location_by_gid_or_name() -> None:
    stock = (
        LocationStock(location="Main warehouse", quantity=3),
        LocationStock(location="gid://shopify/Location/2", quantity=4),
    )
    variant = _variant("TEE-RED-S", ("Color", "Red")).model_copy(
        update={"metafields": (FIT,), "stock_by_location": stock}
    )
    doc = product_input(
        _product(variant, _variant("TEE-RED-M", ("Color", "Blue"))),
        location_id="gid://shopify/Location/7",
        locations=lambda name: LOCATION_IDS.get(name, name),
    )
    located, plain = doc["variants"]
    assert located["inventoryQuantities"] == [
        {"locationId": "gid://shopify/Location/1", "name": "available", "quantity": 3},
        {"locationId": "gid://shopify/Location/2", "name": "available", "quantity": 4},
    ], "the mapping's locations, not the location_id setting"
    assert located["inventoryItem"]["tracked"] is True
    assert located["metafields"] == [
        {"namespace": "custom", "key": "fit", "type": "single_line_text_field", "value": "slim"}
    ]
    assert plain["inventoryQuantities"] == [
        {"locationId": "gid://shopify/Location/7", "name": "available", "quantity": 7}
    ], "a variant without stock per location keeps the single location"
    assert "metafields" not in plain, "an empty list would remove every metafield of the variant"
    _coerces(BULK_PRODUCT_SET, product_set_variables(doc))

    with pytest.raises(PayloadError, match="needs the shop's locations"):
        product_input(_product(variant))
    twice = variant.model_copy(update={"stock_by_location": (*stock, stock[0])})
    with pytest.raises(PayloadError, match="given twice"):
        product_input(_product(twice), locations=lambda name: LOCATION_IDS.get(name, name))


def test_images_go_as_files_in_order_and_each_variant_names_its_own() -> None:
    front, back, red = _image("front", 0, "Front"), _image("back", 1, "Back"), _image("red", 2)
    with_image = _variant("TEE-RED-S", ("Color", "Red")).model_copy(update={"media_keys": (red.key,)})
    product = _product(with_image, _variant("TEE-BLU-S", ("Color", "Blue")), media=(back, red, front))
    doc = product_input(product, files=True)
    assert doc["files"] == [
        {"originalSource": "https://img.example.com/front.jpg", "contentType": "IMAGE", "alt": "Front"},
        {"originalSource": "https://img.example.com/back.jpg", "contentType": "IMAGE", "alt": "Back"},
        {"originalSource": "https://img.example.com/red.jpg", "contentType": "IMAGE", "alt": ""},
    ], "in position order"
    assert doc["variants"][0]["file"] == doc["files"][2], "a variant's file is one of the product's files"
    assert "file" not in doc["variants"][1]
    _coerces(BULK_PRODUCT_SET, product_set_variables(doc, {"id": "gid://shopify/Product/1"}))

    unchanged = product_input(product)
    assert "files" not in unchanged and "file" not in unchanged["variants"][0], "media left alone"
    assert product_input(_product(_variant("MUG-1")), files=True)["files"] == [], "removes every image"
    many = tuple(_image(f"i{n}", n) for n in range(251))
    with pytest.raises(PayloadError, match="251 images"):
        product_input(_product(_variant("MUG-1"), media=many), files=True)


def test_the_media_digest_follows_urls_alts_order_and_variant_images() -> None:
    front, back = _image("front", 0, "Front"), _image("back", 1)
    base = _product(_variant("A", ("Color", "Red")), media=(front, back))
    assert media_digest(_product(_variant("A"))) is None
    digest = media_digest(base)
    assert digest == media_digest(base.model_copy(update={"vendor": "Other"}))
    assert digest == media_digest(_product(_variant("A", ("Color", "Red"), price="1"), media=(front, back)))
    others = [
        _product(_variant("A", ("Color", "Red")), media=(front.model_copy(update={"position": 2}), back)),
        _product(_variant("A", ("Color", "Red")), media=(front.model_copy(update={"alt": "x"}), back)),
        _product(_variant("A", ("Color", "Red")), media=(front,)),
        _product(
            _variant("A", ("Color", "Red")).model_copy(update={"media_keys": (back.key,)}),
            media=(front, back),
        ),
    ]
    assert len({digest, *(media_digest(p) for p in others)}) == 5


def test_the_plan_and_location_documents_fit_the_schema() -> None:
    _coerces(PLAN_PRODUCTS, {"ids": ["gid://shopify/Product/1"]})
    _coerces(
        PLAN_VARIANTS,
        {"ids": ["gid://shopify/ProductVariant/1"], "metafields": 1, "keys": ["custom.fit"], "levels": 2},
    )
    _coerces(LOCATIONS, {"after": None})


def test_sku_matches_choose_the_product_holding_most_of_them() -> None:
    def ref(sku: str, variant: int, product: int) -> VariantRef:
        return VariantRef(
            id=f"gid://shopify/ProductVariant/{variant}",
            sku=sku,
            price="1.00",
            barcode=None,
            product_id=f"gid://shopify/Product/{product}",
            product_handle="h",
            product_status="ACTIVE",
        )

    found = {"A": ref("A", 1, 7), "B": ref("B", 2, 7), "C": ref("C", 3, 12)}
    assert choose_target(["A", "B", "C", "D"], found) == Target(
        "gid://shopify/Product/7",
        {"A": "gid://shopify/ProductVariant/1", "B": "gid://shopify/ProductVariant/2"},
    )
    assert choose_target(["X"], found) == Target(None)
