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

import math
import mimetypes
import threading
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

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
)
from connector_pipelines.sandbox.shopware6_auth import ShopwareAuth, client_ip, too_many_error
from connector_pipelines.sandbox.shopware6_criteria import Criteria, parse_criteria, parse_php_query
from connector_pipelines.sandbox.shopware6_errors import (
    ShopwareError,
    fail,
    fail_plain,
    plain_error,
    resource_not_found,
    route_not_found,
)
from connector_pipelines.sandbox.shopware6_media import MediaFiles
from connector_pipelines.sandbox.shopware6_orders import SandboxOrder, StateMachines, backdate, order_payload
from connector_pipelines.sandbox.shopware6_products import resolved_products
from connector_pipelines.sandbox.shopware6_read import ReadContext
from connector_pipelines.sandbox.shopware6_render import Renderer, listing_links
from connector_pipelines.sandbox.shopware6_schema import (
    BY_ALIAS,
    SCHEMA,
    SYSTEM_LANGUAGE_ID,
    EntityDef,
    seed_id,
)
from connector_pipelines.sandbox.shopware6_search import Searcher
from connector_pipelines.sandbox.shopware6_settings import RejectRule, ShopwareSettings
from connector_pipelines.sandbox.shopware6_store import Store, primary_key
from connector_pipelines.sandbox.shopware6_write import Writer

__all__ = ["RejectRule", "SandboxOrder", "Shopware6Emulator", "ShopwareSettings", "ShopwareStats"]

JSON = "application/json"
JSON_API = "application/vnd.api+json"
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


async def _json_body(request: Request) -> Any:
    return _decode(await request.body())


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise fail_plain(400, "The JSON payload is malformed.") from None


class Shopware6Emulator:
    """The emulator: ``app`` (ASGI, fault-injected), ``faults``, inspection methods and :meth:`serve`."""

    def __init__(self, settings: ShopwareSettings | None = None) -> None:
        self.settings = settings or ShopwareSettings()
        self.store = Store()
        self.searcher = Searcher(self.store)
        self.writer = Writer(self.store, self.searcher, self.settings)
        self.state_machines = StateMachines(self.store)
        self.faults = Faults()
        self.auth = ShopwareAuth(self.settings)
        self.media = MediaFiles(self.store, self.settings)
        self._stats = _Stats()
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
            return {p["productNumber"]: p for p in resolved_products(self.store)}

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
        self.auth.expire_tokens()

    def state(self) -> dict[str, Any]:
        with self.store.lock:
            return {
                "entities": {name: len(rows) for name, rows in self.store.rows.items()},
                "accessTokens": len(self.auth.tokens),
                "rejectRules": [r.model_dump() for r in self.writer.reject_rules],
                "faults": self.faults.config.model_dump(),
                "settings": self.settings.model_dump(),
            }

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
            *(
                route(
                    f"/api/_action/{entity}/{{id}}/state/{{transition}}",
                    self._order_transition(entity),
                    "POST",
                )
                for entity in ("order", "order_delivery", "order_transaction")
            ),
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
        body, grant = await self.auth.token(request)
        with self._stats.lock:
            self._stats.bump(self._stats.data.tokens_issued, grant)
        return _json(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

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
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
        kind = self._response_type(request)
        key = self.writer.write_one(ent, await _json_body(request), None, self._language(request))
        return self._write_response(request, ent, key, kind)

    async def _update(self, request: Request) -> Response:
        ent = self._entity(request)
        self.auth.authenticate(request)
        kind = self._response_type(request)
        key = str(request.path_params["id"]).lower()
        self.writer.write_one(ent, await _json_body(request), key, self._language(request))
        return self._write_response(request, ent, key, kind)

    async def _delete(self, request: Request) -> Response:
        ent = self._entity(request)
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
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
            content, mime = await self.media.download(url)
        else:
            content, mime = await request.body(), content_type
        if not content:
            raise fail(400, "CONTENT__MEDIA_EMPTY_FILE", "A valid file must be provided.")
        mime = mime or mimetypes.guess_type(f"x.{extension}")[0] or "application/octet-stream"
        with self.store.lock:
            self.media.save(_base_url(request), media_id, file_name, extension, content, mime)
        with self._stats.lock:
            self._stats.data.media_uploads += 1
        return Response(status_code=204, headers={"Location": f"{_base_url(request)}/api/media/{media_id}"})

    async def _media_file(self, request: Request) -> Response:
        found = self.store.files.get("media/" + request.path_params["path"])
        if found is None:
            raise route_not_found(request.method, str(request.url))
        return Response(found[0], media_type=found[1])

    # -- state transitions --------------------------------------------------------------------------------

    def _order_transition(self, entity: str) -> Callable[[Request], Awaitable[Response]]:
        """``OrderActionController`` for ``entity``: ``{"stateFieldName"}`` in the body picks the field
        (``stateId``). The entity comes from the route, not the path: the hub mounts shops under a prefix."""

        async def transition(request: Request) -> Response:
            self.auth.authenticate(request)
            body = _decode(await request.body())
            field_name = body.get("stateFieldName") if isinstance(body, dict) else None
            state = await run_in_threadpool(
                self.state_machines.transition,
                entity,
                str(request.path_params["id"]),
                str(request.path_params["transition"]),
                str(field_name or "stateId"),
            )
            return _json(state)

        return transition

    async def _state_transition(self, request: Request) -> Response:
        """``StateMachineActionController::transitionState``: the state reached, rendered as a detail."""
        self.auth.authenticate(request)
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
        self.auth.authenticate(request)
        transitions = self.state_machines.available(
            str(request.path_params["entity"]),
            str(request.path_params["id"]),
            request.query_params.get("stateFieldName", "stateId"),
        )
        return _json({"transitions": transitions})

    # -- misc ---------------------------------------------------------------------------------------------

    async def _version(self, request: Request) -> Response:
        self.auth.authenticate(request)
        return _json({"version": self.settings.shopware_version})

    async def _index(self, request: Request) -> Response:
        self.auth.authenticate(request)
        if self.settings.saas_rate_limits:
            self.auth.saas_limit(
                "indexing", client_ip(request), self.settings.saas_indexing_limit_per_hour, 3600.0
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


def _too_many(seconds: int) -> Response:
    return _error(ShopwareError(429, too_many_error(seconds), {"Retry-After": str(seconds)}))
