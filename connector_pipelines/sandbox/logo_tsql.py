"""A T-SQL subset over an in-memory SQLite database: what the SQL query routes of Logo and Netsis run.

Both ERPs sit on Microsoft SQL Server and their REST services pass a client's SELECT through to it. The
emulators keep their tables in SQLite (one database per emulator, the real table names) and rewrite the T-SQL
forms clients send into SQLite: ``TOP n``, ``OFFSET … FETCH NEXT … ONLY``, ``WITH (NOLOCK)``, ``N'…'``,
``ISNULL``, ``LEN``, ``GETDATE()``. SQLite-only syntax (``LIMIT``) is refused as SQL Server refuses it, and
anything but reading is denied. Errors carry SQL Server's error numbers (102 syntax, 207 invalid column, 208
invalid object, 229 permission) because clients key on them (Logo answers them as ModelState keys).

The Netsis emulator imports this module too: both need the same dialect, and this is where it lives.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from pydantic import JsonValue

__all__ = ["Database", "SqlError", "iso", "param", "to_sqlite"]

Row = dict[str, JsonValue]
Param = str | int | float | None

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NOLOCK = re.compile(r"\bWITH\s*\(\s*NOLOCK\s*\)", re.IGNORECASE)
_TOP = re.compile(r"^\s*SELECT\s+(DISTINCT\s+)?TOP\s*(?:\(\s*(\d+)\s*\)|(\d+))", re.IGNORECASE)
_FETCH = re.compile(
    r"\bOFFSET\s+(\d+)\s+ROWS?\s+FETCH\s+(?:NEXT|FIRST)\s+(\d+)\s+ROWS?\s+ONLY\b", re.IGNORECASE
)
_LIMIT = re.compile(r"\bLIMIT\b", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_READING = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


class SqlError(Exception):
    """A query SQL Server would refuse; ``number`` is SQL Server's error number."""

    def __init__(self, number: int, message: str) -> None:
        self.number = number
        self.message = message
        super().__init__(f"{number}: {message}")


def param(value: JsonValue) -> Param:
    """A value read from a table, to be written back (rows are typed as JSON for rendering)."""
    return value if value is None or isinstance(value, str | int | float) else str(value)


def iso(epoch_s: float) -> str:
    """A datetime as both ERPs render it and as the tables store it: ``2026-08-01T10:15:00`` (UTC)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def to_sqlite(tsql: str) -> str:
    """Rewrite one T-SQL SELECT into SQLite; string literals are left as they are."""
    text = tsql.strip().rstrip(";").strip()
    if not re.match(r"^(SELECT|WITH)\b", text, re.IGNORECASE):
        verb = (text.split() or ["(empty)"])[0].upper()
        raise SqlError(229, f"The {verb} permission was denied: only SELECT statements are allowed.")
    pieces: list[str] = []
    at = 0
    for match in _LITERAL.finditer(text):
        pieces.append(_rewrite_code(text[at : match.start()]))
        pieces.append(match.group(0))
        at = match.end()
    pieces.append(_rewrite_code(text[at:]))
    # N'…' (a Unicode literal) is the same literal to SQLite: drop the N in front of each literal.
    for i in range(1, len(pieces), 2):
        before = pieces[i - 1]
        if before[-1:] in ("N", "n") and not re.search(r"[A-Za-z0-9_]$", before[:-1]):
            pieces[i - 1] = before[:-1]
    code = "".join(pieces)
    top = _TOP.match(code)
    if top is None:
        return code
    limit = top.group(2) or top.group(3)
    return f"SELECT {top.group(1) or ''}{code[top.end() :]} LIMIT {limit}"


def _rewrite_code(code: str) -> str:
    if _LIMIT.search(code):
        raise SqlError(102, "Incorrect syntax near 'LIMIT'.")
    code = _NOLOCK.sub(" ", code)
    return _FETCH.sub(lambda m: f"LIMIT {m.group(2)} OFFSET {m.group(1)}", code)


def _column_names(description: Sequence[Sequence[object]]) -> list[str]:
    # SQL Server (through ADO.NET) names an unnamed expression Column1, Column2, … in order.
    names: list[str] = []
    unnamed = 0
    for entry in description:
        name = str(entry[0])
        if not _NAME.match(name):
            unnamed += 1
            name = f"Column{unnamed}"
        names.append(name)
    return names


class Database:
    """One emulator's tables. ``lock`` guards every use; the in-process API and the app share it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self.conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.conn.create_function("ISNULL", 2, lambda a, b: b if a is None else a, deterministic=True)
        self.conn.create_function("LEN", 1, lambda s: None if s is None else len(str(s).rstrip(" ")))
        self.conn.create_function("GETDATE", 0, lambda: iso(self._clock()))

    def script(self, sql: str) -> None:
        with self.lock:
            self.conn.executescript(sql)

    def execute(self, sql: str, params: Sequence[Param] = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Param]]) -> None:
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                self.conn.executemany(sql, rows)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Param] = ()) -> list[Row]:
        """Trusted SQL (the emulator's own) as column -> value maps."""
        with self.lock:
            cursor = self.conn.execute(sql, params)
            names = [str(d[0]) for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[Param] = ()) -> JsonValue:
        with self.lock:
            row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def query(self, tsql: str, params: Sequence[Param] = ()) -> list[Row]:
        """A client's T-SQL, read-only, with SQL Server's error numbers."""
        sql = to_sqlite(tsql)
        with self.lock:
            self.conn.set_authorizer(_reading_only)
            try:
                cursor = self.conn.execute(sql, params)
                names = _column_names(cursor.description or ())
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except (sqlite3.Error, sqlite3.Warning) as exc:
                raise _sql_server_error(str(exc)) from None
            finally:
                self.conn.set_authorizer(None)


def _reading_only(action: int, *args: object) -> int:
    return sqlite3.SQLITE_OK if action in _READING else sqlite3.SQLITE_DENY


def _sql_server_error(message: str) -> SqlError:
    if message.startswith("no such table: "):
        name = message.removeprefix("no such table: ").rpartition(".")[2]
        return SqlError(208, f"Invalid object name '{name}'.")
    if message.startswith("no such column: "):
        name = message.removeprefix("no such column: ").rpartition(".")[2]
        return SqlError(207, f"Invalid column name '{name}'.")
    if "not authorized" in message:
        return SqlError(229, "The permission was denied: the query service only reads.")
    return SqlError(102, f"Incorrect syntax: {message}.")
