"""``productSet`` and ``productDelete`` over a :class:`ShopState` (contract §4, §5).

productSet validates the whole input first and writes nothing when any ``userErrors`` come back. List
fields (``productOptions``, ``variants``, ``metafields``, ``files``, ``tags``) replace what the product had;
omitted fields stay. Options: ``shopify_options``; media: ``shopify_media``. Stock goes per location; an
existing variant takes quantities only where it is stocked (setting ``unstocked_location``).
Variants without ``id`` are matched to existing ones by their option values, so their ids survive an upsert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import orjson

from connector_pipelines.sandbox.shopify_gql import Json
from connector_pipelines.sandbox.shopify_media import (
    FileSpec,
    apply_files,
    apply_variant_file,
    check_files,
    check_variant_file,
)
from connector_pipelines.sandbox.shopify_options import (
    OptionSpec,
    ValueSpec,
    applied,
    apply_options,
    check_options,
    kept_options,
    option_index,
    option_value,
)
from connector_pipelines.sandbox.shopify_store import (
    InventoryItem,
    Metafield,
    Option,
    OptionValue,
    Product,
    ShopState,
    Variant,
    gid,
    iso,
    next_id,
    parse_gid,
)

UserError = dict[str, Json]
DEFAULT_OPTION = "Title"
DEFAULT_VALUE = "Default Title"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def user_error(path: list[str], message: str, code: str | None = None) -> UserError:
    error: UserError = {"field": path, "message": message}
    if code is not None:
        error["code"] = code
    return error


def parameterize(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.casefold()).strip("-_")


# --- metafields -------------------------------------------------------------------------------------------


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+", text)) and abs(int(text)) <= 9_007_199_254_740_991


def _is_decimal(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme in ("mailto", "sms", "tel") and bool(parts.path)


def _json_object(text: str, *keys: str) -> bool:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and all(k in value for k in keys)


def _reference(kind: str) -> tuple[str, ...]:
    return (kind,)


_SCALAR_TYPES: dict[str, tuple[str, object]] = {
    "single_line_text_field": ("Value must be a single line of text.", lambda t: "\n" not in t),
    "multi_line_text_field": ("Value must be text.", lambda t: True),
    "number_integer": ("Value must be an integer.", _is_int),
    "number_decimal": ("Value must be a decimal number.", _is_decimal),
    "boolean": ("Value must be true or false.", lambda t: t in ("true", "false")),
    "json": ("Value must be valid JSON.", lambda t: _json_object(t) or _is_json(t)),
    "date": ("Value must be a date in YYYY-MM-DD format.", _is_date),
    "date_time": ("Value must be a date and time in ISO 8601 format.", _is_datetime),
    "url": ("Value must be a valid URL (http, https, mailto, sms or tel).", _is_url),
    "color": (
        "Value must be a hex color code (#RRGGBB).",
        lambda t: bool(re.fullmatch(r"#[0-9A-Fa-f]{6}", t)),
    ),
    "id": ("Value must be 1 to 255 characters.", lambda t: 0 < len(t) <= 255),
    "rating": ("Value must be a JSON rating.", lambda t: _json_object(t, "value", "scale_min", "scale_max")),
    "weight": ("Value must be a JSON weight.", lambda t: _json_object(t, "value", "unit")),
    "volume": ("Value must be a JSON volume.", lambda t: _json_object(t, "value", "unit")),
    "dimension": ("Value must be a JSON dimension.", lambda t: _json_object(t, "value", "unit")),
    "money": ("Value must be a JSON money object.", lambda t: _json_object(t, "amount", "currency_code")),
    "link": ("Value must be a JSON link.", lambda t: _json_object(t, "text", "url")),
    "rich_text_field": ("Value must be rich text JSON.", lambda t: _json_object(t, "type", "children")),
}
_REFERENCE_TYPES = {
    "product_reference": "Product",
    "variant_reference": "ProductVariant",
    "collection_reference": "Collection",
    "page_reference": "Page",
    "customer_reference": "Customer",
    "company_reference": "Company",
    "metaobject_reference": "Metaobject",
    "mixed_reference": "Metaobject",
    "file_reference": None,
}
_LIST_TYPES = {
    "single_line_text_field",
    "number_integer",
    "number_decimal",
    "date",
    "date_time",
    "url",
    "color",
    "rating",
    "weight",
    "volume",
    "dimension",
    "link",
    *_REFERENCE_TYPES,
}


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _scalar_problem(type_: str, text: str) -> str | None:
    if type_ in _REFERENCE_TYPES:
        kind = _REFERENCE_TYPES[type_]
        return None if parse_gid(text, kind) else f"Value must be a global id of a {kind or 'file'}."
    message, check = _SCALAR_TYPES[type_]
    return None if check(text) else message  # type: ignore[operator]  # the table pairs messages with predicates


def metafield_value_problem(type_: str, value: str) -> str | None:
    """Why ``value`` does not fit the metafield ``type_`` (None when it does); unknown types are errors."""
    if type_.startswith("list."):
        inner = type_[len("list.") :]
        if inner not in _LIST_TYPES:
            return f"Type '{type_}' is not a valid metafield type."
        try:
            items = orjson.loads(value)
        except orjson.JSONDecodeError:
            return "Value must be a JSON array."
        if not isinstance(items, list):
            return "Value must be a JSON array."
        for item in items:
            text = item if isinstance(item, str) else orjson.dumps(item).decode()
            problem = _scalar_problem(inner, text)
            if problem:
                return problem
        return None
    if type_ not in _SCALAR_TYPES and type_ not in _REFERENCE_TYPES:
        return f"Type '{type_}' is not a valid metafield type."
    return _scalar_problem(type_, value)


@dataclass
class _MetafieldSpec:
    existing: Metafield | None
    namespace: str
    key: str
    type: str
    value: str


def metafield_namespace(raw: str | None, app_id: int) -> str:
    """``$app`` / ``$app:sub`` / omitted -> the app-reserved namespace (``app--<id>[--sub]``)."""
    if raw is None or raw == "$app":
        return f"app--{app_id}"
    if raw.startswith("$app:"):
        return f"app--{app_id}--{raw[len('$app:') :]}"
    return raw


def check_metafields(
    inputs: list[dict[str, Json]] | None,
    existing: list[Metafield],
    path: list[str],
    errors: list[UserError],
    app_id: int,
) -> list[_MetafieldSpec] | None:
    if inputs is None:
        return None
    by_key = {(m.namespace, m.key): m for m in existing}
    by_id = {m.id: m for m in existing}
    specs: list[_MetafieldSpec] = []
    seen: set[tuple[str, str]] = set()
    code = "INVALID_METAFIELD"
    for i, item in enumerate(inputs):
        here = [*path, str(i)]
        found: Metafield | None = None
        if item.get("id") is not None:
            parsed = parse_gid(item["id"], "Metafield")
            found = by_id.get(parsed[1]) if parsed else None
            if found is None:
                errors.append(user_error([*here, "id"], "Metafield does not exist.", code))
                continue
        namespace = (
            metafield_namespace(item.get("namespace"), app_id) if item.get("namespace") or not found else None
        )
        namespace = namespace or (found.namespace if found else "")
        key = item.get("key") or (found.key if found else None)
        if not key:
            errors.append(user_error([*here, "key"], "Key can't be blank.", code))
            continue
        if not 2 <= len(key) <= 64 or not _NAME.match(key):
            errors.append(
                user_error([*here, "key"], "Key must be 2-64 characters: letters, numbers, - and _.", code)
            )
            continue
        if not 2 <= len(namespace) <= 255 or not _NAME.match(namespace):
            errors.append(
                user_error(
                    [*here, "namespace"],
                    "Namespace must be 2-255 characters: letters, numbers, - and _.",
                    code,
                )
            )
            continue
        found = found or by_key.get((namespace, key))
        type_ = item.get("type") or (found.type if found else None)
        if not type_:
            errors.append(user_error([*here, "type"], "Type can't be blank.", code))
            continue
        value = item.get("value")
        if value is None:
            if found is None:
                errors.append(user_error([*here, "value"], "Value can't be blank.", code))
                continue
            value = found.value
        problem = metafield_value_problem(type_, value)
        if problem:
            errors.append(
                user_error([*here, "type" if "valid metafield type" in problem else "value"], problem, code)
            )
            continue
        if (namespace, key) in seen:
            errors.append(user_error(here, f"Metafield {namespace}.{key} is given more than once.", code))
            continue
        seen.add((namespace, key))
        specs.append(_MetafieldSpec(found, namespace, key, type_, value))
    return specs


def apply_metafields(
    specs: list[_MetafieldSpec], owner_type: str, now: str, owner: Product | Variant
) -> list[Metafield]:
    out: list[Metafield] = []
    for spec in specs:
        metafield = spec.existing
        if metafield is None:
            metafield = Metafield(
                next_id(), spec.namespace, spec.key, spec.type, spec.value, owner_type, now, now, owner
            )
        elif (metafield.type, metafield.value) != (spec.type, spec.value):
            metafield.type, metafield.value, metafield.updated_at = spec.type, spec.value, now
        out.append(metafield)
    return out


# --- variants ---------------------------------------------------------------------------------------------


@dataclass
class _VariantSpec:
    existing: Variant | None
    values: list[ValueSpec]  # one per option, in option order
    data: dict[str, Json]
    sku: str | None
    sku_given: bool
    position: int
    metafields: list[_MetafieldSpec] | None = None
    quantities: list[tuple[int, str, int]] = field(default_factory=list)
    file: FileSpec | None = None


class ProductSet:
    """One ``productSet`` call: validate everything, then apply (or report ``userErrors``, write nothing)."""

    def __init__(self, shop: ShopState, now: float, monotonic: float) -> None:
        self.shop = shop
        self.settings = shop.settings
        self.now = iso(now)
        self.monotonic = monotonic
        self.errors: list[UserError] = []
        self._files: list[FileSpec] | None = None
        self._combos: dict[tuple[str, ...], Variant] = {}
        self._quantity_count = 0

    def run(self, identifier: dict[str, Json] | None, data: dict[str, Json]) -> Product | None:
        product, found = self._target(identifier, data)
        if not found:
            return None
        title = data.get("title", product.title if product else None)
        if not (title or "").strip():
            self.errors.append(
                user_error(["input", "title"], "Title can't be blank", "MISSING_FIELD_REQUIRED")
            )
        handle = self._handle(product, identifier, data, title or "")
        options = check_options(product, data.get("productOptions"), self.settings.max_options, self.errors)
        # Before the variants: their files must be among these.
        self._files = check_files(self.shop, data.get("files"), ["input", "files"], self.errors)
        variants = self._variants(product, options, data.get("variants"))
        metafields = check_metafields(
            data.get("metafields"),
            product.metafields if product else [],
            ["input", "metafields"],
            self.errors,
            self.settings.app_id,
        )
        metafields = self._with_custom_id(identifier, product, metafields)
        if self.errors:
            return None
        if product is None:
            product = Product(next_id(), title or "", handle or "", self.now, self.now)
            self.shop.add_product(product)
        elif handle is not None and handle != product.handle:
            self.shop.rename_handle(product, handle)
        self._apply_scalars(product, data)
        if options is not None:
            apply_options(product, options)
        elif not product.options:
            self._default_variant(product)
        if self._files is not None:
            apply_files(self.shop, product, self._files, self.now)
        if variants is not None:
            self._apply_variants(product, variants)
        if metafields is not None:
            product.metafields = apply_metafields(metafields, "PRODUCT", self.now, product)
        product.updated_at = self.now
        return product

    # lookups -------------------------------------------------------------------------------------------

    def _target(
        self, identifier: dict[str, Json] | None, data: dict[str, Json]
    ) -> tuple[Product | None, bool]:
        product: Product | None = None
        if identifier:
            if identifier.get("id") is not None:
                product = self.shop.product(identifier["id"])
                if product is None:
                    self.errors.append(
                        user_error(["identifier", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                    )
                    return None, False
            elif identifier.get("handle") is not None:
                product = self.shop.handles.get(parameterize(identifier["handle"]))
            elif identifier.get("customId") is not None:
                product = self._by_custom_id(identifier["customId"])
            if data.get("id") is not None and (product is None or data["id"] != gid("Product", product.id)):
                self.errors.append(
                    user_error(["input", "id"], "The input id must match the identifier.", "INPUT_MISMATCH")
                )
                return None, False
        elif data.get("id") is not None:
            product = self.shop.product(data["id"])
            if product is None:
                self.errors.append(
                    user_error(["input", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                )
                return None, False
        return product, True

    def _by_custom_id(self, custom: dict[str, Json]) -> Product | None:
        namespace = metafield_namespace(custom.get("namespace"), self.settings.app_id)
        for product in self.shop.products.values():
            for m in product.metafields:
                if m.namespace == namespace and m.key == custom["key"] and m.value == custom["value"]:
                    return product
        return None

    def _with_custom_id(
        self, identifier: dict[str, Json] | None, product: Product | None, specs: list[_MetafieldSpec] | None
    ) -> list[_MetafieldSpec] | None:
        # A product created through a custom id carries that id as a metafield.
        custom = (identifier or {}).get("customId")
        if product is not None or not custom:
            return specs
        namespace = metafield_namespace(custom.get("namespace"), self.settings.app_id)
        out = list(specs or [])
        if not any(s.namespace == namespace and s.key == custom["key"] for s in out):
            out.append(_MetafieldSpec(None, namespace, custom["key"], "id", custom["value"]))
        return out

    def _handle(
        self, product: Product | None, identifier: dict[str, Json] | None, data: dict[str, Json], title: str
    ) -> str | None:
        wanted = data.get("handle")
        if wanted is None and product is None and identifier and identifier.get("handle"):
            wanted = identifier["handle"]
        if wanted is None:
            if product is not None:
                return None
            base = parameterize(title) or "product"
            handle, n = base, 0
            while handle in self.shop.handles:
                n += 1
                handle = f"{base}-{n}"
            return handle
        handle = parameterize(wanted)
        if not handle:
            self.errors.append(user_error(["input", "handle"], "Handle can't be blank", "INVALID_INPUT"))
            return None
        other = self.shop.handles.get(handle)
        if other is not None and other is not product:
            self.errors.append(
                user_error(
                    ["input", "handle"],
                    f"Handle '{handle}' already in use. Please provide a new handle.",
                    "HANDLE_NOT_UNIQUE",
                )
            )
        return handle

    # variants --------------------------------------------------------------------------------------------

    def _variants(
        self, product: Product | None, options: list[OptionSpec] | None, inputs: list[dict[str, Json]] | None
    ) -> list[_VariantSpec] | None:
        path = ["input", "variants"]
        effective = options if options is not None else kept_options(product)
        if inputs is None:
            if product is None:
                if options is not None:
                    self.errors.append(
                        user_error(
                            path,
                            "Variants are required when product options are given.",
                            "VARIANTS_INPUT_MISSING",
                        )
                    )
                return None
            if options is not None:
                self._check_kept_variants(product, options)
            return None
        if effective is None:
            self.errors.append(
                user_error(
                    ["input", "productOptions"],
                    "Product options are required when variants are given.",
                    "PRODUCT_OPTIONS_INPUT_MISSING",
                )
            )
            return None
        if len(inputs) > self.settings.max_variants_per_product:
            self.errors.append(
                user_error(
                    path,
                    f"A product can have at most {self.settings.max_variants_per_product} variants.",
                    "VARIANTS_OVER_LIMIT",
                )
            )
            return None
        existing = {gid("ProductVariant", v.id): v for v in product.variants} if product else {}
        self._combos = {
            tuple(v.name.casefold() for v in variant.option_values): variant
            for variant in (product.variants if product else ())
        }
        specs: list[_VariantSpec] = []
        combos: set[tuple[str, ...]] = set()
        for i, item in enumerate(inputs):
            spec = self._variant(item, [*path, str(i)], effective, existing, i)
            if spec is None:
                continue
            combo = tuple(v.name.casefold() for v in spec.values)
            if combo in combos:
                title = " / ".join(v.name for v in spec.values)
                self.errors.append(
                    user_error(
                        [*path, str(i), "optionValues"],
                        f"The variant '{title}' already exists.",
                        "INVALID_VARIANT",
                    )
                )
                continue
            combos.add(combo)
            specs.append(spec)
        limit = self.settings.max_inventory_quantities
        if self._quantity_count > limit:
            self.errors.append(
                user_error(
                    path,
                    f"The inventory quantities of all variants can't exceed {limit}.",
                    "INVENTORY_QUANTITIES_LIMIT_EXCEEDED",
                )
            )
        return specs

    def _check_kept_variants(self, product: Product, options: list[OptionSpec]) -> None:
        # New options without new variants: the existing variants must still name one value per option.
        kept = {id(v.existing) for o in options for v in o.values if v.existing is not None}
        for variant in product.variants:
            if len(variant.option_values) != len(options) or any(
                id(v) not in kept for v in variant.option_values
            ):
                self.errors.append(
                    user_error(
                        ["input", "variants"],
                        "Variants are required when the product options change their values.",
                        "VARIANTS_INPUT_MISSING",
                    )
                )
                return

    def _variant(
        self,
        item: dict[str, Json],
        here: list[str],
        options: list[OptionSpec],
        existing: dict[str, Variant],
        index: int,
    ) -> _VariantSpec | None:
        before = len(self.errors)
        variant: Variant | None = None
        if item.get("id") is not None:
            variant = existing.get(item["id"])
            if variant is None:
                self.errors.append(
                    user_error(
                        [*here, "id"], "Product variant does not exist", "PRODUCT_VARIANT_DOES_NOT_EXIST"
                    )
                )
        chosen: dict[int, ValueSpec] = {}
        for k, ref in enumerate(item.get("optionValues") or []):
            there = [*here, "optionValues", str(k)]
            position = option_index(options, ref)
            if position is None:
                self.errors.append(user_error(there, "Option does not exist", "OPTION_DOES_NOT_EXIST"))
                continue
            option = options[position]
            value = option_value(option, ref)
            if value is None:
                label = ref.get("name") or ref.get("id")
                self.errors.append(
                    user_error(
                        there,
                        f"Option value '{label}' does not exist for option '{option.name}'.",
                        self.settings.unknown_option_value_code,
                    )
                )
                continue
            if position in chosen:
                self.errors.append(
                    user_error(there, f"Option '{option.name}' is given more than once.", "INVALID_VARIANT")
                )
                continue
            chosen[position] = value
        missing = [o.name for i, o in enumerate(options) if i not in chosen]
        if missing and len(self.errors) == before:
            self.errors.append(
                user_error(
                    [*here, "optionValues"],
                    f"Variant is missing a value for option '{missing[0]}'.",
                    self.settings.missing_option_value_code,
                )
            )
        sku, sku_given = self._sku(item, here)
        for name in ("price", "compareAtPrice"):
            amount = item.get(name)
            if amount is not None and Decimal(amount) < 0:
                self.errors.append(user_error([*here, name], f"{name} must be at least 0", "INVALID_VARIANT"))
        # A variant given without id is the product's variant of these option values, as when applied.
        same = variant or self._combos.get(tuple(v.name.casefold() for _, v in sorted(chosen.items())))
        quantities = self._quantities(item.get("inventoryQuantities"), here, same)
        file = check_variant_file(item.get("file"), self._files, [*here, "file"], self.errors)
        metafields = check_metafields(
            item.get("metafields"),
            variant.metafields if variant else [],
            [*here, "metafields"],
            self.errors,
            self.settings.app_id,
        )
        if len(self.errors) != before:
            return None
        values = [chosen[i] for i in range(len(options))]
        position = item.get("position") or index + 1
        return _VariantSpec(variant, values, item, sku, sku_given, position, metafields, quantities, file)

    def _sku(self, item: dict[str, Json], here: list[str]) -> tuple[str | None, bool]:
        inventory = item.get("inventoryItem") or {}
        on_variant, on_item = "sku" in item, "sku" in inventory
        variant_sku, item_sku = item.get("sku"), inventory.get("sku")
        if on_variant and on_item and variant_sku != item_sku:
            precedence = self.settings.sku_precedence
            if precedence == "reject_conflict":
                self.errors.append(
                    user_error(
                        [*here, "sku"], "sku and inventoryItem.sku differ; send only one.", "INVALID_INPUT"
                    )
                )
            return (item_sku if precedence == "inventory_item" else variant_sku), True
        if on_variant:
            return variant_sku, True
        return item_sku, on_item

    def _quantities(
        self, inputs: list[dict[str, Json]] | None, here: list[str], variant: Variant | None
    ) -> list[tuple[int, str, int]]:
        out: list[tuple[int, str, int]] = []
        self._quantity_count += len(inputs or ())
        stocked = variant.stocked_at(self.shop.primary_location) if variant is not None else None
        for i, item in enumerate(inputs or []):
            there = [*here, "inventoryQuantities", str(i)]
            location = self.shop.location(item["locationId"])
            if location is None:
                self.errors.append(user_error([*there, "locationId"], "Location does not exist", "NOT_FOUND"))
            elif (
                stocked is not None
                and location.id not in stocked
                and self.settings.unstocked_location == "reject"
            ):
                # The schema: "If you're updating an existing variant, then you can only update the quantities
                # at locations where the variant is already stocked."
                self.errors.append(
                    user_error(
                        [*there, "locationId"],
                        f"The variant is not stocked at location '{location.name}'. Activate the inventory "
                        "item at the location first.",
                        "INVALID_INPUT",
                    )
                )
            elif item["name"] not in ("available", "on_hand"):
                self.errors.append(
                    user_error(
                        [*there, "name"], "Quantity name must be 'available' or 'on_hand'.", "INVALID_INPUT"
                    )
                )
            else:
                out.append((location.id, item["name"], item["quantity"]))
        return out

    # applying --------------------------------------------------------------------------------------------

    def _apply_scalars(self, product: Product, data: dict[str, Json]) -> None:
        if data.get("title") is not None:
            product.title = data["title"].strip()
        for key, attr in (
            ("descriptionHtml", "description_html"),
            ("vendor", "vendor"),
            ("productType", "product_type"),
        ):
            if key in data:
                setattr(product, attr, data[key] or "")
        if data.get("status") is not None:
            product.status = data["status"]
        if "templateSuffix" in data:
            product.template_suffix = data["templateSuffix"]
        if data.get("tags") is not None:
            tags: dict[str, str] = {}
            for raw in data["tags"]:
                for tag in raw.split(","):
                    if tag.strip():
                        tags.setdefault(tag.strip().casefold(), tag.strip())
            product.tags = list(tags.values())
        if data.get("seo") is not None:
            seo = data["seo"]
            product.seo_title = seo.get("title", product.seo_title)
            product.seo_description = seo.get("description", product.seo_description)
        if data.get("collections") is not None:
            product.collections = list(data["collections"])
        if "category" in data:
            product.category = data["category"]
        if data.get("giftCard") is not None:
            product.gift_card = data["giftCard"]
        if data.get("requiresSellingPlan") is not None:
            product.requires_selling_plan = data["requiresSellingPlan"]

    def _default_variant(self, product: Product) -> None:
        # A product created without options has Shopify's "Title: Default Title" option and one variant.
        default = Option(next_id(), DEFAULT_OPTION, 1, [OptionValue(next_id(), DEFAULT_VALUE)])
        product.options = [default]
        variant = self._new_variant(product, [default.values[0]], 1)
        product.variants = [variant]
        self.shop.index_variant(variant, None, True, self.monotonic)

    def _apply_variants(self, product: Product, specs: list[_VariantSpec]) -> None:
        by_combo = {
            tuple(v.name.casefold() for v in variant.option_values): variant for variant in product.variants
        }
        used: set[int] = set()
        variants: list[Variant] = []
        for spec in sorted(specs, key=lambda s: s.position):
            values = [applied(v) for v in spec.values]
            variant = spec.existing or by_combo.get(tuple(v.name.casefold() for v in spec.values))
            is_new = variant is None or variant.id in used
            old_sku = None
            if variant is None or is_new:
                variant = self._new_variant(product, values, len(variants) + 1)
            else:
                old_sku = variant.sku
                variant.option_values = values
            used.add(variant.id)
            primary = self.shop.primary_location
            if not is_new and spec.quantities and not variant.quantities and primary is not None:
                # Stocked at the primary location until now (with nothing there): it stays stocked there.
                variant.quantities[primary] = {}
            variant.position = len(variants) + 1
            self._apply_variant(variant, spec)
            self.shop.index_variant(variant, old_sku, is_new, self.monotonic)
            variants.append(variant)
        for variant in product.variants:
            if variant.id not in used:
                self.shop.unindex_variant(variant)
        product.variants = variants

    def _new_variant(self, product: Product, values: list[OptionValue], position: int) -> Variant:
        item = InventoryItem(next_id())
        variant = Variant(next_id(), product, position, values, item, self.now, self.now)
        item.variant = variant
        return variant

    def _apply_variant(self, variant: Variant, spec: _VariantSpec) -> None:
        data = spec.data
        if data.get("price") is not None:
            variant.price = data["price"]
        if "compareAtPrice" in data:
            variant.compare_at_price = data["compareAtPrice"]
        if spec.sku_given:
            variant.sku = spec.sku
        if "barcode" in data:
            variant.barcode = data["barcode"]
        if data.get("inventoryPolicy") is not None:
            variant.inventory_policy = data["inventoryPolicy"]
        if data.get("taxable") is not None:
            variant.taxable = data["taxable"]
        if "taxCode" in data:
            variant.tax_code = data["taxCode"]
        if data.get("showUnitPrice") is not None:
            variant.show_unit_price = data["showUnitPrice"]
        if data.get("requiresComponents") is not None:
            variant.requires_components = data["requiresComponents"]
        inventory = data.get("inventoryItem") or {}
        item = variant.inventory_item
        if inventory.get("tracked") is not None:
            item.tracked = inventory["tracked"]
        if inventory.get("requiresShipping") is not None:
            item.requires_shipping = inventory["requiresShipping"]
        if "cost" in inventory:
            item.cost = inventory["cost"]
        if "harmonizedSystemCode" in inventory:
            item.harmonized_system_code = inventory["harmonizedSystemCode"]
        if "countryCodeOfOrigin" in inventory:
            item.country_code_of_origin = inventory["countryCodeOfOrigin"]
        for location_id, name, quantity in spec.quantities:
            variant.quantities.setdefault(location_id, {})[name] = quantity
        if spec.file is not None:
            apply_variant_file(variant, spec.file)
        if spec.metafields is not None:
            variant.metafields = apply_metafields(spec.metafields, "PRODUCTVARIANT", self.now, variant)
        variant.updated_at = self.now


def product_delete(shop: ShopState, product_id: str) -> tuple[str | None, list[UserError]]:
    product = shop.product(product_id)
    if product is None:
        return None, [user_error(["id"], "Product does not exist")]
    shop.remove_product(product)
    return gid("Product", product.id), []
