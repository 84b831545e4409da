"""Every error answer of the service is ``{code, message, request_id}``; every answer carries its request id
(``X-Request-Id``, taken from the caller when it is a plain token, else made up)."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector_pipelines.redaction import redact

log = logging.getLogger(__name__)

# Made-up ids: this process's random prefix and a counter (os.urandom per request would cost a system call).
_PREFIX = secrets.token_hex(6)
_NEXT = itertools.count(1)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    502: "upstream_error",
    503: "unavailable",
}


class Problem(BaseModel):
    code: str
    message: str
    request_id: str


class ApiError(Exception):
    """An answer other than success, with a message meant for the caller (never a secret)."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}


def request_id(scope: Scope) -> str:
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get("request_id")
    if isinstance(found, str):
        return found
    given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
    made = given if _REQUEST_ID_RE.fullmatch(given) else f"{_PREFIX}-{next(_NEXT)}"
    state["request_id"] = made
    return made


def problem_response(scope: Scope, status: int, message: str, code: str | None = None) -> Response:
    body = Problem(
        code=code or _CODES.get(status, "error"), message=redact(message), request_id=request_id(scope)
    )
    return Response(orjson.dumps(body.model_dump()), status_code=status, media_type="application/json")


class RequestIdMiddleware:
    """Gives each request its id and echoes it in the answer's headers (plain ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope).encode()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid)]
            await send(message)

        await self.app(scope, receive, sending)


def _validation_message(exc: RequestValidationError) -> str:
    # Locations and messages only: the input may hold credentials.
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or '(body)'}: {e.get('msg', 'invalid')}"
        for e in exc.errors()
    )


def install(app: FastAPI) -> None:
    """The exception handlers that turn every failure into a Problem."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        response = problem_response(request.scope, exc.status, exc.message, exc.code)
        response.headers.update(exc.headers)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = problem_response(request.scope, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(request.scope, 422, _validation_message(exc))

    async def unexpected(request: Request, exc: Exception) -> Response:
        rid = request_id(request.scope)
        log.error("request %s failed: %s", rid, redact(f"{type(exc).__name__}: {exc}"))
        return problem_response(request.scope, 500, "internal error", "internal_error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)
