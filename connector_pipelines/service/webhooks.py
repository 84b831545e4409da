"""Signed webhooks in: verified, rate-limited per tenant, committed to the inbox, then answered.

``POST /webhooks/shopify``: the shop from ``X-Shopify-Shop-Domain``; ``X-Shopify-Hmac-Sha256`` is base64 of
HMAC-SHA256 of the raw body with the app's client secret; deduplicated by ``X-Shopify-Webhook-Id`` (a retry
of a stored delivery is answered 200 again, so Shopify stops retrying, and not stored twice).

``POST /webhooks/erp/{tenant}``: ``X-Webhook-Timestamp`` (Unix seconds, within 5 minutes of now) and
``X-Webhook-Signature: sha256=<hex>``, HMAC-SHA256 of ``<timestamp>.<raw body>`` with the tenant's webhook
secret; the body is a JSON object whose ``event`` names what happened (``product.updated``,
``inventory.changed``, ``order.created``, ...). A delivery whose signature was seen before is a replay (409).

Refused, with the reason logged and nothing stored: an oversized body (413), an unknown shop or tenant (404),
a missing or wrong signature or a stale timestamp (401), malformed headers or JSON (400), a tenant over its
rate (429, ``Retry-After``), the inbox unavailable (503). The signature is checked before the body is parsed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from connector_pipelines.redaction import redact
from connector_pipelines.service.context import Services, get_services
from connector_pipelines.service.inbox import InboxUnavailableError
from connector_pipelines.service.problems import ApiError, problem_response, request_id
from connector_pipelines.service.webhook_tenants import ERP, SHOPIFY, WebhookTenant
from connector_pipelines.store.service import InboxDelivery
from connector_pipelines.sync.inbox import seal_payload

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])

_SIGNATURE_RE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_EVENT_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
_TOPIC_RE = re.compile(r"^[a-z0-9_]+(?:/[a-z0-9_]+)+$")
_ID_MAX = 200


class WebhookAccepted(BaseModel):
    status: Literal["stored", "duplicate"]


STORED = orjson.dumps({"status": "stored"})
DUPLICATE = orjson.dumps({"status": "duplicate"})


def _answer(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def shopify_signature(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def erp_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _refuse(
    services: Services, source: str, status: int, reason: str, message: str, *, tenant: str | None = None
) -> ApiError:
    services.metrics.webhooks_rejected.labels(source, reason).inc()
    log.warning("webhook refused: source=%s tenant=%s reason=%s (%d)", source, tenant or "-", reason, status)
    return ApiError(status, message)


async def _body(request: Request, services: Services, source: str) -> bytes:
    limit = services.settings.webhook_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise _refuse(services, source, 400, "malformed", "invalid Content-Length")
    if declared is not None and int(declared) > limit:  # refused before a byte of it is read
        raise _refuse(services, source, 413, "oversized", f"the body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _refuse(services, source, 413, "oversized", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _limit(services: Services, source: str, tenant: WebhookTenant) -> None:
    wait = services.limiter.wait_s(tenant.tenant_id)
    if wait > 0:
        services.metrics.webhooks_rejected.labels(source, "rate_limited").inc()
        log.warning("webhook refused: source=%s tenant=%s reason=rate_limited (429)", source, tenant.slug)
        raise ApiError(
            429, "too many webhooks for this tenant", headers={"Retry-After": str(math.ceil(wait))}
        )


def _json_object(services: Services, source: str, body: bytes, tenant: str) -> dict[str, object]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _refuse(services, source, 400, "malformed", "the body is not JSON", tenant=tenant) from None
    if not isinstance(document, dict):
        raise _refuse(services, source, 400, "malformed", "the body is not a JSON object", tenant=tenant)
    return document


def _triggered_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _store(services: Services, delivery: InboxDelivery, tenant: str) -> bool:
    """True when stored now, False when the inbox had it already."""
    try:
        outcome = await services.inbox.store(delivery)
    except InboxUnavailableError:
        raise _refuse(
            services,
            delivery.source,
            503,
            "unavailable",
            "the inbox is unavailable; try again",
            tenant=tenant,
        ) from None
    if not outcome.duplicate:
        services.metrics.webhooks_received.labels(delivery.source).inc()
    return not outcome.duplicate


async def receive_shopify(request: Request, services: Services) -> Response:
    headers = request.headers
    body = await _body(request, services, SHOPIFY)
    shop = headers.get("x-shopify-shop-domain", "")
    if not shop:
        raise _refuse(services, SHOPIFY, 400, "malformed", "X-Shopify-Shop-Domain is missing")
    tenant = await services.webhook_tenants.shopify(shop)
    if tenant is None:
        raise _refuse(services, SHOPIFY, 404, "unknown_shop", "unknown shop")
    given = headers.get("x-shopify-hmac-sha256", "")
    if not given:
        raise _refuse(
            services,
            SHOPIFY,
            401,
            "missing_signature",
            "X-Shopify-Hmac-Sha256 is missing",
            tenant=tenant.slug,
        )
    if not hmac.compare_digest(shopify_signature(tenant.secret, body).encode(), given.encode()):
        raise _refuse(services, SHOPIFY, 401, "bad_signature", "the HMAC does not match", tenant=tenant.slug)
    topic, delivery_id = headers.get("x-shopify-topic", ""), headers.get("x-shopify-webhook-id", "")
    if not _TOPIC_RE.fullmatch(topic) or not 0 < len(delivery_id) <= _ID_MAX:
        raise _refuse(
            services,
            SHOPIFY,
            400,
            "malformed",
            "X-Shopify-Topic or X-Shopify-Webhook-Id missing or invalid",
            tenant=tenant.slug,
        )
    _limit(services, SHOPIFY, tenant)
    _json_object(services, SHOPIFY, body, tenant.slug)
    event_id = headers.get("x-shopify-event-id")
    delivery = InboxDelivery(
        tenant_id=tenant.tenant_id,
        source=SHOPIFY,
        topic=topic,
        delivery_id=delivery_id,
        event_id=event_id[:_ID_MAX] if event_id else None,
        triggered_at=_triggered_at(headers.get("x-shopify-triggered-at")),
        payload=seal_payload(services.keyring, tenant.slug, SHOPIFY, delivery_id, body),
        received_at=datetime.now(UTC),
    )
    if await _store(services, delivery, tenant.slug):
        return _answer(STORED)
    services.metrics.webhooks_duplicate.labels(SHOPIFY).inc()
    return _answer(DUPLICATE)


async def receive_erp(request: Request, services: Services, tenant: str) -> Response:
    headers = request.headers
    body = await _body(request, services, ERP)
    found = await services.webhook_tenants.erp(tenant)
    if found is None:
        raise _refuse(services, ERP, 404, "unknown_tenant", "unknown tenant")
    signature = _SIGNATURE_RE.fullmatch(headers.get("x-webhook-signature", ""))
    if signature is None:
        raise _refuse(
            services,
            ERP,
            401,
            "missing_signature",
            "X-Webhook-Signature (sha256=<hex>) is missing",
            tenant=tenant,
        )
    stamp = headers.get("x-webhook-timestamp", "")
    if not stamp.isdigit():
        raise _refuse(
            services, ERP, 400, "malformed", "X-Webhook-Timestamp (Unix seconds) is missing", tenant=tenant
        )
    timestamp = int(stamp)
    if abs(time.time() - timestamp) > services.settings.webhook_tolerance_s:
        raise _refuse(services, ERP, 401, "stale", "the timestamp is outside the tolerance", tenant=tenant)
    expected = erp_signature(found.secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), f"sha256={signature.group(1).lower()}".encode()):
        raise _refuse(services, ERP, 401, "bad_signature", "the signature does not match", tenant=tenant)
    _limit(services, ERP, found)
    payload = _json_object(services, ERP, body, tenant)
    event = payload.get("event")
    if not isinstance(event, str) or len(event) > 120 or not _EVENT_RE.fullmatch(event):
        raise _refuse(
            services,
            ERP,
            400,
            "malformed",
            "'event' must name the event, e.g. product.updated",
            tenant=tenant,
        )
    event_id = payload.get("id")
    delivery = InboxDelivery(
        tenant_id=found.tenant_id,
        source=ERP,
        topic=event,
        # The signature covers timestamp and body: the same one again is the same delivery, replayed.
        delivery_id=expected,
        event_id=str(event_id)[:_ID_MAX] if isinstance(event_id, str | int) else None,
        triggered_at=datetime.fromtimestamp(timestamp, UTC),
        payload=seal_payload(services.keyring, tenant, ERP, expected, body),
        received_at=datetime.now(UTC),
    )
    if not await _store(services, delivery, tenant):
        raise _refuse(services, ERP, 409, "replayed", "this delivery was received before", tenant=tenant)
    return _answer(STORED)


_SHOPIFY_PATH = "/webhooks/shopify"
_ERP_PREFIX = "/webhooks/erp/"


class WebhookEndpoints:
    """Serves ``POST /webhooks/...`` in front of the API's routing and middleware (plain ASGI).

    A webhook's own work is small; FastAPI's routing through its included routers and a dozen middleware
    layers, each resumed again when the inbox commits, cost several times as much. The FastAPI routes below
    are what /docs shows; requests never reach them. Anything else goes on to the app (a GET here: 405)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        tenant = path.removeprefix(_ERP_PREFIX)
        if path == _SHOPIFY_PATH:
            route, serving = _SHOPIFY_PATH, receive_shopify(Request(scope, receive), self.services)
        elif path.startswith(_ERP_PREFIX) and tenant and "/" not in tenant:
            route, serving = (
                "/webhooks/erp/{tenant}",
                receive_erp(Request(scope, receive), self.services, tenant),
            )
        else:
            await self.app(scope, receive, send)
            return
        try:
            response = await serving
        except ApiError as exc:
            response = problem_response(scope, exc.status, exc.message, exc.code)
            response.headers.update(exc.headers)
        except Exception as exc:
            log.error("webhook %s failed: %s", request_id(scope), redact(f"{type(exc).__name__}: {exc}"))
            response = problem_response(scope, 500, "internal error", "internal_error")
        self.services.metrics.api_requests.labels("POST", route, str(response.status_code)).inc()
        await response(scope, receive, send)


_DOCUMENTED: dict[int | str, dict[str, Any]] = {200: {"model": WebhookAccepted}}
_REFUSED = "401 bad or missing signature, stale timestamp; 404 unknown; 409 replayed; 413 too large; 429"


@router.post(
    _SHOPIFY_PATH,
    response_class=Response,
    responses=_DOCUMENTED,
    summary="A Shopify webhook delivery",
    description=f"Answered 200 once committed to the inbox (a retried delivery: duplicate). {_REFUSED}.",
)
async def shopify_webhook(request: Request) -> Response:
    return await receive_shopify(request, get_services(request))


@router.post(
    "/webhooks/erp/{tenant}",
    response_class=Response,
    responses=_DOCUMENTED,
    summary="A signed ERP event",
    description=f"Answered 200 once committed to the inbox. {_REFUSED}.",
)
async def erp_webhook(request: Request, tenant: str) -> Response:
    return await receive_erp(request, get_services(request), tenant)
