"""Shopify's search syntax for ``query:`` arguments (shopify.dev/docs/api/usage/search-syntax).

Grammar (the page's EBNF)::

    Query      = Term { [ whitespace Connective ] whitespace Term }
    Connective = "AND" | "OR"                      (AND when none is written; AND binds tighter)
    Term       = [ Modifier ] ( "(" Query ")" | [ name Comparator ] value )
    Modifier   = "-" | "NOT" whitespace
    Comparator = ":" | ":<" | ":>" | ":<=" | ":>="

A value is a bare word or a string quoted with ``'`` or ``"`` (which may hold spaces); ``\\`` escapes the
next character. ``value*`` is a prefix search, ``field:*`` asks whether the field has any value. Dates are
compared as instants: a value names a period (``2024``, ``2024-05``, ``2024-05-01``, a time to the second, or
``now``) in the shop's time zone unless it carries an offset; ``:`` matches inside the period, ``>`` after
it, ``>=`` from its start, ``<`` before it, ``<=`` up to its end. Unknown fields and values a field cannot
read are ignored with a warning in ``extensions.search``, the way Shopify answers them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Kind = Literal["text", "token", "id", "number", "time", "bool"]
Predicate = Callable[[T], bool]
TimeValue = str | float | int | None
Warning = dict[str, str]

_OPERATORS = (">=", "<=", ">", "<")
INVALID_FIELD = "Invalid search field for this query."


@dataclass(frozen=True)
class Term:
    field: str | None
    op: str  # ":" "<" "<=" ">" ">="
    value: str
    prefix: bool = False  # value*
    quoted: bool = False  # a phrase: exact match on tokenized fields
    exists: bool = False  # field:*


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Term | And | Or | Not


class SearchSyntaxError(ValueError):
    pass


# --- lexing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: Literal["(", ")", "word"]
    text: str = ""
    negated: bool = False  # written with a leading "-"
    quoted: bool = False  # the value part was quoted
    raw: str = ""  # as written (to tell the keywords AND/OR/NOT from a quoted "AND")


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """The string starting at the quote ``text[i]``; returns (content, index after the closing quote)."""
    quote, out, i = text[i], [], i + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise SearchSyntaxError(f"unterminated {quote} quote")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(_Token(c))  # type: ignore[arg-type]  # "(" or ")"
            i += 1
            continue
        negated = c == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
            if text[i] == "(":
                tokens.append(_Token("word", "NOT", raw="NOT"))
                continue
        start, parts, quoted = i, [], False
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n:
                parts.append(text[i + 1])
                i += 2
            elif c in "'\"":
                value, i = _read_quoted(text, i)
                parts.append(value)
                quoted = True
            elif c.isspace() or c in "()":
                break
            else:
                parts.append(c)
                i += 1
        tokens.append(_Token("word", "".join(parts), negated, quoted, text[start:i]))
    return tokens


def _term(token: _Token) -> Term:
    """``name:>=value`` -> Term; the name ends at the first unescaped, unquoted colon."""
    raw = token.raw
    colon = _field_colon(raw)
    if colon is None:
        value, prefix = _value(token.text, token.quoted, raw)
        return Term(None, ":", value, prefix, token.quoted)
    field = raw[:colon]
    rest = token.text[len(field) + 1 :]
    raw_rest = raw[colon + 1 :]
    op = ":"
    for candidate in _OPERATORS:
        if raw_rest.startswith(candidate):
            op, rest, raw_rest = candidate, rest[len(candidate) :], raw_rest[len(candidate) :]
            break
    quoted = raw_rest[:1] in ("'", '"')
    if raw_rest == "*":
        return Term(field, op, "", exists=True)
    value, prefix = _value(rest, quoted, raw_rest)
    return Term(field, op, value, prefix, quoted)


def _field_colon(raw: str) -> int | None:
    match = re.match(r"[A-Za-z_][A-Za-z0-9_.]*:", raw)
    return match.end() - 1 if match else None


def _value(value: str, quoted: bool, raw: str) -> tuple[str, bool]:
    if not quoted and raw.endswith("*") and not raw.endswith("\\*"):
        return value[:-1], True
    return value, False


# --- parsing ----------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.raw == word and not token.negated

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.keyword("OR"):
            self.pos += 1
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while (token := self.peek()) is not None and token.kind != ")" and not self.keyword("OR"):
            if self.keyword("AND"):
                self.pos += 1
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise SearchSyntaxError("unexpected end of query")
        if self.keyword("NOT"):
            self.pos += 1
            return Not(self.parse_unary())
        if token.kind == "(":
            self.pos += 1
            inner = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise SearchSyntaxError("missing )")
            self.pos += 1
            return inner
        if token.kind == ")":
            raise SearchSyntaxError("unexpected )")
        self.pos += 1
        term = _term(token)
        return Not(term) if token.negated else term


def parse_query(text: str) -> Node | None:
    tokens = _tokens(text)
    if not tokens:
        return None
    parser = _Parser(tokens)
    node = parser.parse_or()
    if parser.peek() is not None:
        raise SearchSyntaxError("unexpected )")
    return node


# --- dates ------------------------------------------------------------------------------------------------

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6})\d*)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?)?$",
    re.IGNORECASE,
)


def _zone(text: str | None, default: tzinfo) -> tzinfo:
    if text is None:
        return default
    if text.upper() == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return timezone(timedelta(minutes=sign * (int(digits[:2]) * 60 + int(digits[2:]))))


def period(value: str, now: float, zone: tzinfo = UTC) -> tuple[float, float] | None:
    """The instants (first, last) a date value names, as epoch seconds; None when it is not a date."""
    text = value.strip()
    if text.casefold() == "now":
        return now, now
    match = _DATE.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    try:
        tz = _zone(parts["tz"], zone)
        year = int(parts["y"])
        if parts["m"] is None:
            start = datetime(year, 1, 1, tzinfo=tz)
            end = datetime(year + 1, 1, 1, tzinfo=tz)
        elif parts["d"] is None:
            month = int(parts["m"])
            start = datetime(year, month, 1, tzinfo=tz)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        elif parts["H"] is None:
            start = datetime(year, int(parts["m"]), int(parts["d"]), tzinfo=tz)
            end = start + timedelta(days=1)
        else:
            second = int(parts["S"] or 0)
            micro = int((parts["f"] or "0").ljust(6, "0"))
            start = datetime(
                year, int(parts["m"]), int(parts["d"]), int(parts["H"]), int(parts["M"]), second, micro, tz
            )
            end = start + (timedelta(seconds=1) if parts["S"] is not None else timedelta(minutes=1))
            if parts["f"] is not None:
                end = start + timedelta(microseconds=1)
    except ValueError:
        return None
    return start.timestamp(), end.timestamp() - 1e-6


def instant(value: TimeValue) -> float | None:
    """A record's timestamp (epoch seconds, or an ISO 8601 string as the product records keep) as seconds."""
    if value is None or isinstance(value, float | int):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- compiling to predicates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchField(Generic[T]):
    kind: Kind
    values: Callable[[T], Iterable[str | int | float | None]]
    comma_list: bool = False  # "product_status:ACTIVE,DRAFT"
    negated: bool = False  # tag_not: records without the value


def _numeric_id(value: str) -> int | None:
    tail = value.rsplit("/", 1)[-1]  # ids may be given as GIDs
    return int(tail) if tail.isdigit() else None


def _compare(op: str, left: float, right: float) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    return left == right


def _tokens_of(text: str) -> set[str]:
    """Words of a tokenized value: "bo.wang@example.com" -> bo.wang, example.com, bo, wang, example, com."""
    folded = text.casefold()
    return {t for t in (*re.split(r"[\s@]+", folded), *re.split(r"[^0-9a-z]+", folded)) if t}


class Search(Generic[T]):
    """Compiles a parsed query into a predicate over one kind of record."""

    def __init__(
        self,
        fields: dict[str, SearchField[T]],
        default: Callable[[T], Iterable[str | None]],
        *,
        now: Callable[[], float] | None = None,
        zone: tzinfo = UTC,
    ) -> None:
        self.fields = fields
        self.default = default
        self.now = now
        self.zone = zone

    def compile(self, node: Node, warnings: list[Warning]) -> Predicate[T]:
        if isinstance(node, And):
            parts = [self.compile(i, warnings) for i in node.items]
            return lambda r: all(p(r) for p in parts)
        if isinstance(node, Or):
            parts = [self.compile(i, warnings) for i in node.items]
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            count = len(warnings)
            inner = self.compile(node.item, warnings)
            if len(warnings) > count and isinstance(node.item, Term):
                return inner  # an ignored term stays ignored when negated
            return lambda r: not inner(r)
        return self._term(node, warnings)

    def _term(self, term: Term, warnings: list[Warning]) -> Predicate[T]:
        if term.field is None:
            return self._default_term(term)
        spec = self.fields.get(term.field)
        if spec is None:
            warnings.append({"field": term.field, "message": INVALID_FIELD})
            return lambda r: True
        if term.exists:
            found: Predicate[T] = lambda r: any(v not in (None, "") for v in spec.values(r))  # noqa: E731
            return (lambda r: not found(r)) if spec.negated else found
        predicate = self._match(spec, term, warnings)
        if predicate is None:
            return lambda r: True
        return (lambda r: not predicate(r)) if spec.negated else predicate

    def _default_term(self, term: Term) -> Predicate[T]:
        needle = term.value.casefold()
        if term.prefix:
            return lambda r: any(
                any(t.startswith(needle) for t in _tokens_of(v)) for v in self.default(r) if v
            )
        return lambda r: any(needle in v.casefold() for v in self.default(r) if v)

    def _match(self, spec: SearchField[T], term: Term, warnings: list[Warning]) -> Predicate[T] | None:
        field = term.field or ""
        wanted = term.value.split(",") if spec.comma_list else [term.value]
        op = term.op
        if spec.kind in ("id", "number"):
            if spec.kind == "id":
                numbers: list[float | None] = [_numeric_id(w) for w in wanted]
            else:
                numbers = [_decimal(w) for w in wanted]
            targets = [n for n in numbers if n is not None]
            if not targets:
                warnings.append({"field": field, "message": f"Invalid value for {field}: '{term.value}'."})
                return None
            return lambda r: any(
                _compare(op, float(v), t)
                for v in spec.values(r)
                if isinstance(v, int | float) and not isinstance(v, bool)
                for t in targets
            )
        if spec.kind == "time":
            now = self.now() if self.now is not None else datetime.now(UTC).timestamp()
            bounds = period(term.value, now, self.zone)
            if bounds is None:
                warnings.append(
                    {"field": field, "message": f"Invalid date value for {field}: '{term.value}'."}
                )
                return None
            return _time_predicate(spec, op, *bounds)
        if spec.kind == "bool":
            flag = term.value.casefold()
            if flag not in ("true", "false"):
                warnings.append({"field": field, "message": f"Invalid value for {field}: '{term.value}'."})
                return None
            return lambda r: any(bool(v) == (flag == "true") for v in spec.values(r))
        folded = [w.casefold() for w in wanted]
        if term.prefix:
            return lambda r: any(
                v is not None and str(v).casefold().startswith(w) for v in spec.values(r) for w in folded
            )
        if spec.kind == "token" and not term.quoted:
            # A tokenized field (email): a bare value matches the whole value or any of its words.
            return lambda r: any(
                v is not None
                and (str(v).casefold() in folded or any(w in _tokens_of(str(v)) for w in folded))
                for v in spec.values(r)
            )
        if op != ":":
            return lambda r: any(
                v is not None and _compare_text(op, str(v).casefold(), w)
                for v in spec.values(r)
                for w in folded
            )
        return lambda r: any(v is not None and str(v).casefold() in folded for v in spec.values(r))


def _compare_text(op: str, left: str, right: str) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    return left <= right


def _decimal(text: str) -> float | None:
    try:
        return float(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


def _time_predicate(spec: SearchField[T], op: str, first: float, last: float) -> Predicate[T]:
    def test(value: str | int | float | None) -> bool:
        at = instant(value)
        if at is None:
            return False
        if op == ">":
            return at > last
        if op == ">=":
            return at >= first
        if op == "<":
            return at < first
        if op == "<=":
            return at <= last
        return first <= at <= last

    return lambda r: any(test(v) for v in spec.values(r))


def compile_query(search: Search[T], query: str | None, warnings: list[Warning]) -> Predicate[T] | None:
    """A predicate for ``query`` (None when it is empty: everything matches)."""
    node = parse_query(query) if query else None
    return search.compile(node, warnings) if node is not None else None


def exact_values(node: Node | None, field: str) -> set[str] | None:
    """Values an index on ``field`` can answer the whole query from, or None when a scan is needed.

    ``sku:A OR sku:B`` gives {A, B}; an AND needs only one indexed branch (the full predicate still runs).
    """
    if isinstance(node, Term):
        if node.field == field and node.op == ":" and not node.prefix and not node.exists:
            return {node.value.casefold()}
        return None
    if isinstance(node, Or):
        out: set[str] = set()
        for item in node.items:
            values = exact_values(item, field)
            if values is None:
                return None
            out |= values
        return out
    if isinstance(node, And):
        found = [v for v in (exact_values(i, field) for i in node.items) if v is not None]
        return min(found, key=len) if found else None
    return None
