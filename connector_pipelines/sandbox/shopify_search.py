"""Shopify's search syntax for ``query:`` arguments: ``sku:ABC OR (vendor:Acme -tag:old) title:shirt*``.

Terms are ``field:value`` (value quoted with ``"`` when it holds spaces), ``field:>=value`` comparisons,
``value*`` prefixes and bare words (a case-insensitive search over the default fields). Terms combine with
``AND`` (also implied by a space), ``OR``, ``NOT`` / ``-`` and parentheses. Unknown fields are ignored with a
warning in ``extensions.search``, the way Shopify does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Kind = Literal["text", "id", "number", "time", "bool"]
Predicate = Callable[[T], bool]


@dataclass(frozen=True)
class Term:
    field: str | None
    op: str  # ":" "<" "<=" ">" ">="
    value: str
    prefix: bool = False


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


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(c)
            i += 1
        else:
            start, quoted = i, False
            while i < n:
                c = text[i]
                if c == "\\" and quoted and i + 1 < n:
                    i += 2
                    continue
                if c == '"':
                    quoted = not quoted
                elif not quoted and (c.isspace() or c in "()"):
                    break
                i += 1
            if quoted:
                raise SearchSyntaxError("unterminated quote")
            tokens.append(text[start:i])
    return tokens


def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        out, i = [], 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out), False
    if value.endswith("*"):
        return value[:-1], True
    return value, False


def _term(token: str) -> Term:
    field: str | None = None
    rest = token
    colon = token.find(":")
    if colon > 0 and '"' not in token[:colon]:
        field, rest = token[:colon], token[colon + 1 :]
    op = ":"
    for candidate in (">=", "<=", ">", "<"):
        if field is not None and rest.startswith(candidate):
            op, rest = candidate, rest[len(candidate) :]
            break
    value, prefix = _unquote(rest)
    return Term(field, op, value, prefix)


class _Parser:
    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.pos = 0

    def peek(self) -> str | None:
        return self.words[self.pos] if self.pos < len(self.words) else None

    def take(self) -> str:
        word = self.words[self.pos]
        self.pos += 1
        return word

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while (word := self.peek()) is not None and word not in (")", "OR"):
            if word == "AND":
                self.take()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        word = self.peek()
        if word is None:
            raise SearchSyntaxError("unexpected end of query")
        if word == "NOT":
            self.take()
            return Not(self.parse_unary())
        if word == "(":
            self.take()
            inner = self.parse_or()
            if self.peek() != ")":
                raise SearchSyntaxError("missing )")
            self.take()
            return inner
        if word == ")":
            raise SearchSyntaxError("unexpected )")
        self.take()
        if word.startswith("-") and len(word) > 1:
            return Not(_term(word[1:]))
        return _term(word)


def parse_query(text: str) -> Node | None:
    tokens = _tokens(text)
    if not tokens:
        return None
    parser = _Parser(tokens)
    node = parser.parse_or()
    if parser.peek() is not None:
        raise SearchSyntaxError(f"unexpected {parser.peek()}")
    return node


@dataclass(frozen=True)
class SearchField(Generic[T]):
    kind: Kind
    values: Callable[[T], Iterable[str | int | None]]
    comma_list: bool = False  # "product_status:ACTIVE,DRAFT"


def _numeric(value: str) -> int | None:
    tail = value.rsplit("/", 1)[-1]  # ids may be given as GIDs
    return int(tail) if tail.isdigit() else None


def _compare(op: str, left: str | int, right: str | int) -> bool:
    if isinstance(left, int) != isinstance(right, int):
        left, right = str(left), str(right)
    if op == ">":
        return left > right  # type: ignore[operator]
    if op == ">=":
        return left >= right  # type: ignore[operator]
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    return left == right


class Search(Generic[T]):
    """Compiles a query string into a predicate over one kind of record."""

    def __init__(
        self, fields: dict[str, SearchField[T]], default: Callable[[T], Iterable[str | None]]
    ) -> None:
        self.fields = fields
        self.default = default

    def compile(self, node: Node, warnings: list[dict[str, str]]) -> Predicate[T]:
        if isinstance(node, And):
            parts = [self.compile(i, warnings) for i in node.items]
            return lambda r: all(p(r) for p in parts)
        if isinstance(node, Or):
            parts = [self.compile(i, warnings) for i in node.items]
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.compile(node.item, warnings)
            ignored = isinstance(node.item, Term) and node.item.field not in (None, *self.fields)
            return (lambda r: True) if ignored else (lambda r: not inner(r))
        return self._term(node, warnings)

    def _term(self, term: Term, warnings: list[dict[str, str]]) -> Predicate[T]:
        if term.field is None:
            needle = term.value.casefold()
            return lambda r: any(needle in v.casefold() for v in self.default(r) if v)
        spec = self.fields.get(term.field)
        if spec is None:
            warnings.append({"field": term.field, "message": "Invalid search field for this query."})
            return lambda r: True
        wanted = term.value.split(",") if spec.comma_list else [term.value]
        if spec.kind in ("id", "number"):
            numbers = [_numeric(w) for w in wanted]
            targets: list[str | int] = [n for n in numbers if n is not None]
            op = term.op

            def numeric(record: T) -> bool:
                return any(
                    _compare(op, v, t) for v in spec.values(record) if isinstance(v, int) for t in targets
                )

            return numeric
        if spec.kind == "time":
            op = ":" if term.op == ":" else term.op
            bound = term.value
            return lambda r: any(
                v is not None and (str(v).startswith(bound) if op == ":" else _compare(op, str(v), bound))
                for v in spec.values(r)
            )
        if spec.kind == "bool":
            flag = term.value.casefold() == "true"
            return lambda r: any(bool(v) == flag for v in spec.values(r))
        folded = [w.casefold() for w in wanted]
        if term.prefix:
            return lambda r: any(
                v is not None and str(v).casefold().startswith(w) for v in spec.values(r) for w in folded
            )
        return lambda r: any(v is not None and str(v).casefold() in folded for v in spec.values(r))


def exact_values(node: Node | None, field: str) -> set[str] | None:
    """Values an index on ``field`` can answer the whole query from, or None when a scan is needed.

    ``sku:A OR sku:B`` gives {A, B}; an AND needs only one indexed branch (the full predicate still runs).
    """
    if isinstance(node, Term):
        if node.field == field and node.op == ":" and not node.prefix:
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
