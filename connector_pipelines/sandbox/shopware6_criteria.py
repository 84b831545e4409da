"""Criteria of the Shopware 6 emulator: the search document and query strings, parsed and validated.

Follows ``RequestCriteriaBuilder`` / ``QueryStringParser``: every invalid part is collected and reported
together, as Shopware does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from connector_pipelines.sandbox.shopware6_errors import ErrorDoc, ShopwareError, http_error
from connector_pipelines.sandbox.shopware6_schema import SCHEMA, EntityDef

TOTAL_NONE, TOTAL_EXACT, TOTAL_NEXT_PAGES = 0, 1, 2
_TOTAL_MODES = {"0": 0, "none": 0, "1": 1, "exact": 1, "2": 2, "next-pages": 2}
_FILTER = "FRAMEWORK__INVALID_FILTER_QUERY"


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


def positive_int(value: Any) -> int | None:
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
        limit = positive_int(payload["limit"])
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
        page = positive_int(payload["page"])
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
