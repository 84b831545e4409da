"""Authentication of the Shopware 6 emulator: the OAuth token endpoint (client credentials, password and
refresh-token grants), bearer checks, Shopware's ``oauth`` throttle and the optional SaaS rate limits."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from connector_pipelines.sandbox.server import SlidingWindow
from connector_pipelines.sandbox.shopware6_errors import (
    ShopwareError,
    fail,
    fail_plain,
    http_error,
    oauth_error,
)
from connector_pipelines.sandbox.shopware6_settings import ShopwareSettings

_DENIED = "The resource owner or authorization server denied the request."
_INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, includes a parameter "
    "more than once, or is otherwise malformed."
)
_TIME_BACKOFF = ((20, 60.0), (15, 30.0), (10, 10.0))


@dataclass(slots=True)
class _Token:
    expires_at: float
    client_id: str
    user: str | None


@dataclass(slots=True)
class _RefreshToken:
    expires_at: float
    client_id: str
    user: str
    revoked: bool = False


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ShopwareAuth:
    """Issues and checks tokens; ``tokens`` holds every access token issued and not yet expired."""

    def __init__(self, settings: ShopwareSettings) -> None:
        self.settings = settings
        self.tokens: dict[str, _Token] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._lock = threading.Lock()
        self._oauth_attempts: dict[str, tuple[int, float]] = {}
        self._saas_windows: dict[tuple[str, str], SlidingWindow] = {}

    async def token(self, request: Request) -> tuple[dict[str, Any], str]:
        """The token answer's body and the grant that earned it."""
        params = await _token_params(request)
        ip = client_ip(request)
        if self.settings.saas_rate_limits:
            self.saas_limit("token", ip, self.settings.saas_token_limit_per_minute, 60.0)
        throttle_key = f"{params.get('username') or ''}-{ip}"
        if self.settings.oauth_throttle:
            self._oauth_backoff(throttle_key)
        basic = _basic_credentials(request)
        grant = params.get("grant_type")
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise oauth_error(
                400,
                2,
                "The authorization grant type is not supported by the authorization server.",
                "Check that all required parameters have been provided",
            )
        client_id = basic[0] if basic else params.get("client_id")
        if not client_id:
            raise _invalid_request("client_id")
        challenge = {"WWW-Authenticate": 'Basic realm="OAuth"'} if basic else None
        settings = self.settings
        now = time.time()
        if grant == "client_credentials":
            secret = basic[1] if basic else params.get("client_secret")
            if client_id != settings.client_id or secret != settings.client_secret:
                raise oauth_error(401, 4, "Client authentication failed", None, challenge)
            body = self._issue(client_id, None, now, refresh=False)
        elif grant == "password":
            if client_id != settings.admin_client_id:
                raise oauth_error(401, 4, "Client authentication failed", None, challenge)
            for name in ("username", "password"):
                if not params.get(name):
                    raise _invalid_request(name)
            if params["username"] != settings.admin_username or params["password"] != settings.admin_password:
                raise oauth_error(400, 6, "The user credentials were incorrect.", None)
            body = self._issue(client_id, settings.admin_username, now, refresh=True)
        else:
            if client_id != settings.admin_client_id:
                raise oauth_error(401, 4, "Client authentication failed", None, challenge)
            presented = params.get("refresh_token")
            if not presented:
                raise _invalid_request("refresh_token")
            with self._lock:
                stored = self._refresh_tokens.get(presented)
                hint = None
                if stored is None or stored.client_id != client_id:
                    hint = "Cannot decrypt the refresh token"
                elif stored.revoked:
                    hint = "Token has been revoked"
                elif stored.expires_at <= now:
                    hint = "Token has expired"
                if hint is not None or stored is None:
                    raise oauth_error(400, 8, "The refresh token is invalid.", hint)
                stored.revoked = True
            body = self._issue(client_id, stored.user, now, refresh=True)
        self._oauth_attempts.pop(throttle_key, None)
        return body, grant

    def _issue(self, client_id: str, user: str | None, now: float, *, refresh: bool) -> dict[str, Any]:
        ttl = self.settings.token_ttl_s
        jti = secrets.token_hex(40)
        claims = {
            "aud": client_id,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "sub": user or "",
            "scopes": ["write", "admin"],
        }
        access = ".".join(
            [
                _b64url(orjson.dumps({"typ": "JWT", "alg": "RS256"})),
                _b64url(orjson.dumps(claims)),
                _b64url(secrets.token_bytes(256)),
            ]
        )
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": ttl, "access_token": access}
        with self._lock:
            self.tokens[access] = _Token(now + ttl, client_id, user)
            if refresh and user is not None:
                token = "def50200" + secrets.token_hex(256)
                self._refresh_tokens[token] = _RefreshToken(
                    now + self.settings.refresh_token_ttl_s, client_id, user
                )
                body["refresh_token"] = token
        return body

    def _oauth_backoff(self, key: str) -> None:
        """Shopware's ``oauth`` time-backoff limiter: every attempt counts, a success resets."""
        now = time.monotonic()
        attempts, last = self._oauth_attempts.get(key, (0, 0.0))
        for limit, interval in _TIME_BACKOFF:
            if attempts >= limit and now - last < interval:
                seconds = math.ceil(interval - (now - last))
                raise fail(
                    429,
                    "FRAMEWORK__AUTH_THROTTLED",
                    "Auth throttled for {{ seconds }} seconds.",
                    {"seconds": seconds},
                )
        self._oauth_attempts[key] = (attempts + 1, now)

    def saas_limit(self, bucket: str, ip: str, limit: int, period_s: float) -> None:
        with self._lock:
            window = self._saas_windows.get((bucket, ip))
            if window is None:
                window = self._saas_windows[(bucket, ip)] = SlidingWindow(limit, period_s)
        allowed, _, wait = window.try_acquire()
        if not allowed:
            raise ShopwareError(
                429, too_many_error(max(1, math.ceil(wait))), {"Retry-After": str(max(1, math.ceil(wait)))}
            )

    def authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise oauth_error(401, 9, _DENIED, 'Missing "Authorization" header')
        token = header.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if token.count(".") != 2:
            raise oauth_error(401, 9, _DENIED, "The JWT string must have two dots")
        with self._lock:
            stored = self.tokens.get(token)
            if stored is not None and stored.expires_at <= time.time():
                del self.tokens[token]
                stored = None
        if stored is None:
            raise oauth_error(401, 9, _DENIED, "Access token could not be verified")

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self.tokens.values():
                token.expires_at = 0.0


async def _token_params(request: Request) -> dict[str, str]:
    """The token request body: JSON or form encoded, whatever the client chose."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").lower()
    if "json" in content_type or raw.lstrip().startswith(b"{"):
        try:
            decoded = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise fail_plain(400, "The JSON payload is malformed.") from None
        if not isinstance(decoded, dict):
            return {}
        return {str(k): str(v) for k, v in decoded.items() if v is not None}
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, secret = decoded.partition(":")
    return (user, secret) if sep else None


def _invalid_request(parameter: str) -> ShopwareError:
    return oauth_error(400, 3, _INVALID_REQUEST, f"Check the `{parameter}` parameter")


def too_many_error(seconds: int) -> list[dict[str, Any]]:
    return [
        http_error(
            429,
            "FRAMEWORK__RATE_LIMIT_EXCEEDED",
            "Too many requests, try again in {{ seconds }} seconds.",
            {"seconds": seconds},
        )
    ]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
