"""Webflow Data API v2 client: e-commerce products and SKUs, CMS collection items, inventory, publishing.

Built from ``contracts/webflow.md`` and the spec (``webflow/openapi-spec`` ``openapi/v2.yml``). What it
does differently from the official SDK:

* Paces itself: a rolling 60 s window of its own calls sized by the plan's limit (the setting, then what
  ``X-RateLimit-Limit`` says), plus a pause when ``X-RateLimit-Remaining`` reaches 0, so a normal run never
  sees a 429 and still goes as fast as the limit allows. A 429 that comes anyway honours ``Retry-After``.
* Does not retry 409 (``ecommerce_not_enabled`` cannot pass by waiting; the SDK retries every 409).
* Raises typed, one-line errors that never carry the token.

Prices are minor units throughout: ``Price(value=2499, unit="USD")`` is 24.99 USD.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, Unpack

import httpx
import orjson
from pydantic import BaseModel, JsonValue, SecretStr, ValidationError

from connector_pipelines import errors
from connector_pipelines.clients.http import ApiClient, ApiError, AuthError, ClientOptions
from connector_pipelines.clients.webflow_models import (
    Collection,
    CollectionItem,
    EcommerceSettings,
    ErrorBody,
    InventoryItem,
    ItemWrite,
    Product,
    ProductAndSkus,
    ProductFieldData,
    PublishResult,
    PublishStatus,
    RateLimitStatus,
    Site,
    SitePublishResult,
    Sku,
    SkuFieldData,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.webflow.com/v2"
WINDOW_S = 60.0
PAGE_SIZE = 100  # limit maximum of every list endpoint (spec)
MAX_ITEMS_PER_REQUEST = 100  # PATCH /items and POST /items/bulk (spec); used for every batched item call
MAX_SKUS_PER_REQUEST = 100  # the spec gives no limit for POST .../skus; 100 like every other batch
# Rounding of the clock must never make us call a hair before the server's slot frees.
_SLACK_S = 0.01

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemInput = ItemWrite | Mapping[str, JsonValue]
"""An item to write: an :class:`ItemWrite`; a wire-named mapping of a whole item (with ``fieldData``, and
``id`` for updates); or a mapping that is its ``fieldData``."""


class WebflowApiError(ApiError):
    """An error answer of the Data API with its parsed ``code`` and ``details``."""

    def __init__(
        self, method: str, path: str, status: int, detail: str, error: ErrorBody, *, body: bytes = b""
    ) -> None:
        super().__init__(WebflowClient.system, method, path, status, detail, body=body)
        self.code = error.code
        self.details = error.details


class WebflowValidationError(WebflowApiError, errors.PermanentError):
    """400 ``validation_error`` / ``bad_request`` or 409 ``conflict``: the request was refused as a whole
    and nothing of it was written. Sending it again unchanged cannot help."""

    system: str


class WebflowNotFoundError(WebflowApiError, errors.PermanentError):
    """404 ``resource_not_found``: a site, collection, product, SKU or item id that does not exist."""

    system: str


class EcommerceNotEnabledError(WebflowApiError, errors.PermanentError):
    """409 ``ecommerce_not_enabled``: the site has no e-commerce. Not retried: waiting cannot fix it."""

    system: str

    def default_remedy(self) -> str:
        return (
            "enable Ecommerce on the Webflow site (Site settings > Ecommerce) or configure a site that has it"
        )


class _Pacer:
    """This client's calls in a rolling window, shared by its threads.

    A call is recorded when its answer arrives: the server counted it on arrival, earlier, so our window
    never frees a slot before the server's does. Calls in flight hold a slot too."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.remaining: int | None = None
        self.too_many = 0
        self._answered: deque[float] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        """Take a slot (returns 0) or say how long to wait before asking again."""
        with self._lock:
            calls = self._answered
            while calls and now - calls[0] >= WINDOW_S:
                calls.popleft()
            wait = self._blocked_until - now
            if self.limit is not None and len(calls) + self._in_flight >= self.limit:
                # The oldest answered call leaves the window first; with all slots in flight, look again soon.
                wait = max(wait, calls[0] + WINDOW_S - now if calls else _SLACK_S)
            if wait > 0:
                return wait + _SLACK_S
            self._in_flight += 1
            return 0.0

    def answered(self, now: float, response: httpx.Response | None) -> None:
        """Record one call that held a slot; ``response`` is ``None`` when it got no answer."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            calls = self._answered
            while calls and now - calls[0] >= WINDOW_S:
                calls.popleft()
            calls.append(now)
            if response is None:
                return
            limit = _int_header(response, "X-RateLimit-Limit")
            if limit is not None and limit > 0:
                self.limit = limit
            self.remaining = _int_header(response, "X-RateLimit-Remaining")
            if response.status_code == 429:
                self.too_many += 1  # Retry-After decides the wait, the base loop honours it
            elif self.remaining == 0:
                # The server's window is full. Our own oldest call leaves it no later than it frees a slot
                # (other clients' calls may be older); without calls of ours, wait a whole window.
                self._blocked_until = max(self._blocked_until, self._answered[0] + WINDOW_S)


class WebflowClient(ApiClient):
    """Client of the Webflow Data API v2 with one site (or workspace) API token.

    ``base_url`` includes the version: ``https://api.webflow.com/v2``. ``rate_limit_per_minute`` is the
    plan's limit (60 on Starter/Basic, 120 on CMS/eCommerce/Business); without it the client learns the
    limit from the first answer's ``X-RateLimit-Limit``.

    Field data goes in as the models of :mod:`~connector_pipelines.clients.webflow_models` (only the fields
    that were set are sent) or as mappings keyed by the API's field names (``{"sku-values": ...}``)."""

    system = "webflow"

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        rate_limit_per_minute: int | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_base_url(base_url)
        if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be positive")
        super().__init__(base_url, **options)
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self.add_secret(self._token)
        self._pacer = _Pacer(rate_limit_per_minute)
        self._holding = threading.local()  # whether this thread's current call holds a pacer slot

    # --- hooks -------------------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def reauthenticate(self) -> None:
        # A site token cannot be renewed by the client: a 401 is final.
        method, path = getattr(self._holding, "call", ("GET", "/"))
        raise AuthError(self.system, method, path, 401, "not_authorized: the API token was refused")

    def before_request(self, method: str, path: str) -> None:
        self._release(None)  # a previous attempt that got no answer still counted
        self._holding.call = (method, path)
        while True:
            wait = self._pacer.reserve(self.clock())
            if wait <= 0:
                self._holding.slot = True
                return
            log.debug("webflow rate limit: pausing %.2fs before %s %s", wait, method, path)
            self.wait(wait, rate_limit=True)

    def after_response(self, response: httpx.Response) -> None:
        self._release(response)

    def _release(self, response: httpx.Response | None) -> None:
        if getattr(self._holding, "slot", False):
            self._holding.slot = False
            self._pacer.answered(self.clock(), response)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return super().request(method, path, **kwargs)
        finally:
            self._release(None)  # the last attempt failed without an answer

    def describe_error(self, response: httpx.Response) -> str:
        error = _error_body(response.content)
        return error.describe() if error is not None else super().describe_error(response)

    def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
        status = response.status_code
        if status in (401, 403):
            return super().make_error(method, path, response, detail)
        body = self.redact_bytes(response.content)
        error = _error_body(body) or ErrorBody()
        error_type: type[WebflowApiError] = WebflowApiError
        if status == 409 and error.code == "ecommerce_not_enabled":
            error_type = EcommerceNotEnabledError
        elif status == 400 or (status == 409 and error.code == "conflict"):
            error_type = WebflowValidationError
        elif status == 404:
            error_type = WebflowNotFoundError
        return error_type(method, path, status, detail, error, body=body)

    def rate_limit_status(self) -> RateLimitStatus:
        pacer = self._pacer
        return RateLimitStatus(
            limit=pacer.limit,
            remaining=pacer.remaining,
            too_many=pacer.too_many,
            waits=self.stats.rate_limit_waits,
            wait_s=round(self.stats.rate_limit_wait_s, 3),
        )

    # --- sites and collections ---------------------------------------------------------------------------

    def sites(self) -> list[Site]:
        return [self._validate(Site, s, "GET", "/sites") for s in self._get("/sites").get("sites") or []]

    def site(self, site_id: str) -> Site:
        return self._call(Site, "GET", f"/sites/{site_id}")

    def ecommerce_settings(self, site_id: str) -> EcommerceSettings:
        return self._call(EcommerceSettings, "GET", f"/sites/{site_id}/ecommerce/settings")

    def collections(self, site_id: str) -> list[Collection]:
        path = f"/sites/{site_id}/collections"
        return [self._validate(Collection, c, "GET", path) for c in self._get(path).get("collections") or []]

    def collection(self, collection_id: str) -> Collection:
        return self._call(Collection, "GET", f"/collections/{collection_id}")

    def publish_site(
        self, site_id: str, *, custom_domains: Sequence[str] = (), webflow_subdomain: bool = True
    ) -> SitePublishResult:
        """Publish the site (one successful publish per minute: a 429 within it waits its Retry-After)."""
        body = {"customDomains": list(custom_domains), "publishToWebflowSubdomain": webflow_subdomain}
        return self._call(SitePublishResult, "POST", f"/sites/{site_id}/publish", json=body)

    # --- products and SKUs -------------------------------------------------------------------------------

    def list_products(self, site_id: str) -> Iterator[ProductAndSkus]:
        """Every product with its SKUs, 100 products a page."""
        for entry in self._pages(f"/sites/{site_id}/products"):
            yield self._validate(ProductAndSkus, entry, "GET", f"/sites/{site_id}/products")

    def get_product(self, site_id: str, product_id: str) -> ProductAndSkus | None:
        try:
            return self._call(ProductAndSkus, "GET", f"/sites/{site_id}/products/{product_id}")
        except WebflowNotFoundError:
            return None

    def create_product(
        self,
        site_id: str,
        product: ProductFieldData | Mapping[str, JsonValue],
        sku: SkuFieldData | Mapping[str, JsonValue],
        *,
        publish_status: PublishStatus = "staging",
    ) -> ProductAndSkus:
        """Create a product and its default SKU, which takes the first value of every option. Read the
        option and value ids back from the answer before building ``sku_values`` of further SKUs."""
        body = {
            "publishStatus": publish_status,
            "product": {"fieldData": _wire(product)},
            "sku": {"fieldData": _wire(sku)},
        }
        return self._call(ProductAndSkus, "POST", f"/sites/{site_id}/products", json=body)

    def update_product(
        self,
        site_id: str,
        product_id: str,
        fields: ProductFieldData | Mapping[str, JsonValue],
        *,
        is_archived: bool | None = None,
        is_draft: bool | None = None,
        publish_status: PublishStatus = "staging",
    ) -> Product:
        """Change the given fields (others stay); ``sku_properties`` replaces the options as a whole."""
        product: dict[str, JsonValue] = {"fieldData": _wire(fields)}
        if is_archived is not None:
            product["isArchived"] = is_archived
        if is_draft is not None:
            product["isDraft"] = is_draft
        body = {"publishStatus": publish_status, "product": product}
        return self._call(Product, "PATCH", f"/sites/{site_id}/products/{product_id}", json=body)

    def create_skus(
        self,
        site_id: str,
        product_id: str,
        skus: Sequence[SkuFieldData | Mapping[str, JsonValue]],
        *,
        publish_status: PublishStatus = "staging",
        chunk_size: int = MAX_SKUS_PER_REQUEST,
    ) -> list[Sku]:
        """Add SKUs; each ``sku_values`` names every option of the product with one of its value ids."""
        path = f"/sites/{site_id}/products/{product_id}/skus"
        created: list[Sku] = []
        for chunk in _chunks(skus, chunk_size):
            body: dict[str, JsonValue] = {
                "publishStatus": publish_status,
                "skus": [{"fieldData": _wire(s)} for s in chunk],
            }
            answer = self._post_json(path, body)
            created.extend(self._validate(Sku, s, "POST", path) for s in answer.get("skus") or [])
        return created

    def update_sku(
        self,
        site_id: str,
        product_id: str,
        sku_id: str,
        sku: SkuFieldData | Mapping[str, JsonValue],
        *,
        publish_status: PublishStatus = "staging",
    ) -> Sku:
        """Change the SKU fields that are set in ``sku`` (a partial model is fine)."""
        body = {"publishStatus": publish_status, "sku": {"fieldData": _wire(sku)}}
        return self._call(Sku, "PATCH", f"/sites/{site_id}/products/{product_id}/skus/{sku_id}", json=body)

    def inventory(self, sku_collection_id: str, sku_id: str) -> InventoryItem:
        return self._call(InventoryItem, "GET", f"/collections/{sku_collection_id}/items/{sku_id}/inventory")

    def update_inventory(self, sku_collection_id: str, sku_id: str, quantity: int | None) -> InventoryItem:
        """Set the stock of a SKU absolutely; ``None`` means infinite (not tracked)."""
        body: dict[str, JsonValue] = {"inventoryType": "infinite"}
        if quantity is not None:
            body = {"inventoryType": "finite", "quantity": quantity}
        path = f"/collections/{sku_collection_id}/items/{sku_id}/inventory"
        return self._call(InventoryItem, "PATCH", path, json=body)

    # --- CMS items ---------------------------------------------------------------------------------------

    def list_items(self, collection_id: str) -> Iterator[CollectionItem]:
        path = f"/collections/{collection_id}/items"
        for entry in self._pages(path):
            yield self._validate(CollectionItem, entry, "GET", path)

    def create_items(
        self, collection_id: str, items: Sequence[ItemInput], *, live: bool = False
    ) -> list[CollectionItem]:
        """Create items (staged, or published at once with ``live``), 100 a request."""
        path = f"/collections/{collection_id}/items" + ("/live" if live else "")
        created: list[CollectionItem] = []
        for chunk in _chunks(items, MAX_ITEMS_PER_REQUEST):
            created.extend(self._items_answer(path, "POST", {"items": [_item(i) for i in chunk]}))
        return created

    def update_items(self, collection_id: str, items: Sequence[ItemInput]) -> list[CollectionItem]:
        """Change the fields set on each item (``id`` required), 100 a request."""
        docs = [_item(i) for i in items]
        if any(not isinstance(d.get("id"), str) for d in docs):
            raise ValueError("every item to update needs its id")
        path = f"/collections/{collection_id}/items"
        updated: list[CollectionItem] = []
        for chunk in _chunks(docs, MAX_ITEMS_PER_REQUEST):
            updated.extend(self._items_answer(path, "PATCH", {"items": list(chunk)}))
        return updated

    def delete_items(self, collection_id: str, ids: Iterable[str]) -> None:
        path = f"/collections/{collection_id}/items"
        for chunk in _chunks(list(ids), MAX_ITEMS_PER_REQUEST):
            self.request("DELETE", path, json={"items": [{"id": i} for i in chunk]})

    def publish_items(self, collection_id: str, ids: Iterable[str]) -> PublishResult:
        """Publish staged items; ids Webflow could not publish come back in ``errors``."""
        path = f"/collections/{collection_id}/items/publish"
        result = PublishResult()
        for chunk in _chunks(list(ids), MAX_ITEMS_PER_REQUEST):
            part = self._call(PublishResult, "POST", path, json={"itemIds": chunk})
            result.published_item_ids.extend(part.published_item_ids)
            result.errors.extend(part.errors)
        return result

    # --- plumbing ----------------------------------------------------------------------------------------

    def _call(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        response = self.request(method, path, **kwargs)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(self.system, method, path, response.status_code, _fields(exc)) from None

    def _validate(self, model: type[ModelT], value: object, method: str, path: str) -> ModelT:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise ApiError(self.system, method, path, 200, _fields(exc)) from None

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        return _object(self.get_json(path, params=params), self.system, "GET", path)

    def _post_json(self, path: str, body: JsonValue) -> dict[str, Any]:
        return _object(self.post_json(path, json=body), self.system, "POST", path)

    def _pages(self, path: str) -> Iterator[object]:
        offset = 0
        while True:
            answer = self._get(path, {"offset": offset, "limit": PAGE_SIZE})
            items = answer.get("items") or []
            yield from items
            pagination = answer.get("pagination")
            if pagination is not None and not isinstance(pagination, dict):
                raise ApiError(self.system, "GET", path, 200, "pagination is not an object")
            total = (pagination or {}).get("total")
            offset += len(items)
            if not items or not isinstance(total, int) or offset >= total:
                return

    def _items_answer(self, path: str, method: str, body: JsonValue) -> list[CollectionItem]:
        response = self.request(method, path, json=body)
        try:
            decoded = orjson.loads(response.content or b"{}")
        except orjson.JSONDecodeError as exc:
            kind = response.headers.get("content-type", "?")
            detail = f"response is not JSON ({kind}, {len(response.content)} bytes): {exc}"
            raise ApiError(self.system, method, path, response.status_code, detail) from None
        answer = _object(decoded, self.system, method, path)
        # One item comes back as the item itself, several as {"items": [...]} (spec: both shapes).
        entries = answer["items"] if isinstance(answer.get("items"), list) else [answer]
        return [self._validate(CollectionItem, e, method, path) for e in entries]


# --- helpers -----------------------------------------------------------------------------------------------


def _check_base_url(base_url: str) -> None:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http(s) URL such as https://api.webflow.com/v2")
    if url.userinfo:
        raise ValueError("base_url must not carry credentials")


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _error_body(content: bytes) -> ErrorBody | None:
    try:
        error = ErrorBody.model_validate_json(content)
    except ValidationError:
        return None
    return error if error.code or error.message else None


def _wire(fields: BaseModel | Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    if isinstance(fields, BaseModel):
        dumped: dict[str, JsonValue] = fields.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return dumped
    return dict(fields)


def _item(item: ItemInput) -> dict[str, JsonValue]:
    if isinstance(item, ItemWrite):
        return item.to_wire()
    # A mapping with "fieldData" is a whole item ({id?, isDraft?, fieldData}); any other, its fieldData.
    return dict(item) if "fieldData" in item else {"fieldData": dict(item)}


_T = TypeVar("_T")


def _chunks(values: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    if size < 1:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _object(value: object, system: str, method: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(system, method, path, 200, f"unexpected answer: {type(value).__name__}, not an object")
    return value


def _fields(exc: ValidationError) -> str:
    return "unexpected answer: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
