"""Scalar inputs of the Shopify emulator's GraphQL: how each scalar reads a variable or literal value, the way
Shopify (graphql-ruby) accepts or rejects it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation

import orjson

_MONEY = re.compile(r"^-?\d+(\.\d+)?$")


class ScalarError(ValueError):
    pass


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ScalarError
    return value


def _int(value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not -(2**31) <= value < 2**31:
        raise ScalarError
    return value


def _float(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ScalarError
    return float(value)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ScalarError
    return value


def _id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ScalarError
    return str(value)


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ScalarError
    text = str(value).strip()
    if not _MONEY.match(text):
        raise ScalarError
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ScalarError from None


def _money(value: object) -> str:
    amount = _decimal(value)
    # Shopify answers "20.00" for 20 and "19.90" for 19.9: at least two decimals.
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return str(amount)


def _decimal_string(value: object) -> str:
    return str(_decimal(value))


def _unsigned_int64(value: object) -> int:
    if isinstance(value, bool):
        raise ScalarError
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < 2**64:
        raise ScalarError
    return value


def _datetime(value: object) -> str:
    text = _string(value)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ScalarError from None
    return text


def _url(value: object) -> str:
    text = _string(value)
    if any(c.isspace() for c in text):
        raise ScalarError
    return text


def any_value(value: object) -> object:
    return value


INPUT_SCALARS: dict[str, Callable[[object], object]] = {
    "String": _string,
    "Int": _int,
    "Float": _float,
    "Boolean": _boolean,
    "ID": _id,
    "Money": _money,
    "Decimal": _decimal_string,
    "UnsignedInt64": _unsigned_int64,
    "DateTime": _datetime,
    "URL": _url,
    "HTML": _string,
    "FormattedString": _string,
    "JSON": any_value,
}
"""Input coercion per scalar; every other custom scalar is accepted as given (no rules are known for it)."""


def json_text(value: object) -> str:
    return orjson.dumps(value).decode()
