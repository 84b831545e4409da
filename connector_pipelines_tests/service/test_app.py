"""The app as a whole: its OpenAPI page lists every route, webhooks included."""

from __future__ import annotations

from connector_pipelines_tests.service.conftest import Service


def test_the_openapi_page_documents_every_route(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/webhooks/shopify", "/webhooks/erp/{tenant}", "/api/tenants/{tenant}/sync", "/metrics"} <= set(
        paths
    )
    assert service.client.get("/docs").status_code == 200
    assert service.client.get("/webhooks/shopify").status_code == 405  # only POST is served
