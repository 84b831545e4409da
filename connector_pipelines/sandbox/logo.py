"""Logo Objects REST emulator (Tiger 3 / Tiger Wings, ``/api/v1``), from ``shared/contracts/logo_netsis.md``.

Behind :class:`~connector_pipelines.sandbox.server.FaultInjector`: the OWIN password grant (``POST /token``
with Basic client credentials, form keys read case-insensitively, short tokens: ``expires_in`` 119 s by
default), ``Bearer`` tokens trimmed, revoke/ping/istokenvalid, ``methods/CurrentFirm`` and ``ActivePeriod``,
the resources ``items``, ``Arps``, ``salesItemPrices``, ``salesOrders`` and ``salesDispatches`` with
``offset``/``limit``/``q``/``sort``/``fields``/``withCount``/``expandLevel`` and the ``ResultData``
envelope, ``POST /Arps`` and ``POST /salesOrders`` (``NUMBER "~"`` numbering, ``TRANSACTIONS.items``
wrapper, ModelState ``ValError{i}`` on HTTP 400), and the SQL query routes (``GET /queries?tsql=``,
``POST /queries``, ``POST /queries/unsafe``) over the firm's tables, which a setting switches off as
installations do. Every UNVERIFIED point of the contract is a field of :class:`LogoSettings`.

    emulator = LogoEmulator(items=200)
    with emulator.serve() as server:
        ...  # http://127.0.0.1:<port>/api/v1/token
"""

# ruff: noqa: RUF001 - the answers are in Turkish, as Logo's are (the dotless i is a letter there)

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, TypeVar
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, Field, JsonValue, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.logo_resources import (
    ListParams,
    QueryError,
    Reader,
    Resource,
    build_resources,
)
from connector_pipelines.sandbox.logo_store import LogoInvalid, LogoStore, day_of, packed_time
from connector_pipelines.sandbox.logo_tsql import Param, SqlError
from connector_pipelines.sandbox.server import (
    ADMIN_PREFIX,
    EmulatorServer,
    FaultConfig,
    FaultInjector,
    FaultKind,
    Faults,
    SlidingWindow,
)

__all__ = ["LogoEmulator", "LogoSettings", "LogoStats"]

JSON = "application/json; charset=utf-8"
DENIED = "Authorization has been denied for this request."
INVALID = "The request is invalid."
_M = TypeVar("_M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]
_DOTTED = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?)?")
# What a running emulator may change (PATCH /__sandbox/settings); the rest shapes the tables.
_FIXED = frozenset({"firm", "period", "base_path", "stock_view"})


class LogoSettings(BaseModel):
    """The emulator's configuration; every UNVERIFIED point of the contract is a field."""

    client_id: str = "LOGO"
    client_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    username: str = "LOGO"
    password: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    firm: int = Field(1, ge=1, le=999, description="firmno of the token request and the table names")
    period: int = Field(1, ge=1, le=99)
    base_path: str = "/api/v1"
    require_client_basic: bool = Field(
        True, description="UNVERIFIED: whether the Basic header may be left out"
    )
    token_ttl_s: int = Field(119, ge=1, description="expires_in: 119 in the doc example, configurable")
    unauthorized: Literal["401", "login_error"] = Field(
        "401", description="UNVERIFIED: 401 Message, or 400 ModelState.LoginError (seen by one client)"
    )
    default_limit: int = Field(10, ge=1, description="'Varsayılan Sorgu Kayıt Limiti'")
    max_limit: int | None = Field(None, ge=1, description="UNVERIFIED: whether a maximum page is enforced")
    always_count: bool = Field(False, description="UNVERIFIED: totalCount without withCount=true")
    sql_enabled: bool = Field(
        True, description="'SQL servis sorgu parametreleri'; off by default on a real installation"
    )
    sql_disabled_key: str = Field("LOError", description="UNVERIFIED: the ModelState key of the refusal")
    stock_view: bool = Field(True, description="LV_{f}_{p}_STINVTOT exists besides the LG_ table")
    reject_duplicate_number: bool = Field(True, description="UNVERIFIED: a repeated NUMBER is refused")
    reject_duplicate_doc_number: bool = Field(
        False, description="UNVERIFIED: a repeated DOC_NUMBER is refused (depends on Logo settings)"
    )
    rate_limit: int | None = Field(None, ge=1, description="requests per rate_period_s; None: no limit")
    rate_period_s: float = Field(1.0, gt=0)


class LogoStats(BaseModel):
    calls: dict[str, int] = Field(default_factory=dict, description='per route, "GET /api/v1/items"')
    tokens_issued: int = 0
    tokens_revoked: int = 0
    auth_failures: int = Field(0, description="refused logins and requests without a valid token")
    too_many: int = Field(0, description="429 from the rate limit (not injected faults)")
    sql_queries: int = 0
    sql_refused: int = Field(0, description="queries refused because SQL is switched off")
    orders_created: int = 0
    orders_rejected: int = 0
    customers_created: int = 0
    by_status: dict[int, int] = Field(default_factory=dict)


@dataclass(slots=True)
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    data: LogoStats = field(default_factory=LogoStats)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self.data, name, getattr(self.data, name) + n)


class _Refusal(Exception):
    """An answer other than success, raised anywhere in a handler."""

    def __init__(self, status: int, body: JsonValue, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _json(body: JsonValue, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, dict(headers or {}), JSON)


def model_state(errors: Mapping[str, list[str]]) -> _Refusal:
    state: dict[str, JsonValue] = {k: list(v) for k, v in errors.items()}
    return _Refusal(400, {"Message": INVALID, "ModelState": state})


def _invalid(messages: list[str]) -> _Refusal:
    return model_state({f"ValError{i}": [m] for i, m in enumerate(messages)})


@dataclass
class _Token:
    expires_at: float


class LogoEmulator:
    """``app`` (ASGI, fault-injected), ``faults``, ``settings``, the in-process API below and :meth:`serve`.

    ``clock`` (epoch seconds) drives token expiry, the rate limit and every modification stamp; tests
    replace it to move time without waiting."""

    def __init__(
        self,
        settings: LogoSettings | None = None,
        *,
        items: int = 50,
        warehouses: int = 3,
        price_lists: int = 2,
        customers: int = 5,
        seed: int = 1,
    ) -> None:
        self.settings = settings or LogoSettings()
        self.clock: Callable[[], float] = time.time
        self.store = LogoStore(
            firm=self.settings.firm,
            period=self.settings.period,
            items=items,
            warehouses=warehouses,
            price_lists=price_lists,
            customers=customers,
            seed=seed,
            stock_view=self.settings.stock_view,
            clock=lambda: self.clock(),
        )
        self.resources = build_resources(self.store.tables)
        self.reader = Reader(self.store.db, self.resources)
        self.faults = Faults()
        self._tokens: dict[str, _Token] = {}
        self._auth_lock = threading.Lock()
        self._stats = _Stats()
        self._rejections: list[tuple[str, str]] = []
        self._window: SlidingWindow | None = None
        self._set_window()
        self.app = FaultInjector(self._build_app(), self.faults, self._render_fault)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        return EmulatorServer(self.app, host=host, port=port, name="logo")

    # --- in-process API ----------------------------------------------------------------------------------

    def skus(self) -> list[str]:
        """Every item code (the SKU), sorted."""
        return self.store.skus()

    @property
    def warehouses(self) -> list[str]:
        """Warehouse numbers (``INVENNO``) as the connector's warehouse codes."""
        return [str(n) for n in self.store.warehouse_numbers]

    @property
    def price_lists(self) -> list[str]:
        """Price list codes (trading groups, ``TRADINGGRP``); the first is the web list."""
        return list(self.store.price_list_codes)

    def change_stock(self, fraction: float, seed: int) -> list[str]:
        """New on-hand quantities for a ``fraction`` of the items in every warehouse; returns their SKUs."""
        with self.store.db.lock:
            return self.store.change_stock(fraction, seed)

    def change_prices(self, fraction: float, seed: int, price_list: str | None = None) -> list[str]:
        """Reprice a ``fraction`` of the items (one price list or all); returns their SKUs."""
        with self.store.db.lock:
            return self.store.change_prices(fraction, seed, price_list)

    def set_stock(self, sku: str, warehouse: str | int, quantity: Decimal | int) -> None:
        with self.store.db.lock:
            self.store.set_stock(sku, int(warehouse), Decimal(quantity))

    def set_price(self, sku: str, price_list: str, price: Decimal | int) -> None:
        with self.store.db.lock:
            self.store.set_price(sku, price_list, Decimal(price))

    def stock_levels(self, warehouse: str | int) -> dict[str, Decimal]:
        """On hand per SKU in one warehouse (``-1``: all warehouses)."""
        with self.store.db.lock:
            return self.store.stock_levels(int(warehouse))

    def price_levels(self, price_list: str) -> dict[str, Decimal]:
        with self.store.db.lock:
            return self.store.price_levels(price_list)

    def available(self, warehouse: str | int) -> dict[str, Decimal]:
        """On hand minus reserved per SKU in one warehouse: what the connector reports as available."""
        with self.store.db.lock:
            return self.store.available(int(warehouse))

    def add_item(
        self,
        code: str,
        *,
        name: str = "",
        vat: Decimal = Decimal(20),
        stock: Mapping[str, Decimal] = MappingProxyType({}),
        prices: Mapping[str, Decimal] = MappingProxyType({}),
    ) -> None:
        """An item card, a stock movement today per warehouse and a price row per price list (stamped now)."""
        with self.store.db.lock:
            self.store.add_item(code, name, vat, {int(wh): qty for wh, qty in stock.items()}, prices)

    def delete_item(self, code: str) -> None:
        """The item card, its stock rows and price rows are gone. KeyError for an unknown code."""
        with self.store.db.lock:
            self.store.delete_item(code)

    def orders(self) -> list[dict[str, JsonValue]]:
        """Every sales order received, as ``GET /salesOrders/{ref}?expandLevel=full`` renders it; the shop's
        order number is in ``DOC_NUMBER`` (the field the contract uses for idempotency)."""
        return self._all(self.resources["salesOrders"])

    def dispatches(self) -> list[dict[str, JsonValue]]:
        return self._all(self.resources["salesDispatches"])

    def customers(self) -> list[dict[str, JsonValue]]:
        return self._all(self.resources["Arps"])

    def ship(self, order_no: str, tracking: str, carrier: str | None = None) -> str:
        """Ship every open line of an order (by ``NUMBER`` or ``DOC_NUMBER``) with a sales dispatch carrying
        ``TRACK_NR``; returns the dispatch number. KeyError for an unknown order."""
        with self.store.db.lock:
            return self.store.ship(order_no, tracking, carrier)

    def reject_next_order(self, message: str, *, key: str = "LOError:", times: int = 1) -> None:
        """The next ``times`` ``POST /salesOrders`` fail with 400 ``ModelState {key: [message]}``."""
        with self._auth_lock:
            self._rejections.extend([(key, message)] * times)

    def configure(self, **changes: object) -> None:
        """Change settings of a running emulator (all but firm, period, base_path and stock_view)."""
        fixed = _FIXED & set(changes)
        if fixed:
            raise ValueError(f"cannot change {', '.join(sorted(fixed))} of a running emulator")
        self.settings = LogoSettings.model_validate({**self.settings.model_dump(), **changes})
        self._set_window()

    def expire_tokens(self) -> None:
        """Every issued token is expired from now on."""
        with self._auth_lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def stats(self) -> LogoStats:
        with self._stats.lock:
            return self._stats.data.model_copy(deep=True)

    def reset_stats(self) -> None:
        with self._stats.lock:
            self._stats.data = LogoStats()

    def reset(self) -> None:
        """Back to the generated catalog; tokens, settings and faults stay."""
        self.store.reset()

    def state(self) -> dict[str, JsonValue]:
        t = self.store.tables
        db = self.store.db
        with db.lock:
            counts: dict[str, JsonValue] = {
                name: db.scalar(f"SELECT COUNT(*) FROM {table}")
                for name, table in (
                    ("items", t.items),
                    ("customers", t.customers),
                    ("prices", t.prices),
                    ("orders", t.orders),
                    ("dispatches", t.slips),
                )
            }
        with self._auth_lock:
            tokens = sum(1 for tok in self._tokens.values() if tok.expires_at > self.clock())
        return {
            **counts,
            "warehouses": list(self.warehouses),
            "price_lists": list(self.price_lists),
            "tokens": tokens,
            "faults": self.faults.config.model_dump(),
            "settings": self.settings.model_dump(exclude={"client_secret", "password"}),
        }

    def _all(self, resource: Resource) -> list[dict[str, JsonValue]]:
        params = ListParams(limit=1_000_000, expand=True)
        items = self.reader.page(resource, params, self.settings.base_path)["items"]
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def _set_window(self) -> None:
        s = self.settings
        self._window = (
            SlidingWindow(s.rate_limit, s.rate_period_s, lambda: self.clock()) if s.rate_limit else None
        )

    # --- the app ---------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        base = self.settings.base_path.rstrip("/")

        def route(path: str, handler: Handler, *methods: str, admin: bool = False) -> Route:
            async def endpoint(request: Request) -> Response:
                name = f"{request.method} {path}"
                if "{resource}" in path:
                    name = name.replace("{resource}", str(request.path_params["resource"]))
                try:
                    if not admin:
                        with self._stats.lock:
                            self._stats.data.calls[name] = self._stats.data.calls.get(name, 0) + 1
                        self._limit()
                    response = await handler(request)
                except _Refusal as exc:
                    response = _json(exc.body, exc.status, exc.headers)
                if not admin:
                    with self._stats.lock:
                        by_status = self._stats.data.by_status
                        by_status[response.status_code] = by_status.get(response.status_code, 0) + 1
                return response

            return Route(path, endpoint, methods=list(methods))

        admin = ADMIN_PREFIX
        routes = [
            route(f"{base}/token", self._token, "POST"),
            route(f"{base}/revoke", self._revoke, "GET", "POST"),
            route(f"{base}/methods/revoke", self._revoke, "GET"),
            route(f"{base}/istokenvalid", self._is_token_valid, "GET"),
            route(f"{base}/methods/istokenvalid", self._is_token_valid, "GET"),
            route(f"{base}/ping", self._ping, "GET"),
            route(f"{base}/methods/ping", self._ping, "GET"),
            route(f"{base}/methods/CurrentFirm", self._current_firm, "GET"),
            route(f"{base}/methods/ActivePeriod", self._active_period, "GET"),
            route(f"{base}/queries", self._query, "GET", "POST"),
            route(f"{base}/queries/unsafe", self._query_unsafe, "POST"),
            route(f"{base}/{{resource}}", self._list, "GET"),
            route(f"{base}/{{resource}}", self._create, "POST"),
            route(f"{base}/{{resource}}/{{ref}}", self._one, "GET"),
            route(f"{base}/{{resource}}/{{ref}}", self._delete, "DELETE"),
            route(f"{admin}/state", self._admin_state, "GET", admin=True),
            route(f"{admin}/faults", self._admin_faults, "GET", "PUT", admin=True),
            route(f"{admin}/settings", self._admin_settings, "GET", "PATCH", admin=True),
            route(f"{admin}/stats", self._admin_stats, "GET", admin=True),
            route(f"{admin}/stats/reset", self._admin_stats_reset, "POST", admin=True),
            route(f"{admin}/reset", self._admin_reset, "POST", admin=True),
            route(f"{admin}/tokens/expire", self._admin_expire_tokens, "POST", admin=True),
            route(f"{admin}/ship", self._admin_ship, "POST", admin=True),
        ]

        async def not_found(request: Request, exc: Exception) -> Response:
            return _json(
                {"Message": f"No HTTP resource was found that matches the request URI '{request.url}'."}, 404
            )

        async def not_allowed(request: Request, exc: Exception) -> Response:
            return _json({"Message": "The requested resource does not support this http method."}, 405)

        async def crashed(request: Request, exc: Exception) -> Response:
            return _json(_exception_body(type(exc).__name__), 500)

        return Starlette(
            routes=routes, exception_handlers={404: not_found, 405: not_allowed, Exception: crashed}
        )

    def _render_fault(self, kind: str, config: FaultConfig) -> Response:
        if kind == FaultKind.TOO_MANY:
            return self._too_many(max(1, math.ceil(config.retry_after_s)))
        return _json(_exception_body("InjectedFault"), config.status_5xx)

    def _too_many(self, seconds: int) -> Response:
        # UNVERIFIED: Logo REST documents no rate limit; the Windows HTTP server's 429 is the plausible shape.
        return _json({"Message": "Too many requests."}, 429, {"Retry-After": str(seconds)})

    def _limit(self) -> None:
        window = self._window
        if window is None:
            return
        allowed, _, wait = window.try_acquire()
        if not allowed:
            self._stats.add(too_many=1)
            seconds = max(1, math.ceil(wait))
            raise _Refusal(429, {"Message": "Too many requests."}, {"Retry-After": str(seconds)})

    def _api_root(self, request: Request) -> str:
        root = request.scope.get("root_path", "")
        return f"{request.url.scheme}://{request.url.netloc}{root}{self.settings.base_path.rstrip('/')}"

    # --- auth --------------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        s = self.settings
        # The docs' own sample sends a form body as application/json: the content type is not looked at.
        form = {
            k.lower(): v[0]
            for k, v in parse_qs(
                (await request.body()).decode("utf-8", "replace"), keep_blank_values=True
            ).items()
        }
        basic = _basic(request.headers.get("authorization"))
        if basic is not None or s.require_client_basic:
            ok = basic is not None and _same(basic[0], s.client_id) and _same(basic[1], s.client_secret)
            if not ok:
                self._stats.add(auth_failures=1)
                raise _Refusal(
                    400, {"error": "invalid_client", "error_description": "Client credentials are invalid."}
                )
        if form.get("grant_type") != "password":
            raise _Refusal(400, {"error": "unsupported_grant_type"})
        user, password, firm = form.get("username", ""), form.get("password", ""), form.get("firmno", "")
        if not (_same(user, s.username) and _same(password, s.password)):
            self._stats.add(auth_failures=1)
            raise _Refusal(
                400, {"error": "invalid_grant", "error_description": "Kullanıcı adı veya şifre hatalı."}
            )
        if firm.strip() != str(s.firm):
            self._stats.add(auth_failures=1)
            raise _Refusal(
                400, {"error": "invalid_grant", "error_description": f"{firm} numaralı firma bulunamadı."}
            )
        now = self.clock()
        token = "AQAAANCMnd8BFdERjHoAwE_Cl-sBAAAA" + secrets.token_urlsafe(96)
        with self._auth_lock:
            self._tokens[token] = _Token(now + s.token_ttl_s)
        self._stats.add(tokens_issued=1)
        body: dict[str, JsonValue] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": s.token_ttl_s,
            "refresh_token": secrets.token_hex(16),
            "as:client_id": "",
            "userName": user,
            "firmNo": firm.strip(),
            ".issued": _http_date(now),
            ".expires": _http_date(now + s.token_ttl_s),
        }
        return _json(body, 200, {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1"})

    def _authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()  # the docs send "Bearer  <token>" with two spaces
        with self._auth_lock:
            entry = self._tokens.get(token) if scheme.lower() == "bearer" else None
            valid = entry is not None and entry.expires_at > self.clock()
            if entry is not None and not valid:
                del self._tokens[token]
        if not valid:
            self._stats.add(auth_failures=1)
            if self.settings.unauthorized == "login_error":
                raise model_state({"LoginError": ["Oturum geçersiz veya süresi dolmuş."]})
            raise _Refusal(401, {"Message": DENIED})
        return token

    async def _revoke(self, request: Request) -> Response:
        token = self._authenticate(request)
        with self._auth_lock:
            self._tokens.pop(token, None)
        self._stats.add(tokens_revoked=1)
        return _json(True)

    async def _is_token_valid(self, request: Request) -> Response:
        self._authenticate(request)
        return _json(True)

    async def _ping(self, request: Request) -> Response:
        self._authenticate(request)
        return _json("pong")

    async def _current_firm(self, request: Request) -> Response:
        self._authenticate(request)
        return _json(self.settings.firm)

    async def _active_period(self, request: Request) -> Response:
        self._authenticate(request)
        return _json(self.settings.period)

    # --- SQL ---------------------------------------------------------------------------------------------

    async def _query(self, request: Request) -> Response:
        self._authenticate(request)
        if request.method == "GET":
            sql = request.query_params.get("tsql", "")
        else:
            sql = _json_string(await request.body())
        rows = self._run_sql(sql)
        return _json({"count": len(rows), "items": rows})

    async def _query_unsafe(self, request: Request) -> Response:
        self._authenticate(request)
        rows = self._run_sql(_json_string(await request.body()))
        items: list[JsonValue] = list(rows)
        return _json({"items": items})

    def _run_sql(self, sql: str) -> list[JsonValue]:
        if not self.settings.sql_enabled:
            self._stats.add(sql_refused=1)
            raise model_state(
                {
                    self.settings.sql_disabled_key: [
                        "SQL sorgu servisi kapalı: 'SQL servis sorgu parametreleri' "
                        "REST servis ayarlarından açılmalıdır."
                    ]
                }
            )
        if not sql.strip():
            raise model_state({"102": ["Incorrect syntax: empty query."]})
        self._stats.add(sql_queries=1)
        try:
            return list(self.store.db.query(sql))
        except SqlError as exc:
            raise model_state({str(exc.number): [exc.message]}) from None

    # --- resources -----------------------------------------------------------------------------------------

    def _resource(self, request: Request) -> Resource:
        name = str(request.path_params["resource"])
        resource = self.resources.get(name)
        if resource is None:
            raise _Refusal(
                404, {"Message": f"No HTTP resource was found that matches the request URI '{request.url}'."}
            )
        return resource

    async def _list(self, request: Request) -> Response:
        self._authenticate(request)
        resource = self._resource(request)
        query = {k.lower(): v for k, v in request.query_params.items()}
        s = self.settings
        try:
            offset = int(query.get("offset", "0"))
            limit = int(query.get("limit", str(s.default_limit)))
        except ValueError:
            raise model_state({"LOError": ["offset and limit must be numbers."]}) from None
        if offset < 0 or limit < 1:
            raise model_state({"LOError": ["offset and limit must be positive."]})
        if s.max_limit is not None:
            limit = min(limit, s.max_limit)
        params = ListParams(
            offset=offset,
            limit=limit,
            q=query.get("q") or None,
            sort=query.get("sort") or None,
            fields=tuple(query["fields"].split(",")) if query.get("fields") else (),
            with_count=s.always_count or query.get("withcount", "").lower() == "true",
            expand=query.get("expandlevel", "").lower() == "full",
        )
        try:
            return _json(self.reader.page(resource, params, self._api_root(request)))
        except QueryError as exc:
            raise model_state({"LOError": [str(exc)]}) from None

    async def _one(self, request: Request) -> Response:
        self._authenticate(request)
        resource = self._resource(request)
        ref = _ref(request)
        expand = request.query_params.get("expandLevel", "").lower() == "full"
        record = self.reader.one(resource, ref, self._api_root(request), expand=expand) if ref else None
        if record is None:
            raise _Refusal(404, {"Message": f"{resource.name} {request.path_params['ref']} bulunamadı."})
        return _json(record)

    async def _delete(self, request: Request) -> Response:
        self._authenticate(request)
        resource = self._resource(request)
        if resource.name != "salesOrders":
            raise _Refusal(405, {"Message": "The requested resource does not support http method 'DELETE'."})
        ref = _ref(request)
        with self.store.db.lock:
            found = ref is not None and self.store.delete_order(ref)
        if not found:
            raise _Refusal(404, {"Message": f"salesOrders {request.path_params['ref']} bulunamadı."})
        return Response(status_code=200)

    async def _create(self, request: Request) -> Response:
        self._authenticate(request)
        resource = self._resource(request)
        body = _decode(await request.body())
        if not isinstance(body, dict):
            raise _invalid(["İstek gövdesi bir nesne olmalıdır."])
        if resource.name == "Arps":
            return self._create_customer(resource, body)
        if resource.name == "salesOrders":
            return self._create_order(body)
        raise _Refusal(405, {"Message": "The requested resource does not support http method 'POST'."})

    def _create_customer(self, resource: Resource, body: dict[str, JsonValue]) -> Response:
        writable = {tag.upper(): column for tag, column in resource.writable().items()}
        values: dict[str, Param] = {}
        for key, value in body.items():
            column = writable.get(key.upper())
            if column is not None and isinstance(value, str | int | float) and not isinstance(value, bool):
                values[column] = value
        with self.store.db.lock:
            try:
                ref = self.store.create_customer(values)
            except LogoInvalid as exc:
                raise _invalid(exc.messages) from None
        self._stats.add(customers_created=1)
        return _json({**body, "INTERNAL_REFERENCE": ref})

    def _create_order(self, body: dict[str, JsonValue]) -> Response:
        with self._auth_lock:
            forced = self._rejections.pop(0) if self._rejections else None
        if forced is not None:
            self._stats.add(orders_rejected=1)
            raise model_state({forced[0]: [forced[1]]})
        with self.store.db.lock:
            try:
                header, lines, echoed_date = self._order_columns(body)
                ref = self.store.create_order(header, lines)
            except LogoInvalid as exc:
                self._stats.add(orders_rejected=1)
                raise _invalid(exc.messages) from None
        self._stats.add(orders_created=1)
        # The answer echoes the posted body (NUMBER still "~") with INTERNAL_REFERENCE filled in.
        return _json({**body, "INTERNAL_REFERENCE": ref, "DATE": echoed_date})

    def _order_columns(
        self, body: dict[str, JsonValue]
    ) -> tuple[dict[str, Param], list[dict[str, Param]], str]:
        store, s = self.store, self.settings
        problems: list[str] = []
        transactions = body.get("TRANSACTIONS")
        raw_lines: list[JsonValue] = []
        if isinstance(transactions, list):
            problems.append('TRANSACTIONS bir dizi değil, {"items": [...]} sarmalı olmalıdır.')
        elif not isinstance(transactions, dict) or not isinstance(transactions.get("items"), list):
            problems.append("TRANSACTIONS.items zorunludur.")
        else:
            items = transactions["items"]
            raw_lines = list(items) if isinstance(items, list) else []
            if not raw_lines:
                problems.append("Sipariş en az bir satır içermelidir.")
        client_ref: int | None = None
        arp_code, client = body.get("ARP_CODE"), body.get("CLIENTREF")
        if isinstance(arp_code, str) and arp_code:
            client_ref = store.customer_ref(arp_code)
            if client_ref is None:
                problems.append(f"{arp_code} kodlu cari hesap bulunamadı.")
        elif isinstance(client, int) and store.has_customer_ref(client):
            client_ref = client
        else:
            problems.append("Cari hesap (ARP_CODE veya CLIENTREF) bulunamadı.")
        date = _date(body.get("DATE"), self.clock())
        if date is None:
            problems.append(f"Geçersiz tarih: {body.get('DATE')!r}.")
        number = body.get("NUMBER")
        number_text = str(number) if isinstance(number, str | int) and number != "" else "~"
        t = store.tables
        taken = store.db.scalar(f"SELECT 1 FROM {t.orders} WHERE FICHENO = ?", (number_text,)) == 1
        if number_text != "~" and s.reject_duplicate_number and taken:
            problems.append(f"{number_text} numaralı sipariş fişi zaten kayıtlı.")
        doc_number = _text(body.get("DOC_NUMBER"))
        repeated = store.db.scalar(f"SELECT 1 FROM {t.orders} WHERE DOCODE = ?", (doc_number,)) == 1
        if doc_number and s.reject_duplicate_doc_number and repeated:
            problems.append(f"{doc_number} belge numaralı sipariş fişi zaten kayıtlı.")
        header_wh = _int(body.get("SOURCE_WH"), 0)
        lines: list[dict[str, Param]] = []
        for index, raw in enumerate(raw_lines):
            line = raw if isinstance(raw, dict) else {}
            where = f"{index + 1}. satır"
            if _int(line.get("TYPE"), 0) != 0:
                problems.append(f"{where}: yalnız malzeme satırları (TYPE 0) desteklenir.")
                continue
            code = _text(line.get("MASTER_CODE"))
            stock_ref = store.item_ref(code) if code else None
            if stock_ref is None:
                problems.append(f"{where}: {code} kodlu malzeme bulunamadı.")
                continue
            quantity = _number(line.get("QUANTITY"))
            price = _number(line.get("PRICE"))
            if quantity is None or quantity <= 0:
                problems.append(f"{where}: miktar sıfırdan büyük olmalıdır.")
            if price is None or price < 0:
                problems.append(f"{where}: geçersiz fiyat.")
            warehouse = _int(line.get("SOURCE_WH"), header_wh)
            if warehouse not in store.warehouse_numbers:
                problems.append(f"{where}: {warehouse} numaralı ambar bulunamadı.")
            vat = _number(line.get("VAT_RATE"))
            lines.append(
                {
                    "STOCKREF": stock_ref,
                    "LINETYPE": 0,
                    "AMOUNT": quantity or 0.0,
                    "PRICE": price or 0.0,
                    "VAT": vat if vat is not None else store.item_vat(stock_ref),
                    "VATINC": 1 if _int(line.get("VAT_INCLUDED"), 0) else 0,
                    "SOURCEINDEX": warehouse,
                    "LINEEXP": _text(line.get("TRANS_DESCRIPTION") or line.get("DESCRIPTION")),
                }
            )
        if problems:
            raise LogoInvalid(problems)
        assert date is not None
        assert client_ref is not None
        header: dict[str, Param] = {
            "FICHENO": number_text,
            "DATE_": date,
            "TIME_": _int(body.get("TIME"), packed_time(self.clock())),
            "DOCODE": doc_number,
            "DOCTRACKINGNR": _text(body.get("DOC_TRACK_NR")),
            "CUSTORDNO": _text(body.get("CUST_ORD_NO")),
            "SPECODE": _text(body.get("AUXIL_CODE")),
            "CLIENTREF": client_ref,
            "SOURCEINDEX": header_wh,
            "STATUS": _int(body.get("ORDER_STATUS"), 1),
            "GENEXP1": _text(body.get("NOTES1")),
        }
        return header, lines, date

    # --- admin -------------------------------------------------------------------------------------------

    async def _admin_state(self, request: Request) -> Response:
        return _json(self.state())

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            self.faults.configure(await _admin_model(request, FaultConfig))
        return _json(self.faults.config.model_dump())

    async def _admin_settings(self, request: Request) -> Response:
        if request.method == "PATCH":
            changes = _decode(await request.body())
            if not isinstance(changes, dict):
                raise _Refusal(422, {"Message": "a JSON object of settings is expected"})
            try:
                self.configure(**changes)
            except (ValueError, ValidationError) as exc:
                raise _Refusal(422, {"Message": str(exc)}) from None
        return _json(self.settings.model_dump(exclude={"client_secret", "password"}))

    async def _admin_stats(self, request: Request) -> Response:
        return _json(self.stats().model_dump(mode="json"))

    async def _admin_stats_reset(self, request: Request) -> Response:
        self.reset_stats()
        return Response(status_code=204)

    async def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)

    async def _admin_expire_tokens(self, request: Request) -> Response:
        self.expire_tokens()
        return Response(status_code=204)

    async def _admin_ship(self, request: Request) -> Response:
        order = await _admin_model(request, _Ship)
        try:
            number = self.ship(order.order_no, order.tracking, order.carrier)
        except (KeyError, ValueError) as exc:
            raise _Refusal(422, {"Message": str(exc)}) from None
        return _json({"dispatch_number": number})


class _Ship(BaseModel):
    order_no: str
    tracking: str
    carrier: str | None = None


# --- helpers -----------------------------------------------------------------------------------------------


def _exception_body(name: str) -> dict[str, JsonValue]:
    return {
        "Message": "An error has occurred.",
        "ExceptionMessage": name,
        "ExceptionType": "System.Exception",
    }


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, sep, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, secret) if sep else None


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _http_date(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _decode(raw: bytes) -> JsonValue:
    if not raw.strip():
        return None
    try:
        value: JsonValue = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid(["İstek gövdesi geçerli bir JSON değil."]) from None
    return value


def _json_string(raw: bytes) -> str:
    """The query routes take the SQL as a JSON string literal (``"SELECT …"``)."""
    value = _decode(raw)
    if not isinstance(value, str):
        raise model_state({"102": ["The body must be the SQL text as a JSON string."]})
    return value


def _ref(request: Request) -> int | None:
    raw = str(request.path_params["ref"])
    return int(raw) if raw.isdigit() else None


def _date(value: JsonValue, now: float) -> str | None:
    if value is None or value == "":
        return day_of(now)
    if not isinstance(value, str):
        return None
    dotted = _DOTTED.match(value.strip())
    if dotted:
        day, month, year = dotted.groups()
    else:
        iso = _ISO.match(value.strip())
        if iso is None:
            return None
        year, month, day = iso.group(1), iso.group(2), iso.group(3)
    try:
        return datetime(int(year), int(month), int(day)).strftime("%Y-%m-%dT00:00:00")
    except ValueError:
        return None


def _text(value: JsonValue) -> str:
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def _number(value: JsonValue) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _int(value: JsonValue, default: int) -> int:
    number = _number(value)
    return int(number) if number is not None else default


async def _admin_model(request: Request, model: type[_M]) -> _M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _Refusal(422, {"Message": str(exc)}) from None
