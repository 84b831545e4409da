"""Logo Objects REST client (Tiger 3 / Tiger Wings, ``/api/v1``), built from ``contracts/logo_netsis.md`` §1.

Tokens come from the OWIN password grant (``POST /api/v1/token``, Basic client credentials, form body with
``firmno``) and live only about two minutes (``expires_in``, 119 s in the docs): the client renews a token
shortly before it runs out, after a 401 and after a 400 ``ModelState.LoginError``, and revokes it on
:meth:`close`. Lists page with ``offset``/``limit`` and are streamed; the server may cap a page, so the
client follows the ``limit`` the envelope reports. Stock per warehouse and price lists come from the SQL
query route (``GET /queries?tsql=``) with keyset paging; where an installation has it switched off, those
reads raise :class:`LogoSqlUnavailableError`. A refused document raises :class:`LogoRejectedError` naming it.

    client = LogoClient("https://erp.example:32001", "LOGO", password, firm=1, client_secret=secret)
    for row in client.stock_levels(warehouse=0):
        ...
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import TypeVar, Unpack

import httpx
from pydantic import BaseModel, JsonValue, SecretStr, ValidationError

from connector_pipelines import errors
from connector_pipelines.clients.http import ApiClient, ApiError, AuthError, ClientOptions, RetrySettings
from connector_pipelines.clients.logo_models import (
    LogoArp,
    LogoArpInput,
    LogoDispatch,
    LogoErrorBody,
    LogoItem,
    LogoPage,
    LogoPriceRow,
    LogoQueryResult,
    LogoSalesOrder,
    LogoSalesOrderInput,
    LogoStockRow,
    LogoToken,
)
from connector_pipelines.clients.pacing import Pacer

__all__ = [
    "LogoArp",
    "LogoArpInput",
    "LogoClient",
    "LogoDispatch",
    "LogoItem",
    "LogoPriceRow",
    "LogoRejectedError",
    "LogoSalesOrder",
    "LogoSalesOrderInput",
    "LogoSqlError",
    "LogoSqlUnavailableError",
    "LogoStockRow",
]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
K = TypeVar("K", LogoStockRow, LogoPriceRow)
SQL_REMEDY = (
    "switch on the SQL query service in the Logo REST settings ('SQL servis sorgu parametreleri', select "
    "only) and restart the service, or read stock and prices from CSV files (the generic CSV connector)"
)
_ERROR_EXCERPT = 300


class LogoRejectedError(ApiError, errors.PermanentError):
    """Logo refused a document or request (HTTP 400 with ModelState ``ValError{i}``/``LOError``); sending it
    again unchanged cannot help. ``document`` names it (``sales order DOC_NUMBER '#1001'``) when known."""

    system: str

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        detail: str,
        *,
        document: str | None = None,
        body: bytes = b"",
    ) -> None:
        self.document = document
        text = f"Logo refused {document}: {detail}" if document else detail
        super().__init__(LogoClient.system, method, path, status, text, body=body)


class LogoSqlUnavailableError(ApiError, errors.PermanentError):
    """The SQL query route is switched off or not permitted on this installation."""

    system: str

    def default_remedy(self) -> str:
        return SQL_REMEDY


class LogoSqlError(ApiError, errors.PermanentError):
    """The SQL server refused a query; ``number`` is SQL Server's error number (ModelState key)."""

    system: str

    def __init__(self, method: str, path: str, number: int, detail: str, *, body: bytes = b"") -> None:
        self.number = number
        super().__init__(LogoClient.system, method, path, 400, f"SQL error {number}: {detail}", body=body)


class _LoginExpired(ApiError):
    """400 with ModelState.LoginError: the session is gone; one new token and one repeat."""


def _sql_text(value: str) -> str:
    """A T-SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


class LogoClient(ApiClient):
    """Client of one Logo firm through its Logo Objects REST service."""

    system = "logo"

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | SecretStr,
        *,
        firm: int,
        period: int | None = None,
        client_id: str = "LOGO",
        client_secret: str | SecretStr = "",
        send_client_basic: bool = True,
        api_path: str = "/api/v1",
        page_size: int = 100,
        sql_page_size: int = 5000,
        requests_per_second: int | None = None,
        renew_before_s: float = 20.0,
        **options: Unpack[ClientOptions],
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.userinfo:
            raise ValueError("base_url must be an http(s) URL without credentials")
        if not 1 <= firm <= 999:
            raise ValueError("firm must be between 1 and 999")
        if page_size < 1 or sql_page_size < 1:
            raise ValueError("page sizes must be positive")
        if requests_per_second is not None and requests_per_second < 1:
            raise ValueError("requests_per_second must be positive")
        self._attempt = threading.local()
        super().__init__(base_url, **options)
        self.api = api_path.rstrip("/")
        self.firm = firm
        self.page_size = page_size
        self.sql_page_size = sql_page_size
        self.renew_before_s = renew_before_s
        self._period = period
        self._username = username
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._client_id = client_id
        self._client_secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        self._send_basic = send_client_basic
        self.add_secret(self._password)
        self.add_secret(self._client_secret)
        self._token: SecretStr | None = None
        self._renew_at = 0.0
        self._token_lock = threading.RLock()
        self._used = threading.local()
        self._stock_table: str | None = None
        # Logo runs on the customer's own server: the pace protects the ERP more than any quota.
        self._pacer = (
            Pacer([(requests_per_second, 1.0)], self.clock, self._sleep) if requests_per_second else None
        )

    # --- retries ---------------------------------------------------------------------------------------

    @property
    def retry(self) -> RetrySettings:
        single: RetrySettings | None = getattr(self._attempt, "settings", None)
        return single or self._retry

    @retry.setter
    def retry(self, value: RetrySettings) -> None:
        self._retry = value

    @contextlib.contextmanager
    def _single_attempt(self) -> Iterator[None]:
        """Requests of this thread are sent once: a POST whose answer was lost may have been saved, and
        only a lookup can tell (Logo has no idempotency key)."""
        self._attempt.settings = self._retry.model_copy(update={"max_attempts": 1})
        try:
            yield
        finally:
            self._attempt.settings = None

    # --- tokens ------------------------------------------------------------------------------------------

    @property
    def _token_path(self) -> str:
        return f"{self.api}/token"

    def before_request(self, method: str, path: str) -> None:
        if path != self._token_path:
            self._ensure_token()
        if self._pacer is not None:
            self.count_wait(self._pacer.acquire(), rate_limit=True)

    def after_response(self, response: httpx.Response) -> None:
        if self._pacer is not None:
            self._pacer.complete()

    def auth_headers(self) -> dict[str, str]:
        token = self._ensure_token()
        self._used.token = token
        return {"Authorization": f"Bearer {token}"}

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
        form = {
            "grant_type": "password",
            "username": self._username,
            "password": self._password.get_secret_value(),
            "firmno": str(self.firm),
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self._send_basic:
            pair = f"{self._client_id}:{self._client_secret.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        started = self.clock()
        response = self.request("POST", self._token_path, data=form, headers=headers, authenticated=False)
        try:
            token = LogoToken.model_validate_json(response.content)
        except ValidationError:
            raise AuthError(
                self.system, "POST", self._token_path, response.status_code, "no access_token"
            ) from None
        secret = SecretStr(token.access_token)
        self.add_secret(secret)
        self._token = secret
        # The lifetime is configurable per installation: always the answer's expires_in, never a constant.
        lifetime = token.expires_in if token.expires_in and token.expires_in > 0 else 119.0
        self._renew_at = started + lifetime - min(self.renew_before_s, lifetime / 4)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: JsonValue = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        ok_statuses: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        def send() -> httpx.Response:
            return super(LogoClient, self).request(
                method,
                path,
                params=params,
                json=json,
                content=content,
                data=data,
                headers=headers,
                authenticated=authenticated,
                ok_statuses=ok_statuses,
            )

        try:
            return send()
        except _LoginExpired:
            # Some versions answer a dead session with 400 ModelState.LoginError instead of 401.
            if not authenticated:
                raise
            self.reauthenticate()
            return send()

    def close(self) -> None:
        """Revoke the token (it may hold a login on the server) and close the connection pool."""
        with self._token_lock:
            token, self._token = self._token, None
        if token is not None:
            # Best effort: the token runs out within minutes anyway.
            with contextlib.suppress(httpx.HTTPError):
                self._http.get(
                    f"{self.api}/revoke", headers={"Authorization": f"Bearer {token.get_secret_value()}"}
                )
        super().close()

    # --- errors ------------------------------------------------------------------------------------------

    def describe_error(self, response: httpx.Response) -> str:
        try:
            body = LogoErrorBody.model_validate_json(response.content)
        except ValidationError:
            return super().describe_error(response)
        if body.model_state:
            text = "; ".join(f"{key.rstrip(':')}: {' '.join(msgs)}" for key, msgs in body.model_state.items())
        elif body.error:
            text = f"{body.error}: {body.error_description}" if body.error_description else body.error
        elif body.exception_message or body.message:
            text = " ".join(t for t in (body.message, body.exception_message) if t)
        else:
            return super().describe_error(response)
        return " ".join(text.split())[:_ERROR_EXCERPT]

    def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
        status = response.status_code
        body = self.redact_bytes(response.content)
        if path == self._token_path and status in (400, 401, 403):
            return AuthError(
                self.system,
                method,
                path,
                status,
                f"Logo refused the login (user, password, firm or client): {detail}",
            )
        state = _model_state(response)
        if status == 400 and "LoginError" in state:
            return _LoginExpired(self.system, method, path, status, detail, body=body)
        if path == f"{self.api}/queries":
            number = next((int(k) for k in state if k.isdigit()), None)
            if status == 400 and number is not None:
                return LogoSqlError(method, path, number, detail, body=body)
            if status in (400, 403, 404, 405):
                return LogoSqlUnavailableError(
                    self.system,
                    method,
                    path,
                    status,
                    f"the SQL query route is switched off or refused: {detail}",
                    body=body,
                )
        if status == 400:
            return LogoRejectedError(method, path, status, detail, body=body)
        return super().make_error(method, path, response, detail)

    # --- general -----------------------------------------------------------------------------------------

    def current_firm(self) -> int:
        return int(self._scalar(f"{self.api}/methods/CurrentFirm"))

    def active_period(self) -> int:
        if self._period is None:
            self._period = int(self._scalar(f"{self.api}/methods/ActivePeriod"))
        return self._period

    def _scalar(self, path: str) -> float:
        value = self.get_json(path)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ApiError(
                self.system, "GET", path, 200, f"expected a bare number, got {type(value).__name__}"
            )
        try:
            return float(value)
        except ValueError:
            raise ApiError(self.system, "GET", path, 200, f"expected a bare number, got {value!r}") from None

    # --- lists -------------------------------------------------------------------------------------------

    def items(self, *, q: str | None = None, page_size: int | None = None) -> Iterator[LogoItem]:
        """Item cards (``/items``), page by page. Logo's items carry no stock."""
        return self._pages("items", LogoItem, q=q, page_size=page_size)

    def find_arp(self, code: str) -> LogoArp | None:
        """The customer account with this CODE, if any."""
        found = list(self._pages("Arps", LogoArp, q=f"CODE eq {_sql_text(code)}", page_size=2, max_pages=1))
        return next((a for a in found if a.code == code), None)

    def create_arp(self, arp: LogoArpInput) -> LogoArp:
        path = f"{self.api}/Arps"
        try:
            response = self.request("POST", path, json=arp.to_body())
        except LogoRejectedError as exc:
            raise LogoRejectedError(
                "POST", path, exc.status, exc.detail, document=f"customer {arp.code!r}"
            ) from None
        return self._one("POST", path, response, LogoArp)

    def find_sales_orders(self, doc_number: str) -> list[LogoSalesOrder]:
        """Sales orders whose DOC_NUMBER is ``doc_number`` (the shop's order number), lines included."""
        q = f"DOC_NUMBER eq {_sql_text(doc_number)}"
        found = self._pages("salesOrders", LogoSalesOrder, q=q, expand=True)
        return [order for order in found if order.doc_number == doc_number]

    def get_sales_order(self, ref: int) -> LogoSalesOrder | None:
        path = f"{self.api}/salesOrders/{int(ref)}"
        response = self.request("GET", path, params={"expandLevel": "full"}, ok_statuses=frozenset({404}))
        if response.status_code == 404:
            return None
        return self._one("GET", path, response, LogoSalesOrder)

    def create_sales_order(self, order: LogoSalesOrderInput) -> LogoSalesOrder:
        """Post a sales order once (never repeated: a lost answer may hide a saved order; look it up with
        :meth:`find_sales_orders`), then read it back: the POST answer still says ``NUMBER "~"``."""
        path = f"{self.api}/salesOrders"
        document = f"sales order DOC_NUMBER {order.doc_number!r}"
        self._ensure_token()  # a token fetch may be retried; only the POST itself is sent once
        try:
            with self._single_attempt():
                response = self.request("POST", path, json=order.to_body())
        except LogoRejectedError as exc:
            raise LogoRejectedError(
                "POST", path, exc.status, exc.detail, document=document, body=exc.body
            ) from None
        echoed = self._one("POST", path, response, LogoSalesOrder)
        saved = self.get_sales_order(echoed.internal_reference)
        if saved is None:
            raise ApiError(
                self.system,
                "GET",
                path,
                404,
                f"{document} saved as {echoed.internal_reference}, then not found",
            )
        return saved

    def sales_dispatches(self, *, modified_since: date | None = None) -> Iterator[LogoDispatch]:
        """Sales dispatches with their lines, modified on or after ``modified_since`` (day granularity)."""
        q = f"DATE_MODIFIED gte '{modified_since:%d.%m.%Y}'" if modified_since is not None else None
        return self._pages("salesDispatches", LogoDispatch, q=q, expand=True)

    def _pages(
        self,
        resource: str,
        model: type[M],
        *,
        q: str | None = None,
        expand: bool = False,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[M]:
        path = f"{self.api}/{resource}"
        size = page_size or self.page_size
        offset = pages = 0
        while max_pages is None or pages < max_pages:
            params: dict[str, str | int] = {"offset": offset, "limit": size}
            if q:
                params["q"] = q
            if expand:
                params["expandLevel"] = "full"
            response = self.request("GET", path, params=params)
            page = _validated("GET", path, response, LogoPage)
            items = [_validated_item("GET", path, response, model, item) for item in page.items]
            yield from items
            pages += 1
            offset += len(items)
            # The server may cap the page below what was asked: its own limit (or a next link) decides.
            effective = page.limit or size
            if not items or (len(items) < effective and page.next is None):
                return
            if page.total_count is not None and offset >= page.total_count:
                return

    def _one(self, method: str, path: str, response: httpx.Response, model: type[M]) -> M:
        return _validated(method, path, response, model)

    # --- SQL ---------------------------------------------------------------------------------------------

    def query(self, sql: str) -> list[dict[str, JsonValue]]:
        """Rows of one SELECT through ``GET /queries?tsql=``."""
        return self._query_rows(sql, LogoQueryResult[dict[str, JsonValue]])

    def _query_rows(self, sql: str, model: type[LogoQueryResult[R]]) -> list[R]:
        path = f"{self.api}/queries"
        response = self.request("GET", path, params={"tsql": sql})
        return _validated("GET", path, response, model).items

    def sql_available(self) -> bool:
        """Whether the SQL query route answers (it is off by default on an installation)."""
        try:
            self.query(f"SELECT TOP 1 LOGICALREF FROM LG_{self.firm:03d}_ITEMS")
        except LogoSqlUnavailableError:
            return False
        return True

    def stock_levels(self, warehouse: int, *, changed_since: date | None = None) -> Iterator[LogoStockRow]:
        """On hand per item in one warehouse (``INVENNO``; -1 = all), summed over STINVTOT's daily rows.

        ``changed_since``: only items with stock movements on or after that day (STINVTOT.DATE_); a
        backdated movement is seen by the next full read."""
        table = self._stock_table_name()
        delta = ""
        if changed_since is not None:
            delta = (
                f" AND S.STOCKREF IN (SELECT STOCKREF FROM {table} WITH (NOLOCK) "
                f"WHERE INVENNO = {int(warehouse)} AND DATE_ >= '{changed_since:%Y-%m-%d}T00:00:00')"
            )
        items = f"LG_{self.firm:03d}_ITEMS"

        def page(after: int) -> str:
            return (
                f"SELECT TOP {self.sql_page_size} S.STOCKREF, I.CODE, SUM(S.ONHAND) AS ONHAND, "
                f"SUM(S.RESERVED) AS RESERVED FROM {table} S WITH (NOLOCK) "
                f"INNER JOIN {items} I WITH (NOLOCK) ON I.LOGICALREF = S.STOCKREF "
                f"WHERE S.INVENNO = {int(warehouse)} AND S.STOCKREF > {after}{delta} "
                "GROUP BY S.STOCKREF, I.CODE ORDER BY S.STOCKREF"
            )

        return self._keyset(page, LogoQueryResult[LogoStockRow])

    def price_rows(self, trading_group: str, *, changed_since: date | None = None) -> Iterator[LogoPriceRow]:
        """Active sales prices (PRCLIST, PTYPE 2) of one trading group, modified on or after the day."""
        delta = (
            f" AND P.CAPIBLOCK_MODIFIEDDATE >= '{changed_since:%Y-%m-%d}T00:00:00'" if changed_since else ""
        )
        prices, items = f"LG_{self.firm:03d}_PRCLIST", f"LG_{self.firm:03d}_ITEMS"

        def page(after: int) -> str:
            return (
                f"SELECT TOP {self.sql_page_size} P.LOGICALREF, I.CODE, P.PRICE, P.CURRENCY, P.INCVAT, "
                f"P.BEGDATE, P.ENDDATE FROM {prices} P WITH (NOLOCK) "
                f"INNER JOIN {items} I WITH (NOLOCK) ON I.LOGICALREF = P.CARDREF "
                f"WHERE P.PTYPE = 2 AND P.ACTIVE = 0 AND P.TRADINGGRP = {_sql_text(trading_group)} "
                f"AND P.LOGICALREF > {after}{delta} ORDER BY P.LOGICALREF"
            )

        return self._keyset(page, LogoQueryResult[LogoPriceRow])

    def _keyset(self, page: Callable[[int], str], model: type[LogoQueryResult[K]]) -> Iterator[K]:
        # Keyset pages until an empty one: whether the route caps a result below TOP n is not known, and
        # "fewer rows than asked" would then end the read early.
        after = 0
        while True:
            rows = self._query_rows(page(after), model)
            if not rows:
                return
            yield from rows
            after = rows[-1].key

    def _stock_table_name(self) -> str:
        """``LV_{firm}_{period}_STINVTOT`` where the view exists, else the ``LG_`` table (installations
        differ); found once per client."""
        if self._stock_table is None:
            suffix = f"{self.firm:03d}_{self.active_period():02d}_STINVTOT"
            for name in (f"LV_{suffix}", f"LG_{suffix}"):
                try:
                    self.query(f"SELECT TOP 1 STOCKREF FROM {name}")
                except LogoSqlError as exc:
                    if exc.number != 208:  # 208: invalid object name
                        raise
                    continue
                self._stock_table = name
                break
            else:
                raise LogoSqlError(
                    "GET", f"{self.api}/queries", 208, f"neither LV_{suffix} nor LG_{suffix} exists"
                )
        return self._stock_table


def _model_state(response: httpx.Response) -> Mapping[str, list[str]]:
    try:
        return LogoErrorBody.model_validate_json(response.content).model_state or {}
    except ValidationError:
        return {}


def _validated(method: str, path: str, response: httpx.Response, model: type[M]) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ApiError(LogoClient.system, method, path, response.status_code, _fields(exc)) from None


def _validated_item(method: str, path: str, response: httpx.Response, model: type[M], item: JsonValue) -> M:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise ApiError(LogoClient.system, method, path, response.status_code, _fields(exc)) from None


def _fields(exc: ValidationError) -> str:
    return "unexpected answer: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
