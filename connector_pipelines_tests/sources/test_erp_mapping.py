"""The ERP mapping: configuration, transformations, metafield coercion, grouping rows into products."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue, ValidationError

from connector_pipelines.catalog.models import OptionChoice, Price, Product
from connector_pipelines.sources.erp_files import Record, RowError, SourceRow
from connector_pipelines.sources.erp_mapping.check import check_mapping
from connector_pipelines.sources.erp_mapping.config import (
    MappingConfig,
    MappingConfigError,
    MetafieldRule,
    dump_mapping,
    load_mapping,
    mapping_path,
    parse_mapping,
    write_mapping,
)
from connector_pipelines.sources.erp_mapping.metafields import MetafieldCoercer
from connector_pipelines.sources.erp_mapping.products import map_records
from connector_pipelines.sources.erp_mapping.values import FieldProblem, NumberParser

BASE_FIELDS: dict[str, Any] = {"title": "title", "variant.sku": "sku"}


def _config(**values: Any) -> MappingConfig:
    fields = {**BASE_FIELDS, **values.pop("fields", {})}
    return MappingConfig.model_validate({"fields": fields, **values})


def _row(line: int, **data: JsonValue) -> SourceRow:
    return SourceRow("erp.csv", line, data)


def _map(config: MappingConfig, rows: list[Record]) -> tuple[list[Product], list[RowError]]:
    products: list[Product] = []
    errors: list[RowError] = []
    for item in map_records(config, rows):
        (errors if isinstance(item, RowError) else products).append(item)  # type: ignore[arg-type]
    return products, errors


# --- transformations ----------------------------------------------------------------------------------------


def _title(transforms: list[Any], value: JsonValue, **row: JsonValue) -> str:
    config = _config(fields={"title": {"source": "v", "transforms": transforms}})
    data: dict[str, JsonValue] = {"sku": "S", "v": value, **row}
    products, errors = _map(config, [SourceRow("erp.csv", 2, data)])
    if errors:
        raise FieldProblem(errors[0].reason)
    return products[0].texts["en"].name


def test_text_transformations() -> None:
    assert _title(["trim"], "  Tee  ") == "Tee"
    assert _title(["lower"], "TeE") == "tee"
    assert _title(["upper"], "TeE") == "TEE"
    assert _title([{"default": "Untitled"}], "  ") == "Untitled"
    assert _title([{"default": 0}], None) == "0"  # YAML numbers are text here
    assert _title([{"split": "/"}, "trim", "upper", {"join": " + "}], "a / b /") == "A + B"
    assert _title([{"template": "{brand} {v} ({size.eu}) {{x}}"}], "Tee", brand="Acme", size={"eu": 42}) == (
        "Acme Tee (42) {x}"
    )


def test_required_and_value_maps() -> None:
    with pytest.raises(FieldProblem, match="required value missing"):
        _title(["trim", "required"], "   ")
    assert _title([{"map": {"1": "One", "2": "Two"}}], 2) == "Two"
    with pytest.raises(FieldProblem, match=r"unknown value '3' \(mapped: 1, 2\)"):
        _title([{"map": {"1": "One", "2": "Two"}}], "3")
    assert _title([{"map": {"values": {"1": "One"}, "other": "keep"}}], "3") == "3"
    assert _title([{"map": {"values": {"1": "One"}, "other": "blank"}}, {"default": "none"}], "3") == "none"


@pytest.mark.parametrize(
    ("separator", "text", "expected"),
    [
        (",", "1.234,56", "1234.56"),
        (",", "1234,5", "1234.5"),
        (",", "-0,99", "-0.99"),
        (",", "1 234 567,00", "1234567.00"),
        (".", "1,234.56", "1234.56"),
        (".", "1234.56", "1234.56"),
        (".", "+12", "12"),
        (".", ".5", "0.5"),
        (".", "1'000", "1000"),
    ],
)
def test_locale_aware_decimals(separator: Any, text: str, expected: str) -> None:
    assert NumberParser(separator).parse(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("separator", "text"),
    [(".", "12,5"), (",", "1.5"), (".", "1,23,456"), (".", "NaN"), (".", "1e5"), (".", "")],
)
def test_unparsable_numbers(separator: Any, text: str) -> None:
    with pytest.raises(FieldProblem, match="unparsable number"):
        NumberParser(separator).parse(text)


def test_decimal_and_integer_transforms() -> None:
    product = _config(
        decimal_separator=",",
        fields={
            "variant.price": {"source": "p", "transforms": ["decimal"]},
            "variant.compareAtPrice": {"source": "c", "transforms": [{"decimal": "."}]},
            "inventory": {"source": "q", "transforms": ["integer"]},
        },
    )
    products, errors = _map(product, [_row(2, title="T", sku="S", p="1.234,50", c="2,000.00", q="1.000")])
    assert errors == []
    variant = products[0].variants[0]
    assert variant.prices == (Price(currency="EUR", gross=Decimal("1234.50"), list_gross=Decimal("2000.00")),)
    assert variant.stock == 1000
    _, errors = _map(product, [_row(2, title="T", sku="S", p="9", q="2,5")])
    assert [(e.column, e.reason) for e in errors] == [("q", "inventory: '2,5' is not a whole number")]


# --- configuration ------------------------------------------------------------------------------------------


YAML_MAPPING = """
currency: CHF
language: de
decimal_separator: ","
group_by: parent
fields:
  title: {source: name, transforms: [trim, required]}
  variant.sku: sku
  variant.price: {source: price, transforms: [decimal, required]}
  tags: {source: tags, transforms: [{split: ","}, trim]}
options:
  Farbe: color
  Größe: {source: size, values: [S, M, L]}
metafields:
  - {namespace: custom, key: material, type: single_line_text_field, source: material}
  - namespace: custom
    key: care
    type: list.single_line_text_field
    source: care
    transforms: [{split: "|"}]
"""


def test_mapping_files_in_yaml_and_json(tmp_path: Path) -> None:
    config = parse_mapping(YAML_MAPPING)
    assert config.currency == "CHF"
    assert list(config.options) == ["Farbe", "Größe"]
    assert config.sources() == ["parent", "name", "sku", "price", "tags", "color", "size", "material", "care"]
    yaml_file = tmp_path / "mapping.yaml"
    yaml_file.write_text(dump_mapping(config))
    assert load_mapping(yaml_file) == config
    assert "- {split: ','}" in yaml_file.read_text() or "- split: ','" in yaml_file.read_text()
    json_file = write_mapping(config, tmp_path / "mapping.json")
    assert load_mapping(json_file) == config


def test_invalid_mapping_files_list_every_problem(tmp_path: Path) -> None:
    broken = """
fields:
  title: {source: t, transforms: [trimm, {decimal: ";"}, {template: "{open"}]}
  price: p
metafields:
  - {namespace: custom, key: m, type: single_line_txt, source: m}
"""
    with pytest.raises(MappingConfigError) as exc:
        parse_mapping(broken, name="tenant.yaml")
    message = str(exc.value)
    assert message.startswith("tenant.yaml: invalid mapping:")
    for fragment in [
        "fields.title.transforms.0",
        "fields.title.transforms.1.decimal.decimal_separator",
        "fields.title.transforms.2.template.template",
        "fields.price",
        "metafields.0.key",
        "unknown Shopify metafield type 'single_line_txt'; did you mean single_line_text_field",
    ]:
        assert fragment in message
    with pytest.raises(MappingConfigError, match="not valid YAML"):
        parse_mapping("fields: [")
    with pytest.raises(MappingConfigError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"fields": {"title": "t"}}, "fields must map variant.sku"),
        (
            {"fields": {**BASE_FIELDS}, "options": {"A": "a", "B": "b", "C": "c", "D": "d"}},
            "at most 3 options",
        ),
        ({"fields": {**BASE_FIELDS}, "options": {"Color": "a", "color": "b"}}, "distinct"),
        (
            {"fields": {**BASE_FIELDS}, "metafields": [{"namespace": "ns", "key": "k1", "type": "json"}] * 2},
            "mapped twice: ns.k1",
        ),
        ({"fields": {**BASE_FIELDS}, "currency": "euro"}, "currency"),
    ],
)
def test_mapping_config_rules(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MappingConfig.model_validate(values)


# --- metafields ---------------------------------------------------------------------------------------------


def _coerce(type_: str, value: Any, **rule: Any) -> str | None:
    config = _config(decimal_separator=rule.pop("decimal_separator", "."), currency="EUR")
    metafield = MetafieldRule.model_validate({"namespace": "custom", "key": "field", "type": type_, **rule})
    return MetafieldCoercer(metafield, config)(value)


@pytest.mark.parametrize(
    ("type_", "value", "rule", "expected"),
    [
        ("single_line_text_field", "Cotton", {}, "Cotton"),
        ("multi_line_text_field", "a\nb", {}, "a\nb"),
        ("id", "ERP-4711", {}, "ERP-4711"),
        ("number_integer", "1.234", {"decimal_separator": ","}, "1234"),
        ("number_integer", 7, {}, "7"),
        ("number_decimal", "12,50", {"decimal_separator": ","}, "12.5"),
        ("number_decimal", 0.1, {}, "0.1"),
        ("boolean", "Yes", {}, "true"),
        ("boolean", False, {}, "false"),
        ("json", '{"a": [1, 2]}', {}, '{"a":[1,2]}'),
        ("json", {"a": "ü"}, {}, '{"a":"ü"}'),
        ("date", "2026-03-01", {}, "2026-03-01"),
        ("date", "01.03.2026", {"date_format": "%d.%m.%Y"}, "2026-03-01"),
        ("date_time", "2026-03-01T12:30:00+02:00", {}, "2026-03-01T10:30:00"),
        ("color", "#ABC", {}, "#aabbcc"),
        ("url", "https://example.com/a", {}, "https://example.com/a"),
        ("money", "19,90", {"decimal_separator": ","}, '{"amount":"19.9","currency_code":"EUR"}'),
        ("weight", "2.5 kg", {}, '{"value":2.5,"unit":"kg"}'),
        ("weight", "250", {"unit": "g"}, '{"value":250.0,"unit":"g"}'),
        ("volume", "1.5", {"unit": "l"}, '{"value":1.5,"unit":"l"}'),
        ("dimension", "30 cm", {}, '{"value":30.0,"unit":"cm"}'),
        (
            "rating",
            "4.5",
            {"scale_min": 1, "scale_max": 5},
            '{"value":"4.5","scale_min":"1","scale_max":"5"}',
        ),
        ("product_reference", "gid://shopify/Product/1", {}, "gid://shopify/Product/1"),
        ("list.single_line_text_field", ["a", " ", "b"], {}, '["a","b"]'),
        ("list.number_integer", '["1", 2]', {}, "[1,2]"),
        ("list.number_decimal", ["1.5", 2], {}, '["1.5","2"]'),
        ("list.color", "#FFFFFF", {}, '["#ffffff"]'),
        ("list.weight", ["1 kg", "500 g"], {}, '[{"value":1.0,"unit":"kg"},{"value":500.0,"unit":"g"}]'),
        ("single_line_text_field", "  ", {}, None),
    ],
)
def test_metafield_values_are_coerced_to_their_type(
    type_: str, value: Any, rule: dict[str, Any], expected: str | None
) -> None:
    assert _coerce(type_, value, **rule) == expected


def test_rich_text_accepts_plain_text_and_documents() -> None:
    document = json.loads(_coerce("rich_text_field", "Hello") or "")
    assert document == {
        "type": "root",
        "children": [{"type": "paragraph", "children": [{"type": "text", "value": "Hello"}]}],
    }
    assert _coerce("rich_text_field", json.dumps(document)) == json.dumps(document, separators=(",", ":"))
    with pytest.raises(FieldProblem, match='"type": "root"'):
        _coerce("rich_text_field", '{"type": "paragraph"}')


@pytest.mark.parametrize(
    ("type_", "value", "rule", "message"),
    [
        ("single_line_text_field", "a\nb", {}, "line break"),
        ("number_integer", "1.5", {}, "not a whole number"),
        ("number_integer", str(2**60), {}, "out of range"),
        ("number_decimal", "0.0000000001", {}, "more than 9 decimals"),
        ("boolean", "maybe", {}, "true/false"),
        ("json", "{broken", {}, "expected JSON"),
        ("date", "2026-13-01", {}, "unparsable date"),
        ("date_time", "yesterday", {}, "unparsable date and time"),
        ("color", "red", {}, "#RRGGBB"),
        ("url", "ftp://example.com", {}, "schemes"),
        ("url", "https:", {}, "schemes"),
        ("weight", "2.5", {}, "needs a unit"),
        ("weight", "2.5 stone", {}, "unknown weight unit 'stone'"),
        ("rating", "6", {"scale_min": 1, "scale_max": 5}, "outside 1..5"),
        ("variant_reference", "12345", {}, "Shopify GID"),
        ("list.number_integer", "[1,", {}, "expected a JSON array"),
        ("link", "not an object", {}, "link object"),
    ],
)
def test_metafield_values_that_do_not_fit_their_type(
    type_: str, value: Any, rule: dict[str, Any], message: str
) -> None:
    with pytest.raises(FieldProblem, match=message):
        _coerce(type_, value, **rule)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"type": "list.boolean"}, "unknown Shopify metafield type 'list.boolean'"),
        ({"type": "string"}, "unknown Shopify metafield type"),
        ({"type": "weight", "unit": "stone"}, "allowed: g, kg, lb, oz"),
        ({"type": "number_integer", "unit": "kg"}, "only dimension, volume, weight"),
        ({"type": "rating"}, "scale_min < scale_max"),
        ({"type": "rating", "scale_min": 5, "scale_max": 1}, "scale_min < scale_max"),
        ({"type": "json", "scale_min": 1}, "rating only"),
        ({"type": "json", "date_format": "%Y"}, "date and date_time only"),
        ({"type": "json", "key": "x"}, "key"),
        ({"type": "json", "namespace": "bad ns"}, "namespace"),
    ],
)
def test_metafield_rules_are_checked_against_shopify_types(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MetafieldRule.model_validate({"namespace": "custom", "key": "field", **rule})


def test_link_metafields() -> None:
    assert _coerce("link", '{"text": "Docs", "url": "https://example.com"}') == (
        '{"text":"Docs","url":"https://example.com"}'
    )
    assert (
        _coerce("list.link", [{"text": "A", "url": "tel:+49301234"}])
        == '[{"text":"A","url":"tel:+49301234"}]'
    )


def test_mapping_files_live_below_the_connector_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONNECTOR_HOME", str(tmp_path))
    assert mapping_path("mappings/acme.yaml") == tmp_path / "mappings/acme.yaml"
    assert mapping_path("/etc/connector/acme.yaml") == Path("/etc/connector/acme.yaml")


# --- products -----------------------------------------------------------------------------------------------

CATALOG_CONFIG = {
    "decimal_separator": ",",
    "weight_unit": "g",
    "group_by": "parent",
    "fields": {
        "title": {"source": "title", "transforms": ["trim", "required"]},
        "descriptionHtml": "html",
        "variant.sku": "sku",
        "vendor": "vendor",
        "productType": "type",
        "tags": "tags",
        "status": {"source": "status", "transforms": ["lower"]},
        "variant.price": {"source": "price", "transforms": ["decimal", "required"]},
        "variant.compareAtPrice": "compare",
        "variant.barcode": "ean",
        "weight": "grams",
        "inventory": {"source": "stock", "transforms": [{"default": "0"}, "integer"]},
    },
    "options": {"Color": "color", "Size": {"source": "size", "values": ["S", "M", "L"]}},
    "metafields": [
        {"namespace": "custom", "key": "material", "type": "single_line_text_field", "source": "material"}
    ],
}


def _catalog_row(line: int, parent: str, sku: str, **data: JsonValue) -> SourceRow:
    base: dict[str, JsonValue] = {
        "parent": parent,
        "sku": sku,
        "title": f"Title {parent}",
        "html": "<p>x</p>",
        "vendor": "Acme",
        "type": "Shirts",
        "tags": "a, b,a",
        "status": "Active",
        "price": "1.019,90",
        "compare": "",
        "ean": "4006381333931",
        "grams": "250",
        "stock": "",
        "color": "Red",
        "size": "S",
        "material": "Cotton",
    }
    return SourceRow("erp.csv", line, base | data)


def test_rows_are_grouped_into_products_with_variants() -> None:
    config = MappingConfig.model_validate(CATALOG_CONFIG)
    rows: list[Record] = [
        _catalog_row(2, "P1", "P1-R-S", compare="1.200,00"),
        _catalog_row(
            3, "P1", "P1-R-M", size="M", title="ignored: the first row carries the product", stock="7"
        ),
        _catalog_row(4, "P2", "P2-B-S", color="Blue", status="draft", material=""),
    ]
    products, errors = _map(config, rows)
    assert errors == []
    first, second = products
    assert first.key == "erp_files:product:P1"
    assert first.texts["en"].name == "Title P1"
    assert first.texts["en"].description == "<p>x</p>"
    assert (first.vendor, first.product_type, first.tags, first.active) == (
        "Acme",
        "Shirts",
        ("a", "b"),
        True,
    )
    assert [(m.namespace, m.key, m.type, m.value) for m in first.metafields] == [
        ("custom", "material", "single_line_text_field", "Cotton")
    ]
    red_s, red_m = first.variants
    assert (red_s.key, red_s.sku, red_s.position, red_m.position) == (
        "erp_files:variant:P1-R-S",
        "P1-R-S",
        0,
        1,
    )
    assert red_s.prices == (
        Price(currency="EUR", gross=Decimal("1019.90"), net=None, list_gross=Decimal("1200.00")),
    )
    assert red_s.barcode == "4006381333931"
    assert red_s.weight_kg == Decimal("0.250")
    assert (red_s.stock, red_m.stock) == (0, 7)
    assert red_s.options == (
        OptionChoice(
            option_key="erp_files:option:Color",
            value_key="erp_files:option_value:Color:Red",
            option_name="Color",
            value_name="Red",
        ),
        OptionChoice(
            option_key="erp_files:option:Size",
            value_key="erp_files:option_value:Size:S",
            option_name="Size",
            value_name="S",
        ),
    )
    assert second.active is False
    assert second.metafields == ()


def test_bad_rows_are_skipped_and_the_rest_goes_through() -> None:
    config = MappingConfig.model_validate(CATALOG_CONFIG)
    rows: list[Record] = [
        RowError("erp.csv", 2, "", "malformed CSV: unexpected end of data"),
        _catalog_row(3, "P1", "P1-1", title=""),  # the carrier of the product fields fails ...
        _catalog_row(4, "P1", "P1-2", price="12,3,4"),
        _catalog_row(5, "P1", "P1-3", size="M"),  # ... so this row carries them
        _catalog_row(6, "P1", "P1-1", size="L"),  # duplicate SKU of a failed row
        _catalog_row(7, "P1", "P1-4", size="XXL"),
        _catalog_row(8, "P2", "P2-1", status="maybe"),
        _catalog_row(9, "P3", "P3-1", stock="many", grams="-1"),
        _catalog_row(10, "", "P4-1"),
        _catalog_row(11, "P5", "P5-1", size="L"),
    ]
    products, errors = _map(config, rows)
    assert [p.key for p in products] == ["erp_files:product:P1", "erp_files:product:P5"]
    assert [v.sku for v in products[0].variants] == ["P1-3"]
    assert [(e.line, e.column, e.reason, e.key) for e in errors] == [
        (2, "", "malformed CSV: unexpected end of data", None),
        (3, "title", "required value missing", "erp_files:product:P1"),
        (
            4,
            "price",
            "variant.price: unparsable number '12,3,4' (decimal separator ',')",
            "erp_files:product:P1",
        ),
        (6, "sku", "duplicate SKU 'P1-1' (first at line 3)", "erp_files:product:P1"),
        (7, "size", "option Size: unknown value 'XXL' (allowed: L, M, S)", "erp_files:product:P1"),
        (
            8,
            "status",
            "unknown status 'maybe' (expected active, draft, archived, true or false)",
            "erp_files:product:P2",
        ),
        (9, "grams", "weight: must not be negative: -1", "erp_files:product:P3"),
        (9, "stock", "inventory: unparsable number 'many' (decimal separator ',')", "erp_files:product:P3"),
        (10, "parent", "missing parent (group_by) value", None),
    ]
    assert str(errors[1]) == "erp.csv:3: title: required value missing"


@pytest.mark.parametrize(
    ("stock", "reason"),
    [
        (str(2**31), f"inventory: stock {2**31} is out of range: Shopify holds up to {2**31 - 1}"),
        (str(10**20), f"inventory: '{10**20}' is out of range: whole numbers are 64 bits"),
    ],
)
def test_a_stock_past_what_shopify_holds_is_a_row_error(stock: str, reason: str) -> None:
    products, errors = _map(
        MappingConfig.model_validate(CATALOG_CONFIG),
        [_catalog_row(2, "P1", "P1-1", stock=stock), _catalog_row(3, "P2", "P2-1", stock=str(2**31 - 1))],
    )
    assert [(e.line, e.column, e.reason) for e in errors] == [(2, "stock", reason)]
    assert [(p.key, p.variants[0].stock) for p in products] == [("erp_files:product:P2", 2**31 - 1)]


def test_option_values_must_tell_the_variants_of_a_product_apart() -> None:
    config = MappingConfig.model_validate(CATALOG_CONFIG)
    rows: list[Record] = [
        _catalog_row(2, "P1", "A", size="S"),
        _catalog_row(3, "P1", "B", size=""),
        _catalog_row(4, "P1", "C", size="S"),
        _catalog_row(5, "P2", "D", color="", size=""),  # a product without options: one plain variant
    ]
    products, errors = _map(config, rows)
    assert [[v.sku for v in p.variants] for p in products] == [["A"], ["D"]]
    assert products[1].variants[0].options == ()
    assert [(e.line, e.column, e.reason) for e in errors] == [
        (3, "size", "option Size: missing value (other variants of 'P1' have one)"),
        (4, "color", "variant has the same option values as SKU 'A' (line 2) of product 'P1'"),
    ]
    no_options = _config(group_by="parent")
    _, errors = _map(
        no_options, [_row(2, parent="P", sku="1", title="T"), _row(3, parent="P", sku="2", title="T")]
    )
    assert errors[0].reason == "variant has no options to tell it from SKU '1' (line 2) of product 'P'"


def test_group_order() -> None:
    rows: list[Record] = [
        _row(2, parent="P1", sku="A", title="One"),
        _row(3, parent="P2", sku="B", title="Two"),
        _row(4, parent="P1", sku="C", title="One", size="M"),
    ]
    options = {"Size": "size"}
    products, errors = _map(_config(group_by="parent", options=options), rows)
    assert [len(p.variants) for p in products] == [1, 1]
    assert errors[0].line == 4
    assert errors[0].reason.startswith("rows of product 'P1' are not adjacent; sort the file by parent")
    products, errors = _map(_config(group_by="parent", group_order="any", options=options), rows)
    assert errors[0].reason.startswith("option Size: missing value")
    rows[0] = _row(2, parent="P1", sku="A", title="One", size="S")
    products, errors = _map(_config(group_by="parent", group_order="any", options=options), rows)
    assert errors == []
    assert [[v.sku for v in p.variants] for p in products] == [["A", "C"], ["B"]]


def test_without_group_by_every_row_is_a_product() -> None:
    config = _config(fields={"variant.price": "price"}, currency="USD", language="fr")
    products, errors = _map(config, [_row(2, sku="A", title="T", price="1.5"), _row(3, sku=" ", title="T")])
    assert [(p.key, p.texts["fr"].name, p.variants[0].prices[0].currency) for p in products] == [
        ("erp_files:product:A", "T", "USD")
    ]
    assert [(e.line, e.column, e.reason) for e in errors] == [
        (3, "sku", "variant.sku: required value missing")
    ]


def test_json_paths_and_json_values() -> None:
    config = _config(
        fields={
            "variant.sku": "ids.sku",
            "variant.price": "pricing.amounts[0].gross",
            "tags": "labels",
            "status": "enabled",
            "inventory": "stock.0",
        }
    )
    row = _row(
        2,
        title="T",
        ids={"sku": "S-1"},
        pricing={"amounts": [{"gross": 19.9}]},
        labels=["x", " y "],
        enabled=False,
        stock=[5, 6],
    )
    products, errors = _map(config, [row])
    assert errors == []
    product = products[0]
    assert (product.variants[0].sku, product.variants[0].prices[0].gross) == ("S-1", Decimal("19.9"))
    assert (product.tags, product.active, product.variants[0].stock) == (("x", "y"), False, 5)


def test_check_mapping_reports_a_sample_and_every_error() -> None:
    config = MappingConfig.model_validate(CATALOG_CONFIG | {"options": {"Color": "colour"}})
    rows: list[Record] = [_catalog_row(n, f"P{n}", f"S{n}", colour="Red") for n in range(2, 8)]
    rows.append(_catalog_row(8, "P8", "S8", price="x"))
    report = check_mapping(config, rows, limit=2)
    assert (report.rows, report.products_mapped, report.variants_mapped) == (7, 6, 6)
    assert [p["key"] for p in report.products] == ["erp_files:product:P2", "erp_files:product:P3"]
    sample = report.products[0]
    assert sample["title"] == "Title P2"
    assert sample["variants"] == [
        {
            "sku": "S2",
            "price": "1019.9",
            "compareAtPrice": None,
            "currency": "EUR",
            "barcode": "4006381333931",
            "weight_kg": "0.25",
            "inventory": 0,
            "options": {"Color": "Red"},
        }
    ]
    assert [(e.line, e.column) for e in report.errors] == [(8, "price")]
    assert report.missing_sources == []
    report = check_mapping(
        MappingConfig.model_validate(CATALOG_CONFIG | {"options": {"Color": "farbe"}}), rows
    )
    assert report.missing_sources == ["farbe"]
    assert report.model_dump_json()  # plain JSON for the CLI


# --- variant metafields, images, stock per location ---------------------------------------------------------

FIT = {"namespace": "custom", "key": "fit", "type": "single_line_text_field", "source": "fit"}
IMG = "https://img.example.com"


def test_variant_metafields_come_from_each_row() -> None:
    config = _config(
        group_by="parent",
        options={"Size": "size"},
        variant_metafields=[
            FIT,
            {"namespace": "custom", "key": "rank", "type": "number_integer", "source": "r"},
        ],
    )
    products, errors = _map(
        config,
        [
            _row(2, parent="P", title="Tee", sku="A", size="S", fit="slim", r="1"),
            _row(3, parent="P", title="Tee", sku="B", size="M", fit="", r="2"),
            _row(4, parent="P", title="Tee", sku="C", size="L", fit="x", r="two"),
        ],
    )
    assert [(e.line, e.column) for e in errors] == [(4, "r")]
    assert "variant metafield custom.rank (number_integer)" in errors[0].reason
    first, second = products[0].variants
    assert [(m.key, m.value) for m in first.metafields] == [("fit", "slim"), ("rank", "1")]
    assert [(m.key, m.value) for m in second.metafields] == [("rank", "2")], "a blank value is left out"
    assert products[0].metafields == (), "not product metafields"
    with pytest.raises(ValidationError, match=r"variant metafield\(s\) mapped twice: custom\.fit"):
        _config(variant_metafields=[FIT, FIT])
    assert _config(metafields=[FIT], variant_metafields=[FIT]).variant_metafields, "owners differ"


def test_images_keep_their_order_and_variant_images_follow() -> None:
    config = _config(
        group_by="parent",
        options={"Color": "color"},
        images={"source": "images", "transforms": [{"split": "|"}, "trim"], "alt": "alts"},
        variant_image="vimg",
    )
    products, errors = _map(
        config,
        [
            _row(
                2,
                parent="P",
                title="Tee",
                sku="A",
                color="Red",
                images=f"{IMG}/2.jpg | {IMG}/1.jpg | {IMG}/2.jpg",
                alts=["Back", "Front"],
                vimg=f"{IMG}/red.jpg",
            ),
            _row(3, parent="P", title="Tee", sku="B", color="Blue", vimg=f"{IMG}/1.jpg"),
            _row(4, parent="P", title="Tee", sku="C", color="Lime", vimg="/local/lime.jpg"),
            _row(5, parent="Q", title="Mug", sku="D", color="Red", images="ftp://x/mug.jpg"),
        ],
    )
    assert [(e.line, e.column, e.reason) for e in errors] == [
        (4, "vimg", "variant_image: an image needs an http(s) URL, got '/local/lime.jpg'"),
        (5, "images", "an image needs an http(s) URL, got 'ftp://x/mug.jpg'"),
    ]
    (tee,) = products
    assert [(m.url, m.alt, m.position) for m in tee.media] == [
        (f"{IMG}/2.jpg", "Back", 0),
        (f"{IMG}/1.jpg", "Front", 1),
        (f"{IMG}/red.jpg", "", 2),
    ], "the product's images in order, each once; a variant's own image after them"
    assert [v.media_keys for v in tee.variants] == [(f"{IMG}/red.jpg",), (f"{IMG}/1.jpg",)]
    one_alt = _config(images={"source": "images", "alt": "title"})
    (mug,), _ = _map(one_alt, [_row(2, title="Mug", sku="M", images=[f"{IMG}/m.jpg", f"{IMG}/n.jpg"])])
    assert [m.alt for m in mug.media] == ["Mug", "Mug"], "one text for every image"
    (plain,), _ = _map(one_alt, [_row(2, title="Mug", sku="M", images="")])
    assert plain.media == ()


def test_stock_per_location_from_a_column_each() -> None:
    config = _config(
        inventory_by_location={
            "Main warehouse": {"source": "main", "transforms": ["integer"]},
            "gid://shopify/Location/2": "berlin",
        }
    )
    products, errors = _map(
        config,
        [
            _row(2, title="Tee", sku="A", main="3", berlin=4),
            _row(3, title="Mug", sku="B", main="5", berlin=""),
            _row(4, title="Cap", sku="C", main="-", berlin=1),
        ],
    )
    assert [(e.line, e.column) for e in errors] == [(4, "main")]
    assert errors[0].reason.startswith("inventory at Main warehouse: unparsable number")
    tee, mug = (p.variants[0] for p in products)
    assert [(s.location, s.quantity) for s in tee.stock_by_location] == [
        ("Main warehouse", 3),
        ("gid://shopify/Location/2", 4),
    ]
    assert tee.stock == 7, "the sum, for what shows one figure"
    assert [(s.location, s.quantity) for s in mug.stock_by_location] == [("Main warehouse", 5)], (
        "a blank figure leaves that location alone"
    )


def test_stock_at_the_location_a_column_names() -> None:
    config = _config(
        fields={"inventory": {"source": "stock", "transforms": ["integer"]}}, inventory_location="warehouse"
    )
    products, errors = _map(
        config,
        [
            _row(2, title="Tee", sku="A", stock="3", warehouse="Berlin store"),
            _row(3, title="Mug", sku="B", stock="5", warehouse=""),
            _row(4, title="Cap", sku="C", stock="1", warehouse="gid://shopify/Location/x"),
        ],
    )
    assert [(e.line, e.column) for e in errors] == [(4, "warehouse")]
    tee, mug = (p.variants[0] for p in products)
    assert [(s.location, s.quantity) for s in tee.stock_by_location] == [("Berlin store", 3)]
    assert (mug.stock, mug.stock_by_location) == (5, ()), "no location named: the location_id setting's"


def test_stock_mappings_that_contradict_each_other_are_refused() -> None:
    per_location = {"inventory_by_location": {"Main": "main"}}
    with pytest.raises(ValidationError, match="either per location"):
        _config(fields={"inventory": "stock"}, **per_location)
    with pytest.raises(ValidationError, match="map inventory"):
        _config(inventory_location="warehouse")
    with pytest.raises(ValidationError, match="names a location twice"):
        _config(inventory_by_location={"Main": "a", "main": "b"})
    with pytest.raises(ValidationError, match="not a location GID"):
        _config(inventory_by_location={"gid://shopify/Product/1": "a"})
    with pytest.raises(ValidationError, match="needs a name"):
        _config(inventory_by_location={" ": "a"})


def test_the_new_keys_read_write_and_name_their_sources() -> None:
    text = """
fields: {title: title, variant.sku: sku}
variant_metafields:
  - {namespace: custom, key: fit, type: single_line_text_field, source: fit, transforms: [trim]}
images: {source: images, transforms: [{split: "|"}], alt: {source: alt, transforms: [trim]}}
variant_image: vimg
inventory_by_location:
  Main warehouse: {source: main, transforms: [{default: "0"}, integer]}
  gid://shopify/Location/2: berlin
"""
    config = parse_mapping(text)
    assert config.sources() == ["title", "sku", "fit", "main", "berlin", "images", "alt", "vimg"]
    dumped = dump_mapping(config)
    assert "- split: '|'" in dumped and "- default: '0'" in dumped, "compact transformations"
    assert parse_mapping(dumped) == config


def test_mapped_products_without_the_new_keys_keep_their_stored_hash(tmp_path: Path) -> None:
    """Hashes computed with the code before variant metafields, images and stock per location existed: a
    tenant upgrading re-publishes nothing, and its unchanged file still reads as unchanged."""
    from connector_pipelines.catalog.hashing import content_hash
    from connector_pipelines.sandbox.file_servers import ErpFileLayout, default_mapping, write_erp_catalog
    from connector_pipelines.sources.erp_files import parse_records
    from connector_pipelines.sync.erp_files_shopify import mapping_digest
    from connector_pipelines.tenants.systems import ErpFilesSettings

    file = tmp_path / "p.csv"
    write_erp_catalog(file, products=3, variants=3, seed=3)
    layout = ErpFileLayout()
    settings = ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(tmp_path), "path": file.name} | layout.format_settings()
    )
    with file.open("rb") as stream:
        mapped = map_records(default_mapping(layout), parse_records(stream, file.name, settings))
        products = [p for p in mapped if isinstance(p, Product)]
    assert [content_hash(p.model_dump(mode="json")) for p in products] == [
        "e122d1694358348cbca650d239f3cca4c2cb9a2e3d4ed85789de55540e40ac00",
        "05a35777355e6d9c6ed4482b20ebfa2c4a63d47a6918f2ebcd05db0476e021cf",
        "6192b5f06c42a33f3e37c74a1740c07f8f5c85c9ee59be02f663a3bc5d770b44",
    ]
    variant = products[0].model_dump(mode="json")["variants"][0]
    assert "metafields" not in variant and "stock_by_location" not in variant
    assert mapping_digest(default_mapping(layout)) == (
        "d4c3ffa750d5d1e47abc641d557f4b5cf7223d8c7bb8a80569d663c1652579b3"
    )
    assert mapping_digest(default_mapping(layout, rich=True)) != mapping_digest(default_mapping(layout))
