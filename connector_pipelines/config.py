"""Process configuration from environment variables, read when used (never at import time).

Where local state lives when nothing is set: everything under ``CONNECTOR_HOME`` (default ``./.connector``
of the current directory): the SQLite connector database ``connector.db`` and, unless ``DAGSTER_HOME`` is
set, the Dagster instance that records the runs started by the CLI (``dagster/``, embedded SQLite storage,
telemetry off). The demo and ``dev`` keep theirs apart, in ``CONNECTOR_HOME/demo``.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VAR = "CONNECTOR_HOME"
DATABASE_URL_VAR = "CONNECTOR_DATABASE_URL"
ENCRYPTION_KEY_VAR = "CONNECTOR_ENCRYPTION_KEY"
OLD_KEYS_VAR = "CONNECTOR_ENCRYPTION_KEYS_OLD"
LOG_FORMAT_VAR = "CONNECTOR_LOG_FORMAT"
DAGSTER_HOME_VAR = "DAGSTER_HOME"
DATABASE_FILE = "connector.db"
# The instance config written into a Dagster home the connector creates: embedded storage, and no telemetry
# (Dagster would otherwise print its banner and report usage from an operator's command).
LOCAL_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def connector_home() -> Path:
    return Path(os.environ.get(HOME_VAR) or ".connector").resolve()


def database_url() -> str:
    """The connector database's URL; for the default SQLite file, its folder is created (for the commands
    that create the database; the others ask :func:`missing_database` first)."""
    url = os.environ.get(DATABASE_URL_VAR)
    if url:
        return url
    home = connector_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / DATABASE_FILE}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def database_location() -> str:
    """Where the connector database is, for messages: the SQLite file, or the URL without its password."""
    from sqlalchemy.engine import make_url

    url = os.environ.get(DATABASE_URL_VAR)
    if not url:
        return str(connector_home() / DATABASE_FILE)
    path = sqlite_path(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


def missing_database() -> str | None:
    """Why there is no connector database to read (a SQLite file that does not exist), or None. Creates
    nothing: commands that only read must not leave an empty database where an operator looked by mistake."""
    url = os.environ.get(DATABASE_URL_VAR)
    path = connector_home() / DATABASE_FILE if not url else sqlite_path(url)
    if path is None or path.exists():
        return None
    if url:
        source = DATABASE_URL_VAR
    elif os.environ.get(HOME_VAR):
        source = f"{HOME_VAR}={os.environ[HOME_VAR]}"
    else:
        # Relative to where the command runs: the most common surprise.
        source = f"{HOME_VAR} is unset: .connector in the current directory"
    return f"no connector database at {path} ({source})"


def dagster_home() -> Path:
    """The Dagster instance folder of runs started from this process: ``DAGSTER_HOME``, else
    ``CONNECTOR_HOME/dagster``."""
    home = os.environ.get(DAGSTER_HOME_VAR)
    return Path(home).resolve() if home else connector_home() / "dagster"


def demo_home() -> Path:
    """The demo's and ``dev``'s own connector home: their tenants point at a sandbox that lives only as long
    as they run, so they never share the operator's database or Dagster instance."""
    return connector_home() / "demo"


def log_format() -> str:
    return os.environ.get(LOG_FORMAT_VAR, "text").lower()
