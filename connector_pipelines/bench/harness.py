"""What every pipeline benchmark shares: the sandbox in its own process, wall time, peak RSS of the
pipeline process, the result shape (`--json` prints exactly these keys per run), and the table."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from connector_pipelines import config
from connector_pipelines.store.db import dispose_database, normalize_url

T = TypeVar("T")
Echo = Callable[[str], None]


class BenchResult(BaseModel):
    wall_s: float
    items_per_s: float
    peak_rss_mb: float
    source_calls: int
    target_calls: int
    target_writes: int
    target_calls_per_product: float = Field(description="target calls per product the run published")
    converged: bool
    bound_s: float | None = Field(
        None, description="with realistic rate limits: the least wall time the limits allow for these calls"
    )


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


class PeakRss:
    """Peak resident memory of this process during a block, as the kernel counts it (VmHWM), reset at the
    start through /proc/self/clear_refs: exact, where sampling would miss spikes and take CPU from the run."""

    peak_mb = 0.0

    def __enter__(self) -> PeakRss:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")  # 5: reset the peak RSS to the current RSS (Linux 4.0+)
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mb = _status_mb("VmHWM")


def measure(run: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, peak RSS MB) of one call."""
    with PeakRss() as rss:
        started = time.perf_counter()
        result = run()
        wall = time.perf_counter() - started
    return result, wall, rss.peak_mb


def interruptible(call: Callable[[], T]) -> T:
    """``call`` in a thread of its own, so that Ctrl-C stops the benchmark: a Dagster run in the main thread
    takes SIGINT over while it runs, and may even succeed after it. The thread is a daemon, left to die with
    the process once the benchmark has cleaned up (its database dropped, its sandbox stopped)."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    context = contextvars.copy_context()  # the progress view of showing_progress is a context variable

    def target() -> None:
        try:
            outcome.append(context.run(call))
        except BaseException as exc:  # handed to the caller's thread, whatever it is
            failure.append(exc)

    worker = threading.Thread(target=target, name="bench-run", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return outcome[0]


# `connector-pipelines sandbox serve` on a free port, its readiness as one JSON line on stdout.
SANDBOX_SERVE = (sys.executable, "-m", "connector_pipelines", "sandbox", "serve", "--port", "0", "--json")


class SandboxProcess:
    """A sandbox in a child process, so the emulators get their own core: ``command`` (by default
    `connector-pipelines sandbox serve`) with ``--accounts-file FILE`` and ``args``, which writes the accounts
    to FILE and then prints one JSON line with its ``base_url``."""

    def __init__(self, args: Sequence[str], command: Sequence[str] = SANDBOX_SERVE) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="connector-bench-")
        self.accounts_file = Path(self._dir.name) / "accounts.json"
        argv = [*command, "--accounts-file", str(self.accounts_file), *args]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox did not start (exit code {self._process.wait()})")
        ready = json.loads(line)
        self.base_url: str = ready["base_url"]
        self.accounts: dict[str, dict[str, dict[str, str]]] = json.loads(self.accounts_file.read_text())
        self.http = httpx.Client(base_url=self.base_url, timeout=600)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._dir.cleanup()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UnsupportedDatabaseError(ValueError):
    """A ``--database-url`` the benchmark cannot run on: not a URL, neither PostgreSQL nor SQLite, or a server
    that is down or where the role may create neither a database nor a schema."""


MAY_CREATE_DATABASES = "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"


def database_backend(url: str) -> str:
    """``postgresql`` or ``sqlite``: the backend of a URL the benchmark can run on."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise UnsupportedDatabaseError("not a database URL (dialect://user@host/database)") from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        shown = parsed.render_as_string(hide_password=True)
        raise UnsupportedDatabaseError(f"{shown}: the benchmark runs on PostgreSQL or SQLite only")
    return backend


@contextmanager
def throwaway_database(url: str, home: Path) -> Iterator[str]:
    """The URL of a database made for one benchmark on the server (or, for SQLite, in the folder) of ``url``,
    removed when the block ends, however it ends. Nothing that exists there is read or written."""
    name = f"connector_bench_{secrets.token_hex(6)}"
    if database_backend(url) == "sqlite":
        named = config.sqlite_path(url)
        # An in-memory URL names no folder: the benchmark's own home holds the file then.
        file = (named.parent if named is not None else home) / f"{name}.db"
        try:
            yield f"sqlite:///{file}"
        finally:
            dispose_database(f"sqlite:///{file}")
            for suffix in ("", "-wal", "-shm"):
                file.with_name(file.name + suffix).unlink(missing_ok=True)
        return
    server = make_url(normalize_url(url))
    # Autocommit: CREATE DATABASE cannot run inside a transaction. No pool: nothing stays connected.
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        try:
            with admin.connect() as conn:
                own_database = bool(conn.scalar(text(MAY_CREATE_DATABASES)))
                if own_database:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                    target = server.set(database=name)
                else:
                    # A role that may not create databases gets a schema of the URL's database, alone on its
                    # search path, so that no table outside it is seen.
                    conn.execute(text(f'CREATE SCHEMA "{name}"'))
                    options = [*server.normalized_query.get("options", ()), f"-csearch_path={name}"]
                    target = server.update_query_dict({"options": " ".join(options)})
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            shown = server.render_as_string(hide_password=True)
            raise UnsupportedDatabaseError(
                f"{shown}: no throwaway database or schema could be made there: {reason}"
            ) from None
        target_url = target.render_as_string(hide_password=False)
        try:
            yield target_url
        finally:
            dispose_database(target_url)
            with admin.connect() as conn:
                if own_database:
                    # FORCE: a connection left by a step that died mid-way must not keep the database.
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                else:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM (``kill``, a cancelled CI job) unwinds the block as Ctrl-C does, so that what the benchmark
    made is still removed. Signal handlers belong to the main thread: elsewhere this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def isolated_environment(database_url: str | None = None) -> Iterator[Path]:
    """A throwaway connector home (database, key) so a benchmark never touches the user's tenants; with
    ``database_url``, the connector database is a throwaway one on that server (``throwaway_database``)."""
    from connector_pipelines.tenants.crypto import generate_key

    saved = {
        k: os.environ.get(k) for k in (config.HOME_VAR, config.DATABASE_URL_VAR, config.ENCRYPTION_KEY_VAR)
    }
    with contextlib.ExitStack() as stack:
        stack.enter_context(terminated_as_interrupted())
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="connector-bench-home-")))
        stack.callback(_restore, saved)
        os.environ[config.HOME_VAR] = str(home)
        os.environ.pop(config.DATABASE_URL_VAR, None)
        os.environ[config.ENCRYPTION_KEY_VAR] = generate_key()
        if database_url is not None:
            os.environ[config.DATABASE_URL_VAR] = stack.enter_context(throwaway_database(database_url, home))
        else:
            stack.callback(dispose_database, config.database_url())
        # Migrated by a process of its own, as a deployment's init step does: the runs measured here never
        # migrate (nor import alembic).
        subprocess.run(
            [sys.executable, "-m", "connector_pipelines", "db", "upgrade"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield home


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def report(results: dict[str, BenchResult], *, as_json: bool, echo: Echo, notes: Sequence[str] = ()) -> None:
    if as_json:
        echo(json.dumps({name: r.model_dump() for name, r in results.items()}))
        return
    header = ["run", *BenchResult.model_fields]
    echo("| " + " | ".join(header) + " |")
    echo("|" + "---|" * len(header))
    for name, r in results.items():
        cells = [name, *(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.model_dump().values())]
        cells = [cell if cell != "None" else "-" for cell in cells]
        echo("| " + " | ".join(cells) + " |")
    for note in notes:
        echo(note)
