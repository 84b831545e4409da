"""Netsis NetOpenX REST client (``/api/v2``), built from ``contracts/logo_netsis.md`` §2.

Every Netsis token holds a licence seat until it is revoked or expires (about 20 minutes), and a second
login of the same user is refused while the seat is held. So the clients of one tenant in a process share
one session (keyed by server, user, database and branch): one login at a time, renewal by revoking the old
token before logging in again, and the token revoked when the last client sharing it closes. A refused login
raises :class:`NetsisSeatBusyError` (transient: the seat frees when the other session ends).

Netsis answers business errors with HTTP 200 and ``IsSuccessful: false``; they raise
:class:`NetsisBusinessError` naming the document, and a repeated document number
:class:`NetsisDuplicateDocumentError`. Lists page with ``offset``/``limit`` and are streamed; stock per
warehouse and price groups come from the SQL route (``Queries`` or, where that is missing, ``Query``).

    with NetsisClient(url, "NETSIS", password, dbname="ENTEGRE9", dbpassword=db_password) as client:
        for row in client.stock_balances(warehouse=10):
            ...
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar, Unpack
from urllib.parse import quote

import httpx
from pydantic import BaseModel, JsonValue, SecretStr, ValidationError

from connector_pipelines import errors
from connector_pipelines.clients.http import ApiClient, ApiError, AuthError, ClientOptions
from connector_pipelines.clients.netsis_models import (
    NetsisArp,
    NetsisArpInput,
    NetsisErrorBody,
    NetsisItem,
    NetsisList,
    NetsisOne,
    NetsisPriceRow,
    NetsisResult,
    NetsisSlip,
    NetsisSlipInput,
    NetsisStockRow,
    NetsisToken,
)
from connector_pipelines.clients.pacing import Pacer

__all__ = [
    "NetsisArp",
    "NetsisArpInput",
    "NetsisBusinessError",
    "NetsisClient",
    "NetsisDuplicateDocumentError",
    "NetsisItem",
    "NetsisPriceRow",
    "NetsisSeatBusyError",
    "NetsisSlip",
    "NetsisSlipInput",
    "NetsisStockRow",
]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
SEAT_TAKEN = "SsoMaxUserCountExceeded"
DOC_TYPE_NAMES = {0: "ftSFat", 1: "ftAFat", 2: "ftSIrs", 3: "ftAIrs", 6: "ftASip", 7: "ftSSip"}
_DUPLICATE = "Daha önceden kaydedilmiş"  # "…Nolu Evrak Daha önceden kaydedilmiş": already saved
_ERROR_EXCERPT = 300

log = logging.getLogger(__name__)


class NetsisBusinessError(ApiError, errors.PermanentError):
    """``IsSuccessful: false`` (HTTP 200): Netsis refused the request or document. ``document`` names it."""

    system: str

    def __init__(
        self, method: str, path: str, code: str, desc: str, *, document: str | None = None, body: bytes = b""
    ) -> None:
        self.code = code
        self.desc = desc
        self.document = document
        what = f"Netsis refused {document}" if document else "Netsis refused the request"
        super().__init__(NetsisClient.system, method, path, 200, f"{what}: [{code}] {desc}", body=body)


class NetsisDuplicateDocumentError(NetsisBusinessError):
    """The document number is already saved: for an order sent with its own number, it is already there."""


class NetsisSeatBusyError(ApiError, errors.TransientError):
    """The login was refused: the user's licence seat is held by another session."""

    system: str


@dataclass
class _Session:
    """One login shared by the clients of a tenant in this process (one seat)."""

    clock: Callable[[], float]
    lock: threading.RLock = field(default_factory=threading.RLock)
    token: SecretStr | None = None
    renew_at: float = 0.0
    users: int = 0


_SESSIONS: dict[tuple[str, ...], _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _first_line(text: str) -> str:
    # ErrorDesc can run over several lines (SQL, stack); the first one says what happened.
    return text.split("\r", 1)[0].split("\n", 1)[0].strip() or text.strip()


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class NetsisClient(ApiClient):
    """Client of one Netsis company database through NetOpenX REST."""

    system = "netsis"

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | SecretStr,
        *,
        dbname: str,
        dbuser: str = "TEMELSET",
        dbpassword: str | SecretStr = "",
        branch_code: int = 0,
        dbtype: int | None = None,
        api_path: str = "/api/v2",
        page_size: int = 500,
        sql_page_size: int = 5000,
        requests_per_second: int | None = None,
        renew_before_s: float = 60.0,
        login_attempts: int = 3,
        login_retry_s: float = 2.0,
        **options: Unpack[ClientOptions],
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.userinfo:
            raise ValueError("base_url must be an http(s) URL without credentials")
        if page_size < 1 or sql_page_size < 1 or login_attempts < 1:
            raise ValueError("page sizes and login_attempts must be positive")
        if requests_per_second is not None and requests_per_second < 1:
            raise ValueError("requests_per_second must be positive")
        super().__init__(base_url, **options)
        self.api = api_path.rstrip("/")
        self.page_size = page_size
        self.sql_page_size = sql_page_size
        self.renew_before_s = renew_before_s
        self.login_attempts = login_attempts
        self.login_retry_s = login_retry_s
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._dbpassword = dbpassword if isinstance(dbpassword, SecretStr) else SecretStr(dbpassword)
        self.add_secret(self._password)
        self.add_secret(self._dbpassword)
        # dbtype is left out unless given: one live server version crashed on it (contract 2.1).
        self._login: dict[str, str] = {
            "grant_type": "password",
            "branchcode": str(branch_code),
            "username": username,
            "dbname": dbname,
            "dbuser": dbuser,
        }
        if dbtype is not None:
            self._login["dbtype"] = str(dbtype)
        self._query_path = f"{self.api}/Queries"
        self._used = threading.local()
        self._pacer = (
            Pacer([(requests_per_second, 1.0)], self.clock, self._sleep) if requests_per_second else None
        )
        self._key = (self.base_url, self.api, username, dbname, dbuser, str(branch_code))
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(self._key)
            if session is None:
                session = _SESSIONS[self._key] = _Session(self.clock)
            session.users += 1
        self._session: _Session | None = session

    # --- session -----------------------------------------------------------------------------------------

    @property
    def _token_path(self) -> str:
        return f"{self.api}/token"

    def _shared(self) -> _Session:
        if self._session is None:
            raise RuntimeError("NetsisClient is closed")
        return self._session

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
        session = self._shared()
        with session.lock:
            current = session.token.get_secret_value() if session.token is not None else None
            if current is not None and current != getattr(self._used, "token", None):
                return  # another client or thread already logged in again
            # The server refused the token (expired or revoked): it holds no seat any more.
            session.token = None
            self._log_in(session)

    def _ensure_token(self) -> str:
        session = self._shared()
        with session.lock:
            if session.token is None:
                self._log_in(session)
            elif session.clock() >= session.renew_at:
                # Renewing is a new login: the old token must give its seat back first.
                self._revoke(session.token)
                session.token = None
                self._log_in(session)
            assert session.token is not None
            return session.token.get_secret_value()

    def _log_in(self, session: _Session) -> None:
        form = {
            **self._login,
            "password": self._password.get_secret_value(),
            "dbpassword": self._dbpassword.get_secret_value(),
        }
        for attempt in range(1, self.login_attempts + 1):
            started = session.clock()
            try:
                response = self.request("POST", self._token_path, data=form, authenticated=False)
            except NetsisSeatBusyError:
                if attempt == self.login_attempts:
                    raise
                log.warning("netsis: login refused (seat taken), attempt %d; waiting", attempt)
                self.wait(self.login_retry_s * attempt, rate_limit=False)
                continue
            try:
                token = NetsisToken.model_validate_json(response.content)
            except ValidationError:
                raise AuthError(
                    self.system, "POST", self._token_path, 200, "token answer has no access_token"
                ) from None
            secret = SecretStr(token.access_token)
            self.add_secret(secret)
            session.token = secret
            lifetime = token.expires_in if token.expires_in and token.expires_in > 0 else 1200.0
            session.renew_at = started + lifetime - min(self.renew_before_s, lifetime / 4)
            return

    def _revoke(self, token: SecretStr) -> None:
        # Best effort: a token that cannot be revoked frees its seat when it expires.
        with contextlib.suppress(httpx.HTTPError):
            self._http.get(
                f"{self.api}/revoke", headers={"Authorization": f"Bearer {token.get_secret_value()}"}
            )

    def close(self) -> None:
        """Leave the shared session; the last client to leave revokes the token (frees the seat)."""
        session, self._session = self._session, None
        if session is not None:
            with _SESSIONS_LOCK:
                session.users -= 1
                last = session.users == 0
                if last and _SESSIONS.get(self._key) is session:
                    del _SESSIONS[self._key]
            if last:
                with session.lock:
                    token, session.token = session.token, None
                if token is not None:
                    self._revoke(token)
        super().close()

    # --- errors ------------------------------------------------------------------------------------------

    def describe_error(self, response: httpx.Response) -> str:
        try:
            body = NetsisErrorBody.model_validate_json(response.content)
        except ValidationError:
            return super().describe_error(response)
        if body.error:
            text = (
                f"{body.error}: {_first_line(body.error_description)}"
                if body.error_description
                else body.error
            )
        elif body.error_desc or body.message:
            text = _first_line(body.error_desc or body.message or "")
        else:
            return super().describe_error(response)
        return " ".join(text.split())[:_ERROR_EXCERPT]

    def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
        status = response.status_code
        if path == self._token_path:
            if status == 401 or SEAT_TAKEN.encode() in response.content:
                return NetsisSeatBusyError(
                    self.system,
                    method,
                    path,
                    status,
                    "login refused: the user's licence seat is held by another session; it is freed when "
                    f"that session logs out (GET {self.api}/revoke) or its token expires (~20 min): {detail}",
                )
            if status in (400, 403):
                return AuthError(
                    self.system,
                    method,
                    path,
                    status,
                    f"Netsis refused the login (user, password, database): {detail}",
                )
        return super().make_error(method, path, response, detail)

    def _result(
        self, method: str, path: str, response: httpx.Response, model: type[M], *, document: str | None = None
    ) -> M:
        """The answer as ``model`` after checking ``IsSuccessful`` (business errors come with HTTP 200)."""
        if response.content.strip() in (b"", b"null"):
            raise NetsisBusinessError(method, path, "", "empty answer: not saved", document=document)
        try:
            result = NetsisResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(self.system, method, path, response.status_code, _fields(exc)) from None
        if not result.is_successful:
            code, desc = str(result.error_code or ""), _first_line(self.redact(result.error_desc or ""))
            error = NetsisDuplicateDocumentError if _DUPLICATE in desc else NetsisBusinessError
            raise error(method, path, code, desc, document=document, body=self.redact_bytes(response.content))
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(self.system, method, path, response.status_code, _fields(exc)) from None

    # --- public ------------------------------------------------------------------------------------------

    def version(self) -> str:
        path = f"{self.api}/public/Version"
        answer = self._result("GET", path, self.request("GET", path, authenticated=False), NetsisOne[str])
        return answer.data or ""

    # --- lists -------------------------------------------------------------------------------------------

    def items(self, *, q: str | None = None, page_size: int | None = None) -> Iterator[NetsisItem]:
        """Stock cards (``/Items``), page by page; ``q`` is an SQL WHERE fragment."""
        return self._pages(f"{self.api}/Items", NetsisList[NetsisItem], q=q, page_size=page_size)

    def find_arp(self, code: str) -> NetsisArp | None:
        """The customer account ``CARI_KOD = code``, if any (the form a live client verified)."""
        q = f"CARI_KOD={_sql_text(code)}"
        found = self._pages(f"{self.api}/ARPs", NetsisList[NetsisArp], q=q, page_size=1, max_pages=1)
        return next((arp for arp in found if arp.code == code.strip()), None)

    def create_arp(self, arp: NetsisArpInput) -> NetsisArp:
        path = f"{self.api}/ARPs"
        response = self.request("POST", path, json=arp.to_body())
        answer = self._result("POST", path, response, NetsisOne[NetsisArp], document=f"customer {arp.code!r}")
        return answer.data or NetsisArp(code=arp.code, name=arp.name)

    def item_slips(self, doc_type: int, *, q: str | None = None) -> Iterator[NetsisSlip]:
        """Item slips of one type (``ItemSlips?docType=``), page by page."""
        path = f"{self.api}/ItemSlips"
        extra = {"docType": DOC_TYPE_NAMES[doc_type]}
        return self._pages(path, NetsisList[NetsisSlip], q=q, extra=extra, sort="KAYITTARIHI ASC")

    def _pages(
        self,
        path: str,
        model: type[NetsisList[R]],
        *,
        q: str | None = None,
        page_size: int | None = None,
        extra: Mapping[str, str] | None = None,
        sort: str | None = None,
        max_pages: int | None = None,
    ) -> Iterator[R]:
        size = page_size or self.page_size
        offset = pages = 0
        while max_pages is None or pages < max_pages:
            params: dict[str, str | int] = {**(extra or {}), "offset": offset, "limit": size}
            if q:
                params["q"] = q
            if sort:
                params["sort"] = sort
            page = self._result("GET", path, self.request("GET", path, params=params), model)
            rows = page.data or []
            yield from rows
            pages += 1
            offset += len(rows)
            effective = page.limit or size
            if len(rows) < effective or (page.total_count is not None and offset >= page.total_count):
                return  # a short page ends the list (the rule live clients use)

    # --- slips -------------------------------------------------------------------------------------------

    def get_item_slip(self, doc_type: int, number: str, customer_code: str = "") -> NetsisSlip | None:
        """``GET /ItemSlips/{type};{no};{cari}``; None when Netsis has no such document.

        Netsis answers an unknown key with ``IsSuccessful: false`` (or 404); any refusal here reads as
        "not there", which is safe for orders: posting the same number again is refused as a duplicate."""
        key = ";".join(quote(part, safe="") for part in (DOC_TYPE_NAMES[doc_type], number, customer_code))
        path = f"{self.api}/ItemSlips/{key}"
        response = self.request("GET", path, ok_statuses=frozenset({404}))
        if response.status_code == 404:
            return None
        try:
            return self._result("GET", path, response, NetsisOne[NetsisSlip]).data
        except NetsisBusinessError:
            return None

    def create_item_slip(self, slip: NetsisSlipInput) -> NetsisSlip:
        """Post a slip with its own number; the saved slip (read back when the answer has no Data)."""
        path = f"{self.api}/ItemSlips"
        document = f"{DOC_TYPE_NAMES.get(slip.doc_type, slip.doc_type)} {slip.number!r}"
        response = self.request("POST", path, json=slip.to_body())
        answer = self._result("POST", path, response, NetsisOne[NetsisSlip], document=document)
        if answer.data is not None:
            return answer.data
        saved = self.get_item_slip(slip.doc_type, slip.number)
        if saved is None:
            raise ApiError(self.system, "GET", path, 200, f"{document} accepted, then not found")
        return saved

    # --- SQL ---------------------------------------------------------------------------------------------

    def query(self, sql: str) -> list[dict[str, JsonValue]]:
        """Rows of one SELECT through ``GET /Queries?tsql=`` (``/Query`` on installations without it)."""
        return self._query_rows(sql, NetsisList[dict[str, JsonValue]])

    def _query_rows(self, sql: str, model: type[NetsisList[R]]) -> list[R]:
        response = self.request("GET", self._query_path, params={"tsql": sql}, ok_statuses=frozenset({404}))
        if response.status_code == 404 and self._query_path.endswith("/Queries"):
            self._query_path = f"{self.api}/Query"
            response = self.request("GET", self._query_path, params={"tsql": sql})
        elif response.status_code == 404:
            raise ApiError(self.system, "GET", self._query_path, 404, "neither Queries nor Query is served")
        return self._result("GET", self._query_path, response, model, document="the SQL query").data or []

    def stock_balances(self, warehouse: int) -> Iterator[NetsisStockRow]:
        """Balance (receipts - issues) per stock code in one warehouse (``DEPO_KODU``; 0 = the total), in
        keyset pages by code. TBLSTOKPH has no change date: every read is complete."""
        after = ""
        while True:
            sql = (
                f"SELECT TOP {self.sql_page_size} STOK_KODU, (TOP_GIRIS_MIK - TOP_CIKIS_MIK) AS BAKIYE "
                f"FROM TBLSTOKPH WITH (NOLOCK) WHERE DEPO_KODU = {int(warehouse)} "
                f"AND STOK_KODU > {_sql_text(after)} ORDER BY STOK_KODU"
            )
            rows = self._query_rows(sql, NetsisList[NetsisStockRow])
            if not rows:
                return
            yield from rows
            after = rows[-1].raw_code

    def price_rows(self, group: str, *, changed_since: date | None = None) -> list[NetsisPriceRow]:
        """Sales prices (``A_S = 'S'``) of one price group, in one query (rows of a code must be seen
        together to choose among them). ``changed_since`` filters on DUZELTMETARIHI (UNVERIFIED column)."""
        delta = f" AND DUZELTMETARIHI >= '{changed_since:%Y-%m-%d}'" if changed_since is not None else ""
        sql = (
            "SELECT STOKKODU, FIYAT1, FIYATDOVIZTIPI, BASTAR, BITTAR FROM TBLSTOKFIAT WITH (NOLOCK) "
            f"WHERE A_S = 'S' AND FIYATGRUBU = {_sql_text(group)}{delta} ORDER BY STOKKODU"
        )
        return self._query_rows(sql, NetsisList[NetsisPriceRow])


def _fields(exc: ValidationError) -> str:
    return "unexpected answer: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
