"""Canonical catalog -> Shopware 6: pure payload builders and writers that apply a diff through the client.

Ids are deterministic (md5 of tenant and source key, contract §9), so every write is an idempotent upsert and
a run killed half-way converges when started again. Shopware never removes associations by omission, so the
ids a product was last published with are kept in its mapping and stale links are deleted explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from connector_pipelines.catalog.diff import changed_fields
from connector_pipelines.catalog.models import Category, Manufacturer, Option, Price, Product, Unit, Variant
from connector_pipelines.clients.http import JsonValue
from connector_pipelines.clients.shopware6 import (
    Criteria,
    Entity,
    Shopware6Client,
    SyncOperation,
    SyncUnit,
    shopware_id,
)
from connector_pipelines.errors import PayloadError
from connector_pipelines.store.repositories import MappingRow
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PENDING,
    PlanEntry,
    PublishItem,
    RecordFailure,
    WriteOutcome,
)

DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"
VISIBILITY_ALL = 30
MAX_RECORDS_PER_REQUEST = 5000
# Operations below are built with model_construct: their payloads are our own, already well formed, and
# validating every nested JSON value again cost a tenth of a full sync.


@dataclass(frozen=True)
class ShopwareContext:
    """Facts about one tenant's Shopware, looked up once per run."""

    tenant: str
    lang: str
    sales_channel_id: str
    navigation_category_id: str
    currency_ids: Mapping[str, str]
    default_currency: str
    tax_ids: Mapping[Decimal, str]
    deletion: Literal["delete", "deactivate"] = "delete"

    def id_for(self, source_key: str) -> str:
        return shopware_id(self.tenant, source_key)


def load_context(
    client: Shopware6Client,
    *,
    tenant: str,
    lang: str,
    sales_channel_name: str,
    deletion: Literal["delete", "deactivate"],
    currency_map: Mapping[str, str] | None = None,
) -> ShopwareContext:
    currencies = list(client.iter_search("currency"))
    by_iso = {str(c.model_extra.get("isoCode")): str(c.id) for c in currencies if c.model_extra}
    default = next((iso for iso, cid in by_iso.items() if cid == DEFAULT_CURRENCY_ID), None)
    if default is None:
        raise PayloadError("Shopware has no system default currency")
    for source_iso, target_iso in (currency_map or {}).items():
        if target_iso in by_iso:
            by_iso[source_iso] = by_iso[target_iso]
    taxes = {
        Decimal(str(t.model_extra["taxRate"])).normalize(): str(t.id)
        for t in client.iter_search("tax")
        if t.model_extra and t.model_extra.get("taxRate") is not None
    }
    channels = list(client.iter_search("sales_channel"))
    channel = next((c for c in channels if _name(c) == sales_channel_name), None)
    if channel is None:
        known = ", ".join(sorted(_name(c) for c in channels)) or "none"
        raise PayloadError(f"Shopware has no sales channel named '{sales_channel_name}' (known: {known})")
    extra = channel.model_extra or {}
    return ShopwareContext(
        tenant=tenant,
        lang=lang,
        sales_channel_id=str(channel.id),
        navigation_category_id=str(extra.get("navigationCategoryId") or ""),
        currency_ids=by_iso,
        default_currency=default,
        tax_ids=taxes,
        deletion=deletion,
    )


def _name(entity: Entity) -> str:
    extra = entity.model_extra or {}
    translated = extra.get("translated") or {}
    return str(extra.get("name") or translated.get("name") or "")


def _pick(names: Mapping[str, str], lang: str) -> str:
    return names.get(lang) or next(iter(names.values()), "")


# --- reference data -----------------------------------------------------------------------------------------


def category_payload(category: Category, ctx: ShopwareContext) -> dict[str, JsonValue]:
    parent = ctx.id_for(category.parent_key) if category.parent_key else ctx.navigation_category_id or None
    return {
        "id": ctx.id_for(category.key),
        "parentId": parent,
        "name": _pick(category.names, ctx.lang),
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
    return {"id": ctx.id_for(unit.key), "shortCode": unit.code, "name": _pick(unit.names, ctx.lang)}


def property_group_payload(option: Option, ctx: ShopwareContext) -> dict[str, JsonValue]:
    group_id = ctx.id_for(option.key)
    return {
        "id": group_id,
        "name": _pick(option.names, ctx.lang),
        "displayType": "text",
        "sortingType": "position",
        "position": option.position,
        "options": [
            {
                "id": ctx.id_for(v.key),
                "groupId": group_id,
                "name": _pick(v.names, ctx.lang),
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

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        units = self._units(items)
        report = self.client.sync_units(
            [u for _, u, _ in units], max_records_per_request=MAX_RECORDS_PER_REQUEST
        )
        written = set(report.written)
        outcome = WriteOutcome(
            failed=[RecordFailure(f.key, _describe(f.errors), None) for f in report.failed]
        )
        for item, _, payload in units:
            if item.key in written:
                extra = (
                    {"options": [o["id"] for o in payload.get("options", [])]}
                    if "options" in payload
                    else None
                )
                outcome.confirmed.append(MappingRow(item.key, str(payload["id"]), item.content_hash, extra))
        return outcome

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        self.client.delete(self.kind.entity, [m.target_id for m in mappings])
        return WriteOutcome(confirmed=list(mappings))

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        payloads = [(item, self.kind.payload(self.kind.parse(item.payload), self.ctx)) for item in items]
        return _plan(self.client, self.kind.entity, payloads, removals, "delete")


def _stale_options(item: PublishItem, payload: Mapping[str, JsonValue]) -> list[str]:
    if item.published is None or not item.published.extra or "options" not in payload:
        return []
    current = {o["id"] for o in payload["options"]}
    return [i for i in item.published.extra.get("options", []) if i not in current]


# --- products -----------------------------------------------------------------------------------------------


def _price_payload(
    prices: Sequence[Price], ctx: ShopwareContext, tax_rate: Decimal, where: str
) -> list[JsonValue]:
    out: list[JsonValue] = []
    for price in prices:
        net = (
            price.net
            if price.net is not None
            else (price.gross / (1 + tax_rate / 100)).quantize(Decimal("0.01"))
        )
        currency_id = ctx.currency_ids.get(price.currency)
        if currency_id is None:
            continue  # a currency this shop does not sell in
        entry: dict[str, JsonValue] = {
            "currencyId": currency_id,
            "gross": float(price.gross),
            "net": float(net),
            "linked": False,
        }
        if price.list_gross is not None:
            ratio = net / price.gross if price.gross else Decimal(1)
            entry["listPrice"] = {
                "gross": float(price.list_gross),
                "net": float((price.list_gross * ratio).quantize(Decimal("0.01"))),
                "linked": False,
            }
        out.append(entry)
    if not any(p["currencyId"] == DEFAULT_CURRENCY_ID for p in out):
        raise PayloadError(f"{where} has no price in the shop's default currency {ctx.default_currency}")
    return out


def _variant_fields(variant: Variant) -> dict[str, JsonValue]:
    fields: dict[str, JsonValue] = {
        "productNumber": variant.sku,
        "active": variant.active,
        "stock": variant.stock,
    }
    if variant.barcode:
        fields["ean"] = variant.barcode
    if variant.weight_kg is not None:
        fields["weight"] = float(variant.weight_kg)
    for name, value in (
        ("width", variant.width_mm),
        ("height", variant.height_mm),
        ("length", variant.length_mm),
    ):
        if value is not None:
            fields[name] = value
    return fields


def is_single(product: Product) -> bool:
    return len(product.variants) == 1 and not product.variants[0].options


@dataclass(frozen=True)
class ProductPayload:
    """The records of one product and the ids to remember for removing stale links next time."""

    parent: dict[str, JsonValue]
    children: list[dict[str, JsonValue]]
    extra: dict[str, Any]


def product_payload(
    product: Product, ctx: ShopwareContext, mapped_references: Mapping[str, set[str]]
) -> ProductPayload:
    """Parent (or single) product with its variants. ``mapped_references`` holds the source keys of the
    reference data Shopware already has, per kind; a reference it lacks is a PayloadError, not an FK 500."""
    if not product.variants:
        raise PayloadError(f"{product.key} has no variants")
    product_id = ctx.id_for(product.key)
    tax_id = ctx.tax_ids.get(product.tax_rate.normalize())
    if tax_id is None:
        raise PayloadError(f"{product.key}: Shopware has no tax with rate {product.tax_rate}%")
    texts = product.texts.get(ctx.lang) or next(iter(product.texts.values()))
    categories = [c for c in product.category_keys if c in mapped_references.get("category", set())]
    parent: dict[str, JsonValue] = {
        "id": product_id,
        "name": texts.name,
        "description": texts.description,
        "metaDescription": texts.meta_description,
        "keywords": texts.keywords,
        "taxId": tax_id,
        "active": product.active,
        "categories": [{"id": ctx.id_for(c)} for c in categories],
        "visibilities": [
            {
                "id": shopware_id(product_id, ctx.sales_channel_id),
                "productId": product_id,
                "salesChannelId": ctx.sales_channel_id,
                "visibility": VISIBILITY_ALL,
            }
        ],
    }
    for field_name, ref, kind in (
        ("manufacturerId", product.manufacturer_key, "manufacturer"),
        ("unitId", product.unit_key, "unit"),
    ):
        if ref is not None:
            if ref not in mapped_references.get(kind, set()):
                raise PayloadError(f"{product.key}: {kind} {ref} is not in Shopware yet")
            parent[field_name] = ctx.id_for(ref)
    if product.unit_content is not None:
        parent["purchaseUnit"] = float(product.unit_content)
    first = product.variants[0]
    extra: dict[str, Any] = {"categories": [ctx.id_for(c) for c in categories]}
    if is_single(product):
        parent.update(_variant_fields(first))
        parent["price"] = _price_payload(first.prices, ctx, product.tax_rate, f"{product.key} ({first.sku})")
        return ProductPayload(parent, [], extra)

    known_values = mapped_references.get("option_value", set())
    parent["productNumber"] = f"P-{product.key.rsplit(':', 1)[1]}"
    parent["stock"] = sum(v.stock for v in product.variants)
    parent["price"] = _price_payload(first.prices, ctx, product.tax_rate, f"{product.key} ({first.sku})")
    option_ids: dict[str, int] = {}
    children = []
    for variant in product.variants:
        missing = [c.value_key for c in variant.options if c.value_key not in known_values]
        if missing:
            raise PayloadError(
                f"{product.key} ({variant.sku}): option value(s) {', '.join(missing)} not in Shopware yet"
            )
        child_options = [ctx.id_for(c.value_key) for c in variant.options]
        for position, option_id in enumerate(child_options):
            option_ids.setdefault(option_id, position)
        child: dict[str, JsonValue] = {
            "id": ctx.id_for(variant.key),
            "parentId": product_id,
            **_variant_fields(variant),
            "price": _price_payload(variant.prices, ctx, product.tax_rate, f"{product.key} ({variant.sku})"),
            "options": [{"id": o} for o in child_options],
        }
        children.append(child)
    parent["configuratorSettings"] = [
        {"id": shopware_id(product_id, option_id), "optionId": option_id, "position": position}
        for option_id, position in option_ids.items()
    ]
    extra["children"] = {str(c["id"]): [o["id"] for o in c["options"]] for c in children}
    extra["configurator"] = [s["id"] for s in parent["configuratorSettings"]]
    return ProductPayload(parent, children, extra)


def stale_link_operations(
    product_id: str, payload: ProductPayload, previous: Mapping[str, Any] | None
) -> list[SyncOperation]:
    """Deletes for what the last published version had and this one does not (Shopware keeps it otherwise)."""
    if not previous:
        return []
    ops: list[SyncOperation] = []
    gone_categories = set(previous.get("categories", [])) - set(payload.extra["categories"])
    if gone_categories:
        ops.append(
            SyncOperation(
                entity="product_category",
                action="delete",
                payload=[{"productId": product_id, "categoryId": c} for c in sorted(gone_categories)],
            )
        )
    old_children: Mapping[str, list[str]] = previous.get("children", {})
    new_children: Mapping[str, list[str]] = payload.extra.get("children", {})
    gone_children = sorted(set(old_children) - set(new_children))
    if gone_children:
        ops.append(
            SyncOperation.model_construct(
                entity="product", action="delete", payload=[{"id": c} for c in gone_children]
            )
        )
    option_links: list[dict[str, JsonValue]] = [
        {"productId": child, "optionId": o}
        for child, options in new_children.items()
        for o in sorted(set(old_children.get(child, [])) - set(options))
    ]
    if option_links:
        ops.append(
            SyncOperation.model_construct(entity="product_option", action="delete", payload=option_links)
        )
    gone_settings = sorted(set(previous.get("configurator", [])) - set(payload.extra.get("configurator", [])))
    if gone_settings:
        ops.append(
            SyncOperation.model_construct(
                entity="product_configurator_setting",
                action="delete",
                payload=[{"id": s} for s in gone_settings],
            )
        )
    return ops


def _describe(errors: Sequence[Any]) -> str:
    return "; ".join(e.describe() for e in errors) or "rejected by Shopware"


class ProductWriter:
    def __init__(
        self, client: Shopware6Client, ctx: ShopwareContext, mapped_references: Mapping[str, set[str]]
    ) -> None:
        self.client = client
        self.ctx = ctx
        self.mapped_references = mapped_references

    def _build(
        self, items: Sequence[PublishItem]
    ) -> tuple[list[tuple[PublishItem, ProductPayload, SyncUnit]], list[RecordFailure]]:
        built, failed = [], []
        for item in items:
            product = Product.model_validate(item.payload)
            try:
                payload = product_payload(product, self.ctx, self.mapped_references)
            except PayloadError as exc:
                failed.append(
                    RecordFailure(item.key, str(exc), {"sku": [v.sku for v in product.variants][:10]})
                )
                continue
            product_id = str(payload.parent["id"])
            operations = [
                SyncOperation.model_construct(
                    entity="product", action="upsert", payload=[payload.parent, *payload.children]
                )
            ]
            operations += stale_link_operations(
                product_id, payload, item.published.extra if item.published else None
            )
            built.append((item, payload, SyncUnit.model_construct(key=item.key, operations=operations)))
        return built, failed

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        built, failed = self._build(items)
        report = self.client.sync_units(
            [u for _, _, u in built], max_records_per_request=MAX_RECORDS_PER_REQUEST
        )
        outcome = WriteOutcome(failed=failed)
        rejected = {f.key: f for f in report.failed}
        for item, payload, _ in built:
            if item.key in rejected:
                outcome.failed.append(
                    RecordFailure(
                        item.key,
                        _describe(rejected[item.key].errors),
                        {"productNumber": payload.parent.get("productNumber")},
                    )
                )
            else:
                outcome.confirmed.append(
                    MappingRow(item.key, str(payload.parent["id"]), item.content_hash, payload.extra)
                )
        return outcome

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        # A create never confirmed may not exist: deactivating would upsert a bare product. It is deleted.
        unconfirmed = [m for m in mappings if m.content_hash == PENDING]
        if unconfirmed:
            self.client.delete("product", [m.target_id for m in unconfirmed])
        published = [m for m in mappings if m.content_hash != PENDING]
        if self.ctx.deletion == "deactivate":
            records: list[dict[str, JsonValue]] = []
            for m in published:
                records.append({"id": m.target_id, "active": False})
                records.extend({"id": c, "active": False} for c in (m.extra or {}).get("children", {}))
            if records:
                self.client.sync(
                    [SyncOperation.model_construct(entity="product", action="upsert", payload=records)]
                )
            deactivated = [MappingRow(m.source_key, m.target_id, DEACTIVATED, m.extra) for m in published]
            return WriteOutcome(confirmed=unconfirmed + deactivated)
        # Deleting a parent deletes its variants in Shopware.
        self.client.delete("product", [m.target_id for m in published])
        return WriteOutcome(confirmed=list(mappings))

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        built, failed = self._build(items)
        entries = _plan(
            self.client,
            "product",
            [(item, payload.parent) for item, payload, _ in built],
            removals,
            "deactivate" if self.ctx.deletion == "deactivate" else "delete",
        )
        entries += [PlanEntry(f.key, "update", f"cannot be sent: {f.reason}") for f in failed]
        return entries


_COMPARED_LISTS = {"categories", "visibilities", "configuratorSettings", "options", "price"}


def _comparable(doc: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    out = {}
    for k in keys:
        value = doc.get(k)
        if k in _COMPARED_LISTS and isinstance(value, list):
            value = sorted(
                (
                    {kk: vv for kk, vv in v.items() if kk in ("id", "currencyId", "gross", "net", "optionId")}
                    if isinstance(v, dict)
                    else v
                    for v in value
                ),
                key=lambda v: str(v),
            )
        out[k] = value
    return out


def _plan(
    client: Shopware6Client,
    entity: str,
    payloads: Sequence[tuple[PublishItem, Mapping[str, JsonValue]]],
    removals: Sequence[MappingRow],
    removal_action: Literal["delete", "deactivate"],
) -> list[PlanEntry]:
    ids = [str(p["id"]) for _, p in payloads]
    existing: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        criteria = Criteria(
            ids=ids[start : start + 500],
            associations={
                "categories": Criteria(),
                "visibilities": Criteria(),
                "configuratorSettings": Criteria(),
            }
            if entity == "product"
            else None,
        )
        for found in client.search(entity, criteria).data:
            existing[str(found.id)] = dict(found.model_extra or {}) | {"id": found.id}
    entries = []
    for item, payload in payloads:
        label = str(payload.get("productNumber") or payload.get("name") or "")
        current = existing.get(str(payload["id"]))
        if current is None:
            entries.append(PlanEntry(item.key, "create", label, tuple(sorted(payload))))
            continue
        keys = [k for k in payload if k != "id"]
        entries.append(
            PlanEntry(
                item.key,
                "update",
                label,
                tuple(changed_fields(_comparable(current, keys), _comparable(payload, keys))),
            )
        )
    entries += [PlanEntry(m.source_key, removal_action, m.target_id) for m in removals]
    return entries
