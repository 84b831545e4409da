"""CMS collection items of the Webflow emulator: list with the spec's filters and sort, create (staged, live,
bulk), update, delete and publish. The Products and SKUs collections are views of the e-commerce store:
readable and publishable here, written through the Ecommerce API only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import islice

from connector_pipelines.sandbox.webflow_errors import Problems, WebflowError, bad_request, not_found
from connector_pipelines.sandbox.webflow_settings import object_id
from connector_pipelines.sandbox.webflow_store import Collection, Doc, Store, check_id

MAX_LIMIT = 100
_SORT_KEYS = ("createdOn", "lastPublished", "lastUpdated", "name", "slug")
_DATE_FILTERS = ("createdOn", "lastPublished", "lastUpdated")


def _ecommerce_write(collection: Collection) -> WebflowError:
    return WebflowError(
        400,
        "validation_error",
        f"Validation Error: items of the '{collection.spec.slug}' collection are written through the "
        "Ecommerce API (/sites/{site_id}/products)",
    )


def _when(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise WebflowError(
            400,
            "validation_error",
            f"Validation Error: {name} is not a date-time",
            [{"field": name, "message": value}],
        ) from None


def page_params(query: Mapping[str, str]) -> tuple[int, int]:
    """``offset`` and ``limit`` (at most 100, default 100) of a list request."""
    values = {}
    for name, default in (("offset", 0), ("limit", MAX_LIMIT)):
        raw = query.get(name)
        try:
            values[name] = default if raw in (None, "") else int(raw)
        except ValueError:
            raise WebflowError(
                400,
                "validation_error",
                f"Validation Error: {name} must be an integer",
                [{"field": name, "message": str(raw)}],
            ) from None
    offset, limit = values["offset"], values["limit"]
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        field = "offset" if offset < 0 else "limit"
        raise WebflowError(
            400,
            "validation_error",
            f"Validation Error: {field} out of range (offset >= 0, 1 <= limit <= {MAX_LIMIT})",
            [{"field": field, "message": str(values[field])}],
        )
    return offset, limit


class Cms:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading -------------------------------------------------------------------------------------------

    def items(self, collection: Collection, start: int = 0, stop: int | None = None) -> list[Doc]:
        """The collection's items ``[start:stop]`` as the CMS API renders them; skipping is cheap (no
        rendering), so paging through 50,000 SKUs stays linear."""
        if collection.kind == "product":
            return [p.doc for p in islice(self.store.products.values(), start, stop)]
        if collection.kind == "sku":
            owners = islice(self.store.sku_owner.items(), start, stop)
            return [self._sku_item(owner.id, owner.skus[sku_id]) for sku_id, owner in owners]
        return list(islice(collection.items.values(), start, stop))

    def count(self, collection: Collection) -> int:
        if collection.kind == "product":
            return len(self.store.products)
        if collection.kind == "sku":
            return len(self.store.sku_owner)
        return len(collection.items)

    def _sku_item(self, product_id: str, sku: Doc) -> Doc:
        # As a CMS item a SKU carries its product reference and the item flags the products API leaves out.
        return {
            **sku,
            "isArchived": False,
            "isDraft": False,
            "fieldData": {**sku["fieldData"], "product": product_id},
        }

    def item(self, collection: Collection, item_id: str) -> Doc:
        check_id(item_id, "item_id")
        if collection.kind == "product":
            product = self.store.products.get(item_id)
            if product is not None:
                return product.doc
        elif collection.kind == "sku":
            owner = self.store.sku_owner.get(item_id)
            if owner is not None:
                return self._sku_item(owner.id, owner.skus[item_id])
        elif item_id in collection.items:
            return collection.items[item_id]
        raise not_found("The item cannot be found")

    def list_items(self, collection: Collection, query: Mapping[str, str], *, live: bool = False) -> Doc:
        """A page of items; ``live``: published items only (``GET /items/live``)."""
        offset, limit = page_params(query)
        filters = [k for k in query if k not in ("offset", "limit") and query[k]]
        if not live and not filters:
            return {
                "items": self.items(collection, offset, offset + limit),
                "pagination": {"limit": limit, "offset": offset, "total": self.count(collection)},
            }
        items = self.items(collection)
        if live:
            items = [i for i in items if i.get("lastPublished")]
        for name in ("name", "slug"):
            if query.get(name):
                items = [i for i in items if i["fieldData"].get(name) == query[name]]
        if query.get("cmsLocaleId"):
            locales = set(query["cmsLocaleId"].split(","))
            items = [i for i in items if i.get("cmsLocaleId") in locales]
        for name in _DATE_FILTERS:
            for bound in ("gte", "lte"):
                raw = query.get(f"{name}[{bound}]")
                if not raw:
                    continue
                limit_at = _when(raw, f"{name}[{bound}]")
                kept = []
                for i in items:
                    stamp = i.get(name)
                    if stamp is None:
                        continue
                    when = _when(stamp, name)
                    if (when >= limit_at) if bound == "gte" else (when <= limit_at):
                        kept.append(i)
                items = kept
        sort_by, order = query.get("sortBy"), query.get("sortOrder", "asc")
        if order not in ("asc", "desc"):
            raise WebflowError(400, "validation_error", "Validation Error: sortOrder must be asc or desc")
        if sort_by:
            if sort_by not in _SORT_KEYS:
                raise WebflowError(400, "validation_error", f"Validation Error: cannot sort by {sort_by!r}")

            def key(item: Doc) -> tuple[bool, str]:
                value = item["fieldData"].get(sort_by) if sort_by in ("name", "slug") else item.get(sort_by)
                return (value is None, str(value or ""))

            items = sorted(items, key=key, reverse=order == "desc")
        elif order == "desc":
            items = items[::-1]
        return {
            "items": items[offset : offset + limit],
            "pagination": {"limit": limit, "offset": offset, "total": len(items)},
        }

    # --- writing -------------------------------------------------------------------------------------------

    def create(self, collection: Collection, body: Doc, now: str, *, live: bool) -> Doc:
        """``POST /items`` or ``/items/live``: one item, or ``{"items": [...]}`` (answered the same way)."""
        if collection.kind != "plain":
            raise _ecommerce_write(collection)
        many = isinstance(body.get("items"), list)
        entries = body["items"] if many else [body]
        if many and len(entries) > self.store.settings.max_items_per_request:
            raise WebflowError(400, "validation_error", "Validation Error: at most 100 items per request")
        p = self.store.problems()
        checked = [
            self._checked(collection, entry, f"items[{i}]" if many else "", p, None)
            for i, entry in enumerate(entries)
        ]
        self._unique_slugs(collection, checked, p)
        p.check()
        docs = [self._add(collection, fields, flags, now, live=live) for fields, flags in checked]
        return {"items": docs} if many else docs[0]

    def create_bulk(self, collection: Collection, body: Doc, now: str) -> Doc:
        """``POST /items/bulk``: ``fieldData`` is one item or a list of up to 100 (primary locale only)."""
        if collection.kind != "plain":
            raise _ecommerce_write(collection)
        field_data = body.get("fieldData")
        many = isinstance(field_data, list)
        entries = field_data if isinstance(field_data, list) else [field_data]
        if many and len(entries) > self.store.settings.max_items_per_request:
            raise WebflowError(400, "validation_error", "Validation Error: at most 100 items per request")
        shared: Doc = {k: body[k] for k in ("isArchived", "isDraft") if k in body}
        p = self.store.problems()
        checked = [
            self._checked(collection, {**shared, "fieldData": fd}, f"fieldData[{i}]" if many else "", p, None)
            for i, fd in enumerate(entries)
        ]
        self._unique_slugs(collection, checked, p)
        p.check()
        docs = []
        for fields, flags in checked:
            doc = self._add(collection, fields, flags, now, live=False)
            bulk = {k: v for k, v in doc.items() if k != "cmsLocaleId"}
            docs.append({"id": doc["id"], "cmsLocaleIds": [doc["cmsLocaleId"]], **bulk})
        return {"items": docs} if many else docs[0]

    def update_many(self, collection: Collection, body: Doc, now: str) -> Doc:
        """``PATCH /items`` (at most 100); answered as ``{"items": [...]}``."""
        if collection.kind != "plain":
            raise _ecommerce_write(collection)
        entries = body.get("items")
        if not isinstance(entries, list) or not entries:
            raise WebflowError(
                400,
                "validation_error",
                "Validation Error: items is required",
                [{"field": "items", "message": "Required"}],
            )
        if len(entries) > self.store.settings.max_items_per_request:
            raise WebflowError(400, "validation_error", "Validation Error: at most 100 items per request")
        p = self.store.problems()
        checked = []
        for i, entry in enumerate(entries):
            item_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(item_id, str) or item_id not in collection.items:
                p.add(f"items[{i}].id", f"item {item_id!r} not found in the collection")
                continue
            checked.append((item_id, *self._checked(collection, entry, f"items[{i}]", p, item_id)))
        self._unique_slugs(collection, [(fields, flags) for _, fields, flags in checked], p)
        p.check()
        return {
            "items": [
                self._update(collection, item_id, fields, flags, now) for item_id, fields, flags in checked
            ]
        }

    def update_one(self, collection: Collection, item_id: str, body: Doc, now: str) -> Doc:
        if collection.kind != "plain":
            raise _ecommerce_write(collection)
        self.item(collection, item_id)
        p = self.store.problems()
        fields, flags = self._checked(collection, body, "", p, item_id)
        p.check()
        return self._update(collection, item_id, fields, flags, now)

    def delete_many(self, collection: Collection, body: Doc) -> None:
        entries = body.get("items")
        if not isinstance(entries, list) or not entries:
            raise WebflowError(
                400,
                "validation_error",
                "Validation Error: items is required",
                [{"field": "items", "message": "Required"}],
            )
        ids = [e.get("id") if isinstance(e, dict) else None for e in entries]
        for item_id in ids:
            if not isinstance(item_id, str):
                raise bad_request()
            self.item(collection, item_id)  # all must exist before anything goes
        for item_id in ids:
            assert isinstance(item_id, str)
            self.delete_one(collection, item_id)

    def delete_one(self, collection: Collection, item_id: str) -> None:
        self.item(collection, item_id)
        if collection.kind == "sku" or (
            collection.kind == "product" and not self.store.settings.cms_delete_products
        ):
            raise WebflowError(
                400,
                "validation_error",
                f"Validation Error: items of the '{collection.spec.slug}' collection cannot be deleted "
                "through the CMS API; archive the product instead (isArchived)",
            )
        if collection.kind == "product":
            self._delete_product(item_id)
            return
        doc = collection.items.pop(item_id)
        collection.slugs.pop(doc["fieldData"]["slug"], None)

    def publish(self, collection: Collection, body: Doc, now: str) -> Doc:
        raw = body.get("itemIds")
        if raw is None and isinstance(body.get("items"), list):
            raw = [e.get("id") for e in body["items"] if isinstance(e, dict)]
        if not isinstance(raw, list) or not raw:
            raise WebflowError(
                400,
                "validation_error",
                "Validation Error: itemIds is required",
                [{"field": "itemIds", "message": "Required"}],
            )
        published: list[str] = []
        errors: list[str] = []
        for item_id in raw:
            doc = self._writable_doc(collection, item_id) if isinstance(item_id, str) else None
            if doc is None:
                errors.append(f"Staging item ID {item_id} not found.")
            elif doc.get("isDraft"):
                # UNVERIFIED: a draft is reported, not published (the spec shows only "not found" errors).
                errors.append(f"Staging item ID {item_id} is a draft.")
            else:
                doc["lastPublished"] = now
                published.append(item_id)
        return {"publishedItemIds": published, "errors": errors}

    # --- helpers -------------------------------------------------------------------------------------------

    def _writable_doc(self, collection: Collection, item_id: str) -> Doc | None:
        if collection.kind == "product":
            product = self.store.products.get(item_id)
            return product.doc if product else None
        if collection.kind == "sku":
            owner = self.store.sku_owner.get(item_id)
            return owner.skus[item_id] if owner else None
        return collection.items.get(item_id)

    def _delete_product(self, product_id: str) -> None:
        store = self.store
        product = store.products.pop(product_id)
        store.product_slugs.pop(product.doc["fieldData"]["slug"], None)
        for sku_id, sku in product.skus.items():
            store.sku_owner.pop(sku_id, None)
            store.sku_slugs.pop(sku["fieldData"]["slug"], None)
            store.inventory.pop(sku_id, None)

    def _checked(
        self, collection: Collection, entry: object, path: str, p: Problems, item_id: str | None
    ) -> tuple[Doc, dict[str, bool]]:
        """Validate one item body; returns its fieldData and flags. ``item_id`` set: a partial update."""
        where = f"{path}." if path else ""
        if not isinstance(entry, dict):
            p.add(path or "body", "must be an object")
            return {}, {}
        flags: dict[str, bool] = {}
        for key in ("isArchived", "isDraft"):
            value = entry.get(key)
            if value is not None and not isinstance(value, bool):
                p.add(f"{where}{key}", "must be a boolean")
            elif value is not None:
                flags[key] = value
        fd = entry.get("fieldData")
        if fd is None and item_id is not None:
            return {}, flags
        if not isinstance(fd, dict):
            p.add(f"{where}fieldData", "Required: an object")
            return {}, flags
        store = self.store
        for key, value in fd.items():
            spec = collection.fields.get(key)
            at = f"{where}fieldData.{key}"
            if spec is None:
                p.add(at, f"Field not described in schema: {key!r}")
            elif key in ("name", "slug"):
                store.check.text(value, at, p, slug=key == "slug")
            elif spec.type == "Switch" and value is not None and not isinstance(value, bool):
                p.add(at, "must be a boolean")
            elif (
                spec.type == "Number"
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, int | float))
            ):
                p.add(at, "must be a number")
            elif (
                spec.type in ("Reference", "MultiReference")
                and spec.reference_to
                and value not in (None, "", [])
            ):
                store.check.references(value, spec.reference_to, at, p, many=spec.type == "MultiReference")
                if key == "parent-category" and value == item_id:
                    p.add(at, "an item cannot be its own parent")
        if item_id is None:
            for key in ("name", "slug"):
                if key not in fd:
                    p.add(f"{where}fieldData.{key}", "Required")
        slug = fd.get("slug")
        if isinstance(slug, str) and collection.slugs.get(slug, item_id) != item_id:
            p.duplicate_slug(f"{where}fieldData.slug", slug)
        return dict(fd), flags

    def _unique_slugs(
        self, collection: Collection, checked: list[tuple[Doc, dict[str, bool]]], p: Problems
    ) -> None:
        seen: set[str] = set()
        for fields, _ in checked:
            slug = fields.get("slug")
            if isinstance(slug, str):
                if slug in seen:
                    p.duplicate_slug("fieldData.slug", slug)
                seen.add(slug)

    def _add(
        self, collection: Collection, fields: Doc, flags: dict[str, bool], now: str, *, live: bool
    ) -> Doc:
        item_id = object_id()
        # UNVERIFIED: the spec's request schema says isDraft defaults to true for POST /items; its examples
        # and answers show false. False here, so that a staged item can be published.
        draft = flags.get("isDraft", False) and not live
        doc: Doc = {
            "id": item_id,
            "cmsLocaleId": self.store.cms_locale_id,
            "lastPublished": now if live else None,
            "lastUpdated": now,
            "createdOn": now,
            "isArchived": flags.get("isArchived", False),
            "isDraft": draft,
            "fieldData": fields,
        }
        collection.items[item_id] = doc
        collection.slugs[fields["slug"]] = item_id
        return doc

    def _update(
        self, collection: Collection, item_id: str, fields: Doc, flags: dict[str, bool], now: str
    ) -> Doc:
        doc = collection.items[item_id]
        old_slug = doc["fieldData"]["slug"]
        doc["fieldData"].update(fields)
        doc.update(flags)
        doc["lastUpdated"] = now
        new_slug = doc["fieldData"]["slug"]
        if new_slug != old_slug:
            collection.slugs.pop(old_slug, None)
            collection.slugs[new_slug] = item_id
        return doc
