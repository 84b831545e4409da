"""The steps of the Plentymarkets -> Shopware 6 pipeline as plain functions; the Dagster assets call them.

Each step takes the tenant's store and clients, does its work, records a sync run, and returns a
:class:`StepReport` whose counts and metadata the asset attaches to its materialization.

Products are published while Plenty is read: the products step hands each batch the snapshot writes to a
:class:`~connector_pipelines.sync.publish.StreamPublisher`, so Shopware works while Plenty's rate limit makes
the read wait. The Shopware products step then publishes whatever that left (earlier failures, records a
stopped stream did not send, plans), removes what a complete read no longer found, and reports the whole
run's publication. Images are a queue of their own (``shopware_media``), worked within a time budget.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel

from connector_pipelines.catalog.hashing import content_hash
from connector_pipelines.catalog.models import Category, Option, PriceList, Product
from connector_pipelines.clients.plentymarkets_models import InvalidRecord
from connector_pipelines.clients.shopware6 import Criteria, Shopware6Client, TotalCountMode
from connector_pipelines.errors import PermanentError
from connector_pipelines.sources.plentymarkets import (
    SYSTEM,
    PlentyReader,
    ProductContext,
    ReadErrors,
    iso_language,
    item_id_of,
    key,
)
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.streams import prefetch
from connector_pipelines.sync.publish import (
    PREVIEW_ROWS,
    Action,
    PlanEntry,
    PublishItem,
    PublishResult,
    PublishSpec,
    StreamPublisher,
    preview_markdown,
    publish,
)
from connector_pipelines.sync.runtime import (
    CheckOutcome,
    Step,
    StepContext,
    StepFunction,
    StepReport,
    SyncMode,
)
from connector_pipelines.sync.snapshot import (
    SnapshotResult,
    Written,
    read_progress,
    snapshot_from,
    update_snapshot,
)
from connector_pipelines.targets.shopware6 import (
    MediaFile,
    MediaWriter,
    ProductWriter,
    ShopwareContext,
    load_context,
)
from connector_pipelines.targets.shopware6_reference import ReferenceWriter
from connector_pipelines.tenants.connections import PLENTYMARKETS, SHOPWARE6
from connector_pipelines.tenants.systems import PlentymarketsSettings, Shopware6Settings

PIPELINE = "plenty_shopware"
PRODUCTS = "product"
CONFIG_KINDS = ("category", "option", "price_list", "manufacturer", "unit")
SNAPSHOT_BATCH = 500
# Which Plenty record each config kind caches (its records' keys name these).
CONFIG_SOURCE_KINDS = {
    "category": "category",
    "option": "attribute",
    "price_list": "sales_price",
    "manufacturer": "manufacturer",
    "unit": "unit",
}
REFERENCE_KINDS = ("category", "manufacturer", "unit", "option")
SOURCE_STAGE = "plentymarkets_read"
PRODUCTS_STAGE = "shopware_products"
MEDIA = "media"
MEDIA_STAGE = "shopware_media"
# Uploads per batch of the media queue: the budget is checked before each.
MEDIA_BATCH = 10
DELTA_OVERLAP = timedelta(minutes=5)
CURSOR_KIND = "products"
# The products step's publication, for the Shopware products step of the same run to report.
STREAMED_CURSOR = "products_published_while_reading"
# Fingerprint of the product mappings the media queue was last derived from.
MEDIA_SOURCE_CURSOR = "media_queue_source"
# The products the required-data check names, kept by every read from the records it writes, so that the
# check need not parse every stored product again (a second and more after a full read); "" while unknown.
INCOMPLETE_CURSOR = "products_missing_price_or_category"
REQUIRED_CURRENCY = "EUR"

log = logging.getLogger(__name__)


# --- Plentymarkets side ------------------------------------------------------------------------------------


def _config_records(reader: PlentyReader, kind: str) -> Iterator[BaseModel]:
    readers: dict[str, Callable[[], Iterator[Any]]] = {
        "category": reader.categories,
        "option": reader.options,
        "price_list": reader.price_lists,
        "manufacturer": reader.manufacturers,
        "unit": reader.units,
    }
    return readers[kind]()


def refresh_config(
    store: TenantStore, reader: PlentyReader, kind: str, *, mode: SyncMode, run_id: str | None
) -> StepReport:
    """Re-read one kind of reference data (small) and cache it; only changes are written.

    A record Plenty sends malformed is recorded as an error (stage ``plentymarkets_<kind>``) and keeps its
    last good version: skipped silently, it would look deleted and be deleted from the target."""
    stage = f"{SYSTEM}_{kind}"
    invalid = reader.client.invalid_records

    def malformed() -> set[str]:
        keys = {_config_key(kind, i) for i in invalid}
        # A malformed record without an id could be any of them: keep them all.
        return set(store.record_hashes(kind)) if "" in keys else keys

    with Step(store, mode, f"config:{kind}", run_id, reader.client) as report:
        result = update_snapshot(store, kind, _config_records(reader, kind), complete=True, keep=malformed)
        failing = {_config_key(kind, i) or f"{i.endpoint}#?": i.describe() for i in invalid}
        store.record_errors(stage, [(k, reason, None) for k, reason in failing.items()], run_id)
        store.resolve_errors(
            stage, [e.record_key for e in store.open_errors(stage) if e.record_key not in failing]
        )
        report.counts = {**result.counts(), "failed": len(failing)}
        report.preview = _changed_preview(result, kind)
    return report


def _config_key(kind: str, record: InvalidRecord) -> str:
    """The cache key of a malformed config record; '' when it has no usable id."""
    if record.record_id is None or not record.record_id.isdigit():
        return ""
    return key(CONFIG_SOURCE_KINDS[kind], int(record.record_id))


def _changed_preview(result: SnapshotResult, kind: str) -> str:
    if not result.changed and not result.removed:
        return f"_no {kind} changed_"
    lines = ["| record | change |", "|---|---|"]
    lines += [f"| `{k}` | changed |" for k in result.changed[:15]]
    lines += [f"| `{k}` | removed |" for k in result.removed[:5]]
    return "\n".join(lines)


def product_context(
    store: TenantStore, reader: PlentyReader, settings: PlentymarketsSettings
) -> ProductContext:
    price_lists = {
        int(k.rsplit(":", 1)[1]): PriceList.model_validate(v) for k, v in store.records("price_list").items()
    }
    warehouses = frozenset(settings.warehouse_ids) if settings.warehouse_ids else reader.sales_warehouses()
    return ProductContext(
        lang=settings.lang,
        price_lists=price_lists,
        default_sales_price_id=settings.default_sales_price_id,
        rrp_sales_price_id=settings.rrp_sales_price_id,
        vat_rates=reader.vat_rates(),
        sales_warehouses=warehouses,
        barcode_types=reader.barcode_types(),
        plenty_id=settings.plenty_id,
    )


@dataclass
class ProductRead:
    """One read of Plenty's items (all, or ``ids``) as canonical products: a :class:`SourceReader`."""

    store: TenantStore
    reader: PlentyReader
    ctx: ProductContext
    errors: ReadErrors
    ids: list[int] | None

    def read(self) -> Iterator[Product]:
        return prefetch(self.reader.products(self.ctx, self.errors, item_ids=self.ids))

    def unreadable(self) -> Collection[str]:
        # An item malformed beyond telling which one it is could be any: then nothing is removed.
        return set(self.store.record_hashes(PRODUCTS)) if self.errors.incomplete else self.errors.keys


@dataclass(frozen=True)
class ProductStream:
    """Where the products step publishes what it reads: Shopware, through the product writer."""

    client: Shopware6Client
    writer: ProductWriter
    spec: PublishSpec
    batch_size: int


def snapshot_products(
    store: TenantStore,
    reader: PlentyReader,
    settings: PlentymarketsSettings,
    *,
    mode: SyncMode,
    run_id: str | None,
    item_ids: list[int] | None = None,
    now: datetime | None = None,
    stream: ProductStream | None = None,
) -> StepReport:
    """Read products from Plenty into the canonical snapshot; with ``stream``, publish them meanwhile.

    ``full`` reads every item and removes from the snapshot what Plenty no longer has; ``delta`` (and
    ``plan``) re-read only the items changed since the cursor, with an overlap window against clock skew and
    late commits, plus the items whose last read failed. ``item_ids`` re-reads just those items.
    A failing publication never fails the read: it stops, and :func:`publish_products` sends the rest.
    """
    started_at = now or datetime.now(UTC)
    cursor = store.get_cursor(CURSOR_KIND)
    full = mode == SyncMode.FULL or (cursor is None and item_ids is None)
    clients = (reader.client,) if stream is None else (reader.client, stream.client)
    with Step(store, mode, "products", run_id, *clients) as report:
        ctx = product_context(store, reader, settings)
        errors = ReadErrors()
        ids: list[int] | None = item_ids
        if not full and ids is None:
            since = datetime.fromisoformat(cursor) - DELTA_OVERLAP if cursor else started_at
            open_keys = [e.record_key for e in store.open_errors(SOURCE_STAGE, dead=False)]
            retry = {i for i in map(item_id_of, open_keys) if i is not None}
            ids = sorted(reader.changed_item_ids(since, started_at) | retry)
            report.extra["delta_since"] = since.isoformat()
        progress = read_progress("products", log)
        read = ProductRead(store, reader, ctx, errors, ids)
        incomplete = remembered_incomplete(store)
        if incomplete is None and not store.record_hashes(PRODUCTS):
            incomplete = set()  # nothing stored yet, so nothing lacks data
        store.set_cursor(INCOMPLETE_CURSOR, "")  # unknown until this read has written all it reads
        lacking: set[str] = set()
        media = MediaQueueKeeper(store) if stream is not None else None
        publisher = (
            StreamPublisher(
                store,
                stream.writer,
                stream.spec,
                run_id=run_id,
                batch_size=stream.batch_size,
                tolerant=True,
                progress=log.info if mode == SyncMode.FULL else None,
                on_confirmed=media.confirmed if media is not None else None,
            )
            if stream is not None
            else None
        )

        def written(batch: list[Written]) -> None:
            lacking.update(k for k, _, record in batch if lacks_required_data(record, REQUIRED_CURRENCY))
            if publisher is not None:
                publisher.send(batch)

        try:
            result = snapshot_from(
                store,
                PRODUCTS,
                read,
                complete=full,
                progress=progress,
                on_written=written,
                batch=stream.batch_size if stream is not None else SNAPSHOT_BATCH,
            )
        finally:
            if publisher is not None and media is not None:
                streamed = publisher.close()
                _hand_off(store, run_id, streamed)
                media.close()
                report.extra["published_while_reading"] = streamed.created + streamed.updated
                if publisher.stopped:
                    report.extra["publishing_stopped"] = publisher.stopped
        remember_incomplete(store, incomplete, result, lacking)
        read_keys = set(result.changed) | ({key("item", i) for i in ids} if ids is not None else set())
        store.record_errors(SOURCE_STAGE, errors.items, run_id)
        if ids is None:
            store.resolve_errors(
                SOURCE_STAGE,
                [e.record_key for e in store.open_errors(SOURCE_STAGE) if e.record_key not in errors.keys],
            )
        else:
            store.resolve_errors(SOURCE_STAGE, read_keys - errors.keys)
        # Malformed records the read could not pin on an item (and those of other endpoints) by themselves.
        invalid = [i for i in reader.client.invalid_records if all(i is not e for e in errors.explained)]
        if invalid:
            store.record_errors(
                SOURCE_STAGE, [(f"{i.endpoint}#{i.record_id}", i.describe(), None) for i in invalid], run_id
            )
        if mode != SyncMode.PLAN and item_ids is None:
            store.set_cursor(CURSOR_KIND, started_at.isoformat())
        report.counts = {**result.counts(), "failed": len(errors.items) + len(invalid)}
        report.extra["full_read"] = full
        report.preview = _changed_preview(result, "product")
    return report


# --- Shopware side -----------------------------------------------------------------------------------------


def shopware_context(
    client: Shopware6Client, tenant: str, plenty: PlentymarketsSettings, settings: Shopware6Settings
) -> ShopwareContext:
    context = load_context(
        client,
        tenant=tenant,
        lang=iso_language(plenty.lang),
        sales_channel_name=settings.sales_channel_name,
        deletion=settings.deletion,
        currency_map=settings.currency_map,
        customer_group_rules=settings.customer_group_rules,
        tier_price_rule=settings.tier_price_rule,
    )
    if context.missing_rules:
        names = ", ".join(repr(n) for n in context.missing_rules)
        log.warning("Shopware has no rule named %s: the prices meant for it are not synced", names)
    return context


def product_spec(ctx: ShopwareContext) -> PublishSpec:
    return PublishSpec(
        PRODUCTS, PRODUCTS, PRODUCTS_STAGE, label=_label, target_id=ctx.id_for, version=ctx.version
    )


class _Streamed(BaseModel):
    """What the products step published while reading, handed to the Shopware products step of its run."""

    run_id: str
    counts: dict[str, int]
    preview: list[tuple[str, Action, str]]  # key, action, label


def _hand_off(store: TenantStore, run_id: str | None, result: PublishResult) -> None:
    """Add ``result`` to what this run published while reading (a retried step adds to its first try)."""
    if run_id is None:
        return  # no run to hand it to
    previous = _streamed(store, run_id)
    counts = result.counts()
    preview: list[tuple[str, Action, str]] = [(e.key, e.action, e.label) for e in result.preview]
    if previous is not None:
        counts = {k: previous.counts.get(k, 0) + v for k, v in counts.items()}
        preview = previous.preview + preview
    handed = _Streamed(run_id=run_id, counts=counts, preview=preview[:PREVIEW_ROWS])
    store.set_cursor(STREAMED_CURSOR, handed.model_dump_json())


def _streamed(store: TenantStore, run_id: str | None) -> _Streamed | None:
    raw = store.get_cursor(STREAMED_CURSOR)
    if run_id is None or raw is None:
        return None
    handed = _Streamed.model_validate_json(raw)
    return handed if handed.run_id == run_id else None


def _with_streamed(result: PublishResult, streamed: _Streamed) -> PublishResult:
    """The run's publication: what the products step streamed, then what this step sent."""
    counts = streamed.counts
    sent = counts.get("created", 0) + counts.get("updated", 0)
    return PublishResult(
        created=result.created + counts.get("created", 0),
        updated=result.updated + counts.get("updated", 0),
        # Streamed records are confirmed by now: this step counted them unchanged.
        unchanged=max(result.unchanged - sent, 0),
        deleted=result.deleted,
        failed=result.failed + counts.get("failed", 0),
        resolved_errors=result.resolved_errors + counts.get("resolved_errors", 0),
        preview=[*(PlanEntry(*entry) for entry in streamed.preview), *result.preview][:PREVIEW_ROWS],
        plan=result.plan,
        left=result.left,
    )


def _label(payload: dict[str, Any]) -> str:
    product = Product.model_validate(payload)
    sku = product.variants[0].sku if product.variants else ""
    return f"{sku} {product.name('')}".strip()


def publish_reference(
    store: TenantStore, client: Shopware6Client, ctx: ShopwareContext, *, mode: SyncMode, run_id: str | None
) -> StepReport:
    """Categories (parents first), manufacturers, units and property groups with options."""
    with Step(store, mode, "shopware:reference", run_id, client) as report:
        categories = {k: Category.model_validate(v) for k, v in store.records("category").items()}
        totals: dict[str, int] = {}
        previews = []
        for kind in REFERENCE_KINDS:
            writer = ReferenceWriter(client, ctx, kind, categories if kind == "category" else None)
            spec = PublishSpec(
                kind,
                kind,
                f"shopware_{kind}",
                label=lambda p: str(p.get("name") or p.get("key")),
                target_id=ctx.id_for,
                version=ctx.version,
            )
            # Reference data is small: one request per kind keeps a category tree in one transaction.
            result = publish(
                store, writer, spec, run_id=run_id, batch_size=5000, dry_run=mode == SyncMode.PLAN
            )
            for name, value in result.counts().items():
                totals[name] = totals.get(name, 0) + value
            previews.extend(result.plan if mode == SyncMode.PLAN else result.preview)
        report.counts = totals
        report.preview = preview_markdown(previews)
    return report


def mapped_references(store: TenantStore) -> dict[str, set[str]]:
    refs = {kind: set(store.mappings(kind)) for kind in REFERENCE_KINDS}
    option_hashes = store.mappings("option")
    values: set[str] = set()
    for record in store.iter_records("option", keys=option_hashes):
        values.update(v.key for v in Option.model_validate(record.payload).values)
    refs["option_value"] = values
    return refs


def publish_products(
    store: TenantStore,
    client: Shopware6Client,
    ctx: ShopwareContext,
    settings: Shopware6Settings,
    *,
    mode: SyncMode,
    run_id: str | None,
    item_ids: list[int] | None = None,
) -> StepReport:
    """What the products step left to publish, and deletions after a complete read; reports the run's
    whole publication (with what the products step published while reading)."""
    with Step(store, mode, "shopware:products", run_id, client) as report:
        writer = ProductWriter(client, ctx, mapped_references(store))
        keys = {key("item", i) for i in item_ids} if item_ids else None
        spec = product_spec(ctx)
        progress = log.info if mode == SyncMode.FULL else None
        streamed = _streamed(store, run_id) if mode != SyncMode.PLAN else None
        # Records refused while reading are sent again by the next run, as any refused record.
        refused = {e.record_key for e in store.open_errors(PRODUCTS_STAGE, run_id=run_id)} if streamed else ()
        result: PublishResult = publish(
            store,
            writer,
            spec,
            run_id=run_id,
            batch_size=settings.batch_size,
            keys=keys,
            dry_run=mode == SyncMode.PLAN,
            progress=progress,
            exclude=refused,
        )
        report.add_publication(result if streamed is None else _with_streamed(result, streamed), mode)
    return report


def _linked_files(store: TenantStore) -> str:
    """A fingerprint of the product mappings, which name the image files the products link."""
    return hashlib.sha256(orjson.dumps(sorted(store.mapping_hashes(PRODUCTS).items()))).hexdigest()


def media_queue(store: TenantStore) -> None:
    """The image files Shopware should hold: those the published products link (from their mappings), one
    per content. Derived again only when a product mapping changed since the last time; as a file's id is
    its content, only files new to the queue are written and those no product links any more removed."""
    fingerprint = _linked_files(store)
    if store.get_cursor(MEDIA_SOURCE_CURSOR) == fingerprint:
        return
    linked: dict[str, dict[str, Any]] = {}
    for row in store.mappings(PRODUCTS).values():
        for media_id, doc in ((row.extra or {}).get("files") or {}).items():
            linked.setdefault(media_id, doc)
    queued = store.record_hashes(MEDIA)
    _queue(store, {m: linked[m] for m in linked.keys() - queued.keys()})
    store.delete_records(MEDIA, sorted(queued.keys() - linked.keys()))
    store.set_cursor(MEDIA_SOURCE_CURSOR, fingerprint)


def _queue(store: TenantStore, files: Mapping[str, Mapping[str, Any]]) -> None:
    new = [MediaFile.model_validate({**files[m], "key": m}) for m in sorted(files)]
    store.put_records(MEDIA, [(f.key, content_hash(f), f.model_dump(mode="json")) for f in new])


class MediaQueueKeeper:
    """Queues the files of the products Shopware confirms while they are read, so that after a read (a first
    one above all) ``shopware_media`` need not derive its queue from every product again. That holds while no
    confirmed product dropped a file (which another may still link) and the queue was current to begin with;
    otherwise :func:`media_queue` derives it as ever."""

    def __init__(self, store: TenantStore) -> None:
        self.store = store
        self.queued = set(store.record_hashes(MEDIA))
        cursor = store.get_cursor(MEDIA_SOURCE_CURSOR)
        self.current = cursor == _linked_files(store) or (cursor is None and not self.queued)
        self.dropped = False

    def confirmed(self, rows: list[tuple[PublishItem, MappingRow]]) -> None:
        new: dict[str, Mapping[str, Any]] = {}
        for item, row in rows:
            files = (row.extra or {}).get("files") or {}
            before = ((item.published.extra if item.published else None) or {}).get("files") or {}
            self.dropped |= not before.keys() <= files.keys()
            for media_id, doc in files.items():
                if media_id not in self.queued:
                    new.setdefault(media_id, doc)
        if new:
            _queue(self.store, new)
            self.queued.update(new)

    def close(self) -> None:
        if self.current and not self.dropped:
            self.store.set_cursor(MEDIA_SOURCE_CURSOR, _linked_files(self.store))


def publish_media(
    store: TenantStore,
    client: Shopware6Client,
    settings: Shopware6Settings,
    *,
    mode: SyncMode,
    run_id: str | None,
    clock: Callable[[], float] = time.monotonic,
) -> StepReport:
    """Upload the image files Shopware lacks, one request each, for at most ``media_budget_s``; the rest
    stays queued (``queued``) for the next run. Files no published product links any more are deleted."""
    with Step(store, mode, "shopware:media", run_id, client) as report:
        media_queue(store)
        deadline = clock() + settings.media_budget_s
        spec = PublishSpec(MEDIA, MEDIA, MEDIA_STAGE, label=_media_label, target_id=lambda media_id: media_id)
        result = publish(
            store,
            MediaWriter(client, deadline, clock),
            spec,
            run_id=run_id,
            batch_size=MEDIA_BATCH,
            dry_run=mode == SyncMode.PLAN,
            deadline=deadline,
        )
        report.add_publication(result, mode)
        report.counts["queued"] = result.left
    return report


def _media_label(payload: dict[str, Any]) -> str:
    file = MediaFile.model_validate(payload)
    return f"{file.file_name}.{file.extension}"


# --- checks ------------------------------------------------------------------------------------------------


def expected_shopware_products(store: TenantStore) -> int:
    """Products Shopware should hold for this tenant: one per single-variant item, else parent + variants."""
    counts = store.product_counts(PRODUCTS)
    parents = counts.products - counts.single_products
    return parents + counts.variants


def shopware_product_count(client: Shopware6Client) -> int:
    return client.search("product", Criteria(limit=1, total_count_mode=TotalCountMode.EXACT)).total


def lacks_required_data(product: BaseModel, currency: str) -> bool:
    """What :meth:`TenantStore.incomplete_products` finds in the stored record: no category, or a variant
    without a price in ``currency``."""
    return isinstance(product, Product) and (
        not product.category_keys
        or any(all(p.currency != currency for p in v.prices) for v in product.variants)
    )


class _Incomplete(BaseModel):
    currency: str
    keys: list[str]


def remembered_incomplete(store: TenantStore) -> set[str] | None:
    """The product keys the last read left lacking required data; None when unknown."""
    raw = store.get_cursor(INCOMPLETE_CURSOR)
    if not raw:
        return None
    kept = _Incomplete.model_validate_json(raw)
    return set(kept.keys) if kept.currency == REQUIRED_CURRENCY else None


def remember_incomplete(
    store: TenantStore, before: set[str] | None, result: SnapshotResult, lacking: set[str]
) -> None:
    """After a read: those lacking data before that it neither rewrote nor removed, and those it wrote."""
    if before is None:
        keys = set(store.incomplete_products(PRODUCTS, REQUIRED_CURRENCY))
    else:
        keys = (before - set(result.changed) - set(result.removed)) | lacking
    kept = _Incomplete(currency=REQUIRED_CURRENCY, keys=sorted(keys))
    store.set_cursor(INCOMPLETE_CURSOR, kept.model_dump_json())


def products_missing_price_or_category(store: TenantStore, default_currency: str) -> list[str]:
    kept = remembered_incomplete(store) if default_currency == REQUIRED_CURRENCY else None
    return sorted(kept) if kept is not None else store.incomplete_products(PRODUCTS, default_currency)


# --- the steps as the pipeline spec declares them --------------------------------------------------------


def _plenty(ctx: StepContext, languages: Sequence[str] = ()) -> tuple[PlentyReader, PlentymarketsSettings]:
    settings = ctx.settings(PLENTYMARKETS)
    reader = PlentyReader(
        ctx.open(PLENTYMARKETS), lang=settings.lang, plenty_id=settings.plenty_id, languages=languages
    )
    return reader, settings


def _shopware(ctx: StepContext) -> tuple[Shopware6Client, ShopwareContext, Shopware6Settings]:
    settings = ctx.settings(SHOPWARE6)
    client = ctx.open(SHOPWARE6)
    return client, shopware_context(client, ctx.tenant, ctx.settings(PLENTYMARKETS), settings), settings


def config_step(kind: str) -> StepFunction:
    def refresh(ctx: StepContext) -> StepReport:
        reader, _ = _plenty(ctx)
        return refresh_config(ctx.store, reader, kind, mode=ctx.mode, run_id=ctx.run_id)

    return refresh


def item_ids(product_ids: Sequence[str]) -> list[int] | None:
    """The Plentymarkets item ids of a run's product ids (strings, as every pipeline's ids travel); None
    for none. An id that is not a whole number is a permanent error naming it: the CLI asks before a run
    (``sync/preflight.py``), the steps again for runs launched otherwise."""
    bad = [p for p in product_ids if not p.strip().isdigit()]
    if bad:
        raise PermanentError(
            f"product id {bad[0]!r} is not a Plentymarkets item id (a whole number)",
            system=SYSTEM,
            remedy="give the item ids Plentymarkets shows, e.g. `--product 102`",
        )
    return [int(p) for p in product_ids] or None


def products_step(ctx: StepContext) -> StepReport:
    client, shopware, shopware_settings = _shopware(ctx)
    # Texts in every language Shopware shows them in: the sales channel's and its system language.
    reader, settings = _plenty(ctx, shopware.text_languages)
    stream = None
    if ctx.mode != SyncMode.PLAN:
        writer = ProductWriter(client, shopware, mapped_references(ctx.store))
        stream = ProductStream(client, writer, product_spec(shopware), shopware_settings.batch_size)
    return snapshot_products(
        ctx.store,
        reader,
        settings,
        mode=ctx.mode,
        run_id=ctx.run_id,
        item_ids=item_ids(ctx.product_ids),
        stream=stream,
    )


def reference_step(ctx: StepContext) -> StepReport:
    client, shopware, _ = _shopware(ctx)
    return publish_reference(ctx.store, client, shopware, mode=ctx.mode, run_id=ctx.run_id)


def shopware_products_step(ctx: StepContext) -> StepReport:
    client, shopware, settings = _shopware(ctx)
    return publish_products(
        ctx.store,
        client,
        shopware,
        settings,
        mode=ctx.mode,
        run_id=ctx.run_id,
        item_ids=item_ids(ctx.product_ids),
    )


def media_step(ctx: StepContext) -> StepReport:
    return publish_media(
        ctx.store, ctx.open(SHOPWARE6), ctx.settings(SHOPWARE6), mode=ctx.mode, run_id=ctx.run_id
    )


def reconciliation_check(ctx: StepContext) -> CheckOutcome:
    expected = expected_shopware_products(ctx.store)
    actual = shopware_product_count(ctx.open(SHOPWARE6))
    return CheckOutcome(
        expected == actual,
        {"expected_products": expected, "shopware_products": actual, "difference": actual - expected},
    )


def required_data_check(ctx: StepContext) -> CheckOutcome:
    missing = products_missing_price_or_category(ctx.store, REQUIRED_CURRENCY)
    preview = "\n".join(f"- `{k}`" for k in missing[:20])
    return CheckOutcome(not missing, {"products_missing_data": len(missing)}, preview)
