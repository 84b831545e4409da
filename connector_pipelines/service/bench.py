"""``connector-pipelines bench webhooks``: signed webhooks against the service, which is killed with SIGKILL
in the middle of the load and started again.

The service runs as a child process (``serve --fd``) on a listening socket this process owns, so the port
stays open across the restart: connections made meanwhile wait in the socket's queue for the new process.
Senders are closed loops on keep-alive connections, each sending signed Shopify (4 of 5) and ERP webhooks of
50 tenants with unique delivery ids; a request cut off by the kill is sent again (the same delivery), as
Shopify would. Afterwards every acknowledged delivery must be in the inbox: ``lost`` counts those missing.

The connector database is a throwaway database on the given PostgreSQL server (created, migrated, dropped
afterwards), or a temporary SQLite file for a ``sqlite:`` URL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from connector_pipelines.service.webhook_tenants import ERP, SHOPIFY, sealed_system
from connector_pipelines.store.db import Database, normalize_url
from connector_pipelines.store.service import WebhookInboxRepository, WebhookSecretRepository
from connector_pipelines.tenants.crypto import Keyring, generate_key
from connector_pipelines.tenants.registry import TenantRegistry

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
TENANTS = 50
ERP_SHARE = 5  # every 5th webhook is an ERP event
STARTUP_TIMEOUT_S = 120.0  # bounds a failing start only; a healthy one is waited for, however long it takes
RESEND_PAUSE_S = 0.05  # between attempts at a delivery whose connection broke
_VARIANTS = [
    {"id": n, "title": size, "price": "29.99", "sku": f"BENCH-{size}", "taxable": True}
    for n, size in enumerate(("S", "M", "L", "XL"))
]


class WebhookBenchmark(BaseModel):
    accepted_per_s: float  # acknowledged per second while the service was up (the restart gap left out)
    overall_per_s: float  # acknowledged per second of the whole run, the restart gap included
    p50_ms: float
    p99_ms: float
    rejected: int
    lost: int
    acknowledged: int
    resent_after_kill: int
    restart_s: float
    seconds: float
    senders: int
    tenants: int
    database: str


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    rejected: int = 0
    resent: int = 0


@dataclass(frozen=True)
class _Tenant:
    slug: str
    shop: str
    app_secret: bytes
    erp_secret: bytes


def _shopify_request(tenant: _Tenant, delivery: str, body: bytes) -> bytes:
    digest = base64.b64encode(hmac.new(tenant.app_secret, body, hashlib.sha256).digest()).decode()
    head = (
        "POST /webhooks/shopify HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Shopify-Shop-Domain: {tenant.shop}\r\n"
        f"X-Shopify-Hmac-Sha256: {digest}\r\nX-Shopify-Topic: products/update\r\n"
        f"X-Shopify-Webhook-Id: {delivery}\r\nX-Shopify-API-Version: 2026-07\r\n\r\n"
    )
    return head.encode() + body


def _erp_request(tenant: _Tenant, body: bytes) -> tuple[bytes, str]:
    """The request and its signature, which is the delivery's id in the inbox."""
    stamp = int(time.time())
    signature = (
        "sha256=" + hmac.new(tenant.erp_secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    head = (
        f"POST /webhooks/erp/{tenant.slug} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Webhook-Timestamp: {stamp}\r\n"
        f"X-Webhook-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body, signature


class _Connection:
    """One keep-alive HTTP/1.1 connection, written and read by hand: a client library would cost the load
    generator more CPU than the service spends, on the same machine."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes) -> int:
        """The answer's status; ConnectionError when the connection broke (reconnects next time)."""
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection("127.0.0.1", self._port)
            reader, writer = self._streams
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = (line.partition(":") for line in head[1:])
            length = next((int(v) for k, _, v in fields if k.lower() == "content-length"), 0)
            await reader.readexactly(length)
            return int(head[0].split(" ", 2)[1])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            self.close()
            raise ConnectionError("the connection broke") from None

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _sender(number: int, port: int, tenants: list[_Tenant], tally: _Tally, stop: asyncio.Event) -> None:
    connection = _Connection(port)
    sent = 0
    while not stop.is_set():
        tenant = tenants[(number * 7 + sent) % len(tenants)]
        sent += 1
        delivery = f"b{number}-{sent}"
        if sent % ERP_SHARE == 0:
            event = {"event": "inventory.changed", "id": delivery, "sku": "BENCH-M", "quantity": sent}
            request, key = _erp_request(tenant, json.dumps(event).encode())
            source = ERP
        else:
            product = {"id": sent, "title": "Bench tee", "status": "active", "variants": _VARIANTS}
            request, key, source = (
                _shopify_request(tenant, delivery, json.dumps(product).encode()),
                delivery,
                SHOPIFY,
            )
        resent = False
        while True:
            started = time.perf_counter()
            try:
                status = await connection.send(request)
                break
            except ConnectionError:
                # Cut off by the kill: sent again, as Shopify retries an unanswered delivery.
                tally.resent += 1
                resent = True
                await asyncio.sleep(RESEND_PAUSE_S)
        # A 409 after a resend: the first attempt was stored, its answer lost with the killed process.
        if 200 <= status < 300 or (status == 409 and resent):
            tally.latencies.append(time.perf_counter() - started)
            tally.acknowledged.add((source, key))
        else:
            tally.rejected += 1
    connection.close()


class _Service:
    """The service as a child process on the benchmark's listening socket."""

    def __init__(self, listener: socket.socket, env: dict[str, str], log: Path) -> None:
        self._fd = listener.fileno()
        self.port: int = listener.getsockname()[1]
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "connector_pipelines.service.cli", "serve", "--fd", str(self._fd)]
        with self._log.open("ab") as out:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                argv, pass_fds=[self._fd], env=self._env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        request = b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the service exited with {self._process.returncode}: {self._tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 10) as probe,
            ):
                probe.sendall(request)
                if probe.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        raise RuntimeError(f"the service did not answer within {STARTUP_TIMEOUT_S:.0f} s: {self._tail()}")

    def kill_and_restart(self, after_s: float) -> float:
        """SIGKILL after ``after_s``, then a new process; the seconds until it answers again."""
        assert self._process is not None
        time.sleep(after_s)
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        killed = time.monotonic()
        self.start()
        return time.monotonic() - killed

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait()

    def _tail(self) -> str:
        return " | ".join(self._log.read_text(errors="replace").strip().splitlines()[-5:])


async def _load(
    service: _Service, tenants: list[_Tenant], senders: int, seconds: float
) -> tuple[_Tally, float, float]:
    tally, stop = _Tally(), asyncio.Event()
    started = time.monotonic()
    tasks = [asyncio.create_task(_sender(n, service.port, tenants, tally, stop)) for n in range(senders)]
    restart_s = await asyncio.to_thread(service.kill_and_restart, seconds / 2)
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    await asyncio.gather(*tasks)
    return tally, time.monotonic() - started, restart_s


@contextlib.contextmanager
def _throwaway_database(url: str, folder: Path) -> Iterator[str]:
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"connector_bench_{uuid.uuid4().hex[:10]}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _register(db: Database, keyring: Keyring) -> list[_Tenant]:
    registry = TenantRegistry(db, lambda: keyring)
    secrets = WebhookSecretRepository(db)
    tenants = []
    for i in range(TENANTS):
        tenant = _Tenant(
            f"bench-{i:02d}",
            f"bench-{i:02d}.myshopify.com",
            os.urandom(16).hex().encode(),
            os.urandom(24).hex().encode(),
        )
        registry.add(tenant.slug, tenant.slug, [], {"shopify": {"shop_url": f"https://{tenant.shop}"}})
        app_secret = tenant.app_secret.decode()
        registry.set_credentials(
            tenant.slug, "shopify", {"access_token": "shpat_bench", "api_secret": app_secret}
        )
        sealed = keyring.encrypt(tenant.erp_secret, tenant.slug, sealed_system(ERP))
        secrets.put(registry.tenant_id(tenant.slug), ERP, sealed.key_id, sealed.blob)
        tenants.append(tenant)
    return tenants


def _stored(db: Database) -> set[tuple[str, str]]:
    inbox = WebhookInboxRepository(db)
    return {(source, d) for source in (SHOPIFY, ERP) for d in inbox.delivery_ids(source)}


def _percentile_ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def run_webhook_benchmark(
    seconds: float = 20.0,
    senders: int = 16,
    as_json: bool = False,
    database_url: str = DEFAULT_DATABASE_URL,
) -> dict[str, object]:
    """Run the benchmark and return its figures, printed too: one JSON object with ``as_json``, else a few
    readable lines."""
    if seconds <= 0 or senders < 1:
        raise ValueError("seconds must be positive and senders at least 1")
    key = generate_key()
    with tempfile.TemporaryDirectory(prefix="connector-bench-") as temporary:
        folder = Path(temporary)
        with _throwaway_database(database_url, folder) as url:
            db = Database(url)
            try:
                tenants = _register(db, Keyring(base64.b64decode(key)))
                env = {
                    **os.environ,
                    "CONNECTOR_DATABASE_URL": url,
                    "CONNECTOR_ENCRYPTION_KEY": key,
                    "CONNECTOR_ENCRYPTION_KEYS_OLD": "",
                    "CONNECTOR_HOME": str(folder),
                }
                with socket.create_server(("127.0.0.1", 0), backlog=4096) as listener:
                    listener.set_inheritable(True)
                    service = _Service(listener, env, folder / "service.log")
                    try:
                        service.start()
                        tally, elapsed, restart_s = asyncio.run(_load(service, tenants, senders, seconds))
                    finally:
                        service.stop()
                stored = _stored(db)
            finally:
                db.dispose()
    figures = WebhookBenchmark(
        accepted_per_s=round(len(tally.acknowledged) / max(elapsed - restart_s, 1e-9), 1),
        overall_per_s=round(len(tally.acknowledged) / elapsed, 1),
        p50_ms=round(_percentile_ms(tally.latencies, 0.50), 2),
        p99_ms=round(_percentile_ms(tally.latencies, 0.99), 2),
        rejected=tally.rejected,
        lost=len(tally.acknowledged - stored),
        acknowledged=len(tally.acknowledged),
        resent_after_kill=tally.resent,
        restart_s=round(restart_s, 2),
        seconds=round(elapsed, 2),
        senders=senders,
        tenants=len(tenants),
        database=make_url(normalize_url(database_url)).get_backend_name(),
    ).model_dump()
    if as_json:
        print(json.dumps(figures))
    else:
        f = figures
        print(
            f"{f['acknowledged']} webhooks acknowledged in {f['seconds']} s by {senders} senders: "
            f"{f['accepted_per_s']}/s while up ({f['overall_per_s']}/s overall), p50 {f['p50_ms']} ms, "
            f"p99 {f['p99_ms']} ms\n"
            f"SIGKILL at half-time, answering again {f['restart_s']} s later; "
            f"{f['resent_after_kill']} request(s) resent; rejected {f['rejected']}, lost {f['lost']}"
        )
    return figures
