"""Circuit breakers: three consecutive connection failures open one; while open the system is skipped with
the reason and until when; after the cool-down one probe runs (half-open) and closes or reopens it; 4xx and
rate limits do not count; runs racing on one breaker count every failure once and probe once. Time is an
injected clock: nothing here sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connector_pipelines.clients.http import ApiError, AuthError, RateLimitedError, TransientError
from connector_pipelines.store.db import Database
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.breaker import (
    CircuitBreaker,
    SkippedSystem,
    breaker_states,
    is_connection_failure,
)
from connector_pipelines.tenants.registry import TenantRegistry

START = datetime(2026, 7, 25, 12, 0, tzinfo=UTC)
DOWN = TransientError("logo", "GET", "/api/v1/items", 503, "Service Unavailable")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def store(registry: TenantRegistry, db: Database) -> TenantStore:
    registry.add("acme", "", ["erp_files_shopify"])
    registry.add("globex", "", ["erp_files_shopify"])
    return TenantStore(db, "acme", "erp_files_shopify")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def breaker(store: TenantStore, clock: Clock, system: str = "logo") -> CircuitBreaker:
    return CircuitBreaker(store, system, cooldown_s=300, clock=clock)


def fail(times: int, subject: CircuitBreaker, error: BaseException = DOWN) -> None:
    for _ in range(times):
        with pytest.raises(type(error)), subject.watch():
            raise error


def never(message: str = "the probe must not run") -> Callable[[], str]:
    def probe() -> str:
        raise AssertionError(message)

    return probe


def test_three_consecutive_connection_failures_open_it(store: TenantStore, clock: Clock) -> None:
    logo = breaker(store, clock)
    logo.guard(never())  # closed: no probe
    fail(2, logo)
    with logo.watch():
        pass  # a success in between: the failures were not consecutive
    fail(2, logo)
    assert logo.state().state == "closed" and logo.state().failures == 2
    fail(1, logo)
    state = logo.state()
    assert (state.state, state.failures) == ("open", 3)
    assert state.opened_at == START and state.retry_at == START + timedelta(minutes=5)
    assert state.last_error is not None and "HTTP 503" in state.last_error
    clock.advance(299)
    with pytest.raises(SkippedSystem) as caught:
        logo.guard(never())
    skipped = caught.value
    assert skipped.until == START + timedelta(minutes=5) and skipped.system == "logo"
    assert str(skipped) == (
        "tenant 'acme', logo: skipped: circuit breaker open after 3 consecutive connection failures "
        "(last: logo GET /api/v1/items: HTTP 503: Service Unavailable); "
        "next probe after 2026-07-25 12:05:00 UTC"
    )


def test_after_the_cool_down_one_probe_closes_it(store: TenantStore, clock: Clock) -> None:
    logo = breaker(store, clock)
    fail(3, logo)
    clock.advance(300)
    probes: list[str] = []
    logo.guard(lambda: probes.append(logo.state().state))
    assert probes == ["half_open"], "the probe runs while the breaker is half-open"
    state = logo.state()
    assert (state.state, state.failures, state.retry_at, state.last_error) == ("closed", 0, None, None)
    logo.guard(never())
    fail(2, logo)
    assert logo.state().state == "closed", "counting starts afresh"


def test_a_failed_probe_reopens_it_for_another_cool_down(store: TenantStore, clock: Clock) -> None:
    logo = breaker(store, clock)
    fail(3, logo)
    clock.advance(301)

    def unreachable() -> None:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(SkippedSystem, match="the probe failed \\(connection refused\\)") as caught:
        logo.guard(unreachable)
    assert caught.value.until == clock.now + timedelta(minutes=5)
    assert logo.state().state == "open" and logo.state().failures == 4
    clock.advance(299)
    with pytest.raises(SkippedSystem):
        logo.guard(never())
    clock.advance(1)
    logo.guard(lambda: None)
    assert logo.state().state == "closed"


def test_a_probe_refused_for_other_reasons_closes_it_and_raises(store: TenantStore, clock: Clock) -> None:
    """The system answered (it refused the credentials): the breaker is not what stops the run."""
    logo = breaker(store, clock)
    fail(3, logo)
    clock.advance(300)
    refused = AuthError("logo", "POST", "/api/v1/token", 400, "invalid_grant")

    def probe() -> None:
        raise refused

    with pytest.raises(AuthError):
        logo.guard(probe)
    assert logo.state().state == "closed"


@pytest.mark.parametrize(
    "error",
    [
        AuthError("logo", "GET", "/x", 401, "expired"),
        ApiError("logo", "POST", "/api/v1/salesOrders", 400, "ValError0: unknown item"),
        RateLimitedError("logo", "GET", "/x", 429, "slow down"),
        ValueError("a bug of ours"),
    ],
)
def test_refusals_and_our_own_errors_do_not_count(store: TenantStore, clock: Clock, error: Exception) -> None:
    logo = breaker(store, clock)
    assert not is_connection_failure(error)
    fail(5, logo, error)
    assert logo.state().state == "closed" and logo.state().failures == 0


def test_breakers_are_per_tenant_and_system(store: TenantStore, clock: Clock, db: Database) -> None:
    fail(3, breaker(store, clock, "logo"))
    breaker(store, clock, "shopify").guard(never())
    globex = TenantStore(db, "globex", "erp_files_shopify")
    breaker(globex, clock, "logo").guard(never())
    fail(1, breaker(globex, clock, "logo"), httpx.ReadTimeout("timed out"))
    states = {(s.tenant, s.system): (s.state, s.failures) for s in breaker_states(db)}
    assert states == {("acme", "logo"): ("open", 3), ("globex", "logo"): ("closed", 1)}
    assert [(s.tenant, s.system) for s in breaker_states(globex)] == [("globex", "logo")]
    other_pipeline = TenantStore(db, "acme", "plenty_shopware")
    assert breaker(other_pipeline, clock, "logo").state().state == "open", "per tenant, not per pipeline"


def test_racing_runs_count_every_failure_once_and_probe_once(store: TenantStore, clock: Clock) -> None:
    runs = 8
    with ThreadPoolExecutor(runs) as pool:
        list(pool.map(lambda _: breaker(store, clock).failed(DOWN), range(runs)))
    state = breaker(store, clock).state()
    assert (state.state, state.failures) == ("open", runs)
    clock.advance(300)
    probing = threading.Event()
    release = threading.Event()
    probes: list[int] = []

    def probe() -> None:
        probes.append(1)
        probing.set()
        assert release.wait(30), "the other runs were not answered"

    def run(index: int) -> str:
        try:
            breaker(store, clock).guard(probe if index == 0 else never("a second probe ran"))
        except SkippedSystem as skipped:
            return skipped.reason
        return "probed"

    with ThreadPoolExecutor(runs) as pool:
        first = pool.submit(run, 0)
        assert probing.wait(30)
        others = [pool.submit(run, i) for i in range(1, runs)]
        reasons = [f.result() for f in others]
        release.set()
        assert first.result() == "probed"
    assert reasons == ["another run is probing it"] * (runs - 1) and probes == [1]
    assert breaker(store, clock).state().state == "closed"


def test_a_prober_that_died_is_taken_over_after_its_timeout(store: TenantStore, clock: Clock) -> None:
    logo = CircuitBreaker(store, "logo", cooldown_s=300, clock=clock, probe_timeout_s=60)
    fail(3, logo)
    clock.advance(300)

    class Died(BaseException):
        """A run killed during its probe: nothing closes or reopens the breaker."""

    def killed() -> None:
        raise Died

    with pytest.raises(Died):
        logo.guard(killed)
    assert logo.state().state == "half_open"
    with pytest.raises(SkippedSystem, match="another run is probing it"):
        logo.guard(never())
    clock.advance(60)
    logo.guard(lambda: None)
    assert logo.state().state == "closed"
