"""Webflow's error answers: ``{"code", "message", "externalReference", "details"}`` (spec ``Error``; SDK
``webflow/types/error.py``). ``details`` entries are strings or ``{"field", "message"}`` objects."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

Detail = dict[str, str]

INVALID_ID = "Validation Error: Provided ID is invalid"
MALFORMED = "Bad Request: Request is malformed"


class WebflowError(Exception):
    """An error answer; raised anywhere in a handler, rendered by the route wrapper."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Detail] | list[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: list[Detail] | list[str] = details or []
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: list[Detail] | list[str] | None = None) -> bytes:
    return orjson.dumps(
        {"code": code, "message": message, "externalReference": None, "details": details or []}
    )


def not_found(what: str) -> WebflowError:
    return WebflowError(404, "resource_not_found", f"Requested resource not found: {what}")


def bad_request(message: str = MALFORMED) -> WebflowError:
    return WebflowError(400, "bad_request", message)


def invalid_id(field: str, value: object) -> WebflowError:
    return WebflowError(400, "validation_error", INVALID_ID, [{"field": field, "message": f"{value!r}"}])


def ecommerce_not_enabled() -> WebflowError:
    return WebflowError(409, "ecommerce_not_enabled", "Ecommerce is not yet initialized")


class Problems:
    """Collects every validation problem of one request, so that one answer names them all."""

    def __init__(self, duplicate_slug_status: int = 400) -> None:
        self.details: list[Detail] = []
        self._duplicates = 0
        self._duplicate_slug_status = duplicate_slug_status

    def add(self, field: str, message: str) -> None:
        self.details.append({"field": field, "message": message})

    def duplicate_slug(self, field: str, slug: str) -> None:
        self._duplicates += 1
        self.add(field, f"Unique value is already in database: '{slug}'")

    def __bool__(self) -> bool:
        return bool(self.details)

    def check(self) -> None:
        if not self.details:
            return
        if self._duplicate_slug_status == 409 and self._duplicates == len(self.details):
            raise WebflowError(409, "conflict", "Conflict: Resource already exists", self.details)
        first = self.details[0]
        more = f" (+{len(self.details) - 1} more)" if len(self.details) > 1 else ""
        raise WebflowError(
            400,
            "validation_error",
            f"Validation Error: {first['field']}: {first['message']}{more}",
            self.details,
        )
