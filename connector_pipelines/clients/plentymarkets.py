"""Plentymarkets (PlentyONE) REST client: login, paging through the quirks of the page envelope, pacing by
the ``X-Plenty-*`` headers. The records it returns are the models of
:mod:`connector_pipelines.clients.plentymarkets_models`.

Built from ``contracts/plentymarkets.md``. Record validation policy: a record that does not validate is
skipped and reported (logged, and appended to :attr:`PlentymarketsClient.invalid_records` naming the
endpoint, page, index, id and JSON field), so one malformed variation cannot stop a whole run; callers that
must not act on a partial read (the cleanup run) check that list. ``strict=True`` raises
:class:`InvalidRecordError` instead. A page whose *envelope* does not validate always raises.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, Unpack

import httpx
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from connector_pipelines.clients.http import (
    ApiClient,
    ApiError,
    AuthError,
    ClientOptions,
    RateLimitedError,
    decode_json,
)
from connector_pipelines.clients.plentymarkets_models import (
    Attribute,
    BarcodeType,
    Category,
    InvalidRecord,
    Item,
    Manufacturer,
    OptInt,
    SalesPrice,
    StockEntry,
    SyncItem,
    SyncVariation,
    Unit,
    Variation,
    VariationSalesPrice,
    VatStandard,
    Warehouse,
    Webstore,
)

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 250
ITEMS_PATH = "/rest/items"
VARIATIONS_PATH = "/rest/items/variations"
ID_CHUNK = 100  # ids per request for id-list filters, keeps URLs far below server limits
# Units of the short window a call costs (contract §6: "some calls cost 2 units").
PLENTY_CALL_COSTS = frozenset({1, 2})
# A call leaves Plenty's window a period after Plenty counted it, which was before its answer came; waiting
# a little longer than the period after the answer is never early.
_CLOCK_SLACK_S = 0.01
_RENEW_BEFORE_S = 60.0


class InvalidRecordError(ApiError):
    """A record did not validate and the client is strict."""


# --- wire envelopes ---------------------------------------------------------------------------------------


class _LoginAnswer(BaseModel):
    """Login and refresh answers: the login body carries both spellings, the refresh body only camelCase."""

    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr = Field(validation_alias=AliasChoices("accessToken", "access_token"))
    refresh_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("refreshToken", "refresh_token")
    )
    expires_in: float = Field(86400.0, gt=0, validation_alias=AliasChoices("expiresIn", "expires_in"))

    @field_validator("access_token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("empty access token")
        return value


class _PageEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)

    page: OptInt = None
    totals_count: OptInt = None
    is_last_page: bool | None = None
    last_page_number: OptInt = None
    items_per_page: OptInt = None  # a string on some endpoints
    entries: list[object]  # validated record by record


class _ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str | None = None
    validation_errors: object = None


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error: _ErrorDetail | str | None = None
    message: str | None = None
    validation_errors: object = None


# --- the client -------------------------------------------------------------------------------------------

ItemRelation = Literal[
    "itemProperties",
    "itemProperties.valueTexts",
    "itemCrossSelling",
    "variations",
    "itemImages",
    "itemShippingProfiles",
    "ebayTitles",
]
VariationRelation = Literal[
    "properties",
    "variationProperties",
    "variationBarcodes",
    "variationBundleComponents",
    "variationComponentBundles",
    "variationSalesPrices",
    "marketItemNumbers",
    "variationCategories",
    "variationClients",
    "variationMarkets",
    "variationDefaultCategory",
    "variationSuppliers",
    "variationWarehouses",
    "images",
    "itemImages",
    "variationAttributeValues",
    "variationSkus",
    "variationAdditionalSkus",
    "unit",
    "parent",
    "item",
    "stock",
]
DEFAULT_VARIATION_RELATIONS: tuple[VariationRelation, ...] = (
    "variationSalesPrices",
    "variationCategories",
    "variationDefaultCategory",
    "variationAttributeValues",
    "variationBarcodes",
    "variationClients",
    "unit",
    "stock",
    "images",
    "itemImages",
    "properties",
)
Between = tuple[datetime, datetime | None]
"""``(start, end)``; ``end=None`` means "until now"."""

ModelT = TypeVar("ModelT", bound=BaseModel)
VariationT = TypeVar("VariationT", Variation, SyncVariation)
ItemT = TypeVar("ItemT", Item, SyncItem)
Params = dict[str, str | int]


@dataclass
class _Window:
    """One rate-limit budget as the last response reported it."""

    calls_left: int
    resets_at: float


@dataclass
class _Spent:
    """Units of the short window one of this client's calls took, when it left and when its answer came."""

    sent: float
    at: float
    units: int


class _ShortWindow:
    """This client's own calls in Plenty's sliding short window, to wait exactly until enough have left it.

    Plenty reports the seconds until its oldest call leaves the window rounded up, so waiting that long is up
    to a second late, and each window repeats the pace of the one before: over a long read the lateness adds
    up. A client alone on its token knows the calls in the window (its own) and, from the first call in an
    empty window, its length. Each answer checks that count against Plenty's; any mismatch (another client on
    the budget) drops the record, and the reported seconds rule again until the window is empty once more.

    Plenty counts a call when it arrives, and its count in the answer is as of that moment: a call of ours
    that left the window while Plenty rendered the answer is still in it. So the check forgets only what had
    surely left before the call was sent, and what Plenty may have dropped since is matched by the cost the
    path took before."""

    def __init__(self) -> None:
        self.spent: deque[_Spent] = deque()
        self.period: float | None = None
        self.limit = 0
        self.reliable = False
        self._costs: dict[str, int] = {}

    def answered(self, path: str, sent: float, now: float, limit: int, left: int, decay: float) -> None:
        self._expire(sent)
        used = limit - left
        units = used - sum(s.units for s in self.spent)
        known = self._costs.get(path, 1)
        # Our oldest calls Plenty may have dropped by the time it counted this one (never one sent later than
        # a window before the answer).
        while units < known and self.spent and self.period is not None:
            if self.spent[0].sent + self.period > now:
                break
            units += self.spent.popleft().units
        if not self.spent and units == used:
            self.period, self.limit, self.reliable = decay, limit, True  # the window holds this call alone
        self.reliable = self.reliable and units in PLENTY_CALL_COSTS and limit == self.limit
        if not self.reliable:
            self.spent.clear()
            return
        self._costs[path] = units
        self.spent.append(_Spent(sent, now, units))

    def wait_for_room(self, now: float, margin: int) -> float | None:
        """Seconds until more than ``margin`` units are left, by this client's own calls; None: not known."""
        if not self.reliable or self.period is None:
            return None
        self._expire(now)
        needed = sum(s.units for s in self.spent) - (self.limit - margin - 1)
        for spent in self.spent:
            if needed <= 0:
                break
            needed -= spent.units
            if needed <= 0:
                return max(spent.at + self.period + _CLOCK_SLACK_S - now, 0.0)
        return 0.0

    def forget(self) -> None:
        self.spent.clear()
        self.reliable = False

    def _expire(self, now: float) -> None:
        if self.period is not None:
            while self.spent and self.spent[0].at + self.period + _CLOCK_SLACK_S <= now:
                self.spent.popleft()


class PlentymarketsClient(ApiClient):
    """Client of one Plenty system. ``base_url`` is the host (``https://pNNNNN.my.plentysystems.com``);
    the client adds ``/rest``. Logs in lazily on the first call; renews the token (refresh if a refresh token
    was issued, else login) shortly before expiry and once after a 401. Paces itself by the
    ``X-Plenty-*`` headers, keeping ``rate_limit_margin`` calls of every budget in reserve."""

    system = "plentymarkets"

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | SecretStr,
        *,
        lang: str = "de",
        page_size: int = MAX_PAGE_SIZE,
        rate_limit_margin: int = 2,
        strict: bool = False,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_base_url(base_url)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        super().__init__(base_url, **options)
        self.username = username
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self.add_secret(self._password)
        self.lang = lang
        self.page_size = page_size
        self.rate_limit_margin = rate_limit_margin
        self.strict = strict
        self.invalid_records: list[InvalidRecord] = []
        self._access: SecretStr | None = None
        self._refresh: SecretStr | None = None
        self._renew_at = 0.0
        self._short: _Window | None = None
        self._long: _Window | None = None
        self._routes: dict[str, _Window] = {}
        self._own = _ShortWindow()
        self._sending = threading.local()  # when this thread's request left, after any pacing wait

    # --- authentication --------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        if self._access is None:
            self._login()
        elif self.clock() >= self._renew_at:
            self._renew()
        assert self._access is not None
        return {"Authorization": f"Bearer {self._access.get_secret_value()}"}

    def reauthenticate(self) -> None:
        self._renew()

    def _renew(self) -> None:
        if self._refresh is not None:
            try:
                self._refresh_token(self._refresh)
            except ApiError as exc:
                log.info("plentymarkets token refresh failed (%s); logging in again", exc.status)
                self._refresh = None
            else:
                return
        self._login()

    def _login(self) -> None:
        response = self.request(
            "POST",
            "/rest/login",
            json={"username": self.username, "password": self._password.get_secret_value()},
            authenticated=False,
        )
        self._store_token(response, "/rest/login")

    def _refresh_token(self, refresh: SecretStr) -> None:
        response = self.request(
            "POST",
            "/rest/login/refresh",
            data={"refresh_token": refresh.get_secret_value()},
            authenticated=False,
        )
        self._store_token(response, "/rest/login/refresh")

    def _store_token(self, response: httpx.Response, path: str) -> None:
        try:
            answer = _LoginAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            # The pydantic message would quote the body, which may hold tokens: name the fields only.
            fields = ", ".join(sorted({str(e["loc"][0]) if e["loc"] else "body" for e in exc.errors()}))
            raise AuthError(
                self.system, "POST", path, response.status_code, f"no usable token in the answer ({fields})"
            ) from None
        self.add_secret(answer.access_token)
        self.add_secret(answer.refresh_token)
        self._own.forget()  # a new token may count against a new budget
        self._access = answer.access_token
        if answer.refresh_token is not None:
            self._refresh = answer.refresh_token
        # Short test lifetimes would otherwise renew on every call.
        self._renew_at = self.clock() + answer.expires_in - min(_RENEW_BEFORE_S, answer.expires_in / 2)

    def logout(self) -> None:
        """End the session (Plenty limits concurrent sessions): ``POST /rest/logout``."""
        if self._access is None:
            return
        try:
            self.request("POST", "/rest/logout")
        finally:
            self._access = None
            self._refresh = None

    def close(self) -> None:
        try:
            self.logout()
        except ApiError as exc:
            log.warning("plentymarkets logout failed: %s", exc)
        finally:
            super().close()

    # --- pacing ----------------------------------------------------------------------------------------

    def after_response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            # The retry waits Retry-After (or the decay); older budgets are stale after that.
            self._short = self._long = None
            self._routes.pop(response.request.url.path, None)
            self._own.forget()
            return
        headers = response.headers
        now = self.clock()
        short = _window(headers, "X-Plenty-Global-Short-Period", now)
        limit = _header_float(headers, "X-Plenty-Global-Short-Period-Limit")
        decay = _header_float(headers, "X-Plenty-Global-Short-Period-Decay")
        if short is not None and limit is not None and decay is not None:
            path = response.request.url.path
            sent = getattr(self._sending, "at", now)
            self._own.answered(path, min(sent, now), now, int(limit), short.calls_left, decay)
        self._short = short or self._short
        self._long = _window(headers, "X-Plenty-Global-Long-Period", now) or self._long
        route = _window(headers, "X-Plenty-Route", now)
        if route is not None:
            self._routes[response.request.url.path] = route

    def before_request(self, method: str, path: str) -> None:
        now = self.clock()
        delays = [
            w.resets_at - now
            for w in (self._long, self._routes.get(path))
            if w is not None and w.calls_left <= self.rate_limit_margin
        ]
        short = self._short
        if short is not None and short.calls_left <= self.rate_limit_margin:
            exact = self._own.wait_for_room(now, self.rate_limit_margin)
            delays.append(short.resets_at - now if exact is None else min(exact, short.resets_at - now))
        delay = max(delays, default=0.0)
        if delay <= 0:
            self._sending.at = now
            return
        if delay > self.retry.max_retry_after_s:
            raise RateLimitedError(
                self.system, method, path, None, f"rate-limit budget spent for {delay:.0f}s, above the limit"
            )
        log.info("plentymarkets budget nearly spent; pausing %.1fs before %s %s", delay, method, path)
        self.wait(delay, rate_limit=True)
        self._short = self._long = None
        self._routes.pop(path, None)
        self._sending.at = self.clock()

    def retry_delay(self, response: httpx.Response) -> float | None:
        retry_after = super().retry_delay(response)
        if retry_after is not None or response.status_code != 429:
            return retry_after
        return _header_float(response.headers, "X-Plenty-Global-Short-Period-Decay")

    def describe_error(self, response: httpx.Response) -> str:
        try:
            body = _ErrorBody.model_validate_json(response.content)
        except ValidationError:
            return super().describe_error(response)
        detail = body.error if isinstance(body.error, _ErrorDetail) else None
        message = (detail.message if detail else None) or (
            body.error if isinstance(body.error, str) else body.message
        )
        if not message:
            return super().describe_error(response)
        validation = (detail.validation_errors if detail else None) or body.validation_errors
        if validation:
            message = f"{message}; validation errors: {str(validation)[:300]}"
        return message

    # --- reading -----------------------------------------------------------------------------------------

    def _paged(self, path: str, params: Params, model: type[ModelT]) -> Iterator[ModelT]:
        """Page through an envelope: stop on ``isLastPage``/``lastPageNumber`` (never on a short page, as
        some endpoints cap ``itemsPerPage``), or when Plenty answers another page than the one asked for
        (out of range). A bare array is taken as the complete list."""
        page = 1
        while True:
            response = self.request(
                "GET", path, params={**params, "page": page, "itemsPerPage": self.page_size}
            )
            typed = _typed_page(model, response.content)
            if typed is not None:
                # Fast path: the whole page validated in pydantic-core straight from the bytes.
                if typed.page is not None and typed.page != page:
                    return
                yield from typed.entries
                if _is_last(typed, page):
                    return
                page += 1
                continue
            body = decode_json(response, self.system)
            if isinstance(body, list):
                yield from self._validated(body, model, path, page)
                return
            try:
                envelope = _PageEnvelope.model_validate(body)
            except ValidationError as exc:
                raise ApiError(
                    self.system, "GET", path, 200, f"page {page} is not a page envelope: {_fields(exc)}"
                ) from None
            if envelope.page is not None and envelope.page != page:
                return
            yield from self._validated(envelope.entries, model, path, page)
            if _is_last(envelope, page):
                return
            page += 1

    def _list(self, path: str, model: type[ModelT]) -> list[ModelT]:
        """A bare-array endpoint; a page envelope is accepted too (and paged through)."""
        body = self.get_json(path)
        if isinstance(body, list):
            return list(self._validated(body, model, path, 1))
        return list(self._paged(path, {}, model))

    def _validated(
        self, records: Iterable[object], model: type[ModelT], path: str, page: int
    ) -> Iterator[ModelT]:
        for index, record in enumerate(records):
            try:
                yield model.model_validate(record)
            except ValidationError as exc:
                invalid = InvalidRecord(
                    endpoint=path,
                    page=page,
                    index=index,
                    record_id=_record_id(record),
                    item_id=_item_id(record),
                    errors=[
                        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
                    ],
                )
                if self.strict:
                    raise InvalidRecordError(self.system, "GET", path, None, invalid.describe()) from None
                log.warning("plentymarkets skipped an invalid record: %s", invalid.describe())
                self.invalid_records.append(invalid)

    def _lang(self, lang: str | Sequence[str] | None) -> str:
        if lang is None:
            return self.lang
        return lang if isinstance(lang, str) else ",".join(lang)

    def iter_items(
        self,
        *,
        with_: Sequence[ItemRelation] = (),
        lang: str | Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
        updated_between: Between | None = None,
        variation_updated_between: Between | None = None,
        variation_related_updated_between: Between | None = None,
        manufacturer_id: int | None = None,
        model: type[ItemT] = Item,  # type: ignore[assignment]
    ) -> Iterator[ItemT]:
        """``GET /rest/items``. This endpoint ignores unknown filter names (a typo returns everything), so
        only these typed filters are offered."""
        params: Params = {"lang": self._lang(lang)}
        if with_:
            params["with"] = ",".join(with_)
        _put_between(params, "updatedBetween", updated_between)
        _put_between(params, "variationUpdatedBetween", variation_updated_between)
        _put_between(params, "variationRelatedUpdatedBetween", variation_related_updated_between)
        if manufacturer_id is not None:
            params["manufacturerId"] = manufacturer_id
        for chunk_params in _id_chunks(params, ("id", ids)):
            yield from self._paged(ITEMS_PATH, chunk_params, model)

    def iter_variations(
        self,
        *,
        with_: Sequence[VariationRelation] = DEFAULT_VARIATION_RELATIONS,
        lang: str | Sequence[str] | None = None,
        updated_between: Between | None = None,
        related_updated_between: Between | None = None,
        item_ids: Sequence[int] | None = None,
        ids: Sequence[int] | None = None,
        plenty_id: int | Sequence[int] | None = None,
        is_active: bool | None = None,
        model: type[VariationT] = Variation,  # type: ignore[assignment]
    ) -> Iterator[VariationT]:
        """``GET /rest/items/variations``. ``related_updated_between`` catches price, category, client,
        barcode and image changes, not stock (use :meth:`iter_stock`). An empty ``ids``/``item_ids`` list
        yields nothing (Plenty would ignore the filter)."""
        params: Params = {"lang": self._lang(lang)}
        if with_:
            params["with"] = ",".join(with_)
        _put_between(params, "updatedBetween", updated_between)
        _put_between(params, "relatedUpdatedBetween", related_updated_between)
        if plenty_id is not None:
            params["plentyId"] = _comma([plenty_id] if isinstance(plenty_id, int) else plenty_id)
        if is_active is not None:
            params["isActive"] = "true" if is_active else "false"
        for chunk_params in _id_chunks(params, ("id", ids), ("itemId", item_ids)):
            yield from self._paged(VARIATIONS_PATH, chunk_params, model)

    def iter_categories(
        self,
        *,
        updated_at: datetime | None = None,
        lang: str | Sequence[str] | None = None,
        type_: str | None = "item",
        plenty_id: int | None = None,
    ) -> Iterator[Category]:
        """``GET /rest/categories?with=details,clients``; ``updated_at`` = changed after that time."""
        params: Params = {"with": "details,clients", "lang": self._lang(lang)}
        if type_ is not None:
            params["type"] = type_
        if plenty_id is not None:
            params["plentyId"] = plenty_id
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/categories", params, Category)

    def iter_attributes(self, *, updated_at: datetime | None = None) -> Iterator[Attribute]:
        params: Params = {"with": "names,values.valueNames"}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/attributes", params, Attribute)

    def iter_sales_prices(self, *, updated_at: datetime | None = None) -> Iterator[SalesPrice]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/sales_prices", params, SalesPrice)

    def iter_variation_sales_prices(
        self,
        *,
        updated_at: datetime | None = None,
        variation_id: int | None = None,
        sales_price_id: int | None = None,
    ) -> Iterator[VariationSalesPrice]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        if variation_id is not None:
            params["variationId"] = variation_id
        if sales_price_id is not None:
            params["salesPriceId"] = sales_price_id
        yield from self._paged("/rest/items/variations/variation_sales_prices", params, VariationSalesPrice)

    def iter_manufacturers(self, *, updated_at: datetime | None = None) -> Iterator[Manufacturer]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/manufacturers", params, Manufacturer)

    def iter_units(self, *, updated_at: datetime | None = None) -> Iterator[Unit]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/units", params, Unit)

    def iter_barcodes(self, *, updated_at: datetime | None = None) -> Iterator[BarcodeType]:
        params: Params = {}
        _put_date(params, "updatedAt", updated_at)
        yield from self._paged("/rest/items/barcodes", params, BarcodeType)

    def iter_stock(
        self,
        updated_from: datetime,
        updated_to: datetime,
        *,
        variation_id: int | None = None,
    ) -> Iterator[StockEntry]:
        """``GET /rest/stockmanagement/stock?updatedAtFrom=&updatedAtTo=``: rows changed in the window."""
        params: Params = {}
        _put_date(params, "updatedAtFrom", updated_from)
        _put_date(params, "updatedAtTo", updated_to)
        if variation_id is not None:
            params["variationId"] = variation_id
        yield from self._paged("/rest/stockmanagement/stock", params, StockEntry)

    def warehouses(self) -> list[Warehouse]:
        return self._list("/rest/stockmanagement/warehouses", Warehouse)

    def webstores(self) -> list[Webstore]:
        return self._list("/rest/webstores", Webstore)

    def vat_standard(self) -> VatStandard:
        path = "/rest/vat/standard"
        try:
            return VatStandard.model_validate(self.get_json(path))
        except ValidationError as exc:
            raise ApiError(self.system, "GET", path, 200, f"unexpected answer: {_fields(exc)}") from None


# --- helpers ----------------------------------------------------------------------------------------------


class _TypedPage(_PageEnvelope, Generic[ModelT]):
    entries: list[ModelT]  # type: ignore[assignment]


_page_adapters: dict[type[BaseModel], TypeAdapter[_TypedPage[Any]]] = {}


def _typed_page(model: type[ModelT], content: bytes) -> _TypedPage[ModelT] | None:
    """The page validated whole, or None when any part is off (then records are validated one by one, so a
    bad record is reported and skipped instead of failing the page)."""
    adapter = _page_adapters.get(model)
    if adapter is None:
        adapter = _page_adapters[model] = TypeAdapter(_TypedPage[model])  # type: ignore[valid-type]
    try:
        return adapter.validate_json(content)
    except ValidationError:
        return None


def _is_last(envelope: _PageEnvelope, page: int) -> bool:
    if envelope.is_last_page or not envelope.entries:
        return True
    return envelope.last_page_number is not None and page >= envelope.last_page_number


def _check_base_url(base_url: str) -> None:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http(s) URL of the Plenty host")
    if url.userinfo:
        raise ValueError("base_url must not carry credentials")
    if "rest" in url.path.strip("/").split("/"):
        raise ValueError(f"base_url must not contain /rest, the client adds it: {url.host}{url.path}")


def w3c(value: datetime) -> str:
    """ISO-8601 with an explicit offset, e.g. ``2019-02-22T10:46:08+00:00`` (httpx encodes ``+``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no UTC offset; Plenty needs an explicit one")
    return value.isoformat(timespec="seconds")


def _put_date(params: Params, name: str, value: datetime | None) -> None:
    if value is not None:
        params[name] = w3c(value)


def _put_between(params: Params, name: str, between: Between | None) -> None:
    if between is None:
        return
    start, end = between
    params[name] = w3c(start) if end is None else f"{w3c(start)},{w3c(end)}"


def _comma(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


def _id_chunks(params: Params, *filters: tuple[str, Sequence[int] | None]) -> Iterator[Params]:
    """``params`` once per combination of id chunks; nothing at all when a given id list is empty."""
    given = [(name, ids) for name, ids in filters if ids is not None]
    chunked = [
        [(name, _comma(ids[i : i + ID_CHUNK])) for i in range(0, len(ids), ID_CHUNK)] for name, ids in given
    ]
    for combination in itertools.product(*chunked):
        yield {**params, **dict(combination)}


def _header_float(headers: httpx.Headers, name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def _window(headers: httpx.Headers, prefix: str, now: float) -> _Window | None:
    calls_left = _header_float(headers, f"{prefix}-Calls-Left")
    decay = _header_float(headers, f"{prefix}-Decay")
    if calls_left is None or decay is None:
        return None
    return _Window(calls_left=int(calls_left), resets_at=now + max(decay, 0.0))


def _record_id(record: object) -> str | None:
    if isinstance(record, dict):
        for key in ("id", "variationId"):
            if record.get(key) is not None:
                return str(record[key])
    return None


def _item_id(record: object) -> int | None:
    value = record.get("itemId") if isinstance(record, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _fields(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
