"""The Shopware 6 emulator's products as one flat view per product (inheritance resolved, associations
spelled out), for convergence checks and tests."""

from __future__ import annotations

from typing import Any

import orjson

from connector_pipelines.sandbox.shopware6_schema import SCHEMA, SYSTEM_LANGUAGE_ID
from connector_pipelines.sandbox.shopware6_store import Row, Store, tr_key, unpack


def resolved_products(store: Store) -> list[dict[str, Any]]:
    """One pass over the products; names and options are looked up once per call, not per product.

    Besides the fields: ``translations`` (language id -> name, the product's own), ``prices`` (advanced
    prices: rule, quantities, price) and ``media`` (links with their file's path, when uploaded)."""
    rows = store.rows
    products = rows["product"]
    product = SCHEMA["product"]
    system = SYSTEM_LANGUAGE_ID
    plain = [
        f.name for f in product.fields.values() if f.kind != "id" and not (f.translated or f.write_protected)
    ]
    translated = {f.name: tr_key(f.name, system) for f in product.fields.values() if f.translated}
    inherited = {f.name for f in product.fields.values() if f.inherited}

    def name_of(entity: str, key: str | None, field: str = "name") -> Any:
        row = rows[entity].get(key or "")
        return unpack(row.get(tr_key(field, system))) if row is not None else None

    options: dict[str, dict[str, Any]] = {}

    def option_view(option_id: str) -> dict[str, Any]:
        view = options.get(option_id)
        if view is None:
            option = rows["property_group_option"].get(option_id) or {}
            group_id = option.get("groupId")
            view = options[option_id] = {
                "id": option_id,
                "name": name_of("property_group_option", option_id),
                "groupId": group_id,
                "group": name_of("property_group", group_id),
            }
        return view

    def linked(assoc_name: str, key: str, parent_key: str | None) -> list[str]:
        assoc = product.assocs[assoc_name]
        assert assoc.mapping is not None
        assert assoc.mapping_ref is not None
        mapping = rows[assoc.mapping]
        found = [mapping[k][assoc.mapping_ref] for k in store.referencing(assoc.mapping, "productId", key)]
        return linked(assoc_name, parent_key, None) if not found and parent_key and assoc.inherited else found

    def owned(assoc_name: str, key: str, parent_key: str | None) -> list[tuple[str, Row]]:
        assoc = product.assocs[assoc_name]
        target = rows[assoc.ref]
        found = [(k, target[k]) for k in store.referencing(assoc.ref, "productId", key) if k in target]
        return owned(assoc_name, parent_key, None) if not found and parent_key and assoc.inherited else found

    out = []
    for key, row in products.items():
        parent_key = row.get("parentId")
        parent = products.get(parent_key) if parent_key else None
        view: dict[str, Any] = {"id": key}
        for name in plain:
            value = row.get(name)
            if value is None and parent is not None and name in inherited:
                value = parent.get(name)
            view[name] = orjson.loads(value) if value.__class__ is bytes else value
        for name, column in translated.items():
            value = row.get(column)
            if value is None and parent is not None:
                value = parent.get(column)
            view[name] = orjson.loads(value) if value.__class__ is bytes else value
        view["parentNumber"] = parent.get("productNumber") if parent else None
        view["childNumbers"] = [
            products[c]["productNumber"]
            for c in store.referencing("product", "parentId", key)
            if c in products
        ]
        view["options"] = [option_view(o) for o in linked("options", key, parent_key)]
        view["properties"] = [option_view(o) for o in linked("properties", key, parent_key)]
        view["categories"] = [
            {"id": c, "name": name_of("category", c)} for c in linked("categories", key, parent_key)
        ]
        view["visibilities"] = [
            {"id": k, "salesChannelId": r.get("salesChannelId"), "visibility": r.get("visibility")}
            for k, r in owned("visibilities", key, parent_key)
        ]
        view["configuratorSettings"] = [
            {"id": k, "optionId": r.get("optionId"), "position": r.get("position")}
            for k, r in owned("configuratorSettings", key, None)
        ]
        media = rows["media"]
        view["media"] = [
            {
                "id": k,
                "mediaId": r.get("mediaId"),
                "position": r.get("position"),
                "fileName": (media.get(r.get("mediaId") or "") or {}).get("fileName"),
                "path": (media.get(r.get("mediaId") or "") or {}).get("path"),
            }
            for k, r in owned("media", key, parent_key)
        ]
        view["prices"] = [
            {
                "id": k,
                "ruleId": r.get("ruleId"),
                "quantityStart": r.get("quantityStart"),
                "quantityEnd": r.get("quantityEnd"),
                "price": unpack(r.get("price")),
            }
            for k, r in owned("prices", key, parent_key)
        ]
        view["translations"] = {
            language: unpack(row[name_column])
            for name_column in row
            if name_column.startswith("name|")
            for language in [name_column.split("|", 1)[1]]
        }
        view["manufacturer"] = name_of("product_manufacturer", view.get("manufacturerId"))
        view["unit"] = name_of("unit", view.get("unitId"), "shortCode")
        view["taxRate"] = (rows["tax"].get(view.get("taxId") or "") or {}).get("taxRate")
        out.append(view)
    return out
