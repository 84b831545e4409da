"""Shopware's error documents: ``{"errors": [...]}`` in the shapes ``ErrorResponseFactory`` produces.

Three families exist on the wire: ``ShopwareHttpException`` (string ``code``, ``title`` = status text,
``meta.parameters``), plain Symfony/League exceptions (``code`` is the PHP int code as a string) and write
violations (Symfony constraint code, ``template``, ``source.pointer``).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import orjson

NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
INVALID_TYPE = "ba785a8c-82cb-4283-967c-3cf342181b40"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
MISSING_FIELD = "2fa2158c-2a7f-484b-98aa-975522539ff8"
WRITE_CONSTRAINT_VIOLATION = "FRAMEWORK__WRITE_CONSTRAINT_VIOLATION"
WRITE_PROTECTED = "FRAMEWORK__WRITE_PROTECTED"
MISSING_SYSTEM_TRANSLATION = "MISSING-SYSTEM-TRANSLATION"

ErrorDoc = dict[str, Any]
_PLACEHOLDER = re.compile(r"\{\{ ?(\w+) ?\}\}")


def status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unknown status"


class ShopwareError(Exception):
    """An error answer: status, the ``errors`` list, extra headers (``Retry-After``, ``WWW-Authenticate``)."""

    def __init__(self, status: int, errors: list[ErrorDoc], headers: dict[str, str] | None = None) -> None:
        super().__init__(errors[0].get("detail") if errors else status)
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> bytes:
        return orjson.dumps({"errors": self.errors})


def render_message(template: str, parameters: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), template)


def http_error(
    status: int,
    code: str,
    template: str,
    parameters: dict[str, Any] | None = None,
    pointer: str | None = None,
) -> ErrorDoc:
    """``ShopwareHttpException::getCommonErrorData``."""
    params = parameters or {}
    error: ErrorDoc = {
        "status": str(status),
        "code": code,
        "title": status_text(status),
        "detail": render_message(template, params),
        "meta": {"parameters": params},
    }
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return error


def plain_error(status: int, detail: str | None, code: str = "0", title: str | None = None) -> ErrorDoc:
    """``ErrorResponseFactory::convertExceptionToError`` for exceptions that are not Shopware's own."""
    return {"code": code, "status": str(status), "title": title or status_text(status), "detail": detail}


def fail(
    status: int,
    code: str,
    template: str,
    parameters: dict[str, Any] | None = None,
    pointer: str | None = None,
) -> ShopwareError:
    return ShopwareError(status, [http_error(status, code, template, parameters, pointer)])


def fail_plain(status: int, detail: str) -> ShopwareError:
    return ShopwareError(status, [plain_error(status, detail)])


def oauth_error(
    status: int, code: int, title: str, hint: str | None, headers: dict[str, str] | None = None
) -> ShopwareError:
    """League ``OAuthServerException``: ``title`` is the message, ``detail`` the hint."""
    return ShopwareError(status, [plain_error(status, hint, str(code), title)], headers)


def format_value(value: Any) -> str:
    """Symfony ``ConstraintValidator::formatValue`` as used in ``{{ value }}``."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "array"
    return "object"


def violation(
    pointer: str,
    detail: str,
    *,
    code: str | None = None,
    template: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> ErrorDoc:
    """One constraint violation as ``WriteConstraintViolationException::getErrors`` yields it."""
    return {
        "code": code or WRITE_CONSTRAINT_VIOLATION,
        "status": "400",
        "detail": detail,
        "template": template or detail,
        "meta": {"parameters": parameters or {}},
        "source": {"pointer": pointer},
    }


def not_blank(pointer: str, value: Any = None) -> ErrorDoc:
    return violation(
        pointer,
        "This value should not be blank.",
        code=NOT_BLANK,
        parameters={"{{ value }}": format_value(value)},
    )


def invalid_type(pointer: str, value: Any, type_name: str) -> ErrorDoc:
    return violation(
        pointer,
        f"This value should be of type {type_name}.",
        code=INVALID_TYPE,
        template="This value should be of type {{ type }}.",
        parameters={"{{ value }}": format_value(value), "{{ type }}": type_name},
    )


def too_long(pointer: str, value: str, limit: int) -> ErrorDoc:
    return violation(
        pointer,
        f"This value is too long. It should have {limit} characters or less.",
        code=TOO_LONG,
        template="This value is too long. It should have {{ limit }} character or less."
        "|This value is too long. It should have {{ limit }} characters or less.",
        parameters={"{{ value }}": format_value(value), "{{ limit }}": str(limit)},
    )


def invalid_uuid(pointer: str, value: Any) -> ErrorDoc:
    if not isinstance(value, str):
        return violation(pointer, "This value should be of type string.")
    return violation(
        pointer,
        f'The string "{value}" is not a valid uuid.',
        template='The string "{{ string }}" is not a valid uuid.',
        parameters={"{{ string }}": value},
    )


def missing_field(pointer: str, name: str) -> ErrorDoc:
    return violation(
        pointer,
        "This field is missing.",
        code=MISSING_FIELD,
        parameters={"{{ field }}": f'"{name}"'},
    )


def write_protected(pointer: str) -> ErrorDoc:
    return violation(
        pointer,
        'This field is write-protected. (Got: "user" scope and "system" is required)',
        code=WRITE_PROTECTED,
        template='This field is write-protected. (Got: "{{ scope }}" scope and "{{ required }}" is required)',
        parameters={"{{ scope }}": "user", "{{ required }}": "system"},
    )


def state_change_forbidden(pointer: str, value: Any) -> ErrorDoc:
    """``StateMachineStateFieldSerializer``: an existing entity's state changes only by a state transition."""
    template = (
        "Changing the state-machine-state of this entity is not allowed for scope {{ scope }}. "
        "Either change the state-machine-state via a state-transition or use a different scope."
    )
    return violation(
        pointer,
        template.replace("{{ scope }}", "user"),
        template=template,
        parameters={"{{ scope }}": "user", "{{ value }}": format_value(value)},
    )


def resource_not_found(entity: str, key: str) -> ShopwareError:
    return fail(
        404,
        "FRAMEWORK__RESOURCE_NOT_FOUND",
        "The {{ type }} resource with the following primary key was not found: {{ primaryKey }}",
        {"type": entity, "primaryKey": f"id({key})"},
    )


def route_not_found(method: str, url: str) -> ShopwareError:
    return fail_plain(404, f'No route found for "{method} {url}"')


def sql_error(status: int, code: str, message: str) -> ShopwareError:
    """A Doctrine driver exception surfacing unhandled (the DAL has no handler for most constraint errors)."""
    detail = f"An exception occurred while executing a query: {message}"
    return ShopwareError(status, [plain_error(status, detail, code)])
