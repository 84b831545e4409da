"""Every endpoint of the management API with every role: no token is 401; a role below the endpoint's is 403;
a token for another tenant is 403, even an admin's; each role at or above it gets the endpoint's answer. Every
mutating call, refused or not, leaves an audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.service.roles import Role
from connector_pipelines.store.models import AuditEntry
from connector_pipelines_tests.service.conftest import PIPELINE, Service

ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
MAPPING = {"fields": {"title": "title", "variant.sku": "sku", "variant.price": "price"}}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: Role
    status: int  # the answer to an allowed caller in this test's setting
    body: dict[str, Any] | None = None
    repeatable: bool = True  # every allowed role may call it in turn
    repeated: int = 404  # the answer to a call that cannot be repeated, the second time

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/api/tenants/acme", Role.VIEWER, 200),
    Endpoint("PATCH", "/api/tenants/acme", Role.ADMIN, 200, {"display_name": "Acme Inc."}),
    Endpoint("POST", "/api/tenants/acme/disable", Role.ADMIN, 200),
    Endpoint("POST", "/api/tenants/acme/enable", Role.ADMIN, 200),
    Endpoint("DELETE", "/api/tenants/acme", Role.ADMIN, 200, repeatable=False),
    Endpoint(
        "PUT", "/api/tenants/acme/credentials/erp_files", Role.ADMIN, 204, {"values": {"username": "ftp"}}
    ),
    Endpoint("PUT", "/api/tenants/acme/webhook-secret", Role.ADMIN, 204, {"secret": "s" * 32}),
    Endpoint("POST", "/api/tenants/acme/test-connection", Role.OPERATOR, 200),
    # The Dagster webserver is unreachable here: the call passes auth and fails at Dagster (503).
    Endpoint("POST", "/api/tenants/acme/sync", Role.OPERATOR, 503, {"pipeline": PIPELINE, "mode": "delta"}),
    Endpoint("GET", "/api/tenants/acme/runs", Role.VIEWER, 200),
    Endpoint("GET", "/api/tenants/acme/runs/0f3c", Role.VIEWER, 503),
    Endpoint("GET", "/api/tenants/acme/errors", Role.VIEWER, 200),
    Endpoint("GET", "/api/tenants/acme/dead-letters", Role.VIEWER, 200),
    Endpoint("POST", "/api/tenants/acme/errors/retry", Role.OPERATOR, 200, {}),
    Endpoint("GET", "/api/tenants/acme/mapping", Role.VIEWER, 200),
    Endpoint("PUT", "/api/tenants/acme/mapping", Role.OPERATOR, 200, {"mapping": MAPPING}),
    Endpoint("GET", "/api/tenants/acme/mapping/versions", Role.VIEWER, 200),
    Endpoint("GET", "/api/tenants/acme/mapping/versions/7", Role.VIEWER, 404),
    Endpoint("POST", "/api/tenants/acme/mapping/preview", Role.VIEWER, 200, {"mapping": MAPPING}),
    Endpoint("GET", "/api/tenants/acme/webhook-subscriptions", Role.VIEWER, 200),
    Endpoint(
        "POST",
        "/api/tenants/acme/webhook-subscriptions",
        Role.ADMIN,
        201,
        {"topic": "PRODUCTS_UPDATE", "uri": "https://hooks.example.com/webhooks/shopify"},
        repeatable=False,
        repeated=422,  # Shopify: this address is already taken for the topic
    ),
    # No such subscription: Shopify answers with a user error, the API with 422.
    Endpoint("DELETE", "/api/tenants/acme/webhook-subscriptions/1", Role.ADMIN, 422),
]


@pytest.fixture
def matrix(service: Service, hub: SandboxHub) -> Service:
    """acme on a Shopify emulator, with a product file; beta beside it."""
    shop = hub.add_shopify("acme")
    service.add_tenant(
        "acme", shop_url=hub.accounts()["shopify"]["acme"]["shop_url"], access_token=shop.access_token
    )
    service.add_tenant("beta")
    (service.files / "acme" / "products.csv").write_text("sku,title,price\nA-1,Shirt,9.99\nA-2,Cap,4.50\n")
    return service


def _call(service: Service, endpoint: Endpoint, headers: dict[str, str]) -> int:
    answer = service.client.request(endpoint.method, endpoint.path, json=endpoint.body, headers=headers)
    if answer.status_code >= 400:
        assert set(answer.json()) == {"code", "message", "request_id"}, answer.text
    return int(answer.status_code)


def _audited(service: Service, endpoint: Endpoint) -> int:
    with service.services.db.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.method == endpoint.method, AuditEntry.path == endpoint.path)
            )
            or 0
        )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_role_on_each_endpoint(matrix: Service, endpoint: Endpoint) -> None:
    calls = 0
    assert _call(matrix, endpoint, {}) == 401
    calls += 1
    for role in ROLES:
        if not role.allows(endpoint.role):
            assert _call(matrix, endpoint, matrix.token(role)) == 403, role
            calls += 1
    assert _call(matrix, endpoint, matrix.token(Role.ADMIN, ["beta"])) == 403
    calls += 1
    allowed = [r for r in ROLES if r.allows(endpoint.role)]
    for role in allowed if endpoint.repeatable else allowed[:1]:
        assert _call(matrix, endpoint, matrix.token(role)) == endpoint.status, role
        calls += 1
    assert _call(matrix, endpoint, matrix.token(endpoint.role, "*")) in (
        (endpoint.status,) if endpoint.repeatable else (endpoint.repeated,)
    )
    calls += 1
    if endpoint.method != "GET":
        assert _audited(matrix, endpoint) == calls


def test_listing_tenants_shows_the_tokens_tenants_only(matrix: Service) -> None:
    assert matrix.client.get("/api/tenants").status_code == 401
    for role in ROLES:
        answer = matrix.client.get("/api/tenants", headers=matrix.token(role, ["beta"]))
        assert answer.status_code == 200
        assert [t["slug"] for t in answer.json()["items"]] == ["beta"]
    everything = matrix.client.get("/api/tenants", headers=matrix.token(Role.VIEWER, "*")).json()
    assert [t["slug"] for t in everything["items"]] == ["acme", "beta"]


def test_creating_a_tenant_needs_an_admin_covering_it(matrix: Service, tmp_path: Path) -> None:
    body = {
        "slug": "gamma",
        "pipelines": [PIPELINE],
        "settings": {
            "shopify": {"shop_url": "https://gamma.myshopify.com"},
            "erp_files": {"kind": "local", "root": str(tmp_path), "path": "products.csv"},
        },
    }
    assert matrix.client.post("/api/tenants", json=body).status_code == 401
    for role in (Role.VIEWER, Role.OPERATOR):
        assert (
            matrix.client.post("/api/tenants", json=body, headers=matrix.token(role, "*")).status_code == 403
        )
    assert (
        matrix.client.post("/api/tenants", json=body, headers=matrix.token(Role.ADMIN, ["beta"])).status_code
        == 403
    )
    assert (
        matrix.client.post("/api/tenants", json=body, headers=matrix.token(Role.ADMIN, ["gamma"])).status_code
        == 201
    )
    assert (
        matrix.client.post("/api/tenants", json=body, headers=matrix.token(Role.ADMIN, "*")).status_code
        == 409
    )


def test_the_audit_trail_is_for_admins_and_scoped(matrix: Service) -> None:
    matrix.client.post("/api/tenants/acme/disable", headers=matrix.token(Role.ADMIN))
    matrix.client.post("/api/tenants/beta/disable", headers=matrix.token(Role.ADMIN, ["beta"]))
    matrix.client.post("/api/tenants/beta/enable", headers=matrix.token(Role.VIEWER, ["beta"]))
    assert matrix.client.get("/api/audit").status_code == 401
    for role in (Role.VIEWER, Role.OPERATOR):
        assert matrix.client.get("/api/audit", headers=matrix.token(role, "*")).status_code == 403
    scoped = matrix.client.get("/api/audit", headers=matrix.token(Role.ADMIN, ["beta"])).json()
    assert [(e["path"], e["status_code"], e["role"]) for e in scoped["items"]] == [
        ("/api/tenants/beta/enable", 403, "viewer"),
        ("/api/tenants/beta/disable", 200, "admin"),
    ]
    everything = matrix.client.get("/api/audit", headers=matrix.token(Role.ADMIN, "*")).json()
    assert everything["total"] == 3
    assert everything["items"][-1]["actor"] == "tester"
