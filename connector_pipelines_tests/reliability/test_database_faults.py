"""The connector database under faults: connections dropped mid-run, two runs of one tenant at once,
migrations applied twice or by several processes at once. PostgreSQL (mandatory in CI) and SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.store.db import ConnectionLostError, Database
from connector_pipelines.store.locks import DEFAULT_WAIT_S, RunLock, RunLockedError
from connector_pipelines.store.models import SyncRun
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync import plenty_shopware as steps
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant, make_tenant

pytestmark = pytest.mark.reliability

PIPELINE = steps.PIPELINE
# Every Shopware write takes this long, so that a publishing step outlasts the run lock's wait.
SLOW_WRITES = FaultConfig(rate_slow=1.0, slow_s=0.5, path_prefix="/api/_action/sync")


@pytest.fixture
def on_database(
    hub: SandboxHub, registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch
) -> PlentyShopwareTenant:
    """A tenant whose connector database is ``registry``'s (SQLite or PostgreSQL), for child processes too."""
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", registry.db.url)
    return make_tenant(hub, registry, products=8, shopware={"batch_size": 1})


def _sync_command(tenant: PlentyShopwareTenant, mode: SyncMode) -> list[str]:
    return [
        sys.executable,
        "-m",
        "connector_pipelines",
        "sync",
        tenant.slug,
        "--pipeline",
        PIPELINE,
        "--mode",
        mode,
    ]


def _child(tenant: PlentyShopwareTenant, mode: SyncMode, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.Popen(
        _sync_command(tenant, mode), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _assert_converged(tenant: PlentyShopwareTenant) -> None:
    """The state after a clean full sync: Shopware equals Plenty, nothing open, nothing left to publish."""
    tenant.shopware.emulator.faults.clear()
    full = tenant.sync(SyncMode.FULL)
    assert full.success, full.error
    report = tenant.convergence()
    assert report.converged and not report.duplicated, report.describe()
    assert tenant.store().open_errors() == []
    # Nothing left to publish. (A published hash is not the record's own: it also covers what shapes the
    # record in Shopware, so the two are not compared.)
    quiet = tenant.sync(SyncMode.DELTA)
    assert quiet.success, quiet.error
    written = {k: quiet.counts("shopware_products").get(k, 0) for k in ("created", "updated", "deleted")}
    assert not any(written.values()), written


# --- the run lock ------------------------------------------------------------------------------------------


def test_the_run_lock_refuses_a_second_holder_of_one_tenant_only(
    registry: TenantRegistry, db: Database
) -> None:
    registry.add("acme", "", [PIPELINE])
    registry.add("globex", "", [PIPELINE])
    acme, globex = TenantStore(db, "acme", PIPELINE), TenantStore(db, "globex", PIPELINE)
    with RunLock(acme, wait_s=0.3):
        started = time.monotonic()
        with pytest.raises(
            RunLockedError, match="another run of plenty_shopware for tenant acme is in progress"
        ):
            RunLock(TenantStore(db, "acme", PIPELINE), wait_s=0.3).__enter__()
        assert time.monotonic() - started >= 0.3, "it waited before refusing"
        with RunLock(globex, wait_s=0):
            pass  # another tenant runs meanwhile
        with RunLock(TenantStore(db, "acme", "erp_files_shopify"), wait_s=0):
            pass  # and so does another pipeline of the same tenant
    with RunLock(acme, wait_s=0):
        pass  # released


def test_a_waiting_run_takes_the_lock_when_the_holder_finishes(
    registry: TenantRegistry, db: Database
) -> None:
    registry.add("acme", "", [PIPELINE])
    holder = RunLock(TenantStore(db, "acme", PIPELINE), wait_s=0)
    holder.__enter__()
    threading.Timer(0.5, holder.__exit__, (None, None, None)).start()
    started = time.monotonic()
    with RunLock(TenantStore(db, "acme", PIPELINE), wait_s=DEFAULT_WAIT_S):
        assert 0.4 < time.monotonic() - started < DEFAULT_WAIT_S


def test_a_killed_holder_leaves_no_lock_behind(registry: TenantRegistry, db: Database) -> None:
    registry.add("acme", "", [PIPELINE])
    script = (
        "import sys, time\n"
        "from connector_pipelines.store.db import Database\n"
        "from connector_pipelines.store.locks import RunLock\n"
        "from connector_pipelines.store.repositories import TenantStore\n"
        f"lock = RunLock(TenantStore(Database({db.url!r}), 'acme', {PIPELINE!r}), wait_s=0).__enter__()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError):
            RunLock(TenantStore(db, "acme", PIPELINE), wait_s=0).__enter__()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # PostgreSQL notices the dead client's closed socket at once; the flock dies with the process.
    with RunLock(TenantStore(db, "acme", PIPELINE), wait_s=2.0):
        pass


# --- two runs for one tenant at once ------------------------------------------------------------------------


def _overlaps(runs: list[SyncRun]) -> list[str]:
    """Steps of different Dagster runs that were in progress at the same time."""
    found = []
    for a in runs:
        for b in runs:
            if a.dagster_run_id == b.dagster_run_id or a.id >= b.id or a.finished_at is None:
                continue
            end_b: datetime = b.finished_at or datetime.max.replace(tzinfo=a.started_at.tzinfo)
            if a.started_at < end_b and b.started_at < a.finished_at:
                found.append(f"{a.step} ({a.dagster_run_id}) and {b.step} ({b.dagster_run_id})")
    return found


def test_two_runs_of_one_tenant_at_once_take_turns_or_one_is_refused(
    on_database: PlentyShopwareTenant, tmp_path: Path
) -> None:
    tenant = on_database
    assert tenant.sync(SyncMode.CONFIG).success
    tenant.shopware.emulator.faults.configure(SLOW_WRITES)
    children = [_child(tenant, SyncMode.FULL, tmp_path / f"dagster-{i}") for i in range(2)]
    outcomes = [(child.wait(timeout=180), *child.communicate()) for child in children]
    refused = [err for code, _out, err in outcomes if code != 0]
    for error in refused:
        assert "another run of plenty_shopware for tenant acme is in progress" in error, error
    assert len(refused) < 2, "one of them ran"
    with tenant.registry.db.session() as session:
        runs = list(session.scalars(select(SyncRun).where(SyncRun.step != "run")))
    assert {r.status for r in runs} <= {"success", "failed"}
    assert not _overlaps(runs), "two runs wrote the tenant's state at the same time"
    _assert_converged(tenant)


# --- the connection dropped mid-run -------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_dropped_database_connection_fails_the_run_clearly_and_the_next_converges(
    hub: SandboxHub, postgres_server: str, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", postgres_url)
    database = Database(postgres_url)
    tenant = make_tenant(hub, TenantRegistry(database), products=12, shopware={"batch_size": 1})
    assert tenant.sync(SyncMode.CONFIG).success
    tenant.shopware.emulator.faults.configure(SLOW_WRITES)
    child = _child(tenant, SyncMode.FULL, tmp_path / "dagster")
    deadline = time.monotonic() + 120
    while tenant.shopware.emulator.count("product") < 4:
        assert child.poll() is None and time.monotonic() < deadline, "the run ended before the drop"
        time.sleep(0.05)
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    assert dropped, "the run had connections to drop"
    code = child.wait(timeout=180)
    _out, err = child.communicate()
    assert code == 1, err
    error = next(line for line in err.splitlines() if line.startswith("error: "))
    assert "connection" in error and "lost" in error, error
    assert "[SQL:" not in error and "Traceback" not in err, "one clear line, no statement dump"
    with database.session() as session:
        failed = session.scalars(select(SyncRun).where(SyncRun.status == "failed")).all()
    # One step failed with its error: the one publishing when the connection went (the read, which
    # publishes as it goes).
    assert len(failed) == 1 and failed[0].error, failed

    _assert_converged(tenant)
    database.dispose()


@pytest.mark.postgres
def test_a_connection_dropped_mid_transaction_is_one_clear_error(
    postgres_server: str, postgres_url: str
) -> None:
    database = Database(postgres_url)
    TenantRegistry(database).add("acme", "", [PIPELINE])
    store = TenantStore(database, "acme", PIPELINE)

    def drop_mid_transaction() -> None:
        with database.session() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(postgres_server, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            session.execute(text("SELECT 1"))

    with pytest.raises(ConnectionLostError) as lost:
        drop_mid_transaction()
    assert str(lost.value).startswith("the connection to the connector database was lost: terminating")
    assert "\n" not in str(lost.value) and "SELECT" not in str(lost.value)
    assert store.record_hashes("product") == {}, "the next transaction reconnects"
    database.dispose()


# --- migrations ---------------------------------------------------------------------------------------------


def test_migrations_applied_again_and_at_once_keep_the_data(registry: TenantRegistry, db: Database) -> None:
    registry.add("acme", "ACME", [PIPELINE], {"plentymarkets": {"base_url": "https://p.example.com"}})
    registry.set_credentials("acme", "plentymarkets", {"username": "u", "password": "secret-pw"})
    store = TenantStore(db, "acme", PIPELINE)
    store.put_records("product", [("k1", "h1", {"a": 1})])
    store.put_mappings("product", [MappingRow("k1", "t1", "h1")])
    db.upgrade()
    db.upgrade()
    # Several processes starting at once on a database that is behind: they take turns, nobody fails.
    script = f"from connector_pipelines.store.db import Database; Database({db.url!r}).upgrade(); print('ok')"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0 and out.strip() == "ok", err
    assert db.current_revision() == db.head_revision()
    assert store.record_hashes("product") == {"k1": "h1"}
    assert store.mappings("product")["k1"].target_id == "t1"
    assert registry.get("acme").settings["plentymarkets"]["base_url"] == "https://p.example.com"


@pytest.mark.postgres
def test_processes_starting_at_once_on_a_fresh_postgres_all_migrate_it(postgres_url: str) -> None:
    script = f"from connector_pipelines.store.db import Database; Database({postgres_url!r}); print('ok')"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0 and out.strip() == "ok", err.splitlines()[-3:]
    database = Database(postgres_url)
    assert database.current_revision() == database.head_revision()
    database.dispose()
