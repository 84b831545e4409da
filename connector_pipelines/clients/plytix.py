"""Plytix PIM API v1 client: token auth, paced requests, search streamed page by page, typed answers.

Built from ``contracts/plytix.md``. A token (``POST /auth/api/get-token`` on the auth host) lives 15 minutes;
it is fetched on first use, renewed a minute before it runs out and after a 401. Plytix limits requests per
10 seconds and per hour (per plan, no rate-limit headers): the client keeps both windows itself, so a normal
run never meets a 429; one that still comes is retried after its ``Retry-After`` (the base class).

    client = PlytixClient("https://pim.plytix.com", key, password, auth_url="https://auth.plytix.com",
                          requests_per_10s=50, requests_per_hour=5000)
    for product in client.search_products([[SearchFilter(field="modified", operator="gt", value=since)]],
                                          ["label", "modified", "attributes.price"]):
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import ClassVar, TypeVar, Unpack

import httpx
from pydantic import BaseModel, JsonValue, SecretStr, ValidationError

from connector_pipelines.clients.http import ApiClient, ApiError, AuthError, ClientOptions
from connector_pipelines.clients.pacing import shared_pacer
from connector_pipelines.clients.plytix_models import (
    Envelope,
    ErrorBody,
    PlytixAttribute,
    PlytixCategory,
    PlytixFamily,
    PlytixFamilyAttribute,
    PlytixFilter,
    PlytixProduct,
    SearchFilter,
)

__all__ = [
    "PlytixAttribute",
    "PlytixCategory",
    "PlytixClient",
    "PlytixFamily",
    "PlytixFamilyAttribute",
    "PlytixFilter",
    "PlytixProduct",
    "SearchFilter",
]

TOKEN_PATH = "/auth/api/get-token"  # noqa: S105 - a route, not a secret
MAX_PAGE_SIZE = 100
_ERROR_EXCERPT = 300

M = TypeVar("M", bound=BaseModel)


class PlytixClient(ApiClient):
    """Client of one Plytix account (API key and password from the account's API tab)."""

    system = "plytix"
    token_lifetime_s: ClassVar[float] = 900.0  # 15 minutes; the token answer carries no expiry
    renew_before_s: ClassVar[float] = 60.0

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_password: str | SecretStr,
        *,
        auth_url: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        requests_per_10s: int | None = None,
        requests_per_hour: int | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_url(base_url, "base_url")
        if auth_url is not None:
            _check_url(auth_url, "auth_url")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if not api_key:
            raise ValueError("api_key is required")
        super().__init__(base_url, **options)
        self.page_size = page_size
        self._token_url = f"{(auth_url or base_url).rstrip('/')}{TOKEN_PATH}"
        self._api_key = SecretStr(api_key)
        self._api_password = api_password if isinstance(api_password, SecretStr) else SecretStr(api_password)
        self.add_secret(self._api_key)
        self.add_secret(self._api_password)
        self._token: SecretStr | None = None
        self._renew_at = 0.0
        self._token_lock = threading.RLock()
        self._used = threading.local()  # the token this thread last sent, to tell a stale 401 from a new one
        windows = [
            (n, p) for n, p in ((requests_per_10s, 10.0), (requests_per_hour, 3600.0)) if n is not None
        ]
        if any(n < 1 for n, _ in windows):
            raise ValueError("rate limits must be positive")
        self._pacer = shared_pacer(base_url, api_key, windows, self.clock, self._sleep) if windows else None

    # --- authentication and pacing ---------------------------------------------------------------------

    def before_request(self, method: str, path: str) -> None:
        # The token is made sure of first, so that its own request is paced as one of its own.
        if path != self._token_url:
            self._ensure_token()
        if self._pacer is not None:
            slept = self._pacer.acquire()
            self.count_wait(slept, rate_limit=True)

    def after_response(self, response: httpx.Response) -> None:
        if self._pacer is not None:
            self._pacer.complete()

    def auth_headers(self) -> dict[str, str]:
        token = self._ensure_token()
        self._used.token = token
        return {"Authorization": f"Bearer {token}"}  # capital B: Plytix insists

    def reauthenticate(self) -> None:
        with self._token_lock:
            current = self._token.get_secret_value() if self._token is not None else None
            if current is not None and current != getattr(self._used, "token", None):
                return  # another thread already replaced the token this request was refused with
            self._fetch_token()

    def _ensure_token(self) -> str:
        with self._token_lock:
            if self._token is None or self.clock() >= self._renew_at:
                self._fetch_token()
            assert self._token is not None
            return self._token.get_secret_value()

    def _fetch_token(self) -> None:
        self._token = None
        payload = {
            "api_key": self._api_key.get_secret_value(),
            "api_password": self._api_password.get_secret_value(),
        }
        response = self.request("POST", self._token_url, json=payload, authenticated=False)
        try:
            answer = Envelope.model_validate_json(response.content)
            first = answer.data[0] if answer.data else None
            token = first.get("access_token") if isinstance(first, dict) else None
        except ValidationError:
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(
                self.system, "POST", TOKEN_PATH, response.status_code, "token answer has no access_token"
            )
        secret = SecretStr(token)
        self.add_secret(secret)
        self._token = secret
        self._renew_at = self.clock() + self.token_lifetime_s - self.renew_before_s

    # --- errors ------------------------------------------------------------------------------------------

    def describe_error(self, response: httpx.Response) -> str:
        """``{"error": {"msg", "errors": [{"field", "msg"}]}}`` as one line: ``msg (field: msg; …)``."""
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            return super().describe_error(response)
        error = body.error
        if error is not None and error.msg is not None:
            details = [
                f"{e.field}: {_text(e.msg)}" if e.field else _text(e.msg)
                for e in (error.errors or [])
                if e.msg is not None and e.field != "http_status_code"
            ]
            line = _text(error.msg) + (f" ({'; '.join(details)})" if details else "")
        elif body.msg is not None:
            line = _text(body.msg)
        elif body.detail is not None:
            line = _text(body.detail)
        else:
            return super().describe_error(response)
        return " ".join(line.split())[:_ERROR_EXCERPT]

    def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
        if path == self._token_url and response.status_code in (400, 401, 403):
            return AuthError(
                self.system,
                method,
                TOKEN_PATH,
                response.status_code,
                f"Plytix refused the API credentials (bad api_key or api_password): {detail}",
            )
        return super().make_error(method, path, response, detail)

    # --- reading -----------------------------------------------------------------------------------------

    def search_products(
        self,
        filters: Sequence[Sequence[SearchFilter]] = (),
        attributes: Sequence[str] = (),
        *,
        order: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[PlytixProduct]:
        """Every product (variants included) matching ``filters`` (OR of AND-groups), page by page.

        ``attributes`` selects what comes back besides id and sku: system fields by name, custom ones as
        ``attributes.<label>`` (at most 50). ``order`` is ``"field"`` or ``"-field"``; Plytix refuses it
        (428) on more than 10,000 matches. Without an order the pages of a changing catalog may shift."""
        body: dict[str, JsonValue] = {
            "filters": [[f.to_body() for f in group] for group in filters if group],
            "attributes": list(attributes),
        }
        return self._search("/api/v1/products/search", body, PlytixProduct, order=order, page_size=page_size)

    def get_product(self, product_id: str) -> PlytixProduct | None:
        """``GET /api/v1/products/{id}`` with every field (``product_family_id`` too); None when gone."""
        path = f"/api/v1/products/{_segment(product_id)}"
        response = self.request("GET", path, ok_statuses=frozenset({404}))
        if response.status_code == 404:
            return None
        items = self._items("GET", path, response, PlytixProduct)
        return items[0] if items else None

    def variants(self, product_id: str) -> list[PlytixProduct]:
        """The variants of a parent, complete (their own and inherited attribute values, family id). A
        product deleted since it was listed has none: a 404 gives an empty list."""
        path = f"/api/v1/products/{_segment(product_id)}/variants"
        response = self.request("GET", path, ok_statuses=frozenset({404}))
        if response.status_code == 404:
            return []
        return self._items("GET", path, response, PlytixProduct)

    def attributes(self) -> list[PlytixAttribute]:
        """Every product attribute (label, name, type_class, options of dropdowns)."""
        body: dict[str, JsonValue] = {
            "filters": [],
            "attributes": ["label", "name", "type_class", "options", "groups"],
        }
        return list(self._search("/api/v1/attributes/product/search", body, PlytixAttribute, order="label"))

    def families(self) -> list[PlytixFamily]:
        body: dict[str, JsonValue] = {
            "filters": [],
            "attributes": [
                "name",
                "created",
                "modified",
                "total_attributes",
                "total_models",
                "total_products",
            ],
        }
        return list(self._search("/api/v1/product_families/search", body, PlytixFamily, order="name"))

    def family_attributes(self, family_id: str, *, system: bool = False) -> list[PlytixFamilyAttribute]:
        """The attributes of a family with their level; ``system`` adds label, thumbnail, status and
        categories (``…/all_attributes``)."""
        which = "all_attributes" if system else "attributes"
        path = f"/api/v1/product_families/{_segment(family_id)}/{which}"
        return self._items("GET", path, self.request("GET", path), PlytixFamilyAttribute)

    def categories(self) -> list[PlytixCategory]:
        """The product category tree, flat: each with its path of names and its parents' ids."""
        body: dict[str, JsonValue] = {
            "filters": [],
            "attributes": ["name", "path", "parents_ids", "n_children", "order", "slug", "modified"],
        }
        return list(self._search("/api/v1/categories/product/search", body, PlytixCategory))

    def product_filters(self) -> list[PlytixFilter]:
        """The searchable product fields and their operators (``attributes`` and ``properties``)."""
        path = "/api/v1/filters/product"
        response = self.request("GET", path)
        out: list[PlytixFilter] = []
        for group in self._items("GET", path, response, _FilterGroup):
            out.extend(group.attributes)
            out.extend(group.properties)
        return out

    # --- helpers -----------------------------------------------------------------------------------------

    def _search(
        self,
        path: str,
        body: dict[str, JsonValue],
        model: type[M],
        *,
        order: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[M]:
        size = page_size or self.page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        page = 1
        while True:
            pagination: dict[str, JsonValue] = {"page": page, "page_size": size}
            if order:
                pagination["order"] = order
            response = self.request("POST", path, json={**body, "pagination": pagination})
            envelope = self._envelope("POST", path, response)
            items = self._validate("POST", path, response, envelope.data, model)
            yield from items
            total = envelope.pagination.total_count if envelope.pagination else None
            # Stop at the total; without one (some published examples omit it), at a short page.
            if (total is not None and page * size >= total) or len(items) < size or not items:
                return
            page += 1

    def _envelope(self, method: str, path: str, response: httpx.Response) -> Envelope:
        try:
            return Envelope.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(self.system, method, path, response.status_code, _fields(exc)) from None

    def _items(self, method: str, path: str, response: httpx.Response, model: type[M]) -> list[M]:
        return self._validate(method, path, response, self._envelope(method, path, response).data, model)

    def _validate(
        self, method: str, path: str, response: httpx.Response, data: list[JsonValue], model: type[M]
    ) -> list[M]:
        try:
            return [model.model_validate(item) for item in data]
        except ValidationError as exc:
            raise ApiError(self.system, method, path, response.status_code, _fields(exc)) from None


class _FilterGroup(BaseModel):
    attributes: list[PlytixFilter] = []
    properties: list[PlytixFilter] = []


def _check_url(url: str, name: str) -> None:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{name} must be an http(s) URL")
    if parsed.userinfo:
        raise ValueError(f"{name} must not carry credentials")
    if parsed.path.rstrip("/").endswith(("/api", "/api/v1")):
        raise ValueError(f"{name} must not end in /api or /api/v1, the client adds the paths")


def _segment(value: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise ValueError(f"not a Plytix id: {value!r}")
    return value


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else str(value)


def _fields(exc: ValidationError) -> str:
    return "unexpected answer: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
