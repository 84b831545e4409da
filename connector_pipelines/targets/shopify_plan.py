"""What a plan compares: Shopify's current products and variants, read by the queries here, in the shape
of the inputs ``targets/shopify_payloads.py`` builds, so that ``ShopifyWriter.plan`` names what differs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from connector_pipelines.clients.http import JsonValue

log = logging.getLogger(__name__)

PLAN_BATCH = 3  # products per plan query: each may cost ~270 points, the single-query limit is 1000


PLAN_PRODUCTS = """
query PlanProducts($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Product {
      id title descriptionHtml vendor productType tags status
      options { name values }
      metafields(first: 20) { nodes { namespace key value } }
      media(first: 50) { nodes { alt } }
      variants(first: 100) {
        nodes { id sku price compareAtPrice barcode selectedOptions { name value } }
      }
    }
  }
}"""
"""Shopify's current state of products, for :meth:`ShopifyWriter.plan` (validated against the schema in the
tests, like the client's own documents)."""

PLAN_VARIANTS = """
query PlanVariants($ids: [ID!]!, $metafields: Int!, $keys: [String!], $levels: Int!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id sku
      metafields(first: $metafields, keys: $keys) { nodes { namespace key value } }
      inventoryItem {
        inventoryLevels(first: $levels) {
          nodes { location { id } quantities(names: ["available"]) { quantity } }
        }
      }
    }
  }
}"""
"""Variant metafields and stock per location, asked for only where a plan compares them: per variant they
cost more than a product query can hold for 100 variants."""

PLAN_COST_BUDGET = 900  # of the single-query limit (1000), with a margin for the server's own estimate


def _decimal(value: JsonValue) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None


def _keyed_metafields(metafields: JsonValue) -> dict[str, JsonValue]:
    return {f"{m['namespace']}.{m['key']}": m["value"] for m in metafields or ()}


def comparable_input(doc: Mapping[str, JsonValue], *, media: str | None = None) -> dict[str, JsonValue]:
    """A productSet input in the shape :func:`comparable_current` gives Shopify's product: what the input
    sets, and only that (stock per location and variant metafields where it sends them; ``media``, the
    digest of its images, where it sends ``files``)."""
    variants: dict[str, JsonValue] = {}
    for v in doc["variants"]:
        entry: dict[str, JsonValue] = {
            "price": _decimal(v.get("price")),
            "compareAtPrice": _decimal(v.get("compareAtPrice")),
            "barcode": v.get("barcode") or None,
            "options": {o["optionName"]: o["name"] for o in v["optionValues"]},
        }
        if v.get("inventoryQuantities"):
            entry["inventory"] = {str(q["locationId"]): q["quantity"] for q in v["inventoryQuantities"]}
        if v.get("metafields"):
            entry["metafields"] = _keyed_metafields(v["metafields"])
        variants[str(v["sku"])] = entry
    out: dict[str, JsonValue] = {
        "title": doc["title"],
        "descriptionHtml": doc["descriptionHtml"],
        "vendor": doc["vendor"],
        "productType": doc["productType"],
        "tags": sorted(doc["tags"]),
        "status": doc["status"],
        "options": {o["name"]: [v["name"] for v in o["values"]] for o in doc["productOptions"]},
        "metafields": _keyed_metafields(doc.get("metafields")),
        "variants": variants,
    }
    if "files" in doc:
        files = doc["files"] or []
        out["media"] = {"count": len(files), "alts": [f.get("alt") or "" for f in files], "source": media}
    return out


def comparable_current(
    node: Mapping[str, JsonValue],
    ours: Mapping[str, JsonValue],
    *,
    variant_details: Mapping[str, Mapping[str, JsonValue]] | None = None,
    media: str | None = None,
) -> dict[str, JsonValue]:
    """Shopify's product (from :data:`PLAN_PRODUCTS`, its variants' metafields and stock from
    :data:`PLAN_VARIANTS` by SKU) in the shape of ``ours`` (:func:`comparable_input`): only the metafields,
    locations and media it sets are compared; ``media`` is the images' digest the mapping stored."""
    details = variant_details or {}
    metafields = _keyed_metafields(node["metafields"]["nodes"])
    our_variants: Mapping[str, JsonValue] = ours["variants"]
    variants: dict[str, JsonValue] = {}
    for v in node["variants"]["nodes"]:
        sku = str(v.get("sku") or "")
        entry: dict[str, JsonValue] = {
            "price": _decimal(v.get("price")),
            "compareAtPrice": _decimal(v.get("compareAtPrice")),
            "barcode": v.get("barcode") or None,
            "options": {o["name"]: o["value"] for o in v["selectedOptions"]},
        }
        mine = our_variants.get(sku) or {}
        detail = details.get(sku) or {}
        if "inventory" in mine:
            stocked = detail.get("inventory") or {}
            entry["inventory"] = {location: stocked.get(location) for location in mine["inventory"]}
        if "metafields" in mine:
            present = detail.get("metafields") or {}
            entry["metafields"] = {key: present.get(key) for key in mine["metafields"]}
        variants[sku] = entry
    out: dict[str, JsonValue] = {
        "title": node["title"],
        "descriptionHtml": node["descriptionHtml"],
        "vendor": node["vendor"],
        "productType": node["productType"],
        "tags": sorted(node["tags"]),
        "status": node["status"],
        "options": {o["name"]: list(o["values"]) for o in node["options"]},
        "metafields": {k: metafields.get(k) for k in ours["metafields"]},
        "variants": variants,
    }
    if "media" in ours:
        nodes = (node.get("media") or {}).get("nodes") or []
        out["media"] = {"count": len(nodes), "alts": [n.get("alt") or "" for n in nodes], "source": media}
    return out


def variant_details(node: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """A :data:`PLAN_VARIANTS` node as :func:`comparable_current` takes it: metafields by ``namespace.key``,
    available stock by location GID."""
    levels = ((node.get("inventoryItem") or {}).get("inventoryLevels") or {}).get("nodes") or []
    return {
        "metafields": _keyed_metafields((node.get("metafields") or {}).get("nodes")),
        "inventory": {
            str(level["location"]["id"]): next((q["quantity"] for q in level.get("quantities") or ()), None)
            for level in levels
        },
    }
