"""Canonical reference data -> Shopware 6: categories, manufacturers, units and property groups (the
options), as pure payloads and the writer that publishes them before the products that link them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector_pipelines.catalog.models import (
    Category,
    Manufacturer,
    Option,
    Unit,
)
from connector_pipelines.clients.http import JsonValue
from connector_pipelines.clients.shopware6 import (
    Shopware6Client,
    SyncOperation,
    SyncUnit,
)
from connector_pipelines.store.repositories import MappingRow
from connector_pipelines.sync.publish import (
    PlanEntry,
    PublishItem,
    RecordFailure,
    WriteOutcome,
    in_flight,
)
from connector_pipelines.targets.shopware6 import (
    MAX_RECORDS_PER_REQUEST,
    ShopwareContext,
    describe_errors,
    named,
)
from connector_pipelines.targets.shopware6_plan import plan_records


def category_payload(category: Category, ctx: ShopwareContext) -> dict[str, JsonValue]:
    parent = ctx.id_for(category.parent_key) if category.parent_key else ctx.navigation_category_id or None
    return {
        "id": ctx.id_for(category.key),
        "parentId": parent,
        **named(category.names, ctx),
        "active": category.active,
        "visible": True,
        "type": "page",
    }


def manufacturer_payload(manufacturer: Manufacturer, ctx: ShopwareContext) -> dict[str, JsonValue]:
    payload: dict[str, JsonValue] = {"id": ctx.id_for(manufacturer.key), "name": manufacturer.name}
    if manufacturer.url:
        payload["link"] = manufacturer.url
    return payload


def unit_payload(unit: Unit, ctx: ShopwareContext) -> dict[str, JsonValue]:
    payload: dict[str, JsonValue] = {
        "id": ctx.id_for(unit.key),
        "shortCode": unit.code,
        **named(unit.names, ctx),
    }
    translations = payload.get("translations")
    if isinstance(translations, dict):
        # shortCode is translated as well: the code, in every language
        for values in translations.values():
            if isinstance(values, dict):
                values["shortCode"] = unit.code
    return payload


def property_group_payload(option: Option, ctx: ShopwareContext) -> dict[str, JsonValue]:
    group_id = ctx.id_for(option.key)
    return {
        "id": group_id,
        **named(option.names, ctx),
        "displayType": "text",
        "sortingType": "position",
        "position": option.position,
        "options": [
            {
                "id": ctx.id_for(v.key),
                "groupId": group_id,
                **named(v.names, ctx),
                "position": v.position,
            }
            for v in option.values
        ],
    }


@dataclass(frozen=True)
class ReferenceKind:
    """How one kind of reference data becomes a Shopware entity."""

    entity: str
    parse: Callable[[Any], Any]
    payload: Callable[[Any, ShopwareContext], dict[str, JsonValue]]
    depth: Callable[[Any], int] = lambda record: 0


def _category_depth(categories: Mapping[str, Category]) -> Callable[[Category], int]:
    def depth(category: Category) -> int:
        level, parent, seen = 0, category.parent_key, set()
        while parent and parent in categories and parent not in seen:
            seen.add(parent)
            level += 1
            parent = categories[parent].parent_key
        return level

    return depth


REFERENCE_KINDS: dict[str, ReferenceKind] = {
    "category": ReferenceKind("category", Category.model_validate, category_payload),
    "manufacturer": ReferenceKind("product_manufacturer", Manufacturer.model_validate, manufacturer_payload),
    "unit": ReferenceKind("unit", Unit.model_validate, unit_payload),
    "option": ReferenceKind("property_group", Option.model_validate, property_group_payload),
}


class ReferenceWriter:
    """Upserts one kind of reference data; categories parents first, in one transaction per batch."""

    def __init__(
        self,
        client: Shopware6Client,
        ctx: ShopwareContext,
        kind: str,
        categories: Mapping[str, Category] | None = None,
    ) -> None:
        self.client = client
        self.ctx = ctx
        self.kind = REFERENCE_KINDS[kind]
        self._depth = _category_depth(categories or {}) if kind == "category" else self.kind.depth

    def _units(
        self, items: Sequence[PublishItem]
    ) -> list[tuple[PublishItem, SyncUnit, dict[str, JsonValue]]]:
        records = [(item, self.kind.parse(item.payload)) for item in items]
        records.sort(key=lambda pair: self._depth(pair[1]))
        out = []
        for item, record in records:
            payload = self.kind.payload(record, self.ctx)
            operations = [
                SyncOperation.model_construct(entity=self.kind.entity, action="upsert", payload=[payload])
            ]
            stale = _stale_options(item, payload)
            if stale:
                operations.append(
                    SyncOperation(
                        entity="property_group_option", action="delete", payload=[{"id": i} for i in stale]
                    )
                )
            out.append((item, SyncUnit.model_construct(key=item.key, operations=operations), payload))
        return out

    def intents(self, items: Sequence[PublishItem]) -> list[MappingRow]:
        return [
            in_flight(item, str(payload["id"]), _reference_extra(payload))
            for item, _, payload in self._units(items)
        ]

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        units = self._units(items)
        report = self.client.sync_units(
            [u for _, u, _ in units], max_records_per_request=MAX_RECORDS_PER_REQUEST
        )
        written = set(report.written)
        outcome = WriteOutcome(
            failed=[RecordFailure(f.key, describe_errors(f.errors), None) for f in report.failed]
        )
        for item, _, payload in units:
            if item.key in written:
                extra = _reference_extra(payload)
                outcome.confirmed.append(MappingRow(item.key, str(payload["id"]), item.content_hash, extra))
        return outcome

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        self.client.delete(self.kind.entity, [m.target_id for m in mappings])
        return WriteOutcome(confirmed=list(mappings))

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        records = [(item, [self.kind.payload(self.kind.parse(item.payload), self.ctx)]) for item in items]
        return plan_records(
            self.client, self.kind.entity, records, removals, "delete", self.ctx.currency_names
        )


def _reference_extra(payload: Mapping[str, JsonValue]) -> dict[str, Any] | None:
    """What a reference record's mapping remembers: the options of a property group (to remove stale ones)."""
    options = payload.get("options")
    return (
        {"options": [o["id"] for o in options if isinstance(o, dict)]} if isinstance(options, list) else None
    )


def _stale_options(item: PublishItem, payload: Mapping[str, JsonValue]) -> list[str]:
    if item.published is None or not item.published.extra or "options" not in payload:
        return []
    current = {o["id"] for o in payload["options"]}
    return [i for i in item.published.extra.get("options", []) if i not in current]
