"""Webflow Data API v2 emulator (e-commerce products and SKUs, CMS items, site publishing), built from
``shared/contracts/webflow.md``, the OpenAPI spec (``webflow/openapi-spec`` ``openapi/v2.yml``) and the
official ``webflow`` 2.0.0 SDK, which works against it with only its base URL changed.

A real HTTP server (Starlette behind :class:`~connector_pipelines.sandbox.server.FaultInjector`): Bearer
auth and scopes, ``X-RateLimit-Limit``/``X-RateLimit-Remaining`` on every ``/v2`` answer, a rolling 60 s
window per token with 429 + ``Retry-After``, one successful site publish per minute, and Webflow's error
body ``{code, message, externalReference, details}``. Admin routes under ``/__sandbox`` inspect and steer
it; the methods below do the same in-process.

    emulator = WebflowEmulator(WebflowSettings.realistic(per_minute=120))
    with emulator.serve() as server:
        client = WebflowClient(f"{server.base_url}/v2", emulator.settings.token)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
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
from connector_pipelines.sandbox.webflow_cms import Cms, page_params
from connector_pipelines.sandbox.webflow_errors import WebflowError, bad_request, error_body, not_found
from connector_pipelines.sandbox.webflow_settings import (
    UNLIMITED,
    CmsCollection,
    CmsField,
    WebflowSettings,
    WebflowStats,
)
from connector_pipelines.sandbox.webflow_store import Doc, Store, now_iso

__all__ = ["CmsCollection", "CmsField", "WebflowEmulator", "WebflowSettings", "WebflowStats"]

JSON = "application/json"
WINDOW_S = 60.0
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

Handler = Callable[[Request], Awaitable[Response]]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=JSON)


async def _body(request: Request) -> Doc:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request() from None
    if not isinstance(decoded, dict):
        raise bad_request("Bad Request: the body must be a JSON object")
    return decoded


def _skip_invalid_files(request: Request) -> None:
    # Accepted on every write (SDK ``skip_invalid_files``); the emulator stores no files to skip.
    value = request.query_params.get("skipInvalidFiles")
    if value is not None and value.lower() not in ("true", "false"):
        raise WebflowError(
            400, "validation_error", "Validation Error: skipInvalidFiles must be true or false"
        )


class WebflowEmulator:
    """The emulator: ``app`` (ASGI, fault-injected), ``faults``, in-process inspection and :meth:`serve`.

    ``clock`` (monotonic seconds) drives the rate-limit and publish windows, so tests can move time on
    instead of sleeping. Thread-safe: the server thread and a test may use it at the same time."""

    def __init__(
        self, settings: WebflowSettings | None = None, *, clock: Callable[[], float] = time.monotonic
    ):
        self.settings = settings or WebflowSettings()
        self._clock = clock
        self.store = Store(self.settings)
        self.cms = Cms(self.store)
        self.faults = Faults()
        self._tokens = self.settings.tokens()
        self._windows: dict[str, SlidingWindow] = {}
        self._window_lock = threading.Lock()
        self._publish_window = SlidingWindow(self.settings.publish_per_minute, WINDOW_S, clock)
        self._stats_lock = threading.Lock()
        self._stats = WebflowStats()
        self.app = FaultInjector(self._build_app(), self.faults, self._render_fault)

    # -- in-process API -----------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        return EmulatorServer(self.app, host=host, port=port, name="webflow")

    def products(self) -> list[dict[str, Any]]:
        """Every product as ``{"product": ..., "skus": [...]}``, rendered as the API does (copies)."""
        with self.store.lock:
            return _copy([p.render() for p in self.store.products.values()])

    def items(self, collection: str) -> list[dict[str, Any]]:
        """Every item of a collection (by slug or id) as the CMS API renders it (copies)."""
        with self.store.lock:
            found = self.store.by_slug.get(collection) or self.store.collections.get(collection)
            if found is None:
                raise KeyError(f"no collection {collection!r}")
            return _copy(self.cms.items(found))

    def collection_id(self, slug: str) -> str:
        with self.store.lock:
            found = self.store.by_slug.get(slug)
            if found is None:
                raise KeyError(f"no collection with slug {slug!r}")
            return found.id

    def reject_sku(self, sku: str) -> None:
        """Creates and updates carrying this ``sku`` field answer 400 validation_error naming it, until
        :meth:`clear_rejections`."""
        with self.store.lock:
            self.store.rejected_skus.add(sku)

    def clear_rejections(self) -> None:
        with self.store.lock:
            self.store.rejected_skus.clear()

    def reset(self) -> None:
        """Drop everything written and the rate-limit and publish windows; keep settings, rejections,
        faults and statistics."""
        with self.store.lock:
            self.store.clear()
        with self._window_lock:
            self._windows.clear()
            self._tokens = self.settings.tokens()
            self._publish_window = SlidingWindow(self.settings.publish_per_minute, WINDOW_S, self._clock)

    def stats(self) -> WebflowStats:
        with self._stats_lock:
            return self._stats.model_copy(deep=True)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats = WebflowStats()

    def state(self) -> dict[str, Any]:
        with self.store.lock:
            store = self.store
            return {
                "siteId": self.settings.site_id,
                "ecommerceEnabled": self.settings.ecommerce_enabled,
                "products": len(store.products),
                "skus": len(store.sku_owner),
                "collections": {
                    c.spec.slug: {"id": c.id, "items": self.cms.count(c)} for c in store.collections.values()
                },
                "rejectedSkus": sorted(store.rejected_skus),
                "faults": self.faults.config.model_dump(),
                # The token is the sandbox's own, yet an admin page is no place for it.
                "settings": self.settings.model_dump(exclude={"token", "extra_tokens"}),
            }

    # -- the app --------------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        def route(path: str, handler: Handler, method: str, scope: str | None = None) -> Route:
            template = f"{method} {path}"
            write = method in _WRITE_METHODS

            async def endpoint(request: Request) -> Response:
                started = time.perf_counter()
                headers: dict[str, str] = {}
                try:
                    scopes = self._admit(request, headers)
                    if scope is not None:
                        self._check_scope(scopes, scope)
                    response = await handler(request)
                except WebflowError as exc:
                    response = Response(exc.body(), exc.status, exc.headers, JSON)
                for name, value in headers.items():
                    response.headers[name] = value
                self._count(template, response.status_code, write, time.perf_counter() - started)
                return response

            return Route(path, endpoint, methods=[method])

        def admin(path: str, handler: Handler, *methods: str) -> Route:
            return Route(f"{ADMIN_PREFIX}{path}", handler, methods=list(methods))

        sites, collections = "/v2/sites/{site_id}", "/v2/collections/{collection_id}"
        products = f"{sites}/products"
        inventory = "/v2/collections/{sku_collection_id}/items/{sku_id}/inventory"
        routes = [
            route("/v2/token/introspect", self._introspect, "GET"),
            route("/v2/sites", self._sites, "GET", "sites:read"),
            route(sites, self._site, "GET", "sites:read"),
            route(f"{sites}/custom_domains", self._custom_domains, "GET", "sites:read"),
            route(f"{sites}/publish", self._publish_site, "POST", "sites:write"),
            route(f"{sites}/collections", self._collections, "GET", "cms:read"),
            route(f"{sites}/ecommerce/settings", self._ecommerce_settings, "GET", "ecommerce:read"),
            route(products, self._list_products, "GET", "ecommerce:read"),
            route(products, self._create_product, "POST", "ecommerce:write"),
            route(f"{products}/{{product_id}}", self._get_product, "GET", "ecommerce:read"),
            route(f"{products}/{{product_id}}", self._update_product, "PATCH", "ecommerce:write"),
            route(f"{products}/{{product_id}}/skus", self._create_skus, "POST", "ecommerce:write"),
            route(f"{products}/{{product_id}}/skus/{{sku_id}}", self._update_sku, "PATCH", "ecommerce:write"),
            route(collections, self._collection, "GET", "cms:read"),
            route(f"{collections}/items", self._list_items, "GET", "cms:read"),
            route(f"{collections}/items", self._create_items, "POST", "cms:write"),
            route(f"{collections}/items", self._update_items, "PATCH", "cms:write"),
            route(f"{collections}/items", self._delete_items, "DELETE", "cms:write"),
            route(f"{collections}/items/live", self._list_items_live, "GET", "cms:read"),
            route(f"{collections}/items/live", self._create_items_live, "POST", "cms:write"),
            route(f"{collections}/items/bulk", self._create_items_bulk, "POST", "cms:write"),
            route(f"{collections}/items/publish", self._publish_items, "POST", "cms:write"),
            route(f"{collections}/items/{{item_id}}", self._get_item, "GET", "cms:read"),
            route(f"{collections}/items/{{item_id}}", self._update_item, "PATCH", "cms:write"),
            route(f"{collections}/items/{{item_id}}", self._delete_item, "DELETE", "cms:write"),
            route(inventory, self._get_inventory, "GET", "ecommerce:read"),
            route(inventory, self._update_inventory, "PATCH", "ecommerce:write"),
            admin("/state", self._admin_state, "GET"),
            admin("/faults", self._admin_faults, "GET", "PUT", "POST"),
            admin("/stats", self._admin_stats, "GET"),
            admin("/stats/reset", self._admin_stats_reset, "POST"),
            admin("/reset", self._admin_reset, "POST"),
            admin("/rejections", self._admin_rejections, "GET", "POST", "DELETE"),
        ]

        async def unrouted(request: Request, exc: Exception) -> Response:
            # An unknown path or a method the spec does not define there (DELETE on a product, ...).
            path, root = request.scope["path"], request.scope.get("root_path", "")
            path = path[len(root) :] if root and path.startswith(root) else path  # mounted in a hub
            if not path.startswith("/v2"):
                return Response(error_body("resource_not_found", "Route not found"), 404, media_type=JSON)
            # Starlette's Allow names the first matching route's methods only; collect them all.
            methods = {m for r in routes if r.path_regex.match(path) for m in r.methods or ()}
            allow = ", ".join(sorted(methods))
            headers: dict[str, str] = {}
            try:
                self._admit(request, headers)
                if allow and self.settings.unknown_method_status == 405:
                    raise WebflowError(405, "bad_request", "Method Not Allowed", headers={"Allow": allow})
                raise not_found(f"no route {request.method} {path}")
            except WebflowError as error:
                response = Response(error.body(), error.status, {**error.headers, **headers}, JSON)
            self._count("unrouted", response.status_code, False, 0.0)
            return response

        async def crashed(request: Request, exc: Exception) -> Response:
            return Response(
                error_body("internal_error", f"An Internal Error occurred: {type(exc).__name__}: {exc}"),
                500,
                media_type=JSON,
            )

        return Starlette(routes=routes, exception_handlers={404: unrouted, 405: unrouted, Exception: crashed})

    # -- auth, rate limits, statistics ----------------------------------------------------------------------

    def _admit(self, request: Request, headers: dict[str, str]) -> frozenset[str]:
        """Authenticate and take one call from the token's window; fills ``headers`` in every case."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        scopes = self._tokens.get(token) if scheme.lower() == "bearer" and token else None
        limit = self.settings.rate_limit_per_minute
        if scopes is None:
            headers["X-RateLimit-Limit"] = headers["X-RateLimit-Remaining"] = str(limit or UNLIMITED)
            raise WebflowError(401, "not_authorized", "Request not authorized")
        window = self._window(token, limit or UNLIMITED)
        allowed, remaining, decay = window.try_acquire()
        headers["X-RateLimit-Limit"] = str(window.limit)
        headers["X-RateLimit-Remaining"] = str(remaining)
        if not allowed and limit is not None:
            with self._stats_lock:
                self._stats.too_many += 1
            seconds = max(1, math.ceil(decay))
            raise WebflowError(
                429, "too_many_requests", "Too many requests", headers={"Retry-After": str(seconds)}
            )
        return scopes

    def _window(self, token: str, limit: int) -> SlidingWindow:
        with self._window_lock:
            window = self._windows.get(token)
            if window is None or window.limit != limit:
                window = self._windows[token] = SlidingWindow(limit, WINDOW_S, self._clock)
            return window

    def _check_scope(self, scopes: frozenset[str], needed: str) -> None:
        if needed in scopes:
            return
        area, _, access = needed.partition(":")
        if access == "read" and self.settings.write_implies_read and f"{area}:write" in scopes:
            return
        raise WebflowError(
            403, "missing_scopes", f"OAuthForbidden: You are missing the following scopes - {needed}"
        )

    def _count(self, template: str, status: int, write: bool, seconds: float) -> None:
        with self._stats_lock:
            stats = self._stats
            stats.calls[template] = stats.calls.get(template, 0) + 1
            key = str(status)
            stats.by_status[key] = stats.by_status.get(key, 0) + 1
            if write and status < 400:
                stats.writes += 1
            stats.handler_seconds += seconds

    def _render_fault(self, kind: str, config: FaultConfig) -> Response:
        limit = self.settings.rate_limit_per_minute or UNLIMITED
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(limit)}
        if kind == FaultKind.TOO_MANY:
            headers["X-RateLimit-Remaining"] = "0"
            headers["Retry-After"] = str(max(1, math.ceil(config.retry_after_s)))
            status, body = 429, error_body("too_many_requests", "Too many requests")
        elif config.status_5xx == 503:
            status, body = 503, error_body("service_unavailable", "Service Unavailable")
        else:
            status, body = config.status_5xx, error_body("internal_error", "An Internal Error occurred")
        with self._stats_lock:
            key = str(status)
            self._stats.by_status[key] = self._stats.by_status.get(key, 0) + 1
        return Response(body, status, headers, JSON)

    # -- token and sites ------------------------------------------------------------------------------------

    async def _introspect(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").partition(" ")[2]
        scopes = sorted(self._tokens.get(token.strip(), frozenset()))
        s = self.settings
        return _json(
            {
                "authorization": {
                    "id": s.workspace_id,
                    "createdOn": self.store.created_on,
                    "lastUsed": now_iso(),
                    "grantType": "site_token",
                    "rateLimit": s.rate_limit_per_minute or UNLIMITED,
                    "scope": ",".join(scopes),
                    "authorizedTo": {"siteIds": [s.site_id], "workspaceIds": [s.workspace_id], "userIds": []},
                },
                "application": None,
            }
        )

    async def _sites(self, request: Request) -> Response:
        with self.store.lock:
            return _json({"sites": [self.store.site()]})

    async def _site(self, request: Request) -> Response:
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"])
            return _json(self.store.site())

    async def _custom_domains(self, request: Request) -> Response:
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"])
            return _json({"customDomains": self.store.domains})

    async def _publish_site(self, request: Request) -> Response:
        body = await _body(request)
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"])
            # Validation first: a refused publish does not use up the minute.
            answer = self.store.publish_site(body)
        allowed, _, decay = self._publish_window.try_acquire()
        if not allowed:
            with self._stats_lock:
                self._stats.publish_too_many += 1
            seconds = max(1, math.ceil(decay))
            raise WebflowError(
                429, "too_many_requests", "Too many requests", headers={"Retry-After": str(seconds)}
            )
        with self.store.lock:
            now = now_iso()
            self.store.publish_everything(now, [d["id"] for d in answer["customDomains"]])
            answer = {**answer, "customDomains": [dict(d) for d in answer["customDomains"]]}
        with self._stats_lock:
            self._stats.publishes += 1
        return _json(answer, 202)

    async def _collections(self, request: Request) -> Response:
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"])
            return _json({"collections": [c.summary() for c in self.store.collections.values()]})

    async def _collection(self, request: Request) -> Response:
        with self.store.lock:
            return _json(self.store.collection(request.path_params["collection_id"]).detail())

    # -- e-commerce -----------------------------------------------------------------------------------------

    async def _ecommerce_settings(self, request: Request) -> Response:
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"], ecommerce=True)
            return _json(self.store.ecommerce_settings())

    async def _list_products(self, request: Request) -> Response:
        offset, limit = page_params(request.query_params)
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"], ecommerce=True)
            return _json(self.store.list_products(offset, limit))

    async def _create_product(self, request: Request) -> Response:
        body = await _body(request)
        with self.store.lock:
            self.store.check_site(request.path_params["site_id"], ecommerce=True)
            return _json(self.store.create_product(body, now_iso()).render())

    async def _get_product(self, request: Request) -> Response:
        params = request.path_params
        with self.store.lock:
            return _json(self.store.product(params["site_id"], params["product_id"]).render())

    async def _update_product(self, request: Request) -> Response:
        body = await _body(request)
        params = request.path_params
        with self.store.lock:
            product = self.store.product(params["site_id"], params["product_id"])
            return _json(self.store.update_product(product, body, now_iso()))

    async def _create_skus(self, request: Request) -> Response:
        body = await _body(request)
        params = request.path_params
        with self.store.lock:
            product = self.store.product(params["site_id"], params["product_id"])
            return _json({"skus": self.store.create_skus(product, body, now_iso())})

    async def _update_sku(self, request: Request) -> Response:
        body = await _body(request)
        params = request.path_params
        with self.store.lock:
            product = self.store.product(params["site_id"], params["product_id"])
            return _json(self.store.update_sku(product, params["sku_id"], body, now_iso()))

    async def _get_inventory(self, request: Request) -> Response:
        params = request.path_params
        with self.store.lock:
            return _json(self.store.inventory_of(params["sku_collection_id"], params["sku_id"]))

    async def _update_inventory(self, request: Request) -> Response:
        body = await _body(request)
        params = request.path_params
        with self.store.lock:
            return _json(self.store.update_inventory(params["sku_collection_id"], params["sku_id"], body))

    # -- CMS items ------------------------------------------------------------------------------------------

    async def _list_items(self, request: Request) -> Response:
        with self.store.lock:
            collection = self.store.collection(request.path_params["collection_id"])
            return _json(self.cms.list_items(collection, request.query_params))

    async def _list_items_live(self, request: Request) -> Response:
        with self.store.lock:
            collection = self.store.collection(request.path_params["collection_id"])
            return _json(self.cms.list_items(collection, request.query_params, live=True))

    async def _create_items(self, request: Request) -> Response:
        return await self._create(request, live=False)

    async def _create_items_live(self, request: Request) -> Response:
        return await self._create(request, live=True)

    async def _create(self, request: Request, *, live: bool) -> Response:
        _skip_invalid_files(request)
        body = await _body(request)
        with self.store.lock:
            collection = self.store.collection(request.path_params["collection_id"])
            return _json(self.cms.create(collection, body, now_iso(), live=live), 202)

    async def _create_items_bulk(self, request: Request) -> Response:
        _skip_invalid_files(request)
        body = await _body(request)
        with self.store.lock:
            collection = self.store.collection(request.path_params["collection_id"])
            return _json(self.cms.create_bulk(collection, body, now_iso()), 202)

    async def _update_items(self, request: Request) -> Response:
        _skip_invalid_files(request)
        body = await _body(request)
        with self.store.lock:
            collection = self.store.collection(request.path_params["collection_id"])
            return _json(self.cms.update_many(collection, body, now_iso()))

    async def _get_item(self, request: Request) -> Response:
        params = request.path_params
        with self.store.lock:
            return _json(self.cms.item(self.store.collection(params["collection_id"]), params["item_id"]))

    async def _update_item(self, request: Request) -> Response:
        _skip_invalid_files(request)
        body = await _body(request)
        params = request.path_params
        with self.store.lock:
            collection = self.store.collection(params["collection_id"])
            return _json(self.cms.update_one(collection, params["item_id"], body, now_iso()))

    async def _delete_items(self, request: Request) -> Response:
        body = await _body(request)
        with self.store.lock:
            self.cms.delete_many(self.store.collection(request.path_params["collection_id"]), body)
        return Response(status_code=204)

    async def _delete_item(self, request: Request) -> Response:
        params = request.path_params
        with self.store.lock:
            self.cms.delete_one(self.store.collection(params["collection_id"]), params["item_id"])
        return Response(status_code=204)

    async def _publish_items(self, request: Request) -> Response:
        body = await _body(request)
        with self.store.lock:
            collection = self.store.collection(request.path_params["collection_id"])
            return _json(self.cms.publish(collection, body, now_iso()), 202)

    # -- admin ----------------------------------------------------------------------------------------------

    async def _admin_state(self, request: Request) -> Response:
        return _json(self.state())

    async def _admin_faults(self, request: Request) -> Response:
        if request.method in ("PUT", "POST"):
            try:
                self.faults.configure(FaultConfig.model_validate_json(await request.body() or b"{}"))
            except ValidationError as exc:
                return Response(error_body("validation_error", str(exc)), 422, media_type=JSON)
        return _json(self.faults.config.model_dump())

    async def _admin_stats(self, request: Request) -> Response:
        return _json(self.stats().model_dump())

    async def _admin_stats_reset(self, request: Request) -> Response:
        self.reset_stats()
        return Response(status_code=204)

    async def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)

    async def _admin_rejections(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            sku = body.get("sku")
            if not isinstance(sku, str) or not sku:
                return Response(error_body("validation_error", "sku is required"), 422, media_type=JSON)
            self.reject_sku(sku)
        elif request.method == "DELETE":
            self.clear_rejections()
        with self.store.lock:
            return _json(sorted(self.store.rejected_skus))


def _copy(value: list[Doc]) -> list[dict[str, Any]]:
    copied: list[dict[str, Any]] = orjson.loads(orjson.dumps(value))
    return copied
