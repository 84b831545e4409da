"""Criteria parsing, filtering, sorting, paging and rendering (plain JSON and JSON:API) for the emulator.

Follows ``RequestCriteriaBuilder`` / ``QueryStringParser`` for the criteria document and ``JsonType`` /
``JsonApiType`` for the answers. Matched key lists are cached per criteria and store generation, so paging
through a large result set costs one scan, not one per page.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from connector_pipelines.sandbox.shopware6_errors import ErrorDoc, ShopwareError, http_error
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    LIVE_VERSION_ID,
    SCHEMA,
    AssocDef,
    EntityDef,
)
from connector_pipelines.sandbox.shopware6_store import NULL_INDEXED, Row, Store, tr_key, unpack

Pred = Callable[[Row], bool]
Getter = Callable[[Row], list[Any]]
TOTAL_NONE, TOTAL_EXACT, TOTAL_NEXT_PAGES = 0, 1, 2
_TOTAL_MODES = {"0": 0, "none": 0, "1": 1, "exact": 1, "2": 2, "next-pages": 2}
_KEBAB = re.compile(r"[A-Z]")
_FILTER = "FRAMEWORK__INVALID_FILTER_QUERY"


def kebab(name: str) -> str:
    """``JsonApiEncoder::camelCaseToSnailCase``: ``configuratorSettings`` -> ``configurator-settings``."""
    return _KEBAB.sub(lambda m: "-" + m.group(0).lower(), name.replace("_", "-")).lstrip("-")


@dataclass(slots=True)
class ReadContext:
    language_id: str
    inherit: bool = False
    base_url: str = ""
    includes: dict[str, frozenset[str]] | None = None


@dataclass(slots=True)
class Criteria:
    ids: list[str] | None = None
    limit: int | None = None
    page: int = 1
    total_count_mode: int = TOTAL_NONE
    filters: list[Any] = field(default_factory=list)
    post_filters: list[Any] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)
    term: str | None = None
    associations: dict[str, Criteria] = field(default_factory=dict)
    aggregations: list[dict[str, Any]] = field(default_factory=list)
    includes: dict[str, frozenset[str]] | None = None

    @property
    def offset(self) -> int:
        return (self.limit or 0) * (self.page - 1)


@dataclass(slots=True)
class SearchResult:
    keys: list[str]
    total: int
    aggregations: dict[str, Any]


# -- query strings ------------------------------------------------------------------------------------------


def parse_php_query(query: str) -> dict[str, Any]:
    """PHP's ``$_GET`` decoding: ``filter[0][type]=equals`` -> nested dicts, ``ids[]=a`` -> lists."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        head, _, rest = raw_key.partition("[")
        parts = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if last:
                    node.append(value)
                    break
                child: Any = {}
                node.append(child)
                node = child
                continue
            if last:
                node[part] = value
            else:
                nxt = parts[i + 1]
                node = node.setdefault(part, [] if nxt == "" else {})
    result: dict[str, Any] = _listify(root)
    return result


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_listify(node[k]) for k in sorted(node, key=int)]
        return {k: _listify(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node


# -- criteria parsing ---------------------------------------------------------------------------------------


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, str) and value.isdigit():
        parsed = int(value)
        return parsed if parsed >= 1 else None
    return None


def parse_criteria(
    ent: EntityDef, payload: Any, *, max_limit: int | None, default_limit: int | None, prefix: str = ""
) -> Criteria:
    """Validate a criteria document; all problems are reported together (``SearchRequestException``)."""
    errors: list[ErrorDoc] = []
    criteria = _parse(
        ent, payload if isinstance(payload, dict) else {}, errors, max_limit, default_limit, prefix
    )
    if errors:
        raise ShopwareError(400, errors)
    return criteria


def _parse(
    ent: EntityDef,
    payload: dict[str, Any],
    errors: list[ErrorDoc],
    max_limit: int | None,
    default_limit: int | None,
    prefix: str,
) -> Criteria:
    c = Criteria(limit=default_limit)
    if "ids" in payload:
        ids = payload["ids"]
        c.ids = [
            i for i in (ids.split("|") if isinstance(ids, str) else ids or []) if isinstance(i, str) and i
        ]
    if payload.get("limit") not in (None, ""):
        limit = _positive_int(payload["limit"])
        if limit is None:
            errors.append(
                http_error(
                    400,
                    "FRAMEWORK__INVALID_LIMIT_QUERY",
                    "The limit parameter must be a positive integer greater or equals than 1. "
                    "Given: {{ limit }}",
                    {"limit": payload["limit"]},
                    f"{prefix}/limit",
                )
            )
        elif max_limit is not None and limit > max_limit:
            errors.append(
                http_error(
                    400,
                    "FRAMEWORK__QUERY_LIMIT_EXCEEDED",
                    "The limit must be lower than or equal to MAX_LIMIT(={{ maxLimit }}). Given: {{ limit }}",
                    {"maxLimit": max_limit, "limit": limit},
                    f"{prefix}/limit",
                )
            )
        else:
            c.limit = limit
    if payload.get("page") not in (None, ""):
        page = _positive_int(payload["page"])
        if page is None:
            errors.append(
                http_error(
                    400,
                    "FRAMEWORK__INVALID_PAGE_QUERY",
                    "The page parameter must be a positive integer. Given: {{ page }}",
                    {"page": payload["page"]},
                    f"{prefix}/page",
                )
            )
        else:
            c.page = page
    mode = payload.get("total-count-mode")
    if mode is not None:
        c.total_count_mode = _TOTAL_MODES.get(str(mode).lower(), TOTAL_NONE)
    for key, target in (("filter", c.filters), ("post-filter", c.post_filters)):
        if key in payload:
            target.extend(_parse_filter_list(ent, payload[key], errors, f"{prefix}/{key}"))
    if "sort" in payload:
        c.sort = _parse_sort(ent, payload["sort"], errors, f"{prefix}/sort")
    term = payload.get("term")
    if isinstance(term, str) and term.strip():
        c.term = term.strip()
    if "associations" in payload:
        assocs = payload["associations"]
        if not isinstance(assocs, dict):
            errors.append(
                http_error(
                    400,
                    "FRAMEWORK__INVALID_CRITERIA_PARAMETER",
                    "Associations must be an object",
                    {},
                    f"{prefix}/associations",
                )
            )
        else:
            for name, sub in assocs.items():
                assoc = ent.assocs.get(name)
                if assoc is None and name in ent.phantoms:
                    c.associations[name] = Criteria()  # nothing stored behind it: nested criteria are moot
                    continue
                if assoc is None:
                    errors.append(
                        http_error(
                            400,
                            "FRAMEWORK__ASSOCIATION_NOT_FOUND",
                            "Can not find association by name {{ association }}",
                            {"association": name},
                            f"{prefix}/associations/{name}",
                        )
                    )
                    continue
                c.associations[name] = _parse(
                    SCHEMA[assoc.ref],
                    sub if isinstance(sub, dict) else {},
                    errors,
                    None,
                    None,
                    f"{prefix}/associations/{name}",
                )
    if "includes" in payload and isinstance(payload["includes"], dict):
        c.includes = {
            alias: frozenset(fields)
            for alias, fields in payload["includes"].items()
            if isinstance(fields, list)
        }
    if "aggregations" in payload:
        c.aggregations = _parse_aggregations(ent, payload["aggregations"], errors, f"{prefix}/aggregations")
    return c


def _parse_filter_list(ent: EntityDef, raw: Any, errors: list[ErrorDoc], pointer: str) -> list[Any]:
    if isinstance(raw, dict) and raw and not all(str(k).isdigit() for k in raw):
        # RequestCriteriaBuilder::parseSimpleFilter: {"field": value} means equals.
        return [
            {"type": "equals", "field": k, "value": v} for k, v in raw.items() if _check_field(ent, k, errors)
        ]
    if isinstance(raw, dict):
        raw = [raw[k] for k in sorted(raw, key=int)]
    if not isinstance(raw, list):
        errors.append(
            http_error(400, _FILTER, "The filter parameter has to be a list of filters.", {}, pointer)
        )
        return []
    out = []
    for i, item in enumerate(raw):
        parsed = _parse_filter(ent, item, errors, f"{pointer}/{i}")
        if parsed is not None:
            out.append(parsed)
    return out


_SCALAR_FILTERS = frozenset({"equals", "contains", "prefix", "suffix"})
_MULTI_FILTERS = frozenset({"multi", "and", "or", "not", "nand", "nor"})


def _parse_filter(ent: EntityDef, item: Any, errors: list[ErrorDoc], pointer: str) -> dict[str, Any] | None:
    def err(message: str, at: str) -> None:
        errors.append(http_error(400, _FILTER, message, {}, at))

    if not isinstance(item, dict):
        err("The filter parameter has to be a list of filters.", pointer)
        return None
    kind = item.get("type")
    if not kind:
        err("Value for filter type is required.", f"{pointer}/type")
        return None
    if kind in _MULTI_FILTERS:
        queries = item.get("queries")
        if not isinstance(queries, list) or not queries:
            err(f'Parameter "queries" for {kind} filter is missing.', f"{pointer}/queries")
            return None
        parsed = [_parse_filter(ent, q, errors, f"{pointer}/queries/{i}") for i, q in enumerate(queries)]
        operator = str(item.get("operator") or ("OR" if kind in ("or", "nor") else "AND")).upper()
        if kind == "multi" and operator not in ("AND", "OR", "XOR"):
            err(f'Parameter "operator" for multi filter is invalid. Given: {operator}', f"{pointer}/operator")
        negate = kind in ("not", "nand", "nor")
        return {"type": "multi", "operator": operator, "negate": negate, "queries": [p for p in parsed if p]}
    if kind not in _SCALAR_FILTERS | {"equalsAny", "equalsAll", "range"}:
        err(f"Unsupported filter type: {kind}", f"{pointer}/type")
        return None
    name = item.get("field")
    if not isinstance(name, str) or not name:
        err(f'Parameter "field" for {kind} filter is missing.', f"{pointer}/field")
        return None
    if not _check_field(ent, name, errors):
        return None
    if kind == "range":
        params = item.get("parameters")
        if not isinstance(params, dict) or not params:
            err('Parameter "parameters" for range filter is missing.', f"{pointer}/parameters")
            return None
        return {"type": "range", "field": name, "parameters": params}
    if "value" not in item or item["value"] == "":
        err(f'Parameter "value" for {kind} filter is missing.', f"{pointer}/value")
        return None
    value = item["value"]
    if kind in ("equalsAny", "equalsAll"):
        values = value.split("|") if isinstance(value, str) else value if isinstance(value, list) else [value]
        if not values:
            err(f'Parameter "value" for {kind} filter is missing.', f"{pointer}/value")
            return None
        return {"type": kind, "field": name, "value": values}
    return {"type": kind, "field": name, "value": value}


def _parse_sort(ent: EntityDef, raw: Any, errors: list[ErrorDoc], pointer: str) -> list[tuple[str, bool]]:
    items: list[tuple[str, bool]] = []
    if isinstance(raw, str):
        for part in raw.split(","):
            part = part.strip()
            if part:
                items.append((part.lstrip("-+"), part.startswith("-")))
    elif isinstance(raw, list):
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or not entry.get("field"):
                errors.append(
                    http_error(
                        400,
                        "FRAMEWORK__INVALID_SORT_QUERY",
                        "A value for the sort parameter is required.",
                        {},
                        f"{pointer}/{i}/field",
                    )
                )
                continue
            items.append((str(entry["field"]), str(entry.get("order", "ASC")).upper() == "DESC"))
    return [(name, desc) for name, desc in items if _check_field(ent, name, errors)]


_AGGREGATIONS = frozenset({"count", "sum", "avg", "min", "max", "stats", "terms"})


def _parse_aggregations(
    ent: EntityDef, raw: Any, errors: list[ErrorDoc], pointer: str
) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        raw = [{"name": k, **v} for k, v in raw.items() if isinstance(v, dict)]
    out = []
    for i, agg in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(agg, dict) or not agg.get("name"):
            errors.append(
                http_error(
                    400,
                    "FRAMEWORK__INVALID_AGGREGATION_QUERY",
                    "The aggregation should contain a name",
                    {},
                    f"{pointer}/{i}/name",
                )
            )
            continue
        if agg.get("type") not in _AGGREGATIONS:
            errors.append(
                http_error(
                    400,
                    "FRAMEWORK__INVALID_AGGREGATION_QUERY",
                    'The aggregation type "{{ type }}" used as key does not exists.',
                    {"type": agg.get("type")},
                    f"{pointer}/{i}",
                )
            )
            continue
        if not isinstance(agg.get("field"), str) or not _check_field(ent, agg["field"], errors):
            continue
        out.append(agg)
    return out


def _check_field(ent: EntityDef, path: str, errors: list[ErrorDoc]) -> bool:
    if resolve_path(ent, path) is not None:
        return True
    errors.append(
        http_error(
            400,
            "FRAMEWORK__UNMAPPED_FIELD",
            'Field "{{ field }}" in entity "{{ entity }}" was not found.',
            {"field": path, "entity": ent.name},
        )
    )
    return False


_META_FIELDS = frozenset({"id", "createdAt", "updatedAt"})


def resolve_path(ent: EntityDef, path: str) -> list[tuple[EntityDef, str]] | None:
    """``options.group.name`` -> [(product, options), (option, group), (property_group, name)]."""
    parts = path.split(".")
    if parts[0] == ent.name and len(parts) > 1:
        parts = parts[1:]
    steps: list[tuple[EntityDef, str]] = []
    cur = ent
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        assoc = cur.assocs.get(part)
        if assoc is not None:
            steps.append((cur, part))
            cur = SCHEMA[assoc.ref]
            if last:
                steps.append((cur, cur.pk[0]))
            continue
        if last and (part in cur.fields or part in _META_FIELDS):
            steps.append((cur, part))
            return steps
        return None
    return steps


# -- reading rows -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """How an entity is rendered: stored columns, indexer-maintained (computed) ones, translated ones."""

    plain: tuple[str, ...]
    inherited: frozenset[str]
    computed: tuple[str, ...]
    translated: tuple[str, ...]


_PLANS = {
    name: _Plan(
        plain=tuple(
            f.name for f in ent.fields.values() if f.kind != "id" and not (f.translated or f.write_protected)
        ),
        inherited=frozenset(f.name for f in ent.fields.values() if f.inherited),
        computed=tuple(f.name for f in ent.fields.values() if f.write_protected),
        translated=tuple(f.name for f in ent.fields.values() if f.translated and not f.write_protected),
    )
    for name, ent in SCHEMA.items()
}


class Reader:
    """Reads field values and associations of stored rows in one language / inheritance context."""

    def __init__(self, store: Store, ctx: ReadContext) -> None:
        self.store = store
        self.ctx = ctx
        self.chain = store.language_chain(ctx.language_id)
        self._keys: dict[str, tuple[str, ...]] = {}

    def parent(self, ent: EntityDef, row: Row) -> Row | None:
        if not (self.ctx.inherit and ent.inheritance):
            return None
        parent_id = row.get("parentId")
        return self.store.rows[ent.name].get(parent_id) if parent_id else None

    def translation_keys(self, name: str) -> tuple[str, ...]:
        """Row keys of ``name`` along the language chain; the first is the context language's."""
        keys = self._keys.get(name)
        if keys is None:
            keys = self._keys[name] = tuple(tr_key(name, lang) for lang in self.chain)
        return keys

    def translated(self, ent: EntityDef, row: Row, name: str) -> Any:
        """``translated``: context language, its parent language, the system language, then the parent row."""
        for key in self.translation_keys(name):
            value = row.get(key)
            if value is not None:
                return unpack(value)
        parent = self.parent(ent, row) if ent.fields[name].inherited else None
        return self.translated(ent, parent, name) if parent is not None else None

    def own_translation(self, ent: EntityDef, row: Row, name: str) -> Any:
        value = row.get(self.translation_keys(name)[0])
        if value is None and ent.fields[name].inherited:
            parent = self.parent(ent, row)
            if parent is not None:
                return self.own_translation(ent, parent, name)
        return unpack(value)

    def value(self, ent: EntityDef, row: Row, name: str) -> Any:
        fd = ent.fields.get(name)
        if fd is None:
            return row.get(name)
        if fd.write_protected:
            return self.computed_fields(ent, row).get(name)
        if fd.translated:
            return self.translated(ent, row, name)
        value = row.get(name)
        if value is None and fd.inherited:
            parent = self.parent(ent, row)
            if parent is not None:
                return self.value(ent, parent, name)
        return unpack(value)

    def related(self, ent: EntityDef, row: Row, assoc: AssocDef) -> list[tuple[str, Row]]:
        store = self.store
        target = store.rows[assoc.ref]
        out: list[tuple[str, Row]] = []
        if assoc.kind == "many_to_one":
            key = self.value(ent, row, assoc.fk)
            hit = target.get(key) if key else None
            return [(key, hit)] if hit is not None else []
        own_key = row.get("id")
        if assoc.kind == "one_to_one":
            hits = (k for k in store.referencing(assoc.ref, assoc.fk, own_key) if k in target)
            first = next(hits, None)
            return [(first, target[first])] if first is not None else []
        if assoc.kind == "one_to_many":
            out = [(k, target[k]) for k in store.referencing(assoc.ref, assoc.fk, own_key) if k in target]
        else:
            assert assoc.mapping is not None
            assert assoc.mapping_ref is not None
            mapping = store.rows[assoc.mapping]
            for mk in store.referencing(assoc.mapping, assoc.fk, own_key):
                ref_key = mapping[mk].get(assoc.mapping_ref)
                if isinstance(ref_key, str):
                    hit = target.get(ref_key)
                    if hit is not None:
                        out.append((ref_key, hit))
        if not out and assoc.inherited:
            parent = self.parent(ent, row)
            if parent is not None:
                return self.related(ent, parent, assoc)
        return out

    def computed_fields(self, ent: EntityDef, row: Row) -> dict[str, Any]:
        """Write-protected fields: stored by uploads, or kept by Shopware's indexers (counts, ids, tree)."""
        store = self.store
        key: str = row.get("id") or ""
        out = {name: unpack(row.get(name)) for name in _PLANS[ent.name].computed}
        for name in ent.versions:
            out[name] = LIVE_VERSION_ID
        if "autoIncrement" in out:
            out["autoIncrement"] = store.seq[ent.name].get(key, -1) + 1
        if ent.name == "product":
            assocs = ent.assocs
            options = self.related(ent, row, assocs["options"])
            categories = self.related(ent, row, assocs["categories"])
            stock = row.get("stock")
            closeout = bool(self.value(ent, row, "isCloseout"))
            min_purchase = self.value(ent, row, "minPurchase") or 1
            out["childCount"] = len(store.referencing("product", "parentId", key))
            out["availableStock"] = stock
            out["available"] = bool(self.value(ent, row, "active")) and (
                not closeout or (stock or 0) >= min_purchase
            )
            out["optionIds"] = [k for k, _ in options] or None
            out["propertyIds"] = [k for k, _ in self.related(ent, row, assocs["properties"])] or None
            out["categoryIds"] = [k for k, _ in categories] or None
            tree: dict[str, None] = {}
            for cid, _ in categories:
                tree.update(dict.fromkeys(self.category_path(cid)))
            out["categoryTree"] = list(tree) or None
            # Runtime field of ProductVariationBuilder: built only when the read loads options and
            # options.group (Renderer.entity); filters and sorts see it empty.
            out["variation"] = []
            out["sales"] = out.get("sales") or 0
            out["states"] = ["is-physical"]  # StatesUpdater: no downloads
        elif ent.name == "category":
            path = self.category_path(key)
            cats = store.rows["category"]
            out["level"] = len(path)
            out["path"] = "|" + "|".join(path[:-1]) + "|" if len(path) > 1 else None
            out["childCount"] = len(store.referencing("category", "parentId", key))
            out["breadcrumb"] = [self.translated(ent, cats[c], "name") for c in path if c in cats]
            # Runtime fields only the storefront navigation fills; the entity's property defaults
            out["cmsPageIdSwitched"] = False
            out["visibleChildCount"] = 0
        elif ent.name == "media_folder":
            folders = store.rows["media_folder"]
            chain: list[str] = []
            cur = row.get("parentId")
            while cur and cur in folders and cur not in chain:
                chain.append(cur)
                cur = folders[cur].get("parentId")
            out["path"] = "|" + "|".join(chain[::-1]) + "|" if chain else None
            out["childCount"] = len(store.referencing("media_folder", "parentId", key))
        elif ent.name == "currency":
            out["isSystemDefault"] = key == DEFAULT_CURRENCY_ID
        elif ent.name == "order":
            # Generated columns over the price JSON (Migration1536232990Order).
            price = unpack(row.get("price")) or {}
            shipping = unpack(row.get("shippingCosts")) or {}
            ordered = row.get("orderDateTime")
            out["amountTotal"] = price.get("totalPrice")
            out["amountNet"] = price.get("netPrice")
            out["positionPrice"] = price.get("positionPrice")
            out["taxStatus"] = price.get("taxStatus")
            out["shippingTotal"] = shipping.get("totalPrice")
            out["orderDate"] = f"{ordered[:10]}T00:00:00.000+00:00" if isinstance(ordered, str) else None
        elif ent.name == "order_line_item":
            price = unpack(row.get("price")) or {}
            out["unitPrice"] = price.get("unitPrice")
            out["totalPrice"] = price.get("totalPrice")
        return out

    def category_path(self, category_id: str) -> list[str]:
        """Ids from the root down to ``category_id``."""
        cats = self.store.rows["category"]
        path: list[str] = []
        cur: str | None = category_id
        while cur and cur in cats and cur not in path:
            path.append(cur)
            cur = cats[cur].get("parentId")
        return path[::-1]


# -- filters ------------------------------------------------------------------------------------------------


def _getter(reader: Reader, ent: EntityDef, path: str) -> Getter:
    steps = resolve_path(ent, path)
    assert steps is not None
    *hops, (last_ent, last_field) = steps

    def leaf(row: Row) -> Any:
        if last_field == "id":
            return row.get("id")
        return reader.value(last_ent, row, last_field)

    if not hops:
        return lambda row: [leaf(row)]

    def walk(row: Row) -> list[Any]:
        rows = [row]
        for hop_ent, assoc_name in hops:
            assoc = hop_ent.assocs[assoc_name]
            rows = [r for cur in rows for _, r in reader.related(hop_ent, cur, assoc)]
        return [leaf(r) for r in rows] or [None]

    return walk


def _norm_target(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _eq(stored: Any, target: Any) -> bool:
    """SQL-ish equality: case-insensitive strings, numeric strings against numbers, 0/1 against booleans."""
    if stored is None or target is None:
        return stored is None and target is None
    if isinstance(stored, bool):
        return stored == (target in (True, 1, "1", "true"))
    if isinstance(stored, int | float):
        try:
            return float(stored) == float(target)
        except (TypeError, ValueError):
            return False
    if isinstance(stored, str):
        return stored.casefold() == (target if isinstance(target, str) else str(target).casefold())
    if isinstance(stored, list):
        return any(_eq(v, target) for v in stored)
    return bool(stored == target)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.casefold()
    return orjson.dumps(value).decode().casefold()


def _number_or_text(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _range_ok(stored: Any, params: dict[str, Any]) -> bool:
    if stored is None:
        return False
    left = _number_or_text(stored)
    for op, bound in params.items():
        right = _number_or_text(bound)
        if isinstance(left, float) != isinstance(right, float):
            left_s, right_s = str(stored), str(bound)
            ok = {
                "gte": left_s >= right_s,
                "lte": left_s <= right_s,
                "gt": left_s > right_s,
                "lt": left_s < right_s,
            }
        else:
            ok = {"gte": left >= right, "lte": left <= right, "gt": left > right, "lt": left < right}
        if not ok.get(op, True):
            return False
    return True


def compile_filter(reader: Reader, ent: EntityDef, f: dict[str, Any]) -> Pred:
    kind = f["type"]
    if kind == "multi":
        preds = [compile_filter(reader, ent, q) for q in f["queries"]]
        negate = f["negate"]
        if f["operator"] == "OR":
            return lambda row: any(p(row) for p in preds) != negate
        if f["operator"] == "XOR":
            return lambda row: (sum(1 for p in preds if p(row)) == 1) != negate
        return lambda row: all(p(row) for p in preds) != negate
    get = _getter(reader, ent, f["field"])
    if kind == "range":
        params = {k: v for k, v in f["parameters"].items() if k in ("gte", "lte", "gt", "lt")}
        return lambda row: any(_range_ok(v, params) for v in get(row))
    if kind == "equals":
        target = _norm_target(f["value"])
        return lambda row: any(_eq(v, target) for v in get(row))
    if kind == "equalsAny":
        targets = [_norm_target(v) for v in f["value"]]
        return lambda row: any(_eq(v, t) for v in get(row) for t in targets)
    if kind == "equalsAll":
        targets = [_norm_target(v) for v in f["value"]]
        return lambda row: all(any(_eq(v, t) for v in get(row)) for t in targets)
    needle = _text(f["value"])
    if kind == "contains":
        return lambda row: any(v is not None and needle in _text(v) for v in get(row))
    if kind == "prefix":
        return lambda row: any(v is not None and _text(v).startswith(needle) for v in get(row))
    return lambda row: any(v is not None and _text(v).endswith(needle) for v in get(row))


def _index_candidates(store: Store, ent: EntityDef, filters: list[Any]) -> list[str] | None:
    """Keys an indexed top-level equals/equalsAny filter narrows the search to; the full filter runs after."""
    for f in filters:
        if f["type"] not in ("equals", "equalsAny"):
            continue
        name = f["field"].removeprefix(ent.name + ".")
        values = f["value"] if f["type"] == "equalsAny" else [f["value"]]
        if name == "id" and not ent.is_mapping:
            table = store.rows[ent.name]
            found = {v.lower(): None for v in values if isinstance(v, str) and v.lower() in table}
            return store.sorted_keys(ent.name, list(found))
        if name in ent.indexed and (None not in values or name in NULL_INDEXED):
            keys: dict[str, None] = {}
            for v in values:
                keys.update(store.referencing(ent.name, name, v.lower() if isinstance(v, str) else v))
            return store.sorted_keys(ent.name, list(keys))
        if (name,) in ent.unique and all(isinstance(v, str) for v in values):
            index = store.uniques[ent.name][(name,)]
            hits = {index[v.casefold()]: None for v in values if v.casefold() in index}
            return store.sorted_keys(ent.name, list(hits))
    return None


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, float(value))
    if isinstance(value, str):
        return (2, value.casefold())
    return (3, _text(value))


_TERM_FIELDS = (
    "productNumber",
    "name",
    "ean",
    "manufacturerNumber",
    "keywords",
    "description",
    "code",
    "isoCode",
)


class Searcher:
    """Runs criteria against the store; keeps the last few matched key lists for cheap paging."""

    def __init__(self, store: Store, cache_size: int = 8) -> None:
        self.store = store
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, list[str], dict[str, Any]]] = OrderedDict()

    def search(self, ent: EntityDef, criteria: Criteria, ctx: ReadContext) -> SearchResult:
        keys, aggregations = self._matched(ent, criteria, ctx)
        offset, limit = criteria.offset, criteria.limit
        page = keys[offset : offset + limit] if limit is not None else keys[offset:]
        if criteria.total_count_mode == TOTAL_EXACT:
            total = len(keys)
        elif criteria.total_count_mode == TOTAL_NEXT_PAGES and limit is not None:
            total = min(len(keys) - offset, limit * 6 + 1) if len(keys) > offset else 0
        else:
            total = len(page)
        return SearchResult(page, total, aggregations)

    def _matched(self, ent: EntityDef, c: Criteria, ctx: ReadContext) -> tuple[list[str], dict[str, Any]]:
        cache_key = (
            ent.name,
            orjson.dumps([c.ids, c.filters, c.post_filters, c.sort, c.term, c.aggregations], default=str),
            ctx.language_id,
            ctx.inherit,
        )
        hit = self._cache.get(cache_key)
        if hit is not None and hit[0] == self.store.generation:
            self._cache.move_to_end(cache_key)
            return hit[1], hit[2]
        keys, aggregations = self._run(ent, c, ctx)
        self._cache[cache_key] = (self.store.generation, keys, aggregations)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return keys, aggregations

    def _run(self, ent: EntityDef, c: Criteria, ctx: ReadContext) -> tuple[list[str], dict[str, Any]]:
        store = self.store
        table = store.rows[ent.name]
        reader = Reader(store, ctx)
        candidates: Iterable[str]
        if c.ids is not None:
            candidates = list(dict.fromkeys(k.lower() for k in c.ids if k.lower() in table))
        else:
            narrowed = _index_candidates(store, ent, c.filters)
            candidates = narrowed if narrowed is not None else table
        keys = list(candidates)
        if c.filters:
            pred = compile_filter(
                reader, ent, {"type": "multi", "operator": "AND", "negate": False, "queries": c.filters}
            )
            keys = [k for k in keys if pred(table[k])]
        aggregations = self._aggregate(reader, ent, c.aggregations, keys) if c.aggregations else {}
        if c.post_filters:
            pred = compile_filter(
                reader, ent, {"type": "multi", "operator": "AND", "negate": False, "queries": c.post_filters}
            )
            keys = [k for k in keys if pred(table[k])]
        scores: dict[str, int] = {}
        if c.term:
            needle = c.term.casefold()
            fields = [f for f in _TERM_FIELDS if f in ent.fields]
            for k in keys:
                score = sum(1 for f in fields if needle in _text(reader.value(ent, table[k], f) or ""))
                if score:
                    scores[k] = score
            keys = [k for k in keys if k in scores]
        for name, desc in reversed(c.sort):
            get = _getter(reader, ent, name)
            keys.sort(key=lambda k: _sort_key(get(table[k])[0]), reverse=desc)
        if c.term and not c.sort:
            keys.sort(key=lambda k: scores[k], reverse=True)
        return keys, aggregations

    def _aggregate(
        self, reader: Reader, ent: EntityDef, aggs: list[dict[str, Any]], keys: list[str]
    ) -> dict[str, Any]:
        table = self.store.rows[ent.name]
        out: dict[str, Any] = {}
        for agg in aggs:
            get = _getter(reader, ent, agg["field"])
            values = [v for k in keys for v in get(table[k]) if v is not None]
            numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            name, kind = agg["name"], agg["type"]
            result: dict[str, Any]
            if kind == "count":
                result = {"count": len(values)}
            elif kind == "sum":
                result = {"sum": sum(numbers)}
            elif kind == "avg":
                result = {"avg": sum(numbers) / len(numbers) if numbers else None}
            elif kind in ("min", "max"):
                pick = min if kind == "min" else max
                result = {kind: pick(values, key=_sort_key) if values else None}
            elif kind == "stats":
                result = {
                    "min": min(numbers) if numbers else None,
                    "max": max(numbers) if numbers else None,
                    "avg": sum(numbers) / len(numbers) if numbers else None,
                    "sum": sum(numbers),
                }
            else:
                counts: dict[Any, int] = {}
                for v in values:
                    bucket_key = v if isinstance(v, str | int | float | bool) else _text(v)
                    counts[bucket_key] = counts.get(bucket_key, 0) + 1
                buckets = [
                    {"key": k, "count": n, "extensions": [], "apiAlias": "aggregation_bucket"}
                    for k, n in counts.items()
                ]
                limit = _positive_int(agg.get("limit"))
                result = {"buckets": buckets[:limit] if limit else buckets}
            out[name] = {**result, "extensions": [], "apiAlias": f"{name}_aggregation"}
        return out


# -- rendering ----------------------------------------------------------------------------------------------


class Renderer:
    """Turns stored rows into the Admin API's entity JSON (``JsonEntityEncoder``) or JSON:API records."""

    def __init__(self, store: Store, ctx: ReadContext) -> None:
        self.store = store
        self.ctx = ctx
        self.reader = Reader(store, ctx)

    def entity(
        self, ent: EntityDef, key: str, row: Row, assocs: dict[str, Criteria] | None = None
    ) -> dict[str, Any]:
        plan = _PLANS[ent.name]
        wanted = self.ctx.includes.get(ent.name) if self.ctx.includes else None
        reader = self.reader
        parent = reader.parent(ent, row)
        out: dict[str, Any] = {}
        if not ent.is_mapping and (wanted is None or "id" in wanted):
            out["id"] = key
        inherited = plan.inherited
        for name in plan.plain:
            if wanted is not None and name not in wanted:
                continue
            value = row.get(name)
            if value is None and parent is not None and name in inherited:
                value = parent.get(name)
            out[name] = orjson.loads(value) if value.__class__ is bytes else value
        if plan.computed and (wanted is None or not wanted.isdisjoint(plan.computed)):
            computed = reader.computed_fields(ent, row)
            for name in plan.computed:
                if wanted is None or name in wanted:
                    out[name] = computed[name]
            if "variation" in out and assocs:
                out["variation"] = self.variation(ent, row, assocs)
        if plan.translated:
            want_translated = wanted is None or "translated" in wanted
            translated: dict[str, Any] = {}
            for name in plan.translated:
                keys = reader.translation_keys(name)
                own = row.get(keys[0])
                value = own
                for fallback in keys[1:]:
                    if value is not None:
                        break
                    value = row.get(fallback)
                if parent is not None and name in inherited and (own is None or value is None):
                    own = reader.own_translation(ent, row, name) if own is None else own
                    value = reader.translated(ent, row, name) if value is None else value
                if want_translated:
                    translated[name] = orjson.loads(value) if value.__class__ is bytes else value
                if wanted is None or name in wanted:
                    out[name] = orjson.loads(own) if own.__class__ is bytes else own
            if want_translated:
                out["translated"] = translated
        for name in ("createdAt", "updatedAt"):
            if wanted is None or name in wanted:
                out[name] = row.get(name)
        for name, assoc in ent.assocs.items():
            if wanted is not None and name not in wanted:
                continue
            sub = assocs.get(name) if assocs else None
            if sub is None:
                out[name] = None
            elif assoc.kind == "many_to_one" or assoc.kind == "one_to_one":
                hits = reader.related(ent, row, assoc)
                out[name] = (
                    self.entity(SCHEMA[assoc.ref], hits[0][0], hits[0][1], sub.associations) if hits else None
                )
            else:
                ref = SCHEMA[assoc.ref]
                out[name] = [
                    self.entity(ref, k, r, sub.associations) for k, r in self.children(ent, row, assoc, sub)
                ]
        for name, to_many in ent.phantoms.items():
            if wanted is not None and name not in wanted:
                continue
            if assocs is None or name not in assocs:
                out[name] = None
            elif name == "translations":
                out[name] = self.translations(ent, key, row)
            else:
                out[name] = [] if to_many else None
        if wanted is None:
            if not ent.is_mapping:
                out["_uniqueIdentifier"] = key
            out["extensions"] = []
        out["apiAlias"] = ent.name
        return out

    def variation(self, ent: EntityDef, row: Row, assocs: dict[str, Criteria]) -> list[dict[str, Any]]:
        """``ProductVariationBuilder``: group/option names of the loaded options, ordered by the group's
        position then name; options without a loaded group are left out, so no ``options.group``, no names."""
        sub = assocs.get("options")
        if sub is None or "group" not in sub.associations:
            return []
        reader = self.reader
        groups = self.store.rows["property_group"]
        option_def, group_def = SCHEMA["property_group_option"], SCHEMA["property_group"]
        named: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        for _, option in self.children(ent, row, ent.assocs["options"], sub):
            group = groups.get(option.get("groupId") or "")
            if group is None:
                continue
            group_name = reader.translated(group_def, group, "name")
            position = reader.translated(group_def, group, "position")
            order = (_sort_key(position), _sort_key(group_name))
            named.append(
                (order, {"group": group_name, "option": reader.translated(option_def, option, "name")})
            )
        named.sort(key=lambda pair: pair[0])
        return [entry for _, entry in named]

    def translations(self, ent: EntityDef, key: str, row: Row) -> list[dict[str, Any]]:
        """The ``translations`` association: one ``<entity>_translation`` per language the row has."""
        alias = f"{ent.name}_translation"
        out = []
        for marker in row:
            if marker[:1] != "|":
                continue
            language = marker[1:]
            entry: dict[str, Any] = {
                name: unpack(row.get(tr_key(name, language))) for name in sorted(ent.translated)
            }
            entry.update(
                {
                    ent.id_property: key,
                    "languageId": language,
                    "createdAt": row.get("createdAt"),
                    "updatedAt": row.get("updatedAt"),
                    "extensions": [],
                    "apiAlias": alias,
                }
            )
            out.append(entry)
        return out

    def children(self, ent: EntityDef, row: Row, assoc: AssocDef, sub: Criteria) -> list[tuple[str, Row]]:
        """A to-many association narrowed by its nested criteria (filter, sort, page)."""
        related = self.reader.related(ent, row, assoc)
        if not (sub.filters or sub.sort or sub.limit is not None):
            return related
        ref = SCHEMA[assoc.ref]
        if sub.filters:
            pred = compile_filter(
                self.reader,
                ref,
                {"type": "multi", "operator": "AND", "negate": False, "queries": sub.filters},
            )
            related = [(k, r) for k, r in related if pred(r)]
        for name, desc in reversed(sub.sort):
            get = _getter(self.reader, ref, name)
            related.sort(key=lambda kr: _sort_key(get(kr[1])[0]), reverse=desc)
        if sub.limit is not None:
            related = related[sub.offset : sub.offset + sub.limit]
        return related

    # -- JSON:API -----------------------------------------------------------------------------------------

    def jsonapi_record(
        self,
        ent: EntityDef,
        key: str,
        row: Row,
        assocs: dict[str, Criteria] | None,
        included: dict[tuple[str, str], dict[str, Any]],
    ) -> dict[str, Any]:
        plain = self.entity(ent, key, row)
        if "variation" in plain and assocs:
            plain["variation"] = self.variation(ent, row, assocs)
        attributes = {
            k: v
            for k, v in plain.items()
            if k not in ent.assocs
            and k not in ent.phantoms
            and k not in ("id", "apiAlias", "_uniqueIdentifier", "extensions")
        }
        self_link = f"{self.ctx.base_url}/api/{ent.alias}/{key}"
        relationships: dict[str, Any] = {}
        for name, assoc in ent.assocs.items():
            single = assoc.kind == "many_to_one" or assoc.kind == "one_to_one"
            rel: dict[str, Any] = {
                "data": None if single else [],
                "links": {"related": f"{self_link}/{kebab(name)}"},
            }
            sub = assocs.get(name) if assocs else None
            if sub is not None:
                ref = SCHEMA[assoc.ref]
                hits = self.reader.related(ent, row, assoc) if single else self.children(ent, row, assoc, sub)
                for hk, hrow in hits:
                    ident = {"type": ref.name, "id": hk}
                    if single:
                        rel["data"] = ident
                    else:
                        rel["data"].append(ident)
                    if (ref.name, hk) not in included:
                        included[(ref.name, hk)] = {}
                        included[(ref.name, hk)] = self.jsonapi_record(
                            ref, hk, hrow, sub.associations, included
                        )
            relationships[name] = rel
        for name, to_many in ent.phantoms.items():
            relationships[name] = {
                "data": [] if to_many else None,
                "links": {"related": f"{self_link}/{kebab(name)}"},
            }
        return {
            "id": key,
            "type": ent.name,
            "attributes": attributes,
            "links": {"self": self_link},
            "relationships": relationships,
            "meta": None,
        }


def listing_links(
    url_path: str, query: dict[str, str], limit: int | None, page: int, total: int
) -> dict[str, str]:
    """``JsonFactoryBase::createPaginationLinks``."""
    if not limit:
        return {}

    def build(p: int) -> str:
        return f"{url_path}?{urlencode({**query, 'limit': limit, 'page': p})}"

    last = max(1, math.ceil(total / limit))
    links = {"first": build(1), "last": build(last)}
    if page > 1:
        links["prev"] = build(page - 1)
    if page < last:
        links["next"] = build(page + 1)
    return links
