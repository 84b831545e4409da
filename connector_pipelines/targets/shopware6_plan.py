"""What a sync would change in Shopware, read from Shopware: the plans of the Shopware writers.

Each record a writer would send is compared with what Shopware holds, field by field, limited to what the
payload writes (Shopware answers with every field of a record and its associations). Lists of records are
compared by their ids (prices by currency), so that a plan names the record and field that changed with its
two values, rather than two long lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from connector_pipelines.clients.http import JsonValue
from connector_pipelines.clients.shopware6 import Criteria, Shopware6Client
from connector_pipelines.store.repositories import MappingRow
from connector_pipelines.sync.publish import FieldChange, PlanEntry, PublishItem, field_changes, new_fields

# Associations a plan compares, and the fields of their records that it compares.
_COMPARED_LISTS = frozenset(
    {"categories", "visibilities", "configuratorSettings", "options", "price", "media", "prices"}
)
_COMPARED_KEYS = frozenset(
    {"id", "currencyId", "gross", "net", "optionId", "mediaId", "position", "ruleId", "quantityStart"}
    | {"quantityEnd", "price"}
)
_ASSOCIATIONS = {
    "product": (
        "translations",
        "categories",
        "visibilities",
        "configuratorSettings",
        "media",
        "prices",
        "options",
    ),
    "property_group": ("translations", "options"),
}
_SEARCH_IDS = 500


def _written_keys(value: Any) -> set[str]:
    """Every key of the records (at any depth) of a payload's list."""
    if isinstance(value, list):
        return set().union(*map(_written_keys, value))
    if isinstance(value, dict):
        return set(value).union(*map(_written_keys, value.values()))
    return set()


def _keyed(value: Any, keys: frozenset[str], currencies: Mapping[str, str]) -> Any:
    """A list of records as an object by record id (by currency for prices), each with the ``keys`` it has;
    a record with nothing but its id is ``True``."""
    if isinstance(value, dict):
        return {k: _keyed(v, keys, currencies) for k, v in value.items() if k in keys}
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return value
    out: dict[str, Any] = {}
    for record in value:
        if "id" in record:
            name = str(record["id"])
        else:
            currency = str(record.get("currencyId"))
            name = currencies.get(currency, currency)
        fields = {
            k: _keyed(v, keys, currencies) for k, v in record.items() if k in keys - {"id", "currencyId"}
        }
        out[name] = fields or True
    return out


def _translations(value: Any, written: Any) -> dict[str, Any]:
    """Translations by language id, limited to the languages and fields the payload writes (Shopware answers
    a list of every translation with all its fields)."""
    rows = (
        value if isinstance(value, list) else list((value or {}).items()) if isinstance(value, dict) else []
    )
    by_language: dict[str, Any] = {}
    for row in rows:
        if isinstance(row, tuple):
            by_language[str(row[0])] = row[1]
        elif isinstance(row, dict):
            by_language[str(row.get("languageId"))] = row
    wanted = written if isinstance(written, dict) else {}
    return {
        language: {name: (by_language.get(language) or {}).get(name) for name in fields}
        for language, fields in wanted.items()
        if isinstance(fields, dict)
    }


def _comparable(
    doc: Mapping[str, Any], payload: Mapping[str, Any], currencies: Mapping[str, str]
) -> dict[str, Any]:
    """The fields ``payload`` writes, as ``doc`` (Shopware's record, or the payload itself) has them."""
    out = {}
    for k in payload:
        if k == "id":
            continue
        value = doc.get(k)
        if k in _COMPARED_LISTS and isinstance(value, list):
            value = _keyed(value, _COMPARED_KEYS & _written_keys(payload[k]), currencies)
        elif k == "translations":
            value = _translations(value, payload[k])
        out[k] = value
    return out


def _held(client: Shopware6Client, entity: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What Shopware holds of these records, with the associations the payloads write."""
    associations = {name: Criteria() for name in _ASSOCIATIONS.get(entity, ("translations",))}
    held: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _SEARCH_IDS):
        criteria = Criteria(ids=list(ids[start : start + _SEARCH_IDS]), associations=associations)
        for found in client.search(entity, criteria).data:
            held[str(found.id)] = dict(found.model_extra or {}) | {"id": found.id}
    return held


def plan_records(
    client: Shopware6Client,
    entity: str,
    records: Sequence[tuple[PublishItem, Sequence[Mapping[str, JsonValue]]]],
    removals: Sequence[MappingRow],
    removal_action: Literal["delete", "deactivate"],
    currencies: Mapping[str, str],
) -> list[PlanEntry]:
    """One entry per item: its first record (a product, a reference record) against what Shopware holds,
    then its other records (a product's variants) under their product numbers. ``currencies``: currency
    id -> the code a plan shows."""
    held = _held(client, entity, [str(r["id"]) for _, item_records in records for r in item_records])
    entries = []
    for item, (head, *others) in records:
        label = str(head.get("productNumber") or head.get("name") or "")
        current = held.get(str(head["id"]))
        if current is None:
            entries.append(
                PlanEntry(item.key, "create", label, new_fields(_comparable(head, head, currencies)))
            )
            continue
        changes = list(
            field_changes(_comparable(current, head, currencies), _comparable(head, head, currencies))
        )
        for record in others:
            name = str(record.get("productNumber") or record["id"])
            mine = _comparable(record, record, currencies)
            theirs = held.get(str(record["id"]))
            if theirs is None:
                changes.append(FieldChange.of(name, None, "new variant"))
            else:
                changes += field_changes(_comparable(theirs, record, currencies), mine, prefix=f"{name}.")
        entries.append(PlanEntry(item.key, "update", label, tuple(changes)))
    entries += [PlanEntry(m.source_key, removal_action, m.target_id) for m in removals]
    return entries
