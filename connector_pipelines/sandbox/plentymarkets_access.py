"""Who may call the Plentymarkets emulator, and how often: login, token refresh and logout, the sessions
they hand out (expiry, the per-user session limit), and Plenty's short, long and per-route rate windows."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from connector_pipelines.sandbox.plentymarkets_params import ApiError, Params, json_response
from connector_pipelines.sandbox.plentymarkets_settings import PlentySettings, RateWindow
from connector_pipelines.sandbox.server import SlidingWindow

_OAUTH_INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, includes a parameter "
    "more than once, or is otherwise malformed."
)


# -- sessions --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Session:
    access_token: str
    refresh_token: str
    user: str
    expires_at: float
    refresh_expires_at: float


class SessionStore:
    """Bearer tokens with expiry, refresh tokens, and the per-user session limit."""

    def __init__(self, settings: PlentySettings) -> None:
        self.settings = settings
        self._by_access: OrderedDict[str, Session] = OrderedDict()
        self._by_refresh: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        for token in [t for t, s in self._by_access.items() if s.expires_at <= now]:
            del self._by_access[token]
        for token in [t for t, s in self._by_refresh.items() if s.refresh_expires_at <= now]:
            del self._by_refresh[token]

    def login(self, user: str) -> Session | None:
        """A new session, or None when the session limit rejects it."""
        with self._lock:
            now = time.time()
            self._purge(now)
            mine = [t for t, s in self._by_access.items() if s.user == user]
            if len(mine) >= self.settings.max_sessions:
                if self.settings.session_overflow == "reject":
                    return None
                del self._by_access[mine[0]]
            session = Session(
                secrets.token_urlsafe(48),
                secrets.token_urlsafe(48),
                user,
                now + self.settings.token_ttl_s,
                now + self.settings.refresh_token_ttl_s,
            )
            self._by_access[session.access_token] = session
            self._by_refresh[session.refresh_token] = session
            return session

    def check(self, access_token: str | None) -> Session | None:
        if not access_token:
            return None
        with self._lock:
            session = self._by_access.get(access_token)
            if session is None or session.expires_at <= time.time():
                return None
            return session

    def refresh(self, refresh_token: str | None, bearer: Session | None) -> Session | None:
        """Replace a session (found by refresh token, else by bearer) with fresh tokens.

        The old tokens stop working: the session keeps its one slot under the session limit.
        """
        with self._lock:
            old = self._by_refresh.get(refresh_token) if refresh_token else None
            if old is not None and old.refresh_expires_at <= time.time():
                old = None
            if old is None:
                old = bearer
            if old is None:
                return None
            self._by_refresh.pop(old.refresh_token, None)
            self._by_access.pop(old.access_token, None)
        return self.login(old.user)

    def logout(self, session: Session) -> None:
        with self._lock:
            self._by_access.pop(session.access_token, None)
            self._by_refresh.pop(session.refresh_token, None)

    def expire_all(self) -> None:
        with self._lock:
            for session in self._by_access.values():
                session.expires_at = 0.0
            self._by_access.clear()

    def count(self, user: str) -> int:
        with self._lock:
            now = time.time()
            return sum(1 for s in self._by_access.values() if s.user == user and s.expires_at > now)


# -- rate limits -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Windows:
    short: SlidingWindow
    long: SlidingWindow
    routes: dict[str, SlidingWindow] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    headers: dict[str, str]
    message: str = ""
    retry_after: int = 0


class RateLimiter:
    """Plenty's global short and long windows plus per-route windows, keyed per token, user or tenant."""

    MAX_KEYS = 4096

    def __init__(self, settings: PlentySettings) -> None:
        self.settings = settings
        self._keys: OrderedDict[str, _Windows] = OrderedDict()
        self._lock = threading.Lock()

    def _route_window(self, route: str) -> RateWindow:
        return self.settings.route_windows.get(route, self.settings.route_window)

    def headers(
        self, short: tuple[int, float], long: tuple[int, float], route: tuple[int, float]
    ) -> dict[str, str]:
        s, lw = self.settings.short_window, self.settings.long_window
        return {
            "X-Plenty-Global-Long-Period-Limit": str(lw.limit),
            "X-Plenty-Global-Long-Period-Calls-Left": str(long[0]),
            "X-Plenty-Global-Long-Period-Decay": str(math.ceil(long[1])),
            "X-Plenty-Global-Short-Period-Limit": str(s.limit),
            "X-Plenty-Global-Short-Period-Calls-Left": str(short[0]),
            "X-Plenty-Global-Short-Period-Decay": str(math.ceil(short[1])),
            "X-Plenty-Route-Calls-Left": str(route[0]),
            "X-Plenty-Route-Decay": str(math.ceil(route[1])),
        }

    def idle_headers(self, route: str) -> dict[str, str]:
        """Headers of a call that counted against nothing (limits off, or rejected before counting)."""
        s, lw, rw = self.settings.short_window, self.settings.long_window, self._route_window(route)
        return self.headers((s.limit, s.period_s), (lw.limit, lw.period_s), (rw.limit, rw.period_s))

    def _windows(self, key: str) -> _Windows:
        with self._lock:
            windows = self._keys.get(key)
            if windows is None:
                s, lw = self.settings.short_window, self.settings.long_window
                windows = _Windows(SlidingWindow(s.limit, s.period_s), SlidingWindow(lw.limit, lw.period_s))
                self._keys[key] = windows
                if len(self._keys) > self.MAX_KEYS:
                    self._keys.popitem(last=False)
            else:
                self._keys.move_to_end(key)
            return windows

    def acquire(self, key: str, route: str, method: str) -> RateDecision:
        if not self.settings.rate_limits:
            return RateDecision(True, self.idle_headers(route))
        windows = self._windows(key)
        route_window = windows.routes.get(route)
        if route_window is None:
            rw = self._route_window(route)
            route_window = windows.routes.setdefault(route, SlidingWindow(rw.limit, rw.period_s))
        kind = "read" if method == "GET" else "write"
        cost = self.settings.route_costs.get(route, 1)
        results: dict[str, tuple[bool, int, float]] = {}
        failed = ""
        # Short first (the one that runs out); later windows are only peeked at once one has failed.
        for name, window, units in (
            ("short", windows.short, cost),
            ("long", windows.long, 1),
            ("route", route_window, 1),
        ):
            ok, left, decay = window.try_acquire(0 if failed else units)
            results[name] = (ok, left, decay)
            if not ok and not failed:
                failed = name
        headers = self.headers(
            (results["short"][1], results["short"][2]),
            (results["long"][1], results["long"][2]),
            (results["route"][1], results["route"][2]),
        )
        if not failed:
            return RateDecision(True, headers)
        retry_after = max(1, math.ceil(results[failed][2]))
        message = (
            f"route {kind} limit reached" if failed == "route" else f"{failed} period {kind} limit reached"
        )
        return RateDecision(False, headers, message, retry_after)


# -- routes ----------------------------------------------------------------------------------------------


class AuthRoutes:
    """`/rest/login`, `/rest/login/refresh` and `/rest/logout` over one session store."""

    def __init__(self, settings: PlentySettings, sessions: SessionStore) -> None:
        self.settings = settings
        self.sessions = sessions

    async def _body_fields(self, request: Request, json_ok: bool, form_ok: bool) -> dict[str, str]:
        body = await request.body()
        if not body.strip():
            return {}
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        looks_json = content_type.endswith("json") or (not content_type and body.lstrip()[:1] == b"{")
        if looks_json:
            if not json_ok:
                return {}
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise ApiError(400, "The request body is not valid JSON.") from None
            if not isinstance(decoded, dict):
                return {}
            return {str(k): str(v) for k, v in decoded.items() if isinstance(v, str | int | float)}
        if form_ok and content_type in ("", "application/x-www-form-urlencoded"):
            return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return {}

    async def login(self, request: Request, params: Params, session: Session | None) -> Response:
        allowed = self.settings.login_encodings
        fields = await self._body_fields(request, "json" in allowed, "form" in allowed)
        if "query" in allowed:
            for key, value in request.query_params.items():
                fields.setdefault(key, value)
        username, password = fields.get("username"), fields.get("password")
        oauth = self.settings.login_error_style == "oauth"
        if not username or not password:
            if oauth:  # league/oauth2-server OAuthServerException::invalidRequest
                missing = "password" if username else "username"
                return json_response(
                    {
                        "error": "invalid_request",
                        "message": _OAUTH_INVALID_REQUEST,
                        "hint": f"Check the `{missing}` parameter",
                    },
                    400,
                )
            raise ApiError(401, "Missing credentials.")
        valid_user = secrets.compare_digest(username.encode(), self.settings.username.encode())
        valid_password = secrets.compare_digest(password.encode(), self.settings.password.encode())
        if not (valid_user and valid_password):
            if oauth:  # OAuthServerException::invalidCredentials (league/oauth2-server up to 7.x)
                return json_response(
                    {"error": "invalid_credentials", "message": "The user credentials were incorrect."}, 401
                )
            raise ApiError(401, "Invalid credentials.")
        new = self.sessions.login(username)
        if new is None:
            raise ApiError(401, "Maximum number of concurrent sessions reached.")
        expires_in = math.ceil(self.settings.token_ttl_s)
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": expires_in,
                "access_token": new.access_token,
                "refresh_token": new.refresh_token,
                "concurrent_sessions": self.sessions.count(username),
                "max_current_sessions": self.settings.max_sessions,
                "tokenType": "Bearer",
                "expiresIn": expires_in,
                "accessToken": new.access_token,
                "refreshToken": new.refresh_token,
            }
        )

    async def refresh(self, request: Request, params: Params, session: Session | None) -> Response:
        sources = self.settings.refresh_sources
        fields = await self._body_fields(request, "json" in sources, "form" in sources)
        refresh_token = fields.get("refresh_token") or fields.get("refreshToken")
        new = self.sessions.refresh(refresh_token, session if "bearer" in sources else None)
        if new is None:
            raise ApiError(401, "Invalid refresh token.")
        expires_in = math.ceil(self.settings.token_ttl_s)
        body: dict[str, object] = {
            "accessToken": new.access_token,
            "tokenType": "Bearer",
            "expiresIn": expires_in,
            "refreshToken": new.refresh_token,
        }
        if self.settings.refresh_body_keys == "both":
            body.update(
                {
                    "access_token": new.access_token,
                    "token_type": "Bearer",
                    "expires_in": expires_in,
                    "refresh_token": new.refresh_token,
                }
            )
        return json_response(body)

    async def logout(self, request: Request, params: Params, session: Session | None) -> Response:
        assert session is not None
        self.sessions.logout(session)
        return Response(b"", media_type="application/json")  # Plenty's logout returns an empty body
