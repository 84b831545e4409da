"""In-memory entity store of the Shopware 6 emulator, with the indexes a database would have.

Rows are flat dicts of atomic values keyed by primary key (mapping rows by ``"<a>-<b>"``): JSON values
(prices, custom fields) are kept as orjson bytes and translated values as ``"<field>|<languageId>"`` keys.
Dicts holding only atomic values are never tracked by Python's cyclic GC, so a store of millions of rows
costs the collector nothing. Every foreign-key column is indexed (target -> referencing keys, in insertion
order) so cascades, association reads and FK filters never scan a table; unique constraints
(``productNumber``, visibility per sales channel, ...) have their own indexes. Rows are replaced, never
mutated, which is what makes the undo log of a transaction a list of (table, key, previous row).
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

import orjson

from connector_pipelines.sandbox.shopware6_order_schema import (
    COUNTRIES,
    MACHINES,
    country_id,
    transition_id,
)
from connector_pipelines.sandbox.shopware6_schema import (
    CHF_CURRENCY_ID,
    DEFAULT_CURRENCY_ID,
    DEFAULT_RULE_ID,
    DELIVERY_TIME_IDS,
    ENGLISH_LOCALE_ID,
    GBP_CURRENCY_ID,
    GERMAN_LANGUAGE_ID,
    GERMAN_LOCALE_ID,
    NAVIGATION_CATEGORY_ID,
    PRODUCT_MEDIA_FOLDER_ID,
    SCHEMA,
    STOREFRONT_SALES_CHANNEL_ID,
    STOREFRONT_TYPE_ID,
    SYSTEM_LANGUAGE_ID,
    TAX_0_ID,
    TAX_7_ID,
    TAX_19_ID,
    USD_CURRENCY_ID,
    EntityDef,
    seed_id,
)

Row = dict[str, Any]
Bucket = dict[str, None]
# FK columns whose NULLs are indexed too: "parents only" (parentId IS NULL) is a common query.
NULL_INDEXED = frozenset({"parentId"})


def tr_key(name: str, language_id: str) -> str:
    return f"{name}|{language_id}"


def tr_marker(language_id: str) -> str:
    """Present in a row when it has a translation row for that language."""
    return f"|{language_id}"


def pack(value: Any) -> Any:
    return orjson.dumps(value) if isinstance(value, list | dict) else value


def unpack(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, bytes) else value


def now_iso() -> str:
    """Shopware's date format: ``2024-10-24T10:00:00.123+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def mapping_key(ent: EntityDef, row: Row) -> str:
    return "-".join(str(row.get(col)) for col in ent.pk)


def primary_key(ent: EntityDef, key: str, row: Row) -> str | dict[str, Any]:
    """What Shopware reports for a row in sync results: the id, or the composite key object."""
    if ent.is_mapping:
        return {col: row.get(col) for col in ent.pk}
    return key


def unique_key(cols: tuple[str, ...], row: Row) -> str | None:
    """The unique-index key of a row; ``None`` when a column is NULL (NULLs never collide)."""
    # MySQL's default collation compares case-insensitively, unique indexes included.
    if len(cols) == 1:
        value = row.get(cols[0])
        return None if value is None else str(value).casefold()
    first, second = row.get(cols[0]), row.get(cols[1])
    if first is None or second is None or len(cols) != 2:
        values = [row.get(c) for c in cols]
        return None if None in values else "\x1f".join(str(v).casefold() for v in values)
    return f"{first}\x1f{second}".casefold()


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rows: dict[str, dict[str, Row]] = {}
        self.refs: dict[str, dict[str, dict[Any, Bucket]]] = {}
        self.uniques: dict[str, dict[tuple[str, ...], dict[str, str]]] = {}
        self.seq: dict[str, dict[str, int]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.number_ranges: dict[str, int] = {}
        self.generation = 0
        self._counter = itertools.count()
        self._undo: list[tuple[str, str, Row | None, int | None]] | None = None
        self._indexed = {
            name: tuple((f, f in NULL_INDEXED) for f in ent.indexed) for name, ent in SCHEMA.items()
        }
        self.clear()

    def clear(self) -> None:
        self.rows = {name: {} for name in SCHEMA}
        self.refs = {name: {f: {} for f in ent.indexed} for name, ent in SCHEMA.items()}
        self.uniques = {name: {cols: {} for cols in ent.unique} for name, ent in SCHEMA.items()}
        self.seq = {name: {} for name in SCHEMA}
        self.files = {}
        self.number_ranges = {}
        self.generation += 1
        _seed(self)

    # -- transactions -------------------------------------------------------------------------------------

    def begin(self) -> None:
        self._undo = []

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo or [], None
        for entity, key, old, old_seq in reversed(undo):
            if old is None:
                self.remove(entity, key)
            else:
                self.put(entity, key, old)
                if old_seq is not None:
                    self.seq[entity][key] = old_seq

    # -- writes ---------------------------------------------------------------------------------------------

    def put(self, entity: str, key: str, row: Row) -> None:
        table = self.rows[entity]
        old = table.get(key)
        if self._undo is not None:
            self._undo.append((entity, key, old, None))
        table[key] = row
        if old is None:
            self.seq[entity][key] = next(self._counter)
        self._reindex(SCHEMA[entity], key, old, row)
        self.generation += 1

    def remove(self, entity: str, key: str) -> Row | None:
        old = self.rows[entity].pop(key, None)
        if old is None:
            return None
        old_seq = self.seq[entity].pop(key, None)
        if self._undo is not None:
            self._undo.append((entity, key, old, old_seq))
        self._reindex(SCHEMA[entity], key, old, None)
        self.generation += 1
        return old

    def _reindex(self, ent: EntityDef, key: str, old: Row | None, new: Row | None) -> None:
        refs = self.refs[ent.name]
        for name, null_too in self._indexed[ent.name]:
            ov = old.get(name) if old is not None else None
            nv = new.get(name) if new is not None else None
            if ov == nv and (ov is not None or (old is not None and new is not None)):
                continue
            index = refs[name]
            if old is not None and (ov is not None or null_too):
                bucket = index.get(ov)
                if bucket is not None:
                    bucket.pop(key, None)
                    if not bucket:
                        del index[ov]
            if new is not None and (nv is not None or null_too):
                bucket = index.get(nv)
                if bucket is None:
                    index[nv] = {key: None}
                else:
                    bucket[key] = None
        for cols, index_u in self.uniques[ent.name].items():
            ot = unique_key(cols, old) if old is not None else None
            nt = unique_key(cols, new) if new is not None else None
            if ot == nt:
                continue
            if ot is not None and index_u.get(ot) == key:
                del index_u[ot]
            if nt is not None:
                index_u.setdefault(nt, key)

    # -- reads ----------------------------------------------------------------------------------------------

    def unique_owner(self, entity: str, cols: tuple[str, ...], row: Row) -> str | None:
        key = unique_key(cols, row)
        return None if key is None else self.uniques[entity][cols].get(key)

    def referencing(self, entity: str, field: str, target: Any) -> Bucket:
        """Keys of rows whose ``field`` equals ``target``, in insertion order (NULLs: see NULL_INDEXED)."""
        return self.refs[entity][field].get(target) or {}

    def next_number(self, entity: str) -> str:
        """The next number of an entity's number range (Shopware's default pattern ``{n}``, from 10000)."""
        number = self.number_ranges.get(entity, 10000)
        self.number_ranges[entity] = number + 1
        return str(number)

    def product_id_by_number(self, number: str) -> str | None:
        return self.uniques["product"][("productNumber",)].get(number.casefold())

    def language_for_locale(self, code: str) -> str | None:
        locales = self.rows["locale"]
        for key, language in self.rows["language"].items():
            locale = locales.get(language.get("localeId") or "")
            if locale is not None and locale.get("code") == code:
                return key
        return None

    def language_chain(self, language_id: str) -> tuple[str, ...]:
        """Languages a translated value falls back through: the context, its parent, the system language."""
        chain = [language_id]
        parent = (self.rows["language"].get(language_id) or {}).get("parentId")
        if parent:
            chain.append(parent)
        if SYSTEM_LANGUAGE_ID not in chain:
            chain.append(SYSTEM_LANGUAGE_ID)
        return tuple(chain)

    def sorted_keys(self, entity: str, keys: list[str]) -> list[str]:
        seq = self.seq[entity]
        return sorted(keys, key=lambda k: seq.get(k, 0))


def _seed(store: Store) -> None:
    created = now_iso()

    def put(
        entity: str, key: str, fields: dict[str, Any], tr: dict[str, dict[str, Any]] | None = None
    ) -> None:
        ent = SCHEMA[entity]
        row: Row = {
            **ent.defaults,
            **{k: pack(v) for k, v in fields.items()},
            "createdAt": created,
            "updatedAt": None,
        }
        if ent.pk == ("id",):
            row["id"] = key
        for language, values in (tr or {}).items():
            row[tr_marker(language)] = True
            for name, value in {**ent.translated_defaults, **values}.items():
                row[tr_key(name, language)] = pack(value)
        store.put(entity, key, row)

    en, de = SYSTEM_LANGUAGE_ID, GERMAN_LANGUAGE_ID
    put(
        "locale",
        ENGLISH_LOCALE_ID,
        {"code": "en-GB"},
        {en: {"name": "English", "territory": "United Kingdom"}},
    )
    put("locale", GERMAN_LOCALE_ID, {"code": "de-DE"}, {en: {"name": "German", "territory": "Germany"}})
    put(
        "language",
        en,
        {"name": "English", "localeId": ENGLISH_LOCALE_ID, "translationCodeId": ENGLISH_LOCALE_ID},
    )
    put(
        "language",
        de,
        {"name": "Deutsch", "localeId": GERMAN_LOCALE_ID, "translationCodeId": GERMAN_LOCALE_ID},
    )
    rounding = {"decimals": 2, "interval": 0.01, "roundForNet": True}
    currencies = [
        (DEFAULT_CURRENCY_ID, "EUR", "€", 1.0, "Euro"),
        (USD_CURRENCY_ID, "USD", "$", 1.17, "US-Dollar"),
        (CHF_CURRENCY_ID, "CHF", "Fr", 0.94, "Swiss francs"),
        (GBP_CURRENCY_ID, "GBP", "£", 0.87, "Pound"),
    ]
    for position, (cid, iso, symbol, factor, name) in enumerate(currencies, start=1):
        put(
            "currency",
            cid,
            {
                "isoCode": iso,
                "symbol": symbol,
                "factor": factor,
                "position": position,
                "itemRounding": rounding,
                "totalRounding": rounding,
            },
            {en: {"shortName": iso, "name": name}},
        )
    for tid, rate, name, position in [
        (TAX_19_ID, 19.0, "Standard rate", 1),
        (TAX_7_ID, 7.0, "Reduced rate", 2),
        (TAX_0_ID, 0.0, "Tax free", 3),
    ]:
        put("tax", tid, {"taxRate": rate, "name": name, "position": position})
    put(
        "category",
        NAVIGATION_CATEGORY_ID,
        {"parentId": None, "afterCategoryId": None},
        {en: {"name": "Home"}, de: {"name": "Startseite"}},
    )
    put(
        "sales_channel",
        STOREFRONT_SALES_CHANNEL_ID,
        {
            "typeId": STOREFRONT_TYPE_ID,
            "languageId": en,
            "customerGroupId": seed_id("customer-group:default"),
            "currencyId": DEFAULT_CURRENCY_ID,
            "paymentMethodId": seed_id("payment-method:invoice"),
            "paymentMethodIds": [seed_id("payment-method:invoice")],
            "shippingMethodId": seed_id("shipping-method:standard"),
            "countryId": seed_id("country:DE"),
            "navigationCategoryId": NAVIGATION_CATEGORY_ID,
            "accessKey": "SWSCSANDBOXSTOREFRONTKEY01",
        },
        {en: {"name": "Storefront"}},
    )
    for language in (en, de):  # the languages an install gives its storefront
        put(
            "sales_channel_language",
            f"{STOREFRONT_SALES_CHANNEL_ID}-{language}",
            {"salesChannelId": STOREFRONT_SALES_CHANNEL_ID, "languageId": language},
        )
    put("rule", DEFAULT_RULE_ID, {"name": "Always valid (Default)", "priority": 100})
    put(
        "media_folder",
        PRODUCT_MEDIA_FOLDER_ID,
        {
            "name": "Product Media",
            "useParentConfiguration": False,  # a root folder has its own configuration
            "configurationId": seed_id("media-folder-configuration:product"),
        },
    )
    for name, did in DELIVERY_TIME_IDS.items():
        low, high, unit = name.replace("-", " ").split()
        put(
            "delivery_time",
            did,
            {"min": int(low), "max": int(high), "unit": unit.rstrip("s")},
            {en: {"name": name}},
        )
    for position, (iso, iso3, name, eu) in enumerate(COUNTRIES, start=1):
        put(
            "country",
            country_id(iso),
            {
                "iso": iso,
                "iso3": iso3,
                "position": position,
                "active": True,
                "shippingAvailable": True,
                "displayStateInRegistration": False,
                "forceStateInRegistration": False,
                "checkVatIdPattern": False,
                "isEu": eu,
            },
            {en: {"name": name}},
        )
    for machine in MACHINES.values():
        put(
            "state_machine",
            machine.id,
            {"technicalName": machine.technical_name},
            {en: {"name": machine.name}},
        )
        for technical, name in machine.states.items():
            put(
                "state_machine_state",
                machine.state_id(technical),
                {"technicalName": technical, "stateMachineId": machine.id},
                {en: {"name": name}},
            )
        store.put(
            "state_machine",
            machine.id,
            {**store.rows["state_machine"][machine.id], "initialStateId": machine.state_id(machine.initial)},
        )
        for action, source, target in machine.transitions:
            put(
                "state_machine_transition",
                transition_id(machine, action, source, target),
                {
                    "actionName": action,
                    "stateMachineId": machine.id,
                    "fromStateId": machine.state_id(source),
                    "toStateId": machine.state_id(target),
                },
            )
