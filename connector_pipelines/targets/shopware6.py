"""Canonical catalog -> Shopware 6: pure payload builders and writers that apply a diff through the client.

Ids are deterministic (md5 of tenant and source key, contract §9), so every write is an idempotent upsert and
a run killed half-way converges when started again. Shopware never removes associations by omission, so the
ids a product was last published with are kept in its mapping and stale links are deleted explicitly.

Texts go to the system language (plain fields) and, as ``translations``, to every other language of the
tenant's sales channel; a language a product no longer has texts in gets its translation reset (null texts
fall back to the system language's), as Shopware keeps a translation until it is written. Tier and
customer-group prices become advanced prices (``prices``) under the rules the settings name. Images: a
product's sync unit creates their media entities (one per file content) and links them (order and cover
kept); :class:`MediaWriter` uploads the files by URL, one request each. Reference data (categories,
manufacturers, units, property groups) is in ``shopware6_reference.py``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from connector_pipelines.catalog.models import (
    Media,
    Price,
    Product,
    Texts,
    Variant,
)
from connector_pipelines.clients.http import ApiError, JsonValue
from connector_pipelines.clients.shopware6 import (
    SYSTEM_LANGUAGE_ID,
    Criteria,
    Entity,
    Filter,
    Shopware6Client,
    SyncOperation,
    SyncUnit,
    shopware_id,
)
from connector_pipelines.errors import PayloadError, TransientError
from connector_pipelines.store.repositories import MappingRow
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PENDING,
    PlanEntry,
    PublishItem,
    RecordFailure,
    WriteOutcome,
    in_flight,
)
from connector_pipelines.targets.shopware6_plan import plan_records

DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"
VISIBILITY_ALL = 30
MAX_RECORDS_PER_REQUEST = 5000
# Raised whenever the payloads change shape, so that every record is published once more in the new one.
PAYLOAD_VERSION = "2"
PRODUCT_MEDIA_FOLDER = "Product Media"  # Shopware's default folder of product images (thumbnail sizes)
T = TypeVar("T")
CENT = Decimal("0.01")
# Operations below are built with model_construct: their payloads are our own, already well formed, and
# validating every nested JSON value again cost a tenth of a full sync.


@functools.lru_cache(maxsize=65536)
def _shared_id(tenant: str, source_key: str) -> str:
    return shopware_id(tenant, source_key)


@dataclass(frozen=True)
class ShopwareContext:
    """Facts about one tenant's Shopware, looked up once per run."""

    tenant: str
    lang: str  # the tenant's main language (ISO 639-1): texts of a language Shopware has none for
    sales_channel_id: str
    navigation_category_id: str
    currency_ids: Mapping[str, str]
    default_currency: str
    tax_ids: Mapping[Decimal, str]
    deletion: Literal["delete", "deactivate"] = "delete"
    # The sales channel's languages: language id -> ISO 639-1 code; and the system language's code.
    languages: Mapping[str, str] = field(default_factory=dict)
    system_language: str = ""
    # Customer group ('' = every customer) -> id of the rule its advanced prices are for; rule names the
    # settings give that Shopware does not have (those prices are left out).
    rules: Mapping[str, str] = field(default_factory=dict)
    missing_rules: tuple[str, ...] = ()
    media_folder_id: str | None = None

    def id_for(self, source_key: str) -> str:
        return shopware_id(self.tenant, source_key)

    def shared_id(self, source_key: str) -> str:
        """:meth:`id_for` of a record many products name (a category, manufacturer, unit or option value),
        remembered: a full sync would work each out again for every product or variant naming it."""
        return _shared_id(self.tenant, source_key)

    @property
    def currency_names(self) -> dict[str, str]:
        """Currency id -> ISO code (the first in order, when several codes map to one currency)."""
        return {cid: iso for iso, cid in sorted(self.currency_ids.items(), reverse=True)}

    @property
    def text_languages(self) -> tuple[str, ...]:
        """The languages (ISO 639-1) whose texts the payloads use."""
        return tuple(sorted({self.lang, *self.languages.values(), *filter(None, [self.system_language])}))

    @property
    def version(self) -> str:
        """What shapes the payloads besides the records: a change publishes every record once more."""
        parts = [
            PAYLOAD_VERSION,
            self.lang,
            self.sales_channel_id,
            self.navigation_category_id,
            self.system_language,
            self.media_folder_id or "",
            *sorted(f"language {k}={v}" for k, v in self.languages.items()),
            *sorted(f"rule {k}={v}" for k, v in self.rules.items()),
            *sorted(f"currency {k}={v}" for k, v in self.currency_ids.items()),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def language_code(locale: str) -> str:
    """ISO 639-1 code of a Shopware locale code (``de-DE`` -> ``de``)."""
    return locale.split("-", 1)[0].lower()


def load_context(
    client: Shopware6Client,
    *,
    tenant: str,
    lang: str,
    sales_channel_name: str,
    deletion: Literal["delete", "deactivate"],
    currency_map: Mapping[str, str] | None = None,
    customer_group_rules: Mapping[str, str] | None = None,
    tier_price_rule: str | None = None,
) -> ShopwareContext:
    """``customer_group_rules``: source customer group -> rule name; ``tier_price_rule``: the rule name of
    quantity prices open to every customer (advanced prices need a rule)."""
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
    channels = list(client.iter_search("sales_channel", Criteria(associations={"languages": Criteria()})))
    channel = next((c for c in channels if _name(c) == sales_channel_name), None)
    if channel is None:
        known = ", ".join(sorted(_name(c) for c in channels)) or "none"
        raise PayloadError(f"Shopware has no sales channel named '{sales_channel_name}' (known: {known})")
    extra = channel.model_extra or {}
    locales = {
        str(language.id): language_code(str((language.model_extra or {}).get("locale", {}).get("code", "")))
        for language in client.iter_search("language", Criteria(associations={"locale": Criteria()}))
    }
    channel_languages = {
        str(entry["id"]) for entry in extra.get("languages") or [] if isinstance(entry, dict)
    }
    folders = client.search(
        "media_folder", Criteria(filter=[Filter.equals("name", PRODUCT_MEDIA_FOLDER)], limit=1)
    ).data
    wanted = {**(customer_group_rules or {}), **({"": tier_price_rule} if tier_price_rule else {})}
    rule_ids = _rule_ids(client, sorted(set(wanted.values())))
    return ShopwareContext(
        tenant=tenant,
        lang=lang,
        sales_channel_id=str(channel.id),
        navigation_category_id=str(extra.get("navigationCategoryId") or ""),
        currency_ids=by_iso,
        default_currency=default,
        tax_ids=taxes,
        deletion=deletion,
        languages={i: locales[i] for i in sorted(channel_languages) if locales.get(i)},
        system_language=locales.get(SYSTEM_LANGUAGE_ID, ""),
        rules={group: rule_ids[name] for group, name in wanted.items() if name in rule_ids},
        missing_rules=tuple(sorted({name for name in wanted.values() if name not in rule_ids})),
        media_folder_id=str(folders[0].id) if folders else None,
    )


def _rule_ids(client: Shopware6Client, names: Sequence[str]) -> dict[str, str]:
    if not names:
        return {}
    criteria = Criteria(filter=[Filter.equals_any("name", list(names))])
    return {_name(rule): str(rule.id) for rule in client.iter_search("rule", criteria)}


def _name(entity: Entity) -> str:
    extra = entity.model_extra or {}
    translated = extra.get("translated") or {}
    return str(extra.get("name") or translated.get("name") or "")


def localized(values: Mapping[str, T], ctx: ShopwareContext) -> tuple[T, dict[str, T]]:
    """The value for Shopware's plain fields (its system language: its own, else the tenant's main language;
    every entity needs one) and the values of the sales channel's other languages, by language id."""
    base = values.get(ctx.system_language) or values.get(ctx.lang) or next(iter(values.values()))
    others = {
        language: values[code]
        for language, code in ctx.languages.items()
        if language != SYSTEM_LANGUAGE_ID and code in values
    }
    return base, others


def named(names: Mapping[str, str], ctx: ShopwareContext, field_name: str = "name") -> dict[str, JsonValue]:
    """``name`` (or ``field_name``) in the system language, with ``translations`` for the other languages."""
    if not names:
        return {field_name: ""}
    base, others = localized(names, ctx)
    payload: dict[str, JsonValue] = {field_name: base}
    if others:
        payload["translations"] = {language: {field_name: name} for language, name in others.items()}
    return payload


# --- products -----------------------------------------------------------------------------------------------


def _net(price: Price, tax_rate: Decimal) -> Decimal:
    return price.net if price.net is not None else (price.gross / (1 + tax_rate / 100)).quantize(CENT)


def _price_entry(price: Price, currency_id: str, tax_rate: Decimal) -> dict[str, JsonValue]:
    net = _net(price, tax_rate)
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
            "net": float((price.list_gross * ratio).quantize(CENT)),
            "linked": False,
        }
    return entry


def _price_payload(
    prices: Sequence[Price], ctx: ShopwareContext, tax_rate: Decimal, where: str
) -> list[JsonValue]:
    # A currency this shop does not sell in is left out.
    out: list[JsonValue] = [
        _price_entry(p, ctx.currency_ids[p.currency], tax_rate)
        for p in prices
        if p.currency in ctx.currency_ids
    ]
    if not any(isinstance(p, dict) and p["currencyId"] == DEFAULT_CURRENCY_ID for p in out):
        raise PayloadError(f"{where} has no price in the shop's default currency {ctx.default_currency}")
    return out


def advanced_prices(
    record_id: str, variant: Variant, ctx: ShopwareContext, tax_rate: Decimal
) -> list[dict[str, JsonValue]]:
    """The variant's tier prices as Shopware advanced prices: per rule (a customer group's, or every
    customer's), quantity ranges from 1, each with the lowest price the group gets from that quantity on in
    every currency. Shopware applies the prices of the first matching rule alone, so a group's ranges include
    the tiers every customer gets; a rule with nothing of its own gets none."""
    if not variant.tier_prices:
        return []
    regular = {p.currency: p for p in variant.prices if p.currency in ctx.currency_ids}
    rows: list[dict[str, JsonValue]] = []
    own = {t.customer_group or "" for t in variant.tier_prices if t.currency in ctx.currency_ids}
    for group, rule_id in sorted(ctx.rules.items()):
        if group not in own:
            continue
        tiers = [
            t
            for t in variant.tier_prices
            if t.currency in ctx.currency_ids and (t.customer_group or "") in {"", group}
        ]
        currencies = sorted({*regular, *(t.currency for t in tiers)})
        plain = tuple(regular[c] for c in currencies if c in regular)
        ranges: list[tuple[int, tuple[Price, ...]]] = []
        for start in sorted({1, *(t.min_quantity for t in tiers)}):
            chosen = []
            for currency in currencies:
                candidates = [t for t in tiers if t.currency == currency and t.min_quantity <= start]
                candidates += [regular[currency]] if currency in regular else []
                if candidates:
                    chosen.append(min(candidates, key=attrgetter("gross")))
            if not ranges or ranges[-1][1] != tuple(chosen):
                ranges.append((start, tuple(chosen)))
        if ranges == [(1, plain)] or all(
            ctx.currency_ids[p.currency] != DEFAULT_CURRENCY_ID for p in ranges[0][1]
        ):
            continue  # nothing beyond the regular price, or no price in the default currency to start from
        for index, (start, chosen_prices) in enumerate(ranges):
            end = ranges[index + 1][0] - 1 if index + 1 < len(ranges) else None
            rows.append(
                {
                    "id": shopware_id(record_id, rule_id, str(start)),
                    "ruleId": rule_id,
                    "quantityStart": start,
                    "quantityEnd": end,
                    "price": [_price_entry(p, ctx.currency_ids[p.currency], tax_rate) for p in chosen_prices],
                }
            )
    return rows


class MediaFile(BaseModel):
    """An image file Shopware should hold, one per content: what the media queue uploads. ``key`` is the id
    of its media entity, derived from the file's checksum (its URL's, when the source gives none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    url: str
    file_name: str
    extension: str


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def media_file(media: Media, ctx: ShopwareContext) -> MediaFile:
    """The media entity of an image. Its file name carries the content hash: Shopware refuses a name another
    media has, and a changed file is a new media while the old one is still there."""
    identity = media.checksum or hashlib.md5(media.url.encode(), usedforsecurity=False).hexdigest()
    name = urlsplit(media.url).path.rsplit("/", 1)[-1]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    safe = _UNSAFE_NAME.sub("-", stem).strip("-")[:80] or "image"
    # Built from strings worked out here, not read from anywhere: nothing to validate.
    return MediaFile.model_construct(
        key=ctx.id_for(f"media:{identity}"),
        url=media.url,
        file_name=f"{safe}-{identity[:8]}",
        extension=(suffix.lower() if suffix.isalnum() else "") or "jpg",
    )


@dataclass
class _Gallery:
    """The media of one product's records: entities to create, links per record, the files to upload."""

    ctx: ShopwareContext
    entities: dict[str, dict[str, JsonValue]] = field(default_factory=dict)
    files: dict[str, MediaFile] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    by_image: dict[str, MediaFile] = field(default_factory=dict)

    def attach(self, record: dict[str, JsonValue], images: Sequence[Media]) -> None:
        """Link ``images`` to a product record in this order, the first as cover (none: no cover)."""
        links: list[JsonValue] = []
        seen: set[str] = set()
        for image in images:
            file = self.by_image.get(image.key)
            if file is None:
                file = self.by_image[image.key] = media_file(image, self.ctx)
            if file.key in seen:
                continue  # the same file twice on one record: one link
            seen.add(file.key)
            self.files.setdefault(file.key, file)
            if file.key not in self.entities:
                entity: dict[str, JsonValue] = {"id": file.key}
                if image.alt:
                    entity["alt"] = image.alt
                if self.ctx.media_folder_id:
                    entity["mediaFolderId"] = self.ctx.media_folder_id
                self.entities[file.key] = entity
            link = shopware_id(str(record["id"]), file.key)
            self.links.append(link)
            links.append({"id": link, "mediaId": file.key, "position": len(links)})
        if links:
            record["media"] = links
        first = links[0] if links else None
        record["coverId"] = first["id"] if isinstance(first, dict) else None


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
    """The records of one product, the media entities they link, and the ids to remember for removing stale
    links next time."""

    parent: dict[str, JsonValue]
    children: list[dict[str, JsonValue]]
    extra: dict[str, Any]
    media: list[dict[str, JsonValue]] = field(default_factory=list)


# The product texts the payloads write (in the system language and as translations).
TEXT_FIELDS = ("name", "description", "metaDescription", "keywords")


def _text_fields(texts: Texts) -> dict[str, JsonValue]:
    return {
        "name": texts.name,
        "description": texts.description,
        "metaDescription": texts.meta_description,
        "keywords": texts.keywords,
    }


def _texts(product: Product, ctx: ShopwareContext) -> tuple[dict[str, JsonValue], list[str]]:
    """The texts of a product's payload, and the languages (ids) it has translations in."""
    base, others = localized(product.texts, ctx)
    payload = _text_fields(base)
    if others:
        payload["translations"] = {language: _text_fields(texts) for language, texts in others.items()}
    return payload, sorted(others)


def reset_lost_translations(
    payload: ProductPayload, previous: Mapping[str, Any] | None, ctx: ShopwareContext
) -> None:
    """Null the texts of the sales channel's languages the last published version had a translation in and
    this one has not (null falls back to the system language's text)."""
    if not previous:
        return
    channel = {language for language in ctx.languages if language != SYSTEM_LANGUAGE_ID}
    # A version published before languages were remembered may have a translation in any of them.
    had = previous.get("languages", channel)
    gone = sorted((set(had) & channel) - set(payload.extra["languages"]))
    if not gone:
        return
    translations = payload.parent.setdefault("translations", {})
    if isinstance(translations, dict):
        for language in gone:
            translations[language] = dict.fromkeys(TEXT_FIELDS)


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
    category_ids = [
        ctx.shared_id(c) for c in product.category_keys if c in mapped_references.get("category", set())
    ]
    texts, languages = _texts(product, ctx)
    parent: dict[str, JsonValue] = {
        "id": product_id,
        **texts,
        "taxId": tax_id,
        "active": product.active,
        "categories": [{"id": c} for c in category_ids],
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
            parent[field_name] = ctx.shared_id(ref)
    if product.unit_content is not None:
        parent["purchaseUnit"] = float(product.unit_content)
    gallery = _Gallery(ctx)
    gallery.attach(parent, product.media)
    first = product.variants[0]
    extra: dict[str, Any] = {"categories": category_ids, "languages": languages}
    if is_single(product):
        parent.update(_variant_fields(first))
        parent["price"] = _price_payload(first.prices, ctx, product.tax_rate, f"{product.key} ({first.sku})")
        prices = advanced_prices(product_id, first, ctx, product.tax_rate)
        if prices:
            parent["prices"] = list[JsonValue](prices)
        return _finish(ProductPayload(parent, [], extra), gallery, prices)

    known_values = mapped_references.get("option_value", set())
    images = {m.key: m for m in product.media}
    parent["productNumber"] = f"P-{product.key.rsplit(':', 1)[1]}"
    parent["stock"] = sum(v.stock for v in product.variants)
    parent["price"] = _price_payload(first.prices, ctx, product.tax_rate, f"{product.key} ({first.sku})")
    option_ids: dict[str, int] = {}
    children = []
    all_prices: list[dict[str, JsonValue]] = []
    for variant in product.variants:
        missing = [c.value_key for c in variant.options if c.value_key not in known_values]
        if missing:
            raise PayloadError(
                f"{product.key} ({variant.sku}): option value(s) {', '.join(missing)} not in Shopware yet"
            )
        child_options = [ctx.shared_id(c.value_key) for c in variant.options]
        for position, option_id in enumerate(child_options):
            option_ids.setdefault(option_id, position)
        child_id = ctx.id_for(variant.key)
        child: dict[str, JsonValue] = {
            "id": child_id,
            "parentId": product_id,
            **_variant_fields(variant),
            "price": _price_payload(variant.prices, ctx, product.tax_rate, f"{product.key} ({variant.sku})"),
            "options": [{"id": o} for o in child_options],
        }
        # A variant with images of its own shows those; without, it inherits the parent's (cover null).
        gallery.attach(child, [images[k] for k in variant.media_keys if k in images])
        prices = advanced_prices(child_id, variant, ctx, product.tax_rate)
        if prices:
            child["prices"] = list[JsonValue](prices)
            all_prices += prices
        children.append(child)
    parent["configuratorSettings"] = [
        {"id": shopware_id(product_id, option_id), "optionId": option_id, "position": position}
        for option_id, position in option_ids.items()
    ]
    extra["children"] = {str(c["id"]): [o["id"] for o in _dicts(c["options"])] for c in children}
    extra["configurator"] = [s["id"] for s in _dicts(parent["configuratorSettings"])]
    return _finish(ProductPayload(parent, children, extra), gallery, all_prices)


def _dicts(value: JsonValue) -> list[dict[str, JsonValue]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _finish(
    payload: ProductPayload, gallery: _Gallery, prices: Sequence[Mapping[str, JsonValue]]
) -> ProductPayload:
    """Remember what the product links: its media links and advanced prices (to remove them when they go)
    and the files the media queue uploads."""
    payload.media.extend(gallery.entities.values())
    if gallery.links:
        payload.extra["media"] = sorted(set(gallery.links))
        payload.extra["files"] = {
            key: {"url": file.url, "file_name": file.file_name, "extension": file.extension}
            for key, file in sorted(gallery.files.items())
        }
    if prices:
        payload.extra["prices"] = sorted(str(p["id"]) for p in prices)
    return payload


def _deletes(entity: str, ids: Sequence[str]) -> list[SyncOperation]:
    if not ids:
        return []
    return [SyncOperation.model_construct(entity=entity, action="delete", payload=[{"id": i} for i in ids])]


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
    ops += _deletes("product", sorted(set(old_children) - set(new_children)))
    option_links: list[dict[str, JsonValue]] = [
        {"productId": child, "optionId": o}
        for child, options in new_children.items()
        for o in sorted(set(old_children.get(child, [])) - set(options))
    ]
    if option_links:
        ops.append(
            SyncOperation.model_construct(entity="product_option", action="delete", payload=option_links)
        )
    for entity, name in (
        ("product_configurator_setting", "configurator"),
        ("product_media", "media"),
        ("product_price", "prices"),
    ):
        ops += _deletes(entity, sorted(set(previous.get(name, [])) - set(payload.extra.get(name, []))))
    return ops


def describe_errors(errors: Sequence[Any]) -> str:
    return "; ".join(e.describe() for e in errors) or "rejected by Shopware"


# One product built for sending: its payload and sync unit, or why it cannot be sent.
_Built = tuple[ProductPayload, SyncUnit] | RecordFailure


class ProductWriter:
    def __init__(
        self, client: Shopware6Client, ctx: ShopwareContext, mapped_references: Mapping[str, set[str]]
    ) -> None:
        self.client = client
        self.ctx = ctx
        self.mapped_references = mapped_references
        # Built by ``intents`` on the publisher's thread, taken by ``upsert`` on a worker's: item -> build.
        self._prepared: dict[str, tuple[PublishItem, _Built]] = {}

    def _build_one(self, item: PublishItem) -> _Built:
        product = Product.model_validate(item.payload)
        try:
            payload = product_payload(product, self.ctx, self.mapped_references)
        except PayloadError as exc:
            return RecordFailure(item.key, str(exc), {"sku": [v.sku for v in product.variants][:10]})
        previous = item.published.extra if item.published else None
        reset_lost_translations(payload, previous, self.ctx)
        # Media first: the product's links point at them.
        operations = (
            [SyncOperation.model_construct(entity="media", action="upsert", payload=payload.media)]
            if payload.media
            else []
        )
        operations.append(
            SyncOperation.model_construct(
                entity="product", action="upsert", payload=[payload.parent, *payload.children]
            )
        )
        operations += stale_link_operations(str(payload.parent["id"]), payload, previous)
        return payload, SyncUnit.model_construct(key=item.key, operations=operations)

    def _build(
        self, items: Sequence[PublishItem]
    ) -> tuple[list[tuple[PublishItem, ProductPayload, SyncUnit]], list[RecordFailure]]:
        built, failed = [], []
        for item in items:
            prepared = self._prepared.pop(item.key, None)
            result = prepared[1] if prepared is not None and prepared[0] is item else self._build_one(item)
            if isinstance(result, RecordFailure):
                failed.append(result)
            else:
                built.append((item, *result))
        return built, failed

    def intents(self, items: Sequence[PublishItem]) -> list[MappingRow]:
        """Each product's mapping while it is sent, with every link of the version sent (a run that dies
        before the answer leaves them on record, to be removed when they go)."""
        rows = []
        for item in items:
            result = self._build_one(item)
            self._prepared[item.key] = (item, result)
            if not isinstance(result, RecordFailure):
                payload = result[0]
                rows.append(in_flight(item, str(payload.parent["id"]), payload.extra))
        return rows

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
                        describe_errors(rejected[item.key].errors),
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
        entries = plan_records(
            self.client,
            "product",
            [(item, [payload.parent, *payload.children]) for item, payload, _ in built],
            removals,
            "deactivate" if self.ctx.deletion == "deactivate" else "delete",
            self.ctx.currency_names,
        )
        entries += [PlanEntry(f.key, "update", f"cannot be sent: {f.reason}") for f in failed]
        return entries


# --- media --------------------------------------------------------------------------------------------------


class MediaWriter:
    """Uploads image files into their media entities (which the products' sync units created), one request
    per file as Shopware takes them, until ``deadline`` (``time.monotonic()``); the rest waits for the next
    run. A file Shopware cannot take (an unreachable URL, a name in use) is a failure of that file."""

    def __init__(
        self,
        client: Shopware6Client,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.deadline = deadline
        self.clock = clock

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        outcome = WriteOutcome()
        for item in items:
            if self.deadline is not None and self.clock() >= self.deadline:
                break
            file = MediaFile.model_validate(item.payload)
            try:
                self.client.upload_media_from_url(file.key, file.url, file.file_name, file.extension)
            except TransientError:
                raise
            except ApiError as exc:
                outcome.failed.append(RecordFailure(item.key, str(exc), {"url": file.url}))
                continue
            outcome.confirmed.append(MappingRow(item.key, file.key, item.content_hash))
        return outcome

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        # Their product links went with the products' stale links (or go with them: links cascade).
        self.client.delete("media", [m.target_id for m in mappings])
        return WriteOutcome(confirmed=list(mappings))

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        entries = [
            PlanEntry(item.key, item.action, f"{file.file_name}.{file.extension}")
            for item in items
            for file in [MediaFile.model_validate(item.payload)]
        ]
        return entries + [PlanEntry(m.source_key, "delete", m.target_id) for m in removals]
