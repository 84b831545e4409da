"""Canonical catalog -> Webflow e-commerce (contract ``webflow.md``): pure product and SKU field data, and
writers that apply a diff through the Data API v2 with as few calls as the API allows.

A product's options are Webflow ``sku-properties``; its variants are SKUs whose ``sku-values`` name one enum
value per property. Webflow makes a product's default SKU from the first value of each property, so each
property lists the first variant's value first: the default SKU is that variant, never an invented
combination. A new product costs one create plus one call for its other SKUs. An update sends only what
changed: the product's fields (new option values are added to ``sku-properties`` in the same call, before
their SKUs), each changed SKU, and the new SKUs in one call. Webflow deletes neither products nor SKUs: a
product gone from the source is archived (or drafted), a SKU gone from it is set out of stock.

A product's mapping keeps its Webflow id and, in ``extra``, the properties and enum ids Webflow holds, each
SKU's id and the hash of what was sent. A create is written down before it is sent (``PENDING`` with the SKUs
it carries): a run killed while it was in flight is followed by one that finds the product by its SKUs and
adopts it instead of creating a twin. An update is written down too (``UNCONFIRMED``): an update that landed
without an answer is followed by one that reads the product from Webflow instead of trusting the mapping's
memory, so a source that went back to the mapped version is still sent.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from connector_pipelines.catalog.diff import changed_values
from connector_pipelines.catalog.hashing import content_hash
from connector_pipelines.catalog.models import Category, Product, Variant
from connector_pipelines.clients.http import ApiError, TransientError
from connector_pipelines.clients.webflow import WebflowClient, WebflowNotFoundError
from connector_pipelines.clients.webflow_models import (
    ItemWrite,
    ProductAndSkus,
    ProductFieldData,
    SkuFieldData,
)
from connector_pipelines.errors import PayloadError
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PENDING,
    UNCONFIRMED,
    FieldChange,
    PlanEntry,
    PublishItem,
    RecordFailure,
    WriteOutcome,
    in_flight,
)
from connector_pipelines.tenants.systems import WebflowSettings

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
PRODUCT_TYPES = {
    "physical": "ff42fee0113744f693a764e3431a9cc2",
    "digital": "f22027db68002190aef89a4a2b7ac8a1",
    "service": "c599e43b1a1c34d5a323aedf75d3adf6",
    "advanced": "b6ccc1830db4b1babeb06a9ac5f6dd76",
}
# ISO 4217 minor units that are not 2 (the rest of the world's currencies have cents).
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
GONE = "gone"  # hash of a confirmed removal whose product Webflow no longer has: the mapping is dropped


def minor_units(amount: Decimal, currency: str) -> int:
    """A price in the currency's minor unit, as Webflow takes it (``24.99`` USD -> ``2499``); a
    :class:`PayloadError` for an amount no price can be (past the decimal context's precision)."""
    exponent = _MINOR_UNITS.get(currency, 2)
    try:
        return int((amount * (Decimal(10) ** exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        raise PayloadError(f"price {amount} {currency} is out of range") from None


def slugify(text: str, limit: int = 96) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:limit].rstrip("-") or "item"


# --- what Webflow should hold (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class WebflowContext:
    """The site a tenant's products go to, read once by the reference step."""

    site_id: str
    currency: str
    categories: Mapping[str, str]  # canonical category key -> Webflow category item id
    sku_collection_id: str | None
    settings: WebflowSettings

    @property
    def publish_status(self) -> Literal["live", "staging"]:
        return "live" if self.settings.publish == "live" else "staging"


@dataclass(frozen=True)
class Desired:
    """A canonical product as Webflow should hold it."""

    fields: JsonDict  # product fieldData, without sku-properties
    properties: list[tuple[str, list[str]]]  # option names with their values, the first variant's first
    skus: dict[str, JsonDict]  # SKU -> its fieldData, without sku-values
    values: dict[str, dict[str, str]]  # SKU -> option name -> value
    order: list[str]  # the SKUs, the default (first) SKU first

    @property
    def default_sku(self) -> str:
        return self.order[0]


def _price(amount: Decimal, currency: str) -> JsonDict:
    return {"value": minor_units(amount, currency), "unit": currency, "currency": currency}


def desired(product: Product, ctx: WebflowContext, *, language: str | None = None) -> Desired:
    """What Webflow should hold for ``product``; :class:`PayloadError` names what Webflow cannot take."""
    texts = (product.texts.get(language) if language else None) or next(iter(product.texts.values()), None)
    if texts is None or not texts.name:
        raise PayloadError("the product has no name")
    if not product.variants:
        raise PayloadError("the product has no variants")
    settings = ctx.settings
    properties: dict[str, list[str]] = {}
    for variant in product.variants:
        for choice in variant.options:
            known = properties.setdefault(choice.option_name or choice.option_key, [])
            if choice.value_name not in known:
                known.append(choice.value_name)
    if len(properties) > settings.max_sku_properties:
        raise PayloadError(
            f"{len(properties)} options ({', '.join(properties)}); "
            f"Webflow allows {settings.max_sku_properties}"
        )
    for name, option_values in properties.items():
        if len(option_values) > settings.max_option_values:
            raise PayloadError(
                f"option {name!r} has {len(option_values)} values; "
                f"Webflow allows {settings.max_option_values}"
            )
    fields: JsonDict = {
        "name": texts.name,
        "slug": f"{slugify(texts.name, 80)}-{content_hash(product.key)[:6]}",
        "description": texts.description,
        "shippable": settings.product_type == "physical",
        "ec-product-type": PRODUCT_TYPES[settings.product_type],
        "category": sorted(ctx.categories[k] for k in product.category_keys if k in ctx.categories),
    }
    if settings.tax_category:
        fields["tax-category"] = settings.tax_category
    for custom in product.metafields:
        fields[custom.key] = custom.value
    images = [m.url for m in sorted(product.media, key=lambda m: m.position)]
    skus: dict[str, JsonDict] = {}
    values: dict[str, dict[str, str]] = {}
    for variant in product.variants:
        if variant.sku in skus:
            raise PayloadError(f"SKU {variant.sku} appears twice")
        skus[variant.sku] = _sku_fields(variant, texts.name, images, ctx.currency)
        values[variant.sku] = {(c.option_name or c.option_key): c.value_name for c in variant.options}
    return Desired(fields, list(properties.items()), skus, values, [v.sku for v in product.variants])


def _sku_fields(variant: Variant, name: str, images: Sequence[str], currency: str) -> JsonDict:
    price = next((p for p in variant.prices if p.min_quantity <= 1), None)
    if price is None:
        raise PayloadError(f"SKU {variant.sku} has no price")
    if price.currency != currency:
        raise PayloadError(f"SKU {variant.sku}: price in {price.currency}, the store sells in {currency}")
    label = " ".join(c.value_name for c in variant.options)
    doc: JsonDict = {
        "name": f"{name} - {label}" if label else name,
        "slug": slugify(variant.sku),
        "sku": variant.sku,
        "price": _price(price.gross, currency),
    }
    if price.list_gross is not None:
        doc["compare-at-price"] = _price(price.list_gross, currency)
    image = variant.media_keys[0] if variant.media_keys else (images[0] if images else None)
    if image:
        doc["main-image"] = image
    if variant.weight_kg is not None:
        doc["weight"] = float(variant.weight_kg)
    return doc


# --- properties as Webflow holds them -----------------------------------------------------------------------


def _enum_id(name: str, taken: set[str]) -> str:
    base = slugify(name, 60)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def merged_properties(held: Sequence[JsonDict], wanted: Sequence[tuple[str, list[str]]]) -> list[JsonDict]:
    """``sku-properties`` holding what Webflow has and what the product needs: new values are appended (a
    value Webflow holds may still be used by a SKU, so none is removed). New properties get caller ids; a
    product whose option names changed cannot be changed in place (its SKUs name the old ones)."""
    held_names = [str(p["name"]) for p in held]
    wanted_names = [name for name, _ in wanted]
    if held and sorted(held_names) != sorted(wanted_names):
        raise PayloadError(
            f"options changed from ({', '.join(held_names)}) to ({', '.join(wanted_names)}): Webflow cannot "
            "change a product's options once it has SKUs; archive it in Webflow to have it created anew"
        )
    wanted_values = dict(wanted)
    if not held:
        taken: set[str] = set()
        return [
            {
                "id": _enum_id(name, taken),
                "name": name,
                "enum": _enums([], values),
            }
            for name, values in wanted
        ]
    out = []
    for prop in held:
        enum = list(prop.get("enum") or [])
        out.append({**prop, "enum": _enums(enum, wanted_values[str(prop["name"])])})
    return out


def _enums(held: list[JsonDict], values: Sequence[str]) -> list[JsonDict]:
    names = {str(e["name"]) for e in held}
    taken = {str(e["id"]) for e in held}
    added = [
        {"id": _enum_id(value, taken), "name": value, "slug": slugify(value, 60)}
        for value in values
        if value not in names
    ]
    return [*held, *added]


def sku_values(properties: Sequence[JsonDict], values: Mapping[str, str]) -> dict[str, str]:
    """``sku-values`` of a SKU: property id -> enum id, by name, from the properties Webflow holds."""
    out: dict[str, str] = {}
    for prop in properties:
        name = str(prop["name"])
        enum = next((e for e in prop.get("enum") or [] if e["name"] == values.get(name)), None)
        if enum is None:
            raise PayloadError(f"no value {values.get(name)!r} of option {name!r} in Webflow")
        out[str(prop["id"])] = str(enum["id"])
    return out


def _sku_hash(fields: JsonDict, values: Mapping[str, str]) -> str:
    return content_hash({"fields": fields, "values": dict(values)})


# --- the writer ---------------------------------------------------------------------------------------------


class _Created(Exception):
    """A product was created and a later call for it failed."""

    def __init__(self, product_id: str, cause: Exception) -> None:
        super().__init__(str(cause))
        self.product_id, self.cause = product_id, cause


@dataclass
class WriterStats:
    products_created: int = 0
    products_updated: int = 0
    skus_created: int = 0
    skus_updated: int = 0
    skus_retired: int = 0
    adopted: int = 0
    archived: int = 0

    def metadata(self) -> dict[str, int]:
        return {f"webflow_{name}": value for name, value in vars(self).items()}


@dataclass
class _State:
    """What Webflow holds of one product, as the mapping remembers it."""

    product_id: str
    properties: list[JsonDict]
    skus: dict[str, JsonDict]  # SKU -> {"id", "hash"}
    fields_hash: str = ""
    retired: list[str] = field(default_factory=list)
    archived: bool = False

    def extra(self) -> JsonDict:
        return {
            "props": self.properties,
            "skus": self.skus,
            "fields": self.fields_hash,
            "retired": self.retired,
        }

    @classmethod
    def of(cls, row: MappingRow) -> _State:
        extra = row.extra or {}
        return cls(
            row.target_id,
            list(extra.get("props") or []),
            dict(extra.get("skus") or {}),
            str(extra.get("fields") or ""),
            list(extra.get("retired") or []),
            row.content_hash == DEACTIVATED,
        )

    @classmethod
    def read(cls, held: ProductAndSkus) -> _State:
        """The state of a product read from Webflow (hashes unknown: every SKU is sent again)."""
        data = held.product.field_data.model_dump(by_alias=True, exclude_none=True)
        return cls(
            held.product.id,
            list(data.get("sku-properties") or []),
            {s.field_data.sku: {"id": s.id, "hash": ""} for s in held.skus if s.field_data.sku},
            archived=bool(held.product.is_archived),
        )


class WebflowProductWriter:
    """Applies a product diff to a Webflow site: a :class:`~connector_pipelines.sync.publish.TargetWriter`."""

    def __init__(
        self, client: WebflowClient, ctx: WebflowContext, store: TenantStore, *, kind: str, language: str
    ) -> None:
        self.client, self.ctx, self.store, self.kind, self.language = client, ctx, store, kind, language
        self.stats = WriterStats()
        self._by_sku: dict[str, str] | None = None
        self._lock = threading.Lock()

    # --- looking up what a killed run may have created ------------------------------------------------------

    def _product_of_skus(self, skus: Iterable[str]) -> str | None:
        """The Webflow product holding any of ``skus`` (one listing of the site per writer, when needed)."""
        with self._lock:
            if self._by_sku is None:
                self._by_sku = {
                    s.field_data.sku: held.product.id
                    for held in self.client.list_products(self.ctx.site_id)
                    for s in held.skus
                    if s.field_data.sku
                }
            return next((self._by_sku[s] for s in skus if s in self._by_sku), None)

    # --- upsert ---------------------------------------------------------------------------------------------

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        outcome = WriteOutcome()
        intents = [
            MappingRow(i.key, "", PENDING, {"pending_skus": _skus_of(i.payload)})
            if i.published is None
            else in_flight(i, i.published.target_id, None)
            for i in items
            if i.published is None or i.published.content_hash not in (PENDING, UNCONFIRMED)
        ]
        self.store.put_mappings(self.kind, intents)
        for item in items:
            try:
                product = Product.model_validate(item.payload)
                want = desired(product, self.ctx, language=self.language)
                state = self._state_of(item.published, want)
                row = self._create(item.key, want) if state is None else self._update(item.key, want, state)
                outcome.confirmed.append(MappingRow(item.key, row.target_id, item.content_hash, row.extra))
            except (PayloadError, ApiError) as exc:
                outcome.failed.append(RecordFailure(item.key, _reason(exc, item.payload), None))
                if item.published is None and not isinstance(exc, TransientError):
                    # Refused for sure (4xx, or never sent) and nothing created: nothing to adopt later.
                    self.store.delete_mappings(self.kind, [item.key])
            except _Created as created:
                # The product exists, some of its SKUs may not: the next run finds it by id.
                outcome.failed.append(RecordFailure(item.key, _reason(created.cause, item.payload), None))
                self.store.put_mappings(self.kind, [MappingRow(item.key, created.product_id, PENDING)])
        return outcome

    def _state_of(self, row: MappingRow | None, want: Desired) -> _State | None:
        """What Webflow holds of a product: the mapping's memory, or (after a run that did not hear back)
        the product read by its id or found by its SKUs; ``None``: it is not there."""
        if row is None:
            return None
        if row.content_hash not in (PENDING, UNCONFIRMED):
            return _State.of(row)
        product_id = row.target_id or self._product_of_skus(want.order)
        held = self.client.get_product(self.ctx.site_id, product_id) if product_id else None
        if held is None:
            return None
        self.stats.adopted += 1
        return _State.read(held)

    def _create(self, key: str, want: Desired) -> MappingRow:
        properties = merged_properties([], want.properties)
        fields = {**want.fields, "sku-properties": properties}
        default = want.skus[want.default_sku]
        created = self.client.create_product(
            self.ctx.site_id,
            ProductFieldData.model_validate(fields),
            SkuFieldData.model_validate(default),
            publish_status=self.ctx.publish_status,
        )
        self.stats.products_created += 1
        held = created.product.field_data.model_dump(by_alias=True, exclude_none=True)
        state = _State(created.product.id, list(held.get("sku-properties") or []), {}, _fields_hash(want))
        first = created.skus[0] if created.skus else None
        if first is not None:
            state.skus[want.default_sku] = {
                "id": first.id,
                "hash": _sku_hash(default, want.values[want.default_sku]),
            }
        try:
            self._create_skus(state, want, [s for s in want.order if s not in state.skus])
        except (PayloadError, ApiError) as exc:
            raise _Created(state.product_id, exc) from exc
        return MappingRow(key, state.product_id, "", state.extra())

    def _create_skus(self, state: _State, want: Desired, new: Sequence[str]) -> None:
        if not new:
            return
        docs = [
            SkuFieldData.model_validate(
                {**want.skus[s], "sku-values": sku_values(state.properties, want.values[s])}
            )
            for s in new
        ]
        created = self.client.create_skus(
            self.ctx.site_id, state.product_id, docs, publish_status=self.ctx.publish_status
        )
        by_sku = {s.field_data.sku: s.id for s in created}
        for sku in new:
            sku_id = by_sku.get(sku)
            if sku_id is None:
                raise PayloadError(f"Webflow did not confirm SKU {sku}")
            state.skus[sku] = {"id": sku_id, "hash": _sku_hash(want.skus[sku], want.values[sku])}
        self.stats.skus_created += len(new)

    def _update(self, key: str, want: Desired, state: _State) -> MappingRow:
        properties = merged_properties(state.properties, want.properties)
        new = [s for s in want.order if s not in state.skus]
        if new and state.fields_hash:
            # A killed run may have created some of them: Webflow's SKUs are the truth (one read).
            held = self.client.get_product(self.ctx.site_id, state.product_id)
            if held is None:
                raise PayloadError(f"product {state.product_id} is gone from Webflow")
            known = _State.read(held)
            state.properties = known.properties
            properties = merged_properties(known.properties, want.properties)
            for sku in new:
                if sku in known.skus:
                    state.skus[sku] = known.skus[sku]
            new = [s for s in new if s not in state.skus]
        fields_hash = _fields_hash(want)
        if fields_hash != state.fields_hash or properties != state.properties or state.archived:
            patch: JsonDict = {**want.fields}
            if properties != state.properties:
                patch["sku-properties"] = properties
            updated = self.client.update_product(
                self.ctx.site_id,
                state.product_id,
                patch,
                is_archived=False if state.archived else None,
                is_draft=False if state.archived else None,
                publish_status=self.ctx.publish_status,
            )
            held_fields = updated.field_data.model_dump(by_alias=True, exclude_none=True)
            state.properties = list(held_fields.get("sku-properties") or properties)
            state.fields_hash = fields_hash
            state.archived = False
            self.stats.products_updated += 1
        for sku in want.order:
            if sku in new:
                continue
            digest = _sku_hash(want.skus[sku], want.values[sku])
            if state.skus[sku].get("hash") == digest and sku not in state.retired:
                continue
            doc = SkuFieldData.model_validate(
                {**want.skus[sku], "sku-values": sku_values(state.properties, want.values[sku])}
            )
            self.client.update_sku(
                self.ctx.site_id,
                state.product_id,
                str(state.skus[sku]["id"]),
                doc,
                publish_status=self.ctx.publish_status,
            )
            state.skus[sku] = {"id": state.skus[sku]["id"], "hash": digest}
            if sku in state.retired:
                state.retired.remove(sku)
                self._stock(str(state.skus[sku]["id"]), None)
            self.stats.skus_updated += 1
        self._create_skus(state, want, new)
        gone = [s for s in state.skus if s not in want.skus and s not in state.retired]
        for sku in gone:
            self._stock(str(state.skus[sku]["id"]), 0)
            state.retired.append(sku)
            self.stats.skus_retired += 1
        return MappingRow(key, state.product_id, "", state.extra())

    def _stock(self, sku_id: str, quantity: int | None) -> None:
        """Out of stock (0), or back to untracked stock (None): Webflow cannot delete a SKU."""
        if self.ctx.sku_collection_id is None:
            return
        self.client.update_inventory(self.ctx.sku_collection_id, sku_id, quantity)

    # --- remove ---------------------------------------------------------------------------------------------

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        outcome = WriteOutcome()
        removal = self.ctx.settings.removal
        for row in mappings:
            try:
                product_id = row.target_id or self._product_of_skus(
                    (row.extra or {}).get("pending_skus") or ()
                )
                if not product_id:
                    outcome.confirmed.append(MappingRow(row.source_key, "", GONE))
                    continue
                self.client.update_product(
                    self.ctx.site_id,
                    product_id,
                    {},
                    is_archived=True if removal == "archive" else None,
                    is_draft=True if removal == "draft" else None,
                    publish_status=self.ctx.publish_status,
                )
                self.stats.archived += 1
                outcome.confirmed.append(MappingRow(row.source_key, product_id, DEACTIVATED, row.extra))
            except WebflowNotFoundError:
                outcome.confirmed.append(MappingRow(row.source_key, row.target_id, GONE))
            except ApiError as exc:
                outcome.failed.append(RecordFailure(row.source_key, str(exc)))
        return outcome

    # --- plan -----------------------------------------------------------------------------------------------

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        """What upsert and remove would do, against what Webflow holds (one read per updated product)."""
        entries: list[PlanEntry] = []
        for item in items:
            product = Product.model_validate(item.payload)
            label = _label(item.payload)
            try:
                want = desired(product, self.ctx, language=self.language)
            except PayloadError as exc:
                entries.append(PlanEntry(item.key, item.action, f"{label}: would fail: {exc}"))
                continue
            row = item.published
            held = (
                self.client.get_product(self.ctx.site_id, row.target_id)
                if row is not None and row.target_id and row.content_hash != PENDING
                else None
            )
            if held is None:
                changes = [FieldChange.of(k, None, v) for k, v in want.fields.items()]
                changes += [FieldChange.of(f"sku {s}", None, want.skus[s]) for s in want.order]
                entries.append(PlanEntry(item.key, "create", label, tuple(changes)))
                continue
            entries.append(PlanEntry(item.key, "update", label, tuple(_changes(held, want))))
        archived = (FieldChange.of("isArchived", False, True),)
        entries.extend(PlanEntry(r.source_key, "deactivate", r.target_id, archived) for r in removals)
        return entries


def _changes(held: ProductAndSkus, want: Desired) -> list[FieldChange]:
    current = held.product.field_data.model_dump(by_alias=True, exclude_none=True)
    changes = [
        FieldChange.of(path, old, new)
        for path, old, new in changed_values({k: current.get(k) for k in want.fields}, want.fields)
    ]
    names = {
        str(p["name"]): [str(e["name"]) for e in p.get("enum") or []]
        for p in current.get("sku-properties") or []
    }
    for name, values in want.properties:
        have = names.get(name, [])
        added = [v for v in values if v not in have]
        if added:
            changes.append(FieldChange.of(f"sku-properties.{name}", have, [*have, *added]))
    skus = {s.field_data.sku: s.field_data.model_dump(by_alias=True, exclude_none=True) for s in held.skus}
    for sku in want.order:
        if sku not in skus:
            changes.append(FieldChange.of(f"sku {sku}", None, want.skus[sku]))
            continue
        have_sku = {k: skus[sku].get(k) for k in want.skus[sku]}
        changes.extend(
            FieldChange.of(f"sku {sku}.{path}", old, new)
            for path, old, new in changed_values(have_sku, want.skus[sku])
        )
    changes.extend(
        FieldChange.of(f"sku {s}", "listed", "out of stock") for s in skus if s and s not in want.skus
    )
    return changes


def _fields_hash(want: Desired) -> str:
    # The options are compared as Webflow holds them (merged_properties), not hashed: a value no variant
    # uses any more stays in Webflow, and is no change.
    return content_hash(want.fields)


def _skus_of(payload: Mapping[str, Any]) -> list[str]:
    return [str(v["sku"]) for v in payload.get("variants") or ()]


def _label(payload: Mapping[str, Any]) -> str:
    skus = _skus_of(payload)
    texts: Mapping[str, Mapping[str, Any]] = payload.get("texts") or {}
    name = next((str(t.get("name") or "") for t in texts.values()), "")
    return f"{skus[0] if skus else ''} {name}".strip()


def _reason(exc: Exception, payload: Mapping[str, Any]) -> str:
    label = _label(payload)
    return f"{label}: {exc}" if label else str(exc)


# --- categories ---------------------------------------------------------------------------------------------


class WebflowCategoryWriter:
    """Categories as items of the site's category collection; parents are created before their children
    (a batch holds the whole tree), and a category gone from the source is deleted."""

    def __init__(self, client: WebflowClient, collection_id: str, *, language: str, live: bool) -> None:
        self.client, self.collection_id, self.language, self.live = client, collection_id, language, live

    def _fields(self, category: Category, ids: Mapping[str, str]) -> JsonDict:
        name = category.names.get(self.language) or next(iter(category.names.values()), category.key)
        doc: JsonDict = {"name": name, "slug": f"{slugify(name, 80)}-{content_hash(category.key)[:6]}"}
        if category.parent_key and category.parent_key in ids:
            doc["parent-category"] = ids[category.parent_key]
        return doc

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        """One create call and one update call per level of the tree (parents first)."""
        outcome = WriteOutcome()
        categories = {i.key: Category.model_validate(i.payload) for i in items}
        ids = {
            i.key: i.published.target_id for i in items if i.published is not None and i.published.target_id
        }
        levels: dict[int, list[PublishItem]] = {}
        for item in items:
            levels.setdefault(_depth(categories, item.key), []).append(item)
        for _, level in sorted(levels.items()):
            new = [i for i in level if i.key not in ids]
            old = [i for i in level if i.key in ids]
            try:
                if new:
                    docs = [
                        ItemWrite(
                            field_data=self._fields(categories[i.key], ids), is_draft=False, is_archived=False
                        )
                        for i in new
                    ]
                    created = self.client.create_items(self.collection_id, docs, live=self.live)
                    ids.update((i.key, c.id) for i, c in zip(new, created, strict=True))
                if old:
                    self.client.update_items(
                        self.collection_id,
                        [
                            ItemWrite.model_validate(
                                {"id": ids[i.key], "fieldData": self._fields(categories[i.key], ids)}
                            )
                            for i in old
                        ],
                    )
            except ApiError as exc:
                outcome.failed.extend(
                    RecordFailure(i.key, f"category: {exc}") for i in level if i.key not in ids
                )
                outcome.failed.extend(RecordFailure(i.key, f"category: {exc}") for i in old)
                continue
            outcome.confirmed.extend(MappingRow(i.key, ids[i.key], i.content_hash) for i in level)
        return outcome

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        ids = [m.target_id for m in mappings if m.target_id]
        if ids:
            self.client.delete_items(self.collection_id, ids)
        return WriteOutcome(confirmed=[MappingRow(m.source_key, m.target_id, GONE) for m in mappings])

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        entries = [
            PlanEntry(i.key, i.action, str(i.payload.get("names", {}).get(self.language) or i.key))
            for i in items
        ]
        entries.extend(PlanEntry(m.source_key, "delete", m.target_id) for m in removals)
        return entries


def _depth(categories: Mapping[str, Category], key: str) -> int:
    depth, seen = 0, set()
    current = categories.get(key)
    while current is not None and current.parent_key and current.parent_key not in seen:
        seen.add(current.parent_key)
        depth += 1
        current = categories.get(current.parent_key)
    return depth
