"""Webhooks of the Shopify emulator (contract §12): subscriptions through the Admin API and deliveries of
every change to the subscribed addresses, signed like Shopify's.

A change offered by the shop (:meth:`ShopState.changed`) becomes, for each subscription of one of its topics,
a delivery of the topic's REST payload with the headers of §12.4 (``X-Shopify-Hmac-Sha256`` is the base64
HMAC-SHA256 of the raw body with the app's secret). Deliveries run on background threads from a bounded
queue: at least once, retried on a non-2xx answer or none within the timeout after the delays of
``webhook_retry_delays_s`` (Shopify: 8 retries over 4 hours), optionally duplicated or reordered; a
subscription is deleted after ``webhook_delete_after_failures`` failed deliveries in a row.
:meth:`WebhookService.drain` waits, without sleeping, until nothing is pending (tests).

Compliance topics (``customers/data_request``, ``customers/redact``, ``shop/redact``) are not subscribable;
apps name their address in the app's configuration, so the emulator sends them on request
(:meth:`WebhookService.send_compliance`). ``filter`` of a subscription is stored, not applied.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import heapq
import hmac
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import orjson

from connector_pipelines.sandbox.shopify_bulk import RequestContext
from connector_pipelines.sandbox.shopify_commerce import Change
from connector_pipelines.sandbox.shopify_gql import Json, PathLink, Resolver
from connector_pipelines.sandbox.shopify_resolve import Args, Table, connection, iso_time
from connector_pipelines.sandbox.shopify_rest_payloads import customer_json, record_json
from connector_pipelines.sandbox.shopify_settings import ShopifySettings
from connector_pipelines.sandbox.shopify_store import ShopState, gid, next_id, parse_gid

R = Resolver[RequestContext]
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def topic_enum(topic: str) -> str:
    """``orders/updated`` -> ``ORDERS_UPDATED`` (the subscription topic)."""
    return topic.upper().replace("/", "_")


@dataclass(eq=False)
class Subscription:
    id: int
    topic: str  # WebhookSubscriptionTopic, e.g. ORDERS_UPDATED
    uri: str
    created_at: float
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    metafield_namespaces: list[str] = field(default_factory=list)
    filter: str | None = None
    name: str | None = None
    failures: int = 0  # failed deliveries in a row

    @property
    def updated_at(self) -> float:
        return self.created_at


@dataclass(eq=False)
class Delivery:
    webhook_id: str  # the same across retries (and duplicates) of this delivery
    event_id: str  # the same for every subscription one event reached
    topic: str
    uri: str
    body: bytes
    triggered_at: str
    shop: ShopState
    subscription: Subscription | None  # None for compliance deliveries
    attempt: int = 0


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt as the emulator saw it (``status`` None: no answer in time, or no connection)."""

    webhook_id: str
    event_id: str
    topic: str
    uri: str
    attempt: int
    status: int | None


class WebhookService:
    """Subscriptions live on the shops; this holds the delivery queue and its worker threads."""

    def __init__(self, settings: ShopifySettings, workers: int = 2) -> None:
        self.settings = settings
        self.workers = workers
        self._heap: list[tuple[float, int, Delivery]] = []
        self._sequence = 0
        self._in_flight = 0
        self._condition = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._random = random.Random(settings.seed)
        self.attempts: deque[Attempt] = deque(maxlen=10_000)

    # subscriptions ---------------------------------------------------------------------------------------

    def attach(self, shop: ShopState) -> None:
        shop.listeners.append(self.on_change)

    def on_change(self, shop: ShopState, change: Change) -> None:
        """Queue the deliveries of a change (called under the shop's lock, when it happens)."""
        event_id = str(uuid.uuid4())
        for topic in change.topics:
            wanted = topic_enum(topic)
            subscriptions = [s for s in shop.webhooks.values() if s.topic == wanted]
            if not subscriptions:
                continue
            payload = record_json(shop, change.record) if change.record is not None else None
            if payload is None:
                payload = {"id": change.subject_id}
            for subscription in subscriptions:
                body = _included(payload, subscription.include_fields)
                self._queue(
                    Delivery(
                        str(uuid.uuid4()),
                        event_id,
                        topic,
                        subscription.uri,
                        orjson.dumps(body),
                        _triggered(change.at),
                        shop,
                        subscription,
                    )
                )

    def send_compliance(self, shop: ShopState, topic: str, uri: str, customer_id: int | None = None) -> str:
        """Send a mandatory privacy webhook to ``uri``; returns its webhook id."""
        if topic not in COMPLIANCE_TOPICS:
            raise ValueError(f"not a compliance topic: {topic!r} (one of {', '.join(COMPLIANCE_TOPICS)})")
        payload: dict[str, Json] = {"shop_id": shop.number, "shop_domain": f"{shop.name}.myshopify.com"}
        if topic != "shop/redact":
            customer = shop.commerce.customers.get(customer_id or 0)
            if customer is None:
                raise ValueError(f"no customer {customer_id} in shop {shop.name!r}")
            details = customer_json(shop, customer)
            orders = [o.id for o in shop.commerce.orders.values() if o.customer is customer]
            payload["customer"] = {"id": customer.id, "email": details["email"], "phone": details["phone"]}
            if topic == "customers/redact":
                payload["orders_to_redact"] = orders
            else:
                payload["orders_requested"] = orders
                payload["data_request"] = {"id": next_id()}
        delivery = Delivery(
            str(uuid.uuid4()),
            str(uuid.uuid4()),
            topic,
            uri,
            orjson.dumps(payload),
            _triggered(time.time()),
            shop,
            None,
        )
        self._queue(delivery)
        return delivery.webhook_id

    # the queue -------------------------------------------------------------------------------------------

    def _queue(self, delivery: Delivery, delay: float = 0.0) -> None:
        with self._condition:
            self._condition.wait_for(lambda: len(self._heap) < self.settings.webhook_queue_size)
            self._push(delivery, delay)
            if (
                self.settings.webhook_duplicate_rate
                and self._random.random() < self.settings.webhook_duplicate_rate
            ):
                self._push(dataclasses.replace(delivery), delay)
            self._start_workers()
            self._condition.notify_all()

    def _push(self, delivery: Delivery, delay: float) -> None:
        self._sequence += 1
        if self.settings.webhook_reorder:
            # Out of order: each delivery waits a random moment, so close ones overtake each other.
            delay += self._random.uniform(0, 0.05)
        heapq.heappush(self._heap, (time.monotonic() + delay, self._sequence, delivery))

    def _start_workers(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, name="shopify-webhooks", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _next(self) -> Delivery:
        with self._condition:
            while True:
                if self._heap:
                    due = self._heap[0][0] - time.monotonic()
                    if due <= 0:
                        _, _, delivery = heapq.heappop(self._heap)
                        self._in_flight += 1
                        self._condition.notify_all()
                        return delivery
                    self._condition.wait(due)
                else:
                    self._condition.wait()

    def _work(self) -> None:
        timeout = httpx.Timeout(
            self.settings.webhook_timeout_s, connect=self.settings.webhook_connect_timeout_s
        )
        with httpx.Client(timeout=timeout) as client:
            while True:
                delivery = self._next()
                try:
                    self._deliver(client, delivery)
                finally:
                    with self._condition:
                        self._in_flight -= 1
                        self._condition.notify_all()

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> None:
        status = _post(client, delivery, self.settings)
        self.attempts.append(
            Attempt(
                delivery.webhook_id, delivery.event_id, delivery.topic, delivery.uri, delivery.attempt, status
            )
        )
        subscription = delivery.subscription
        if status is not None and 200 <= status < 300:
            if subscription is not None:
                subscription.failures = 0
            return
        delays = self.settings.webhook_retry_delays_s
        if delivery.attempt < len(delays):
            delivery.attempt += 1
            with self._condition:
                self._push(delivery, delays[delivery.attempt - 1])
                self._condition.notify_all()
            return
        if subscription is None:
            return
        subscription.failures += 1
        limit = self.settings.webhook_delete_after_failures
        if limit is not None and subscription.failures >= limit:
            with delivery.shop.lock:
                delivery.shop.webhooks.pop(subscription.id, None)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until no delivery is queued, waiting for a retry or in flight; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._heap and not self._in_flight, timeout_s)

    def pending(self) -> int:
        with self._condition:
            return len(self._heap) + self._in_flight


def _triggered(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def _included(payload: dict[str, Json], fields: list[str]) -> dict[str, Json]:
    if not fields:
        return payload
    return {key: value for key, value in payload.items() if key in fields}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _post(client: httpx.Client, delivery: Delivery, settings: ShopifySettings) -> int | None:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": delivery.topic,
        "X-Shopify-Hmac-Sha256": sign(delivery.body, settings.app_secret),
        "X-Shopify-Shop-Domain": f"{delivery.shop.name}.myshopify.com",
        "X-Shopify-API-Version": settings.webhook_api_version,
        "X-Shopify-Webhook-Id": delivery.webhook_id,
        "X-Shopify-Event-Id": delivery.event_id,
        "X-Shopify-Triggered-At": delivery.triggered_at,
    }
    subscription = delivery.subscription
    if subscription is not None and subscription.name:
        headers["X-Shopify-Name"] = subscription.name
    try:
        return client.post(delivery.uri, content=delivery.body, headers=headers).status_code
    except httpx.HTTPError:
        return None


# --- GraphQL ----------------------------------------------------------------------------------------------


def _uri_problem(uri: str | None, settings: ShopifySettings) -> str | None:
    if not uri:
        return "Address can't be blank"
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.netloc:
        return None
    if parts.scheme in ("pubsub", "arn") or uri.startswith("arn:aws:events:"):
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK and settings.webhook_allow_http_loopback:
        return None  # an address on this machine, for tests and the demo
    return f"Address protocol {parts.scheme}:// is not supported" if parts.scheme else "Address is invalid"


def _create(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    shop = ctx.shop
    data = args["webhookSubscription"]
    uri = data.get("uri")
    problem = _uri_problem(uri, ctx.settings)
    errors: list[dict[str, Json]] = []
    if problem is not None:
        errors.append({"field": ["webhookSubscription", "uri"], "message": problem})
    elif any(s.topic == args["topic"] and s.uri == uri for s in shop.webhooks.values()):
        errors.append(
            {
                "field": ["webhookSubscription", "uri"],
                "message": "Address for this topic has already been taken",
            }
        )
    if errors:
        return {"webhookSubscription": None, "userErrors": errors}
    assert uri is not None
    subscription = Subscription(
        next_id(),
        args["topic"],
        uri,
        ctx.now,
        data.get("format") or "JSON",
        list(data.get("includeFields") or []),
        list(data.get("metafieldNamespaces") or []),
        data.get("filter"),
        data.get("name"),
    )
    shop.webhooks[subscription.id] = subscription
    return {"webhookSubscription": subscription, "userErrors": []}


def _delete(_: object, args: Args, ctx: RequestContext, path: PathLink) -> dict[str, Json]:
    parsed = parse_gid(args["id"], "WebhookSubscription")
    found = ctx.shop.webhooks.pop(parsed[1], None) if parsed else None
    if found is None:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
        }
    return {"deletedWebhookSubscriptionId": gid("WebhookSubscription", found.id), "userErrors": []}


def _list(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    items = list(ctx.shop.webhooks.values())
    if args.get("topics"):
        items = [s for s in items if s.topic in args["topics"]]
    for key in ("uri", "callbackUrl"):
        if args.get(key):
            items = [s for s in items if s.uri == args[key]]
    if args.get("format"):
        items = [s for s in items if s.format == args["format"]]
    return connection(items, args, ctx, lambda s: (s.created_at, s.id))


def _one(_: object, args: Args, ctx: RequestContext, path: PathLink) -> Subscription | None:
    parsed = parse_gid(args["id"], "WebhookSubscription")
    return ctx.shop.webhooks.get(parsed[1]) if parsed else None


def _api_version(subscription: Subscription, args: Args, ctx: RequestContext, path: PathLink) -> Json:
    version = ctx.settings.webhook_api_version
    return {"handle": version, "displayName": version, "supported": True}


def webhooks_table() -> Table:
    return {
        "Mutation": {"webhookSubscriptionCreate": _create, "webhookSubscriptionDelete": _delete},
        "QueryRoot": {"webhookSubscriptions": _list, "webhookSubscription": _one},
        "WebhookSubscription": {
            "id": lambda s, args, ctx, path: gid("WebhookSubscription", s.id),
            "legacyResourceId": lambda s, args, ctx, path: s.id,
            "createdAt": lambda s, args, ctx, path: iso_time(s.created_at),
            "updatedAt": lambda s, args, ctx, path: iso_time(s.updated_at),
            "includeFields": lambda s, args, ctx, path: s.include_fields,
            "metafieldNamespaces": lambda s, args, ctx, path: s.metafield_namespaces,
            "metafields": lambda s, args, ctx, path: [],
            "apiVersion": _api_version,
            "callbackUrl": lambda s, args, ctx, path: s.uri,
            "endpoint": lambda s, args, ctx, path: {
                "__typename": "WebhookHttpEndpoint",
                "callbackUrl": s.uri,
            },
        },
    }
