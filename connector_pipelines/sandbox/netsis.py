"""Netsis NetOpenX REST emulator (``/api/v2``), built from ``shared/contracts/logo_netsis.md``.

Behind :class:`~connector_pipelines.sandbox.server.FaultInjector`: the password grant on ``/token`` (GET or
POST, form keys in any case, or a JLogin JSON body), 20-minute tokens that each hold a licence seat (a login
while the user's seats are taken is refused, 401 by default; ``GET /revoke`` or expiry frees the seat),
``Items``, ``Items/PrimInfo``, ``ARPs`` (lists with ``limit``/``offset``/``sort``/``fields``/``q`` as an SQL
WHERE fragment, the ``{Offset, Limit, TotalCount, IsSuccessful, Data, …}`` envelope, nested
``StokTemelBilgi``/``CariTemelBilgi``), the ``Queries``/``Query`` SQL route, and ``ItemSlips`` (ftSSip sales
orders: a 15-character ``FATIRS_NO``, a repeated number refused, lines checked for stock code and warehouse).
Business errors are HTTP 200 with ``IsSuccessful: false``, as Netsis answers them. Every UNVERIFIED point of
the contract is a field of :class:`NetsisSettings`.

    emulator = NetsisEmulator(items=200)
    with emulator.serve() as server:
        ...  # http://127.0.0.1:<port>/api/v2/token
"""

# ruff: noqa: RUF001 - messages are Turkish, as Netsis' are (the dotless i is a letter there)

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, TypeVar
from urllib.parse import parse_qs, unquote, urlencode

import orjson
from pydantic import BaseModel, Field, JsonValue, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.logo_tsql import Param, SqlError, iso
from connector_pipelines.sandbox.netsis_store import (
    DOC_TYPE_BY_NAME,
    DOC_TYPES,
    SALES_DISPATCH,
    SALES_ORDER,
    SLIP_KINDS,
    NetsisRefused,
    NetsisStore,
    SlipKind,
)
from connector_pipelines.sandbox.server import (
    ADMIN_PREFIX,
    EmulatorServer,
    FaultConfig,
    FaultInjector,
    FaultKind,
    Faults,
    SlidingWindow,
)

__all__ = ["NetsisEmulator", "NetsisSettings", "NetsisStats"]

JSON = "application/json; charset=utf-8"
DENIED = "Authorization has been denied for this request."
SEAT_TAKEN = "SsoMaxUserCountExceeded"
_M = TypeVar("_M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?$"
)
_FIXED = frozenset({"base_path"})

# REST field -> column of the resource's table, per group (field names are mixed-case as Netsis sends them).
_ITEM_BASIC = {
    "Stok_Kodu": "STOK_KODU",
    "Stok_Adi": "STOK_ADI",
    "KDV_Orani": "KDV_ORANI",
    "Satis_Fiat1": "SATIS_FIAT1",
    "Satis_Fiat2": "SATIS_FIAT2",
    "Satis_Fiat3": "SATIS_FIAT3",
    "Satis_Fiat4": "SATIS_FIAT4",
    "Alis_Fiat1": "ALIS_FIAT1",
    "Sat_Dov_Tip": "SAT_DOV_TIP",
    "Dov_Satis_Fiat": "DOV_SATIS_FIAT",
    "Olcu_Br1": "OLCU_BR1",
    "Grup_Kodu": "GRUP_KODU",
    "Kod_1": "KOD_1",
    "DEPO_KODU": "DEPO_KODU",
    "Sube_Kodu": "SUBE_KODU",
    "ISLETME_KODU": "ISLETME_KODU",
    "Kilit": "KILIT",
}
_ITEM_EXTRA = {
    "Stok_Kodu": "STOK_KODU",
    "Barkod1": "BARKOD1",
    "KAYITTARIHI": "KAYITTARIHI",
    "DUZELTMETARIHI": "DUZELTMETARIHI",
}
_ARP_BASIC = {
    "CARI_KOD": "CARI_KOD",
    "CARI_ISIM": "CARI_ISIM",
    "CARI_TIP": "CARI_TIP",
    "VERGI_NUMARASI": "VERGI_NUMARASI",
    "VERGI_DAIRESI": "VERGI_DAIRESI",
    "CARI_IL": "CARI_IL",
    "CARI_ILCE": "CARI_ILCE",
    "CARI_TEL": "CARI_TEL",
    "CARI_ADRES": "CARI_ADRES",
    "POSTAKODU": "POSTAKODU",
    "ULKE_KODU": "ULKE_KODU",
    "CM_BORCT": "CM_BORCT",
    "Sube_Kodu": "SUBE_KODU",
    "ISLETME_KODU": "ISLETME_KODU",
}
_ARP_EXTRA = {"CARI_KOD": "CARI_KOD", "KAYITTARIHI": "KAYITTARIHI", "DUZELTMETARIHI": "DUZELTMETARIHI"}
_MIKTAR = (
    "(SELECT TOP_GIRIS_MIK - TOP_CIKIS_MIK FROM TBLSTOKPH P WHERE P.STOK_KODU = TBLSTSABIT.STOK_KODU "
    "AND P.DEPO_KODU = 0) AS MIKTAR"
)


class NetsisSettings(BaseModel):
    """The emulator's configuration; every UNVERIFIED point of the contract is a field."""

    username: str = "NETSIS"
    password: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    dbname: str = "ENTEGRE9"
    dbuser: str = "TEMELSET"
    dbpassword: str = Field(default_factory=lambda: secrets.token_urlsafe(12))
    branch_code: int = 0
    base_path: str = "/api/v2"
    version: str = "9.0.67.0"
    token_ttl_s: int = Field(1200, ge=1, description="about 20 minutes by default, set in NetOpenX Manager")
    seats: int = Field(1, ge=1, description="concurrent tokens per user: each token holds a licence seat")
    seat_refusal_status: int = Field(401, description="UNVERIFIED: the refused login's status (401 seen)")
    dbtype_crashes: bool = Field(False, description="9.0.67.0 answered an unhandled 500 to any dbtype")
    accept_jlogin: bool = Field(True, description="UNVERIFIED: a JLogin JSON body on /token")
    default_limit: int = Field(20, ge=1)
    max_limit: int | None = Field(None, ge=1, description="UNVERIFIED: 500 and 1000 were accepted")
    query_routes: Literal["both", "Queries", "Query"] = Field(
        "both", description="UNVERIFIED: which SQL route an installation exposes"
    )
    echo_slip: bool = Field(True, description="UNVERIFIED: whether a saved slip comes back in Data")
    missing_record: Literal["business_error", "404"] = Field(
        "business_error", description="UNVERIFIED: how an unknown key is answered"
    )
    tracking_field: str = Field("EKACK2", description="UNVERIFIED: the dispatch header field of the tracking")
    carrier_field: str = Field("EKACK3", description="UNVERIFIED: the dispatch header field of the carrier")
    rate_limit: int | None = Field(None, ge=1, description="requests per rate_period_s; None: no limit")
    rate_period_s: float = Field(1.0, gt=0)


class NetsisStats(BaseModel):
    calls: dict[str, int] = Field(default_factory=dict, description='per route, "POST /api/v2/ItemSlips"')
    tokens_issued: int = 0
    tokens_revoked: int = 0
    logins_refused: int = Field(0, description="logins refused because the user's seats were taken")
    auth_failures: int = Field(0, description="bad credentials and requests without a valid token")
    too_many: int = 0
    business_errors: int = Field(0, description="HTTP 200 answers with IsSuccessful false")
    slips_created: int = 0
    duplicates_rejected: int = 0
    customers_created: int = 0
    sql_queries: int = 0
    by_status: dict[int, int] = Field(default_factory=dict)


@dataclass(slots=True)
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    data: NetsisStats = field(default_factory=NetsisStats)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self.data, name, getattr(self.data, name) + n)


@dataclass
class _Token:
    user: str
    expires_at: float


class _Refusal(Exception):
    def __init__(self, status: int, body: JsonValue, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _json(body: JsonValue, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, dict(headers or {}), JSON)


def _failure(code: str, desc: str) -> dict[str, JsonValue]:
    return {"IsSuccessful": False, "ErrorCode": code, "ErrorDesc": desc, "Data": None}


class NetsisEmulator:
    """``app`` (ASGI, fault-injected), ``faults``, ``settings``, the in-process API below and :meth:`serve`.

    ``clock`` (epoch seconds) drives token expiry (and so the seats), the rate limit and the audit dates."""

    def __init__(
        self,
        settings: NetsisSettings | None = None,
        *,
        items: int = 50,
        warehouses: int = 3,
        price_lists: int = 2,
        customers: int = 5,
        seed: int = 1,
    ) -> None:
        self.settings = settings or NetsisSettings()
        self.clock: Callable[[], float] = time.time
        self.store = NetsisStore(
            items=items,
            warehouses=warehouses,
            price_lists=price_lists,
            customers=customers,
            seed=seed,
            branch=self.settings.branch_code,
            clock=lambda: self.clock(),
        )
        self.faults = Faults()
        self._tokens: dict[str, _Token] = {}
        self._auth_lock = threading.Lock()
        self._stats = _Stats()
        self._rejections: list[tuple[str, str] | None] = []
        self._window: SlidingWindow | None = None
        self._set_window()
        self.app = FaultInjector(self._build_app(), self.faults, self._render_fault)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        return EmulatorServer(self.app, host=host, port=port, name="netsis")

    # --- in-process API ----------------------------------------------------------------------------------

    def skus(self) -> list[str]:
        """Every stock code, trimmed (the SKU), sorted."""
        return self.store.skus()

    @property
    def warehouses(self) -> list[str]:
        """Warehouse codes (``DEPO_KODU``) as strings."""
        return [str(code) for code in self.store.warehouse_codes]

    @property
    def price_lists(self) -> list[str]:
        """Price groups (``TBLSTOKFIAT.FIYATGRUBU``); the first is the web list and ``Satis_Fiat1``."""
        return list(self.store.price_groups)

    def change_stock(self, fraction: float, seed: int) -> list[str]:
        with self.store.db.lock:
            return self.store.change_stock(fraction, seed)

    def change_prices(self, fraction: float, seed: int, price_list: str | None = None) -> list[str]:
        with self.store.db.lock:
            return self.store.change_prices(fraction, seed, price_list)

    def set_stock(self, sku: str, warehouse: str | int, quantity: Decimal | int) -> None:
        with self.store.db.lock:
            self.store.set_stock(sku, int(warehouse), Decimal(quantity))

    def set_price(self, sku: str, price_list: str, price: Decimal | int) -> None:
        with self.store.db.lock:
            self.store.set_price(sku, price_list, Decimal(price))

    def stock_levels(self, warehouse: str | int) -> dict[str, Decimal]:
        """Balance per SKU in one warehouse (``0``: the total)."""
        with self.store.db.lock:
            return self.store.stock_levels(int(warehouse))

    def available(self, warehouse: str | int) -> dict[str, Decimal]:
        """What may be sold per SKU in one warehouse: Netsis keeps no reservations, so the balance."""
        return self.stock_levels(warehouse)

    def price_levels(self, price_list: str) -> dict[str, Decimal]:
        with self.store.db.lock:
            return self.store.price_levels(price_list)

    def add_item(
        self,
        code: str,
        *,
        name: str = "",
        vat: Decimal = Decimal(20),
        stock: Mapping[str, Decimal] = MappingProxyType({}),
        prices: Mapping[str, Decimal] = MappingProxyType({}),
    ) -> None:
        """A stock card stamped now, its balance per warehouse and a price row per price group."""
        with self.store.db.lock:
            self.store.add_item(code, name, vat, {int(wh): qty for wh, qty in stock.items()}, prices)

    def delete_item(self, code: str) -> None:
        """The stock card, its balances and price rows are gone. KeyError for an unknown code."""
        with self.store.db.lock:
            self.store.delete_item(code)

    def orders(self) -> list[dict[str, JsonValue]]:
        """Every sales order (ftSSip) received, as ``GET /ItemSlips/ftSSip;{no};`` renders it; the shop's
        order number is wherever the client put it (the gateway: ``FatUst.EKACK1``)."""
        return self._slips(SALES_ORDER)

    def dispatches(self) -> list[dict[str, JsonValue]]:
        return self._slips(SALES_DISPATCH)

    def customers(self) -> list[dict[str, JsonValue]]:
        with self.store.db.lock:
            rows = self.store.db.rows("SELECT * FROM TBLCASABIT ORDER BY CARI_KOD")
        return [_group(_ARP_BASIC, _ARP_EXTRA, row, "CariTemelBilgi", "CariEkBilgi", ()) for row in rows]

    def ship(self, order_no: str, tracking: str, carrier: str | None = None) -> str:
        """Ship a whole order (by ``FATIRS_NO`` or the shop number in ``EKACK1``) with a dispatch note
        (ftSIrs) whose lines carry ``STra_SIPNUM``; returns the dispatch number."""
        fields = (self.settings.tracking_field, self.settings.carrier_field)
        with self.store.db.lock:
            return self.store.ship(order_no, tracking, carrier, fields)

    def reject_next_slip(self, desc: str | None, *, code: str = "101", times: int = 1) -> None:
        """The next ``times`` slip POSTs fail: ``IsSuccessful: false`` with ``code``/``desc``, or, with
        ``desc=None``, the body ``null`` (not saved)."""
        with self._auth_lock:
            self._rejections.extend([None if desc is None else (code, desc)] * times)

    def sessions(self) -> int:
        """Live tokens, i.e. licence seats taken."""
        now = self.clock()
        with self._auth_lock:
            return sum(1 for t in self._tokens.values() if t.expires_at > now)

    def release_seats(self) -> None:
        """Revoke every token, as an administrator does in NetOpenX Manager."""
        with self._auth_lock:
            self._tokens.clear()

    def expire_tokens(self) -> None:
        with self._auth_lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def configure(self, **changes: object) -> None:
        """Change settings of a running emulator (all but base_path)."""
        fixed = _FIXED & set(changes)
        if fixed:
            raise ValueError(f"cannot change {', '.join(sorted(fixed))} of a running emulator")
        self.settings = NetsisSettings.model_validate({**self.settings.model_dump(), **changes})
        self._set_window()

    def stats(self) -> NetsisStats:
        with self._stats.lock:
            return self._stats.data.model_copy(deep=True)

    def reset_stats(self) -> None:
        with self._stats.lock:
            self._stats.data = NetsisStats()

    def reset(self) -> None:
        """Back to the generated catalog; tokens, settings and faults stay."""
        self.store.reset()

    def state(self) -> dict[str, JsonValue]:
        db = self.store.db
        with db.lock:
            counts: dict[str, JsonValue] = {
                name: db.scalar(f"SELECT COUNT(*) FROM {table}")
                for name, table in (
                    ("items", "TBLSTSABIT"),
                    ("customers", "TBLCASABIT"),
                    ("prices", "TBLSTOKFIAT"),
                    ("orders", "TBLSIPAMAS"),
                    ("invoices_and_dispatches", "TBLFATUIRS"),
                )
            }
        return {
            **counts,
            "warehouses": list(self.warehouses),
            "price_lists": list(self.price_lists),
            "sessions": self.sessions(),
            "faults": self.faults.config.model_dump(),
            "settings": self.settings.model_dump(exclude={"password", "dbpassword"}),
        }

    def _slips(self, doc_type: int) -> list[dict[str, JsonValue]]:
        kind = SLIP_KINDS[doc_type]
        with self.store.db.lock:
            return [self.store.render_slip(kind, row) for row in self.store.slip_rows(kind)]

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
                try:
                    if not admin:
                        with self._stats.lock:
                            self._stats.data.calls[name] = self._stats.data.calls.get(name, 0) + 1
                        self._limit()
                    response = await handler(request)
                except _Refusal as exc:
                    response = _json(exc.body, exc.status, exc.headers)
                except NetsisRefused as exc:
                    self._stats.add(business_errors=1)
                    response = _json(_failure(exc.code, exc.desc))
                if not admin:
                    with self._stats.lock:
                        by_status = self._stats.data.by_status
                        by_status[response.status_code] = by_status.get(response.status_code, 0) + 1
                return response

            return Route(path, endpoint, methods=list(methods))

        admin = ADMIN_PREFIX
        routes = [
            route(f"{base}/token", self._token, "GET", "POST"),
            route(f"{base}/revoke", self._revoke, "GET", "POST"),
            route(f"{base}/public/Ping", self._ping, "GET", "POST"),
            route(f"{base}/public/Version", self._version, "GET", "POST"),
            route(f"{base}/Items", self._items, "GET"),
            route(f"{base}/Items/PrimInfo", self._prim_info, "GET"),
            route(f"{base}/Items/{{code:path}}", self._item, "GET"),
            route(f"{base}/ARPs", self._arps, "GET"),
            route(f"{base}/ARPs", self._create_arp, "POST"),
            route(f"{base}/ARPs/{{code:path}}", self._arp, "GET"),
            route(f"{base}/Queries", self._queries, "GET", "POST"),
            route(f"{base}/Query", self._query, "GET", "POST"),
            route(f"{base}/ItemSlips", self._slips_list, "GET"),
            route(f"{base}/ItemSlips", self._create_slip, "POST"),
            route(f"{base}/ItemSlips/NewNumber", self._new_number, "POST"),
            route(f"{base}/ItemSlips/{{key:path}}", self._slip, "GET"),
            route(f"{base}/ItemSlips/{{key:path}}", self._delete_slip, "DELETE"),
            route(f"{admin}/state", self._admin_state, "GET", admin=True),
            route(f"{admin}/faults", self._admin_faults, "GET", "PUT", admin=True),
            route(f"{admin}/settings", self._admin_settings, "GET", "PATCH", admin=True),
            route(f"{admin}/stats", self._admin_stats, "GET", admin=True),
            route(f"{admin}/stats/reset", self._admin_stats_reset, "POST", admin=True),
            route(f"{admin}/reset", self._admin_reset, "POST", admin=True),
            route(f"{admin}/tokens/expire", self._admin_expire_tokens, "POST", admin=True),
            route(f"{admin}/seats/release", self._admin_release_seats, "POST", admin=True),
            route(f"{admin}/ship", self._admin_ship, "POST", admin=True),
        ]

        async def not_found(request: Request, exc: Exception) -> Response:
            return _json(
                {"Message": f"No HTTP resource was found that matches the request URI '{request.url}'."}, 404
            )

        async def not_allowed(request: Request, exc: Exception) -> Response:
            return _json({"Message": "The requested resource does not support this http method."}, 405)

        async def crashed(request: Request, exc: Exception) -> Response:
            return _json({"Message": "An error has occurred.", "ExceptionMessage": type(exc).__name__}, 500)

        return Starlette(
            routes=routes, exception_handlers={404: not_found, 405: not_allowed, Exception: crashed}
        )

    def _render_fault(self, kind: str, config: FaultConfig) -> Response:
        if kind == FaultKind.TOO_MANY:
            return self._too_many(max(1, math.ceil(config.retry_after_s)))
        return _json(
            {"Message": "An error has occurred.", "ExceptionMessage": "InjectedFault"}, config.status_5xx
        )

    def _too_many(self, seconds: int) -> Response:
        # UNVERIFIED: NetOpenX documents no rate limit; a 429 with Retry-After is the plausible shape.
        return _json(_failure("429", "Too many requests."), 429, {"Retry-After": str(seconds)})

    def _limit(self) -> None:
        window = self._window
        if window is None:
            return
        allowed, _, wait = window.try_acquire()
        if not allowed:
            self._stats.add(too_many=1)
            seconds = max(1, math.ceil(wait))
            raise _Refusal(429, _failure("429", "Too many requests."), {"Retry-After": str(seconds)})

    # --- auth --------------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        s = self.settings
        raw = await request.body()
        form = self._login_form(raw, request.headers.get("content-type", ""))
        if "dbtype" in form and s.dbtype_crashes:
            raise _Refusal(500, {"Message": "An error has occurred."})
        ok = (
            form.get("grant_type", "password") == "password"
            and _same(form.get("username", ""), s.username)
            and _same(form.get("password", ""), s.password)
            and form.get("dbname", "") == s.dbname
            and _same(form.get("dbuser", ""), s.dbuser)
            and _same(form.get("dbpassword", ""), s.dbpassword)
            and form.get("branchcode", str(s.branch_code)).strip() == str(s.branch_code)
            and form.get("dbtype", "0") in ("0", "vtMSSQL")
        )
        if not ok:
            self._stats.add(auth_failures=1)
            description = (
                f"\r\nSQL : Select Sube_Kodu,MeRKEZMI,ISLETME_KODU FROM TBLSUBELER WITH (NOLOCK) Where "
                f"Sube_Kodu = {s.branch_code}\r\n\r\nLogin failed.(NetsisMS-42000,18456)\r\n"
                " | NetOpenX50.Kernel"
            )
            raise _Refusal(400, {"error": "invalid_grant", "error_description": description})
        now = self.clock()
        with self._auth_lock:
            live = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens = live
            if sum(1 for t in live.values() if t.user == s.username) >= s.seats:
                refused = True
            else:
                refused = False
                token = secrets.token_urlsafe(64)
                live[token] = _Token(s.username, now + s.token_ttl_s)
        if refused:
            self._stats.add(logins_refused=1)
            raise _Refusal(
                s.seat_refusal_status,
                {
                    "error": "access_denied",
                    "error_description": f"{SEAT_TAKEN}: lisans kullanıcı sayısı dolu.",
                },
            )
        self._stats.add(tokens_issued=1)
        return _json({"access_token": token, "token_type": "bearer", "expires_in": s.token_ttl_s})

    def _login_form(self, raw: bytes, content_type: str) -> dict[str, str]:
        text = raw.decode("utf-8", "replace").strip()
        if text.startswith("{") and self.settings.accept_jlogin and "json" in content_type:
            try:
                login = orjson.loads(text)
            except orjson.JSONDecodeError:
                login = None
            if isinstance(login, dict):
                # JLogin of the vendor's .NET client, mapped onto the form keys.
                names = {
                    "netsisuser": "username",
                    "netsispassword": "password",
                    "branchcode": "branchcode",
                    "dbname": "dbname",
                    "dbuser": "dbuser",
                    "dbpassword": "dbpassword",
                    "dbtype": "dbtype",
                }
                form = {names[k.lower()]: str(v) for k, v in login.items() if k.lower() in names}
                if form.get("dbtype") in ("0", "vtMSSQL"):
                    form["dbtype"] = "0"
                return form
        return {k.lower(): v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def _authenticate(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        with self._auth_lock:
            entry = self._tokens.get(token) if scheme.lower() == "bearer" else None
            valid = entry is not None and entry.expires_at > self.clock()
            if entry is not None and not valid:
                del self._tokens[token]
        if not valid:
            self._stats.add(auth_failures=1)
            raise _Refusal(401, {"Message": DENIED})
        return token

    async def _revoke(self, request: Request) -> Response:
        token = self._authenticate(request)
        with self._auth_lock:
            self._tokens.pop(token, None)
        self._stats.add(tokens_revoked=1)
        return _json({"IsSuccessful": True})

    async def _ping(self, request: Request) -> Response:
        return _json({"IsSuccessful": True, "Data": "Pong"})

    async def _version(self, request: Request) -> Response:
        return _json({"IsSuccessful": True, "Data": self.settings.version})

    # --- lists -------------------------------------------------------------------------------------------

    def _page(
        self, request: Request, table: str, columns: str, order: str, where: str = "1 = 1"
    ) -> tuple[list[dict[str, JsonValue]], dict[str, JsonValue]]:
        """One page of ``table`` with the list parameters; returns the rows and the envelope around them."""
        query = {k.lower(): v for k, v in request.query_params.items()}
        s = self.settings
        try:
            offset = int(query.get("offset", "0"))
            limit = int(query.get("limit", str(s.default_limit)))
        except ValueError:
            raise NetsisRefused("101", "offset ve limit sayı olmalıdır.") from None
        if s.max_limit is not None:
            limit = min(limit, s.max_limit)
        if query.get("q"):
            where = f"({where}) AND ({query['q']})"
        sort = query.get("sort")
        if sort:
            order = _sort(sort)
        db = self.store.db
        try:
            with db.lock:
                total = db.query(f"SELECT COUNT(*) AS N FROM {table} WHERE {where}")[0]["N"]
                rows = db.query(
                    f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {order} "
                    f"OFFSET {max(offset, 0)} ROWS FETCH NEXT {max(limit, 1)} ROWS ONLY"
                )
        except SqlError as exc:
            raise NetsisRefused(str(exc.number), exc.message) from None
        count = int(total) if isinstance(total, int) else 0
        href = str(request.url.replace(query=""))
        params = {k: v for k, v in request.query_params.items() if k.lower() not in ("offset", "limit")}

        def link(at: int) -> dict[str, JsonValue]:
            return {"Href": f"{href}?{urlencode({**params, 'offset': at, 'limit': limit})}"}

        envelope: dict[str, JsonValue] = {
            "Offset": offset,
            "Limit": limit,
            "TotalCount": count,
            "IsSuccessful": True,
            "ErrorCode": None,
            "ErrorDesc": None,
            "Meta": {"Href": href, "MediaType": "application/json", "ApiVersion": "v2"},
            "First": link(0),
            "Next": link(offset + limit) if offset + len(rows) < count else None,
            "Previous": link(max(offset - limit, 0)) if offset > 0 else None,
        }
        return rows, envelope

    async def _items(self, request: Request) -> Response:
        self._authenticate(request)
        rows, envelope = self._page(request, "TBLSTSABIT", f"*, {_MIKTAR}", "STOK_KODU")
        fields = _fields(request)
        envelope["Data"] = [_item(row, fields) for row in rows]
        return _json(envelope)

    async def _prim_info(self, request: Request) -> Response:
        self._authenticate(request)
        rows, envelope = self._page(request, "TBLSTSABIT", f"*, {_MIKTAR}", "STOK_KODU")
        data: list[JsonValue] = []
        for row in rows:
            flat: dict[str, JsonValue] = {
                "Stok_Kodu": row["STOK_KODU"],
                "Stok_Adi": row["STOK_ADI"],
                "Miktar": row["MIKTAR"] or 0.0,
                "KDV_Orani": row["KDV_ORANI"],
            }
            flat.update({f"Satis_Fiat{n}": row[f"SATIS_FIAT{n}"] for n in range(1, 5)})
            data.append(flat)
        envelope["Data"] = data
        return _json(envelope)

    async def _item(self, request: Request) -> Response:
        self._authenticate(request)
        code = unquote(str(request.path_params["code"]))
        with self.store.db.lock:
            raw = self.store.raw_code(code)
            rows = (
                self.store.db.rows(f"SELECT *, {_MIKTAR} FROM TBLSTSABIT WHERE STOK_KODU = ?", (raw,))
                if raw
                else []
            )
        if not rows:
            return self._missing(f"{code} kodlu stok bulunamadı.")
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": _item(rows[0], ())})

    async def _arps(self, request: Request) -> Response:
        self._authenticate(request)
        rows, envelope = self._page(request, "TBLCASABIT", "*", "CARI_KOD")
        fields = _fields(request)
        envelope["Data"] = [
            _group(_ARP_BASIC, _ARP_EXTRA, r, "CariTemelBilgi", "CariEkBilgi", fields) for r in rows
        ]
        return _json(envelope)

    async def _arp(self, request: Request) -> Response:
        self._authenticate(request)
        code = unquote(str(request.path_params["code"]))
        rows = self.store.db.rows("SELECT * FROM TBLCASABIT WHERE CARI_KOD = ?", (code,))
        if not rows:
            return self._missing(f"{code} kodlu cari bulunamadı.")
        data = _group(_ARP_BASIC, _ARP_EXTRA, rows[0], "CariTemelBilgi", "CariEkBilgi", ())
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": data})

    async def _create_arp(self, request: Request) -> Response:
        self._authenticate(request)
        body = _decode(await request.body())
        basic = body.get("CariTemelBilgi") if isinstance(body, dict) else None
        if not isinstance(basic, dict):
            raise NetsisRefused("101", "CariTemelBilgi zorunludur.")
        by_name = {k.upper(): v for k, v in _ARP_BASIC.items()}
        values: dict[str, Param] = {}
        for key, value in basic.items():
            column = by_name.get(key.upper())
            if column is not None and isinstance(value, str | int | float) and not isinstance(value, bool):
                values[column] = value
        with self.store.db.lock:
            self.store.create_customer(values)
            row = self.store.db.rows("SELECT * FROM TBLCASABIT WHERE CARI_KOD = ?", (values["CARI_KOD"],))[0]
        self._stats.add(customers_created=1)
        data = _group(_ARP_BASIC, _ARP_EXTRA, row, "CariTemelBilgi", "CariEkBilgi", ())
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": data})

    def _missing(self, desc: str) -> Response:
        if self.settings.missing_record == "404":
            return _json({"Message": desc}, 404)
        self._stats.add(business_errors=1)
        return _json(_failure("101", desc))

    # --- SQL ---------------------------------------------------------------------------------------------

    async def _queries(self, request: Request) -> Response:
        if self.settings.query_routes == "Query":
            raise _Refusal(
                404, {"Message": f"No HTTP resource was found that matches the request URI '{request.url}'."}
            )
        return await self._sql(request)

    async def _query(self, request: Request) -> Response:
        if self.settings.query_routes == "Queries":
            raise _Refusal(
                404, {"Message": f"No HTTP resource was found that matches the request URI '{request.url}'."}
            )
        return await self._sql(request)

    async def _sql(self, request: Request) -> Response:
        self._authenticate(request)
        if request.method == "GET":
            sql = request.query_params.get("tsql", "")
        else:
            value = _decode(await request.body())
            sql = value if isinstance(value, str) else ""
        if not sql.strip():
            raise NetsisRefused("101", "tsql boş olamaz.")
        self._stats.add(sql_queries=1)
        try:
            rows = self.store.db.query(sql)
        except SqlError as exc:
            raise NetsisRefused(str(exc.number), exc.message) from None
        data: list[JsonValue] = list(rows)
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": data})

    # --- item slips --------------------------------------------------------------------------------------

    async def _slips_list(self, request: Request) -> Response:
        self._authenticate(request)
        kind = _kind(request.query_params.get("docType") or request.query_params.get("doctype") or "ftSSip")
        rows, envelope = self._page(
            request, kind.header, "*", "KAYITTARIHI, FATIRS_NO", f"FTIRSIP = '{kind.code}'"
        )
        with self.store.db.lock:
            envelope["Data"] = [self.store.render_slip(kind, row) for row in rows]
        return _json(envelope)

    async def _slip(self, request: Request) -> Response:
        self._authenticate(request)
        kind, number = _slip_key(str(request.path_params["key"]))
        with self.store.db.lock:
            rows = self.store.slip_rows(kind, "FATIRS_NO = ?", (number,))
            data = self.store.render_slip(kind, rows[0]) if rows else None
        if data is None:
            return self._missing(f"{number} numaralı {DOC_TYPES[kind.number]} belgesi bulunamadı.")
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": data})

    async def _delete_slip(self, request: Request) -> Response:
        self._authenticate(request)
        kind, number = _slip_key(str(request.path_params["key"]))
        with self.store.db.lock:
            found = self.store.delete_slip(kind, number)
        if not found:
            return self._missing(f"{number} numaralı belge bulunamadı.")
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": None})

    async def _new_number(self, request: Request) -> Response:
        self._authenticate(request)
        body = _decode(await request.body())
        if not isinstance(body, dict):
            raise NetsisRefused("101", "DocumentType ve Code zorunludur.")
        kind = _kind(body.get("DocumentType"))
        series = body.get("Code")
        series_text = series if isinstance(series, str) else ""
        if len(series_text) >= 15:
            raise NetsisRefused("101", "Seri en fazla 14 karakter olabilir.")
        with self.store.db.lock:
            number = self.store.next_number(kind, series_text)
        return _json({"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None, "Data": number})

    async def _create_slip(self, request: Request) -> Response:
        self._authenticate(request)
        body = _decode(await request.body())
        with self._auth_lock:
            pending = bool(self._rejections)
            forced = self._rejections.pop(0) if pending else None
        if pending and forced is None:
            return Response(b"null", 200, media_type=JSON)
        if forced is not None:
            raise NetsisRefused(*forced)
        if not isinstance(body, dict):
            raise NetsisRefused("101", "Geçersiz belge.")
        kind = _kind(body.get("FaturaTip", body.get("docType", request.query_params.get("docType"))))
        header, lines = self._slip_columns(kind, body)
        with self.store.db.lock:
            if self.store.slip_exists(kind, str(header["FATIRS_NO"])):
                self._stats.add(duplicates_rejected=1)
                raise NetsisRefused("101", f"{header['FATIRS_NO']} Nolu Evrak Daha önceden kaydedilmiş.")
            self.store.insert_slip(kind, header, lines)
            rows = self.store.slip_rows(kind, "FATIRS_NO = ?", (header["FATIRS_NO"],))
            data = self.store.render_slip(kind, rows[0])
        self._stats.add(slips_created=1)
        answer: dict[str, JsonValue] = {"IsSuccessful": True, "ErrorCode": None, "ErrorDesc": None}
        if self.settings.echo_slip:
            answer["Data"] = data
        return _json(answer)

    def _slip_columns(
        self, kind: SlipKind, body: dict[str, JsonValue]
    ) -> tuple[dict[str, Param], list[dict[str, Param]]]:
        store = self.store
        head = body.get("FatUst")
        kalems = body.get("Kalems")
        if not isinstance(head, dict):
            raise NetsisRefused("101", "FatUst zorunludur.")
        if not isinstance(kalems, list) or not kalems:
            raise NetsisRefused("101", "Belgede kalem yok.")
        number = _text(head.get("FATIRS_NO"))
        if body.get("KayitliNumaraOtomatikGuncellensin") is True:
            series = _text(body.get("Seri")) or number[:3] or "A"
            number = store.next_number(kind, series)
        elif len(number) != 15:
            raise NetsisRefused("204", f"Belge numarası 15 karakter olmalıdır: {number!r}")
        customer = _text(head.get("CariKod") or head.get("CARI_KOD"))
        if not customer or not store.customer_exists(customer):
            raise NetsisRefused("101", f"Cari Kod Geçersiz: {customer}")
        date = _date(head.get("Tarih"), self.clock())
        if date is None:
            raise NetsisRefused("101", f"Tarih geçersiz: {head.get('Tarih')!r}")
        header: dict[str, Param] = {
            "FATIRS_NO": number,
            "CARI_KODU": customer,
            "TARIH": date,
            "TIPI": _int(head.get("TIPI"), 2),
            "KDV_DAHILMI": "E" if head.get("KDV_DAHILMI") is True else "H",
            "DOVIZTIP": _int(head.get("DOVIZTIP"), 0),
            "ACIKLAMA": _text(head.get("Aciklama")),
            "SUBE_KODU": _int(head.get("Sube_Kodu"), self.settings.branch_code),
        }
        for name in (f"EKACK{n}" for n in range(1, 17)):
            if head.get(name):
                header[name] = _text(head.get(name))
        lines: list[dict[str, Param]] = []
        for index, raw_line in enumerate(kalems, 1):
            line = raw_line if isinstance(raw_line, dict) else {}
            code = _text(line.get("StokKodu"))
            raw_code = store.raw_code(code) if code else None
            if raw_code is None:
                raise NetsisRefused("101", f"{index}. kalem: Stok Kodu Geçersiz: {code}")
            warehouse = _int(line.get("DEPO_KODU"), -1)
            if warehouse not in store.warehouse_codes:
                raise NetsisRefused("101", "Kalem Depo Kodu Geçersiz")
            quantity = _number(line.get("STra_GCMIK"))
            if quantity is None or quantity <= 0:
                raise NetsisRefused("101", f"{index}. kalem: miktar geçersiz.")
            net = _number(line.get("STra_NF"))
            lines.append(
                {
                    "STOK_KODU": raw_code,
                    "SIRA": _int(line.get("Sira"), index),
                    "STHAR_GCMIK": quantity,
                    "STHAR_NF": net or 0.0,
                    "STHAR_BF": _number(line.get("STra_BF")) or net or 0.0,
                    "STHAR_KDV": _number(line.get("STra_KDV")) or 0.0,
                    "DEPO_KODU": warehouse,
                    "STHAR_DOVTIP": _int(line.get("STra_DOVTIP"), 0),
                    "STHAR_HTUR": _text(line.get("STra_HTUR")) or "H",
                    "STHAR_TESTAR": _date(line.get("STra_testar"), self.clock()),
                    "STHAR_SIPNUM": _text(line.get("STra_SIPNUM")),
                }
            )
        return header, lines

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
        return _json(self.settings.model_dump(exclude={"password", "dbpassword"}))

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

    async def _admin_release_seats(self, request: Request) -> Response:
        self.release_seats()
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


# --- helpers ---------------------------------------------------------------------------------------------


def _group(
    basic: Mapping[str, str],
    extra: Mapping[str, str],
    row: Mapping[str, JsonValue],
    basic_name: str,
    extra_name: str,
    fields: tuple[str, ...],
) -> dict[str, JsonValue]:
    wanted = {f.upper() for f in fields}

    def part(names: Mapping[str, str]) -> dict[str, JsonValue]:
        return {k: row[c] for k, c in names.items() if not wanted or k.upper() in wanted}

    return {basic_name: part(basic), extra_name: part(extra)}


def _item(row: Mapping[str, JsonValue], fields: tuple[str, ...]) -> dict[str, JsonValue]:
    record = _group(_ITEM_BASIC, _ITEM_EXTRA, row, "StokTemelBilgi", "StokEkBilgi", fields)
    basic = record["StokTemelBilgi"]
    if isinstance(basic, dict) and (not fields or "MIKTAR" in {f.upper() for f in fields}):
        basic["Miktar"] = row.get("MIKTAR") or 0.0
    extra = record["StokEkBilgi"]
    if isinstance(extra, dict) and not fields:
        extra.update({"Tur": "D", "Birim_Maliyet": 0.0})
    return record


def _fields(request: Request) -> tuple[str, ...]:
    raw = request.query_params.get("fields", "")
    return tuple(f.strip() for f in raw.split(",") if f.strip())


def _sort(sort: str) -> str:
    parts = []
    for item in sort.split(","):
        words = item.split()
        if not words or len(words) > 2 or not _IDENT.match(words[0]):
            raise NetsisRefused("101", f"Geçersiz sıralama: {item!r}")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise NetsisRefused("101", f"Geçersiz sıralama: {item!r}")
        parts.append(f"{words[0]} {direction}")
    return ", ".join(parts)


def _kind(value: JsonValue) -> SlipKind:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        number = int(value) if value.isdigit() else DOC_TYPE_BY_NAME.get(value.lower())
    kind = SLIP_KINDS.get(number) if number is not None else None
    if kind is None:
        raise NetsisRefused("101", f"Desteklenmeyen belge tipi: {value!r}")
    return kind


def _slip_key(key: str) -> tuple[SlipKind, str]:
    """``ftSSip;ENT1-0000000864;CARI`` (each part URL-escaped, the cari part optional)."""
    parts = [unquote(p) for p in key.split(";")]
    if len(parts) < 2 or not parts[1]:
        raise NetsisRefused("101", f"Geçersiz belge anahtarı: {key!r}")
    return _kind(parts[0]), parts[1]


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _decode(raw: bytes) -> JsonValue:
    if not raw.strip():
        return None
    try:
        value: JsonValue = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise NetsisRefused("101", "Geçersiz JSON.") from None
    return value


def _date(value: JsonValue, now: float) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` (the clients' form) or ISO-8601 (.NET DateTime); stored as ISO."""
    if value is None or value == "":
        return iso(now)
    match = _DATE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second).strftime("%Y-%m-%dT%H:%M:%S")
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
