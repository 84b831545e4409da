"""Request validation of the Webflow emulator: product and SKU fields, prices in minor units,
``sku-properties`` (ids kept or generated), ``sku-values`` against them, slugs and references. Every check
adds to a :class:`~connector_pipelines.sandbox.webflow_errors.Problems`, so that one answer names every
problem of a request."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from connector_pipelines.sandbox.webflow_errors import Problems, invalid_id
from connector_pipelines.sandbox.webflow_settings import OBJECT_ID, WebflowSettings

Doc = dict[str, Any]  # a JSON object as the API renders it
Combo = tuple[tuple[str, str], ...]  # a SKU's sku-values, sorted: what must be unique per product

TAX_CATEGORIES = frozenset(
    {
        "standard-taxable",
        "standard-exempt",
        "books-religious",
        "books-textbook",
        "clothing",
        "clothing-swimwear",
        "digital-goods",
        "digital-service",
        "drugs-non-prescription",
        "drugs-prescription",
        "food-bottled-water",
        "food-candy",
        "food-groceries",
        "food-prepared",
        "food-soda",
        "food-supplements",
        "magazine-individual",
        "magazine-subscription",
        "service-admission",
        "service-advertising",
        "service-dry-cleaning",
        "service-hairdressing",
        "service-installation",
        "service-miscellaneous",
        "service-parking",
        "service-printing",
        "service-professional",
        "service-repair",
        "service-training",
    }
)  # fmt: skip  (spec: ProductFieldData tax-category enum)
BILLING_METHODS = frozenset({"one-time", "subscription"})
PUBLISH_STATUSES = frozenset({"staging", "live"})
_SLUG = re.compile(r"^[a-z0-9_-]{1,256}$")
_SERVER_MANAGED = ("default-sku", "ec-product-type")
_OPTIONAL_PRODUCT_FIELDS = frozenset({"description", "shippable", "tax-category", "category"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_id(value: str, field: str) -> None:
    if not OBJECT_ID.match(value):
        raise invalid_id(field, value)


def _new_option_id() -> str:
    return uuid.uuid4().hex  # sku-property and enum ids are 32-hex in stored products (spec example)


class _Items(Protocol):
    @property
    def items(self) -> Mapping[str, Doc]: ...


class Lookup(Protocol):
    """What the checks need to know about the store."""

    settings: WebflowSettings
    rejected_skus: set[str]

    @property
    def by_slug(self) -> Mapping[str, _Items]: ...


class Checker:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    @property
    def settings(self) -> WebflowSettings:
        return self.lookup.settings

    def product_fields(self, fd: Doc, path: str, p: Problems, *, partial: bool) -> Doc:
        out: Doc = {}
        for key, value in fd.items():
            where = f"{path}.{key}"
            if value is None and key in _OPTIONAL_PRODUCT_FIELDS:
                continue  # the SDK sends fields set to None as null: no change
            if key in ("name", "slug"):
                if self.text(value, where, p, slug=key == "slug"):
                    out[key] = value
            elif key == "description":
                if value is not None and not isinstance(value, str):
                    p.add(where, "must be a string")
                out[key] = value
            elif key == "shippable":
                if not isinstance(value, bool):
                    p.add(where, "must be a boolean")
                out[key] = value
            elif key == "tax-category":
                if value not in TAX_CATEGORIES:
                    p.add(where, f"unknown tax category {value!r}")
                out[key] = value
            elif key == "category":
                out[key] = self.references(value, "category", where, p, many=True)
            elif key in _SERVER_MANAGED or key == "sku-properties":
                continue  # validated and written by the callers
            else:
                out[key] = value  # custom fields (spec: additionalProperties)
        if not partial:
            for key in ("name", "slug"):
                if key not in fd:
                    p.add(f"{path}.{key}", "Required")
        return out

    def sku_fields(self, fd: Doc, path: str, p: Problems, *, partial: bool) -> Doc:
        out: Doc = {}
        for key, value in fd.items():
            where = f"{path}.{key}"
            if key in ("name", "slug"):
                if self.text(value, where, p, slug=key == "slug"):
                    out[key] = value
            elif key in ("price", "compare-at-price"):
                if value is None and key == "compare-at-price":
                    out[key] = None
                    continue
                price = self.price(value, where, p)
                if price is not None:
                    out[key] = price
            elif value is None and key in ("sku", "main-image", "ec-sku-billing-method"):
                continue  # null: no change
            elif key == "sku":
                if not isinstance(value, str):
                    p.add(where, "must be a string")
                elif value in self.lookup.rejected_skus:
                    p.add(where, f"SKU {value!r} was rejected")
                out[key] = value
            elif key == "sku-values":
                if value is not None and not isinstance(value, dict):
                    p.add(where, "must be an object mapping sku-property ids to enum ids")
                if value is not None:
                    out[key] = value
            elif key == "ec-sku-billing-method":
                if value not in BILLING_METHODS:
                    p.add(where, f"must be one of {sorted(BILLING_METHODS)}")
                out[key] = value
            elif key == "main-image":
                if not isinstance(value, str):
                    p.add(where, "must be a URL string")
                out[key] = value
            elif key == "sku-properties":
                continue  # the product's, not the SKU's, to change
            else:
                out[key] = value
        if not partial:
            for key in ("name", "slug", "price"):
                if key not in fd:
                    p.add(f"{path}.{key}", "Required")
        return out

    def text(self, value: object, where: str, p: Problems, *, slug: bool) -> bool:
        if not isinstance(value, str) or not value.strip():
            p.add(where, "Required: a non-empty string")
            return False
        if slug and self.settings.strict_slugs and not _SLUG.match(value):
            p.add(where, f"{value!r} is not a valid slug (lowercase letters, digits, '-' and '_')")
            return False
        return True

    def price(self, value: object, where: str, p: Problems) -> Doc | None:
        if not isinstance(value, dict):
            p.add(where, "must be an object {value, unit}")
            return None
        amount, unit, currency = value.get("value"), value.get("unit"), value.get("currency")
        ok = True
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            p.add(f"{where}.value", "Required: a number of minor units (2499 = 24.99)")
            ok = False
        elif amount < 0:
            p.add(f"{where}.value", "must not be negative")
            ok = False
        elif isinstance(amount, float):
            if amount.is_integer():
                amount = int(amount)  # the SDK sends 2499.0; the store keeps whole minor units
            elif self.settings.whole_minor_units:
                p.add(f"{where}.value", f"must be a whole number of minor units, not {amount}")
                ok = False
        if not isinstance(unit, str) or not unit:
            p.add(f"{where}.unit", "Required: the currency code")
            return None
        if currency is not None and currency != unit:
            p.add(f"{where}.currency", f"must equal unit {unit!r}")
            ok = False
        if self.settings.enforce_currency and unit != self.settings.default_currency:
            p.add(f"{where}.unit", f"must be the store currency {self.settings.default_currency!r}")
            ok = False
        return {"value": amount, "unit": unit, "currency": unit} if ok else None

    def references(self, value: object, target: str, where: str, p: Problems, *, many: bool) -> object:
        collection = self.lookup.by_slug.get(target)
        ids = value if many else [value]
        if value is None:
            return None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            p.add(where, "must be an array of item ids" if many else "must be an item id")
            return value
        for item_id in ids:
            if collection is None or item_id not in collection.items:
                p.add(where, f"referenced item {item_id} not found in collection '{target}'")
        return value

    def slug_free(
        self, slug: object, index: dict[str, str], own: str | None, where: str, p: Problems
    ) -> None:
        if isinstance(slug, str) and index.get(slug, own) != own:
            p.duplicate_slug(where, slug)

    def properties(self, raw: object, path: str, p: Problems, existing: list[Doc] | None) -> list[Doc]:
        """Validate ``sku-properties`` and give every property and value its id (caller's or a new one)."""
        if raw is None:
            return []
        s = self.settings
        if not isinstance(raw, list):
            p.add(path, "must be an array")
            return []
        if len(raw) > s.max_sku_properties:
            p.add(path, f"at most {s.max_sku_properties} product options are allowed (got {len(raw)})")
        known = {prop["id"]: prop for prop in existing or []}
        out: list[Doc] = []
        ids: set[str] = set()
        names: set[str] = set()
        for i, prop in enumerate(raw):
            where = f"{path}[{i}]"
            if not isinstance(prop, dict):
                p.add(where, "must be an object {id, name, enum}")
                continue
            prop_id = self.option_id(prop.get("id"), known, f"{where}.id", p)
            name = prop.get("name")
            if not isinstance(name, str) or not name.strip():
                p.add(f"{where}.name", "Required")
            elif name.strip().lower() in names:
                p.add(f"{where}.name", f"duplicate option name {name!r}")
            else:
                names.add(name.strip().lower())
            if prop_id in ids:
                p.add(f"{where}.id", f"duplicate option id {prop_id!r}")
            ids.add(prop_id)
            enum = prop.get("enum")
            if not isinstance(enum, list) or not enum:
                p.add(f"{where}.enum", "Required: at least one value")
                enum = []
            elif len(enum) > s.max_enum_values:
                p.add(f"{where}.enum", f"at most {s.max_enum_values} values are allowed (got {len(enum)})")
            old = known.get(prop_id)
            values = self.enum(enum, f"{where}.enum", p, {e["id"]: e for e in old["enum"]} if old else {})
            out.append({"id": prop_id, "name": name, "enum": values})
        return out

    def enum(self, enum: list[Any], path: str, p: Problems, known: dict[str, Doc]) -> list[Doc]:
        out: list[Doc] = []
        seen: dict[str, set[str]] = {"id": set(), "name": set(), "slug": set()}
        for j, entry in enumerate(enum):
            where = f"{path}[{j}]"
            if not isinstance(entry, dict):
                p.add(where, "must be an object {id, name, slug}")
                continue
            value: Doc = {"id": self.option_id(entry.get("id"), known, f"{where}.id", p)}
            for key in ("name", "slug"):
                text = entry.get(key)
                if not isinstance(text, str) or not text.strip():
                    p.add(f"{where}.{key}", "Required")
                value[key] = text
            for key in ("id", "name", "slug"):
                text = value[key]
                if isinstance(text, str):
                    folded = text.strip().lower() if key == "name" else text
                    if folded in seen[key]:
                        p.add(f"{where}.{key}", f"duplicate value {key} {text!r}")
                    seen[key].add(folded)
            out.append(value)
        return out

    def option_id(self, given: object, known: dict[str, Doc], where: str, p: Problems) -> str:
        if given is None:
            return _new_option_id()
        if not isinstance(given, str) or not given.strip():
            p.add(where, "must be a non-empty string")
            return _new_option_id()
        if self.settings.keep_caller_ids or given in known:
            return given
        return _new_option_id()


# --- request helpers -----------------------------------------------------------------------------------


def obj(value: object, where: str, p: Problems, *, required: bool = True) -> Doc:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        p.add(where, "Required: an object" if value is None else "must be an object")
        return {}
    return value


def publish_status(body: Doc, p: Problems) -> bool:
    status = body.get("publishStatus")
    if status is not None and status not in PUBLISH_STATUSES:
        p.add("publishStatus", "must be 'staging' or 'live'")
    return status == "live"


def read_flags(obj: Doc, where: str, p: Problems) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for key in ("isArchived", "isDraft"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, bool):
            p.add(f"{where}.{key}", "must be a boolean")
        else:
            flags[key] = value
    return flags


def combo_of(values: dict[str, str]) -> Combo:
    return tuple(sorted(values.items()))


def ordered_values(combo: Combo, props: list[Doc]) -> dict[str, str]:
    values = dict(combo)
    return {prop["id"]: values[prop["id"]] for prop in props if prop["id"] in values}


def check_sku_values(values: object, props: list[Doc], where: str, p: Problems) -> Combo | None:
    """Check that ``sku-values`` names every property of the product with one of its enum ids."""
    if not isinstance(values, dict):
        p.add(where, "Required: map every sku-property id to one of its enum ids")
        return None
    ok = True
    for prop in props:
        value = values.get(prop["id"])
        if value is None:
            p.add(f"{where}.{prop['id']}", f"missing a value for sku-property {prop['name']!r}")
            ok = False
        elif not any(e["id"] == value for e in prop["enum"]):
            p.add(f"{where}.{prop['id']}", f"{value!r} is not an enum id of sku-property {prop['name']!r}")
            ok = False
    known = {prop["id"] for prop in props}
    for key in values:
        if key not in known:
            p.add(f"{where}.{key}", f"unknown sku-property id {key!r}")
            ok = False
    return combo_of({str(k): str(v) for k, v in values.items()}) if ok else None
