"""The field mapping of the gateway's reads: ERP rows (field name -> value, as the ERP names them) become
:class:`ErpItem`, :class:`StockLevel` and :class:`PriceEntry` through compiled rules of the ERP file mapping
(:func:`compile_rule`: source field, then transformations). Each connector brings its own rules for its field
names; a tenant's :class:`ErpFieldMapping` replaces them field by field.

A row whose rule fails (a missing required value, an unknown value of a map, a number that does not parse,
a value the record refuses) becomes an :class:`ErpRowError` naming kind, SKU, field and row; mapping goes on
with the next row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from pydantic import BaseModel, JsonValue, ValidationError

from connector_pipelines.sources.erp_gateway.connector import (
    ErpItem,
    ErpRowError,
    PriceEntry,
    RecordKind,
    StockLevel,
)
from connector_pipelines.sources.erp_mapping.values import (
    CompiledRule,
    FieldProblem,
    NumberParser,
    Value,
    as_text,
    compile_rule,
    is_blank,
)
from connector_pipelines.tenants.systems import ErpFieldMapping

__all__ = ["RawRow", "RecordMapper"]

M = TypeVar("M", bound=BaseModel)
Convert = Callable[[Value], object]

_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})
_DOTTED_DAY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


@dataclass(frozen=True, slots=True)
class RawRow:
    """One source row: ``where`` names it in errors (``stock.csv:12``, ``Logo items ref 17``)."""

    where: str
    data: Mapping[str, JsonValue]
    modified_at: datetime | None = None


def _text(value: Value) -> str | None:
    return None if is_blank(value) else as_text(value).strip()


def _boolean(value: Value) -> bool | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = as_text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldProblem(f"expected true or false, got {as_text(value)!r}")


def _day(value: Value) -> date | None:
    """ISO dates and date-times (``2026-07-25``, ``2026-07-25T00:00:00``) and ``25.07.2026``."""
    if is_blank(value):
        return None
    text = as_text(value).strip()
    dotted = _DOTTED_DAY.match(text)
    try:
        if dotted:
            return date(int(dotted.group(3)), int(dotted.group(2)), int(dotted.group(1)))
        return datetime.fromisoformat(text).date() if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        raise FieldProblem(f"not a date: {text!r} (YYYY-MM-DD or DD.MM.YYYY)") from None


@dataclass(frozen=True, slots=True)
class _Target:
    convert: Convert
    required: bool = False


def _targets(numbers: NumberParser) -> dict[RecordKind, dict[str, _Target]]:
    number = _Target(numbers.decimal)
    needed_number = _Target(numbers.decimal, required=True)
    text, needed_text = _Target(_text), _Target(_text, required=True)
    return {
        "item": {
            "sku": needed_text,
            "name": text,
            "vat_rate": number,
            "barcode": text,
            "unit": text,
            "active": _Target(_boolean),
        },
        "stock": {"sku": needed_text, "on_hand": needed_number, "reserved": number, "warehouse_code": text},
        "price": {
            "sku": needed_text,
            "price": needed_number,
            "currency": _Target(lambda v: (_text(v) or "").upper() or None, required=True),
            "includes_vat": _Target(_boolean, required=True),
            "valid_from": _Target(_day),
            "valid_to": _Target(_day),
            "price_list_code": text,
        },
    }


_KINDS: tuple[tuple[RecordKind, str], ...] = (("item", "items"), ("stock", "stock"), ("price", "prices"))


class _Failed(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class RecordMapper:
    """Compiled once per connector: its own rules (``base``) with the tenant's (``tenant``) over them."""

    def __init__(self, base: ErpFieldMapping, tenant: ErpFieldMapping | None = None) -> None:
        tenant = tenant or ErpFieldMapping()
        separator = tenant.decimal_separator or base.decimal_separator or "."
        self._targets = _targets(NumberParser(separator))
        merged: dict[RecordKind, dict[str, CompiledRule]] = {}
        for kind, attribute in _KINDS:
            rules = {**getattr(base, attribute), **getattr(tenant, attribute)}
            merged[kind] = {
                name: compile_rule(name, rule.source, list(rule.transforms), separator)
                for name, rule in rules.items()
            }
            missing = [n for n, t in self._targets[kind].items() if t.required and n not in merged[kind]]
            if missing:
                raise ValueError(f"the {attribute} mapping must map {', '.join(missing)}")
        self._rules = merged

    def sources(self, kind: RecordKind) -> list[str]:
        """The source fields the rules of ``kind`` read (for the mapping check)."""
        return list(dict.fromkeys(r.column for n, r in self._rules[kind].items() if r.get is not None))

    def items(self, rows: Iterable[RawRow | ErpRowError]) -> Iterator[ErpItem | ErpRowError]:
        for row in rows:
            if isinstance(row, ErpRowError):
                yield row
                continue
            mapped = self._map("item", row, ErpItem)
            if isinstance(mapped, ErpItem) and row.modified_at is not None:
                mapped = mapped.model_copy(update={"modified_at": row.modified_at})
            if mapped is not None:
                yield mapped

    def stock(
        self, rows: Iterable[RawRow | ErpRowError], warehouse_code: str
    ) -> Iterator[StockLevel | ErpRowError]:
        """Rows of other warehouses (where the mapping reads a warehouse per row) are left out."""
        for row in rows:
            if isinstance(row, ErpRowError):
                yield row
            elif (
                mapped := self._map("stock", row, StockLevel, ("warehouse_code", warehouse_code))
            ) is not None:
                yield mapped

    def prices(
        self, rows: Iterable[RawRow | ErpRowError], price_list_code: str
    ) -> Iterator[PriceEntry | ErpRowError]:
        """Rows of other price lists (where the mapping reads a price list per row) are left out."""
        for row in rows:
            if isinstance(row, ErpRowError):
                yield row
            elif (
                mapped := self._map("price", row, PriceEntry, ("price_list_code", price_list_code))
            ) is not None:
                yield mapped

    def _map(
        self, kind: RecordKind, row: RawRow, model: type[M], scope: tuple[str, str] | None = None
    ) -> M | ErpRowError | None:
        rules, targets = self._rules[kind], self._targets[kind]
        sku: str | None = None
        try:
            if scope is not None:
                # A row of another warehouse or price list is left out before anything of it can fail.
                field, wanted = scope
                if field in rules and self._value(rules, targets, field, row) not in (None, wanted):
                    return None
            found = self._value(rules, targets, "sku", row)
            sku = found if isinstance(found, str) else None
            values: dict[str, object] = {"sku": sku}
            for name in rules:
                if name != "sku":
                    values[name] = self._value(rules, targets, name, row)
            if scope is not None:
                values[scope[0]] = scope[1]
            try:
                return model.model_validate({k: v for k, v in values.items() if v is not None})
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                name = str(first["loc"][0]) if first["loc"] else "record"
                raise _Failed(self._named(rules, name), first["msg"]) from None
        except _Failed as failed:
            return ErpRowError(
                kind=kind,
                sku=sku,
                field=failed.field,
                row=row.where,
                reason=failed.reason,
                payload=dict(row.data),
            )

    def _value(
        self, rules: Mapping[str, CompiledRule], targets: Mapping[str, _Target], name: str, row: RawRow
    ) -> object:
        rule, target = rules.get(name), targets[name]
        try:
            value = target.convert(rule(row.data)) if rule is not None else None
        except FieldProblem as problem:
            raise _Failed(self._named(rules, name), str(problem)) from None
        if value is None and target.required:
            raise _Failed(self._named(rules, name), "required value missing")
        return value

    @staticmethod
    def _named(rules: Mapping[str, CompiledRule], name: str) -> str:
        rule = rules.get(name)
        return f"{name} (from {rule.column})" if rule is not None and rule.get is not None else name
