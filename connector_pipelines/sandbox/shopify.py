"""Shopify Admin GraphQL emulator (contract ``shopify.md``): a real HTTP server as strict as the real API.

Routes (relative to wherever the app is mounted; URLs handed out are derived from the request):

* ``POST /admin/api/{version}/graphql.json`` — ``X-Shopify-Access-Token``; documents validated against the
  vendored 2026-07 schema; ``extensions.cost`` on every answer; cost throttling when enabled.
* ``POST /__staged-uploads/`` (multipart form, file last) and ``PUT /__staged-uploads/{key}`` — staged upload
  targets handed out by ``stagedUploadsCreate``.
* ``GET /__bulk-results/{shop}/{id}.jsonl?…&sig=…`` — bulk operation results (signed, named downloads).
* REST Admin (``shopify_rest``): ``/admin/api/{version}/shop.json``, ``/admin/oauth/access_scopes.json``,
  ``customers.json``, ``orders.json``, ``products.json`` with counts and single records.
* ``/__sandbox/state`` (GET), ``/__sandbox/faults`` (GET, PUT), ``/__sandbox/faults/bulk`` (PUT, DELETE),
  ``/__sandbox/stats`` (GET), ``/__sandbox/stats/reset`` (POST), ``/__sandbox/reset`` (POST),
  ``/__sandbox/seed`` (POST, :class:`SeedRequest`).

Webhooks of every change go to the subscribed addresses from background threads (``shopify_webhooks``).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

import orjson
from graphql import GraphQLSchema
from graphql.language import FieldNode, OperationDefinitionNode, OperationType
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from connector_pipelines.sandbox.server import (
    EmulatorServer,
    FaultConfig,
    FaultCounters,
    FaultInjector,
    FaultKind,
    Faults,
)
from connector_pipelines.sandbox.shopify_bulk import (
    INTERNAL_ERROR,
    BulkCounters,
    BulkFaults,
    BulkService,
    LinePredicate,
    RequestContext,
    UploadError,
    _FailNext,
    idempotency_keys,
    line_predicate,
)
from connector_pipelines.sandbox.shopify_bulk_query import BulkExports
from connector_pipelines.sandbox.shopify_controls import CommerceControls, SeedRequest
from connector_pipelines.sandbox.shopify_gql import (
    DocumentCache,
    Executor,
    InputCoercion,
    Json,
    coerce_variables,
)
from connector_pipelines.sandbox.shopify_gql_cost import CostCalculator
from connector_pipelines.sandbox.shopify_gql_errors import ErrorDict
from connector_pipelines.sandbox.shopify_products import ProductSet
from connector_pipelines.sandbox.shopify_resolvers import build_resolvers, type_name_of
from connector_pipelines.sandbox.shopify_rest import RestApi
from connector_pipelines.sandbox.shopify_settings import ShopifySettings
from connector_pipelines.sandbox.shopify_store import (
    BulkOperationRecord,
    Metafield,
    Product,
    ShopState,
    Variant,
    gid,
    next_id,
    parse_gid,
)
from connector_pipelines.sandbox.shopify_webhooks import Attempt, Subscription, WebhookService, topic_enum
from connector_pipelines.schemas import shopify_schema

__all__ = ["ShopifyEmulator", "ShopifySettings"]

_VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")
_UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
_RATE_DOCS = "https://shopify.dev/api/usage/rate-limits"
_JSON = "application/json; charset=utf-8"


def _json(body: Json, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=dict(headers or {}), media_type=_JSON)


def _throttled_error() -> ErrorDict:
    return {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": _RATE_DOCS}}


def _render_fault(kind: str, config: FaultConfig) -> Response:
    request_id = str(uuid.uuid4())
    if kind == FaultKind.TOO_MANY:
        return _json(
            {"errors": [_throttled_error()]},
            429,
            {"Retry-After": f"{config.retry_after_s:g}", "X-Request-Id": request_id},
        )
    message = f"{INTERNAL_ERROR}\nRequest ID: {request_id} (include this in support requests)."
    return _json(
        {
            "errors": [
                {"message": message, "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}
            ]
        },
        config.status_5xx,
        {"X-Request-Id": request_id},
    )


BulkErrorCode = Literal["ACCESS_DENIED", "INTERNAL_SERVER_ERROR", "TIMEOUT"]


class BulkFaultConfig(BaseModel):
    """Body of ``PUT /__sandbox/faults/bulk``."""

    fail_next_error_code: BulkErrorCode | None = None
    fail_next_after_lines: int = Field(0, ge=0)
    fail_lines: list[int] = Field(default_factory=list)


@dataclass
class ShopifyStats:
    """Request and cost statistics of one emulator (all shops)."""

    graphql_calls: int = 0
    unauthorized: int = 0
    throttled: int = 0
    max_cost_exceeded: int = 0
    rejected_documents: int = 0
    requested_cost: int = 0
    actual_cost: int = 0
    rest_calls: int = 0
    rest_throttled: int = 0
    root_fields: dict[str, int] = field(default_factory=dict)

    def count(self, root_fields: Iterable[str]) -> None:
        for name in root_fields:
            self.root_fields[name] = self.root_fields.get(name, 0) + 1


class ShopifyEmulator(CommerceControls):
    """One emulated Shopify (one or more shops). ``app`` is the ASGI app wrapped in :class:`FaultInjector`.

    Test controls (seeding, customer and order changes) come from :class:`CommerceControls`.
    """

    def __init__(self, settings: ShopifySettings | None = None) -> None:
        self.settings = settings or ShopifySettings()
        self.schema: GraphQLSchema = shopify_schema()
        self.docs = DocumentCache(self.schema, self.settings.error_style)
        self.coercion = InputCoercion()
        self.costs = CostCalculator(self.schema)
        self.executor: Executor[RequestContext] = Executor(
            self.schema, self.coercion, build_resolvers(self.schema), type_name_of
        )
        self.bulk_faults = BulkFaults()
        self.bulk = BulkService(
            self.settings, self.schema, self.docs, self.coercion, self.executor, self.bulk_faults
        )
        self.exports = BulkExports(
            self.settings, self.schema, self.docs, self.executor, type_name_of, self.bulk_faults
        )
        self.webhooks = WebhookService(self.settings)
        self.faults = Faults()
        self.stats = ShopifyStats()
        self._stats_lock = threading.Lock()
        self.shops: dict[str, ShopState] = {}
        self._by_token: dict[str, ShopState] = {}
        self.reset()
        routes = [
            Route("/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]),
            Route("/__staged-uploads/", self._upload_post, methods=["POST"]),
            Route("/__staged-uploads/{key:path}", self._upload_put, methods=["PUT"]),
            Route("/__bulk-results/{shop}/{op_id:int}.jsonl", self._bulk_result, methods=["GET"]),
            Route("/__sandbox/state", self._admin_state, methods=["GET"]),
            Route("/__sandbox/faults", self._admin_faults, methods=["GET", "PUT"]),
            Route("/__sandbox/faults/bulk", self._admin_bulk_faults, methods=["PUT", "DELETE"]),
            Route("/__sandbox/stats", self._admin_stats, methods=["GET"]),
            Route("/__sandbox/stats/reset", self._admin_stats_reset, methods=["POST"]),
            Route("/__sandbox/reset", self._admin_reset, methods=["POST"]),
            Route("/__sandbox/seed", self._admin_seed, methods=["POST"]),
            *RestApi(self.settings, self._authenticated, self._served_version, self._count_rest).routes(),
        ]
        inner = Starlette(routes=routes, exception_handlers={404: self._not_found, 405: self._not_allowed})
        self.app = FaultInjector(inner, self.faults, _render_fault)

    # --- public API ---------------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        """Start serving on a background thread; call ``stop()`` on the result when done."""
        return EmulatorServer(self.app, host=host, port=port, name="shopify").start()

    def reset(self) -> None:
        """Forget all shop data (products, bulk operations, uploads) and faults."""
        for state in getattr(self, "shops", {}).values():
            self.exports.forget(list(state.bulk_operations.values()))
        self.shops = {name: ShopState(name, self.settings) for name in self.settings.shops}
        self._by_token = {token: self.shops[name] for name, token in self.settings.shops.items()}
        for state in self.shops.values():
            self.webhooks.attach(state)
        self.bulk.forget_uploads()
        self.bulk_faults.clear()
        self.faults.clear()

    def products(self, shop: str | None = None) -> list[dict[str, Json]]:
        state = self.shop(shop)
        with state.lock:
            return [_product_snapshot(p) for p in state.products.values()]

    def product_by_sku(self, sku: str, shop: str | None = None) -> dict[str, Json] | None:
        state = self.shop(shop)
        with state.lock:
            variant = next((v for v in state.variants.values() if v.sku == sku), None)
            return _product_snapshot(variant.product) if variant else None

    def variants_by_sku(self, shop: str | None = None) -> dict[str, dict[str, Json]]:
        """SKU -> variant snapshot (the first variant of a duplicated SKU)."""
        state = self.shop(shop)
        with state.lock:
            out: dict[str, dict[str, Json]] = {}
            for variant in state.variants.values():
                if variant.sku and variant.sku not in out:
                    out[variant.sku] = _variant_snapshot(variant)
            return out

    def product_count(self, shop: str | None = None) -> int:
        return len(self.shop(shop).products)

    def variant_count(self, shop: str | None = None) -> int:
        return len(self.shop(shop).variants)

    def bulk_operations(self, shop: str | None = None) -> list[dict[str, Json]]:
        state = self.shop(shop)
        with state.lock:
            return [_bulk_snapshot(op) for op in state.bulk_operations.values()]

    def put_product(self, product_input: dict[str, Json], shop: str | None = None) -> dict[str, Json]:
        """Seed a product through productSet's rules without HTTP; raises ValueError on userErrors."""
        state = self.shop(shop)
        operation = self.docs.get(_SEED_DOCUMENT).operations[None]
        variables, errors = coerce_variables(self.schema, self.coercion, operation, {"input": product_input})
        if errors:
            raise ValueError(errors)
        with state.lock:
            writer = ProductSet(state, time.time(), time.monotonic())
            product = writer.run(None, variables["input"])
            if product is None:
                raise ValueError(writer.errors)
            return _product_snapshot(product)

    def fail_next_bulk_operation(
        self, error_code: BulkErrorCode = "INTERNAL_SERVER_ERROR", *, after_lines: int = 0
    ) -> None:
        """The next bulk operation stops with FAILED/``error_code`` after ``after_lines`` result lines."""
        self.bulk_faults.fail_next = _FailNext(error_code, after_lines)

    def fail_bulk_lines(self, lines: Iterable[int] | LinePredicate) -> None:
        """Lines (0-based numbers, or ``predicate(number, variables)``) fail with an internal error."""
        self.bulk_faults.fail_lines = line_predicate(lines)

    # --- webhooks -------------------------------------------------------------------------------------------

    def subscribe_webhook(self, topic: str, uri: str, *, shop: str | None = None) -> str:
        """Subscribe ``uri`` to ``topic`` (``ORDERS_CREATE`` or ``orders/create``) as
        webhookSubscriptionCreate would; returns the subscription's GID."""
        state = self.shop(shop)
        with state.lock:
            subscription = Subscription(next_id(), topic_enum(topic), uri, time.time())
            state.webhooks[subscription.id] = subscription
            return gid("WebhookSubscription", subscription.id)

    def send_compliance_webhook(
        self, topic: str, uri: str, *, customer: str | None = None, shop: str | None = None
    ) -> str:
        """Send ``customers/data_request``, ``customers/redact`` (of ``customer``) or ``shop/redact`` to
        ``uri``; returns the delivery's X-Shopify-Webhook-Id."""
        state = self.shop(shop)
        parsed = parse_gid(customer, "Customer") if customer else None
        with state.lock:
            return self.webhooks.send_compliance(state, topic, uri, parsed[1] if parsed else None)

    def wait_for_webhooks(self, timeout_s: float = 30.0) -> None:
        """Block until every queued delivery was answered or gave up retrying (no sleeping in tests)."""
        if not self.webhooks.drain(timeout_s):
            raise TimeoutError(
                f"{self.webhooks.pending()} webhook deliveries still pending after {timeout_s} s"
            )

    def webhook_attempts(self) -> list[Attempt]:
        """Every delivery attempt so far (the most recent 10,000), oldest first."""
        return list(self.webhooks.attempts)

    def hold_bulk_operations(self) -> None:
        """New bulk operations stay CREATED until :meth:`release_bulk_operations` or ``clear_bulk_faults``."""
        self.bulk_faults.gate.clear()

    def release_bulk_operations(self) -> None:
        self.bulk_faults.gate.set()

    def clear_bulk_faults(self) -> None:
        self.bulk_faults.clear()

    def wait_for_bulk(self, timeout_s: float = 10.0) -> None:
        """Block until running bulk operations (mutations and queries) have finished."""
        deadline = time.monotonic() + timeout_s
        self.bulk.join(timeout_s)
        self.exports.join(max(0.0, deadline - time.monotonic()))

    def stats_snapshot(self) -> dict[str, Json]:
        with self._stats_lock:
            snapshot: dict[str, Json] = asdict(self.stats)
        counters = self.bulk.counters
        snapshot.update(
            bulk_operations=counters.operations,
            bulk_lines=counters.lines,
            uploads=counters.uploads,
            result_downloads=counters.downloads,
            faults_injected=self.faults.counters.total,
        )
        return snapshot

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats = ShopifyStats()
        self.bulk.counters = BulkCounters()
        self.faults.counters = FaultCounters()

    # --- GraphQL ------------------------------------------------------------------------------------------

    def _served_version(self, version: str) -> str | None:
        supported = self.settings.supported_versions
        if version in supported:
            return version
        stable = sorted(v for v in supported if _VERSION.match(v))
        if not _VERSION.match(version) or not stable or version > stable[-1]:
            return None
        if self.settings.unsupported_version == "fall_forward" and version < stable[0]:
            return stable[0]
        return None

    def _authenticated(self, request: Request) -> ShopState | None:
        shop = self._by_token.get(request.headers.get("x-shopify-access-token", ""))
        host = request.headers.get("host", "").split(":")[0]
        if shop is not None and host.endswith(".myshopify.com") and host != f"{shop.name}.myshopify.com":
            return None  # a token only opens its own shop
        return shop

    def _count_rest(self, throttled: bool) -> None:
        with self._stats_lock:
            self.stats.rest_calls += 1
            self.stats.rest_throttled += int(throttled)

    async def _graphql(self, request: Request) -> Response:
        served = self._served_version(request.path_params["version"])
        if served is None:
            return _json({"errors": "Not Found"}, 404)
        shop = self._authenticated(request)
        headers = {"X-Request-Id": str(uuid.uuid4()), "X-Shopify-API-Version": served}
        if shop is None:
            with self._stats_lock:
                self.stats.unauthorized += 1
            return _json(
                _UNAUTHORIZED,
                401,
                {**headers, "WWW-Authenticate": 'Basic Realm="Shopify API Authentication"'},
            )
        payload = _payload(await request.body(), request.headers.get("content-type", ""))
        if payload is None:
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400, headers)
        status, body = self.execute(shop, payload, _base_url(request), served)
        return _json(body, status, headers)

    def execute(
        self, shop: ShopState, payload: dict[str, Json], base_url: str, version: str
    ) -> tuple[int, Json]:
        """One GraphQL request against ``shop``: (HTTP status, body)."""
        with self._stats_lock:
            self.stats.graphql_calls += 1
        prepared = self.docs.get(payload["query"])
        if prepared.errors:
            return self._rejected(shop, prepared.errors)
        operation = prepared.operation(payload.get("operationName"))
        if isinstance(operation, dict):
            return self._rejected(shop, [operation])
        too_new = _newer_root_fields(operation, version)
        if too_new:
            return self._rejected(shop, too_new)
        raw = payload.get("variables") or {}
        variables, errors = coerce_variables(self.schema, self.coercion, operation, raw)
        if errors:
            return self._rejected(shop, errors)
        requested = self.costs.cost(prepared, operation, variables)
        maximum = self.settings.max_query_cost
        if requested > maximum:
            with self._stats_lock:
                self.stats.max_cost_exceeded += 1
            error = {
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({maximum}).\n\n"
                "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
                "cost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk "
                "operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-"
                "with-admin-api for usage details.\n",
                "extensions": {
                    "code": "MAX_COST_EXCEEDED",
                    "cost": requested,
                    "maxCost": maximum,
                    "documentation": _RATE_DOCS,
                },
            }
            return 200, {"errors": [error], "extensions": {"cost": self._cost(shop, requested, None)}}
        throttling = self.settings.throttle_enabled
        if throttling and requested > shop.bucket.available():
            with self._stats_lock:
                self.stats.throttled += 1
            throttled = {
                "errors": [_throttled_error()],
                "extensions": {"cost": self._cost(shop, requested, None)},
            }
            return self.settings.throttled_status, throttled
        ctx = RequestContext(
            shop,
            self.settings,
            self.bulk,
            base_url,
            version,
            exports=self.exports,
            idempotency_keys=idempotency_keys(operation, variables),
        )
        with shop.lock:
            data, field_errors = self.executor.execute(prepared, operation, variables, ctx)
        actual = (
            min(requested, self.costs.cost(prepared, operation, variables, data, actual=True)) if data else 0
        )
        if throttling:
            shop.bucket.charge(actual)
        with self._stats_lock:
            self.stats.requested_cost += requested
            self.stats.actual_cost += actual
            self.stats.count(
                s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)
            )
        body: dict[str, Json] = {"data": data}
        if field_errors:
            body["errors"] = field_errors
        extensions: dict[str, Json] = {"cost": self._cost(shop, requested, actual)}
        if ctx.search:
            extensions["search"] = ctx.search
        body["extensions"] = extensions
        return 200, body

    def _rejected(self, shop: ShopState, errors: list[ErrorDict]) -> tuple[int, Json]:
        with self._stats_lock:
            self.stats.rejected_documents += 1
        return 200, {"errors": errors, "extensions": {"cost": self._cost(shop, 0, 0)}}

    def _cost(self, shop: ShopState, requested: int, actual: int | None) -> dict[str, Json]:
        capacity = self.settings.bucket_capacity
        available = shop.bucket.available() if self.settings.throttle_enabled else capacity
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": float(capacity),
                "currentlyAvailable": int(available),
                "restoreRate": float(self.settings.restore_rate),
            },
        }

    # --- uploads and results ------------------------------------------------------------------------------

    async def _upload_post(self, request: Request) -> Response:
        try:
            key, created = self.bulk.upload_form(
                await request.body(), request.headers.get("content-type", "")
            )
        except UploadError as exc:
            return Response(exc.xml(), exc.status, media_type="application/xml")
        if not created:
            return Response(status_code=204)
        location = f"{_base_url(request)}/__staged-uploads/{key}"
        xml = (
            "<?xml version='1.0' encoding='UTF-8'?><PostResponse>"
            f"<Location>{location}</Location><Bucket>shopify-staged-uploads</Bucket><Key>{key}</Key>"
            f'<ETag>"{uuid.uuid4().hex}"</ETag></PostResponse>'
        )
        return Response(xml.encode(), 201, media_type="application/xml")

    async def _upload_put(self, request: Request) -> Response:
        signature = request.query_params.get("X-Goog-Signature", "")
        try:
            self.bulk.upload_put(request.path_params["key"], signature, await request.body())
        except UploadError as exc:
            return Response(exc.xml(), exc.status, media_type="application/xml")
        return Response(status_code=200)

    async def _bulk_result(self, request: Request) -> Response:
        shop = self.shops.get(request.path_params["shop"])
        try:
            if shop is None:
                raise UploadError(404, "NoSuchKey", "The specified key does not exist.")
            body = self.bulk.result(shop, request.path_params["op_id"], request.query_params.get("sig", ""))
        except UploadError as exc:
            return Response(exc.xml(), exc.status, media_type="application/xml")
        # Signed storage URLs name the download and its type in the query (response-content-*).
        media_type = request.query_params.get("response-content-type", "application/jsonl")
        headers = {}
        disposition = request.query_params.get("response-content-disposition")
        if disposition:
            headers["Content-Disposition"] = disposition
        if isinstance(body, str):
            return FileResponse(body, media_type=media_type, headers=headers)
        return Response(body, 200, media_type=media_type, headers=headers)

    # --- admin --------------------------------------------------------------------------------------------

    async def _admin_state(self, request: Request) -> Response:
        state = {
            name: {
                "products": self.products(name),
                "bulk_operations": self.bulk_operations(name),
                "bucket_available": shop.bucket.available(),
            }
            for name, shop in self.shops.items()
        }
        return _json({"shops": state})

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            self.faults.configure(FaultConfig.model_validate_json(await request.body()))
        return _json({"http": self.faults.config.model_dump(), "counters": asdict(self.faults.counters)})

    async def _admin_bulk_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_bulk_faults()
            return _json({})
        config = BulkFaultConfig.model_validate_json(await request.body())
        if config.fail_next_error_code is not None:
            self.fail_next_bulk_operation(
                config.fail_next_error_code, after_lines=config.fail_next_after_lines
            )
        if config.fail_lines:
            self.fail_bulk_lines(config.fail_lines)
        return _json(config.model_dump())

    async def _admin_stats(self, request: Request) -> Response:
        return _json(self.stats_snapshot())

    async def _admin_stats_reset(self, request: Request) -> Response:
        self.reset_stats()
        return _json(self.stats_snapshot())

    async def _admin_seed(self, request: Request) -> Response:
        wanted = SeedRequest.model_validate_json(await request.body())
        counts = await run_in_threadpool(self.seed, wanted, shop=request.query_params.get("shop"))
        return _json(counts.model_dump())

    async def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return _json({})

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return _json({"errors": "Not Found"}, 404)

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return _json({"errors": "Method Not Allowed"}, 405)


_SEED_DOCUMENT = "mutation($input: ProductSetInput!) { productSet(input: $input) { product { id } } }"


_ROOT_FIELDS_SINCE = {"bulkOperation": "2026-01", "bulkOperations": "2026-01"}
"""Root fields younger than the oldest supported version (contract §2); the vendored schema is 2026-07's."""


def _newer_root_fields(operation: OperationDefinitionNode, version: str) -> list[ErrorDict]:
    errors: list[ErrorDict] = []
    root = "Mutation" if operation.operation == OperationType.MUTATION else "QueryRoot"
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        since = _ROOT_FIELDS_SINCE.get(selection.name.value)
        if since and version != "unstable" and version < since:
            name = selection.name.value
            error: ErrorDict = {
                "message": f"Field '{name}' doesn't exist on type '{root}'",
                "path": [operation.operation.value, name],
                "extensions": {"code": "undefinedField", "typeName": root, "fieldName": name},
            }
            if selection.loc is not None and selection.loc.source is not None:
                position = selection.loc.source.get_location(selection.loc.start)
                error["locations"] = [{"line": position.line, "column": position.column}]
            errors.append(error)
    return errors


def _base_url(request: Request) -> str:
    """Where this app is reachable, mount prefix included (``request.base_url`` drops a Mount's prefix)."""
    root = request.scope.get("root_path", "")
    return str(request.url.replace(path=root, query="")).rstrip("/")


def _payload(body: bytes, content_type: str) -> dict[str, Json] | None:
    """The request body as {"query", "variables", "operationName"}; None when unusable (answered 400)."""
    if content_type.startswith("application/graphql"):
        return {"query": body.decode("utf-8", "replace")}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("query"), str)
        or not payload["query"].strip()
    ):
        return None
    variables = payload.get("variables")
    if isinstance(variables, str):
        try:
            variables = orjson.loads(variables) if variables.strip() else None
        except orjson.JSONDecodeError:
            return None
    if variables is not None and not isinstance(variables, dict):
        return None
    payload["variables"] = variables
    return payload


def _variant_snapshot(variant: Variant) -> dict[str, Json]:
    names = {id(v): o.name for o in variant.product.options for v in o.values}
    return {
        "id": gid("ProductVariant", variant.id),
        "product_id": gid("Product", variant.product.id),
        "sku": variant.sku,
        "title": variant.title,
        "price": variant.price,
        "compareAtPrice": variant.compare_at_price,
        "barcode": variant.barcode,
        "inventoryPolicy": variant.inventory_policy,
        "inventoryQuantity": variant.inventory_quantity,
        "taxable": variant.taxable,
        "position": variant.position,
        "options": {names.get(id(v), ""): v.name for v in variant.option_values},
        "metafields": [_metafield_snapshot(m) for m in variant.metafields],
        "inventory": {
            gid("Location", location): quantities.get("available", 0)
            for location, quantities in sorted(variant.quantities.items())
            if "available" in quantities
        },
        "image": variant.media[0].source if variant.media else None,
    }


def _metafield_snapshot(m: Metafield) -> dict[str, Json]:
    return {"namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value}


def _product_snapshot(product: Product) -> dict[str, Json]:
    return {
        "id": gid("Product", product.id),
        "title": product.title,
        "handle": product.handle,
        "status": product.status,
        "vendor": product.vendor,
        "productType": product.product_type,
        "descriptionHtml": product.description_html,
        "tags": list(product.tags),
        "options": [{"name": o.name, "values": [v.name for v in o.values]} for o in product.options],
        "variants": [_variant_snapshot(v) for v in product.variants],
        "metafields": [_metafield_snapshot(m) for m in product.metafields],
        "media": [
            {"id": gid("MediaImage", m.id), "source": m.source, "alt": m.alt, "status": m.status}
            for m in product.media
        ],
        "createdAt": product.created_at,
        "updatedAt": product.updated_at,
    }


def _bulk_snapshot(op: BulkOperationRecord) -> dict[str, Json]:
    return {
        "id": gid("BulkOperation", op.id),
        "type": op.type,
        "status": op.status,
        "errorCode": op.error_code,
        "objectCount": op.object_count,
        "createdAt": op.created_at,
        "completedAt": op.completed_at,
        "fileSize": op.file_size,
        "clientIdentifier": op.client_identifier,
    }
