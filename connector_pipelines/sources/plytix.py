"""Plytix PIM -> the canonical catalog: the config cache (attributes, families with their variant-level
attributes, categories) and products with their variants, read through :class:`PlytixClient`.

A Plytix parent with its variants becomes one canonical product whose options are the family's variant-level
attributes, in the family's order; a product without variants becomes a product with one variant. Values are
read through the tenant's field mapping (``PlytixMapping``: a system field or ``attributes.<label>`` and the
ERP mapping's transformations). A variant the target could not tell apart from its siblings (a missing axis
value, a combination already taken) or that has no SKU or price is a :class:`ReadProblem` naming the product
and the attribute; the product goes through without it when it is new, and keeps its last good version when
it was read before (a partial product would retire the variant in the shop).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, JsonValue

from connector_pipelines.catalog.models import (
    Category,
    Media,
    Metafield,
    OptionChoice,
    Price,
    Product,
    Texts,
    Variant,
    source_key,
)
from connector_pipelines.clients.plytix import PlytixClient, PlytixProduct, SearchFilter
from connector_pipelines.sources.erp_mapping.values import (
    CompiledRule,
    FieldProblem,
    NumberParser,
    Row,
    Value,
    as_text,
    compile_rule,
    is_blank,
)
from connector_pipelines.tenants.systems import PlytixMapping, PlytixTarget

SYSTEM = "plytix"
ATTRIBUTES = "plytix_attribute"
FAMILIES = "plytix_family"
CATEGORIES = "category"
# Fields every product read asks for, besides those of the mapping.
BASE_ATTRIBUTES = (
    "sku",
    "label",
    "status",
    "modified",
    "num_variations",
    "categories",
    "assets",
    "thumbnail",
)
# Variant values that are not one option value.
_NUMBERS = NumberParser(".")

log = logging.getLogger(__name__)


def product_key(product_id: str) -> str:
    return source_key(SYSTEM, "product", product_id)


def variant_key(product_id: str) -> str:
    return source_key(SYSTEM, "variant", product_id)


def category_key(category_id: str) -> str:
    return source_key(SYSTEM, "category", category_id)


def option_key(label: str) -> str:
    return source_key(SYSTEM, "attribute", label)


def id_of(key: str) -> str:
    return key.rsplit(":", 1)[1]


# --- the config cache ---------------------------------------------------------------------------------------


class _Cached(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AttributeInfo(_Cached):
    key: str
    label: str
    name: str
    type_class: str = ""
    options: tuple[str, ...] = ()


class FamilyInfo(_Cached):
    key: str
    name: str
    variant_attributes: tuple[str, ...] = ()  # labels of the variant-level attributes, in the family's order


def read_attributes(client: PlytixClient) -> Iterator[AttributeInfo]:
    for attribute in client.attributes():
        yield AttributeInfo(
            key=option_key(attribute.label),
            label=attribute.label,
            name=attribute.name or attribute.label,
            type_class=attribute.type_class or "",
            options=tuple(str(o) for o in attribute.options or ()),
        )


def read_families(client: PlytixClient) -> Iterator[FamilyInfo]:
    """Families with their variant-level attributes (one call for the list, one per family)."""
    for family in client.families():
        levels = client.family_attributes(family.id)
        yield FamilyInfo(
            key=source_key(SYSTEM, "family", family.id),
            name=family.name or family.id,
            variant_attributes=tuple(a.label for a in levels if a.level == "variant_level"),
        )


def read_categories(client: PlytixClient, language: str) -> Iterator[Category]:
    for position, category in enumerate(client.categories()):
        parent = category.parents_ids[-1] if category.parents_ids else None
        yield Category(
            key=category_key(category.id),
            parent_key=category_key(parent) if parent else None,
            position=category.order if category.order is not None else position,
            names={language: category.name or category.id},
        )


@dataclass(frozen=True)
class PlytixConfig:
    """The cached attributes and families a product read translates with."""

    attributes: Mapping[str, AttributeInfo]  # by label
    families: Mapping[str, FamilyInfo]  # by family id

    @classmethod
    def of(cls, attributes: Iterable[AttributeInfo], families: Iterable[FamilyInfo]) -> PlytixConfig:
        return cls({a.label: a for a in attributes}, {id_of(f.key): f for f in families})


# --- translation --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadProblem:
    """A record of Plytix that cannot go to the target as it is: ``key`` is the variant's (or the product's)
    record key, ``product`` the product it belongs to."""

    key: str
    product: str
    reason: str
    problem: str  # axis | duplicate | sku | price | name | family | value

    def payload(self) -> dict[str, str]:
        return {"product": self.product, "problem": self.problem}


def _row(product: PlytixProduct) -> dict[str, JsonValue]:
    return product.model_dump(mode="json")


def _label(row: Row) -> str:
    return f"product {row.get('sku') or ''} ({row.get('id')})"


def _decimal(value: Value) -> Decimal | None:
    if is_blank(value):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise FieldProblem(f"not a number: {value!r}")
    if isinstance(value, int | float):
        try:
            return Decimal(repr(value))
        except InvalidOperation:
            raise FieldProblem(f"not a number: {value!r}") from None
    return _NUMBERS.decimal(as_text(value))


def _urls(value: Value) -> list[str]:
    """Image URLs of a mapped value: assets (dicts with a url), a list of URLs, or one URL."""
    items: list[Value] = list(value) if isinstance(value, list) else [value]
    urls: list[str] = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else item
        if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in urls:
            urls.append(url)
    return urls


class PlytixTranslator:
    """Plytix rows (a parent with its variants, or a single product) -> canonical products."""

    def __init__(self, mapping: PlytixMapping, config: PlytixConfig, *, currency: str, language: str) -> None:
        self.config, self.currency, self.language = config, currency, language
        self.rules: dict[PlytixTarget, CompiledRule] = {
            target: compile_rule(target, rule.source, rule.transforms)
            for target, rule in mapping.fields.items()
        }
        self.custom = {
            slug: compile_rule(slug, rule.source, rule.transforms)
            for slug, rule in mapping.product_fields.items()
        }

    def _value(self, target: PlytixTarget, row: Row) -> Value:
        rule = self.rules.get(target)
        return rule(row) if rule is not None else None

    def product(self, parent: Row, variants: Sequence[Row] = ()) -> tuple[Product | None, list[ReadProblem]]:
        """The canonical product of ``parent`` and its variants (none: a single product), and what was wrong.

        ``None`` when nothing of it can go to the target (no name, unknown family, no good variant)."""
        key = product_key(str(parent["id"]))
        problems: list[ReadProblem] = []

        def problem(record: str, reason: str, kind: str) -> None:
            problems.append(ReadProblem(record, key, reason, kind))

        try:
            name = as_text(self._value("name", parent)).strip()
            description = as_text(self._value("description", parent))
            images = _urls(self._value("images", parent))
            custom = [
                Metafield(namespace="webflow", key=slug, type="text", value=as_text(rule(parent)))
                for slug, rule in self.custom.items()
            ]
        except FieldProblem as exc:
            problem(key, f"{_label(parent)}: {exc}", "value")
            return None, problems
        if not name:
            source = self.rules["name"].column
            problem(key, f"{_label(parent)}: no name ({source})", "name")
            return None, problems

        axes: tuple[str, ...] = ()
        if variants:
            family_id = next(
                (str(v["product_family_id"]) for v in variants if v.get("product_family_id")), None
            )
            family_id = family_id or (
                str(parent["product_family_id"]) if parent.get("product_family_id") else None
            )
            family = self.config.families.get(family_id) if family_id else None
            if family is None:
                what = (
                    f"family {family_id} is not in the config cache (run the config job)"
                    if family_id
                    else ("no product family")
                )
                problem(key, f"{_label(parent)}: its variants have {what}", "family")
                return None, problems
            axes = family.variant_attributes
            if not axes:
                problem(
                    key,
                    f"{_label(parent)}: family {family.name!r} has no variant-level attribute to tell its "
                    f"{len(variants)} variants apart",
                    "family",
                )
                return None, problems

        canonical: list[Variant] = []
        taken: dict[tuple[str, ...], str] = {}
        # Sorted by SKU, so the first variant (Webflow's default SKU) and the option order stay put.
        for position, row in enumerate(sorted(variants or [parent], key=lambda r: str(r.get("sku") or ""))):
            variant = self._variant(row, parent, axes, position, taken, problem, is_own=not variants)
            if variant is not None:
                canonical.append(variant)
        if not canonical:
            return None, problems
        product = Product(
            key=key,
            texts={self.language: Texts(name=name, description=description)},
            category_keys=tuple(category_key(str(c["id"])) for c in _category_refs(parent)),
            media=tuple(Media(key=url, url=url, position=i) for i, url in enumerate(images)),
            variants=tuple(canonical),
            metafields=tuple(custom),
        )
        return product, problems

    def _variant(
        self,
        row: Row,
        parent: Row,
        axes: Sequence[str],
        position: int,
        taken: dict[tuple[str, ...], str],
        problem: Callable[[str, str, str], None],
        *,
        is_own: bool,
    ) -> Variant | None:
        record = product_key(str(row["id"])) if is_own else variant_key(str(row["id"]))
        sku = str(row.get("sku") or "").strip()
        where = _label(parent) + ("" if is_own else f", variant {sku or row.get('id')}")
        if not sku:
            problem(record, f"{where}: no SKU", "sku")
            return None
        values: list[str] = []
        attributes = row.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        for axis in axes:
            value = attributes.get(axis)
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else value
            if is_blank(value) or isinstance(value, list | dict):
                reason = "no value" if is_blank(value) else f"several values {as_text(value)!r}"
                problem(record, f"{where}: {reason} for the variant attribute {axis!r}", "axis")
                return None
            values.append(as_text(value).strip())
        combination = tuple(values)
        if axes and combination in taken:
            shown = ", ".join(f"{a}={v}" for a, v in zip(axes, values, strict=True))
            problem(record, f"{where}: {shown} is already variant {taken[combination]}", "duplicate")
            return None
        try:
            price = _decimal(self._value("price", row))
            compare_at = _decimal(self._value("compare_at_price", row))
            weight = _decimal(self._value("weight_kg", row))
            images = _urls(self._value("images", row))
        except FieldProblem as exc:
            problem(record, f"{where}: {exc}", "value")
            return None
        if price is None:
            problem(record, f"{where}: no price ({self.rules['price'].column})", "price")
            return None
        taken[combination] = sku
        options = tuple(
            OptionChoice(
                option_key=option_key(axis),
                value_key=f"{option_key(axis)}:{value}",
                option_name=self._option_name(axis),
                value_name=value,
            )
            for axis, value in zip(axes, values, strict=True)
        )
        return Variant(
            key=record,
            sku=sku,
            barcode=str(row.get("gtin") or ""),
            prices=(Price(currency=self.currency, gross=price, list_gross=compare_at),),
            options=options,
            weight_kg=weight,
            position=position,
            media_keys=tuple(images[:1]),
        )

    def _option_name(self, label: str) -> str:
        info = self.config.attributes.get(label)
        return info.name if info is not None else label


def _category_refs(row: Row) -> list[Mapping[str, JsonValue]]:
    refs = row.get("categories")
    return [c for c in refs if isinstance(c, dict) and c.get("id")] if isinstance(refs, list) else []


# --- reading ------------------------------------------------------------------------------------------------


@dataclass
class PlytixRead:
    """One read of Plytix products as canonical products (a :class:`SourceReader`).

    ``since`` reads what changed after that instant (parents whose variants changed included, and the
    ``retry`` products); ``ids`` reads those products (a variant's id reads its parent); neither reads the
    whole catalog. Parents are searched
    page by page and their variants fetched ``concurrency`` at a time, in order."""

    client: PlytixClient
    translator: PlytixTranslator
    attributes: Sequence[str]
    previous: Collection[str]
    concurrency: int = 4
    since: datetime | None = None
    ids: Sequence[str] | None = None
    retry: Sequence[str] = ()  # products whose last read failed, read again by a delta
    problems: list[ReadProblem] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    products_read: int = 0
    variants_read: int = 0
    read_keys: set[str] = field(default_factory=set)

    def read(self) -> Iterator[Product]:
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="plytix-variants") as pool:
            pending: deque[tuple[dict[str, JsonValue], Future[list[PlytixProduct]] | None]] = deque()
            for parent in self._parents():
                self.read_keys.add(product_key(str(parent["id"])))
                has_variants = bool(parent.get("num_variations"))
                future = pool.submit(self.client.variants, str(parent["id"])) if has_variants else None
                pending.append((parent, future))
                while len(pending) > self.concurrency * 2:
                    yield from self._translated(*pending.popleft())
            while pending:
                yield from self._translated(*pending.popleft())

    def _translated(
        self, parent: dict[str, JsonValue], future: Future[list[PlytixProduct]] | None
    ) -> Iterator[Product]:
        variants = [_row(v) for v in future.result()] if future is not None else []
        self.products_read += 1
        self.variants_read += len(variants)
        product, problems = self.translator.product(parent, variants)
        self.problems.extend(problems)
        key = product_key(str(parent["id"]))
        if problems and key in self.previous:
            self.held_back.append(key)
            return
        if product is not None:
            yield product

    def _parents(self) -> Iterator[dict[str, JsonValue]]:
        if self.ids is not None:
            yield from self._by_id(self.ids)
        elif self.since is None:
            # Single products (level 0) and parents (1); variants come with their parent.
            not_variants = [SearchFilter(field="product_level", operator="in", value=[0, 1])]
            for product in self.client.search_products([not_variants], self.attributes):
                yield _row(product)
        else:
            yield from self._changed(self.since)

    def _changed(self, since: datetime) -> Iterator[dict[str, JsonValue]]:
        changed = [SearchFilter(field="modified", operator="gt", value=since.isoformat())]
        parents: dict[str, dict[str, JsonValue] | None] = {}
        for product in self.client.search_products([changed], self.attributes):
            row = _row(product)
            if row.get("parent_id"):
                parents.setdefault(str(row["parent_id"]), None)
            else:
                parents[str(row["id"])] = row
        for product_id in self.retry:
            parents.setdefault(product_id, None)
        rows = [row for row in parents.values() if row is not None]
        yield from rows
        yield from self._by_id([i for i, row in parents.items() if row is None])

    def _by_id(self, ids: Iterable[str]) -> Iterator[dict[str, JsonValue]]:
        seen: set[str] = set()
        for product_id in ids:
            product = self.client.get_product(product_id)
            if product is not None and product.parent_id:
                product = self.client.get_product(product.parent_id)
            if product is None:
                log.warning("plytix product %s not found", product_id)
                continue
            if product.id not in seen:
                seen.add(product.id)
                yield _row(product)

    def unreadable(self) -> Collection[str]:
        return set(self.held_back)
