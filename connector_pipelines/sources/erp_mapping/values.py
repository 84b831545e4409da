"""Values and transformations: a rule's column or JSON path read from a row, then its transformations
(compiled once per mapping) applied in order. A value that cannot be mapped raises :class:`FieldProblem`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

from pydantic import JsonValue

from connector_pipelines.sources.erp_mapping.config import (
    DecimalOp,
    DefaultOp,
    IntegerOp,
    JoinOp,
    LowerOp,
    MapOp,
    RequiredOp,
    SplitOp,
    TemplateOp,
    Transform,
    TrimOp,
    UpperOp,
    template_parts,
)

MAX_WHOLE_NUMBER = 2**63 - 1  # what the snapshot's JSON (orjson) and the database's BIGINT hold

DecimalSeparator: TypeAlias = Literal[".", ","]
Value: TypeAlias = JsonValue | Decimal
Row: TypeAlias = Mapping[str, JsonValue]
Step: TypeAlias = Callable[[Value, Row], Value]
Getter: TypeAlias = Callable[[Row], JsonValue]


class FieldProblem(ValueError):
    """A value that cannot be mapped; becomes a row error naming the rule's column."""


def is_blank(value: Value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    return isinstance(value, list | dict) and not value


def plain_decimal(value: Decimal) -> str:
    """Decimal text without exponent or trailing zeros beyond the value (``1E+2`` -> ``100``)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def as_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_decimal(value)
    if isinstance(value, float):
        return plain_decimal(Decimal(repr(value)))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def make_getter(source: str) -> Getter:
    """Reads a column, or walks a dotted JSON path (``a.b``, ``a.b[0].c``, ``a.b.0.c``) when no column has
    that exact name."""
    if not any(c in source for c in ".["):
        return lambda row: row.get(source)
    tokens: list[str | int] = [name if name else int(index) for name, index in _PATH_TOKEN.findall(source)]

    def get(row: Row) -> JsonValue:
        if source in row:
            return row[source]
        first, *rest = tokens
        current: JsonValue = row.get(str(first))
        for token in rest:
            if isinstance(current, dict):
                current = current.get(str(token))
            elif isinstance(current, list) and str(token).isdigit() and int(token) < len(current):
                current = current[int(token)]
            else:
                return None
        return current

    return get


def root_column(source: str) -> str:
    """The column a source starts at: the column itself, or a JSON path's first name (``a.b[0]`` -> ``a``)."""
    return str(_PATH_TOKEN.findall(source)[0][0])


class NumberParser:
    """Locale-aware numbers: with decimal separator ',' the text "1.234,56" is 1234.56, with '.' the text
    "1,234.56" is. Thousands groups must have three digits, so "12,5" under '.' is an error, not 125."""

    def __init__(self, decimal_separator: Literal[".", ","]) -> None:
        self.separator = decimal_separator
        sep = re.escape(decimal_separator)
        thousands = "[.' \u00a0\u202f]" if decimal_separator == "," else "[,' \u00a0\u202f]"
        self._simple = re.compile(rf"-?\d+(?:{sep}\d+)?")
        self._plain = re.compile(rf"([+-]?)(\d*)(?:{sep}(\d*))?")
        self._grouped = re.compile(
            rf"([+-]?)(\d{{1,3}}(?P<t>{thousands})\d{{3}}(?:(?P=t)\d{{3}})*)(?:{sep}(\d*))?"
        )

    def parse(self, text: str) -> Decimal:
        stripped = text.strip()
        if self._simple.fullmatch(stripped):  # the common case, e.g. "19.99" / "19,99"
            return Decimal(stripped if self.separator == "." else stripped.replace(",", "."))
        match = self._plain.fullmatch(stripped)
        if match and (match.group(2) or match.group(3)):
            sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or "0"
        elif grouped := self._grouped.fullmatch(stripped):
            sign, whole, fraction = (
                grouped.group(1),
                re.sub(r"\D", "", grouped.group(2)),
                grouped.group(4) or "0",
            )
        else:
            raise FieldProblem(f"unparsable number {text!r} (decimal separator {self.separator!r})")
        return (
            Decimal(f"{sign}{whole}.{fraction}") if match is None or match.group(3) else Decimal(sign + whole)
        )

    def decimal(self, value: Value) -> Decimal | None:
        if isinstance(value, str):
            return self.parse(value) if value and not value.isspace() else None
        if isinstance(value, Decimal):
            return value
        if is_blank(value):
            return None
        if isinstance(value, bool):
            raise FieldProblem(f"expected a number, got {as_text(value)}")
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise FieldProblem(f"expected a finite number, got {value}")
            return Decimal(repr(value))
        raise FieldProblem(
            f"expected a single number, got {'a list' if isinstance(value, list) else 'an object'}"
        )

    def integer(self, value: Value) -> int | None:
        number = self.decimal(value)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise FieldProblem(f"{as_text(value)!r} is not a whole number")
        if abs(number) > MAX_WHOLE_NUMBER:  # compared before int(): '1e999999999' must not become an int
            raise FieldProblem(f"{as_text(value)!r} is out of range: whole numbers are 64 bits")
        return int(number)


def _each_text(value: Value, change: Callable[[str], str]) -> Value:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [change(v) if isinstance(v, str) else v for v in value]
    return value


def _compile_op(op: Transform, decimal_separator: DecimalSeparator) -> Step:
    match op:
        case TrimOp():
            return lambda value, _row: _each_text(value, str.strip)
        case LowerOp():
            return lambda value, _row: _each_text(value, str.lower)
        case UpperOp():
            return lambda value, _row: _each_text(value, str.upper)
        case RequiredOp():
            return _required
        case DecimalOp(decimal_separator=op_separator):
            decimal_parser = NumberParser(op_separator or decimal_separator)
            return lambda value, _row: decimal_parser.decimal(value)
        case IntegerOp(decimal_separator=integer_separator):
            integer_parser = NumberParser(integer_separator or decimal_separator)
            return lambda value, _row: integer_parser.integer(value)
        case DefaultOp(value=default):
            return lambda value, _row: default if is_blank(value) else value
        case SplitOp(separator=split_on):
            return lambda value, _row: _split(value, split_on)
        case JoinOp(separator=join_with):
            return lambda value, _row: (
                join_with.join(as_text(v) for v in value) if isinstance(value, list) else value
            )
        case MapOp():
            return _value_map(op)
        case TemplateOp(template=template):
            return _template(template)


def _required(value: Value, _row: Row) -> Value:
    if is_blank(value):
        raise FieldProblem("required value missing")
    return value


def _split(value: Value, separator: str) -> Value:
    if isinstance(value, str):
        return [part for part in value.split(separator) if part.strip()]
    if isinstance(value, list):
        return [part for item in value for part in as_text(item).split(separator) if part.strip()]
    return value


def _value_map(op: MapOp) -> Step:
    known = ", ".join(sorted(op.values)[:10]) + (", ..." if len(op.values) > 10 else "")

    def one(item: JsonValue | Decimal) -> JsonValue:
        text = as_text(item)
        if text in op.values:
            return op.values[text]
        if op.other == "keep":
            return item if not isinstance(item, Decimal) else text
        if op.other == "blank":
            return None
        raise FieldProblem(f"unknown value {text!r} (mapped: {known})")

    def apply(value: Value, _row: Row) -> Value:
        if is_blank(value):
            return value
        if isinstance(value, list):
            return [one(item) for item in value]
        return one(value)

    return apply


def _template(template: str) -> Step:
    parts: list[str | Getter] = [
        p if isinstance(p, str) else make_getter(p[0]) for p in template_parts(template)
    ]

    def render(_value: Value, row: Row) -> Value:
        return "".join(p if isinstance(p, str) else as_text(p(row)) for p in parts)

    return render


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule's read and transformations, compiled once per mapping; called with a row, its value."""

    column: str  # what a row error names: the source, or the target when it has none
    get: Getter | None
    steps: tuple[Step, ...]

    def __call__(self, row: Row) -> Value:
        value: Value = self.get(row) if self.get is not None else None
        for step in self.steps:
            value = step(value, row)
        return value


def compile_rule(
    target: str, source: str | None, transforms: list[Transform], decimal_separator: DecimalSeparator = "."
) -> CompiledRule:
    """A rule of any source whose records are JSON-like rows (file rows, API records); ``decimal_separator``
    is the default of its decimal and integer transformations."""
    return CompiledRule(
        column=source or target,
        get=make_getter(source) if source else None,
        steps=tuple(_compile_op(op, decimal_separator) for op in transforms),
    )
