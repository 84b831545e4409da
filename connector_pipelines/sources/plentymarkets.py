"""Plentymarkets -> canonical catalog: pure translation functions and a reader that pages through the client.

Mapping rules follow the official Plenty -> Shopware connector (contract §8.3): texts from the item,
categories from the main variation, variants only for variations with attribute values when an item has
several, stock summed over sales warehouses, weight from ``weightNetG`` falling back to ``weightG``, tier and
customer-class prices from sales prices with a minimum quantity or customer classes, images of the item
(those of the tenant's client) with their checksums, variation images as the variant's own.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice

from pydantic import BaseModel, ConfigDict, ValidationError

from connector_pipelines import errors
from connector_pipelines.catalog.models import (
    Category,
    Manufacturer,
    Media,
    Option,
    OptionChoice,
    OptionValue,
    Price,
    PriceList,
    Product,
    Texts,
    Unit,
    Variant,
    source_key,
)
from connector_pipelines.clients import plentymarkets_models as plenty
from connector_pipelines.clients.plentymarkets import (
    ID_CHUNK,
    ITEMS_PATH,
    PlentymarketsClient,
    VariationRelation,
)
from connector_pipelines.streams import prefetch

SYSTEM = "plentymarkets"
CENT = Decimal("0.01")
BARCODE_TYPES = frozenset({"GTIN_13", "GTIN_128", "UPC", "ISBN"})
PRICE_KINDS = {"default": "default", "rrp": "rrp", "specialOffer": "special_offer"}
# Only what translation reads: every extra relation costs Plenty render time and transfer per variation.
VARIATION_RELATIONS: tuple[VariationRelation, ...] = (
    "variationSalesPrices",
    "variationCategories",
    "variationAttributeValues",
    "variationBarcodes",
    "unit",
    "stock",
    "images",
)

# Parts of item pages (``ID_CHUNK`` items with their variations) read ahead of translation: under a rate
# limit the read spends each window as early as it can, so the last window opens (and the run ends) sooner.
READ_AHEAD = 16


def key(kind: str, ident: int) -> str:
    return source_key(SYSTEM, kind, ident)


# Plentymarkets language codes that are not ISO 639-1; the canonical catalog keys languages by ISO 639-1.
_ISO_LANGUAGES = {"cn": "zh", "cz": "cs", "se": "sv", "vn": "vi"}
_PLENTY_LANGUAGES = {iso: plenty for plenty, iso in _ISO_LANGUAGES.items()}


def iso_language(plenty_code: str) -> str:
    """The ISO 639-1 code of a Plentymarkets language code (``cz`` -> ``cs``; most are the same)."""
    return _ISO_LANGUAGES.get(plenty_code, plenty_code)


def plenty_language(iso_code: str) -> str:
    """The Plentymarkets language code of an ISO 639-1 code (``cs`` -> ``cz``)."""
    return _PLENTY_LANGUAGES.get(iso_code, iso_code)


def item_id_of(product_key: str) -> int | None:
    """The item id of a product key; None for any other key (such as an endpoint's malformed record)."""
    prefix, _, ident = product_key.rpartition(":")
    return int(ident) if prefix == f"{SYSTEM}:item" and ident.isdigit() else None


class TranslationError(errors.PermanentError, ValueError):
    """A source record that cannot become a canonical record; recorded and skipped."""

    def __init__(self, record_key: str, reason: str) -> None:
        super().__init__(f"{record_key}: {reason}")
        self.record_key = record_key
        self.reason = reason


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


_INT64 = 2**63 - 1  # the largest integer the snapshot's JSON (orjson) and the target APIs hold


def _whole(value: float | None, what: str, record_key: str) -> int:
    """A number the canonical record keeps as an integer (None = 0); infinite or past 64 bits, it is refused
    here with the record named, instead of failing the whole read when the snapshot is hashed."""
    if value is None:
        return 0
    if abs(value) > _INT64 or not math.isfinite(value):  # abs first: a huge int has no float
        raise TranslationError(record_key, f"{what} {value} is out of range")
    return int(value)


# --- reference data -----------------------------------------------------------------------------------------


def to_category(category: plenty.Category) -> Category:
    names = {iso_language(d.lang): d.name for d in category.details if d.name}
    position = next((d.position for d in category.details if d.position is not None), 0)
    category_key = key("category", category.id)
    return Category(
        key=category_key,
        parent_key=key("category", category.parent_category_id) if category.parent_category_id else None,
        position=_whole(position, "position", category_key),
        names=names or {"de": f"Category {category.id}"},
        active=category.right in (None, "all"),
    )


def to_option(attribute: plenty.Attribute) -> Option:
    option_key = key("attribute", attribute.id)
    return Option(
        key=option_key,
        names={iso_language(n.lang): n.name for n in attribute.attribute_names if n.name}
        or {"de": attribute.backend_name},
        position=_whole(attribute.position, "position", option_key),
        values=tuple(
            OptionValue(
                key=key("attribute_value", v.id),
                names={iso_language(n.lang): n.name for n in v.value_names if n.name}
                or {"de": v.backend_name},
                position=_whole(v.position, "position", key("attribute_value", v.id)),
            )
            for v in sorted(attribute.values, key=lambda v: (v.position or 0, v.id))
        ),
    )


def to_price_list(sales_price: plenty.SalesPrice) -> PriceList:
    currencies = tuple(sorted({c.currency for c in sales_price.currencies if c.currency != "-1"}))
    clients = tuple(sorted({c.plenty_id for c in sales_price.clients if c.plenty_id != -1}))
    all_clients = not sales_price.clients or any(c.plenty_id == -1 for c in sales_price.clients)
    classes = tuple(sorted({c.customer_class_id for c in sales_price.customer_classes}))
    all_customers = not classes or -1 in classes
    return PriceList(
        key=key("sales_price", sales_price.id),
        kind=PRICE_KINDS.get(sales_price.type, sales_price.type),
        currencies=currencies,
        names={iso_language(n.lang): n.name_external or n.name_internal for n in sales_price.names},
        min_quantity=_whole(
            sales_price.minimum_order_quantity or 1,
            "minimumOrderQuantity",
            key("sales_price", sales_price.id),
        ),
        all_customers=all_customers,
        clients=() if all_clients else clients,
        customer_classes=() if all_customers else classes,
    )


def to_manufacturer(manufacturer: plenty.Manufacturer) -> Manufacturer:
    return Manufacturer(
        key=key("manufacturer", manufacturer.id),
        name=manufacturer.external_name or manufacturer.name or f"Manufacturer {manufacturer.id}",
        url=manufacturer.url or "",
    )


def to_unit(unit: plenty.Unit) -> Unit:
    return Unit(
        key=key("unit", unit.id),
        code=unit.unit_of_measurement or "C62",
        names={iso_language(n.lang): n.name for n in unit.names if n.name}
        or {"de": unit.unit_of_measurement},
    )


# --- products -----------------------------------------------------------------------------------------------


class ProductContext(BaseModel):
    """What product translation needs besides the item itself (from the config caches and settings)."""

    model_config = ConfigDict(frozen=True)

    lang: str
    default_currency: str = "EUR"
    price_lists: dict[int, PriceList]
    default_sales_price_id: int = 1
    rrp_sales_price_id: int | None = None
    vat_rates: dict[int, Decimal]
    sales_warehouses: frozenset[int] | None = None
    barcode_types: dict[int, str] = {}
    plenty_id: int | None = None


def _texts(item: plenty.SyncItem) -> dict[str, Texts]:
    texts = {}
    for t in item.texts:
        name = t.name1 or t.name2 or t.name3
        if not name:
            continue
        texts[iso_language(t.lang)] = Texts(
            name=name,
            description=t.description,
            short_description=t.short_description,
            meta_description=t.meta_description,
            keywords=t.keywords,
        )
    return texts


def _for_client(price_list: PriceList, ctx: ProductContext) -> bool:
    """Whether the list is open to the tenant's client (shop)."""
    return not price_list.clients or ctx.plenty_id is None or ctx.plenty_id in price_list.clients


def _is_tier(price_list: PriceList) -> bool:
    """A price from a minimum quantity or for some customer classes only: not the shop price."""
    return price_list.min_quantity > 1 or not price_list.all_customers


def _applies(price_list: PriceList, ctx: ProductContext) -> bool:
    """Shop prices only: no tier or customer-class prices, and only lists open to the tenant's client."""
    return not _is_tier(price_list) and _for_client(price_list, ctx)


@dataclass(frozen=True)
class PriceRules:
    """Which sales price lists give which prices, worked out once per read rather than for every price of
    every variation."""

    # Sales price id -> (kind, rank, currencies) of the lists a shop price may come from. Of two lists of one
    # kind and currency the lower rank wins: the configured list, then the lowest id (whatever the order).
    shop: dict[int, tuple[str, int, tuple[str, ...]]]
    # Sales price id -> (minimum quantity, customer groups, currencies) of tier and customer class prices;
    # group None: every customer.
    tiers: dict[int, tuple[int, tuple[str | None, ...], tuple[str, ...]]]

    @classmethod
    def of(cls, ctx: ProductContext) -> PriceRules:
        preferred = {"default": ctx.default_sales_price_id, "rrp": ctx.rrp_sales_price_id}
        shop = {
            list_id: (
                price_list.kind,
                (0 if list_id == preferred.get(price_list.kind) else 1) * 10**9 + list_id,
                price_list.currencies or (ctx.default_currency,),
            )
            for list_id, price_list in ctx.price_lists.items()
            if price_list.kind in ("default", "rrp", "special_offer") and _applies(price_list, ctx)
        }
        tiers: dict[int, tuple[int, tuple[str | None, ...], tuple[str, ...]]] = {
            list_id: (
                price_list.min_quantity,
                # A list limited to classes it does not name (cached before they were kept) is no one's.
                (None,) if price_list.all_customers else tuple(str(c) for c in price_list.customer_classes),
                price_list.currencies or (ctx.default_currency,),
            )
            for list_id, price_list in ctx.price_lists.items()
            if price_list.kind in ("default", "special_offer")
            and _is_tier(price_list)
            and _for_client(price_list, ctx)
        }
        return cls(shop, tiers)


def _prices(variation: plenty.SyncVariation, rules: PriceRules, tax_rate: Decimal) -> tuple[Price, ...]:
    """One price per currency (PSC rules): the default list's price, replaced by a lower special offer
    (the replaced price becomes the list price); otherwise the RRP, when higher, is the list price."""
    divisor = 1 + tax_rate / 100
    by_kind: dict[str, dict[str, tuple[int, Decimal]]] = {"default": {}, "rrp": {}, "special_offer": {}}
    lists = rules.shop
    for vsp in variation.variation_sales_prices:
        found = lists.get(vsp.sales_price_id)
        if found is None:
            continue
        kind, rank, currencies = found
        of_kind = by_kind[kind]
        for currency in currencies:
            current = of_kind.get(currency)
            if current is None or rank < current[0]:
                of_kind[currency] = (rank, vsp.price)
    prices = []
    for currency, (_, base) in sorted(by_kind["default"].items()):
        gross, list_gross = base, by_kind["rrp"].get(currency, (0, Decimal(0)))[1]
        offer = by_kind["special_offer"].get(currency)
        if offer is not None and offer[1] < base:
            gross, list_gross = offer[1], max(base, list_gross)
        prices.append(
            Price(
                currency=currency,
                gross=_money(gross),
                net=_money(gross / divisor),
                list_gross=_money(list_gross) if list_gross > gross else None,
            )
        )
    return tuple(prices)


def _tier_prices(variation: plenty.SyncVariation, rules: PriceRules, tax_rate: Decimal) -> tuple[Price, ...]:
    """Prices from a minimum quantity and prices of customer classes (PSC: tiered prices, customer
    groups): per currency, minimum quantity and class the lowest of the lists that give one."""
    lowest: dict[tuple[str, int, str | None], Decimal] = {}
    lists = rules.tiers
    for vsp in variation.variation_sales_prices:
        found = lists.get(vsp.sales_price_id)
        if found is None:
            continue
        quantity, groups, currencies = found
        for currency in currencies:
            for group in groups:
                slot = (currency, quantity, group)
                if slot not in lowest or vsp.price < lowest[slot]:
                    lowest[slot] = vsp.price
    if not lowest:
        return ()
    divisor = 1 + tax_rate / 100
    return tuple(
        Price(
            currency=currency,
            gross=_money(gross),
            net=_money(gross / divisor),
            min_quantity=quantity,
            customer_group=group,
        )
        for (currency, quantity, group), gross in sorted(
            lowest.items(), key=lambda slot: (slot[0][2] or "", slot[0][0], slot[0][1])
        )
    )


def _stock(variation: plenty.SyncVariation, ctx: ProductContext, variation_key: str) -> int:
    warehouses = ctx.sales_warehouses
    total = sum(s.net_stock for s in variation.stock if warehouses is None or s.warehouse_id in warehouses)
    return max(_whole(total, "stock", variation_key), 0)


def _barcode(variation: plenty.SyncVariation, ctx: ProductContext) -> str:
    for barcode in variation.variation_barcodes:
        if ctx.barcode_types.get(barcode.barcode_id, "GTIN_13") in BARCODE_TYPES:
            return str(barcode.code)
    return ""


def _weight_kg(variation: plenty.SyncVariation) -> Decimal | None:
    grams = variation.weight_net_g or variation.weight_g
    return (Decimal(str(grams)) / 1000).normalize() if grams else None


def _mm(value: float | None, variation_key: str) -> int | None:
    return _whole(value, "a dimension", variation_key) if value else None


def to_variant(
    variation: plenty.SyncVariation, ctx: ProductContext, tax_rate: Decimal, rules: PriceRules | None = None
) -> Variant:
    """``rules``: the context's price rules, when the caller has them already (:meth:`PriceRules.of`)."""
    variation_key = key("variation", variation.id)
    if not variation.number:
        raise TranslationError(variation_key, "variation has no number (SKU)")
    rules = rules or PriceRules.of(ctx)
    return Variant(
        key=variation_key,
        sku=str(variation.number),
        active=variation.is_active,
        barcode=_barcode(variation, ctx),
        prices=_prices(variation, rules, tax_rate),
        tier_prices=_tier_prices(variation, rules, tax_rate),
        stock=_stock(variation, ctx, variation_key),
        options=tuple(
            OptionChoice(
                option_key=key("attribute", a.attribute_id), value_key=key("attribute_value", a.value_id)
            )
            for a in sorted(variation.variation_attribute_values, key=lambda a: a.attribute_id)
        ),
        weight_kg=_weight_kg(variation),
        width_mm=_mm(variation.width_mm, variation_key),
        height_mm=_mm(variation.height_mm, variation_key),
        length_mm=_mm(variation.length_mm, variation_key),
        position=_whole(variation.position, "position", variation_key),
        media_keys=tuple(key("image", i.id) for i in variation.images),
    )


def to_product(
    item: plenty.SyncItem,
    variations: Sequence[plenty.SyncVariation],
    ctx: ProductContext,
    rules: PriceRules | None = None,
) -> Product:
    """``rules``: the context's price rules, when the caller has them already (a read: once for all items)."""
    product_key = key("item", item.id)
    try:
        return _to_product(item, variations, ctx, rules or PriceRules.of(ctx), product_key)
    except ValidationError as exc:
        # A value the canonical model refuses (an infinite weight, a currency code like "eur").
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'product'}: {e['msg']}" for e in exc.errors())
        raise TranslationError(product_key, f"not a valid product: {problems}") from None
    except ArithmeticError as exc:
        # Decimal refuses a price or VAT rate beyond its precision, or a VAT rate of -100 %.
        raise TranslationError(product_key, f"cannot compute its prices: {type(exc).__name__}") from None


def _to_product(
    item: plenty.SyncItem,
    variations: Sequence[plenty.SyncVariation],
    ctx: ProductContext,
    rules: PriceRules,
    product_key: str,
) -> Product:
    texts = _texts(item)
    if not texts:
        raise TranslationError(product_key, "item has no texts with a name")
    main = next((v for v in variations if v.is_main), variations[0])
    tax_rate = ctx.vat_rates.get(main.vat_id if main.vat_id is not None else 0)
    if tax_rate is None:
        raise TranslationError(product_key, f"unknown vatId {main.vat_id}")
    # Several variations: only those with attribute values are variants (the main one may be a bare parent).
    chosen = (
        list(variations) if len(variations) == 1 else [v for v in variations if v.variation_attribute_values]
    )
    if not chosen:
        raise TranslationError(product_key, "item has several variations but none with attribute values")
    variants = tuple(
        to_variant(v, ctx, tax_rate, rules) for v in sorted(chosen, key=lambda v: (v.position or 0, v.id))
    )
    # Variation images are item images linked to the variation: the item's list carries their URLs.
    images = {i.id: i for i in item.item_images if _visible(i, ctx)}
    media = tuple(
        Media(
            key=key("image", image.id),
            url=image.url,
            alt=next((n.alternate or n.name for n in image.names if n.lang == ctx.lang), ""),
            position=_whole(image.position, "position", key("image", image.id)),
            checksum=image.md5_checksum or "",
        )
        for image in sorted(images.values(), key=lambda i: (i.position or 0, i.id))
    )
    shown = {m.key for m in media}
    variants = tuple(
        v.model_copy(update={"media_keys": tuple(k for k in v.media_keys if k in shown)})
        if any(k not in shown for k in v.media_keys)
        else v
        for v in variants
    )
    return Product(
        key=product_key,
        texts=texts,
        active=any(v.is_active for v in variations),
        manufacturer_key=key("manufacturer", item.manufacturer_id) if item.manufacturer_id else None,
        unit_key=key("unit", main.unit.unit_id) if main.unit else None,
        unit_content=Decimal(str(main.unit.content)).normalize() if main.unit and main.unit.content else None,
        tax_rate=tax_rate,
        category_keys=tuple(sorted({key("category", c.category_id) for c in main.variation_categories})),
        media=media,
        variants=variants,
    )


def _visible(image: plenty.ImageSummary, ctx: ProductContext) -> bool:
    """An image limited to some clients (``mandant`` availabilities) shows only in those shops."""
    clients = {a.value for a in image.availabilities if a.type == "mandant"}
    return ctx.plenty_id is None or not clients or ctx.plenty_id in clients


# --- reading ------------------------------------------------------------------------------------------------


@dataclass
class ReadErrors:
    """Records that could not be read or translated: (record key, reason, payload).

    ``explained`` are the malformed records Plenty sent that these errors account for; ``incomplete`` says an
    item was malformed beyond telling which one it was, so the read cannot show what Plenty lacks."""

    items: list[tuple[str, str, object]] = field(default_factory=list)
    explained: list[plenty.InvalidRecord] = field(default_factory=list)
    incomplete: bool = False

    def add(self, record_key: str, reason: str, payload: object = None) -> None:
        self.items.append((record_key, reason, payload))

    @property
    def keys(self) -> set[str]:
        return {k for k, _, _ in self.items}


Page = tuple[list[plenty.SyncItem], dict[int, list[plenty.SyncVariation]], list[plenty.InvalidRecord]]


def _broken_items(
    chunk: Sequence[plenty.SyncItem], invalid: Iterable[plenty.InvalidRecord], errors: ReadErrors
) -> set[int]:
    """Items of which Plenty sent a malformed record (the item or one of its variations): each gets an error
    and is not translated, so the snapshot keeps its last good version rather than a partial one, which
    would delete the variation (or, for a full read, the whole product) from the target."""
    broken: set[int] = set()
    for record in invalid:
        reason = f"Plenty sent a malformed record: {record.describe()}"
        if record.endpoint == ITEMS_PATH:
            owners = [int(record.record_id)] if record.record_id and record.record_id.isdigit() else []
            errors.incomplete |= not owners
        else:
            # A variation that names no item could belong to any item its request asked for.
            owners = [record.item_id] if record.item_id is not None else [i.id for i in chunk]
        for item_id in owners:
            errors.add(key("item", item_id), reason, {"itemId": item_id})
        if owners:
            errors.explained.append(record)
        broken.update(owners)
    return broken


class PlentyReader:
    """Streams canonical records out of one Plenty system."""

    def __init__(
        self,
        client: PlentymarketsClient,
        *,
        lang: str,
        plenty_id: int | None = None,
        languages: Sequence[str] = (),
    ) -> None:
        """``languages``: ISO 639-1 codes of texts to read besides ``lang`` (a Plenty code) and de / en."""
        self.client = client
        self.lang = lang
        self.plenty_id = plenty_id
        self.languages = tuple(languages)

    def categories(self) -> Iterator[Category]:
        for c in self.client.iter_categories(plenty_id=self.plenty_id, lang=self._langs()):
            yield to_category(c)

    def options(self) -> Iterator[Option]:
        return (to_option(a) for a in self.client.iter_attributes())

    def price_lists(self) -> Iterator[PriceList]:
        return (to_price_list(s) for s in self.client.iter_sales_prices())

    def manufacturers(self) -> Iterator[Manufacturer]:
        return (to_manufacturer(m) for m in self.client.iter_manufacturers())

    def units(self) -> Iterator[Unit]:
        return (to_unit(u) for u in self.client.iter_units())

    def _langs(self) -> list[str]:
        return sorted({self.lang, "de", "en", *map(plenty_language, self.languages)})

    def vat_rates(self) -> dict[int, Decimal]:
        return {r.id: r.vat_rate for r in self.client.vat_standard().vat_rates}

    def sales_warehouses(self) -> frozenset[int]:
        return frozenset(w.id for w in self.client.warehouses() if w.type_id in (None, 0))

    def barcode_types(self) -> dict[int, str]:
        return {b.id: b.type for b in self.client.iter_barcodes()}

    def products(
        self, ctx: ProductContext, errors: ReadErrors, *, item_ids: Sequence[int] | None = None
    ) -> Iterator[Product]:
        """Items page by page, each page's variations fetched by item id in one paged request. The next
        page is fetched while this one is translated, so Plenty renders while we work."""
        if item_ids is not None and not item_ids:
            return
        rules = PriceRules.of(ctx)
        for chunk, by_item, invalid in prefetch(self._pages(item_ids), depth=READ_AHEAD):
            broken = _broken_items(chunk, invalid, errors)
            for item in chunk:
                if item.id not in by_item or item.id in broken:
                    # No variation visible to this tenant's client (not part of its catalog), or malformed.
                    continue
                try:
                    yield to_product(item, by_item[item.id], ctx, rules)
                except TranslationError as exc:
                    # Keyed by the item whichever part failed: the snapshot keeps, and the next delta
                    # re-reads, whole items.
                    item_key = key("item", item.id)
                    reason = exc.reason if exc.record_key == item_key else str(exc)
                    errors.add(item_key, reason, {"itemId": item.id})

    def _pages(self, item_ids: Sequence[int] | None) -> Iterator[Page]:
        """Chunks of items with their variations, and the malformed records Plenty sent for them (the
        client skips those; the marks into its list run on this one producing thread).

        A page of items is handed on in the parts whose variations the client asks for in one filter
        (``ID_CHUNK`` items), each as soon as its variations are in: the same requests, but what is left to
        translate and publish after Plenty's last answer is one part, not a whole page of items."""
        items = self.client.iter_items(
            lang=self._langs(), ids=item_ids, with_=("itemImages",), model=plenty.SyncItem
        )
        invalid = self.client.invalid_records
        while True:
            mark = len(invalid)
            page = list(islice(items, self.client.page_size))
            if not page:
                if len(invalid) > mark:
                    yield [], {}, invalid[mark:]
                return
            for start in range(0, len(page), ID_CHUNK):
                chunk = page[start : start + ID_CHUNK]
                by_item: dict[int, list[plenty.SyncVariation]] = defaultdict(list)
                for variation in self.client.iter_variations(
                    model=plenty.SyncVariation,
                    with_=VARIATION_RELATIONS,
                    item_ids=[i.id for i in chunk],
                    lang=self._langs(),
                    plenty_id=self.plenty_id,
                ):
                    by_item[variation.item_id].append(variation)
                yield chunk, by_item, invalid[mark:]
                mark = len(invalid)

    def changed_item_ids(self, since: datetime, until: datetime) -> set[int]:
        """Items touched since ``since``: item texts, variation fields, related data (prices, categories,
        images, ...) and stock, which Plenty does not count as related.

        The windows stay open-ended ("until now", as Plenty documents): Plenty stores seconds, so a window
        closed at ``until`` would miss a change made in that same second. The stock list needs an end; it
        gets ``until`` plus the same margin the cursor overlap gives the start.
        """
        window = (since, None)
        changed = {i.id for i in self.client.iter_items(updated_between=window, lang=self.lang)}
        changed.update(v.item_id for v in self.client.iter_variations(with_=(), updated_between=window))
        changed.update(
            v.item_id for v in self.client.iter_variations(with_=(), related_updated_between=window)
        )
        stock_end = until + (until - since if until > since else timedelta(minutes=5))
        changed.update(s.item_id for s in self.client.iter_stock(since, stock_end) if s.item_id is not None)
        return changed
