"""The steps of the ERP files -> Shopify pipeline as plain functions; the Dagster assets call them.

A product file is always the whole catalog, so every read of it is complete: deletions are detected on every
read that reaches the end of the file. ``delta`` skips the read when the file (and the mapping) did not change
since the last successful read; ``full`` always reads; ``plan`` reads and shows what Shopify would get.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector_pipelines.catalog.hashing import content_hash
from connector_pipelines.catalog.models import Product
from connector_pipelines.clients.erp_files import FileIdentity, FileSource
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.errors import update_settings_remedy
from connector_pipelines.sources.erp_files import Record, RowError, read_records
from connector_pipelines.sources.erp_mapping.config import MappingConfig, load_mapping, mapping_path
from connector_pipelines.sources.erp_mapping.products import map_records
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.checks import SkuReconciliation
from connector_pipelines.sync.publish import (
    DEACTIVATED,
    PublishSpec,
    RecordFailure,
    WriteOutcome,
    publish,
)
from connector_pipelines.sync.runtime import CheckOutcome, Step, StepContext, StepReport, SyncMode
from connector_pipelines.sync.snapshot import snapshot_from
from connector_pipelines.targets.shopify import Adopted, ShopifyWriter
from connector_pipelines.targets.shopify_payloads import payload_skus
from connector_pipelines.tenants.connections import ERP_FILES, SHOPIFY
from connector_pipelines.tenants.registry import TenantError, TenantInfo, TenantRegistry
from connector_pipelines.tenants.systems import ErpFilesSettings, ShopifySettings

PIPELINE = "erp_files_shopify"
PRODUCTS = "product"
FILE_CURSOR = "file"
READ_STAGE = "erp_file_read"
PUBLISH_STAGE = "shopify_products"
SOURCE_SYSTEM = "erp_files"
MAX_RECORDED_ROW_ERRORS = 10_000  # a wholly broken file must not flood the error table
PREVIEW_ROWS = 20

log = logging.getLogger(__name__)


class FileFingerprint(BaseModel):
    """What a successful read is remembered by: the file's identity and the mapping it was read with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: FileIdentity
    mapping: str


# Mapping keys added later: left out of the digest while unused, so that an upgrade does not make every
# tenant's unchanged file look changed (a needless full read on the next delta).
_LATER_MAPPING_KEYS = (
    "variant_metafields",
    "images",
    "variant_image",
    "inventory_by_location",
    "inventory_location",
)


def mapping_digest(mapping: MappingConfig) -> str:
    document = mapping.model_dump(mode="json")
    for name in _LATER_MAPPING_KEYS:
        if not document.get(name):
            document.pop(name, None)
    return content_hash(document)


def identity_metadata(identity: FileIdentity) -> dict[str, Any]:
    return {
        "file": identity.path,
        "file_size": identity.size if identity.size is not None else -1,
        "file_mtime": identity.mtime.isoformat() if identity.mtime else "",
        "file_sha256": identity.sha256 or "",
    }


def row_error_key(error: RowError) -> str:
    return f"{error.file}:{error.line}" + (f" {error.column}" if error.column else "")


def _row_error_records(errors: Sequence[RowError]) -> list[tuple[str, str, Any]]:
    """(key, reason, payload) per row error; errors sharing a key are merged (one upsert per key)."""
    merged: dict[str, tuple[str, dict[str, Any]]] = {}
    for error in errors:
        record_key = row_error_key(error)
        payload = {
            "file": error.file,
            "line": error.line,
            "column": error.column,
            "reason": error.reason,
            "product": error.key,
        }
        if record_key in merged:
            reason, first = merged[record_key]
            merged[record_key] = (f"{reason}; {error.reason}", first)
        else:
            merged[record_key] = (str(error), payload)
    return [(k, reason, payload) for k, (reason, payload) in merged.items()]


REQUIRED_FIELDS = ("title", "variant.sku", "variant.price")
COVERAGE_CURSOR = "mapping_coverage"
COVERAGE_KEYS_KEPT = 50


class Coverage(BaseModel):
    """Which products of the snapshot lack a required target field (counts, and the first keys)."""

    products: int = 0
    missing: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(REQUIRED_FIELDS, 0))
    examples: dict[str, list[str]] = Field(
        default_factory=lambda: {name: list[str]() for name in REQUIRED_FIELDS}
    )

    @property
    def complete(self) -> bool:
        return not any(self.missing.values())

    def add(self, key: str, titles: Iterable[str], variants: Sequence[tuple[str, bool]]) -> None:
        """Count one product: its titles, and (SKU, has a price) per variant."""
        self.products += 1
        lacking = {
            "title": not any(t.strip() for t in titles),
            "variant.sku": any(not sku.strip() for sku, _ in variants),
            "variant.price": not variants or not all(priced for _, priced in variants),
        }
        for name, missing in lacking.items():
            if missing:
                self.missing[name] += 1
                if len(self.examples[name]) < COVERAGE_KEYS_KEPT:
                    self.examples[name].append(key)

    def add_product(self, product: Product) -> None:
        self.add(
            product.key,
            (t.name for t in product.texts.values()),
            [(v.sku, bool(v.prices)) for v in product.variants],
        )

    def add_payload(self, key: str, payload: Mapping[str, Any]) -> None:
        texts: Mapping[str, Mapping[str, Any]] = payload.get("texts") or {}
        variants: list[Mapping[str, Any]] = payload.get("variants") or []
        self.add(
            key,
            (str(t.get("name") or "") for t in texts.values()),
            [(str(v.get("sku") or ""), bool(v.get("prices"))) for v in variants],
        )


@dataclass
class _FileRead:
    """One streamed read of the file, as a :class:`SourceReader` of the mapped products (``mapped``), with its
    bookkeeping: rows, row errors, products held back."""

    previous: frozenset[str]
    mapped: Iterable[Product | RowError] = ()
    rows: int = 0
    variants: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    error_keys: set[str] = field(default_factory=set)
    keyless_errors: int = 0
    held_back: list[str] = field(default_factory=list)
    coverage: Coverage = field(default_factory=lambda: Coverage())

    def counted(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.rows += 1
            yield record

    def products(self, items: Iterable[Product | RowError]) -> Iterator[Product]:
        """The mapped products; row errors are collected. A product with a bad row keeps its last good
        version (a partial product would drop the bad row's variant from Shopify); a new one goes out with
        its good variants."""
        for item in items:
            if isinstance(item, RowError):
                self.error_count += 1
                if len(self.errors) < MAX_RECORDED_ROW_ERRORS:
                    self.errors.append(item)
                if item.key is None:
                    self.keyless_errors += 1
                else:
                    self.error_keys.add(item.key)
                continue
            if item.key in self.error_keys and item.key in self.previous:
                self.held_back.append(item.key)
                continue
            self.variants += len(item.variants)
            self.coverage.add_product(item)
            yield item

    def read(self) -> Iterator[Product]:
        return self.products(self.mapped)

    def unreadable(self) -> set[str]:
        # A row without a product key (malformed line, missing parent) may belong to any product: nothing is
        # deleted on such a read.
        return set(self.previous) if self.keyless_errors else set(self.error_keys)


def snapshot_file(
    store: TenantStore,
    source: FileSource,
    mapping: MappingConfig,
    *,
    mode: SyncMode,
    run_id: str | None,
) -> StepReport:
    """Read the tenant's file (or the newest match), streaming, into the canonical product snapshot."""
    with Step(store, mode, "erp_file", run_id) as report:
        info = source.newest()
        identity = source.identity(info)
        calls = 1 + (1 if identity.sha256 else 0)  # the listing, and a content hash where needed
        fingerprint = FileFingerprint(identity=identity, mapping=mapping_digest(mapping)).model_dump_json()
        report.extra.update(identity_metadata(identity))
        unchanged = store.get_cursor(FILE_CURSOR) == fingerprint
        report.extra["file_unchanged"] = unchanged
        if mode == SyncMode.DELTA and unchanged:
            report.counts = {"fetched": 0, "changed": 0, "unchanged": 0, "removed": 0, "failed": 0}
            report.extra["skipped"] = True
            report.calls[SOURCE_SYSTEM] = calls
            report.preview = "_the file and the mapping are unchanged since the last read: nothing read_"
            return report
        read = _FileRead(previous=frozenset(store.record_hashes(PRODUCTS)))
        read.mapped = map_records(mapping, read.counted(read_records(source, info)))
        # The stream ending without an exception means the whole file was read: deletions are safe.
        result = snapshot_from(store, PRODUCTS, read, complete=True)
        calls += 1
        # Coverage is measured on the mapped products as they stream by; held-back products keep their
        # stored version, so that version is what counts.
        for record in store.iter_records(PRODUCTS, keys=read.held_back):
            read.coverage.add_payload(record.key, record.payload)
        store.set_cursor(COVERAGE_CURSOR, read.coverage.model_dump_json())
        store.record_errors(READ_STAGE, _row_error_records(read.errors), run_id)
        reported = {row_error_key(e) for e in read.errors}
        store.resolve_errors(
            READ_STAGE, [e.record_key for e in store.open_errors(READ_STAGE) if e.record_key not in reported]
        )
        if mode != SyncMode.PLAN:
            store.set_cursor(FILE_CURSOR, fingerprint)
        if read.keyless_errors:
            log.warning(
                "%d row(s) without a product key in %s: deletions are held back until the file reads cleanly",
                read.keyless_errors,
                identity.path,
            )
        report.calls[SOURCE_SYSTEM] = calls
        report.counts = {**result.counts(), "failed": read.error_count, "held_back": len(read.held_back)}
        report.extra.update(
            skipped=False,
            rows=read.rows,
            variants=read.variants,
            deletions_held_back=bool(read.keyless_errors),
        )
        report.preview = _read_preview(result.changed, result.removed, read.errors)
    return report


def _read_preview(changed: Sequence[str], removed: Sequence[str], errors: Sequence[RowError]) -> str:
    if not (changed or removed or errors):
        return "_no product changed_"
    lines = ["| record | change |", "|---|---|"]
    lines += [f"| `{k}` | changed |" for k in changed[:15]]
    lines += [f"| `{k}` | removed |" for k in removed[:5]]
    lines += [
        f"| `{e.file}:{e.line}` | row error: {e.column or '-'}: {e.reason[:120]} |" for e in errors[:10]
    ]
    return "\n".join(lines)


# --- Shopify side -------------------------------------------------------------------------------------------


def _label(payload: Mapping[str, Any]) -> str:
    skus = payload_skus(payload)
    texts: Mapping[str, Mapping[str, Any]] = payload.get("texts") or {}
    title = next((str(t.get("name") or "") for t in texts.values()), "")
    return f"{skus[0] if skus else ''} {title}".strip()


def _apply_adopted(store: TenantStore, adopted: Iterable[Adopted], run_id: str | None) -> dict[str, int]:
    """Store what earlier runs' writes confirmed, as the publish engine would have, one operation at a time
    (the writer settles an operation once the next is asked for)."""
    counts = {"adopted": 0, "adopted_failed": 0}
    for operation in adopted:
        outcome: WriteOutcome = operation.outcome
        if operation.purpose == "upsert":
            store.put_mappings(PRODUCTS, outcome.confirmed)
            store.resolve_errors(PUBLISH_STAGE, [m.source_key for m in outcome.confirmed])
        else:
            store.delete_mappings(
                PRODUCTS, [m.source_key for m in outcome.confirmed if m.content_hash != DEACTIVATED]
            )
            store.put_mappings(PRODUCTS, [m for m in outcome.confirmed if m.content_hash == DEACTIVATED])
        failures: list[RecordFailure] = outcome.failed
        store.record_errors(PUBLISH_STAGE, ((f.key, f.reason, f.payload) for f in failures), run_id)
        counts["adopted"] += len(outcome.confirmed)
        counts["adopted_failed"] += len(failures)
    return counts


def publish_products(
    store: TenantStore,
    writer: ShopifyWriter,
    settings: ShopifySettings,
    *,
    mode: SyncMode,
    run_id: str | None,
) -> StepReport:
    """Publish the snapshot's changes to Shopify through the writer (``plan``: the diff, nothing written)."""
    with Step(store, mode, "shopify:products", run_id, writer.client) as report:
        adopted = _apply_adopted(store, writer.adopt(), run_id) if mode != SyncMode.PLAN else {}
        spec = PublishSpec(PRODUCTS, PRODUCTS, PUBLISH_STAGE, label=_label)
        result = publish(
            store,
            writer,
            spec,
            run_id=run_id,
            batch_size=settings.bulk_batch_size,
            dry_run=mode == SyncMode.PLAN,
            progress=log.info if mode == SyncMode.FULL else None,
        )
        report.add_publication(result, mode)
        report.counts.update(adopted)
        report.extra.update(writer.stats.metadata())
    return report


# --- checks -------------------------------------------------------------------------------------------------


def mapping_coverage(store: TenantStore) -> Coverage:
    """Required target fields of the snapshot's products, as measured by the last read of the file."""
    raw = store.get_cursor(COVERAGE_CURSOR)
    return Coverage.model_validate_json(raw) if raw else Coverage()


def reconcile_skus(store: TenantStore, client: ShopifyClient) -> SkuReconciliation:
    """Every SKU of the snapshot once in Shopify, and no SKU left in a product this tenant publishes that the
    file no longer has. Pages through every variant of the shop: run it off the sync path (daily)."""
    expected: set[str] = set()
    for record in store.iter_records(PRODUCTS, batch=2000):
        expected.update(payload_skus(record.payload))
    managed = {m.target_id for m in store.mappings(PRODUCTS).values() if m.content_hash != DEACTIVATED}
    seen: dict[str, int] = {}
    ours: set[str] = set()
    for variant in client.iter_variants():
        sku = variant.sku or ""
        if sku in expected:
            seen[sku] = seen.get(sku, 0) + 1
        if variant.product_id in managed:
            ours.add(sku)
    report = SkuReconciliation(expected=len(expected), in_target=sum(seen.values()))
    report.missing = sorted(expected - set(seen))
    report.unexpected = sorted(ours - expected)
    report.duplicated = sorted(sku for sku, count in seen.items() if count > 1)
    return report


# --- the steps as the pipeline spec declares them --------------------------------------------------------


def tenant_mapping(registry: TenantRegistry, tenant: str) -> MappingConfig:
    """The mapping configuration named by the tenant's erp_files settings."""
    settings = registry.settings(tenant, ERP_FILES.name, ERP_FILES.settings)
    if not settings.mapping_file:
        raise TenantError(
            "no mapping_file in the erp_files settings",
            tenant=tenant,
            system=ERP_FILES.name,
            remedy=update_settings_remedy(tenant, ERP_FILES.name, verb="add mapping_file to"),
        )
    return load_mapping(mapping_path(settings.mapping_file))


def file_step(ctx: StepContext) -> StepReport:
    mapping = tenant_mapping(ctx.registry, ctx.tenant)
    return snapshot_file(ctx.store, ctx.open(ERP_FILES), mapping, mode=ctx.mode, run_id=ctx.run_id)


def shopify_products_step(ctx: StepContext) -> StepReport:
    settings = ctx.settings(SHOPIFY)
    language = tenant_mapping(ctx.registry, ctx.tenant).language
    writer = ShopifyWriter(ctx.open(SHOPIFY), settings, ctx.store, mapping_kind=PRODUCTS, language=language)
    return publish_products(ctx.store, writer, settings, mode=ctx.mode, run_id=ctx.run_id)


SKU_RECONCILIATION = "sku_reconciliation"


def skus_step(ctx: StepContext) -> StepReport:
    """Reads the shop's SKUs and evaluates the SKU reconciliation check with them."""
    client = ctx.open(SHOPIFY)
    return reconcile_skus(ctx.store, client).step_report(SKU_RECONCILIATION, "shopify_variants", client)


def mapping_coverage_check(ctx: StepContext) -> CheckOutcome:
    coverage = mapping_coverage(ctx.store)
    preview = "\n".join(
        f"- {name}: {count} product(s), e.g. {', '.join(f'`{k}`' for k in coverage.examples[name][:10])}"
        for name, count in coverage.missing.items()
        if count
    )
    counts = {f"missing_{name.replace('.', '_')}": count for name, count in coverage.missing.items()}
    return CheckOutcome(coverage.complete, {"products": coverage.products, **counts}, preview)


def is_due(frequency_hours: int, tick: datetime) -> bool:
    """Whether an hourly tick is one of a tenant's sync times: hours since the epoch divisible by its
    frequency, so a tenant syncing every 6 hours runs at 00, 06, 12 and 18 UTC, whatever the day."""
    return int(tick.timestamp() // 3600) % frequency_hours == 0


def sync_is_due(tenant: TenantInfo, tick: datetime) -> bool:
    """Whether a tenant's sync_frequency_hours makes ``tick`` one of its sync times (ValueError: its erp_files
    settings are missing or invalid)."""
    try:
        settings = ErpFilesSettings.model_validate(tenant.settings.get(ERP_FILES.name))
    except ValidationError:
        raise ValueError("invalid erp_files settings") from None
    return is_due(settings.sync_frequency_hours, tick)


def file_fingerprint(registry: TenantRegistry, tenant: str, max_timeout_s: float) -> str:
    """The identity of the tenant's file (size and modification time, or a content hash where the server
    tells neither), as the file-change sensor compares it."""
    with registry.connect(tenant, ERP_FILES, max_timeout_s=max_timeout_s) as source:
        return source.identity().model_dump_json()
