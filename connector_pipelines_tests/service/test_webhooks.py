"""Webhooks in: a verified delivery is stored once and answered after the commit; a forged, stale, replayed,
oversized or malformed one, or one for an unknown shop or tenant, is refused with its status, and nothing of
it reaches the inbox. On SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
import time

import orjson
import pytest
from sqlalchemy import select

from connector_pipelines.service.ratelimit import TenantLimiter
from connector_pipelines.store.models import WebhookInbox
from connector_pipelines.store.service import InboxRow
from connector_pipelines.sync.inbox import open_payload
from connector_pipelines.tenants.crypto import DecryptionError
from connector_pipelines_tests.service.conftest import (
    Service,
    TenantSecrets,
    erp_event,
    erp_headers,
    product_update,
    shopify_headers,
)


@pytest.fixture
def acme(any_service: Service) -> TenantSecrets:
    return any_service.add_tenant("acme")


def inbox(service: Service) -> list[WebhookInbox]:
    with service.services.db.session() as s:
        return list(s.scalars(select(WebhookInbox).order_by(WebhookInbox.id)))


def test_a_shopify_webhook_is_stored_once_and_a_retry_is_acknowledged_again(
    any_service: Service, acme: TenantSecrets
) -> None:
    body = product_update()
    first = any_service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "stored"}
    stored = inbox(any_service)
    assert len(stored) == 1
    row = stored[0]
    assert (row.source, row.topic, row.delivery_id, row.event_id) == (
        "shopify",
        "products/update",
        "delivery-1",
        "event-delivery-1",
    )
    # Sealed at rest (a customer's webhook carries PII), opened only for its own tenant and delivery.
    assert b"T-Shirt" not in orjson.dumps(row.payload)
    keyring = any_service.services.keyring
    inbox_row = InboxRow(row.id, row.topic, row.delivery_id, None, None, row.payload, row.received_at)
    assert open_payload(keyring, "acme", "shopify", inbox_row) == orjson.loads(body)
    with pytest.raises(DecryptionError, match="cannot be opened"):
        open_payload(keyring, "globex", "shopify", inbox_row)
    with pytest.raises(DecryptionError, match="cannot be opened"):
        open_payload(keyring, "acme", "shopify", dataclasses.replace(inbox_row, delivery_id="delivery-2"))
    assert row.tenant_id == any_service.registry.tenant_id("acme")
    assert row.status == "waiting" and row.triggered_at is not None

    retried = any_service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    assert retried.status_code == 200
    assert retried.json() == {"status": "duplicate"}
    assert len(inbox(any_service)) == 1


def test_an_erp_event_is_stored_and_its_replay_refused(any_service: Service, acme: TenantSecrets) -> None:
    body = erp_event("inventory.changed", "evt-42")
    headers = erp_headers(acme, body)
    stored = any_service.client.post("/webhooks/erp/acme", content=body, headers=headers)
    assert stored.status_code == 200, stored.text
    replayed = any_service.client.post("/webhooks/erp/acme", content=body, headers=headers)
    assert replayed.status_code == 409
    assert replayed.json()["code"] == "conflict"
    rows = inbox(any_service)
    assert [(r.source, r.topic, r.event_id) for r in rows] == [("erp", "inventory.changed", "evt-42")]


SHOPIFY_REFUSALS = {
    "forged": (401, "bad_signature"),
    "unsigned": (401, "missing_signature"),
    "unknown shop": (404, "unknown_shop"),
    "oversized": (413, "oversized"),
    "malformed json": (400, "malformed"),
    "not an object": (400, "malformed"),
    "no topic": (400, "malformed"),
}


@pytest.mark.parametrize("case", list(SHOPIFY_REFUSALS))
def test_bad_shopify_webhooks_are_refused_and_never_stored(
    any_service: Service, acme: TenantSecrets, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = product_update()
    headers = shopify_headers(acme, body)
    if case == "forged":
        headers = shopify_headers(acme, body, secret="not-the-app-secret")
    elif case == "unsigned":
        del headers["X-Shopify-Hmac-Sha256"]
    elif case == "unknown shop":
        headers["X-Shopify-Shop-Domain"] = "nobody.myshopify.com"
    elif case == "oversized":
        body = orjson.dumps({"id": 1, "body_html": "x" * any_service.services.settings.webhook_max_bytes})
        headers = shopify_headers(acme, body)
    elif case == "malformed json":
        body = b'{"id": 1, "title": '
        headers = shopify_headers(acme, body)
    elif case == "not an object":
        body = b"[1, 2, 3]"
        headers = shopify_headers(acme, body)
    elif case == "no topic":
        del headers["X-Shopify-Topic"]
    status, reason = SHOPIFY_REFUSALS[case]
    with caplog.at_level(logging.WARNING, logger="connector_pipelines.service"):
        answer = any_service.client.post("/webhooks/shopify", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert set(problem) == {"code", "message", "request_id"}
    assert problem["request_id"] == answer.headers["x-request-id"]
    assert f"reason={reason}" in caplog.text
    assert acme.app_secret not in caplog.text + answer.text
    assert inbox(any_service) == []


ERP_REFUSALS = {
    "forged": (401, "bad_signature"),
    "unsigned": (401, "missing_signature"),
    "stale": (401, "stale"),
    "from the future": (401, "stale"),
    "no timestamp": (400, "malformed"),
    "unknown tenant": (404, "unknown_tenant"),
    "oversized": (413, "oversized"),
    "malformed json": (400, "malformed"),
    "no event": (400, "malformed"),
}


@pytest.mark.parametrize("case", list(ERP_REFUSALS))
def test_bad_erp_webhooks_are_refused_and_never_stored(
    any_service: Service, acme: TenantSecrets, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = erp_event()
    headers = erp_headers(acme, body)
    path = "/webhooks/erp/acme"
    tolerance = any_service.services.settings.webhook_tolerance_s
    if case == "forged":
        headers = erp_headers(acme, body, secret="guessed-secret-0123456789")
    elif case == "unsigned":
        del headers["X-Webhook-Signature"]
    elif case == "stale":
        headers = erp_headers(acme, body, timestamp=int(time.time()) - tolerance - 60)
    elif case == "from the future":
        headers = erp_headers(acme, body, timestamp=int(time.time()) + tolerance + 60)
    elif case == "no timestamp":
        del headers["X-Webhook-Timestamp"]
    elif case == "unknown tenant":
        path = "/webhooks/erp/nobody"
    elif case == "oversized":
        body = orjson.dumps(
            {"event": "product.updated", "blob": "x" * any_service.services.settings.webhook_max_bytes}
        )
        headers = erp_headers(acme, body)
    elif case == "malformed json":
        body = b"{event: product.updated}"
        headers = erp_headers(acme, body)
    elif case == "no event":
        body = orjson.dumps({"id": "evt-1"})
        headers = erp_headers(acme, body)
    status, reason = ERP_REFUSALS[case]
    with caplog.at_level(logging.WARNING, logger="connector_pipelines.service"):
        answer = any_service.client.post(path, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert f"reason={reason}" in caplog.text
    assert acme.erp_secret not in caplog.text + answer.text
    assert inbox(any_service) == []


def test_a_stale_delivery_signed_correctly_is_still_refused(
    any_service: Service, acme: TenantSecrets
) -> None:
    """A replay captured long ago carries a valid signature: the timestamp alone refuses it."""
    body = erp_event()
    old = int(time.time()) - 3600
    answer = any_service.client.post(
        "/webhooks/erp/acme", content=body, headers=erp_headers(acme, body, timestamp=old)
    )
    assert answer.status_code == 401
    assert "timestamp" in answer.json()["message"]


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    service: Service,
) -> None:
    acme = service.add_tenant("acme")
    body = product_update()
    headers = {**shopify_headers(acme, body), "Content-Length": str(10**9)}
    answer = service.client.post("/webhooks/shopify", content=body, headers=headers)
    assert answer.status_code == 413


def test_a_flooding_tenant_is_limited_without_touching_another(service: Service) -> None:
    acme, beta = service.add_tenant("acme"), service.add_tenant("beta")
    now = [0.0]
    service.services.limiter = TenantLimiter(rate=1.0, burst=3, clock=lambda: now[0])
    statuses = []
    for n in range(5):
        body = product_update(n)
        answer = service.client.post(
            "/webhooks/shopify", content=body, headers=shopify_headers(acme, body, f"a{n}")
        )
        statuses.append(answer.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    limited = service.client.post(
        "/webhooks/shopify", content=product_update(9), headers=shopify_headers(acme, product_update(9), "a9")
    )
    assert limited.headers["Retry-After"] == "1"
    body = product_update(7)
    assert (
        service.client.post(
            "/webhooks/shopify", content=body, headers=shopify_headers(beta, body, "b1")
        ).status_code
        == 200
    )
    now[0] += 1.0  # a second later, one more token
    body = product_update(8)
    assert (
        service.client.post(
            "/webhooks/shopify", content=body, headers=shopify_headers(acme, body, "a8")
        ).status_code
        == 200
    )
    assert len(inbox(service)) == 5


def test_a_new_shop_secret_is_used_once_stored_through_the_api(service: Service) -> None:
    acme = service.add_tenant("acme")
    admin = service.token("admin")
    rotated = "rotated-app-secret-0123456789"
    answer = service.client.put(
        "/api/tenants/acme/credentials/shopify",
        json={"values": {"access_token": acme.access_token, "api_secret": rotated}},
        headers=admin,
    )
    assert answer.status_code == 204, answer.text
    body = product_update()
    old = service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body, "d1"))
    new = service.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(acme, body, "d2", secret=rotated)
    )
    assert (old.status_code, new.status_code) == (401, 200)


def test_a_shop_behind_an_emulator_url_is_found_by_its_name(service: Service) -> None:
    acme = service.add_tenant("acme", shop_url="http://127.0.0.1:8900/shopify/acme")
    body = product_update()
    answer = service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    assert answer.status_code == 200


def test_webhook_counters_show_on_metrics(service: Service) -> None:
    acme = service.add_tenant("acme")
    body = product_update()
    service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    service.client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
    service.client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(acme, body, secret="forged-secret")
    )
    text = service.client.get("/metrics").text
    assert 'connector_webhooks_received_total{source="shopify"} 1.0' in text
    assert 'connector_webhooks_duplicate_total{source="shopify"} 1.0' in text
    assert 'connector_webhooks_rejected_total{reason="bad_signature",source="shopify"} 1.0' in text
    assert 'connector_webhooks_waiting{source="shopify",tenant="acme"} 1.0' in text
