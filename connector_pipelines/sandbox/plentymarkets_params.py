"""Requests and errors of the Plentymarkets emulator: query parameters and dates read the way Plenty reads
them, and the API error a handler raises to answer with Plenty's error body."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from starlette.responses import Response

from connector_pipelines.sandbox.plentymarkets_records import TimeRange
from connector_pipelines.sandbox.plentymarkets_settings import PlentySettings


class ApiError(Exception):
    def __init__(self, status: int, message: str, validation_errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.validation_errors = validation_errors


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


_ARRAY_KEY = re.compile(r"^([^\[\]]+)\[[^\]]*\]$")
_NUMERIC = re.compile(r"^-?\d+(?:\.\d+)?$")
_OFFSET_AS_SPACE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$"
)
_RELATIVE = re.compile(r"^([+-]?\d+)\s*(sec|second|min|minute|hour|day|week|month|year)s?(\s+ago)?$")
_UNIT_SECONDS = {
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}


def parse_date(raw: str, *, tz: ZoneInfo, plus_as_space: bool = True) -> float:
    """Plenty's date parameters: unix seconds, ISO-8601 (offset optional), a few strtotime forms."""
    text = raw.strip()
    if _NUMERIC.match(text):
        return float(text)
    spaced = _OFFSET_AS_SPACE.match(text)
    if spaced:
        if not plus_as_space:
            raise ValueError(f"invalid date {raw!r}")
        text = f"{spaced[1]}+{spaced[2]}"
    lowered = text.lower()
    if lowered == "now":
        return time.time()
    if lowered in ("today", "yesterday", "tomorrow"):
        midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        shift = {"today": 0, "yesterday": -1, "tomorrow": 1}[lowered]
        return (midnight + timedelta(days=shift)).timestamp()
    relative = _RELATIVE.match(lowered)
    if relative:
        seconds = int(relative[1]) * _UNIT_SECONDS[relative[2]]
        return time.time() + (-seconds if relative[3] else seconds)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()


class Params:
    """Query parameters the way Plenty reads them: comma lists, PHP `name[]`/`name[0]` arrays, '' = absent."""

    def __init__(self, pairs: Sequence[tuple[str, str]], settings: PlentySettings, tz: ZoneInfo) -> None:
        self.settings = settings
        self.tz = tz
        self.values: dict[str, list[str]] = {}
        for key, value in pairs:
            array = _ARRAY_KEY.match(key)
            self.values.setdefault(array[1] if array else key, []).append(value)

    def reject_unknown(self, known: frozenset[str]) -> None:
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise ApiError(
                422,
                "The given data was invalid.",
                [f"The filter '{name}' is not supported." for name in unknown],
            )

    def raw(self, name: str) -> str | None:
        values = [v for v in self.values.get(name, ()) if v.strip()]
        return ",".join(values) if values else None

    def strings(self, name: str) -> tuple[str, ...] | None:
        raw = self.raw(name)
        if raw is None:
            return None
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def _invalid(self, name: str, what: str) -> ApiError:
        return ApiError(422, "The given data was invalid.", [f"The {name} must be {what}."])

    def ints(self, name: str) -> tuple[int, ...] | None:
        parts = self.strings(name)
        if parts is None:
            return None
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise self._invalid(name, "a comma-separated list of integers") from None

    def integer(self, name: str) -> int | None:
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise self._invalid(name, "an integer") from None

    def floats(self, name: str) -> tuple[float, ...] | None:
        parts = self.strings(name)
        if parts is None:
            return None
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            raise self._invalid(name, "a comma-separated list of numbers") from None

    def boolean(self, name: str) -> bool | None:
        raw = self.raw(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in ("1", "true", "y", "yes"):
            return True
        if lowered in ("0", "false", "n", "no"):
            return False
        raise self._invalid(name, "a boolean")

    def date(self, name: str) -> float | None:
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return parse_date(raw, tz=self.tz, plus_as_space=self.settings.accept_plus_as_space)
        except ValueError:
            raise self._invalid(name, "a unix timestamp or an ISO 8601 date") from None

    def between(self, name: str) -> TimeRange | None:
        raw = self.raw(name)
        if raw is None:
            return None
        parts = raw.split(",")
        try:
            if len(parts) > 2 or not parts[0].strip():
                raise ValueError(raw)
            plus = self.settings.accept_plus_as_space
            start = parse_date(parts[0], tz=self.tz, plus_as_space=plus)
            if len(parts) == 2 and parts[1].strip():
                return TimeRange(start, parse_date(parts[1], tz=self.tz, plus_as_space=plus))
            if not self.settings.accept_open_between:
                raise ValueError(raw)
            return TimeRange(start)
        except ValueError:
            raise self._invalid(name, "a period 'start,end' of unix timestamps or ISO 8601 dates") from None

    def relations(self, *, keep_nested: bool = False) -> tuple[str, ...]:
        """`with` values in request order (so output is stable); `itemProperties.valueTexts` counts as
        `itemProperties` unless ``keep_nested``."""
        parts = self.strings("with") or ()
        return tuple(dict.fromkeys(p if keep_nested else p.split(".", 1)[0] for p in parts))

    def langs(self) -> tuple[str, ...] | None:
        parts = self.strings("lang")
        return tuple(p.lower() for p in parts) if parts else None
