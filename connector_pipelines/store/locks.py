"""One writer at a time per tenant and pipeline: a lock held while a run step writes the tenant's state.

Dagster's tag concurrency limits queue runs per tenant in production, but runs started outside that queue
(the CLI, the demo, a second deployment) would otherwise interleave their snapshot and publish steps. The
lock must vanish with its holder, so that a run killed with SIGKILL never blocks the next one: on
PostgreSQL it is a session advisory lock (released when its connection closes), on SQLite an ``flock`` on a
file beside the database file (released when the process dies). A lock row in a table would outlive a
killed run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from connector_pipelines import errors
from connector_pipelines.store.repositories import TenantStore

DEFAULT_WAIT_S = 5.0
_POLL_S = 0.1


class RunLockedError(errors.TransientError, RuntimeError):
    """Another run of the same pipeline for the same tenant holds the lock."""


class RunLockLostError(errors.TransientError, RuntimeError):
    """The lock vanished while held (its database connection was dropped): another run may have written."""


def _pg_key(name: str) -> int:
    # 64 bits: two tenants sharing a key would refuse each other's runs, and 32 bits would collide.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class RunLock:
    """``with RunLock(store):`` waits up to ``wait_s`` for another holder, then raises RunLockedError."""

    def __init__(self, store: TenantStore, *, wait_s: float = DEFAULT_WAIT_S) -> None:
        self.store = store
        self.wait_s = wait_s
        self.name = f"connector_pipelines:run:{store.pipeline}:{store.tenant}"
        self._connection: Connection | None = None
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        deadline = time.monotonic() + self.wait_s
        while not self._try_acquire():
            if time.monotonic() >= deadline:
                raise RunLockedError(
                    f"another run of {self.store.pipeline} for tenant {self.store.tenant} is in progress "
                    f"(waited {self.wait_s:g} s for it to finish)"
                )
            time.sleep(_POLL_S)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        held = self._release()
        if not held and exc is None:
            raise RunLockLostError(
                f"the connector database connection holding the lock of {self.store.pipeline} for tenant "
                f"{self.store.tenant} was lost during the step; another run may have written meanwhile"
            )

    def _try_acquire(self) -> bool:
        if self.store.db.dialect == "postgresql":
            return self._try_advisory_lock()
        return self._try_flock()

    def _release(self) -> bool:
        """Give the lock back; False when it was no longer held."""
        if self._connection is not None:
            return self._advisory_unlock()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return True

    # --- PostgreSQL --------------------------------------------------------------------------------------

    def _try_advisory_lock(self) -> bool:
        if self._connection is None:
            self._connection = self.store.db.engine.connect()
        connection = self._connection
        key = {"key": _pg_key(self.name)}
        acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar())
        # A session lock outlives the transaction: end it so the connection does not sit idle in one.
        connection.commit()
        if not acquired:
            connection.close()
            self._connection = None
        return acquired

    def _advisory_unlock(self) -> bool:
        connection, self._connection = self._connection, None
        assert connection is not None
        try:
            key = {"key": _pg_key(self.name)}
            held = bool(connection.execute(text("SELECT pg_advisory_unlock(:key)"), key).scalar())
            connection.commit()
        except DBAPIError:
            # The server dropped the session, and the lock with it; the connection cannot go back to the pool.
            connection.invalidate()
            held = False
        connection.close()
        return held

    # --- SQLite ------------------------------------------------------------------------------------------

    def _lock_file(self) -> Path:
        database = self.store.db.engine.url.database
        if not database or database == ":memory:":
            raise ValueError("run locks on SQLite need a database file")
        path = Path(database)
        directory = path.with_name(f"{path.name}.locks")
        directory.mkdir(exist_ok=True)
        # The tenant's id, not its slug, names the file: ids are digits whatever the slug holds.
        return directory / f"{self.store.pipeline}.{self.store.tenant_id}.lock"

    def _try_flock(self) -> bool:
        fd = os.open(self._lock_file(), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True
