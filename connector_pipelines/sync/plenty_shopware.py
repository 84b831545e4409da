"""The steps of the Plentymarkets -> Shopware 6 pipeline as plain functions; the Dagster assets call them.

Each step takes the tenant's store and clients, does its work, records a sync run, and returns a
:class:`StepReport` whose counts and metadata the asset attaches to its materialization.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from connector_pipelines.catalog.models import Category, Option, PriceList, Product
from connector_pipelines.clients.http import ApiClient
from connector_pipelines.clients.plentymarkets import InvalidRecord
from connector_pipelines.clients.shopware6 import Criteria, Shopware6Client, TotalCountMode
from connector_pipelines.redaction import redact
from connector_pipelines.sources.plentymarkets import (
    SYSTEM,
    PlentyReader,
    ProductContext,
    ReadErrors,
    item_id_of,
    key,
)
from connector_pipelines.store.locks import RunLock, RunLockLostError
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.streams import prefetch
from connector_pipelines.sync.publish import PublishResult, PublishSpec, preview_markdown, publish
from connector_pipelines.sync.snapshot import SnapshotResult, update_snapshot
from connector_pipelines.targets.shopware6 import (
    ProductWriter,
    ReferenceWriter,
    ShopwareContext,
    load_context,
)
from connector_pipelines.tenants.systems import PlentymarketsSettings, Shopware6Settings

PIPELINE = "plenty_shopware"
PRODUCTS = "product"
CONFIG_KINDS = ("category", "option", "price_list", "manufacturer", "unit")
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
DELTA_OVERLAP = timedelta(minutes=5)
CURSOR_KIND = "products"

log = logging.getLogger(__name__)


@dataclass
class StepReport:
    counts: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    duration_s: float = 0.0
    preview: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = dict(self.counts)
        for system, calls in self.calls.items():
            meta[f"api_calls_{system}"] = calls
        meta["rate_limit_waits"] = self.rate_limit_waits
        meta["rate_limit_wait_s"] = round(self.rate_limit_wait_s, 3)
        meta["duration_s"] = round(self.duration_s, 3)
        meta.update(self.extra)
        return meta


class _Step:
    """Times a step, records it as a sync run, and collects client statistics.

    Each asset opens its own clients, so their totals (login and look-ups included) are the step's calls.
    The tenant's run lock is held for the step: two runs started at once take turns step by step (each step
    starts from whatever state the other left) or, after a wait, the later one is refused."""

    def __init__(
        self, store: TenantStore, mode: str, step: str, run_id: str | None, *clients: ApiClient
    ) -> None:
        self.store, self.mode, self.step, self.run_id, self.clients = store, mode, step, run_id, clients
        self.report = StepReport()
        self._lock = RunLock(store)

    def __enter__(self) -> StepReport:
        self._lock.__enter__()
        try:
            self._sync_run = self.store.start_run(self.mode, self.step, self.run_id)
        except BaseException as exc:
            self._lock.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._started = time.monotonic()
        return self.report

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        try:
            self._lock.__exit__(exc_type, exc, None)
        except RunLockLostError as lost:
            self._finish(lost)
            raise
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        report = self.report
        report.duration_s = time.monotonic() - self._started
        for client in self.clients:
            report.calls[client.system] = report.calls.get(client.system, 0) + client.stats.calls
            report.rate_limit_waits += client.stats.rate_limit_waits
            report.rate_limit_wait_s += client.stats.rate_limit_wait_s
        status = "success" if exc is None else "failed"
        error = redact(f"{type(exc).__name__}: {exc}") if exc is not None else None
        self.store.finish_run(self._sync_run, status, report.metadata(), error)


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
    store: TenantStore, reader: PlentyReader, kind: str, *, mode: str, run_id: str | None
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

    with _Step(store, mode, f"config:{kind}", run_id, reader.client) as report:
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


def snapshot_products(
    store: TenantStore,
    reader: PlentyReader,
    settings: PlentymarketsSettings,
    *,
    mode: str,
    run_id: str | None,
    item_ids: list[int] | None = None,
    now: datetime | None = None,
) -> StepReport:
    """Read products from Plenty into the canonical snapshot.

    ``full`` reads every item and removes from the snapshot what Plenty no longer has; ``delta`` (and
    ``plan``) re-read only the items changed since the cursor, with an overlap window against clock skew and
    late commits, plus the items whose last read failed. ``item_ids`` re-reads just those items.
    """
    started_at = now or datetime.now(UTC)
    cursor = store.get_cursor(CURSOR_KIND)
    full = mode == "full" or (cursor is None and item_ids is None)
    with _Step(store, mode, "products", run_id, reader.client) as report:
        ctx = product_context(store, reader, settings)
        errors = ReadErrors()
        ids: list[int] | None = item_ids
        if not full and ids is None:
            since = datetime.fromisoformat(cursor) - DELTA_OVERLAP if cursor else started_at
            open_keys = [e.record_key for e in store.open_errors(SOURCE_STAGE)]
            retry = {i for i in map(item_id_of, open_keys) if i is not None}
            ids = sorted(reader.changed_item_ids(since, started_at) | retry)
            report.extra["delta_since"] = since.isoformat()
        progress = _progress_logger("products read")
        result = update_snapshot(
            store,
            PRODUCTS,
            prefetch(reader.products(ctx, errors, item_ids=ids)),
            complete=full,
            # An item malformed beyond telling which one it is could be any: then nothing is removed.
            keep=lambda: set(store.record_hashes(PRODUCTS)) if errors.incomplete else errors.keys,
            progress=progress,
        )
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
        if mode != "plan" and item_ids is None:
            store.set_cursor(CURSOR_KIND, started_at.isoformat())
        report.counts = {**result.counts(), "failed": len(errors.items) + len(invalid)}
        report.extra["full_read"] = full
        report.preview = _changed_preview(result, "product")
    return report


def _progress_logger(what: str) -> Callable[[int], None]:
    started = time.monotonic()

    def progress(count: int) -> None:
        rate = count / max(time.monotonic() - started, 1e-6)
        log.info("%s: %d records (%.0f/s)", what, count, rate)

    return progress


# --- Shopware side -----------------------------------------------------------------------------------------


def shopware_context(
    client: Shopware6Client, tenant: str, plenty: PlentymarketsSettings, settings: Shopware6Settings
) -> ShopwareContext:
    return load_context(
        client,
        tenant=tenant,
        lang=plenty.lang,
        sales_channel_name=settings.sales_channel_name,
        deletion=settings.deletion,
        currency_map=settings.currency_map,
    )


def _label(payload: dict[str, Any]) -> str:
    product = Product.model_validate(payload)
    sku = product.variants[0].sku if product.variants else ""
    return f"{sku} {product.name('')}".strip()


def publish_reference(
    store: TenantStore, client: Shopware6Client, ctx: ShopwareContext, *, mode: str, run_id: str | None
) -> StepReport:
    """Categories (parents first), manufacturers, units and property groups with options."""
    with _Step(store, mode, "shopware:reference", run_id, client) as report:
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
            )
            # Reference data is small: one request per kind keeps a category tree in one transaction.
            result = publish(store, writer, spec, run_id=run_id, batch_size=5000, dry_run=mode == "plan")
            for name, value in result.counts().items():
                totals[name] = totals.get(name, 0) + value
            previews.extend(result.plan if mode == "plan" else result.preview)
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
    mode: str,
    run_id: str | None,
    item_ids: list[int] | None = None,
) -> StepReport:
    with _Step(store, mode, "shopware:products", run_id, client) as report:
        writer = ProductWriter(client, ctx, mapped_references(store))
        keys = {key("item", i) for i in item_ids} if item_ids else None
        spec = PublishSpec(PRODUCTS, PRODUCTS, "shopware_products", label=_label, target_id=ctx.id_for)
        progress = log.info if mode == "full" else None
        result: PublishResult = publish(
            store,
            writer,
            spec,
            run_id=run_id,
            batch_size=settings.batch_size,
            keys=keys,
            dry_run=mode == "plan",
            progress=progress,
        )
        report.counts = result.counts()
        entries = result.plan if mode == "plan" else result.preview
        report.preview = preview_markdown(entries)
        if mode == "plan":
            report.extra["plan"] = [
                {"key": e.key, "action": e.action, "label": e.label, "changed_fields": list(e.changed_fields)}
                for e in result.plan
            ]
    return report


# --- checks ------------------------------------------------------------------------------------------------


def expected_shopware_products(store: TenantStore) -> int:
    """Products Shopware should hold for this tenant: one per single-variant item, else parent + variants."""
    counts = store.product_counts(PRODUCTS)
    parents = counts.products - counts.single_products
    return parents + counts.variants


def shopware_product_count(client: Shopware6Client) -> int:
    return client.search("product", Criteria(limit=1, total_count_mode=TotalCountMode.EXACT)).total


def products_missing_price_or_category(store: TenantStore, default_currency: str) -> list[str]:
    return store.incomplete_products(PRODUCTS, default_currency)


def latest_success(store: TenantStore, step: str) -> datetime | None:
    run = store.last_run(step)
    return run.finished_at if run is not None else None
