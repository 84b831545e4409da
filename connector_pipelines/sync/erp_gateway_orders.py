"""Orders from the shop into the ERP, exactly once, and shipments from the ERP back to the shop, as plain
steps.

``orders_to_erp``: the shop's paid orders changed since the cursor (the first run looks back a day), each
once: an order the ERP confirmed is on record (its shop number -> the ERP document), so later runs skip it
without asking the ERP; an order not on record goes through the connector's exactly-once flow (customer found
or created by a stable code; the ERP document looked up by the shop's order number before any create), so a
run killed after the ERP accepted an order finds it instead of creating it twice. Lines name their SKU, which
must be an item of the ERP's item cache; prices and VAT go on the shop's basis, which the ERP document states.
An order that cannot go (an unknown item, a refusal) is a record error carrying the order: the next runs send
it again from there, until it is a dead letter after five attempts.

``shipments_back``: orders the ERP shipped (its dispatch notes, since a day before the last run) become
fulfilments with their tracking numbers in the shop, each shipment once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice

from pydantic import ValidationError

from connector_pipelines.sources.erp_gateway.connector import (
    Capability,
    ErpConnector,
    ErpOrderRef,
    ErpOrderRejectedError,
    ErpOrders,
    Shipment,
)
from connector_pipelines.sources.shop_orders import (
    ShopOrder,
    ShopOrderError,
    UntranslatableOrderError,
    customer_input,
    order_input,
)
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.erp_gateway import (
    PREVIEW_ROWS,
    ErpUse,
    ShopUse,
    erp_connector,
    lacking,
    report_availability,
    use_erp,
    use_shop,
)
from connector_pipelines.sync.erp_gateway_stock import ITEMS
from connector_pipelines.sync.publish import PlanEntry, preview_markdown
from connector_pipelines.sync.runtime import CheckOutcome, Step, StepContext, StepReport, SyncMode

ORDERS_CURSOR, SHIPMENTS_CURSOR = "orders", "shipments"
ORDER_KIND, SHIPMENT_KIND = "order", "shipment"
ORDER_STAGE, SHOP_ORDER_STAGE, SHIPMENT_STAGE = "erp_orders", "shop_orders", "shop_shipments"
IN_ERP = "in_erp"  # the published hash of an order the ERP confirmed (orders are sent once, never updated)
SHIPPED = "shipped"
FIRST_LOOKBACK = timedelta(days=1)  # how far back the first run of a tenant reads paid orders and shipments
ORDER_OVERLAP = timedelta(minutes=10)
DISPATCH_OVERLAP = timedelta(days=1)  # dispatch notes are dated by the day
BACKLOG_MAX_AGE = timedelta(hours=1)
BATCH = 100


def _order_key(number: str) -> str:
    return f"order:{number}"


def _shipment_key(shipment: Shipment) -> str:
    return f"{shipment.shop_order_number}/{shipment.dispatch_number}"


def _no_orders(connector: ErpConnector, capability: Capability) -> str | None:
    return connector.lacks(capability) or (
        None if connector.orders is not None else f"{connector.system} takes no orders"
    )


# --- orders into the ERP ------------------------------------------------------------------------------------


class _OrderRun:
    """One run of the order flow: what it sent, found, failed and planned."""

    def __init__(self, ctx: StepContext, erp: ErpUse, desk: ErpOrders) -> None:
        self.ctx, self.erp, self.desk = ctx, erp, desk
        self.store: TenantStore = ctx.store
        self.plan = ctx.mode == SyncMode.PLAN
        self.items = frozenset(self.store.record_hashes(ITEMS))  # empty: no item cache, lines unchecked
        self.dead = self.store.dead_letter_keys(ORDER_STAGE)
        self.tally: Counter[str] = Counter()
        self.entries: list[PlanEntry] = []
        self.failures: list[tuple[str, str]] = []

    def send(self, orders: Sequence[ShopOrder]) -> None:
        """The orders not on record yet, each through the exactly-once flow; what the ERP confirmed is put on
        record as it goes (a batch at a time, and whatever happens)."""
        store = self.store
        known = store.mappings_for(ORDER_KIND, [o.number for o in orders])
        todo = [o for o in orders if o.number not in known]
        self.tally["already_in_erp"] += len(orders) - len(todo)
        confirmed: list[MappingRow] = []
        failed: list[tuple[str, str, object]] = []
        try:
            for order in todo:
                if self.plan:
                    self._planned(order)
                    continue
                try:
                    ref = self._send(order)
                except (ErpOrderRejectedError, UntranslatableOrderError, ValidationError) as exc:
                    reason = str(exc) if not isinstance(exc, ValidationError) else _invalid(order, exc)
                    failed.append((_order_key(order.number), reason, order.model_dump(mode="json")))
                    self.failures.append((order.number, reason))
                    continue
                extra = {"document": ref.document_number, "created_at": order.created_at.isoformat()}
                confirmed.append(MappingRow(order.number, ref.erp_id, IN_ERP, extra))
                self.tally["created" if ref.created else "found_in_erp"] += 1
                if len(self.entries) < PREVIEW_ROWS:
                    label = f"ERP {ref.document_number}" + ("" if ref.created else " (found there)")
                    self.entries.append(PlanEntry(order.number, "create", label))
        finally:
            store.put_mappings(ORDER_KIND, confirmed)
            store.resolve_errors(ORDER_STAGE, [_order_key(m.source_key) for m in confirmed])
            store.record_errors(ORDER_STAGE, failed, self.ctx.run_id)
            self.tally["failed"] += len(failed)

    def _send(self, order: ShopOrder) -> ErpOrderRef:
        unknown = sorted({line.sku for line in order.lines if line.sku and line.sku not in self.items})
        if self.items and unknown:
            raise UntranslatableOrderError(order.number, f"no ERP item for SKU {', '.join(unknown)}")
        customer = self.desk.find_or_create_customer(customer_input(order))
        translated = order_input(order, customer, warehouse_code=self.erp.settings.warehouse_code)
        return self.desk.create_order(translated)

    def _planned(self, order: ShopOrder) -> None:
        self.tally["to_create"] += 1
        if len(self.entries) < PREVIEW_ROWS:
            label = f"{order.customer.name or order.customer.email or ''}: {order.total} {order.currency}"
            self.entries.append(PlanEntry(order.number, "create", label.strip()))


def _invalid(order: ShopOrder, exc: ValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"order {order.number!r}: {where}: {first.get('msg')}"


def _retried(store: TenantStore) -> list[ShopOrder]:
    """The failed orders runs still retry, from the order each error carries."""
    found: list[ShopOrder] = []
    for error in store.open_errors(ORDER_STAGE, dead=False):
        try:
            found.append(ShopOrder.model_validate(error.payload))
        except ValidationError:
            continue  # an error without its order: the shop's stream brings it again
    return found


def _batches(
    stream: Iterator[ShopOrder | ShopOrderError], shop: ShopUse
) -> Iterator[list[ShopOrder | ShopOrderError]]:
    """The shop's orders a batch at a time, each read counted by the shop's breaker."""
    while True:
        with shop.breaker.watch():
            batch = list(islice(stream, BATCH))
        if not batch:
            return
        yield batch


def orders_step(ctx: StepContext) -> StepReport:
    erp = use_erp(ctx)
    reason = _no_orders(erp.connector, Capability.ORDERS)
    shop = use_shop(ctx) if reason is None else None
    clients = (*erp.clients, shop.client) if shop is not None else erp.clients
    store = ctx.store
    with Step(store, ctx.mode, "erp:orders", ctx.run_id, *clients) as report:
        if reason is not None or shop is None or erp.connector.orders is None:
            return lacking(report, reason or "no orders")
        if not report_availability(report, erp, shop):
            return report
        run = _OrderRun(ctx, erp, erp.connector.orders)
        cursor = store.get_cursor(ORDERS_CURSOR)
        since = (
            datetime.fromisoformat(cursor) - ORDER_OVERLAP if cursor else datetime.now(UTC) - FIRST_LOOKBACK
        )
        retried = _retried(store)
        with erp.breaker.watch():
            run.send(retried)
        skip = run.dead | {_order_key(o.number) for o in retried}
        newest: datetime | None = None
        unreadable: list[ShopOrderError] = []
        read_fine: list[str] = []
        for batch in _batches(shop.shop.paid_orders_since(since), shop):
            orders = [o for o in batch if isinstance(o, ShopOrder)]
            unreadable += [o for o in batch if isinstance(o, ShopOrderError)]
            read_fine += [_order_key(o.number) for o in orders]
            newest = max([o.updated_at for o in orders] + ([newest] if newest else []), default=newest)
            with erp.breaker.watch():
                run.send([o for o in orders if _order_key(o.number) not in skip])
        store.record_errors(
            SHOP_ORDER_STAGE, [(e.key, e.reason, e.model_dump(mode="json")) for e in unreadable], ctx.run_id
        )
        store.resolve_errors(SHOP_ORDER_STAGE, read_fine)
        if newest is not None and not run.plan:
            store.set_cursor(ORDERS_CURSOR, newest.isoformat())
        report.counts = {
            "fetched": len(read_fine) + len(unreadable),
            "created": run.tally["created"],
            "found_in_erp": run.tally["found_in_erp"],
            "unchanged": run.tally["already_in_erp"],
            "failed": run.tally["failed"] + len(unreadable),
        }
        report.extra.update(retried=len(retried), dead_letters=len(run.dead), delta_since=since.isoformat())
        if run.plan:
            report.counts["to_create"] = run.tally["to_create"]
            report.extra["plan"] = [e.as_json() for e in run.entries]
        report.preview = _orders_preview(run.entries, run.failures, unreadable)
    return report


def _orders_preview(
    entries: list[PlanEntry], failures: list[tuple[str, str]], unreadable: list[ShopOrderError]
) -> str:
    parts = [preview_markdown(entries)] if entries or not (failures or unreadable) else []
    if failures or unreadable:
        rows = [f"| `{n}` | {r[:200]} |" for n, r in failures[:PREVIEW_ROWS]]
        rows += [f"| `{e.number or e.id}` | {e.reason[:200]} |" for e in unreadable[:PREVIEW_ROWS]]
        parts.append("| order | not sent because |\n|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts)


def backlog_check(ctx: StepContext) -> CheckOutcome:
    """The oldest paid order not yet in the ERP waits less than an hour, and the orders were read within the
    hour (orders come in since the last read, unseen)."""
    reason = _no_orders(erp_connector(ctx), Capability.ORDERS)
    if reason is not None:
        return CheckOutcome(True, {"waiting": 0}, f"_{reason}_")
    now = datetime.now(UTC)
    waiting: list[tuple[datetime, str, str]] = []
    for error in ctx.store.open_errors(ORDER_STAGE):
        try:
            order = ShopOrder.model_validate(error.payload)
        except ValidationError:
            continue
        waiting.append((order.created_at, order.number, error.reason))
    waiting.sort()
    last = ctx.store.last_run("erp:orders")
    read_at = last.finished_at if last is not None and last.finished_at is not None else None
    lag = now - _aware(read_at) if read_at is not None else None
    oldest = now - _aware(waiting[0][0]) if waiting else timedelta(0)
    passed = oldest <= BACKLOG_MAX_AGE and lag is not None and lag <= BACKLOG_MAX_AGE
    rows = "\n".join(f"| `{n}` | {c:%Y-%m-%d %H:%M} | {r[:160]} |" for c, n, r in waiting[:PREVIEW_ROWS])
    preview = f"| order | placed | waiting because |\n|---|---|---|\n{rows}" if waiting else ""
    if lag is None:
        preview = "_the orders were never read_" + (f"\n\n{preview}" if preview else "")
    return CheckOutcome(
        passed,
        {
            "waiting": len(waiting),
            "oldest_waiting_min": round(oldest.total_seconds() / 60, 1),
            "last_read_min": round(lag.total_seconds() / 60, 1) if lag is not None else -1.0,
        },
        preview,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- shipments back to the shop -----------------------------------------------------------------------------


def shipments_step(ctx: StepContext) -> StepReport:
    erp = use_erp(ctx)
    reason = _no_orders(erp.connector, Capability.SHIPMENTS)
    shop = use_shop(ctx) if reason is None else None
    clients = (*erp.clients, shop.client) if shop is not None else erp.clients
    store = ctx.store
    with Step(store, ctx.mode, "shop:shipments", ctx.run_id, *clients) as report:
        if reason is not None or shop is None or erp.connector.orders is None:
            return lacking(report, reason or "no shipments")
        if not report_availability(report, erp, shop):
            return report
        desk = erp.connector.orders
        started = datetime.now(UTC)
        cursor = store.get_cursor(SHIPMENTS_CURSOR)
        since = datetime.fromisoformat(cursor) - DISPATCH_OVERLAP if cursor else started - FIRST_LOOKBACK
        dead = store.dead_letter_keys(SHIPMENT_STAGE)
        retried: list[Shipment] = []
        for error in store.open_errors(SHIPMENT_STAGE, dead=False):
            try:
                retried.append(Shipment.model_validate(error.payload))
            except ValidationError:
                continue
        with erp.breaker.watch():
            found = list(desk.shipped_orders(since))
        known = store.mappings_for(SHIPMENT_KIND, [_shipment_key(s) for s in found])
        skip = {_shipment_key(s) for s in retried} | {key.removeprefix("shipment:") for key in dead}
        todo = retried + [s for s in found if _shipment_key(s) not in known and _shipment_key(s) not in skip]
        todo = list({_shipment_key(s): s for s in todo}.values())
        shipped: list[MappingRow] = []
        failed: list[tuple[str, str, object]] = []
        entries: list[PlanEntry] = []
        outcomes: Counter[str] = Counter()
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            if ctx.mode == SyncMode.PLAN:
                entries += [PlanEntry(_shipment_key(s), "create", s.tracking_number or "") for s in batch]
                continue
            with shop.breaker.watch():
                results = shop.shop.mark_shipped(batch)
            done: list[MappingRow] = []
            for shipment, result in zip(batch, results, strict=True):
                outcomes[result.outcome] += 1
                key = _shipment_key(shipment)
                if result.ok:
                    done.append(MappingRow(key, shipment.shop_order_number, SHIPPED))
                    if len(entries) < PREVIEW_ROWS:
                        entries.append(PlanEntry(key, "create", shipment.tracking_number or "no tracking"))
                else:
                    reason_text = f"{result.outcome}: {result.error or 'the shop did not ship it'}"
                    failed.append((f"shipment:{key}", reason_text, shipment.model_dump(mode="json")))
            store.put_mappings(SHIPMENT_KIND, done)  # on record batch by batch: a rerun skips them
            shipped += done
        store.resolve_errors(SHIPMENT_STAGE, [f"shipment:{m.source_key}" for m in shipped])
        store.record_errors(SHIPMENT_STAGE, failed, ctx.run_id)
        if ctx.mode != SyncMode.PLAN:
            store.set_cursor(SHIPMENTS_CURSOR, started.isoformat())
        report.counts = {
            "fetched": len(found),
            "created": outcomes["shipped"],
            "unchanged": outcomes["already_shipped"] + sum(_shipment_key(s) in known for s in found),
            "failed": len(failed),
        }
        report.extra.update(retried=len(retried), delta_since=since.isoformat(), dead_letters=len(dead))
        if ctx.mode == SyncMode.PLAN:
            report.extra["plan"] = [e.as_json() for e in entries]
        report.preview = preview_markdown(entries)
    return report
