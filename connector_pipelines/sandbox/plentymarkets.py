"""Plentymarkets (PlentyONE) REST API emulator, built from `shared/contracts/plentymarkets.md`.

A real HTTP server (Starlette, served by :class:`~connector_pipelines.sandbox.server.EmulatorServer`)
with Plenty's login and token rules, page envelope, `with=`/`lang=` handling, delta filters, `X-Plenty-*`
rate-limit headers and error bodies, over a deterministic seeded catalog of any size. Every point the
contract marks as inferred or unverified is a :class:`PlentySettings` field.

Typical use::

    emulator = PlentyEmulator(products=200, variants=3, seed=7)
    with emulator.serve() as server:
        ...  # talk to server.base_url + "/rest/..."
        emulator.set_price(1000, 19.99)  # moves relatedUpdatedAt, as Plenty does

Admin routes (no auth) live under ``/__sandbox``: ``GET state``, ``POST mutate``, ``GET|POST faults``,
``GET stats``, ``POST stats/reset``, ``POST tokens/expire``.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Literal, TypeVar
from urllib.parse import parse_qsl, unquote_plus
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.plentymarkets_catalog import (
    IMAGE_SIZES,
    CatalogOptions,
    CatalogSummary,
    Change,
    ItemFilter,
    ItemPatch,
    ItemQuery,
    PlentyCatalog,
    StockRow,
    TimeRange,
    Variation,
    VariationPatch,
    VariationQuery,
    image_bytes,
    manufacturer_logo_bytes,
)
from connector_pipelines.sandbox.plentymarkets_render import (
    ITEM_RELATIONS,
    JSON,
    VARIATION_RELATIONS,
    Renderer,
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

R_LOGIN = "/rest/login"
R_REFRESH = "/rest/login/refresh"
R_LOGOUT = "/rest/logout"
R_ITEMS = "/rest/items"
R_VARIATIONS = "/rest/items/variations"
R_VARIATION_SALES_PRICES = "/rest/items/variations/variation_sales_prices"
R_ATTRIBUTES = "/rest/items/attributes"
R_ATTRIBUTE_VALUES = "/rest/items/attributes/{attributeId}/values"
R_SALES_PRICES = "/rest/items/sales_prices"
R_MANUFACTURERS = "/rest/items/manufacturers"
R_UNITS = "/rest/items/units"
R_BARCODES = "/rest/items/barcodes"
R_PROPERTIES = "/rest/items/properties"
R_VARIATION_STOCK = "/rest/items/{itemId}/variations/{variationId}/stock"
R_ITEM = "/rest/items/{itemId}"
R_ITEM_VARIATIONS = "/rest/items/{itemId}/variations"
R_ITEM_VARIATION = "/rest/items/{itemId}/variations/{variationId}"
R_ITEM_IMAGES = "/rest/items/{itemId}/images"
R_VARIATION_LIST = "/rest/items/{itemId}/variations/{variationId}/{list}"
# Sub-lists of one variation (bare arrays in Plenty's OpenAPI) -> the `with` relation that renders the same
VARIATION_LISTS: dict[str, str] = {
    "images": "images",
    "market_ident_numbers": "marketItemNumbers",
    "variation_additional_skus": "variationAdditionalSkus",
    "variation_barcodes": "variationBarcodes",
    "variation_bundles": "variationBundleComponents",
    "variation_categories": "variationCategories",
    "variation_clients": "variationClients",
    "variation_component_bundles": "variationComponentBundles",
    "variation_default_categories": "variationDefaultCategory",
    "variation_markets": "variationMarkets",
    "variation_properties": "variationProperties",
    "variation_sales_prices": "variationSalesPrices",
    "variation_skus": "variationSkus",
    "variation_suppliers": "variationSuppliers",
    "variation_warehouses": "variationWarehouses",
}
R_CATEGORIES = "/rest/categories"
R_STOCK = "/rest/stockmanagement/stock"
R_WAREHOUSES = "/rest/stockmanagement/warehouses"
R_WEBSTORES = "/rest/webstores"
R_VAT = "/rest/vat"
R_VAT_STANDARD = "/rest/vat/standard"
R_UNKNOWN = "/rest/{path:path}"  # everything else under /rest: 404 after auth

VARIATION_FILTERS: frozenset[str] = frozenset(
    {
        "id",
        "itemId",
        "variationTagId",
        "itemName",
        "flagOne",
        "flagTwo",
        "storeSpecial",
        "categoryId",
        "isMain",
        "isActive",
        "barcode",
        "numberExact",
        "numberFuzzy",
        "isBundle",
        "plentyId",
        "referrerId",
        "supplierNumber",
        "sku",
        "manufacturerId",
        "updatedBetween",
        "createdBetween",
        "relatedUpdatedBetween",
        "itemDescription",
        "stockWarehouseId",
        "supplierId",
    }
)
_VARIATION_PARAMS = VARIATION_FILTERS | {"with", "lang", "page", "itemsPerPage"}
# GET /rest/items/{itemId}/variations: the filters Plenty's OpenAPI lists for that route
ITEM_VARIATION_FILTERS: frozenset[str] = frozenset(
    {
        "isMain",
        "isActive",
        "barcode",
        "numberExact",
        "numberFuzzy",
        "isBundle",
        "supplierNumber",
        "manufacturerId",
        "updatedBetween",
        "createdBetween",
        "relatedUpdatedBetween",
    }
)
_ITEM_VARIATION_PARAMS = ITEM_VARIATION_FILTERS | {"with", "lang", "page", "itemsPerPage"}
_STOCK_COLUMNS: frozenset[str] = frozenset(
    {
        "itemId",
        "variationId",
        "warehouseId",
        "stockPhysical",
        "reservedStock",
        "reservedEbay",
        "reorderDelta",
        "stockNet",
        "reordered",
        "warehousePriority",
        "reservedBundle",
        "averagePurchasePrice",
        "updatedAt",
    }
)

T = TypeVar("T")
_OAUTH_INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, includes a parameter "
    "more than once, or is otherwise malformed."
)
ItemNumberFilter = Literal["manufacturerId", "flagOne", "flagTwo"]
ItemPeriodFilter = Literal["updatedBetween", "variationUpdatedBetween", "variationRelatedUpdatedBetween"]


# -- settings --------------------------------------------------------------------------------------------


class RateWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1)
    period_s: float = Field(gt=0)


class PlentySettings(BaseModel):
    """Everything the contract leaves open, with the contract's suggested defaults."""

    model_config = ConfigDict(extra="forbid")

    username: str = "sandbox"
    password: str = "sandbox-password"  # noqa: S105 -- the emulator's own test credential
    token_ttl_s: float = Field(86400.0, gt=0, description="access token lifetime; shrink it in tests")
    refresh_token_ttl_s: float = Field(30 * 86400.0, gt=0)
    max_sessions: int = Field(40, ge=1, description="concurrent sessions of the user (max_current_sessions)")
    session_overflow: Literal["evict_oldest", "reject"] = "evict_oldest"
    login_encodings: list[Literal["json", "form", "query"]] = ["json", "form", "query"]
    refresh_sources: list[Literal["json", "form", "bearer"]] = ["json", "form", "bearer"]
    refresh_body_keys: Literal["camel", "both"] = Field(
        "camel", description="TokenData is camelCase; 'both' adds the snake_case keys of the login body"
    )
    logout_routes: list[Literal["post_logout", "delete_login"]] = Field(
        ["post_logout"],  # pydantic copies list defaults per instance
        description="POST /rest/logout is Plenty's; DELETE /rest/login is only a client library's guess",
    )
    login_error_style: Literal["oauth", "contract"] = Field(
        "oauth",
        description='failed login: the OAuth library\'s {"error","message"} (401 bad credentials, 400 '
        "missing ones) or the contract's error envelope (401)",
    )

    default_items_per_page: int = Field(50, ge=1)
    max_items_per_page: int = Field(250, ge=1)
    items_per_page_caps: dict[str, int] = Field(
        default_factory=dict, description="route path -> its own itemsPerPage cap (e.g. 100)"
    )
    items_per_page_as_string: bool | list[str] = Field(
        False, description="answer itemsPerPage as a string: everywhere (True) or on these route paths"
    )
    out_of_range_page: Literal["clamp", "empty"] = Field(
        "clamp", description="clamp: answer the last page with its own page number; empty: no entries"
    )
    bare_array_routes: list[str] = Field(
        default_factory=lambda: [R_WEBSTORES, R_WAREHOUSES, R_VARIATION_STOCK],
        description="list routes answered as a bare JSON array instead of the page envelope",
    )

    rate_limits: bool = Field(False, description="enforce the windows (off by default for speed)")
    rate_limit_scope: Literal["token", "user", "global"] = "token"
    short_window: RateWindow = RateWindow(limit=200, period_s=20)
    long_window: RateWindow = RateWindow(limit=166_000, period_s=29_770)
    route_window: RateWindow = RateWindow(limit=200, period_s=20)
    route_windows: dict[str, RateWindow] = Field(default_factory=dict, description="route path -> window")
    route_costs: dict[str, int] = Field(
        default_factory=lambda: {R_VARIATIONS: 2}, description="short-window units a call costs (default 1)"
    )

    error_style: Literal["nested", "flat"] = Field(
        "nested", description='nested: {"error":{"code","message"}}; flat: {"code","message"}'
    )
    validation_errors_in: Literal["error", "top"] = "error"
    accept_plus_as_space: bool = Field(True, description="read '... 01:00' as '+01:00' (unencoded '+')")
    accept_open_between: bool = Field(True, description="'start' without ',end' means up to now")

    timezone: str = "Europe/Berlin"
    system_language: Literal["de", "en"] = "de"
    prices_gross: bool = Field(True, description="sales prices are gross; False renders them net of VAT")
    catalog_anchor: datetime = Field(
        datetime(2025, 6, 1, 8, 0, tzinfo=UTC), description="generated timestamps lie before this instant"
    )

    @classmethod
    def realistic(cls, **overrides: object) -> PlentySettings:
        """Live-tenant rate limits switched on (short 200/20 s, long 166,000/~8 h, variations cost 2)."""
        return cls.model_validate({"rate_limits": True, **overrides})


# -- errors and parameters -------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, message: str, validation_errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.validation_errors = validation_errors


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


_ARRAY_KEY = re.compile(r"^([^\[\]]+)\[[^\]]*\]$")
_NUMERIC = re.compile(r"^-?\d+(?:\.\d+)?$")
_OFFSET_AS_SPACE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$"
)
# `or=(a=1&b=2)` / `or[]=(...)`, the parentheses possibly percent-encoded
_OR_PARAM = re.compile(r"(?:^|(?<=&))or(?:\[\]|%5B%5D)?=(\(|%28)(.*?)(?:\)|%29)(?=&|$)", re.IGNORECASE)
_RELATIVE = re.compile(r"^([+-]?\d+)\s*(sec|second|min|minute|hour|day|week|month|year)s?(\s+ago)?$")
_UNIT_SECONDS = {
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}


def parse_date(raw: str, *, tz: ZoneInfo, plus_as_space: bool = True) -> float:
    """Plenty's date parameters: unix seconds, ISO-8601 (offset optional), a few strtotime forms."""
    text = raw.strip()
    if _NUMERIC.match(text):
        return float(text)
    spaced = _OFFSET_AS_SPACE.match(text)
    if spaced:
        if not plus_as_space:
            raise ValueError(f"invalid date {raw!r}")
        text = f"{spaced[1]}+{spaced[2]}"
    lowered = text.lower()
    if lowered == "now":
        return time.time()
    if lowered in ("today", "yesterday", "tomorrow"):
        midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        shift = {"today": 0, "yesterday": -1, "tomorrow": 1}[lowered]
        return (midnight + timedelta(days=shift)).timestamp()
    relative = _RELATIVE.match(lowered)
    if relative:
        seconds = int(relative[1]) * _UNIT_SECONDS[relative[2]]
        return time.time() + (-seconds if relative[3] else seconds)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()


class Params:
    """Query parameters the way Plenty reads them: comma lists, PHP `name[]`/`name[0]` arrays, '' = absent."""

    def __init__(self, pairs: Sequence[tuple[str, str]], settings: PlentySettings, tz: ZoneInfo) -> None:
        self.settings = settings
        self.tz = tz
        self.values: dict[str, list[str]] = {}
        for key, value in pairs:
            array = _ARRAY_KEY.match(key)
            self.values.setdefault(array[1] if array else key, []).append(value)

    def reject_unknown(self, known: frozenset[str]) -> None:
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise ApiError(
                422,
                "The given data was invalid.",
                [f"The filter '{name}' is not supported." for name in unknown],
            )

    def raw(self, name: str) -> str | None:
        values = [v for v in self.values.get(name, ()) if v.strip()]
        return ",".join(values) if values else None

    def strings(self, name: str) -> tuple[str, ...] | None:
        raw = self.raw(name)
        if raw is None:
            return None
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def _invalid(self, name: str, what: str) -> ApiError:
        return ApiError(422, "The given data was invalid.", [f"The {name} must be {what}."])

    def ints(self, name: str) -> tuple[int, ...] | None:
        parts = self.strings(name)
        if parts is None:
            return None
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise self._invalid(name, "a comma-separated list of integers") from None

    def integer(self, name: str) -> int | None:
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise self._invalid(name, "an integer") from None

    def floats(self, name: str) -> tuple[float, ...] | None:
        parts = self.strings(name)
        if parts is None:
            return None
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            raise self._invalid(name, "a comma-separated list of numbers") from None

    def boolean(self, name: str) -> bool | None:
        raw = self.raw(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in ("1", "true", "y", "yes"):
            return True
        if lowered in ("0", "false", "n", "no"):
            return False
        raise self._invalid(name, "a boolean")

    def date(self, name: str) -> float | None:
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return parse_date(raw, tz=self.tz, plus_as_space=self.settings.accept_plus_as_space)
        except ValueError:
            raise self._invalid(name, "a unix timestamp or an ISO 8601 date") from None

    def between(self, name: str) -> TimeRange | None:
        raw = self.raw(name)
        if raw is None:
            return None
        parts = raw.split(",")
        try:
            if len(parts) > 2 or not parts[0].strip():
                raise ValueError(raw)
            plus = self.settings.accept_plus_as_space
            start = parse_date(parts[0], tz=self.tz, plus_as_space=plus)
            if len(parts) == 2 and parts[1].strip():
                return TimeRange(start, parse_date(parts[1], tz=self.tz, plus_as_space=plus))
            if not self.settings.accept_open_between:
                raise ValueError(raw)
            return TimeRange(start)
        except ValueError:
            raise self._invalid(name, "a period 'start,end' of unix timestamps or ISO 8601 dates") from None

    def relations(self, *, keep_nested: bool = False) -> tuple[str, ...]:
        """`with` values in request order (so output is stable); `itemProperties.valueTexts` counts as
        `itemProperties` unless ``keep_nested``."""
        parts = self.strings("with") or ()
        return tuple(dict.fromkeys(p if keep_nested else p.split(".", 1)[0] for p in parts))

    def langs(self) -> tuple[str, ...] | None:
        parts = self.strings("lang")
        return tuple(p.lower() for p in parts) if parts else None


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


# -- stats -----------------------------------------------------------------------------------------------


class PlentyStats(BaseModel):
    """Requests the emulator answered, per route template (``"GET /rest/items/variations"``)."""

    total: int
    requests: dict[str, int]
    statuses: dict[str, int]
    rate_limited: int
    faults: dict[str, int]


class _StatsCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.rate_limited = 0

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[route] += 1
            self.statuses[status] += 1
            if status == 429:
                self.rate_limited += 1

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.rate_limited = 0


# -- admin request bodies --------------------------------------------------------------------------------


class UpdateVariation(BaseModel):
    op: Literal["update_variation"]
    variation_id: int
    patch: VariationPatch


class UpdateItem(BaseModel):
    op: Literal["update_item"]
    item_id: int
    patch: ItemPatch


class SetPrice(BaseModel):
    op: Literal["set_price"]
    variation_id: int
    price: float = Field(ge=0)
    sales_price_id: int = 1


class SetStock(BaseModel):
    op: Literal["set_stock"]
    variation_id: int
    physical_stock: float
    warehouse_id: int = 1


class AddItem(BaseModel):
    op: Literal["add_item"]
    variants: int | None = Field(None, ge=1)


class DeleteItem(BaseModel):
    op: Literal["delete_item"]
    item_id: int


class DeactivateVariation(BaseModel):
    op: Literal["deactivate_variation"]
    variation_id: int


class MoveCategory(BaseModel):
    op: Literal["move_category"]
    category_id: int
    parent_id: int | None


ChangeTarget = Literal["variation", "item", "price", "stock"]


class ChangeRandom(BaseModel):
    op: Literal["change_random"]
    fraction: float = Field(ge=0, le=1)
    seed: int | None = None
    kinds: list[ChangeTarget] = ["variation", "price", "stock"]


Mutation = Annotated[
    UpdateVariation
    | UpdateItem
    | SetPrice
    | SetStock
    | AddItem
    | DeleteItem
    | DeactivateVariation
    | MoveCategory
    | ChangeRandom,
    Field(discriminator="op"),
]
_MUTATION = TypeAdapter[Mutation](Mutation)


class MutationResult(BaseModel):
    changes: list[Change]


class PlentyState(BaseModel):
    catalog: CatalogSummary
    sessions: int
    rate_limits: bool


# -- the emulator ----------------------------------------------------------------------------------------

Handler = Callable[[Request, Params, Session | None], Awaitable[Response]]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _path_int(request: Request, name: str) -> int:
    value = str(request.path_params[name])
    if not value.isdigit():
        raise ApiError(404, "Not Found")
    return int(value)


def base_url_of(request: Request) -> str:
    """The emulator's own absolute base URL, mount prefix included (``request.base_url`` drops it)."""
    scope = request.scope
    return str(URL(scope={**scope, "path": scope.get("root_path", "") + "/", "query_string": b""}))


class PlentyEmulator:
    """A Plentymarkets tenant: seeded catalog, HTTP app (with fault injection), mutations and inspection."""

    def __init__(
        self, settings: PlentySettings | None = None, *, products: int = 20, variants: int = 3, seed: int = 1
    ) -> None:
        self.settings = settings or PlentySettings()
        s = self.settings
        self.catalog = PlentyCatalog(
            products,
            variants,
            seed,
            CatalogOptions(
                timezone=s.timezone,
                anchor=s.catalog_anchor,
                prices_gross=s.prices_gross,
                system_language=s.system_language,
            ),
        )
        self.tz = ZoneInfo(s.timezone)
        self.faults = Faults()
        self.sessions = SessionStore(s)
        self.limiter = RateLimiter(s)
        self._stats = _StatsCollector()
        self.app = FaultInjector(self._build_app(), self.faults, self._render_fault)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        """An unstarted server for :attr:`app`: use ``with emulator.serve() as server:`` or ``.start()``."""
        return EmulatorServer(self.app, host=host, port=port, name="plentymarkets")

    # -- mutations (Python API; the admin route /__sandbox/mutate maps onto these) --------------------

    def update_variation(
        self, variation_id: int, patch: VariationPatch | None = None, **fields: object
    ) -> Change:
        """Change variation fields (``name=``, ``isActive=`` ...); moves its ``updatedAt``."""
        return self.catalog.update_variation(variation_id, patch or VariationPatch.model_validate(fields))

    def update_item(self, item_id: int, patch: ItemPatch | None = None, **fields: object) -> Change:
        """Change item fields or texts (``texts={"de": {"name1": ...}}``); moves the item's ``updatedAt``."""
        return self.catalog.update_item(item_id, patch or ItemPatch.model_validate(fields))

    def set_price(self, variation_id: int, price: float, *, sales_price_id: int = 1) -> Change:
        """Moves the price's ``updatedAt`` and the variation's ``relatedUpdatedAt`` (not ``updatedAt``)."""
        return self.catalog.set_price(variation_id, sales_price_id, price)

    def set_stock(self, variation_id: int, physical_stock: float, *, warehouse_id: int = 1) -> Change:
        """Moves only the stock row's ``updatedAt`` (the stock list's delta field)."""
        return self.catalog.set_stock(variation_id, warehouse_id, physical_stock)

    def add_item(self, variants: int | None = None) -> Change:
        return self.catalog.add_item(variants)

    def delete_item(self, item_id: int) -> Change:
        return self.catalog.delete_item(item_id)

    def add_image(self, item_id: int, *, file_of: int | None = None) -> Change:
        """An image uploaded to the item (``file_of``: the same file as that image); see the catalog's."""
        return self.catalog.add_image(item_id, file_of=file_of)

    def delete_image(self, image_id: int) -> Change:
        return self.catalog.delete_image(image_id)

    def deactivate_variation(self, variation_id: int) -> Change:
        return self.catalog.deactivate_variation(variation_id)

    def move_category(self, category_id: int, parent_id: int | None) -> Change:
        return self.catalog.move_category(category_id, parent_id)

    def change_random(
        self,
        fraction: float,
        *,
        seed: int | None = None,
        kinds: Sequence[ChangeTarget] = ("variation", "price", "stock"),
    ) -> list[Change]:
        """Change ``fraction`` of all variations (one random kind each); returns what changed."""
        return self.catalog.change_random(fraction, seed, tuple(kinds))

    def mutate(self, mutation: Mutation) -> list[Change]:
        match mutation:
            case UpdateVariation():
                return [self.catalog.update_variation(mutation.variation_id, mutation.patch)]
            case UpdateItem():
                return [self.catalog.update_item(mutation.item_id, mutation.patch)]
            case SetPrice():
                return [
                    self.set_price(
                        mutation.variation_id, mutation.price, sales_price_id=mutation.sales_price_id
                    )
                ]
            case SetStock():
                return [
                    self.set_stock(
                        mutation.variation_id, mutation.physical_stock, warehouse_id=mutation.warehouse_id
                    )
                ]
            case AddItem():
                return [self.add_item(mutation.variants)]
            case DeleteItem():
                return [self.delete_item(mutation.item_id)]
            case DeactivateVariation():
                return [self.deactivate_variation(mutation.variation_id)]
            case MoveCategory():
                return [self.move_category(mutation.category_id, mutation.parent_id)]
            case ChangeRandom():
                return self.change_random(mutation.fraction, seed=mutation.seed, kinds=mutation.kinds)

    # -- inspection -------------------------------------------------------------------------------------

    def state(self) -> PlentyState:
        return PlentyState(
            catalog=self.catalog.summary(),
            sessions=self.sessions.count(self.settings.username),
            rate_limits=self.settings.rate_limits,
        )

    def stats(self) -> PlentyStats:
        c = self.faults.counters
        collected = self._stats
        return PlentyStats(
            total=sum(collected.requests.values()),
            requests=dict(collected.requests),
            statuses={str(k): v for k, v in sorted(collected.statuses.items())},
            rate_limited=collected.rate_limited,
            faults={"429": c.too_many, "5xx": c.server_error, "slow": c.slow, "drop": c.drop},
        )

    def reset_stats(self) -> None:
        self._stats.reset()

    def expire_tokens(self) -> None:
        """Invalidate every access token now, as an expiry would (refresh tokens stay valid)."""
        self.sessions.expire_all()

    def render_variation(
        self,
        variation_id: int,
        relations: Collection[str] = tuple(sorted(VARIATION_RELATIONS)),
        *,
        langs: tuple[str, ...] | None = None,
        base_url: str = "http://127.0.0.1/",
    ) -> JSON:
        """The variation exactly as `/rest/items/variations` would render it (for convergence checks)."""
        with self.catalog.lock:
            return Renderer(self.catalog, base_url, langs).variation(
                self.catalog.variations[variation_id], relations
            )

    def render_item(
        self,
        item_id: int,
        relations: Collection[str] = tuple(sorted(ITEM_RELATIONS)),
        *,
        langs: tuple[str, ...] | None = None,
        base_url: str = "http://127.0.0.1/",
    ) -> JSON:
        with self.catalog.lock:
            return Renderer(self.catalog, base_url, langs).item(self.catalog.items[item_id], relations)

    # -- HTTP plumbing ------------------------------------------------------------------------------------

    def _error(self, status: int, message: str, validation_errors: list[str] | None = None) -> Response:
        body: JSON
        if self.settings.error_style == "flat":
            body = {"code": status, "message": message}
            if validation_errors is not None:
                body["validation_errors"] = validation_errors
        else:
            error: JSON = {"code": status, "message": message}
            body = {"error": error}
            if validation_errors is not None:
                (error if self.settings.validation_errors_in == "error" else body)["validation_errors"] = (
                    validation_errors
                )
        return json_response(body, status)

    def _render_fault(self, kind: str, config: FaultConfig) -> Response:
        if kind == FaultKind.TOO_MANY:
            retry = max(0, math.ceil(config.retry_after_s))
            lw, rw = self.settings.long_window, self.settings.route_window
            headers = self.limiter.headers(
                (0, float(retry)), (lw.limit, lw.period_s), (rw.limit, rw.period_s)
            )
            response = self._error(429, "short period read limit reached")
            response.headers.update({**headers, "Retry-After": str(retry)})
            return response
        status = config.status_5xx
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Server Error"
        return self._error(status, phrase)

    def _params(self, request: Request, pairs: Sequence[tuple[str, str]] | None = None) -> Params:
        return Params(
            pairs if pairs is not None else request.query_params.multi_items(), self.settings, self.tz
        )

    def _rate_key(self, request: Request, session: Session | None) -> str:
        scope = self.settings.rate_limit_scope
        if scope == "global":
            return "global"
        if session is None:
            client = request.client.host if request.client else "unknown"
            return f"anonymous:{client}"
        return session.user if scope == "user" else session.access_token

    def _api(
        self,
        path: str,
        handler: Handler,
        methods: list[str],
        *,
        auth: bool = True,
        pattern: str | None = None,
    ) -> Route:
        """``path`` names the route (rate limits, statistics); ``pattern`` matches it when they differ."""

        async def endpoint(request: Request) -> Response:
            session = self.sessions.check(_bearer(request))
            if auth and session is None:
                response = self._error(401, "Unauthenticated.")
                response.headers.update(self.limiter.idle_headers(path))
            else:
                decision = self.limiter.acquire(self._rate_key(request, session), path, request.method)
                if not decision.allowed:
                    response = self._error(429, decision.message)
                    response.headers["Retry-After"] = str(decision.retry_after)
                else:
                    try:
                        response = await handler(request, self._params(request), session)
                    except ApiError as e:
                        response = self._error(e.status, e.message, e.validation_errors)
                response.headers.update(decision.headers)
            self._stats.record(f"{request.method} {path}", response.status_code)
            return response

        return Route(pattern or path, endpoint, methods=methods)

    def _items_per_page(self, params: Params, route: str) -> int:
        requested = params.integer("itemsPerPage")
        per_page = (
            requested if requested is not None and requested > 0 else self.settings.default_items_per_page
        )
        cap = self.settings.items_per_page_caps.get(route, self.settings.max_items_per_page)
        return min(per_page, cap)

    def _page(self, params: Params, route: str, rows: Sequence[T], render: Callable[[T], object]) -> Response:
        if route in self.settings.bare_array_routes:
            return json_response([render(r) for r in rows])
        per_page = self._items_per_page(params, route)
        total = len(rows)
        last = max(1, math.ceil(total / per_page))
        page = max(1, params.integer("page") or 1)
        if page > last and self.settings.out_of_range_page == "clamp":
            page = last  # the contract infers Plenty answers a different page; PSC detects it by `page`
        start = (page - 1) * per_page
        # Serialising each entry at once lets its temporary dicts die young: a page full of live dicts
        # would be promoted and drag the cyclic GC through the whole catalog (2x slower at 100k).
        entries = (
            [orjson.Fragment(orjson.dumps(render(r))) for r in rows[start : start + per_page]]
            if page <= last
            else []
        )
        as_string = self.settings.items_per_page_as_string
        stringly = as_string is True or (isinstance(as_string, list) and route in as_string)
        return json_response(
            {
                "page": page,
                "totalsCount": total,
                "isLastPage": page >= last,
                "lastPageNumber": last,
                "firstOnPage": start + 1 if entries else 0,
                "lastOnPage": start + len(entries) if entries else 0,
                "itemsPerPage": str(per_page) if stringly else per_page,
                "entries": entries,
            }
        )

    def _renderer(self, request: Request, params: Params) -> Renderer:
        return Renderer(self.catalog, base_url_of(request), params.langs(), fragments=True)

    # -- auth routes --------------------------------------------------------------------------------------

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

    async def _login(self, request: Request, params: Params, session: Session | None) -> Response:
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

    async def _refresh(self, request: Request, params: Params, session: Session | None) -> Response:
        sources = self.settings.refresh_sources
        fields = await self._body_fields(request, "json" in sources, "form" in sources)
        refresh_token = fields.get("refresh_token") or fields.get("refreshToken")
        new = self.sessions.refresh(refresh_token, session if "bearer" in sources else None)
        if new is None:
            raise ApiError(401, "Invalid refresh token.")
        expires_in = math.ceil(self.settings.token_ttl_s)
        body: JSON = {
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

    async def _logout(self, request: Request, params: Params, session: Session | None) -> Response:
        assert session is not None
        self.sessions.logout(session)
        return Response(b"", media_type="application/json")  # Plenty's logout returns an empty body

    async def _not_found(self, request: Request, params: Params, session: Session | None) -> Response:
        raise ApiError(404, "Not Found")

    # -- item routes --------------------------------------------------------------------------------------

    async def _variations(self, request: Request, params: Params, session: Session | None) -> Response:
        params.reject_unknown(_VARIATION_PARAMS)
        sku = params.raw("sku")
        query = VariationQuery(
            ids=params.ints("id"),
            item_ids=params.ints("itemId"),
            is_active=params.boolean("isActive"),
            is_main=params.boolean("isMain"),
            is_bundle=params.boolean("isBundle"),
            plenty_ids=params.ints("plentyId"),
            category_id=params.integer("categoryId"),
            barcode=params.raw("barcode"),
            number_exact=params.raw("numberExact"),
            number_fuzzy=params.raw("numberFuzzy"),
            item_name=params.raw("itemName"),
            item_description=params.raw("itemDescription"),
            flag_one=params.integer("flagOne"),
            flag_two=params.integer("flagTwo"),
            store_special=params.integer("storeSpecial"),
            manufacturer_id=params.integer("manufacturerId"),
            referrer_ids=params.floats("referrerId"),
            supplier_id=params.integer("supplierId"),
            supplier_number=params.raw("supplierNumber"),
            sku=sku,
            variation_tag_ids=params.ints("variationTagId"),
            stock_warehouse_id=params.integer("stockWarehouseId"),
            updated=params.between("updatedBetween"),
            created=params.between("createdBetween"),
            related_updated=params.between("relatedUpdatedBetween"),
        )
        relations = params.relations()
        renderer = self._renderer(request, params)
        catalog = self.catalog
        with catalog.lock:
            ids = catalog.find_variations(query)
            variations = catalog.variations
            return self._page(
                params, R_VARIATIONS, ids, lambda vid: renderer.variation(variations[vid], relations)
            )

    def _item_filters(self, params: Params) -> tuple[ItemFilter, ...]:
        filters: list[ItemFilter] = []
        ids = params.ints("id")
        if ids is not None:
            filters.append(ItemFilter("id", ids=ids))
        name = params.raw("name")
        if name is not None:
            filters.append(ItemFilter("name", text=name))
        numeric: tuple[ItemNumberFilter, ...] = ("manufacturerId", "flagOne", "flagTwo")
        for number_key in numeric:
            number = params.integer(number_key)
            if number is not None:
                filters.append(ItemFilter(number_key, number=number))
        periods: tuple[ItemPeriodFilter, ...] = (
            "updatedBetween",
            "variationUpdatedBetween",
            "variationRelatedUpdatedBetween",
        )
        for period_key in periods:
            window = params.between(period_key)
            if window is not None:
                filters.append(ItemFilter(period_key, range=window))
        return tuple(filters)

    async def _items(self, request: Request, params: Params, session: Session | None) -> Response:
        # `or=(a=1&b=2)` carries a query string of its own, often with unencoded '&': cut it out of the
        # raw query before the ordinary parse. Unknown filter names are ignored, as on the live API.
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        groups: list[tuple[ItemFilter, ...]] = []

        def take_or(match: re.Match[str]) -> str:
            inner = parse_qsl(unquote_plus(match[2]), keep_blank_values=True)
            group = self._item_filters(self._params(request, inner))
            if group:
                groups.append(group)
            return ""

        rest = _OR_PARAM.sub(take_or, raw_query)
        params = self._params(request, parse_qsl(rest, keep_blank_values=True))
        query = ItemQuery(all_of=self._item_filters(params), any_of=tuple(groups))
        relations = params.relations()
        renderer = self._renderer(request, params)
        catalog = self.catalog
        with catalog.lock:
            ids = catalog.find_items(query)
            items = catalog.items
            return self._page(params, R_ITEMS, ids, lambda item_id: renderer.item(items[item_id], relations))

    async def _item(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            item = self.catalog.items.get(item_id)
            if item is None:
                raise ApiError(404, "Item not found.")
            return json_response(renderer.item(item, relations))

    async def _item_variations(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        params.reject_unknown(_ITEM_VARIATION_PARAMS)
        query = VariationQuery(
            item_ids=(item_id,),
            is_active=params.boolean("isActive"),
            is_main=params.boolean("isMain"),
            is_bundle=params.boolean("isBundle"),
            barcode=params.raw("barcode"),
            number_exact=params.raw("numberExact"),
            number_fuzzy=params.raw("numberFuzzy"),
            manufacturer_id=params.integer("manufacturerId"),
            supplier_number=params.raw("supplierNumber"),
            updated=params.between("updatedBetween"),
            created=params.between("createdBetween"),
            related_updated=params.between("relatedUpdatedBetween"),
        )
        relations = params.relations()
        renderer = self._renderer(request, params)
        catalog = self.catalog
        with catalog.lock:
            ids = catalog.variations_of_item(item_id, query)
            if ids is None:
                raise ApiError(404, "Item not found.")
            variations = catalog.variations
            return self._page(
                params, R_ITEM_VARIATIONS, ids, lambda vid: renderer.variation(variations[vid], relations)
            )

    async def _item_variation(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        variation_id = _path_int(request, "variationId")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            if item_id not in self.catalog.items:
                raise ApiError(404, "Item not found.")
            variation = self.catalog.variations.get(variation_id)
            if variation is None or variation.item_id != item_id:
                raise ApiError(404, "Variation not found.")
            return json_response(renderer.variation(variation, relations))

    async def _item_images(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            item = self.catalog.items.get(item_id)
            if item is None:
                raise ApiError(404, "Item not found.")
            return json_response(renderer.item(item, ("itemImages",))["itemImages"])

    async def _variation_list(self, request: Request, params: Params, session: Session | None) -> Response:
        relation = VARIATION_LISTS.get(str(request.path_params["list"]))
        if relation is None:
            raise ApiError(404, "Not Found")
        item_id = _path_int(request, "itemId")
        variation_id = _path_int(request, "variationId")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            variation = self.catalog.variations.get(variation_id)
            if variation is None or variation.item_id != item_id:
                raise ApiError(404, "Variation not found.")
            return json_response(renderer.variation(variation, (relation,))[relation])

    async def _variation_stock(self, request: Request, params: Params, session: Session | None) -> Response:
        item_id = _path_int(request, "itemId")
        variation_id = _path_int(request, "variationId")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            variation = self.catalog.variations.get(variation_id)
            if variation is None or variation.item_id != item_id:
                raise ApiError(404, "Variation not found.")
            return self._page(
                params,
                R_VARIATION_STOCK,
                variation.stock,
                lambda row: renderer.variation_stock(variation, row),
            )

    async def _variation_sales_prices(
        self, request: Request, params: Params, session: Session | None
    ) -> Response:
        variation_ids, sales_price_ids = params.ints("variationId"), params.ints("salesPriceId")
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = self.catalog.variation_price_rows(variation_ids, sales_price_ids, updated_at)
            return self._page(
                params, R_VARIATION_SALES_PRICES, rows, lambda r: renderer.variation_sales_price(*r)
            )

    async def _attributes(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        relations = params.relations(keep_nested=True)
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                a for a in self.catalog.attributes.values() if updated_at is None or a.updated >= updated_at
            ]
            return self._page(params, R_ATTRIBUTES, rows, lambda a: renderer.attribute(a, relations))

    async def _attribute_values(self, request: Request, params: Params, session: Session | None) -> Response:
        attribute = self.catalog.attributes.get(_path_int(request, "attributeId"))
        if attribute is None:
            raise ApiError(404, "Attribute not found.")
        updated_at = params.date("updatedAt")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            values = [self.catalog.attribute_values[v] for v in attribute.value_ids]
            rows = [v for v in values if updated_at is None or v.updated >= updated_at]
            return self._page(
                params, R_ATTRIBUTE_VALUES, rows, lambda v: renderer.attribute_value(v, relations)
            )

    async def _sales_prices(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                p for p in self.catalog.sales_prices.values() if updated_at is None or p.updated >= updated_at
            ]
            return self._page(params, R_SALES_PRICES, rows, renderer.sales_price)

    async def _manufacturers(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        name = (params.raw("name") or "").lower()
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                m
                for m in self.catalog.manufacturers.values()
                if (updated_at is None or m.updated >= updated_at) and name in m.name.lower()
            ]
            return self._page(params, R_MANUFACTURERS, rows, lambda m: renderer.manufacturer(m, relations))

    async def _units(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [u for u in self.catalog.units.values() if updated_at is None or u.updated >= updated_at]
            return self._page(params, R_UNITS, rows, renderer.unit)

    async def _barcodes(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        renderer = self._renderer(request, params)
        stale = updated_at is not None and updated_at > self.catalog.vat_created
        return self._page(params, R_BARCODES, [] if stale else renderer.barcodes(), lambda b: b)

    async def _properties(self, request: Request, params: Params, session: Session | None) -> Response:
        updated_at = params.date("updatedAt")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                p for p in self.catalog.properties.values() if updated_at is None or p.updated >= updated_at
            ]
            return self._page(params, R_PROPERTIES, rows, lambda p: renderer.legacy_property(p, relations))

    # -- categories, stock, stores, VAT -------------------------------------------------------------------

    async def _categories(self, request: Request, params: Params, session: Session | None) -> Response:
        types = params.strings("type")
        parent_id, level = params.integer("parentId"), params.integer("level")
        plenty_ids = params.ints("plentyId")
        name = (params.raw("name") or "").lower()
        keywords = (params.raw("metaKeywords") or "").lower()
        linklist = params.boolean("linklist")
        tag_ids = params.ints("tagId")
        updated_at = params.date("updatedAt")
        relations = params.relations()
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = [
                cat
                for cat in self.catalog.categories.values()
                if (types is None or cat.type in types)
                and (parent_id is None or cat.parent_id == parent_id)
                and (level is None or cat.level == level)
                and (plenty_ids is None or not set(plenty_ids).isdisjoint(cat.plenty_ids))
                and (not name or any(name in n.lower() for n in cat.names.values()))
                and (not keywords or any(keywords in n.lower() for n in cat.names.values()))
                and linklist is not False
                and tag_ids is None
                and (updated_at is None or cat.updated >= updated_at)
            ]
            return self._page(params, R_CATEGORIES, rows, lambda cat: renderer.category(cat, relations))

    async def _stock(self, request: Request, params: Params, session: Session | None) -> Response:
        start, end = params.date("updatedAtFrom"), params.date("updatedAtTo")
        window = (
            TimeRange(start if start is not None else 0.0, end)
            if start is not None or end is not None
            else None
        )
        columns = params.strings("columns")
        if columns is not None and not set(columns) <= _STOCK_COLUMNS:
            raise ApiError(
                422,
                "The given data was invalid.",
                [f"Unknown columns: {sorted(set(columns) - _STOCK_COLUMNS)}"],
            )
        renderer = self._renderer(request, params)
        with self.catalog.lock:
            rows = self.catalog.stock_rows(params.ints("variationId"), params.ints("warehouseId"), window)

            def render(pair: tuple[Variation, StockRow]) -> JSON:
                entry = renderer.stock_entry(*pair)
                return {c: entry[c] for c in columns} if columns else entry

            return self._page(params, R_STOCK, rows, render)

    async def _warehouses(self, request: Request, params: Params, session: Session | None) -> Response:
        renderer = self._renderer(request, params)
        return self._page(params, R_WAREHOUSES, list(self.catalog.warehouses.values()), renderer.warehouse)

    async def _webstores(self, request: Request, params: Params, session: Session | None) -> Response:
        renderer = self._renderer(request, params)
        return self._page(params, R_WEBSTORES, self.catalog.webstores, renderer.webstore)

    async def _vat(self, request: Request, params: Params, session: Session | None) -> Response:
        return self._page(params, R_VAT, [self._renderer(request, params).vat_standard()], lambda v: v)

    async def _vat_standard(self, request: Request, params: Params, session: Session | None) -> Response:
        return json_response(self._renderer(request, params).vat_standard())

    # -- images -------------------------------------------------------------------------------------------

    async def _image(self, request: Request) -> Response:
        parts = request.path_params["path"].split("/")
        data: bytes | None = None
        media_type = "image/png"
        with self.catalog.lock:
            if parts[:2] == ["item", "images"] and len(parts) == 5 and parts[3] in IMAGE_SIZES:
                image_id = parts[4].split("-", 1)[0]
                image = self.catalog.images.get(int(image_id)) if image_id.isdigit() else None
                if (
                    image is not None
                    and str(image.item_id) == parts[2]
                    and parts[4] == f"{image.id}-{image.clean_name}"
                ):
                    data = image_bytes(image, parts[3])
                    media_type = "image/png" if image.file_type == "png" else "image/jpeg"
            elif len(parts) == 2 and parts[0] == "manufacturers" and parts[1].removesuffix(".png").isdigit():
                manufacturer_id = int(parts[1].removesuffix(".png"))
                if manufacturer_id in self.catalog.manufacturers and parts[1].endswith(".png"):
                    data = manufacturer_logo_bytes(manufacturer_id)
        self._stats.record("GET /images/{path}", 200 if data is not None else 404)
        if data is None:
            return self._error(404, "Not Found")
        return Response(data, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    # -- admin ----------------------------------------------------------------------------------------------

    async def _admin_state(self, request: Request) -> Response:
        return json_response(self.state().model_dump(mode="json"))

    async def _admin_mutate(self, request: Request) -> Response:
        try:
            mutation = _MUTATION.validate_json(await request.body())
        except ValidationError as e:
            return json_response({"error": "invalid mutation", "details": orjson.loads(e.json())}, 422)
        try:
            changes = self.mutate(mutation)
        except KeyError as e:
            return json_response({"error": str(e.args[0]) if e.args else "not found"}, 404)
        except ValueError as e:
            return json_response({"error": str(e)}, 422)
        return json_response(MutationResult(changes=changes).model_dump(mode="json"))

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.faults.configure(FaultConfig.model_validate_json(await request.body()))
            except ValidationError as e:
                return json_response(
                    {"error": "invalid fault config", "details": orjson.loads(e.json())}, 422
                )
        return json_response(self.faults.config.model_dump(mode="json"))

    async def _admin_stats(self, request: Request) -> Response:
        return json_response(self.stats().model_dump(mode="json"))

    async def _admin_stats_reset(self, request: Request) -> Response:
        self.reset_stats()
        return json_response(self.stats().model_dump(mode="json"))

    async def _admin_expire_tokens(self, request: Request) -> Response:
        self.expire_tokens()
        return json_response({"expired": True})

    async def _fallback(self, request: Request) -> Response:
        return self._error(404, "Not Found")

    def _build_app(self) -> Starlette:
        get = ["GET"]
        routes: list[Route] = [
            self._api(R_LOGIN, self._login, ["POST"], auth=False),
            self._api(R_REFRESH, self._refresh, ["POST"], auth=False),
        ]
        if "post_logout" in self.settings.logout_routes:
            routes.append(self._api(R_LOGOUT, self._logout, ["POST"]))
        if "delete_login" in self.settings.logout_routes:
            routes.append(self._api(R_LOGIN, self._logout, ["DELETE"]))
        routes += [
            self._api(R_ITEMS, self._items, get),
            self._api(R_VARIATIONS, self._variations, get),
            self._api(R_VARIATION_SALES_PRICES, self._variation_sales_prices, get),
            self._api(R_ATTRIBUTES, self._attributes, get),
            self._api(R_ATTRIBUTE_VALUES, self._attribute_values, get),
            self._api(R_SALES_PRICES, self._sales_prices, get),
            self._api(R_MANUFACTURERS, self._manufacturers, get),
            self._api(R_UNITS, self._units, get),
            self._api(R_BARCODES, self._barcodes, get),
            self._api(R_PROPERTIES, self._properties, get),
            self._api(R_VARIATION_STOCK, self._variation_stock, get),
            # numeric ids only, so /rest/items/variations and friends keep their own routes
            self._api(R_ITEM, self._item, get, pattern="/rest/items/{itemId:int}"),
            self._api(
                R_ITEM_VARIATIONS, self._item_variations, get, pattern="/rest/items/{itemId:int}/variations"
            ),
            self._api(
                R_ITEM_VARIATION,
                self._item_variation,
                get,
                pattern="/rest/items/{itemId:int}/variations/{variationId:int}",
            ),
            self._api(R_ITEM_IMAGES, self._item_images, get, pattern="/rest/items/{itemId:int}/images"),
            self._api(
                R_VARIATION_LIST,
                self._variation_list,
                get,
                pattern="/rest/items/{itemId:int}/variations/{variationId:int}/{list}",
            ),
            self._api(R_CATEGORIES, self._categories, get),
            self._api(R_STOCK, self._stock, get),
            self._api(R_WAREHOUSES, self._warehouses, get),
            self._api(R_WEBSTORES, self._webstores, get),
            self._api(R_VAT, self._vat, get),
            self._api(R_VAT_STANDARD, self._vat_standard, get),
            self._api(R_UNKNOWN, self._not_found, ["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/images/{path:path}", self._image, methods=get),
            Route(f"{ADMIN_PREFIX}/state", self._admin_state, methods=get),
            Route(f"{ADMIN_PREFIX}/mutate", self._admin_mutate, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/faults", self._admin_faults, methods=["GET", "POST"]),
            Route(f"{ADMIN_PREFIX}/stats", self._admin_stats, methods=get),
            Route(f"{ADMIN_PREFIX}/stats/reset", self._admin_stats_reset, methods=["POST"]),
            Route(f"{ADMIN_PREFIX}/tokens/expire", self._admin_expire_tokens, methods=["POST"]),
            Route("/{path:path}", self._fallback, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
        return Starlette(routes=routes)
