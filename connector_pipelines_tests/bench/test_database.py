"""`bench --database-url`: the benchmark's connector database is a throwaway one on the named server, made
for the run and removed afterwards however the run ends; existing data there is never touched; a URL that is
not PostgreSQL or SQLite is refused before anything starts."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from connector_pipelines import config
from connector_pipelines.bench.harness import (
    UnsupportedDatabaseError,
    database_backend,
    interruptible,
    isolated_environment,
    throwaway_database,
)
from connector_pipelines.bench.runner import run_benchmark
from connector_pipelines.cli import main
from connector_pipelines.store.db import get_database
from connector_pipelines.store.models import Record, Tenant

DECOY = "CREATE TABLE records (key text); INSERT INTO records VALUES ('existing')"


class Interrupted(Exception):
    """A run that fails mid-way."""


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _databases(admin_dsn: str) -> set[str]:
    with psycopg.connect(admin_dsn) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def _schemas(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}


def _decoy_rows(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT key FROM public.records")]


def _use(url: str) -> None:
    """What a benchmark does to its database: migrate it, write to it, read it back."""
    db = get_database(url)
    with db.session() as session:
        session.add(Tenant(slug="bench", display_name="Benchmark"))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Tenant)) == 1
        assert session.scalar(select(func.count()).select_from(Record)) == 0


@pytest.fixture
def server(postgres_url: str) -> str:
    """A PostgreSQL database holding data of its own (a ``records`` table) that the benchmark must not see."""
    with psycopg.connect(_dsn(postgres_url), autocommit=True) as conn:
        conn.execute(DECOY)
    return postgres_url


@pytest.mark.postgres
@pytest.mark.parametrize("ending", [None, Interrupted, KeyboardInterrupt], ids=["done", "failed", "ctrl-c"])
def test_a_throwaway_database_is_created_and_dropped_however_the_run_ends(
    server: str, postgres_server: str, ending: type[BaseException] | None
) -> None:
    before = _databases(postgres_server)
    with pytest.raises(ending) if ending else contextlib.nullcontext(), isolated_environment(server):
        url = os.environ[config.DATABASE_URL_VAR]
        name = make_url(url).database
        assert name is not None and name.startswith("connector_bench_") and name not in before
        assert name in _databases(postgres_server)
        _use(url)
        if ending is not None:
            raise ending()
    # Only this run's database is looked at: other benchmarks may use the server meanwhile.
    assert name not in _databases(postgres_server), "the throwaway database is gone"
    assert _decoy_rows(_dsn(server)) == ["existing"]
    assert os.environ.get(config.DATABASE_URL_VAR) is None, "the environment is restored"


@pytest.fixture
def restricted(server: str) -> Iterator[str]:
    """The URL of ``server`` for a role that may not create databases, only schemas in that database."""
    role = f"connector_bench_role_{secrets.token_hex(4)}"
    database = make_url(server).database
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB NOSUPERUSER')
        conn.execute(f'GRANT CREATE ON DATABASE "{database}" TO "{role}"')
    try:
        yield make_url(server).set(username=role).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_dsn(server), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


@pytest.mark.postgres
def test_a_role_that_may_not_create_databases_gets_a_throwaway_schema(
    restricted: str, server: str, postgres_server: str, tmp_path: Path
) -> None:
    databases = _databases(postgres_server)
    schemas = _schemas(_dsn(server))  # of a database of this test only
    with throwaway_database(restricted, tmp_path) as url:
        assert make_url(url).database == make_url(server).database
        (schema,) = _schemas(_dsn(server)) - schemas
        assert schema.startswith("connector_bench_")
        _use(url)
        with psycopg.connect(_dsn(server)) as conn:
            tables = {
                r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
            }
        assert {"tenants", "records", "mappings"} <= tables, "the connector tables are in the schema"
    assert _schemas(_dsn(server)) == schemas, "the throwaway schema is gone"
    assert not {d for d in _databases(postgres_server) - databases if d.startswith(schema)}, "no database"
    assert _decoy_rows(_dsn(server)) == ["existing"]


def test_a_sqlite_url_gets_a_throwaway_file_in_its_folder(tmp_path: Path) -> None:
    named = tmp_path / "connector.db"
    with throwaway_database(f"sqlite:///{named}", tmp_path / "home") as url:
        file = config.sqlite_path(url)
        assert file is not None and file.parent == tmp_path and file.name.startswith("connector_bench_")
        _use(url)
        assert file.exists()
    assert list(tmp_path.iterdir()) == [], "the throwaway file is gone; the named one was never made"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql+pymysql://bench:s3cret@db.example.com/shop", "PostgreSQL or SQLite only"),
        ("oracle://bench:s3cret@db.example.com/shop", "PostgreSQL or SQLite only"),
        ("not a url", "not a database URL"),
    ],
)
def test_other_databases_are_refused_before_anything_starts(url: str, reason: str) -> None:
    with pytest.raises(UnsupportedDatabaseError, match=reason) as refused:
        database_backend(url)
    assert "s3cret" not in str(refused.value)
    result = CliRunner().invoke(main, ["bench", "plenty_shopware", "--database-url", url])
    assert result.exit_code == 2, result.output
    assert reason in result.output and "--database-url" in result.output and "s3cret" not in result.output
    assert "sandbox ready" not in result.output


def test_a_server_that_does_not_answer_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as bound:  # bound, never listening: a connection is refused at once
        bound.bind(("127.0.0.1", 0))
        url = f"postgresql+psycopg://postgres@127.0.0.1:{bound.getsockname()[1]}/postgres"
        refused = pytest.raises(
            UnsupportedDatabaseError, match="no throwaway database or schema could be made"
        )
        with refused, throwaway_database(url, tmp_path):
            pass


def test_sigterm_unwinds_the_benchmark_as_ctrl_c_does() -> None:
    before = signal.getsignal(signal.SIGTERM)
    homes: list[Path] = []

    def benchmark() -> None:
        with isolated_environment() as home:
            homes.append(home)
            get_database(config.database_url())  # the default: a SQLite file in the throwaway home
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt):
        benchmark()
    assert not homes[0].exists(), "the throwaway home and its database are gone"
    assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_reaches_the_benchmark_while_a_run_executes() -> None:
    """The run executes in a thread of its own, so SIGINT interrupts the benchmark, not the run."""
    release = threading.Event()

    def run() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        release.wait()

    try:
        with pytest.raises(KeyboardInterrupt):
            interruptible(run)
    finally:
        release.set()
    assert interruptible(lambda: 42) == 42
    with pytest.raises(Interrupted):
        interruptible(_fails)


def _fails() -> None:
    raise Interrupted("failed in the run's thread")


@pytest.mark.postgres
@pytest.mark.slow
def test_a_benchmark_runs_on_postgresql_and_leaves_nothing(server: str, postgres_server: str) -> None:
    lines: list[str] = []
    results = run_benchmark(
        "plytix_webflow",
        lines.append,
        products=6,
        variants=2,
        rate_limits="off",
        as_json=True,
        log=lines.append,
        database_url=server,
    )
    assert all(r.converged for r in results.values()), lines
    assert results["delta_none"].target_writes == 0
    used = {m for line in lines for m in re.findall(r"connector database \S+/(connector_bench_\w+)", line)}
    assert len(used) == 1, lines
    assert not used & _databases(postgres_server), "the throwaway database is gone"
    assert _decoy_rows(_dsn(server)) == ["existing"]
