"""Logo REST resources as views over the store's tables: XML tag names, the ``q`` filter, ``sort``,
``fields``, ``offset``/``limit`` paging, ``expandLevel=full`` and the ``ResultData`` envelope.

``q`` is Logo's filter language: ``CODE like 'AB*' and (CARD_TYPE eq 1 or CARD_TYPE eq 12)``, operators
``eq neq gt gte lt lte like``, ``*`` as wildcard, dates as ``'dd.mm.yyyy'``; it is translated to SQL with
parameters, field names checked against the resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode

from pydantic import JsonValue

from connector_pipelines.sandbox.logo_store import DISPATCH_TRCODE, ORDER_TRCODE, Tables
from connector_pipelines.sandbox.logo_tsql import Database, Param, Row

Kind = Literal["int", "float", "str", "date"]
EMPTY_DATE = "1899-12-30T00:00:00"  # how Logo renders an empty date
MEDIA_TYPE = "application/json; charset=UTF-8"

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<paren>[()])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE"}
_DOTTED_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2}))?$")


class QueryError(ValueError):
    """A ``q``, ``sort`` or paging parameter Logo cannot run."""


@dataclass(frozen=True)
class Field:
    tag: str
    column: str
    kind: Kind = "str"


@dataclass(frozen=True)
class Collection:
    """A nested collection (``TRANSACTIONS``, ``UNITS``): rendered ``{Meta, items}`` with expandLevel=full."""

    tag: str
    source: str
    parent: str
    order: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Resource:
    name: str
    source: str
    key: str
    fields: tuple[Field, ...]
    where: str = "1 = 1"
    collections: tuple[Collection, ...] = ()
    _by_tag: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_tag.update({f.tag.upper(): f for f in self.fields})

    def field(self, tag: str) -> Field | None:
        return self._by_tag.get(tag.upper())

    def writable(self) -> dict[str, str]:
        """Tag -> column of the resource's own table (what a POST may set)."""
        alias = self.key.partition(".")[0] + "."
        return {
            f.tag: f.column.removeprefix(alias)
            for f in self.fields
            if f.column.startswith(alias) and f.tag != "INTERNAL_REFERENCE" and "CAPIBLOCK" not in f.column
        }


def _stamps(alias: str) -> tuple[Field, ...]:
    return (
        Field("DATE_CREATED", f"{alias}.CAPIBLOCK_CREADEDDATE", "date"),
        Field("DATE_MODIFIED", f"{alias}.CAPIBLOCK_MODIFIEDDATE", "date"),
        Field("HOUR_MODIFIED", f"{alias}.CAPIBLOCK_MODIFIEDHOUR", "int"),
        Field("MIN_MODIFIED", f"{alias}.CAPIBLOCK_MODIFIEDMIN", "int"),
        Field("SEC_MODIFIED", f"{alias}.CAPIBLOCK_MODIFIEDSEC", "int"),
    )


def build_resources(t: Tables) -> dict[str, Resource]:
    items = Resource(
        "items",
        f"{t.items} I",
        "I.LOGICALREF",
        (
            Field("INTERNAL_REFERENCE", "I.LOGICALREF", "int"),
            Field("CARD_TYPE", "I.CARDTYPE", "int"),
            Field("CODE", "I.CODE"),
            Field("NAME", "I.NAME"),
            Field("NAME2", "I.NAME2"),
            Field("GROUP_CODE", "I.STGRPCODE"),
            Field("AUXIL_CODE", "I.SPECODE"),
            Field("PRODUCER_CODE", "I.PRODUCERCODE"),
            Field("VAT", "I.VAT", "float"),
            Field("SELVAT", "I.SELLVAT", "float"),
            Field("RETURNVAT", "I.RETURNVAT", "float"),
            Field("UNITSET_CODE", "I.UNITSETCODE"),
            Field("EAN_BARCODE", "I.BARCODE"),
            Field("RECORD_STATUS", "I.ACTIVE", "int"),
            Field("GUID", "I.GUID"),
            *_stamps("I"),
        ),
        collections=(
            Collection(
                "UNITS",
                f"{t.items} U",
                "U.LOGICALREF",
                "U.LOGICALREF",
                (
                    Field("UNIT_CODE", "U.UNITCODE"),
                    Field("BARCODE", "U.BARCODE"),
                    Field("CONV_FACT1", "1.0", "float"),
                    Field("CONV_FACT2", "1.0", "float"),
                ),
            ),
        ),
    )
    arps = Resource(
        "Arps",
        f"{t.customers} C",
        "C.LOGICALREF",
        (
            Field("INTERNAL_REFERENCE", "C.LOGICALREF", "int"),
            Field("ACCOUNT_TYPE", "C.CARDTYPE", "int"),
            Field("CODE", "C.CODE"),
            Field("TITLE", "C.DEFINITION_"),
            Field("ADDRESS1", "C.ADDR1"),
            Field("ADDRESS2", "C.ADDR2"),
            Field("TOWN", "C.TOWN"),
            Field("CITY", "C.CITY"),
            Field("COUNTRY", "C.COUNTRY"),
            Field("COUNTRY_CODE", "C.COUNTRYCODE"),
            Field("POSTAL_CODE", "C.POSTCODE"),
            Field("TELEPHONE1", "C.TELNRS1"),
            Field("E_MAIL", "C.EMAILADDR"),
            Field("TAX_ID", "C.TAXNR"),
            Field("TAX_OFFICE", "C.TAXOFFICE"),
            Field("TCKNO", "C.TCKNO"),
            Field("E_COMM_ID", "C.ECOMMID"),
            Field("RECORD_STATUS", "C.ACTIVE", "int"),
            *_stamps("C"),
        ),
    )
    prices = Resource(
        "salesItemPrices",
        f"{t.prices} P LEFT JOIN {t.items} I ON I.LOGICALREF = P.CARDREF",
        "P.LOGICALREF",
        (
            Field("INTERNAL_REFERENCE", "P.LOGICALREF", "int"),
            Field("CODE", "P.CODE"),
            Field("CARD_CODE", "I.CODE"),
            Field("CARDREF", "P.CARDREF", "int"),
            Field("PRICE", "P.PRICE", "float"),
            Field("CURRENCY", "P.CURRENCY", "int"),
            Field("VAT_INCL", "P.INCVAT", "int"),
            Field("UNIT_CODE", "I.UNITCODE"),
            Field("UOMREF", "P.UOMREF", "int"),
            Field("PRIORITY", "P.PRIORITY", "int"),
            Field("DATE_STARTED", "P.BEGDATE", "date"),
            Field("DATE_ENDED", "P.ENDDATE", "date"),
            Field("TRADING_GRP", "P.TRADINGGRP"),
            Field("ARP_CODE", "P.CLIENTCODE"),
            Field("ACTIVE", "P.ACTIVE", "int"),
            *_stamps("P"),
        ),
        where="P.PTYPE = 2",
    )
    order_lines = Collection(
        "TRANSACTIONS",
        f"{t.order_lines} L LEFT JOIN {t.items} I ON I.LOGICALREF = L.STOCKREF",
        "L.ORDFICHEREF",
        "L.LINENO_",
        (
            Field("INTERNAL_REFERENCE", "L.LOGICALREF", "int"),
            Field("TYPE", "L.LINETYPE", "int"),
            Field("MASTER_CODE", "I.CODE"),
            Field("STOCKREF", "L.STOCKREF", "int"),
            Field("LINENO", "L.LINENO_", "int"),
            Field("QUANTITY", "L.AMOUNT", "float"),
            Field("PRICE", "L.PRICE", "float"),
            Field("TOTAL", "L.TOTAL", "float"),
            Field("VAT_RATE", "L.VAT", "float"),
            Field("VAT_AMOUNT", "L.VATAMNT", "float"),
            Field("VAT_INCLUDED", "L.VATINC", "int"),
            Field("SOURCE_WH", "L.SOURCEINDEX", "int"),
            Field("SHIPPED_AMOUNT", "L.SHIPPEDAMOUNT", "float"),
            Field("CLOSED", "L.CLOSED", "int"),
            Field("UNIT_CODE", "I.UNITCODE"),
            Field("DESCRIPTION", "L.LINEEXP"),
        ),
    )
    orders = Resource(
        "salesOrders",
        f"{t.orders} O LEFT JOIN {t.customers} C ON C.LOGICALREF = O.CLIENTREF",
        "O.LOGICALREF",
        (
            Field("INTERNAL_REFERENCE", "O.LOGICALREF", "int"),
            Field("TYPE", "O.TRCODE", "int"),
            Field("NUMBER", "O.FICHENO"),
            Field("DATE", "O.DATE_", "date"),
            Field("TIME", "O.TIME_", "int"),
            Field("DOC_NUMBER", "O.DOCODE"),
            Field("DOC_TRACK_NR", "O.DOCTRACKINGNR"),
            Field("CUST_ORD_NO", "O.CUSTORDNO"),
            Field("AUXIL_CODE", "O.SPECODE"),
            Field("ARP_CODE", "C.CODE"),
            Field("CLIENTREF", "O.CLIENTREF", "int"),
            Field("SOURCE_WH", "O.SOURCEINDEX", "int"),
            Field("ORDER_STATUS", "O.STATUS", "int"),
            Field("TOTAL_GROSS", "O.GROSSTOTAL", "float"),
            Field("TOTAL_VAT", "O.TOTALVAT", "float"),
            Field("TOTAL_NET", "O.NETTOTAL", "float"),
            Field("NOTES1", "O.GENEXP1"),
            Field("CANCELLED", "O.CANCELLED", "int"),
            *_stamps("O"),
        ),
        where=f"O.TRCODE = {ORDER_TRCODE}",
        collections=(order_lines,),
    )
    dispatch_lines = Collection(
        "TRANSACTIONS",
        f"{t.slip_lines} L LEFT JOIN {t.items} I ON I.LOGICALREF = L.STOCKREF "
        f"LEFT JOIN {t.orders} O ON O.LOGICALREF = L.ORDFICHEREF",
        "L.STFICHEREF",
        "L.LINENO_",
        (
            Field("INTERNAL_REFERENCE", "L.LOGICALREF", "int"),
            Field("TYPE", "L.LINETYPE", "int"),
            Field("MASTER_CODE", "I.CODE"),
            Field("STOCKREF", "L.STOCKREF", "int"),
            Field("LINENO", "L.LINENO_", "int"),
            Field("DATE", "L.DATE_", "date"),
            Field("QUANTITY", "L.AMOUNT", "float"),
            Field("SOURCE_WH", "L.SOURCEINDEX", "int"),
            Field("ORDER_REFERENCE", "L.ORDFICHEREF", "int"),
            Field("ORDER_NUMBER", "O.FICHENO"),
        ),
    )
    dispatches = Resource(
        "salesDispatches",
        f"{t.slips} S LEFT JOIN {t.customers} C ON C.LOGICALREF = S.CLIENTREF",
        "S.LOGICALREF",
        (
            Field("INTERNAL_REFERENCE", "S.LOGICALREF", "int"),
            Field("GRPCODE", "S.GRPCODE", "int"),
            Field("TYPE", "S.TRCODE", "int"),
            Field("NUMBER", "S.FICHENO"),
            Field("DATE", "S.DATE_", "date"),
            Field("DOC_NUMBER", "S.DOCODE"),
            Field("ARP_CODE", "C.CODE"),
            Field("CLIENTREF", "S.CLIENTREF", "int"),
            Field("SOURCE_WH", "S.SOURCEINDEX", "int"),
            Field("SHIPPING_AGENT", "S.SHPAGNCOD"),
            Field("TRACK_NR", "S.TRACKNR"),
            *_stamps("S"),
        ),
        where=f"S.TRCODE = {DISPATCH_TRCODE}",
        collections=(dispatch_lines,),
    )
    return {r.name: r for r in (items, arps, prices, orders, dispatches)}


# --- q, sort, fields ---------------------------------------------------------------------------------------


def translate_q(q: str, resource: Resource) -> tuple[str, list[Param]]:
    """Logo's ``q`` as an SQL condition with parameters."""
    tokens = _tokenize(q)
    parser = _Parser(tokens, resource)
    sql = parser.expression()
    if parser.at < len(tokens):
        raise QueryError(f"q: unexpected {tokens[parser.at][1]!r}")
    return sql, parser.params


def _tokenize(q: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    at = 0
    text = q.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise QueryError(f"q: cannot read {text[at : at + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        at = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], resource: Resource) -> None:
        self.tokens = tokens
        self.resource = resource
        self.at = 0
        self.params: list[Param] = []

    def _peek_word(self) -> str | None:
        if self.at < len(self.tokens) and self.tokens[self.at][0] == "word":
            return self.tokens[self.at][1].lower()
        return None

    def _next(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise QueryError("q: ends too early")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expression(self) -> str:
        parts = [self.term()]
        while self._peek_word() == "or":
            self.at += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def term(self) -> str:
        parts = [self.factor()]
        while self._peek_word() == "and":
            self.at += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def factor(self) -> str:
        kind, text = self._next()
        if kind == "paren" and text == "(":
            inner = self.expression()
            if self._next() != ("paren", ")"):
                raise QueryError("q: missing )")
            return f"({inner})"
        if kind != "word":
            raise QueryError(f"q: expected a field name, not {text!r}")
        field = self.resource.field(text)
        if field is None:
            raise QueryError(f"q: {self.resource.name} has no field {text}")
        op_kind, op = self._next()
        operator = _OPERATORS.get(op.lower()) if op_kind == "word" else None
        if operator is None:
            raise QueryError(f"q: unknown operator {op!r}")
        value_kind, raw = self._next()
        if value_kind not in ("str", "num"):
            raise QueryError(f"q: expected a value after {op}, not {raw!r}")
        value = raw[1:-1].replace("''", "'") if value_kind == "str" else raw
        if operator == "LIKE":
            escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            self.params.append(escaped)
            return f"{field.column} LIKE ? ESCAPE '\\'"
        self.params.append(_typed(value, field))
        return f"{field.column} {operator} ?"


def _typed(value: str, field: Field) -> Param:
    if field.kind == "date":
        dotted = _DOTTED_DATE.match(value)
        if dotted:
            return f"{dotted.group(3)}-{dotted.group(2)}-{dotted.group(1)}T00:00:00"
        iso = _ISO_DATE.match(value)
        if iso:
            time = f"{iso.group(4)}:{iso.group(5)}:{iso.group(6)}" if iso.group(4) else "00:00:00"
            return f"{iso.group(1)}-{iso.group(2)}-{iso.group(3)}T{time}"
        raise QueryError(f"q: {field.tag} wants a date as 'dd.mm.yyyy', not {value!r}")
    if field.kind in ("int", "float"):
        try:
            return int(value) if field.kind == "int" else float(value)
        except ValueError:
            raise QueryError(f"q: {field.tag} wants a number, not {value!r}") from None
    return value


def translate_sort(sort: str, resource: Resource) -> str:
    parts = []
    for item in sort.split(","):
        words = item.split()
        if not words or len(words) > 2:
            raise QueryError(f"sort: cannot read {item!r}")
        field = resource.field(words[0])
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if field is None or direction not in ("ASC", "DESC"):
            raise QueryError(f"sort: cannot read {item!r}")
        parts.append(f"{field.column} {direction}")
    return ", ".join(parts)


# --- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListParams:
    offset: int = 0
    limit: int = 10
    q: str | None = None
    sort: str | None = None
    fields: tuple[str, ...] = ()
    with_count: bool = False
    expand: bool = False


def convert(value: JsonValue, kind: Kind) -> JsonValue:
    if kind == "int":
        return int(value) if isinstance(value, int | float) else 0
    if kind == "float":
        return float(value) if isinstance(value, int | float) else 0.0
    if kind == "date":
        return value if isinstance(value, str) and value else EMPTY_DATE
    return value if value is not None else ""


class Reader:
    """Renders resources from the tables; ``base`` is the API root URL (``http://host:port/api/v1``)."""

    def __init__(self, db: Database, resources: dict[str, Resource]) -> None:
        self.db = db
        self.resources = resources

    def page(self, resource: Resource, params: ListParams, base: str) -> dict[str, JsonValue]:
        where, args = resource.where, list[Param]()
        if params.q:
            condition, args = translate_q(params.q, resource)
            where = f"({where}) AND ({condition})"
        order = f"{translate_sort(params.sort, resource)}, " if params.sort else ""
        selected = self._selected(resource, params.fields)
        with self.db.lock:
            total = self.db.scalar(f"SELECT COUNT(*) FROM {resource.source} WHERE {where}", args)
            rows = self.db.rows(
                f"SELECT {resource.key} AS __REF, {_columns(selected)} FROM {resource.source} "
                f"WHERE {where} ORDER BY {order}{resource.key} LIMIT ? OFFSET ?",
                [*args, params.limit, params.offset],
            )
            records = self._render(resource, rows, selected, params.expand, base)
        count = int(total) if isinstance(total, int) else 0
        href = f"{base}/{resource.name}"
        envelope: dict[str, JsonValue] = {
            "Meta": {"href": href, "mediaType": MEDIA_TYPE, "apiVersion": "1.0"},
            "offset": params.offset,
            "count": len(records),
        }
        if params.with_count:
            envelope["totalCount"] = count
        envelope["limit"] = params.limit
        envelope["first"] = {"href": _page(href, params, 0)}
        if params.offset + len(records) < count:
            envelope["next"] = {"href": _page(href, params, params.offset + params.limit)}
        if params.offset > 0:
            envelope["previous"] = {"href": _page(href, params, max(params.offset - params.limit, 0))}
        envelope["items"] = list[JsonValue](records)
        return envelope

    def one(self, resource: Resource, ref: int, base: str, *, expand: bool) -> dict[str, JsonValue] | None:
        selected = resource.fields
        with self.db.lock:
            rows = self.db.rows(
                f"SELECT {resource.key} AS __REF, {_columns(selected)} FROM {resource.source} "
                f"WHERE ({resource.where}) AND {resource.key} = ?",
                [ref],
            )
            records = self._render(resource, rows, selected, expand, base)
        return records[0] if records else None

    def _selected(self, resource: Resource, tags: tuple[str, ...]) -> tuple[Field, ...]:
        if not tags:
            return resource.fields
        wanted = {t.strip().upper() for t in tags if t.strip()}
        chosen = tuple(f for f in resource.fields if f.tag.upper() in wanted)
        return chosen or resource.fields

    def _render(
        self, resource: Resource, rows: list[Row], fields: tuple[Field, ...], expand: bool, base: str
    ) -> list[dict[str, JsonValue]]:
        nested: dict[str, dict[int, list[JsonValue]]] = {}
        refs = [int(str(r["__REF"])) for r in rows]
        if expand and refs:
            for collection in resource.collections:
                nested[collection.tag] = self._children(collection, refs)
        records: list[dict[str, JsonValue]] = []
        for ref, row in zip(refs, rows, strict=True):
            href = f"{base}/{resource.name}/{ref}"
            record: dict[str, JsonValue] = {"Meta": {"href": href}}
            for f in fields:
                record[f.tag] = convert(row[f.tag], f.kind)
            for collection in resource.collections:
                meta: dict[str, JsonValue] = {"href": f"{href}/{collection.tag}"}
                if expand:
                    record[collection.tag] = {"Meta": meta, "items": nested[collection.tag].get(ref, [])}
                else:
                    record[collection.tag] = {"Meta": meta}
            records.append(record)
        return records

    def _children(self, collection: Collection, refs: list[int]) -> dict[int, list[JsonValue]]:
        marks = ", ".join("?" * len(refs))
        rows = self.db.rows(
            f"SELECT {collection.parent} AS __PARENT, {_columns(collection.fields)} FROM {collection.source} "
            f"WHERE {collection.parent} IN ({marks}) ORDER BY {collection.order}",
            list(refs),
        )
        children: dict[int, list[JsonValue]] = {}
        for row in rows:
            child: dict[str, JsonValue] = {f.tag: convert(row[f.tag], f.kind) for f in collection.fields}
            children.setdefault(int(str(row["__PARENT"])), []).append(child)
        return children


def _columns(fields: tuple[Field, ...]) -> str:
    return ", ".join(f'{f.column} AS "{f.tag}"' for f in fields)


def _page(href: str, params: ListParams, offset: int) -> str:
    query: dict[str, str | int] = {"offset": offset, "limit": params.limit}
    if params.q:
        query["q"] = params.q
    if params.sort:
        query["sort"] = params.sort
    if params.fields:
        query["fields"] = ",".join(params.fields)
    if params.with_count:
        query["withCount"] = "true"
    if params.expand:
        query["expandLevel"] = "full"
    return f"{href}?{urlencode(query)}"
