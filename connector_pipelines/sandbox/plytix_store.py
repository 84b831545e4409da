"""The Plytix emulator's state: records, indexes, rendering as the v1 API answers, and mutations.

Indexes keep every request O(page): products by id (insertion order), by SKU, children per parent, and a list
of ``(modified, id)`` sorted by ``modified`` so that a ``modified`` range (the delta query) is two bisections.
Other filtered searches are computed once per query and cached until the next change. Every change bumps
``modified`` of what it touches to the store's current time, strictly increasing.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pydantic import JsonValue

from connector_pipelines.sandbox.plytix_catalog import (
    ATTRIBUTE_DEFS,
    CATEGORY_TREE,
    FAMILY_DEFS,
    GENERATED_FROM_US,
    STATUSES,
    Asset,
    Attribute,
    Builder,
    Category,
    Family,
    Product,
    Tree,
)
from connector_pipelines.sandbox.plytix_search import (
    DAY_US,
    FILTER_TYPES,
    FieldSpec,
    PlytixError,
    Query,
    invalid,
    iso,
    project,
    run_search,
    sort_key,
)

R = TypeVar("R")
_CACHE_SIZE = 32
_VALIDATION = "product data validation failed"


def not_found(resource_id: str, what: str = "product does not exist") -> PlytixError:
    return PlytixError(404, f"No results found for {resource_id}", [{"field": "id", "msg": what}])


def _rejected(field: str, msg: str) -> PlytixError:
    return PlytixError(422, _VALIDATION, [{"field": field, "msg": msg}])


class Store:
    """All records of one Plytix account. Callers hold ``lock`` around reads that span several records."""

    def __init__(
        self,
        *,
        account_id: str,
        products: int,
        variants: int,
        seed: int,
        now_us: Callable[[], int],
    ) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self._now = now_us
        self._id_prefix = f"65f0a1{seed % 2**24:06x}"
        self._seq = 0
        self._last_us = 0
        self.attributes: dict[str, Attribute] = {}
        self.attribute_by_label: dict[str, Attribute] = {}
        self.families: dict[str, Family] = {}
        self.family_by_name: dict[str, Family] = {}
        self.categories: dict[str, Category] = {}
        self.assets: dict[str, Asset] = {}
        self.products: dict[str, Product] = {}
        self.by_sku: dict[str, Product] = {}
        self._by_modified: list[tuple[int, str]] = []
        self._order: list[str] | None = None
        self._cache: dict[str, list[str]] = {}
        self._cache_version = -1
        self._family_counts: tuple[int, dict[str, int]] = (-1, {})
        self._product_fields: dict[str, FieldSpec[Product]] | None = None
        self._next_index = 1
        self._generate(account_id, products, variants, seed)

    # --- ids and time ------------------------------------------------------------------------------------

    def new_id(self) -> str:
        self._seq += 1
        return f"{self._id_prefix}{self._seq:012x}"

    def tick(self) -> int:
        """Now (microseconds), strictly after every timestamp handed out before."""
        self._last_us = max(self._now(), self._last_us + 1)
        return self._last_us

    # --- generation --------------------------------------------------------------------------------------

    def _generate(self, account_id: str, products: int, variants: int, seed: int) -> None:
        at = GENERATED_FROM_US

        def stamp() -> int:
            nonlocal at
            at += 1_000_000
            return at

        for label, name, type_class, options in ATTRIBUTE_DEFS:
            attribute = Attribute(self.new_id(), label, name, type_class, options)
            self.attributes[attribute.id] = attribute
            self.attribute_by_label[label] = attribute
        for name, levels in FAMILY_DEFS.items():
            when = stamp()
            family = Family(self.new_id(), name, self.new_id(), when, when, dict(levels))
            self.families[family.id] = family
            self.family_by_name[name] = family
        for root_order, (root_name, children) in enumerate(CATEGORY_TREE, 1):
            root = Category(self.new_id(), root_name, None, root_order, _slug(root_name), stamp())
            self.categories[root.id] = root
            for order, child_name in enumerate(children, 1):
                child = Category(self.new_id(), child_name, root.id, order, _slug(child_name), stamp())
                self.categories[child.id] = child
        self.builder = Builder(account_id, self.family_by_name, self.categories, self.new_id)
        rng = random.Random(seed)
        for _ in range(products):
            self._insert_tree(self.builder.tree(self._next_index, variants, rng, stamp), bulk=True)
            self._next_index += 1
        self._by_modified.sort()
        self._last_us = at

    def _insert_tree(self, tree: Tree, *, bulk: bool = False) -> None:
        for asset in tree.assets:
            self.assets[asset.id] = asset
        for product in tree.products:
            self._insert(product, bulk=bulk)

    def _insert(self, product: Product, *, bulk: bool = False) -> None:
        self.products[product.id] = product
        self.by_sku[product.sku] = product
        entry = (product.modified_us, product.id)
        if bulk:
            self._by_modified.append(entry)
        else:
            bisect.insort(self._by_modified, entry)
        self._changed(structure=True)

    def _changed(self, *, structure: bool = False) -> None:
        self.version += 1
        if structure:
            self._order = None

    def touch(self, product: Product) -> None:
        """Bump ``modified`` to now (the sorted index moves the product to its end)."""
        self._unindex(product)
        product.modified_us = self.tick()
        self._by_modified.append((product.modified_us, product.id))
        self._changed()

    def _unindex(self, product: Product) -> None:
        entry = (product.modified_us, product.id)
        at = bisect.bisect_left(self._by_modified, entry)
        if at < len(self._by_modified) and self._by_modified[at] == entry:
            del self._by_modified[at]

    # --- lookups -----------------------------------------------------------------------------------------

    def product(self, product_id: str) -> Product:
        found = self.products.get(product_id)
        if found is None:
            raise not_found(product_id)
        return found

    def resolve(self, sku_or_id: str) -> Product:
        found = self.by_sku.get(sku_or_id) or self.products.get(sku_or_id)
        if found is None:
            raise KeyError(f"no product with SKU or id {sku_or_id!r}")
        return found

    def order(self) -> list[str]:
        if self._order is None:
            self._order = list(self.products)
        return self._order

    def value_of(self, product: Product, label: str) -> object:
        """The effective value: a variant inherits its family's parent-level values unless overwritten."""
        value = product.attributes.get(label)
        if value is None and product.parent_id is not None:
            family = self.families.get(product.family_id or "")
            if family is not None and label in family.parent_labels:
                parent = self.products.get(product.parent_id)
                if parent is not None:
                    return parent.attributes.get(label)
        return value

    def effective(self, product: Product) -> dict[str, object]:
        values: dict[str, object] = {}
        if product.parent_id is not None:
            family = self.families.get(product.family_id or "")
            parent = self.products.get(product.parent_id)
            if family is not None and parent is not None:
                for label in family.parent_order:
                    inherited = parent.attributes.get(label)
                    if inherited is not None:
                        values[label] = inherited
        values.update((k, v) for k, v in product.attributes.items() if v is not None)
        return values

    # --- rendering ---------------------------------------------------------------------------------------

    def asset_ref(self, asset_id: str) -> dict[str, JsonValue] | None:
        asset = self.assets.get(asset_id)
        if asset is None:
            return None
        return {"filename": asset.filename, "id": asset.id, "thumbnail": asset.thumbnail, "url": asset.url}

    def _gallery(self, asset_ids: Iterable[str]) -> list[JsonValue]:
        out: list[JsonValue] = []
        for asset_id in asset_ids:
            asset = self.assets.get(asset_id)
            if asset is not None:
                out.append(
                    {"filename": asset.filename, "id": asset.id, "thumb": asset.thumbnail, "url": asset.url}
                )
        return out

    def category_ref(self, category_id: str) -> dict[str, JsonValue] | None:
        category = self.categories.get(category_id)
        if category is None:
            return None
        return {"id": category.id, "name": category.name, "path": list(self.category_path(category))}

    def category_path(self, category: Category) -> list[str]:
        names = [category.name]
        parent = self.categories.get(category.parent_id or "")
        while parent is not None:
            names.insert(0, parent.name)
            parent = self.categories.get(parent.parent_id or "")
        return names

    def attribute_value(self, label: str, value: object) -> JsonValue:
        attribute = self.attribute_by_label.get(label)
        if attribute is not None and attribute.is_media and isinstance(value, list):
            return self._gallery(str(v) for v in value)
        return value  # type: ignore[return-value]  # stored values are JSON values

    def render_product(self, product: Product, *, all_attributes: bool = False) -> dict[str, JsonValue]:
        """``GET /api/v1/products/{id}`` (contract §3.2)."""
        values = self.effective(product)
        attributes: dict[str, JsonValue] = {}
        if all_attributes:
            family = self.families.get(product.family_id or "")
            labels = family.levels if family is not None else self.attribute_by_label
            attributes = dict.fromkeys(labels)
        for label, value in values.items():
            attributes[label] = self.attribute_value(label, value)
        family = self.families.get(product.family_id or "")
        return {
            "_parent_id": product.parent_id,
            "assets": [ref for ref in map(self.asset_ref, product.assets) if ref is not None],
            "attributes": attributes,
            "categories": [ref for ref in map(self.category_ref, product.categories) if ref is not None],
            "created": iso(product.created_us),
            "gtin": product.gtin,
            "id": product.id,
            "label": product.label,
            "modified": iso(product.modified_us),
            "num_variations": len(product.variant_ids),
            "overwritten_attributes": list(product.overwritten),
            "product_family_id": product.family_id,
            "product_family_model_id": family.model_id if family is not None and product.level else None,
            "product_type": product.product_type,
            "relationships": [],
            "sku": product.sku,
            "status": product.status,
            "thumbnail": self.asset_ref(product.thumbnail) if product.thumbnail else None,
        }

    def search_row(self, product: Product, attributes: Sequence[str]) -> dict[str, JsonValue]:
        """A product search result: id, sku, num_variations, attributes, ``_parent_id`` for variants, plus
        the system fields asked for. ``product_family_id`` is never returned by search (api_gotchas.md)."""
        selected: dict[str, JsonValue] = {}
        row: dict[str, JsonValue] = {"id": product.id, "sku": product.sku}
        if product.parent_id is not None:
            row["_parent_id"] = product.parent_id
        row["num_variations"] = len(product.variant_ids)
        row["attributes"] = selected
        for name in attributes:
            if name.startswith("attributes."):
                label = name[len("attributes.") :]
                value = self.value_of(product, label)
                if value is not None:
                    selected[label] = self.attribute_value(label, value)
            elif name not in row and name != "product_family_id":
                row[name] = self._system_value(product, name)
        return row

    def _system_value(self, product: Product, name: str) -> JsonValue:
        if name in ("created", "modified"):
            return iso(product.created_us if name == "created" else product.modified_us)
        if name in ("assets", "images"):
            return [ref for ref in map(self.asset_ref, product.assets) if ref is not None]
        if name == "categories":
            return [ref for ref in map(self.category_ref, product.categories) if ref is not None]
        if name == "thumbnail":
            return self.asset_ref(product.thumbnail) if product.thumbnail else None
        if name == "static_lists":
            return []
        if name == "product_level":
            return product.level
        if name == "_is_variation":
            return product.parent_id is not None
        if name == "_has_variations":
            return bool(product.variant_ids)
        return {"label": product.label, "status": product.status, "gtin": product.gtin}.get(name)

    def family_counts(self) -> dict[str, int]:
        version, counts = self._family_counts
        if version != self.version:
            counts = {}
            for product in self.products.values():
                if product.family_id is not None:
                    counts[product.family_id] = counts.get(product.family_id, 0) + 1
            self._family_counts = (self.version, counts)
        return counts

    # --- search ------------------------------------------------------------------------------------------

    def product_fields(self) -> dict[str, FieldSpec[Product]]:
        """The searchable product fields: system fields, ``attributes.<label>`` and the two properties."""
        if self._product_fields is not None:
            return self._product_fields
        fields: dict[str, FieldSpec[Product]] = {
            "sku": FieldSpec("sku", "text", lambda p: p.sku),
            "label": FieldSpec("label", "text", lambda p: p.label),
            "gtin": FieldSpec("gtin", "text", lambda p: p.gtin),
            "status": FieldSpec(
                "status", "dropdown", lambda p: p.status, STATUSES, operators=("eq", "!eq", "in", "!in")
            ),
            "created": FieldSpec("created", "date", lambda p: p.created_us),
            "modified": FieldSpec("modified", "date", lambda p: p.modified_us),
            "categories": FieldSpec("categories", "hierarchy", lambda p: p.categories, ()),
            "static_lists": FieldSpec("static_lists", "multiselect", lambda p: [], (), operators=("in",)),
            "assets": FieldSpec("assets", "media", lambda p: p.assets),
            "images": FieldSpec("images", "media", lambda p: p.assets),
            "thumbnail": FieldSpec("thumbnail", "media", lambda p: p.thumbnail),
            "product_level": FieldSpec(
                "product_level", "int", lambda p: p.level, operators=("eq", "!eq", "in", "!in")
            ),
        }
        for attribute in self.attributes.values():
            key = f"attributes.{attribute.label}"
            operators = ("exists", "!exists", "eq") if attribute.kind == "bool" else ()
            fields[key] = FieldSpec(
                key,
                attribute.kind,
                _inherited(self, attribute.label),
                attribute.options,
                operators,
                FILTER_TYPES[attribute.kind],
            )
        fields.update(PRODUCT_PROPERTIES)
        self._product_fields = fields
        return fields

    def search_products(self, query: Query[Product], *, order_limit: int) -> tuple[list[Product], int]:
        """One page of matching products and the total; 428 when ordering more than ``order_limit``."""
        start, end = query.window()
        ranged = _modified_range(query)
        if ranged is not None:
            low, high = ranged
            index = self._by_modified
            first = bisect.bisect_left(index, low, key=_first)
            last = bisect.bisect_left(index, high, key=_first)
            total = max(last - first, 0)
            _check_order(query, total, order_limit)
            if query.descending:
                picked = index[max(first, last - end) : max(first, last - start)][::-1]
            else:
                picked = index[first + start : min(first + end, last)]
            return [self.products[product_id] for _, product_id in picked], total
        if not query.groups and query.order is None:
            ids = self.order()
            return [self.products[i] for i in ids[start:end]], len(ids)
        ids = self._matching(query, order_limit)
        return [self.products[i] for i in ids[start:end]], len(ids)

    def _matching(self, query: Query[Product], order_limit: int) -> list[str]:
        if self._cache_version != self.version:
            self._cache.clear()
            self._cache_version = self.version
        key = f"{query.cache_key}|{self._now() // DAY_US}"
        cached = self._cache.get(key)
        if cached is not None:
            _check_order(query, len(cached), order_limit)
            return cached
        matched = [p for p in self.products.values() if query.matches(p)]
        _check_order(query, len(matched), order_limit)
        if query.order is not None:
            matched.sort(key=sort_key(query.order), reverse=query.descending)
        ids = [p.id for p in matched]
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = ids
        return ids

    def search_small(
        self, items: Sequence[R], query: Query[R], render: Callable[[R], dict[str, JsonValue]]
    ) -> tuple[list[dict[str, JsonValue]], int]:
        """Attributes, families, categories, assets: few records, so a scan per request."""
        matched = run_search(items, query)
        start, end = query.window()
        return [project(render(r), query.attributes) for r in matched[start:end]], len(matched)

    # --- mutations ---------------------------------------------------------------------------------------

    def coerce(self, label: str, value: object) -> object:
        """A value for attribute ``label`` as stored (422 when Plytix would refuse it)."""
        attribute = self.attribute_by_label.get(label)
        if attribute is None:
            raise _rejected(label, "label does not exist")
        if value is None:
            return None
        kind = attribute.kind
        if attribute.is_media:
            items = value if isinstance(value, list) else [value]
            ids: list[str] = []
            for item in items:
                asset_id = item.get("id") if isinstance(item, dict) else item
                if not isinstance(asset_id, str) or asset_id not in self.assets:
                    raise _rejected(label, f"asset {asset_id!r} does not exist")
                ids.append(asset_id)
            return ids
        if kind in ("number", "int"):
            number = _number(value)
            if number is None:
                raise _rejected(label, "Not a valid decimal value.")
            return int(number) if kind == "int" else number
        if kind == "bool":
            if not isinstance(value, bool):
                raise _rejected(label, "Not a valid boolean.")
            return value
        if not isinstance(value, str):
            raise _rejected(label, "Not a valid string.")
        if attribute.options is not None and value not in attribute.options:
            raise _rejected(label, f"{value!r} is not a valid value for {attribute.name} attribute.")
        return value

    def create(self, data: object, *, parent: Product | None = None) -> Product:
        """``POST /api/v1/products`` (or a variant of ``parent``): 409 for a duplicate SKU."""
        if not isinstance(data, dict):
            raise PlytixError(400, "Bad request: the product must be a JSON object", [])
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            raise _rejected("sku", "Missing data for required field.")
        if sku in self.by_sku:
            raise PlytixError(
                409, _VALIDATION, [{"field": "sku", "msg": "A product with the same SKU already exists"}]
            )
        now = self.tick()
        product = Product(
            id=self.new_id(), sku=sku, label=None, status="Draft", gtin=None, created_us=now, modified_us=now
        )
        if parent is not None:
            product.parent_id = parent.id
            product.family_id = parent.family_id
            product.categories = list(parent.categories)
        self._apply(product, data, creating=True)
        self._insert(product)
        if parent is not None:
            parent.variant_ids.append(product.id)
            self.touch(parent)
        return product

    def update(self, product: Product, data: object) -> None:
        """``PATCH /api/v1/products/{id}``: only the given fields change."""
        if not isinstance(data, dict):
            raise PlytixError(400, "Bad request: the product must be a JSON object", [])
        sku = data.get("sku")
        if isinstance(sku, str) and sku != product.sku and sku in self.by_sku:
            raise PlytixError(
                409, _VALIDATION, [{"field": "sku", "msg": "A product with the same SKU already exists"}]
            )
        changed = self._apply(product, data, creating=False)
        if isinstance(sku, str) and sku.strip() and sku != product.sku:
            del self.by_sku[product.sku]
            product.sku = sku
            self.by_sku[sku] = product
        self._touch_with_heirs(product, changed)

    def _apply(self, product: Product, data: dict[str, object], *, creating: bool) -> set[str]:
        """Validate everything first, then write; returns the attribute labels written."""
        updates: dict[str, object] = {}
        raw = data.get("attributes")
        if raw is not None and not isinstance(raw, dict):
            raise _rejected("attributes", "Not a valid mapping type.")
        for label, value in (raw or {}).items():
            updates[str(label)] = self.coerce(str(label), value)
        status = data.get("status")
        if status is not None and status not in STATUSES:
            raise _rejected("status", f"Value is not valid, valid values are [{', '.join(STATUSES)}]")
        categories = _ids(data.get("categories"), self.categories, "categories")
        assets = _ids(data.get("assets"), self.assets, "assets")
        thumbnail = data.get("thumbnail")
        thumbnail_ids = _ids([thumbnail], self.assets, "thumbnail") if thumbnail else None
        thumbnail_id = thumbnail_ids[0] if thumbnail_ids else None
        for name in ("label", "gtin"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise _rejected(name, "Not a valid string.")
            if name in data:
                setattr(product, name, value)
        if isinstance(status, str):
            product.status = status
        if categories is not None:
            product.categories = categories
        if assets is not None:
            product.assets = assets
        if thumbnail_id is not None or "thumbnail" in data:
            product.thumbnail = thumbnail_id
        family = self.families.get(product.family_id or "")
        for label, value in updates.items():
            if value is None:
                product.attributes.pop(label, None)
                if label in product.overwritten:
                    product.overwritten.remove(label)
                continue
            product.attributes[label] = value
            inherited = family is not None and label in family.parent_labels
            if product.parent_id is not None and inherited and label not in product.overwritten:
                product.overwritten.append(label)  # a parent-level value set on a variant is overwritten
        return set(updates)

    def _touch_with_heirs(self, product: Product, labels: set[str]) -> None:
        """Bump the product, and the variants whose inherited values just changed with it."""
        self.touch(product)
        family = self.families.get(product.family_id or "")
        if family is None or not product.variant_ids or not labels & family.parent_labels:
            return
        for variant_id in product.variant_ids:
            variant = self.products.get(variant_id)
            if variant is not None and labels & family.parent_labels - set(variant.overwritten):
                self.touch(variant)

    def set_family(self, product: Product, family_id: object) -> None:
        family = self.families.get(family_id) if isinstance(family_id, str) else None
        if family is None:
            raise not_found(str(family_id), "product family does not exist")
        for member in [product, *(self.products[v] for v in product.variant_ids if v in self.products)]:
            member.family_id = family.id
            self.touch(member)

    def delete(self, product: Product) -> list[str]:
        """Delete a product; a parent takes its variants with it. Returns the SKUs deleted."""
        gone = [product, *(self.products[v] for v in product.variant_ids if v in self.products)]
        for member in gone:
            self._unindex(member)
            del self.products[member.id]
            self.by_sku.pop(member.sku, None)
        self._changed(structure=True)
        parent = self.products.get(product.parent_id or "")
        if parent is not None:
            parent.variant_ids.remove(product.id)
            self.touch(parent)
        return [p.sku for p in gone]

    def add_generated(self, variants: int, seed: int) -> str:
        """A new generated product tree (as at start-up, stamped now); returns the parent SKU."""
        tree = self.builder.tree(self._next_index, variants, random.Random(seed), self.tick)
        self._next_index += 1
        self._insert_tree(tree)
        return tree.products[0].sku

    def change_prices(self, fraction: float, seed: int) -> list[str]:
        """Reprice a ``fraction`` of the products that carry a price; returns their SKUs (catalog order)."""
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        priced = [p for p in self.products.values() if isinstance(p.attributes.get("price"), float | int)]
        if not priced or fraction == 0:
            return []
        rng = random.Random(seed)
        count = min(len(priced), max(1, round(fraction * len(priced))))
        chosen = set(rng.sample(range(len(priced)), count))
        changed: list[str] = []
        for position, product in enumerate(priced):
            if position not in chosen:
                continue
            old = float(product.attributes["price"])  # type: ignore[arg-type]  # checked above
            new = round(old * rng.uniform(0.8, 1.2), 2)
            if new == old:
                new = round(old + 1.0, 2)
            product.attributes["price"] = new
            if "compare_at_price" in product.attributes:
                product.attributes["compare_at_price"] = round(new * 1.25, 2)
            self.touch(product)
            changed.append(product.sku)
        return changed


PRODUCT_PROPERTIES: dict[str, FieldSpec[Product]] = {
    "_is_variation": FieldSpec("_is_variation", "bool", lambda p: p.parent_id is not None),
    "_has_variations": FieldSpec("_has_variations", "bool", lambda p: bool(p.variant_ids)),
}


def _inherited(store: Store, label: str) -> Callable[[Product], object]:
    def get(product: Product) -> object:
        return store.value_of(product, label)

    return get


def _first(entry: tuple[int, str]) -> int:
    return entry[0]


def _modified_range(query: Query[Product]) -> tuple[int, int] | None:
    """The ``modified`` interval when that is all the query filters on (and orders by, if anything)."""
    if len(query.groups) != 1 or (query.order is not None and query.order.key != "modified"):
        return None
    low, high = -(2**62), 2**62
    for condition in query.groups[0]:
        if condition.key != "modified" or condition.interval is None:
            return None
        low, high = max(low, condition.interval[0]), min(high, condition.interval[1])
    return low, high


def _check_order(query: Query[Product], total: int, limit: int) -> None:
    if query.order is not None and total > limit:
        raise PlytixError(
            428,
            f"Ordered searches are limited to {limit} results, this one has {total}",
            [{"field": "pagination.order", "msg": f"order is not allowed on more than {limit} results"}],
        )


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _ids(raw: object, known: dict[str, R], field: str) -> list[str] | None:
    """``[{"id": …}]`` (or plain ids) referring to existing records; ``None`` when not given."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise _rejected(field, "Not a valid list.")
    ids: list[str] = []
    for item in raw:
        ref = item.get("id") if isinstance(item, dict) else item
        if not isinstance(ref, str) or ref not in known:
            raise _rejected(field, f"{ref!r} does not exist")
        ids.append(ref)
    return ids


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


__all__ = ["Store", "invalid", "not_found"]
