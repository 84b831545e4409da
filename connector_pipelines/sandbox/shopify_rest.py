"""The legacy REST Admin API of the Shopify emulator (contract §11): what older ingestion code and every app
reads first.

* ``GET /admin/api/{version}/shop.json``, ``GET /admin/oauth/access_scopes.json``;
* ``GET /admin/api/{version}/{customers,orders,products}.json``, their ``/count.json`` and ``/{id}.json``.

Lists page by id with ``limit`` (default 50, at most 250) and ``page_info`` cursors in a ``Link`` header
formatted exactly as Shopify's (``<url>; rel="previous", <url>; rel="next"``); a cursor carries the filters,
so with ``page_info`` only ``limit`` and ``fields`` may be sent. Filters: ``ids``, ``since_id``,
``created_at_min/max``, ``updated_at_min/max``, and for orders ``status`` (``open`` by default, ``closed``,
``cancelled``, ``any``), ``financial_status``, ``fulfillment_status``; for products ``status``, ``vendor``,
``product_type``, ``handle``. Every answer carries ``X-Shopify-Shop-Api-Call-Limit: used/40``; the bucket
leaks 2 requests a second and a full one answers 429 with ``Retry-After`` (settings ``rest_*``).
"""

from __future__ import annotations

import base64
import bisect
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector_pipelines.sandbox.shopify_gql import Json
from connector_pipelines.sandbox.shopify_rest_payloads import (
    customer_json,
    order_json,
    product_json,
    rest_time,
)
from connector_pipelines.sandbox.shopify_search import instant
from connector_pipelines.sandbox.shopify_settings import ShopifySettings
from connector_pipelines.sandbox.shopify_shop_resolvers import scope_view
from connector_pipelines.sandbox.shopify_store import ShopState

JSON = "application/json; charset=utf-8"
UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
CURSOR_PARAMS = frozenset({"limit", "fields", "page_info"})
Authenticate = Callable[[Request], ShopState | None]
ServedVersion = Callable[[str], str | None]


class RestError(Exception):
    def __init__(self, status: int, body: Json) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


class RestBucket:
    """Shopify's request-based leaky bucket: each call fills one slot; slots leak at ``rate`` per second."""

    def __init__(self, size: int, rate: float) -> None:
        self.size = size
        self.rate = rate
        self._used = 0.0
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int]:
        """(allowed, slots used afterwards)."""
        with self._lock:
            now = time.monotonic()
            self._used = max(0.0, self._used - (now - self._at) * self.rate)
            self._at = now
            if self._used + 1 > self.size:
                return False, self.size
            self._used += 1
            return True, max(1, round(self._used))


@dataclass(frozen=True)
class Resource:
    plural: str
    records: Callable[[ShopState], list[Any]]
    lookup: Callable[[ShopState, int], Any]
    render: Callable[[ShopState, Any], dict[str, Json]]
    created: Callable[[Any], float | str | None]
    updated: Callable[[Any], float | str | None]
    matches: Callable[[Any, Mapping[str, str]], bool]


def _order_filter(order: Any, params: Mapping[str, str]) -> bool:
    status = params.get("status", "open")
    if status == "open" and (order.closed_at is not None or order.cancelled_at is not None):
        return False
    if status == "closed" and order.closed_at is None:
        return False
    if status == "cancelled" and order.cancelled_at is None:
        return False
    financial = params.get("financial_status")
    if financial and financial != "any" and order.financial_status.lower() != financial:
        return False
    fulfilment = params.get("fulfillment_status")
    if fulfilment and fulfilment != "any":
        mapping = {"shipped": "FULFILLED", "partial": "PARTIALLY_FULFILLED", "unshipped": "UNFULFILLED"}
        if order.fulfillment_status != mapping.get(fulfilment, fulfilment.upper()):
            return False
    return True


def _product_filter(product: Any, params: Mapping[str, str]) -> bool:
    for key, value in (
        ("status", product.status.lower()),
        ("vendor", product.vendor),
        ("product_type", product.product_type),
    ):
        wanted = params.get(key)
        if wanted and value not in wanted.split(","):
            return False
    handles = params.get("handle")
    return not handles or product.handle in handles.split(",")


RESOURCES = {
    "customers": Resource(
        "customers",
        lambda shop: list(shop.commerce.customers.values()),
        lambda shop, number: shop.commerce.customers.get(number),
        customer_json,
        lambda c: c.created_at,
        lambda c: c.updated_at,
        lambda c, params: True,
    ),
    "orders": Resource(
        "orders",
        lambda shop: list(shop.commerce.orders.values()),
        lambda shop, number: shop.commerce.orders.get(number),
        order_json,
        lambda o: o.created_at,
        lambda o: o.updated_at,
        _order_filter,
    ),
    "products": Resource(
        "products",
        lambda shop: list(shop.products.values()),
        lambda shop, number: shop.products.get(number),
        product_json,
        lambda p: p.created_at,
        lambda p: p.updated_at,
        _product_filter,
    ),
}
_TIME_FILTERS = ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
_FILTERS = ("ids", "since_id", *_TIME_FILTERS, "status", "financial_status", "fulfillment_status", "vendor",
            "product_type", "handle")  # fmt: skip


def _json(body: Json, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=dict(headers or {}), media_type=JSON)


def _time_param(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    at = instant(raw.replace(" ", "+"))  # a "+" of an offset arrives as a space when not encoded
    if at is None:
        raise RestError(400, {"errors": {name: [f"'{raw}' is not a valid date"]}})
    return at


def _encode(cursor: dict[str, Json]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(cursor)).decode().rstrip("=")


def _decode(text: str) -> dict[str, Json]:
    try:
        cursor = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise RestError(400, {"errors": {"page_info": ["Invalid value."]}}) from None
    if not isinstance(cursor, dict) or not isinstance(cursor.get("filters"), dict):
        raise RestError(400, {"errors": {"page_info": ["Invalid value."]}})
    return cursor


class RestApi:
    """The REST routes over the emulator's shops (authentication and versions are the emulator's)."""

    def __init__(
        self,
        settings: ShopifySettings,
        authenticate: Authenticate,
        served_version: ServedVersion,
        counted: Callable[[bool], None],
    ) -> None:
        self.settings = settings
        self.authenticate = authenticate
        self.served_version = served_version
        self.counted = counted
        self._buckets: dict[str, RestBucket] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [
            Route("/admin/oauth/access_scopes.json", self._scopes, methods=["GET"]),
            Route("/admin/api/{version}/shop.json", self._shop, methods=["GET"]),
            Route("/admin/api/{version}/{resource}/count.json", self._count, methods=["GET"]),
            Route("/admin/api/{version}/{resource}/{id:int}.json", self._one, methods=["GET"]),
            Route("/admin/api/{version}/{resource}.json", self._list, methods=["GET"]),
        ]

    def _bucket(self, shop: ShopState) -> RestBucket:
        with self._lock:
            bucket = self._buckets.get(shop.name)
            if bucket is None:
                bucket = self._buckets[shop.name] = RestBucket(
                    self.settings.rest_bucket_size, self.settings.rest_leak_rate
                )
            return bucket

    async def _answer(
        self, request: Request, versioned: bool, answer: Callable[[ShopState, str], Response]
    ) -> Response:
        version = request.path_params.get("version", "")
        served = self.served_version(version) if versioned else version
        if versioned and served is None:
            return _json({"errors": "Not Found"}, 404)
        shop = self.authenticate(request)
        if shop is None:
            return _json(UNAUTHORIZED, 401, {"WWW-Authenticate": 'Basic Realm="Shopify API Authentication"'})
        headers = {"X-Shopify-API-Version": served or ""} if versioned else {}
        if self.settings.rest_throttle_enabled:
            allowed, used = self._bucket(shop).take()
        else:
            allowed, used = True, 1
        self.counted(not allowed)
        headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{self.settings.rest_bucket_size}"
        if not allowed:
            rate = f"{self.settings.rest_leak_rate:g}"
            message = (
                f"Exceeded {rate} calls per second for api client. "
                "Reduce request rates to resume uninterrupted service."
            )
            return _json({"errors": message}, 429, {**headers, "Retry-After": "2.0"})
        try:
            response = await run_in_threadpool(answer, shop, served or "")
        except RestError as exc:
            response = _json(exc.body, exc.status)
        response.headers.update(headers)
        return response

    async def _scopes(self, request: Request) -> Response:
        scopes = [{"handle": scope_view(s)["handle"]} for s in self.settings.access_scopes]
        return await self._answer(request, False, lambda shop, version: _json({"access_scopes": scopes}))

    async def _shop(self, request: Request) -> Response:
        return await self._answer(request, True, lambda shop, version: _json({"shop": self._shop_json(shop)}))

    def _shop_json(self, shop: ShopState) -> dict[str, Json]:
        settings = self.settings
        domain = f"{shop.name}.myshopify.com"
        with_currency = f"€{{{{amount_with_comma_separator}}}} {settings.currency_code}"
        return {
            "id": shop.number,
            "name": shop.name,
            "email": settings.shop_email,
            "domain": domain,
            "province": "Berlin",
            "country": "DE",
            "address1": "Hauptstrasse 1",
            "zip": "10115",
            "city": "Berlin",
            "source": None,
            "phone": None,
            "latitude": None,
            "longitude": None,
            "primary_locale": "en",
            "address2": None,
            "created_at": rest_time(shop.created_at),
            "updated_at": rest_time(shop.created_at),
            "country_code": "DE",
            "country_name": "Germany",
            "currency": settings.currency_code,
            "customer_email": settings.shop_email,
            "timezone": "(GMT+00:00) UTC",
            "iana_timezone": "UTC",
            "shop_owner": "Sandbox Owner",
            "money_format": "€{{amount_with_comma_separator}}",
            "money_with_currency_format": with_currency,
            "weight_unit": "kg",
            "province_code": "BE",
            "taxes_included": False,
            "tax_shipping": None,
            "county_taxes": True,
            "plan_display_name": settings.plan_name,
            "plan_name": settings.plan_name.lower().replace(" ", "_"),
            "has_discounts": False,
            "has_gift_cards": False,
            "myshopify_domain": domain,
            "google_apps_domain": None,
            "google_apps_login_enabled": None,
            "money_in_emails_format": "€{{amount_with_comma_separator}}",
            "money_with_currency_in_emails_format": with_currency,
            "eligible_for_payments": True,
            "requires_extra_payments_agreement": False,
            "password_enabled": False,
            "has_storefront": True,
            "finances": True,
            "primary_location_id": shop.primary_location,
            "checkout_api_supported": True,
            "multi_location_enabled": True,
            "setup_required": False,
            "pre_launch_enabled": False,
            "enabled_presentment_currencies": [settings.currency_code],
            "marketing_sms_consent_enabled_at_checkout": False,
            "transactional_sms_disabled": False,
        }

    # collections ----------------------------------------------------------------------------------------

    def _resource(self, request: Request) -> Resource:
        resource = RESOURCES.get(request.path_params["resource"])
        if resource is None:
            raise RestError(404, {"errors": "Not Found"})
        return resource

    async def _one(self, request: Request) -> Response:
        def answer(shop: ShopState, version: str) -> Response:
            resource = self._resource(request)
            with shop.lock:
                found = resource.lookup(shop, request.path_params["id"])
                if found is None:
                    raise RestError(404, {"errors": "Not Found"})
                body = _fields(resource.render(shop, found), request.query_params.get("fields"))
            return _json({resource.plural[:-1]: body})

        return await self._answer(request, True, answer)

    async def _count(self, request: Request) -> Response:
        def answer(shop: ShopState, version: str) -> Response:
            resource = self._resource(request)
            params = dict(request.query_params)
            with shop.lock:
                test = self._test(resource, params)
                return _json({"count": sum(1 for r in resource.records(shop) if test(r))})

        return await self._answer(request, True, answer)

    async def _list(self, request: Request) -> Response:
        def answer(shop: ShopState, version: str) -> Response:
            resource = self._resource(request)
            params = dict(request.query_params)
            limit = self._limit(params)
            cursor = self._cursor(params)
            filters = cursor["filters"] if cursor else {k: v for k, v in params.items() if k in _FILTERS}
            with shop.lock:
                records = resource.records(shop)
                ids = [r.id for r in records]
                test = self._test(resource, filters)
                backwards = cursor is not None and cursor.get("direction") == "prev"
                page = self._page(records, ids, test, cursor, limit, backwards)
                more_after = page and self._exists(records, test, bisect.bisect_right(ids, page[-1].id), 1)
                more_before = page and self._exists(
                    records, test, bisect.bisect_left(ids, page[0].id) - 1, -1
                )
                bodies = [_fields(resource.render(shop, r), params.get("fields")) for r in page]
            headers = self._links(
                request, version, resource, filters, params, page, bool(more_before), bool(more_after)
            )
            return _json({resource.plural: bodies}, headers=headers)

        return await self._answer(request, True, answer)

    @staticmethod
    def _limit(params: Mapping[str, str]) -> int:
        raw = params.get("limit", str(DEFAULT_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise RestError(400, {"errors": {"limit": [f"must be between 1 and {MAX_LIMIT}"]}})
        return int(raw)

    @staticmethod
    def _cursor(params: Mapping[str, str]) -> dict[str, Json] | None:
        text = params.get("page_info")
        if text is None:
            return None
        extra = sorted(set(params) - CURSOR_PARAMS)
        if extra:
            raise RestError(
                400,
                {
                    "errors": {
                        "page_info": [
                            f"cannot be combined with {', '.join(extra)}: the cursor keeps the filters"
                        ]
                    }
                },
            )
        return _decode(text)

    @staticmethod
    def _test(resource: Resource, params: Mapping[str, str]) -> Callable[[Any], bool]:
        ids = {int(i) for i in params["ids"].split(",") if i.strip().isdigit()} if params.get("ids") else None
        since = int(params["since_id"]) if params.get("since_id", "").isdigit() else None
        bounds = {
            name: _time_param(params, name)
            for name in ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
        }

        def test(record: Any) -> bool:
            if ids is not None and record.id not in ids:
                return False
            if since is not None and record.id <= since:
                return False
            for name, bound in bounds.items():
                if bound is None:
                    continue
                at = instant(
                    resource.created(record) if name.startswith("created") else resource.updated(record)
                )
                if at is None or (at < bound if name.endswith("min") else at > bound):
                    return False
            return resource.matches(record, params)

        return test

    @staticmethod
    def _page(
        records: list[Any],
        ids: list[int],
        test: Callable[[Any], bool],
        cursor: dict[str, Json] | None,
        limit: int,
        backwards: bool,
    ) -> list[Any]:
        last = cursor.get("last_id") if cursor else None
        found: list[Any] = []
        if backwards:
            position = bisect.bisect_left(ids, last) - 1 if isinstance(last, int) else len(records) - 1
            while position >= 0 and len(found) < limit:
                if test(records[position]):
                    found.append(records[position])
                position -= 1
            return found[::-1]
        position = bisect.bisect_right(ids, last) if isinstance(last, int) else 0
        while position < len(records) and len(found) < limit:
            if test(records[position]):
                found.append(records[position])
            position += 1
        return found

    @staticmethod
    def _exists(records: list[Any], test: Callable[[Any], bool], start: int, step: int) -> bool:
        position = start
        while 0 <= position < len(records):
            if test(records[position]):
                return True
            position += step
        return False

    @staticmethod
    def _links(
        request: Request,
        version: str,
        resource: Resource,
        filters: Mapping[str, Json],
        params: Mapping[str, str],
        page: list[Any],
        more_before: bool,
        more_after: bool,
    ) -> dict[str, str]:
        base = str(request.url.replace(query="")).replace(
            f"/{request.path_params['version']}/", f"/{version}/", 1
        )
        kept = {k: params[k] for k in ("limit", "fields") if k in params}
        links: list[str] = []
        if more_before:
            cursor = _encode({"last_id": page[0].id, "filters": dict(filters), "direction": "prev"})
            links.append(f'<{base}?{urlencode({**kept, "page_info": cursor})}>; rel="previous"')
        if more_after:
            cursor = _encode({"last_id": page[-1].id, "filters": dict(filters), "direction": "next"})
            links.append(f'<{base}?{urlencode({**kept, "page_info": cursor})}>; rel="next"')
        return {"Link": ", ".join(links)} if links else {}


def _fields(body: dict[str, Json], fields: str | None) -> dict[str, Json]:
    if not fields:
        return body
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in body.items() if k in wanted}
