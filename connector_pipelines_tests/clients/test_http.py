"""The shared ApiClient base: hooks, redaction, retries and stats."""

from __future__ import annotations

import logging
import random

import httpx
import pytest

from connector_pipelines.clients.http import (
    ApiClient,
    ApiError,
    AuthError,
    RateLimitedError,
    RetrySettings,
    TransientError,
)

SECRET = "base-secret-S3cr3t"


class Scripted:
    """Answers with the given responses in order, recording requests."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def make(client_type: type[ApiClient], handler: Scripted, **retry: int) -> tuple[ApiClient, list[float]]:
    sleeps: list[float] = []
    client = client_type(
        "https://api.example.com",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rng=random.Random(3),
        retry=RetrySettings(**retry),
    )
    return client, sleeps


def test_accept_json_is_sent_by_default() -> None:
    handler = Scripted(httpx.Response(200, json={}))
    client, _ = make(ApiClient, handler)
    client.get_json("/x")
    assert handler.requests[0].headers["Accept"] == "application/json"


def test_errors_mask_registered_secrets_in_message_and_body() -> None:
    handler = Scripted(httpx.Response(400, text=f"you sent {SECRET}"))
    client, _ = make(ApiClient, handler)
    client.add_secret(SECRET)
    with pytest.raises(ApiError) as info:
        client.get_json("/x")
    assert SECRET not in str(info.value)
    assert SECRET.encode() not in info.value.body
    assert "you sent ***" in str(info.value)
    assert SECRET not in repr(vars(client))


def test_401_reauthenticates_once_then_raises_auth_error() -> None:
    class Client(ApiClient):
        reauths = 0

        def reauthenticate(self) -> None:
            self.reauths += 1

    handler = Scripted(httpx.Response(401), httpx.Response(401))
    client, _ = make(Client, handler)
    with pytest.raises(AuthError):
        client.get_json("/x")
    assert isinstance(client, Client)
    assert client.reauths == 1
    assert client.stats.calls == 2


def test_is_retryable_hook_stops_retries_of_a_deterministic_5xx() -> None:
    class Client(ApiClient):
        def is_retryable(self, response: httpx.Response) -> bool:
            return b"deterministic" not in response.content and super().is_retryable(response)

    handler = Scripted(httpx.Response(500, text="deterministic failure"))
    client, sleeps = make(Client, handler)
    with pytest.raises(ApiError, match="HTTP 500: deterministic failure") as info:
        client.get_json("/x")
    assert not isinstance(info.value, TransientError)
    assert (client.stats.retries, sleeps) == (0, [])


def test_retry_delay_hook_and_rate_limit_stats() -> None:
    class Client(ApiClient):
        def retry_delay(self, response: httpx.Response) -> float | None:
            return float(response.headers["X-Wait"])

    handler = Scripted(httpx.Response(429, headers={"X-Wait": "4"}), httpx.Response(200, json={"ok": True}))
    client, sleeps = make(Client, handler)
    assert client.get_json("/x") == {"ok": True}
    assert sleeps == [4.0]
    assert client.stats.as_metadata() == {
        "api_calls": 2,
        "retries": 1,
        "rate_limit_waits": 1,
        "rate_limit_wait_s": 4.0,
    }


def test_retry_after_above_the_limit_fails_fast() -> None:
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    client, sleeps = make(ApiClient, handler)
    with pytest.raises(RateLimitedError, match="exceeds the limit"):
        client.get_json("/x")
    assert sleeps == []


def test_make_error_hook_chooses_the_exception() -> None:
    class Rejected(ApiError):
        pass

    class Client(ApiClient):
        def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
            return Rejected(self.system, method, path, response.status_code, detail)

    client, _ = make(Client, Scripted(httpx.Response(409, text="conflict")))
    with pytest.raises(Rejected, match="HTTP 409: conflict"):
        client.get_json("/x")


def test_transport_errors_retry_then_raise_without_details() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sleeps: list[float] = []
    client = ApiClient(
        "https://api.example.com",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        retry=RetrySettings(max_attempts=3),
    )
    with pytest.raises(TransientError, match="ConnectError after 3 attempts"):
        client.get_json("/x")
    assert (client.stats.calls, client.stats.retries, len(sleeps)) == (3, 2, 2)


def test_retries_are_logged_without_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="connector_pipelines.clients.http")
    handler = Scripted(httpx.Response(503), httpx.Response(200, json={}))
    client, _ = make(ApiClient, handler)
    client.get_json("/x", params={"q": "private"})
    (record,) = caplog.records
    assert "api GET /x: HTTP 503, retry 1" in record.getMessage()
    assert "private" not in record.getMessage()


def test_repr_hides_userinfo_and_the_clock_is_injectable() -> None:
    client = ApiClient("https://user:pw@api.example.com/base/", clock=lambda: 42.0)
    assert repr(client) == "ApiClient(https://api.example.com/base)"
    assert client.clock() == 42.0
