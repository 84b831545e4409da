"""Metafield values: a mapped value turned into the string Shopify stores for the metafield's type."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import JsonValue

from connector_pipelines.sources.erp_mapping.config import (
    MEASUREMENT_UNITS,
    METAFIELD_REFERENCE_TYPES,
    MappingConfig,
    MetafieldRule,
)
from connector_pipelines.sources.erp_mapping.values import (
    FieldProblem,
    NumberParser,
    Value,
    as_text,
    is_blank,
    plain_decimal,
)

URL_SCHEMES = ("https:", "http:", "mailto:", "sms:", "tel:")
MAX_METAFIELD_INTEGER = 9_007_199_254_740_991
MAX_METAFIELD_DECIMAL = Decimal("9999999999999.999999999")

_GID = re.compile(r"gid://shopify/[A-Za-z]+/[^/\s]+")
_COLOR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_MEASURE = re.compile(r"(.*?)\s*([A-Za-z][A-Za-z0-9_]*)")


def _json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class MetafieldCoercer:
    """Turns a mapped value into the string Shopify stores for the metafield's type."""

    def __init__(self, rule: MetafieldRule, config: MappingConfig) -> None:
        self.rule = rule
        self.currency = config.currency
        self.numbers = NumberParser(config.decimal_separator)
        converters: dict[str, Callable[[Value], JsonValue]] = {
            "boolean": self._to_boolean,
            "color": self._to_color,
            "date": self._to_date,
            "date_time": self._to_date_time,
            "dimension": lambda value: self._measure(value, "dimension"),
            "id": self._to_single_line_text_field,
            "json": self._to_json,
            "link": self._to_link,
            "money": self._to_money,
            "multi_line_text_field": as_text,
            "number_decimal": self._to_number_decimal,
            "number_integer": self._to_number_integer,
            "rating": self._to_rating,
            "rich_text_field": self._to_rich_text_field,
            "single_line_text_field": self._to_single_line_text_field,
            "url": self._to_url,
            "volume": lambda value: self._measure(value, "volume"),
            "weight": lambda value: self._measure(value, "weight"),
        }
        # Reference types have no converter: _element checks their GID.
        self._convert = converters.get(rule.base_type, as_text)

    def __call__(self, value: Value) -> str | None:
        """None when the value is blank: the metafield is left out."""
        if is_blank(value):
            return None
        if not self.rule.type.startswith("list."):
            return self._scalar_text(self._element(value))
        items: list[Value]
        if isinstance(value, list):
            items = list(value)
        elif isinstance(value, str) and value.lstrip().startswith("["):
            parsed = self._json(value, "a JSON array")
            if not isinstance(parsed, list):
                raise FieldProblem("expected a JSON array")
            items = list(parsed)
        else:
            items = [value]
        elements = [self._element(item) for item in items if not is_blank(item)]
        return _json_text(elements) if elements else None

    @staticmethod
    def _scalar_text(element: JsonValue) -> str:
        if isinstance(element, str):
            return element
        if isinstance(element, bool):
            return "true" if element else "false"
        if isinstance(element, int):
            return str(element)
        return _json_text(element)

    @staticmethod
    def _json(text: str, what: str) -> JsonValue:
        try:
            parsed: JsonValue = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldProblem(f"expected {what}: {exc.msg}") from None
        return parsed

    def _element(self, value: Value) -> JsonValue:
        base = self.rule.base_type
        if base in METAFIELD_REFERENCE_TYPES:
            text = as_text(value).strip()
            if not _GID.fullmatch(text):
                raise FieldProblem(f"{base} needs a Shopify GID (gid://shopify/Type/id), got {text!r}")
            return text
        return self._convert(value)

    def _to_single_line_text_field(self, value: Value) -> JsonValue:
        text = as_text(value)
        if "\n" in text or "\r" in text:
            raise FieldProblem("single_line_text_field cannot hold a line break")
        return text

    def _to_boolean(self, value: Value) -> JsonValue:
        if isinstance(value, bool):
            return value
        text = as_text(value).strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
        raise FieldProblem(f"boolean expects true/false/yes/no/1/0, got {as_text(value)!r}")

    def _to_number_integer(self, value: Value) -> JsonValue:
        number = self.numbers.integer(value)
        assert number is not None  # blank values never get here
        if abs(number) > MAX_METAFIELD_INTEGER:
            raise FieldProblem(f"number_integer out of range: {number}")
        return number

    def _to_number_decimal(self, value: Value) -> JsonValue:
        number = self.numbers.decimal(value)
        assert number is not None
        exponent = number.as_tuple().exponent
        if abs(number) > MAX_METAFIELD_DECIMAL or (isinstance(exponent, int) and exponent < -9):
            raise FieldProblem(f"number_decimal out of range or with more than 9 decimals: {as_text(number)}")
        return plain_decimal(number)

    def _to_date(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        try:
            if self.rule.date_format:
                return datetime.strptime(text, self.rule.date_format).date().isoformat()
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldProblem(
                f"unparsable date {text!r} (expected {self.rule.date_format or 'YYYY-MM-DD'})"
            ) from None

    def _to_date_time(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        try:
            moment = (
                datetime.strptime(text, self.rule.date_format)
                if self.rule.date_format
                else datetime.fromisoformat(text)
            )
        except ValueError:
            raise FieldProblem(
                f"unparsable date and time {text!r} (expected {self.rule.date_format or 'ISO 8601'})"
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(
                tzinfo=None
            )  # Shopify stores date_time without a zone, as UTC
        return moment.isoformat(timespec="seconds")

    def _to_color(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        match = _COLOR.fullmatch(text)
        if not match:
            raise FieldProblem(f"color expects #RRGGBB, got {text!r}")
        digits = match.group(1)
        return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits)).lower()

    def _to_url(self, value: Value) -> JsonValue:
        text = as_text(value).strip()
        if not text.lower().startswith(URL_SCHEMES) or len(text.split(":", 1)[1].lstrip("/")) == 0:
            raise FieldProblem(
                f"url needs one of the schemes {', '.join(s[:-1] for s in URL_SCHEMES)}: {text!r}"
            )
        return text

    def _object(self, value: Value, what: str) -> dict[str, JsonValue]:
        parsed = self._json(value, what) if isinstance(value, str) else value
        if not isinstance(parsed, dict):
            raise FieldProblem(f"expected {what}")
        return parsed

    def _to_json(self, value: Value) -> JsonValue:
        if isinstance(value, str):
            parsed = self._json(value, "JSON")
            return _json_text(parsed)
        return _json_text(float(value) if isinstance(value, Decimal) else value)

    def _to_link(self, value: Value) -> JsonValue:
        link = self._object(value, 'a link object {"text": ..., "url": ...}')
        url = self._to_url(as_text(link.get("url")))
        return {"text": as_text(link.get("text")), "url": url}

    def _to_rich_text_field(self, value: Value) -> JsonValue:
        text = as_text(value)
        if not text.lstrip().startswith("{"):
            # Plain text becomes one paragraph of Shopify's rich text document.
            paragraph = {"type": "paragraph", "children": [{"type": "text", "value": text}]}
            return _json_text({"type": "root", "children": [paragraph]})
        document = self._object(text, "a rich text JSON document")
        if document.get("type") != "root":
            raise FieldProblem('rich_text_field needs a document with "type": "root"')
        return _json_text(document)

    def _to_money(self, value: Value) -> JsonValue:
        amount = self.numbers.decimal(value)
        assert amount is not None
        return {"amount": plain_decimal(amount), "currency_code": self.currency}

    def _measure(self, value: Value, kind: str) -> JsonValue:
        unit = self.rule.unit
        number: Decimal | None
        if isinstance(value, str) and (match := _MEASURE.fullmatch(value.strip())):
            number, unit = self.numbers.decimal(match.group(1)), match.group(2).lower()
        else:
            number = self.numbers.decimal(value)
        if unit is None:
            raise FieldProblem(f"{kind} needs a unit: in the value (e.g. '2.5 kg') or the rule's unit")
        if unit not in MEASUREMENT_UNITS[kind]:
            raise FieldProblem(
                f"unknown {kind} unit {unit!r} (allowed: {', '.join(sorted(MEASUREMENT_UNITS[kind]))})"
            )
        assert number is not None
        return {"value": float(number), "unit": unit}

    def _to_rating(self, value: Value) -> JsonValue:
        number = self.numbers.decimal(value)
        low, high = self.rule.scale_min, self.rule.scale_max
        # The rule's validator requires the scale; blank values never get here.
        assert number is not None
        assert low is not None
        assert high is not None
        if not low <= number <= high:
            raise FieldProblem(f"rating {as_text(number)} outside {as_text(low)}..{as_text(high)}")
        return {
            "value": plain_decimal(number),
            "scale_min": plain_decimal(low),
            "scale_max": plain_decimal(high),
        }
