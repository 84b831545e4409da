"""The steps of the Plytix PIM -> Webflow e-commerce pipeline as plain functions, called by the assets.

``config`` caches Plytix's attributes, families (with their variant-level attributes) and categories, and
publishes the categories to the site's category collection; ``delta`` reads the products Plytix changed since
the cursor (with an overlap) and publishes what changed; ``full`` reads every product and archives in Webflow
what Plytix no longer has; ``plan`` shows what Webflow would get, field by field, and writes nothing there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from connector_pipelines.clients.http import ApiClient
from connector_pipelines.clients.plytix import PlytixClient
from connector_pipelines.clients.webflow import WebflowClient
from connector_pipelines.errors import PermanentError, update_settings_remedy
from connector_pipelines.sources.plytix import (
    ATTRIBUTES,
    BASE_ATTRIBUTES,
    CATEGORIES,
    FAMILIES,
    AttributeInfo,
    FamilyInfo,
    PlytixConfig,
    PlytixRead,
    PlytixTranslator,
    id_of,
    product_key,
    read_attributes,
    read_categories,
    read_families,
)
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.checks import SkuReconciliation
from connector_pipelines.sync.publish import DEACTIVATED, PublishResult, PublishSpec, publish
from connector_pipelines.sync.runtime import CheckOutcome, Step, StepContext, StepReport, SyncMode
from connector_pipelines.sync.snapshot import SnapshotResult, read_progress, snapshot_from, update_snapshot
from connector_pipelines.targets.webflow import (
    WebflowCategoryWriter,
    WebflowContext,
    WebflowProductWriter,
)
from connector_pipelines.tenants.connections import PLYTIX, WEBFLOW
from connector_pipelines.tenants.systems import PlytixSettings, WebflowSettings

PIPELINE = "plytix_webflow"
PRODUCTS = "product"
READ_STAGE = "plytix_read"
PUBLISH_STAGE = "webflow_products"
CATEGORY_STAGE = "webflow_categories"
PRODUCTS_CURSOR = "products"
SELECTED_CURSOR = "selected_products"
SITE_CURSOR = "webflow_site"
RATE_LIMIT_HEALTH = "rate_limit_health"
SKU_RECONCILIATION = "sku_reconciliation"
EVERY_SKU_PRICED = "every_sku_priced"
PREVIEW_ROWS = 20

log = logging.getLogger(__name__)


# --- Plytix side --------------------------------------------------------------------------------------------


def refresh_config(
    store: TenantStore, client: PlytixClient, settings: PlytixSettings, *, mode: SyncMode, run_id: str | None
) -> StepReport:
    """Re-read attributes, families and categories (small) and cache them; only changes are written."""
    with Step(store, mode, "plytix:config", run_id, client) as report:
        reads: tuple[tuple[str, Iterable[BaseModel]], ...] = (
            (ATTRIBUTES, read_attributes(client)),
            (FAMILIES, read_families(client)),
            (CATEGORIES, read_categories(client, settings.language)),
        )
        counts: dict[str, int] = {"changed": 0, "removed": 0}
        changed: list[str] = []
        for kind, records in reads:
            result = update_snapshot(store, kind, records, complete=True)
            counts[kind] = result.fetched
            counts["changed"] += len(result.changed)
            counts["removed"] += len(result.removed)
            changed += result.changed + [f"{k} (removed)" for k in result.removed]
        report.counts = counts
        report.preview = "\n".join(f"- `{k}`" for k in changed[:PREVIEW_ROWS]) or "_no config changed_"
        report.checks[RATE_LIMIT_HEALTH] = rate_limit_health(client)
    return report


def cached_config(store: TenantStore) -> PlytixConfig:
    return PlytixConfig.of(
        (AttributeInfo.model_validate(v) for v in store.records(ATTRIBUTES).values()),
        (FamilyInfo.model_validate(v) for v in store.records(FAMILIES).values()),
    )


def snapshot_products(
    store: TenantStore,
    client: PlytixClient,
    settings: PlytixSettings,
    *,
    mode: SyncMode,
    run_id: str | None,
    product_ids: list[str] | None = None,
    now: datetime | None = None,
) -> StepReport:
    """Read products from Plytix into the canonical snapshot.

    ``full`` reads every product and removes from the snapshot what Plytix no longer has; ``delta`` (and
    ``plan``) read the products modified since the cursor, minus an overlap against clock skew, plus those
    whose last read failed; ``product_ids`` reads just those products."""
    started_at = now or datetime.now(UTC)
    cursor = store.get_cursor(PRODUCTS_CURSOR)
    full = mode == SyncMode.FULL or (cursor is None and product_ids is None)
    with Step(store, mode, "plytix:products", run_id, client) as report:
        translator = PlytixTranslator(
            settings.mapping, cached_config(store), currency=settings.currency, language=settings.language
        )
        read = PlytixRead(
            client,
            translator,
            attributes=list(dict.fromkeys([*BASE_ATTRIBUTES, *settings.mapping.attributes()])),
            previous=frozenset(store.record_hashes(PRODUCTS)),
            concurrency=settings.read_concurrency,
            ids=product_ids,
        )
        if not full and product_ids is None:
            assert cursor is not None
            read.since = datetime.fromisoformat(cursor) - timedelta(seconds=settings.delta_overlap_s)
            read.retry = sorted(_failed_products(store))
            report.extra["delta_since"] = read.since.isoformat()
        result = snapshot_from(store, PRODUCTS, read, complete=full, progress=read_progress("products", log))
        problems = {p.key: p for p in read.problems}
        store.record_errors(READ_STAGE, [(p.key, p.reason, p.payload()) for p in problems.values()], run_id)
        open_errors = store.open_errors(READ_STAGE)
        store.resolve_errors(
            READ_STAGE,
            [
                e.record_key
                for e in open_errors
                if e.record_key not in problems and (full or _product_of(e.payload) in read.read_keys)
            ],
        )
        if mode != SyncMode.PLAN:
            if product_ids is None:
                store.set_cursor(PRODUCTS_CURSOR, started_at.isoformat())
            else:
                store.set_cursor(SELECTED_CURSOR, ",".join(sorted(read.read_keys)))
        report.counts = {**result.counts(), "failed": len(problems), "held_back": len(read.held_back)}
        report.extra.update(
            full_read=full, products_read=read.products_read, variants_read=read.variants_read
        )
        report.preview = _read_preview(result, list(problems.values()))
        report.checks[RATE_LIMIT_HEALTH] = rate_limit_health(client)
    return report


def _product_of(payload: Any) -> str | None:
    return str(payload["product"]) if isinstance(payload, dict) and payload.get("product") else None


def _failed_products(store: TenantStore) -> set[str]:
    return {id_of(key) for e in store.open_errors(READ_STAGE, dead=False) if (key := _product_of(e.payload))}


def _read_preview(result: SnapshotResult, problems: list[Any]) -> str:
    if not (result.changed or result.removed or problems):
        return "_no product changed_"
    lines = ["| record | change |", "|---|---|"]
    lines += [f"| `{k}` | changed |" for k in result.changed[:15]]
    lines += [f"| `{k}` | removed |" for k in result.removed[:5]]
    lines += [f"| `{p.key}` | {p.reason[:160]} |" for p in problems[:10]]
    return "\n".join(lines)


def rate_limit_health(client: ApiClient) -> CheckOutcome:
    """Passes when the step's calls met no 429: its pacing kept within the API's limit."""
    answered = client.stats.by_status.get(429, 0)
    counts = {
        "too_many_requests": answered,
        "calls": client.stats.calls,
        "rate_limit_wait_s": round(client.stats.rate_limit_wait_s, 3),
    }
    preview = f"{answered} answer(s) 429 to {client.stats.calls} calls" if answered else ""
    return CheckOutcome(answered == 0, counts, preview)


# --- Webflow side -------------------------------------------------------------------------------------------


class SiteContext(BaseModel):
    """What the reference step learns of the site, for the product step (no calls of its own)."""

    currency: str
    category_collection_id: str
    sku_collection_id: str | None = None


def read_site(
    client: WebflowClient, tenant: str, settings: WebflowSettings, plytix: PlytixSettings
) -> SiteContext:
    shop = client.ecommerce_settings(settings.site_id)
    if shop.default_currency != plytix.currency:
        raise PermanentError(
            f"Plytix prices are in {plytix.currency}, the Webflow store sells in {shop.default_currency}",
            tenant=tenant,
            system=PLYTIX.name,
            remedy=update_settings_remedy(tenant, PLYTIX.name, verb="set currency in"),
        )
    collections = {c.slug: c.id for c in client.collections(settings.site_id) if c.slug}
    category = collections.get(settings.category_collection)
    if category is None:
        raise PermanentError(
            f"site {settings.site_id} has no collection {settings.category_collection!r} "
            f"(it has {', '.join(sorted(collections)) or 'none'})",
            tenant=tenant,
            system=WEBFLOW.name,
            remedy=update_settings_remedy(tenant, WEBFLOW.name, verb="set category_collection in"),
        )
    return SiteContext(
        currency=shop.default_currency,
        category_collection_id=category,
        sku_collection_id=collections.get("sku"),
    )


def publish_reference(
    store: TenantStore,
    client: WebflowClient,
    tenant: str,
    settings: WebflowSettings,
    plytix: PlytixSettings,
    *,
    mode: SyncMode,
    run_id: str | None,
) -> StepReport:
    """The site's currency and collections, and the Plytix categories as category items."""
    with Step(store, mode, "webflow:reference", run_id, client) as report:
        site = read_site(client, tenant, settings, plytix)
        store.set_cursor(SITE_CURSOR, site.model_dump_json())
        writer = WebflowCategoryWriter(
            client, site.category_collection_id, language=plytix.language, live=settings.publish == "live"
        )
        spec = PublishSpec(CATEGORIES, CATEGORIES, CATEGORY_STAGE, label=lambda p: str(p.get("key")))
        result = publish(store, writer, spec, run_id=run_id, batch_size=10_000, dry_run=mode == SyncMode.PLAN)
        report.add_publication(result, mode)
        report.extra["currency"] = site.currency
        report.checks[RATE_LIMIT_HEALTH] = rate_limit_health(client)
    return report


def webflow_context(store: TenantStore, settings: WebflowSettings, site: SiteContext) -> WebflowContext:
    categories = {k: m.target_id for k, m in store.mappings(CATEGORIES).items() if m.target_id}
    return WebflowContext(settings.site_id, site.currency, categories, site.sku_collection_id, settings)


def publish_products(
    store: TenantStore,
    client: WebflowClient,
    ctx: WebflowContext,
    *,
    language: str,
    mode: SyncMode,
    run_id: str | None,
    keys: set[str] | None = None,
) -> StepReport:
    """Publish the snapshot's changes to Webflow (``plan``: the per-record diff, nothing written); with
    ``publish: site``, one site publish after a run that changed something."""
    with Step(store, mode, "webflow:products", run_id, client) as report:
        writer = WebflowProductWriter(client, ctx, store, kind=PRODUCTS, language=language)
        spec = PublishSpec(PRODUCTS, PRODUCTS, PUBLISH_STAGE, label=_label)
        result: PublishResult = publish(
            store,
            writer,
            spec,
            run_id=run_id,
            batch_size=ctx.settings.batch_size,
            keys=keys,
            dry_run=mode == SyncMode.PLAN,
            progress=log.info if mode == SyncMode.FULL else None,
        )
        report.add_publication(result, mode)
        report.extra.update(writer.stats.metadata())
        changed = result.created + result.updated + result.deleted
        report.extra["site_published"] = False
        if ctx.settings.publish == "site" and mode != SyncMode.PLAN and changed:
            client.publish_site(
                ctx.site_id,
                custom_domains=ctx.settings.publish_custom_domains,
                webflow_subdomain=ctx.settings.publish_to_webflow_subdomain,
            )
            report.extra["site_published"] = True
        report.checks[RATE_LIMIT_HEALTH] = rate_limit_health(client)
    return report


def _label(payload: dict[str, Any]) -> str:
    variants = payload.get("variants") or []
    texts: dict[str, dict[str, Any]] = payload.get("texts") or {}
    name = next((str(t.get("name") or "") for t in texts.values()), "")
    return f"{variants[0]['sku'] if variants else ''} {name}".strip()


def reconcile_skus(store: TenantStore, client: WebflowClient, site_id: str) -> SkuReconciliation:
    """Every SKU of the snapshot once on the site, and no SKU of this tenant's live products that Plytix no
    longer has (SKUs retired out of stock and archived products do not count). Reads every product of the
    site: run it off the sync path (daily)."""
    expected: set[str] = set()
    for record in store.iter_records(PRODUCTS, batch=2000):
        expected.update(str(v["sku"]) for v in record.payload.get("variants") or ())
    mappings = store.mappings(PRODUCTS)
    managed = {m.target_id for m in mappings.values() if m.content_hash != DEACTIVATED and m.target_id}
    retired = {s for m in mappings.values() for s in (m.extra or {}).get("retired") or ()}
    seen: dict[str, int] = {}
    ours: set[str] = set()
    for held in client.list_products(site_id):
        for sku in held.skus:
            code = sku.field_data.sku or ""
            if code in expected:
                seen[code] = seen.get(code, 0) + 1
            if held.product.id in managed and not held.product.is_archived:
                ours.add(code)
    report = SkuReconciliation(expected=len(expected), in_target=sum(seen.values()))
    report.missing = sorted(expected - set(seen))
    report.unexpected = sorted(ours - expected - retired)
    report.duplicated = sorted(sku for sku, count in seen.items() if count > 1)
    return report


# --- the steps as the pipeline spec declares them -----------------------------------------------------------


def plytix_product_ids(product_ids: Sequence[str]) -> list[str]:
    """The Plytix product ids of a run (a variant's id stands for its product): 24 hex digits each."""
    bad = [p for p in product_ids if not re.fullmatch(r"[0-9a-f]{24}", p)]
    if bad:
        raise PermanentError(
            f"product id {bad[0]!r} is not a Plytix product id (24 hex digits)",
            system=PLYTIX.name,
            remedy="give the id Plytix shows in the product's URL, e.g. `--product 5c4ed8002f0985001a233274`",
        )
    return list(product_ids)


def config_step(ctx: StepContext) -> StepReport:
    return refresh_config(ctx.store, ctx.open(PLYTIX), ctx.settings(PLYTIX), mode=ctx.mode, run_id=ctx.run_id)


def products_step(ctx: StepContext) -> StepReport:
    return snapshot_products(
        ctx.store,
        ctx.open(PLYTIX),
        ctx.settings(PLYTIX),
        mode=ctx.mode,
        run_id=ctx.run_id,
        product_ids=plytix_product_ids(ctx.product_ids) or None,
    )


def reference_step(ctx: StepContext) -> StepReport:
    return publish_reference(
        ctx.store,
        ctx.open(WEBFLOW),
        ctx.tenant,
        ctx.settings(WEBFLOW),
        ctx.settings(PLYTIX),
        mode=ctx.mode,
        run_id=ctx.run_id,
    )


def _site(ctx: StepContext, client: WebflowClient) -> SiteContext:
    raw = ctx.store.get_cursor(SITE_CURSOR)
    if raw:
        return SiteContext.model_validate_json(raw)
    return read_site(client, ctx.tenant, ctx.settings(WEBFLOW), ctx.settings(PLYTIX))


def webflow_products_step(ctx: StepContext) -> StepReport:
    client = ctx.open(WEBFLOW)
    settings = ctx.settings(WEBFLOW)
    keys: set[str] | None = None
    if ctx.product_ids:
        selected = ctx.store.get_cursor(SELECTED_CURSOR) or ""
        keys = {k for k in selected.split(",") if k} | {product_key(i) for i in ctx.product_ids}
    return publish_products(
        ctx.store,
        client,
        webflow_context(ctx.store, settings, _site(ctx, client)),
        language=ctx.settings(PLYTIX).language,
        mode=ctx.mode,
        run_id=ctx.run_id,
        keys=keys,
    )


def skus_step(ctx: StepContext) -> StepReport:
    """Reads the site's products and evaluates the SKU reconciliation check with them."""
    client = ctx.open(WEBFLOW)
    reconciliation = reconcile_skus(ctx.store, client, ctx.settings(WEBFLOW).site_id)
    report = reconciliation.step_report(SKU_RECONCILIATION, "webflow_skus", client)
    report.checks[RATE_LIMIT_HEALTH] = rate_limit_health(client)
    return report


def every_sku_priced_check(ctx: StepContext) -> CheckOutcome:
    """No variant is held out of the snapshot for lacking a price. (The translator refuses an unpriced
    variant, so the snapshot never holds one: its read errors are the whole answer, without decoding it.)"""
    unpriced = [
        e.reason
        for e in ctx.store.open_errors(READ_STAGE)
        if isinstance(e.payload, dict) and e.payload.get("problem") == "price"
    ]
    preview = "\n".join(f"- {line}" for line in unpriced[:PREVIEW_ROWS])
    return CheckOutcome(not unpriced, {"unpriced_skus": len(unpriced)}, preview)
