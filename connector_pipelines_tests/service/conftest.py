"""The connector service under test: its app on a connector database (SQLite, and PostgreSQL where the test
takes ``database_url``), served through Starlette's TestClient, with tenants, tokens and signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import orjson
import pytest
from fastapi.testclient import TestClient

from connector_pipelines.service.app import create_app
from connector_pipelines.service.auth import issue_token
from connector_pipelines.service.context import Services
from connector_pipelines.service.roles import Role
from connector_pipelines.service.settings import ServiceSettings
from connector_pipelines.service.webhook_tenants import ERP, sealed_system
from connector_pipelines.store.service import WebhookSecretRepository
from connector_pipelines.tenants.registry import TenantRegistry

PIPELINE = "erp_files_shopify"


@dataclass(frozen=True)
class TenantSecrets:
    slug: str
    shop: str
    app_secret: str
    erp_secret: str
    access_token: str


@dataclass
class Service:
    client: TestClient
    services: Services
    files: Path

    @property
    def registry(self) -> TenantRegistry:
        return self.services.registry

    def token(
        self,
        role: Role | str,
        tenants: Sequence[str] | Literal["*"] = ("acme",),
        *,
        subject: str = "tester",
        ttl: timedelta = timedelta(hours=1),
    ) -> dict[str, str]:
        token = issue_token(
            self.services.signing_keys, subject=subject, role=Role(role), tenants=tenants, ttl=ttl
        )
        return {"Authorization": f"Bearer {token}"}

    def add_tenant(
        self, slug: str, *, shop_url: str | None = None, access_token: str | None = None
    ) -> TenantSecrets:
        """A tenant of erp_files_shopify with a local file folder, a Shopify app secret and an ERP secret; its
        shop is ``https://<slug>.myshopify.com`` (never called) unless ``shop_url`` names an emulator's."""
        folder = self.files / slug
        folder.mkdir(parents=True, exist_ok=True)
        secrets = TenantSecrets(
            slug,
            f"{slug}.myshopify.com",
            f"app-secret-{slug}",
            f"erp-secret-{slug}-0123456789abcdef",
            access_token or f"shpat_{slug}",
        )
        self.registry.add(
            slug,
            slug.upper(),
            [PIPELINE],
            {
                "shopify": {"shop_url": shop_url or f"https://{secrets.shop}"},
                "erp_files": {"kind": "local", "root": str(folder), "path": "products.csv"},
            },
        )
        self.registry.set_credentials(
            slug, "shopify", {"access_token": secrets.access_token, "api_secret": secrets.app_secret}
        )
        sealed = self.services.keyring.encrypt(secrets.erp_secret.encode(), slug, sealed_system(ERP))
        WebhookSecretRepository(self.services.db).put(
            self.registry.tenant_id(slug), ERP, sealed.key_id, sealed.blob
        )
        return secrets


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback address where nothing listens while the test runs: the port is bound by this fixture,
    never listened on, so a connection is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


def make_settings(database_url: str, dagster_url: str, **changes: object) -> ServiceSettings:
    return ServiceSettings.model_validate(
        {"database_url": database_url, "dagster_url": dagster_url, "secrets_ttl_s": 0, **changes}
    )


def _serve(settings: ServiceSettings, files: Path) -> Iterator[Service]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Service(client, app.state.services, files)


@pytest.fixture
def service(tmp_path: Path, refused_url: str) -> Iterator[Service]:
    """The service on SQLite, its Dagster webserver unreachable."""
    yield from _serve(make_settings(f"sqlite:///{tmp_path / 'service.db'}", refused_url), tmp_path / "files")


@pytest.fixture
def any_service(database_url: str, tmp_path: Path, refused_url: str) -> Iterator[Service]:
    """The service on SQLite and on PostgreSQL."""
    yield from _serve(make_settings(database_url, refused_url), tmp_path / "files")


def shopify_headers(
    tenant: TenantSecrets, body: bytes, delivery: str = "delivery-1", *, secret: str | None = None
) -> dict[str, str]:
    digest = hmac.new((secret or tenant.app_secret).encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Shop-Domain": tenant.shop,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Event-Id": f"event-{delivery}",
        "X-Shopify-Triggered-At": "2026-07-01T12:00:00.000Z",
    }


def erp_headers(
    tenant: TenantSecrets, body: bytes, *, timestamp: int | None = None, secret: str | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new((secret or tenant.erp_secret).encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Webhook-Timestamp": str(stamp),
        "X-Webhook-Signature": f"sha256={digest.hexdigest()}",
    }


def product_update(product_id: int = 9554194432293) -> bytes:
    return orjson.dumps(
        {
            "id": product_id,
            "title": "T-Shirt",
            "status": "active",
            "updated_at": "2026-07-01T12:00:00-05:00",
            "variants": [{"id": 123456789, "price": "29.99", "sku": "TSHIRT-001"}],
            "tags": "cotton, comfortable",
        }
    )


def erp_event(event: str = "product.updated", event_id: str = "evt-1") -> bytes:
    return orjson.dumps({"event": event, "id": event_id, "data": {"sku": "TSHIRT-001", "price": "31.00"}})
