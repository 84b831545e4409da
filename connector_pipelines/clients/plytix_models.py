"""Pydantic models of Plytix PIM API v1 answers (``contracts/plytix.md`` and Plytix's published examples).

Unknown fields are ignored, names are accepted by field name or alias. Shapes that vary between the
published examples are normalised at the boundary: an asset or category reference may come as an object or
as a bare id (the v2 examples), a thumbnail as an object, an id or a one-element list, instants with or
without ``+00:00`` (naive ones are UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, field_validator

Operator = Literal[
    "exists",
    "!exists",
    "eq",
    "!eq",
    "like",
    "in",
    "!in",
    "gt",
    "gte",
    "lt",
    "lte",
    "text_search",
    "bte",
    "last_days",
]
FamilyLevel = Literal["parent_level", "variant_level", "no_level"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class SearchFilter(BaseModel):
    """One filter of a search; inner lists of filters are ANDed, the outer list ORs them. ``field`` is a
    list of fields only for ``text_search``."""

    model_config = ConfigDict(extra="forbid")

    field: str | list[str]
    operator: Operator
    value: JsonValue = None

    def to_body(self) -> dict[str, JsonValue]:
        field: JsonValue = list(self.field) if isinstance(self.field, list) else self.field
        return {"field": field, "operator": self.operator, "value": self.value}


def _ref(value: object) -> object:
    return {"id": value} if isinstance(value, str) else value


def _refs(value: object) -> object:
    return [_ref(v) for v in value] if isinstance(value, list) else value


def _one_ref(value: object) -> object:
    if isinstance(value, list):
        return _ref(value[0]) if value else None
    return _ref(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class PlytixAssetRef(_Model):
    """An asset linked to a product (``assets``, ``thumbnail``, media attribute values)."""

    id: str
    filename: str | None = None
    url: str | None = None
    thumbnail: str | None = Field(None, validation_alias=AliasChoices("thumbnail", "thumb"))


class PlytixCategoryRef(_Model):
    id: str
    name: str | None = None
    path: list[str] = []


class PlytixProduct(_Model):
    """A product or variant as search (the selected fields) or ``GET`` (all fields) returns it. Search
    never returns ``product_family_id``; ``GET /products/{id}`` does."""

    id: str
    sku: str
    label: str | None = None
    status: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    gtin: str | None = None
    attributes: dict[str, JsonValue] = {}
    assets: Annotated[list[PlytixAssetRef], BeforeValidator(_refs)] = []
    categories: Annotated[list[PlytixCategoryRef], BeforeValidator(_refs)] = []
    thumbnail: Annotated[PlytixAssetRef | None, BeforeValidator(_one_ref)] = None
    num_variations: int = 0
    parent_id: str | None = Field(None, alias="_parent_id")
    product_family_id: str | None = None
    product_family_model_id: str | None = None
    product_type: str | None = None
    product_level: int | None = None
    overwritten_attributes: list[str] = []

    @field_validator("created", "modified")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @field_validator("num_variations", mode="before")
    @classmethod
    def _count(cls, value: object) -> object:
        return 0 if value is None else value

    @field_validator("attributes", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        return {} if value is None else value

    @property
    def is_variant(self) -> bool:
        return self.parent_id is not None or self.product_type == "VARIANT" or self.product_level == 2

    @property
    def has_variants(self) -> bool:
        return self.num_variations > 0


class PlytixAttribute(_Model):
    id: str
    label: str
    name: str | None = None
    type_class: str | None = None
    options: list[str] = []
    groups: list[str] = []

    @field_validator("options", "groups", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return [] if value is None else value


class PlytixFamily(_Model):
    id: str
    name: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    total_attributes: int | None = None
    total_models: int | None = None
    total_products: int | None = None

    @field_validator("created", "modified")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class PlytixFamilyAttribute(_Model):
    """An attribute of a family with its inheritance level: ``parent_level`` (set on the parent, inherited
    by its variants), ``variant_level`` (set per variant) or ``no_level`` (inheritance off). The field is
    ``attribute_level`` in plytix-pim-client's DTO; ``level`` is accepted too."""

    id: str | None = None
    label: str
    name: str | None = None
    level: FamilyLevel = Field(
        "no_level",
        validation_alias=AliasChoices("attribute_level", "level"),
        serialization_alias="attribute_level",
    )

    @property
    def key(self) -> str:
        """The attribute's key in a search (``attributes.<label>``; system attributes by plain name)."""
        return f"attributes.{self.label}" if self.id else self.label


class PlytixCategory(_Model):
    id: str
    name: str | None = None
    path: list[str] = []
    parents_ids: list[str] = []
    n_children: int | None = None
    order: int | None = None
    slug: str | None = None
    modified: datetime | None = None

    @field_validator("order", mode="before")
    @classmethod
    def _order(cls, value: object) -> object:
        # Plytix writes the position as a string ("2").
        if isinstance(value, str):
            return int(value) if value.strip().lstrip("-").isdigit() else None
        return value

    @field_validator("parents_ids", "path", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("modified")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @property
    def parent_id(self) -> str | None:
        """The direct parent (``parents_ids`` is ordered from the root)."""
        return self.parents_ids[-1] if self.parents_ids else None


class PlytixFilter(_Model):
    """A searchable field as ``GET /api/v1/filters/product`` lists it."""

    key: str
    filter_type: str | None = None
    operators: list[str] = []
    options: list[str] | None = None


class Pagination(_Model):
    count: int | None = None
    order: str | None = None
    page: int | None = None
    page_size: int | None = None
    total_count: int | None = None


class Envelope(_Model):
    """``{"data": [...], "pagination": {...}}``; ``data`` items are validated by the caller's model."""

    data: list[JsonValue] = []
    pagination: Pagination | None = None


class ErrorItem(_Model):
    field: str | None = None
    msg: JsonValue = None


class ErrorDetail(_Model):
    msg: JsonValue = None
    errors: list[ErrorItem] | None = None


class ErrorBody(_Model):
    """``{"error": {"msg", "errors": [{"field", "msg"}]}}``; some answers carry a top-level ``msg``
    (the token endpoint's published 401) or FastAPI's ``detail``."""

    error: ErrorDetail | None = None
    msg: JsonValue = None
    detail: JsonValue = None
