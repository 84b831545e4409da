"""Products: rows sharing the ``group_by`` value become one product with one variant per row, the first
good row of a group carrying the product fields, metafields and images; each row carries its variant's
fields, metafields, image and stock (per location, where the mapping names locations). A bad row becomes a
:class:`RowError` and is skipped; the other variants of its product go on, and a product whose rows all
failed is not emitted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from connector_pipelines.catalog.models import (
    LocationStock,
    Media,
    Metafield,
    OptionChoice,
    Price,
    Product,
    Texts,
    Variant,
    source_key,
)
from connector_pipelines.sources.erp_files import Record, RowError, SourceRow
from connector_pipelines.sources.erp_mapping.config import MappingConfig, MetafieldRule
from connector_pipelines.sources.erp_mapping.metafields import MetafieldCoercer
from connector_pipelines.sources.erp_mapping.values import (
    CompiledRule,
    FieldProblem,
    NumberParser,
    Row,
    Value,
    as_text,
    compile_rule,
    is_blank,
    make_getter,
)

SYSTEM = "erp_files"
LOCATION_GID = re.compile(r"gid://shopify/Location/\d+")
MAX_INVENTORY = 2**31 - 1  # Shopify's quantity is a GraphQL Int: 32 bits
KG_PER_UNIT = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}
IMAGE_SCHEMES = ("https://", "http://")  # what Shopify fetches an image's originalSource from
ACTIVE_STATUSES = frozenset({"active", "true", "1", "yes"})
INACTIVE_STATUSES = frozenset({"draft", "archived", "unlisted", "inactive", "false", "0", "no"})


def product_key(parent: str) -> str:
    return source_key(SYSTEM, "product", parent)


def variant_key(sku: str) -> str:
    return source_key(SYSTEM, "variant", sku)


@dataclass(slots=True)
class _ProductFields:
    texts: Texts
    active: bool
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    metafields: tuple[Metafield, ...]
    images: tuple[str, ...] = ()
    alts: tuple[str, ...] | str = ""  # one text for every image, or one per image


@dataclass(slots=True)
class _PendingVariant:
    file: str
    line: int
    sku: str
    barcode: str
    prices: tuple[Price, ...]
    stock: int
    weight_kg: Decimal | None
    options: dict[str, str]
    metafields: tuple[Metafield, ...] = ()
    image: str | None = None
    stock_by_location: tuple[LocationStock, ...] = ()


@dataclass(slots=True)
class _PendingProduct:
    parent: str
    key: str
    fields: _ProductFields | None = None
    variants: list[_PendingVariant] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Spec:
    """One value of a row: read and transform (the rule), then convert to what the target takes."""

    name: str
    column: str
    evaluate: Callable[[Row], Value]
    convert: Callable[[Value], Value]
    label: str  # prefix of a problem's reason: the target, when the column does not already say it


def _no_value(_row: Row) -> Value:
    return None


def _evaluator(rule: CompiledRule | None) -> Callable[[Row], Value]:
    if rule is None:
        return _no_value
    if not rule.steps and rule.get is not None:
        return rule.get
    return rule


def _spec(
    name: str, rule: CompiledRule | None, convert: Callable[[Value], Value], label: str | None = None
) -> _Spec:
    column = rule.column if rule is not None else name
    if label is None:
        label = "" if column == name else f"{name}: "
    return _Spec(name, column, _evaluator(rule), convert, label)


def _evaluate(specs: Sequence[_Spec], row: SourceRow, key: str, errors: list[RowError]) -> list[Value]:
    """The specs' values for a row; a problem becomes a row error and the value None."""
    data = row.data
    values: list[Value] = []
    for spec in specs:
        try:
            value = spec.convert(spec.evaluate(data))
        except FieldProblem as exc:
            errors.append(RowError(row.file, row.line, spec.column, f"{spec.label}{exc}", key))
            value = None
        values.append(value)
    return values


def _text(value: Value) -> Value:
    return as_text(value).strip()


def _required_text(value: Value) -> Value:
    text = as_text(value).strip()
    if not text:
        raise FieldProblem("required value missing")
    return text


def _tags(value: Value) -> Value:
    items = value if isinstance(value, list) else as_text(value).split(",")
    return list(dict.fromkeys(tag for tag in (as_text(item).strip() for item in items) if tag))


def _image_url(value: Value) -> Value:
    text = as_text(value).strip()
    if not text:
        return None
    if not text.lower().startswith(IMAGE_SCHEMES) or len(text.split("://", 1)[1]) == 0:
        raise FieldProblem(f"an image needs an http(s) URL, got {text!r}")
    return text


def _image_urls(value: Value) -> Value:
    """The image URLs in order, each once (a list, or one URL)."""
    items = value if isinstance(value, list) else [value]
    urls = (_image_url(item) for item in items)
    return list(dict.fromkeys(url for url in urls if isinstance(url, str)))


def _alts(value: Value) -> Value:
    if isinstance(value, list):
        return [as_text(item).strip() for item in value]
    return as_text(value).strip()


def _location(value: Value) -> Value:
    text = as_text(value).strip()
    if text.startswith("gid://") and not LOCATION_GID.fullmatch(text):
        raise FieldProblem(f"{text!r} is not a location GID (gid://shopify/Location/<id>)")
    return text


def _active(value: Value) -> Value:
    if is_blank(value):
        return True
    if isinstance(value, bool):
        return value
    text = as_text(value).strip().lower()
    if text in ACTIVE_STATUSES:
        return True
    if text in INACTIVE_STATUSES:
        return False
    raise FieldProblem(f"unknown status {as_text(value)!r} (expected active, draft, archived, true or false)")


class ProductMapper:
    """Maps a stream of records to products, streaming: with ``group_order: contiguous`` only the product
    being assembled is held; SKUs seen are remembered to report duplicates."""

    def __init__(self, config: MappingConfig) -> None:
        self.config = config
        self.numbers = NumberParser(config.decimal_separator)
        rules = {
            t: compile_rule(t, rule.source, rule.transforms, config.decimal_separator)
            for t, rule in config.fields.items()
        }
        weight_factor = KG_PER_UNIT[config.weight_unit]

        def weight(value: Value) -> Value:
            kilograms = self._amount(value)
            return kilograms * weight_factor if kilograms is not None and weight_factor != 1 else kilograms

        # Order matters: _add unpacks the values in this order.
        self._variant_specs = [
            _spec("variant.sku", rules.get("variant.sku"), _required_text),
            _spec("variant.price", rules.get("variant.price"), self._amount),
            _spec("variant.compareAtPrice", rules.get("variant.compareAtPrice"), self._amount),
            _spec("weight", rules.get("weight"), weight),
            _spec("inventory", rules.get("inventory"), self._inventory),
            _spec("variant.barcode", rules.get("variant.barcode"), _text),
        ]
        self._product_specs = [
            _spec("title", rules.get("title"), _required_text),
            _spec("descriptionHtml", rules.get("descriptionHtml"), as_text),
            _spec("vendor", rules.get("vendor"), _text),
            _spec("productType", rules.get("productType"), _text),
            _spec("tags", rules.get("tags"), _tags),
            _spec("status", rules.get("status"), _active),
        ]
        self._option_specs = [
            _spec(
                name,
                compile_rule(name, rule.source, rule.transforms, config.decimal_separator),
                self._option_check(frozenset(rule.values) if rule.values is not None else None),
                label=f"option {name}: ",
            )
            for name, rule in config.options.items()
        ]
        self._metafields = list(config.metafields)
        self._metafield_specs = self._metafield_rules("metafield", config.metafields)
        self._variant_metafields = list(config.variant_metafields)
        self._variant_metafield_specs = self._metafield_rules("variant metafield", config.variant_metafields)
        # Only mapped extras get specs: a mapping without them costs nothing per row.
        sep = config.decimal_separator
        self._image_specs: list[_Spec] = []
        if config.images is not None:
            images = config.images
            self._image_specs.append(
                _spec("images", compile_rule("images", images.source, images.transforms, sep), _image_urls)
            )
            if images.alt is not None:
                alt = compile_rule("images.alt", images.alt.source, images.alt.transforms, sep)
                self._image_specs.append(_spec("images.alt", alt, _alts))
        self._variant_image_specs = (
            [
                _spec(
                    "variant_image",
                    compile_rule(
                        "variant_image", config.variant_image.source, config.variant_image.transforms, sep
                    ),
                    _image_url,
                )
            ]
            if config.variant_image is not None
            else []
        )
        self._locations = list(config.inventory_by_location)
        self._location_specs = [
            _spec(
                f"inventory at {location}",
                compile_rule(f"inventory at {location}", rule.source, rule.transforms, sep),
                self._inventory,
                label=f"inventory at {location}: ",
            )
            for location, rule in config.inventory_by_location.items()
        ]
        self._location_column_specs = (
            [
                _spec(
                    "inventory_location",
                    compile_rule(
                        "inventory_location",
                        config.inventory_location.source,
                        config.inventory_location.transforms,
                        sep,
                    ),
                    _location,
                )
            ]
            if config.inventory_location is not None
            else []
        )
        self._has_variant_extras = bool(
            self._variant_metafield_specs
            or self._variant_image_specs
            or self._location_specs
            or self._location_column_specs
        )
        self._group = make_getter(config.group_by) if config.group_by else None
        self._sku_column = self._variant_specs[0].column
        self._skus: dict[str, int] = {}
        self._choices: dict[tuple[str, str], OptionChoice] = {}

    def _metafield_rules(self, what: str, rules: Sequence[MetafieldRule]) -> list[_Spec]:
        return [
            _spec(
                f"{what} {m.namespace}.{m.key} ({m.type})",
                compile_rule(f"{m.namespace}.{m.key}", m.source, m.transforms, self.config.decimal_separator),
                MetafieldCoercer(m, self.config),
            )
            for m in rules
        ]

    def _amount(self, value: Value) -> Decimal | None:
        amount = self.numbers.decimal(value)
        if amount is not None and amount < 0:
            raise FieldProblem(f"must not be negative: {as_text(amount)}")
        return amount

    def _inventory(self, value: Value) -> int | None:
        stock = self.numbers.integer(value)
        if stock is not None and abs(stock) > MAX_INVENTORY:
            raise FieldProblem(f"stock {stock} is out of range: Shopify holds up to {MAX_INVENTORY}")
        return stock

    @staticmethod
    def _option_check(allowed: frozenset[str] | None) -> Callable[[Value], Value]:
        def check(value: Value) -> Value:
            text = as_text(value).strip()
            if text and allowed is not None and text not in allowed:
                raise FieldProblem(f"unknown value {text!r} (allowed: {', '.join(sorted(allowed))})")
            return text

        return check

    def _parent(self, row: SourceRow) -> str | RowError:
        if self._group is None:
            errors: list[RowError] = []
            (sku,) = _evaluate(self._variant_specs[:1], row, "", errors)
            return errors[0] if errors else str(sku)
        parent = as_text(self._group(row.data)).strip()
        return parent or RowError(
            row.file, row.line, self.config.group_by or "", "missing parent (group_by) value"
        )

    def map(self, records: Iterable[Record]) -> Iterator[Product | RowError]:
        contiguous = self.config.group_order == "contiguous"
        pending: dict[str, _PendingProduct] = {}
        completed: set[str] = set()
        current: _PendingProduct | None = None
        for record in records:
            if isinstance(record, RowError):
                yield record
                continue
            parent = self._parent(record)
            if isinstance(parent, RowError):
                yield parent
                continue
            if not contiguous:
                group = pending.get(parent)
                if group is None:
                    group = pending[parent] = _PendingProduct(parent, product_key(parent))
            else:
                if current is not None and current.parent != parent:
                    completed.add(current.parent)
                    yield from self._finish(current)
                    current = None
                if parent in completed:
                    yield RowError(
                        record.file,
                        record.line,
                        self.config.group_by or self._sku_column,
                        f"rows of product {parent!r} are not adjacent; sort the file by "
                        f"{self.config.group_by or 'SKU'} or set group_order: any",
                        product_key(parent),
                    )
                    continue
                group = current = current or _PendingProduct(parent, product_key(parent))
            yield from self._add(group, record)
        if current is not None:
            yield from self._finish(current)
        for group in pending.values():
            yield from self._finish(group)

    def _add(self, group: _PendingProduct, row: SourceRow) -> Iterator[RowError]:
        key = group.key
        errors: list[RowError] = []
        sku, price, compare, weight, stock, barcode = _evaluate(self._variant_specs, row, key, errors)
        if isinstance(sku, str):
            first_line = self._skus.setdefault(sku, row.line)
            if first_line != row.line:
                errors.append(
                    RowError(
                        row.file,
                        row.line,
                        self._sku_column,
                        f"duplicate SKU {sku!r} (first at line {first_line})",
                        key,
                    )
                )
        option_values = _evaluate(self._option_specs, row, key, errors)
        extras = self._variant_extras(row, key, errors) if self._has_variant_extras else None
        fields = self._product_fields(row, key, errors) if group.fields is None else None
        if errors:
            yield from errors
            return
        assert isinstance(sku, str)
        assert isinstance(price, Decimal | None)
        assert isinstance(compare, Decimal | None)
        assert isinstance(weight, Decimal | None)
        assert isinstance(stock, int | None)
        if fields is not None:
            group.fields = fields
        metafields: tuple[Metafield, ...] = ()
        image: str | None = None
        stock_by_location: tuple[LocationStock, ...] = ()
        if extras is not None:
            metafields, image, located, location = extras
            if self._locations:
                stock_by_location = tuple(
                    LocationStock(location=name, quantity=quantity)
                    for name, quantity in zip(self._locations, located, strict=True)
                    if isinstance(quantity, int)  # a blank figure leaves that location's stock alone
                )
                stock = sum(s.quantity for s in stock_by_location)
            elif location and stock is not None:
                stock_by_location = (LocationStock(location=location, quantity=stock),)
        prices = (
            (Price(currency=self.config.currency, gross=price, net=None, list_gross=compare),)
            if price is not None
            else ()
        )
        group.variants.append(
            _PendingVariant(
                file=row.file,
                line=row.line,
                sku=sku,
                barcode=as_text(barcode),
                prices=prices,
                stock=stock or 0,
                weight_kg=weight,
                options={
                    spec.name: str(v) for spec, v in zip(self._option_specs, option_values, strict=True) if v
                },
                metafields=metafields,
                image=image,
                stock_by_location=stock_by_location,
            )
        )

    def _variant_extras(
        self, row: SourceRow, key: str, errors: list[RowError]
    ) -> tuple[tuple[Metafield, ...], str | None, list[Value], str]:
        """A row's variant metafields, image, stock per mapped location and location column (only for a
        mapping that maps any of them: the others pay nothing per row)."""
        metafield_values = _evaluate(self._variant_metafield_specs, row, key, errors)
        (image,) = _evaluate(self._variant_image_specs, row, key, errors) or (None,)
        located = _evaluate(self._location_specs, row, key, errors)
        (location,) = _evaluate(self._location_column_specs, row, key, errors) or (None,)
        return (
            _metafields(self._variant_metafields, metafield_values),
            image if isinstance(image, str) else None,
            located,
            as_text(location),
        )

    def _product_fields(self, row: SourceRow, key: str, errors: list[RowError]) -> _ProductFields | None:
        before = len(errors)
        title, description, vendor, product_type, tags, active = _evaluate(
            self._product_specs, row, key, errors
        )
        metafield_values = _evaluate(self._metafield_specs, row, key, errors)
        images, alts = [*_evaluate(self._image_specs, row, key, errors), None, None][:2]
        if len(errors) > before:
            return None
        assert isinstance(tags, list)
        return _ProductFields(
            texts=Texts(name=as_text(title), description=as_text(description)),
            active=active is not False,
            vendor=as_text(vendor),
            product_type=as_text(product_type),
            tags=tuple(as_text(tag) for tag in tags),
            metafields=_metafields(self._metafields, metafield_values),
            images=tuple(str(url) for url in images) if isinstance(images, list) else (),
            alts=tuple(str(a) for a in alts) if isinstance(alts, list) else as_text(alts),
        )

    def _choice(self, name: str, value: str) -> OptionChoice:
        choice = self._choices.get((name, value))
        if choice is None:
            choice = self._choices[(name, value)] = OptionChoice(
                option_key=source_key(SYSTEM, "option", name),
                value_key=source_key(SYSTEM, "option_value", f"{name}:{value}"),
                option_name=name,
                value_name=value,
            )
        return choice

    def _finish(self, group: _PendingProduct) -> Iterator[Product | RowError]:
        """Check the option values of a complete product, then emit it (without its bad variants)."""
        if group.fields is None or not group.variants:
            return
        used = [spec for spec in self._option_specs if any(spec.name in v.options for v in group.variants)]
        kept: list[_PendingVariant] = []
        combinations: dict[tuple[str, ...], _PendingVariant] = {}
        for variant in group.variants:
            missing = next((spec for spec in used if spec.name not in variant.options), None)
            if missing is not None:
                yield RowError(
                    variant.file,
                    variant.line,
                    missing.column,
                    f"option {missing.name}: missing value (other variants of {group.parent!r} have one)",
                    group.key,
                )
                continue
            combination = tuple(variant.options[spec.name] for spec in used)
            twin = combinations.setdefault(combination, variant)
            if twin is not variant:
                column = used[0].column if used else self._sku_column
                what = "the same option values as" if used else "no options to tell it from"
                yield RowError(
                    variant.file,
                    variant.line,
                    column,
                    f"variant has {what} SKU {twin.sku!r} (line {twin.line}) of product {group.parent!r}",
                    group.key,
                )
                continue
            kept.append(variant)
        if not kept:
            return
        fields = group.fields
        yield Product(
            key=group.key,
            texts={self.config.language: fields.texts},
            active=fields.active,
            vendor=fields.vendor,
            product_type=fields.product_type,
            tags=fields.tags,
            metafields=fields.metafields,
            media=_media(fields, kept) if fields.images or self._variant_image_specs else (),
            variants=tuple(self._variant(v, position, used) for position, v in enumerate(kept)),
        )

    def _variant(self, v: _PendingVariant, position: int, used: Sequence[_Spec]) -> Variant:
        variant = Variant(
            key=variant_key(v.sku),
            sku=v.sku,
            barcode=v.barcode,
            prices=v.prices,
            stock=v.stock,
            options=tuple(self._choice(spec.name, v.options[spec.name]) for spec in used),
            weight_kg=v.weight_kg,
            position=position,
        )
        if not (v.image or v.metafields or v.stock_by_location):
            return variant  # the common case: no second copy
        # Built of validated models already: a copy needs no second validation.
        return variant.model_copy(
            update={
                "media_keys": (v.image,) if v.image else (),
                "metafields": v.metafields,
                "stock_by_location": v.stock_by_location,
            }
        )


def _metafields(rules: Sequence[MetafieldRule], values: Sequence[Value]) -> tuple[Metafield, ...]:
    """The metafields with a value (a blank one is left out)."""
    return tuple(
        Metafield(namespace=rule.namespace, key=rule.key, type=rule.type, value=value)
        for rule, value in zip(rules, values, strict=True)
        if isinstance(value, str)
    )


def _media(fields: _ProductFields, variants: Sequence[_PendingVariant]) -> tuple[Media, ...]:
    """The product's images in order, then the variants' images not among them; an image's key is its URL
    (what the variants' ``media_keys`` name)."""
    urls = list(dict.fromkeys([*fields.images, *(v.image for v in variants if v.image)]))
    alts = fields.alts

    def alt(position: int) -> str:
        if isinstance(alts, str):
            return alts
        return alts[position] if position < len(alts) and position < len(fields.images) else ""

    return tuple(Media(key=url, url=url, alt=alt(i), position=i) for i, url in enumerate(urls))


def map_records(config: MappingConfig, records: Iterable[Record]) -> Iterator[Product | RowError]:
    """Products and row errors, in file order (a product follows the errors of its rows)."""
    return ProductMapper(config).map(records)
