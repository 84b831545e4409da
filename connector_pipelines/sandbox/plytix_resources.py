"""The Plytix emulator's small resources: attributes, families, categories and assets.

How each is rendered (``GET …/{id}`` and search rows) and which fields its search filters and orders by.
Few records each, so a search scans them; the product search lives in the store, with its indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import JsonValue

from connector_pipelines.sandbox.plytix_catalog import (
    SYSTEM_FAMILY_ATTRIBUTES,
    Asset,
    Attribute,
    Category,
    Family,
)
from connector_pipelines.sandbox.plytix_search import FILTER_TYPES, FieldSpec, iso
from connector_pipelines.sandbox.plytix_store import Store

R = TypeVar("R")
FILE_TYPES = ("IMAGES", "SOUNDS", "VIDEOS", "COMPRESSED", "REPORTS", "TEXTS", "OTHER")


@dataclass(frozen=True, slots=True)
class Resource(Generic[R]):
    """A searchable resource: its records, their rendering, the fields to filter and order by, and the
    further rendered fields a search may ask for (returned, not filterable)."""

    items: Callable[[], Sequence[R]]
    render: Callable[[R], dict[str, JsonValue]]
    fields: dict[str, FieldSpec[R]]
    selectable: frozenset[str]


def render_attribute(attribute: Attribute) -> dict[str, JsonValue]:
    row: dict[str, JsonValue] = {
        "filter_type": FILTER_TYPES[attribute.kind],
        "groups": [],
        "id": attribute.id,
        "label": attribute.label,
        "name": attribute.name,
        "type_class": attribute.type_class,
    }
    if attribute.options is not None:
        row["options"] = list(attribute.options)
    return row


def render_family(store: Store, family: Family) -> dict[str, JsonValue]:
    return {
        "created": iso(family.created_us),
        "id": family.id,
        "modified": iso(family.modified_us),
        "name": family.name,
        "total_attributes": len(family.levels),
        "total_models": 1,
        "total_products": store.family_counts().get(family.id, 0),
    }


def family_attributes(store: Store, family: Family, *, system: bool = False) -> list[dict[str, JsonValue]]:
    """Per attribute its level (``parent_level``/``variant_level``/``no_level``) under ``attribute_level``,
    the field name of plytix-pim-client's ``ProductFamilyAttribute`` (UNVERIFIED against the live API).
    ``system`` adds label, thumbnail, status and categories (``…/all_attributes``), with no id."""
    out: list[dict[str, JsonValue]] = []
    if system:
        for label in SYSTEM_FAMILY_ATTRIBUTES:
            out.append({"attribute_level": "no_level", "id": None, "label": label, "name": label.title()})
    for label, level in family.levels.items():
        attribute = store.attribute_by_label[label]
        out.append({"attribute_level": level, "id": attribute.id, "label": label, "name": attribute.name})
    return out


def render_category(store: Store, category: Category) -> dict[str, JsonValue]:
    parents: list[JsonValue] = []
    parent = store.categories.get(category.parent_id or "")
    while parent is not None:
        parents.insert(0, parent.id)
        parent = store.categories.get(parent.parent_id or "")
    return {
        "id": category.id,
        "modified": iso(category.modified_us),
        "n_children": _children(store, category),
        "name": category.name,
        "order": str(category.order),  # Plytix writes the position as a string
        "parents_ids": parents,
        "path": list(store.category_path(category)),
        "slug": category.slug,
    }


def render_asset(asset: Asset) -> dict[str, JsonValue]:
    return {
        "assigned": True,
        "categories": [],
        "content_type": "image/jpeg",
        "created": iso(asset.created_us),
        "extension": "jpg",
        "file_modified": iso(asset.created_us),
        "file_size": asset.file_size,
        "file_type": "IMAGES",
        "filename": asset.filename,
        "id": asset.id,
        "modified": iso(asset.created_us),
        "n_catalogs": 0,
        "n_products": 1,
        "public": True,
        "status": "OK",
        "thumbnail": asset.thumbnail,
        "url": asset.url,
    }


def _children(store: Store, category: Category) -> int:
    return sum(1 for c in store.categories.values() if c.parent_id == category.id)


def attributes(store: Store) -> Resource[Attribute]:
    return Resource(
        lambda: list(store.attributes.values()),
        render_attribute,
        {
            "name": FieldSpec("name", "text", lambda a: a.name),
            "label": FieldSpec("label", "text", lambda a: a.label),
            "type_class": FieldSpec("type_class", "text", lambda a: a.type_class),
        },
        frozenset({"groups", "options", "filter_type", "attributes"}),
    )


def families(store: Store) -> Resource[Family]:
    counts = store.family_counts
    return Resource(
        lambda: list(store.families.values()),
        lambda f: render_family(store, f),
        {
            "name": FieldSpec("name", "text", lambda f: f.name),
            "created": FieldSpec("created", "date", lambda f: f.created_us),
            "modified": FieldSpec("modified", "date", lambda f: f.modified_us),
            "total_attributes": FieldSpec("total_attributes", "int", lambda f: len(f.levels)),
            "total_models": FieldSpec("total_models", "int", lambda f: 1),
            "total_products": FieldSpec("total_products", "int", lambda f: counts().get(f.id, 0)),
        },
        frozenset(),
    )


def categories(store: Store) -> Resource[Category]:
    return Resource(
        lambda: list(store.categories.values()),
        lambda c: render_category(store, c),
        {
            "name": FieldSpec("name", "text", lambda c: c.name),
            "slug": FieldSpec("slug", "text", lambda c: c.slug),
            "parent_id": FieldSpec("parent_id", "text", lambda c: c.parent_id),
            "order": FieldSpec("order", "int", lambda c: c.order),
            "modified": FieldSpec("modified", "date", lambda c: c.modified_us),
            "n_children": FieldSpec("n_children", "int", lambda c: _children(store, c)),
        },
        frozenset({"path", "parents_ids"}),
    )


def assets(store: Store) -> Resource[Asset]:
    return Resource(
        lambda: list(store.assets.values()),
        render_asset,
        {
            "id": FieldSpec("id", "text", lambda a: a.id, operators=("eq", "!eq", "in", "!in")),
            "filename": FieldSpec("filename", "text", lambda a: a.filename),
            "extension": FieldSpec("extension", "text", lambda a: "jpg"),
            "status": FieldSpec("status", "text", lambda a: "OK"),
            "file_type": FieldSpec("file_type", "multiselect", lambda a: "IMAGES", FILE_TYPES),
            "file_size": FieldSpec("file_size", "number", lambda a: a.file_size),
            "assigned": FieldSpec("assigned", "bool", lambda a: True),
            "categories": FieldSpec("categories", "hierarchy", lambda a: [], ()),
            "created": FieldSpec("created", "date", lambda a: a.created_us),
            "modified": FieldSpec("modified", "date", lambda a: a.created_us),
        },
        frozenset(
            {"url", "thumbnail", "content_type", "public", "n_products", "n_catalogs", "file_modified"}
        ),
    )
