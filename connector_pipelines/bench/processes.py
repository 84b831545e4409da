"""Long-lived child processes (Dagster's daemon, code server, webserver; the connector service) with their
output in a log file, each leading its own process group so that stopping it also stops what it spawned; and
a bounded wait on what they are observed to do (a log line, an answer, a row), never on the clock alone.

Shared by the benchmarks (the daemon of ``bench erp_gateway``) and the production-topology tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 10.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(grace_s)
        # Run workers can outlive the code server that spawned them; they are still in its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_service(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    logs: Path,
    pass_fds: Sequence[int] = (),
    cwd: Path | None = None,
) -> Service:
    """``argv`` in a session of its own (so it does not get the terminal's Ctrl-C: its owner stops it),
    stdout and stderr into ``logs/NAME.log``."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    return Service(name, process, log)


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    services: Sequence[Service] = (),
    interval_s: float = 0.5,
) -> T:
    """Poll until ``probe`` returns something other than None; fail early when a service died."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        for service in services:
            if not service.running():
                raise RuntimeError(f"{service.name} exited while waiting for {what}:\n{service.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
