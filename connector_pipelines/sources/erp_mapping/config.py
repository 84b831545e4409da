"""The mapping file: which source column (CSV) or dotted JSON path feeds each target field, option and
metafield, through which chain of transformations. YAML or JSON, validated by :class:`MappingConfig`; every
problem of a file is listed in one :class:`MappingConfigError`.

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
    variant_metafields:
      - {namespace: custom, key: fit, type: single_line_text_field, source: fit}
    images: {source: image_urls, transforms: [{split: "|"}, trim], alt: title}
    variant_image: variant_image_url
    inventory_location: warehouse     # the location (Shopify name or GID) of the row's inventory

Stock per location can instead come from a column per location (and then no ``inventory`` field)::

    inventory_by_location:
      Main warehouse: {source: stock_main, transforms: [{default: "0"}, integer]}
      gid://shopify/Location/2: stock_berlin
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import orjson
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connector_pipelines.config import connector_home
from connector_pipelines.errors import PermanentError

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


class MappingConfigError(PermanentError, ValueError):
    """The mapping file is missing, unreadable or invalid; the message lists every problem."""


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


def template_parts(template: str) -> list[str | tuple[str]]:
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
        template_parts(value)
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


class ImagesRule(_Model):
    """Product images by URL (a list, e.g. through ``{split: "|"}``), in order; ``alt`` gives one text for
    every image or a list aligned with the URLs."""

    source: str | None = Field(None, description="column / JSON path of the image URL(s)")
    transforms: Transforms = Field(default_factory=list)
    alt: Annotated[FieldRule, BeforeValidator(_source_shorthand)] | None = None


_LOCATION_GID = re.compile(r"^gid://shopify/Location/\d+$")


def _location_key(value: str) -> str:
    """A location as the mapping names it: Shopify's GID, or the location's name (looked up in the shop)."""
    name = value.strip()
    if not name:
        raise ValueError("a location needs a name or a gid://shopify/Location/<id>")
    if name.startswith("gid://") and not _LOCATION_GID.match(name):
        raise ValueError(f"{name!r} is not a location GID (gid://shopify/Location/<id>)")
    return name


LocationKey = Annotated[str, AfterValidator(_location_key)]


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
    variant_metafields: list[MetafieldRule] = Field(
        default_factory=list, description="metafields of each variant, from its own row"
    )
    images: Annotated[ImagesRule, BeforeValidator(_source_shorthand)] | None = Field(
        None, description="product images by URL, in order"
    )
    variant_image: Annotated[FieldRule, BeforeValidator(_source_shorthand)] | None = Field(
        None, description="URL of the variant's image (added to the product's images when not among them)"
    )
    inventory_by_location: dict[LocationKey, Annotated[FieldRule, BeforeValidator(_source_shorthand)]] = (
        Field(default_factory=dict, description="Shopify location (name or GID) -> the column of its stock")
    )
    inventory_location: Annotated[FieldRule, BeforeValidator(_source_shorthand)] | None = Field(
        None, description="the column naming the location (name or GID) of the row's inventory"
    )

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
        for name, rules in (("metafield", self.metafields), ("variant metafield", self.variant_metafields)):
            ids = [(m.namespace, m.key) for m in rules]
            duplicates = sorted({f"{ns}.{key}" for ns, key in ids if ids.count((ns, key)) > 1})
            if duplicates:
                raise ValueError(f"{name}(s) mapped twice: {', '.join(duplicates)}")
        if self.inventory_by_location:
            if "inventory" in self.fields or self.inventory_location is not None:
                raise ValueError(
                    "map stock either per location (inventory_by_location) or as the inventory field "
                    "(with inventory_location naming its location), not both"
                )
            locations = [name.casefold() for name in self.inventory_by_location]
            if len(set(locations)) != len(locations):
                raise ValueError("inventory_by_location names a location twice")
        if self.inventory_location is not None and "inventory" not in self.fields:
            raise ValueError("inventory_location names where the inventory field's stock is: map inventory")
        return self

    def sources(self) -> list[str]:
        """Every column / JSON path the mapping reads (for checks against a file)."""
        found: list[str] = [self.group_by] if self.group_by else []
        rules: list[FieldRule | OptionRule | MetafieldRule | ImagesRule] = [
            *self.fields.values(),
            *self.options.values(),
            *self.metafields,
            *self.variant_metafields,
            *self.inventory_by_location.values(),
        ]
        if self.images is not None:
            rules.append(self.images)
            if self.images.alt is not None:
                rules.append(self.images.alt)
        rules += [r for r in (self.variant_image, self.inventory_location) if r is not None]
        for rule in rules:
            if rule.source:
                found.append(rule.source)
            for op in rule.transforms:
                if isinstance(op, TemplateOp):
                    found.extend(p[0] for p in template_parts(op.template) if isinstance(p, tuple))
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
    images = document.get("images") or {}
    rules: list[dict[str, object]] = [
        *document.get("fields", {}).values(),
        *document.get("options", {}).values(),
        *document.get("metafields", []),
        *document.get("variant_metafields", []),
        *document.get("inventory_by_location", {}).values(),
        *(r for r in (images, images.get("alt"), document.get("variant_image")) if r),
        *([document["inventory_location"]] if document.get("inventory_location") else []),
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
