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
from collections.abc import Awaitable, Callable, Collection, Sequence
from http import HTTPStatus
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.plentymarkets_access import AuthRoutes, RateLimiter, Session, SessionStore
from connector_pipelines.sandbox.plentymarkets_admin import (
    MUTATION,
    AddItem,
    ChangeRandom,
    ChangeTarget,
    DeactivateVariation,
    DeleteItem,
    MoveCategory,
    Mutation,
    MutationResult,
    PlentyState,
    PlentyStats,
    SetPrice,
    SetStock,
    StatsCollector,
    UpdateItem,
    UpdateVariation,
)
from connector_pipelines.sandbox.plentymarkets_catalog import PlentyCatalog
from connector_pipelines.sandbox.plentymarkets_images import IMAGE_SIZES, image_bytes, manufacturer_logo_bytes
from connector_pipelines.sandbox.plentymarkets_params import ApiError, Params, json_response
from connector_pipelines.sandbox.plentymarkets_reads import ReadRoutes
from connector_pipelines.sandbox.plentymarkets_records import (
    CatalogOptions,
    Change,
    ItemPatch,
    VariationPatch,
)
from connector_pipelines.sandbox.plentymarkets_reference import JSON
from connector_pipelines.sandbox.plentymarkets_render import ITEM_RELATIONS, VARIATION_RELATIONS, Renderer
from connector_pipelines.sandbox.plentymarkets_settings import (
    R_ATTRIBUTE_VALUES,
    R_ATTRIBUTES,
    R_BARCODES,
    R_CATEGORIES,
    R_ITEM,
    R_ITEM_IMAGES,
    R_ITEM_VARIATION,
    R_ITEM_VARIATIONS,
    R_ITEMS,
    R_LOGIN,
    R_LOGOUT,
    R_MANUFACTURERS,
    R_PROPERTIES,
    R_REFRESH,
    R_SALES_PRICES,
    R_STOCK,
    R_UNITS,
    R_UNKNOWN,
    R_VARIATION_LIST,
    R_VARIATION_SALES_PRICES,
    R_VARIATION_STOCK,
    R_VARIATIONS,
    R_VAT,
    R_VAT_STANDARD,
    R_WAREHOUSES,
    R_WEBSTORES,
    PlentySettings,
)
from connector_pipelines.sandbox.server import (
    ADMIN_PREFIX,
    EmulatorServer,
    FaultConfig,
    FaultInjector,
    FaultKind,
    Faults,
)

Handler = Callable[[Request, Params, Session | None], Awaitable[Response]]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


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
        self.auth = AuthRoutes(s, self.sessions)
        self.reads = ReadRoutes(self.catalog, s, self.tz)
        self._stats = StatsCollector()
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

    def _params(self, request: Request) -> Params:
        return Params(request.query_params.multi_items(), self.settings, self.tz)

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

    async def _not_found(self, request: Request, params: Params, session: Session | None) -> Response:
        raise ApiError(404, "Not Found")

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
            mutation = MUTATION.validate_json(await request.body())
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
            self._api(R_LOGIN, self.auth.login, ["POST"], auth=False),
            self._api(R_REFRESH, self.auth.refresh, ["POST"], auth=False),
        ]
        if "post_logout" in self.settings.logout_routes:
            routes.append(self._api(R_LOGOUT, self.auth.logout, ["POST"]))
        if "delete_login" in self.settings.logout_routes:
            routes.append(self._api(R_LOGIN, self.auth.logout, ["DELETE"]))
        routes += [
            self._api(R_ITEMS, self.reads.items, get),
            self._api(R_VARIATIONS, self.reads.variations, get),
            self._api(R_VARIATION_SALES_PRICES, self.reads.variation_sales_prices, get),
            self._api(R_ATTRIBUTES, self.reads.attributes, get),
            self._api(R_ATTRIBUTE_VALUES, self.reads.attribute_values, get),
            self._api(R_SALES_PRICES, self.reads.sales_prices, get),
            self._api(R_MANUFACTURERS, self.reads.manufacturers, get),
            self._api(R_UNITS, self.reads.units, get),
            self._api(R_BARCODES, self.reads.barcodes, get),
            self._api(R_PROPERTIES, self.reads.properties, get),
            self._api(R_VARIATION_STOCK, self.reads.variation_stock, get),
            # numeric ids only, so /rest/items/variations and friends keep their own routes
            self._api(R_ITEM, self.reads.item, get, pattern="/rest/items/{itemId:int}"),
            self._api(
                R_ITEM_VARIATIONS,
                self.reads.item_variations,
                get,
                pattern="/rest/items/{itemId:int}/variations",
            ),
            self._api(
                R_ITEM_VARIATION,
                self.reads.item_variation,
                get,
                pattern="/rest/items/{itemId:int}/variations/{variationId:int}",
            ),
            self._api(R_ITEM_IMAGES, self.reads.item_images, get, pattern="/rest/items/{itemId:int}/images"),
            self._api(
                R_VARIATION_LIST,
                self.reads.variation_list,
                get,
                pattern="/rest/items/{itemId:int}/variations/{variationId:int}/{list}",
            ),
            self._api(R_CATEGORIES, self.reads.categories, get),
            self._api(R_STOCK, self.reads.stock, get),
            self._api(R_WAREHOUSES, self.reads.warehouses, get),
            self._api(R_WEBSTORES, self.reads.webstores, get),
            self._api(R_VAT, self.reads.vat, get),
            self._api(R_VAT_STANDARD, self.reads.vat_standard, get),
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
