"""Engines, sessions and migrations of the connector database (SQLite by default, PostgreSQL in prod)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from connector_pipelines import config, errors
from connector_pipelines.store.models import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


class ConnectionLostError(errors.TransientError, RuntimeError):
    """The database dropped the connection mid-transaction (restart, failover, terminated backend)."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


# PostgreSQL cannot store U+0000, neither in text nor in jsonb: one NUL in a product description would fail
# the whole run there (SQLite keeps it). It becomes U+FFFD, the mark of a character that cannot be shown.
def _pg_json_dumps(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if "\\u0000" not in text else orjson.dumps(_without_nul(value)).decode()


def _pg_text_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    return statement, _without_nul(parameters) if _has_nul(parameters) else parameters


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the webserver read while a run writes; foreign keys make tenant deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` but always drive PostgreSQL with psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalize_url(url)
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["json_serializer"] = _pg_json_dumps
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **kwargs)
    event.listen(engine, "before_cursor_execute", _pg_text_parameters, retval=True)
    return engine


def alembic_config(engine: Engine, migrations: Path = MIGRATIONS) -> Config:
    # alembic (about 10 MB and a quarter of a second) is imported only where migrations are read or run.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["engine"] = engine
    return cfg


class Database:
    """One connector database: engine, session factory and schema upgrades."""

    MIGRATIONS: ClassVar[Path] = MIGRATIONS
    VERSION_TABLE: ClassVar[str] = VERSION_TABLE
    # The newest migration (a test holds it to the scripts): every open compares the database with it by
    # one query, without reading the scripts through alembic.
    HEAD: ClassVar[str] = "0003"

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self.url = normalize_url(url or config.database_url())
        self.engine = create_db_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if upgrade:
            self.upgrade_if_needed()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(self.VERSION_TABLE):
                return None
            found = conn.execute(text(f"SELECT version_num FROM {self.VERSION_TABLE}")).scalar()
            return None if found is None else str(found)

    def head_revision(self) -> str | None:
        """The newest revision of the migration scripts, as alembic reads them."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config(self.engine, self.MIGRATIONS)).get_current_head()

    def upgrade(self) -> None:
        from alembic import command

        command.upgrade(alembic_config(self.engine, self.MIGRATIONS), "head")

    def upgrade_if_needed(self) -> None:
        if self.current_revision() != self.HEAD:
            self.upgrade()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # SQLAlchemy's message carries the statement and its parameters (whole payloads): say what
            # happened in one line; the next session gets a fresh connection.
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            raise ConnectionLostError(
                f"the connection to the connector database was lost: {reason}"
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()


_cache: dict[str, Database] = {}
_cache_lock = threading.Lock()


def get_database(url: str | None = None) -> Database:
    """A process-wide Database per URL, so every run step shares one connection pool."""
    key = normalize_url(url or config.database_url())
    with _cache_lock:
        db = _cache.get(key)
        if db is None:
            db = _cache[key] = Database(key)
        return db


def dispose_database(url: str) -> None:
    """Close and forget the process-wide Database of ``url``, if any: before that database is removed (the
    benchmark's throwaway one), so that no pooled connection holds it and no later lookup finds it."""
    with _cache_lock:
        db = _cache.pop(normalize_url(url), None)
    if db is not None:
        db.dispose()
