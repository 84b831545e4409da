"""Tenants through the API: created, read, updated, enabled and disabled, removed; credentials written and
never read back or logged; each configured system tried with a cheap call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.tenants.systems import ShopifyCredentials
from connector_pipelines_tests.service.conftest import PIPELINE, Service, erp_event, erp_headers

SECRET = "super-secret-app-value-42"
TOKEN = "shpat_never_shown_0123456789"


def _create_body(tmp_path: Path, slug: str = "acme", **changes: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "display_name": "Acme",
        "pipelines": [PIPELINE],
        "settings": {
            "shopify": {"shop_url": f"https://{slug}.myshopify.com"},
            "erp_files": {"kind": "local", "root": str(tmp_path), "path": "products.csv"},
        },
        "credentials": {"shopify": {"access_token": TOKEN, "api_secret": SECRET}},
        **changes,
    }


def test_credentials_are_written_never_read_back_or_logged(
    any_service: Service, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    admin = any_service.token("admin", "*")
    with caplog.at_level(logging.DEBUG):
        created = any_service.client.post("/api/tenants", json=_create_body(tmp_path), headers=admin)
        read = any_service.client.get("/api/tenants/acme", headers=admin)
        listed = any_service.client.get("/api/tenants", headers=admin)
    assert created.status_code == 201, created.text
    assert read.json()["credentials_set"] == ["shopify"]
    for text in (created.text, read.text, listed.text, caplog.text):
        assert SECRET not in text and TOKEN not in text
    stored = any_service.registry.credentials("acme", "shopify", ShopifyCredentials)
    assert stored.api_secret is not None and stored.api_secret.get_secret_value() == SECRET


def test_invalid_credentials_are_refused_without_their_values_and_nothing_is_created(
    service: Service, tmp_path: Path
) -> None:
    body = _create_body(tmp_path, credentials={"shopify": {"access_token": TOKEN, "unexpected": SECRET}})
    answer = service.client.post("/api/tenants", json=body, headers=service.token("admin", "*"))
    assert answer.status_code == 422
    assert "unexpected" in answer.json()["message"]
    assert SECRET not in answer.text
    assert service.registry.tenants() == []


def test_invalid_settings_are_named(service: Service, tmp_path: Path) -> None:
    body = _create_body(tmp_path)
    body["settings"]["shopify"] = {"shop_url": "ftp://nope"}
    answer = service.client.post("/api/tenants", json=body, headers=service.token("admin", "*"))
    assert answer.status_code == 422
    assert "shop_url" in answer.json()["message"]


def test_update_enable_disable_and_remove(service: Service, tmp_path: Path) -> None:
    admin = service.token("admin", "*")
    service.client.post("/api/tenants", json=_create_body(tmp_path), headers=admin)
    updated = service.client.patch(
        "/api/tenants/acme",
        json={"display_name": "Acme Inc.", "settings": {"shopify": {"bulk_threshold": 7}}},
        headers=admin,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["display_name"] == "Acme Inc."
    assert updated.json()["settings"]["shopify"]["bulk_threshold"] == 7
    assert updated.json()["settings"]["shopify"]["shop_url"] == "https://acme.myshopify.com"  # merged
    assert service.client.post("/api/tenants/acme/disable", headers=admin).json()["enabled"] is False
    assert service.client.post("/api/tenants/acme/enable", headers=admin).json()["enabled"] is True
    removed = service.client.delete("/api/tenants/acme", headers=admin)
    assert removed.status_code == 200
    assert removed.json()["credentials"] == ["shopify"]
    gone = service.client.get("/api/tenants/acme", headers=admin)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"


def test_lists_are_paged(service: Service) -> None:
    for slug in ("acme", "beta", "gamma"):
        service.add_tenant(slug)
    viewer = service.token("viewer", "*")
    first = service.client.get("/api/tenants?limit=2", headers=viewer).json()
    second = service.client.get(f"/api/tenants?limit=2&offset={first['next_offset']}", headers=viewer).json()
    assert [t["slug"] for t in first["items"]] == ["acme", "beta"]
    assert (first["total"], first["next_offset"]) == (3, 2)
    assert [t["slug"] for t in second["items"]] == ["gamma"]
    assert second["next_offset"] is None
    assert service.client.get("/api/tenants?limit=0", headers=viewer).status_code == 422


def test_the_erp_webhook_secret_is_set_through_the_api(service: Service) -> None:
    acme = service.add_tenant("acme")
    new_secret = "a-brand-new-erp-secret-0123456789"
    answer = service.client.put(
        "/api/tenants/acme/webhook-secret", json={"secret": new_secret}, headers=service.token("admin")
    )
    assert answer.status_code == 204
    assert service.client.get("/api/tenants/acme", headers=service.token("viewer")).json()[
        "webhook_secrets_set"
    ] == ["erp"]
    body = erp_event()
    signed = service.client.post(
        "/webhooks/erp/acme", content=body, headers=erp_headers(acme, body, secret=new_secret)
    )
    assert signed.status_code == 200
    short = service.client.put(
        "/api/tenants/acme/webhook-secret", json={"secret": "short"}, headers=service.token("admin")
    )
    assert short.status_code == 422
    assert "short" not in short.json()["message"]


def test_test_connection_reports_each_configured_system(service: Service, hub: SandboxHub) -> None:
    shop = hub.add_shopify("acme")
    service.add_tenant(
        "acme", shop_url=hub.accounts()["shopify"]["acme"]["shop_url"], access_token=shop.access_token
    )
    answer = service.client.post("/api/tenants/acme/test-connection", headers=service.token("operator"))
    assert answer.status_code == 200
    report = answer.json()
    by_system = {c["system"]: c for c in report["systems"]}
    assert by_system["shopify"]["ok"] is True
    assert "acme" in by_system["shopify"]["detail"]
    assert by_system["erp_files"]["ok"] is False  # no product file yet
    assert "products.csv" in by_system["erp_files"]["detail"]
    assert report["ok"] is False
    (service.files / "acme" / "products.csv").write_text("sku,title\nA-1,Shirt\n")
    again = service.client.post("/api/tenants/acme/test-connection", headers=service.token("operator")).json()
    assert again["ok"] is True
    assert shop.access_token not in answer.text


def test_an_unknown_pipeline_is_refused(service: Service, tmp_path: Path) -> None:
    body = _create_body(tmp_path, pipelines=["no_such_pipeline"])
    answer = service.client.post("/api/tenants", json=body, headers=service.token("admin", "*"))
    assert answer.status_code == 422
    assert "no_such_pipeline" in answer.json()["message"]
