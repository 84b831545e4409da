"""Does a Shopware emulator hold what a Plentymarkets emulator says it should?

Read from the two emulators' own states, never from the pipeline's database, and written from the mapping
rules (PSC's, contract §8.3) rather than from the pipeline's translator, so that it can catch the pipeline
being wrong. Used by integration tests, the chaos test and the benchmark.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Self

from connector_pipelines.sandbox.plentymarkets import PlentyEmulator
from connector_pipelines.sandbox.plentymarkets_catalog import PlentyCatalog
from connector_pipelines.sandbox.plentymarkets_records import Item, SalesPrice, Variation
from connector_pipelines.sandbox.shopware6 import Shopware6Emulator
from connector_pipelines.sandbox.shopware6_schema import DEFAULT_CURRENCY_ID, SYSTEM_LANGUAGE_ID

EUR_DEFAULT_SALES_PRICE = 1
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ExpectedProduct:
    number: str
    parent_number: str | None
    active: bool
    stock: int
    eur_gross: Decimal | None  # None for a parent: it shows its variants' prices


@dataclass
class ConvergenceReport:
    expected: int = 0
    actual: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    # Images linked but not uploaded yet (a queue worked within a budget): shown, not a divergence.
    media_pending: list[str] = field(default_factory=list)
    # How a report names what it counts, and where.
    unit: ClassVar[str] = "products"
    target: ClassVar[str] = "Shopware"

    @property
    def converged(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated or self.mismatched)

    @classmethod
    def compare(
        cls, expected: Mapping[str, Any], actual: Mapping[str, Any], seen: Counter[str], fields: Sequence[str]
    ) -> Self:
        """Key -> what the target should show against key -> what it shows (``seen``: how often each key
        is there), field by field."""
        report = cls(expected=len(expected), actual=sum(seen.values()))
        report.duplicated = sorted(key for key, count in seen.items() if count > 1)
        report.missing = sorted(set(expected) - set(actual))
        report.unexpected = sorted(set(actual) - set(expected))
        for key in sorted(set(expected) & set(actual)):
            want, have = expected[key], actual[key]
            problems = [
                f"{name} {getattr(have, name)} != {getattr(want, name)}"
                for name in fields
                if getattr(have, name) != getattr(want, name)
            ]
            if problems:
                report.mismatched.append(f"{key}: {', '.join(problems)}")
        return report

    def describe(self, limit: int = 5) -> str:
        waiting = f" ({len(self.media_pending)} images wait for upload)" if self.media_pending else ""
        if self.converged:
            return f"converged: {self.actual} {self.unit}{waiting}"
        parts = [f"expected {self.expected} {self.unit}, {self.target} has {self.actual}"]
        for name in ("missing", "unexpected", "duplicated", "mismatched"):
            values: list[str] = getattr(self, name)
            if values:
                parts.append(f"{len(values)} {name} (e.g. {', '.join(values[:limit])})")
        return "; ".join(parts) + waiting


def expected_products(plenty: PlentyEmulator) -> dict[str, ExpectedProduct]:
    catalog = plenty.catalog
    with catalog.lock:
        sales_warehouses = {w.id for w in catalog.warehouses.values() if w.type_id == 0}
        special_offers = {
            sp.id
            for sp in catalog.sales_prices.values()
            if sp.type == "specialOffer" and sp.currency == "EUR"
        }
        out: dict[str, ExpectedProduct] = {}
        for item in catalog.items.values():
            variations = [catalog.variations[v] for v in item.variation_ids if v in catalog.variations]
            if not variations:
                continue
            single = len(variations) == 1 and not variations[0].attribute_value_ids
            chosen = variations if len(variations) == 1 else [v for v in variations if v.attribute_value_ids]
            parent = None
            if not single:
                parent = f"P-{item.id}"
                out[parent] = ExpectedProduct(
                    parent,
                    None,
                    any(v.is_active for v in variations),
                    sum(_stock(v, sales_warehouses) for v in chosen),
                    None,
                )
            for v in chosen:
                prices = dict(catalog.prices(v))
                base = Decimal(str(prices[EUR_DEFAULT_SALES_PRICE].price))
                offers = [Decimal(str(row.price)) for sp, row in prices.items() if sp in special_offers]
                gross = min([base, *offers])
                out[v.number] = ExpectedProduct(
                    v.number,
                    parent,
                    v.is_active,
                    _stock(v, sales_warehouses),
                    gross.quantize(CENT, ROUND_HALF_UP),
                )
        return out


def _stock(variation: Variation, sales_warehouses: set[int]) -> int:
    rows = variation.stock
    return max(int(sum(r.physical - r.reserved for r in rows if r.warehouse_id in sales_warehouses)), 0)


def check_convergence(
    plenty: PlentyEmulator,
    shopware: Shopware6Emulator,
    *,
    lang: str = "de",
    rules: Mapping[str, int | None] | None = None,
    sales_channel: str = "Storefront",
) -> ConvergenceReport:
    """``lang``: the tenant's main language (Plenty code); ``rules``: Shopware rule name -> the customer class
    whose prices it carries (None: quantity prices every customer gets); without, advanced prices are not
    checked. Texts are checked in every language of ``sales_channel``, images by their uploaded bytes."""
    expected = expected_products(plenty)
    products = shopware.entities("product")
    numbers = Counter(str(p.get("productNumber")) for p in products)
    actual = shopware.products_by_number()
    report = ConvergenceReport(expected=len(expected), actual=len(products))
    report.duplicated = sorted(n for n, count in numbers.items() if count > 1)
    report.missing = sorted(set(expected) - set(actual))
    report.unexpected = sorted(set(actual) - set(expected))
    extras = _Extras.of(plenty, shopware, lang=lang, rules=rules or {}, sales_channel=sales_channel)
    for number in sorted(set(expected) & set(actual)):
        want, have = expected[number], actual[number]
        problems = []
        if have.get("parentNumber") != want.parent_number:
            problems.append(f"parent {have.get('parentNumber')} != {want.parent_number}")
        if bool(have.get("active", True)) != want.active:
            problems.append(f"active {have.get('active')} != {want.active}")
        if int(have.get("stock") or 0) != want.stock:
            problems.append(f"stock {have.get('stock')} != {want.stock}")
        if want.eur_gross is not None and (eur := _eur_gross(have)) != want.eur_gross:
            problems.append(f"EUR {eur} != {want.eur_gross}")
        problems += extras.problems(number, have, report)
        if problems:
            report.mismatched.append(f"{number}: {', '.join(problems)}")
    return report


def _eur_gross(product: dict[str, Any]) -> Decimal | None:
    for price in product.get("price") or []:
        if price.get("currencyId") == DEFAULT_CURRENCY_ID:
            return Decimal(str(price["gross"])).quantize(CENT, ROUND_HALF_UP)
    return None


# A range of advanced prices: (quantity start, quantity end, EUR gross).
Tier = tuple[int, int | None, Decimal]


@dataclass
class _Extras:
    """What a product should show besides its fields, per product number: names per language, images (their
    files' MD5, in order) and advanced prices per rule id."""

    names: dict[str, dict[str, str]] = field(default_factory=dict)  # number -> language id -> name
    images: dict[str, list[str]] = field(default_factory=dict)
    prices: dict[str, dict[str, list[Tier]]] = field(default_factory=dict)
    rule_ids: frozenset[str] = frozenset()
    files: Callable[[str], bytes | None] = lambda path: None

    @classmethod
    def of(
        cls,
        plenty: PlentyEmulator,
        shopware: Shopware6Emulator,
        *,
        lang: str,
        rules: Mapping[str, int | None],
        sales_channel: str,
    ) -> _Extras:
        languages = _channel_languages(shopware, sales_channel)
        rule_ids = {str(r["id"]): rules[r["name"]] for r in shopware.entities("rule") if r["name"] in rules}
        extras = cls(rule_ids=frozenset(rule_ids), files=shopware.file)
        catalog = plenty.catalog
        with catalog.lock:
            tiers = _tier_lists(catalog)
            for item in catalog.items.values():
                variations = [catalog.variations[v] for v in item.variation_ids if v in catalog.variations]
                if not variations:
                    continue
                single = len(variations) == 1 and not variations[0].attribute_value_ids
                head = variations[0].number if single else f"P-{item.id}"
                extras.names[head] = _names(catalog, item, languages, lang)
                extras.images[head] = _md5s(catalog, item.image_ids)
                chosen = variations if single else [v for v in variations if v.attribute_value_ids]
                for v in chosen:
                    if not single:
                        extras.images[v.number] = _md5s(catalog, v.image_ids)
                    extras.prices[v.number] = _advanced(catalog, v, tiers, rule_ids)
        return extras

    def problems(self, number: str, have: Mapping[str, Any], report: ConvergenceReport) -> list[str]:
        problems = []
        own = have.get("translations") or {}
        for language, name in self.names.get(number, {}).items():
            if own.get(language) != name:
                problems.append(f"name[{language}] {own.get(language)!r} != {name!r}")
        if number in self.images:
            problems += self._images(number, have, report)
        if self.rule_ids and number in self.prices:
            shown = {
                rule: sorted(
                    (p["quantityStart"], p["quantityEnd"], _eur_gross({"price": p["price"]}) or Decimal(0))
                    for p in have.get("prices") or []
                    if p["ruleId"] == rule
                )
                for rule in self.rule_ids
            }
            wanted = {rule: self.prices[number].get(rule, []) for rule in self.rule_ids}
            if shown != wanted:
                problems.append(f"advanced prices {shown} != {wanted}")
        return problems

    def _images(self, number: str, have: Mapping[str, Any], report: ConvergenceReport) -> list[str]:
        wanted = self.images[number]
        links = sorted(have.get("media") or [], key=lambda m: m.get("position") or 0)
        if len(links) != len(wanted):
            return [f"{len(links)} images != {len(wanted)}"]
        if links and have.get("coverId") != links[0]["id"]:
            return [f"cover {have.get('coverId')} is not the first image"]
        problems = []
        for link, md5 in zip(links, wanted, strict=True):
            content = self.files(link["path"]) if link.get("path") else None
            if content is None:
                report.media_pending.append(f"{number}#{link['position']}")
            elif hashlib.md5(content, usedforsecurity=False).hexdigest() != md5:
                problems.append(f"image {link['position']} is another file")
        return problems


def _channel_languages(shopware: Shopware6Emulator, name: str) -> dict[str, str]:
    """Language id -> Plenty code of the sales channel's languages and the system language."""
    channel = next(c["id"] for c in shopware.entities("sales_channel") if c["name"] == name)
    codes = {}
    locales = {str(loc["id"]): str(loc["code"]) for loc in shopware.entities("locale")}
    for language in shopware.entities("language"):
        codes[str(language["id"])] = PLENTY_CODES.get(
            locales[language["localeId"]].split("-")[0], locales[language["localeId"]].split("-")[0]
        )
    linked = {
        r["languageId"] for r in shopware.entities("sales_channel_language") if r["salesChannelId"] == channel
    }
    return {i: codes[i] for i in sorted(linked | {SYSTEM_LANGUAGE_ID})}


# Plentymarkets' codes of languages whose ISO 639-1 code differs.
PLENTY_CODES = {"zh": "cn", "cs": "cz", "sv": "se", "vi": "vn"}


def _names(catalog: PlentyCatalog, item: Item, languages: Mapping[str, str], lang: str) -> dict[str, str]:
    """A product's name per language: Plenty's own where it has one; the system language shows the main
    language's when Plenty has none in it (every product needs a name there)."""
    names = {}
    for language, code in languages.items():
        texts = catalog.item_texts(item, code)
        if texts is None and language == SYSTEM_LANGUAGE_ID:
            texts = catalog.item_texts(item, lang)
        if texts is not None:
            names[language] = texts["name1"] or texts["name2"] or texts["name3"]
    return names


def _md5s(catalog: PlentyCatalog, image_ids: Sequence[int]) -> list[str]:
    """MD5s of the images in their order, each file once."""
    images = sorted(
        (catalog.images[i] for i in image_ids if i in catalog.images), key=lambda i: (i.position, i.id)
    )
    return list(dict.fromkeys(catalog.image_checksum(image)[0] for image in images))


def _tier_lists(catalog: PlentyCatalog) -> dict[int, SalesPrice]:
    """EUR shop prices from a minimum quantity or for some customer classes (the advanced prices)."""
    return {
        sp.id: sp
        for sp in catalog.sales_prices.values()
        if sp.type in ("default", "specialOffer")
        and sp.currency in ("EUR", "-1")
        and (sp.minimum_order_quantity > 1 or -1 not in sp.customer_class_ids)
    }


def _advanced(
    catalog: PlentyCatalog,
    variation: Variation,
    tiers: Mapping[int, SalesPrice],
    rules: Mapping[str, int | None],
) -> dict[str, list[Tier]]:
    """Per rule: from which quantity the customers of its class pay what, in EUR: the lowest of the shop
    price and the prices they may have from that quantity; nothing when the class has no price of its own."""
    prices = dict(catalog.prices(variation))
    regular = _regular_eur(catalog, prices)
    out: dict[str, list[Tier]] = {}
    for rule, customer_class in rules.items():
        mine = [
            (
                int(sp.minimum_order_quantity),
                Decimal(str(prices[sp_id].price)).quantize(CENT, ROUND_HALF_UP),
                sp,
            )
            for sp_id, sp in tiers.items()
            if sp_id in prices and (-1 in sp.customer_class_ids or customer_class in sp.customer_class_ids)
        ]
        own = [t for t in mine if (customer_class is None) == (-1 in t[2].customer_class_ids)]
        if not own:
            continue
        ranges: list[tuple[int, Decimal]] = []
        for start in sorted({1, *(q for q, _, _ in mine)}):
            price = min([regular, *(p for q, p, _ in mine if q <= start)])
            if not ranges or ranges[-1][1] != price:
                ranges.append((start, price))
        if ranges == [(1, regular)]:
            continue
        out[rule] = [
            (start, ranges[i + 1][0] - 1 if i + 1 < len(ranges) else None, price)
            for i, (start, price) in enumerate(ranges)
        ]
    return out


def _regular_eur(catalog: PlentyCatalog, prices: Mapping[int, Any]) -> Decimal:
    offers = [
        Decimal(str(row.price))
        for sp_id, row in prices.items()
        if catalog.sales_prices[sp_id].type == "specialOffer"
        and catalog.sales_prices[sp_id].currency == "EUR"
        and catalog.sales_prices[sp_id].minimum_order_quantity <= 1
        and -1 in catalog.sales_prices[sp_id].customer_class_ids
    ]
    base = Decimal(str(prices[EUR_DEFAULT_SALES_PRICE].price))
    return min([base, *offers]).quantize(CENT, ROUND_HALF_UP)
