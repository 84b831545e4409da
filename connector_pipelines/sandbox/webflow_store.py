"""The Webflow emulator's data: one site, its CMS collections, e-commerce products with their SKUs, and
inventory. Documents are kept exactly as the API renders them (so reads are a lookup and ``orjson.dumps``);
every lookup by id or slug is a dict access.

Validation follows the spec (``openapi/v2.yml``) and the contract: a request is checked as a whole and
either written whole or answered with one ``validation_error`` naming every problem in ``details``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal

from connector_pipelines.sandbox.webflow_errors import (
    Problems,
    WebflowError,
    ecommerce_not_enabled,
    not_found,
)
from connector_pipelines.sandbox.webflow_settings import CmsCollection, CmsField, WebflowSettings, object_id
from connector_pipelines.sandbox.webflow_validate import (
    Checker,
    Combo,
    Doc,
    check_id,
    check_sku_values,
    combo_of,
    now_iso,
    obj,
    ordered_values,
    publish_status,
    read_flags,
)

__all__ = ["Collection", "Doc", "Product", "Store", "check_id", "now_iso"]

ADVANCED = "b6ccc1830db4b1babeb06a9ac5f6dd76"  # ec-product-type "Advanced": set by every API write (spec)


# --- collections -------------------------------------------------------------------------------------------

# The e-commerce collections every e-commerce site has (spec example of GET /sites/{id}/collections:
# Products/product, Categories/category, SKUs/sku). Field types beyond the SDK's FieldType list are our guess.
_PRODUCT_FIELDS = [
    CmsField(slug="name", display_name="Name", required=True),
    CmsField(slug="slug", display_name="Slug", required=True),
    CmsField(slug="description", display_name="Description"),
    CmsField(slug="shippable", display_name="Requires shipping", type="Switch"),
    CmsField(slug="sku-properties", display_name="Product options", type="SkuPropertyList"),
    CmsField(slug="category", display_name="Category", type="MultiReference", reference_to="category"),
    CmsField(slug="tax-category", display_name="Tax category", type="Option"),
    CmsField(slug="default-sku", display_name="Default SKU", type="Reference", reference_to="sku"),
    CmsField(slug="ec-product-type", display_name="Product type", type="Option"),
]
_SKU_FIELDS = [
    CmsField(slug="name", display_name="Name", required=True),
    CmsField(slug="slug", display_name="Slug", required=True),
    CmsField(slug="product", display_name="Product", type="Reference", reference_to="product"),
    CmsField(slug="sku-values", display_name="SKU values", type="SkuValues"),
    CmsField(slug="price", display_name="Price", type="Price", required=True),
    CmsField(slug="compare-at-price", display_name="Compare-at price", type="Price"),
    CmsField(slug="sku", display_name="SKU", type="PlainText"),
    CmsField(slug="main-image", display_name="Main image", type="Image"),
    CmsField(slug="more-images", display_name="More images", type="MultiImage"),
    CmsField(slug="ec-sku-billing-method", display_name="Billing method", type="Option"),
    CmsField(slug="ec-sku-subscription-plan", display_name="Subscription plan", type="SubscriptionPlan"),
]
# UNVERIFIED: the Categories fields (name, slug, parent-category) are not in the spec or the SDK.
_CATEGORY_FIELDS = [
    CmsField(slug="name", display_name="Name", required=True),
    CmsField(slug="slug", display_name="Slug", required=True),
    CmsField(
        slug="parent-category", display_name="Parent category", type="Reference", reference_to="category"
    ),
]
ECOMMERCE_COLLECTIONS: tuple[tuple[Literal["product", "sku", "plain"], CmsCollection], ...] = (
    (
        "product",
        CmsCollection(
            display_name="Products", singular_name="Product", slug="product", fields=_PRODUCT_FIELDS
        ),
    ),
    ("sku", CmsCollection(display_name="SKUs", singular_name="SKU", slug="sku", fields=_SKU_FIELDS)),
    (
        "plain",
        CmsCollection(
            display_name="Categories", singular_name="Category", slug="category", fields=_CATEGORY_FIELDS
        ),
    ),
)


@dataclass(slots=True)
class Collection:
    id: str
    spec: CmsCollection
    kind: Literal["product", "sku", "plain"]
    created_on: str
    fields: dict[str, CmsField]
    field_docs: list[Doc]
    items: dict[str, Doc] = field(default_factory=dict)  # plain collections only
    slugs: dict[str, str] = field(default_factory=dict)  # slug -> item id (plain collections only)

    def summary(self) -> Doc:
        return {
            "id": self.id,
            "displayName": self.spec.display_name,
            "singularName": self.spec.singular_name,
            "slug": self.spec.slug,
            "createdOn": self.created_on,
            "lastUpdated": self.created_on,
        }

    def detail(self) -> Doc:
        return {**self.summary(), "fields": self.field_docs}


def _collection(
    collection_id: str, spec: CmsCollection, kind: Literal["product", "sku", "plain"], created_on: str
) -> Collection:
    fields = {f.slug: f for f in spec.fields}
    for builtin in (CmsField(slug="slug", display_name="Slug", required=True),
                    CmsField(slug="name", display_name="Name", required=True)):  # fmt: skip
        if builtin.slug not in fields:
            fields = {builtin.slug: builtin, **fields}
    docs = [
        {
            "id": object_id(),
            "isRequired": f.required,
            "isEditable": True,
            "type": f.type,
            "slug": f.slug,
            "displayName": f.display_name,
            "helpText": None,
            "validations": None,
        }
        for f in fields.values()
    ]
    return Collection(collection_id, spec, kind, created_on, fields, docs)


# --- products ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Product:
    doc: Doc
    skus: dict[str, Doc] = field(default_factory=dict)  # SKU id -> SKU document, in creation order
    combos: dict[Combo, str] = field(default_factory=dict)  # sku-values -> SKU id

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def properties(self) -> list[Doc]:
        props: list[Doc] = self.doc["fieldData"].get("sku-properties") or []
        return props

    def render(self) -> Doc:
        return {"product": self.doc, "skus": list(self.skus.values())}


class Store:
    """Everything the emulated site holds. Callers hold ``lock`` around every use."""

    def __init__(self, settings: WebflowSettings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.rejected_skus: set[str] = set()
        self.check = Checker(self)
        self._collection_ids: dict[str, str] = {}
        self.cms_locale_id = object_id()
        self.locale_id = object_id()
        self.domains: list[Doc] = [
            {"id": object_id(), "url": url, "lastPublished": None} for url in settings.custom_domains
        ]
        self.clear()

    def clear(self) -> None:
        created = now_iso()
        self.created_on = created
        self.last_published: str | None = None
        self.last_updated = created
        for domain in self.domains:
            domain["lastPublished"] = None
        self.collections: dict[str, Collection] = {}
        self.by_slug: dict[str, Collection] = {}
        specs: list[tuple[Literal["product", "sku", "plain"], CmsCollection]] = []
        if self.settings.ecommerce_enabled:
            specs.extend(ECOMMERCE_COLLECTIONS)
        specs.extend(("plain", spec) for spec in self.settings.extra_collections)
        for kind, spec in specs:
            # Collection ids survive a reset, so that callers holding them can go on.
            collection_id = self._collection_ids.setdefault(spec.slug, object_id())
            collection = _collection(collection_id, spec, kind, created)
            self.collections[collection.id] = collection
            self.by_slug[spec.slug] = collection
        self.products: dict[str, Product] = {}
        self.product_slugs: dict[str, str] = {}
        self.sku_owner: dict[str, Product] = {}
        self.sku_slugs: dict[str, str] = {}
        self.inventory: dict[str, Doc] = {}

    # --- lookups -------------------------------------------------------------------------------------------

    def problems(self) -> Problems:
        return Problems(self.settings.duplicate_slug_status)

    def check_site(self, site_id: str, *, ecommerce: bool = False) -> None:
        check_id(site_id, "site_id")
        if site_id != self.settings.site_id:
            raise not_found("The site cannot be found")
        if ecommerce and not self.settings.ecommerce_enabled:
            raise ecommerce_not_enabled()

    def collection(self, collection_id: str) -> Collection:
        check_id(collection_id, "collection_id")
        found = self.collections.get(collection_id)
        if found is None:
            raise not_found("The collection cannot be found")
        return found

    def product(self, site_id: str, product_id: str) -> Product:
        self.check_site(site_id, ecommerce=True)
        check_id(product_id, "product_id")
        found = self.products.get(product_id)
        if found is None:
            raise not_found("The product cannot be found")
        return found

    def sku(self, product: Product, sku_id: str) -> Doc:
        check_id(sku_id, "sku_id")
        found = product.skus.get(sku_id)
        if found is None:
            raise not_found("The SKU cannot be found")
        return found

    # --- site ----------------------------------------------------------------------------------------------

    def site(self) -> Doc:
        s = self.settings
        return {
            "id": s.site_id,
            "workspaceId": s.workspace_id,
            "createdOn": self.created_on,
            "displayName": s.site_name,
            "shortName": re.sub(r"[^a-z0-9]+", "-", s.site_name.lower()).strip("-"),
            "lastPublished": self.last_published,
            "lastUpdated": self.last_updated,
            "previewUrl": f"https://screenshots.webflow.com/sites/{s.site_id}/preview.png",
            "timeZone": s.time_zone,
            "parentFolderId": None,
            "customDomains": [{"id": d["id"], "url": d["url"]} for d in self.domains],
            "locales": {
                "primary": {
                    "id": self.locale_id,
                    "cmsLocaleId": self.cms_locale_id,
                    "enabled": True,
                    "displayName": "English (United States)",
                    "displayImageId": None,
                    "redirect": True,
                    "subdirectory": "",
                    "tag": "en-US",
                },
                "secondary": [],
            },
            "dataCollectionEnabled": False,
            "dataCollectionType": "optOut",
        }

    def publish_site(self, body: Doc) -> Doc:
        """Validate a publish request; returns the answer (the caller checks the limit, then publishes)."""
        domains = body.get("customDomains") or []
        to_subdomain = body.get("publishToWebflowSubdomain") is True
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise WebflowError(
                400, "validation_error", "Validation Error: customDomains must be an array of ids"
            )
        by_id = {d["id"]: d for d in self.domains}
        if any(d not in by_id for d in domains):
            raise WebflowError(400, "invalid_domain", "Please send a valid custom domain ID")
        if not domains and not to_subdomain:
            raise WebflowError(400, "no_domains", "No domain IDs provided")
        return {
            "customDomains": [by_id[d] for d in domains],
            "publishToWebflowSubdomain": to_subdomain,
            "publishScope": "page" if body.get("pageId") else "site",
        }

    def publish_everything(self, now: str, domain_ids: list[str]) -> None:
        """A site publish makes every staged, non-draft change live."""
        self.last_published = now
        for domain in self.domains:
            if domain["id"] in domain_ids:
                domain["lastPublished"] = now
        for product in self.products.values():
            if not product.doc["isDraft"]:
                product.doc["lastPublished"] = now
                for sku in product.skus.values():
                    sku["lastPublished"] = now
        for collection in self.collections.values():
            for item in collection.items.values():
                if not item["isDraft"]:
                    item["lastPublished"] = now

    def ecommerce_settings(self) -> Doc:
        return {
            "siteId": self.settings.site_id,
            "createdOn": self.created_on,
            "defaultCurrency": self.settings.default_currency,
        }

    # --- products ------------------------------------------------------------------------------------------

    def list_products(self, offset: int, limit: int) -> Doc:
        page = islice(self.products.values(), offset, offset + limit)
        return {
            "items": [p.render() for p in page],
            "pagination": {"limit": limit, "offset": offset, "total": len(self.products)},
        }

    def create_product(self, body: Doc, now: str) -> Product:
        p = self.problems()
        live = publish_status(body, p)
        product_in = obj(body.get("product"), "product", p)
        sku_in = obj(body.get("sku"), "sku", p)
        pfd = obj(product_in.get("fieldData"), "product.fieldData", p) if product_in else {}
        sfd = obj(sku_in.get("fieldData"), "sku.fieldData", p) if sku_in else {}
        p.check()
        fd = self.check.product_fields(pfd, "product.fieldData", p, partial=False)
        props = self.check.properties(pfd.get("sku-properties"), "product.fieldData.sku-properties", p, None)
        self.check.slug_free(fd.get("slug"), self.product_slugs, None, "product.fieldData.slug", p)
        default_values = {prop["id"]: prop["enum"][0]["id"] for prop in props if prop["enum"]}
        sku_fd = self.check.sku_fields(sfd, "sku.fieldData", p, partial=False)
        self.check.slug_free(sku_fd.get("slug"), self.sku_slugs, None, "sku.fieldData.slug", p)
        flags = read_flags(product_in, "product", p)
        p.check()

        product_id, sku_id = object_id(), object_id()
        if props:
            fd["sku-properties"] = props
        fd.setdefault("shippable", True)
        fd.setdefault("tax-category", "standard-taxable")
        fd["default-sku"] = sku_id
        fd["ec-product-type"] = ADVANCED
        # The default SKU always takes the first enum value of each property (spec, create-product).
        if props:
            sku_fd["sku-values"] = default_values
        else:
            sku_fd.pop("sku-values", None)
        published = now if live else None
        doc: Doc = {
            "id": product_id,
            "cmsLocaleId": self.cms_locale_id,
            "lastPublished": published,
            "lastUpdated": now,
            "createdOn": now,
            "isArchived": flags.get("isArchived", False),
            "isDraft": flags.get("isDraft", False),
            "fieldData": fd,
        }
        product = Product(doc)
        self.products[product_id] = product
        self.product_slugs[fd["slug"]] = product_id
        self._add_sku(product, sku_id, sku_fd, combo_of(default_values), now, published)
        return product

    def update_product(self, product: Product, body: Doc, now: str) -> Doc:
        p = self.problems()
        live = publish_status(body, p)
        product_in = obj(body.get("product"), "product", p, required=False)
        sku_in = obj(body.get("sku"), "sku", p, required=False)
        pfd = obj(product_in.get("fieldData"), "product.fieldData", p, required=False)
        p.check()
        changes = self.check.product_fields(pfd, "product.fieldData", p, partial=True)
        if "slug" in changes:
            self.check.slug_free(changes["slug"], self.product_slugs, product.id, "product.fieldData.slug", p)
        if "default-sku" in pfd and pfd["default-sku"] not in product.skus:
            p.add("product.fieldData.default-sku", "must be the id of one of the product's SKUs")
        flags = read_flags(product_in, "product", p)
        new_props: list[Doc] | None = None
        if "sku-properties" in pfd:
            path = "product.fieldData.sku-properties"
            new_props = self.check.properties(pfd["sku-properties"], path, p, product.properties)
            self._check_props_in_use(product, new_props, path, p)
        default_sku_id = product.doc["fieldData"]["default-sku"]
        sku_update: tuple[Doc, Combo | None] | None = None
        if sku_in and isinstance(sku_in.get("fieldData"), dict):
            sku_update = self._sku_update(product, default_sku_id, sku_in["fieldData"], "sku.fieldData", p)
        p.check()

        fd = product.doc["fieldData"]
        if "slug" in changes and changes["slug"] != fd["slug"]:
            del self.product_slugs[fd["slug"]]
            self.product_slugs[changes["slug"]] = product.id
        fd.update(changes)
        if "default-sku" in pfd:
            fd["default-sku"] = pfd["default-sku"]
        fd["ec-product-type"] = ADVANCED
        if new_props is not None:
            self._apply_props(product, new_props, now)
        product.doc.update(flags)
        product.doc["lastUpdated"] = now
        if sku_update is not None:
            self._write_sku(product, default_sku_id, *sku_update, now)
        if live:
            self._publish_product(product, now)
        return product.doc

    def create_skus(self, product: Product, body: Doc, now: str) -> list[Doc]:
        p = self.problems()
        live = publish_status(body, p)
        skus_in = body.get("skus")
        if not isinstance(skus_in, list) or not skus_in:
            p.add("skus", "Required: a non-empty array of SKUs")
        elif len(skus_in) > self.settings.max_skus_per_request:
            p.add(
                "skus", f"at most {self.settings.max_skus_per_request} SKUs per request (got {len(skus_in)})"
            )
        p.check()
        assert isinstance(skus_in, list)
        props = product.properties
        if not props:
            p.add("skus", "the product has no sku-properties: add options with PATCH before creating SKUs")
        fresh: list[tuple[Doc, Combo]] = []
        combos: dict[Combo, int] = {}
        slugs: dict[str, int] = {}
        for i, sku_in in enumerate(skus_in):
            path = f"skus[{i}]"
            fd_in = sku_in.get("fieldData") if isinstance(sku_in, dict) else None
            if not isinstance(fd_in, dict):
                p.add(f"{path}.fieldData", "Required: an object")
                continue
            fd = self.check.sku_fields(fd_in, f"{path}.fieldData", p, partial=False)
            slug = fd.get("slug")
            if isinstance(slug, str):
                if slug in slugs:
                    p.add(f"{path}.fieldData.slug", f"same slug as skus[{slugs[slug]}]")
                slugs.setdefault(slug, i)
                self.check.slug_free(slug, self.sku_slugs, None, f"{path}.fieldData.slug", p)
            combo = (
                check_sku_values(fd.get("sku-values"), props, f"{path}.fieldData.sku-values", p)
                if props
                else None
            )
            if combo is None:
                continue
            owner = product.combos.get(combo)
            if owner is not None:
                p.add(
                    f"{path}.fieldData.sku-values", f"SKU {owner} already has this combination {dict(combo)}"
                )
            elif combo in combos:
                p.add(f"{path}.fieldData.sku-values", f"same combination as skus[{combos[combo]}]")
            combos.setdefault(combo, i)
            fd["sku-values"] = ordered_values(combo, props)
            fresh.append((fd, combo))
        p.check()
        published = now if live else None
        out = []
        for fd, combo in fresh:
            sku_id = object_id()
            out.append(self._add_sku(product, sku_id, fd, combo, now, published))
        product.doc["lastUpdated"] = now
        product.doc["fieldData"]["ec-product-type"] = ADVANCED
        return out

    def update_sku(self, product: Product, sku_id: str, body: Doc, now: str) -> Doc:
        p = self.problems()
        live = publish_status(body, p)
        sku_in = obj(body.get("sku"), "sku", p)
        fd_in = obj(sku_in.get("fieldData"), "sku.fieldData", p, required=False) if sku_in else {}
        p.check()
        self.sku(product, sku_id)
        fields, combo = self._sku_update(product, sku_id, fd_in, "sku.fieldData", p)
        p.check()
        doc = self._write_sku(product, sku_id, fields, combo, now)
        if live:
            doc["lastPublished"] = now
        product.doc["fieldData"]["ec-product-type"] = ADVANCED
        return doc

    def inventory_of(self, collection_id: str, sku_id: str) -> Doc:
        check_id(collection_id, "sku_collection_id")
        check_id(sku_id, "sku_id")
        if not self.settings.ecommerce_enabled:
            raise ecommerce_not_enabled()
        collection = self.collection(collection_id)
        if collection.kind != "sku" or sku_id not in self.sku_owner:
            raise not_found("The SKU cannot be found")
        return self.inventory[sku_id]

    def update_inventory(self, collection_id: str, sku_id: str, body: Doc) -> Doc:
        inventory = self.inventory_of(collection_id, sku_id)
        p = self.problems()
        kind = body.get("inventoryType")
        quantity, delta = body.get("quantity"), body.get("updateQuantity")
        if kind not in ("infinite", "finite"):
            p.add("inventoryType", "Required: 'infinite' or 'finite'")
        for name, value in (("quantity", quantity), ("updateQuantity", delta)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                p.add(name, "must be a number")
        if quantity is not None and delta is not None:
            p.add("quantity", "give either quantity or updateQuantity, not both")
        p.check()
        inventory["inventoryType"] = kind
        if quantity is not None:
            inventory["quantity"] = quantity
        elif delta is not None:
            inventory["quantity"] = inventory["quantity"] + delta
        return inventory

    # --- product helpers -----------------------------------------------------------------------------------

    def _add_sku(
        self, product: Product, sku_id: str, fd: Doc, combo: Combo, now: str, published: str | None
    ) -> Doc:
        doc: Doc = {
            "id": sku_id,
            "cmsLocaleId": self.cms_locale_id,
            "lastPublished": published,
            "lastUpdated": now,
            "createdOn": now,
            "fieldData": fd,
        }
        product.skus[sku_id] = doc
        product.combos[combo] = sku_id
        self.sku_owner[sku_id] = product
        self.sku_slugs[fd["slug"]] = sku_id
        self.inventory[sku_id] = {"id": sku_id, "quantity": 0, "inventoryType": "infinite"}
        return doc

    def _sku_update(
        self, product: Product, sku_id: str, fd_in: Doc, path: str, p: Problems
    ) -> tuple[Doc, Combo | None]:
        """Validate a partial SKU update; returns the changed fields and the new combination (if changed)."""
        fields = self.check.sku_fields(fd_in, path, p, partial=True)
        if "slug" in fields:
            self.check.slug_free(fields["slug"], self.sku_slugs, sku_id, f"{path}.slug", p)
        combo: Combo | None = None
        if fd_in.get("sku-values") is not None:  # null: unchanged (the SDK sends unset fields as null)
            props = product.properties
            combo = check_sku_values(fd_in["sku-values"], props, f"{path}.sku-values", p) if props else ()
            owner = product.combos.get(combo) if combo is not None else None
            if owner is not None and owner != sku_id:
                p.add(f"{path}.sku-values", f"SKU {owner} already has this combination")
            if combo is not None:
                fields["sku-values"] = ordered_values(combo, props)
        return fields, combo

    def _write_sku(self, product: Product, sku_id: str, fields: Doc, combo: Combo | None, now: str) -> Doc:
        doc = product.skus[sku_id]
        fd = doc["fieldData"]
        if "slug" in fields and fields["slug"] != fd["slug"]:
            del self.sku_slugs[fd["slug"]]
            self.sku_slugs[fields["slug"]] = sku_id
        if combo is not None:
            old = combo_of(fd.get("sku-values") or {})
            if product.combos.get(old) == sku_id:
                del product.combos[old]
            product.combos[combo] = sku_id
        fd.update(fields)
        doc["lastUpdated"] = now
        product.doc["lastUpdated"] = now
        return doc

    def _check_props_in_use(self, product: Product, props: list[Doc], path: str, p: Problems) -> None:
        """Replacing sku-properties must not take away a value an existing SKU uses."""
        enums = {prop["id"]: {e["id"] for e in prop["enum"]} for prop in props}
        for sku_id, sku in product.skus.items():
            for prop_id, value in (sku["fieldData"].get("sku-values") or {}).items():
                if prop_id not in enums:
                    p.add(path, f"sku-property {prop_id} is used by SKU {sku_id}")
                elif value not in enums[prop_id]:
                    p.add(path, f"enum value {value} of sku-property {prop_id} is used by SKU {sku_id}")

    def _apply_props(self, product: Product, props: list[Doc], now: str) -> None:
        fd = product.doc["fieldData"]
        old = {prop["id"] for prop in product.properties}
        fd["sku-properties"] = props
        added = [prop for prop in props if prop["id"] not in old]
        if not added:
            return
        # UNVERIFIED: a new option gives every existing SKU the option's first value (as the Designer
        # does); the combinations stay unique because all SKUs get the same value.
        product.combos.clear()
        for sku_id, sku in product.skus.items():
            values = dict(sku["fieldData"].get("sku-values") or {})
            for prop in added:
                values[prop["id"]] = prop["enum"][0]["id"]
            combo = combo_of(values)
            sku["fieldData"]["sku-values"] = ordered_values(combo, props)
            sku["lastUpdated"] = now
            product.combos[combo] = sku_id

    def _publish_product(self, product: Product, now: str) -> None:
        product.doc["lastPublished"] = now
        for sku in product.skus.values():
            sku["lastPublished"] = now
