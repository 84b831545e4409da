"""Stock and prices from the tenant's ERP into its shop, as plain steps.

ERP side (``erp_items``, ``erp_stock``, ``erp_prices``): snapshots keyed by SKU with content hashes. A poll
(delta) reads what changed since the cursor where the ERP can filter (Logo by day, Netsis prices by day, CSV
by the file's modification), a full read reads everything and drops from the snapshot what the ERP no longer
lists; a webhook run reads only the SKUs that the ERP's ``inventory.changed`` (stock) or ``product.updated``
(prices) deliveries in the inbox name, then settles them. Only records whose hash changed are written. Rows
the mapping cannot read are record errors (by SKU) and keep their last good version.

Shop side (``shop_stock``, ``shop_prices``): what differs between the snapshot and what the shop confirmed
is written, batched, through the shop's :class:`~connector_pipelines.targets.shop_stock.Shop`; a record the
shop refuses fails alone and is retried by the next run until it is a dead letter. A full run first reads the
whole shop: values the shop holds already are confirmed without a write, values that drifted there are
written again. An SKU the ERP no longer lists gets stock 0 in the shop. An SKU the shop does not sell is
skipped (``not_in_shop``), checked again by every full run and whenever its ERP values change.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from connector_pipelines.sources.erp_gateway.connector import (
    Capability,
    ErpConnector,
    ErpRowError,
    PriceEntry,
    StockLevel,
)
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.store.service import InboxRow, WebhookInboxRepository
from connector_pipelines.sync.erp_gateway import (
    PREVIEW_ROWS,
    ErpUse,
    lacking,
    report_availability,
    sku_list,
    use_erp,
    use_shop,
)
from connector_pipelines.sync.publish import (
    Action,
    FieldChange,
    PlanEntry,
    PublishItem,
    PublishResult,
    PublishSpec,
    RecordFailure,
    WriteOutcome,
    publish,
)
from connector_pipelines.sync.runtime import CheckOutcome, Step, StepContext, StepReport, SyncMode
from connector_pipelines.sync.snapshot import SnapshotResult, read_progress, update_snapshot
from connector_pipelines.targets.shop_stock import (
    UNKNOWN_SKU,
    PriceUpdate,
    Shop,
    ShopListing,
    StockUpdate,
    WriteReport,
    price_differs,
)
from connector_pipelines.tenants.systems import ErpGatewaySettings

ITEMS, STOCK, PRICES = "item", "stock", "price"
ERP_SOURCE = "erp"  # the inbox's source of signed ERP webhooks
STOCK_TOPIC, PRODUCT_TOPIC = "inventory.changed", "product.updated"
ITEMS_READ_CURSOR = "items_read_at"
ITEMS_MAX_AGE = timedelta(hours=24)  # a delta reads the items again when its cache is older
OVERLAP = timedelta(minutes=10)  # a delta reads back this far before its cursor (clock skew, late commits)
DRIFTED = "drifted"  # published hash of a value the shop no longer holds: written again
BATCH = 500
# Records a write gets, by shop: Shopify writes the prices of a batch as one bulk mutation, whose staging,
# start and polling take seconds whatever its size, so it gets few large batches.
SHOP_BATCH = {"shopify": 10_000}
INBOX_PAGE = 1000
VAT_PAGE = 2000  # prices whose items' VAT rates are looked up together
PARITY_SAMPLE = 20
STOCK_PARITY = "stock_parity"

log = logging.getLogger(__name__)


# --- records ------------------------------------------------------------------------------------------------


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StockRecord(_Record):
    """What the shop may sell of a SKU: the ERP's available quantity, whole units, never below zero."""

    sku: str
    available: int

    @classmethod
    def of(cls, level: StockLevel) -> StockRecord:
        return cls(sku=level.sku, available=max(0, math.floor(level.available)))


class PriceRecord(_Record):
    """The shop price of a SKU as the ERP states it, with the item's VAT rate for a conversion."""

    sku: str
    price: Decimal
    currency: str
    includes_vat: bool
    vat_rate: Decimal | None = None

    def update(self) -> PriceUpdate:
        return PriceUpdate(
            sku=self.sku,
            price=self.price,
            currency=self.currency,
            includes_vat=self.includes_vat,
            vat_rate=self.vat_rate,
        )


@dataclass(frozen=True)
class ErpSide:
    """One snapshot of the ERP side: its kind, step, record errors, cursor and webhook topic."""

    kind: str
    step: str
    stage: str
    cursor: str
    topic: str
    capability: Capability


STOCK_SIDE = ErpSide(STOCK, "erp:stock", "erp_stock", "stock", STOCK_TOPIC, Capability.STOCK)
PRICE_SIDE = ErpSide(PRICES, "erp:prices", "erp_prices", "prices", PRODUCT_TOPIC, Capability.PRICES)


def _split(found: Iterable[BaseModel | ErpRowError], problems: list[ErpRowError]) -> Iterator[BaseModel]:
    for record in found:
        if isinstance(record, ErpRowError):
            problems.append(record)
        else:
            yield record


def item_vats(store: TenantStore, skus: Iterable[str]) -> dict[str, Decimal]:
    """SKU -> VAT rate from the item cache, for these SKUs."""
    found: dict[str, Decimal] = {}
    for record in store.iter_records(ITEMS, keys=skus, batch=VAT_PAGE):
        rate = record.payload.get("vat_rate")
        if rate is not None:
            found[record.key] = Decimal(str(rate))
    return found


def _reader(
    side: ErpSide, connector: ErpConnector, settings: ErpGatewaySettings, store: TenantStore
) -> Callable[[datetime | None], Iterator[BaseModel | ErpRowError]]:
    """The ERP read of one side, ``since`` a moment or whole, as snapshot records."""
    if side.kind == STOCK:

        def stock(since: datetime | None) -> Iterator[BaseModel | ErpRowError]:
            for found in connector.stock(settings.warehouse_code, since):
                yield found if isinstance(found, ErpRowError) else StockRecord.of(found)

        return stock

    def prices(since: datetime | None) -> Iterator[BaseModel | ErpRowError]:
        # The VAT rates of a page of prices at a time: a delta reads few of the cached items.
        page: list[PriceEntry | ErpRowError] = []
        for found in connector.prices(settings.price_list_code, since):
            page.append(found)
            if len(page) >= VAT_PAGE:
                yield from _priced(store, page)
                page = []
        yield from _priced(store, page)

    return prices


def _priced(store: TenantStore, page: list[PriceEntry | ErpRowError]) -> Iterator[BaseModel | ErpRowError]:
    vats = item_vats(store, [f.sku for f in page if not isinstance(f, ErpRowError)])
    for found in page:
        yield found if isinstance(found, ErpRowError) else _price_record(found, vats)


def _price_record(entry: PriceEntry, vats: dict[str, Decimal]) -> PriceRecord:
    return PriceRecord(
        sku=entry.sku,
        price=entry.price,
        currency=entry.currency,
        includes_vat=entry.includes_vat,
        vat_rate=vats.get(entry.sku),
    )


# --- ERP side -----------------------------------------------------------------------------------------------


def items_step(ctx: StepContext) -> StepReport:
    """The item cache (names, VAT rates, the SKUs the ERP knows): read whole in full and config runs, and by
    any run when it is older than a day."""
    erp = use_erp(ctx)
    store = ctx.store
    with Step(store, ctx.mode, "erp:items", ctx.run_id, *erp.clients) as report:
        if not report_availability(report, erp):
            return report
        reason = erp.connector.lacks(Capability.ITEMS)
        if reason is not None:
            return lacking(report, reason)
        started = datetime.now(UTC)
        read_at = store.get_cursor(ITEMS_READ_CURSOR)
        age = started - datetime.fromisoformat(read_at) if read_at else None
        if ctx.mode not in (SyncMode.FULL, SyncMode.CONFIG) and age is not None and age < ITEMS_MAX_AGE:
            report.counts = {"fetched": 0}
            report.extra["cache_age_h"] = round(age.total_seconds() / 3600, 2)
            report.preview = "_the item cache is fresh: not read_"
            return report
        problems: list[ErpRowError] = []
        with erp.breaker.watch():
            result = update_snapshot(
                store,
                ITEMS,
                _split(erp.connector.items(), problems),
                key=_sku,
                complete=True,
                keep=lambda: {p.sku for p in problems if p.sku},
                progress=read_progress("items", log),
            )
        _record_problems(store, "erp_items", problems, ctx.run_id, resolve_all=True, read=None)
        store.set_cursor(ITEMS_READ_CURSOR, started.isoformat())
        report.counts = {**result.counts(), "failed": len(problems)}
        report.preview = _read_preview(result, problems)
    return report


def stock_step(ctx: StepContext) -> StepReport:
    return _erp_step(ctx, STOCK_SIDE)


def prices_step(ctx: StepContext) -> StepReport:
    return _erp_step(ctx, PRICE_SIDE)


def _erp_step(ctx: StepContext, side: ErpSide) -> StepReport:
    erp = use_erp(ctx)
    with Step(ctx.store, ctx.mode, side.step, ctx.run_id, *erp.clients) as report:
        if not report_availability(report, erp):
            return report
        reason = erp.connector.lacks(side.capability)
        if reason is not None:
            return lacking(report, reason)
        with erp.breaker.watch():
            if ctx.mode == SyncMode.WEBHOOK:
                _webhook_read(ctx, erp, side, report)
            else:
                _poll_read(ctx, erp, side, report)
    return report


def _poll_read(ctx: StepContext, erp: ErpUse, side: ErpSide, report: StepReport) -> None:
    """Everything (full, or the first read) or what changed since the cursor (delta, plan)."""
    store = ctx.store
    started = datetime.now(UTC)
    cursor = store.get_cursor(side.cursor)
    full = ctx.mode == SyncMode.FULL or cursor is None
    since = None if full or cursor is None else datetime.fromisoformat(cursor) - OVERLAP
    read = _reader(side, erp.connector, erp.settings, store)
    problems: list[ErpRowError] = []
    seen: set[str] = set()

    def records() -> Iterator[BaseModel]:
        for record in _split(read(since), problems):
            seen.add(_sku(record))
            yield record

    result = update_snapshot(
        store,
        side.kind,
        records(),
        key=_sku,
        complete=full,
        keep=lambda: {p.sku for p in problems if p.sku},
        progress=read_progress(side.kind, log),
    )
    _record_problems(store, side.stage, problems, ctx.run_id, resolve_all=full, read=seen)
    if ctx.mode != SyncMode.PLAN:
        store.set_cursor(side.cursor, started.isoformat())
    report.counts = {**result.counts(), "failed": len(problems)}
    report.extra["full_read"] = full
    if since is not None:
        report.extra["delta_since"] = since.isoformat()
    report.preview = _read_preview(result, problems)


class ErpEvent(BaseModel):
    """The part of an ERP webhook the gateway reads: the SKUs it names (``sku`` or ``skus``)."""

    model_config = ConfigDict(extra="allow")

    event: str
    sku: str | None = None
    skus: list[str] = []

    def named(self) -> list[str]:
        return [s.strip() for s in [*([self.sku] if self.sku else []), *self.skus] if s.strip()]


def _webhook_read(ctx: StepContext, erp: ErpUse, side: ErpSide, report: StepReport) -> None:
    """The SKUs the waiting deliveries of the side's topic name, read from the ERP (what changed since the
    first delivery arrived, else everything) into the snapshot; then the deliveries are settled. A delivery
    that names no SKU asks for a delta read."""
    store, inbox = ctx.store, WebhookInboxRepository(ctx.store.db)
    deliveries: list[InboxRow] = []
    while page := inbox.take(
        ctx.tenant,
        ERP_SOURCE,
        (side.topic,),
        after_id=deliveries[-1].id if deliveries else 0,
        limit=INBOX_PAGE,
    ):
        deliveries.extend(page)
    report.extra["deliveries"] = len(deliveries)
    if not deliveries:
        report.counts = {"fetched": 0, "changed": 0}
        report.preview = "_no webhook waiting_"
        return
    wanted: set[str] = set()
    whole = False
    for delivery in deliveries:
        try:
            named = ErpEvent.model_validate(delivery.payload).named()
        except ValidationError:
            named = []
        wanted.update(named)
        whole = whole or not named
    if whole:
        _poll_read(ctx, erp, side, report)
    else:
        read = _reader(side, erp.connector, erp.settings, store)
        since = min(d.received_at for d in deliveries) - OVERLAP
        problems: list[ErpRowError] = []
        found = {_sku(r): r for r in _split(read(since), problems) if _sku(r) in wanted}
        if wanted - set(found):  # the ERP's change filter missed some (a day boundary): read them whole
            found.update({_sku(r): r for r in _split(read(None), problems) if _sku(r) in wanted - set(found)})
        problems = [p for p in problems if p.sku in wanted]
        result = update_snapshot(store, side.kind, found.values(), key=_sku, complete=False)
        _record_problems(store, side.stage, problems, ctx.run_id, resolve_all=False, read=set(found))
        unknown = sorted(wanted - set(found) - {p.sku for p in problems})
        report.counts = {**result.counts(), "failed": len(problems), "unknown_skus": len(unknown)}
        report.preview = _read_preview(result, problems)
        if unknown:
            report.preview += f"\n\nnot in the ERP: {sku_list(unknown)}"
    report.extra["webhook_skus"] = len(wanted)
    inbox.settle([d.id for d in deliveries])


def _sku(record: Any) -> str:
    return str(record.sku)


def _record_problems(
    store: TenantStore,
    stage: str,
    problems: Sequence[ErpRowError],
    run_id: str | None,
    *,
    resolve_all: bool,
    read: set[str] | None,
) -> None:
    """Row errors become record errors; the errors of records read fine now are closed (every other one
    after a complete read)."""
    store.record_errors(stage, [(p.key, str(p), p.payload) for p in problems], run_id)
    failing = {p.key for p in problems}
    open_keys = [e.record_key for e in store.open_errors(stage) if e.record_key not in failing]
    if resolve_all:
        store.resolve_errors(stage, open_keys)
    elif read:
        store.resolve_errors(stage, [k for k in open_keys if k.partition(":")[2] in read])


def _read_preview(result: SnapshotResult, problems: Sequence[ErpRowError]) -> str:
    if not (result.changed or result.removed or problems):
        return "_nothing changed in the ERP_"
    lines = ["| SKU | change |", "|---|---|"]
    lines += [f"| `{k}` | changed |" for k in result.changed[:15]]
    lines += [f"| `{k}` | gone from the ERP |" for k in result.removed[:5]]
    lines += [f"| `{p.sku or p.row}` | {str(p)[:160]} |" for p in problems[:10]]
    return "\n".join(lines)


# --- shop side ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopSide:
    """How one kind of record goes to the shop: its kind, step and record errors, how it is written and
    compared with what the shop holds, and what the shop gets for an SKU the ERP no longer lists."""

    kind: str
    step: str
    stage: str
    field: str
    write: Callable[[Shop, list[dict[str, Any]]], WriteReport]
    holds: Callable[[dict[str, Any], ShopListing], bool]
    shown: Callable[[ShopListing | None], object]
    label: Callable[[Any], str]
    # The records of SKUs gone from the ERP (stock 0); None: nothing is written for them.
    retire: Callable[[list[str]], list[dict[str, Any]]] | None

    @property
    def spec(self) -> PublishSpec:
        return PublishSpec(self.kind, self.kind, self.stage, label=self.label)


def _write_stock(shop: Shop, payloads: list[dict[str, Any]]) -> WriteReport:
    return shop.write_stock(StockUpdate(sku=p["sku"], available=int(p["available"])) for p in payloads)


def _write_prices(shop: Shop, payloads: list[dict[str, Any]]) -> WriteReport:
    return shop.write_prices(PriceRecord.model_validate(p).update() for p in payloads)


def _holds_stock(payload: dict[str, Any], listing: ShopListing) -> bool:
    return listing.available is not None and listing.available == int(payload["available"])


def _holds_price(payload: dict[str, Any], listing: ShopListing) -> bool:
    return not price_differs(listing, PriceRecord.model_validate(payload).update())


def _shown_price(listing: ShopListing | None) -> object:
    price = listing.price if listing is not None else None
    if price is None:
        return None
    return f"{price.gross if price.gross is not None else price.net} {price.currency}"


STOCK_TARGET = ShopSide(
    STOCK,
    "shop:stock",
    "shop_stock",
    "available",
    _write_stock,
    _holds_stock,
    lambda listing: listing.available if listing is not None else None,
    lambda payload: f"{payload.get('available')} available" if isinstance(payload, dict) else "",
    lambda skus: [{"sku": sku, "available": 0} for sku in skus],
)
PRICE_TARGET = ShopSide(
    PRICES,
    "shop:prices",
    "shop_prices",
    "price",
    _write_prices,
    _holds_price,
    _shown_price,
    lambda payload: f"{payload.get('price')} {payload.get('currency')}" if isinstance(payload, dict) else "",
    None,
)


def _absent(row: MappingRow | None) -> bool:
    return row is not None and bool((row.extra or {}).get("absent"))


class ShopWriter:
    """Writes one side's records to the shop for the publish engine (two batches may be in flight)."""

    def __init__(self, shop: Shop, side: ShopSide, held: dict[str, ShopListing] | None) -> None:
        self.shop, self.side = shop, side
        self.held = held  # the whole shop, read by a full run: SKUs it lacks are known without a write
        self.absent: dict[str, Action] = {}
        self.written = 0
        self.requests = 0
        self._lock = threading.Lock()

    def upsert(self, items: Sequence[PublishItem]) -> WriteOutcome:
        outcome = WriteOutcome()
        missing = [i for i in items if self.held is not None and i.key not in self.held]
        sent = [i for i in items if self.held is None or i.key in self.held]
        answered = self._write([i.payload for i in sent])
        for item in sent:
            result = answered.get(item.key)
            if result is not None and not result.ok and result.code == UNKNOWN_SKU:
                missing.append(item)
            elif result is not None and result.ok:
                outcome.confirmed.append(MappingRow(item.key, item.key, item.content_hash))
            else:
                reason = f"{result.code}: {result.error}" if result is not None else "the shop did not answer"
                outcome.failed.append(RecordFailure(item.key, reason, item.payload))
        with self._lock:
            for item in missing:
                self.absent[item.key] = item.action
        outcome.confirmed += [MappingRow(i.key, "", i.content_hash, {"absent": True}) for i in missing]
        return outcome

    def remove(self, mappings: Sequence[MappingRow]) -> WriteOutcome:
        """SKUs gone from the ERP: stock 0 in the shop (prices stay as they are)."""
        outcome = WriteOutcome()
        listed = [m for m in mappings if not _absent(m)]
        outcome.confirmed += [m for m in mappings if _absent(m)]
        if self.side.retire is None:
            outcome.confirmed += listed
            return outcome
        answered = self._write(self.side.retire([m.source_key for m in listed]))
        for row in listed:
            result = answered.get(row.source_key)
            if result is not None and (result.ok or result.code == UNKNOWN_SKU):
                outcome.confirmed.append(row)
            else:
                reason = f"{result.code}: {result.error}" if result is not None else "the shop did not answer"
                outcome.failed.append(RecordFailure(row.source_key, reason))
        return outcome

    def plan(self, items: Sequence[PublishItem], removals: Sequence[MappingRow]) -> list[PlanEntry]:
        skus = [i.key for i in items] + [m.source_key for m in removals]
        held = self.shop.current_stock_and_prices(skus) if skus else {}
        side = self.side
        entries = [
            PlanEntry(
                i.key,
                i.action,
                side.label(i.payload),
                (FieldChange.of(side.field, side.shown(held.get(i.key)), i.payload.get(side.field)),),
            )
            for i in items
        ]
        for row in removals:
            retired = side.retire([row.source_key])[0] if side.retire is not None else None
            change = FieldChange.of(
                side.field, side.shown(held.get(row.source_key)), (retired or {}).get(side.field)
            )
            entries.append(PlanEntry(row.source_key, "delete", "gone from the ERP", (change,)))
        return entries

    def _write(self, payloads: list[dict[str, Any]]) -> dict[str, Any]:
        if not payloads:
            return {}
        report = self.side.write(self.shop, payloads)
        with self._lock:
            self.written += len(report.written)
            self.requests += report.requests
        return {r.sku: r for r in report.results}


def reconcile(store: TenantStore, side: ShopSide, held: dict[str, ShopListing]) -> dict[str, int]:
    """Before a full publication: what the shop holds already is confirmed without a write; a value that
    drifted in the shop (or an SKU the shop did not have and has now) is marked to be written again."""
    published = store.mappings(side.kind)
    changed: list[MappingRow] = []
    counts = {"already_in_shop": 0, "drifted": 0, "not_in_shop": 0}
    for record in store.iter_records(side.kind, batch=5000):
        row = published.get(record.key)
        listing = held.get(record.key)
        if listing is None:
            counts["not_in_shop"] += 1
            if row is not None and not _absent(row):
                changed.append(MappingRow(record.key, "", DRIFTED, {"absent": True}))
            continue
        if side.holds(record.payload, listing):
            if row is None or row.content_hash != record.content_hash or _absent(row):
                changed.append(MappingRow(record.key, record.key, record.content_hash))
                counts["already_in_shop"] += 1
        elif row is not None and row.content_hash != DRIFTED:
            changed.append(replace(row, content_hash=DRIFTED, extra=None))
            counts["drifted"] += 1
    store.put_mappings(side.kind, changed)
    return counts


def stock_target_step(ctx: StepContext) -> StepReport:
    return _shop_step(ctx, STOCK_TARGET)


def prices_target_step(ctx: StepContext) -> StepReport:
    return _shop_step(ctx, PRICE_TARGET)


def _shop_step(ctx: StepContext, side: ShopSide) -> StepReport:
    shop = use_shop(ctx)
    store = ctx.store
    with Step(store, ctx.mode, side.step, ctx.run_id, shop.client) as report:
        if not report_availability(report, shop):
            return report
        plan = ctx.mode == SyncMode.PLAN
        held: dict[str, ShopListing] | None = None
        reconciled: dict[str, int] = {}
        with shop.breaker.watch():
            if ctx.mode == SyncMode.FULL:
                held = shop.shop.current_stock_and_prices(None)
                reconciled = reconcile(store, side, held)
            writer = ShopWriter(shop.shop, side, held)
            dead = store.dead_letter_keys(side.stage)
            result = publish(
                store,
                writer,
                side.spec,
                run_id=ctx.run_id,
                batch_size=SHOP_BATCH.get(shop.shop.system, BATCH),
                dry_run=plan,
                exclude=dead,
                progress=log.info if ctx.mode == SyncMode.FULL else None,
            )
        _not_counted(result, writer.absent)
        report.add_publication(result, ctx.mode)
        report.counts["not_in_shop"] = len(writer.absent)
        report.extra.update(reconciled)
        report.extra.update(written=writer.written, shop_requests=writer.requests, dead_letters=len(dead))
    return report


def _not_counted(result: PublishResult, absent: dict[str, Action]) -> None:
    """SKUs the shop does not sell were confirmed (so that only a change sends them again), but nothing was
    written: they are no creates or updates."""
    for action in absent.values():
        if action == "create":
            result.created -= 1
        else:
            result.updated -= 1


# --- stock parity -------------------------------------------------------------------------------------------


def parity_check(ctx: StepContext) -> CheckOutcome:
    """A random sample of the SKUs the shop confirmed, read back from the shop: stock and price equal the
    ERP's (its last read)."""
    shop = use_shop(ctx)
    if shop.skipped is not None:
        return CheckOutcome(False, {"sampled": 0, "skipped": 1}, shop.skipped)
    store = ctx.store
    sample = _confirmed_sample(store, PARITY_SAMPLE)
    if not sample:
        return CheckOutcome(True, {"sampled": 0}, "_no SKU confirmed by the shop yet_")
    with shop.breaker.watch():
        held = shop.shop.current_stock_and_prices(sample)
    price_rows = store.mappings_for(PRICES, sample)
    differ: list[str] = []
    for target, kind in ((STOCK_TARGET, STOCK), (PRICE_TARGET, PRICES)):
        for record in store.iter_records(kind, keys=sample):
            if kind == PRICES:
                row = price_rows.get(record.key)
                if row is None or _absent(row) or record.content_hash != row.content_hash:
                    continue  # not confirmed yet: the next run writes it
            listing = held.get(record.key)
            if listing is None or not target.holds(record.payload, listing):
                differ.append(
                    f"{record.key} ({target.field}: shop {target.shown(listing)}, ERP "
                    f"{record.payload.get(target.field)})"
                )
    preview = "\n".join(f"- {d}" for d in differ[:PREVIEW_ROWS])
    return CheckOutcome(not differ, {"sampled": len(sample), "differ": len(differ)}, preview)


def _confirmed_sample(store: TenantStore, size: int) -> list[str]:
    """Up to ``size`` random SKUs whose current stock the shop confirmed (not absent there). Candidates come
    from the published hashes alone, their records and rows are read for a few at a time: a check after a
    run that changed nothing reads no snapshot whole."""
    published = list(store.mapping_hashes(STOCK).items())
    random.shuffle(published)
    confirmed: list[str] = []
    start, chunk = 0, 2 * size
    while len(confirmed) < size and start < len(published):
        candidates = dict(published[start : start + chunk])
        start, chunk = start + chunk, 2 * chunk  # mostly absent SKUs: fewer, larger reads
        rows = store.mappings_for(STOCK, list(candidates))
        confirmed += [
            record.key
            for record in store.iter_records(STOCK, keys=list(candidates))
            if record.content_hash == candidates[record.key] and not _absent(rows.get(record.key))
        ]
    return sorted(random.sample(confirmed, min(size, len(confirmed))))
