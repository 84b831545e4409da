"""Field validation of the Shopware 6 emulator's writes: the field serializers' checks (types, lengths,
uuids, prices, dates, JSON members) and translations, collected as violations in the request's transaction.

Foreign keys whose target is still missing are queued on the transaction for the "SQL" phase at its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from connector_pipelines.sandbox.shopware6_errors import (
    MISSING_SYSTEM_TRANSLATION,
    ErrorDoc,
    ShopwareError,
    fail,
    format_value,
    invalid_type,
    invalid_uuid,
    missing_field,
    not_blank,
    too_long,
    violation,
    write_protected,
)
from connector_pipelines.sandbox.shopware6_fields import JSON_PRICE_MEMBERS
from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    SYSTEM_LANGUAGE_ID,
    EntityDef,
    FieldDef,
)
from connector_pipelines.sandbox.shopware6_store import Row, Store, tr_marker

_UUID = re.compile(r"[0-9a-f]{32}")
_PRICE_ITEM = ("currencyId", "gross", "net", "linked")
_PRICE_NESTED = ("gross", "net", "linked")
PK = str | dict[str, Any]


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def malformed(pointer: str) -> ErrorDoc:
    return {
        "status": "400",
        "code": "FRAMEWORK__WRITE_MALFORMED_INPUT",
        "title": "Bad Request",
        "detail": f"Expected data at {pointer} to be an array.",
        "meta": {"parameters": {"path": pointer}},
        "source": {"pointer": pointer},
    }


# (table, row key or None for unconditional checks, column, referenced table, value, ON DELETE rule)
FkCheck = tuple[str, str | None, str, str, str, str]


@dataclass(slots=True)
class WriteTx:
    language_id: str
    now: str
    violations: list[ErrorDoc] = field(default_factory=list)
    sql_error: ShopwareError | None = None
    fk_checks: list[FkCheck] = field(default_factory=list)
    written: dict[str, dict[str, PK]] = field(default_factory=dict)
    deleted: dict[str, dict[str, PK]] = field(default_factory=dict)
    not_found: dict[str, dict[str, PK]] = field(default_factory=dict)
    rejected: set[int] = field(default_factory=set)

    def mark(self, bucket: dict[str, dict[str, PK]], entity: str, key: str, pk: PK) -> None:
        table = bucket.get(entity)
        if table is None:
            bucket[entity] = {key: pk}
        else:
            table[key] = pk


class FieldValidator:
    """Checks written values against the schema's fields, as Shopware's field serializers do."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def validate(
        self, ent: EntityDef, fd: FieldDef, value: Any, path: str, key: str, tx: WriteTx
    ) -> tuple[bool, Any]:
        """Check a non-null value; JSON values come back packed (bytes), as the store keeps them."""
        kind = fd.kind
        cls = value.__class__
        if kind == "str" or kind == "text":
            if cls is not str:
                tx.violations.append(invalid_type(f"{path}/{fd.name}", value, "string"))
                return False, None
            if fd.max_length is not None and len(value) > fd.max_length:
                tx.violations.append(too_long(f"{path}/{fd.name}", value, fd.max_length))
                return False, None
            return True, value
        if kind == "fk" or kind == "uuid" or kind == "state":
            if cls is not str or _UUID.fullmatch(value) is None:
                tx.violations.append(invalid_uuid(f"{path}/{fd.name}", value))
                return False, None
            # A target that exists now satisfies the constraint (a later delete in the same request cascades,
            # nulls or is restricted); only targets still missing wait for the end of the request.
            if kind != "uuid" and value not in self.store.rows[fd.ref or ""]:
                tx.fk_checks.append((ent.name, key, fd.name, fd.ref or "", value, fd.on_delete))
            return True, value
        if kind == "int":
            if cls is not int:
                tx.violations.append(invalid_type(f"{path}/{fd.name}", value, "int"))
                return False, None
            return True, value
        if kind == "float":
            if not _numeric(value):
                tx.violations.append(invalid_type(f"{path}/{fd.name}", value, "numeric"))
                return False, None
            return True, float(value)
        if kind == "bool":
            if cls is not bool:
                tx.violations.append(invalid_type(f"{path}/{fd.name}", value, "bool"))
                return False, None
            return True, value
        if kind == "price":
            return self._validate_price(ent, key, value, path, tx)
        if kind == "calculated_price" or kind == "cart_price":
            return _validate_json_price(JSON_PRICE_MEMBERS[kind], fd, value, path, tx)
        if kind == "json" or kind == "list":
            if cls is not dict and cls is not list:
                tx.violations.append(invalid_type(f"{path}/{fd.name}", value, "array"))
                return False, None
            return True, orjson.dumps(value)
        if cls is not str or not _is_date(value):
            tx.violations.append(
                violation(
                    f"{path}/{fd.name}",
                    "This value is not a valid datetime.",
                    code="1a9da513-2640-4f84-9b6a-4d99dcddc628",
                    parameters={"{{ value }}": format_value(value)},
                )
            )
            return False, None
        return True, value

    def _validate_price(
        self, ent: EntityDef, key: str, value: Any, record_path: str, tx: WriteTx
    ) -> tuple[bool, Any]:
        """``PriceFieldSerializer``: pointers say ``/price`` whatever the field is called, like Shopware."""
        price_path = f"{record_path}/price"
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            tx.violations.append(invalid_type(price_path, value, "array"))
            return False, None
        if not items:
            tx.violations.append(not_blank(price_path, value))
            return False, None
        for index, item in items:
            if _plain_price(item):
                continue
            errors = _price_item_errors(item, f"{price_path}/{index}")
            if errors:
                tx.violations.extend(errors)
                return False, None
        prices = [item for _, item in items]
        if not any(p["currencyId"] == DEFAULT_CURRENCY_ID for p in prices):
            tx.violations.append(violation(price_path, "No price for default currency defined"))
            return False, None
        normalized = []
        for p in prices:
            price = {**p, "gross": float(p["gross"]), "net": float(p["net"])}
            list_price = price.get("listPrice")
            if isinstance(list_price, dict):
                list_price = {
                    **list_price,
                    "gross": float(list_price["gross"]),
                    "net": float(list_price["net"]),
                }
                price["listPrice"] = list_price
                price["percentage"] = {
                    "net": _percentage(price["net"], list_price["net"]),
                    "gross": _percentage(price["gross"], list_price["gross"]),
                }
            normalized.append(price)
            if price["currencyId"] not in self.store.rows["currency"]:
                tx.fk_checks.append((ent.name, None, "price", "currency", price["currencyId"], "restrict"))
        return True, orjson.dumps(normalized)

    # -- translations -------------------------------------------------------------------------------------

    def translations(
        self, ent: EntityDef, plain: dict[str, Any] | None, raw: Any, path: str, tx: WriteTx
    ) -> dict[str, dict[str, Any]]:
        """Plain translated fields (context language) merged with ``translations`` (by id or locale code)."""
        out: dict[str, dict[str, Any]] = {}
        if plain:
            out[tx.language_id] = dict(plain)
        if raw is None:
            return self._validate_translations(ent, out, path, tx)
        tr_path = f"{path}/translations"
        if isinstance(raw, list):
            entries: list[tuple[str, Any]] = []
            for i, item in enumerate(raw):
                if not isinstance(item, dict):
                    tx.violations.append(malformed(tr_path))
                    continue
                language = item.get("languageId") or (item.get("language") or {}).get("id")
                if not language:
                    raise fail(
                        400,
                        "FRAMEWORK__MISSING_TRANSLATION_LANGUAGE",
                        "Missing language for translation at {{ path }}/{{ index }}",
                        {"path": tr_path, "index": i},
                    )
                entries.append((str(language), item))
        elif isinstance(raw, dict):
            entries = [(str(k), v) for k, v in raw.items()]
        else:
            tx.violations.append(malformed(tr_path))
            return self._validate_translations(ent, out, path, tx)
        for identifier, values in entries:
            if not isinstance(values, dict):
                tx.violations.append(malformed(tr_path))
                continue
            language = identifier
            if not is_uuid(identifier):
                found = self.store.language_for_locale(identifier)
                if found is None:
                    raise fail(
                        412,
                        "FRAMEWORK__LANGUAGE_NOT_FOUND",
                        'The language "{{ languageId }}" was not found.',
                        {"languageId": identifier},
                    )
                language = found
            known = {k: v for k, v in values.items() if k in ent.translated}
            out[language] = {**out.get(language, {}), **known}
        return self._validate_translations(ent, out, path, tx)

    def _validate_translations(
        self, ent: EntityDef, translations: dict[str, dict[str, Any]], path: str, tx: WriteTx
    ) -> dict[str, dict[str, Any]]:
        for lang, values in translations.items():
            base = f"{path}/translations/{lang}"
            for name, value in list(values.items()):
                fd = ent.fields[name]
                if fd.write_protected:
                    tx.violations.append(write_protected(f"{base}/{name}"))
                    del values[name]
                    continue
                if value is None:
                    continue
                ok, normalized = self.validate(ent, fd, value, base, "", tx)
                if ok:
                    values[name] = normalized
                else:
                    del values[name]
            if lang not in self.store.rows["language"]:
                tx.fk_checks.append(
                    (f"{ent.name}_translation", None, "languageId", "language", lang, "cascade")
                )
        return translations

    def check_translations(
        self,
        ent: EntityDef,
        old: Row | None,
        translations: dict[str, dict[str, Any]],
        is_child: bool,
        path: str,
        tx: WriteTx,
    ) -> None:
        checked = translations if (translations or old is not None) else {tx.language_id: {}}
        for lang, values in checked.items():
            for name in ent.required_translated:
                if is_child and ent.fields[name].inherited:
                    continue
                pointer = f"{path}/translations/{lang}/{name}"
                if name in values:
                    value = values[name]
                    if value == "" or (value is None and lang == SYSTEM_LANGUAGE_ID):
                        tx.violations.append(not_blank(pointer, value))
                elif lang == SYSTEM_LANGUAGE_ID and (old is None or tr_marker(lang) not in old):
                    tx.violations.append(not_blank(pointer))
        if old is None and not is_child and SYSTEM_LANGUAGE_ID not in checked:
            tx.violations.append(
                violation(
                    f"{path}/translations/{SYSTEM_LANGUAGE_ID}",
                    f"Translation required for system language {SYSTEM_LANGUAGE_ID}",
                    code=MISSING_SYSTEM_TRANSLATION,
                    template="Translation required for system language {{ systemLanguage }}",
                    parameters={"{{ systemLanguage }}": SYSTEM_LANGUAGE_ID},
                )
            )


def _validate_json_price(
    members: tuple[tuple[str, str, bool], ...], fd: FieldDef, value: Any, path: str, tx: WriteTx
) -> tuple[bool, Any]:
    """``JsonFieldSerializer`` over the price's property mapping: required members NotBlank, types checked;
    ``extensions`` dropped as ``CalculatedPriceFieldSerializer`` / ``CartPriceFieldSerializer`` do."""
    pointer = f"{path}/{fd.name}"
    if not isinstance(value, dict):
        tx.violations.append(invalid_type(pointer, value, "array"))
        return False, None
    before = len(tx.violations)
    for name, type_name, required in members:
        member = value.get(name)
        at = f"{pointer}/{name}"
        if member is None or member == "":
            if required:
                tx.violations.append(not_blank(at, member))
            continue
        ok = {
            "float": _numeric(member),
            "int": member.__class__ is int,
            "array": isinstance(member, list | dict),
            "string": isinstance(member, str),
        }[type_name]
        if not ok:
            tx.violations.append(invalid_type(at, member, type_name))
    if len(tx.violations) != before:
        return False, None
    return True, orjson.dumps({k: v for k, v in value.items() if k != "extensions"})


def _plain_price(item: Any) -> bool:
    """The common well-formed price (no list/regulation price), checked without building any error."""
    if item.__class__ is not dict or "listPrice" in item or "regulationPrice" in item:
        return False
    currency, gross, net = item.get("currencyId"), item.get("gross"), item.get("net")
    return (
        currency.__class__ is str
        and _UUID.fullmatch(currency) is not None
        and (gross.__class__ is float or gross.__class__ is int)
        and (net.__class__ is float or net.__class__ is int)
        and item.get("linked", 0).__class__ is bool
    )


def _price_item_errors(item: Any, pointer: str) -> list[ErrorDoc]:
    """The ``Collection`` constraint of one price: fields not marked Optional must be present."""
    if not isinstance(item, dict):
        return [invalid_type(pointer, item, "array")]
    errors: list[ErrorDoc] = []
    _collection_errors(item, _PRICE_ITEM, pointer, errors)
    for nested in ("listPrice", "regulationPrice"):
        value = item.get(nested)
        if value is None:
            continue
        if not isinstance(value, dict):
            errors.append(invalid_type(f"{pointer}/{nested}", value, "array"))
        else:
            _collection_errors(value, _PRICE_NESTED, f"{pointer}/{nested}", errors)
    return errors


def _collection_errors(
    item: dict[str, Any], keys: tuple[str, ...], pointer: str, errors: list[ErrorDoc]
) -> None:
    for name in keys:
        at = f"{pointer}/{name}"
        if name not in item:
            errors.append(missing_field(at, name))
            continue
        value = item[name]
        if name == "linked":
            if value is not None and not isinstance(value, bool):
                errors.append(invalid_type(at, value, "boolean"))
        elif value is None or value == "":
            errors.append(not_blank(at, value))
        elif name == "currencyId":
            if not is_uuid(value):
                errors.append(invalid_uuid(at, value))
        elif not _numeric(value):
            errors.append(invalid_type(at, value, "numeric"))


def _percentage(price: float, list_price: float) -> float:
    return round(100 - price / list_price * 100, 2) if list_price > 0 else 0.0


def _is_date(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
