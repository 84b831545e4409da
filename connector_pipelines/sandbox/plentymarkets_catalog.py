"""The Plentymarkets emulator's catalog: the seeded records, searched and changed as Plenty does.

Queries answer the API's filters (cached until the next change); mutations store overrides and move
exactly the timestamps Plenty moves.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Iterable
from typing import Literal

from connector_pipelines.sandbox.plentymarkets_images import image_bytes
from connector_pipelines.sandbox.plentymarkets_records import (
    LANGUAGES,
    VAT_RATES,
    CatalogSummary,
    Change,
    Image,
    Item,
    ItemFilter,
    ItemPatch,
    ItemQuery,
    PriceRow,
    StockRow,
    TimeRange,
    Variation,
    VariationPatch,
    VariationQuery,
    slugify,
    variation_id_from_gtin13,
)
from connector_pipelines.sandbox.plentymarkets_seed import NOUNS, ItemClock, SeededCatalog, psych_price


class PlentyCatalog(SeededCatalog):
    """All records of one tenant (see :class:`SeededCatalog`), searched and changed as Plenty does.

    Thread-safety: the HTTP server thread and the test or benchmark thread share one catalog; every public
    method takes :attr:`lock`, and renderers hold it while they read.
    """

    # -- ordered views and queries --------------------------------------------------------------------

    def _cached(self, key: object, build: Callable[[], object]) -> object:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = build()
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = (self.version, value)
        return value

    def _touch(self) -> None:
        self.version += 1

    def find_variations(self, query: VariationQuery) -> list[int]:
        with self.lock:
            result = self._cached(("variations", query), lambda: self._scan_variations(query))
            assert isinstance(result, list)
            return result

    def _scan_variations(self, q: VariationQuery) -> list[int]:
        variations = self.variations
        if q.ids is not None:
            candidates: Iterable[Variation] = (variations[i] for i in sorted(set(q.ids)) if i in variations)
        elif q.item_ids is not None:
            ids = sorted({v for i in set(q.item_ids) if i in self.items for v in self.items[i].variation_ids})
            candidates = (variations[i] for i in ids)
        elif q.barcode is not None:
            found = variation_id_from_gtin13(q.barcode, self.seed)
            candidates = [variations[found]] if found in variations else []
        else:
            candidates = variations.values()
        checks = self._variation_checks(q)
        if not checks:
            return [v.id for v in candidates]
        return [v.id for v in candidates if all(check(v) for check in checks)]

    def variations_of_item(self, item_id: int, query: VariationQuery) -> list[int] | None:
        """One item's variations matching ``query``, by id; None when the item does not exist. Not cached:
        it touches one item's variations, and per-item keys would evict the cached catalog-wide scans."""
        with self.lock:
            item = self.items.get(item_id)
            if item is None:
                return None
            checks = self._variation_checks(query)
            variations = self.variations
            return [v for v in sorted(item.variation_ids) if all(check(variations[v]) for check in checks)]

    def _variation_checks(self, q: VariationQuery) -> list[Callable[[Variation], bool]]:
        items = self.items
        checks: list[Callable[[Variation], bool]] = []
        if q.ids is not None and q.item_ids is not None:
            item_ids = set(q.item_ids)
            checks.append(lambda v: v.item_id in item_ids)
        if q.barcode is not None and (q.ids is not None or q.item_ids is not None):
            code = q.barcode
            checks.append(lambda v: self.barcode(v) == code)
        if q.is_active is not None:
            active = q.is_active
            checks.append(lambda v: v.is_active is active)
        if q.is_main is not None:
            main = q.is_main
            checks.append(lambda v: v.is_main is main)
        if q.is_bundle:
            checks.append(lambda v: False)  # the generated catalog has no bundles
        if q.plenty_ids is not None:
            wanted = set(q.plenty_ids)
            checks.append(lambda v: not wanted.isdisjoint(items[v.item_id].plenty_ids))
        if q.category_id is not None:
            category = q.category_id
            checks.append(lambda v: category in items[v.item_id].category_ids)
        if q.number_exact is not None:
            number = q.number_exact
            checks.append(lambda v: v.number == number)
        if q.number_fuzzy is not None:
            fuzzy = q.number_fuzzy.replace("%", "")
            checks.append(lambda v: fuzzy in v.number)
        if q.item_name is not None:
            needle = q.item_name.lower()
            checks.append(lambda v: any(needle in n.lower() for n in self._item_names(items[v.item_id])))
        if q.item_description is not None:
            needle = q.item_description.lower()
            checks.append(lambda v: self._item_mentions(items[v.item_id], needle))
        item_fields = {
            name: value
            for name, value in (
                ("flag_one", q.flag_one),
                ("flag_two", q.flag_two),
                ("store_special", q.store_special),
                ("manufacturer_id", q.manufacturer_id),
            )
            if value is not None
        }
        if item_fields:
            checks.append(
                lambda v: all(getattr(items[v.item_id], name) == value for name, value in item_fields.items())
            )
        if q.referrer_ids is not None:
            referrers = set(q.referrer_ids)
            checks.append(lambda v: 1.0 in referrers)  # every generated variation is active for the store
        if q.supplier_id is not None:
            supplier = q.supplier_id
            checks.append(lambda v: v.supplier_id == supplier)
        if q.supplier_number is not None:
            supplier_number = q.supplier_number
            checks.append(lambda v: self.supplier_number(v) == supplier_number)
        if q.sku is not None or q.variation_tag_ids is not None:
            checks.append(lambda v: False)  # the generated catalog has no SKUs and no tags
        if q.stock_warehouse_id is not None:
            warehouse = q.stock_warehouse_id
            checks.append(lambda v: any(r.warehouse_id == warehouse and r.physical > 0 for r in v.stock))
        if q.updated is not None:
            updated = q.updated
            checks.append(lambda v: v.updated in updated)
        if q.created is not None:
            created = q.created
            checks.append(lambda v: v.created in created)
        if q.related_updated is not None:
            related = q.related_updated
            checks.append(lambda v: v.related_updated in related)
        return checks

    def _item_names(self, item: Item) -> list[str]:
        names: list[str] = []
        for lang in LANGUAGES:
            texts = self.item_texts(item, lang)
            if texts:
                names.append(texts["name1"])
        return names

    def _item_mentions(self, item: Item, needle: str) -> bool:
        for lang in LANGUAGES:
            texts = self.item_texts(item, lang)
            if texts and needle in texts["description"].lower():
                return True
        return False

    def find_items(self, query: ItemQuery) -> list[int]:
        with self.lock:
            result = self._cached(("items", query), lambda: self._scan_items(query))
            assert isinstance(result, list)
            return result

    def _scan_items(self, q: ItemQuery) -> list[int]:
        checks = [self._item_check(f) for f in q.all_of]
        groups = [[self._item_check(f) for f in group] for group in q.any_of]
        return [
            item.id
            for item in self.items.values()
            if all(c(item) for c in checks) and all(any(c(item) for c in group) for group in groups)
        ]

    def _item_check(self, f: ItemFilter) -> Callable[[Item], bool]:
        variations = self.variations
        if f.name == "id":
            ids = set(f.ids)
            return lambda it: it.id in ids
        if f.name == "name":
            needle = f.text.lower()
            return lambda it: any(needle in n.lower() for n in self._item_names(it))
        if f.name == "manufacturerId":
            return lambda it: it.manufacturer_id == f.number
        if f.name == "flagOne":
            return lambda it: it.flag_one == f.number
        if f.name == "flagTwo":
            return lambda it: it.flag_two == f.number
        window = f.range or TimeRange(0.0)
        if f.name == "updatedBetween":
            return lambda it: it.updated in window
        if f.name == "variationUpdatedBetween":
            return lambda it: any(variations[v].updated in window for v in it.variation_ids)
        return lambda it: any(variations[v].related_updated in window for v in it.variation_ids)

    def variation_price_rows(
        self,
        variation_ids: tuple[int, ...] | None,
        sales_price_ids: tuple[int, ...] | None,
        updated_at: float | None,
    ) -> list[tuple[int, int]]:
        """(variationId, salesPriceId) pairs for `/rest/items/variations/variation_sales_prices`."""

        def build() -> list[tuple[int, int]]:
            wanted_sp = set(sales_price_ids) if sales_price_ids is not None else None
            if variation_ids is not None:
                source: Iterable[Variation] = (
                    self.variations[i] for i in sorted(set(variation_ids)) if i in self.variations
                )
            else:
                source = self.variations.values()
            rows: list[tuple[int, int]] = []
            for v in source:
                if v.price_overrides is None:  # all prices carry price_ts: decide once per variation
                    if updated_at is None or v.price_ts >= updated_at:
                        rows.extend((v.id, sp) for sp in v.price_ids if wanted_sp is None or sp in wanted_sp)
                    continue
                for sp, row in self.prices(v):
                    if (wanted_sp is None or sp in wanted_sp) and (
                        updated_at is None or row.updated >= updated_at
                    ):
                        rows.append((v.id, sp))
            return rows

        with self.lock:
            result = self._cached(("vsp", variation_ids, sales_price_ids, updated_at), build)
            assert isinstance(result, list)
            return result

    def stock_rows(
        self,
        variation_ids: tuple[int, ...] | None,
        warehouse_ids: tuple[int, ...] | None,
        updated: TimeRange | None,
    ) -> list[tuple[Variation, StockRow]]:
        def build() -> list[tuple[Variation, StockRow]]:
            if variation_ids is not None:
                source: Iterable[Variation] = (
                    self.variations[i] for i in sorted(set(variation_ids)) if i in self.variations
                )
            else:
                source = self.variations.values()
            wanted = set(warehouse_ids) if warehouse_ids is not None else None
            return [
                (v, row)
                for v in source
                for row in v.stock
                if (wanted is None or row.warehouse_id in wanted)
                and (updated is None or row.updated in updated)
            ]

        with self.lock:
            result = self._cached(("stock", variation_ids, warehouse_ids, updated), build)
            assert isinstance(result, list)
            return result

    # -- mutations ------------------------------------------------------------------------------------

    def _now(self) -> float:
        return time.time()

    def _variation(self, variation_id: int) -> Variation:
        variation = self.variations.get(variation_id)
        if variation is None:
            raise KeyError(f"variation {variation_id} does not exist")
        return variation

    def _item(self, item_id: int) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise KeyError(f"item {item_id} does not exist")
        return item

    def update_variation(self, variation_id: int, patch: VariationPatch) -> Change:
        """Change variation fields; moves the variation's `updatedAt` only."""
        with self.lock:
            variation = self._variation(variation_id)
            changes = patch.model_dump(exclude_none=True, by_alias=False)
            if not changes:
                raise ValueError("the patch changes nothing")
            if "vat_id" in changes and changes["vat_id"] not in dict(VAT_RATES):
                raise ValueError(f"vat id {changes['vat_id']} does not exist")
            if "main_warehouse_id" in changes and changes["main_warehouse_id"] not in self.warehouses:
                raise ValueError(f"warehouse {changes['main_warehouse_id']} does not exist")
            for name, value in changes.items():
                setattr(variation, name, value)
            now = self._now()
            variation.updated = now
            self._touch()
            return Change(
                kind="variation_updated", at=now, item_id=variation.item_id, variation_id=variation_id
            )

    def deactivate_variation(self, variation_id: int) -> Change:
        with self.lock:
            change = self.update_variation(variation_id, VariationPatch(is_active=False))
            return change.model_copy(update={"kind": "variation_deactivated"})

    def update_item(self, item_id: int, patch: ItemPatch) -> Change:
        """Change item fields or texts; moves the item's `updatedAt` only (variations keep theirs)."""
        with self.lock:
            item = self._item(item_id)
            fields = patch.model_dump(exclude_none=True, exclude={"texts"})
            if not fields and not patch.texts:
                raise ValueError("the patch changes nothing")
            if "manufacturer_id" in fields and fields["manufacturer_id"] not in self.manufacturers:
                raise ValueError(f"manufacturer {fields['manufacturer_id']} does not exist")
            for name, value in fields.items():
                setattr(item, name, value)
            for lang, text_patch in (patch.texts or {}).items():
                overrides = item.text_overrides if item.text_overrides is not None else {}
                overrides.setdefault(lang, {}).update(text_patch.model_dump(exclude_none=True, by_alias=True))
                item.text_overrides = overrides
            now = self._now()
            item.updated = now
            self._touch()
            return Change(kind="item_updated", at=now, item_id=item_id)

    def set_price(self, variation_id: int, sales_price_id: int, price: float) -> Change:
        """Set one variation sales price.

        Moves that price's `updatedAt` and the variation's `relatedUpdatedAt`, never its `updatedAt`.
        """
        with self.lock:
            variation = self._variation(variation_id)
            if sales_price_id not in self.sales_prices:
                raise KeyError(f"sales price {sales_price_id} does not exist")
            if price < 0:
                raise ValueError("price must not be negative")
            now = self._now()
            current = dict(self.prices(variation)).get(sales_price_id)
            overrides = variation.price_overrides if variation.price_overrides is not None else {}
            overrides[sales_price_id] = PriceRow(round(price, 2), current.created if current else now, now)
            variation.price_overrides = overrides
            if sales_price_id not in variation.price_ids:
                variation.price_ids = self._interned(tuple(sorted((*variation.price_ids, sales_price_id))))
            variation.related_updated = now
            self._touch()
            return Change(
                kind="price_changed",
                at=now,
                item_id=variation.item_id,
                variation_id=variation_id,
                sales_price_id=sales_price_id,
                price=round(price, 2),
            )

    def set_stock(self, variation_id: int, warehouse_id: int, physical_stock: float) -> Change:
        """Set physical stock; moves only the stock row's `updatedAt` (stock is not "related information")."""
        with self.lock:
            variation = self._variation(variation_id)
            if warehouse_id not in self.warehouses:
                raise KeyError(f"warehouse {warehouse_id} does not exist")
            now = self._now()
            for row in variation.stock:
                if row.warehouse_id == warehouse_id:
                    row.physical = float(physical_stock)
                    row.reserved = min(row.reserved, max(row.physical, 0.0))
                    row.updated = now
                    break
            else:
                variation.stock.append(StockRow(warehouse_id, float(physical_stock), 0.0, now))
                variation.stock.sort(key=lambda r: r.warehouse_id)
            self._touch()
            return Change(
                kind="stock_changed",
                at=now,
                item_id=variation.item_id,
                variation_id=variation_id,
                warehouse_id=warehouse_id,
                physical_stock=float(physical_stock),
            )

    def add_item(self, variants: int | None = None) -> Change:
        """Add an item with ``variants`` variations, created now; deterministic per (seed, item id)."""
        with self.lock:
            k = variants or self.variants
            if k < 1 or k > math.prod(len(a.value_ids) for a in self.attributes.values()):
                raise ValueError(f"cannot build {k} distinct attribute combinations")
            rng = random.Random(f"{self.seed}/item/{self._next_item_id}")
            now = float(int(self._now()))
            item = self._add_item(rng, k, ItemClock(now, now))
            self._touch()
            return Change(kind="item_added", at=now, item_id=item.id, variation_ids=list(item.variation_ids))

    def delete_item(self, item_id: int) -> Change:
        """Delete an item with its variations, prices, stock and images (Plenty has no deletion feed)."""
        with self.lock:
            item = self._item(item_id)
            for variation_id in item.variation_ids:
                del self.variations[variation_id]
            for image_id in item.image_ids:
                del self.images[image_id]
            del self.items[item_id]
            self._touch()
            return Change(
                kind="item_deleted", at=self._now(), item_id=item_id, variation_ids=list(item.variation_ids)
            )

    def add_image(self, item_id: int, *, file_of: int | None = None) -> Change:
        """Upload an image to an item, after its others and linked to no variation; ``file_of``: the same
        file as that image (the same bytes, another image). Images are related information of the item's
        variations: their `relatedUpdatedAt` moves."""
        with self.lock:
            item = self._item(item_id)
            source = self.images.get(file_of) if file_of is not None else None
            if file_of is not None and source is None:
                raise KeyError(f"image {file_of} does not exist")
            now = self._now()
            image_id = self._next_image_id
            self._next_image_id += 1
            n = len(item.image_ids) + 1
            position = max((self.images[i].position for i in item.image_ids), default=-1) + 1
            file_type = source.file_type if source is not None else "jpg"
            slug = slugify(NOUNS[item.noun][1])
            names = {"de": (f"Bild {n}", f"Ansicht {n}"), "en": (f"Image {n}", f"View {n}")}
            self.images[image_id] = Image(
                image_id,
                item_id,
                position,
                file_type,
                f"{item_id}-{slug}-{n}.{file_type}",
                names,
                item.plenty_ids,
                now,
                now,
                file_of=(source.file_of or source.id) if source is not None else 0,
            )
            item.image_ids.append(image_id)
            self._touch_related(item, now)
            return Change(kind="image_added", at=now, item_id=item_id, image_id=image_id)

    def delete_image(self, image_id: int) -> Change:
        """Delete an image from its item (and the variations linked to it)."""
        with self.lock:
            image = self.images.pop(image_id, None)
            if image is None:
                raise KeyError(f"image {image_id} does not exist")
            item = self._item(image.item_id)
            item.image_ids.remove(image_id)
            now = self._now()
            for variation_id in item.variation_ids:
                variation = self.variations[variation_id]
                variation.image_ids = tuple(i for i in variation.image_ids if i != image_id)
            self._touch_related(item, now)
            return Change(kind="image_deleted", at=now, item_id=item.id, image_id=image_id)

    def _touch_related(self, item: Item, now: float) -> None:
        for variation_id in item.variation_ids:
            self.variations[variation_id].related_updated = now
        self._touch()

    def move_category(self, category_id: int, parent_id: int | None) -> Change:
        """Re-parent a category; its subtree's levels change, so their details' `updatedAt` moves."""
        with self.lock:
            category = self.categories.get(category_id)
            if category is None:
                raise KeyError(f"category {category_id} does not exist")
            if parent_id is not None:
                if parent_id not in self.categories:
                    raise KeyError(f"category {parent_id} does not exist")
                ancestor: int | None = parent_id
                while ancestor is not None:
                    if ancestor == category_id:
                        raise ValueError("a category cannot move below itself")
                    ancestor = self.categories[ancestor].parent_id
            now = self._now()
            old_parent = category.parent_id
            self._children[old_parent].remove(category_id)
            self._children.setdefault(parent_id, []).append(category_id)
            category.parent_id = parent_id
            base_level = self.categories[parent_id].level + 1 if parent_id is not None else 1
            stack = [(category_id, base_level)]
            while stack:
                current, level = stack.pop()
                self.categories[current].level = level
                self.categories[current].updated = now
                stack.extend((child, level + 1) for child in self._children.get(current, []))
            for parent in (old_parent, parent_id):
                if parent is not None:
                    self.categories[parent].updated = now  # its hasChildren may have flipped
            self._touch()
            return Change(kind="category_moved", at=now, category_id=category_id)

    def change_random(
        self,
        fraction: float,
        seed: int | None = None,
        kinds: tuple[Literal["variation", "item", "price", "stock"], ...] = ("variation", "price", "stock"),
    ) -> list[Change]:
        """Apply one random change to ``fraction`` of the variations; returns the changes in order."""
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        if not kinds:
            raise ValueError("kinds must not be empty")
        with self.lock:
            rng = random.Random(seed if seed is not None else f"{self.seed}/change/{self.version}")
            ids = list(self.variations)
            count = round(len(ids) * fraction)
            changes: list[Change] = []
            for variation_id in sorted(rng.sample(ids, count)):
                variation = self.variations[variation_id]
                kind = kinds[rng.randrange(len(kinds))]
                if kind == "variation":
                    changes.append(
                        self.update_variation(
                            variation_id,
                            VariationPatch(purchase_price=round(variation.purchase_price * 1.05, 2)),
                        )
                    )
                elif kind == "item":
                    item = self.items[variation.item_id]
                    changes.append(
                        self.update_item(item.id, ItemPatch(position=item.position + 1, texts=None))
                    )
                elif kind == "price":
                    current = dict(self.prices(variation))[1].price
                    changes.append(
                        self.set_price(variation_id, 1, psych_price(current * rng.uniform(0.9, 1.1), 0.99))
                    )
                else:
                    row = variation.stock[0]
                    changes.append(
                        self.set_stock(
                            variation_id, row.warehouse_id, max(row.physical + rng.randint(-5, 20), 0)
                        )
                    )
            return changes

    # -- inspection -----------------------------------------------------------------------------------

    def summary(self) -> CatalogSummary:
        with self.lock:
            return CatalogSummary(
                seed=self.seed,
                products=self.products,
                variants=self.variants,
                version=self.version,
                items=len(self.items),
                variations=len(self.variations),
                active_variations=sum(1 for v in self.variations.values() if v.is_active),
                categories=len(self.categories),
                attributes=len(self.attributes),
                attribute_values=len(self.attribute_values),
                sales_prices=len(self.sales_prices),
                variation_sales_prices=sum(len(v.price_ids) for v in self.variations.values()),
                manufacturers=len(self.manufacturers),
                units=len(self.units),
                warehouses=len(self.warehouses),
                stock_rows=sum(len(v.stock) for v in self.variations.values()),
                images=len(self.images),
                webstores=len(self.webstores),
                plenty_ids=list(self.plenty_ids),
            )

    def image_checksum(self, image: Image) -> tuple[str, int]:
        """MD5 and byte size of the full-size image, computed on first use."""
        if not image.md5:
            data = image_bytes(image, "full")
            image.md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            image.size = len(data)
        return image.md5, image.size
