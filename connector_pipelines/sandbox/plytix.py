"""Plytix PIM API v1 emulator, built from ``shared/contracts/plytix.md``.

One ASGI app serves the token host (``POST /auth/api/get-token``) and the PIM paths (``/api/v1/...``), so
the sandbox mounts it under one base URL. Behind :class:`~connector_pipelines.sandbox.server.FaultInjector`:
15-minute tokens (``token_ttl_s``), the ``Bearer`` rules, v1 search (OR of AND-groups, operators, attribute
selection and its limit, page sizes, 428 for ordering large results), products with variants that inherit
their family's parent-level values, families with attribute levels, categories, assets, filters, and the two
rate-limit windows (per 10 s and per hour) answered with 429 + ``Retry-After``. ``/__sandbox/...`` routes
and the methods below inspect and change it; every change bumps ``modified`` of what it touches.

    emulator = PlytixEmulator(products=20, variants=3)
    with emulator.serve() as server:
        client = httpx.Client(base_url=server.base_url)
"""

from __future__ import annotations

import base64
import contextlib
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import orjson
from pydantic import BaseModel, Field, JsonValue, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector_pipelines.sandbox import plytix_resources as resources
from connector_pipelines.sandbox.plytix_catalog import Family, Product
from connector_pipelines.sandbox.plytix_resources import Resource
from connector_pipelines.sandbox.plytix_search import (
    PlytixError,
    SearchLimits,
    parse_search,
)
from connector_pipelines.sandbox.plytix_store import PRODUCT_PROPERTIES, Store, not_found
from connector_pipelines.sandbox.server import (
    ADMIN_PREFIX,
    EmulatorServer,
    FaultConfig,
    FaultInjector,
    FaultKind,
    Faults,
    SlidingWindow,
)

__all__ = ["PlytixEmulator", "PlytixSettings", "PlytixStats"]

JSON = "application/json"
TOKEN_PATH = "/auth/api/get-token"  # noqa: S105 - a route, not a secret
BAD_CREDENTIALS = "Bad api_key or api_password: Credentials not valid"
# flask-jwt-extended's messages; "Missing Authorization Header" is the one the Postman guide shows.
MISSING_HEADER = "Missing Authorization Header"
BAD_HEADER = "Bad Authorization header. Expected value 'Bearer <JWT>'"
UNKNOWN_TOKEN = "Signature verification failed"  # noqa: S105 - messages
EXPIRED_TOKEN = "Token has expired"  # noqa: S105

_M = TypeVar("_M", bound=BaseModel)
_R = TypeVar("_R")
Handler = Callable[[Request], Awaitable[Response]]


class PlytixSettings(BaseModel):
    """What the emulator is configured with; the UNVERIFIED points of the contract are fields here."""

    api_key: str = Field(default_factory=lambda: f"plytix-sandbox-{secrets.token_hex(6)}")
    api_password: str = Field(default_factory=lambda: secrets.token_urlsafe(18))
    account_id: str = Field("5b8e6dd17f7f46000c7e9629", description="appears in the generated asset URLs")
    token_ttl_s: float = Field(900.0, gt=0, description="token lifetime: 15 minutes in production")
    rate_per_10s: int | None = Field(
        None, ge=1, description="None: no limit. Real numbers depend on the plan"
    )
    rate_per_hour: int | None = Field(None, ge=1)
    search_attribute_limit: int = Field(
        50, ge=1, description="UNVERIFIED: 50 in the endpoint text, 20 in the collection's 422 example"
    )
    max_page_size: int = Field(100, ge=1)
    default_page_size: int = Field(25, ge=1)
    order_limit: int = Field(10_000, ge=0, description="ordering a larger result is a 428")
    retry_after_header: bool = Field(True, description="UNVERIFIED: whether a 429 carries Retry-After")
    retry_after_in_body: bool = Field(
        True, description='UNVERIFIED: a community note claims {"error": {"msg", "retry_after"}} on 429'
    )

    @classmethod
    def realistic(cls, **overrides: object) -> PlytixSettings:
        """Rate limits like a small plan (50 per 10 s, 5000 per hour: UNVERIFIED guesses)."""
        return cls.model_validate({"rate_per_10s": 50, "rate_per_hour": 5000, **overrides})


class PlytixStats(BaseModel):
    calls: dict[str, int] = Field(
        default_factory=dict, description='per route, "POST /api/v1/products/search"'
    )
    tokens_issued: int = 0
    auth_failures: int = Field(0, description="401 answers (token endpoint and API)")
    too_many: int = Field(0, description="429 answered by the rate-limit windows (not injected faults)")
    by_status: dict[int, int] = Field(default_factory=dict)


@dataclass(slots=True)
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    data: PlytixStats = field(default_factory=PlytixStats)

    def status(self, status: int) -> None:
        with self.lock:
            self.data.by_status[status] = self.data.by_status.get(status, 0) + 1
            if status == 401:
                self.data.auth_failures += 1


def _json(body: JsonValue, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, dict(headers or {}), JSON)


def _error(exc: PlytixError) -> Response:
    return Response(exc.body(), exc.status, exc.headers, JSON)


def _decode(raw: bytes) -> object:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PlytixError(
            400,
            f"Failed to decode JSON object: {exc}",
            [{"field": "http_status_code", "msg": 400}],
        ) from None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class PlytixEmulator:
    """The emulator: ``app`` (ASGI, fault-injected), ``faults``, ``stats()``, in-process changes, ``serve()``.

    ``clock`` (epoch seconds) drives token expiry, the rate-limit windows and ``modified``; tests replace it
    to move time without waiting."""

    def __init__(
        self, settings: PlytixSettings | None = None, *, products: int = 20, variants: int = 3, seed: int = 1
    ) -> None:
        self.settings = settings or PlytixSettings()
        self.clock: Callable[[], float] = time.time
        self.store = Store(
            account_id=self.settings.account_id,
            products=products,
            variants=variants,
            seed=seed,
            now_us=self._now_us,
        )
        self.faults = Faults()
        self._tokens: dict[str, float] = {}
        self._auth_lock = threading.Lock()
        self._stats = _Stats()
        self._windows: list[SlidingWindow] = []
        if self.settings.rate_per_10s is not None:
            self._windows.append(SlidingWindow(self.settings.rate_per_10s, 10.0, lambda: self.clock()))
        if self.settings.rate_per_hour is not None:
            self._windows.append(SlidingWindow(self.settings.rate_per_hour, 3600.0, lambda: self.clock()))
        self.app = FaultInjector(_Limiter(self._build_app(), self), self.faults, self._render_fault)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        return EmulatorServer(self.app, host=host, port=port, name="plytix")

    # --- in-process API ----------------------------------------------------------------------------------

    def catalog(self) -> list[dict[str, JsonValue]]:
        """Every product as ``GET /api/v1/products/{id}`` renders it, variants included (catalog order)."""
        with self.store.lock:
            return [self.store.render_product(p) for p in self.store.products.values()]

    def families(self) -> list[dict[str, JsonValue]]:
        """Every family as ``GET /api/v1/product_families/{id}`` renders it, plus ``attributes`` (levels)."""
        with self.store.lock:
            return [
                {
                    **resources.render_family(self.store, f),
                    "attributes": list(resources.family_attributes(self.store, f)),
                }
                for f in self.store.families.values()
            ]

    def change_prices(self, fraction: float, seed: int) -> list[str]:
        """Reprice a ``fraction`` of the priced products (variants and standalone); returns their SKUs."""
        with self.store.lock:
            return self.store.change_prices(fraction, seed)

    def add_product(self, variants: int, seed: int) -> str:
        """A new generated product (standalone when ``variants`` <= 1); returns its (parent) SKU."""
        with self.store.lock:
            return self.store.add_generated(variants, seed)

    def delete_product(self, sku_or_id: str) -> None:
        """Delete a product; a parent takes its variants with it, a variant bumps its parent."""
        with self.store.lock:
            self.store.delete(self.store.resolve(sku_or_id))

    def add_variant(self, parent_sku: str, attributes: Mapping[str, object]) -> str:
        """A new variant of ``parent_sku`` with these attribute values; returns its SKU (``<parent>-NN``)."""
        with self.store.lock:
            parent = self.store.resolve(parent_sku)
            if parent.parent_id is not None:
                raise ValueError(f"{parent_sku} is a variant; variants cannot have variants")
            number = len(parent.variant_ids) + 1
            while f"{parent.sku}-{number:02d}" in self.store.by_sku:
                number += 1
            sku = f"{parent.sku}-{number:02d}"
            data = {"sku": sku, "label": f"{parent.label} {number:02d}", "attributes": dict(attributes)}
            with _as_value_error():
                self.store.create(data, parent=parent)
            return sku

    def set_attribute(self, sku: str, label: str, value: object) -> None:
        """Set an attribute value (validated as the API does); changing a parent's parent-level value
        also bumps the variants that inherit it."""
        with self.store.lock, _as_value_error():
            self.store.update(self.store.resolve(sku), {"attributes": {label: value}})

    def clear_attribute(self, sku: str, label: str) -> None:
        self.set_attribute(sku, label, None)

    def expire_tokens(self) -> None:
        """Every issued token is expired from now on (the next call with one gets a 401)."""
        with self._auth_lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def stats(self) -> PlytixStats:
        with self._stats.lock:
            return self._stats.data.model_copy(deep=True)

    def reset_stats(self) -> None:
        with self._stats.lock:
            self._stats.data = PlytixStats()

    def state(self) -> dict[str, JsonValue]:
        with self.store.lock:
            products = self.store.products.values()
            counts = {
                "products": len(self.store.products),
                "parents": sum(1 for p in products if p.variant_ids),
                "variants": sum(1 for p in products if p.parent_id is not None),
                "standalone": sum(1 for p in products if p.level == 0),
                "attributes": len(self.store.attributes),
                "families": len(self.store.families),
                "categories": len(self.store.categories),
                "assets": len(self.store.assets),
            }
        with self._auth_lock:
            tokens = len(self._tokens)
        return {
            **counts,
            "tokens": tokens,
            "faults": self.faults.config.model_dump(),
            "settings": self.settings.model_dump(exclude={"api_password"}),
        }

    # --- the app ---------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        def route(path: str, handler: Handler, *methods: str, admin: bool = False) -> Route:
            async def endpoint(request: Request) -> Response:
                if not admin:
                    with self._stats.lock:
                        name = f"{request.method} {path}"
                        self._stats.data.calls[name] = self._stats.data.calls.get(name, 0) + 1
                try:
                    response = await handler(request)
                except PlytixError as exc:
                    response = _error(exc)
                if not admin:
                    self._stats.status(response.status_code)
                return response

            return Route(path, endpoint, methods=list(methods))

        admin = ADMIN_PREFIX
        v1 = "/api/v1"
        routes = [
            route(TOKEN_PATH, self._token, "POST"),
            route(f"{v1}/products", self._create_product, "POST"),
            route(f"{v1}/products/search", self._search_products, "POST"),
            route(f"{v1}/products/{{id}}", self._get_product, "GET"),
            route(f"{v1}/products/{{id}}", self._update_product, "PATCH"),
            route(f"{v1}/products/{{id}}", self._delete_product, "DELETE"),
            route(f"{v1}/products/{{id}}/variants", self._variants, "GET"),
            route(f"{v1}/products/{{id}}/variants", self._add_variant, "POST"),
            route(f"{v1}/products/{{id}}/assets", self._product_assets, "GET"),
            route(f"{v1}/products/{{id}}/categories", self._product_categories, "GET"),
            route(f"{v1}/products/{{id}}/family", self._assign_family, "POST"),
            route(f"{v1}/attributes/product/search", self._search_attributes, "POST"),
            route(f"{v1}/attributes/product/{{id}}", self._get_attribute, "GET"),
            route(f"{v1}/product_families/search", self._search_families, "POST"),
            route(f"{v1}/product_families/{{id}}", self._get_family, "GET"),
            route(f"{v1}/product_families/{{id}}/attributes", self._family_attributes, "GET"),
            route(f"{v1}/product_families/{{id}}/all_attributes", self._family_all_attributes, "GET"),
            route(f"{v1}/categories/product/search", self._search_categories, "POST"),
            route(f"{v1}/assets/search", self._search_assets, "POST"),
            route(f"{v1}/assets/{{id}}", self._get_asset, "GET"),
            route(f"{v1}/filters/product", self._product_filters, "GET"),
            route(f"{admin}/state", self._admin_state, "GET", admin=True),
            route(f"{admin}/faults", self._admin_faults, "GET", "PUT", admin=True),
            route(f"{admin}/stats", self._admin_stats, "GET", admin=True),
            route(f"{admin}/stats/reset", self._admin_stats_reset, "POST", admin=True),
            route(f"{admin}/tokens/expire", self._admin_expire_tokens, "POST", admin=True),
        ]

        async def not_found_route(request: Request, exc: Exception) -> Response:
            self._stats.status(404)
            return _error(PlytixError(404, "The requested URL was not found on the server.", []))

        async def not_allowed(request: Request, exc: Exception) -> Response:
            self._stats.status(405)
            allow = exc.headers.get("Allow", "") if isinstance(exc, HTTPException) and exc.headers else ""
            error = PlytixError(405, "The method is not allowed for the requested URL.", [], {"Allow": allow})
            return _error(error)

        async def crashed(request: Request, exc: Exception) -> Response:
            self._stats.status(500)
            return _error(PlytixError(500, f"Internal server error: {type(exc).__name__}", []))

        return Starlette(
            routes=routes, exception_handlers={404: not_found_route, 405: not_allowed, Exception: crashed}
        )

    def _render_fault(self, kind: str, config: FaultConfig) -> Response:
        if kind == FaultKind.TOO_MANY:
            return _error(self._too_many(max(1, math.ceil(config.retry_after_s))))
        status = config.status_5xx
        return _error(PlytixError(status, f"Injected fault (HTTP {status})", []))

    def _too_many(self, seconds: int) -> PlytixError:
        headers = {"Retry-After": str(seconds)} if self.settings.retry_after_header else {}
        extra: dict[str, JsonValue] = {"retry_after": seconds} if self.settings.retry_after_in_body else {}
        return PlytixError(
            429, "Rate limit exceeded", [{"field": "http_status_code", "msg": 429}], headers, extra
        )

    def _limit(self) -> PlytixError | None:
        """Both windows count every request (the token endpoint included)."""
        for window in self._windows:
            allowed, _, wait = window.try_acquire()
            if not allowed:
                with self._stats.lock:
                    self._stats.data.too_many += 1
                self._stats.status(429)
                return self._too_many(max(1, math.ceil(wait)))
        return None

    # --- auth --------------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        body = _decode(await request.body())
        credentials = (
            (body.get("api_key"), body.get("api_password")) if isinstance(body, dict) else (None, None)
        )
        if not all(isinstance(c, str) for c in credentials):
            raise PlytixError(
                400,
                "Bad request: api_key and api_password are required",
                [{"field": "http_status_code", "msg": 400}],
            )
        key, password = (str(c) for c in credentials)
        ok = secrets.compare_digest(key.encode(), self.settings.api_key.encode()) and secrets.compare_digest(
            password.encode(), self.settings.api_password.encode()
        )
        if not ok:
            raise PlytixError(401, BAD_CREDENTIALS, [{"field": "http_status_code", "msg": 401}])
        now = self.clock()
        claims = {"iat": int(now), "exp": int(now + self.settings.token_ttl_s), "jti": secrets.token_hex(8)}
        token = ".".join(
            [_b64(b'{"alg":"HS256","typ":"JWT"}'), _b64(orjson.dumps(claims)), _b64(secrets.token_bytes(32))]
        )
        with self._auth_lock:
            self._tokens[token] = now + self.settings.token_ttl_s
        with self._stats.lock:
            self._stats.data.tokens_issued += 1
        return _json({"data": [{"access_token": token}]})

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise PlytixError(401, MISSING_HEADER)
        if not header.startswith("Bearer "):  # capital B and one space, as the docs insist
            raise PlytixError(401, BAD_HEADER)
        token = header[len("Bearer ") :]
        with self._auth_lock:
            expires_at = self._tokens.get(token)
            if expires_at is not None and expires_at <= self.clock():
                del self._tokens[token]
                raise PlytixError(401, EXPIRED_TOKEN)
        if expires_at is None:
            raise PlytixError(401, UNKNOWN_TOKEN)

    async def _body(self, request: Request) -> object:
        self._authenticate(request)
        return _decode(await request.body())

    # --- products ----------------------------------------------------------------------------------------

    def _now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def _limits(self, *, products: bool = False) -> SearchLimits:
        s = self.settings
        if products:
            return SearchLimits(
                s.max_page_size, s.default_page_size, s.search_attribute_limit, frozenset({"id", "sku"})
            )
        return SearchLimits(s.max_page_size, s.default_page_size)

    async def _search_products(self, request: Request) -> Response:
        body = await self._body(request)
        store = self.store
        with store.lock:
            fields = store.product_fields()
            query = parse_search(
                body,
                fields,
                self._limits(products=True),
                self._now_us(),
                # product_family_id is accepted but never returned by search (contract §3.2).
                selectable=lambda name: name in ("num_variations", "product_family_id"),
            )
            relationship_filters = body.get("relationship_filters") if isinstance(body, dict) else None
            if relationship_filters:
                raise PlytixError(
                    422,
                    "Search validation error",
                    [{"field": "relationship_filters", "msg": "relationship does not exist"}],
                )
            page, total = store.search_products(query, order_limit=self.settings.order_limit)
            data: list[JsonValue] = [store.search_row(p, query.attributes) for p in page]
        return _json({"data": data, "pagination": query.pagination(len(data), total)})

    def _product(self, request: Request) -> Product:
        return self.store.product(str(request.path_params["id"]))

    async def _get_product(self, request: Request) -> Response:
        self._authenticate(request)
        everything = request.query_params.get("all_attributes", "").lower() == "true"
        with self.store.lock:
            product = self._product(request)
            return _json({"data": [self.store.render_product(product, all_attributes=everything)]})

    async def _create_product(self, request: Request) -> Response:
        body = await self._body(request)
        with self.store.lock:
            product = self.store.create(body)
            rendered = self.store.render_product(product)
        location = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        return _json({"data": [rendered]}, 201, {"Location": f"{location}/api/v1/products/{product.id}"})

    async def _update_product(self, request: Request) -> Response:
        body = await self._body(request)
        with self.store.lock:
            product = self._product(request)
            self.store.update(product, body)
            return _json({"data": [self.store.render_product(product)]})

    async def _delete_product(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            self.store.delete(self._product(request))
        return Response(status_code=204)

    async def _variants(self, request: Request) -> Response:
        self._authenticate(request)
        store = self.store
        with store.lock:
            product = self._product(request)
            variants = [store.products[v] for v in product.variant_ids if v in store.products]
            return _json({"data": [store.render_product(v) for v in variants]})

    async def _add_variant(self, request: Request) -> Response:
        body = await self._body(request)
        with self.store.lock:
            parent = self._product(request)
            if parent.parent_id is not None:
                raise PlytixError(
                    422,
                    "product data validation failed",
                    [{"field": "id", "msg": "a variant cannot have variants"}],
                )
            variant = body.get("variant") if isinstance(body, dict) else None
            if not isinstance(variant, dict):
                raise PlytixError(
                    422,
                    "product data validation failed",
                    [{"field": "variant", "msg": "Missing data for required field."}],
                )
            created = self.store.create(variant, parent=parent)
            return _json({"data": [self.store.render_product(created)]}, 201)

    async def _product_assets(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            product = self._product(request)
            refs = [self.store.asset_ref(a) for a in product.assets]
            return _json({"data": [r for r in refs if r is not None]})

    async def _product_categories(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            product = self._product(request)
            rows: list[JsonValue] = [
                resources.render_category(self.store, self.store.categories[c])
                for c in product.categories
                if c in self.store.categories
            ]
            return _json({"data": rows})

    async def _assign_family(self, request: Request) -> Response:
        body = await self._body(request)
        with self.store.lock:
            product = self._product(request)
            family_id = body.get("product_family_id") if isinstance(body, dict) else None
            self.store.set_family(product, family_id)
            return _json({"data": [self.store.render_product(product)]})

    async def _product_filters(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            fields = self.store.product_fields()
            attributes: list[JsonValue] = [
                f.describe() for k, f in fields.items() if k not in PRODUCT_PROPERTIES
            ]
            properties: list[JsonValue] = [f.describe() for f in PRODUCT_PROPERTIES.values()]
        return _json({"data": [{"attributes": attributes, "properties": properties}]})

    # --- attributes, families, categories, assets ----------------------------------------------------------

    async def _small_search(self, request: Request, resource: Resource[_R]) -> Response:
        body = await self._body(request)
        with self.store.lock:
            query = parse_search(
                body,
                resource.fields,
                self._limits(),
                self._now_us(),
                selectable=lambda name: name in resource.selectable,
            )
            rows, total = self.store.search_small(resource.items(), query, resource.render)
        data: list[JsonValue] = list(rows)
        return _json({"data": data, "pagination": query.pagination(len(rows), total)})

    async def _search_attributes(self, request: Request) -> Response:
        return await self._small_search(request, resources.attributes(self.store))

    async def _get_attribute(self, request: Request) -> Response:
        self._authenticate(request)
        attribute_id = str(request.path_params["id"])
        with self.store.lock:
            attribute = self.store.attributes.get(attribute_id)
            if attribute is None:
                raise not_found(attribute_id, "id does not exist")
            return _json({"data": [resources.render_attribute(attribute)]})

    def _family(self, request: Request) -> Family:
        family_id = str(request.path_params["id"])
        family = self.store.families.get(family_id)
        if family is None:
            raise not_found(family_id, "product family does not exist")
        return family

    async def _search_families(self, request: Request) -> Response:
        return await self._small_search(request, resources.families(self.store))

    async def _get_family(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            return _json({"data": [resources.render_family(self.store, self._family(request))]})

    async def _family_attributes(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            rows: list[JsonValue] = list(resources.family_attributes(self.store, self._family(request)))
        return _json({"data": rows})

    async def _family_all_attributes(self, request: Request) -> Response:
        self._authenticate(request)
        with self.store.lock:
            family = self._family(request)
            rows: list[JsonValue] = list(resources.family_attributes(self.store, family, system=True))
        return _json({"data": rows})

    async def _search_categories(self, request: Request) -> Response:
        return await self._small_search(request, resources.categories(self.store))

    async def _search_assets(self, request: Request) -> Response:
        return await self._small_search(request, resources.assets(self.store))

    async def _get_asset(self, request: Request) -> Response:
        self._authenticate(request)
        asset_id = str(request.path_params["id"])
        with self.store.lock:
            asset = self.store.assets.get(asset_id)
            if asset is None:
                raise not_found(asset_id, "asset does not exist")
            return _json({"data": [resources.render_asset(asset)]})

    # --- admin -------------------------------------------------------------------------------------------

    async def _admin_state(self, request: Request) -> Response:
        return _json(self.state())

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            self.faults.configure(await _admin_model(request, FaultConfig))
        return _json(self.faults.config.model_dump())

    async def _admin_stats(self, request: Request) -> Response:
        return _json(self.stats().model_dump(mode="json"))

    async def _admin_stats_reset(self, request: Request) -> Response:
        self.reset_stats()
        return Response(status_code=204)

    async def _admin_expire_tokens(self, request: Request) -> Response:
        self.expire_tokens()
        return Response(status_code=204)


@contextlib.contextmanager
def _as_value_error() -> Iterator[None]:
    """In-process calls get a ValueError for what the API would refuse (unknown label, bad value)."""
    try:
        yield
    except PlytixError as exc:
        raise ValueError(exc.describe()) from None


class _Limiter:
    """The rate-limit windows in front of the routes (inside the fault injector, outside routing), so that
    every request counts: the token endpoint, unknown routes, errors alike. Admin routes are exempt."""

    def __init__(self, app: ASGIApp, emulator: PlytixEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.emulator._windows:
            await self.app(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :]
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        refused = self.emulator._limit()
        if refused is None:
            await self.app(scope, receive, send)
            return
        await _drain(receive)
        await _error(refused)(scope, receive, send)


async def _drain(receive: Receive) -> None:
    more = True
    while more:
        message: Message = await receive()
        more = message.get("type") == "http.request" and bool(message.get("more_body"))


async def _admin_model(request: Request, model: type[_M]) -> _M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise PlytixError(422, "Invalid sandbox setting", [{"field": "body", "msg": str(exc)}]) from None
