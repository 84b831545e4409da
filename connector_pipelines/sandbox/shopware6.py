"""Shopware 6 Admin API emulator (6.5-6.7 behaviour), built from ``shared/contracts/shopware6.md``.

A real HTTP server (Starlette behind :class:`~connector_pipelines.sandbox.server.FaultInjector`): OAuth
grants, the ``Accept`` header rules (plain JSON / JSON:API / 415), ``_action/sync`` with one transaction per
request and Shopware's validation errors, criteria search, CRUD routes, media upload by URL or bytes, optional
SaaS rate limits. Admin routes under ``/__sandbox`` inspect and steer it; the methods below do the same
in-process.

    emulator = Shopware6Emulator()
    with emulator.serve() as server:
        client = httpx.Client(base_url=server.base_url)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import math
import mimetypes
import secrets
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.server import (
    ADMIN_PREFIX,
    EmulatorServer,
    FaultConfig,
    FaultInjector,
    FaultKind,
    Faults,
    SlidingWindow,
)
from connector_pipelines.sandbox.shopware6_errors import (
    ShopwareError,
    fail,
    fail_plain,
    http_error,
    oauth_error,
    plain_error,
    resource_not_found,
    route_not_found,
)
from connector_pipelines.sandbox.shopware6_orders import SandboxOrder, StateMachines, backdate, order_payload
from connector_pipelines.sandbox.shopware6_schema import (
    BY_ALIAS,
    SCHEMA,
    SYSTEM_LANGUAGE_ID,
    EntityDef,
    seed_id,
)
from connector_pipelines.sandbox.shopware6_search import (
    Criteria,
    ReadContext,
    Renderer,
    Searcher,
    listing_links,
    parse_criteria,
    parse_php_query,
)
from connector_pipelines.sandbox.shopware6_settings import RejectRule, ShopwareSettings
from connector_pipelines.sandbox.shopware6_store import Row, Store, now_iso, primary_key, tr_key, unpack
from connector_pipelines.sandbox.shopware6_write import Writer

__all__ = ["RejectRule", "SandboxOrder", "Shopware6Emulator", "ShopwareSettings", "ShopwareStats"]

JSON = "application/json"
JSON_API = "application/vnd.api+json"
_DENIED = "The resource owner or authorization server denied the request."
_INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, includes a parameter "
    "more than once, or is otherwise malformed."
)
_TIME_BACKOFF = ((20, 60.0), (15, 30.0), (10, 10.0))
_SYNC_HEADERS = ("indexing-behavior", "indexing-skip", "sw-skip-trigger-flow")
_ORDER_READ = ("orderCustomer", "addresses", "lineItems", "stateMachineState")
_STATEFUL = ("deliveries", "transactions")


class ShopwareStats(BaseModel):
    calls: dict[str, int] = Field(
        default_factory=dict, description='per route, e.g. "POST /api/_action/sync"'
    )
    sync_requests: int = 0
    sync_failed: int = 0
    records_written: dict[str, int] = Field(
        default_factory=dict, description="per entity, nested writes included"
    )
    records_deleted: dict[str, int] = Field(default_factory=dict)
    tokens_issued: dict[str, int] = Field(default_factory=dict, description="per grant type")
    media_uploads: int = 0
    indexing_behavior: dict[str, int] = Field(default_factory=dict)
    indexing_skip: dict[str, int] = Field(default_factory=dict)
    skip_trigger_flow: int = 0
    last_sync_headers: list[dict[str, str]] = Field(default_factory=list)

    @property
    def records_written_total(self) -> int:
        return sum(n for entity, n in self.records_written.items() if not entity.endswith("_translation"))


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


@dataclass(slots=True)
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    data: ShopwareStats = field(default_factory=ShopwareStats)
    headers: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=50))

    @staticmethod
    def bump(counter: dict[str, int], key: str, n: int = 1) -> None:
        counter[key] = counter.get(key, 0) + n


Handler = Callable[[Request], Awaitable[Response]]
_M = TypeVar("_M", bound=BaseModel)


def _json(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, media_type: str = JSON
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type)


def _error(exc: ShopwareError) -> Response:
    return Response(exc.body(), exc.status, exc.headers, JSON)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _json_body(request: Request) -> Any:
    return _decode(await request.body())


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise fail_plain(400, "The JSON payload is malformed.") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Shopware6Emulator:
    """The emulator: ``app`` (ASGI, fault-injected), ``faults``, inspection methods and :meth:`serve`."""

    def __init__(self, settings: ShopwareSettings | None = None) -> None:
        self.settings = settings or ShopwareSettings()
        self.store = Store()
        self.searcher = Searcher(self.store)
        self.writer = Writer(self.store, self.searcher, self.settings)
        self.state_machines = StateMachines(self.store)
        self.faults = Faults()
        self._tokens: dict[str, _Token] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._auth_lock = threading.Lock()
        self._oauth_attempts: dict[str, tuple[int, float]] = {}
        self._saas_windows: dict[tuple[str, str], SlidingWindow] = {}
        self._stats = _Stats()
        # One download client per event loop serving the app: a new client costs tens of milliseconds. It
        # keeps no connection open, so nothing is left behind when the loop stops.
        self._fetchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self.app = FaultInjector(self._build_app(), self.faults, self._render_fault)

    # -- public inspection API ----------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        return EmulatorServer(self.app, host=host, port=port, name="shopware6")

    def entities(self, name: str) -> list[dict[str, Any]]:
        """Every stored row of ``name`` as the Admin API's plain JSON renders it (system language)."""
        ent = SCHEMA[name]
        with self.store.lock:
            renderer = Renderer(self.store, ReadContext(SYSTEM_LANGUAGE_ID))
            return [renderer.entity(ent, key, row) for key, row in self.store.rows[name].items()]

    def get(self, name: str, id: str) -> dict[str, Any] | None:
        ent = SCHEMA[name]
        with self.store.lock:
            row = self.store.rows[name].get(id)
            if row is None:
                return None
            return Renderer(self.store, ReadContext(SYSTEM_LANGUAGE_ID)).entity(ent, id, row)

    def count(self, name: str) -> int:
        return len(self.store.rows[name])

    def products_by_number(self) -> dict[str, dict[str, Any]]:
        """The whole catalog keyed by ``productNumber``, inheritance resolved and associations spelled out."""
        with self.store.lock:
            return {p["productNumber"]: p for p in self._resolved_products()}

    def stats(self) -> ShopwareStats:
        with self._stats.lock:
            data = self._stats.data.model_copy(deep=True)
            data.last_sync_headers = list(self._stats.headers)
            return data

    def reset_stats(self) -> None:
        with self._stats.lock:
            self._stats.data = ShopwareStats()
            self._stats.headers.clear()

    def reset(self) -> None:
        """Drop everything written; keep the seed data, tokens, settings and rules."""
        with self.store.lock:
            self.store.clear()

    def add_reject_rule(self, rule: RejectRule) -> None:
        with self.store.lock:
            self.writer.reject_rules.append(rule)

    def reject_next_sync_record(
        self, match_value: str, *, entity: str = "product", match_field: str = "productNumber", times: int = 1
    ) -> None:
        """The next ``times`` requests writing that record fail with a violation (400, nothing written)."""
        self.add_reject_rule(
            RejectRule(entity=entity, match_field=match_field, match_value=match_value, remaining=times)
        )

    def clear_reject_rules(self) -> None:
        with self.store.lock:
            self.writer.reject_rules.clear()

    def add_rule(self, name: str, priority: int = 10) -> str:
        """A rule as a shop owner sets one up in the administration (conditions are not emulated)."""
        rule_id = seed_id(f"rule:{name}")
        self.writer.sync(
            {
                "rule": {
                    "entity": "rule",
                    "action": "upsert",
                    "payload": [{"id": rule_id, "name": name, "priority": priority}],
                }
            },
            SYSTEM_LANGUAGE_ID,
        )
        return rule_id

    def file(self, path: str) -> bytes | None:
        """The bytes of an uploaded file (``media.path``), when the emulator keeps them."""
        found = self.store.files.get(path)
        return found[0] if found is not None else None

    def add_order(self, spec: SandboxOrder) -> str:
        """Place an order as the storefront checkout would (validated like any sync write); returns its id."""
        order_id = seed_id(f"order:{spec.order_number}") if spec.order_number else uuid.uuid4().hex
        with self.store.lock:
            payload = order_payload(spec, self.store, order_id)
            self.writer.sync(
                {"order": {"entity": "order", "action": "upsert", "payload": [payload]}}, SYSTEM_LANGUAGE_ID
            )
            if spec.ordered_at is not None:
                backdate(self.store, order_id, spec.ordered_at)
        return order_id

    def order(self, order_number: str) -> dict[str, Any] | None:
        """The order with that number: customer, addresses, lines, deliveries and payments, with states."""
        with self.store.lock:
            rows = self.store.rows["order"]
            key = next((k for k, row in rows.items() if row.get("orderNumber") == order_number), None)
            if key is None:
                return None
            state = {"stateMachineState": Criteria()}
            associations = {
                **{name: Criteria() for name in _ORDER_READ},
                **{name: Criteria(associations=dict(state)) for name in _STATEFUL},
            }
            renderer = Renderer(self.store, ReadContext(SYSTEM_LANGUAGE_ID))
            return renderer.entity(SCHEMA["order"], key, rows[key], associations)

    def transition(self, entity: str, entity_id: str, action: str) -> dict[str, Any]:
        """A state transition of an order, delivery or payment, as the ``_action`` routes make it."""
        return self.state_machines.transition(entity, entity_id, action)

    def expire_tokens(self) -> None:
        """Make every issued access token expired, as if ``token_ttl_s`` had passed."""
        with self._auth_lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def state(self) -> dict[str, Any]:
        with self.store.lock:
            return {
                "entities": {name: len(rows) for name, rows in self.store.rows.items()},
                "accessTokens": len(self._tokens),
                "rejectRules": [r.model_dump() for r in self.writer.reject_rules],
                "faults": self.faults.config.model_dump(),
                "settings": self.settings.model_dump(),
            }

    def _resolved_products(self) -> list[dict[str, Any]]:
        """One pass over the products; names and options are looked up once per call, not per product.

        Besides the fields: ``translations`` (language id -> name, the product's own), ``prices`` (advanced
        prices: rule, quantities, price) and ``media`` (links with their file's path, when uploaded)."""
        store = self.store
        rows = store.rows
        products = rows["product"]
        product = SCHEMA["product"]
        system = SYSTEM_LANGUAGE_ID
        plain = [
            f.name
            for f in product.fields.values()
            if f.kind != "id" and not (f.translated or f.write_protected)
        ]
        translated = {f.name: tr_key(f.name, system) for f in product.fields.values() if f.translated}
        inherited = {f.name for f in product.fields.values() if f.inherited}

        def name_of(entity: str, key: str | None, field: str = "name") -> Any:
            row = rows[entity].get(key or "")
            return unpack(row.get(tr_key(field, system))) if row is not None else None

        options: dict[str, dict[str, Any]] = {}

        def option_view(option_id: str) -> dict[str, Any]:
            view = options.get(option_id)
            if view is None:
                option = rows["property_group_option"].get(option_id) or {}
                group_id = option.get("groupId")
                view = options[option_id] = {
                    "id": option_id,
                    "name": name_of("property_group_option", option_id),
                    "groupId": group_id,
                    "group": name_of("property_group", group_id),
                }
            return view

        def linked(assoc_name: str, key: str, parent_key: str | None) -> list[str]:
            assoc = product.assocs[assoc_name]
            assert assoc.mapping is not None
            assert assoc.mapping_ref is not None
            mapping = rows[assoc.mapping]
            found = [
                mapping[k][assoc.mapping_ref] for k in store.referencing(assoc.mapping, "productId", key)
            ]
            return (
                linked(assoc_name, parent_key, None)
                if not found and parent_key and assoc.inherited
                else found
            )

        def owned(assoc_name: str, key: str, parent_key: str | None) -> list[tuple[str, Row]]:
            assoc = product.assocs[assoc_name]
            target = rows[assoc.ref]
            found = [(k, target[k]) for k in store.referencing(assoc.ref, "productId", key) if k in target]
            return (
                owned(assoc_name, parent_key, None) if not found and parent_key and assoc.inherited else found
            )

        out = []
        for key, row in products.items():
            parent_key = row.get("parentId")
            parent = products.get(parent_key) if parent_key else None
            view: dict[str, Any] = {"id": key}
            for name in plain:
                value = row.get(name)
                if value is None and parent is not None and name in inherited:
                    value = parent.get(name)
                view[name] = orjson.loads(value) if value.__class__ is bytes else value
            for name, column in translated.items():
                value = row.get(column)
                if value is None and parent is not None:
                    value = parent.get(column)
                view[name] = orjson.loads(value) if value.__class__ is bytes else value
            view["parentNumber"] = parent.get("productNumber") if parent else None
            view["childNumbers"] = [
                products[c]["productNumber"]
                for c in store.referencing("product", "parentId", key)
                if c in products
            ]
            view["options"] = [option_view(o) for o in linked("options", key, parent_key)]
            view["properties"] = [option_view(o) for o in linked("properties", key, parent_key)]
            view["categories"] = [
                {"id": c, "name": name_of("category", c)} for c in linked("categories", key, parent_key)
            ]
            view["visibilities"] = [
                {"id": k, "salesChannelId": r.get("salesChannelId"), "visibility": r.get("visibility")}
                for k, r in owned("visibilities", key, parent_key)
            ]
            view["configuratorSettings"] = [
                {"id": k, "optionId": r.get("optionId"), "position": r.get("position")}
                for k, r in owned("configuratorSettings", key, None)
            ]
            media = rows["media"]
            view["media"] = [
                {
                    "id": k,
                    "mediaId": r.get("mediaId"),
                    "position": r.get("position"),
                    "fileName": (media.get(r.get("mediaId") or "") or {}).get("fileName"),
                    "path": (media.get(r.get("mediaId") or "") or {}).get("path"),
                }
                for k, r in owned("media", key, parent_key)
            ]
            view["prices"] = [
                {
                    "id": k,
                    "ruleId": r.get("ruleId"),
                    "quantityStart": r.get("quantityStart"),
                    "quantityEnd": r.get("quantityEnd"),
                    "price": unpack(r.get("price")),
                }
                for k, r in owned("prices", key, parent_key)
            ]
            view["translations"] = {
                language: unpack(row[name_column])
                for name_column in row
                if name_column.startswith("name|")
                for language in [name_column.split("|", 1)[1]]
            }
            view["manufacturer"] = name_of("product_manufacturer", view.get("manufacturerId"))
            view["unit"] = name_of("unit", view.get("unitId"), "shortCode")
            view["taxRate"] = (rows["tax"].get(view.get("taxId") or "") or {}).get("taxRate")
            out.append(view)
        return out

    # -- the app ------------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        def route(path: str, handler: Handler, *methods: str) -> Route:
            async def endpoint(request: Request) -> Response:
                with self._stats.lock:
                    self._stats.bump(self._stats.data.calls, f"{request.method} {path}")
                try:
                    return await handler(request)
                except ShopwareError as exc:
                    return _error(exc)

            return Route(path, endpoint, methods=list(methods))

        admin = ADMIN_PREFIX
        routes = [
            route("/api/oauth/token", self._token, "POST"),
            route("/api/_info/version", self._version, "GET"),
            route("/api/_action/sync", self._sync, "POST"),
            route("/api/_action/media/{media_id}/upload", self._upload, "POST"),
            route("/api/_action/order/{id}/state/{transition}", self._order_transition, "POST"),
            route("/api/_action/order_delivery/{id}/state/{transition}", self._order_transition, "POST"),
            route("/api/_action/order_transaction/{id}/state/{transition}", self._order_transition, "POST"),
            route(
                "/api/_action/state-machine/{entity}/{id}/state/{transition}", self._state_transition, "POST"
            ),
            route("/api/_action/state-machine/{entity}/{id}/state", self._state_transitions, "GET"),
            route("/api/_action/index", self._index, "POST"),
            route("/api/_action/indexing", self._index, "POST"),
            route("/api/_action/indexing/{indexer}", self._index, "POST"),
            route("/api/search/{entity}", self._search, "POST"),
            route("/api/search-ids/{entity}", self._search_ids, "POST"),
            route("/api/{entity}", self._list, "GET"),
            route("/api/{entity}", self._create, "POST"),
            route("/api/{entity}/{id}", self._detail, "GET"),
            route("/api/{entity}/{id}", self._update, "PATCH"),
            route("/api/{entity}/{id}", self._delete, "DELETE"),
            route("/media/{path:path}", self._media_file, "GET"),
            route(f"{admin}/state", self._admin_state, "GET"),
            route(f"{admin}/faults", self._admin_faults, "GET", "POST"),
            route(f"{admin}/stats", self._admin_stats, "GET"),
            route(f"{admin}/stats/reset", self._admin_stats_reset, "POST"),
            route(f"{admin}/reject-rules", self._admin_reject_rules, "GET", "POST", "DELETE"),
            route(f"{admin}/reset", self._admin_reset, "POST"),
            route(f"{admin}/tokens/expire", self._admin_expire_tokens, "POST"),
        ]

        async def not_found(request: Request, exc: Exception) -> Response:
            return _error(route_not_found(request.method, str(request.url)))

        async def not_allowed(request: Request, exc: Exception) -> Response:
            allow = exc.headers.get("Allow", "") if isinstance(exc, HTTPException) and exc.headers else ""
            detail = (
                f'No route found for "{request.method} {request.url}": Method Not Allowed (Allow: {allow})'
            )
            return _error(ShopwareError(405, [plain_error(405, detail)], {"Allow": allow}))

        async def crashed(request: Request, exc: Exception) -> Response:
            return _error(ShopwareError(500, [plain_error(500, f"{type(exc).__name__}: {exc}")]))

        return Starlette(
            routes=routes, exception_handlers={404: not_found, 405: not_allowed, Exception: crashed}
        )

    def _render_fault(self, kind: str, config: FaultConfig) -> Response:
        if kind == FaultKind.TOO_MANY:
            seconds = max(1, math.ceil(config.retry_after_s))
            return _too_many(seconds)
        status = config.status_5xx
        detail = "The server is temporarily unable to service your request." if status == 503 else None
        return _error(
            ShopwareError(status, [plain_error(status, detail or f"Injected fault (HTTP {status})")])
        )

    # -- auth ---------------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        params = await _token_params(request)
        ip = _client_ip(request)
        if self.settings.saas_rate_limits:
            self._saas_limit("token", ip, self.settings.saas_token_limit_per_minute, 60.0)
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
            with self._auth_lock:
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
        with self._stats.lock:
            self._stats.bump(self._stats.data.tokens_issued, grant)
        return _json(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

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
        with self._auth_lock:
            self._tokens[access] = _Token(now + ttl, client_id, user)
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

    def _saas_limit(self, bucket: str, ip: str, limit: int, period_s: float) -> None:
        with self._auth_lock:
            window = self._saas_windows.get((bucket, ip))
            if window is None:
                window = self._saas_windows[(bucket, ip)] = SlidingWindow(limit, period_s)
        allowed, _, wait = window.try_acquire()
        if not allowed:
            raise ShopwareError(
                429, _too_many_error(max(1, math.ceil(wait))), {"Retry-After": str(max(1, math.ceil(wait)))}
            )

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise oauth_error(401, 9, _DENIED, 'Missing "Authorization" header')
        token = header.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if token.count(".") != 2:
            raise oauth_error(401, 9, _DENIED, "The JWT string must have two dots")
        with self._auth_lock:
            stored = self._tokens.get(token)
            if stored is not None and stored.expires_at <= time.time():
                del self._tokens[token]
                stored = None
        if stored is None:
            raise oauth_error(401, 9, _DENIED, "Access token could not be verified")

    # -- request context ----------------------------------------------------------------------------------

    def _response_type(self, request: Request) -> str:
        """``ResponseFactoryRegistry::getType``: the first acceptable type a factory supports."""
        accept = request.headers.get("accept")
        if not accept or not accept.strip():
            if self.settings.accept_required:
                raise fail_plain(415, "All provided media types are unsupported. ()")
            return JSON
        ranked: list[tuple[float, int, str]] = []
        for position, part in enumerate(accept.split(",")):
            media, *params = [p.strip() for p in part.split(";")]
            quality = 1.0
            for param in params:
                if param.startswith("q="):
                    try:
                        quality = float(param[2:])
                    except ValueError:
                        quality = 0.0
            if media:
                ranked.append((-quality, position, media.lower()))
        types = [media for _, _, media in sorted(ranked)]
        candidates = [*types, JSON_API] if "*/*" in types else types
        for media in candidates:
            if media in (JSON, JSON_API):
                return media
        raise fail_plain(415, f"All provided media types are unsupported. ({', '.join(types)})")

    def _language(self, request: Request) -> str:
        language = request.headers.get("sw-language-id")
        if not language:
            return SYSTEM_LANGUAGE_ID
        language = language.strip().lower()
        if language not in self.store.rows["language"]:
            raise fail(
                412,
                "FRAMEWORK__LANGUAGE_NOT_FOUND",
                'The language "{{ languageId }}" was not found.',
                {"languageId": language},
            )
        return language

    def _read_context(self, request: Request, criteria: Criteria | None = None) -> ReadContext:
        inherit = request.headers.get("sw-inheritance", "").strip().lower() in ("1", "true")
        includes = criteria.includes if criteria is not None else None
        return ReadContext(self._language(request), inherit, _base_url(request), includes)

    def _entity(self, request: Request) -> EntityDef:
        alias = request.path_params["entity"]
        ent = BY_ALIAS.get(alias)
        if ent is None:
            raise route_not_found(request.method, str(request.url))
        return ent

    # -- sync ---------------------------------------------------------------------------------------------

    async def _sync(self, request: Request) -> Response:
        self._authenticate(request)
        raw = await request.body()
        body = _decode(raw)
        language = self._language(request)
        recorded = {name: request.headers[name] for name in _SYNC_HEADERS if name in request.headers}
        with self._stats.lock:
            stats = self._stats.data
            stats.sync_requests += 1
            self._stats.headers.append(recorded)
            if "indexing-behavior" in recorded:
                self._stats.bump(stats.indexing_behavior, recorded["indexing-behavior"])
            for skip in filter(None, (s.strip() for s in recorded.get("indexing-skip", "").split(","))):
                self._stats.bump(stats.indexing_skip, skip)
            if recorded.get("sw-skip-trigger-flow", "").strip().lower() in ("1", "true"):
                stats.skip_trigger_flow += 1
        try:
            # Off the event loop: a large sync takes a while, and a server answers other requests meanwhile
            # (the hub serves every emulator on this loop).
            outcome = await run_in_threadpool(
                self.writer.sync, body, language, resolvers=b'"resolver"' in raw
            )
        except ShopwareError:
            with self._stats.lock:
                self._stats.data.sync_failed += 1
            raise
        with self._stats.lock:
            stats = self._stats.data
            for entity, keys in outcome.data.items():
                self._stats.bump(stats.records_written, entity, len(keys))
            for entity, keys in outcome.deleted.items():
                self._stats.bump(stats.records_deleted, entity, len(keys))
        return _json(outcome.body())

    # -- search and read ----------------------------------------------------------------------------------

    async def _search(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        kind = self._response_type(request)
        criteria = parse_criteria(
            ent,
            await _json_body(request),
            max_limit=self.settings.max_limit,
            default_limit=self.settings.max_limit,
        )
        return self._listing(request, ent, criteria, kind, {})

    async def _list(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        kind = self._response_type(request)
        query = parse_php_query(request.url.query)
        criteria = parse_criteria(
            ent, query, max_limit=self.settings.max_limit, default_limit=self.settings.max_limit
        )
        flat = {k: v for k, v in parse_qsl(request.url.query) if "[" not in k}
        return self._listing(request, ent, criteria, kind, flat)

    def _listing(
        self, request: Request, ent: EntityDef, criteria: Criteria, kind: str, query: dict[str, str]
    ) -> Response:
        ctx = self._read_context(request, criteria)
        with self.store.lock:
            result = self.searcher.search(ent, criteria, ctx)
            rows = self.store.rows[ent.name]
            renderer = Renderer(self.store, ctx)
            if kind == JSON:
                data = [renderer.entity(ent, k, rows[k], criteria.associations) for k in result.keys]
                return _json({"total": result.total, "data": data, "aggregations": result.aggregations or []})
            included: dict[tuple[str, str], dict[str, Any]] = {}
            records = [
                renderer.jsonapi_record(ent, k, rows[k], criteria.associations, included) for k in result.keys
            ]
        path = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        links = listing_links(path, query, criteria.limit, criteria.page, result.total)
        links["self"] = str(request.url)
        document = {
            "data": records,
            "included": list(included.values()),
            "links": links,
            "meta": {"totalCountMode": criteria.total_count_mode, "total": result.total},
            "aggregations": result.aggregations or [],
        }
        return _json(document, media_type=JSON_API)

    async def _search_ids(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        criteria = parse_criteria(
            ent,
            await _json_body(request),
            max_limit=self.settings.max_limit,
            default_limit=self.settings.max_limit,
        )
        ctx = self._read_context(request, criteria)
        with self.store.lock:
            result = self.searcher.search(ent, criteria, ctx)
            rows = self.store.rows[ent.name]
            data = [primary_key(ent, k, rows[k]) for k in result.keys]
        return _json({"total": result.total, "data": data})

    async def _detail(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        kind = self._response_type(request)
        key = str(request.path_params["id"]).lower()
        criteria = parse_criteria(ent, parse_php_query(request.url.query), max_limit=None, default_limit=None)
        return self._detail_response(request, ent, key, criteria, kind)

    def _detail_response(
        self,
        request: Request,
        ent: EntityDef,
        key: str,
        criteria: Criteria,
        kind: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        ctx = self._read_context(request, criteria)
        with self.store.lock:
            row = self.store.rows[ent.name].get(key)
            if row is None:
                raise resource_not_found(ent.name, key)
            renderer = Renderer(self.store, ctx)
            if kind == JSON:
                return _json({"data": renderer.entity(ent, key, row, criteria.associations)}, headers=headers)
            included: dict[tuple[str, str], dict[str, Any]] = {}
            record = renderer.jsonapi_record(ent, key, row, criteria.associations, included)
        document = {"data": record, "included": list(included.values()), "links": {"self": str(request.url)}}
        return _json(document, headers=headers, media_type=JSON_API)

    # -- CRUD writes --------------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        kind = self._response_type(request)
        key = self.writer.write_one(ent, await _json_body(request), None, self._language(request))
        return self._write_response(request, ent, key, kind)

    async def _update(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        kind = self._response_type(request)
        key = str(request.path_params["id"]).lower()
        self.writer.write_one(ent, await _json_body(request), key, self._language(request))
        return self._write_response(request, ent, key, kind)

    async def _delete(self, request: Request) -> Response:
        ent = self._entity(request)
        self._authenticate(request)
        self._response_type(request)
        self.writer.delete_one(ent, str(request.path_params["id"]).lower())
        return Response(status_code=204)

    def _write_response(self, request: Request, ent: EntityDef, key: str, kind: str) -> Response:
        location = {"Location": f"{_base_url(request)}/api/{ent.alias}/{key}"}
        if request.query_params.get("_response"):
            return self._detail_response(request, ent, key, Criteria(), kind, location)
        return Response(status_code=204, headers=location)

    # -- media --------------------------------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        self._authenticate(request)
        self._response_type(request)
        media_id = str(request.path_params["media_id"]).lower()
        if media_id not in self.store.rows["media"]:
            raise fail(
                404,
                "CONTENT__MEDIA_NOT_FOUND",
                "Media for id {{ mediaId }} not found.",
                {"mediaId": media_id},
            )
        extension = request.query_params.get("extension")
        if not extension:
            raise fail(
                400,
                "CONTENT__MEDIA_MISSING_FILE_EXTENSION",
                'No file extension provided. Please use the "extension" query parameter to specify the '
                "extension of the uploaded file.",
            )
        file_name = request.query_params.get("fileName") or media_id
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == JSON:
            payload = await _json_body(request)
            url = payload.get("url") if isinstance(payload, dict) else None
            content, mime = await self._download(url)
        else:
            content, mime = await request.body(), content_type
        if not content:
            raise fail(400, "CONTENT__MEDIA_EMPTY_FILE", "A valid file must be provided.")
        mime = mime or mimetypes.guess_type(f"x.{extension}")[0] or "application/octet-stream"
        with self.store.lock:
            self._save_media(request, media_id, file_name, extension, content, mime)
        with self._stats.lock:
            self._stats.data.media_uploads += 1
        return Response(status_code=204, headers={"Location": f"{_base_url(request)}/api/media/{media_id}"})

    async def _download(self, url: Any) -> tuple[bytes, str]:
        """``MediaService::fetchFile`` for a URL; the sandbox only reaches loopback hosts."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not _is_loopback(parts.hostname or ""):
            raise fail(
                400, "CONTENT__MEDIA_ILLEGAL_URL", 'Provided URL "{{ url }}" is invalid.', {"url": url}
            )
        try:
            response = await self._fetcher().get(url)
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code != 200:
            raise fail(
                400,
                "CONTENT__MEDIA_CANNOT_OPEN_SOURCE_STREAM_TO_READ",
                "Cannot open source stream to read from {{ url }}.",
                {"url": url},
            )
        return response.content, response.headers.get("content-type", "").split(";")[0].strip()

    def _fetcher(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._fetchers.get(loop)
        if client is None:
            client = self._fetchers[loop] = httpx.AsyncClient(
                timeout=self.settings.media_fetch_timeout_s,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return client

    def _save_media(
        self, request: Request, media_id: str, file_name: str, extension: str, content: bytes, mime: str
    ) -> None:
        store = self.store
        for other_id, other in store.rows["media"].items():
            if (
                other_id != media_id
                and other.get("fileName") == file_name
                and other.get("fileExtension") == extension
            ):
                raise fail(
                    400,
                    "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
                    'A file with the name "{{ fileName }}.{{ fileExtension }}" already exists.',
                    {"fileName": file_name, "fileExtension": extension},
                )
        now = now_iso()
        stamp = int(time.time())
        path = f"media/{media_id[:2]}/{media_id[2:4]}/{media_id[4:6]}/{stamp}/{file_name}.{extension}"
        if self.settings.keep_media_bytes:
            store.files[path] = (content, mime)
        row = store.rows["media"][media_id]
        media_type = mime.split("/")[0].upper() if "/" in mime else "BINARY"
        store.put(
            "media",
            media_id,
            {
                **row,
                "fileName": file_name,
                "fileExtension": extension,
                "mimeType": mime,
                "fileSize": len(content),
                "uploadedAt": now,
                "path": path,
                "url": f"{_base_url(request)}/{path}",
                "hasFile": True,
                "mediaType": {"name": media_type, "flags": [], "extensions": []},
                "updatedAt": now,
            },
        )

    async def _media_file(self, request: Request) -> Response:
        found = self.store.files.get("media/" + request.path_params["path"])
        if found is None:
            raise route_not_found(request.method, str(request.url))
        return Response(found[0], media_type=found[1])

    # -- state transitions --------------------------------------------------------------------------------

    async def _order_transition(self, request: Request) -> Response:
        """``OrderActionController``: ``{"stateFieldName"}`` in the body picks the field (``stateId``)."""
        self._authenticate(request)
        body = _decode(await request.body())
        field_name = body.get("stateFieldName") if isinstance(body, dict) else None
        entity = request.url.path.split("/")[3]
        state = await run_in_threadpool(
            self.state_machines.transition,
            entity,
            str(request.path_params["id"]),
            str(request.path_params["transition"]),
            str(field_name or "stateId"),
        )
        return _json(state)

    async def _state_transition(self, request: Request) -> Response:
        """``StateMachineActionController::transitionState``: the state reached, rendered as a detail."""
        self._authenticate(request)
        kind = self._response_type(request)
        state = self.state_machines.transition(
            str(request.path_params["entity"]),
            str(request.path_params["id"]),
            str(request.path_params["transition"]),
            request.query_params.get("stateFieldName", "stateId"),
        )
        ent = SCHEMA["state_machine_state"]
        return self._detail_response(request, ent, str(state["id"]), Criteria(), kind)

    async def _state_transitions(self, request: Request) -> Response:
        self._authenticate(request)
        transitions = self.state_machines.available(
            str(request.path_params["entity"]),
            str(request.path_params["id"]),
            request.query_params.get("stateFieldName", "stateId"),
        )
        return _json({"transitions": transitions})

    # -- misc ---------------------------------------------------------------------------------------------

    async def _version(self, request: Request) -> Response:
        self._authenticate(request)
        return _json({"version": self.settings.shopware_version})

    async def _index(self, request: Request) -> Response:
        self._authenticate(request)
        if self.settings.saas_rate_limits:
            self._saas_limit(
                "indexing", _client_ip(request), self.settings.saas_indexing_limit_per_hour, 3600.0
            )
        if "indexer" in request.path_params:
            return _json({"finish": True, "offset": None})
        return Response(status_code=204)

    # -- admin --------------------------------------------------------------------------------------------

    async def _admin_state(self, request: Request) -> Response:
        return _json(self.state())

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            self.faults.configure(await _admin_model(request, FaultConfig))
        return _json(self.faults.config.model_dump())

    async def _admin_stats(self, request: Request) -> Response:
        stats = self.stats()
        return _json({**stats.model_dump(), "records_written_total": stats.records_written_total})

    async def _admin_stats_reset(self, request: Request) -> Response:
        self.reset_stats()
        return Response(status_code=204)

    async def _admin_reject_rules(self, request: Request) -> Response:
        if request.method == "POST":
            self.add_reject_rule(await _admin_model(request, RejectRule))
        elif request.method == "DELETE":
            self.clear_reject_rules()
        with self.store.lock:
            return _json([r.model_dump() for r in self.writer.reject_rules])

    async def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)

    async def _admin_expire_tokens(self, request: Request) -> Response:
        self.expire_tokens()
        return Response(status_code=204)


async def _admin_model(request: Request, model: type[_M]) -> _M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise ShopwareError(422, [plain_error(422, str(exc))]) from None


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


def _too_many_error(seconds: int) -> list[dict[str, Any]]:
    return [
        http_error(
            429,
            "FRAMEWORK__RATE_LIMIT_EXCEEDED",
            "Too many requests, try again in {{ seconds }} seconds.",
            {"seconds": seconds},
        )
    ]


def _too_many(seconds: int) -> Response:
    return _error(ShopwareError(429, _too_many_error(seconds), {"Retry-After": str(seconds)}))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
