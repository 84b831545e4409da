"""Which tenant a webhook is for, and the secret that proves it came from there.

Shopify: the shop named by ``X-Shopify-Shop-Domain`` is a tenant's Shopify shop (its ``shop_url`` setting),
and the secret is the app's client secret (the optional ``api_secret`` of its Shopify credentials). ERP: the
tenant is in the URL, and the secret is the tenant's ERP webhook secret (``webhook_secrets``), sealed with
AES-256-GCM like credentials, bound to tenant and source.

The secrets are decrypted once and kept for a short while, so a webhook costs no decryption and no query; an
unknown shop or tenant reloads them, at most once a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio.to_thread
import orjson
from pydantic import ValidationError

from connector_pipelines.redaction import register_secrets
from connector_pipelines.store.db import Database
from connector_pipelines.store.service import WebhookSecretRepository
from connector_pipelines.tenants.crypto import DecryptionError, Keyring, Sealed
from connector_pipelines.tenants.systems import ShopifyCredentials

log = logging.getLogger(__name__)

SHOPIFY = "shopify"
ERP = "erp"
_MISS_RELOAD_S = 1.0  # a flood of unknown shops reloads at most this often


def sealed_system(source: str) -> str:
    """The name a webhook secret is sealed under (the associated data binds it to the tenant and this)."""
    return f"webhooks:{source}"


def shop_domain(shop_url: str) -> str:
    """``https://acme.myshopify.com`` -> ``acme.myshopify.com``, as Shopify names the shop in its webhooks.
    An emulator's or proxy's URL names the shop by its last path segment (``http://host/shopify/acme``)."""
    parts = urlsplit(shop_url if "://" in shop_url else f"https://{shop_url}")
    host = (parts.hostname or "").lower()
    if host.endswith(".myshopify.com"):
        return host
    segment = parts.path.rstrip("/").rsplit("/", 1)[-1].lower()
    return f"{segment}.myshopify.com" if segment else host


@dataclass(frozen=True)
class WebhookTenant:
    tenant_id: int
    slug: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class _Snapshot:
    shops: dict[str, WebhookTenant]
    erp: dict[str, WebhookTenant]
    loaded_at: float


class WebhookTenants:
    def __init__(
        self,
        db: Database,
        keyring: Callable[[], Keyring],
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repo = WebhookSecretRepository(db)
        self._keyring = keyring
        self._ttl_s = ttl_s
        self._clock = clock
        self._snapshot = _Snapshot({}, {}, float("-inf"))
        self._lock: asyncio.Lock | None = None

    def invalidate(self) -> None:
        """Forget the secrets (a secret or a shop changed)."""
        self._snapshot = _Snapshot({}, {}, float("-inf"))

    async def shopify(self, shop: str) -> WebhookTenant | None:
        return await self._lookup(lambda s: s.shops.get(shop.strip().lower()))

    async def erp(self, slug: str) -> WebhookTenant | None:
        return await self._lookup(lambda s: s.erp.get(slug))

    async def _lookup(self, find: Callable[[_Snapshot], WebhookTenant | None]) -> WebhookTenant | None:
        snapshot = self._snapshot
        age = self._clock() - snapshot.loaded_at
        found = find(snapshot)
        if age <= self._ttl_s and (found is not None or age < _MISS_RELOAD_S):
            return found
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._snapshot is snapshot:  # nobody reloaded while this request waited
                self._snapshot = await anyio.to_thread.run_sync(self._load)
        return find(self._snapshot)

    def _load(self) -> _Snapshot:
        keyring = self._keyring()
        shops: dict[str, WebhookTenant] = {}
        for row in self._repo.shopify_tenants(SHOPIFY):
            shop_url = row.settings.get("shop_url")
            if row.credentials is None or not isinstance(shop_url, str):
                continue
            try:
                plain = keyring.decrypt(
                    Sealed(row.credentials.key_id, row.credentials.ciphertext), row.slug, SHOPIFY
                )
                secret = ShopifyCredentials.model_validate(orjson.loads(plain)).api_secret
            except (DecryptionError, ValidationError, orjson.JSONDecodeError) as exc:
                log.warning(
                    "tenant '%s': Shopify credentials unreadable for webhooks (%s)",
                    row.slug,
                    type(exc).__name__,
                )
                continue
            if secret is None:
                continue
            register_secrets([secret.get_secret_value()])
            shops[shop_domain(shop_url)] = WebhookTenant(
                row.tenant_id, row.slug, secret.get_secret_value().encode()
            )
        erp: dict[str, WebhookTenant] = {}
        for sealed in self._repo.sealed(ERP):
            try:
                secret_bytes = keyring.decrypt(
                    Sealed(sealed.key_id, sealed.ciphertext), sealed.slug, sealed_system(ERP)
                )
            except DecryptionError:
                log.warning("tenant '%s': the ERP webhook secret is unreadable", sealed.slug)
                continue
            register_secrets([secret_bytes.decode()])
            erp[sealed.slug] = WebhookTenant(sealed.tenant_id, sealed.slug, secret_bytes)
        return _Snapshot(shops, erp, self._clock())
