"""What every API client shares: retries with backoff and jitter, Retry-After, re-auth on 401, typed errors,
TLS settings and call statistics. System clients subclass :class:`ApiClient` and override the hooks."""

from __future__ import annotations

import functools
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Self, TypedDict

import httpx
import orjson
from pydantic import BaseModel, Field, SecretStr

from connector_pipelines import errors
from connector_pipelines.redaction import register_secrets

JsonValue = Any  # a decoded JSON document; each client validates it into pydantic models at its boundary

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_BODY_EXCERPT = 300
_MASK = "***"

log = logging.getLogger(__name__)


class ApiError(errors.ConnectorError):
    """An API answered with an error, or could not be reached. Never carries credentials or tokens.

    Neither transient nor permanent as such (a 400, a 404, an untrusted certificate: treated as permanent);
    the subclasses below say which."""

    def __init__(
        self,
        system: str,
        method: str,
        path: str,
        status: int | None,
        detail: str,
        *,
        body: bytes = b"",
    ) -> None:
        self.system = system
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail
        self.body = body
        super().__init__(self.summary())

    def summary(self) -> str:
        where = f"{self.system} {self.method} {self.path}"
        return f"{where}: HTTP {self.status}: {self.detail}" if self.status else f"{where}: {self.detail}"


class AuthError(ApiError, errors.PermanentError):
    """Credentials were refused (bad password, revoked key): retrying cannot help. The message names the
    system (and the tenant, once known: :meth:`add_context`) and how to store new credentials."""

    system: str  # always known here (ApiError's), though optional for other permanent errors

    def default_remedy(self) -> str:
        return errors.set_credentials_remedy(self.tenant, self.system)


class RateLimitedError(ApiError, errors.TransientError):
    """429 after every retry was spent, or a wait longer than the client may take."""


class TransientError(ApiError, errors.TransientError):
    """5xx or a transport failure after every retry was spent.

    The HTTP case of :class:`connector_pipelines.errors.TransientError` (same name, narrower: catch the
    general one to handle every transient failure, this one for an API that stayed unavailable)."""


class RetrySettings(BaseModel):
    max_attempts: int = Field(6, ge=1)
    base_delay_s: float = Field(0.25, ge=0)
    max_delay_s: float = Field(30.0, ge=0)
    max_retry_after_s: float = Field(900.0, ge=0, description="longer Retry-After answers fail the call")


class TlsSettings(BaseModel):
    """Verification is always on; a private CA can be trusted, checks cannot be turned off."""

    ca_bundle: str | None = Field(None, description="PEM file of an extra CA to trust (private PKI)")


def _modified_ns(path: str | None) -> int | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None  # ssl names the missing file when the context is made


@functools.lru_cache(maxsize=8)
def _verify_context(ca_bundle: str | None, modified_ns: int | None) -> ssl.SSLContext:
    """One verifying context per CA bundle (and its version on disk) in the process: loading the trust store
    takes about 50 ms, which every step's clients paid again."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return httpx.create_ssl_context()


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of :class:`ApiClient`, for subclasses to pass through with ``Unpack``."""

    timeout_s: float
    retry: RetrySettings | None
    tls: TlsSettings | None
    transport: httpx.BaseTransport | None
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    rng: random.Random | None


@dataclass
class CallStats:
    calls: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, float | int]:
        return {
            "api_calls": self.calls,
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
        }


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _certificate_problem(exc: BaseException) -> str | None:
    """The certificate verification failure behind a connection error, if that is what it was."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or str(cause)
        cause = cause.__cause__ or cause.__context__
    return None


def decode_json(response: httpx.Response, system: str) -> JsonValue:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        req = response.request
        ctype = response.headers.get("content-type", "?")
        raise ApiError(
            system,
            req.method,
            req.url.path,
            response.status_code,
            f"response is not JSON ({ctype}, {len(response.content)} bytes): {exc}",
        ) from None


class ApiClient:
    """Base of every system client. Subclasses set ``system`` and override the hooks they need.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so token lifetimes and waits can be tested
    without waiting. Every error the base raises has the values given to :meth:`add_secret` masked.
    """

    system = "api"
    # httpx would send "Accept: */*", which some APIs answer in another format (Shopware: JSON:API).
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 60.0,
        retry: RetrySettings | None = None,
        tls: TlsSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetrySettings()
        self.stats = CallStats()
        self._sleep = sleep
        self.clock = clock
        self._rng = rng or random.Random()
        self._secrets: set[SecretStr] = set()  # SecretStr so that vars(client) shows no plain value
        tls = tls or TlsSettings()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            verify=_verify_context(tls.ca_bundle, _modified_ns(tls.ca_bundle)),
            transport=transport,
            headers=dict(self.default_headers),
            limits=httpx.Limits(max_keepalive_connections=8, max_connections=16),
        )

    def __repr__(self) -> str:
        url = httpx.URL(self.base_url)
        host = url.netloc.decode().rpartition("@")[2]
        return f"{type(self).__name__}({url.scheme}://{host}{url.path.rstrip('/')})"

    # --- secrets -----------------------------------------------------------------------------------------

    def add_secret(self, value: str | SecretStr | None) -> None:
        """Mask ``value`` in every error this client raises (and in process logs, via the registry)."""
        secret = value if isinstance(value, SecretStr) else SecretStr(value or "")
        if secret.get_secret_value():
            self._secrets.add(secret)
            register_secrets([secret.get_secret_value()])

    def _plain_secrets(self) -> list[str]:
        # Longest first, so a secret containing another is masked whole.
        return sorted((s.get_secret_value() for s in self._secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._plain_secrets():
            text = text.replace(secret, _MASK)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        for secret in self._plain_secrets():
            data = data.replace(secret.encode(), _MASK.encode())
        return data

    # --- hooks -------------------------------------------------------------------------------------------

    def auth_headers(self) -> Mapping[str, str]:
        """Headers proving who we are; called before every authenticated request."""
        return {}

    def reauthenticate(self) -> None:
        """Called once after a 401 on an authenticated request; raise AuthError if it cannot help."""

    def before_request(self, method: str, path: str) -> None:
        """Pacing hook: sleep here when the API's own headers say the budget is spent."""

    def after_response(self, response: httpx.Response) -> None:
        """Read rate-limit headers and similar bookkeeping."""

    def is_rate_limited(self, response: httpx.Response) -> bool:
        return response.status_code == 429

    def is_retryable(self, response: httpx.Response) -> bool:
        """Whether an error answer may succeed when repeated; override for deterministic 5xx answers."""
        return response.status_code in RETRYABLE_STATUS

    def retry_delay(self, response: httpx.Response) -> float | None:
        """Seconds the server asks us to wait before repeating; ``None`` means exponential backoff."""
        return parse_retry_after(response.headers.get("Retry-After"))

    def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
        """The exception for an answer that is not retried; ``detail`` is already redacted."""
        error_type = AuthError if response.status_code in (401, 403) else ApiError
        return error_type(
            self.system,
            method,
            path,
            response.status_code,
            detail,
            body=self.redact_bytes(response.content),
        )

    # --- the request loop -------------------------------------------------------------------------------

    def wait(self, seconds: float, *, rate_limit: bool) -> None:
        if seconds <= 0:
            return
        self.count_wait(seconds, rate_limit=rate_limit)
        self._sleep(seconds)

    def count_wait(self, seconds: float, *, rate_limit: bool) -> None:
        """Account for a wait (already done by the caller, or about to be) in the statistics."""
        if rate_limit and seconds > 0:
            self.stats.rate_limit_waits += 1
            self.stats.rate_limit_wait_s += seconds

    def backoff_delay(self, attempt: int) -> float:
        cap = min(self.retry.max_delay_s, self.retry.base_delay_s * (2 ** (attempt - 1)))
        return self._rng.uniform(cap / 2, cap)  # "equal jitter": never zero, never above the cap

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: JsonValue = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        ok_statuses: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one logical request, retrying what is worth retrying; return a 2xx (or ``ok_statuses``)."""
        body = orjson.dumps(json) if json is not None else content
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            self.before_request(method, path)
            all_headers: dict[str, str] = {}
            if json is not None:
                all_headers["Content-Type"] = "application/json"
            if headers:
                all_headers.update(headers)
            if authenticated:
                all_headers.update(self.auth_headers())
            self.stats.calls += 1
            try:
                response = self._http.request(
                    method, path, params=params, content=body, data=data, headers=all_headers
                )
                response.read()
            except httpx.TransportError as exc:
                untrusted = _certificate_problem(exc)
                if untrusted is not None:
                    # Not transient: the same certificate comes back however often we ask.
                    host = httpx.URL(self.base_url).host
                    raise ApiError(
                        self.system, method, path, None, f"TLS certificate of {host} not trusted: {untrusted}"
                    ) from None
                if attempt >= self.retry.max_attempts:
                    raise TransientError(
                        self.system, method, path, None, f"{type(exc).__name__} after {attempt} attempts"
                    ) from None
                self.stats.retries += 1
                delay = self.backoff_delay(attempt)
                log.warning(
                    "%s %s %s: %s, retry %d in %.2fs",
                    self.system,
                    method,
                    path,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                self.wait(delay, rate_limit=False)
                continue
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            self.after_response(response)
            if (status < 400 or status in ok_statuses) and not self.is_rate_limited(response):
                return response
            if status == 401 and authenticated and not reauthenticated:
                reauthenticated = True
                log.info("%s %s %s: HTTP 401, authenticating again", self.system, method, path)
                self.reauthenticate()
                continue
            rate_limited = self.is_rate_limited(response)
            if rate_limited or self.is_retryable(response):
                if attempt >= self.retry.max_attempts:
                    error = RateLimitedError if rate_limited else TransientError
                    raise error(self.system, method, path, status, f"still failing after {attempt} attempts")
                retry_after = self.retry_delay(response)
                if retry_after is not None and retry_after > self.retry.max_retry_after_s:
                    raise RateLimitedError(
                        self.system, method, path, status, f"Retry-After {retry_after:.0f}s exceeds the limit"
                    )
                self.stats.retries += 1
                delay = retry_after if retry_after is not None else self.backoff_delay(attempt)
                log.warning(
                    "%s %s %s: HTTP %s, retry %d in %.2fs", self.system, method, path, status, attempt, delay
                )
                self.wait(delay, rate_limit=rate_limited)
                continue
            raise self.make_error(method, path, response, self.redact(self.describe_error(response)))

    def describe_error(self, response: httpx.Response) -> str:
        """A one-line reason from an error body; subclasses parse their API's error envelope."""
        text = response.content[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
        return text or response.reason_phrase

    def get_json(self, path: str, **kwargs: Any) -> JsonValue:
        return decode_json(self.request("GET", path, **kwargs), self.system)

    def post_json(self, path: str, **kwargs: Any) -> JsonValue:
        return decode_json(self.request("POST", path, **kwargs), self.system)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
