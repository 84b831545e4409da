"""Media files of the Shopware 6 emulator: ``MediaService`` fetching an upload's URL (loopback hosts only)
and storing the file on its media entity."""

from __future__ import annotations

import asyncio
import ipaddress
import time
import weakref
from typing import Any
from urllib.parse import urlsplit

import httpx

from connector_pipelines.sandbox.shopware6_errors import fail
from connector_pipelines.sandbox.shopware6_settings import ShopwareSettings
from connector_pipelines.sandbox.shopware6_store import Store, now_iso


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MediaFiles:
    """Downloads and saves uploaded files; callers hold ``store.lock`` while saving."""

    def __init__(self, store: Store, settings: ShopwareSettings) -> None:
        self.store = store
        self.settings = settings
        # One download client per event loop serving the app: a new client costs tens of milliseconds. It
        # keeps no connection open, so nothing is left behind when the loop stops.
        self._fetchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    async def download(self, url: Any) -> tuple[bytes, str]:
        """``MediaService::fetchFile`` for a URL; the sandbox only reaches loopback hosts."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not _is_loopback(parts.hostname or ""):
            raise fail(
                400, "CONTENT__MEDIA_ILLEGAL_URL", 'Provided URL "{{ url }}" is invalid.', {"url": url}
            )
        try:
            response = await self._fetcher().get(url)
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code != 200:
            raise fail(
                400,
                "CONTENT__MEDIA_CANNOT_OPEN_SOURCE_STREAM_TO_READ",
                "Cannot open source stream to read from {{ url }}.",
                {"url": url},
            )
        return response.content, response.headers.get("content-type", "").split(";")[0].strip()

    def _fetcher(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._fetchers.get(loop)
        if client is None:
            client = self._fetchers[loop] = httpx.AsyncClient(
                timeout=self.settings.media_fetch_timeout_s,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return client

    def save(
        self, base_url: str, media_id: str, file_name: str, extension: str, content: bytes, mime: str
    ) -> None:
        store = self.store
        for other_id, other in store.rows["media"].items():
            if (
                other_id != media_id
                and other.get("fileName") == file_name
                and other.get("fileExtension") == extension
            ):
                raise fail(
                    400,
                    "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
                    'A file with the name "{{ fileName }}.{{ fileExtension }}" already exists.',
                    {"fileName": file_name, "fileExtension": extension},
                )
        now = now_iso()
        stamp = int(time.time())
        path = f"media/{media_id[:2]}/{media_id[2:4]}/{media_id[4:6]}/{stamp}/{file_name}.{extension}"
        if self.settings.keep_media_bytes:
            store.files[path] = (content, mime)
        row = store.rows["media"][media_id]
        media_type = mime.split("/")[0].upper() if "/" in mime else "BINARY"
        store.put(
            "media",
            media_id,
            {
                **row,
                "fileName": file_name,
                "fileExtension": extension,
                "mimeType": mime,
                "fileSize": len(content),
                "uploadedAt": now,
                "path": path,
                "url": f"{base_url}/{path}",
                "hasFile": True,
                "mediaType": {"name": media_type, "flags": [], "extensions": []},
                "updatedAt": now,
            },
        )
