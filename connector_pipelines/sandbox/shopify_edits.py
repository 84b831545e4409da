"""The small edits most apps make besides ``productSet``: ``metafieldsSet``, ``metafieldsDelete``,
``tagsAdd`` and ``tagsRemove`` (Admin API 2026-07 schema; contract §13).

Only products and variants are stored here, so they are the only owners / taggable resources; any other id
(Shop, Collection, Customer, Order, ...) answers as a resource that does not exist. Error messages are not in
the schema and are UNVERIFIED; the codes are the schema's ``MetafieldsSetUserErrorCode`` values.
"""

from __future__ import annotations

import hashlib
import re

import orjson

from connector_pipelines.sandbox.shopify_gql import FieldError, Json
from connector_pipelines.sandbox.shopify_products import metafield_namespace, metafield_value_problem
from connector_pipelines.sandbox.shopify_store import (
    Metafield,
    Product,
    ShopState,
    Variant,
    iso,
    next_id,
    parse_gid,
)

MAX_METAFIELDS_SET = 25  # "Maximum of 25." (metafieldsSet.metafields)
MAX_TAG_LENGTH = 255
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_OWNER_KINDS = frozenset({"Product", "ProductVariant"})

UserError = dict[str, Json]
Owner = Product | Variant


def compare_digest(metafield: Metafield) -> str:
    """What ``Metafield.compareDigest`` answers and ``compareDigest`` inputs are checked against."""
    return hashlib.sha256(metafield.value.encode()).hexdigest()


def _owner(shop: ShopState, value: object) -> Owner | None:
    parsed = parse_gid(value)
    if parsed is None or parsed[0] not in _OWNER_KINDS:
        return None
    return shop.products.get(parsed[1]) if parsed[0] == "Product" else shop.variants.get(parsed[1])


def _max_input(name: str, given: int, limit: int) -> FieldError:
    # Shopify checks list sizes before running the mutation: a top-level error, no payload (UNVERIFIED).
    return FieldError(
        f"The input array size of {given} is greater than the maximum allowed of {limit}.",
        {"code": "MAX_INPUT_SIZE_EXCEEDED", "argumentName": name},
    )


# --- metafieldsSet -----------------------------------------------------------------------------------------


def _set_error(index: int, field: str, code: str, message: str, element: int | None = None) -> UserError:
    return {
        "field": ["metafields", str(index), field],
        "message": message,
        "code": code,
        "elementIndex": element,
    }


def _length_error(index: int, field: str, text: str, low: int, high: int) -> UserError | None:
    label = field.capitalize()
    if len(text) < low:
        return _set_error(index, field, "TOO_SHORT", f"{label} is too short (minimum is {low} characters)")
    if len(text) > high:
        return _set_error(index, field, "TOO_LONG", f"{label} is too long (maximum is {high} characters)")
    if not _NAME.match(text):
        return _set_error(
            index,
            field,
            "INVALID",
            f"{label} contains one or more invalid characters (letters, digits, - and _)",
        )
    return None


def _value_error(index: int, type_: str, value: str) -> UserError | None:
    problem = metafield_value_problem(type_, value)
    if problem is None:
        return None
    if "valid metafield type" in problem:
        return _set_error(index, "type", "INVALID_TYPE", problem)
    element: int | None = None
    if type_.startswith("list."):
        # elementIndex: the first list element that does not fit the item type
        items = orjson.loads(value) if problem != "Value must be a JSON array." else []
        for position, item in enumerate(items):
            text = item if isinstance(item, str) else orjson.dumps(item).decode()
            if metafield_value_problem(type_[len("list.") :], text) is not None:
                element = position
                break
    return _set_error(index, "value", "INVALID_VALUE", problem, element)


def metafields_set(shop: ShopState, inputs: list[dict[str, Json]], now: float) -> dict[str, Json]:
    """Atomic: every input is checked first; any error writes nothing (``metafields`` is then empty)."""
    if len(inputs) > MAX_METAFIELDS_SET:
        raise _max_input("metafields", len(inputs), MAX_METAFIELDS_SET)
    app_id = shop.settings.app_id
    errors: list[UserError] = []
    planned: list[tuple[Owner, str, str, str, str]] = []
    for index, item in enumerate(inputs):
        owner = _owner(shop, item.get("ownerId"))
        if owner is None:
            errors.append(_set_error(index, "ownerId", "INVALID", "Owner does not exist."))
            continue
        key = item["key"]
        namespace = metafield_namespace(item.get("namespace"), app_id)
        problem = _length_error(index, "key", key, 2, 64)
        if problem is None and item.get("namespace") is not None and not namespace.startswith("app--"):
            problem = _length_error(index, "namespace", namespace, 3, 255)
        if problem is not None:
            errors.append(problem)
            continue
        existing = next((m for m in owner.metafields if (m.namespace, m.key) == (namespace, key)), None)
        if "compareDigest" in item:
            digest = item["compareDigest"]
            if digest is not None and not (isinstance(digest, str) and _DIGEST.match(digest)):
                errors.append(
                    _set_error(
                        index, "compareDigest", "INVALID_COMPARE_DIGEST", "The compareDigest is invalid."
                    )
                )
                continue
            current = compare_digest(existing) if existing is not None else None
            if digest != current:
                errors.append(
                    _set_error(
                        index,
                        "compareDigest",
                        "STALE_OBJECT",
                        "The metafield has been modified since it was loaded.",
                    )
                )
                continue
        type_ = item.get("type")
        if not type_:
            # no metafield definitions are modelled, so the type is always required
            errors.append(_set_error(index, "type", "BLANK", "Type can't be blank."))
            continue
        value = item["value"]
        if value == "":
            errors.append(_set_error(index, "value", "BLANK", "Value can't be blank."))
            continue
        problem = _value_error(index, type_, value)
        if problem is not None:
            errors.append(problem)
            continue
        planned.append((owner, namespace, key, type_, value))
    if errors:
        return {"metafields": [], "userErrors": errors}
    stamp = iso(now)
    written: list[Metafield] = []
    for owner, namespace, key, type_, value in planned:
        metafield = next((m for m in owner.metafields if (m.namespace, m.key) == (namespace, key)), None)
        if metafield is None:
            owner_type = "PRODUCT" if isinstance(owner, Product) else "PRODUCTVARIANT"
            metafield = Metafield(next_id(), namespace, key, type_, value, owner_type, stamp, stamp, owner)
            owner.metafields.append(metafield)
        elif (metafield.type, metafield.value) != (type_, value):
            metafield.type, metafield.value, metafield.updated_at = type_, value, stamp
        written.append(metafield)
    return {"metafields": written, "userErrors": []}


def metafields_delete(shop: ShopState, inputs: list[dict[str, Json]]) -> dict[str, Json]:
    """Each identifier comes back when its metafield was deleted, null when there was none."""
    deleted: list[Json] = []
    app_id = shop.settings.app_id
    for item in inputs:
        owner = _owner(shop, item["ownerId"])
        namespace = metafield_namespace(item["namespace"], app_id)
        found = (
            next((m for m in owner.metafields if (m.namespace, m.key) == (namespace, item["key"])), None)
            if owner is not None
            else None
        )
        if owner is None or found is None:
            deleted.append(None)
            continue
        owner.metafields.remove(found)
        deleted.append({"ownerId": item["ownerId"], "namespace": namespace, "key": item["key"]})
    return {"deletedMetafields": deleted, "userErrors": []}


# --- tagsAdd / tagsRemove ---------------------------------------------------------------------------------


def split_tags(raw: list[str]) -> list[str]:
    """Each list entry may itself be a comma-separated list ("tag1, tag2"); blanks are dropped."""
    return [tag.strip() for entry in raw for tag in entry.split(",") if tag.strip()]


def _tag_target(shop: ShopState, value: str) -> tuple[Product | None, list[UserError]]:
    product = shop.product(value)
    if product is None:
        return None, [{"field": ["id"], "message": "Resource does not exist"}]
    return product, []


def tags_add(shop: ShopState, resource_id: str, raw_tags: list[str], now: float) -> dict[str, Json]:
    product, errors = _tag_target(shop, resource_id)
    if product is None:
        return {"node": None, "userErrors": errors}
    tags = split_tags(raw_tags)
    too_long = [t for t in tags if len(t) > MAX_TAG_LENGTH]
    if too_long:
        message = f"Tags is too long (maximum is {MAX_TAG_LENGTH} characters)"
        return {"node": None, "userErrors": [{"field": ["tags"], "message": message}]}
    known = {t.casefold() for t in product.tags}
    added = False
    for tag in tags:
        if tag.casefold() not in known:  # tags are unique regardless of case
            known.add(tag.casefold())
            product.tags.append(tag)
            added = True
    if added:
        product.updated_at = iso(now)
    return {"node": product, "userErrors": []}


def tags_remove(shop: ShopState, resource_id: str, raw_tags: list[str], now: float) -> dict[str, Json]:
    product, errors = _tag_target(shop, resource_id)
    if product is None:
        return {"node": None, "userErrors": errors}
    drop = {t.casefold() for t in split_tags(raw_tags)}
    kept = [t for t in product.tags if t.casefold() not in drop]
    if len(kept) != len(product.tags):
        product.tags = kept
        product.updated_at = iso(now)
    return {"node": product, "userErrors": []}
