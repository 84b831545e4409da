"""Fixtures shared by the whole suite: an encryption key, a connector home, and the connector database on
SQLite and on PostgreSQL (at 127.0.0.1:5432; required when CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage

from connector_pipelines import redaction
from connector_pipelines.pipelines.catalog import tenant_registry
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.store.db import Database
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines.tenants.registry import TenantRegistry

# Steps that fail transiently are retried by their retry policy (CONNECTOR_STEP_RETRIES), read when the
# assets are built, i.e. when a test module first imports the definitions, which pytest does only after this
# conftest. The suite asserts what one attempt does (a run killed mid-way, a storm that outlasts the client's
# own retries), so its runs make one attempt; pipelines/test_runtime.py builds assets with retries to test
# the policy itself, with no delay, so that no test waits on a clock.
os.environ.setdefault("CONNECTOR_STEP_RETRIES", "0")
os.environ.setdefault("CONNECTOR_STEP_RETRY_DELAY_S", "0")

PG_ADMIN_DSN = os.environ.get("CONNECTOR_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _no_dagster_defs_state() -> Iterator[None]:
    """Each test starts with no current Dagster defs-state storage. Entering an instance makes its storage
    current (a context variable) until the instance is left; under some orders of the suite a test instance's
    storage was still current in a later test after its temporary directory was gone, and resolving new
    Definitions there (which reads the latest defs state) failed with "unable to open database file"."""
    with set_defs_state_storage(None):
        yield


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only() -> Iterator[None]:
    """The secrets a test registers for redaction are forgotten after it: the registry is process-wide, so
    a secret of an earlier test (a fuzzed credential that happens to be "token") would mask words in a
    later test's messages, depending on the order the workers ran them in."""
    saved = redaction._secrets
    yield
    redaction._secrets = saved


@pytest.fixture(autouse=True)
def _environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_HOME", str(tmp_path / "connector"))
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEYS_OLD", raising=False)
    monkeypatch.delenv("CONNECTOR_DATABASE_URL", raising=False)


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {PG_ADMIN_DSN} is not reachable: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin DSN of the test PostgreSQL; skips (or fails, when CI=true) if it is down."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (required when CI=true)")
        pytest.skip(problem)
    return PG_ADMIN_DSN


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"connector_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'connector.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def registry(db: Database) -> TenantRegistry:
    return tenant_registry(db)


@pytest.fixture
def hub() -> Iterator[SandboxHub]:
    """Every emulator on one loopback port (any free one), empty: tests add the accounts they need."""
    sandbox = SandboxHub()
    sandbox.serve()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sqlite_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> TenantRegistry:
    """The registry of one SQLite connector database, which runs in this process use too."""
    url = f"sqlite:///{tmp_path / 'connector.db'}"
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", url)
    return tenant_registry(Database(url))
