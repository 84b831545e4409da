"""Plytix v1 search semantics, shared by every ``…/search`` route of the emulator.

A search body is ``{"filters": [[f, f], [f]], "attributes": [...], "pagination": {...}}``: the outer list
ORs its AND-groups (``contracts/plytix.md`` §3.1). Each searchable field declares a *kind*; the kind decides
which operators the field allows (what ``GET /api/v1/filters/product`` lists) and how values compare. A
filter is compiled once into a predicate; date filters become half-open intervals of microseconds so that the
store can answer a ``modified`` range from its sorted index instead of scanning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Generic, Literal, TypeVar

import orjson
from pydantic import JsonValue

T = TypeVar("T")
Kind = Literal["text", "dropdown", "multiselect", "hierarchy", "number", "int", "date", "bool", "media"]
Predicate = Callable[[T], bool]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
MAX_US = 2**62

# Operators per kind, as the filters endpoint lists them [spec example]; ``bte`` and ``last_days`` come from
# the operator table and are offered on dates and numbers. ``in``/``!in`` on text fields: the contract says
# matching ignores case "except for dropdown and multiselect values in in/!in", so text takes them too.
OPERATORS: dict[Kind, tuple[str, ...]] = {
    "text": ("exists", "!exists", "like", "eq", "!eq", "in", "!in"),
    "dropdown": ("exists", "!exists", "eq", "!eq", "in", "!in"),
    "multiselect": ("exists", "!exists", "in", "!in"),
    "hierarchy": ("exists", "!exists", "in", "!in"),
    "number": ("exists", "!exists", "eq", "!eq", "gt", "gte", "lt", "lte", "bte", "in", "!in"),
    "int": ("exists", "!exists", "eq", "!eq", "gt", "gte", "lt", "lte", "bte", "in", "!in"),
    "date": ("exists", "!exists", "eq", "gt", "gte", "lt", "lte", "bte", "last_days"),
    "bool": ("eq",),
    "media": ("exists", "!exists"),
}
FILTER_TYPES: dict[Kind, str] = {
    "text": "TextAttribute",
    "dropdown": "DropdownAttribute",
    "multiselect": "MultiSelectAttribute",
    "hierarchy": "MultiSelectAttribute",
    "number": "DecimalAttribute",
    "int": "IntAttribute",
    "date": "DateAttribute",
    "bool": "BooleanAttribute",
    "media": "MediaAttribute",
}
TEXT_SEARCH = "text_search"


class PlytixError(Exception):
    """An error answer in Plytix's envelope ``{"error": {"msg", "errors": [{"field", "msg"}]}}``."""

    def __init__(
        self,
        status: int,
        msg: str,
        errors: list[dict[str, JsonValue]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, JsonValue] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def describe(self) -> str:
        details = "; ".join(f"{e.get('field')}: {e.get('msg')}" for e in self.errors or [])
        return f"{self.msg} ({details})" if details else self.msg

    def body(self) -> bytes:
        error: dict[str, JsonValue] = {"msg": self.msg}
        if self.errors is not None:
            error["errors"] = list(self.errors)
        error.update(self.extra)
        return orjson.dumps({"error": error})


def invalid(field: str, msg: str, summary: str = "Search validation error") -> PlytixError:
    return PlytixError(422, summary, [{"field": field, "msg": msg}])


# --- time -----------------------------------------------------------------------------------------------


def iso(us: int) -> str:
    """Microseconds since the epoch as Plytix writes instants: ISO 8601 with ``+00:00``."""
    return (EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds")


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_instant(value: object) -> tuple[int, bool] | None:
    """An ISO date or date-time -> (microseconds, is_date_only); naive values are UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return to_us(datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)), True
        return to_us(datetime.fromisoformat(text)), False
    except ValueError:
        return None


# --- fields ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec(Generic[T]):
    """A searchable field: its key in filters/attributes/order, how to read it from a record."""

    key: str
    kind: Kind
    get: Callable[[T], object]
    options: tuple[str, ...] | None = None
    operators: tuple[str, ...] = ()
    filter_type: str = ""

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.operators or OPERATORS[self.kind]

    def describe(self) -> dict[str, JsonValue]:
        """The field as ``GET /api/v1/filters/...`` lists it."""
        entry: dict[str, JsonValue] = {
            "filter_type": self.filter_type or FILTER_TYPES[self.kind],
            "key": self.key,
            "operators": list(self.allowed),
        }
        if self.options is not None:
            entry["options"] = list(self.options)
        return entry


@dataclass(frozen=True, slots=True)
class Condition(Generic[T]):
    """One parsed filter: ``interval`` is set for date comparisons (microseconds, half-open)."""

    key: str
    operator: str
    predicate: Predicate[T]
    interval: tuple[int, int] | None = None


@dataclass(slots=True)
class Query(Generic[T]):
    groups: list[list[Condition[T]]]
    attributes: list[str]
    page: int
    page_size: int
    order: FieldSpec[T] | None
    descending: bool
    order_text: str | None
    cache_key: str = ""
    extra: dict[str, JsonValue] = field(default_factory=dict)

    def matches(self, record: T) -> bool:
        if not self.groups:
            return True
        return any(all(c.predicate(record) for c in group) for group in self.groups)

    def window(self) -> tuple[int, int]:
        start = (self.page - 1) * self.page_size
        return start, start + self.page_size

    def pagination(self, count: int, total: int) -> dict[str, JsonValue]:
        return {
            "count": count,
            "order": self.order_text,
            "page": self.page,
            "page_size": self.page_size,
            "total_count": total,
        }


def present(value: object) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _as_number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _fold(value: object) -> str:
    return str(value).casefold()


def _values(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _bad_value(spec_key: str, operator: str, value: object) -> PlytixError:
    return invalid("filters", f"value {value!r} has no meaning for operator {operator} on {spec_key}")


def compile_condition(spec: FieldSpec[T], operator: str, value: object, now_us: int) -> Condition[T]:
    """Validate ``operator``/``value`` for ``spec`` and build the predicate (a 422 when meaningless)."""
    get = spec.get
    kind = spec.kind
    if operator not in spec.allowed:
        raise invalid("filters", f"operator {operator} is not allowed for field {spec.key}")
    if operator == "exists":
        return Condition(spec.key, operator, lambda r: present(get(r)))
    if operator == "!exists":
        return Condition(spec.key, operator, lambda r: not present(get(r)))

    if kind == "date":
        return _date_condition(spec, operator, value, now_us)

    if kind == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise _bad_value(spec.key, operator, value)
        wanted = value
        return Condition(spec.key, operator, lambda r: bool(get(r)) is wanted)

    if kind in ("number", "int"):
        return _number_condition(spec, operator, value)

    # text, dropdown, multiselect, hierarchy
    exact_in = kind in ("dropdown", "multiselect", "hierarchy")
    if operator in ("in", "!in"):
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str | int | float) for v in value)
        ):
            raise _bad_value(spec.key, operator, value)
        if exact_in:
            wanted_set = {str(v) for v in value}

            def hit(r: T) -> bool:
                return any(str(v) in wanted_set for v in _values(get(r)))
        else:
            folded = {_fold(v) for v in value}

            def hit(r: T) -> bool:
                return any(_fold(v) in folded for v in _values(get(r)))

        if operator == "in":
            return Condition(spec.key, operator, hit)
        return Condition(spec.key, operator, lambda r: not hit(r))
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _bad_value(spec.key, operator, value)
    target = _fold(value)
    if operator == "like":
        return Condition(spec.key, operator, lambda r: any(target in _fold(v) for v in _values(get(r))))

    def equal(r: T) -> bool:
        return any(_fold(v) == target for v in _values(get(r)))

    if operator == "eq":
        return Condition(spec.key, operator, equal)
    if operator == "!eq":
        return Condition(spec.key, operator, lambda r: not equal(r))
    raise _bad_value(spec.key, operator, value)


def _number_condition(spec: FieldSpec[T], operator: str, value: object) -> Condition[T]:
    get = spec.get

    def number_of(r: T) -> float | None:
        return _as_number(get(r))

    if operator in ("in", "!in"):
        if not isinstance(value, list) or not value:
            raise _bad_value(spec.key, operator, value)
        numbers = [_as_number(v) for v in value]
        if any(n is None for n in numbers):
            raise _bad_value(spec.key, operator, value)
        wanted = set(numbers)
        if operator == "in":
            return Condition(spec.key, operator, lambda r: number_of(r) in wanted)
        return Condition(spec.key, operator, lambda r: number_of(r) not in wanted)
    if operator == "bte":
        if not isinstance(value, list) or len(value) != 2:
            raise _bad_value(spec.key, operator, value)
        low, high = _as_number(value[0]), _as_number(value[1])
        if low is None or high is None:
            raise _bad_value(spec.key, operator, value)

        def between(r: T) -> bool:
            n = number_of(r)
            return n is not None and low <= n <= high

        return Condition(spec.key, operator, between)
    target = _as_number(value)
    if target is None:
        raise _bad_value(spec.key, operator, value)
    if operator == "eq":
        return Condition(spec.key, operator, lambda r: number_of(r) == target)
    if operator == "!eq":
        return Condition(spec.key, operator, lambda r: number_of(r) != target)
    compare: dict[str, Callable[[float, float], bool]] = {
        "gt": float.__gt__,
        "gte": float.__ge__,
        "lt": float.__lt__,
        "lte": float.__le__,
    }
    op = compare.get(operator)
    if op is None:
        raise _bad_value(spec.key, operator, value)

    def ordered(r: T) -> bool:
        n = number_of(r)
        return n is not None and op(n, target)

    return Condition(spec.key, operator, ordered)


def _date_condition(spec: FieldSpec[T], operator: str, value: object, now_us: int) -> Condition[T]:
    """Every date operator reduces to a half-open interval [low, high) of microseconds."""
    if operator == "last_days":
        days = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.isdigit():
            days = int(value)
        if days is None or days < 0:
            raise _bad_value(spec.key, operator, value)
        # "Only full days": counted from today's midnight (UTC), the current time of day dismissed.
        interval = (now_us - now_us % DAY_US - days * DAY_US, MAX_US)
    elif operator == "bte":
        if not isinstance(value, list) or len(value) != 2:
            raise _bad_value(spec.key, operator, value)
        low, high = parse_instant(value[0]), parse_instant(value[1])
        if low is None or high is None:
            raise _bad_value(spec.key, operator, value)
        # Both ends inclusive; a date-only end includes that whole day.
        interval = (low[0], high[0] + (DAY_US if high[1] else 1))
    else:
        parsed = parse_instant(value)
        if parsed is None:
            raise _bad_value(spec.key, operator, value)
        moment, date_only = parsed
        intervals = {
            "eq": (moment, moment + (DAY_US if date_only else 1)),
            "gt": (moment + 1, MAX_US),
            "gte": (moment, MAX_US),
            "lt": (-MAX_US, moment),
            "lte": (-MAX_US, moment + 1),
        }
        if operator not in intervals:
            raise _bad_value(spec.key, operator, value)
        interval = intervals[operator]
    low_us, high_us = interval
    get = spec.get

    def inside(r: T) -> bool:
        moment = get(r)
        return isinstance(moment, int) and low_us <= moment < high_us

    return Condition(spec.key, operator, inside, interval)


def _text_search(fields: Mapping[str, FieldSpec[T]], names: object, value: object) -> Condition[T]:
    """``text_search``: the field is a list of fields, the value text found (ignoring case) in any."""
    keys = [names] if isinstance(names, str) else names
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise invalid("filters", "text_search needs a field or a list of fields")
    specs: list[FieldSpec[T]] = []
    for key in keys:
        spec = fields.get(key)
        if spec is None:
            raise invalid("filters", f"{key} is not a valid field")
        if spec.kind not in ("text", "dropdown", "multiselect"):
            raise invalid("filters", f"operator text_search is not allowed for field {key}")
        specs.append(spec)
    if not isinstance(value, str) or not value:
        raise _bad_value(",".join(keys), TEXT_SEARCH, value)
    target = value.casefold()
    getters = [s.get for s in specs]

    def found(r: T) -> bool:
        return any(target in _fold(v) for get in getters for v in _values(get(r)))

    return Condition(",".join(keys), TEXT_SEARCH, found)


# --- the request body -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchLimits:
    max_page_size: int = 100
    default_page_size: int = 25
    attribute_limit: int | None = None  # products only: columns beyond id and sku
    always_returned: frozenset[str] = frozenset({"id"})


def parse_search(
    body: object,
    fields: Mapping[str, FieldSpec[T]],
    limits: SearchLimits,
    now_us: int,
    *,
    selectable: Callable[[str], bool] | None = None,
) -> Query[T]:
    """Validate a search body against ``fields``; every problem is a 422 in Plytix's envelope."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise PlytixError(400, "Bad request: the search body must be a JSON object", [])
    groups = _parse_filters(body.get("filters"), fields, now_us)
    attributes = _parse_attributes(body.get("attributes"), fields, limits, selectable)
    page, page_size, order, descending, order_text = _parse_pagination(body.get("pagination"), fields, limits)
    cache_key = orjson.dumps(
        [body.get("filters") or [], order_text or ""], option=orjson.OPT_SORT_KEYS
    ).decode()
    return Query(groups, attributes, page, page_size, order, descending, order_text, cache_key)


def _parse_filters(raw: object, fields: Mapping[str, FieldSpec[T]], now_us: int) -> list[list[Condition[T]]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("filters", "filters must be a list of lists of filters")
    groups: list[list[Condition[T]]] = []
    for group in raw:
        if not isinstance(group, list):
            raise invalid("filters", "filters must be a list of lists of filters")
        conditions: list[Condition[T]] = []
        for item in group:
            if not isinstance(item, dict) or "field" not in item or "operator" not in item:
                raise invalid("filters", "a filter needs a field and an operator")
            name, operator, value = item["field"], item["operator"], item.get("value")
            if operator == TEXT_SEARCH:
                conditions.append(_text_search(fields, name, value))
                continue
            if not isinstance(name, str) or not isinstance(operator, str):
                raise invalid("filters", "a filter's field and operator must be strings")
            spec = fields.get(name)
            if spec is None:
                raise invalid("filters", f"{name} is not a valid field")
            conditions.append(compile_condition(spec, operator, value, now_us))
        if conditions:
            groups.append(conditions)
    return groups


def _parse_attributes(
    raw: object,
    fields: Mapping[str, FieldSpec[T]],
    limits: SearchLimits,
    selectable: Callable[[str], bool] | None,
) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise invalid("attributes", "attributes must be a list of strings")
    wanted: list[str] = []
    for name in raw:
        if name in wanted:
            continue
        if (
            name not in limits.always_returned
            and name not in fields
            and not (selectable and selectable(name))
        ):
            raise invalid("attributes", f"{name} does not exist")
        wanted.append(name)
    counted = [a for a in wanted if a not in limits.always_returned]
    if limits.attribute_limit is not None and len(counted) > limits.attribute_limit:
        raise invalid(
            "schema",
            f"columns limit exceeded, current limit is {limits.attribute_limit}",
            "Schema validation error",
        )
    return wanted


def _parse_pagination(
    raw: object, fields: Mapping[str, FieldSpec[T]], limits: SearchLimits
) -> tuple[int, int, FieldSpec[T] | None, bool, str | None]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid("pagination", "pagination must be an object")
    page = raw.get("page", 1)
    page_size = raw.get("page_size", limits.default_page_size)
    page = 1 if page is None else page
    page_size = limits.default_page_size if page_size is None else page_size
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise invalid("pagination.page", "page must be a positive integer")
    if (
        not isinstance(page_size, int)
        or isinstance(page_size, bool)
        or not 1 <= page_size <= limits.max_page_size
    ):
        raise invalid("pagination.page_size", f"page_size must be between 1 and {limits.max_page_size}")
    order_raw = raw.get("order")
    if order_raw is None or order_raw == "":
        return page, page_size, None, False, order_raw
    if not isinstance(order_raw, str):
        raise invalid("pagination.order", "order must be a string")
    descending = order_raw.startswith("-")
    key = order_raw[1:] if descending else order_raw
    spec = fields.get(key)
    if spec is None:
        raise invalid("pagination.order", f"{key} is not a valid field to order by")
    return page, page_size, spec, descending, order_raw


def sort_key(spec: FieldSpec[T]) -> Callable[[T], tuple[int, float | int | str]]:
    """Absent values last (ascending); numbers numerically, text ignoring case, dates as instants."""
    get = spec.get
    if spec.kind in ("number", "int"):

        def numeric(r: T) -> tuple[int, float | int | str]:
            n = _as_number(get(r))
            return (1, 0.0) if n is None else (0, n)

        return numeric
    if spec.kind == "date":

        def instant(r: T) -> tuple[int, float | int | str]:
            v = get(r)
            return (0, v) if isinstance(v, int) else (1, 0)

        return instant

    def text(r: T) -> tuple[int, float | int | str]:
        v = get(r)
        if not present(v):
            return (1, "")
        first = _values(v)[0]
        return (0, _fold(first))

    return text


def run_search(items: Sequence[T], query: Query[T]) -> list[T]:
    """The matches of ``query`` over ``items`` (kept in their order unless the query orders them)."""
    matched = [r for r in items if query.matches(r)]
    if query.order is not None:
        matched.sort(key=sort_key(query.order), reverse=query.descending)
    return matched


def project(row: Mapping[str, JsonValue], attributes: Sequence[str]) -> dict[str, JsonValue]:
    """A non-product search row: ``id`` always, then what was asked for (absent fields left out)."""
    out: dict[str, JsonValue] = {"id": row.get("id")}
    for name in attributes:
        if name in row:
            out[name] = row[name]
    return out
