"""ERP file rows -> canonical products, through a per-tenant mapping file a user can review and version.

The mapping (YAML or JSON, validated by :class:`MappingConfig`) names, for each target field, the source
column (CSV) or dotted JSON path, and a chain of transformations. Rows sharing the ``group_by`` value become
one product with one variant per row; the first good row of a group carries the product fields and
metafields. A bad row becomes a :class:`RowError` (file, line, column, reason) and is skipped; the other
variants of its product go on, and a product whose rows all failed is not emitted.

Example (YAML)::

    currency: EUR
    language: en
    decimal_separator: ","
    group_by: parent_id
    fields:
      title: {source: title, transforms: [trim, required]}
      descriptionHtml: description_html
      tags: {source: tags, transforms: [{split: ","}, trim]}
      status: {source: status, transforms: [lower, {map: {aktiv: active, entwurf: draft}}]}
      variant.sku: {source: sku, transforms: [trim, required]}
      variant.price: {source: price, transforms: [decimal, required]}
      inventory: {source: stock, transforms: [{default: "0"}, integer]}
    options:
      Color: color
      Size: {source: size, values: [S, M, L, XL]}
    metafields:
      - {namespace: custom, key: material, type: single_line_text_field, source: material}
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, TypeAlias

import orjson
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from connector_pipelines.catalog.models import (
    Metafield,
    OptionChoice,
    Price,
    Product,
    Texts,
    Variant,
    source_key,
)
from connector_pipelines.config import connector_home
from connector_pipelines.sources.erp_files import Record, RowError, SourceRow

SYSTEM = "erp_files"

# Shopify's metafield types ("List of data types", shopify.dev). The API takes every value as a string.
METAFIELD_SCALAR_TYPES = frozenset(
    {
        "boolean",
        "color",
        "date",
        "date_time",
        "dimension",
        "id",
        "json",
        "link",
        "money",
        "multi_line_text_field",
        "number_decimal",
        "number_integer",
        "rating",
        "rich_text_field",
        "single_line_text_field",
        "url",
        "volume",
        "weight",
    }
)
METAFIELD_REFERENCE_TYPES = frozenset(
    {
        "article_reference",
        "collection_reference",
        "company_reference",
        "customer_reference",
        "file_reference",
        "metaobject_reference",
        "mixed_reference",
        "page_reference",
        "product_reference",
        "product_taxonomy_value_reference",
        "variant_reference",
    }
)
_LISTABLE = (METAFIELD_REFERENCE_TYPES - {"company_reference"}) | {
    "color",
    "date",
    "date_time",
    "dimension",
    "id",
    "link",
    "number_decimal",
    "number_integer",
    "rating",
    "single_line_text_field",
    "url",
    "volume",
    "weight",
}
METAFIELD_TYPES = METAFIELD_SCALAR_TYPES | METAFIELD_REFERENCE_TYPES | {f"list.{t}" for t in _LISTABLE}
MEASUREMENT_UNITS: dict[str, frozenset[str]] = {
    "dimension": frozenset({"in", "ft", "yd", "mm", "cm", "m"}),
    "volume": frozenset(
        {
            "ml",
            "cl",
            "l",
            "m3",
            "us_fl_oz",
            "us_pt",
            "us_qt",
            "us_gal",
            "imp_fl_oz",
            "imp_pt",
            "imp_qt",
            "imp_gal",
        }
    ),
    "weight": frozenset({"oz", "lb", "g", "kg"}),
}
URL_SCHEMES = ("https:", "http:", "mailto:", "sms:", "tel:")
MAX_METAFIELD_INTEGER = 9_007_199_254_740_991
MAX_WHOLE_NUMBER = 2**63 - 1  # what the snapshot's JSON (orjson) and the database's BIGINT hold
MAX_INVENTORY = 2**31 - 1  # Shopify's quantity is a GraphQL Int: 32 bits
MAX_METAFIELD_DECIMAL = Decimal("9999999999999.999999999")
KG_PER_UNIT = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}

TargetField = Literal[
    "title",
    "descriptionHtml",
    "vendor",
    "productType",
    "tags",
    "status",
    "variant.sku",
    "variant.price",
    "variant.compareAtPrice",
    "variant.barcode",
    "weight",
    "inventory",
]
PRODUCT_TARGETS: tuple[TargetField, ...] = (
    "title",
    "descriptionHtml",
    "vendor",
    "productType",
    "tags",
    "status",
)
ACTIVE_STATUSES = frozenset({"active", "true", "1", "yes"})
INACTIVE_STATUSES = frozenset({"draft", "archived", "unlisted", "inactive", "false", "0", "no"})


def product_key(parent: str) -> str:
    return source_key(SYSTEM, "product", parent)


def variant_key(sku: str) -> str:
    return source_key(SYSTEM, "variant", sku)


class MappingConfigError(ValueError):
    """The mapping file is missing, unreadable or invalid; the message lists every problem."""


# --- configuration ------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Op(BaseModel):
    # YAML turns `0` and `1.5` into numbers; for a default or a value map they are text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class TrimOp(_Op):
    op: Literal["trim"]


class LowerOp(_Op):
    op: Literal["lower"]


class UpperOp(_Op):
    op: Literal["upper"]


class RequiredOp(_Op):
    op: Literal["required"]


class DecimalOp(_Op):
    op: Literal["decimal"]
    decimal_separator: Literal[".", ","] | None = Field(None, description="default: the mapping's")


class IntegerOp(_Op):
    op: Literal["integer"]
    decimal_separator: Literal[".", ","] | None = Field(None, description="default: the mapping's")


class DefaultOp(_Op):
    op: Literal["default"]
    value: str


class SplitOp(_Op):
    op: Literal["split"]
    separator: str = Field(min_length=1)


class JoinOp(_Op):
    op: Literal["join"]
    separator: str


class MapOp(_Op):
    op: Literal["map"]
    values: dict[str, str]
    other: Literal["error", "keep", "blank"] = Field(
        "error", description="what a value not in the map becomes"
    )


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def _template_parts(template: str) -> list[str | tuple[str]]:
    """Literal text and (source,) placeholders; '{{' and '}}' are literal braces."""
    parts: list[str | tuple[str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            parts.append(template[position : match.start()])
        token = match.group()
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif token in ("{", "}"):
            raise ValueError(f"unbalanced '{token}' at position {match.start()} (write '{token * 2}')")
        else:
            name = (match.group(1) or "").strip()
            if not name:
                raise ValueError("empty placeholder '{}'")
            parts.append((name,))
        position = match.end()
    if position < len(template):
        parts.append(template[position:])
    return parts


class TemplateOp(_Op):
    op: Literal["template"]
    template: str = Field(description="text with {column} or {json.path} placeholders")

    @field_validator("template")
    @classmethod
    def _parses(cls, value: str) -> str:
        _template_parts(value)
        return value


Transform = Annotated[
    TrimOp
    | LowerOp
    | UpperOp
    | RequiredOp
    | DecimalOp
    | IntegerOp
    | DefaultOp
    | SplitOp
    | JoinOp
    | MapOp
    | TemplateOp,
    Field(discriminator="op"),
]
_PRIMARY_ARGUMENT = {
    "decimal": "decimal_separator",
    "integer": "decimal_separator",
    "default": "value",
    "split": "separator",
    "join": "separator",
    "map": "values",
    "template": "template",
}


def _expand_transform(item: object) -> object:
    """Compact spellings: ``trim`` -> {op: trim}; ``{split: ","}`` -> {op: split, separator: ","};
    ``{map: {a: b}}`` -> {op: map, values: {a: b}}; ``{map: {values: ..., other: keep}}`` stays whole."""
    if isinstance(item, str):
        return {"op": item}
    if isinstance(item, dict) and "op" not in item and len(item) == 1:
        ((name, argument),) = item.items()
        full_form = isinstance(argument, dict) and not (name == "map" and "values" not in argument)
        if full_form:
            return {"op": name, **argument}
        if name in _PRIMARY_ARGUMENT:
            return {"op": name, _PRIMARY_ARGUMENT[name]: argument}
        return {"op": name, "argument": argument}
    return item


def _expand_transforms(value: object) -> object:
    return [_expand_transform(item) for item in value] if isinstance(value, list) else value


Transforms = Annotated[list[Transform], BeforeValidator(_expand_transforms)]


def _source_shorthand(value: object) -> object:
    return {"source": value} if isinstance(value, str) else value


class FieldRule(_Model):
    source: str | None = Field(None, description="CSV column or dotted JSON path (a.b, a.b[0].c)")
    transforms: Transforms = Field(default_factory=list)


class OptionRule(_Model):
    source: str
    transforms: Transforms = Field(default_factory=list)
    values: list[str] | None = Field(None, description="allowed values; any other is an unknown option value")


class MetafieldRule(_Model):
    namespace: str = Field(pattern=r"^(?:\$app(?::[A-Za-z0-9_-]+)?|[A-Za-z0-9_-]{2,255})$")
    key: str = Field(pattern=r"^[A-Za-z0-9_-]{2,64}$")
    type: str = Field(description="a Shopify metafield type, e.g. single_line_text_field, list.color")
    source: str | None = None
    transforms: Transforms = Field(default_factory=list)
    unit: str | None = Field(None, description="dimension / volume / weight: unit of values that carry none")
    scale_min: Decimal | None = Field(None, description="rating: lowest value")
    scale_max: Decimal | None = Field(None, description="rating: highest value")
    date_format: str | None = Field(None, description="date / date_time: strptime format; default ISO 8601")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in METAFIELD_TYPES:
            close = difflib.get_close_matches(value, sorted(METAFIELD_TYPES), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown Shopify metafield type {value!r}{hint}")
        return value

    @property
    def base_type(self) -> str:
        return self.type.removeprefix("list.")

    @model_validator(mode="after")
    def _type_options(self) -> MetafieldRule:
        base = self.base_type
        if self.unit is not None and self.unit not in MEASUREMENT_UNITS.get(base, frozenset()):
            allowed = sorted(MEASUREMENT_UNITS.get(base, ()))
            raise ValueError(
                f"unit {self.unit!r} does not fit {self.type}"
                + (f" (allowed: {', '.join(allowed)})" if allowed else " (only dimension, volume, weight)")
            )
        if base == "rating":
            if self.scale_min is None or self.scale_max is None or self.scale_min >= self.scale_max:
                raise ValueError("rating needs scale_min < scale_max")
        elif self.scale_min is not None or self.scale_max is not None:
            raise ValueError("scale_min / scale_max apply to rating only")
        if self.date_format is not None and base not in ("date", "date_time"):
            raise ValueError("date_format applies to date and date_time only")
        return self


class MappingConfig(_Model):
    """A tenant's mapping of ERP file rows to products and variants."""

    version: Literal[1] = 1
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="currency of every price in the file")
    language: str = Field("en", pattern=r"^[a-z]{2}$", description="language of titles and descriptions")
    decimal_separator: Literal[".", ","] = "."
    weight_unit: Literal["kg", "g", "lb", "oz"] = Field("kg", description="unit of the weight column")
    group_by: str | None = Field(
        None, description="parent column: rows sharing it are one product's variants"
    )
    group_order: Literal["contiguous", "any"] = Field(
        "contiguous",
        description="contiguous: a product's rows are adjacent (streams); any: rows may be anywhere "
        "(holds the mapped catalog in memory until the file ends)",
    )
    fields: dict[TargetField, Annotated[FieldRule, BeforeValidator(_source_shorthand)]]
    options: dict[str, Annotated[OptionRule, BeforeValidator(_source_shorthand)]] = Field(
        default_factory=dict
    )
    metafields: list[MetafieldRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> MappingConfig:
        missing = [t for t in ("title", "variant.sku") if t not in self.fields]
        if missing:
            raise ValueError(f"fields must map {' and '.join(missing)}")
        if len(self.options) > 3:
            raise ValueError("Shopify products have at most 3 options")
        names = [name.strip().lower() for name in self.options]
        if "" in names or len(set(names)) != len(names):
            raise ValueError("option names must be non-empty and distinct")
        ids = [(m.namespace, m.key) for m in self.metafields]
        duplicates = sorted({f"{ns}.{key}" for ns, key in ids if ids.count((ns, key)) > 1})
        if duplicates:
            raise ValueError(f"metafield(s) mapped twice: {', '.join(duplicates)}")
        return self

    def sources(self) -> list[str]:
        """Every column / JSON path the mapping reads (for checks against a file)."""
        found: list[str] = [self.group_by] if self.group_by else []
        rules: list[FieldRule | OptionRule | MetafieldRule] = [
            *self.fields.values(),
            *self.options.values(),
            *self.metafields,
        ]
        for rule in rules:
            if rule.source:
                found.append(rule.source)
            for op in rule.transforms:
                if isinstance(op, TemplateOp):
                    found.extend(p[0] for p in _template_parts(op.template) if isinstance(p, tuple))
        return list(dict.fromkeys(found))


def mapping_path(mapping_file: str) -> Path:
    """Where a tenant's ``mapping_file`` setting points: relative paths are below CONNECTOR_HOME."""
    path = Path(mapping_file)
    return path if path.is_absolute() else connector_home() / path


def parse_mapping(
    text: str, *, name: str = "mapping", fmt: Literal["yaml", "json"] = "yaml"
) -> MappingConfig:
    try:
        document: object = orjson.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise MappingConfigError(f"{name}: not valid {fmt.upper()}: {exc}") from None
    try:
        return MappingConfig.model_validate(document)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise MappingConfigError(f"{name}: invalid mapping:\n{problems}") from None


def load_mapping(path: str | Path) -> MappingConfig:
    """Read a mapping file: ``.json`` is JSON, anything else YAML (a superset of JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingConfigError(f"cannot read the mapping file {path}: {exc.strerror}") from None
    return parse_mapping(text, name=str(path), fmt="json" if path.suffix.lower() == ".json" else "yaml")


def _compact_op(op: dict[str, object]) -> object:
    name = op.pop("op")
    if not op:
        return name
    primary = _PRIMARY_ARGUMENT.get(str(name))
    if primary is not None and list(op) == [primary]:
        return {name: op[primary]}
    return {name: op}


def dump_mapping(config: MappingConfig) -> str:
    """The mapping as reviewable YAML, transformations in their compact spelling."""
    document = config.model_dump(mode="json", exclude_defaults=True)
    rules: list[dict[str, object]] = [
        *document.get("fields", {}).values(),
        *document.get("options", {}).values(),
        *document.get("metafields", []),
    ]
    for rule in rules:
        if "transforms" in rule and isinstance(rule["transforms"], list):
            rule["transforms"] = [_compact_op(dict(op)) for op in rule["transforms"]]
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    return text


def write_mapping(config: MappingConfig, path: str | Path) -> Path:
    path = Path(path)
    text = config.model_dump_json(indent=2) if path.suffix.lower() == ".json" else dump_mapping(config)
    path.write_text(text, encoding="utf-8")
    return path


# --- values and transformations -----------------------------------------------------------------------------

Value: TypeAlias = JsonValue | Decimal
Row: TypeAlias = Mapping[str, JsonValue]
Step: TypeAlias = Callable[[Value, Row], Value]
Getter: TypeAlias = Callable[[Row], JsonValue]


class FieldProblem(ValueError):
    """A value that cannot be mapped; becomes a row error naming the rule's column."""


def is_blank(value: Value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    return isinstance(value, list | dict) and not value


def plain_decimal(value: Decimal) -> str:
    """Decimal text without exponent or trailing zeros beyond the value (``1E+2`` -> ``100``)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def as_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, float):
        return plain_decimal(Decimal(repr(value)))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def make_getter(source: str) -> Getter:
    """Reads a column, or walks a dotted JSON path (``a.b``, ``a.b[0].c``, ``a.b.0.c``) when no column has
    that exact name."""
    if not any(c in source for c in ".["):
        return lambda row: row.get(source)
    tokens: list[str | int] = [name if name else int(index) for name, index in _PATH_TOKEN.findall(source)]

    def get(row: Row) -> JsonValue:
        if source in row:
            return row[source]
        first, *rest = tokens
        current: JsonValue = row.get(str(first))
        for token in rest:
            if isinstance(current, dict):
                current = current.get(str(token))
            elif isinstance(current, list) and str(token).isdigit() and int(token) < len(current):
                current = current[int(token)]
            else:
                return None
        return current

    return get


class NumberParser:
    """Locale-aware numbers: with decimal separator ',' the text "1.234,56" is 1234.56, with '.' the text
    "1,234.56" is. Thousands groups must have three digits, so "12,5" under '.' is an error, not 125."""

    def __init__(self, decimal_separator: Literal[".", ","]) -> None:
        self.separator = decimal_separator
        sep = re.escape(decimal_separator)
        thousands = "[.' \u00a0\u202f]" if decimal_separator == "," else "[,' \u00a0\u202f]"
        self._simple = re.compile(rf"-?\d+(?:{sep}\d+)?")
        self._plain = re.compile(rf"([+-]?)(\d*)(?:{sep}(\d*))?")
        self._grouped = re.compile(
            rf"([+-]?)(\d{{1,3}}(?P<t>{thousands})\d{{3}}(?:(?P=t)\d{{3}})*)(?:{sep}(\d*))?"
        )

    def parse(self, text: str) -> Decimal:
        stripped = text.strip()
        if self._simple.fullmatch(stripped):  # the common case, e.g. "19.99" / "19,99"
            return Decimal(stripped if self.separator == "." else stripped.replace(",", "."))
        match = self._plain.fullmatch(stripped)
        if match and (match.group(2) or match.group(3)):
            sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or "0"
        elif grouped := self._grouped.fullmatch(stripped):
            sign, whole, fraction = (
                grouped.group(1),
                re.sub(r"\D", "", grouped.group(2)),
                grouped.group(4) or "0",
            )
        else:
            raise FieldProblem(f"unparsable number {text!r} (decimal separator {self.separator!r})")
        return (
            Decimal(f"{sign}{whole}.{fraction}") if match is None or match.group(3) else Decimal(sign + whole)
        )

    def decimal(self, value: Value) -> Decimal | None:
        if isinstance(value, str):
            return self.parse(value) if value and not value.isspace() else None
        if isinstance(value, Decimal):
            return value
        if is_blank(value):
            return None
        if isinstance(value, bool):
            raise FieldProblem(f"expected a number, got {as_text(value)}")
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise FieldProblem(f"expected a finite number, got {value}")
            return Decimal(repr(value))
        raise FieldProblem(
            f"expected a single number, got {'a list' if isinstance(value, list) else 'an object'}"
        )

    def integer(self, value: Value) -> int | None:
        number = self.decimal(value)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise FieldProblem(f"{as_text(value)!r} is not a whole number")
        if abs(number) > MAX_WHOLE_NUMBER:  # compared before int(): '1e999999999' must not become an int
            raise FieldProblem(f"{as_text(value)!r} is out of range: whole numbers are 64 bits")
        return int(number)


def _each_text(value: Value, change: Callable[[str], str]) -> Value:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [change(v) if isinstance(v, str) else v for v in value]
    return value


def _compile_op(op: Transform, config: MappingConfig) -> Step:
    match op:
        case TrimOp():
            return lambda value, _row: _each_text(value, str.strip)
        case LowerOp():
            return lambda value, _row: _each_text(value, str.lower)
        case UpperOp():
            return lambda value, _row: _each_text(value, str.upper)
        case RequiredOp():
            return _required
        case DecimalOp(decimal_separator=decimal_separator):
            decimal_parser = NumberParser(decimal_separator or config.decimal_separator)
            return lambda value, _row: decimal_parser.decimal(value)
        case IntegerOp(decimal_separator=integer_separator):
            integer_parser = NumberParser(integer_separator or config.decimal_separator)
            return lambda value, _row: integer_parser.integer(value)
        case DefaultOp(value=default):
            return lambda value, _row: default if is_blank(value) else value
        case SplitOp(separator=split_on):
            return lambda value, _row: _split(value, split_on)
        case JoinOp(separator=join_with):
            return lambda value, _row: (
                join_with.join(as_text(v) for v in value) if isinstance(value, list) else value
            )
        case MapOp():
            return _value_map(op)
        case TemplateOp(template=template):
            return _template(template)


def _required(value: Value, _row: Row) -> Value:
    if is_blank(value):
        raise FieldProblem("required value missing")
    return value


def _split(value: Value, separator: str) -> Value:
    if isinstance(value, str):
        return [part for part in value.split(separator) if part.strip()]
    if isinstance(value, list):
        return [part for item in value for part in as_text(item).split(separator) if part.strip()]
    return value


def _value_map(op: MapOp) -> Step:
    known = ", ".join(sorted(op.values)[:10]) + (", ..." if len(op.values) > 10 else "")

    def one(item: JsonValue | Decimal) -> JsonValue:
        text = as_text(item)
        if text in op.values:
            return op.values[text]
        if op.other == "keep":
            return item if not isinstance(item, Decimal) else text
        if op.other == "blank":
            return None
        raise FieldProblem(f"unknown value {text!r} (mapped: {known})")

    def apply(value: Value, _row: Row) -> Value:
        if is_blank(value):
            return value
        if isinstance(value, list):
            return [one(item) for item in value]
        return one(value)

    return apply


def _template(template: str) -> Step:
    parts: list[str | Getter] = [
        p if isinstance(p, str) else make_getter(p[0]) for p in _template_parts(template)
    ]

    def render(_value: Value, row: Row) -> Value:
        return "".join(p if isinstance(p, str) else as_text(p(row)) for p in parts)

    return render


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    column: str  # what a row error names: the source, or the target when it has none
    get: Getter | None
    steps: tuple[Step, ...]

    def __call__(self, row: Row) -> Value:
        value: Value = self.get(row) if self.get is not None else None
        for step in self.steps:
            value = step(value, row)
        return value


def _compile(
    target: str, source: str | None, transforms: list[Transform], config: MappingConfig
) -> _CompiledRule:
    return _CompiledRule(
        column=source or target,
        get=make_getter(source) if source else None,
        steps=tuple(_compile_op(op, config) for op in transforms),
    )


# --- metafield values ---------------------------------------------------------------------------------------

_GID = re.compile(r"gid://shopify/[A-Za-z]+/[^/\s]+")
_COLOR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_MEASURE = re.compile(r"(.*?)\s*([A-Za-z][A-Za-z0-9_]*)")


def _json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class MetafieldCoercer:
    """Turns a mapped value into the string Shopify stores for the metafield's type."""

    def __init__(self, rule: MetafieldRule, config: MappingConfig) -> None:
        self.rule = rule
        self.currency = config.currency
        self.numbers = NumberParser(config.decimal_separator)
        converters: dict[str, Callable[[Value], JsonValue]] = {
            "boolean": self._to_boolean,
            "color": self._to_color,
            "date": self._to_date,
            "date_time": self._to_date_time,
            "dimension": lambda value: self._measure(value, "dimension"),
            "id": self._to_single_line_text_field,
            "json": self._to_json,
            "link": self._to_link,
            "money": self._to_money,
            "multi_line_text_field": as_text,
            "number_decimal": self._to_number_decimal,
            "number_integer": self._to_number_integer,
            "rating": self._to_rating,
            "rich_text_field": self._to_rich_text_field,
            "single_line_text_field": self._to_single_line_text_field,
            "url": self._to_url,
            "volume": lambda value: self._measure(value, "volume"),
            "weight": lambda value: self._measure(value, "weight"),
        }
        # Reference types have no converter: _element checks their GID.
        self._convert = converters.get(rule.base_type, as_text)

    def __call__(self, value: Value) -> str | None:
        """None when the value is blank: the metafield is left out."""
        if is_blank(value):
            return None
        if not self.rule.type.startswith("list."):
            return self._scalar_text(self._element(value))
        items: list[Value]
        if isinstance(value, list):
            items = list(value)
        elif isinstance(value, str) and value.lstrip().startswith("["):
            parsed = self._json(value, "a JSON array")
            if not isinstance(parsed, list):
                raise FieldProblem("expected a JSON array")
            items = list(parsed)
        else:
            items = [value]
        elements = [self._element(item) for item in items if not is_blank(item)]
        return _json_text(elements) if elements else None

    @staticmethod
    def _scalar_text(element: JsonValue) -> str:
        if isinstance(element, str):
            return element
        if isinstance(element, bool):
            return "true" if element else "false"
        if isinstance(element, int):
            return str(element)
        return _json_text(element)

    @staticmethod
    def _json(text: str, what: str) -> JsonValue:
        try:
            parsed: JsonValue = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldProblem(f"expected {what}: {exc.msg}") from None
        return parsed

    def _element(self, value: Value) -> JsonValue:
        base = self.rule.base_type
        if base in METAFIELD_REFERENCE_TYPES:
            text = as_text(value).strip()
            if not _GID.fullmatch(text):
                raise FieldProblem(f"{base} needs a Shopify GID (gid://shopify/Type/id), got {text!r}")
            return text
        return self._convert(value)

    def _to_single_line_text_field(self, value: Value) -> JsonValue:
        text = as_text(value)
        if "\n" in text or "\r" in text:
            raise FieldProblem("single_line_text_field cannot hold a line break")
        return text

    def _to_boolean(self, value: Value) -> JsonValue:
        if isinstance(value, bool):
            return value
        text = as_text(value).strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
        raise FieldProblem(f"boolean expects true/false/yes/no/1/0, got {as_text(value)!r}")

    def _to_number_integer(self, value: Value) -> JsonValue:
        number = self.numbers.integer(value)
        assert number is not None  # blank values never get here
        if abs(number) > MAX_METAFIELD_INTEGER:
            raise FieldProblem(f"number_integer out of range: {number}")
        return number

    def _to_number_decimal(self, value: Value) -> JsonValue:
        number = self.numbers.decimal(value)
        assert number is not None
        exponent = number.as_tuple().exponent
        if abs(number) > MAX_METAFIELD_DECIMAL or (isinstance(exponent, int) and exponent < -9):
            raise FieldProblem(f"number_decimal out of range or with more than 9 decimals: {as_text(number)}")
        return plain_decimal(number)

    def _to_date(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        try:
            if self.rule.date_format:
                return datetime.strptime(text, self.rule.date_format).date().isoformat()
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldProblem(
                f"unparsable date {text!r} (expected {self.rule.date_format or 'YYYY-MM-DD'})"
            ) from None

    def _to_date_time(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        try:
            moment = (
                datetime.strptime(text, self.rule.date_format)
                if self.rule.date_format
                else datetime.fromisoformat(text)
            )
        except ValueError:
            raise FieldProblem(
                f"unparsable date and time {text!r} (expected {self.rule.date_format or 'ISO 8601'})"
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(
                tzinfo=None
            )  # Shopify stores date_time without a zone, as UTC
        return moment.isoformat(timespec="seconds")

    def _to_color(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        match = _COLOR.fullmatch(text)
        if not match:
            raise FieldProblem(f"color expects #RRGGBB, got {text!r}")
        digits = match.group(1)
        return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits)).lower()

    def _to_url(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        if not text.lower().startswith(URL_SCHEMES) or len(text.split(":", 1)[1].lstrip("/")) == 0:
            raise FieldProblem(
                f"url needs one of the schemes {', '.join(s[:-1] for s in URL_SCHEMES)}: {text!r}"
            )
        return text

    def _object(self, value: Value, what: str) -> dict[str, JsonValue]:
        parsed = self._json(value, what) if isinstance(value, str) else value
        if not isinstance(parsed, dict):
            raise FieldProblem(f"expected {what}")
        return parsed

    def _to_json(self, value: Value) -> JsonValue:
        if isinstance(value, str):
            parsed = self._json(value, "JSON")
            return _json_text(parsed)
        return _json_text(float(value) if isinstance(value, Decimal) else value)

    def _to_link(self, value: Value) -> JsonValue:
        link = self._object(value, 'a link object {"text": ..., "url": ...}')
        url = self._to_url(as_text(link.get("url")))
        return {"text": as_text(link.get("text")), "url": url}

    def _to_rich_text_field(self, value: Value) -> JsonValue:
        text = as_text(value)
        if not text.lstrip().startswith("{"):
            # Plain text becomes one paragraph of Shopify's rich text document.
            paragraph = {"type": "paragraph", "children": [{"type": "text", "value": text}]}
            return _json_text({"type": "root", "children": [paragraph]})
        document = self._object(text, "a rich text JSON document")
        if document.get("type") != "root":
            raise FieldProblem('rich_text_field needs a document with "type": "root"')
        return _json_text(document)

    def _to_money(self, value: Value) -> JsonValue:
        amount = self.numbers.decimal(value)
        assert amount is not None
        return {"amount": plain_decimal(amount), "currency_code": self.currency}

    def _measure(self, value: Value, kind: str) -> JsonValue:
        unit = self.rule.unit
        number: Decimal | None
        if isinstance(value, str) and (match := _MEASURE.fullmatch(value.strip())):
            number, unit = self.numbers.decimal(match.group(1)), match.group(2).lower()
        else:
            number = self.numbers.decimal(value)
        if unit is None:
            raise FieldProblem(f"{kind} needs a unit: in the value (e.g. '2.5 kg') or the rule's unit")
        if unit not in MEASUREMENT_UNITS[kind]:
            raise FieldProblem(
                f"unknown {kind} unit {unit!r} (allowed: {', '.join(sorted(MEASUREMENT_UNITS[kind]))})"
            )
        assert number is not None
        return {"value": float(number), "unit": unit}

    def _to_rating(self, value: Value) -> JsonValue:
        number = self.numbers.decimal(value)
        low, high = self.rule.scale_min, self.rule.scale_max
        # The rule's validator requires the scale; blank values never get here.
        assert number is not None
        assert low is not None
        assert high is not None
        if not low <= number <= high:
            raise FieldProblem(f"rating {as_text(number)} outside {as_text(low)}..{as_text(high)}")
        return {
            "value": plain_decimal(number),
            "scale_min": plain_decimal(low),
            "scale_max": plain_decimal(high),
        }


# --- products -----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _ProductFields:
    texts: Texts
    active: bool
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    metafields: tuple[Metafield, ...]


@dataclass(slots=True)
class _PendingVariant:
    file: str
    line: int
    sku: str
    barcode: str
    prices: tuple[Price, ...]
    stock: int
    weight_kg: Decimal | None
    options: dict[str, str]


@dataclass(slots=True)
class _PendingProduct:
    parent: str
    key: str
    fields: _ProductFields | None = None
    variants: list[_PendingVariant] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Spec:
    """One value of a row: read and transform (the rule), then convert to what the target takes."""

    name: str
    column: str
    evaluate: Callable[[Row], Value]
    convert: Callable[[Value], Value]
    label: str  # prefix of a problem's reason: the target, when the column does not already say it


def _no_value(_row: Row) -> Value:
    return None


def _evaluator(rule: _CompiledRule | None) -> Callable[[Row], Value]:
    if rule is None:
        return _no_value
    if not rule.steps and rule.get is not None:
        return rule.get
    return rule


def _spec(
    name: str, rule: _CompiledRule | None, convert: Callable[[Value], Value], label: str | None = None
) -> _Spec:
    column = rule.column if rule is not None else name
    if label is None:
        label = "" if column == name else f"{name}: "
    return _Spec(name, column, _evaluator(rule), convert, label)


def _evaluate(specs: Sequence[_Spec], row: SourceRow, key: str, errors: list[RowError]) -> list[Value]:
    """The specs' values for a row; a problem becomes a row error and the value None."""
    data = row.data
    values: list[Value] = []
    for spec in specs:
        try:
            value = spec.convert(spec.evaluate(data))
        except FieldProblem as exc:
            errors.append(RowError(row.file, row.line, spec.column, f"{spec.label}{exc}", key))
            value = None
        values.append(value)
    return values


def _text(value: Value) -> Value:
    return as_text(value).strip()


def _required_text(value: Value) -> Value:
    text = as_text(value).strip()
    if not text:
        raise FieldProblem("required value missing")
    return text


def _tags(value: Value) -> Value:
    items = value if isinstance(value, list) else as_text(value).split(",")
    return list(dict.fromkeys(tag for tag in (as_text(item).strip() for item in items) if tag))


def _active(value: Value) -> Value:
    if is_blank(value):
        return True
    if isinstance(value, bool):
        return value
    text = as_text(value).strip().lower()
    if text in ACTIVE_STATUSES:
        return True
    if text in INACTIVE_STATUSES:
        return False
    raise FieldProblem(f"unknown status {as_text(value)!r} (expected active, draft, archived, true or false)")


class ProductMapper:
    """Maps a stream of records to products, streaming: with ``group_order: contiguous`` only the product
    being assembled is held; SKUs seen are remembered to report duplicates."""

    def __init__(self, config: MappingConfig) -> None:
        self.config = config
        self.numbers = NumberParser(config.decimal_separator)
        rules = {t: _compile(t, rule.source, rule.transforms, config) for t, rule in config.fields.items()}
        weight_factor = KG_PER_UNIT[config.weight_unit]

        def weight(value: Value) -> Value:
            kilograms = self._amount(value)
            return kilograms * weight_factor if kilograms is not None and weight_factor != 1 else kilograms

        # Order matters: _add unpacks the values in this order.
        self._variant_specs = [
            _spec("variant.sku", rules.get("variant.sku"), _required_text),
            _spec("variant.price", rules.get("variant.price"), self._amount),
            _spec("variant.compareAtPrice", rules.get("variant.compareAtPrice"), self._amount),
            _spec("weight", rules.get("weight"), weight),
            _spec("inventory", rules.get("inventory"), self._inventory),
            _spec("variant.barcode", rules.get("variant.barcode"), _text),
        ]
        self._product_specs = [
            _spec("title", rules.get("title"), _required_text),
            _spec("descriptionHtml", rules.get("descriptionHtml"), as_text),
            _spec("vendor", rules.get("vendor"), _text),
            _spec("productType", rules.get("productType"), _text),
            _spec("tags", rules.get("tags"), _tags),
            _spec("status", rules.get("status"), _active),
        ]
        self._option_specs = [
            _spec(
                name,
                _compile(name, rule.source, rule.transforms, config),
                self._option_check(frozenset(rule.values) if rule.values is not None else None),
                label=f"option {name}: ",
            )
            for name, rule in config.options.items()
        ]
        self._metafields = list(config.metafields)
        self._metafield_specs = [
            _spec(
                f"metafield {m.namespace}.{m.key} ({m.type})",
                _compile(f"{m.namespace}.{m.key}", m.source, m.transforms, config),
                MetafieldCoercer(m, config),
            )
            for m in config.metafields
        ]
        self._group = make_getter(config.group_by) if config.group_by else None
        self._sku_column = self._variant_specs[0].column
        self._skus: dict[str, int] = {}
        self._choices: dict[tuple[str, str], OptionChoice] = {}

    def _amount(self, value: Value) -> Decimal | None:
        amount = self.numbers.decimal(value)
        if amount is not None and amount < 0:
            raise FieldProblem(f"must not be negative: {as_text(amount)}")
        return amount

    def _inventory(self, value: Value) -> int | None:
        stock = self.numbers.integer(value)
        if stock is not None and abs(stock) > MAX_INVENTORY:
            raise FieldProblem(f"stock {stock} is out of range: Shopify holds up to {MAX_INVENTORY}")
        return stock

    @staticmethod
    def _option_check(allowed: frozenset[str] | None) -> Callable[[Value], Value]:
        def check(value: Value) -> Value:
            text = as_text(value).strip()
            if text and allowed is not None and text not in allowed:
                raise FieldProblem(f"unknown value {text!r} (allowed: {', '.join(sorted(allowed))})")
            return text

        return check

    def _parent(self, row: SourceRow) -> str | RowError:
        if self._group is None:
            errors: list[RowError] = []
            (sku,) = _evaluate(self._variant_specs[:1], row, "", errors)
            return errors[0] if errors else str(sku)
        parent = as_text(self._group(row.data)).strip()
        return parent or RowError(
            row.file, row.line, self.config.group_by or "", "missing parent (group_by) value"
        )

    def map(self, records: Iterable[Record]) -> Iterator[Product | RowError]:
        contiguous = self.config.group_order == "contiguous"
        pending: dict[str, _PendingProduct] = {}
        completed: set[str] = set()
        current: _PendingProduct | None = None
        for record in records:
            if isinstance(record, RowError):
                yield record
                continue
            parent = self._parent(record)
            if isinstance(parent, RowError):
                yield parent
                continue
            if not contiguous:
                group = pending.get(parent)
                if group is None:
                    group = pending[parent] = _PendingProduct(parent, product_key(parent))
            else:
                if current is not None and current.parent != parent:
                    completed.add(current.parent)
                    yield from self._finish(current)
                    current = None
                if parent in completed:
                    yield RowError(
                        record.file,
                        record.line,
                        self.config.group_by or self._sku_column,
                        f"rows of product {parent!r} are not adjacent; sort the file by "
                        f"{self.config.group_by or 'SKU'} or set group_order: any",
                        product_key(parent),
                    )
                    continue
                group = current = current or _PendingProduct(parent, product_key(parent))
            yield from self._add(group, record)
        if current is not None:
            yield from self._finish(current)
        for group in pending.values():
            yield from self._finish(group)

    def _add(self, group: _PendingProduct, row: SourceRow) -> Iterator[RowError]:
        key = group.key
        errors: list[RowError] = []
        sku, price, compare, weight, stock, barcode = _evaluate(self._variant_specs, row, key, errors)
        if isinstance(sku, str):
            first_line = self._skus.setdefault(sku, row.line)
            if first_line != row.line:
                errors.append(
                    RowError(
                        row.file,
                        row.line,
                        self._sku_column,
                        f"duplicate SKU {sku!r} (first at line {first_line})",
                        key,
                    )
                )
        option_values = _evaluate(self._option_specs, row, key, errors)
        fields = self._product_fields(row, key, errors) if group.fields is None else None
        if errors:
            yield from errors
            return
        assert isinstance(sku, str)
        assert isinstance(price, Decimal | None)
        assert isinstance(compare, Decimal | None)
        assert isinstance(weight, Decimal | None)
        assert isinstance(stock, int | None)
        if fields is not None:
            group.fields = fields
        prices = (
            (Price(currency=self.config.currency, gross=price, net=None, list_gross=compare),)
            if price is not None
            else ()
        )
        group.variants.append(
            _PendingVariant(
                file=row.file,
                line=row.line,
                sku=sku,
                barcode=as_text(barcode),
                prices=prices,
                stock=stock or 0,
                weight_kg=weight,
                options={
                    spec.name: str(v) for spec, v in zip(self._option_specs, option_values, strict=True) if v
                },
            )
        )

    def _product_fields(self, row: SourceRow, key: str, errors: list[RowError]) -> _ProductFields | None:
        before = len(errors)
        title, description, vendor, product_type, tags, active = _evaluate(
            self._product_specs, row, key, errors
        )
        metafield_values = _evaluate(self._metafield_specs, row, key, errors)
        if len(errors) > before:
            return None
        assert isinstance(tags, list)
        return _ProductFields(
            texts=Texts(name=as_text(title), description=as_text(description)),
            active=active is not False,
            vendor=as_text(vendor),
            product_type=as_text(product_type),
            tags=tuple(as_text(tag) for tag in tags),
            metafields=tuple(
                Metafield(namespace=rule.namespace, key=rule.key, type=rule.type, value=value)
                for rule, value in zip(self._metafields, metafield_values, strict=True)
                if isinstance(value, str)
            ),
        )

    def _choice(self, name: str, value: str) -> OptionChoice:
        choice = self._choices.get((name, value))
        if choice is None:
            choice = self._choices[(name, value)] = OptionChoice(
                option_key=source_key(SYSTEM, "option", name),
                value_key=source_key(SYSTEM, "option_value", f"{name}:{value}"),
                option_name=name,
                value_name=value,
            )
        return choice

    def _finish(self, group: _PendingProduct) -> Iterator[Product | RowError]:
        """Check the option values of a complete product, then emit it (without its bad variants)."""
        if group.fields is None or not group.variants:
            return
        used = [spec for spec in self._option_specs if any(spec.name in v.options for v in group.variants)]
        kept: list[_PendingVariant] = []
        combinations: dict[tuple[str, ...], _PendingVariant] = {}
        for variant in group.variants:
            missing = next((spec for spec in used if spec.name not in variant.options), None)
            if missing is not None:
                yield RowError(
                    variant.file,
                    variant.line,
                    missing.column,
                    f"option {missing.name}: missing value (other variants of {group.parent!r} have one)",
                    group.key,
                )
                continue
            combination = tuple(variant.options[spec.name] for spec in used)
            twin = combinations.setdefault(combination, variant)
            if twin is not variant:
                column = used[0].column if used else self._sku_column
                what = "the same option values as" if used else "no options to tell it from"
                yield RowError(
                    variant.file,
                    variant.line,
                    column,
                    f"variant has {what} SKU {twin.sku!r} (line {twin.line}) of product {group.parent!r}",
                    group.key,
                )
                continue
            kept.append(variant)
        if not kept:
            return
        fields = group.fields
        yield Product(
            key=group.key,
            texts={self.config.language: fields.texts},
            active=fields.active,
            vendor=fields.vendor,
            product_type=fields.product_type,
            tags=fields.tags,
            metafields=fields.metafields,
            variants=tuple(
                Variant(
                    key=variant_key(v.sku),
                    sku=v.sku,
                    barcode=v.barcode,
                    prices=v.prices,
                    stock=v.stock,
                    options=tuple(self._choice(spec.name, v.options[spec.name]) for spec in used),
                    weight_kg=v.weight_kg,
                    position=position,
                )
                for position, v in enumerate(kept)
            ),
        )


def map_records(config: MappingConfig, records: Iterable[Record]) -> Iterator[Product | RowError]:
    """Products and row errors, in file order (a product follows the errors of its rows)."""
    return ProductMapper(config).map(records)


# --- the mapping check --------------------------------------------------------------------------------------


class RowErrorInfo(BaseModel):
    file: str
    line: int
    column: str
    reason: str
    key: str | None = None


class MappingCheckReport(BaseModel):
    """What ``connector-pipelines mapping check`` shows: a sample of mapped products and every row error."""

    rows: int = Field(description="records read (good and bad)")
    products_mapped: int
    variants_mapped: int
    products: list[dict[str, JsonValue]] = Field(description="the first products, in the mapping's terms")
    errors: list[RowErrorInfo]
    missing_sources: list[str] = Field(description="columns / JSON paths of the mapping that no record has")


def render_product(product: Product) -> dict[str, JsonValue]:
    """A product in the vocabulary of the mapping file (title, descriptionHtml, variant.price, ...)."""
    texts = next(iter(product.texts.values()))
    variants: list[JsonValue] = []
    for variant in product.variants:
        price = variant.prices[0] if variant.prices else None
        variants.append(
            {
                "sku": variant.sku,
                "price": plain_decimal(price.gross) if price else None,
                "compareAtPrice": plain_decimal(price.list_gross)
                if price and price.list_gross is not None
                else None,
                "currency": price.currency if price else None,
                "barcode": variant.barcode,
                "weight_kg": plain_decimal(variant.weight_kg) if variant.weight_kg is not None else None,
                "inventory": variant.stock,
                "options": {choice.option_name: choice.value_name for choice in variant.options},
            }
        )
    metafields: list[JsonValue] = [
        {"namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value} for m in product.metafields
    ]
    return {
        "key": product.key,
        "title": texts.name,
        "descriptionHtml": texts.description,
        "vendor": product.vendor,
        "productType": product.product_type,
        "tags": list(product.tags),
        "status": "active" if product.active else "draft",
        "metafields": metafields,
        "variants": variants,
    }


def check_mapping(config: MappingConfig, rows: Iterable[Record], limit: int = 20) -> MappingCheckReport:
    """Map every record (nothing is written): the first ``limit`` products, and all row errors."""
    seen_keys: set[str] = set()
    count = 0

    def counted() -> Iterator[Record]:
        nonlocal count
        for record in rows:
            count += 1
            if isinstance(record, SourceRow):
                seen_keys.update(record.data)
            yield record

    sample: list[dict[str, JsonValue]] = []
    errors: list[RowErrorInfo] = []
    products = variants = 0
    for item in map_records(config, counted()):
        if isinstance(item, RowError):
            errors.append(
                RowErrorInfo(
                    file=item.file, line=item.line, column=item.column, reason=item.reason, key=item.key
                )
            )
            continue
        products += 1
        variants += len(item.variants)
        if len(sample) < limit:
            sample.append(render_product(item))
    missing = [
        s
        for s in config.sources()
        if s not in seen_keys and str(_PATH_TOKEN.findall(s)[0][0]) not in seen_keys
    ]
    return MappingCheckReport(
        rows=count,
        products_mapped=products,
        variants_mapped=variants,
        products=sample,
        errors=errors,
        missing_sources=missing if count else [],
    )
