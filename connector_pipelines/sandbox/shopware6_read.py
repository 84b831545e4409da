"""Reading stored rows of the Shopware 6 emulator in one language and inheritance context: field values
with translation and parent fallbacks, associations, and the fields Shopware's indexers compute."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector_pipelines.sandbox.shopware6_schema import (
    DEFAULT_CURRENCY_ID,
    LIVE_VERSION_ID,
    SCHEMA,
    AssocDef,
    EntityDef,
)
from connector_pipelines.sandbox.shopware6_store import Row, Store, tr_key, unpack


@dataclass(slots=True)
class ReadContext:
    language_id: str
    inherit: bool = False
    base_url: str = ""
    includes: dict[str, frozenset[str]] | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """How an entity is rendered: stored columns, indexer-maintained (computed) ones, translated ones."""

    plain: tuple[str, ...]
    inherited: frozenset[str]
    computed: tuple[str, ...]
    translated: tuple[str, ...]


PLANS = {
    name: Plan(
        plain=tuple(
            f.name for f in ent.fields.values() if f.kind != "id" and not (f.translated or f.write_protected)
        ),
        inherited=frozenset(f.name for f in ent.fields.values() if f.inherited),
        computed=tuple(f.name for f in ent.fields.values() if f.write_protected),
        translated=tuple(f.name for f in ent.fields.values() if f.translated and not f.write_protected),
    )
    for name, ent in SCHEMA.items()
}


class Reader:
    """Reads field values and associations of stored rows in one language / inheritance context."""

    def __init__(self, store: Store, ctx: ReadContext) -> None:
        self.store = store
        self.ctx = ctx
        self.chain = store.language_chain(ctx.language_id)
        self._keys: dict[str, tuple[str, ...]] = {}

    def parent(self, ent: EntityDef, row: Row) -> Row | None:
        if not (self.ctx.inherit and ent.inheritance):
            return None
        parent_id = row.get("parentId")
        return self.store.rows[ent.name].get(parent_id) if parent_id else None

    def translation_keys(self, name: str) -> tuple[str, ...]:
        """Row keys of ``name`` along the language chain; the first is the context language's."""
        keys = self._keys.get(name)
        if keys is None:
            keys = self._keys[name] = tuple(tr_key(name, lang) for lang in self.chain)
        return keys

    def translated(self, ent: EntityDef, row: Row, name: str) -> Any:
        """``translated``: context language, its parent language, the system language, then the parent row."""
        for key in self.translation_keys(name):
            value = row.get(key)
            if value is not None:
                return unpack(value)
        parent = self.parent(ent, row) if ent.fields[name].inherited else None
        return self.translated(ent, parent, name) if parent is not None else None

    def own_translation(self, ent: EntityDef, row: Row, name: str) -> Any:
        value = row.get(self.translation_keys(name)[0])
        if value is None and ent.fields[name].inherited:
            parent = self.parent(ent, row)
            if parent is not None:
                return self.own_translation(ent, parent, name)
        return unpack(value)

    def value(self, ent: EntityDef, row: Row, name: str) -> Any:
        fd = ent.fields.get(name)
        if fd is None:
            return row.get(name)
        if fd.write_protected:
            return self.computed_fields(ent, row).get(name)
        if fd.translated:
            return self.translated(ent, row, name)
        value = row.get(name)
        if value is None and fd.inherited:
            parent = self.parent(ent, row)
            if parent is not None:
                return self.value(ent, parent, name)
        return unpack(value)

    def related(self, ent: EntityDef, row: Row, assoc: AssocDef) -> list[tuple[str, Row]]:
        store = self.store
        target = store.rows[assoc.ref]
        out: list[tuple[str, Row]] = []
        if assoc.kind == "many_to_one":
            key = self.value(ent, row, assoc.fk)
            hit = target.get(key) if key else None
            return [(key, hit)] if hit is not None else []
        own_key = row.get("id")
        if assoc.kind == "one_to_one":
            hits = (k for k in store.referencing(assoc.ref, assoc.fk, own_key) if k in target)
            first = next(hits, None)
            return [(first, target[first])] if first is not None else []
        if assoc.kind == "one_to_many":
            out = [(k, target[k]) for k in store.referencing(assoc.ref, assoc.fk, own_key) if k in target]
        else:
            assert assoc.mapping is not None
            assert assoc.mapping_ref is not None
            mapping = store.rows[assoc.mapping]
            for mk in store.referencing(assoc.mapping, assoc.fk, own_key):
                ref_key = mapping[mk].get(assoc.mapping_ref)
                if isinstance(ref_key, str):
                    hit = target.get(ref_key)
                    if hit is not None:
                        out.append((ref_key, hit))
        if not out and assoc.inherited:
            parent = self.parent(ent, row)
            if parent is not None:
                return self.related(ent, parent, assoc)
        return out

    def computed_fields(self, ent: EntityDef, row: Row) -> dict[str, Any]:
        """Write-protected fields: stored by uploads, or kept by Shopware's indexers (counts, ids, tree)."""
        store = self.store
        key: str = row.get("id") or ""
        out = {name: unpack(row.get(name)) for name in PLANS[ent.name].computed}
        for name in ent.versions:
            out[name] = LIVE_VERSION_ID
        if "autoIncrement" in out:
            out["autoIncrement"] = store.seq[ent.name].get(key, -1) + 1
        if ent.name == "product":
            assocs = ent.assocs
            options = self.related(ent, row, assocs["options"])
            categories = self.related(ent, row, assocs["categories"])
            stock = row.get("stock")
            closeout = bool(self.value(ent, row, "isCloseout"))
            min_purchase = self.value(ent, row, "minPurchase") or 1
            out["childCount"] = len(store.referencing("product", "parentId", key))
            out["availableStock"] = stock
            out["available"] = bool(self.value(ent, row, "active")) and (
                not closeout or (stock or 0) >= min_purchase
            )
            out["optionIds"] = [k for k, _ in options] or None
            out["propertyIds"] = [k for k, _ in self.related(ent, row, assocs["properties"])] or None
            out["categoryIds"] = [k for k, _ in categories] or None
            tree: dict[str, None] = {}
            for cid, _ in categories:
                tree.update(dict.fromkeys(self.category_path(cid)))
            out["categoryTree"] = list(tree) or None
            # Runtime field of ProductVariationBuilder: built only when the read loads options and
            # options.group (Renderer.entity); filters and sorts see it empty.
            out["variation"] = []
            out["sales"] = out.get("sales") or 0
            out["states"] = ["is-physical"]  # StatesUpdater: no downloads
        elif ent.name == "category":
            path = self.category_path(key)
            cats = store.rows["category"]
            out["level"] = len(path)
            out["path"] = "|" + "|".join(path[:-1]) + "|" if len(path) > 1 else None
            out["childCount"] = len(store.referencing("category", "parentId", key))
            out["breadcrumb"] = [self.translated(ent, cats[c], "name") for c in path if c in cats]
            # Runtime fields only the storefront navigation fills; the entity's property defaults
            out["cmsPageIdSwitched"] = False
            out["visibleChildCount"] = 0
        elif ent.name == "media_folder":
            folders = store.rows["media_folder"]
            chain: list[str] = []
            cur = row.get("parentId")
            while cur and cur in folders and cur not in chain:
                chain.append(cur)
                cur = folders[cur].get("parentId")
            out["path"] = "|" + "|".join(chain[::-1]) + "|" if chain else None
            out["childCount"] = len(store.referencing("media_folder", "parentId", key))
        elif ent.name == "currency":
            out["isSystemDefault"] = key == DEFAULT_CURRENCY_ID
        elif ent.name == "order":
            # Generated columns over the price JSON (Migration1536232990Order).
            price = unpack(row.get("price")) or {}
            shipping = unpack(row.get("shippingCosts")) or {}
            ordered = row.get("orderDateTime")
            out["amountTotal"] = price.get("totalPrice")
            out["amountNet"] = price.get("netPrice")
            out["positionPrice"] = price.get("positionPrice")
            out["taxStatus"] = price.get("taxStatus")
            out["shippingTotal"] = shipping.get("totalPrice")
            out["orderDate"] = f"{ordered[:10]}T00:00:00.000+00:00" if isinstance(ordered, str) else None
        elif ent.name == "order_line_item":
            price = unpack(row.get("price")) or {}
            out["unitPrice"] = price.get("unitPrice")
            out["totalPrice"] = price.get("totalPrice")
        return out

    def category_path(self, category_id: str) -> list[str]:
        """Ids from the root down to ``category_id``."""
        cats = self.store.rows["category"]
        path: list[str] = []
        cur: str | None = category_id
        while cur and cur in cats and cur not in path:
            path.append(cur)
            cur = cats[cur].get("parentId")
        return path[::-1]
