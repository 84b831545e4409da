"""Search in the Shopware 6 emulator: filters, term search, sorting, paging and aggregations over the store.

Matched key lists are cached per criteria and store generation, so paging through a large result set costs
one scan, not one per page.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from connector_pipelines.sandbox.shopware6_criteria import (
    TOTAL_EXACT,
    TOTAL_NEXT_PAGES,
    Criteria,
    positive_int,
    resolve_path,
)
from connector_pipelines.sandbox.shopware6_read import ReadContext, Reader
from connector_pipelines.sandbox.shopware6_schema import EntityDef
from connector_pipelines.sandbox.shopware6_store import NULL_INDEXED, Row, Store

Pred = Callable[[Row], bool]
Getter = Callable[[Row], list[Any]]


@dataclass(slots=True)
class SearchResult:
    keys: list[str]
    total: int
    aggregations: dict[str, Any]


# -- filters ------------------------------------------------------------------------------------------------


def field_getter(reader: Reader, ent: EntityDef, path: str) -> Getter:
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
    get = field_getter(reader, ent, f["field"])
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


def sort_key(value: Any) -> tuple[int, Any]:
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
            get = field_getter(reader, ent, name)
            keys.sort(key=lambda k: sort_key(get(table[k])[0]), reverse=desc)
        if c.term and not c.sort:
            keys.sort(key=lambda k: scores[k], reverse=True)
        return keys, aggregations

    def _aggregate(
        self, reader: Reader, ent: EntityDef, aggs: list[dict[str, Any]], keys: list[str]
    ) -> dict[str, Any]:
        table = self.store.rows[ent.name]
        out: dict[str, Any] = {}
        for agg in aggs:
            get = field_getter(reader, ent, agg["field"])
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
                result = {kind: pick(values, key=sort_key) if values else None}
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
                limit = positive_int(agg.get("limit"))
                result = {"buckets": buckets[:limit] if limit else buckets}
            out[name] = {**result, "extensions": [], "apiAlias": f"{name}_aggregation"}
        return out
