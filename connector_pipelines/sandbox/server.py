"""The sandbox framework: emulators are ASGI apps served by uvicorn on loopback.

Every emulator builds a Starlette app and wraps it in :class:`FaultInjector`, so tests and benchmarks can
turn on 429 storms, 5xx answers, slow responses and dropped connections at run time. The wire format of a
fault (status, headers, body) is the emulator's own, because each real API answers them differently.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

ADMIN_PREFIX = "/__sandbox"


class FaultConfig(BaseModel):
    """What the emulator does wrong, and how often. All off by default."""

    seed: int = 0
    rate_429: float = Field(0.0, ge=0, le=1, description="probability that a request is answered 429")
    storm_429: int = Field(0, ge=0, description="the next N requests are answered 429")
    retry_after_s: float = Field(1.0, ge=0)
    rate_5xx: float = Field(0.0, ge=0, le=1)
    status_5xx: int = Field(503, ge=500, le=599)
    rate_slow: float = Field(0.0, ge=0, le=1)
    slow_s: float = Field(0.0, ge=0)
    rate_drop: float = Field(0.0, ge=0, le=1, description="probability of a connection dropped mid-response")
    path_prefix: str = Field("", description="faults apply only to paths starting with this")


class FaultKind:
    TOO_MANY = "429"
    SERVER_ERROR = "5xx"
    SLOW = "slow"
    DROP = "drop"


@dataclass
class FaultCounters:
    too_many: int = 0
    server_error: int = 0
    slow: int = 0
    drop: int = 0

    @property
    def total(self) -> int:
        return self.too_many + self.server_error + self.slow + self.drop


FaultRenderer = Callable[[str, FaultConfig], Response]


@dataclass
class Faults:
    """Thread-safe, mutable fault plan shared by a running emulator and the test that drives it."""

    config: FaultConfig = field(default_factory=FaultConfig)
    counters: FaultCounters = field(default_factory=FaultCounters)
    _rng: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def clear(self) -> None:
        self.configure(FaultConfig())

    def draw(self, path: str) -> str | None:
        """Decide the fault for one request, if any, and count it."""
        with self._lock:
            c = self.config
            if path.startswith(ADMIN_PREFIX) or not path.startswith(c.path_prefix):
                return None
            if c.storm_429 > 0:
                self.config = c.model_copy(update={"storm_429": c.storm_429 - 1})
                self.counters.too_many += 1
                return FaultKind.TOO_MANY
            roll = self._rng.random
            if c.rate_429 and roll() < c.rate_429:
                self.counters.too_many += 1
                return FaultKind.TOO_MANY
            if c.rate_5xx and roll() < c.rate_5xx:
                self.counters.server_error += 1
                return FaultKind.SERVER_ERROR
            if c.rate_drop and roll() < c.rate_drop:
                self.counters.drop += 1
                return FaultKind.DROP
            if c.rate_slow and roll() < c.rate_slow:
                self.counters.slow += 1
                return FaultKind.SLOW
            return None


class FaultInjector:
    """ASGI middleware applying :class:`Faults` before the emulator sees the request."""

    def __init__(self, app: ASGIApp, faults: Faults, render: FaultRenderer) -> None:
        self.app = app
        self.faults = faults
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Relative to the mount point, so an emulator mounted under a prefix sees its own paths.
        path = scope["path"][len(scope.get("root_path", "")) :]
        kind = self.faults.draw(path)
        if kind is None:
            await self.app(scope, receive, send)
        elif kind == FaultKind.SLOW:
            await asyncio.sleep(self.faults.config.slow_s)
            await self.app(scope, receive, send)
        elif kind == FaultKind.DROP:
            await _drop_mid_response(send)
        else:
            await self.render(kind, self.faults.config)(scope, receive, send)


async def _drop_mid_response(send: Send) -> None:
    # Promise a body and deliver part of it: the server then closes the connection, which the client
    # sees as a broken response, the way a proxy reset looks on the wire.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": False})


class SlidingWindow:
    """Counts calls in a rolling window; the shape every API's rate limit reduces to."""

    def __init__(self, limit: int, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.period_s = period_s
        self._clock = clock
        self._calls: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._calls and now - self._calls[0][0] >= self.period_s:
            _, cost = self._calls.popleft()
            self._used -= cost

    def try_acquire(self, cost: int = 1) -> tuple[bool, int, float]:
        """Take ``cost`` units if available. Returns (allowed, units left, seconds until a unit frees)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            allowed = self._used + cost <= self.limit
            if allowed:
                self._calls.append((now, cost))
                self._used += cost
            decay = self.period_s - (now - self._calls[0][0]) if self._calls else self.period_s
            return allowed, max(self.limit - self._used, 0), max(decay, 0.0)


class EmulatorServer:
    """Serves one ASGI app with uvicorn on a background thread (port 0 = a free port)."""

    def __init__(
        self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, name: str = "sandbox"
    ) -> None:
        self.app = app
        self.host = host
        self.name = name
        # IPPROTO_TCP (not 0) so accepted sockets carry it too and asyncio sets TCP_NODELAY on them; without
        # it Nagle holds each response body behind the headers until the client's delayed ACK: +40 ms a call.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="httptools",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"{name}-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} emulator did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
